"""What the command-line tools share: a user's mistake becomes one `error:` line, never a
traceback or argparse's usage block."""
from __future__ import annotations

import argparse
import os
import pathlib
import sys


class UsageError(Exception):
    """A mistake in what the user asked for: reported as one `error:` line, exit status 2."""


def print_error(message, prefix: str = "error") -> None:
    """`error: MESSAGE` on standard error, as one line whatever the message holds: line breaks
    and other white space (a quoted argument may carry them) are folded into single spaces."""
    print(f"{prefix}: {' '.join(str(message).split())}", file=sys.stderr)


def show_warning_on_one_line(message, category, filename, lineno, file=None, line=None):
    """`warnings.showwarning` for a command line: `warning: ...`, without file and source line."""
    print_error(message, prefix="warning")


class OneLineErrorParser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage block
        raise UsageError(f"{message} (see --help)")


def int_at_least(minimum: int):
    """An argparse `type` accepting integers >= `minimum`, with a message that says so."""
    wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {value}")
        return value

    return parse


def check_backend_available(backend: str) -> None:
    """Refuse `--backend cupy` when CuPy or a CUDA GPU is missing, before anything slow (the
    model, the data), with what to do instead; any other backend passes."""
    if backend != "cupy":
        return
    from .backend import get_backend

    try:
        get_backend("cupy")
    except RuntimeError as error:
        cause = error.__context__  # the ImportError or CUDA error behind it
        reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(error)
        raise UsageError(f"--backend cupy needs CuPy and a CUDA GPU ({reason}); "
                         "install CuPy (pip install cupy-cuda12x) or use --backend numpy") from None


# Where a command will write (a report, a bundle, stubs, a training run), checked before the work,
# which can take minutes: what the user typed and how to fix it, not an OSError after it.
def file_path_problem(path, example_name: str) -> str:
    """Why a file cannot be written at `path` ("" when nothing is seen in the way; folders that do
    not exist yet are made). `example_name`: a file name to suggest when `path` is a folder."""
    path = pathlib.Path(path)
    try:
        if path.is_dir():
            return f"{path} is a directory; name a file in it (e.g. {path / example_name})"
        return _blocked(path, path.parents)
    except OSError as error:  # a name too long, a loop of links, ...
        return f"{path} cannot be used: {error.strerror}"


def directory_path_problem(path) -> str:
    """Why files cannot be written into the folder `path` ("" when nothing is seen in the way)."""
    path = pathlib.Path(path)
    try:
        if path.exists() and not path.is_dir():
            return f"{path} is a file, not a directory; name a directory"
        return _blocked(path, [path, *path.parents])
    except OSError as error:
        return f"{path} cannot be used: {error.strerror}"


def _blocked(path: pathlib.Path, candidates) -> str:
    """What stands in the way under the nearest existing folder of `candidates` (a file where a
    folder must be, or no right to write)."""
    nearest = next((folder for folder in candidates if folder.exists()), pathlib.Path("."))
    if not nearest.is_dir():
        return f"{path} cannot be made: {nearest} is a file, not a directory"
    if not os.access(nearest, os.W_OK | os.X_OK):
        return f"{path} cannot be made: no permission to write into {nearest}"
    return ""
