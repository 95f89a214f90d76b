"""Can a pretraining recipe memorize a small text? Train on a few documents, then ask about them
under masks the model has never seen.

    python bench/memorize.py --corpus corpus/wordnet.txt --first-document 1000 --documents 20 \
        --out runs/memorize-new -- --config bench/memorize_small.json --steps 6000 --batch-size 8 --max-seq-length 64 \
        --lr 1e-3 --warmup-steps 300
    python bench/memorize.py ... --out runs/memorize-old -- ... \
        --output-bias-init zero --masking static --no-pack-documents

Everything after `--` goes to `python -m tinyalbert.pretrain`; the corpus (the excerpt), --out,
--tokenizer (tinyalbert-mini's vocabulary by default) and --heldout-fraction 0 are set here.
After training, the final model is scored on `--fresh-masks` new maskings (other seeds, the
same n-gram masking as in training) of its own training examples (`same_examples`: the same
segment pairs, new masks), and of examples cut anew from the same documents (`recut`: other
segment boundaries and order swaps too, a harder test):

- `accuracy`: all masked tokens;
- `accuracy_uncommon`: those outside the 20 most frequent pieces of the text (the trainer's
  `acc_uncommon`: "is", "a", "of", "." ... which frequency alone predicts);
- `accuracy_content`: masked pieces that start a word of at least 4 letters which is not in a
  short stop list: the content words a memorizing model must recall.

A model that only memorized the answers to its own fixed masks (static masking) scores well on
its training batches and poorly here; a model that learnt the text scores well on both.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

STOP_WORDS = frozenset("""
about also another been being between both called could does each from have having into its kind
many more most much other over part same some such than that their them then there these they
this those through under used very were what when where which while with would your
""".split())


def excerpt(corpus: Path, first: int, count: int) -> list[list[str]]:
    """Documents first .. first+count-1 of a corpus (blank lines separate documents)."""
    from tinyalbert.train.text import read_documents

    documents = read_documents(corpus)
    if first + count > len(documents):
        raise SystemExit(f"error: the corpus has {len(documents)} documents, fewer than {first + count}")
    return documents[first:first + count]


def is_content_word(word: str) -> bool:
    """A word of at least 4 letters that is not in the stop list (see the module docstring)."""
    return len(word) >= 4 and word.isalpha() and word not in STOP_WORDS


def content_piece_mask(tokenizer) -> np.ndarray:
    """(vocab,) bool: pieces that start a content word."""
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    words = [piece[1:] if piece.startswith("\u2581") else "" for piece in pieces]
    return np.array([is_content_word(word) for word in words])


def training_rows(run: Path) -> dict:
    """The run's own training examples, unmasked, as `collate` columns: the segment pairs and
    cuts the model saw (see `training_examples_of_run`)."""
    from tinyalbert.train.data import collate
    from tinyalbert.train.prepare import training_examples_of_run

    columns = collate(training_examples_of_run(run))
    masked = columns["labels"] != -100  # a static run's fixed masks: put the original tokens back
    columns["input_ids"] = np.where(masked, columns["labels"], columns["input_ids"])
    columns["labels"][masked] = -100
    return columns


def recut_rows(run_args, encoded, tokenizer, seed: int) -> dict:
    """New examples from the same documents: other segment cuts, order swaps and masks."""
    from tinyalbert.train.data import collate
    from tinyalbert.train.prepare import build_examples

    return collate(build_examples(encoded, tokenizer, run_args, np.random.default_rng(seed)))


def accuracy_sums(model, batch: dict, common: np.ndarray, content: np.ndarray, hits: dict) -> None:
    """Add the right / counted masked tokens of one batch to `hits` (all, uncommon, content)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   token_type_ids=batch["token_type_ids"]).logits
    targets = batch["labels"]
    where = targets != -100
    right = (np.asarray(logits).argmax(-1) == targets)[where]
    for name, keep in (("all", np.ones_like(right)), ("uncommon", ~common[targets[where]]),
                       ("content", content[targets[where]])):
        hits[name][0] += int(right[keep].sum())
        hits[name][1] += int(keep.sum())


def fresh_mask_scores(run: Path, documents, fresh_masks: int, seed: int = 1000) -> dict:
    """Score OUT/final on `fresh_masks` new maskings of the text it was trained on: of its own
    training examples (`same_examples`), and of examples cut anew from the documents (`recut`)."""
    from tinyalbert import AlbertForMaskedLM, AlbertTokenizer
    from tinyalbert.train.data import Remasking, remask_rows
    from tinyalbert.train.metrics import common_pieces
    from tinyalbert.train.prepare import arguments_of_run, encode_corpus, masking_of, special_ids_of, target_counts

    args = arguments_of_run(run)
    tokenizer = AlbertTokenizer.from_pretrained(run / "final")
    model = AlbertForMaskedLM.from_pretrained(run / "final")
    encoded = encode_corpus(documents, tokenizer)
    common = common_pieces(target_counts(encoded, len(tokenizer), special_ids_of(tokenizer)))
    content = content_piece_mask(tokenizer)
    own = training_rows(run)
    remask = Remasking(special_ids_of(tokenizer), len(tokenizer), masking_of(tokenizer, args))
    scores = {"fresh_masks": fresh_masks}
    for kind in ("same_examples", "recut"):
        hits = {"all": [0, 0], "uncommon": [0, 0], "content": [0, 0]}
        for k in range(fresh_masks):
            rows = (remask_rows(own, np.arange(len(own["input_ids"])), seed + k, remask) if kind == "same_examples"
                    else recut_rows(args, encoded, tokenizer, seed + k))
            for start in range(0, len(rows["input_ids"]), 32):
                accuracy_sums(model, {name: column[start:start + 32] for name, column in rows.items()}, common,
                              content, hits)
        scores[kind] = {"targets": hits["all"][1], "content_targets": hits["content"][1],
                        "accuracy": hits["all"][0] / hits["all"][1],
                        "accuracy_uncommon": hits["uncommon"][0] / max(hits["uncommon"][1], 1),
                        "accuracy_content": hits["content"][0] / max(hits["content"][1], 1)}
    return scores


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--first-document", type=int, default=1000)
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--tokenizer", default="tinyalbert-mini", help="the vocabulary (default: tinyalbert-mini's)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fresh-masks", type=int, default=10)
    parser.add_argument("--score-only", action="store_true", help="score an existing OUT without training")
    options = parser.parse_args(argv[:split])
    documents = excerpt(options.corpus, options.first_document, options.documents)
    if not options.score_only:
        from tinyalbert.pretrain import main as pretrain

        options.out.mkdir(parents=True, exist_ok=True)  # the excerpt stays with the run, for --score-only
        text = options.out / "excerpt.txt"
        text.write_text("\n\n".join("\n".join(document) for document in documents) + "\n")
        status = pretrain(["--corpus", str(text), "--out", str(options.out), "--tokenizer", options.tokenizer,
                           "--heldout-fraction", "0", *argv[split + 1:]])
        if status != 0:
            return status
    scores = fresh_mask_scores(options.out, documents, options.fresh_masks)
    (options.out / "fresh_mask_scores.json").write_text(json.dumps(scores, indent=2) + "\n")
    print(json.dumps(scores, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
