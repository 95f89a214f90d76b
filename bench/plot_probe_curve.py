"""Draw tinyalbert-mini's probe scores along its training (bench/probes/mini_curve.tsv) as a PNG.

    python bench/plot_probe_curve.py                      # -> docs/assets/probe_curve.png

The table holds what `bench/probe_mini.py` measured on the run's checkpoints (one row a
checkpoint, steps of 16 x 128 tokens from stage 2 on; step 0 is the stage-1 model). Left: top-1,
top-5 and the share of answers among the best 100 pieces, against the 30% top-1 and 60% top-5
that issue 16 asks for; right: the median rank of the answer (log scale). Dotted lines mark
where a stage began.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP5_GOAL, TOP1_GOAL = 60.0, 30.0  # percent: what issue 16 asks for


def read_curve(path: Path) -> list[dict]:
    """The rows of the curve table, numbers as numbers, in step order."""
    with open(path, newline="", encoding="utf-8") as file:
        rows = [{key: float(value) if key != "stage" else int(value) for key, value in row.items()}
                for row in csv.DictReader(file, delimiter="\t")]
    if not rows:
        raise ValueError(f"{path} holds no rows")
    return sorted(rows, key=lambda row: row["step"])


def stage_starts(rows: list[dict]) -> list[tuple[float, int]]:
    """(step, stage) where each stage after the first began: the last step of the stage before."""
    return [(previous["step"], row["stage"]) for previous, row in zip(rows, rows[1:]) if row["stage"] != previous["stage"]]


def plot_curve(rows: list[dict], out: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import LogLocator, ScalarFormatter

    steps = [row["step"] for row in rows]
    figure = Figure(figsize=(10, 3.8), layout="constrained")
    FigureCanvasAgg(figure)
    shares, ranks = figure.subplots(1, 2)
    shares.plot(steps, [row["top100"] for row in rows], color="tab:blue", label="answer among the best 100")
    shares.plot(steps, [row["top5"] for row in rows], color="tab:orange", label="top-5")
    shares.plot(steps, [row["top1"] for row in rows], color="tab:green", label="top-1")
    shares.axhline(TOP5_GOAL, color="tab:orange", linestyle="--", label=f"top-5 asked for ({TOP5_GOAL:g}%)")
    shares.axhline(TOP1_GOAL, color="tab:green", linestyle="--", label=f"top-1 asked for ({TOP1_GOAL:g}%)")
    shares.set(ylim=(0, 100), ylabel="% of 263 probes", xlabel="step (16 x 128 tokens from stage 2 on)")
    shares.legend(loc="upper right", bbox_to_anchor=(1, 0.93), fontsize="x-small")
    ranks.plot(steps, [row["median_rank"] for row in rows], color="tab:red")
    ranks.set(yscale="log", ylabel="median rank of the answer (of 8,000)", xlabel=shares.get_xlabel())
    ranks.yaxis.set_major_locator(LogLocator(subs=(1, 1.5, 2, 3, 5, 7)))  # 100, 150, 200, ...: plain numbers
    ranks.yaxis.set_major_formatter(ScalarFormatter())
    ranks.minorticks_off()
    for axes in (shares, ranks):
        for step, stage in stage_starts(rows):
            axes.axvline(step, color="gray", linestyle=":", linewidth=1)
            axes.annotate(f"stage {stage}", (step, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                          textcoords="offset points", fontsize="x-small", color="gray")
        axes.grid(alpha=0.3)
    figure.suptitle("tinyalbert-mini on the held-out fact probes, checkpoint by checkpoint")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--curve", type=Path, default=HERE / "probes" / "mini_curve.tsv")
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "assets" / "probe_curve.png")
    args = parser.parse_args(argv)
    plot_curve(read_curve(args.curve), args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
