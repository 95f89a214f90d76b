"""The scripts of bench/ (not a package), imported as modules by the tests that check them."""
import importlib
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def import_bench_module(name: str):
    """bench/NAME.py as a module, without leaving bench/ on sys.path."""
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))
