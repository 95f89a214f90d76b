"""Where transformers 5.x's AlbertTokenizer gives other ids than 4.53.3's slow one (and so tinyalbert).

    python scripts/tokenizer_5x_diff.py [--python5 /work/venv5/bin/python] [--out docs/tokenizer-5x-differences.md]

Run it with an interpreter that has transformers 4.53.3 (the project's environment). It encodes a
list of hand-picked inputs plus a seeded random sample with tinyalbert and 4.53.3's slow
tokenizer (which must agree), then runs itself under ``--python5`` (an environment with
transformers>=5, sentencepiece, tokenizers, protobuf; no torch needed) to encode the same
inputs there, and writes a markdown table of every input whose ids differ.
"""
import argparse
import collections
import difflib
import json
import random
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VOCAB_DIR = REPO_ROOT.parent / "shared" / "fixtures" / "albert-base-v2-tokenizer"
DEFAULT_OUT = REPO_ROOT / "docs" / "tokenizer-5x-differences.md"

# (text, text_pair or None), one per rule of the original preprocessing.
HAND_PICKED = [
    ("9,9", None),
    ("It cost 1,000 dollars.", None),
    ("In 1990, the team won 3, then 4,5 and 12,345,678.", None),
    ("Scores: 7, 8, 9, 10.", None),
    ("²,", None),
    ("１，０００ and １，", None),
    ("Hello [MASK] world", None),
    ("a[MASK]b", None),
    ("a  [MASK]  b", None),
    ("x[CLS]y [SEP] z", None),
    ("<PAD> and <Unk> in upper case", None),
    ("[mask] is not the mask token", None),
    ("ΟΔΟΣ ends in a capital sigma", None),
    ("naïve café, Ångström, Dvořák", None),
    ("``quoted'' and 'single' and `back`", None),
    ("ｆｕｌｌ　ｗｉｄｔｈ ＡＢＣ", None),
    ("日本語のテキスト and 中文", None),
    ("emoji 😀 👍🏽 🇫🇷", None),
    ("tabs\tand\nnewlines  and\u3000ideographic spaces", None),
    ("a\x85[MASK] b", None),
    ("ﬁne ligatures and ⅀ sums", None),
    ("The first, 1,5 sentence.", "The second, 2,5 one."),
    ("[MASK] question?", "An answer with 10,000 words."),
]


def random_inputs(n: int, seed: int = 0) -> list[tuple[str, None]]:
    """Texts glued from the fragments the tokenizer tests use."""
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    import tokenizer_strategies as fragments

    pools = [fragments.WORDS] * 4 + [fragments.ACCENTED, fragments.NUMBERS, fragments.QUOTES,
                                     fragments.PUNCTUATION, fragments.NON_LATIN, fragments.FULL_WIDTH,
                                     fragments.SPECIAL_IN_TEXT, fragments.WHITESPACE]
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        parts = [rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 10))]
        texts.append("".join(rng.choice(["", " ", " ", "  "]) + part for part in parts))
    return [(text, None) for text in texts]


def encode_all(tokenizer, inputs) -> list[dict]:
    results = []
    for text, pair in inputs:
        encoding = tokenizer(text, pair)
        results.append({"ids": list(encoding["input_ids"]),
                        "tokens": tokenizer.convert_ids_to_tokens(list(encoding["input_ids"]))})
    return results


def worker_5x(vocab_dir: str) -> None:
    """Runs under transformers>=5: inputs as JSON on stdin, ids and tokens as JSON on stdout."""
    import importlib.metadata
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    import transformers

    inputs = json.load(sys.stdin)
    tokenizer = transformers.AlbertTokenizer.from_pretrained(vocab_dir)
    versions = {name: importlib.metadata.version(name) for name in ("transformers", "tokenizers", "sentencepiece")}
    versions["python"] = sys.version.split()[0]
    json.dump({"versions": versions, "class": f"{type(tokenizer).__module__}.{type(tokenizer).__name__}",
               "returns_token_type_ids": "token_type_ids" in tokenizer("a", "b"),
               "results": encode_all(tokenizer, inputs)}, sys.stdout)


