"""`python -m tinyalbert.finetune` on tiny files of every task, with the bundled tinyalbert-mini;
its metrics, resuming, Transformers loading the saved model, and the one-line errors."""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinyalbert as ta
from tinyalbert import finetune
from tinyalbert.finetune_loop import uses_bio_tags
from tinyalbert.metrics import bio_entities, entity_scores, macro_f1, normalize_answer, squad_f1, squad_scores

REPO_ROOT = Path(__file__).resolve().parents[1]
FRUITS, ANIMALS = ["apple", "banana", "cherry"], ["dog", "cat", "horse"]


def write_task_files(directory: Path) -> dict:
    """One small file per task, whose labels follow from the words (so the tasks can be learnt)."""
    rng = np.random.default_rng(0)
    files = {}
    with open(directory / "topics.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for _ in range(24):
            label = str(rng.choice(["fruit", "animal"]))
            writer.writerow([" ".join(rng.choice(FRUITS if label == "fruit" else ANIMALS, size=4)), label])
    files["text-classification"] = directory / "topics.csv"
    with open(directory / "tags.jsonl", "w") as handle:
        for _ in range(16):
            tokens = [str(word) for word in rng.choice(FRUITS + ANIMALS, size=5)]
            handle.write(json.dumps({"tokens": tokens, "tags": ["B-FRUIT" if t in FRUITS else "O" for t in tokens]}) + "\n")
    files["token-classification"] = directory / "tags.jsonl"
    with open(directory / "choices.jsonl", "w") as handle:
        for _ in range(12):
            choices = [str(rng.choice(FRUITS)), str(rng.choice(ANIMALS))]
            handle.write(json.dumps({"question": "which one is a fruit?", "choices": choices, "answer": choices[0]}) + "\n")
    files["multiple-choice"] = directory / "choices.jsonl"
    context = "The red apple fell from the tall tree near the old house."
    qas = [{"id": str(i), "question": "What fell?", "answers": [{"text": "red apple", "answer_start": 4}]}
           for i in range(6)]
    (directory / "squad.json").write_text(json.dumps({"data": [{"paragraphs": [{"context": context, "qas": qas}]}]}))
    files["question-answering"] = directory / "squad.json"
    return files


def run_finetune(task, train, out, *extra):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the new head's "newly initialized" warning
        return finetune.main(["--task", task, "--model", "tinyalbert-mini", "--train", str(train),
                              "--validation", str(train), "--out", str(out), "--batch-size", "4",
                              "--max-seq-length", "24", "--lr", "3e-4", "--quiet", *extra])


@pytest.mark.parametrize("task, metric", [("text-classification", "macro_f1"), ("token-classification", "f1"),
                                          ("question-answering", "exact_match"), ("multiple-choice", "accuracy")])
def test_every_task_trains_and_reports_its_metrics(tmp_path, task, metric):
    files = write_task_files(tmp_path)
    assert run_finetune(task, files[task], tmp_path / "out", "--epochs", "2") == 0
    history = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [entry["epoch"] for entry in history] == [1, 2]
    assert metric in history[0]
    assert (tmp_path / "out" / "best" / "model.safetensors").is_file()
    assert (tmp_path / "out" / "best" / "spiece.model").is_file()


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    train = write_task_files(tmp_path)["text-classification"]
    assert run_finetune("text-classification", train, tmp_path / "straight", "--epochs", "2") == 0
    assert run_finetune("text-classification", train, tmp_path / "resumed", "--epochs", "2", "--stop-after", "1") == 0
    assert not (tmp_path / "resumed" / "checkpoint" / "state.json").read_text().count('"epoch": 2')
    assert run_finetune("text-classification", train, tmp_path / "resumed", "--epochs", "2", "--resume") == 0
    straight = ta.AlbertForSequenceClassification.from_pretrained(tmp_path / "straight" / "checkpoint")
    resumed = ta.AlbertForSequenceClassification.from_pretrained(tmp_path / "resumed" / "checkpoint")
    for name, value in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name], value, err_msg=name)
    # The loss curve goes on where it stopped: every step's loss, the same as without a stop.
    losses = [json.loads((tmp_path / run / "checkpoint" / "state.json").read_text())["losses"]
              for run in ("straight", "resumed")]
    assert losses[0] == losses[1] and [step for step, _ in losses[0]] == list(range(1, 13))


def test_the_curves_show_each_steps_loss_and_each_epochs_metrics(tmp_path, monkeypatch):
    from tinyalbert import finetune_loop

    drawn = []
    original = finetune_loop.plot_curves
    monkeypatch.setattr(finetune_loop, "plot_curves", lambda state, best_by, path: drawn.append(
        (len(state["losses"]), [r["epoch"] for r in state["history"]], best_by)) or original(state, best_by, path))
    train = write_task_files(tmp_path)["text-classification"]
    assert run_finetune("text-classification", train, tmp_path / "out", "--epochs", "2") == 0
    assert drawn == [(6, [1], "accuracy"), (12, [1, 2], "accuracy")]  # redrawn after each epoch
    assert (tmp_path / "out" / "curves.png").read_bytes().startswith(b"\x89PNG")
    state = {"losses": [], "history": [{"epoch": 1, "step": 0, "f1": 50.0, "exact_match": 40.0}]}
    assert finetune_loop.plot_curves(state, "f1", tmp_path / "squad.png")  # no step trained: metrics alone


