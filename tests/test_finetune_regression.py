"""Text classification as a regression (STS-B and the like), as Transformers' run_glue.py and
run_classification.py train it: decided from the labels, one output trained with the mean
squared error, scored by Pearson and Spearman correlation and MSE.

The correlations are checked against numpy.corrcoef and ranks worked out by hand (and against
scipy.stats where scipy is installed), the command line on a toy whose scores follow from the
words, and the gradients of a fine-tuning step on its batches against torch autograd on
Transformers' model.
"""
import csv
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinyalbert as ta
from tinyalbert import finetune

FRUITS, ANIMALS = ["apple", "banana", "cherry"], ["dog", "cat", "horse"]


# --- the metrics -----------------------------------------------------------------------------------
def test_pearson_is_numpys_correlation_coefficient():
    from tinyalbert.metrics import pearson

    rng = np.random.default_rng(0)
    xs = rng.normal(size=40)
    ys = 0.6 * xs + rng.normal(size=40)
    assert pearson(list(xs), list(ys)) == pytest.approx(np.corrcoef(xs, ys)[0, 1], rel=1e-12)
    assert pearson([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_a_constant_list_has_no_correlation():
    """scipy.stats.pearsonr and spearmanr return nan (with a warning) for a constant input."""
    from tinyalbert.metrics import pearson, spearman

    assert math.isnan(pearson([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]))
    assert math.isnan(spearman([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]))


def test_ties_share_the_mean_of_their_ranks():
    from tinyalbert.metrics import average_ranks

    assert average_ranks([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]
    assert average_ranks([3.0, 1.0, 3.0, 3.0, 0.5]) == [4.0, 2.0, 4.0, 4.0, 1.0]  # ranks 3, 4, 5 -> 4


def test_spearman_by_hand_with_ties():
    from tinyalbert.metrics import pearson, spearman

    # xs ranks [1, 2.5, 2.5, 4]; ys [1, 3, 2, 4]: deviations [-1.5, 0, 0, 1.5] and [-1.5, .5, -.5, 1.5]
    # covariance sum 4.5; sums of squares 4.5 and 5: 4.5 / sqrt(22.5)
    assert spearman([1, 2, 2, 3], [10, 30, 20, 40]) == pytest.approx(4.5 / math.sqrt(22.5))
    # A monotonic relation of any shape is a perfect rank correlation, not a perfect linear one.
    xs = [0.1, 0.5, 1.0, 2.0, 4.0]
    assert spearman(xs, [math.exp(x) for x in xs]) == pytest.approx(1.0)
    assert pearson(xs, [math.exp(x) for x in xs]) < 0.95


def test_regression_scores_have_glue_stsb_and_run_glue_names():
    from tinyalbert.metrics import mean_squared_error, regression_scores

    scores = regression_scores([1.0, 2.0, 4.0], [1.5, 2.0, 3.0])
    assert set(scores) == {"pearson", "spearmanr", "mse"}
    assert scores["mse"] == pytest.approx((0.25 + 0 + 1) / 3) == mean_squared_error([1.0, 2.0, 4.0], [1.5, 2.0, 3.0])
    assert scores["spearmanr"] == pytest.approx(1.0)


def test_against_scipy_where_installed():
    from tinyalbert.metrics import average_ranks, pearson, spearman

    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    xs = rng.integers(0, 6, size=30).astype(float)  # many ties
    ys = xs + rng.normal(size=30)
    assert pearson(list(xs), list(ys)) == pytest.approx(stats.pearsonr(xs, ys)[0], rel=1e-10)
    assert spearman(list(xs), list(ys)) == pytest.approx(stats.spearmanr(xs, ys)[0], rel=1e-10)
    assert average_ranks(list(xs)) == list(stats.rankdata(xs))


# --- which runs are a regression --------------------------------------------------------------------
def _args(tmp_path, train, validation=None, **options):
    from tinyalbert.finetune_args import FinetuneArguments

    options = {"model": "tinyalbert-mini", **options}
    return FinetuneArguments(task="text-classification", train=str(train), validation=str(validation or train),
                             out=str(tmp_path / "out"), **options)


@pytest.mark.parametrize("name, text, expected", [
    ("decimals.csv", "text,label\na,0.5\nb,3\nc,4.0\n", "regression"),
    ("whole.csv", "text,label\na,1\nb,3\nc,5\n", "single_label_classification"),  # star ratings: classes
    ("floats.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": 4.0}\n', "regression"),  # JSON float 4.0
    ("exponent.csv", "text,label\na,1e-3\nb,2E+1\n", "regression"),
    ("names.csv", "text,label\na,pos\nb,neg\n", "single_label_classification"),
])
def test_decimal_labels_make_a_regression_as_run_classification_decides(tmp_path, name, text, expected):
    from tinyalbert.finetune_loop import problem_type_of
    from tinyalbert.task_data import read_task_file

    (tmp_path / name).write_text(text)
    examples = read_task_file("text-classification", tmp_path / name)
    assert problem_type_of(_args(tmp_path, tmp_path / name), examples) == expected
    forced = "single_label_classification" if expected == "regression" else "regression"
    if name != "names.csv":  # --problem-type chooses instead
        assert problem_type_of(_args(tmp_path, tmp_path / name, problem_type=forced), examples) == forced


def run_finetune(capsys, train, validation, out, *extra):
    """finetune.main's exit status and its JSON summary (the last line on standard output)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the new head's "newly initialized" warning
        status = finetune.main(["--task", "text-classification", "--model", "tinyalbert-mini", "--train", str(train),
                                "--validation", str(validation), "--out", str(out), "--batch-size", "4",
                                "--max-seq-length", "16", "--lr", "3e-4", "--quiet", *extra])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    return status, (json.loads(lines[-1]) if status == 0 else captured.err)


BAD = {
    "decimals mixed with names": ("text,label\na,0.5\nb,pos\nc,2\n", None, [],
                                  ["train.csv, line 3", "'pos' is not a finite number", "line 2's 0.5",
                                   "--problem-type single_label_classification"]),
    "a validation label that is no number": ("text,label\na,0.5\nb,2\n", "text,label\na,1.5\nb,high\n", [],
                                             ["dev.csv, line 3", "'high' is not a finite number"]),
    "one value in the validation file": ("text,label\na,0.5\nb,2\n", "text,label\na,1.5\nb,1.50\n", [],
                                         ["validation file", "only 1 distinct label value (1.5)",
                                          "Pearson and Spearman correlation undefined"]),
    "one value in the train file": ("text,label\na,2.0\nb,2\n", "text,label\na,1.5\nb,3\n", [],
                                    ["train file", "only 1 distinct label value (2)"]),
    "a problem type for tagging": (None, None, ["--task", "token-classification", "--problem-type", "regression"],
                                   ["problem_type is for text-classification only"]),
    "an unknown problem type": (None, None, ["--problem-type", "multi_label"], ["--problem-type", "invalid choice"]),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_regression_input_is_one_error_line_naming_the_place(tmp_path, capsys, case):
    train_text, validation_text, options, expected = BAD[case]
    train, validation = tmp_path / "train.csv", tmp_path / "dev.csv"
    train.write_text(train_text or "text,label\na,0.5\nb,2\n")
    validation.write_text(validation_text or train.read_text())
    status, error = run_finetune(capsys, train, validation, tmp_path / "out", *options)
    lines = [line for line in error.splitlines() if line.startswith("error:")]
    assert status == 2 and len(lines) == 1, error
    for part in expected:
        assert part in lines[0], lines[0]


def test_a_json_nan_label_is_still_refused(tmp_path):
    from tinyalbert.task_data import read_task_file

    (tmp_path / "nan.jsonl").write_text('{"text": "a", "label": 0.5}\n{"text": "b", "label": NaN}\n')
    with pytest.raises(ValueError, match="nan.jsonl, line 2: label must be a class name or number, got NaN"):
        read_task_file("text-classification", tmp_path / "nan.jsonl")


def test_a_regression_target_of_minus_100_counts_as_a_target():
    """-100 marks an ignored class id; a regression's -100.0 is a value the loss averages over,
    so it counts when a batch is shared out among processes."""
    from tinyalbert.finetune_loop import counted_targets

    assert counted_targets("text-classification", {"labels": np.array([-100.0, 1.5], dtype=np.float32)}) == 2
    assert counted_targets("text-classification", {"labels": np.array([-100, 1])}) == 1


def test_an_epoch_whose_correlation_is_undefined_is_never_the_best():
    """A model that gives every validation text the same value has nan correlations; compared
    with `>`, a first epoch scored nan would have stayed the best whatever came after."""
    from tinyalbert.finetune_loop import record_epoch

    state = {"history": [], "best": None, "epoch": 0}
    for epoch, score in enumerate([math.nan, 0.4, math.nan, 0.3], start=1):
        record_epoch(None, {"epoch": epoch, "pearson": score}, "pearson", state, None, None, None)
    assert state["best"] == {"epoch": 2, "pearson": 0.4}


# --- the command line, end to end ------------------------------------------------------------------
def write_scores(path: Path, rows: int, seed: int) -> None:
    """Texts of four words; the label is 1.25 per fruit among them, 0.00 to 5.00 (STS-B's range)."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for _ in range(rows):
            fruits = int(rng.integers(0, 5))
            words = [str(w) for w in [*rng.choice(FRUITS, size=fruits), *rng.choice(ANIMALS, size=4 - fruits)]]
            rng.shuffle(words)
            writer.writerow([" ".join(words), f"{1.25 * fruits:.2f}"])


def average_ranks_by_counting(values: np.ndarray) -> np.ndarray:
    """Each value's mean rank among ties: 1 + (how many are smaller) + (how many others are equal) / 2."""
    return np.array([1 + np.sum(values < v) + (np.sum(values == v) - 1) / 2 for v in values])


def test_a_regression_trains_saves_and_scores_as_run_glue(tmp_path, capsys):
    train, validation = tmp_path / "train.csv", tmp_path / "dev.csv"
    write_scores(train, 32, seed=0)
    write_scores(validation, 16, seed=1)
    status, summary = run_finetune(capsys, train, validation, tmp_path / "out", "--epochs", "3")
    assert status == 0, summary
    best = tmp_path / "out" / "best"
    config = json.loads((best / "config.json").read_text())
    assert config["problem_type"] == "regression" and config["id2label"] == {"0": "LABEL_0"}  # num_labels 1
    history = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [set(entry) for entry in history] == [{"epoch", "step", "pearson", "spearmanr", "mse", "loss"}] * 3
    assert summary["best_by"] == "pearson"
    assert summary["best"] == max(history, key=lambda entry: entry["pearson"])
    assert summary["best"]["pearson"] > 0.8  # the scores follow from the words: it learns them

    # The reported metrics are those of the saved best model's outputs, computed here with NumPy.
    model = ta.AlbertForSequenceClassification.from_pretrained(best)
    assert model.config.num_labels == 1 and model.config.problem_type == "regression"
    rows = list(csv.DictReader(validation.open()))
    labels = np.array([float(row["label"]) for row in rows])
    classify = ta.pipeline("text-classification", model=str(best))
    answers = classify([row["text"] for row in rows])
    assert {answer["label"] for answer in answers} == {"LABEL_0"}  # the raw output, as Transformers gives it
    outputs = np.array([answer["score"] for answer in answers])
    tokenizer = ta.AlbertTokenizer.from_pretrained(best)
    logits = model(**tokenizer([rows[0]["text"]], return_tensors="np")).logits
    assert outputs[0] == pytest.approx(float(np.asarray(logits)[0, 0]), rel=1e-6)  # no sigmoid
    assert summary["best"]["pearson"] == pytest.approx(np.corrcoef(outputs, labels)[0, 1], abs=1e-5)
    spearman_by_numpy = np.corrcoef(average_ranks_by_counting(outputs), average_ranks_by_counting(labels))[0, 1]
    assert summary["best"]["spearmanr"] == pytest.approx(spearman_by_numpy, abs=1e-5)
    assert summary["best"]["mse"] == pytest.approx(np.mean((outputs - labels) ** 2), rel=1e-4)


def test_integer_scores_are_a_regression_when_asked_and_resume_keeps_it(tmp_path, capsys):
    train = tmp_path / "stars.csv"
    train.write_text("text,label\n" + "".join(f"{' '.join(['apple'] * n + ['dog'] * (4 - n))},{n + 1}\n"
                                              for n in (0, 1, 2, 3, 4, 2, 1, 3)))
    out = tmp_path / "out"
    status, summary = run_finetune(capsys, train, train, out, "--epochs", "2", "--stop-after", "1",
                                   "--problem-type", "regression")
    assert status == 0 and summary["best_by"] == "pearson", summary
    assert json.loads((out / "best" / "config.json").read_text())["problem_type"] == "regression"
    status, error = run_finetune(capsys, train, train, out, "--epochs", "2", "--resume")  # would be classes
    assert status == 2 and ("the checkpoint was trained as a regression but the run now is a "
                            "single_label_classification" in error) and "pass --problem-type regression" in error
    status, summary = run_finetune(capsys, train, train, out, "--epochs", "2", "--resume", "--problem-type",
                                   "regression")
    assert status == 0 and [summary["best_by"], set(summary["best"])] == ["pearson", {"epoch", "step", "pearson",
                                                                                      "spearmanr", "mse", "loss"}]
    classes = tmp_path / "classes"  # the same stars read as five classes, then resumed as a regression
    assert run_finetune(capsys, train, train, classes, "--epochs", "2", "--stop-after", "1")[0] == 0
    status, error = run_finetune(capsys, train, train, classes, "--epochs", "2", "--resume", "--problem-type",
                                 "regression")
    assert status == 2 and ("the checkpoint was trained as a single_label_classification but the run now is a "
                            "regression") in error


def test_a_classifier_does_not_fit_a_regression_and_is_told_so(tmp_path, capsys):
    topics = tmp_path / "topics.csv"
    topics.write_text("text,label\napple fig,fruit\ndog cat,animal\n")
    assert run_finetune(capsys, topics, topics, tmp_path / "classes", "--epochs", "1")[0] == 0
    scores = tmp_path / "scores.csv"
    scores.write_text("text,label\napple fig,4.5\ndog cat,0.5\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        status = finetune.main(["--task", "text-classification", "--model", str(tmp_path / "classes" / "best"),
                                "--train", str(scores), "--validation", str(scores), "--out", str(tmp_path / "out"),
                                "--max-seq-length", "16", "--quiet"])
    error = capsys.readouterr().err
    assert status == 2 and "does not fit a regression (one output)" in error and "--ignore-mismatched-sizes" in error


# --- a fine-tuning step's gradients against torch autograd ----------------------------------------
@pytest.mark.reference
def test_the_gradients_of_a_regression_step_are_transformers(tmp_path):
    """The batch the command line builds from a regression file (float32 scores), the model it
    builds for it from a checkpoint, and the loss and gradients of its step, against Transformers'
    AlbertForSequenceClassification with num_labels=1 (whose forward infers regression) under
    torch autograd, in float64."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import test_grad_parity as helpers
    from tinyalbert.finetune_loop import load_data, model_overrides, problem_type_of
    from tinyalbert.task_data import collate
    from tinyalbert.task_models import TASK_CLASSES

    tokenizer = ta.AlbertTokenizer.from_pretrained("tinyalbert-mini")
    values = dict(vocab_size=tokenizer.vocab_size, embedding_size=6, hidden_size=8, num_attention_heads=2,
                  intermediate_size=12, num_hidden_groups=2, num_hidden_layers=3, hidden_act="gelu_new",
                  max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                  classifier_dropout_prob=0.0, initializer_range=0.2, num_labels=1)
    reference = helpers.torch_model(transformers.AlbertForSequenceClassification, values, 0, "float64")
    checkpoint = tmp_path / "checkpoint"
    reference.save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    train = tmp_path / "train.jsonl"
    rows = [("apple banana", "a dog", 3.8), ("cherry", None, 0.1), ("horse cat dog apple", "cherry cherry", 2.45)]
    train.write_text("".join(json.dumps({"text": text, "text_pair": pair, "label": label}) + "\n"
                             for text, pair, label in rows))
    args = _args(tmp_path, train, model=str(checkpoint), max_seq_length=16)
    labels, examples, encoded, _, _ = load_data(args, tokenizer)
    overrides = model_overrides(args.task, labels, problem_type_of(args, examples))
    assert labels is None and overrides == {"problem_type": "regression", "num_labels": 1}
    model = TASK_CLASSES[args.task].from_pretrained(checkpoint, dtype="float64", **overrides)  # load_model's, in float64
    batch = collate(args.task, encoded, tokenizer.pad_token_id)
    assert batch["labels"].dtype == np.float32 and list(batch["labels"]) == list(np.float32([3.8, 0.1, 2.45]))
    assert batch["attention_mask"].min() == 0 and batch["token_type_ids"].max() == 1  # padding and pairs

    assert_step_matches_autograd(reference, model, batch, "regression")


def assert_step_matches_autograd(reference, model, batch: dict, problem_type: str):
    """Our loss and gradients on `batch` (float targets: a regression's scores or multi-hot
    rows) against torch autograd on Transformers' model, in float64; returns our loss."""
    import torch

    import test_grad_parity as helpers

    reference.zero_grad(set_to_none=True)
    torch_batch = {name: torch.tensor(value) for name, value in batch.items()}
    torch_batch["labels"] = torch_batch["labels"].double()  # the same float32 values, as the model casts them
    loss = reference(**torch_batch).loss
    loss.backward()
    assert reference.config.problem_type == problem_type
    expected = {name: np.zeros(tuple(p.shape)) if p.grad is None else p.grad.detach().numpy()
                for name, p in reference.named_parameters()}
    ours_loss, grads = model.loss_and_grads(**batch)
    helpers.assert_loss_matches(ours_loss, loss.item(), "float64")
    helpers.assert_gradients_match(grads, expected, "float64")
    return ours_loss


def test_a_problem_type_in_the_models_config_does_not_change_how_other_tasks_predict():
    """A --model fine-tuned as a regression keeps problem_type in its config.json; a multiple-choice
    or token-classification run started from it still predicts the argmax of its logits."""
    from tinyalbert import AlbertConfig, AlbertForMultipleChoice, AlbertForTokenClassification
    from tinyalbert.finetune_loop import batch_predictions, model_inputs

    def predict_batch(task, model, examples, batch):  # one evaluation batch: its forward pass, then its predictions
        return batch_predictions(task, model, examples, model(**model_inputs(batch), return_dict=True))

    values = dict(vocab_size=30, embedding_size=8, hidden_size=16, num_attention_heads=2, intermediate_size=20,
                  num_hidden_layers=1, problem_type="regression")
    rng = np.random.default_rng(0)
    choices = {"input_ids": rng.integers(1, 30, (2, 3, 5)), "attention_mask": np.ones((2, 3, 5), np.int64),
               "token_type_ids": np.zeros((2, 3, 5), np.int64)}
    model = AlbertForMultipleChoice(AlbertConfig(**values, num_labels=1), seed=1)
    logits = model(**choices).logits
    assert predict_batch("multiple-choice", model, [{}, {}], choices) == [int(i) for i in np.argmax(logits, -1)]
    tagged = {name: value[:, 0] for name, value in choices.items()}
    model = AlbertForTokenClassification(AlbertConfig(**values, num_labels=3), seed=1)
    expected = np.argmax(model(**tagged).logits, -1)
    examples = [{"first_pieces": [1, 2]}, {"first_pieces": [1, 3]}]
    assert predict_batch("token-classification", model, examples, tagged) == [
        [int(expected[0, 1]), int(expected[0, 2])], [int(expected[1, 1]), int(expected[1, 3])]]


def test_the_curves_give_a_regressions_squared_error_an_axis_of_its_own(tmp_path, monkeypatch):
    """MSE is in the labels' units squared; drawn on the correlations' axis it would flatten them."""
    pytest.importorskip("matplotlib")
    from tinyalbert import finetune_loop
    from tinyalbert.train import history

    figures = []
    monkeypatch.setattr(history, "save_figure", lambda figure, path: figures.append(figure))
    state = {"losses": [(1, 9.0), (2, 6.0)], "history": [
        {"epoch": 1, "step": 1, "pearson": 0.2, "spearmanr": 0.1, "mse": 25.0},
        {"epoch": 2, "step": 2, "pearson": 0.9, "spearmanr": 0.8, "mse": 3.0}]}
    assert finetune_loop.plot_curves(state, "pearson", tmp_path / "curves.png")
    _, scores, errors = figures[0].axes
    assert [line.get_label() for line in scores.lines] == ["pearson (picks the best epoch)", "spearmanr"]
    assert [list(line.get_ydata()) for line in errors.lines] == [[25.0, 3.0]]
    assert scores.get_ylim()[1] < 2 and "squared error" in errors.get_ylabel()
