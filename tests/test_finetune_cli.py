"""`python -m tinyalbert.finetune` on tiny files of every task, with the bundled tinyalbert-mini;
its metrics, resuming, Transformers loading the saved model, and the one-line errors."""
import csv
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinyalbert as ta
from tinyalbert import finetune
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
    ("no_label", "missing field 'label'"),
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
