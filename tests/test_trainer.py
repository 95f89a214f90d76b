"""The pretraining loop: exact resume, divergence handling, checkpoint files, learning, the CLI.

Everything runs on a tiny model (hidden 16) over a small made-up corpus with its own tiny
SentencePiece vocabulary, so each training run takes a second or two.
"""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from tinyalbert import AlbertForMaskedLM, AlbertForPreTraining, AlbertForSequenceClassification
from tinyalbert.train import trainer as trainer_module
from tinyalbert.train.arguments import MINI_CONFIG, TrainingArguments
from tinyalbert.train.checkpoints import (
    CHECKPOINT_DIR, FINAL_DIR, checkpoint_dir, export_pretrained, read_trainer_state, replace_directory,
)
from tinyalbert.train.history import NonFiniteLossError, plot_loss_curve
from tinyalbert.train.metrics import evaluate
from tinyalbert.train.optim import linear_warmup_then_decay
from tinyalbert.train.data import collate
from tinyalbert.train.prepare import (arguments_of_run, build_examples, encode_corpus, heldout_examples_of_run,
                                      prepare_run, split_documents, training_examples_of_run)
from tinyalbert.train.progress import Progress
from tinyalbert.train.text import read_documents
from tinyalbert.train.trainer import train

from bench_scripts import import_bench_module

REPO_ROOT = Path(__file__).resolve().parents[1]

# Parity of a saved checkpoint run by Transformers and by tinyalbert: float32 forward passes of
# a 2-layer model whose logits are O(1); summation order differences stay far below 1e-4.
LOGITS_ATOL = 1e-4

TINY_CONFIG = {
    "vocab_size": 100, "embedding_size": 8, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
    "intermediate_size": 32, "max_position_embeddings": 32, "hidden_act": "gelu_new",
    # Dropout on, so that exact resumption also has to restore the dropout generator.
    "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
}

ANIMALS = ["cat", "dog", "horse", "cow", "bird", "fish"]
FOODS = ["grass", "seeds", "meat", "milk", "bread", "worms"]
PLACES = ["field", "house", "river", "barn", "tree", "lake"]


