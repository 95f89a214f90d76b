"""The pretraining loop: corpus -> tokenizer -> examples -> steps -> checkpoints -> final model.

    from tinyalbert.train.trainer import TrainingArguments, train
    summary = train(TrainingArguments(corpus="corpus.txt", config="mini", out="runs/mini", vocab_size=8000))

or from the shell, `python -m tinyalbert.pretrain --corpus corpus.txt --config mini --out runs/mini
--vocab-size 8000`. One step is

    loss, grads = model.loss_and_grads(batch)          # hand-written backprop (tinyalbert.nn)
    grads, grad_norm = clip_grad_global_norm(grads)    # one scale for all gradients together
    model.params = optimizer.step(model.params, grads, lr_schedule(step))

and everything around it is bookkeeping, each piece a small function below:

- `OUT/tokenizer/`: the SentencePiece vocabulary (trained here with `--vocab-size`, or copied).
- `OUT/checkpoint/`: written every `save_every` steps into a temporary folder that then
  replaces the old one, so a crash leaves either the old checkpoint or the new one, never half
  of each. It holds the model (`model.safetensors` + `config.json`, loadable by Transformers),
  the tokenizer, the optimizer moments (`optimizer.safetensors`) and `trainer_state.json`:
  step, data-iterator position, dropout generator state, arguments and the loss history.
  Everything a step depends on is in there, so `--resume` continues bit for bit (on NumPy).
- `OUT/loss_curve.png`: the history drawn at every save and at the end.
- `OUT/final/`: the trained model and tokenizer, for `from_pretrained`.

Losses stay on the device between log steps: reading one forces the host to wait for the
GPU, so the loop reads them in a batch every `log_every` steps (and before each save). A
non-finite loss found then stops the run without saving, so the last checkpoint on disk is
always one made from finite losses.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence, TextIO

import numpy as np

from ..backend import array_namespace, asarray, get_backend, to_numpy
from ..config import AlbertConfig
from ..models import AlbertForPreTraining
from ..nn.losses import cross_entropy_forward
from ..weights import write_safetensors
from .data import (
    IGNORE_INDEX, PretrainingExample, SpecialIds, batches, collate, create_pretraining_examples, read_documents,
    word_start_ids_from_pieces,
)
from .optim import LAMB, AdamW, clip_grad_global_norm, linear_warmup_then_decay

CHECKPOINT_DIR = "checkpoint"
FINAL_DIR = "final"
TOKENIZER_DIR = "tokenizer"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "trainer_state.json"
LOSS_CURVE_FILE = "loss_curve.png"
EVAL_FILE = "eval_results.json"

# The bundled `tinyalbert-mini`: albert-base's recipe (factorized E=128 embeddings, one shared
# layer, gelu_new, no dropout in the body as in the v2 models) at a size a CPU can train.
MINI_CONFIG = dict(
    embedding_size=128, hidden_size=256, num_hidden_layers=6, num_hidden_groups=1, inner_group_num=1,
    num_attention_heads=4, intermediate_size=1024, hidden_act="gelu_new", hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0, max_position_embeddings=128,
)
CONFIG_ALIASES = {"base": "albert-base-v2", "large": "albert-large-v2", "xlarge": "albert-xlarge-v2",
                  "xxlarge": "albert-xxlarge-v2"}

# Arguments that decide what the steps compute; a resumed run must keep them. (The corpus is
# compared by content, see `corpus_fingerprint`, so that it may be named by another path.)
RUN_DEFINING = (
    "config", "batch_size", "max_seq_length", "lr", "warmup_steps", "optimizer", "weight_decay",
    "clip_norm", "seed", "masked_lm_prob", "max_predictions_per_seq", "short_seq_prob", "dupe_factor",
    "heldout_fraction",
)


@dataclass
class TrainingArguments:
    """Everything a pretraining run depends on; `python -m tinyalbert.pretrain --help` explains each."""

    corpus: str
    out: str
    config: str = "mini"
    tokenizer: str | None = None  # a tokenizer directory or spiece.model
    vocab_size: int | None = None  # ... or train a SentencePiece vocabulary of this size
    steps: int = 1000
    batch_size: int = 32
    max_seq_length: int = 128
    lr: float = 5e-4
    warmup_steps: int | None = None  # default: 10% of steps
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    clip_norm: float = 1.0  # 0 turns clipping off
    seed: int = 0
    save_every: int = 200
    log_every: int = 10
    backend: str = "numpy"
    resume: bool = False
    stop_at: int | None = None  # stop after this step (checkpointed), the schedule still made for `steps`
    max_minutes: float | None = None  # stop (checkpointed) once this much wall time has passed
    masked_lm_prob: float = 0.15
    max_predictions_per_seq: int | None = None  # default: round(masked_lm_prob * max_seq_length)
    short_seq_prob: float = 0.1
    dupe_factor: int = 1
    heldout_fraction: float = 0.01
    eval_batch_size: int = 32

    def __post_init__(self):
        self.corpus, self.out = str(self.corpus), str(self.out)
        if self.warmup_steps is None:
            self.warmup_steps = self.steps // 10
        if self.max_predictions_per_seq is None:
            self.max_predictions_per_seq = max(1, round(self.masked_lm_prob * self.max_seq_length))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first argument that cannot work."""
        for name in ("steps", "batch_size", "max_seq_length", "save_every", "log_every", "dupe_factor",
                     "eval_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.max_seq_length < 5:
            raise ValueError(f"max_seq_length must be at least 5 ([CLS] A [SEP] B [SEP]), got {self.max_seq_length}")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps must lie in [0, steps={self.steps}], got {self.warmup_steps}")
        if self.optimizer not in ("adamw", "lamb"):
            raise ValueError(f"optimizer must be 'adamw' or 'lamb', got {self.optimizer!r}")
        if not self.lr > 0 or not math.isfinite(self.lr):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if self.weight_decay < 0 or self.clip_norm < 0:
            raise ValueError("weight_decay and clip_norm must be >= 0")
        if not 0.0 <= self.heldout_fraction < 1.0:
            raise ValueError(f"heldout_fraction must lie in [0, 1), got {self.heldout_fraction}")
        if self.stop_at is not None and self.stop_at < 1:
            raise ValueError(f"stop_at must be a positive step number, got {self.stop_at}")
        if self.tokenizer is not None and self.vocab_size is not None:
            raise ValueError("give either tokenizer (an existing vocabulary) or vocab_size (train one), not both")
        if self.vocab_size is not None and self.vocab_size < 8:
            raise ValueError(f"vocab_size must be at least 8 (5 special pieces and some text), got {self.vocab_size}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class StopOnInterrupt:
    """Within the block, Ctrl-C (SIGINT) only sets `requested`, so the loop can finish the step
    in progress and save a consistent checkpoint; a second Ctrl-C interrupts at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


class NonFiniteLossError(RuntimeError):
    """The loss (or the gradient norm) became inf or nan; the run stopped without saving."""


class TrainingInterrupted(RuntimeError):
    """Ctrl-C during training; the state after the last finished step was saved."""


# --- configuration and tokenizer ---------------------------------------------------------------
def resolve_config(spec: str) -> AlbertConfig:
    """`mini`, `base` (large, xlarge, xxlarge: the v2 shapes), any `albert-*-v*` preset name,
    or a path to a config.json (or to a directory holding one)."""
    if spec == "mini":
        return AlbertConfig(**MINI_CONFIG)
    name = CONFIG_ALIASES.get(spec, spec)
    if name.startswith("albert-") and not Path(spec).exists():
        return AlbertConfig.preset(name)
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"config {spec!r} is neither mini, base, a preset name nor an existing config.json")
    return AlbertConfig.from_pretrained(path)


def corpus_sentences(documents: Sequence[Sequence[str]]):
    for document in documents:
        yield from document


def corpus_fingerprint(documents: Sequence[Sequence[str]]) -> str:
    """A short hash of the documents' text, to recognise the corpus a checkpoint was trained on."""
    digest = hashlib.sha256()
    for document in documents:
        digest.update("\n".join(document).encode("utf-8") + b"\n\n")
    return digest.hexdigest()[:16]


def prepare_tokenizer(args: TrainingArguments, documents, out: Path, model_max_length: int):
    """The run's tokenizer, saved into OUT/tokenizer: the one already there (a resumed run),
    the one given with `tokenizer`, or a new SentencePiece model of `vocab_size` pieces."""
    from ..tokenizer import AlbertTokenizer, train_sentencepiece

    saved = out / TOKENIZER_DIR
    if args.resume and (saved / "spiece.model").is_file():
        return AlbertTokenizer.from_pretrained(saved)
    if args.tokenizer is not None:
        tokenizer = AlbertTokenizer.from_pretrained(args.tokenizer)
    elif args.vocab_size is not None:
        # hard_vocab_limit=False: a small corpus may support fewer pieces than asked for.
        model_file = train_sentencepiece(
            corpus_sentences(documents), saved / "spiece", args.vocab_size, seed=args.seed,
            hard_vocab_limit=False,
        )
        tokenizer = AlbertTokenizer(model_file)
    else:
        raise ValueError("give a tokenizer (--tokenizer DIR_OR_spiece.model) or a vocabulary size to train one "
                         "(--vocab-size N)")
    tokenizer.model_max_length = model_max_length
    tokenizer.save_pretrained(saved)
    return AlbertTokenizer.from_pretrained(saved)


def special_ids_of(tokenizer) -> SpecialIds:
    return SpecialIds(cls=tokenizer.cls_token_id, sep=tokenizer.sep_token_id, mask=tokenizer.mask_token_id,
                      pad=tokenizer.pad_token_id)


# --- data --------------------------------------------------------------------------------------
def split_documents(documents: list, heldout_fraction: float, rng: np.random.Generator) -> tuple[list, list]:
    """(training, held-out) documents: a random `heldout_fraction` of them (at least one when
    the fraction is not 0) is kept out of training for `evaluate`."""
    num_heldout = 0 if heldout_fraction == 0 else max(1, round(len(documents) * heldout_fraction))
    if num_heldout >= len(documents):
        raise ValueError(f"the corpus has {len(documents)} documents: too few to hold {num_heldout} out "
                         "(lower heldout_fraction or add documents)")
    heldout = set(rng.permutation(len(documents))[:num_heldout].tolist())
    training = [document for index, document in enumerate(documents) if index not in heldout]
    held = [document for index, document in enumerate(documents) if index in heldout]
    return training, held


def encode_corpus(documents: Sequence[Sequence[str]], tokenizer) -> list[list[list[int]]]:
    """Sentence strings -> token ids, all sentences in one batched tokenizer call."""
    sentences = list(corpus_sentences(documents))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*model_max_length.*")  # long sentences get cut into pairs
        ids = tokenizer(sentences, add_special_tokens=False, return_attention_mask=False,
                        return_token_type_ids=False)["input_ids"] if sentences else []
    encoded, start = [], 0
    for document in documents:
        sentence_ids = [list(s) for s in ids[start : start + len(document)] if len(s)]
        start += len(document)
        if sentence_ids:
            encoded.append(sentence_ids)
    return encoded


def build_examples(documents, tokenizer, args: TrainingArguments, rng: np.random.Generator) -> list[PretrainingExample]:
    """Masked sentence-order examples (see `tinyalbert.train.data`) from documents of text."""
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return create_pretraining_examples(
        encode_corpus(documents, tokenizer), special_ids_of(tokenizer), len(tokenizer), rng,
        max_seq_length=args.max_seq_length, max_predictions_per_seq=args.max_predictions_per_seq,
        masked_lm_prob=args.masked_lm_prob, short_seq_prob=args.short_seq_prob, dupe_factor=args.dupe_factor,
        word_start_ids=word_start_ids_from_pieces(pieces),
    )


def to_device(xp, batch: dict) -> dict:
    return {name: asarray(xp, value) for name, value in batch.items()}


# --- one step ----------------------------------------------------------------------------------
def make_optimizer(args: TrainingArguments):
    optimizer_class = AdamW if args.optimizer == "adamw" else LAMB
    return optimizer_class(weight_decay=args.weight_decay)


def global_norm(grads: dict):
    """sqrt of the sum of squares of every gradient entry: a 0-d device array."""
    xp = array_namespace(*grads.values())
    return xp.sqrt(sum(xp.sum(grad * grad) for grad in grads.values()))


def train_step(model, optimizer, batch: dict, lr: float, clip_norm: float):
    """One update of `model.params` on `batch` (device arrays). Returns (loss, grad_norm), both
    0-d device arrays, not read here so that nothing waits for the device."""
    loss, grads = model.loss_and_grads(
        batch["input_ids"], batch["labels"], batch["sentence_order_label"],
        attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"],
    )
    if clip_norm > 0:
        grads, grad_norm = clip_grad_global_norm(grads, clip_norm)
    else:
        grad_norm = global_norm(grads)
    model.params = optimizer.step(model.params, grads, lr)
    return loss, grad_norm


# --- metrics -----------------------------------------------------------------------------------
def _eval_mode(model):
    """Switch dropout off; returns what `_restore_mode` needs to switch it back unchanged."""
    state = (model.training, model.rng)
    model.eval()
    return state


def _restore_mode(model, state) -> None:
    training, rng = state
    if training:
        model.train(rng=rng)  # the same generator object: its stream goes on where it was


def batch_metric_sums(model, batch: dict) -> dict:
    """Losses and correct-prediction counts of one batch (device arrays), dropout off.

    mlm_*: over the predicted positions (labels != -100), top-1 of the MLM logits;
    sop_*: over the examples, argmax of the two SOP logits (only for models with the SOP head).
    """
    xp = model.xp
    state = _eval_mode(model)
    try:
        output = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       token_type_ids=batch["token_type_ids"])
    finally:
        _restore_mode(model, state)
    logits = output.prediction_logits if hasattr(output, "prediction_logits") else output.logits
    labels = xp.reshape(batch["labels"], (-1,))
    logits = xp.reshape(logits, (-1, logits.shape[-1]))
    counted = labels != IGNORE_INDEX
    num_masked = xp.sum(xp.astype(counted, xp.float32))
    mlm_loss, _ = cross_entropy_forward(logits, labels)
    correct = (xp.argmax(logits, axis=-1) == labels) & counted
    # The mean loss of a batch without masked tokens is nan; its sum is 0.
    mlm_loss_sum = xp.where(num_masked > 0, mlm_loss * num_masked, xp.zeros_like(mlm_loss))
    sums = {"mlm_loss": mlm_loss_sum, "mlm_correct": xp.sum(xp.astype(correct, xp.float32)),
            "num_masked": num_masked}
    if getattr(output, "sop_logits", None) is not None:
        sop_labels = batch["sentence_order_label"]
        sop_loss, _ = cross_entropy_forward(output.sop_logits, sop_labels)
        num_examples = sop_labels.shape[0]
        sums["sop_loss"] = sop_loss * num_examples
        sums["sop_correct"] = xp.sum(xp.astype(xp.argmax(output.sop_logits, axis=-1) == sop_labels, xp.float32))
        sums["num_examples"] = xp.asarray(float(num_examples))
    return sums


def metrics_from_sums(sums: dict) -> dict:
    """Turn summed losses and counts (host floats) into means and accuracies."""
    metrics = {}
    if sums.get("num_masked", 0) > 0:
        metrics["mlm_loss"] = sums["mlm_loss"] / sums["num_masked"]
        metrics["mlm_accuracy"] = sums["mlm_correct"] / sums["num_masked"]
    if sums.get("num_examples", 0) > 0:
        metrics["sop_loss"] = sums["sop_loss"] / sums["num_examples"]
        metrics["sop_accuracy"] = sums["sop_correct"] / sums["num_examples"]
    return metrics


def evaluate(model, examples: Sequence[PretrainingExample], batch_size: int = 32) -> dict:
    """Held-out metrics of `model` (AlbertForPreTraining, or AlbertForMaskedLM for MLM alone).

    Returns `mlm_accuracy` (top-1 of the masked tokens), `mlm_loss`, and for models with the SOP
    head `sop_accuracy` and `sop_loss`, plus `num_masked` and `num_examples`. Dropout is off
    during the evaluation and the model's mode is left as it was.
    """
    if not examples:
        raise ValueError("evaluate needs at least one example")
    totals: dict = {}
    for start in range(0, len(examples), batch_size):
        batch = to_device(model.xp, collate(examples[start : start + batch_size]))
        for name, value in batch_metric_sums(model, batch).items():
            totals[name] = totals[name] + value if name in totals else value
    host = {name: float(to_numpy(value)) for name, value in totals.items()}
    return {**metrics_from_sums(host), "num_masked": int(host["num_masked"]), "num_examples": len(examples)}


# --- progress ----------------------------------------------------------------------------------
def _duration(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class ProgressBar:
    """One status line on a terminal (redrawn in place), or one line per update in a log file."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, width: int = 20):
        self.total, self.stream, self.width = total, stream, width
        self.interactive = hasattr(stream, "isatty") and stream.isatty()

    def update(self, step: int, values: dict) -> None:
        filled = round(self.width * step / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        parts = [f"step {step}/{self.total} [{bar}]", f"loss {values['loss']:.4f}"]
        if "mlm_accuracy" in values:
            parts.append(f"mlm_acc {values['mlm_accuracy']:.3f}")
        if "sop_accuracy" in values:
            parts.append(f"sop_acc {values['sop_accuracy']:.3f}")
        parts += [f"lr {values['lr']:.2e}", f"{values['tokens_per_second']:,.0f} tok/s",
                  f"eta {_duration(values['eta_seconds'])}"]
        line = "  ".join(parts)
        if self.interactive:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def write(self, message: str) -> None:
        """A message on its own line, not overwritten by the bar."""
        self.stream.write(("\n" if self.interactive else "") + message + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()


# --- history and plot --------------------------------------------------------------------------
class PendingSteps:
    """Per-step values kept on the device until `read` copies them to the host in one go."""

    def __init__(self):
        self.steps: list[dict] = []

    def add(self, step: int, lr: float, loss, grad_norm, metric_sums: dict | None) -> None:
        self.steps.append(dict(step=step, lr=lr, loss=loss, grad_norm=grad_norm, metric_sums=metric_sums))

    def read(self, xp) -> list[dict]:
        """History records (host floats) of the pending steps; empties the list."""
        if not self.steps:
            return []
        values = to_numpy(xp.stack([xp.stack([xp.astype(s["loss"], xp.float64), xp.astype(s["grad_norm"], xp.float64)])
                                    for s in self.steps]))
        records = []
        for pending, (loss, grad_norm) in zip(self.steps, values.tolist()):
            record = {"step": pending["step"], "loss": loss, "grad_norm": grad_norm, "lr": pending["lr"]}
            if pending["metric_sums"] is not None:
                sums = {name: float(to_numpy(value)) for name, value in pending["metric_sums"].items()}
                record.update(metrics_from_sums(sums))
            records.append(record)
        self.steps = []
        return records


def check_finite(records: list[dict]) -> None:
    for record in records:
        for name in ("loss", "grad_norm"):
            if not math.isfinite(record[name]):
                raise NonFiniteLossError(f"{name} is {record[name]} at step {record['step']} (lr {record['lr']:.3g})")


def plot_loss_curve(history: list[dict], path: Path) -> bool:
    """Draw total, MLM and SOP loss (top) and MLM/SOP accuracy (bottom) into `path`.

    Returns False, drawing nothing, when matplotlib is not installed. Uses matplotlib's
    object API with the Agg canvas, so no global pyplot state or display is touched.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    figure = Figure(figsize=(9, 6.5), layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, accuracy_axes = figure.subplots(2, 1, sharex=True)
    steps = [record["step"] for record in history]
    losses = [record["loss"] for record in history]
    loss_axes.plot(steps, losses, color="0.75", linewidth=0.8, label="total (each step)")
    window = max(1, len(losses) // 50)
    if window > 1:
        smoothed = np.convolve(losses, np.ones(window) / window, mode="valid")
        loss_axes.plot(steps[window - 1 :], smoothed, color="black", linewidth=1.2, label=f"total (mean of {window})")
    logged = [record for record in history if "mlm_loss" in record]
    for name, color in (("mlm_loss", "tab:blue"), ("sop_loss", "tab:orange")):
        points = [(record["step"], record[name]) for record in logged if name in record]
        if points:
            loss_axes.plot(*zip(*points), color=color, marker=".", linewidth=1, label=name.replace("_", " "))
    loss_axes.set_ylabel("loss")
    loss_axes.legend(loc="upper right")
    loss_axes.grid(alpha=0.3)
    for name, color in (("mlm_accuracy", "tab:blue"), ("sop_accuracy", "tab:orange")):
        points = [(record["step"], record[name]) for record in logged if name in record]
        if points:
            accuracy_axes.plot(*zip(*points), color=color, marker=".", linewidth=1, label=name.replace("_", " "))
    accuracy_axes.set_ylabel("accuracy (logged batches)")
    accuracy_axes.set_xlabel("step")
    accuracy_axes.set_ylim(0, 1)
    accuracy_axes.grid(alpha=0.3)
    if logged:
        accuracy_axes.legend(loc="upper left")
    temporary = path.with_name("." + path.name + ".tmp.png")
    figure.savefig(temporary, dpi=100)
    os.replace(temporary, path)
    return True


# --- checkpoints -------------------------------------------------------------------------------
def checkpoint_dir(out: Path) -> Path | None:
    """OUT/checkpoint, or the previous one if a save stopped between its two renames."""
    for candidate in (out / CHECKPOINT_DIR, out / (CHECKPOINT_DIR + ".old")):
        if (candidate / STATE_FILE).is_file():
            return candidate
    return None


def new_temporary_dir(parent: Path, prefix: str) -> Path:
    """An empty directory in `parent` to build a checkpoint in (permissions from the umask,
    unlike tempfile.mkdtemp's owner-only ones, so the results are readable like other files)."""
    directory = parent / f".{prefix}-{os.getpid()}-{time.time_ns()}"
    directory.mkdir()
    return directory


def _make_readable(directory: Path) -> None:
    """Give files the umask's permissions (the safetensors writer makes them owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    for file in directory.iterdir():
        if file.is_file():
            os.chmod(file, 0o666 & ~umask)


def replace_directory(new: Path, target: Path) -> None:
    """Put directory `new` at `target`. Each rename is atomic; between the two, the old
    checkpoint still exists as `target.old`, which `checkpoint_dir` falls back to."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(out: Path, model, optimizer, iterator, tokenizer, state: dict) -> Path:
    """Write the whole training state to OUT/checkpoint (see the module docstring)."""
    temporary = new_temporary_dir(out, "checkpoint")
    try:
        model.save_pretrained(temporary)
        tokenizer.save_pretrained(temporary)
        optimizer_state = optimizer.state_dict()
        arrays = {name: to_numpy(value) for name, value in optimizer_state.items() if name != "step"}
        write_safetensors(arrays, temporary / OPTIMIZER_FILE)
        trainer_state = {
            **state,
            "optimizer_step": int(optimizer_state["step"]),
            "data": iterator.state_dict(),
            "dropout_rng": model.rng.bit_generator.state if model.rng is not None else None,
        }
        (temporary / STATE_FILE).write_text(json.dumps(trainer_state, indent=1) + "\n", encoding="utf-8")
        _make_readable(temporary)
        replace_directory(temporary, out / CHECKPOINT_DIR)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return out / CHECKPOINT_DIR


def read_trainer_state(directory: Path) -> dict:
    return json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))


def load_checkpoint(directory: Path, model, optimizer, iterator) -> dict:
    """Restore model, optimizer, data position and dropout generator; returns the trainer state."""
    from safetensors.numpy import load_file

    state = read_trainer_state(directory)
    tensors = load_file(str(directory / "model.safetensors"))
    # In the model's own key order, not the file's (sorted): the global gradient norm is a sum
    # over the parameters in that order, and float32 sums in another order round differently.
    model.load_state_dict({name: tensors[name] for name in model.state_dict() if name in tensors}
                          | {name: value for name, value in tensors.items() if name not in model.state_dict()})
    moments = load_file(str(directory / OPTIMIZER_FILE))
    optimizer.load_state_dict({"step": state["optimizer_step"],
                               **{name: asarray(model.xp, value) for name, value in moments.items()}})
    iterator.load_state_dict(state["data"])
    if state.get("dropout_rng") is not None:
        model.rng.bit_generator.state = state["dropout_rng"]
    return state


def check_resumable(args: TrainingArguments, saved_args: dict) -> None:
    """A resumed run must compute the same steps: refuse arguments that changed."""
    changed = [f"{name} (checkpoint: {saved_args.get(name)!r}, now: {getattr(args, name)!r})"
               for name in RUN_DEFINING if saved_args.get(name) != getattr(args, name)]
    if changed:
        raise ValueError("cannot resume with different arguments: " + "; ".join(changed)
                         + ". Leave them out (the checkpoint's values are used) or start a new --out")


# --- the run -----------------------------------------------------------------------------------
def _generators(seed: int) -> dict:
    """Independent random streams, one per use, so that e.g. a new held-out split leaves
    the masking and the batch order of the other streams unchanged."""
    names = ("heldout_split", "train_examples", "heldout_examples", "batch_order", "dropout")
    return dict(zip(names, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(names)))))


