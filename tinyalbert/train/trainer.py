"""The pretraining loop: corpus -> tokenizer -> examples -> steps -> checkpoints -> final model.

    from tinyalbert.train.trainer import TrainingArguments, train
    summary = train(TrainingArguments(corpus="corpus.txt", config="mini", out="runs/mini", vocab_size=8000))

or from the shell, `python -m tinyalbert.pretrain --corpus corpus.txt --config mini --out runs/mini
--vocab-size 8000`. One step (`train_step`) is

    loss, grads = model.loss_and_grads(**batch)                   # hand-written backprop (tinyalbert.nn)
    grads, grad_norm = clip_grad_global_norm(grads, args.clip_norm)   # one scale for all gradients
    lr = linear_warmup_then_decay(step, args.warmup_steps, args.steps, args.lr)
    model.params = optimizer.step(model.params, grads, lr)

(the schedule decays from the peak at the end of warmup, as Transformers' linear schedule does;
google-research/albert decays from step 0, see `linear_warmup_then_decay`), and everything
around it is bookkeeping, each piece in its own module:

- `arguments`: `TrainingArguments`, the model shapes (`mini`, the presets);
- `prepare`: the tokenizer (`OUT/tokenizer/`), the examples (`data`, `masking`, `text`), the
  model with its MLM output bias set from the target frequencies (`output_bias_init`), the
  optimizer (`optim`);
- `checkpoints`: `OUT/checkpoint/` every `save_every` steps, replaced atomically, holding
  everything a step depends on, so `--resume` continues bit for bit (on NumPy); `OUT/final/`;
- `history`: the losses, kept on the device between log steps (reading one makes the host wait
  for the GPU) and read every `log_every` steps; a non-finite one stops the run without saving,
  so the last checkpoint on disk is always made from finite losses; `OUT/loss_curve.png`;
- `metrics`: accuracy overall and outside the most frequent pieces, and the final-layer cosine;
- `progress`: the tqdm progress line of the steps, and a line as each phase around them starts
  (reading and encoding the corpus, the held-out evaluation), so that a long one is never silent;
- `distributed`: under `mpiexec -n N`, each process takes 1/N of every batch and the gradients
  are summed over processes before the step; the first process alone logs, evaluates and saves.

Why the output bias and the masking matter (measured on the WordNet corpus of tinyalbert-mini):
while a model from scratch only predicts word frequencies, the shared post-LayerNorm layer can
map every position to the same vector (the final-layer cosine reaches 1 within 50 steps at lr
1e-3) and may not leave it. Starting the output bias at the log frequencies removes the first
reason to collapse: at lr 1e-3 the cosine then fell to about 0.1. It shifts the odds rather
than ruling the collapse out (docs/tinyalbert-mini.md has the runs and the seeds: at 2e-3 on a
tiny text, and at 3e-3 in some seeds, the model still collapsed). Dynamic masking (a fresh mask every
epoch) and packed documents give every token of the text a turn as a target.
"""
from __future__ import annotations

import io
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

import numpy as np

from ..backend import asarray
from . import distributed
from .arguments import TrainingArguments
from .checkpoints import CHECKPOINT_DIR, checkpoint_dir, export_final, read_trainer_state, save_checkpoint
from .history import NonFiniteLossError, PendingSteps, check_finite, plot_loss_curve
from .metrics import batch_metric_sums, evaluate
from .optim import clip_grad_global_norm, global_norm, linear_warmup_then_decay
from .prepare import PreparedRun, prepare_run
from .progress import Phase, Progress