def write_corpus(path: Path, num_documents: int = 48) -> Path:
    """A small, very regular English corpus: the same few sentence frames over and over."""
    lines = []
    for index in range(num_documents):
        animal, food, place = ANIMALS[index % 6], FOODS[(index * 5) % 6], PLACES[(index * 7) % 6]
        lines += [
            f"The {animal} lives in the {place}.",
            f"Every day the {animal} eats {food}.",
            f"A {animal} is an animal and {food} is food.",
            f"At night the {animal} sleeps near the {place}.",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Corpus, tokenizer directory and tiny config.json, made once for the module."""
    from tinyalbert.tokenizer import AlbertTokenizer, train_sentencepiece

    root = tmp_path_factory.mktemp("trainer")
    corpus = write_corpus(root / "corpus.txt")
    model_file = train_sentencepiece(corpus, root / "tok" / "spiece", 64, seed=0, hard_vocab_limit=False)
    AlbertTokenizer(model_file).save_pretrained(root / "tok")
    config = root / "tiny_config.json"
    config.write_text(json.dumps(TINY_CONFIG), encoding="utf-8")
    return {"root": root, "corpus": corpus, "tokenizer": root / "tok", "config": config}


def make_args(workspace, out, **overrides) -> TrainingArguments:
    values = dict(
        corpus=workspace["corpus"], out=out, config=str(workspace["config"]), tokenizer=str(workspace["tokenizer"]),
        steps=8, batch_size=4, max_seq_length=24, lr=3e-3, warmup_steps=2, save_every=3, log_every=2, seed=3,
        heldout_fraction=0.1,
    )
    values.update(overrides)
    return TrainingArguments(**values)


def run(args: TrainingArguments) -> dict:
    return train(args, stream=open(os.devnull, "w"))


def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module, "plot_loss_curve", lambda history, path: False)  # only costs time here
    for optimizer in ("adamw", "lamb"):
        straight = tmp_path / f"straight-{optimizer}"
        pieces = tmp_path / f"pieces-{optimizer}"
        run(make_args(workspace, straight, optimizer=optimizer))
        first = run(make_args(workspace, pieces, optimizer=optimizer, stop_at=4))
        assert first["step"] == 4 and "final" not in first
        assert read_trainer_state(pieces / CHECKPOINT_DIR)["step"] == 4
        run(make_args(workspace, pieces, optimizer=optimizer, stop_at=7, resume=True))
        run(make_args(workspace, pieces, optimizer=optimizer, resume=True))

        for name in ("model.safetensors", "optimizer.safetensors"):
            expected = load_file(str(straight / CHECKPOINT_DIR / name))
            got = load_file(str(pieces / CHECKPOINT_DIR / name))
            assert expected.keys() == got.keys()
            for key in expected:
                np.testing.assert_array_equal(got[key], expected[key], err_msg=f"{optimizer}: {name} {key}")
        expected_state = read_trainer_state(straight / CHECKPOINT_DIR)
        got_state = read_trainer_state(pieces / CHECKPOINT_DIR)
        assert got_state["history"] == expected_state["history"]
        assert got_state["dropout_rng"] == expected_state["dropout_rng"]
        assert [record["step"] for record in got_state["history"]] == list(range(1, 9))


def test_resume_refuses_changed_arguments_and_missing_checkpoints(workspace, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        run(make_args(workspace, tmp_path / "empty", resume=True))
    run(make_args(workspace, tmp_path / "run", stop_at=2))
    with pytest.raises(ValueError, match=r"lr \(checkpoint: 0.003, now: 0.01\)"):
        run(make_args(workspace, tmp_path / "run", lr=1e-2, resume=True))
    with pytest.raises(ValueError, match="already holds a checkpoint"):
        run(make_args(workspace, tmp_path / "run"))
    other_corpus = write_corpus(tmp_path / "other.txt", num_documents=47)
    with pytest.raises(ValueError, match="is not the text.*if its files did not change, the reading did"):
        run(make_args(workspace, tmp_path / "run", corpus=other_corpus, resume=True))


def test_learning_rate_follows_warmup_then_linear_decay(workspace, tmp_path):
    run(make_args(workspace, tmp_path / "run", steps=10, warmup_steps=4, lr=1e-3, save_every=100))
    history = read_trainer_state(tmp_path / "run" / CHECKPOINT_DIR)["history"]
    # Written out by hand: up over 4 steps, then down to 0 at step 10 (step index from 0).
    expected = [1e-3 * s / 4 if s < 4 else 1e-3 * (10 - s) / 6 for s in range(10)]
    np.testing.assert_allclose([record["lr"] for record in history], expected, rtol=1e-12)
    assert [record["lr"] for record in history] == [linear_warmup_then_decay(s, 4, 10, 1e-3) for s in range(10)]


def _nan_after(calls: int):
    """A loss_and_grads that turns the loss into nan from call number `calls` on."""
    original = AlbertForPreTraining.loss_and_grads
    count = {"calls": 0}

    def loss_and_grads(self, *args, **kwargs):
        loss, grads = original(self, *args, **kwargs)
        count["calls"] += 1
        return (loss * float("nan"), grads) if count["calls"] >= calls else (loss, grads)

    return loss_and_grads


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(workspace, tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(AlbertForPreTraining, "loss_and_grads", _nan_after(8))
    with pytest.raises(NonFiniteLossError) as raised:
        run(make_args(workspace, out, steps=20, save_every=3, log_every=4))
    message = str(raised.value)
    assert "loss is nan at step 8" in message and "step 6" in message and "\n" not in message
    # Saved at steps 3 and 6; the nan at step 8 was found at the step-8 log, before any save.
    assert read_trainer_state(out / CHECKPOINT_DIR)["step"] == 6
    saved = load_file(str(out / CHECKPOINT_DIR / "model.safetensors"))
    assert all(np.isfinite(value).all() for value in saved.values())
    assert not (out / FINAL_DIR).exists()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's overflow warnings on the way to inf
def test_exploding_learning_rate_is_reported_as_divergence(workspace, tmp_path):
    with pytest.raises(NonFiniteLossError, match="is (nan|inf) at step"):
        run(make_args(workspace, tmp_path / "run", lr=1e38, warmup_steps=0, clip_norm=0.0, steps=12))


@pytest.mark.filterwarnings("ignore:Some weights.*were not used")  # the masked LM has no pooler or SOP head
def test_checkpoints_load_in_tinyalbert_and_transformers(workspace, tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tinyalbert.tokenizer import AlbertTokenizer
    from tinyalbert.train.data import collate

    out = tmp_path / "run"
    summary = run(make_args(workspace, out, steps=6))
    saved = load_file(str(out / CHECKPOINT_DIR / "model.safetensors"))
    ours = AlbertForPreTraining.from_pretrained(out / CHECKPOINT_DIR)
    assert saved.keys() == ours.state_dict().keys()
    for key, value in saved.items():
        np.testing.assert_array_equal(ours.state_dict()[key], value)

    theirs, info = transformers.AlbertForPreTraining.from_pretrained(out / CHECKPOINT_DIR, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    theirs.eval()

    # The final directory is a complete model for masked-LM use.
    masked_lm = AlbertForMaskedLM.from_pretrained(out / FINAL_DIR)
    tokenizer = AlbertTokenizer.from_pretrained(out / FINAL_DIR)
    encoded = tokenizer(["the cat eats [MASK] in the field."], return_tensors="np")
    logits = masked_lm(**encoded).logits
    with torch.no_grad():
        reference = transformers.AlbertForMaskedLM.from_pretrained(out / FINAL_DIR).eval()(
            **{k: torch.from_numpy(v) for k, v in encoded.items()}).logits.numpy()
    np.testing.assert_allclose(logits, reference, atol=LOGITS_ATOL)

    # evaluate() against accuracies counted from Transformers' logits on the same examples.
    args = make_args(workspace, tmp_path / "unused")
    documents = read_documents(args.corpus)
    examples = build_examples(encode_corpus(documents[:12], tokenizer), tokenizer, args, np.random.default_rng(0))
    results = evaluate(ours, examples, batch_size=5)
    batch = collate(examples)
    with torch.no_grad():
        output = theirs(input_ids=torch.from_numpy(batch["input_ids"]),
                        attention_mask=torch.from_numpy(batch["attention_mask"]),
                        token_type_ids=torch.from_numpy(batch["token_type_ids"]))
    labels = torch.from_numpy(batch["labels"])
    masked = labels != -100
    mlm_accuracy = (output.prediction_logits.argmax(-1)[masked] == labels[masked]).double().mean().item()
    sop_labels = torch.from_numpy(batch["sentence_order_label"])
    sop_accuracy = (output.sop_logits.argmax(-1) == sop_labels).double().mean().item()
    mlm_loss = torch.nn.functional.cross_entropy(output.prediction_logits[masked], labels[masked]).item()
    assert results["num_masked"] == int(masked.sum())
    assert results["mlm_accuracy"] == pytest.approx(mlm_accuracy, abs=1e-12)
    assert results["sop_accuracy"] == pytest.approx(sop_accuracy, abs=1e-12)
    assert results["mlm_loss"] == pytest.approx(mlm_loss, rel=1e-4)
    assert summary["eval"]["num_examples"] > 0


def test_loss_goes_down_on_a_repetitive_corpus(workspace, tmp_path):
    summary = run(make_args(workspace, tmp_path / "run", steps=60, batch_size=16, lr=1e-2, warmup_steps=4,
                            save_every=100, log_every=5))
    history = read_trainer_state(tmp_path / "run" / CHECKPOINT_DIR)["history"]
    vocab_size = json.loads((tmp_path / "run" / FINAL_DIR / "config.json").read_text())["vocab_size"]
    first = np.mean([record["loss"] for record in history[:5]])
    last = np.mean([record["loss"] for record in history[-5:]])
    # Untrained, the MLM head predicts the piece frequencies (the output bias starts at their
    # logs), already well below the uniform log(vocab); SOP is at chance, log(2).
    assert first < math.log(vocab_size) + math.log(2) - 0.3
    assert last < first - 0.05, (first, last)
    # Guessing one piece right is 1/vocab; the frequent pieces of a repetitive corpus do far better.
    assert summary["eval"]["mlm_accuracy"] > 3 / vocab_size

    # The held-out set can be rebuilt from the run directory to evaluate other models on it.
    final = AlbertForPreTraining.from_pretrained(tmp_path / "run" / FINAL_DIR)
    common = np.isin(np.arange(vocab_size), summary["common_pieces"])
    again = evaluate(final, heldout_examples_of_run(tmp_path / "run"), common=common)
    assert again == pytest.approx(summary["eval"], rel=1e-6)


def test_training_examples_can_be_rebuilt_from_the_run_directory(workspace, tmp_path):
    for masking in ("static", "dynamic"):
        out = tmp_path / masking
        run(make_args(workspace, out, steps=2, masking=masking))
        trained_on = prepare_run(make_args(workspace, out, steps=2, masking=masking, resume=True)).iterator.columns
        rebuilt = collate(training_examples_of_run(out))
        assert rebuilt.keys() == trained_on.keys()
        for name in rebuilt:
            np.testing.assert_array_equal(rebuilt[name], trained_on[name], err_msg=f"{masking}: {name}")
        masked = int((rebuilt["labels"] != -100).sum())
        assert masked > 0 if masking == "static" else masked == 0  # dynamic masks are drawn at every step


def test_float16_export_loads_as_float32(workspace, tmp_path):
    run(make_args(workspace, tmp_path / "run", steps=2))
    exported = export_pretrained(tmp_path / "run" / FINAL_DIR, tmp_path / "exported", dtype="float16")
    with open(exported / "model.safetensors", "rb") as file:
        header = json.loads(file.read(int.from_bytes(file.read(8), "little")))
    assert {entry["dtype"] for name, entry in header.items() if name != "__metadata__"} == {"F16"}
    original = AlbertForPreTraining.from_pretrained(tmp_path / "run" / FINAL_DIR)
    widened = AlbertForPreTraining.from_pretrained(exported, dtype="float32")
    for name, value in original.state_dict().items():
        assert widened.state_dict()[name].dtype == np.float32
        # float16 keeps 11 significant bits: relative rounding error at most 2**-11.
        np.testing.assert_allclose(widened.state_dict()[name], value, rtol=2.0**-11, atol=1e-7)
    assert (exported / "spiece.model").is_file()


def test_held_out_documents_are_disjoint_from_training_ones():
    documents = [[f"sentence {index}."] for index in range(200)]
    training, heldout = split_documents(documents, 0.05, np.random.default_rng(0))
    assert len(heldout) == 10 and len(training) == 190
    assert sorted(training + heldout) == sorted(documents)
    assert not {d[0] for d in training} & {d[0] for d in heldout}
    with pytest.raises(ValueError, match="1 document: too few.*--heldout-fraction"):
        split_documents(documents[:1], 0.5, np.random.default_rng(0))


@pytest.mark.filterwarnings("ignore:Some weights.*were not used")  # the masked LM has no pooler or SOP head
def test_bundled_tinyalbert_mini_is_the_mini_shape_and_runs_like_transformers():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tinyalbert.tokenizer import AlbertTokenizer

    directory = REPO_ROOT / "tinyalbert" / "data" / "tinyalbert-mini"
    if not (directory / "model.safetensors").is_file():
        pytest.skip("the bundled model is not in this checkout")
    config = json.loads((directory / "config.json").read_text())
    assert {key: config[key] for key in MINI_CONFIG} == MINI_CONFIG
    model = AlbertForMaskedLM.from_pretrained("tinyalbert-mini")  # float16 on disk, float32 in memory
    assert {value.dtype for value in model.params.values()} == {np.dtype("float32")}
    tokenizer = AlbertTokenizer.from_pretrained("tinyalbert-mini")
    assert len(tokenizer) == config["vocab_size"] and tokenizer.model_max_length == config["max_position_embeddings"]
    encoded = tokenizer(["Paris is the capital and largest city of [MASK].", "A dog is a kind of [MASK]."],
                        padding=True, return_tensors="np")
    assert encoded["input_ids"].max() < config["vocab_size"]
    with torch.no_grad():
        reference = transformers.AlbertForMaskedLM.from_pretrained(directory).eval()(
            **{k: torch.from_numpy(v) for k, v in encoded.items()}).logits.numpy()
    np.testing.assert_allclose(model(**encoded).logits, reference, atol=LOGITS_ATOL)


def test_loss_curve_is_a_png_and_is_skipped_without_matplotlib(tmp_path, monkeypatch):
    history = [{"step": s, "loss": 5.0 - s / 10, "lr": 1e-3, "grad_norm": 1.0} for s in range(1, 21)]
    history[9].update(mlm_loss=4.0, sop_loss=0.69, mlm_accuracy=0.1, sop_accuracy=0.5)
    assert plot_loss_curve(history, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if not installed
    assert plot_loss_curve(history, tmp_path / "none.png") is False
    assert not (tmp_path / "none.png").exists()


def test_checkpoint_replacement_falls_back_to_the_previous_one(tmp_path):
    for step in (1, 2):
        new = tmp_path / f"new{step}"
        new.mkdir()
        (new / "trainer_state.json").write_text(json.dumps({"step": step}))
        replace_directory(new, tmp_path / CHECKPOINT_DIR)
    assert json.loads((checkpoint_dir(tmp_path) / "trainer_state.json").read_text())["step"] == 2
    assert not (tmp_path / (CHECKPOINT_DIR + ".old")).exists()
    # A save stopped between its two renames leaves only checkpoint.old: that one is used.
    os.replace(tmp_path / CHECKPOINT_DIR, tmp_path / (CHECKPOINT_DIR + ".old"))
    assert checkpoint_dir(tmp_path) == tmp_path / (CHECKPOINT_DIR + ".old")


def test_progress_line_shows_step_loss_accuracies_cosine_speed_and_eta(tmp_path):
    with open(tmp_path / "log.txt", "w") as stream:
        progress = Progress(200, 40, stream)
        progress.update(50, {"loss": 3.14159, "mlm_accuracy": 0.25, "mlm_accuracy_uncommon": 0.0625,
                             "sop_accuracy": 0.75, "final_layer_cosine": 0.5, "lr": 1e-4, "tokens_per_second": 12345.6})
        progress.write("a message")
        progress.close()
    lines = (tmp_path / "log.txt").read_text().splitlines()
    assert len(lines) == 2 and lines[1] == "a message"  # not a terminal: one plain line per update, no \r
    for part in ("step 50/200", "loss 3.1416", "mlm_acc 0.250", "acc_uncommon 0.062", "sop_acc 0.750", "cos 0.500",
                 "lr 1.00e-04", "12,346 tok/s", "step/s", "eta "):
        assert part in lines[0], part
    assert "\r" not in lines[0]


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="optimizer"):
        TrainingArguments(corpus="c", out="o", vocab_size=100, optimizer="sgd")
    with pytest.raises(ValueError, match="either tokenizer"):
        TrainingArguments(corpus="c", out="o", vocab_size=100, tokenizer="t")
    with pytest.raises(ValueError, match="warmup_steps"):
        TrainingArguments(corpus="c", out="o", vocab_size=100, steps=10, warmup_steps=11)
    assert TrainingArguments(corpus="c", out="o", steps=50).warmup_steps == 5


# --- the command line --------------------------------------------------------------------------
def cli(*arguments, cwd=REPO_ROOT):
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "tinyalbert.pretrain", *map(str, arguments)], cwd=cwd,
                          capture_output=True, text=True, env=environment, timeout=120)


def test_cli_trains_a_vocabulary_and_a_model_then_resumes(workspace, tmp_path):
    out = tmp_path / "run"
    common = ["--corpus", workspace["corpus"], "--out", out]
    result = cli(*common, "--config", workspace["config"], "--vocab-size", 60, "--steps", 6, "--stop-at", 3,
                 "--batch-size", 4, "--max-seq-length", 24, "--save-every", 2, "--log-every", 1)
    assert result.returncode == 0, result.stderr
    assert "step 3/3" in result.stderr and "tok/s" in result.stderr and "continue with --resume" in result.stderr
    assert "stopping at step 3 (--stop-at) of a 6-step schedule" in result.stderr  # the bar's ETA is to step 3
    assert (out / "tokenizer" / "spiece.model").is_file() and (out / "loss_curve.png").is_file()

    result = cli(*common, "--resume", "--stop-at", 2)  # a stop the checkpoint is already past
    assert result.returncode == 2 and "--stop-at 2 is not after step 3, where" in result.stderr
    assert "leave it out to go on to step 6" in result.stderr

    # Resuming needs no options but the paths: the rest comes from the checkpoint.
    result = cli(*common, "--resume")
    assert result.returncode == 0, result.stderr
    assert "step 6/6" in result.stderr and "held-out MLM accuracy" in result.stdout
    assert "outside the most frequent pieces" in result.stdout and "final-layer cosine" in result.stdout
    config = json.loads((out / FINAL_DIR / "config.json").read_text())
    assert config["hidden_size"] == 16 and config["vocab_size"] <= 60
    assert (out / FINAL_DIR / "spiece.model").is_file()

    result = cli(*common, "--resume", "--batch-size", 8)
    assert result.returncode == 2 and result.stderr.startswith("error: cannot resume with different arguments")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_finishes_the_step_saves_and_exits(workspace, tmp_path, signum):
    out = tmp_path / "run"
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OPENBLAS_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "tinyalbert.pretrain", "--corpus", str(workspace["corpus"]), "--out", str(out),
         "--config", str(workspace["config"]), "--tokenizer", str(workspace["tokenizer"]), "--steps", "100000",
         "--batch-size", "4", "--max-seq-length", "24", "--log-every", "1", "--save-every", "100000"],
        cwd=REPO_ROOT, env=environment, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stderr:
            if line.startswith("step 3/"):
                process.send_signal(signum)
                break
        rest = process.stderr.read()
        assert process.wait(timeout=60) == 128 + signum, rest  # 130 for Ctrl-C, 143 for SIGTERM
    finally:
        process.kill()
    assert "interrupted after step" in rest and signal.Signals(signum).name in rest and "--resume" in rest
    saved = read_trainer_state(out / CHECKPOINT_DIR)
    assert saved["step"] >= 3 and [record["step"] for record in saved["history"]] == list(range(1, saved["step"] + 1))


def test_cli_reports_usage_errors_on_one_line(workspace, tmp_path):
    missing = tmp_path / "no-such-corpus.txt"
    result = cli("--corpus", missing, "--out", tmp_path / "run", "--vocab-size", 60)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: corpus path {str(missing)!r} does not exist"

    result = cli("--corpus", workspace["corpus"], "--out", tmp_path / "run")
    assert result.returncode == 2 and "--vocab-size" in result.stderr and result.stderr.count("\n") == 1

    result = cli("--corpus", workspace["corpus"], "--out", tmp_path / "run", "--vocab-size", 60, "--steps", 0)
    assert result.returncode == 2 and "--steps" in result.stderr and result.stderr.count("\n") == 1


def test_cli_help_prints_the_options_without_a_traceback():
    result = cli("--help")
    assert result.returncode == 0 and result.stderr == ""
    assert "--corpus FILE_OR_DIR" in result.stdout and "--resume" in result.stdout


def test_cli_help_fits_an_80_column_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps the options to the terminal's width
    result = cli("--help")
    assert result.returncode == 0
    too_wide = [line for line in result.stdout.splitlines() if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)


def test_cli_says_when_the_cupy_backend_cannot_run(workspace, tmp_path):
    try:
        from tinyalbert.backend import get_backend

        get_backend("cupy")
        pytest.skip("CuPy and a GPU are available here")
    except RuntimeError:
        pass
    result = cli("--corpus", workspace["corpus"], "--out", tmp_path / "run", "--vocab-size", 60, "--backend", "cupy")
    assert result.returncode == 2
    assert result.stderr.startswith("error: backend 'cupy' needs CuPy") and result.stderr.count("\n") == 1


def test_cli_reports_divergence_with_exit_status_1(workspace, tmp_path):
    result = cli("--corpus", workspace["corpus"], "--out", tmp_path / "run", "--config", workspace["config"],
                 "--tokenizer", workspace["tokenizer"], "--steps", 12, "--batch-size", 4, "--max-seq-length", 24,
                 "--lr", 1e38, "--warmup-steps", 0, "--clip-norm", 0, "--log-every", 1)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: ") and "training stopped" in result.stderr


# --- the corpus script -------------------------------------------------------------------------
WORDNET_LINES = {
    # Lines in the format of WordNet's data.* files (wndb(5WN)), cut down to what the script reads.
    "noun": [
        "  1 This software and database is being provided to you, the LICENSEE, by Princeton University  ",
        "00000100 15 n 01 France 0 001 #p 00000400 n 0000 | a republic in western Europe  ",
        "00000200 15 n 02 Paris 0 City_of_Light 0 003 @i 00000300 n 0000 #p 00000100 n 0000 "
        "+ 00000900 a 0101 | the capital and largest city of France; center of culture; "
        '"she lived in Paris"  ',
        "00000300 15 n 01 national_capital 0 000 | the capital city of a nation  ",
        "00000400 15 n 01 Europe 0 000 | the second smallest continent  ",
    ],
    "verb": [
        "00000500 38 v 01 run 0 001 @ 00000600 v 0000 01 + 02 00 | move fast by using one's feet; "
        '"Don\'t run--you\'ll be out of breath"  ',
        "00000600 38 v 01 travel_rapidly 0 000 01 + 01 00 | move quickly  ",
    ],
    "adj": [
        "00000700 00 a 01 big(a) 0 001 ! 00000800 a 0101 | above average in size  ",
        "00000800 00 a 01 little 0 001 ! 00000700 a 0101 | limited in size  ",
    ],
    "adv": ["00000900 02 r 01 fast 0 000 | quickly or rapidly  "],
}


def _load_make_corpus():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_corpus", REPO_ROOT / "scripts" / "make_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_corpus_turns_synsets_into_sentences_and_documents(tmp_path):
    make_corpus = _load_make_corpus()
    for part, lines in WORDNET_LINES.items():
        (tmp_path / f"data.{part}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    documents = make_corpus.build_corpus(tmp_path, synsets_per_document=2)
    assert documents == [
        ["France is a republic in western Europe.", "France is part of Europe.",
         "Paris is the capital and largest city of France; center of culture.",
         "Paris is also called City of Light.", "Paris is a national capital.", "Paris is part of France.",
         "She lived in Paris."],
        ["National capital is the capital city of a nation.", "Europe is the second smallest continent."],
        ["To run is to move fast by using one's feet.", "To run is a way to travel rapidly.",
         "Don't run--you'll be out of breath.", "To travel rapidly is to move quickly."],
        ["Big means above average in size.", "Big is the opposite of little.",
         "Little means limited in size.", "Little is the opposite of big."],
        ["Fast means quickly or rapidly."],
    ]
    out = tmp_path / "corpus.txt"
    assert make_corpus.main(["--wordnet-dir", str(tmp_path), "--out", str(out), "--synsets-per-document", "2"]) == 0
    assert read_documents(out) == documents  # the trainer reads back what was written
    assert make_corpus.main(["--wordnet-dir", str(tmp_path / "missing"), "--out", str(out)]) == 2


def test_make_corpus_can_name_each_synset_once(tmp_path):
    make_corpus = _load_make_corpus()
    for part, lines in WORDNET_LINES.items():
        (tmp_path / f"data.{part}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    documents = make_corpus.build_corpus(tmp_path, synsets_per_document=2, name_once=True)
    # Later sentences of a synset say "It"; its quoted examples stay as written.
    assert documents[0] == [
        "France is a republic in western Europe.", "It is part of Europe.",
        "Paris is the capital and largest city of France; center of culture.",
        "It is also called City of Light.", "It is a national capital.", "It is part of France.",
        "She lived in Paris."]
    assert documents[2][:3] == ["To run is to move fast by using one's feet.", "It is a way to travel rapidly.",
                                "Don't run--you'll be out of breath."]
    assert documents[3] == ["Big means above average in size.", "It is the opposite of little.",
                            "Little means limited in size.", "It is the opposite of big."]
    out = tmp_path / "corpus.txt"
    assert make_corpus.main(["--wordnet-dir", str(tmp_path), "--out", str(out), "--synsets-per-document", "2",
                             "--name-once"]) == 0
    assert read_documents(out) == documents


def test_make_corpus_can_keep_only_the_meanings_in_everyday_use(tmp_path):
    make_corpus = _load_make_corpus()
    for part, lines in WORDNET_LINES.items():
        (tmp_path / f"data.{part}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # Sense keys "lemma%type:topic:lexical_id:head:head_id", then sense number and tag count. Paris
    # is tagged 2 + 1 times through two of its words; "run" in another meaning (lexical id 1), "fast"
    # as an adjective (type 3, not the adverb's 4) and "little" as a satellite (type 5) must not
    # count for the synsets here.
    (tmp_path / "cntlist.rev").write_text("\n".join([
        "paris%1:15:00:: 1 2", "city_of_light%1:15:00:: 1 1", "france%1:15:00:: 1 1", "run%2:38:00:: 1 5",
        "run%2:38:01:: 2 7", "fast%3:00:00:: 1 4", "little%5:00:00:small:00 1 2",
    ]) + "\n", encoding="utf-8")
    counts = make_corpus.read_tag_counts(tmp_path)
    synsets = make_corpus.read_synsets(tmp_path)
    by_key = {make_corpus._key(synset.pos, synset.offset): synset for synset in synsets}
    assert {synset.words[0]: make_corpus.tag_count(synset, counts, by_key) for synset in synsets} == {
        "France": 1, "Paris": 3, "national capital": 0, "Europe": 0, "run": 5, "travel rapidly": 0,
        "big": 0, "little": 0, "fast": 0}
    # A satellite adjective's key names the head of its cluster (the first word of the synset its
    # "&" pointer reaches), so that "dry" beside "arid" and beside "sober" are two keys.
    arid = make_corpus.parse_data_line("00002000 00 a 01 arid 0 001 & 00002100 a 0000 | lacking water  ")
    parched = make_corpus.parse_data_line("00002100 00 s 02 parched 0 dry(a) 2 001 & 00002000 a 0000 | very dry  ")
    with_arid = {**by_key, ("a", "00002000"): arid, ("a", "00002100"): parched}
    assert [make_corpus.sense_key(parched, index, with_arid) for index in (0, 1)] == [
        "parched%5:00:00:arid:00", "dry%5:00:02:arid:00"]
    assert make_corpus.sense_key(arid, 0, with_arid) == "arid%3:00:00::"
    documents = make_corpus.build_corpus(tmp_path, synsets_per_document=2, min_tag_count=2)
    # Paris and run stay; Paris still names France and the rare national capital it points to.
    assert documents == [
        ["Paris is the capital and largest city of France; center of culture.",
         "Paris is also called City of Light.", "Paris is a national capital.", "Paris is part of France.",
         "She lived in Paris."],
        ["To run is to move fast by using one's feet.", "To run is a way to travel rapidly.",
         "Don't run--you'll be out of breath."],
    ]
    assert make_corpus.build_corpus(tmp_path, synsets_per_document=2, min_tag_count=0) == make_corpus.build_corpus(
        tmp_path, synsets_per_document=2)
    out = tmp_path / "corpus.txt"
    assert make_corpus.main(["--wordnet-dir", str(tmp_path), "--out", str(out), "--synsets-per-document", "2",
                             "--min-tag-count", "2"]) == 0
    assert read_documents(out) == documents
    (tmp_path / "cntlist.rev").unlink()
    assert make_corpus.main(["--wordnet-dir", str(tmp_path), "--out", str(out), "--min-tag-count", "1"]) == 2
    with pytest.raises(SystemExit):
        make_corpus.main(["--wordnet-dir", str(tmp_path), "--out", str(out), "--min-tag-count", "-1"])


# --- bad input and failures: one `error:` line naming the file, exit 2, nothing half-made ------
def tiny_cli_options(workspace, out):
    return ["--corpus", workspace["corpus"], "--out", out, "--config", workspace["config"], "--tokenizer",
            workspace["tokenizer"], "--steps", 4, "--batch-size", 4, "--max-seq-length", 24, "--save-every", 2]


def run_main(arguments, capsys) -> tuple[int, str]:
    """`python -m tinyalbert.pretrain` in this process (so that a test can patch a write)."""
    from tinyalbert import pretrain

    status = pretrain.main([str(argument) for argument in arguments])
    return status, capsys.readouterr().err


def test_max_minutes_stops_with_a_checkpoint_that_resumes(workspace, tmp_path, capsys):
    out = tmp_path / "run"
    status, stderr = run_main(tiny_cli_options(workspace, out) + ["--max-minutes", 1e-9], capsys)
    assert status == 0, stderr
    assert "stopped after step 1 of 4 (time limit of 1e-09 minutes); continue with --resume" in stderr
    assert read_trainer_state(out / CHECKPOINT_DIR)["step"] == 1 and not (out / "final").exists()
    status, stderr = run_main(["--corpus", workspace["corpus"], "--out", out, "--resume"], capsys)
    assert status == 0, stderr
    assert read_trainer_state(out / CHECKPOINT_DIR)["step"] == 4 and (out / "final").is_dir()


def test_resuming_with_more_steps_says_how_the_learning_rate_moves(workspace, tmp_path, capsys):
    out = tmp_path / "run"
    options = tiny_cli_options(workspace, out) + ["--lr", 1e-3, "--warmup-steps", 2]
    assert run_main(options, capsys)[0] == 0  # 4 steps: the rate is back at 0 after the last
    resume = ["--corpus", workspace["corpus"], "--out", out, "--resume"]
    status, stderr = run_main(resume + ["--steps", 10], capsys)
    assert status == 0, stderr
    # Remade for 10 steps: 1e-3 * (1 - (4 - 2) / (10 - 2)) at the 5th step (index 4), by hand.
    assert ("--steps changed from 4 to 10: the learning rate of step 5 is 0.00075 (the checkpoint's schedule "
            "gave 0) and decays to 0 at step 10") in stderr
    history = read_trainer_state(out / CHECKPOINT_DIR)["history"]
    assert history[4]["step"] == 5 and history[4]["lr"] == pytest.approx(7.5e-4, rel=1e-12)
    status, stderr = run_main(resume, capsys)  # the same --steps: nothing to say
    assert status == 0 and "--steps changed" not in stderr
    status, stderr = run_main(resume + ["--steps", 6], capsys)
    assert status == 2
    assert stderr == f"error: --steps 6 ends before step 10, where {out / CHECKPOINT_DIR} already is: give --steps 10 or more\n"


def test_empty_corpus_is_an_error_and_leaves_no_out_directory(tmp_path, capsys):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n", encoding="utf-8")
    status, stderr = run_main(["--corpus", empty, "--out", tmp_path / "run", "--vocab-size", 60], capsys)
    assert status == 2 and stderr.splitlines()[-1] == f"error: the corpus {empty} holds no text"  # after reading
    assert not (tmp_path / "run").exists()


def test_out_that_is_a_file_or_cannot_be_written_is_an_error(workspace, tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    status, stderr = run_main(tiny_cli_options(workspace, a_file), capsys)
    assert status == 2 and stderr == f"error: --out {a_file} is a file, not a directory\n"
    status, stderr = run_main(tiny_cli_options(workspace, a_file / "run"), capsys)
    assert status == 2 and stderr.startswith(f"error: cannot write into --out {a_file / 'run'}")
    assert stderr.count("\n") == 1 and a_file.read_text() == "not a directory"


def test_out_without_write_permission_is_an_error(workspace, tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        status, stderr = run_main(tiny_cli_options(workspace, locked), capsys)
    finally:
        locked.chmod(0o700)
    assert status == 2 and stderr.startswith(f"error: cannot write into --out {locked}")
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("damage", ["truncated state", "missing key", "truncated model"])
def test_resume_from_a_damaged_checkpoint_names_the_file(workspace, tmp_path, capsys, damage):
    out = tmp_path / "run"
    assert run_main(tiny_cli_options(workspace, out) + ["--stop-at", 2], capsys)[0] == 0
    state_file = out / CHECKPOINT_DIR / "trainer_state.json"
    model_file = out / CHECKPOINT_DIR / "model.safetensors"
    if damage == "truncated state":
        state_file.write_text(state_file.read_text()[:100])
    elif damage == "missing key":
        state = json.loads(state_file.read_text())
        del state["data"]
        state_file.write_text(json.dumps(state))
    else:
        model_file.write_bytes(model_file.read_bytes()[:1000])
    before = sorted(path.name for path in out.iterdir())
    status, stderr = run_main(["--corpus", workspace["corpus"], "--out", out, "--resume"], capsys)
    named = model_file if damage == "truncated model" else state_file
    # the error on the last line, after the lines of the preparation
    assert status == 2 and stderr.splitlines()[-1].startswith("error: ") and str(named) in stderr.splitlines()[-1]
    assert sorted(path.name for path in out.iterdir()) == before  # nothing added, nothing half-made


def test_full_disk_while_saving_keeps_the_previous_checkpoint(workspace, tmp_path, capsys, monkeypatch):
    import errno

    from tinyalbert.train import checkpoints

    out = tmp_path / "run"
    assert run_main(tiny_cli_options(workspace, out) + ["--stop-at", 2], capsys)[0] == 0
    saved = (out / CHECKPOINT_DIR / "model.safetensors").read_bytes()

    def full_disk(arrays, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(checkpoints, "write_safetensors", full_disk)
    status, stderr = run_main(["--corpus", workspace["corpus"], "--out", out, "--resume"], capsys)
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert status == 2 and len(lines) == 1, stderr
    assert "No space left on device" in lines[0] and str(out) in lines[0]
    assert (out / CHECKPOINT_DIR / "model.safetensors").read_bytes() == saved
    assert read_trainer_state(out / CHECKPOINT_DIR)["step"] == 2
    assert sorted(path.name for path in out.iterdir() if path.name.startswith(".")) == []  # no temporary folder


@pytest.mark.parametrize("option, value", [("--clip-norm", "nan"), ("--max-minutes", "-1"), ("--lr", "nan")])
def test_nan_and_negative_limits_are_rejected_naming_the_option(workspace, tmp_path, capsys, option, value):
    status, stderr = run_main(tiny_cli_options(workspace, tmp_path / "run") + [option, value], capsys)
    assert status == 2 and stderr.startswith(f"error: {option} must be") and stderr.count("\n") == 1, stderr
    assert not (tmp_path / "run").exists()


def test_masking_options_and_seed_that_cannot_work_are_rejected_naming_them(workspace, tmp_path, capsys):
    for option, value, message in (("--masked-lm-prob", 0, "--masked-lm-prob must lie in (0, 1]"),
                                   ("--max-predictions-per-seq", 1000, "--max-predictions-per-seq must be at most "
                                                                       "max_seq_length - 3 = 21"),
                                   ("--seed", -5, "argument --seed: must be an integer >= 0")):
        status, stderr = run_main(tiny_cli_options(workspace, tmp_path / "run") + [option, value], capsys)
        assert status == 2 and stderr.startswith(f"error: {message}") and stderr.count("\n") == 1, stderr
        assert not (tmp_path / "run").exists()
    # Every token but [CLS] and the two [SEP]s may be predicted, and the default stays within that.
    assert TrainingArguments(corpus="c", out="o", vocab_size=60, max_seq_length=24,
                             max_predictions_per_seq=21).max_predictions_per_seq == 21
    assert TrainingArguments(corpus="c", out="o", vocab_size=60, max_seq_length=24,
                             masked_lm_prob=1.0).max_predictions_per_seq == 21


def test_a_config_file_is_read_whatever_its_name_ends_with(workspace, tmp_path):
    from tinyalbert.train.arguments import resolve_config

    renamed = tmp_path / "tiny_config.txt"
    renamed.write_text(workspace["config"].read_text())
    assert resolve_config(str(renamed)) == resolve_config(str(workspace["config"]))


def vocabulary_options(workspace, out, vocab_size):
    return ["--corpus", workspace["corpus"], "--out", out, "--config", workspace["config"], "--vocab-size", vocab_size,
            "--steps", 1, "--batch-size", 4, "--max-seq-length", 24]


def test_a_vocabulary_size_the_corpus_cannot_have_is_said_in_terms_of_vocab_size(workspace, tmp_path, capsys):
    status, stderr = run_main(vocabulary_options(workspace, tmp_path / "small", 8), capsys)
    assert status == 2 and stderr.splitlines()[-1].startswith("error: --vocab-size 8 is too small for this corpus")
    assert not (tmp_path / "small").exists()
    least = int(re.search(r"give --vocab-size (\d+) or more", stderr).group(1))
    # The minimum it names is the real one: one less fails, that many trains.
    assert run_main(vocabulary_options(workspace, tmp_path / "below", least - 1), capsys)[0] == 2
    status, stderr = run_main(vocabulary_options(workspace, tmp_path / "least", least), capsys)
    # (Pieces of a character or two make sentences longer than 21 tokens: a warning of its own.)
    assert status == 0 and "vocabulary pieces" not in stderr, stderr
    # More pieces than the corpus supports: trained anyway, with a warning giving the real size.
    status, stderr = run_main(vocabulary_options(workspace, tmp_path / "large", 5000), capsys)
    size = json.loads((tmp_path / "large" / FINAL_DIR / "config.json").read_text())["vocab_size"]
    assert status == 0 and size < 5000, stderr
    assert f"warning: the corpus supports only {size} vocabulary pieces, fewer than --vocab-size 5000" in stderr


def test_a_corpus_the_tokenizer_cannot_spell_is_refused_and_some_unknown_text_is_a_warning(workspace, tmp_path, capsys):
    from tinyalbert.tokenizer import AlbertTokenizer

    options = ["--config", workspace["config"], "--tokenizer", workspace["tokenizer"], "--steps", 1,
               "--batch-size", 4, "--max-seq-length", 24]
    chinese = tmp_path / "chinese.txt"  # the tokenizer knows no Chinese character: every word is <unk>
    document = "天雪世水界星月。\n火日雨界地火界木。\n月火你日雨界。"
    chinese.write_text("\n\n".join([document] * 40), encoding="utf-8")
    status, stderr = run_main(["--corpus", chinese, "--out", tmp_path / "chinese"] + options, capsys)
    assert status == 2 and not (tmp_path / "chinese").exists(), stderr
    last = stderr.splitlines()[-1]  # after the lines of the preparation
    assert re.match(r"error: \d+% of the corpus's tokens are <unk>", last) and "--vocab-size" in last

    english = read_documents(workspace["corpus"])
    mixed = tmp_path / "mixed.txt"  # a Russian word in every fourth sentence
    mixed.write_text("\n\n".join("\n".join(sentence + (" Москва" if index % 4 == 0 else "")
                                          for index, sentence in enumerate(document)) for document in english),
                     encoding="utf-8")
    status, stderr = run_main(["--corpus", mixed, "--out", tmp_path / "mixed"] + options, capsys)
    assert status == 0, stderr
    share = float(re.search(r"warning: ([\d.]+)% of the corpus's tokens are <unk>", stderr).group(1)) / 100
    tokenizer = AlbertTokenizer.from_pretrained(workspace["tokenizer"])
    pieces = [piece for document in read_documents(mixed) for sentence in document
              for piece in tokenizer.tokenize(sentence)]
    assert share == pytest.approx(pieces.count("<unk>") / len(pieces), abs=0.01)  # the training split's share


def test_tokenizer_paths_that_hold_no_tokenizer_say_what_one_needs(workspace, tmp_path, capsys):
    not_a_file = tmp_path / "tok"
    (not_a_file / "spiece.model").mkdir(parents=True)
    for tokenizer, fragment in ((not_a_file, f"{not_a_file / 'spiece.model'} is a directory"),
                                (tmp_path / "missing", "a tokenizer alone needs only spiece.model")):
        options = tiny_cli_options(workspace, tmp_path / "run")
        options[options.index("--tokenizer") + 1] = tokenizer
        status, stderr = run_main(options, capsys)
        assert status == 2 and stderr.splitlines()[-1].startswith("error: ") and fragment in stderr.splitlines()[-1]


def test_init_from_a_model_whose_pad_token_id_is_outside_its_vocabulary_is_refused(workspace, tmp_path, capsys):
    first = tmp_path / "first"
    run(make_args(workspace, first, steps=2))
    config = json.loads((first / FINAL_DIR / "config.json").read_text())
    (first / FINAL_DIR / "config.json").write_text(json.dumps({**config, "pad_token_id": 99999}))
    status, stderr = run_main(["--corpus", workspace["corpus"], "--out", tmp_path / "second", "--init-from",
                               first / FINAL_DIR, "--steps", 2, "--batch-size", 4, "--max-seq-length", 24], capsys)
    last = stderr.splitlines()[-1]
    assert status == 2 and last.startswith("error: ") and "pad_token_id 99999" in last, stderr


@pytest.mark.parametrize("edit, problem", [
    (lambda state: state["args"].update(bogus=1), "records argument(s) bogus"),
    (lambda state: state.update(args=list(state["args"].items())), "has args as a JSON list"),
    (lambda state: state.update(step=str(state["step"])), "has step '2'"),
    (lambda state: state["args"].update(lr="fast"), "records arguments that cannot work"),
], ids=["unknown argument", "args a list", "step a string", "an argument that cannot work"])
def test_resume_refuses_a_trainer_state_it_cannot_use_naming_the_file(workspace, tmp_path, capsys, edit, problem):
    out = tmp_path / "run"
    assert run_main(tiny_cli_options(workspace, out) + ["--stop-at", 2], capsys)[0] == 0
    state_file = out / CHECKPOINT_DIR / "trainer_state.json"
    state = json.loads(state_file.read_text())
    edit(state)
    state_file.write_text(json.dumps(state))
    status, stderr = run_main(["--corpus", workspace["corpus"], "--out", out, "--resume"], capsys)
    assert status == 2 and stderr.startswith(f"error: {state_file} {problem}") and stderr.count("\n") == 1, stderr


# --- the collapse fix and the metrics that show it ----------------------------------------------
def test_output_bias_starts_at_the_log_frequencies_of_the_training_targets(workspace, tmp_path):
    from tinyalbert.train.prepare import prepare_run

    run_ = prepare_run(make_args(workspace, tmp_path / "run"))
    bias = np.asarray(run_.model.params["predictions.bias"], dtype=np.float64)
    # Counted here, sentence by sentence, over the training documents (the run's split), specials left out.
    from tinyalbert.train.prepare import _generators

    args = make_args(workspace, tmp_path / "unused")
    training, _ = split_documents(read_documents(args.corpus), args.heldout_fraction,
                                  _generators(args.seed)["heldout_split"])
    ids = [i for document in training for sentence in document
           for i in run_.tokenizer.encode(sentence, add_special_tokens=False)]
    counts = np.bincount(ids, minlength=len(bias))
    expected = np.log((counts + 1) / (len(ids) + len(bias)))  # add-one smoothing, as documented
    np.testing.assert_allclose(bias, expected, rtol=1e-6)
    assert np.log(np.exp(bias).sum()) == pytest.approx(0.0, abs=1e-5)  # a log-distribution
    zero = prepare_run(make_args(workspace, tmp_path / "zero", output_bias_init="zero"))
    assert not np.any(np.asarray(zero.model.params["predictions.bias"]))


def test_final_layer_cosine_and_uncommon_accuracy_are_counted_as_defined():
    from tinyalbert.train.metrics import mean_pairwise_cosine

    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(2, 5, 4)) + 0.5
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0]])
    vectors = hidden[mask == 1]
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosines = units @ units.T
    expected = cosines[~np.eye(len(units), dtype=bool)].mean()
    assert float(mean_pairwise_cosine(hidden, mask)) == pytest.approx(expected, rel=1e-12)
    same = np.broadcast_to(hidden[:1, :1], hidden.shape)
    assert float(mean_pairwise_cosine(same, mask)) == pytest.approx(1.0)

    config = {**TINY_CONFIG, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    from tinyalbert import AlbertConfig
    from tinyalbert.train.data import PretrainingExample

    model = AlbertForPreTraining(AlbertConfig(**config), seed=1)
    input_ids = rng.integers(5, 100, size=(6, 12))
    labels = np.where(rng.random((6, 12)) < 0.5, rng.integers(5, 100, size=(6, 12)), -100)
    examples = [PretrainingExample(input_ids[i], np.zeros(12, int), np.ones(12, int), labels[i], i % 2)
                for i in range(6)]
    common = np.zeros(100, dtype=bool)
    common[5:40] = True
    results = evaluate(model, examples, batch_size=4, common=common)
    predicted = model(input_ids=input_ids).prediction_logits.argmax(-1)
    counted = labels != -100
    uncommon = counted & ~common[np.where(counted, labels, 0)]
    assert results["mlm_accuracy"] == pytest.approx((predicted == labels)[counted].mean())
    assert results["mlm_accuracy_uncommon"] == pytest.approx((predicted == labels)[uncommon].mean())
    assert 0 < results["final_layer_cosine"] < 1


def test_evaluate_reports_each_batch_it_has_done_and_gives_the_same_results():
    from tinyalbert import AlbertConfig
    from tinyalbert.train.data import PretrainingExample

    rng = np.random.default_rng(2)
    model = AlbertForPreTraining(AlbertConfig(**TINY_CONFIG), seed=1)
    examples = [PretrainingExample(rng.integers(5, 100, 12), np.zeros(12, int), np.ones(12, int),
                                   np.where(rng.random(12) < 0.3, rng.integers(5, 100, 12), -100), i % 2)
                for i in range(11)]
    done = []
    counted = evaluate(model, examples, batch_size=4, on_batch=done.append)
    assert done == [4, 4, 3]  # 11 examples in batches of 4
    assert counted == evaluate(model, examples, batch_size=4)


def test_a_zero_output_bias_collapses_every_seed_and_the_log_frequency_bias_spares_some(workspace, tmp_path):
    """The mechanism behind tinyalbert-mini's plateau, at a size that runs in seconds: a 6-layer
    shared ALBERT at a high learning rate (3e-3 after 8 warm-up steps) maps every token to the
    same final-layer vector (mean cosine -> 1) within 80 steps when the output bias starts at
    zero. Started at the log frequencies it often keeps the positions apart, not always: on an
    AMD EPYC, seeds 0-5 gave 0.996-1.000 at zero in all six, and 0.59, 0.26, 1.00, 0.29, 0.96,
    1.00 with the bias (which seeds collapse depends on the CPU's rounding). Hence four seeds:
    all must collapse at zero and at least one must stay apart with the bias."""
    config = {**TINY_CONFIG, "hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 6,
              "max_position_embeddings": 64, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    config_file = tmp_path / "six_layers.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    late_cosine = {"zero": [], "log-frequency": []}
    for seed in range(4):
        for init in late_cosine:
            out = tmp_path / f"{init}-{seed}"
            run(make_args(workspace, out, config=str(config_file), steps=80, batch_size=8, max_seq_length=32,
                          lr=3e-3, warmup_steps=8, save_every=1000, log_every=5, seed=seed, heldout_fraction=0.0,
                          output_bias_init=init))
            history = read_trainer_state(out / CHECKPOINT_DIR)["history"]
            cosines = [r["final_layer_cosine"] for r in history if "final_layer_cosine" in r]
            late_cosine[init].append(float(np.mean(cosines[-8:])))
    assert min(late_cosine["zero"]) > 0.98 and min(late_cosine["log-frequency"]) < 0.8, late_cosine


def test_a_new_run_that_fails_while_preparing_leaves_nothing_behind(workspace, tmp_path, capsys):
    out = tmp_path / "run"
    # The tokenizer is trained and saved, then the examples are too few for the batch size.
    status, stderr = run_main(["--corpus", workspace["corpus"], "--out", out, "--vocab-size", 60, "--config",
                               workspace["config"], "--max-seq-length", 24, "--batch-size", 100000], capsys)
    assert status == 2 and "fewer than batch_size" in stderr and not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    status, _ = run_main(["--corpus", workspace["corpus"], "--out", out, "--vocab-size", 60, "--config",
                          workspace["config"], "--max-seq-length", 24, "--batch-size", 100000], capsys)
    assert status == 2 and sorted(path.name for path in out.iterdir()) == ["notes.txt"]


def test_a_checkpoint_from_before_the_collapse_fix_resumes_with_its_old_settings(workspace, tmp_path, capsys):
    out = tmp_path / "run"
    old_settings = ["--output-bias-init", "zero", "--masking", "static", "--no-pack-documents"]
    assert run_main(tiny_cli_options(workspace, out) + old_settings + ["--stop-at", 2], capsys)[0] == 0
    state_file = out / CHECKPOINT_DIR / "trainer_state.json"
    state = json.loads(state_file.read_text())
    for name in ("output_bias_init", "masking", "pack_documents", "init_from"):  # as written before these existed
        del state["args"][name]
    state_file.write_text(json.dumps(state))
    assert arguments_of_run(out).masking == "static" and arguments_of_run(out).init_from is None
    status, stderr = run_main(["--corpus", workspace["corpus"], "--out", out, "--resume"], capsys)
    assert status == 0, stderr
    assert read_trainer_state(out / CHECKPOINT_DIR)["args"]["masking"] == "static"


def test_metrics_read_named_fields_whatever_the_config_says_about_return_dict():
    """A config may say return_dict=False (tuples); the trainer's metrics must not depend on it."""
    from tinyalbert import AlbertConfig
    from tinyalbert.train.metrics import batch_metric_sums

    rng = np.random.default_rng(0)
    ids = rng.integers(5, 100, size=(2, 6))
    batch = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids),
             "labels": np.where(rng.random(ids.shape) < 0.5, ids, -100), "sentence_order_label": np.array([0, 1])}
    common = np.zeros(100, dtype=bool)
    sums = {}
    for return_dict in (True, False):
        model = AlbertForPreTraining(AlbertConfig(**TINY_CONFIG, return_dict=return_dict), seed=0)
        sums[return_dict] = batch_metric_sums(model, batch, common)
    assert sums[True].keys() == sums[False].keys()
    for name in sums[True]:
        assert float(sums[True][name]) == float(sums[False][name]), name


