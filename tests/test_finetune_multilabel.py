"""Multi-label text classification from the command line, as Transformers'
run_classification.py trains it: a label column of lists makes the problem multi-label, each
example's labels become a multi-hot row of floats, the loss is BCE with logits, a label is
predicted when its logit is above 0 (sigmoid above 0.5), and micro-F1 scores the epochs.

The metrics are checked on cases worked out by hand (and against sklearn.metrics where it is
installed), the files' reading and its errors, the command line end to end on a toy whose
labels follow from the words (its reported metrics recomputed with NumPy from the saved
model's outputs), and the gradients of a fine-tuning step on a batch the command line builds
against torch autograd on Transformers' model.
"""
import json
import math
import warnings

import numpy as np
import pytest

import tinyalbert as ta
from tinyalbert import finetune

GROUPS = {"fruit": ["apple", "banana", "cherry"], "animal": ["dog", "cat", "horse"], "colour": ["red", "blue", "green"]}


# --- the metrics -----------------------------------------------------------------------------------
# Three examples, three labels. Cells: TP = 3 (row 0 col 0, row 1 col 1, row 2 col 0),
# FP = 1 (row 0 col 2), FN = 2 (row 1 col 2, row 2 col 1).
PREDICTED = [[1, 0, 1], [0, 1, 0], [1, 0, 0]]
TRUE = [[1, 0, 0], [0, 1, 1], [1, 1, 0]]


def test_micro_f1_pools_every_cell():
    from tinyalbert.metrics import micro_f1

    precision, recall = 3 / 4, 3 / 5
    assert micro_f1(PREDICTED, TRUE) == pytest.approx(2 * precision * recall / (precision + recall))  # = 6 / 9
    assert micro_f1(PREDICTED, TRUE) == pytest.approx(2 * 3 / (2 * 3 + 1 + 2))
    assert micro_f1([[0, 0]], [[1, 0]]) == 0.0  # nothing predicted
    assert micro_f1([[1, 1]], [[1, 1]]) == 1.0


def test_macro_f1_is_the_mean_over_labels_and_a_label_never_seen_counts_0():
    from tinyalbert.metrics import multi_label_macro_f1

    # label 0: TP 2, FP 0, FN 0 -> 1; label 1: TP 1, FN 1 -> P 1, R 1/2 -> 2/3; label 2: TP 0 -> 0
    assert multi_label_macro_f1(PREDICTED, TRUE) == pytest.approx((1 + 2 / 3 + 0) / 3)
    # label 1 is neither true nor predicted: sklearn's zero_division default scores it 0
    assert multi_label_macro_f1([[1, 0], [0, 0]], [[1, 0], [0, 0]]) == pytest.approx(0.5)


def test_subset_accuracy_needs_every_label_of_a_row_right():
    from tinyalbert.metrics import multi_label_scores, subset_accuracy

    assert subset_accuracy(PREDICTED, TRUE) == 0.0
    assert subset_accuracy([[1, 0], [0, 0], [1, 1]], [[1, 0], [0, 1], [1, 1]]) == pytest.approx(2 / 3)
    assert set(multi_label_scores(PREDICTED, TRUE)) == {"micro_f1", "macro_f1", "subset_accuracy"}


def test_rows_of_other_widths_are_refused():
    from tinyalbert.metrics import micro_f1

    with pytest.raises(ValueError, match="one 0 or 1 per label"):
        micro_f1([[1, 0]], [[1, 0, 1]])
    with pytest.raises(ValueError, match="as many predictions as references"):
        micro_f1([[1, 0]], [[1, 0], [0, 1]])


def test_against_sklearn_where_installed():
    metrics = pytest.importorskip("sklearn.metrics")
    from tinyalbert.metrics import micro_f1, multi_label_macro_f1, subset_accuracy

    rng = np.random.default_rng(0)
    true, predicted = rng.integers(0, 2, size=(40, 5)), rng.integers(0, 2, size=(40, 5))
    true[:, 4] = predicted[:, 4] = 0  # a label never seen: counted 0 in the macro mean
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's UndefinedMetricWarning for that label
        assert micro_f1(predicted.tolist(), true.tolist()) == pytest.approx(
            metrics.f1_score(true, predicted, average="micro"))
        assert multi_label_macro_f1(predicted.tolist(), true.tolist()) == pytest.approx(
            metrics.f1_score(true, predicted, average="macro"))
    assert subset_accuracy(predicted.tolist(), true.tolist()) == pytest.approx(metrics.accuracy_score(true, predicted))


