"""Tokenizer speed: tinyalbert vs transformers' slow and fast AlbertTokenizer, in one process.

    python bench/bench_tokenizer.py [--sentences 10000] [--repeats 3] [--model-dir DIR] [--timer wall|cpu]

Uses the albert-base-v2 vocabulary from ../shared/fixtures when present, else trains a
vocabulary on the generated sentences. Each tokenizer encodes the same sentences twice over:
as one batch call, and as one call per sentence. The best of --repeats runs is reported.
tinyalbert's ids are checked against the slow tokenizer's before anything is timed.
``--timer cpu`` counts this process's CPU time instead of wall time: steadier on a machine that
other jobs share (every tokenizer here runs on one thread).
"""
import argparse
import datetime
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tinyalbert.tokenizer import AlbertTokenizer, train_sentencepiece  # noqa: E402

SHARED_VOCAB_DIR = REPO_ROOT.parent / "shared" / "fixtures" / "albert-base-v2-tokenizer"

_NOUNS = ["model", "layer", "token", "network", "city", "river", "government", "team", "report", "season",
          "company", "student", "museum", "album", "election", "bridge", "species", "engine", "village", "film"]
_VERBS = ["shares", "reported", "built", "won", "describes", "released", "crossed", "measured", "opened", "trained"]
_ADJECTIVES = ["large", "small", "ancient", "modern", "famous", "local", "national", "early", "new", "final"]
_NAMES = ["Paris", "Alice", "Google", "Tokyo", "Smith", "the Thames", "Mozart", "NASA", "Zürich", "O'Brien"]
_FUNCTION = ["the", "a", "of", "in", "and", "with", "for", "on", "by", "after", "during", "which", "that"]


def generate_sentences(n: int, seed: int = 0) -> list[str]:
    """English-ish sentences with names, numbers (1,234 / 3.5 / 1998), quotes and punctuation."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(n):
        words = [rng.choice(_NAMES if rng.random() < 0.3 else _FUNCTION).capitalize()]
        for _ in range(rng.randint(6, 28)):
            roll = rng.random()
            if roll < 0.25:
                words.append(rng.choice(_FUNCTION))
            elif roll < 0.45:
                words.append(rng.choice(_NOUNS) + ("s" if rng.random() < 0.3 else ""))
            elif roll < 0.6:
                words.append(rng.choice(_VERBS))
            elif roll < 0.72:
                words.append(rng.choice(_ADJECTIVES))
            elif roll < 0.8:
                words.append(rng.choice(_NAMES))
            elif roll < 0.9:
                words.append(rng.choice([f"{rng.randint(1000, 999_999):,}", f"{rng.uniform(0, 100):.1f}",
                                         str(rng.randint(1900, 2030)), f"{rng.randint(1, 99)}%"]))
            else:
                words.append(rng.choice([",", ",", ";", "(" + rng.choice(_NOUNS) + ")", '"' + rng.choice(_NOUNS) + '"',
                                         "--", "-"]))
        sentence = " ".join(words).replace(" ,", ",").replace(" ;", ";")
        sentences.append(sentence + rng.choice([".", ".", ".", "?", "!"]))
    return sentences


def best_time(function, repeats: int, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeats):
        start = clock()
        function()
        times.append(clock() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model-dir", type=Path, default=SHARED_VOCAB_DIR)
    parser.add_argument("--timer", choices=["wall", "cpu"], default="wall",
                        help="wall-clock time, or this process's CPU time (steadier on a shared machine)")
    args = parser.parse_args()
    clock = time.perf_counter if args.timer == "wall" else time.process_time

    import transformers

    sentences = generate_sentences(args.sentences)
    with tempfile.TemporaryDirectory() as scratch:
        if (args.model_dir / "spiece.model").is_file():
            vocab_file, vocab_name = args.model_dir / "spiece.model", "albert-base-v2 (30,000 pieces)"
        else:
            vocab_file = train_sentencepiece(sentences, Path(scratch) / "bench", 2000, seed=0)
            vocab_name = "trained on the benchmark sentences (2,000 pieces)"
        tokenizers = {
            "tinyalbert": AlbertTokenizer(vocab_file),
            "transformers slow": transformers.AlbertTokenizer(str(vocab_file), model_max_length=512),
            "transformers fast": transformers.AlbertTokenizerFast(vocab_file=str(vocab_file), from_slow=True,
                                                                  model_max_length=512),
        }

        reference_ids = tokenizers["transformers slow"](sentences)["input_ids"]
        ours_ids = tokenizers["tinyalbert"](sentences)["input_ids"]
        if ours_ids != reference_ids:
            raise SystemExit("tinyalbert's ids differ from transformers' slow tokenizer; not timing")
        fast_ids = tokenizers["transformers fast"](sentences)["input_ids"]
        fast_mismatches = sum(a != b for a, b in zip(fast_ids, reference_ids))

        n_tokens = sum(map(len, reference_ids))
        print(f"{len(sentences)} sentences, {n_tokens} tokens, vocabulary: {vocab_name}")
        print(f"python {platform.python_version()}, transformers {transformers.__version__}, "
              f"{platform.machine()}, date {datetime.date.today()}, {args.timer} time")
        print(f"the fast tokenizer's ids differ from the slow one's on {fast_mismatches} sentences\n")
        results = {}
        for name, tokenizer in tokenizers.items():
            batch = best_time(lambda: tokenizer(sentences), args.repeats, clock)
            one_by_one = best_time(lambda: [tokenizer(s) for s in sentences], args.repeats, clock)
            results[name] = (batch, one_by_one)
        slow_batch, slow_single = results["transformers slow"]
        print("| tokenizer | batch call (s) | sentences/s | vs slow | one call per sentence (s) | vs slow |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, (batch, one_by_one) in results.items():
            print(f"| {name} | {batch:.3f} | {len(sentences) / batch:,.0f} | {slow_batch / batch:.2f}x "
                  f"| {one_by_one:.3f} | {slow_single / one_by_one:.2f}x |")


if __name__ == "__main__":
    main()
