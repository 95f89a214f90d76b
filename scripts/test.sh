#!/usr/bin/env bash
# Install the test set-up into .venv (a fresh virtual environment), run the test suite (the
# lessons included), then build the docs site strictly: a broken link or reference fails it.
# torch is pinned: an unpinned torch pulls gigabytes of CUDA packages. Where pip finds only
# the CUDA build of 2.13.0, install the CPU build into .venv first (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0" -e ".[test]"
HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}" .venv/bin/python -m pytest -q "$@"
# The lesson tests left their executed notebooks in build/lessons/; the build renders those.
# NO_MKDOCS_2_WARNING silences Material's banner about its end of life, not any build warning.
NO_MKDOCS_2_WARNING=1 .venv/bin/python -m mkdocs build --strict
