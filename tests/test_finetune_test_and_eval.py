"""`python -m tinyalbert.finetune --test FILE` and `--eval-only`: the best epoch's model scored on
a held-out file after training, and a fine-tuned model scored without training, with their
results and predictions files (OUT/test_results.json, OUT/test_predictions.jsonl, and the
validation_* files of --eval-only), for every task, under mpiexec too, and the mistakes each
refuses with one error line."""
import contextlib
import csv
import io
import json
import shutil
import warnings

import numpy as np
import pytest

import tinyalbert as ta
from test_finetune_cli import finetune_error, write_task_files
from test_finetune_columns import MRPC_LABEL_NAMES, write_glue_pairs
from test_finetune_multilabel import write_toy
from test_finetune_multiple_choice_layouts import swag_fruit_rows, write_swag_csv
from test_finetune_regression import write_scores
from test_finetune_tag_windows import long_sentence
from test_qa_windows import write_long_squad
from tinyalbert import finetune, finetune_loop
from tinyalbert.metrics import normalize_answer

COMMON = ["--model", "tinyalbert-mini", "--batch-size", "4", "--lr", "3e-4", "--quiet"]


# --- the cases: one toy per task and kind of label, its train and test files ------------------------
def reversed_rows(source, path, header: bool):
    """`source` with its records in the other order (a CSV keeps its header first), so that the
    test file's line numbers are not the train file's."""
    lines = source.read_text().splitlines()
    head, rows = (lines[:1], lines[1:]) if header else ([], lines)
    path.write_text("\n".join(head + rows[::-1]) + "\n")
    return path


def csv_rows(path) -> list[tuple[int, dict]]:
    """(line, row) of a CSV file whose cells hold no line breaks: the header is line 1."""
    with open(path, newline="") as handle:
        return [(index + 2, row) for index, row in enumerate(csv.DictReader(handle))]


def jsonl_rows(path) -> list[tuple[int, dict]]:
    return [(index + 1, json.loads(line)) for index, line in enumerate(path.read_text().splitlines())]


def squad_rows(path) -> list[tuple[str, dict]]:
    document = json.loads(path.read_text())
    return [(qa["id"], qa) for article in document["data"] for paragraph in article["paragraphs"]
            for qa in paragraph["qas"]]


def write_classes(directory):
    train = write_task_files(directory)["text-classification"]
    return train, reversed_rows(train, directory / "test.csv", header=True)


def write_glue(directory):
    return write_glue_pairs(directory / "train.csv"), write_glue_pairs(directory / "test.csv", rows=8)


def write_multi_label(directory):
    write_toy(directory / "train.jsonl", 32, seed=0)
    write_toy(directory / "test.jsonl", 12, seed=1)
    return directory / "train.jsonl", directory / "test.jsonl"


def write_regression(directory):
    write_scores(directory / "train.csv", 16, seed=0)
    write_scores(directory / "test.csv", 8, seed=1)
    return directory / "train.csv", directory / "test.csv"


def write_long_tagged(directory):
    """Sentences of 32 words and 33 pieces, longer than a window of 14: each is 5 features, and
    every word must still get one tag. The test file's entities are other names."""
    for name, rows, swap in (("train.jsonl", 6, False), ("test.jsonl", 3, True)):
        records = []
        for row in range(rows):
            words, tags = long_sentence(20 + 4 * row)
            if swap:
                words = ["paris", *words[1:-1], "alice"]
                tags = ["B-LOC", *tags[1:-1], "B-PER"]
            records.append(json.dumps({"tokens": words, "tags": tags}))
        (directory / name).write_text("\n".join(records) + "\n")
    return directory / "train.jsonl", directory / "test.jsonl"


def write_long_questions(directory):
    train = write_long_squad(directory / "train.json", questions=6, words=50)
    return train, write_long_squad(directory / "test.json", questions=3, words=40)


def write_choices(directory):
    train = write_task_files(directory)["multiple-choice"]
    return train, reversed_rows(train, directory / "test.jsonl", header=False)


def write_swag(directory):
    rows = swag_fruit_rows(12)
    return write_swag_csv(directory / "train.csv", rows), write_swag_csv(directory / "test.csv", rows[8:][::-1])