# --- continued pretraining ----------------------------------------------------------------------
def test_init_from_continues_a_pretrained_model_with_its_config_and_tokenizer(workspace, tmp_path, capsys):
    first = tmp_path / "first"
    run(make_args(workspace, first, output_bias_init="zero"))
    trained = AlbertForPreTraining.from_pretrained(first / FINAL_DIR).params
    # A step at a vanishing learning rate: the continued model must still be the first one,
    # output bias included (it is trained, not re-initialized from the frequencies).
    second = tmp_path / "second"
    status, stderr = run_main(["--corpus", workspace["corpus"], "--out", second, "--init-from", first / FINAL_DIR,
                               "--steps", 2, "--batch-size", 4, "--max-seq-length", 24, "--lr", 1e-12,
                               "--heldout-fraction", 0.1], capsys)
    assert status == 0, stderr
    continued = AlbertForPreTraining.from_pretrained(second / FINAL_DIR).params
    assert continued.keys() == trained.keys()
    for name in trained:
        np.testing.assert_allclose(continued[name], trained[name], atol=1e-7, err_msg=name)
    assert json.loads((second / FINAL_DIR / "config.json").read_text())["hidden_size"] == TINY_CONFIG["hidden_size"]
    assert (second / "tokenizer" / "spiece.model").read_bytes() == (first / "tokenizer" / "spiece.model").read_bytes()
    # The recorded argument makes the run resumable like any other, from its own checkpoint: the
    # model it started from may be gone.
    shutil.rmtree(first / FINAL_DIR)
    status, stderr = run_main(["--corpus", workspace["corpus"], "--out", second, "--resume", "--steps", 3], capsys)
    assert status == 0, stderr
    assert read_trainer_state(second / CHECKPOINT_DIR)["args"]["init_from"] == str(first / FINAL_DIR)