LOSS_CURVE_FILE = "loss_curve.png"
EVAL_FILE = "eval_results.json"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(RuntimeError):
    """Ctrl-C or SIGTERM during training; the state after the last finished step was saved."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


class StopOnSignal:
    """Within the block, Ctrl-C (SIGINT) or SIGTERM only records the signal, so the loop can
    finish the step in progress and save a consistent checkpoint; a second one interrupts at once."""

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict = {}

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._handle) for signum in STOP_SIGNALS}
        return self

    def __exit__(self, *exc_info):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        return False


def to_device(xp, batch: dict) -> dict:
    return {name: asarray(xp, value) for name, value in batch.items()}


def train_step(model, optimizer, batch: dict, lr: float, clip_norm: float, ranks=None):
    """One update of `model.params` on `batch` (device arrays). Returns (loss, grad_norm), both
    0-d device arrays, not read here so that nothing waits for the device.

    With `ranks` (under mpiexec), `batch` is the whole batch on the host: each process computes
    the gradients of its rows, and they are summed over the processes, so that every process
    takes the same step as one process with the whole batch would (`distributed`)."""
    if ranks is None:
        loss, grads = model.loss_and_grads(
            batch["input_ids"], batch["labels"], batch["sentence_order_label"],
            attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"],
        )
    else:
        loss, grads = distributed.data_parallel_loss_and_grads(model, batch, ranks)
    if clip_norm > 0:
        grads, grad_norm = clip_grad_global_norm(grads, clip_norm)
    else:
        grad_norm = global_norm(grads)
    model.params = optimizer.step(model.params, grads, lr)
    return loss, grad_norm


def schedule_change_note(step: int, warmup_steps: int, old_steps: int, new_steps: int, peak_lr: float) -> str:
    """What resuming at `step` with --steps changed from `old_steps` to `new_steps` does to the
    learning rate: the schedule is the one of a run planned for `new_steps` from the start, so the
    rate of the next step moves, from 0 up when the old schedule had already ended."""
    before = linear_warmup_then_decay(step, warmup_steps, old_steps, peak_lr)
    after = linear_warmup_then_decay(step, warmup_steps, new_steps, peak_lr)
    return (f"--steps changed from {old_steps} to {new_steps}: the learning rate of step {step + 1} is {after:.3g} "
            f"(the checkpoint's schedule gave {before:.3g}) and decays to 0 at step {new_steps}")


class CheckpointWriteError(ValueError):
    """Saving failed (a full disk, say); the previous checkpoint stays as it was."""


class TrainingLoop:
    """The steps of one session, with the bookkeeping around them: pending device values,
    history, progress line, checkpoints, and the reasons to stop early."""

    def __init__(self, args: TrainingArguments, run: PreparedRun, stream: TextIO, ranks=None):
        self.args, self.run, self.out = args, run, Path(args.out)
        self.ranks = ranks
        self.is_main = ranks is None or ranks.is_main  # the process that logs, evaluates and saves
        stream = stream if self.is_main else io.StringIO()
        saved = run.saved_state or {}
        self.step = saved.get("step", 0)
        self.history: list[dict] = saved.get("history", [])
        self.train_seconds = saved.get("train_seconds", 0.0)
        self.last_step = min(args.steps, args.stop_at or args.steps)
        self.pending = PendingSteps()
        self.progress = Progress(self.last_step, self.step, stream)  # its ETA is to where this session stops
        self.common = asarray(run.model.xp, run.common)
        self.session_start = self.interval_start = time.perf_counter()
        self.interval_tokens = 0
        self.plot_note_shown = False

    def announce(self) -> None:
        model, args = self.run.model, self.args
        self.progress.write(
            f"tinyalbert pretraining: {model.num_parameters():,} parameters, vocab {model.config.vocab_size}, "
            f"{self.run.iterator.num_examples:,} training / {len(self.run.heldout_examples):,} held-out examples, "
            f"batch {args.batch_size} x {args.max_seq_length}, {args.optimizer} lr {args.lr:g}, {args.masking} masking, "
            + (f"output bias {args.output_bias_init}" if args.init_from is None else f"from {args.init_from}")
            + f", backend {args.backend}"
            + (f", resuming at step {self.step}" if self.step else "")
        )
        for warning in self.run.warnings:
            self.progress.write(f"warning: {warning}")
        saved_steps = (self.run.saved_state or {}).get("total_steps", args.steps)
        if saved_steps != args.steps and self.step < args.steps:
            self.progress.write(schedule_change_note(self.step, args.warmup_steps, saved_steps, args.steps, args.lr))
        if self.last_step < args.steps:
            self.progress.write(f"stopping at step {self.last_step:,} (--stop-at) of a {args.steps:,}-step schedule; "
                                "continue with --resume")

    def one_step(self) -> None:
        args, model = self.args, self.run.model
        host_batch = next(self.run.iterator)
        logged = (self.step + 1) % args.log_every == 0 or self.step + 1 == args.steps
        metric_sums = None
        if logged and self.is_main:  # before the update: on a batch the model has not seen
            metric_sums = batch_metric_sums(model, to_device(model.xp, host_batch), self.common)
        lr = linear_warmup_then_decay(self.step, args.warmup_steps, args.steps, args.lr)
        if not self.is_main:  # a checkpoint holds the first process's generator only: see follower_dropout_rng
            model.train(rng=follower_dropout_rng(args.seed, self.ranks.rank, self.step))
        if self.ranks is None:
            loss, grad_norm = train_step(model, self.run.optimizer, to_device(model.xp, host_batch), lr, args.clip_norm)
        else:
            loss, grad_norm = train_step(model, self.run.optimizer, host_batch, lr, args.clip_norm, self.ranks)
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
            values = {**records[-1], "tokens_per_second": self.interval_tokens / max(now - self.interval_start, 1e-9)}
            logged = [record for record in records if "mlm_accuracy" in record]
            if logged:
                values.update({k: v for k, v in logged[-1].items() if k.endswith(("accuracy", "uncommon", "cosine"))})
            self.progress.update(self.step, values)
        self.interval_start, self.interval_tokens = now, 0

    def save(self) -> None:
        if not self.is_main:
            return
        state = {"step": self.step, "total_steps": self.args.steps, "args": self.args.to_dict(),
                 "corpus_fingerprint": self.run.corpus_fingerprint, "history": self.history,
                 "train_seconds": self.train_seconds}
        try:
            save_checkpoint(self.out, self.run.model, self.run.optimizer, self.run.iterator, self.run.tokenizer, state)
            drawn = plot_loss_curve(self.history, self.out / LOSS_CURVE_FILE)
        except OSError as error:
            raise CheckpointWriteError(
                f"cannot write {error.filename or self.out / CHECKPOINT_DIR}: {error.strerror or error}; "
                f"the previous checkpoint (if any) is unchanged") from None
        if not drawn and not self.plot_note_shown:
            self.progress.write(f"note: matplotlib is not installed, so there is no {LOSS_CURVE_FILE} "
                                "(pip install matplotlib); the loss history is in trainer_state.json")
            self.plot_note_shown = True
        now = time.perf_counter()
        self.train_seconds += now - self.interval_start
        self.interval_start = now

    def _stop_reason(self, signals: StopOnSignal) -> tuple[str | None, int | None]:
        """Why to stop after this step (None: go on), and the stop signal, if one came.

        Under mpiexec every process must stop after the same step, or the others wait forever.
        mpiexec passes a signal to the processes one after another, so one may see it a step
        before another: they agree, and a signal seen by any of them stops all of them as one."""
        signum = signals.signum
        over_time = (self.args.max_minutes is not None
                     and (time.perf_counter() - self.session_start) / 60 > self.args.max_minutes)
        if self.ranks is not None:
            counts = distributed.allreduce_numbers([over_time] + [signum == s for s in STOP_SIGNALS], self.ranks,
                                                   "agreeing on when to stop")
            over_time = counts[0] > 0
            signum = next((s for s, count in zip(STOP_SIGNALS, counts[1:]) if count > 0), None)
        if signum is not None:
            return "interrupted", signum
        if over_time:
            return f"time limit of {self.args.max_minutes:g} minutes", None
        return None, None

    def run_steps(self) -> tuple[str | None, int | None]:
        """Step until `last_step`, a stop signal or the time limit, then save. Returns why it
        stopped early (None when it reached `last_step`) and the signal, if one stopped it."""
        stop_reason = signum = None
        try:
            with StopOnSignal() as signals:
                while self.step < self.last_step and stop_reason is None:
                    self.one_step()
                    stop_reason, signum = self._stop_reason(signals)
            self.flush()
        except NonFiniteLossError as error:
            self.progress.close()
            kept = checkpoint_dir(self.out)
            where = (f"the last good checkpoint (step {read_trainer_state(kept)['step']}) is in {kept}" if kept
                     else "no checkpoint had been saved yet")
            # Every process stops at the same step (the loss is the sum of theirs): one says why.
            raise NonFiniteLossError(f"{error}; training stopped, {where}" if self.is_main else "") from None
        finally:
            self.progress.close()
        self.save()
        return stop_reason, signum


def finish(loop: TrainingLoop, run: PreparedRun, summary: dict) -> dict:
    """After the last step: held-out evaluation (OUT/eval_results.json) and OUT/final."""
    args, out = loop.args, loop.out
    if not loop.is_main:
        return summary
    if run.heldout_examples:
        examples = run.heldout_examples
        with Phase(loop.progress.stream, f"evaluating on {len(examples):,} held-out examples", len(examples),
                   "examples") as phase:
            summary["eval"] = evaluate(run.model, examples, args.eval_batch_size, common=run.common,
                                       on_batch=phase.advance)
            phase.outcome = f"evaluated {len(examples):,} held-out examples"
        (out / EVAL_FILE).write_text(json.dumps(summary["eval"], indent=2) + "\n", encoding="utf-8")
        loop.progress.write("held-out: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                                     for k, v in summary["eval"].items()))
    summary["final"] = str(export_final(out, run.model, run.tokenizer))
    loop.progress.write(f"done: {loop.step} steps in {loop.train_seconds / 60:.1f} minutes; "
                        f"model and tokenizer in {summary['final']}" + _also_written(out))
    return summary


def _also_written(out: Path) -> str:
    """The other results of a finished run, as "; loss curve in OUT/loss_curve.png" and so on:
    those that exist (no plot without matplotlib, no held-out metrics with --heldout-fraction 0)."""
    written = [(what, out / name) for what, name in (("loss curve", LOSS_CURVE_FILE), ("held-out metrics", EVAL_FILE))]
    return "".join(f"; {what} in {path}" for what, path in written if path.is_file())


def prepare_on_ranks(args: TrainingArguments, ranks, stream: TextIO | None = None) -> PreparedRun:
    """`prepare_run`, its phases written to `stream`; under mpiexec the first process prepares OUT
    (checks, tokenizer) and the others then build the same run from it, each with dropout masks of
    its own, writing nothing: the first one's lines say what they do, and one more line that it
    waits for them.

    Preparing takes as long as the corpus makes it (a tokenizer to train, every line to encode):
    minutes for a large one, more than any --mpi-timeout meant for a dead process. So the waits
    for it have no deadline (`distributed.wait_for_all`); a process whose preparation fails says
    so, and the others stop with it instead of waiting."""
    if ranks is None:
        return prepare_run(args, stream=stream)
    run = failure = None
    if ranks.is_main:
        try:
            if args.batch_size % ranks.size:
                raise ValueError(f"--batch-size {args.batch_size} must be a multiple of the {ranks.size} processes"
                                 + (f"; it is the checkpoint's, so resume on a number of processes that divides "
                                    f"{args.batch_size}" if args.resume else ""))
            run = prepare_run(args, stream=stream)
        except Exception as error:  # not Ctrl-C: mpiexec passes that to every process
            failure = error
    distributed.wait_for_all(ranks, "preparing the run", failure)  # the first process
    if not ranks.is_main:
        try:
            run = prepare_run(args, follower=True)
        except Exception as error:
            failure = error
    others = "the other process" if ranks.size == 2 else f"the other {ranks.size - 1} processes"
    with Phase(stream if ranks.is_main else None, f"waiting for {others} to build the same examples") as phase:
        distributed.wait_for_all(ranks, "preparing the run", failure)  # the others
        phase.outcome = f"all {ranks.size} processes ready"
    return run


def follower_dropout_rng(seed: int, rank: int, step: int) -> np.random.Generator:
    """The dropout generator of process `rank` (not the first) for the step after `step`. A
    checkpoint holds only the first process's generator; the others draw each step's masks from
    (seed, rank, step), so a run resumed at any step draws the masks of the unbroken run."""
    return np.random.default_rng([seed, rank, step])


def train(args: TrainingArguments, stream: TextIO | None = None) -> dict:
    """Run (or resume) pretraining as described by `args`; returns a summary dict. Progress goes
    to `stream`, by default the standard error of the moment of the call.

    Raises FileNotFoundError / ValueError for unusable arguments (a backend that cannot run, an
    unreadable checkpoint, a failed write included), NonFiniteLossError when the loss diverges
    (the last good checkpoint stays), and TrainingInterrupted on Ctrl-C or SIGTERM (after saving).
    """
    out = Path(args.out)
    stream = sys.stderr if stream is None else stream  # looked up now: a caller may have redirected it
    ranks = distributed.init_ranks(args.backend, args.mpi_timeout)  # None unless under mpiexec -n N > 1
    run = prepare_on_ranks(args, ranks, stream)
    loop = TrainingLoop(args, run, stream, ranks)
    loop.announce()
    stop_reason, signum = loop.run_steps()
    if stop_reason == "interrupted":
        # Only the first process saved, so only it says so; the others just exit with the signal's status.
        message = (f"interrupted after step {loop.step} ({signal.Signals(signum).name}); saved "
                   f"{out / CHECKPOINT_DIR}, continue with --resume") if loop.is_main else ""
        raise TrainingInterrupted(message, signum)
    summary = {"step": loop.step, "total_steps": args.steps, "train_seconds": loop.train_seconds,
               "final_loss": loop.history[-1]["loss"] if loop.history else None,
               "checkpoint": str(out / CHECKPOINT_DIR), "common_pieces": run.common.nonzero()[0].tolist()}
    if loop.step < args.steps:
        loop.progress.write(f"stopped after step {loop.step} of {args.steps} "
                            f"({stop_reason or f'--stop-at {args.stop_at}'}); continue with --resume")
        return summary
    return finish(loop, run, summary)
