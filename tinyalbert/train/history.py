"""The loss history: per-step values kept on the device until read, the non-finite check, the plot.

Reading a device value forces the host to wait for the GPU, so the loop keeps losses and
metric sums on the device and reads them in one go every `log_every` steps (`PendingSteps`).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..backend import to_numpy
from .metrics import metrics_from_sums


class NonFiniteLossError(RuntimeError):
    """The loss (or the gradient norm) became inf or nan; the run stopped without saving."""


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
    """Raise NonFiniteLossError at the first record whose loss or gradient norm is inf or nan."""
    for record in records:
        for name in ("loss", "grad_norm"):
            if not math.isfinite(record[name]):
                raise NonFiniteLossError(f"{name} is {record[name]} at step {record['step']} (lr {record['lr']:.3g})")


# Curves of the bottom panel: each a share in [0, 1].
ACCURACY_CURVES = (("mlm_accuracy", "tab:blue", "-"), ("mlm_accuracy_uncommon", "tab:blue", ":"),
                   ("sop_accuracy", "tab:orange", "-"), ("final_layer_cosine", "tab:red", "--"))


def draw_step_losses(axes, steps: list[int], losses: list[float], name: str = "total") -> None:
    """Each step's loss in grey and, from 100 steps on, a moving mean over a fiftieth of them in
    black (one batch's loss is noisy; the trend is what a reader looks for)."""
    axes.plot(steps, losses, color="0.75", linewidth=0.8, label=f"{name} (each step)")
    window = max(1, len(losses) // 50)
    if window > 1:
        smoothed = np.convolve(losses, np.ones(window) / window, mode="valid")
        axes.plot(steps[window - 1 :], smoothed, color="black", linewidth=1.2, label=f"{name} (mean of {window})")


def _draw_losses(axes, history: list[dict], logged: list[dict]) -> None:
    draw_step_losses(axes, [record["step"] for record in history], [record["loss"] for record in history])
    for name, color in (("mlm_loss", "tab:blue"), ("sop_loss", "tab:orange")):
        points = [(record["step"], record[name]) for record in logged if name in record]
        if points:
            axes.plot(*zip(*points), color=color, marker=".", linewidth=1, label=name.replace("_", " "))
    axes.set_ylabel("loss")
    axes.legend(loc="upper right")
    axes.grid(alpha=0.3)


def _draw_accuracies(axes, logged: list[dict]) -> None:
    for name, color, style in ACCURACY_CURVES:
        points = [(record["step"], record[name]) for record in logged if name in record]
        if points:
            axes.plot(*zip(*points), color=color, linestyle=style, marker=".", linewidth=1,
                      label=name.replace("_", " "))
    axes.set_ylabel("logged batches")
    axes.set_xlabel("step")
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    if logged:
        axes.legend(loc="upper left", fontsize="small")


def plot_loss_curve(history: list[dict], path: Path) -> bool:
    """Draw total, MLM and SOP loss (top) and the accuracies and the final-layer cosine (bottom)
    into `path`, replacing it atomically.

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
    logged = [record for record in history if "mlm_loss" in record]
    _draw_losses(loss_axes, history, logged)
    _draw_accuracies(accuracy_axes, logged)
    save_figure(figure, path)
    return True


def save_figure(figure, path: Path) -> None:
    """Write a matplotlib `figure` into `path` as a PNG through a temporary file, so that a reader
    (or an interruption) never sees half a picture."""
    temporary = path.with_name("." + path.name + ".tmp.png")
    try:
        figure.savefig(temporary, dpi=100)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
