"""Checkpoints that a crash or a full disk cannot leave half-written, and the exported model.

A checkpoint is written into a fresh temporary folder which then replaces OUT/checkpoint by
renames, so a crash leaves either the old checkpoint or the new one, never half of each; a
failed write (a full disk) removes the temporary folder and leaves the old one. It holds the
model (`model.safetensors` + `config.json`, loadable by Transformers), the tokenizer, the
optimizer moments (`optimizer.safetensors`) and `trainer_state.json`: step, data-iterator
position, dropout generator state, arguments and the loss history.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from ..backend import asarray, to_numpy
from ..jsonfile import read_json_object
from ..models import AlbertForPreTraining
from ..weights import write_safetensors
from .arguments import TrainingArguments, saved_arguments

CHECKPOINT_DIR = "checkpoint"
FINAL_DIR = "final"
TOKENIZER_DIR = "tokenizer"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "trainer_state.json"
# What `load_checkpoint` reads from trainer_state.json; a file without them cannot resume.
STATE_KEYS = ("step", "args", "history", "optimizer_step", "data")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read back (truncated, a key missing); names the file."""


def checkpoint_dir(out: Path, state_file: str = STATE_FILE) -> Path | None:
    """OUT/checkpoint, or the previous one if a save stopped between its two renames: the one
    holding `state_file` (fine-tuning names its state file differently)."""
    for candidate in (out / CHECKPOINT_DIR, out / (CHECKPOINT_DIR + ".old")):
        if (candidate / state_file).is_file():
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


def write_directory_atomically(target: Path, write) -> Path:
    """Call `write(folder)` on a fresh temporary folder beside `target`, then put it at `target`.
    On any error the temporary folder is removed and `target` is left as it was."""
    temporary = new_temporary_dir(target.parent, target.name)
    try:
        write(temporary)
        _make_readable(temporary)
        replace_directory(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return target


def save_checkpoint(out: Path, model, optimizer, iterator, tokenizer, state: dict) -> Path:
    """Write the whole training state to OUT/checkpoint (see the module docstring)."""
    def write(folder: Path) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        optimizer_state = optimizer.state_dict()
        arrays = {name: to_numpy(value) for name, value in optimizer_state.items() if name != "step"}
        write_safetensors(arrays, folder / OPTIMIZER_FILE)
        trainer_state = {
            **state,
            "optimizer_step": int(optimizer_state["step"]),
            "data": iterator.state_dict(),
            "dropout_rng": model.rng.bit_generator.state if model.rng is not None else None,
        }
        (folder / STATE_FILE).write_text(json.dumps(trainer_state, indent=1) + "\n", encoding="utf-8")

    return write_directory_atomically(out / CHECKPOINT_DIR, write)


def read_trainer_state(directory: Path) -> dict:
    """trainer_state.json of a checkpoint; CheckpointError names the file if it is unreadable."""
    path = directory / STATE_FILE
    try:
        state = read_json_object(path)
    except OSError as error:
        raise CheckpointError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:  # its message names the file
        raise CheckpointError(str(error)) from None
    missing = [key for key in STATE_KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}: not a complete trainer state")
    problem = trainer_state_problem(state)
    if problem:
        raise CheckpointError(f"{path} {problem}: this version of tinyalbert cannot resume from it")
    return state


def trainer_state_problem(state: dict) -> str | None:
    """What in a trainer state (hand-edited, or written by another version) cannot be resumed
    from, or None: the step counters must be step numbers, and `args` arguments this version has,
    with values `TrainingArguments` accepts."""
    for key in ("step", "optimizer_step"):
        value = state[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"has {key} {value!r}, not a step number"
    if not isinstance(state["args"], dict):
        return f"has args as a JSON {type(state['args']).__name__}, not an object of argument values"
    known = {field.name for field in dataclasses.fields(TrainingArguments)}
    unknown = sorted(set(state["args"]) - known)
    if unknown:
        return f"records argument(s) {', '.join(unknown)}, which this version does not have (written by a newer one?)"
    try:
        TrainingArguments(**saved_arguments(state))
    except (TypeError, ValueError) as error:
        return f"records arguments that cannot work ({error})"
    return None


def _load_tensors(path: Path) -> dict:
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except Exception as error:  # safetensors raises its own error types for a damaged file
        raise CheckpointError(f"cannot read {path}: {error}") from None


def load_checkpoint(directory: Path, model, optimizer, iterator) -> dict:
    """Restore model, optimizer, data position and dropout generator; returns the trainer state."""
    state = read_trainer_state(directory)
    tensors = _load_tensors(directory / "model.safetensors")
    try:
        model.load_state_dict(tensors)  # kept in the model's own key order, see load_state_dict
    except ValueError as error:
        raise CheckpointError(f"{directory / 'model.safetensors'} does not fit the model: {error}") from None
    moments = _load_tensors(directory / OPTIMIZER_FILE)
    try:
        optimizer.load_state_dict({"step": state["optimizer_step"],
                                   **{name: asarray(model.xp, value) for name, value in moments.items()}})
        iterator.load_state_dict(state["data"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{directory} does not fit this run: {error}") from None
    if state.get("dropout_rng") is not None:
        model.rng.bit_generator.state = state["dropout_rng"]
    return state


def export_final(out: Path, model, tokenizer) -> Path:
    """OUT/final: the model and tokenizer files, for `from_pretrained` (tinyalbert or Transformers)."""
    def write(folder: Path) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    return write_directory_atomically(out / FINAL_DIR, write)


def export_pretrained(source, target, dtype: str = "float16") -> Path:
    """Copy a trained model directory (e.g. OUT/final) to `target`, weights stored as `dtype`.

    float16 halves the files; loading with `from_pretrained(..., dtype="float32")` widens them
    back, so only the storage is rounded: a relative error below 2**-11 for weights of magnitude
    above 6.1e-5 (2**-14), and an absolute error below 3e-8 for the smaller ones, which float16
    holds with fewer bits (subnormals).
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
