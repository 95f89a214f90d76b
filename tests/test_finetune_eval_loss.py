"""The validation loss of `python -m tinyalbert.finetune`: the `loss` of each epoch's line of
metrics.jsonl, of test_results.json and of --eval-only's results, against Transformers' own model
of the same class on the saved best/ model, its loss with labels averaged over the batches as
the Trainer averages eval_loss (run_glue.py, run_ner.py, run_swag.py): each batch's mean loss
weighted by the batch's rows, over all rows (`Trainer.evaluation_loop` repeats each batch's loss
once per row; accelerate's gather_for_metrics cuts the last, smaller batch's repeats to its
rows). Question answering reports none, as run_qa.py, whose validation features carry no answer
positions."""
import contextlib
import io
import json
import warnings

import numpy as np
import pytest

from test_finetune_test_and_eval import (write_choices, write_classes, write_long_questions, write_long_tagged,
                                         write_multi_label, write_regression)
from test_finetune_tag_windows import long_sentence
from tinyalbert import finetune, finetune_loop
from tinyalbert.task_data import encode_examples, read_task_file

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

HF_CLASSES = {"text-classification": "AlbertForSequenceClassification",
              "token-classification": "AlbertForTokenClassification",
              "multiple-choice": "AlbertForMultipleChoice"}
BATCH_SIZE = 5  # none of the validation files below is a whole number of batches


def write_mixed_tagged(directory):
    """The long sentences of `write_long_tagged` to train on; to validate, long sentences (5
    windows each) between short ones (one window of 2 or 3 labelled words): the windows' counts
    of labelled tokens differ, so that a mean over each batch's tokens, weighted by its windows,
    is not the mean over every token."""
    train, _ = write_long_tagged(directory)
    sentences = [long_sentence(20), (["alice", "went"], ["B-PER", "O"]), long_sentence(28),
                 (["went", "went", "paris"], ["O", "O", "B-LOC"]), long_sentence(24)]
    validation = directory / "validation.jsonl"
    validation.write_text("".join(json.dumps({"tokens": words, "tags": tags}) + "\n" for words, tags in sentences))
    return train, validation


# case: (task, writer of (train, validation), options)
CASES = {
    "classes": ("text-classification", write_classes, ["--max-seq-length", "24"]),
    "multi-label": ("text-classification", write_multi_label, ["--max-seq-length", "16"]),
    "regression": ("text-classification", write_regression, ["--max-seq-length", "16"]),
    "tags, windows": ("token-classification", write_mixed_tagged, ["--max-seq-length", "16", "--doc-stride", "8"]),
    "multiple choice": ("multiple-choice", write_choices, ["--max-seq-length", "24"]),
}