def test_a_save_interrupted_between_its_renames_still_resumes(tmp_path):
    """A save puts the old checkpoint aside as checkpoint.old, then renames the new one into
    place; stopped in between, only checkpoint.old is whole, and --resume continues from it.
    A leftover checkpoint.old (a save stopped while removing it) does not block later saves."""
    train = write_task_files(tmp_path)["text-classification"]
    assert run_finetune("text-classification", train, tmp_path / "straight", "--epochs", "2") == 0
    out = tmp_path / "interrupted"
    assert run_finetune("text-classification", train, out, "--epochs", "2", "--stop-after", "1") == 0
    (out / "checkpoint").rename(out / "checkpoint.old")  # as if stopped after the first rename
    assert run_finetune("text-classification", train, out, "--epochs", "2", "--resume") == 0
    assert not (out / "checkpoint.old").exists()
    straight = ta.AlbertForSequenceClassification.from_pretrained(tmp_path / "straight" / "checkpoint")
    resumed = ta.AlbertForSequenceClassification.from_pretrained(out / "checkpoint")
    for name, value in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name], value, err_msg=name)
    again = tmp_path / "leftover"
    assert run_finetune("text-classification", train, again, "--epochs", "2", "--stop-after", "1") == 0
    (again / "checkpoint.old").mkdir()
    (again / "checkpoint.old" / "half-removed.bin").write_bytes(b"x")
    assert run_finetune("text-classification", train, again, "--epochs", "2", "--resume") == 0
    assert '"epoch": 2' in (again / "checkpoint" / "state.json").read_text()


@pytest.mark.reference
def test_saved_model_loads_in_transformers_with_its_labels(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    train = write_task_files(tmp_path)["text-classification"]
    assert run_finetune("text-classification", train, tmp_path / "out", "--epochs", "1") == 0
    reference = transformers.AlbertForSequenceClassification.from_pretrained(tmp_path / "out" / "best").eval()
    assert reference.config.id2label == {0: "animal", 1: "fruit"}
    ours = ta.AlbertForSequenceClassification.from_pretrained(tmp_path / "out" / "best")
    ids = np.array([[2, 40, 41, 42, 3]])
    with torch.no_grad():
        expected = reference(input_ids=torch.tensor(ids)).logits.numpy()
    np.testing.assert_allclose(np.asarray(ours(input_ids=ids).logits), expected, rtol=1e-4, atol=1e-5)


def _cli(*arguments):
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "tinyalbert.finetune", *arguments], cwd=REPO_ROOT,
                          capture_output=True, text=True, env=environment)


@pytest.mark.parametrize("case, expected", [
    ("missing", "no such file"),
    ("no_label", "missing column 'label' (the record has columns text, category): pass --label-column"),
    ("bad_json", "line 2: not valid JSON"),
    ("bad_lr", "--lr"),
])
def test_mistakes_end_with_one_error_line_and_status_2(tmp_path, case, expected):
    good = tmp_path / "good.csv"
    good.write_text("text,label\na b,x\nc d,y\n")
    train, task, extra = good, "text-classification", []
    if case == "missing":
        train = tmp_path / "absent.csv"
    elif case == "no_label":
        train = tmp_path / "nolabel.csv"
        train.write_text("text,category\na b,x\n")
    elif case == "bad_json":
        train = tmp_path / "broken.jsonl"
        train.write_text('{"tokens": ["a"], "tags": ["O"]}\n{"tokens": [\n')
        task = "token-classification"
    else:
        extra = ["--lr", "fast"]
    result = _cli("--task", task, "--model", "tinyalbert-mini", "--train", str(train), "--validation", str(good),
                  "--out", str(tmp_path / "out"), *extra)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


# --- the metrics, on cases worked out by hand ------------------------------------------------------
def test_squad_normalization_and_scores():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("an apple a day") == "apple day"
    assert squad_f1("the red apple", "apple pie") == pytest.approx(2 * 0.5 * 0.5 / 1.0)  # 1 common of 2 and 2
    scores = squad_scores({"q1": "Red apple", "q2": "tree"}, {"q1": ["a red apple", "apple"], "q2": ["the house"]})
    assert scores == {"exact_match": 50.0, "f1": 50.0}


def test_bio_entities_read_as_seqeval_does():
    assert bio_entities(["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC"]) == {
        ("PER", 0, 1), ("LOC", 3, 4), ("LOC", 5, 5)}
    assert bio_entities(["B-PER", "I-LOC"]) == {("PER", 0, 0), ("LOC", 1, 1)}


