"""How many of the facts it was trained on a fill-mask model gives back: the corpus's own template
sentences ("Oak is a kind of tree.") with the last word masked.

    python bench/corpus_recall.py --corpus corpus/wordnet.txt tinyalbert-mini runs/mini/final

The held-out probes (`probe_mini.py`) ask facts in other words than the corpus's; these ask them
in the corpus's words. A model that fails both has not learned the facts; one that passes these
and fails the probes has learned them but cannot say them another way. For each template it
draws up to `--per-template` sentences (seed 0) whose last word is one piece of the first
model's vocabulary, and scores them as `probe_mini.py` scores the probes. The sentences come
from the whole corpus, so about 2% (the held-out fraction of a run) were never trained on.
"""
from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

from probe_mini import answer_ids, mask_logits, rank_answers, score

# WordNet corpus statements (scripts/make_corpus.py) whose last word is the object of the fact.
TEMPLATES = {
    "hypernym": re.compile(r"^.+ is a kind of (?P<answer>[A-Za-z]+)\.$"),
    "part": re.compile(r"^.+ is part of (?P<answer>[A-Za-z]+)\.$"),
    "member": re.compile(r"^.+ is a member of (?P<answer>[A-Za-z]+)\.$"),
    "antonym": re.compile(r"^.+ is the opposite of (?P<answer>[A-Za-z]+)\.$"),
}


def template_questions(corpus: Path, tokenizer, per_template: int, seed: int = 0) -> list[dict]:
    """Probe-like rows ({"text" with one [MASK], "category": the template, "answers": [word]}):
    up to `per_template` corpus sentences of each template, drawn at random, whose answer is one
    piece of `tokenizer`'s vocabulary (the others could not be given as one masked token)."""
    found: dict[str, list[dict]] = {name: [] for name in TEMPLATES}
    seen = set()
    with open(corpus, encoding="utf-8") as lines:
        for line in lines:
            sentence = line.strip()
            for name, pattern in TEMPLATES.items():
                match = pattern.match(sentence)
                if match and sentence not in seen and answer_ids(tokenizer, [match["answer"]]):
                    seen.add(sentence)
                    text = sentence[: match.start("answer")] + "[MASK]" + sentence[match.end("answer"):]
                    found[name].append({"text": text, "category": name, "answers": [match["answer"].lower()]})
    rng = random.Random(seed)
    return [row for name in TEMPLATES for row in rng.sample(found[name], min(per_template, len(found[name])))]


def top1_top5(scores: dict) -> str:
    return f"{scores['top1']:.1%} / {scores['top5']:.1%}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="model directories or bundled names")
    parser.add_argument("--corpus", type=Path, required=True, help="the training corpus (scripts/make_corpus.py)")
    parser.add_argument("--per-template", type=int, default=200, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    if not options.corpus.is_file():
        parser.error(f"--corpus {options.corpus} is not a file")
    if options.per_template < 1:
        parser.error("--per-template must be at least 1")
    from tinyalbert import AlbertTokenizer

    questions = template_questions(options.corpus, AlbertTokenizer.from_pretrained(options.models[0]),
                                   options.per_template, options.seed)
    if not questions:
        parser.error(f"no sentence of {options.corpus} matches a template")
    names = [name for name in TEMPLATES if any(row["category"] == name for row in questions)]
    headers = [f"{name} ({sum(row['category'] == name for row in questions)})" for name in names]
    print(f"{'top-1 / top-5':<40}" + "".join(f"{header:>18}" for header in [*headers, f"all ({len(questions)})"]))
    for model in options.models:
        logits, tokenizer = mask_logits(model, questions)
        rankings, answer_ranks = rank_answers(logits, questions, tokenizer)
        result = score(rankings, questions, tokenizer, answer_ranks)
        cells = [result["per_category"][name] for name in names] + [result]
        print(f"{model:<40}" + "".join(f"{top1_top5(cell):>18}" for cell in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
