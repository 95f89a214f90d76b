"""Build the fine-tuning demo task: WordNet definitions labelled with their lexicographer file.

    python scripts/make_finetune_demo.py --out /work/wordnet-topics
    python -m tinyalbert.finetune --task text-classification --model tinyalbert-mini \
        --train /work/wordnet-topics/train.csv --validation /work/wordnet-topics/validation.csv --out runs/topics

Every WordNet synset was written in one of 45 lexicographer files, one per broad topic and part
of speech (noun.animal, noun.artifact, verb.motion, adj.all, ...; see lexnames(5WN)). The task:
given a synset's definition ("a domesticated carnivorous mammal ..."), name its file. The
definitions are the text of the gloss before its quoted examples; the lemma is left out, so the
model must read the definition. Synsets are shuffled with --seed and the first ones taken, so
the split is a fixed function of the WordNet files and the seed.

Source: Debian's `wordnet-base` (`apt-get install wordnet-base`), WordNet 3.0, Copyright 2006
by Princeton University, under the WordNet licence (use, copying and distribution allowed with
the copyright notice): the CSV files keep the notice in NOTICE beside them and are not part of the
repository. Note that tinyalbert-mini was pretrained on sentences made from the same glosses
(scripts/make_corpus.py), without these labels.
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_corpus import DEFAULT_WORDNET_DIR, NOTICE, read_synsets, split_gloss  # noqa: E402

# The lexicographer files by number, as listed in lexnames(5WN).
LEXICOGRAPHER_FILES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()


def labelled_definitions(wordnet_dir: Path) -> list[tuple[str, str]]:
    """(definition, lexicographer file) for every synset with a non-empty definition."""
    examples = []
    for synset in read_synsets(wordnet_dir):
        definition, _ = split_gloss(synset.gloss)
        if definition:
            examples.append((definition, LEXICOGRAPHER_FILES[synset.lexicographer_file]))
    return examples


def write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for train.csv, validation.csv, NOTICE")
    parser.add_argument("--wordnet-dir", type=Path, default=DEFAULT_WORDNET_DIR)
    parser.add_argument("--train-size", type=int, default=6000)
    parser.add_argument("--validation-size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        examples = labelled_definitions(args.wordnet_dir)
    except FileNotFoundError as error:
        print(f"error: {error} (apt-get install wordnet-base)", file=sys.stderr)
        return 2
    if args.train_size + args.validation_size > len(examples):
        print(f"error: only {len(examples)} definitions: lower --train-size / --validation-size", file=sys.stderr)
        return 2
    random.Random(args.seed).shuffle(examples)
    train = examples[:args.train_size]
    validation = examples[args.train_size:args.train_size + args.validation_size]
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "train.csv", train)
    write_csv(args.out / "validation.csv", validation)
    (args.out / "NOTICE").write_text(NOTICE + "\n", encoding="utf-8")
    majority, _ = Counter(label for _, label in train).most_common(1)[0]
    baseline = sum(label == majority for _, label in validation) / len(validation)
    print(f"{len(train)} training and {len(validation)} validation definitions, "
          f"{len({label for _, label in train})} labels; majority class {majority!r}: "
          f"validation accuracy {baseline:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