def test_bioes_entities_and_untyped_tags_read_as_seqeval_does():
    """E- and S- tags were read as O: a BIOES file scored entity F1 0 for perfect predictions,
    and that score picked the best epoch. (Expected values: seqeval 1.2.2's get_entities.)"""
    assert bio_entities(["B-PER", "E-PER"]) == {("PER", 0, 1)}
    assert bio_entities(["S-LOC"]) == {("LOC", 0, 0)}
    assert bio_entities(["B-PER", "I-PER", "E-PER", "S-LOC", "E-LOC", "I-LOC", "O", "E-ORG"]) == {
        ("PER", 0, 2), ("LOC", 3, 3), ("LOC", 4, 4), ("LOC", 5, 5), ("ORG", 7, 7)}
    assert bio_entities(["B", "I", "O", "B-"]) == {("_", 0, 1), ("_", 3, 3)}
    assert entity_scores([["B-PER", "I-PER"]], [["B-PER", "E-PER"]])["f1"] == 1.0
    assert uses_bio_tags(["S-PER", "O"]) and not uses_bio_tags(["NOUN", "VERB"])


def test_scores_refuse_lists_of_other_lengths():
    """They cut the longer list silently (sklearn and seqeval raise; accuracy here did already)."""
    with pytest.raises(ValueError, match="need as many predictions as references"):
        macro_f1(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="need as many predicted sequences"):
        entity_scores([["B-X"], ["B-X"]], [["B-X"]])
    with pytest.raises(ValueError, match="a sequence of 2 predicted tags against 1"):
        entity_scores([["B-X", "O"]], [["B-X"]])
    scores = entity_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-ORG"]])
    assert scores["precision"] == 0.5 and scores["recall"] == 0.5 and scores["f1"] == 0.5


def test_macro_f1_averages_classes_equally():
    # class a: P=1, R=0.5 -> 2/3; class b: P=2/3, R=1 -> 0.8
    assert macro_f1(["a", "b", "b", "b"], ["a", "a", "b", "b"]) == pytest.approx((2 / 3 + 0.8) / 2)


def test_predict_runs_the_fine_tuned_model(tmp_path):
    train = write_task_files(tmp_path)["text-classification"]
    assert run_finetune("text-classification", train, tmp_path / "out", "--epochs", "1") == 0
    best = tmp_path / "out" / "best"
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-m", "tinyalbert.predict", "--task", "text-classification",
                             "--model", str(best), "apple cherry", "dog horse"],
                            cwd=REPO_ROOT, capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    expected = ta.pipeline("text-classification", model=str(best))(["apple cherry", "dog horse"])
    assert [line["predictions"][0]["label"] for line in lines] == [item["label"] for item in expected]
    assert lines[0]["predictions"][0]["score"] == pytest.approx(expected[0]["score"])


def test_progress_into_a_file_is_whole_lines_a_few_an_epoch(tmp_path, capsys):
    train = write_task_files(tmp_path)["text-classification"]  # 24 examples: 24 steps of 1 an epoch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        status = finetune.main(["--task", "text-classification", "--model", "tinyalbert-mini", "--train", str(train),
                                "--validation", str(train), "--out", str(tmp_path / "out"), "--batch-size", "1",
                                "--max-seq-length", "24", "--epochs", "2"])
    assert status == 0
    stderr = capsys.readouterr().err
    assert "\r" not in stderr
    steps = [line for line in stderr.splitlines() if line.startswith("step ")]
    # Every 24 // 10 = 2 steps: 12 lines an epoch, the last at the epoch's end.
    assert [int(line.split()[1].split("/")[0]) for line in steps] == list(range(2, 49, 2))
    assert steps[-1].startswith("step 48/48 ") and "loss " in steps[-1] and "lr " in steps[-1]
    assert [line.split(":")[0] for line in stderr.splitlines() if line.startswith("epoch ")] == ["epoch 1/2", "epoch 2/2"]


