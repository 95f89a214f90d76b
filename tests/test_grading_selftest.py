"""`python -m tinyalbert.grading selftest` as CI runs it: the reference scores full marks, the
stubs score 0, and each mutant loses points exactly on the checks aimed at it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tinyalbert.grading.mutants import MUTANTS

ROOT = Path(__file__).resolve().parents[1]


def test_selftest_passes():
    assert len(MUTANTS) >= 25
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("TINYALBERT_GRADING_HEAVY", None)
    result = subprocess.run([sys.executable, "-m", "tinyalbert.grading", "selftest"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "FAIL" not in result.stdout
    assert f"({len(MUTANTS)} mutants)" in result.stdout
