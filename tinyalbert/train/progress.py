"""The progress of a run: the step line (`Progress`), and the phases around the steps (`Phase`).

The step line is drawn by tqdm (its rate and ETA). Into a log file (not a terminal) every update
is written as a line of its own, so `tail -f` and `grep` work on it. On a terminal tqdm redraws
one line in place, cut at the terminal's width; the step, the rate and the ETA come first there,
so that a narrow terminal (80 columns) cuts only values. An update that carries metrics measured
on a batch (accuracies, the cosine) is also written whole, as a line above the bar, so that none
of them is cut away.

A phase is work whose time grows with the corpus: reading it, training a vocabulary, encoding
it, building the examples, and the held-out evaluation after the steps. Each one writes a line
as it starts, saying what it does and on how much ("encoding 24,000 documents (192,000
sentences)"), so that a long wait is never silent; one that is counted (sentences encoded,
sentences made into examples, examples evaluated; not the vocabulary, one call to SentencePiece
that says nothing until it returns) draws a bar under that line on a terminal, cleared when it
ends. When it ends after `DONE_AFTER_SECONDS` or more, a line says what it made and how long it
took ("encoded 10,584,224 tokens in 3.9 s"); a shorter one stays at its start line, so a small
run gains a line per phase and no more. Into a file or a pipe a phase writes those one or two
lines and no bar, so a log holds no line per batch. The work that takes the same time whatever
the corpus (making the model and the optimizer, saving) has no line. Under mpiexec the first
process alone writes: the others prepare the same run silently, while it says that it waits for
them.
"""
from __future__ import annotations

import io
import sys
import time
from typing import TextIO

from tqdm import tqdm

BAR_FORMAT = "step {n_fmt}/{total_fmt} |{bar:20}| {desc}  {rate_fmt}  eta {remaining}"
TERMINAL_BAR_FORMAT = "step {n_fmt}/{total_fmt} |{bar:12}| {rate_fmt}  eta {remaining}  {desc}"
# (key of the values, label on the line, format)
SHOWN = (("loss", "loss", ".4f"), ("mlm_accuracy", "mlm_acc", ".3f"), ("mlm_accuracy_uncommon", "acc_uncommon", ".3f"),
         ("sop_accuracy", "sop_acc", ".3f"), ("final_layer_cosine", "cos", ".3f"), ("lr", "lr", ".2e"),
         ("tokens_per_second", "tok/s", ",.0f"))
# The values every update may carry; any other one shown is a metric, written whole on a terminal.
ROUTINE = ("loss", "lr", "tokens_per_second")
# A phase that ends sooner than this writes its start line only.
DONE_AFTER_SECONDS = 1.0


def describe(values: dict) -> str:
    """`loss 3.1416  mlm_acc 0.250 ...  12,346 tok/s`: the values present, in a fixed order."""
    parts = []
    for key, label, spec in SHOWN:
        if key in values:
            parts.append(f"{values[key]:{spec}} {label}" if label == "tok/s" else f"{label} {values[key]:{spec}}")
    return "  ".join(parts)


class Progress:
    """Steps `initial`..`total` of a run, with the latest values after the bar."""

    def __init__(self, total: int, initial: int = 0, stream: TextIO | None = None):
        self.stream = stream = sys.stderr if stream is None else stream  # the one of now, not of import time
        self.interactive = is_terminal(stream)
        # Into a file, tqdm draws into a buffer nobody reads, and `update` writes whole lines.
        self.bar = tqdm(total=total, initial=initial, file=stream if self.interactive else io.StringIO(),
                        bar_format=TERMINAL_BAR_FORMAT if self.interactive else BAR_FORMAT, unit="step",
                        mininterval=0, dynamic_ncols=True, ascii=None if self.interactive else " #")

    def update(self, step: int, values: dict) -> None:
        self.bar.set_description_str(describe(values), refresh=False)
        self.bar.update(step - self.bar.n)
        if not self.interactive:
            self.stream.write(str(self.bar) + "\n")
            self.stream.flush()
        elif any(key in values and key not in ROUTINE for key, _, _ in SHOWN):
            self.bar.write(f"step {step:,}/{self.bar.total:,}  {describe(values)}", file=self.stream)

    def write(self, message: str) -> None:
        """A message on its own line, not overwritten by the bar."""
        if self.interactive:
            self.bar.write(message, file=self.stream)
        else:
            self.stream.write(message + "\n")
            self.stream.flush()

    def close(self) -> None:
        self.bar.close()


def is_terminal(stream) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


def format_bytes(size: int) -> str:
    """12_917_391 -> "12.9 MB": decimal units, as file managers show sizes."""
    if size < 1000:
        return f"{size} B"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if round(size, 1) < 1000 or unit == "GB":
            return f"{size:.1f} {unit}"


class Phase:
    """A phase of the run (see the module docstring), used as a context manager:

        with Phase(stream, f"encoding {len(documents):,} documents", total=num_sentences, unit="sentences") as phase:
            for chunk in chunks:
                ...
                phase.advance(len(chunk))
            phase.outcome = f"encoded {num_tokens:,} tokens"

    `stream` None writes nothing (the other processes under mpiexec, a library call). `total`
    counts the phase in `unit`s for the bar on a terminal; None: no bar. A phase left by an
    exception clears its bar and writes no end line, so the error comes on a line of its own.
    """

    def __init__(self, stream: TextIO | None, message: str, total: int | None = None, unit: str = "items"):
        self.stream, self.message, self.total, self.unit = stream, message, total, unit
        self.outcome = "done"  # what the phase made, for its end line
        self.bar = None

    def __enter__(self) -> Phase:
        self.start = time.perf_counter()
        if self.stream is not None:
            self.stream.write(self.message + "\n")
            self.stream.flush()
            if self.total is not None and is_terminal(self.stream):
                self.bar = tqdm(total=self.total, file=self.stream, unit=f" {self.unit}", leave=False,
                                unit_scale=self.total >= 1000, dynamic_ncols=True)  # 44.6k, but 448 not 448.0
        return self

    def advance(self, count: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def __exit__(self, exc_type, exc_value, traceback) -> bool:
        if self.bar is not None:
            self.bar.close()
        seconds = time.perf_counter() - self.start
        if exc_type is None and self.stream is not None and seconds >= DONE_AFTER_SECONDS:
            self.stream.write(f"{self.outcome} in {seconds:.1f} s\n")
            self.stream.flush()
        return False