# --- bad input: refused up front with one error line that says what to change ----------------------
def finetune_error(capsys, *arguments) -> str:
    """The one `error:` line of a run that must stop with status 2 (an exception would fail the test)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        status = finetune.main(list(arguments))
    stderr = capsys.readouterr().err
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert status == 2 and len(lines) == 1, stderr
    return lines[0]


def cupy_works() -> bool:
    from tinyalbert.backend import get_backend

    try:
        get_backend("cupy")
    except RuntimeError:
        return False
    return True


CHOICE = '{"question": "which one is a fruit?", "choices": %s, "answer": %s}\n'
# case: (task, train file text or None for a good one, options, what the error line must say)
BAD_INPUTS = {
    "one label": ("text-classification", "text,label\na b,pos\nc d,pos\n", [],
                  ["only 1 distinct label ('pos')", "at least 2"]),
    "record without tokens": ("token-classification",
                              '{"tokens": ["apple"], "tags": ["O"]}\n{"tokens": [], "tags": []}\n', [],
                              ["train.jsonl, line 2", "no tokens"]),
    "no room for a piece": ("text-classification", None, ["--max-seq-length", "2"], ["--max-seq-length 3 or more"]),
    "more than the model's positions": ("text-classification", None, ["--max-seq-length", "129"],
                                        ["128 positions", "--max-seq-length 128 or less"]),
    "question leaves no room": ("multiple-choice", CHOICE % ('["apple", "dog"]', 0), ["--max-seq-length", "6"],
                                ["line 1", "raise --max-seq-length to"]),
    "ragged choices": ("multiple-choice", CHOICE % ('["apple", "dog"]', 0) + CHOICE % ('["cat", "fig", "ox"]', 1), [],
                       ["train.jsonl, line 2", "3 choices, but line 1 has 2"]),
    "fractional answer": ("multiple-choice", CHOICE % ('["apple", "dog"]', 0.9), [], ["line 1", "an integer", "0.9"]),
    "answer index past the choices": ("multiple-choice", CHOICE % ('["apple", "dog"]', 2), [],
                                      ["line 1", "answer 2", "0 to 1"]),
    "digits that are no choice": ("multiple-choice", CHOICE % ('["1", "2"]', '"0"'), [],
                                  ["line 1", "not one of the choices", "a JSON integer: 0"]),
    "comma in an unquoted text": ("text-classification", "text,label\nhello, world,pos\nbye,neg\n", [],
                                  ["train.csv, line 2", "3 cells but the header has 2", "double quotes"]),
    "row short of a cell": ("text-classification", "text,label\nhello\nbye,neg\n", [],
                            ["train.csv, line 2", "1 cell but the header has 2"]),
    "a column named twice": ("text-classification", "text,label,label\na,x,y\nb,y,x\n", [],
                             ["train.csv", "'label' more than once"]),
    "a column with no name": ("text-classification", "text,,label\napple,a,fruit\ndog,b,animal\n", [],
                              ["train.csv", "column 2 of the header has no name"]),
    "not UTF-8": ("text-classification", "text,label\na,x\ncaf\xe9,y\n".encode("latin1"), [],
                  ["train.csv is not UTF-8", "byte 0xe9 on line 3"]),
    "boolean answer": ("multiple-choice", CHOICE % ('["dog", "apple"]', "true"), [], ["line 1", "an integer", "true"]),
    "out is a file": ("text-classification", None, ["--out", "{tmp}/afile"], ["--out", "afile is a file"]),
    "out below a file": ("text-classification", None, ["--out", "{tmp}/afile/sub"], ["--out", "afile is a file"]),
    "negative seed": ("text-classification", None, ["--seed", "-5"], ["--seed", ">= 0"]),
    "zero learning rate": ("text-classification", None, ["--lr", "0"], ["--lr", "> 0"]),
    "cupy without cupy": ("text-classification", None, ["--backend", "cupy"],
                          ["--backend cupy needs CuPy", "--backend numpy"]),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_refused_with_what_to_change(tmp_path, capsys, case):
    task, text, options, expected = BAD_INPUTS[case]
    if case == "cupy without cupy" and cupy_works():
        pytest.skip("CuPy and a GPU are here")
    train = tmp_path / ("train.csv" if task == "text-classification" else "train.jsonl")
    if text is None:
        train = write_task_files(tmp_path)[task]
    elif isinstance(text, bytes):
        train.write_bytes(text)
    else:
        train.write_text(text)
    (tmp_path / "afile").write_text("x")
    options = [option.format(tmp=tmp_path) for option in options]
    line = finetune_error(capsys, "--task", task, "--model", "tinyalbert-mini", "--train", str(train),
                          "--validation", str(train), "--out", str(tmp_path / "out"), "--max-seq-length", "24",
                          "--quiet", *options)
    for part in expected:
        assert part in line, line


def test_a_csv_with_a_byte_order_mark_reads_like_one_without(tmp_path):
    from tinyalbert.task_data import read_task_file

    (tmp_path / "excel.csv").write_bytes("text,label\napple cherry,fruit\n".encode("utf-8-sig"))
    assert read_task_file("text-classification", tmp_path / "excel.csv")[0]["text"] == "apple cherry"


def test_a_spreadsheets_empty_trailing_columns_are_left_out(tmp_path):
    from tinyalbert.task_data import read_task_file

    (tmp_path / "export.csv").write_text("text,label,,\napple fig,fruit,,\ndog cat,animal,\n\"a, b\",x\n")
    examples = read_task_file("text-classification", tmp_path / "export.csv")
    assert [(e["text"], e["label"]) for e in examples] == [("apple fig", "fruit"), ("dog cat", "animal"), ("a, b", "x")]


@pytest.mark.parametrize("label, message", [
    # (a list is a multi-label example, test_finetune_multilabel.py; a number such as 0.5 a
    # regression's label, test_finetune_regression.py)
    ("NaN", "got NaN"),
    ("Infinity", "got Infinity"),
    ("true", "got true"),
    ('{"name": "x"}', 'got {"name": "x"}'),
])
def test_a_label_that_is_not_a_class_is_refused_not_made_a_class(tmp_path, label, message):
    from tinyalbert.task_data import read_task_file

    (tmp_path / "labels.jsonl").write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": %s}\n' % label)
    with pytest.raises(ValueError, match=r"labels.jsonl, line 2: label must be a class name or number") as caught:
        read_task_file("text-classification", tmp_path / "labels.jsonl")
    assert message in str(caught.value) and "a list of class names" in str(caught.value)
    (tmp_path / "numbers.jsonl").write_text('{"text": "a", "label": 0}\n{"text": "b", "label": 1}\n')
    assert [e["label"] for e in read_task_file("text-classification", tmp_path / "numbers.jsonl")] == ["0", "1"]


@pytest.mark.parametrize("field, value, message", [
    ("text", '["a", "b"]', "field 'text' must be a text"),
    ("text_pair", "3", "field 'text_pair' must be a text"),
    ("text", "null", "field 'text' is null"),
])
def test_texts_must_be_strings(tmp_path, field, value, message):
    from tinyalbert.task_data import read_task_file

    record = {"text": '"a"', "label": '"x"', field: value}
    (tmp_path / "t.jsonl").write_text("{" + ", ".join(f'"{k}": {v}' for k, v in record.items()) + "}\n")
    with pytest.raises(ValueError, match=rf"t.jsonl, line 1: {message}"):
        read_task_file("text-classification", tmp_path / "t.jsonl")


def test_a_multiple_choice_answer_string_is_the_text_of_a_choice(tmp_path):
    from tinyalbert.task_data import read_task_file

    lines = [CHOICE % ('["1", "2", "4"]', '"2"'), CHOICE % ('["1", "2", "4"]', 2), CHOICE % ('["3", "7", "1"]', '"3"')]
    (tmp_path / "digits.jsonl").write_text("".join(lines))
    examples = read_task_file("multiple-choice", tmp_path / "digits.jsonl")
    assert [e["choices"][e["label"]] for e in examples] == ["2", "4", "3"]
    (tmp_path / "twice.jsonl").write_text(CHOICE % ('["fig", "fig"]', '"fig"'))
    with pytest.raises(ValueError, match="more than one of the choices"):
        read_task_file("multiple-choice", tmp_path / "twice.jsonl")


def _squad(tmp_path, *qas, context="The red apple fell."):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"data": [{"paragraphs": [{"context": context, "qas": list(qas)}]}]}))
    return path


GOOD_QA = {"id": "q1", "question": "What fell?", "answers": [{"text": "red apple", "answer_start": 4}]}
BAD_SQUAD = {  # what is changed in a good question, and what the error must say
    "empty answer": ({"answers": [{"text": "", "answer_start": 4}]}, "question 'q1': an empty answer text"),
    "answer text a number": ({"answers": [{"text": 5, "answer_start": 4}]}, "field 'text' must be a text"),
    "answer_start a word": ({"answers": [{"text": "red", "answer_start": "x"}]}, 'answer_start must be an integer, got "x"'),
    "answer_start negative": ({"answers": [{"text": "fell.", "answer_start": -5}]}, "answer_start -5 does not point"),
    "answers not a list": ({"answers": {"text": "red"}}, "question 'q1': no answer"),
    "question missing": ({"question": None}, "field 'question' is null"),
}


@pytest.mark.parametrize("case", BAD_SQUAD)
def test_a_bad_squad_question_is_named(tmp_path, case):
    from tinyalbert.task_data import read_squad

    change, message = BAD_SQUAD[case]
    with pytest.raises(ValueError, match=re.escape(message)):
        read_squad(_squad(tmp_path, {**GOOD_QA, **change}))


def test_squad_question_ids_must_be_unique(tmp_path):
    from tinyalbert.task_data import read_squad

    other = {**GOOD_QA, "question": "What did the apple do?", "answers": [{"text": "fell", "answer_start": 14}]}
    with pytest.raises(ValueError, match="question 'q1': the id is used by an earlier question"):
        read_squad(_squad(tmp_path, GOOD_QA, other))
    assert len(read_squad(_squad(tmp_path, GOOD_QA, {**other, "id": "q2"}))) == 2


def test_validation_tags_past_the_max_length_are_checked_too(tmp_path, capsys):
    train = write_task_files(tmp_path)["token-classification"]
    validation = tmp_path / "validation.jsonl"
    words = ["apple"] * 40 + ["dog"]
    validation.write_text(json.dumps({"tokens": ["cat"], "tags": ["O"]}) + "\n"
                          + json.dumps({"tokens": words, "tags": ["B-FRUIT"] * 40 + ["B-NOPE"]}) + "\n")
    line = finetune_error(capsys, "--task", "token-classification", "--model", "tinyalbert-mini", "--train",
                          str(train), "--validation", str(validation), "--out", str(tmp_path / "out"),
                          "--max-seq-length", "16", "--quiet")
    assert "validation.jsonl, line 2: tag(s) ['B-NOPE'] do not occur in" in line, line


def test_warm_up_steps_round_up_as_the_trainer_does(tmp_path, monkeypatch):
    from tinyalbert import finetune_loop

    seen = []

    def recording(step, warmup_steps, total_steps, peak_lr):
        seen.append((warmup_steps, total_steps))
        return peak_lr

    monkeypatch.setattr(finetune_loop, "linear_warmup_then_decay", recording)
    train = write_task_files(tmp_path)["text-classification"]  # 24 examples: 6 steps of 4 an epoch
    assert run_finetune("text-classification", train, tmp_path / "out", "--epochs", "1", "--warmup-ratio", "0.1") == 0
    assert set(seen) == {(1, 6)}  # ceil(0.6); int() made it 0: no warm-up at all


def test_an_empty_label_is_refused_and_empty_texts_are_named_in_a_warning(tmp_path):
    from tinyalbert.task_data import read_task_file

    (tmp_path / "blank.csv").write_text("text,label\napple,fruit\ncherry,\n")
    with pytest.raises(ValueError, match=r"blank.csv, line 3: empty label"):
        read_task_file("text-classification", tmp_path / "blank.csv")
    (tmp_path / "holes.csv").write_text("text,label\napple,fruit\n,fruit\n  ,dog\ncat,dog\n")
    with pytest.warns(UserWarning, match=r"holes.csv: 2 example\(s\) with an empty text \(line 3, 4\)"):
        examples = read_task_file("text-classification", tmp_path / "holes.csv")
    assert len(examples) == 4  # kept: Transformers trains on them too
    (tmp_path / "full.csv").write_text("text,label\napple,fruit\ncat,dog\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning when every text has words
        read_task_file("text-classification", tmp_path / "full.csv")


def test_tags_that_are_not_bio_pick_the_best_epoch_by_accuracy(tmp_path, capsys):
    """Part-of-speech-like tags hold no entities: an entity F1 (0 every epoch) would keep epoch 1."""
    bio = write_task_files(tmp_path)["token-classification"]
    train = tmp_path / "kinds.jsonl"
    with open(train, "w") as handle:
        for line in bio.read_text().splitlines():
            tokens = json.loads(line)["tokens"]
            tags = ["FRUIT" if token in FRUITS else "ANIMAL" for token in tokens]
            handle.write(json.dumps({"tokens": tokens, "tags": tags}) + "\n")
    assert run_finetune("token-classification", train, tmp_path / "out", "--epochs", "2") == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    history = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert history[1]["accuracy"] > history[0]["accuracy"]  # else this test could not tell the two rules apart
    assert summary["best"]["epoch"] == 2 and summary["best_by"] == "accuracy"
    assert all("f1" not in entry for entry in history)
    best = ta.AlbertForTokenClassification.from_pretrained(tmp_path / "out" / "best")
    last = ta.AlbertForTokenClassification.from_pretrained(tmp_path / "out" / "checkpoint")  # epoch 2's
    for name, value in last.params.items():
        np.testing.assert_array_equal(best.params[name], value, err_msg=name)


def test_words_longer_than_a_window_are_each_labelled_once_and_every_feature_has_a_label(tmp_path, capsys):
    """--max-seq-length 4 holds [CLS], two pieces and [SEP]: "xylophonistically" has more pieces
    than a window, so the windows inside it hold no word's first piece; they are left out, and
    every feature has a label to learn (a loss over no target would be nan)."""
    from tinyalbert import AlbertTokenizer
    from tinyalbert.task_data import IGNORE_INDEX, encode_examples

    words = [("xylophonistically", "B-FRUIT"), ("apple", "B-FRUIT"), ("dog", "O"), ("xylophonistically", "O")]
    train = tmp_path / "cut.jsonl"
    train.write_text("".join(json.dumps({"tokens": [word, "cat"], "tags": [tag, "O"]}) + "\n" for word, tag in words))
    tokenizer = AlbertTokenizer.from_pretrained("tinyalbert-mini")
    assert len(tokenizer.tokenize("xylophonistically")) > 2
    examples = [{"tokens": [word, "cat"], "tags": [tag, "O"], "line": 1} for word, tag in words]
    features = encode_examples("token-classification", examples, tokenizer, 4, {"B-FRUIT": 0, "O": 1}, doc_stride=1)
    assert all(any(label != IGNORE_INDEX for label in feature["labels"]) for feature in features)
    labelled = sorted((feature["sentence"], word) for feature in features for word in feature["word_ids"])
    assert set(labelled) == {(sentence, word) for sentence in range(4) for word in range(2)}
    assert run_finetune("token-classification", train, tmp_path / "out", "--epochs", "1", "--batch-size", "1",
                        "--max-seq-length", "4") == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert set(summary) == {"best", "best_by", "seconds"}  # no batch was skipped for want of a label
    line = finetune_error(capsys, "--task", "token-classification", "--model", "tinyalbert-mini", "--train",
                          str(train), "--validation", str(train), "--out", str(tmp_path / "three"),
                          "--max-seq-length", "3", "--quiet")
    assert "line 1: the sentence takes" in line and "more than the 1 of a window" in line
    assert "raise --max-seq-length" in line and "pass --doc-stride" not in line


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A text-classification run stopped after epoch 1 of 2: its OUT, and its training file."""
    root = tmp_path_factory.mktemp("stopped")
    train = write_task_files(root)["text-classification"]
    assert run_finetune("text-classification", train, root / "out", "--epochs", "2", "--stop-after", "1") == 0
    return root / "out", train