# How each case's test file says what is right: (line or id, the reference in the predictions file's terms).
def references(case, test) -> list:
    if case == "question answering, windows":
        return [(qid, [answer["text"] for answer in qa["answers"]]) for qid, qa in squad_rows(test)]
    if case in ("classes", "regression", "glue pairs, label ids", "multiple choice, swag"):
        rows = csv_rows(test)
    else:
        rows = jsonl_rows(test)
    reference = {
        "classes": lambda row: row["label"],
        "glue pairs, label ids": lambda row: MRPC_LABEL_NAMES[int(row["label"])],
        "multi-label": lambda row: sorted(row["label"]),  # the model's labels are sorted
        "regression": lambda row: float(row["label"]),
        "tags, windows": lambda row: row["tags"],
        "multiple choice": lambda row: row["choices"].index(row["answer"]),
        "multiple choice, swag": lambda row: int(row["label"]),
    }[case]
    return [(line, reference(row)) for line, row in rows]


def recomputed(case, records) -> tuple[str, float]:
    """A metric of the test results, computed here from the predictions file alone."""
    pairs = [(record["prediction"], record["reference"]) for record in records]
    if case == "regression":
        return "mse", float(np.mean([(p - r) ** 2 for p, r in pairs]))
    if case == "tags, windows":
        words = [(p, r) for predicted, reference in pairs for p, r in zip(predicted, reference, strict=True)]
        return "accuracy", float(np.mean([p == r for p, r in words]))
    if case == "question answering, windows":
        return "exact_match", 100 * float(np.mean([any(normalize_answer(p) == normalize_answer(r) for r in refs)
                                                    for p, refs in pairs]))
    if case == "multi-label":
        return "subset_accuracy", float(np.mean([sorted(p) == sorted(r) for p, r in pairs]))
    return "accuracy", float(np.mean([p == r for p, r in pairs]))


# case: (task, writer, the options that read its files and make its features)
CASES = {
    "classes": ("text-classification", write_classes, ["--max-seq-length", "24"]),
    "glue pairs, label ids": ("text-classification", write_glue,
                              ["--max-seq-length", "24", "--text-column", "sentence1", "--text-pair-column",
                               "sentence2", "--label-names", ",".join(MRPC_LABEL_NAMES)]),
    "multi-label": ("text-classification", write_multi_label, ["--max-seq-length", "16"]),
    "regression": ("text-classification", write_regression, ["--max-seq-length", "16"]),
    "tags, windows": ("token-classification", write_long_tagged, ["--max-seq-length", "16", "--doc-stride", "8"]),
    "question answering, windows": ("question-answering", write_long_questions,
                                    ["--max-seq-length", "32", "--doc-stride", "8"]),
    "multiple choice": ("multiple-choice", write_choices, ["--max-seq-length", "24"]),
    "multiple choice, swag": ("multiple-choice", write_swag, ["--max-seq-length", "24", "--layout", "swag"]),
}


def run_main(*arguments) -> tuple[int, dict | None]:
    """finetune.main's exit status and the JSON summary it printed last (None when it failed)."""
    output = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(output):
        warnings.simplefilter("ignore")  # the new head's "newly initialized" warning
        status = finetune.main(list(arguments))
    lines = output.getvalue().strip().splitlines()
    return status, (json.loads(lines[-1]) if status == 0 and lines else None)


def without_epoch(metrics: dict) -> dict:
    return {name: value for name, value in metrics.items() if name not in ("epoch", "step")}