# --- reading the files ------------------------------------------------------------------------------
def test_a_jsonl_list_is_the_labels_of_one_example(tmp_path):
    from tinyalbert.task_data import read_task_file

    (tmp_path / "t.jsonl").write_text('{"text": "a", "label": ["sports", "politics"]}\n'
                                      '{"text": "b", "label": []}\n'
                                      '{"text": "c", "label": [3, "x", "x"]}\n')
    examples = read_task_file("text-classification", tmp_path / "t.jsonl")
    assert [e["label"] for e in examples] == [["sports", "politics"], [], ["3", "x"]]  # a name given twice: once


def test_a_csv_cell_is_split_on_the_label_separator(tmp_path):
    from tinyalbert.task_data import read_task_file

    (tmp_path / "t.csv").write_text('text,label\na,sports | politics\nb,\nc,"x,y"\n')
    examples = read_task_file("text-classification", tmp_path / "t.csv", label_separator="|")
    assert [e["label"] for e in examples] == [["sports", "politics"], [], ["x,y"]]  # an empty cell: no class
    assert [e["label"] for e in read_task_file("text-classification", tmp_path / "t.csv", ",")][2] == ["x", "y"]


def test_lists_of_labels_make_a_multi_label_classification(tmp_path):
    """As run_classification.py decides from a label column of lists (single classes and
    numbers: test_finetune_regression.py)."""
    from tinyalbert.finetune_args import FinetuneArguments
    from tinyalbert.finetune_loop import problem_type_of
    from tinyalbert.task_data import read_task_file

    (tmp_path / "t.jsonl").write_text('{"text": "a", "label": ["x"]}\n{"text": "b", "label": ["y", "x"]}\n')
    args = FinetuneArguments(task="text-classification", model="tinyalbert-mini", train=str(tmp_path / "t.jsonl"),
                             validation=str(tmp_path / "t.jsonl"), out=str(tmp_path / "out"))
    examples = read_task_file("text-classification", tmp_path / "t.jsonl")
    assert problem_type_of(args, examples) == "multi_label_classification"


def test_multi_hot_rows_are_float32_and_count_one_target_per_row():
    from tinyalbert.finetune_loop import counted_targets
    from tinyalbert.task_data import collate, multi_hot

    label_ids = {"animal": 0, "colour": 1, "fruit": 2}
    assert multi_hot(["fruit", "animal"], label_ids) == [1.0, 0.0, 1.0] and multi_hot([], label_ids) == [0.0] * 3
    batch = collate("text-classification", [{"input_ids": [2, 5, 3], "token_type_ids": [0] * 3, "label": [1.0, 0.0]},
                                            {"input_ids": [2, 3], "token_type_ids": [0] * 2, "label": [0.0, 0.0]}], 0)
    assert batch["labels"].dtype == np.float32 and batch["labels"].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert counted_targets("text-classification", batch) == 2  # rows, each of as many cells