def test_a_second_run_into_the_same_out_is_refused(tmp_path, capsys, stopped_run):
    out = tmp_path / "out"
    shutil.copytree(stopped_run[0], out)
    line = finetune_error(capsys, "--task", "text-classification", "--model", "tinyalbert-mini", "--train",
                          str(stopped_run[1]), "--validation", str(stopped_run[1]), "--out", str(out), "--quiet")
    assert "already holds" in line and "--resume" in line and "another --out" in line
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1
    # Stopped before its first checkpoint (metrics.jsonl and best/ are written first): neither a
    # new run nor --resume may take it, and both say so, rather than point at each other.
    shutil.rmtree(out / "checkpoint")
    for extra in ([], ["--resume"]):
        line = finetune_error(capsys, "--task", "text-classification", "--model", "tinyalbert-mini", "--train",
                              str(stopped_run[1]), "--validation", str(stopped_run[1]), "--out", str(out), "--quiet",
                              *extra)
        assert "stopped before its first checkpoint" in line and "remove them" in line, line


def test_resume_compares_the_train_file_by_content_and_reads_model_and_tokenizer_from_the_checkpoint(
        tmp_path, capsys, stopped_run):
    out, train = tmp_path / "out", tmp_path / "elsewhere" / "same.csv"
    shutil.copytree(stopped_run[0], out)
    train.parent.mkdir()
    shutil.copy(stopped_run[1], train)
    common = ["--task", "text-classification", "--validation", str(stopped_run[1]), "--out", str(out), "--batch-size",
              "4", "--max-seq-length", "24", "--lr", "3e-4", "--epochs", "2", "--quiet", "--resume"]
    changed = tmp_path / "changed.csv"
    changed.write_text(stopped_run[1].read_text().replace("fruit", "animal", 1))
    line = finetune_error(capsys, *common, "--model", "tinyalbert-mini", "--train", str(changed))
    assert "the train file" in line and "not the text the checkpoint was trained on" in line, line
    # The same text under another path; --model names nothing (the checkpoint holds both).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert finetune.main([*common, "--model", str(tmp_path / "not-read"), "--train", str(train)]) == 0
    assert json.loads((out / "checkpoint" / "state.json").read_text())["epoch"] == 2