def _prepare_out_dir(args: TrainingArguments, out: Path) -> None:
    if args.resume:
        if checkpoint_dir(out) is None:
            raise FileNotFoundError(f"nothing to resume: {out / CHECKPOINT_DIR} has no {STATE_FILE}")
    elif checkpoint_dir(out) is not None:
        raise ValueError(f"{out} already holds a checkpoint: pass --resume to continue it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)


def export_final(out: Path, model, tokenizer) -> Path:
    """OUT/final: the model and tokenizer files, for `from_pretrained` (tinyalbert or Transformers)."""
    temporary = new_temporary_dir(out, "final")
    model.save_pretrained(temporary)
    tokenizer.save_pretrained(temporary)
    _make_readable(temporary)
    replace_directory(temporary, out / FINAL_DIR)
    return out / FINAL_DIR


def export_pretrained(source, target, dtype: str = "float16") -> Path:
    """Copy a trained model directory (e.g. OUT/final) to `target`, weights stored as `dtype`.

    float16 halves the files; loading with `from_pretrained(..., dtype="float32")` widens them
    back, so only the storage is rounded (relative error below 2**-11 per weight).
    """
    from ..tokenizer import AlbertTokenizer

    source, target = Path(source), Path(target)
    model = AlbertForPreTraining.from_pretrained(source)
    stored = AlbertForPreTraining(model.config, {k: to_numpy(v) for k, v in model.state_dict().items()}, dtype=dtype)
    for name, value in stored.state_dict().items():
        if not np.isfinite(to_numpy(value)).all():
            raise ValueError(f"{name} does not fit in {dtype}: choose a wider dtype")
    target.mkdir(parents=True, exist_ok=True)
    stored.save_pretrained(target)
    AlbertTokenizer.from_pretrained(source).save_pretrained(target)
    _make_readable(target)
    return target


def heldout_examples_of_run(out) -> list[PretrainingExample]:
    """The held-out examples of the run in `out`, rebuilt from its checkpoint's arguments (the
    same documents, masks and order that `train` evaluated on), to evaluate other models on them."""
    from ..tokenizer import AlbertTokenizer

    out = Path(out)
    directory = checkpoint_dir(out)
    if directory is None:
        raise FileNotFoundError(f"{out} has no checkpoint to read the run's arguments from")
    args = TrainingArguments(**read_trainer_state(directory)["args"])
    tokenizer = AlbertTokenizer.from_pretrained(out / TOKENIZER_DIR)
    rngs = _generators(args.seed)
    _, heldout_documents = split_documents(read_documents(args.corpus), args.heldout_fraction, rngs["heldout_split"])
    return build_examples(heldout_documents, tokenizer, args, rngs["heldout_examples"])


class PreparedRun(NamedTuple):
    """Everything `train` builds before the first step."""

    tokenizer: object
    model: AlbertForPreTraining
    optimizer: object
    iterator: object  # BatchIterator over the training examples
    heldout_examples: list
    corpus_fingerprint: str
    saved_state: dict | None  # the checkpoint's trainer state when resuming (already loaded into the above)


def prepare_run(args: TrainingArguments) -> PreparedRun:
    """Check the arguments against the output directory, then build tokenizer, examples, model,
    optimizer and batch iterator, restored from OUT/checkpoint when resuming."""
    out = Path(args.out)
    try:
        get_backend(args.backend)  # no GPU for cupy: say so before the slow data preparation
    except RuntimeError as error:
        raise ValueError(str(error)) from None
    documents = read_documents(args.corpus)  # FileNotFoundError names a missing corpus
    _prepare_out_dir(args, out)
    fingerprint = corpus_fingerprint(documents)
    if args.resume:
        saved = read_trainer_state(checkpoint_dir(out))
        check_resumable(args, saved["args"])
        if saved.get("corpus_fingerprint") not in (None, fingerprint):  # None: saved before fingerprints
            raise ValueError(f"the corpus {args.corpus!r} is not the text {checkpoint_dir(out)} was trained on "
                             f"(fingerprint {fingerprint}, checkpoint {saved.get('corpus_fingerprint')})")

    config = resolve_config(args.config)
    if args.max_seq_length > config.max_position_embeddings:
        raise ValueError(f"max_seq_length {args.max_seq_length} exceeds the config's max_position_embeddings "
                         f"({config.max_position_embeddings})")
    tokenizer = prepare_tokenizer(args, documents, out, config.max_position_embeddings)
    config.vocab_size = len(tokenizer)
    config.pad_token_id, config.bos_token_id, config.eos_token_id = (
        tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id)
    config.validate()

    rngs = _generators(args.seed)
    train_documents, heldout_documents = split_documents(documents, args.heldout_fraction, rngs["heldout_split"])
    train_examples = build_examples(train_documents, tokenizer, args, rngs["train_examples"])
    heldout_examples = build_examples(heldout_documents, tokenizer, args, rngs["heldout_examples"])
    if len(train_examples) < args.batch_size:
        raise ValueError(f"the corpus gives {len(train_examples)} training examples, fewer than batch_size "
                         f"{args.batch_size}: add text or lower --batch-size")

    model = AlbertForPreTraining(config, backend=args.backend, seed=args.seed)
    model.train(rng=rngs["dropout"])
    optimizer = make_optimizer(args)
    iterator = batches(train_examples, args.batch_size, rngs["batch_order"])
    saved_state = load_checkpoint(checkpoint_dir(out), model, optimizer, iterator) if args.resume else None
    return PreparedRun(tokenizer, model, optimizer, iterator, heldout_examples, fingerprint, saved_state)


class TrainingLoop:
    """The steps of one session, with the bookkeeping around them: pending device values,
    history, progress line, checkpoints, and the reasons to stop early."""

    def __init__(self, args: TrainingArguments, run: PreparedRun, stream: TextIO):
        self.args, self.run, self.out = args, run, Path(args.out)
        saved = run.saved_state or {}
        self.step = saved.get("step", 0)
        self.history: list[dict] = saved.get("history", [])
        self.train_seconds = saved.get("train_seconds", 0.0)
        self.last_step = min(args.steps, args.stop_at or args.steps)
        self.pending = PendingSteps()
        self.progress = ProgressBar(args.steps, stream)
        self.session_start = self.interval_start = time.perf_counter()
        self.session_first_step, self.interval_tokens = self.step, 0
        self.plot_note_shown = False

    def announce(self) -> None:
        model, args = self.run.model, self.args
        self.progress.write(
            f"tinyalbert pretraining: {model.num_parameters():,} parameters, vocab {model.config.vocab_size}, "
            f"{self.run.iterator.num_examples:,} training / {len(self.run.heldout_examples):,} held-out examples, "
            f"batch {args.batch_size} x {args.max_seq_length}, {args.optimizer} lr {args.lr:g}, backend {args.backend}"
            + (f", resuming at step {self.step}" if self.step else "")
        )

    def one_step(self) -> None:
        args, model = self.args, self.run.model
        host_batch = next(self.run.iterator)
        batch = to_device(model.xp, host_batch)
        logged = (self.step + 1) % args.log_every == 0 or self.step + 1 == args.steps
        metric_sums = batch_metric_sums(model, batch) if logged else None  # before the update: unseen batch
        lr = linear_warmup_then_decay(self.step, args.warmup_steps, args.steps, args.lr)
        loss, grad_norm = train_step(model, self.run.optimizer, batch, lr, args.clip_norm)
        self.step += 1
        self.interval_tokens += int(host_batch["attention_mask"].sum())
        self.pending.add(self.step, lr, loss, grad_norm, metric_sums)
        if logged or self.step % args.save_every == 0:
            self.flush()
        if self.step % args.save_every == 0 and self.step < self.last_step:
            self.save()

    def flush(self) -> None:
        """Read the pending values, stop on a non-finite one, extend the history, show progress."""
        records = self.pending.read(self.run.model.xp)
        check_finite(records)
        self.history.extend(records)
        now = time.perf_counter()
        self.train_seconds += now - self.interval_start
        if records:
            seconds_per_step = (now - self.session_start) / max(1, self.step - self.session_first_step)
            values = {**records[-1], "tokens_per_second": self.interval_tokens / max(now - self.interval_start, 1e-9),
                      "eta_seconds": seconds_per_step * (self.last_step - self.step)}
            logged = [record for record in records if "mlm_accuracy" in record]
            if logged:
                values.update({k: v for k, v in logged[-1].items() if k.endswith("accuracy")})
            self.progress.update(self.step, values)
        self.interval_start, self.interval_tokens = now, 0

    def save(self) -> None:
        state = {"step": self.step, "total_steps": self.args.steps, "args": self.args.to_dict(),
                 "corpus_fingerprint": self.run.corpus_fingerprint, "history": self.history,
                 "train_seconds": self.train_seconds}
        save_checkpoint(self.out, self.run.model, self.run.optimizer, self.run.iterator, self.run.tokenizer, state)
        if not plot_loss_curve(self.history, self.out / LOSS_CURVE_FILE) and not self.plot_note_shown:
            self.progress.write(f"note: matplotlib is not installed, so there is no {LOSS_CURVE_FILE} "
                                "(pip install matplotlib); the loss history is in trainer_state.json")
            self.plot_note_shown = True
        now = time.perf_counter()
        self.train_seconds += now - self.interval_start
        self.interval_start = now

    def run_steps(self) -> str | None:
        """Step until `last_step`, Ctrl-C or the time limit, then save. Returns why it stopped
        early (None when it reached `last_step`)."""
        stop_reason = None
        try:
            with StopOnInterrupt() as interrupt:
                while self.step < self.last_step:
                    self.one_step()
                    if interrupt.requested:
                        stop_reason = "interrupted"
                        break
                    minutes = (time.perf_counter() - self.session_start) / 60
                    if self.args.max_minutes is not None and minutes > self.args.max_minutes:
                        stop_reason = f"time limit of {self.args.max_minutes:g} minutes"
                        break
            self.flush()
        except NonFiniteLossError as error:
            self.progress.close()
            kept = checkpoint_dir(self.out)
            where = (f"the last good checkpoint (step {read_trainer_state(kept)['step']}) is in {kept}" if kept
                     else "no checkpoint had been saved yet")
            raise NonFiniteLossError(f"{error}; training stopped, {where}") from None
        self.save()
        self.progress.close()
        return stop_reason


def train(args: TrainingArguments, stream: TextIO = sys.stderr) -> dict:
    """Run (or resume) pretraining as described by `args`; returns a summary dict.

    Raises FileNotFoundError / ValueError for unusable arguments (a backend that cannot run
    included), NonFiniteLossError when the loss diverges (the last good checkpoint stays), and
    TrainingInterrupted on Ctrl-C (after saving).
    """
    out = Path(args.out)
    run = prepare_run(args)
    loop = TrainingLoop(args, run, stream)
    loop.announce()
    stop_reason = loop.run_steps()
    if stop_reason == "interrupted":
        raise TrainingInterrupted(f"interrupted after step {loop.step}; saved {out / CHECKPOINT_DIR}, "
                                  "continue with --resume")
    summary = {"step": loop.step, "total_steps": args.steps, "train_seconds": loop.train_seconds,
               "final_loss": loop.history[-1]["loss"] if loop.history else None,
               "checkpoint": str(out / CHECKPOINT_DIR)}
    if loop.step < args.steps:
        loop.progress.write(f"stopped after step {loop.step} of {args.steps} "
                            f"({stop_reason or f'stop_at={args.stop_at}'}); continue with --resume")
        return summary
    if run.heldout_examples:
        summary["eval"] = evaluate(run.model, run.heldout_examples, args.eval_batch_size)
        (out / EVAL_FILE).write_text(json.dumps(summary["eval"], indent=2) + "\n", encoding="utf-8")
        loop.progress.write("held-out: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                                     for k, v in summary["eval"].items()))
    summary["final"] = str(export_final(out, run.model, run.tokenizer))
    loop.progress.write(f"done: {loop.step} steps in {_duration(loop.train_seconds)}; "
                        f"model and tokenizer in {summary['final']}")
    return summary