def test_init_from_refuses_a_new_vocabulary_a_config_or_a_tokenizer_of_another_size(workspace, tmp_path, capsys):
    first = tmp_path / "first"
    run(make_args(workspace, first))
    base = ["--corpus", workspace["corpus"], "--init-from", first / FINAL_DIR, "--steps", 2, "--batch-size", 4,
            "--max-seq-length", 24]
    for extra, named in ((["--vocab-size", 60], "--vocab-size"), (["--config", "mini"], "--config")):
        status, stderr = run_main(base + ["--out", tmp_path / named] + extra, capsys)
        assert status == 2 and f"leave out {named}\n" in stderr and not (tmp_path / named).exists()
    status, stderr = run_main(base + ["--out", tmp_path / "other", "--tokenizer", "tinyalbert-mini"], capsys)
    assert status == 2 and "8000" in stderr and "word embeddings" in stderr


@pytest.mark.filterwarnings("ignore:Some weights were not in")
def test_init_from_a_classifier_for_three_labels_gets_a_two_way_sentence_order_head(workspace, tmp_path, capsys):
    """A model fine-tuned for 3 labels: its config would size the new sentence-order head 3-way,
    which the in-order / swapped loss cannot take (it failed mid-run with an IndexError)."""
    first = tmp_path / "first"
    run(make_args(workspace, first))
    classifier = tmp_path / "classifier"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its new classifier head
        model = AlbertForSequenceClassification.from_pretrained(first / FINAL_DIR, num_labels=3)
    model.save_pretrained(classifier)
    shutil.copytree(first / FINAL_DIR, classifier, dirs_exist_ok=True,
                    ignore=lambda folder, names: [n for n in names if n in ("config.json", "model.safetensors")])
    with pytest.warns(UserWarning, match="made for 3 labels; its sentence-order head is made for 2"):
        status, stderr = run_main(["--corpus", workspace["corpus"], "--out", tmp_path / "second", "--init-from",
                                   classifier, "--steps", 2, "--batch-size", 4, "--max-seq-length", 24], capsys)
    assert status == 0, stderr
    assert AlbertForPreTraining.from_pretrained(tmp_path / "second" / FINAL_DIR).config.num_labels == 2