# --- the command line ------------------------------------------------------------------------------
def run_finetune(capsys, train, validation, out, *extra):
    """finetune.main's exit status and its JSON summary (the last line on standard output), or
    its standard error when it fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the new head's "newly initialized" warning
        status = finetune.main(["--task", "text-classification", "--model", "tinyalbert-mini", "--train", str(train),
                                "--validation", str(validation), "--out", str(out), "--batch-size", "8",
                                "--max-seq-length", "16", "--lr", "1e-3", "--quiet", *extra])
    captured = capsys.readouterr()
    return status, (json.loads(captured.out.strip().splitlines()[-1]) if status == 0 else captured.err)


def jsonl(*records) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


GOOD = jsonl({"text": "apple", "label": ["fruit"]}, {"text": "dog red", "label": ["animal", "colour"]})
BAD = {
    "a null in a list": (jsonl({"text": "a", "label": ["x", None]}), GOOD, [],
                         ["train.jsonl, line 1", "label[1] must be a class name, got null"]),
    "a list in a list": (jsonl({"text": "a", "label": ["x"]}, {"text": "b", "label": [["y"]]}), GOOD, [],
                         ["train.jsonl, line 2", "label[0] must be a class name"]),
    "an empty name": (jsonl({"text": "a", "label": ["x", " "]}), GOOD, [],
                      ["train.jsonl, line 1", "an empty class name"]),
    "a class among lists": (GOOD + jsonl({"text": "b", "label": "fruit"}), GOOD, [],
                            ["train.jsonl, line 3", '"fruit" is one class', "line 1's is a list", '["fruit"]']),
    "a list among classes": (jsonl({"text": "a", "label": "x"}, {"text": "b", "label": ["x", "y"]}), GOOD, [],
                             ["train.jsonl, line 2", "is a list of labels, but line 1's is one class"]),
    "single classes in the validation file": (GOOD, jsonl({"text": "a", "label": "fruit"}), [],
                                              ["dev.jsonl, line 1", '"fruit" is one class', "make the problem "
                                               "multi_label_classification", "--label-separator"]),
    "lists in the validation file only": (jsonl({"text": "a", "label": "x"}, {"text": "b", "label": "y"}), GOOD, [],
                                          ["dev.jsonl, line 1", "is a list of labels", "single_label_classification"]),
    "an unknown label in a list": (GOOD, jsonl({"text": "a", "label": ["fruit", "sport"]}), [],
                                   ["dev.jsonl, line 1", "['sport'] do not occur in"]),
    "no label at all": (jsonl({"text": "a", "label": []}, {"text": "b", "label": []}), GOOD, [],
                        ["train file", "no label in any example's list", "at least 2"]),
    "one label only": (jsonl({"text": "a", "label": ["x"]}, {"text": "b", "label": []}), GOOD, [],
                       ["train file", "only 1 distinct label ('x')"]),
    "multi-label asked of single classes": (jsonl({"text": "a", "label": "x"}, {"text": "b", "label": "y"}), None,
                                            ["--problem-type", "multi_label_classification"],
                                            ["train.jsonl, line 1", "but --problem-type is multi_label_classification",
                                             "--label-separator"]),
    "single-label asked of lists": (GOOD, None, ["--problem-type", "single_label_classification"],
                                    ["train.jsonl, line 1", "is a list of labels, but --problem-type is "
                                     "single_label_classification"]),
    "a separator for a regression": (GOOD, None, ["--label-separator", "|", "--problem-type", "regression"],
                                     ["label_separator splits labels into lists", "regression"]),
    "an empty separator": (GOOD, None, ["--label-separator", ""], ["label_separator must be a non-empty text"]),
    "a separator for tagging": (GOOD, None, ["--label-separator", "|", "--task", "token-classification"],
                                ["label_separator is for text-classification only"]),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_multi_label_input_is_one_error_line_naming_the_place(tmp_path, capsys, case):
    train_text, validation_text, options, expected = BAD[case]
    train, validation = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    train.write_text(train_text)
    validation.write_text(validation_text or train_text)
    status, error = run_finetune(capsys, train, validation, tmp_path / "out", *options)
    lines = [line for line in error.splitlines() if line.startswith("error:")]
    assert status == 2 and len(lines) == 1, error
    for part in expected:
        assert part in lines[0], lines[0]


def test_an_empty_name_between_separators_is_refused(tmp_path, capsys):
    train = tmp_path / "train.csv"
    train.write_text("text,label\napple,fruit\ndog red,animal||colour\n")
    status, error = run_finetune(capsys, train, train, tmp_path / "out", "--label-separator", "|")
    assert status == 2 and "train.csv, line 3: an empty class name in the label 'animal||colour' split on '|'" in error


def write_toy(path, rows: int, seed: int, separator=None) -> None:
    """Texts of two words from each of a random subset of GROUPS (possibly none: "the the");
    the labels are those groups: a JSONL list, or with `separator` a CSV cell."""
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(rows):
        chosen = [group for group in GROUPS if rng.random() < 0.5]
        words = [str(rng.choice(GROUPS[group])) for group in chosen for _ in range(2)] or ["the", "the"]
        rng.shuffle(words)
        records.append((" ".join(words), chosen))
    if separator is None:
        path.write_text(jsonl(*({"text": text, "label": labels} for text, labels in records)))
    else:
        path.write_text("text,label\n" + "".join(f"{text},{separator.join(labels)}\n" for text, labels in records))


def test_a_multi_label_classification_trains_saves_and_scores_as_run_classification(tmp_path, capsys):
    train, validation, out = tmp_path / "train.jsonl", tmp_path / "dev.jsonl", tmp_path / "out"
    write_toy(train, 64, seed=0)
    write_toy(validation, 24, seed=1)
    status, summary = run_finetune(capsys, train, validation, out, "--epochs", "2")
    assert status == 0, summary
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    assert config["id2label"] == {"0": "animal", "1": "colour", "2": "fruit"}
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [set(entry) for entry in history] == [{"epoch", "step", "micro_f1", "macro_f1", "subset_accuracy", "loss"}] * 2
    assert summary["best_by"] == "micro_f1"
    assert summary["best"] == max(history, key=lambda entry: entry["micro_f1"])  # the first of the highest
    assert summary["best"]["micro_f1"] > 0.8  # the labels follow from the words: it learns them

    # The reported metrics are those of the saved best model's sigmoid scores, recomputed here.
    rows = [json.loads(line) for line in validation.read_text().splitlines()]
    names = ["animal", "colour", "fruit"]
    true = np.array([[name in row["label"] for name in names] for row in rows])
    classify = ta.pipeline("text-classification", model=str(out / "best"))
    answers = classify([row["text"] for row in rows], top_k=None)
    scores = np.array([[next(a["score"] for a in answer if a["label"] == name) for name in names]
                       for answer in answers])
    model = ta.AlbertForSequenceClassification.from_pretrained(out / "best")
    tokenizer = ta.AlbertTokenizer.from_pretrained(out / "best")
    logits = np.asarray(model(**tokenizer([rows[0]["text"]], return_tensors="np")).logits)[0]
    assert scores[0] == pytest.approx(1 / (1 + np.exp(-logits)), rel=1e-6)  # sigmoid, not softmax
    predicted = scores > 0.5
    hits, wrong, missed = np.sum(predicted & true), np.sum(predicted & ~true), np.sum(~predicted & true)
    assert summary["best"]["micro_f1"] == pytest.approx(2 * hits / (2 * hits + wrong + missed))
    per_label = [2 * np.sum(predicted[:, j] & true[:, j]) / (np.sum(predicted[:, j]) + np.sum(true[:, j]))
                 for j in range(3)]
    assert summary["best"]["macro_f1"] == pytest.approx(np.mean(per_label))
    assert summary["best"]["subset_accuracy"] == pytest.approx(np.mean(np.all(predicted == true, axis=1)))


def test_a_csv_split_on_the_separator_trains_as_the_same_jsonl(tmp_path, capsys):
    """The same examples as a JSONL file of lists and as a CSV file of 'a|b' cells: one run."""
    results = []
    for name, separator in (("train.jsonl", None), ("train.csv", "|")):
        write_toy(tmp_path / name, 24, seed=0, separator=separator)
        options = [] if separator is None else ["--label-separator", separator]
        status, summary = run_finetune(capsys, tmp_path / name, tmp_path / name, tmp_path / name.replace(".", "_"),
                                       "--epochs", "1", *options)
        assert status == 0, summary
        results.append((summary["best"], json.loads((tmp_path / name.replace(".", "_") / "best" / "config.json")
                                                    .read_text())["id2label"]))
    assert results[0] == results[1]


def test_resume_keeps_the_problem_type_and_the_separator(tmp_path, capsys):
    train, out = tmp_path / "train.csv", tmp_path / "out"
    write_toy(train, 16, seed=0, separator="|")
    status, summary = run_finetune(capsys, train, train, out, "--epochs", "2", "--stop-after", "1",
                                   "--label-separator", "|")
    assert status == 0 and summary["best_by"] == "micro_f1", summary
    status, error = run_finetune(capsys, train, train, out, "--epochs", "2", "--resume")  # one class per cell
    assert status == 2 and "label_separator is None but the checkpoint was made with '|'" in error
    # The problem type is compared as it comes out: named now, read off the labels when it was made
    status, summary = run_finetune(capsys, train, train, out, "--epochs", "2", "--resume", "--label-separator", "|",
                                   "--problem-type", "multi_label_classification")
    assert status == 0 and [entry["epoch"] for entry in
                            map(json.loads, (out / "metrics.jsonl").read_text().splitlines())] == [1, 2]


def test_an_epoch_predicting_nothing_scores_0_not_nan(tmp_path):
    """Micro-F1 is 0, never nan, when no label is predicted: the first epoch can be beaten."""
    from tinyalbert.metrics import multi_label_scores

    scores = multi_label_scores([[0, 0], [0, 0]], [[1, 0], [0, 1]])
    assert scores == {"micro_f1": 0.0, "macro_f1": 0.0, "subset_accuracy": 0.0}
    assert not any(math.isnan(value) for value in scores.values())


# --- against Transformers ---------------------------------------------------------------------------
@pytest.mark.reference
def test_the_pipeline_on_the_saved_model_is_transformers(tmp_path, capsys):
    """Transformers' text-classification pipeline reads problem_type from the saved config and
    answers with sigmoid scores; tinyalbert's gives the same, top label and all labels."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    train, out = tmp_path / "train.jsonl", tmp_path / "out"
    write_toy(train, 16, seed=0)
    assert run_finetune(capsys, train, train, out, "--epochs", "1")[0] == 0
    texts = ["apple dog", "red blue", "the the"]
    reference = transformers.pipeline("text-classification", model=str(out / "best"), torch_dtype=torch.float64,
                                      tokenizer=transformers.AlbertTokenizer.from_pretrained(out / "best"))
    ours = ta.pipeline("text-classification", model=str(out / "best"), dtype="float64")
    for options in ({}, {"top_k": None}):
        theirs, mine = reference(texts, **options), ours(texts, **options)
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs):
            a, b = (a if isinstance(a, list) else [a]), (b if isinstance(b, list) else [b])
            assert [x["label"] for x in a] == [x["label"] for x in b]
            assert [x["score"] for x in a] == pytest.approx([x["score"] for x in b], rel=1e-6)  # theirs: float32
    assert sum(item["score"] for item in ours(texts[0], top_k=None)) != pytest.approx(1.0)  # no softmax


