"""Run the lessons as notebooks: find them, execute them in a fresh kernel, keep the results.

    python scripts/lessons.py                 # execute every lesson, write build/lessons/*.ipynb
    python scripts/lessons.py 03 05           # only the lessons whose file starts with 03_ or 05_
    LESSONS_FULL=1 python scripts/lessons.py  # the heavier settings the lessons offer

A lesson is `lessons/NN_topic.py` in jupytext's percent format. It runs in its own Jupyter
kernel (the IPC transport: Unix sockets, no TCP ports), with this checkout's `tinyalbert` on
PYTHONPATH and the lessons folder as working directory. The executed notebook is written to
`build/lessons/NN_topic.ipynb` with a SHA-256 of its sources, so that the docs build can
reuse it as long as neither the lesson nor the package has changed since
(`tests/test_lessons.py` writes them too).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LESSONS_DIR = REPO_ROOT / "lessons"
EXECUTED_DIR = REPO_ROOT / "build" / "lessons"
LESSON_PATTERN = "[0-9][0-9]_*.py"
# Seconds one lesson may take, all its cells together (the heavier settings get more).
LESSON_TIMEOUT = 240
LESSON_TIMEOUT_FULL = 1800


def lesson_files() -> list[Path]:
    """Every lesson, in course order (the two-digit prefix)."""
    return sorted(LESSONS_DIR.glob(LESSON_PATTERN))


def source_hash(path: Path) -> str:
    """SHA-256 of the lesson and of the package it runs (code and bundled model): an executed
    notebook with another hash was made from other sources and is not reused."""
    digest = hashlib.sha256(path.read_bytes())
    package = REPO_ROOT / "tinyalbert"
    for file in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(file.relative_to(package).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def executed_path(path: Path) -> Path:
    return EXECUTED_DIR / (path.stem + ".ipynb")


def lesson_timeout() -> int:
    return LESSON_TIMEOUT_FULL if os.environ.get("LESSONS_FULL") == "1" else LESSON_TIMEOUT


def kernel_environment() -> dict:
    """The client's environment, with this checkout first on PYTHONPATH and a quiet Hub."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("HF_HUB_OFFLINE", "1")  # lessons never download
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


def this_interpreter_kernel_manager(**options):
    """A KernelManager whose kernel is this very Python (`sys.executable -m ipykernel_launcher`),
    whatever `python3` kernel specs a user's Jupyter folders may hold."""
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import KernelManager

    class ThisInterpreter(KernelManager):
        @property
        def kernel_spec(self):
            return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                              display_name="Python 3", language="python")

    return ThisInterpreter(kernel_name="python3", **options)


def execute_lesson(path: Path, timeout: int | None = None):
    """Execute lesson `path` top to bottom in a new kernel; return (notebook, seconds).

    Raises nbclient's CellExecutionError (with the failing cell and its traceback) when a cell
    fails, and its timeout error when the whole lesson takes more than `timeout` seconds.
    """
    import jupytext
    from nbclient import NotebookClient

    timeout = lesson_timeout() if timeout is None else timeout
    notebook = jupytext.read(path)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    start = time.perf_counter()
    deadline = start + timeout

    def seconds_left(cell) -> int:
        # nbclient's timeout is per cell; handing each cell what is left makes it one per lesson.
        return max(1, int(deadline - time.perf_counter()))

    # A short private folder for the kernel's sockets and connection file (a Unix socket path is
    # limited to ~100 bytes), so nothing depends on a writable Jupyter runtime folder in $HOME.
    with tempfile.TemporaryDirectory(prefix="lesson-kernel-") as sockets:
        manager = this_interpreter_kernel_manager(transport="ipc", ip=os.path.join(sockets, "kernel"),
                                                  connection_file=os.path.join(sockets, "kernel.json"))
        client = NotebookClient(
            notebook, km=manager, timeout_func=seconds_left, kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        try:
            client.execute(env=kernel_environment())
        finally:
            # A kernel manager handed in stays the caller's to stop: nbclient leaves its kernel running.
            if client.kc is not None:
                client.kc.stop_channels()
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)
    seconds = time.perf_counter() - start
    notebook.metadata["tinyalbert"] = {"source_sha256": source_hash(path), "seconds": round(seconds, 1)}
    return notebook, seconds


def save_executed(notebook, path: Path) -> Path:
    import nbformat

    target = executed_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target


def load_fresh_executed(path: Path):
    """The executed notebook of `path` from build/lessons, or None when missing or out of date."""
    import nbformat

    target = executed_path(path)
    if not target.is_file():
        return None
    notebook = nbformat.read(target, as_version=4)
    if notebook.metadata.get("tinyalbert", {}).get("source_sha256") != source_hash(path):
        return None
    return notebook


def main(prefixes: list[str]) -> int:
    chosen = [p for p in lesson_files() if not prefixes or any(p.name.startswith(f"{x}_") for x in prefixes)]
    if not chosen:
        print(f"no lesson matches {prefixes} in {LESSONS_DIR}", file=sys.stderr)
        return 2
    for path in chosen:
        notebook, seconds = execute_lesson(path)
        print(f"{path.name}: {seconds:.1f} s -> {save_executed(notebook, path).relative_to(REPO_ROOT)}")
    return 0


def parse_prefixes(argv: list[str]) -> list[str]:
    """The lesson prefixes on the command line (`03 05`); --help prints this file's docstring."""
    parser = argparse.ArgumentParser(prog="python scripts/lessons.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", metavar="NN", help="run only the lessons whose file starts with NN_")
    return parser.parse_args(argv).prefixes


if __name__ == "__main__":
    sys.exit(main(parse_prefixes(sys.argv[1:])))