def read_results(out, split) -> tuple[dict, list[dict]]:
    results = json.loads((out / f"{split}_results.json").read_text())
    records = [json.loads(line) for line in (out / f"{split}_predictions.jsonl").read_text().splitlines()]
    return results, records


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each case trained for 2 epochs with --validation and --test the same held-out file, epoch 1
    kept as the best one (so that the model scored must be best/'s, not the last epoch's, which
    stays in memory): (train, test, OUT, summary, history), once per case."""
    root, runs = tmp_path_factory.mktemp("trained"), {}

    def run(case):
        if case not in runs:
            task, write, options = CASES[case]
            directory = root / case.replace(" ", "_").replace(",", "")
            directory.mkdir()
            train, test = write(directory)
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(finetune_loop, "improves", lambda score, best: False)  # epoch 1 stays the best
                status, summary = run_main("--task", task, "--train", str(train), "--validation", str(test),
                                           "--test", str(test), "--out", str(directory / "out"), "--epochs", "2",
                                           *COMMON, *options)
            assert status == 0, case
            history = [json.loads(line) for line in (directory / "out" / "metrics.jsonl").read_text().splitlines()]
            runs[case] = (train, test, directory / "out", summary, history)
        return runs[case]

    return run


# --- --test after training ----------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_the_test_file_is_scored_with_the_best_epochs_model(trained, case):
    """The test file is the validation file here: its scores must be the best epoch's validation
    scores, the same in the summary, in test_results.json and in the progress line's metrics."""
    _, _, out, summary, history = trained(case)
    assert summary["best"]["epoch"] == 1 and [entry["epoch"] for entry in history] == [1, 2]
    results, _ = read_results(out, "test")
    assert summary["test"] == results == without_epoch(history[0])
    assert not (out / "validation_results.json").exists()  # training writes the test file's only


def test_the_best_model_is_scored_even_where_the_last_one_scores_otherwise(trained):
    """The regression's scores are continuous: its two epochs differ, so a test scored with the
    model in memory (epoch 2) would not give epoch 1's scores."""
    _, _, out, summary, history = trained("regression")
    assert without_epoch(history[0]) != without_epoch(history[1])
    assert summary["test"] == without_epoch(history[0])