@pytest.mark.reference
def test_the_gradients_of_a_multi_label_step_are_transformers(tmp_path):
    """The batch the command line builds from a file of label lists (multi-hot float32 rows), the
    model it builds for it from a checkpoint, and the loss and gradients of its step, against
    Transformers' AlbertForSequenceClassification(problem_type="multi_label_classification")
    under torch autograd, in float64."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import test_grad_parity as helpers
    from test_finetune_regression import assert_step_matches_autograd
    from tinyalbert.finetune_args import FinetuneArguments
    from tinyalbert.finetune_loop import load_data, model_overrides, problem_type_of
    from tinyalbert.task_data import collate
    from tinyalbert.task_models import TASK_CLASSES

    tokenizer = ta.AlbertTokenizer.from_pretrained("tinyalbert-mini")
    names = ["animal", "colour", "fruit"]
    values = dict(vocab_size=tokenizer.vocab_size, embedding_size=6, hidden_size=8, num_attention_heads=2,
                  intermediate_size=12, num_hidden_groups=2, num_hidden_layers=3, hidden_act="gelu_new",
                  max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                  classifier_dropout_prob=0.0, initializer_range=0.2,
                  id2label=dict(enumerate(names)), problem_type="multi_label_classification")
    reference = helpers.torch_model(transformers.AlbertForSequenceClassification, values, 0, "float64")
    checkpoint = tmp_path / "checkpoint"
    reference.save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    train = tmp_path / "train.csv"
    train.write_text('text,text_pair,label\napple banana,a dog,fruit|animal\ncherry,,\n'
                     '"horse cat dog apple","red red",animal | colour | fruit\nblue,green,colour\n')
    args = FinetuneArguments(task="text-classification", model=str(checkpoint), train=str(train),
                             validation=str(train), out=str(tmp_path / "out"), max_seq_length=16,
                             label_separator="|")
    labels, examples, encoded, _, _ = load_data(args, tokenizer)
    overrides = model_overrides(args.task, labels, problem_type_of(args, examples))
    assert labels == names and overrides == {"id2label": dict(enumerate(names)),
                                             "problem_type": "multi_label_classification"}
    model = TASK_CLASSES[args.task].from_pretrained(checkpoint, dtype="float64", **overrides)  # load_model's, in float64
    batch = collate(args.task, encoded, tokenizer.pad_token_id)
    assert batch["labels"].dtype == np.float32
    assert batch["labels"].tolist() == [[1, 0, 1], [0, 0, 0], [1, 1, 1], [0, 1, 0]]
    assert batch["attention_mask"].min() == 0 and batch["token_type_ids"].max() == 1  # padding and pairs

    ours_loss = assert_step_matches_autograd(reference, model, batch, "multi_label_classification")
    logits = reference(**{k: torch.tensor(v) for k, v in batch.items() if k != "labels"}).logits.detach().numpy()
    manual = np.mean(np.logaddexp(0, logits) - batch["labels"] * logits)  # BCE with logits, by hand
    assert float(ours_loss) == pytest.approx(manual, rel=1e-10)
