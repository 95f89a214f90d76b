"""Top-1 and top-5 accuracy of fill-mask models on the held-out fact probes
(`bench/probes/wordnet_probes.tsv`), next to word-frequency baselines.

    python bench/probe_mini.py --corpus corpus/wordnet.txt tinyalbert-mini runs/mini/final

A probe is right at rank k when one of its accepted answers is among the k highest-scoring
pieces at its [MASK]. The "words" columns rank the whole-word pieces only, as
`python -m tinyalbert.predict --whole-words` shows them: a small model often puts the bare
word start or a word's end first, which is never an answer. The baselines ignore the
sentence: they always answer the most frequent pieces of the corpus (what a collapsed model
predicts), or the most frequent content-word pieces (whole words of 4+ letters outside a stop
list, the kind of word the probes ask for).
`--show N` prints each model's answers to the first N probes; `--json FILE` writes the scores.
"""
from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np

from memorize import content_piece_mask

PROBES = Path(__file__).parent / "probes" / "wordnet_probes.tsv"
TOP_K = 5


def read_probes(path: Path) -> list[dict]:
    """The probe rows: id, category, text (one [MASK]), answers ("a|b" -> ["a", "b"]), note."""
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    for row in rows:
        row["answers"] = row["answers"].split("|")
    return rows


def answer_ids(tokenizer, answers: list[str]) -> list[int]:
    """The piece ids ("▁france") of the answer words that are one piece of this vocabulary. Every
    answer is one piece of tinyalbert-mini's (the set was chosen so); a model with another
    vocabulary may split some, and cannot give those as one masked token: a probe with no answer
    left counts as wrong (`unanswerable` in the scores)."""
    ids = []
    for word in answers:
        pieces = tokenizer.tokenize(" " + word)
        if len(pieces) == 1:
            ids.append(tokenizer.convert_tokens_to_ids(pieces[0]))
    return ids


def mask_logits(model_dir: str, probes: list[dict]) -> tuple[list[np.ndarray], object]:
    """The model's (vocab,) logits at each probe's [MASK], and its tokenizer."""
    from tinyalbert import AlbertForMaskedLM, AlbertTokenizer

    model = AlbertForMaskedLM.from_pretrained(model_dir)
    tokenizer = AlbertTokenizer.from_pretrained(model_dir)
    rows = []
    for probe in probes:
        encoded = tokenizer(probe["text"], return_tensors="np")
        position = int(np.flatnonzero(encoded["input_ids"][0] == tokenizer.mask_token_id)[0])
        rows.append(np.asarray(model(**encoded).logits)[0, position])
    return rows, tokenizer


def whole_word_mask(tokenizer) -> np.ndarray:
    """(vocab,) bool: the pieces `predict --whole-words` keeps (a word start and a letter or digit)."""
    from tinyalbert.predict import whole_word_pieces

    allowed = np.zeros(len(tokenizer), bool)
    allowed[tokenizer.convert_tokens_to_ids(whole_word_pieces(tokenizer))] = True
    return allowed


def rank_answers(logits: list[np.ndarray], probes: list[dict], tokenizer, allowed: np.ndarray | None = None,
                 top_k: int = TOP_K) -> tuple[list[list[int]], list[int]]:
    """The top_k piece ids at each probe's [MASK], best first, and the rank (1 = best) of the
    best accepted answer, which still moves while top-5 is 0: among all pieces, or among the
    `allowed` ones ((vocab,) bool) only."""
    from tinyalbert.pipelines import top_k_indices

    rankings, answer_ranks = [], []
    for row, probe in zip(logits, probes):
        if allowed is not None:
            row = np.where(allowed, row, -np.inf)
        rankings.append([int(i) for i in top_k_indices(row, top_k)])
        ids = answer_ids(tokenizer, probe["answers"])
        if not ids:  # no answer is one piece of this vocabulary: below every piece
            answer_ranks.append(len(row) + 1)
            continue
        best = row[ids].max()
        answer_ranks.append(1 + int((row > best).sum()))
    return rankings, answer_ranks


def piece_counts(corpus: Path, tokenizer) -> Counter:
    """How often each piece id occurs in the corpus (one pass; both baselines rank from it)."""
    counts = Counter()
    with open(corpus, encoding="utf-8") as file:
        for line in file:
            if line.strip():
                counts.update(tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line)))
    return counts