@pytest.mark.parametrize("dropped, warm_up", [(("warmup_steps",), 1 + 1), (("warmup_steps", "train_fingerprint"), 1)])
def test_resume_keeps_the_warm_up_the_checkpoint_was_trained_with(tmp_path, capsys, stopped_run, monkeypatch,
                                                                   dropped, warm_up):
    """12 steps at ratio 0.1: 2 warm-up steps (rounded up) are recorded in state.json. A checkpoint
    saved before train files were fingerprinted (and warm-ups recorded) rounded down, and goes on
    with 1; one saved between the two changes rounded up already."""
    from tinyalbert import finetune_loop

    state_file = stopped_run[0] / "checkpoint" / "state.json"
    assert json.loads(state_file.read_text())["warmup_steps"] == 2
    out = tmp_path / "out"
    shutil.copytree(stopped_run[0], out)
    for key in dropped:
        _drop_from_state(out / "checkpoint" / "state.json", key)
    seen = set()
    original = finetune_loop.linear_warmup_then_decay
    monkeypatch.setattr(finetune_loop, "linear_warmup_then_decay",
                        lambda step, warmup, total, peak: seen.add(warmup) or original(step, warmup, total, peak))
    assert run_finetune("text-classification", stopped_run[1], out, "--epochs", "2", "--resume") == 0
    assert seen == {warm_up}
    assert json.loads((out / "checkpoint" / "state.json").read_text())["warmup_steps"] == warm_up