@pytest.mark.filterwarnings("ignore:Some weights")
def test_init_from_a_pretraining_model_of_three_labels_trains_its_sentence_order_head_afresh(workspace, tmp_path,
                                                                                            capsys):
    """An AlbertForPreTraining saved with num_labels=3 has a 3-way sentence-order head, which does
    not fit the 2-way one: it is trained afresh (it was refused as a checkpoint that does not fit
    its config), and every other tensor is the saved model's."""
    first = tmp_path / "first"
    run(make_args(workspace, first))
    three = tmp_path / "three"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its new 3-way head
        model = AlbertForPreTraining.from_pretrained(first / FINAL_DIR, num_labels=3, ignore_mismatched_sizes=True)
    model.save_pretrained(three)
    shutil.copytree(first / FINAL_DIR, three, dirs_exist_ok=True,
                    ignore=lambda folder, names: [n for n in names if n in ("config.json", "model.safetensors")])
    with pytest.warns(UserWarning, match="made for 3 labels; its sentence-order head is made for 2 .* trained afresh"):
        status, stderr = run_main(["--corpus", workspace["corpus"], "--out", tmp_path / "second", "--init-from",
                                   three, "--steps", 1, "--batch-size", 4, "--max-seq-length", 24, "--lr", "1e-12"],
                                  capsys)
    assert status == 0, stderr
    second = AlbertForPreTraining.from_pretrained(tmp_path / "second" / FINAL_DIR)
    assert second.params["sop_classifier.classifier.weight"].shape[0] == 2
    # One step at lr 1e-12 leaves the body as it was saved: it was loaded, not made anew.
    np.testing.assert_allclose(second.params["albert.embeddings.word_embeddings.weight"],
                               model.params["albert.embeddings.word_embeddings.weight"], atol=1e-6)