@pytest.mark.parametrize("case", CASES)
def test_the_predictions_file_has_each_examples_prediction_beside_its_reference(trained, case):
    _, test, out, _, _ = trained(case)
    results, records = read_results(out, "test")
    where = "id" if case == "question answering, windows" else "line"
    expected = references(case, test)
    assert [record[where] for record in records] == [line for line, _ in expected]
    assert [record["reference"] for record in records] == [reference for _, reference in expected]
    assert all(set(record) == {where, "prediction", "reference"} for record in records)
    name, value = recomputed(case, records)
    assert results[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    if case == "tags, windows":  # every word tagged, those past the first window too
        assert [len(record["prediction"]) for record in records] == [len(r["reference"]) for r in records]
        assert {tag for record in records for tag in record["prediction"]} <= {"O", "B-PER", "B-LOC"}
    if case.startswith("multiple choice"):
        assert all(record["prediction"] in range(4) for record in records)


@pytest.mark.parametrize("case", ["classes", "glue pairs, label ids", "multi-label", "regression"])
def test_text_classification_predictions_are_the_pipelines_on_the_saved_model(trained, case):
    """An independent reading of best/: the text-classification pipeline's answers."""
    _, test, out, _, _ = trained(case)
    _, records = read_results(out, "test")
    rows = [row for _, row in (jsonl_rows(test) if case == "multi-label" else csv_rows(test))]
    if case == "glue pairs, label ids":
        inputs = [{"text": row["sentence1"], "text_pair": row["sentence2"]} for row in rows]
    else:
        inputs = [row["text"] for row in rows]
    classify = ta.pipeline("text-classification", model=str(out / "best"))
    if case == "multi-label":
        answers = classify(inputs, top_k=None)
        assert [sorted(a["label"] for a in answer if a["score"] > 0.5) for answer in answers] == \
               [sorted(record["prediction"]) for record in records]
    elif case == "regression":
        answers = classify(inputs)
        assert [record["prediction"] for record in records] == pytest.approx([a["score"] for a in answers], rel=1e-5)
    else:
        assert [answer["label"] for answer in classify(inputs)] == [record["prediction"] for record in records]


def test_a_run_stopped_early_scores_the_test_file_when_it_is_resumed_to_the_end(tmp_path, capsys):
    train, test = write_classes(tmp_path)
    run = ["--task", "text-classification", "--train", str(train), "--validation", str(test), "--out",
           str(tmp_path / "out"), "--epochs", "2", *COMMON, "--max-seq-length", "24"]
    status, summary = run_main(*run, "--test", str(test), "--stop-after", "1")
    assert status == 0 and summary["test"] is None  # the best epoch may still change
    assert not (tmp_path / "out" / "test_results.json").exists()
    status, summary = run_main(*run, "--resume")
    assert status == 0 and "test" not in summary and not (tmp_path / "out" / "test_results.json").exists()
    # Done: resuming with --test trains nothing more and scores best/.
    status, summary = run_main(*run, "--resume", "--test", str(test))
    assert status == 0 and summary["test"] == read_results(tmp_path / "out", "test")[0]
    assert summary["test"] == without_epoch(summary["best"])
    status = finetune.main([*[a for a in run if a != "--quiet"], "--resume", "--test", str(test)])
    stderr = capsys.readouterr().err
    assert status == 0 and f"test: accuracy {summary['test']['accuracy']:.4f}" in stderr, stderr
    assert f"(the model of epoch {summary['best']['epoch']}" in stderr


# --- --eval-only --------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_eval_only_on_the_saved_model_gives_the_best_epochs_scores(trained, tmp_path, case):
    """Without training, best/ on the validation file scores what its epoch scored, and on the test
    file what the run wrote, prediction for prediction."""
    task, _, options = CASES[case]
    _, test, out, _, history = trained(case)
    status, summary = run_main("--task", task, "--model", str(out / "best"), "--eval-only", "--validation",
                               str(test), "--test", str(test), "--out", str(tmp_path / "eval"),
                               *COMMON[2:], *options)
    assert status == 0
    validation, validation_records = read_results(tmp_path / "eval", "validation")
    test_results, _ = read_results(tmp_path / "eval", "test")
    assert summary["validation"] == validation == without_epoch(history[0])
    assert summary["test"] == test_results == json.loads((out / "test_results.json").read_text())
    assert (tmp_path / "eval" / "test_predictions.jsonl").read_text() == (out / "test_predictions.jsonl").read_text()
    assert validation_records == read_results(out, "test")[1]
    assert set(summary) == {"validation", "test", "seconds"}
    assert sorted(path.name for path in (tmp_path / "eval").iterdir()) == [
        "test_predictions.jsonl", "test_results.json", "validation_predictions.jsonl", "validation_results.json"]


def test_eval_only_of_one_file_writes_that_files_results_next_to_the_run(trained, capsys):
    """--out may be the run's own folder: only the results files are written there."""
    _, test, out, _, history = trained("multi-label")
    before = sorted(path.name for path in out.iterdir())
    status = finetune.main(["--task", "text-classification", "--model", str(out / "best"), "--eval-only",
                            "--validation", str(test), "--out", str(out), "--batch-size", "4",
                            "--max-seq-length", "16"])
    captured = capsys.readouterr()
    assert status == 0
    assert json.loads(captured.out.splitlines()[-1])["validation"] == without_epoch(history[0])
    assert "validation: micro_f1 " in captured.err
    assert sorted(path.name for path in out.iterdir()) == sorted(
        before + ["validation_predictions.jsonl", "validation_results.json"])


def saved_without_architectures(source, destination):
    """A copy of a model whose config.json does not say which class saved it."""
    shutil.copytree(source, destination)
    config = json.loads((destination / "config.json").read_text())
    del config["architectures"]
    (destination / "config.json").write_text(json.dumps(config))
    return destination


@pytest.fixture
def models(trained, tmp_path):
    """The fine-tuned models the mistakes use, and a pretrained one without architectures."""
    pretrained = tmp_path / "pretrained"
    ta.AlbertForPreTraining.from_pretrained("tinyalbert-mini").save_pretrained(pretrained)
    ta.AlbertTokenizer.from_pretrained("tinyalbert-mini").save_pretrained(pretrained)
    return {"classes": trained("classes")[2] / "best", "glue": trained("glue pairs, label ids")[2] / "best",
            "tags": trained("tags, windows")[2] / "best",
            "pretrained without architectures": saved_without_architectures(pretrained, tmp_path / "bare")}


# case: (model, options beside --task text-classification --eval-only --out, what the error line must say)
EVAL_ONLY_MISTAKES = {
    "with --train": ("classes", ["--train", "{test}", "--validation", "{test}"],
                     ["--eval-only evaluates --model as it is, without training: --train is not read"]),
    "with --resume": ("classes", ["--validation", "{test}", "--resume"], ["--resume continues a training run"]),
    "with --ignore-mismatched-sizes": ("classes", ["--validation", "{test}", "--ignore-mismatched-sizes"],
                                       ["new, untrained classifier"]),
    "with --stop-after": ("classes", ["--validation", "{test}", "--stop-after", "1"], ["--stop-after counts epochs"]),
    "no file to evaluate": ("classes", [], ["--eval-only needs a --validation or a --test file"]),
    "a pretrained model": ("tinyalbert-mini", ["--test", "{test}"],
                           ["--model tinyalbert-mini is an AlbertForPreTraining", "not the "
                            "AlbertForSequenceClassification that --task text-classification evaluates",
                            "fine-tune it for the task first"]),
    "a model of another task": ("tags", ["--test", "{test}"], ["is an AlbertForTokenClassification"]),
    "a model without the head": ("pretrained without architectures", ["--test", "{test}"],
                                 ["has no trained AlbertForSequenceClassification head", "classifier.weight"]),
    "a label the model does not know": ("classes", ["--validation", "{unknown}"],
                                        ["unknown.csv, line 3: label(s) ['plant'] do not occur in the id2label of "
                                         "--model", "(its labels: ['animal', 'fruit'])"]),
    "another problem type": ("classes", ["--test", "{test}", "--problem-type", "multi_label_classification"],
                             ["--problem-type multi_label_classification, but --model",
                              "fine-tuned as a single_label_classification"]),
    "label names not the model's": ("glue", ["--test", "{glue}", "--text-column", "sentence1", "--label-names",
                                             "equivalent,not_equivalent"],
                                    ["label_names equivalent,not_equivalent are not the labels of --model",
                                     "(not_equivalent,equivalent, its config.json id2label in order)"]),
    "label ids without their names": ("glue", ["--test", "{glue}", "--text-column", "sentence1"],
                                      ["glue.csv, line 2: label(s) ['", "do not occur in the id2label"]),
    "more positions than the model's": ("classes", ["--test", "{test}", "--max-seq-length", "129"],
                                        ["128 positions", "--max-seq-length 128 or less"]),
}


@pytest.mark.parametrize("case", EVAL_ONLY_MISTAKES)
def test_eval_only_mistakes_are_one_error_line(models, tmp_path, capsys, case):
    model, options, expected = EVAL_ONLY_MISTAKES[case]
    test = tmp_path / "test.csv"
    test.write_text("text,label\napple cherry,fruit\ndog cat,animal\n")
    (tmp_path / "unknown.csv").write_text("text,label\napple cherry,fruit\noak elm,plant\n")
    write_glue_pairs(tmp_path / "glue.csv", rows=4)
    files = {"test": test, "unknown": tmp_path / "unknown.csv", "glue": tmp_path / "glue.csv"}
    options = [option.format(**files) for option in options]
    line = finetune_error(capsys, "--task", "text-classification", "--model", str(models.get(model, model)),
                          "--eval-only", "--out", str(tmp_path / "eval"), "--quiet", *options)
    for part in expected:
        assert part in line, line
    assert not (tmp_path / "eval").exists()  # refused before anything is written


# case: (what is changed in a good run, what the error line must say)
TEST_FILE_MISTAKES = {
    "no --train without --eval-only": (lambda run, files: run[:4] + run[6:],  # --train and its file left out
                                       ["the following arguments are required: --train (or --eval-only"]),
    "a test label the train file lacks": (lambda run, files: [*run, "--test", str(files["unknown"])],
                                          ["unknown.csv, line 3: label(s) ['plant'] do not occur in",
                                           "train.csv (its labels: ['animal', 'fruit'])"]),
    "a test file without the label column": (lambda run, files: [*run, "--test", str(files["no label"])],
                                             ["nolabel.csv, line 2: missing column 'label'"]),
    "a test file that is not there": (lambda run, files: [*run, "--test", str(files["train"].parent / "absent.csv")],
                                      ["no such file: ", "absent.csv"]),
}


@pytest.mark.parametrize("case", TEST_FILE_MISTAKES)
def test_a_bad_test_file_is_refused_before_training(tmp_path, capsys, case):
    train = tmp_path / "train.csv"
    train.write_text("text,label\napple cherry,fruit\ndog cat,animal\n")
    (tmp_path / "unknown.csv").write_text("text,label\napple cherry,fruit\noak elm,plant\n")
    (tmp_path / "nolabel.csv").write_text("text,category\napple cherry,fruit\n")
    files = {"train": train, "unknown": tmp_path / "unknown.csv", "no label": tmp_path / "nolabel.csv"}
    change, expected = TEST_FILE_MISTAKES[case]
    run = ["--task", "text-classification", "--model", "tinyalbert-mini", "--train", str(train), "--validation",
           str(train), "--out", str(tmp_path / "out"), "--quiet"]
    line = finetune_error(capsys, *change(run, files))
    for part in expected:
        assert part in line, line
    assert not (tmp_path / "out").exists()  # no epoch was trained


def test_a_constant_regression_test_file_is_refused(tmp_path, capsys):
    train, _ = write_regression(tmp_path)
    test = tmp_path / "constant.csv"
    test.write_text("text,label\napple dog,1.5\ncat cherry,1.5\n")
    line = finetune_error(capsys, "--task", "text-classification", "--model", "tinyalbert-mini", "--train",
                          str(train), "--validation", str(train), "--test", str(test), "--out", str(tmp_path / "out"),
                          "--max-seq-length", "16", "--quiet")
    assert "the test file" in line and "constant.csv has only 1 distinct label value (1.5)" in line, line


def test_finetune_arguments_check_the_files_of_each_mode():
    from tinyalbert.finetune_args import FinetuneArguments

    given = dict(task="text-classification", model="m", train="t.csv", validation="v.csv", out="o")
    with pytest.raises(ValueError, match="--validation is needed to fine-tune"):
        FinetuneArguments(**{**given, "validation": None})
    args = FinetuneArguments(**{**given, "train": None, "validation": None, "test": "x.csv", "eval_only": True})
    assert args.test == "x.csv" and args.eval_only


# --- under mpiexec ----------------------------------------------------------------------------------
def test_test_and_eval_only_under_mpiexec_score_as_one_process_and_write_once(trained, tmp_path):
    """Every process evaluates the whole file (as it does the validation file), the first writes."""
    from test_distributed import needs_mpi, run_command

    needs_mpi()
    task, _, options = CASES["tags, windows"]
    train, test, out, _, _ = trained("tags, windows")
    common = ["--task", task, *COMMON[2:], *options]
    evaluated = run_command("tinyalbert.finetune", [*common, "--model", str(out / "best"), "--eval-only",
                                                    "--test", str(test), "--out", str(tmp_path / "eval")], ranks=2)
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.stdout.count('"test"') == 1, evaluated.stdout
    (results, records), (run_results, run_records) = read_results(tmp_path / "eval", "test"), read_results(out, "test")
    assert records == run_records
    # The loss is a float32 sum: a process of mpiexec, with BLAS threads of its own, rounds it otherwise.
    assert results == pytest.approx(run_results, rel=1e-6, abs=0)
    trained_twice = run_command("tinyalbert.finetune", [*common, "--model", "tinyalbert-mini", "--train", str(train),
                                                        "--validation", str(test), "--test", str(test), "--epochs",
                                                        "1", "--out", str(tmp_path / "run")], ranks=2)
    assert trained_twice.returncode == 0, trained_twice.stderr
    summary = json.loads(trained_twice.stdout.strip().splitlines()[-1])
    assert trained_twice.stdout.count('"best"') == 1
    results, records = read_results(tmp_path / "run", "test")
    assert summary["test"] == results == without_epoch(summary["best"])
    assert len(records) == 3


def test_eval_only_names_what_made_the_problem_type_of_a_model_that_records_none(tmp_path, capsys):
    """A model saved without problem_type takes it from --problem-type (or a guess): an error
    about a label of the other kind names that, not the config.json, which says nothing."""
    model = ta.AlbertForSequenceClassification.from_pretrained("tinyalbert-mini", num_labels=2)
    model.save_pretrained(tmp_path / "model")
    ta.AlbertTokenizer.from_pretrained("tinyalbert-mini").save_pretrained(tmp_path / "model")
    config_file = tmp_path / "model" / "config.json"
    config = json.loads(config_file.read_text())
    config.pop("problem_type", None)
    config_file.write_text(json.dumps(config))
    (tmp_path / "single.csv").write_text("text,label\na b,LABEL_0\nc d,LABEL_1\n")
    line = finetune_error(capsys, "--task", "text-classification", "--model", str(tmp_path / "model"), "--eval-only",
                          "--validation", str(tmp_path / "single.csv"), "--out", str(tmp_path / "out"),
                          "--problem-type", "multi_label_classification")
    assert "--problem-type is multi_label_classification" in line and "config.json" not in line


def test_eval_only_says_once_that_training_settings_are_ignored():
    """A run's own command line with --eval-only added still works; what it sets for training is
    named as ignored, once."""
    from tinyalbert.finetune_args import FinetuneArguments

    given = dict(task="text-classification", model="m", train=None, validation="v.csv", out="o", eval_only=True)
    with pytest.warns(UserWarning, match="--eval-only trains nothing: --epochs, --lr are ignored"):
        FinetuneArguments(**given, epochs=5, lr=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FinetuneArguments(**given)  # the defaults: nothing to say


def test_the_command_line_says_each_warning_on_one_line(tmp_path):
    """`python -m tinyalbert.finetune` shows warnings as its errors are shown, `warning: ...`, not
    as Python's file, line and source (`<string>:35: UserWarning` for a dataclass's)."""
    import subprocess
    import sys

    train = tmp_path / "classes.csv"
    train.write_text("text,label\napple fig,fruit\ndog cat,animal\n")
    done = subprocess.run([sys.executable, "-m", "tinyalbert.finetune", "--task", "text-classification",
                           "--model", "tinyalbert-mini", "--eval-only", "--validation", str(train), "--out",
                           str(tmp_path / "out"), "--lr", "3e-4"], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert "warning: --eval-only trains nothing: --lr is ignored" in done.stderr, done.stderr
    assert "UserWarning" not in done.stderr


def eval_only_warnings(trained, tmp_path, case, *options) -> list[str]:
    """What --eval-only of the case's best/ with these feature options warns of the run's own."""
    task, _, _ = CASES[case]
    _, test, out, _, _ = trained(case)
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        status = finetune.main(["--task", task, "--model", str(out / "best"), "--eval-only", "--validation",
                                str(test), "--out", str(tmp_path / "eval"), *COMMON[2:], *options])
    assert status == 0
    return [str(warning.message) for warning in caught if "the run that made" in str(warning.message)]


def test_eval_only_warns_when_a_runs_features_are_not_remade(trained, tmp_path):
    """A run's best/ scored with another --max-seq-length or --doc-stride than its state.json
    records scores other features, so other metrics than the run's: each is named with the
    run's value. Its own options, or another model than a run's best/, warn of nothing."""
    case = "tags, windows"  # made with --max-seq-length 16 --doc-stride 8
    assert eval_only_warnings(trained, tmp_path / "same", case, "--max-seq-length", "16", "--doc-stride", "8") == []
    said = eval_only_warnings(trained, tmp_path / "other", case, "--max-seq-length", "20", "--doc-stride", "6")
    assert len(said) == 2 and "pass --max-seq-length 16 to score as the run did" in said[0], said
    assert "--doc-stride 6, but the run" in said[1] and "pass --doc-stride 8" in said[1], said
    # Text classification has no stride: only --max-seq-length is compared.
    said = eval_only_warnings(trained, tmp_path / "classes", "classes", "--doc-stride", "5")
    assert len(said) == 1 and said[0].startswith("--max-seq-length 128, but the run"), said
    _, _, out, _, _ = trained("classes")
    copy = tmp_path / "copied" / "model"  # not a run's best/: nothing records its features
    shutil.copytree(out / "best", copy)
    task, _, _ = CASES["classes"]
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        assert finetune.main(["--task", task, "--model", str(copy), "--eval-only", "--validation",
                              str(trained("classes")[1]), "--out", str(tmp_path / "copy-eval"), *COMMON[2:]]) == 0
    assert not [w for w in caught if "the run that made" in str(w.message)]