def _reshape_a_moment(path):
    with np.load(path) as arrays:
        saved = dict(arrays)
    saved[next(key for key in saved if key.startswith("exp_avg."))] = np.zeros((3, 3))
    np.savez(path, **saved)


def _drop_from_state(path, key, from_args=False):
    state = json.loads(path.read_text())
    del (state["args"] if from_args else state)[key]
    path.write_text(json.dumps(state))


DAMAGE = {  # what is done to a file of OUT/checkpoint
    "optimizer not an npz": ("optimizer.npz", lambda path: path.write_bytes(b"\x80\x04 not an npz")),
    "optimizer moment of another shape": ("optimizer.npz", _reshape_a_moment),
    "state not JSON": ("state.json", lambda path: path.write_text('{"epoch": 1,')),
    "state nested too deeply": ("state.json", lambda path: path.write_text("[" * 100_000 + "]" * 100_000)),
    "state a list": ("state.json", lambda path: path.write_text("[1, 2]")),
    "state without epoch": ("state.json", lambda path: _drop_from_state(path, "epoch")),
    "state without args.seed": ("state.json", lambda path: _drop_from_state(path, "seed", from_args=True)),
    "state with a warm-up that is no step count": (
        "state.json", lambda path: path.write_text(json.dumps({**json.loads(path.read_text()), "warmup_steps": "2"}))),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_resuming_a_damaged_checkpoint_names_the_file(tmp_path, capsys, stopped_run, case):
    out = tmp_path / "out"
    shutil.copytree(stopped_run[0], out)
    name, damage = DAMAGE[case]
    damage(out / "checkpoint" / name)
    line = finetune_error(capsys, "--task", "text-classification", "--model", "tinyalbert-mini", "--train",
                          str(stopped_run[1]), "--validation", str(stopped_run[1]), "--out", str(out),
                          "--batch-size", "4", "--max-seq-length", "24", "--lr", "3e-4", "--epochs", "2", "--resume")
    assert f"{out / 'checkpoint' / name}" in line and "without --resume" in line, line
    assert "allow_pickle" not in line


def test_a_classifier_for_other_labels_gets_advice_in_options(tmp_path, capsys, stopped_run):
    three = tmp_path / "three.csv"
    three.write_text("text,label\napple fig,fruit\ndog cat,animal\noak elm,tree\n")
    fine_tuned = str(stopped_run[0] / "best")  # 2 labels
    line = finetune_error(capsys, "--task", "text-classification", "--model", fine_tuned, "--train", str(three),
                          "--validation", str(three), "--out", str(tmp_path / "out"), "--quiet")
    assert "--ignore-mismatched-sizes" in line and "ignore_mismatched_sizes=True" not in line
    assert run_finetune("text-classification", three, tmp_path / "out", "--epochs", "1", "--model", fine_tuned,
                        "--ignore-mismatched-sizes") == 0
    assert ta.AlbertForSequenceClassification.from_pretrained(tmp_path / "out" / "best").config.num_labels == 3


def test_mpi_timeout_reaches_the_ranks_and_must_be_positive(tmp_path, capsys, monkeypatch):
    # As pretrain's: the deadline of every collective under mpiexec, refused when it cannot work.
    from tinyalbert.train import distributed

    files = write_task_files(tmp_path)
    seen = []

    def no_job(backend="numpy", timeout_seconds=None):
        seen.append(timeout_seconds)
        raise KeyboardInterrupt  # stop here: the rest of the run is not this test's business

    monkeypatch.setattr(distributed, "init_ranks", no_job)
    from tinyalbert.finetune_args import FinetuneArguments
    from tinyalbert.finetune_loop import finetune as run

    with pytest.raises(KeyboardInterrupt):
        run(FinetuneArguments(task="text-classification", model="tinyalbert-mini", train=str(files["text-classification"]),
                              validation=str(files["text-classification"]), out=str(tmp_path / "out"), mpi_timeout=42.0),
            progress=False)
    assert seen == [42.0]
    message = finetune_error(capsys, "--task", "text-classification", "--model", "tinyalbert-mini", "--train", "x.csv",
                             "--validation", "x.csv", "--out", str(tmp_path / "o"), "--mpi-timeout", "0")
    assert "--mpi-timeout" in message and "> 0" in message, message


@pytest.mark.parametrize("field, value, message", [
    ("batch_size", 0, "batch_size must be a positive integer"),
    ("batch_size", -2, "batch_size must be a positive integer"),
    ("epochs", 0, "epochs must be a positive integer"),
    ("epochs", -1, "epochs must be a positive integer"),
    ("epochs", True, "epochs must be an integer"),
    ("stop_after", 0, "stop_after must be a positive integer"),
    ("seed", -1, "seed must be an integer >= 0"),
    ("max_seq_length", 2.5, "max_seq_length must be an integer"),
    ("clip_norm", -1.0, "clip_norm must be a finite number >= 0"),
    ("weight_decay", float("nan"), "weight_decay must be a finite number >= 0"),
    ("lr", -1e-3, "lr must be a finite number > 0"),
    ("lr", "1e-3", "lr must be a number"),
    ("mpi_timeout", 0.0, "mpi_timeout must be a finite number > 0"),
    ("warmup_ratio", 1.5, r"warmup_ratio must be a number in \[0, 1\]"),
    ("task", "text_classification", "task must be one of 'text-classification'"),
    ("backend", "torch", "backend must be"),
])
def test_finetune_arguments_check_themselves_as_the_command_line_does(field, value, message):
    # Python callers do not pass through the parser: the arguments refuse what it refuses, by name.
    from tinyalbert.finetune_args import FinetuneArguments

    given = dict(task="text-classification", model="m", train="t.csv", validation="v.csv", out="o")
    with pytest.raises(ValueError, match=message):
        FinetuneArguments(**{**given, field: value})
    args = FinetuneArguments(**given, epochs=np.int64(2), batch_size=np.int32(4), lr=np.float32(1e-4))
    assert (args.epochs, args.batch_size) == (2, 4) and type(args.epochs) is int and type(args.lr) is float
