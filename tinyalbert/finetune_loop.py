"""The fine-tuning loop behind `python -m tinyalbert.finetune`: epochs of AdamW steps with
warm-up and linear decay and global-norm clipping, an evaluation after each epoch, the best
model kept, a checkpoint after each epoch to resume from.

OUT/ holds `best/` (model + tokenizer, loadable by tinyalbert and by Transformers), `checkpoint/`
(the last epoch's model, optimizer moments and `state.json`), `metrics.jsonl` (one line per
epoch: the validation metrics, and the validation loss but for question answering) and
`curves.png` (training and validation loss, validation metrics, with matplotlib installed); a
new run refuses an OUT that holds one already, which --resume continues. With a test file, the
model in `best/` is scored on it once the last epoch is done: `test_results.json` and
`test_predictions.jsonl` (each example's prediction beside its reference). `eval_only` scores a
model already fine-tuned on the validation and/or test file without training
(`tinyalbert.finetune_eval`), into `validation_*` and `test_*` files of the same kind. Every
step's randomness (shuffling, dropout) comes from generators seeded with (seed, epoch), so a
resumed run takes the same steps as one that was never stopped.

Under `mpiexec -n N` the batches are shared out: every process draws the same batch, keeps its
block of rows, weights its gradient by its share of the batch's targets, and one all-reduce
sums them, so the N processes take the steps of one (docs/distributed.md). The first process
alone writes OUT and shows progress; every process evaluates (the test file and `eval_only`'s
files too), and all get the same metrics.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

from .backend import array_namespace, asarray, to_numpy
from .cli import UsageError, check_backend_available, directory_path_problem
from .jsonfile import read_json_object
from .metrics import (accuracy, entity_scores, macro_f1, multi_label_scores, regression_scores, squad_scores,
                      squad_v2_scores)
from .models import flat_cross_entropy
from .nn.losses import bce_with_logits_forward, mse_forward
from .qa_answers import MAX_ANSWER_LENGTH, NULL_SCORE_DIFF_THRESHOLD, squad_predictions
from .finetune_args import COLUMN_FIELDS, ID_NAMES, FinetuneArguments, columns_of
from .task_data import (DEFAULT_COLUMNS, IGNORE_INDEX, UNLABELLED, all_integers, check_label_kinds, class_names,
                        collate, encode_examples, label_list, label_number, multi_hot, problem_type_of_labels,
                        read_task_file, regression_targets, shortest_max_length)
from .train.checkpoints import checkpoint_dir, write_directory_atomically
from .train.distributed import warnings_from_first_process
from .train.optim import AdamW, clip_grad_global_norm, linear_warmup_then_decay
from .train.progress import Phase, Progress, format_bytes, is_terminal
from .weights import MismatchedShapeError

MAIN_METRIC = {"text-classification": "accuracy", "token-classification": "f1",
               "question-answering": "f1", "multiple-choice": "accuracy"}
# A regression's best epoch is the one of highest Pearson correlation, GLUE's first score for
# STS-B; a multi-label classification's, of highest micro-F1, the score run_classification.py
# reports for it.
BEST_BY_PROBLEM_TYPE = {"regression": "pearson", "multi_label_classification": "micro_f1"}
# The tasks whose evaluation reports the validation loss (`loss`), as Transformers' Trainer reports
# eval_loss for run_glue.py, run_ner.py and run_swag.py. run_qa.py reports none: its validation
# features carry no answer positions, and neither do a question's windows here.
TASKS_WITH_LOSS = ("text-classification", "token-classification", "multiple-choice")
CHECKPOINT, BEST, STATE_FILE, OPTIMIZER_FILE = "checkpoint", "best", "state.json", "optimizer.npz"
METRICS_FILE, CURVES_FILE = "metrics.jsonl", "curves.png"
# OUT/{split}_results.json and OUT/{split}_predictions.jsonl, for split "validation" or "test", as
# Transformers' example scripts write eval_results.json and predict_results.
RESULTS_FILE, PREDICTIONS_FILE = "{}_results.json", "{}_predictions.jsonl"
# The options a resumed run must share with the checkpoint, and what --resume reads from state.json.
# (The train file is compared by content, `file_fingerprint`, so that it may be named by another path.)
RESUMED_OPTIONS = ("task", "epochs", "batch_size", "lr", "warmup_ratio", "weight_decay", "clip_norm",
                   "max_seq_length", "seed")
STATE_FIELDS = {"epoch": int, "step": int, "best": (dict, type(None)), "history": list, "args": dict}
# What an example of each task is called in the progress output.
EXAMPLE_NOUNS = {"text-classification": "examples", "token-classification": "sentences",
                 "question-answering": "questions", "multiple-choice": "questions"}


def problem_type_of(args: FinetuneArguments, train_examples: list[dict]) -> str | None:
    """The problem type of a text classification (None for the other tasks): --problem-type when
    given, else what the train file's labels make it (`problem_type_of_labels`: multi-label for
    lists of labels, regression for numbers with decimals, as run_classification.py decides).
    With --label-names the labels were class ids, read as names: a classification, whatever the
    names look like (names such as 0.5 and 1.5 are not a regression's targets)."""
    if args.task != "text-classification":
        return None
    if args.problem_type is None and args.label_names is not None:
        multi_label = isinstance(train_examples[0]["label"], list)
        return "multi_label_classification" if multi_label else "single_label_classification"
    return args.problem_type or problem_type_of_labels(args.train, train_examples)


def read_split(args: FinetuneArguments, path, stream=None) -> list[dict]:
    """The examples of one file of the run (train, validation or test), read with the task's
    columns, id names, label separator and layout, and SQuAD v2.0's questions without an answer
    with version_2_with_negative. With `stream`, a phase of the progress output says so
    (`tinyalbert.train.progress.Phase`): a line as it starts, and one with the time it took when
    that was a second or more."""
    noun = EXAMPLE_NOUNS[args.task]
    size = f" ({format_bytes(Path(path).stat().st_size)})" if Path(path).is_file() else ""
    with Phase(stream, f"reading {path}{size}") as phase:
        examples = read_task_file(args.task, path, args.label_separator, columns_of(args), args.tag_names,
                                  args.label_names, args.layout, args.version_2_with_negative)
        phase.outcome = f"read {len(examples):,} {noun}"
    return examples


def encode_split(args: FinetuneArguments, path, examples: list[dict], tokenizer, labels, stream=None) -> list[dict]:
    """The features of one file's examples; an example that cannot be encoded is named with its file.
    With `stream`, a phase of the progress output, with a bar of the examples encoded on a terminal."""
    label_ids = None if labels is None else {label: i for i, label in enumerate(labels)}
    noun = EXAMPLE_NOUNS[args.task]
    with Phase(stream, f"encoding {len(examples):,} {noun} of {path}", len(examples), noun) as phase:
        try:
            features = encode_examples(args.task, examples, tokenizer, args.max_seq_length, label_ids,
                                       args.doc_stride, on_progress=phase.advance)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        windows = f" into {len(features):,} windows" if len(features) != len(examples) else ""
        phase.outcome = f"encoded {len(examples):,} {noun}{windows}"
    return features


def check_room(args: FinetuneArguments, examples: list[dict]) -> None:
    """--max-seq-length must hold a piece of every text of a file beside the special tokens."""
    shortest = shortest_max_length(args.task, examples)
    if args.max_seq_length < shortest:
        raise UsageError(f"--max-seq-length {args.max_seq_length} holds no piece of text beside [CLS] and [SEP]: "
                         f"pass --max-seq-length {shortest} or more")


def load_data(args: FinetuneArguments, tokenizer, stream=None):
    """(labels or None, train examples, encoded train, validation examples, encoded validation).
    labels: the class names or tags, None for a regression (`problem_type_of`) and for the tasks
    without a label list (question answering, multiple choice). The test file, when there is
    one, is read by `load_test_file` with these labels. With `stream`, each file's reading and
    encoding is a phase of the progress output."""
    train_examples = read_split(args, args.train, stream)
    validation_examples = read_split(args, args.validation, stream)
    problem_type = problem_type_of(args, train_examples)
    if problem_type is not None:
        check_label_kinds(args.train, train_examples, problem_type, problem_type_reason(args))
    if problem_type == "regression":
        check_regression_values(args.train, train_examples, "train")
    tagged = args.task == "token-classification" or problem_type in ("single_label_classification",
                                                                     "multi_label_classification")
    labels = label_list(args.task, train_examples) if tagged else None
    # Every id's name, in the dataset's order, as run_ner.py and run_glue.py keep a ClassLabel's:
    # names no training example has too, so that the model's id of a class is the file's.
    if args.tag_names is not None:
        labels = args.tag_names
    if args.label_names is not None:
        labels = args.label_names
    if args.task == "token-classification":
        warn_of_tags_outside_the_scheme(args.train, labels)
    if labels is not None and len(labels) < 2:  # one label would make a regression model, always "right"
        kind = "label" if args.task == "text-classification" else "tag"
        found = f"only 1 distinct {kind} ({labels[0]!r})" if labels else "no label in any example's list"
        raise UsageError(f"the train file {args.train} has {found}; classification needs at least 2")
    check_room(args, train_examples)
    check_evaluation_examples(args, args.validation, "validation", validation_examples, labels, problem_type,
                              problem_type_reason(args), args.train)
    train_encoded = encode_split(args, args.train, train_examples, tokenizer, labels, stream)
    validation_encoded = encode_split(args, args.validation, validation_examples, tokenizer, labels, stream)
    return labels, train_examples, train_encoded, validation_examples, validation_encoded


def problem_type_reason(args: FinetuneArguments) -> str:
    """What made a fine-tuning run's problem type, for an error about a label of the other kind."""
    return "--problem-type is" if args.problem_type else f"the labels of {args.train} make the problem"


def load_test_file(args: FinetuneArguments, tokenizer, labels, problem_type: str | None,
                   stream=None) -> tuple[list, list]:
    """(examples, encoded) of the test file of a fine-tuning run, checked as the validation file
    is, against the train file's labels, before any training: a mistake in it fails fast."""
    examples = read_split(args, args.test, stream)
    check_evaluation_examples(args, args.test, "test", examples, labels, problem_type, problem_type_reason(args),
                              args.train)
    return examples, encode_split(args, args.test, examples, tokenizer, labels, stream)


def check_evaluation_examples(args: FinetuneArguments, path, role: str, examples: list[dict], labels,
                              problem_type: str | None, because: str, labels_from: str) -> None:
    """The checks of a file the model is scored on (`role`: "validation" or "test"): labels of
    the problem type's kind (`because`: what made it that type), two different values at least
    for a regression, room for a piece of every text, and every label or tag one of `labels`
    (`labels_from`: where they come from, for the error)."""
    if problem_type is not None:
        check_label_kinds(path, examples, problem_type, because)
    if problem_type == "regression":
        check_regression_values(path, examples, role)
    check_room(args, examples)
    if labels is not None:
        check_known_labels(path, examples, labels, labels_from)


def check_regression_values(path, examples: list[dict], role: str) -> None:
    """Every label of a regression's file must be a number, and a file needs two different ones:
    one value in the train file leaves nothing to learn, and in a validation or test file it
    leaves the correlations undefined (a constant has no deviation)."""
    values = sorted(set(regression_targets(path, examples)))
    if len(values) < 2:
        scored = "nothing to learn" if role == "train" else "Pearson and Spearman correlation undefined"
        raise UsageError(f"the {role} file {path} has only 1 distinct label value ({values[0]:g}), which leaves "
                         f"{scored}; a regression needs at least 2")


def check_known_labels(path, examples: list[dict], labels: list[str], labels_from: str) -> None:
    """Every label (or tag) of a file the model is scored on must be one it has (`labels`, from
    `labels_from`: the train file, or a fine-tuned model's config): every word is scored, those
    of a long sentence in its windows."""
    known = set(labels)
    for example in examples:
        unknown = sorted(set(example["tags"] if "tags" in example else class_names(example["label"])) - known)
        if unknown:
            kind = "tag" if "tags" in example else "label"
            unlabelled = f"; {UNLABELLED}" if unknown == ["-1"] and kind == "label" else ""
            raise ValueError(f"{path}, line {example['line']}: {kind}(s) {unknown[:5]} do not occur in "
                             f"{labels_from} (its {kind}s: {labels[:10]}{' ...' if len(labels) > 10 else ''})"
                             f"{unlabelled}")


def tags_outside_the_scheme(tags) -> list[str]:
    """The tags of a BIO or BIOES tag set (`uses_bio_tags`) whose prefix, before the first `-`, is
    none of B, I, E, S and O (`PER` beside `B-PER`, `b-PER`): the entity scores read them as
    outside every entity, where seqeval, and so run_ner.py, would read `PER` as an entity of type
    `ER` (`tinyalbert.metrics.bio_entities`). Empty for a tag set without B-, I-, E- or S- tags,
    scored by tag accuracy alone."""
    if not uses_bio_tags(tags):
        return []
    return [tag for tag in tags if tag.partition("-")[0] not in ("B", "I", "E", "S", "O")]


def warn_of_tags_outside_the_scheme(path, tags) -> None:
    """Say once that some tags of a BIO or BIOES train file are not of the scheme
    (`tags_outside_the_scheme`): its words count in the tag accuracy, but never in an entity."""
    outside = tags_outside_the_scheme(tags)
    if outside:
        shown = ", ".join(map(repr, outside[:5])) + (", ..." if len(outside) > 5 else "")
        warnings.warn(f"{path}: the tag(s) {shown} are neither O nor BIO or BIOES (B-, I-, E-, S-), as the file's "
                      "other tags are: the entity precision, recall and F1 read them as outside every entity "
                      "(only the tag accuracy counts them); write them as B-/I- tags to score them as entities",
                      stacklevel=2)


def uses_bio_tags(tags) -> bool:
    """Whether the tags follow the BIO (IOB2) or BIOES scheme that entities are read from: some
    tag starts with B-, I-, E- or S-. Part-of-speech tags such as NOUN and VERB do not, and hold
    no entities."""
    return any(tag.startswith(("B-", "I-", "E-", "S-")) for tag in tags)


def shown_ids(labels: list[str]) -> str:
    """The first integer labels, for a note: "0, 1, 2, ..." ("..." only when there are more)."""
    return ", ".join(labels[:3]) + (", ..." if len(labels) > 3 else "")


def ids_from_zero(labels: list[str]) -> bool:
    """Whether integer labels look like ids that names can be given for in order: none below 0,
    and 0 among them (star ratings 1 to 5 are values of their own, not ids)."""
    return min(int(label) for label in labels) == 0


def tags_note(labels: list[str]) -> str:
    """What the progress output says, once, of tags that hold no entities: that tag accuracy picks
    the best epoch, and for tag ids (integers from 0, such as CoNLL's ner_tags from `datasets`,
    whose names are in the dataset, not the file), how to name them so that entities are scored."""
    if all_integers(labels) and ids_from_zero(labels):
        return (f"the tags are integer ids ({shown_ids(labels)}) whose names are not in the file, so "
                "there are no entities to score: the best epoch is the one with the highest tag accuracy; pass "
                "--tag-names with the name of each id in order (CoNLL-2003's ner_tags: "
                "O,B-PER,I-PER,B-ORG,I-ORG,B-LOC,I-LOC,B-MISC,I-MISC) for entity precision, recall and F1")
    return ("the tags are not BIO or BIOES (none starts with B-, I-, E- or S-), so there are no entities to score: "
            "the best epoch is the one with the highest tag accuracy")


def class_ids_note(labels: list[str]) -> str | None:
    """What the progress output says, once, of text-classification classes that are integer ids
    from 0 when no --label-names names them (GLUE's labels from `datasets` are ids): the model
    will answer "0", "1", ..., and how to have it answer with names. None for other integers
    (ratings 1 to 5 are classes of their own: nothing to name)."""
    if not ids_from_zero(labels):
        return None
    return (f"the classes are integer ids ({shown_ids(labels)}), so the model will answer with them; pass "
            "--label-names with the name of each id in order (MRPC's: not_equivalent,equivalent) to have it "
            "answer with names")


def main_metric(task: str, labels, problem_type: str | None = None) -> str:
    """The metric that picks the best epoch. For tags that are not BIO, tag accuracy: their
    entity F1 would be 0 every epoch, and the first epoch would stay the best. For a regression,
    Pearson correlation; for a multi-label classification, micro-F1 (`BEST_BY_PROBLEM_TYPE`)."""
    if task == "token-classification" and not uses_bio_tags(labels):
        return "accuracy"
    return BEST_BY_PROBLEM_TYPE.get(problem_type, MAIN_METRIC[task])


def model_inputs(batch: dict) -> dict:
    return {name: batch[name] for name in ("input_ids", "attention_mask", "token_type_ids")}


def batch_predictions(task: str, model, examples: list[dict], output):
    """The predictions of the model's `output` for one batch: label ids, per-word label ids, a
    regression's values (its one logit, as run_glue.py squeezes it), a multi-label
    classification's multi-hot rows (1 where a logit is above 0, a sigmoid above 0.5, as
    run_classification.py decides), or, for question answering, each feature's (start_logits,
    end_logits) over its own tokens (its padding cut off)."""
    if task == "question-answering":
        start_logits = to_numpy(output.start_logits).astype(np.float64)
        end_logits = to_numpy(output.end_logits).astype(np.float64)
        return [(start_logits[row, :len(feature["input_ids"])], end_logits[row, :len(feature["input_ids"])])
                for row, feature in enumerate(examples)]
    # problem_type is text classification's: a --model fine-tuned as a regression keeps it in
    # its config.json when it starts a multiple-choice or tagging run, which predict as ever.
    problem_type = model.config.problem_type if task == "text-classification" else None
    if problem_type == "regression":
        return [float(value) for value in to_numpy(output.logits)[:, 0]]
    if problem_type == "multi_label_classification":
        return [[int(logit > 0) for logit in row] for row in to_numpy(output.logits)]
    predicted = np.argmax(to_numpy(output.logits), axis=-1)
    if task == "token-classification":
        return [[int(predicted[row, position]) for position in example["first_pieces"]]
                for row, example in enumerate(examples)]
    return [int(value) for value in predicted]


def batch_loss(task: str, model, logits, labels) -> float:
    """The loss the task model's forward would return with `labels` (a batch's, as `collate`
    makes them), computed from the `logits` it returned without them, with the heads' own loss
    functions: cross-entropy over the classes, over the tags of the tokens not labelled -100
    (a mean over those tokens), or over the choices; a regression's mean squared error of its one
    output against float32 targets; a multi-label classification's BCE with logits, a mean over
    every (example, class). A text classification of no problem type is scored as it predicts,
    single-label. logits (batch, classes), (batch, seq, tags) or (batch, choices)."""
    xp = array_namespace(logits)
    labels = asarray(xp, labels)
    problem_type = model.config.problem_type if task == "text-classification" else None
    if problem_type == "regression":
        return float(mse_forward(xp.reshape(logits, (-1,)), xp.astype(labels, logits.dtype))[0])
    if problem_type == "multi_label_classification":
        return float(bce_with_logits_forward(logits, xp.astype(labels, logits.dtype))[0])
    return float(flat_cross_entropy(logits, labels, logits.shape[-1]))


def predict_features(task: str, model, encoded: list[dict], batch_size: int, pad_id: int) -> list:
    """One prediction per feature of `encoded`, in order (`batch_predictions` of each batch's
    forward pass; `predictions_and_loss` without the loss)."""
    return predictions_and_loss(task, model, encoded, batch_size, pad_id, with_loss=False)[0]


def predictions_and_loss(task: str, model, encoded: list[dict], batch_size: int, pad_id: int,
                         with_loss: bool = True, on_batch=None) -> tuple[list, float | None]:
    """(one prediction per feature, the loss) over the batches of `encoded`, in order, each from
    one forward pass. The loss (None for question answering, or without `with_loss`) is averaged
    as Transformers' Trainer averages eval_loss: each batch's mean loss (`batch_loss`) weighted
    by the batch's rows (examples; windows for token classification), over all rows. For the
    losses that are a mean per example that is the mean over the examples, whatever the batches;
    a token classification's batch mean is over its labelled tokens, so its loss depends on the
    batch size, as the Trainer's depends on --per_device_eval_batch_size. `on_batch(count)`, when
    given, is called after each batch with its number of features (a progress bar's step)."""
    with_loss = with_loss and task in TASKS_WITH_LOSS
    predictions, weighted_losses = [], []
    for begin in range(0, len(encoded), batch_size):
        chunk = encoded[begin:begin + batch_size]
        batch = collate(task, chunk, pad_id)
        output = model(**model_inputs(batch), return_dict=True)  # whatever config.json says
        predictions += batch_predictions(task, model, chunk, output)
        if with_loss:
            weighted_losses.append(len(chunk) * batch_loss(task, model, output.logits, batch["labels"]))
        if on_batch is not None:
            on_batch(len(chunk))
    if not with_loss:
        return predictions, None
    return predictions, (math.fsum(weighted_losses) / len(encoded) if encoded else math.nan)


def evaluate(task: str, model, examples: list[dict], encoded: list[dict], labels, batch_size: int, pad_id: int,
             max_answer_length: int = MAX_ANSWER_LENGTH, version_2_with_negative: bool = False,
             null_score_diff_threshold: float = NULL_SCORE_DIFF_THRESHOLD) -> dict:
    """The task's metrics on the validation examples (model in eval mode, no dropout); for
    question answering, `encoded` holds the features of every window, gathered per question,
    and `version_2_with_negative` lets a question's answer be "" (SQuAD v2.0, scored by its rules)."""
    return evaluate_with_predictions(task, model, examples, encoded, labels, batch_size, pad_id, max_answer_length,
                                     version_2_with_negative, null_score_diff_threshold)[0]


def evaluate_with_predictions(task: str, model, examples: list[dict], encoded: list[dict], labels, batch_size: int,
                              pad_id: int, max_answer_length: int = MAX_ANSWER_LENGTH,
                              version_2_with_negative: bool = False,
                              null_score_diff_threshold: float = NULL_SCORE_DIFF_THRESHOLD,
                              on_batch=None) -> tuple[dict, list]:
    """(metrics, predictions): `evaluate`'s metrics, and what the model predicted for each
    example, in the file's terms: a class name; a multi-label example's class names (in the
    order of `labels`); a regression's value; a sentence's tags, one per word (`sentence_tags`);
    a question's answer text ("" for none, with `version_2_with_negative`: SQuAD v2.0's scores);
    a multiple-choice example's choice index. The metrics end with the validation `loss`
    (`predictions_and_loss`, which calls `on_batch`), but for question answering."""
    predictions, loss = predictions_and_loss(task, model, encoded, batch_size, pad_id, on_batch=on_batch)
    scores, shown = task_scores(task, model, examples, encoded, predictions, labels, max_answer_length,
                                version_2_with_negative, null_score_diff_threshold)
    return (scores if loss is None else {**scores, "loss": loss}), shown


def task_scores(task: str, model, examples: list[dict], encoded: list[dict], predictions: list, labels,
                max_answer_length: int, version_2_with_negative: bool,
                null_score_diff_threshold: float) -> tuple[dict, list]:
    """(the task's scores, the predictions in the file's terms) of each feature's prediction
    (`predict_features`), for `evaluate_with_predictions`."""
    if task == "text-classification" and model.config.problem_type == "regression":
        return regression_scores(predictions, [label_number(example["label"]) for example in examples]), predictions
    if task == "text-classification" and model.config.problem_type == "multi_label_classification":
        label_ids = {label: index for index, label in enumerate(labels)}
        scores = multi_label_scores(predictions, [multi_hot(example["label"], label_ids) for example in examples])
        return scores, [[label for label, on in zip(labels, row) if on] for row in predictions]
    if task == "text-classification":
        references = [labels.index(str(example["label"])) for example in examples]
        scores = {"accuracy": accuracy(predictions, references), "macro_f1": macro_f1(predictions, references)}
        return scores, [labels[index] for index in predictions]
    if task == "multiple-choice":
        return {"accuracy": accuracy(predictions, [example["label"] for example in examples])}, predictions
    if task == "token-classification":
        predicted_tags = sentence_tags(examples, encoded, predictions, labels)
        flat = [tag for row in predicted_tags for tag in row]
        tag_accuracy = accuracy(flat, [tag for e in examples for tag in e["tags"]])
        if not uses_bio_tags(labels):  # no entities: an entity F1 would measure nothing
            return {"accuracy": tag_accuracy}, predicted_tags
        return {**entity_scores(predicted_tags, [e["tags"] for e in examples]), "accuracy": tag_accuracy}, predicted_tags
    answers = squad_predictions(examples, encoded, predictions, max_answer_length, version_2_with_negative,
                                null_score_diff_threshold)
    scored = squad_v2_scores if version_2_with_negative else squad_scores
    scores = scored(answers, {e["id"]: [a["text"] for a in e["answers"]] for e in examples})
    return scores, [answers[example["id"]] for example in examples]


def prediction_records(task: str, examples: list[dict], predictions: list, labels) -> list[dict]:
    """One record per example for OUT/{split}_predictions.jsonl: where the example is (`line` in
    its file, or a question's `id`), the `prediction` of `evaluate_with_predictions` and the
    `reference` in the same terms (a multi-label example's classes in the order of `labels`;
    every answer text of a question), so that a reader can look for the errors."""
    records = []
    for example, predicted in zip(examples, predictions):
        if task == "question-answering":
            records.append({"id": example["id"], "prediction": predicted,
                            "reference": [answer["text"] for answer in example["answers"]]})
            continue
        if task == "token-classification":
            reference = example["tags"]
        elif task == "multiple-choice":
            reference = example["label"]
        elif isinstance(example["label"], list):
            reference = [label for label in labels if label in example["label"]]
        elif labels is None:  # a regression
            reference = label_number(example["label"])
        else:
            reference = str(example["label"])
        records.append({"line": example["line"], "prediction": predicted, "reference": reference})
    return records


def write_results(out: Path, split: str, metrics: dict, records: list[dict]) -> None:
    """OUT/{split}_results.json (the metrics) and OUT/{split}_predictions.jsonl (`records`, one
    line each), replacing those of an earlier evaluation."""
    (out / RESULTS_FILE.format(split)).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    (out / PREDICTIONS_FILE.format(split)).write_text(lines, encoding="utf-8")


def shown_metrics(metrics: dict) -> str:
    """"accuracy 0.9167, macro_f1 0.9000": the scores of a metrics dict, for a progress line."""
    return ", ".join(f"{name} {value:.4f}" for name, value in metrics.items() if isinstance(value, float))


def sentence_tags(examples: list[dict], features: list[dict], predictions: list[list[int]],
                  labels: list[str]) -> list[list[str]]:
    """Each sentence's predicted tags, word by word, from the label ids predicted at the first
    piece of each word in each window (`encode_tagged_words`): a word that two windows hold takes
    the tag of the one where its `context` is larger, the first such window on a tie.

    `examples[s]["tags"]` gives sentence s's number of words; `features` are the windows, in order,
    each with its `sentence` (an index of `examples`) and, for each word whose first piece it
    holds, the word's index (`word_ids`) and its `context` (pieces on its shorter side in that
    window); `predictions[k]` holds the label id predicted at each of those words of window k,
    an index of `labels`."""
    best = [[(-1, None)] * len(example["tags"]) for example in examples]  # (context, tag) of each word
    for feature, row in zip(features, predictions):
        chosen = best[feature["sentence"]]
        for word, context, label_id in zip(feature["word_ids"], feature["context"], row):
            if context > chosen[word][0]:
                chosen[word] = (context, labels[label_id])
    return [[tag for _, tag in words] for words in best]


def counted_targets(task: str, batch: dict) -> int:
    """How many targets the batch's loss is a mean over: its labelled rows, or tokens for token
    classification (-100: not counted). A question-answering feature always has its start and
    end inside the sequence (position 0 when its window does not hold the answer), so it counts once."""
    if task == "question-answering":
        return len(batch["start_positions"])
    labels = np.asarray(batch["labels"])
    if labels.dtype.kind == "f":  # a regression's targets, or multi-hot rows: -100.0 is a value like any other
        return len(labels)  # (BCE's mean is over every cell, but each row has as many: rows weigh the same)
    return int(np.count_nonzero(labels != IGNORE_INDEX))


def data_parallel_loss_and_grads(model, task: str, batch: dict, ranks):
    """Loss and gradients of the whole `batch`, computed by all processes together.

    Each process takes its block of rows (`np.array_split`: any batch size, the last batch of an
    epoch too) and weights its mean loss by its share of the batch's targets, n_r / n, so that
    the sum over processes is the mean over the whole batch; one all-reduce of one flat buffer
    adds the weighted gradients and losses. A process whose rows hold no target adds zeros
    (its mean would be 0 / 0). Returns (loss, grads), the same on every process.
    """
    from .train import distributed

    rows = np.array_split(np.arange(len(batch["input_ids"])), ranks.size)[ranks.rank]
    local = {name: value[rows] for name, value in batch.items()}
    total, mine = counted_targets(task, batch), counted_targets(task, local)
    if total == 0:
        return float("nan"), None  # as in one process: a mean over no target
    xp, shapes = model.xp, model.state_dict()
    if mine:
        loss, grads = model.loss_and_grads(**local)
        grads = {name: grads[name] * (mine / total) for name in shapes}  # every process in one key order
        loss = float(loss) * mine / total
    else:
        grads, loss = {name: xp.zeros_like(value) for name, value in shapes.items()}, 0.0
    loss, grads = distributed.allreduce_loss_and_grads(loss, grads, ranks)
    return float(loss), grads


def write_checkpoint(out: Path, model, tokenizer, optimizer: AdamW, state: dict) -> None:
    """Model, tokenizer, optimizer moments and trainer state, written into a temporary folder
    that then takes the place of OUT/checkpoint (`write_directory_atomically`, as pretraining
    saves): an interruption leaves the previous checkpoint whole, never half of one."""
    def write(folder: Path) -> None:
        save_model_and_tokenizer(folder, model, tokenizer)
        moments = {key: to_numpy(value) for key, value in optimizer.state_dict().items() if key != "step"}
        np.savez(folder / OPTIMIZER_FILE, step=np.array(optimizer.step_count), **moments)
        (folder / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")

    write_directory_atomically(out / CHECKPOINT, write)


def saved_checkpoint(out: Path) -> Path:
    """OUT/checkpoint, or OUT/checkpoint.old where a save stopped between its two renames
    (`tinyalbert.train.checkpoints.replace_directory`): the last whole checkpoint."""
    return checkpoint_dir(out, STATE_FILE) or out / CHECKPOINT


def check_out_dir(out: Path, resume: bool) -> None:
    """Refuse, before anything slow, an --out that cannot take this run: a file or a path below
    one, a folder that cannot be written, a finished or started run when not resuming (its
    metrics would be appended to, its best model overwritten), no checkpoint when resuming."""
    problem = directory_path_problem(out)
    if problem:
        raise UsageError(f"--out {problem}; choose another --out")
    resumable = (saved_checkpoint(out) / STATE_FILE).is_file()
    leftovers = [name for name in (CHECKPOINT, BEST, METRICS_FILE) if (out / name).exists()]
    if leftovers and not resumable:  # a run stopped before its first checkpoint: it can only start again
        raise UsageError(f"--out {out} holds {', '.join(leftovers)} of a run stopped before its first checkpoint, "
                         "which cannot be resumed: remove them to start again, or choose another --out")
    if resume and not resumable:
        raise UsageError(f"nothing to resume: {out / CHECKPOINT} has no {STATE_FILE} "
                         "(leave out --resume to start a new run)")
    if not resume and resumable:
        raise UsageError(f"--out {out} already holds a fine-tuning run: pass --resume to continue it, "
                         "or choose another --out")


def check_positions(args: FinetuneArguments, source) -> None:
    """--max-seq-length against the model's positions, before the data is read: a longer
    sequence would otherwise fail only in training, at the first batch that reaches it."""
    from .config import AlbertConfig

    positions = AlbertConfig.from_pretrained(source).max_position_embeddings
    if args.max_seq_length > positions:
        raise UsageError(f"--max-seq-length {args.max_seq_length} is more than the {positions} positions of "
                         f"--model {args.model}: pass --max-seq-length {positions} or less")


def check_resumed_labels(checkpoint: Path, labels: list[str] | None) -> None:
    """The checkpoint's classes (or tags) must be the train file's, in the same order: each is a
    row of its classifier, and a label list read in another order would rename the rows without a
    word (older versions sorted integer tags, and then integer classes, as text: "10" before "2")."""
    from .config import AlbertConfig

    if labels is None:
        return
    saved = [label for _, label in sorted(AlbertConfig.from_pretrained(checkpoint).id2label.items())]
    if saved != labels:
        raise cannot_resume(checkpoint, f"its classifier's rows are the labels {saved[:6]}{' ...' if len(saved) > 6 else ''}, "
                                        f"but the train file's read now are {labels[:6]}{' ...' if len(labels) > 6 else ''}")


def check_resumed_problem_type(checkpoint: Path, problem_type: str | None) -> None:
    """A text classification resumes as the problem type it was trained as, whether that came from
    --problem-type or from the labels (given now or not: `--problem-type regression` once and the
    same labels read as classes on resuming would not fit the one-output head). A checkpoint saved
    before problem types were recorded was a single-label classification."""
    from .config import AlbertConfig

    if problem_type is None:
        return
    saved = AlbertConfig.from_pretrained(checkpoint).problem_type or "single_label_classification"
    if saved != problem_type:
        hint = f"; pass --problem-type {saved}" if saved == "regression" else ""
        raise ValueError(f"--resume: the checkpoint was trained as a {saved} but the run now is a {problem_type} "
                         f"(--problem-type and the labels decide it){hint}")


def cannot_resume(path: Path, problem: str) -> UsageError:
    return UsageError(f"cannot resume from {path}: {problem}; start a new run instead "
                      "(without --resume, into another --out)")


def file_fingerprint(path) -> str:
    """A short hash of a file's bytes, to recognise the train file a checkpoint was trained on."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def read_checkpoint_state(out: Path, args: FinetuneArguments, train_fingerprint: str | None) -> dict:
    """The trainer state of OUT/checkpoint, after checking it is whole and was made with the same
    settings and train file (a changed file would change the steps of an epoch: the schedule
    would no longer be the one the checkpoint is part of)."""
    path = saved_checkpoint(out) / STATE_FILE
    try:
        state = read_json_object(path)
    except OSError as error:
        raise cannot_resume(path, f"not readable ({error.strerror or error})") from None
    except ValueError as error:  # "PATH: not valid JSON (...)", "PATH must hold ...": said once, by cannot_resume
        raise cannot_resume(path, str(error).removeprefix(str(path)).lstrip(": ")) from None
    saved = state["args"] if isinstance(state.get("args"), dict) else {}
    broken = [name for name, kind in STATE_FIELDS.items() if not isinstance(state.get(name, ...), kind)]
    broken += [f"args.{name}" for name in RESUMED_OPTIONS if name not in saved]
    warmup = state.get("warmup_steps", 0)  # absent from checkpoints saved before it was recorded
    broken += ["warmup_steps"] if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0 else []
    broken += [] if isinstance(state.get("losses", []), list) else ["losses"]  # absent before it was recorded
    if broken:
        raise cannot_resume(path, f"{', '.join(broken)} missing or malformed (not a whole fine-tuning state)")
    for name in RESUMED_OPTIONS:
        if saved[name] != getattr(args, name):
            raise ValueError(f"--resume: {name} is {getattr(args, name)!r} but the checkpoint was made with {saved[name]!r}")
    # What a checkpoint made before an option was added stands for. Before --label-separator:
    # single-label classifications, which any value here goes on reading as its labels decide. Before
    # the column options, --tag-names and --label-names: the default columns of the task, and
    # integer tags and labels read as names. Before --layout: multiple choice's own question,
    # choices, answer. Before --version-2-with-negative: SQuAD v1.1, with run_qa.py's threshold
    # (other answers and scores would pick another best epoch). (--problem-type is compared as it
    # comes out, given or read off the labels: `check_resumed_problem_type`.)
    made_before = {"label_separator": args.label_separator,
                   **{name: DEFAULT_COLUMNS[task][field] if task == args.task else None
                      for name, (task, field) in COLUMN_FIELDS.items()},
                   **dict.fromkeys(ID_NAMES), "layout": None,
                   "version_2_with_negative": False, "null_score_diff_threshold": NULL_SCORE_DIFF_THRESHOLD}
    for name, before in made_before.items():
        if saved.get(name, before) != getattr(args, name):
            raise ValueError(f"--resume: {name} is {getattr(args, name)!r} but the checkpoint was made with "
                             f"{saved.get(name, before)!r}")
    windowed = args.task in ("question-answering", "token-classification")
    if windowed and saved.get("doc_stride", args.doc_stride) != args.doc_stride:  # it makes the features
        raise ValueError(f"--resume: doc_stride is {args.doc_stride} but the checkpoint was made with {saved['doc_stride']}")
    if args.task == "question-answering" and "doc_stride" not in saved:
        raise cannot_resume(path, "it was made when question answering kept only the first window of each "
                                  "context, so its epochs have other steps")
    if train_fingerprint is not None and state.get("train_fingerprint", train_fingerprint) != train_fingerprint:
        raise ValueError(f"--resume: the train file {args.train} is not the text the checkpoint was trained on "
                         f"(fingerprint {train_fingerprint}, checkpoint {state['train_fingerprint']})")
    if "train_fingerprint" not in state and saved.get("train") != args.train:  # saved before fingerprints
        raise ValueError(f"--resume: train is {args.train!r} but the checkpoint was made with {saved.get('train')!r}")
    return state


def read_optimizer(out: Path, optimizer: AdamW, model) -> None:
    """The Adam moments of OUT/checkpoint into `optimizer`, checked against the model's parameters
    (a moment of another shape would fail only at the first step, in the update's arithmetic)."""
    path = saved_checkpoint(out) / OPTIMIZER_FILE
    try:
        with np.load(path) as arrays:  # pickles stay refused: the file holds plain arrays
            saved = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # numpy's message would advise allow_pickle
        raise cannot_resume(path, "not a readable optimizer state (an .npz file of Adam moments)") from None
    try:
        optimizer.load_state_dict({key: (int(value) if key == "step" else asarray(model.xp, value))
                                   for key, value in saved.items()})
    except (TypeError, ValueError) as error:
        raise cannot_resume(path, f"not an optimizer state of this run ({error})") from None
    # A checkpoint of this run holds moments for exactly the model's parameters.
    extra = sorted(optimizer.exp_avg.keys() - model.params.keys())
    misfit = optimizer.misfit(model.params) or (f"its moments are for parameters not in the model: {extra[:3]}"
                                                 if extra else None)
    if misfit:
        raise cannot_resume(path, misfit)


def model_overrides(task: str, labels, problem_type: str | None) -> dict:
    """The config fields the task model is built with, on top of --model's: the label names
    (`id2label`), and for text classification its `problem_type`, written to config.json as
    run_classification.py does, so that neither the loss nor the pipeline guesses it from a
    batch (and a --model fine-tuned as a regression becomes a classifier again). A regression
    has one output, its id2label left {0: "LABEL_0"}, as run_glue.py leaves it; a multi-label
    classification one per label of any example, each scored with a sigmoid of its own."""
    overrides = {} if labels is None else {"id2label": {i: label for i, label in enumerate(labels)}}
    if task == "question-answering":  # the span head's two outputs, whatever --model was trained for
        overrides["id2label"] = {0: "LABEL_0", 1: "LABEL_1"}
    if problem_type is not None:
        overrides["problem_type"] = problem_type
    if problem_type == "regression":
        overrides["num_labels"] = 1
    return overrides


def load_model(args: FinetuneArguments, source, overrides: dict, labels):
    """The task model from `source` (--model, or OUT/checkpoint when resuming). A classifier
    fine-tuned for another number of labels (or outputs: one for a regression, `overrides`
    num_labels 1) is an error that says what to do on the command line."""
    from .task_models import TASK_CLASSES

    try:
        return TASK_CLASSES[args.task].from_pretrained(source, backend=args.backend, seed=args.seed,
                                                      ignore_mismatched_sizes=args.ignore_mismatched_sizes,
                                                      **overrides)
    except MismatchedShapeError:  # its advice, ignore_mismatched_sizes=True, is for Python callers
        if labels is None and overrides.get("problem_type") != "regression":
            raise
        wanted = f"the {len(labels)} labels of" if labels is not None else "a regression (one output) on"
        raise UsageError(f"--model {args.model} does not fit {wanted} {args.train}: its "
                         "classifier was fine-tuned for another number of labels; start from the pretrained model "
                         "it was fine-tuned from, or pass --ignore-mismatched-sizes to train a new classifier "
                         "in its place") from None


def finetune_step(model, optimizer: AdamW, args: FinetuneArguments, batch: dict, ranks, step: int,
                  warmup_steps: int, total_steps: int) -> tuple[float, float]:
    """One update on `batch`: loss and gradients (shared out over the processes under mpiexec),
    clipping, the learning rate of `step` in the schedule, the AdamW step. Returns (loss, lr)."""
    if ranks is None:
        loss, grads = model.loss_and_grads(**batch)
    else:
        loss, grads = data_parallel_loss_and_grads(model, args.task, batch, ranks)
    loss = float(loss)
    if not math.isfinite(loss):  # every process has the summed loss: the first one alone says so
        raise FloatingPointError(f"the loss became {loss} at step {step + 1}; try a lower --lr"
                                 if ranks is None or ranks.is_main else "")
    if args.clip_norm > 0:
        grads, _ = clip_grad_global_norm(grads, args.clip_norm)
    lr = linear_warmup_then_decay(step, warmup_steps, total_steps, args.lr)
    model.params = optimizer.step(model.params, grads, lr)
    return loss, lr


def record_epoch(out: Path | None, metrics: dict, best_by: str, state: dict, model, tokenizer, optimizer) -> None:
    """An epoch's metrics into `state` (its history, the best so far by `best_by`, the epoch
    count); with `out` (the first process only), also a line of metrics.jsonl, the model in best/
    when it is the best so far, the checkpoint that --resume continues from, and curves.png."""
    state["history"].append(metrics)
    is_best = state["best"] is None or improves(metrics[best_by], state["best"][best_by])
    if is_best:
        state["best"] = metrics
    state["epoch"] = metrics["epoch"]
    if out is None:
        return
    with (out / METRICS_FILE).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(metrics) + "\n")
    if is_best:  # as the checkpoint: an interruption leaves the previous best model whole
        write_directory_atomically(out / BEST, lambda folder: save_model_and_tokenizer(folder, model, tokenizer))
    write_checkpoint(out, model, tokenizer, optimizer, state)
    plot_curves(state, best_by, out / CURVES_FILE)


def improves(score: float, best: float) -> bool:
    """Whether an epoch's score beats the best so far. nan (a correlation left undefined when the
    model gives every example the same value) beats nothing, and anything beats it: compared
    with `>` alone, a first epoch scored nan would stay the best for good."""
    return not math.isnan(score) and (math.isnan(best) or score > best)


def plot_curves(state: dict, best_by: str, path: Path) -> bool:
    """The training loss of each step (`state["losses"]`, with its moving mean) and, on the same
    axes, the validation loss of each epoch (its `loss`, at the epoch's last step), beside the
    other validation metrics of each epoch (`state["history"]`), into `path`. Returns False,
    drawing nothing, when matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    from .train.history import draw_step_losses, save_figure

    figure = Figure(figsize=(10, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, metric_axes = figure.subplots(1, 2)
    if state["losses"]:
        steps, losses = zip(*state["losses"])
        draw_step_losses(loss_axes, list(steps), list(losses), name="training loss")
    # The epochs of a run resumed from a checkpoint saved before the validation loss was recorded have none.
    validated = [(record["step"], record["loss"]) for record in state["history"] if "loss" in record]
    if validated:  # purple: no score of a task with a loss takes that colour on the right (C4, the fifth)
        loss_axes.plot(*zip(*validated), color="tab:purple", marker="o", label="validation loss (after each epoch)")
    if state["losses"] or validated:
        loss_axes.legend(fontsize="small")
    loss_axes.set(xlabel="step", ylabel="loss", title="Training and validation loss" if validated else "Training loss")
    epochs = [record["epoch"] for record in state["history"]]
    # A regression's mean squared error is in the labels' units squared (25 for scores off by 5),
    # so it gets an axis of its own on the right; beside it, correlations in [-1, 1] would be flat.
    error_axes = metric_axes.twinx() if "mse" in state["history"][0] else None
    # The scores alone: epoch and step are the axis, the validation loss is drawn with the training
    # loss, and SQuAD v2.0's counts of questions (total, HasAns_total, NoAns_total) are integers.
    scored = [key for key, value in state["history"][0].items() if key not in ("epoch", "step", "loss")
              and not (isinstance(value, int) and key.endswith("total"))]
    for index, name in enumerate(scored):
        label = f"{name} (picks the best epoch)" if name == best_by else name
        axes = error_axes if name == "mse" else metric_axes
        axes.plot(epochs, [record[name] for record in state["history"]], marker="o", label=label,
                  color=f"C{index}", linestyle="--" if name == "mse" else "-")
    # SQuAD's scores are percentages: v1.1's exact_match, v2.0's exact
    percent = best_by == "f1" and ("exact_match" in state["history"][0] or "exact" in state["history"][0])
    metric_axes.set(xlabel="epoch", ylabel="score (%)" if percent else "score",
                    title="Validation, after each epoch", xticks=epochs)
    handles, labels = metric_axes.get_legend_handles_labels()
    if error_axes is not None:
        error_axes.set(ylabel="mean squared error (dashed)")
        more_handles, more_labels = error_axes.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    metric_axes.legend(handles, labels, fontsize="small")
    for axes in (loss_axes, metric_axes):
        axes.grid(alpha=0.3)
    save_figure(figure, path)
    return True


def windows_line(args: FinetuneArguments, train_examples: int, train_features: int, validation_examples: int,
                 validation_features: int) -> str:
    """What the sliding windows made of the question-answering files, or of the sentences of a
    token classification, for the progress output."""
    task, what = ("question answering", "questions") if args.task == "question-answering" else ("tagging", "sentences")
    return (f"{task}: {train_features} training features from {train_examples} {what}, "
            f"{validation_features} validation features from {validation_examples} {what} (windows of "
            f"--max-seq-length {args.max_seq_length}, --doc-stride {args.doc_stride} pieces shared by neighbours)")


def check_resumed_features(path: Path, state: dict, args: FinetuneArguments, examples: int, features: int) -> None:
    """The training features of a resumed run must be as many as when its checkpoint was made (an
    epoch's steps depend on them). A checkpoint that did not record them was made when a tagged
    sentence longer than --max-seq-length was cut rather than split into windows."""
    saved = state.get("train_features")
    if saved is None and args.task == "token-classification" and features != examples:
        raise cannot_resume(path, "it was made when tagged sentences longer than --max-seq-length were cut, not "
                                  "split into windows, so its epochs have other steps")
    if saved is not None and saved != features:
        raise cannot_resume(path, f"it was trained on {saved} features a pass, but the train file makes {features} now")


def save_model_and_tokenizer(folder: Path, model, tokenizer) -> None:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def finetune(args: FinetuneArguments, progress=True) -> dict:
    """Run the whole fine-tuning; returns {"best": metrics, "best_by": the metric that chose it,
    "history": [...], "test": the test file's metrics (None without one, or while epochs are
    left), "seconds": ..., "main_process": False on every process of an mpiexec job but the
    first}. With `eval_only`, `evaluate_fine_tuned`'s result instead.
    With `progress`, the progress goes to standard error: the phases of reading and encoding each
    file and of each evaluation (a line as each starts, a bar on a terminal, the time it took),
    and the steps of each epoch, a line redrawn in place on a terminal, a line about every tenth
    of an epoch into a file or a notebook."""
    from .tokenizer import AlbertTokenizer
    from .train.distributed import barrier, init_ranks

    if args.eval_only:
        from .finetune_eval import evaluate_fine_tuned

        return evaluate_fine_tuned(args, progress)
    # What can be checked without the model and the data, first: a mistake fails fast.
    check_backend_available(args.backend)
    out = Path(args.out)
    check_out_dir(out, args.resume)
    ranks = init_ranks(args.backend, args.mpi_timeout)  # None unless under mpiexec -n N > 1
    is_main = ranks is None or ranks.is_main  # the first process alone writes OUT and shows progress
    source = saved_checkpoint(out) if args.resume else args.model  # a resumed run's model and tokenizer
    fingerprint = file_fingerprint(args.train) if Path(args.train).is_file() else None  # else: read_task_file says
    state = {"epoch": 0, "step": 0, "best": None, "history": [], "losses": [], "args": dataclasses.asdict(args),
             "train_fingerprint": fingerprint}
    # Warm-up steps are rounded up, as Transformers' Trainer does, and recorded in the state. A
    # checkpoint saved before train files were fingerprinted rounded them down: it goes on so.
    round_warmup = math.ceil
    if args.resume:
        saved = read_checkpoint_state(out, args, fingerprint)
        round_warmup = math.ceil if "train_fingerprint" in saved else int
        state = {"losses": [], **saved, "args": dataclasses.asdict(args), "train_fingerprint": fingerprint}
    tokenizer = AlbertTokenizer.from_pretrained(source)
    check_positions(args, source)
    stream = sys.stderr if progress and is_main else None  # the phases' and the notes' lines
    with warnings_from_first_process(is_main):  # every process reads the same files
        labels, train_examples, train_encoded, validation_examples, validation_encoded = load_data(args, tokenizer,
                                                                                                   stream)
        problem_type = problem_type_of(args, train_examples)
        test_examples, test_encoded = (None, None) if args.test is None else load_test_file(args, tokenizer, labels,
                                                                                           problem_type, stream)
    if args.resume:
        check_resumed_problem_type(source, problem_type)  # first: another problem type has other labels too
        check_resumed_labels(source, labels)
        check_resumed_features(source / STATE_FILE, state, args, len(train_examples), len(train_encoded))
    state["train_features"] = len(train_encoded)
    overrides = model_overrides(args.task, labels, problem_type)
    with warnings_from_first_process(is_main):
        model = load_model(args, source, overrides, labels)
    optimizer = AdamW(weight_decay=args.weight_decay)
    if args.resume:
        read_optimizer(out, optimizer, model)
    steps_per_epoch = math.ceil(len(train_encoded) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = state.setdefault("warmup_steps", round_warmup(args.warmup_ratio * total_steps))
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
    best_by, started = main_metric(args.task, labels, problem_type), time.perf_counter()
    pad_id = tokenizer.pad_token_id
    last_epoch = args.epochs if args.stop_after is None else min(args.epochs, state["epoch"] + args.stop_after)
    shown_every = 1 if stream is None or is_terminal(stream) else max(1, steps_per_epoch // 10)  # a log stays readable
    split = len(train_encoded) > len(train_examples) or len(validation_encoded) > len(validation_examples)
    if args.task == "question-answering" or split:  # a step per window, not per example
        write_line(stream, windows_line(args, len(train_examples), len(train_encoded), len(validation_examples),
                                        len(validation_encoded)))
    if args.task == "token-classification" and best_by != MAIN_METRIC[args.task]:
        write_line(stream, tags_note(labels))
    ids_note = (class_ids_note(labels) if args.task == "text-classification" and args.label_names is None
                and labels and all_integers(labels) else None)
    if ids_note:
        write_line(stream, ids_note)
    for epoch in range(state["epoch"], last_epoch):
        order = np.random.default_rng([args.seed, epoch]).permutation(len(train_encoded))
        model.train(rng=np.random.default_rng([args.seed, epoch, 1] + ([] if ranks is None else [ranks.rank])))
        # A bar of its own for each epoch's steps, closed before the evaluation's phase draws its lines.
        bar = Progress(total_steps, state["step"], stream=stream) if stream is not None else None
        for index in range(steps_per_epoch):
            chunk = [train_encoded[i] for i in order[index * args.batch_size:(index + 1) * args.batch_size]]
            batch = collate(args.task, chunk, pad_id)
            loss, lr = finetune_step(model, optimizer, args, batch, ranks, state["step"], warmup_steps, total_steps)
            state["step"] += 1
            state["losses"].append([state["step"], loss])  # the loss curve's points
            if bar is not None and ((index + 1) % shown_every == 0 or index + 1 == steps_per_epoch):
                bar.update(state["step"], {"loss": loss, "lr": lr})
        if bar is not None:
            bar.close()
        model.eval()
        metrics, _ = evaluate_in_phase(args, "validation", model, validation_examples, validation_encoded, labels,
                                       pad_id, stream)
        metrics = {"epoch": epoch + 1, "step": state["step"], **metrics}
        record_epoch(out if is_main else None, metrics, best_by, state, model, tokenizer, optimizer)
        if ranks is not None:  # no process runs ahead of a checkpoint it could be asked to resume from
            barrier(ranks, "waiting for the first process to write the checkpoint")
        write_line(stream, f"epoch {epoch + 1}/{args.epochs}: {shown_metrics(metrics)}")
    test_metrics = None
    if args.test is not None and state["epoch"] == args.epochs:  # the best epoch is final: score it once
        best_model = load_best_model(args, out, is_main)
        test_metrics, predictions = evaluate_in_phase(args, "test", best_model, test_examples, test_encoded, labels,
                                                      pad_id, stream)
        if is_main:
            write_results(out, "test", test_metrics, prediction_records(args.task, test_examples, predictions, labels))
        write_line(stream, f"test: {shown_metrics(test_metrics)} (the model of epoch {state['best']['epoch']}, "
                           f"{out / BEST})")
    elif args.test is not None:
        write_line(stream, f"test: not scored yet, with {args.epochs - state['epoch']} epoch(s) left (the best epoch "
                           "may change): --resume with --test scores the best epoch's model once the last one is done")
    return {"best": state["best"], "best_by": best_by, "history": state["history"], "test": test_metrics,
            "seconds": time.perf_counter() - started, "main_process": is_main}


def evaluate_in_phase(args: FinetuneArguments, role: str, model, examples: list[dict], encoded: list[dict], labels,
                      pad_id: int, stream=None) -> tuple[dict, list]:
    """`evaluate_with_predictions` on one file of the run (`role`: "validation" or "test") with
    the run's options; with `stream`, as a phase of the progress output: a line as it starts, a
    bar of the features scored on a terminal, and the time it took when that was a second or more."""
    noun = EXAMPLE_NOUNS[args.task]
    windows = f" ({len(encoded):,} windows)" if len(encoded) != len(examples) else ""
    with Phase(stream, f"evaluating on {len(examples):,} {role} {noun}{windows}", len(encoded),
               "windows" if windows else noun) as phase:
        result = evaluate_with_predictions(args.task, model, examples, encoded, labels, args.batch_size, pad_id,
                                           args.max_answer_length, args.version_2_with_negative,
                                           args.null_score_diff_threshold, on_batch=phase.advance)
        phase.outcome = f"evaluated {len(examples):,} {role} {noun}"
    return result


def write_line(stream, line: str) -> None:
    """A line of the progress output, when there is one (`stream`: None under --quiet, and on every
    process of an mpiexec job but the first)."""
    if stream is not None:
        stream.write(line + "\n")
        stream.flush()


def load_best_model(args: FinetuneArguments, out: Path, is_main: bool):
    """The model of the best epoch, as OUT/best holds it, on every process (the first one wrote
    it before all passed the barrier of its epoch), in eval mode: what the test file scores."""
    from .task_models import TASK_CLASSES

    with warnings_from_first_process(is_main):
        return TASK_CLASSES[args.task].from_pretrained(out / BEST, backend=args.backend).eval()