# --- memorizing a small text: the proof that the collapse fix lets a model learn ------------------
FACT_ANIMALS = "cat dog horse cow bird fish sheep goat wolf bear lion mouse".split()
FACT_FOODS = "grass seeds meat milk bread worms fruit honey rice corn nuts leaves".split()
FACT_PLACES = "field house river barn tree lake forest cave farm garden hill desert".split()
FACT_COLORS = "red blue green black white brown yellow gray".split()


def write_facts(path: Path) -> Path:
    """Twelve short documents of arbitrary facts (a seeded draw, so nothing follows from a rule):
    the only way to fill in "the cat lives in the [MASK]" is to have learnt the text."""
    rng = np.random.default_rng(0)
    lines = []
    for animal in FACT_ANIMALS:
        food, place, color = FACT_FOODS[rng.integers(12)], FACT_PLACES[rng.integers(12)], FACT_COLORS[rng.integers(8)]
        lines += [f"The {animal} lives in the {place}.", f"Every day the {animal} eats {food}.",
                  f"The {animal} is {color} and likes the {place}.", f"At night the {animal} sleeps near the {place}.", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_the_new_settings_memorize_a_small_text_where_the_old_ones_do_not(tmp_path):
    """The cheap version of bench/memorize.py's proof on 20 WordNet documents: a 4-layer shared
    ALBERT at lr 3e-3, from scratch, 1600 steps, on twelve documents of facts. With the new
    settings (log-frequency output bias, fresh masks every pass, packed documents) it learns the
    text: asked under ten new masks of its training examples, it gets the content words right
    (measured on an AMD EPYC: 97-99% for seeds 0-3; 84-87% after 1200 steps). With the old ones
    (bias at zero, one fixed mask per example, documents apart) it cannot, whether or not it
    leaves the plateau: most words were never its targets (measured: 7% and 19% for seeds 0, 1).
    docs/tinyalbert-mini.md has the 6-layer, 2000-step version of this table.

    The bias alone is not compared here: with fresh masks and the bias at zero, 4 of 7 seeds
    left the plateau and learnt the text too, and which ones depends on the CPU's rounding
    (docs/tinyalbert-mini.md). The collapse itself is
    test_a_zero_output_bias_collapses_every_seed_and_the_log_frequency_bias_spares_some."""
    fresh_mask_scores = import_bench_module("memorize").fresh_mask_scores
    corpus = write_facts(tmp_path / "facts.txt")
    config = {"vocab_size": 8000, "embedding_size": 32, "hidden_size": 64, "num_hidden_layers": 4,
              "num_attention_heads": 2, "intermediate_size": 256, "max_position_embeddings": 64,
              "hidden_act": "gelu_new", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    settings = {"new": {}, "old": {"output_bias_init": "zero", "masking": "static", "pack_documents": False}}
    content_accuracy = {}
    for name, chosen in settings.items():
        out = tmp_path / name
        run(TrainingArguments(corpus=str(corpus), out=str(out), config=str(config_file), tokenizer="tinyalbert-mini",
                              steps=1600, batch_size=8, max_seq_length=32, lr=3e-3, warmup_steps=160,
                              save_every=100_000, log_every=1000, seed=0, heldout_fraction=0.0, **chosen))
        scores = fresh_mask_scores(out, read_documents(corpus), fresh_masks=10)["same_examples"]
        assert scores["content_targets"] > 150
        content_accuracy[name] = scores["accuracy_content"]
    assert content_accuracy["new"] >= 0.9 and content_accuracy["old"] <= 0.4, content_accuracy


def test_the_from_scratch_gpu_config_fits_the_bundled_model_size():
    """bench/gpu_session.sh START=scratch trains bench/mini_h512.json; the bundled model may take
    about 16 MB, and it is exported in float16."""
    from tinyalbert.models import AlbertForPreTraining
    from tinyalbert.train.arguments import resolve_config

    config = resolve_config(str(REPO_ROOT / "bench" / "mini_h512.json"))
    assert (config.hidden_size, config.num_attention_heads, config.intermediate_size) == (512, 8, 2048)
    parameters = sum(math.prod(shape) for shape in AlbertForPreTraining.parameter_shapes(config).values())
    assert config.vocab_size == 16000 and 5.5e6 < parameters < 5.8e6
    assert 2 * parameters < 16 * 2**20


# --- carrying a run from one GPU lease to the next (bench/carry_run.py) ----------------------------
def test_bfloat16_rounding_goes_to_the_nearest_and_ties_to_even():
    carry = import_bench_module("carry_run")
    # bfloat16 keeps 7 mantissa bits: next to 1.0 the steps are 2**-7 apart.
    values = np.array([1.0, 1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20, -2.0, 3e-30, 0.0], dtype=np.float32)
    bits = carry.to_bfloat16_bits(values)
    expected = [0x3F80, 0x3F80, 0x3F82, 0x3F81, 0xC000]
    assert bits[:5].tolist() == expected
    back = carry.from_bfloat16_bits(bits)
    assert back[6] == 0 and abs(back[5] - 3e-30) <= 2**-8 * 3e-30
    with pytest.raises(ValueError, match="inf or nan"):
        carry.to_bfloat16_bits(np.array([1.0, np.inf], dtype=np.float32))


def test_a_run_carried_to_another_directory_resumes_where_it_stopped(workspace, tmp_path, monkeypatch):
    """pack (moments rounded to bfloat16, cut into parts), unpack elsewhere, --resume: the same
    steps, data and generators as the run that never stopped; only the moments' rounding differs."""
    monkeypatch.setattr(trainer_module, "plot_loss_curve", lambda history, path: False)
    carry = import_bench_module("carry_run")
    straight, stopped, carried = tmp_path / "straight", tmp_path / "stopped", tmp_path / "carried"
    run(make_args(workspace, straight))
    run(make_args(workspace, stopped, stop_at=4))
    parts = carry.pack(stopped, tmp_path / "parts", part_bytes=20_000)
    assert len(parts) >= 2 and all(part.stat().st_size <= 20_000 for part in parts)
    assert parts[-1].name.endswith(f".tar.{len(parts):02d}of{len(parts):02d}")
    carry.unpack(tmp_path / "parts", carried)

    original, rebuilt = stopped / CHECKPOINT_DIR, carried / CHECKPOINT_DIR
    assert read_trainer_state(rebuilt) == read_trainer_state(original)
    for key, value in load_file(str(original / "model.safetensors")).items():
        np.testing.assert_array_equal(load_file(str(rebuilt / "model.safetensors"))[key], value)
    moments, rounded = load_file(str(original / "optimizer.safetensors")), load_file(str(rebuilt / "optimizer.safetensors"))
    assert moments.keys() == rounded.keys()
    for key, value in moments.items():
        assert rounded[key].dtype == np.float32 and not np.array_equal(rounded[key], value)
        assert np.all(np.abs(rounded[key] - value) <= 2**-8 * np.abs(value)), key

    run(make_args(workspace, carried, resume=True))
    expected_state, got_state = read_trainer_state(straight / CHECKPOINT_DIR), read_trainer_state(rebuilt)
    assert got_state["data"] == expected_state["data"] and got_state["dropout_rng"] == expected_state["dropout_rng"]
    assert [r["step"] for r in got_state["history"]] == list(range(1, 9))
    assert got_state["history"][:4] == expected_state["history"][:4]
    for got, expected in zip(got_state["history"][4:], expected_state["history"][4:]):
        assert got["loss"] == pytest.approx(expected["loss"], rel=1e-3)
    # An AdamW step moves a weight by about lr * m / sqrt(v), |m / sqrt(v)| <= about 1; the rounded
    # moments change that ratio by at most about 1.5 * 2**-8. Over the 4 resumed steps (lr 3e-3) the
    # weights may part by 4 * 3e-3 * 2**-6 (a margin of 2.7 for the gradients of parted weights),
    # against some 1e-2 that a weight moves in those steps.
    expected_weights = load_file(str(straight / CHECKPOINT_DIR / "model.safetensors"))
    for key, value in load_file(str(rebuilt / "model.safetensors")).items():
        np.testing.assert_allclose(value, expected_weights[key], rtol=0, atol=4 * 3e-3 * 2**-6, err_msg=key)


def test_unpacking_refuses_missing_damaged_or_mixed_parts_and_an_existing_checkpoint(workspace, tmp_path):
    carry = import_bench_module("carry_run")
    run(make_args(workspace, tmp_path / "run", stop_at=2))
    parts = carry.pack(tmp_path / "run", tmp_path / "parts", part_bytes=20_000)
    with pytest.raises(FileExistsError, match="exists"):
        carry.unpack(tmp_path / "parts", tmp_path / "run")
    (tmp_path / "mixed").mkdir()
    for part in parts:  # an earlier lease's parts, to be left beside the new ones
        shutil.copy(part, tmp_path / "mixed" / part.name)
    run(make_args(workspace, tmp_path / "run", stop_at=3, resume=True))
    later = carry.pack(tmp_path / "run", tmp_path / "parts", part_bytes=20_000)
    assert sorted((tmp_path / "parts").iterdir()) == sorted(later)  # the earlier archive's parts are gone
    for part in later:
        shutil.copy(part, tmp_path / "mixed" / part.name)
    with pytest.raises(ValueError, match="parts of 2 archives"):
        carry.unpack(tmp_path / "mixed", tmp_path / "elsewhere")
    damaged = bytearray(later[1].read_bytes())
    damaged[100] ^= 1
    later[1].write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="do not join into the archive they name"):
        carry.unpack(tmp_path / "parts", tmp_path / "elsewhere")
    later[1].unlink()
    with pytest.raises(FileNotFoundError, match="parts missing"):
        carry.unpack(tmp_path / "parts", tmp_path / "elsewhere")
    assert carry.main(["unpack", str(tmp_path / "nothing"), str(tmp_path / "elsewhere")]) == 1
    assert not (tmp_path / "elsewhere" / CHECKPOINT_DIR).exists()


def test_numpy_integers_are_counts_and_bools_strings_and_none_are_refused():
    # NumPy integers (an array's element, a value from np.arange) are whole numbers: stored as
    # Python ints, so that the trainer state is plain JSON.
    args = TrainingArguments(corpus="c", out="o", vocab_size=100, steps=np.int64(40), seed=np.int64(1),
                             lr=np.float32(1e-3))
    assert (args.steps, args.seed, args.warmup_steps) == (40, 1, 4)
    assert type(args.steps) is int and type(args.seed) is int and type(args.lr) is float
    json.dumps(args.to_dict())
    for field, value in (("steps", True), ("seed", False), ("warmup_steps", 1.5), ("batch_size", 2.0),
                         ("lr", "1e-3"), ("clip_norm", None), ("masked_lm_prob", "0.15")):
        with pytest.raises(ValueError, match=f"{field} must be"):
            TrainingArguments(corpus="c", out="o", vocab_size=100, **{field: value})


@pytest.mark.parametrize("options, message", [
    (["--init-from", "tinyalbert-mini"], "--init-from brings its own config and vocabulary: leave out --config"),
    (["--warmup-steps", 9], "--warmup-steps 9 is more than --steps 4: the warm-up must end by the last step"),
])
def test_options_that_exclude_each_other_are_named_as_typed(workspace, tmp_path, capsys, options, message):
    """The command line names its options (--config), not the fields of TrainingArguments (config),
    and only those that were given."""
    status, stderr = run_main(tiny_cli_options(workspace, tmp_path / "run") + options, capsys)
    assert status == 2
    assert f"error: {message}\n" in stderr


def test_a_stop_at_stop_names_the_option(workspace, tmp_path, capsys):
    status, stderr = run_main(tiny_cli_options(workspace, tmp_path / "run") + ["--stop-at", 1], capsys)
    assert status == 0, stderr
    assert "stopped after step 1 of 4 (--stop-at 1); continue with --resume" in stderr


def test_make_corpus_without_wordnet_says_where_wordnet_comes_from(tmp_path, capsys):
    make_corpus = _load_make_corpus()
    status = make_corpus.main(["--wordnet-dir", str(tmp_path), "--out", str(tmp_path / "corpus.txt")])
    assert status == 2
    error = capsys.readouterr().err
    assert f"{tmp_path / 'data.noun'} not found" in error and "apt-get install wordnet-base" in error


def test_a_resumed_runs_warmup_above_fewer_steps_is_named_as_the_checkpoints(workspace, tmp_path, capsys):
    """--resume --steps N below the checkpoint's warm-up: the error named --warmup-steps as if
    it had been typed."""
    out = tmp_path / "run"
    status, stderr = run_main(tiny_cli_options(workspace, out) + ["--warmup-steps", 3, "--stop-at", 1], capsys)
    assert status == 0, stderr
    status, stderr = run_main(["--corpus", workspace["corpus"], "--out", out, "--resume", "--steps", 2], capsys)
    assert status == 2
    assert "error: --warmup-steps 3 (the checkpoint's) is more than --steps 2" in stderr
