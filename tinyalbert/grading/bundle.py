"""`python -m tinyalbert.grading gradescope-bundle OUT.zip`: a Gradescope autograder.

The zip holds:

- `tinyalbert-<version>-py3-none-any.whl`, built here from this checkout (`pip wheel --no-deps`),
  so the autograder grades with exactly this tinyalbert and needs no copy of the repository;
- `setup.sh`: installs the run-time dependencies grading uses (numpy, safetensors,
  sentencepiece; not tqdm, which only training's progress lines need) from PyPI, then the wheel with `--no-index --no-deps`; nothing else is fetched;
- `run_autograder`: grades /autograder/submission and writes /autograder/results/results.json
  (the root can be moved with AUTOGRADER_ROOT, and the interpreter chosen with
  AUTOGRADER_PYTHON, for testing the bundle away from Gradescope). If Python itself cannot run
  the grader, it still writes a results.json that says so;
- `grading.json`: the exercises, their points, the time budget of one grading and the seed of
  the random cases (drawn when the bundle is made, unless given), so students never see it: it is readable by its owner only (mode 600 in
  the zip, and again at every run), and `run_autograder` hands the seed to the grader inside
  Python, never on a command line, which any process can read in /proc/PID/cmdline.
"""
from __future__ import annotations

import json
import pathlib
import secrets
import shutil
import subprocess
import sys
import tempfile
import zipfile

from .exercises import select
from .grade import DEFAULT_BUDGET_S, check_budget, check_seed, parse_points
from .sandbox import PACKAGE_ROOT

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, in /autograder/source, when the autograder is built.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m pip install --upgrade "numpy>=2.1" "safetensors>=0.4" "sentencepiece>=0.2" "hypothesis>=6.100"
python3 -m pip install --no-index --no-deps ./tinyalbert-*.whl
python3 -m tinyalbert.grading list
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: the files are in $ROOT/submission.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-python3}"
HERE="$(cd "$(dirname "$0")" && pwd)"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
# Beside this script, or in $ROOT/source where Gradescope unzips the bundle (it runs a copy of
# this script from $ROOT).
CONFIG="$HERE/grading.json"
[ -f "$CONFIG" ] || CONFIG="$ROOT/source/grading.json"
# The seed: for this user only (the student's code runs as another), whatever the unzip kept.
chmod 600 "$CONFIG"
# `python -m tinyalbert.grading grade` with the settings of grading.json, handed over inside Python:
# not on a command line, which the student's code could read in /proc/PID/cmdline.
"$PYTHON" -c '
import json, sys
from tinyalbert.grading.__main__ import main
with open(sys.argv[1]) as handle:
    config = json.load(handle)
argv = ["grade", sys.argv[2], "--exercise", *config["exercises"], "--seed", str(config["seed"]),
        "--time-budget", str(config["time_budget_s"]), "--format", "gradescope", "--output", sys.argv[3]]
sys.exit(main(argv + (["--points", *config["points"]] if config["points"] else [])))
' "$CONFIG" "$ROOT/submission" "$RESULTS"
status=$?
if [ $status -ne 0 ] || [ ! -s "$RESULTS" ]; then
    printf '{"score": 0, "output": "The autograder could not run (status %s). Please tell the course staff.", "tests": []}\\n' "$status" > "$RESULTS"
fi
"""


def build_wheel(out_dir) -> pathlib.Path:
    """Build tinyalbert's wheel from the checkout this package runs from, offline, on a copy of
    the sources (so the build leaves nothing behind in the checkout)."""
    root = pathlib.Path(PACKAGE_ROOT)
    if not (root / "pyproject.toml").exists():
        raise RuntimeError(f"gradescope-bundle needs a tinyalbert checkout (with pyproject.toml), not {PACKAGE_ROOT}")
    source = pathlib.Path(out_dir) / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (root / name).exists():
            shutil.copy2(root / name, source / name)
    shutil.copytree(root / "tinyalbert", source / "tinyalbert", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out_dir), str(source)],
        capture_output=True, text=True,
    )
    wheels = sorted(pathlib.Path(out_dir).glob("tinyalbert-*.whl"))
    if completed.returncode != 0 or not wheels:
        raise RuntimeError("building tinyalbert's wheel failed (it needs setuptools>=77 installed here):\n"
                           f"{completed.stderr[-2000:]}")
    return wheels[0]


def write_bundle(out_zip, exercise_names=None, seed: int | None = None, points: dict | None = None,
                 time_budget_s: float = DEFAULT_BUDGET_S) -> pathlib.Path:
    """Write the autograder zip; returns its path. `points`: exercise -> total it is worth;
    `time_budget_s`: the wall-clock budget of each grading (`grade --time-budget`)."""
    exercises = [e.name for e in select(exercise_names, include_extra=True)] if exercise_names else \
        [e.name for e in select(None)]
    config = {"exercises": exercises, "seed": check_seed(seed) if seed is not None else secrets.randbelow(2**31),
              "points": [f"{name}={total:g}" for name, total in (points or {}).items()],
              "time_budget_s": check_budget(time_budget_s)}
    # run_autograder passes these to `grade --points`: refused now, not at every submission.
    parse_points(config["points"], exercises)
    out_zip = pathlib.Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        wheel = build_wheel(scratch)
        with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o755 << 16  # executable, as Gradescope expects
                bundle.writestr(info, text)
            info = zipfile.ZipInfo("grading.json")
            info.external_attr = 0o600 << 16  # the seed: readable by its owner (root on Gradescope) only
            bundle.writestr(info, json.dumps(config, indent=2) + "\n")
            bundle.write(wheel, wheel.name)
    return out_zip