def run_main(*arguments) -> dict:
    """finetune.main's JSON summary, the run having succeeded."""
    output = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(output):
        warnings.simplefilter("ignore")  # the new head's "newly initialized" warning
        status = finetune.main([*arguments, "--batch-size", str(BATCH_SIZE), "--quiet"])
    assert status == 0
    return json.loads(output.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each case trained for one epoch, its validation file scored again as --test and by
    --eval-only on best/: (task, validation file, options, OUT, metrics.jsonl lines, summary,
    --eval-only's summary), once per case."""
    root, runs = tmp_path_factory.mktemp("loss"), {}

    def run(case):
        if case not in runs:
            task, write, options = CASES[case]
            directory = root / case.replace(" ", "_").replace(",", "")
            directory.mkdir()
            train, validation = write(directory)
            out = directory / "out"
            summary = run_main("--task", task, "--model", "tinyalbert-mini", "--train", str(train), "--validation",
                               str(validation), "--test", str(validation), "--out", str(out), "--epochs", "1",
                               "--lr", "3e-4", *options)
            evaluated = run_main("--task", task, "--model", str(out / "best"), "--eval-only", "--validation",
                                 str(validation), "--out", str(directory / "eval"), *options)
            history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
            runs[case] = (task, validation, options, out, history, summary, evaluated)
        return runs[case]

    return run


def option(options: list[str], name: str) -> int | None:
    return int(options[options.index(name) + 1]) if name in options else None


def padded(rows, value) -> list[list]:
    """Rows of integers padded on the right with `value` to the longest."""
    length = max(map(len, rows))
    return [list(row) + [value] * (length - len(row)) for row in rows]


def transformers_batch(task: str, features: list[dict], pad_id: int) -> dict:
    """One batch of features as Transformers' collators pad them (DataCollatorWithPadding for
    text classification, DataCollatorForTokenClassification's -100 for tags, run_swag.py's
    collator for choices): torch tensors with labels, int64, or float32 for a regression's
    values and multi-hot rows."""
    if task == "multiple-choice":
        rows = [ids for feature in features for ids in feature["input_ids"]]
        types = [t for feature in features for t in feature["token_type_ids"]]
        shape = (len(features), len(features[0]["input_ids"]), -1)
        return {"input_ids": torch.tensor(padded(rows, pad_id)).reshape(shape),
                "attention_mask": torch.tensor(padded([[1] * len(r) for r in rows], 0)).reshape(shape),
                "token_type_ids": torch.tensor(padded(types, 0)).reshape(shape),
                "labels": torch.tensor([feature["label"] for feature in features])}
    rows = [feature["input_ids"] for feature in features]
    batch = {"input_ids": torch.tensor(padded(rows, pad_id)),
             "attention_mask": torch.tensor(padded([[1] * len(r) for r in rows], 0)),
             "token_type_ids": torch.tensor(padded([feature["token_type_ids"] for feature in features], 0))}
    if task == "token-classification":
        batch["labels"] = torch.tensor(padded([feature["labels"] for feature in features], -100))
    else:
        labels = [feature["label"] for feature in features]
        floats = isinstance(labels[0], (float, list))
        batch["labels"] = torch.tensor(labels, dtype=torch.float32 if floats else torch.int64)
    return batch


def trainer_batch_losses(task: str, model_dir, validation, options) -> tuple[list[float], list[int]]:
    """Each evaluation batch's loss from Transformers' model of the task's class on `model_dir`,
    given the labels, and the batch's rows: the validation file's features (windows of a long
    sentence) in order, BATCH_SIZE a batch, as the Trainer's sequential evaluation sampler
    draws them."""
    model = getattr(transformers, HF_CLASSES[task]).from_pretrained(model_dir).eval()
    tokenizer = transformers.AlbertTokenizer.from_pretrained(model_dir)
    config = model.config
    label_ids = None if config.problem_type == "regression" or task == "multiple-choice" else config.label2id
    features = encode_examples(task, read_task_file(task, validation), tokenizer, option(options, "--max-seq-length"),
                               label_ids, option(options, "--doc-stride"))
    losses, rows = [], []
    for begin in range(0, len(features), BATCH_SIZE):
        chunk = features[begin:begin + BATCH_SIZE]
        with torch.no_grad():
            losses.append(model(**transformers_batch(task, chunk, tokenizer.pad_token_id)).loss.item())
        rows.append(len(chunk))
    return losses, rows


def trainer_eval_loss(losses: list[float], rows: list[int]) -> float:
    """eval_loss as Trainer.evaluation_loop computes it: every batch's loss repeated once per row
    of the batch, and the mean of them all."""
    return float(np.mean(np.repeat(losses, rows)))


@pytest.mark.parametrize("case", CASES)
def test_the_validation_loss_is_transformers_loss_averaged_as_the_trainer_averages_eval_loss(trained, case):
    task, validation, options, out, history, summary, evaluated = trained(case)
    losses, rows = trainer_batch_losses(task, out / "best", validation, options)
    assert rows[-1] < BATCH_SIZE and len(rows) > 1  # a last, smaller batch: its weight matters
    expected = trainer_eval_loss(losses, rows)
    assert [record["epoch"] for record in history] == [1] and summary["best"]["epoch"] == 1  # best/ is epoch 1
    assert history[0]["loss"] == pytest.approx(expected, rel=1e-5, abs=1e-6)
    test_results = json.loads((out / "test_results.json").read_text())
    assert test_results["loss"] == summary["test"]["loss"] == history[0]["loss"]  # best/ on the same file
    validation_results = json.loads((out.parent / "eval" / "validation_results.json").read_text())
    assert validation_results["loss"] == evaluated["validation"]["loss"] == history[0]["loss"]
    assert list(history[0])[-1] == "loss"  # after the scores, which keep their order
    if case == "regression":  # the model's MSE against float32 labels: the mse score, up to their rounding
        assert history[0]["loss"] == pytest.approx(history[0]["mse"], rel=1e-5)
    # The batches' unweighted mean would differ: the last batch is smaller.
    assert abs(float(np.mean(losses)) - expected) > 1e-4


def test_a_token_classifications_loss_is_a_mean_over_each_batchs_tokens_not_over_all_tokens(trained):
    """run_ner.py's loss of a batch is the mean over its labelled tokens (-100 left out), and the
    Trainer weights each batch by its rows (windows): not the mean over every labelled token of
    the file, which is what the batches' token counts would give."""
    task, validation, options, out, history, _, _ = trained("tags, windows")
    model = transformers.AlbertForTokenClassification.from_pretrained(out / "best").eval()
    tokenizer = transformers.AlbertTokenizer.from_pretrained(out / "best")
    features = encode_examples(task, read_task_file(task, validation), tokenizer, 16, model.config.label2id, 8)
    batch = transformers_batch(task, features, tokenizer.pad_token_id)  # every window at once
    with torch.no_grad():
        per_token = model(**batch).loss.item()
    assert abs(per_token - history[0]["loss"]) > 1e-4
    assert len({sum(label != -100 for label in feature["labels"]) for feature in features}) > 1


def test_question_answering_has_no_validation_loss(tmp_path):
    """As run_qa.py, whose evaluation reports no eval_loss: its validation features carry no
    answer positions (a question's windows are scored by the answer text the logits pick)."""
    train, test = write_long_questions(tmp_path)
    options = ["--max-seq-length", "32", "--doc-stride", "8"]
    summary = run_main("--task", "question-answering", "--model", "tinyalbert-mini", "--train", str(train),
                       "--validation", str(test), "--test", str(test), "--out", str(tmp_path / "out"),
                       "--epochs", "1", "--lr", "3e-4", *options)
    history = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert set(history[0]) == {"epoch", "step", "exact_match", "f1"}
    assert set(summary["test"]) == {"exact_match", "f1"}
    assert "loss" not in json.loads((tmp_path / "out" / "test_results.json").read_text())


def test_every_epochs_line_has_its_loss_and_the_best_epoch_is_still_the_best_scored(tmp_path):
    """Two epochs: each line of metrics.jsonl holds its validation loss; the best epoch is the
    one of highest accuracy, whatever the losses (a lower loss picks nothing)."""
    task, write, options = CASES["classes"]
    train, validation = write(tmp_path)
    summary = run_main("--task", task, "--model", "tinyalbert-mini", "--train", str(train), "--validation",
                       str(validation), "--out", str(tmp_path / "out"), "--epochs", "2", "--lr", "3e-4", *options)
    history = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert summary["best"]["loss"] == history[summary["best"]["epoch"] - 1]["loss"]  # the summary carries it too
    assert [sorted(record) for record in history] == [["accuracy", "epoch", "loss", "macro_f1", "step"]] * 2
    assert all(np.isfinite(record["loss"]) and record["loss"] > 0 for record in history)
    state = {"epoch": 0, "best": None, "history": []}
    for metrics in ({"epoch": 1, "step": 4, "accuracy": 0.5, "loss": 0.2},
                    {"epoch": 2, "step": 8, "accuracy": 0.75, "loss": 0.9}):
        finetune_loop.record_epoch(None, metrics, "accuracy", state, None, None, None)
    assert state["best"]["epoch"] == 2


def test_the_curves_draw_the_validation_loss_with_the_training_loss(tmp_path, monkeypatch):
    """On the loss axes, at each epoch's last step; not among the scores. The epochs of a run
    resumed from a checkpoint made before the validation loss was recorded have none."""
    pytest.importorskip("matplotlib")
    from tinyalbert.train import history

    figures = []
    monkeypatch.setattr(history, "save_figure", lambda figure, path: figures.append(figure))
    state = {"losses": [[step, 1.0 / step] for step in range(1, 7)], "history": [
        {"epoch": 1, "step": 2, "accuracy": 0.5, "macro_f1": 0.4},
        {"epoch": 2, "step": 4, "accuracy": 0.6, "macro_f1": 0.5, "loss": 0.7},
        {"epoch": 3, "step": 6, "accuracy": 0.7, "macro_f1": 0.6, "loss": 0.6}]}
    assert finetune_loop.plot_curves(state, "accuracy", tmp_path / "curves.png")
    loss_axes, metric_axes = figures[0].axes
    [validation] = [line for line in loss_axes.get_lines() if line.get_label().startswith("validation loss")]
    assert list(validation.get_xdata()) == [4, 6] and list(validation.get_ydata()) == [0.7, 0.6]
    assert "training loss (each step)" in [line.get_label() for line in loss_axes.get_lines()]
    assert [text.get_text() for text in loss_axes.get_legend().get_texts()][-1] == "validation loss (after each epoch)"
    assert [line.get_label() for line in metric_axes.get_lines()] == ["accuracy (picks the best epoch)", "macro_f1"]
    figures.clear()
    squad = {"losses": [[1, 2.0]], "history": [{"epoch": 1, "step": 1, "exact_match": 40.0, "f1": 50.0}]}
    assert finetune_loop.plot_curves(squad, "f1", tmp_path / "squad.png")
    assert not [line for line in figures[0].axes[0].get_lines() if "validation" in line.get_label()]