def frequency_rankings(counts: Counter, tokenizer, probes: list[dict], content_only: bool) -> tuple[list, list]:
    """The same answer for every probe: the corpus's pieces (content-word pieces only, with
    `content_only`) from the most frequent down; the top_k, and each probe's answer rank."""
    allowed = content_piece_mask(tokenizer) if content_only else np.ones(len(tokenizer), bool)
    order = [piece for piece, _ in counts.most_common() if allowed[piece]]
    order += [piece for piece in range(len(tokenizer)) if piece not in counts and allowed[piece]]  # never seen
    rank_of = {piece: rank for rank, piece in enumerate(order, start=1)}
    unseen = len(order) + 1  # an answer outside the allowed pieces
    answer_ranks = [min((rank_of.get(i, unseen) for i in answer_ids(tokenizer, probe["answers"])), default=unseen)
                    for probe in probes]
    return [order[:TOP_K]] * len(probes), answer_ranks


def score(rankings: list[list[int]], probes: list[dict], tokenizer, answer_ranks: list[int]) -> dict:
    """top-1 / top-5 accuracy overall and per category, the share of answers ranked within
    100, the median answer rank, and how many probes this vocabulary cannot answer."""
    hits = {1: [], TOP_K: []}
    unanswerable = 0
    for ranking, probe in zip(rankings, probes):
        accepted = set(answer_ids(tokenizer, probe["answers"]))
        unanswerable += not accepted
        for k in hits:
            hits[k].append(bool(accepted & set(ranking[:k])))
    categories = sorted({probe["category"] for probe in probes})
    per_category = {c: {f"top{k}": float(np.mean([h for h, p in zip(hits[k], probes) if p["category"] == c]))
                        for k in hits} for c in categories}
    return {"top1": float(np.mean(hits[1])), f"top{TOP_K}": float(np.mean(hits[TOP_K])),
            "top100": float(np.mean(np.asarray(answer_ranks) <= 100)),
            "median_answer_rank": float(np.median(answer_ranks)), "probes": len(probes),
            "unanswerable": unanswerable, "per_category": per_category}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="model directories or bundled names")
    parser.add_argument("--probes", type=Path, default=PROBES)
    parser.add_argument("--corpus", type=Path, help="the training corpus, for the frequency baselines")
    parser.add_argument("--show", type=int, default=0, metavar="N")
    parser.add_argument("--json", type=Path, metavar="FILE")
    options = parser.parse_args(argv)
    probes = read_probes(options.probes)
    results, shown = {}, {}
    tokenizer = None
    for name in options.models:
        logits, tokenizer = mask_logits(name, probes)
        rankings, answer_ranks = rank_answers(logits, probes, tokenizer)
        results[name] = score(rankings, probes, tokenizer, answer_ranks)
        word_rankings, word_ranks = rank_answers(logits, probes, tokenizer, whole_word_mask(tokenizer))
        words = score(word_rankings, probes, tokenizer, word_ranks)
        results[name]["whole_words"] = {key: words[key] for key in ("top1", f"top{TOP_K}", "median_answer_rank")}
        shown[name] = [tokenizer.convert_ids_to_tokens(r) for r in rankings[:options.show]]
    if options.corpus is not None:
        counts = piece_counts(options.corpus, tokenizer)
        for label, content_only in (("frequency (all pieces)", False), ("frequency (content words)", True)):
            rankings, answer_ranks = frequency_rankings(counts, tokenizer, probes, content_only)
            results[label] = score(rankings, probes, tokenizer, answer_ranks)
    print(f"{'model':<40} {'top-1':>6} {'top-5':>6} {'top-100':>7} {'median rank':>11}   "
          f"{'words: top-1':>12} {'top-5':>6}   ({len(probes)} probes)")
    for name, result in results.items():
        words = result.get("whole_words")
        line = (f"{name:<40} {result['top1']:6.1%} {result['top5']:6.1%} {result['top100']:7.1%} "
                f"{result['median_answer_rank']:11.0f}   ")
        print((line + (f"{words['top1']:12.1%} {words['top5']:6.1%}" if words else "")).rstrip())
    for name, result in results.items():
        if result["unanswerable"]:
            print(f"{name}: {result['unanswerable']} probes have no answer that is one piece of its vocabulary "
                  "(counted as wrong)")
    for i, probe in enumerate(probes[:options.show]):
        print(f"\n{probe['text']}  [{'|'.join(probe['answers'])}]")
        for name in shown:
            print(f"  {name:<38} {' '.join(p.lstrip(chr(0x2581)) for p in shown[name][i])}")
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
