"""The progress line of a run, drawn by tqdm (its rate and ETA).

Into a log file (not a terminal) every update is written as a line of its own, so `tail -f` and
`grep` work on it. On a terminal tqdm redraws one line in place, cut at the terminal's width; the
step, the rate and the ETA come first there, so that a narrow terminal (80 columns) cuts only
values. An update that carries metrics measured on a batch (accuracies, the cosine) is also
written whole, as a line above the bar, so that none of them is cut away.
"""
from __future__ import annotations

import io
import sys
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
        self.interactive = hasattr(stream, "isatty") and stream.isatty()
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