SPECIAL_TOKENS = {"<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"}
USER_DEFINED_SYMBOLS = {"(", ")", '"', "-", ".", "–", "£", "€"}
# short name (for the table rows) -> description (for the summary)
CAUSES = {
    "digit-comma": "digit-comma rule: 5.x keeps `9,` as one piece",
    "special token": "`▁` pieces next to a special token written in the text (`<PAD>`, `[MASK]`, ...)",
    "user-defined symbol": "`▁` pieces next to a user-defined symbol (`( ) \" - . – £ €`)",
    "other": "other (see the rows; e.g. U+001C, which Python's `str.split` takes for whitespace)",
}


def explain(text: str, old_tokens: list[str], new_tokens: list[str]) -> list[str]:
    """Causes of the difference, judged from each stretch of tokens where the two sides disagree."""
    causes = []
    matcher = difflib.SequenceMatcher(a=old_tokens, b=new_tokens, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        # The differing stretch with one token of context on each side, from both tokenizers.
        nearby = old_tokens[max(i1 - 1, 0) : i2 + 1] + new_tokens[max(j1 - 1, 0) : j2 + 1]
        if any(re.search(r"\d,$", token) for token in new_tokens[j1:j2]):
            cause = "digit-comma"
        elif any(token in SPECIAL_TOKENS and token.lower() in text.lower() for token in nearby):
            cause = "special token"  # not an <unk> that stands for an unknown character
        elif any(token.lstrip("▁") in USER_DEFINED_SYMBOLS for token in nearby):
            cause = "user-defined symbol"
        else:
            cause = "other"
        if cause not in causes:
            causes.append(cause)
    return causes


def markdown_code(value: str) -> str:
    """A markdown code span that shows ``value`` exactly, with whitespace and control characters escaped."""
    shown = "".join(
        char if char == " " or unicodedata.category(char)[0] not in "CZ" else
        {"\t": "\\t", "\n": "\\n", "\r": "\\r"}.get(char, f"\\u{ord(char):04x}")
        for char in value
    ).replace("|", "\\|")
    if not shown:
        return "(empty)"
    # A backtick run inside needs a longer run as the delimiter (CommonMark).
    longest_run = max((len(run) for run in re.findall("`+", shown)), default=0)
    fence = "`" * (longest_run + 1)
    padding = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{padding}{shown}{padding}{fence}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python5", default="/work/venv5/bin/python")
    parser.add_argument("--vocab-dir", default=str(DEFAULT_VOCAB_DIR))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--random", type=int, default=2000, help="number of random inputs besides the hand-picked")
    parser.add_argument("--english", type=int, default=10_000,
                        help="number of English-like sentences from bench/bench_tokenizer.py, counted, not listed")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_5x(args.vocab_dir)
        return

    import importlib.metadata

    import transformers

    sys.path.insert(0, str(REPO_ROOT))
    from tinyalbert.tokenizer import AlbertTokenizer

    sys.path.insert(0, str(REPO_ROOT / "bench"))
    from bench_tokenizer import generate_sentences

    english = [(sentence, None) for sentence in generate_sentences(args.english)]
    inputs = HAND_PICKED + random_inputs(args.random) + english
    ours = encode_all(AlbertTokenizer.from_pretrained(args.vocab_dir), inputs)
    reference = encode_all(transformers.AlbertTokenizer.from_pretrained(args.vocab_dir), inputs)
    if ours != reference:
        raise SystemExit("tinyalbert and transformers 4.53.3 disagree; fix that first (tests/test_tokenizer.py)")

    completed = subprocess.run(
        [args.python5, str(Path(__file__).resolve()), "--worker", "--vocab-dir", args.vocab_dir],
        input=json.dumps(inputs), capture_output=True, text=True,
    )
    if completed.returncode != 0:
        raise SystemExit(f"the transformers 5.x side failed:\n{completed.stderr}")
    five = json.loads(completed.stdout)
    if not five["versions"]["transformers"].startswith("5."):
        raise SystemExit(f"{args.python5} has transformers {five['versions']['transformers']}, not 5.x")

    rows, reasons = [], collections.Counter()
    n_random_differing = 0
    n_listed = len(HAND_PICKED) + args.random
    n_english_differing = sum(old["ids"] != new["ids"] for old, new in
                              zip(reference[n_listed:], five["results"][n_listed:]))
    for index, ((text, pair), old, new) in enumerate(zip(inputs[:n_listed], reference, five["results"])):
        if old["ids"] == new["ids"]:
            continue
        causes = explain(text + " " + (pair or ""), old["tokens"], new["tokens"])
        reasons.update(causes)
        reason = ", ".join(causes)
        if index >= len(HAND_PICKED):
            n_random_differing += 1
        rows.append((index < len(HAND_PICKED), text, pair, old, new, reason))

    old_versions = {name: importlib.metadata.version(name) for name in ("transformers", "sentencepiece")}
    lines = [
        "# Tokenizer ids: transformers 5.x vs 4.53.3 (= tinyalbert)",
        "",
        "<!-- Generated file: edit scripts/tokenizer_5x_diff.py, not this page. -->",
        "",
        f"Generated by `python scripts/tokenizer_5x_diff.py --python5 {args.python5} --random {args.random} "
        f"--english {args.english}`, "
        "run in the project's environment, on the albert-base-v2 vocabulary (`spiece.model`).",
        "",
        f"- reference side: transformers {old_versions['transformers']} slow `AlbertTokenizer` "
        f"(sentencepiece {old_versions['sentencepiece']}, Python {sys.version.split()[0]}); "
        "tinyalbert gives the same ids on every input below.",
        f"- 5.x side: transformers {five['versions']['transformers']} `{five['class']}` (tokenizers "
        f"{five['versions']['tokenizers']}, sentencepiece {five['versions']['sentencepiece']}, "
        f"Python {five['versions']['python']}), loaded with `from_pretrained` from the same directory.",
        f"- {len(HAND_PICKED)} hand-picked inputs, one per preprocessing rule, and {args.random} random texts "
        "glued from the fragments of `tests/tokenizer_strategies.py` (seed 0).",
        f"- ids differ on {len(rows) - n_random_differing} of {len(HAND_PICKED)} hand-picked and "
        f"{n_random_differing} of {args.random} random inputs; on the {args.english} English-like sentences "
        f"of `bench/bench_tokenizer.py` (numbers, commas, quotes; not listed below) they differ on "
        f"{n_english_differing}.",
        "- 5.x returns `token_type_ids` for a pair: "
        f"{'yes' if five['returns_token_type_ids'] else 'no (its model_input_names drop them)'}; "
        "4.53.3 and tinyalbert do.",
        "",
        "## Causes",
        "",
        "5.x's `AlbertTokenizer` is a `tokenizers` pipeline converted from the SentencePiece model, not",
        "SentencePiece itself: it has no digit-comma rule; the user-defined symbols of the ALBERT",
        "vocabulary (`( ) \" - . – £ €`) become added tokens that cut the text, and each cut piece gets",
        "its own leading `▁`; special tokens written in the text likewise get `▁` pieces around them",
        "that the slow tokenizer does not produce. Each input below is counted once per cause, judged",
        "from the stretches of tokens where the two sides disagree.",
        "",
        "| cause | inputs |",
        "| --- | ---: |",
        *[f"| {CAUSES[cause]} | {count} |" for cause, count in reasons.most_common()],
        "",
        "## Inputs with different ids",
        "",
        "Hand-picked inputs first, then the random ones (at most 40 shown). Tokens are shown without the",
        "`[CLS]` at the start and `[SEP]` at the end, which both sides add; in inputs, whitespace other",
        "than a plain space and control characters are written as escapes (`\\t`, `\\n`, `\\u3000`).",
        "",
        "| input | 4.53.3 / tinyalbert tokens | 5.x tokens | cause |",
        "| --- | --- | --- | --- |",
    ]
    shown_random = 0
    for hand_picked, text, pair, old, new, reason in rows:
        if not hand_picked:
            shown_random += 1
            if shown_random > 40:
                break
        shown_text = markdown_code(text) + (" + " + markdown_code(pair) if pair is not None else "")
        lines.append(f"| {shown_text} | {markdown_code(' '.join(old['tokens'][1:-1]))} "
                     f"| {markdown_code(' '.join(new['tokens'][1:-1]))} | {reason} |")
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}: {len(rows)} of {n_listed} listed inputs differ, "
          f"{n_english_differing} of {args.english} English-like")


if __name__ == "__main__":
    main()
