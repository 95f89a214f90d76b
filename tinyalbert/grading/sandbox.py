"""The grader's side of the sandbox: start the student process, send calls, read results.

Each exercise is graded in a fresh process:

    python -I -c <boot> ROOT REQUEST_FD RESULT_FD

`-I` ignores PYTHON* variables and the user's site-packages and keeps the current directory off
`sys.path`; the environment is replaced by a minimal one; the working directory is a new
temporary directory holding a copy of the submission; when the grader runs as root (as on
Gradescope) the process drops to the `nobody` user, so it cannot write the grader's results.
Limits (see `Limits`): wall-clock time per call (enforced here), CPU time per call and memory
(RLIMIT_CPU, RLIMIT_AS, set by the worker before any student code runs), and what it may print.

A call that times out, or a process that dies (sys.exit at import, os._exit, a signal), fails
that call with a reason; the process is started again for the next call.
"""
from __future__ import annotations

import os
import pathlib
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from typing import NamedTuple

from . import codec

BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); from tinyalbert.grading.worker import main; "
    "main(int(sys.argv[2]), int(sys.argv[3]))"
)
PACKAGE_ROOT = str(pathlib.Path(__file__).resolve().parents[2])
NOBODY = 65534


class Limits(NamedTuple):
    call_s: float = 20.0  # wall-clock seconds per call
    cpu_s: float = 20.0  # CPU seconds per call
    startup_s: float = 60.0  # wall-clock seconds to start Python and load the submission
    exercise_s: float = 180.0  # wall-clock seconds for all the calls of one exercise (a slow submission's bound)
    memory_bytes: int = 4 * 1024**3  # address space of the student process
    print_bytes: int = 64 * 1024  # what the student code may print, in all
    cpu_total_s: float = 600.0  # CPU seconds of one process in all


class Outcome(NamedTuple):
    ok: bool
    value: object = None  # the selected outputs when ok
    error: str = ""  # what went wrong, for the student
    reference: tuple = ()  # graded names whose reference the call reached


class SandboxBroken(Exception):
    """The student process did not answer: timed out, died, or sent something unreadable."""


class SandboxTimeout(SandboxBroken):
    """The student process sent no answer in time."""


# The start of the note of a submission whose files never finished loading (see `ensure_started`).
LOAD_TIMEOUT_NOTE = "your code could not be loaded: loading your files took more than"


def minimal_environment(home: str) -> dict:
    return {
        "PATH": os.defpath, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
    }


_CAN_DROP = None


def can_run_as_nobody() -> bool:
    """Root only: whether this Python and tinyalbert work for `nobody` (a probe, run once).

    On Gradescope they do, and the student process runs as `nobody`. Where the interpreter lives
    in a private directory (a virtual environment under /root) they do not, and it stays root.
    """
    global _CAN_DROP
    if _CAN_DROP is None:
        try:
            probe = subprocess.run(
                [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {PACKAGE_ROOT!r}); import numpy, tinyalbert"],
                cwd="/", env=minimal_environment("/tmp"), user=NOBODY, group=NOBODY, extra_groups=[],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
            )
            _CAN_DROP = probe.returncode == 0
        except (OSError, subprocess.SubprocessError):
            _CAN_DROP = False
    return _CAN_DROP


class Sandbox:
    """One student process for one exercise. `files`: file name -> source text."""

    def __init__(self, files: dict, graded, limits: Limits = Limits()):
        self.files, self.graded, self.limits = dict(files), list(graded), limits
        self.process = None
        self.startup_failure = None  # set when the submission cannot even be loaded
        self.calls_end = None  # when the exercise's time for calls runs out (set by the first call)
        self.info = {"found": [], "errors": [], "flagged": {}}
        self.printed = b""
        self.workdir = tempfile.mkdtemp(prefix="tinyalbert-grading-")

    # --- process life ---------------------------------------------------------------------
    def start(self):
        submission = os.path.join(self.workdir, "submission")
        os.makedirs(submission, exist_ok=True)
        for name, source in self.files.items():  # bytes as submitted, or text (written as UTF-8)
            target = pathlib.Path(submission, name)
            target.write_bytes(source) if isinstance(source, bytes) else target.write_text(source, encoding="utf-8")
        self.output_path = os.path.join(self.workdir, f"printed-{time.monotonic_ns()}.txt")
        output = open(self.output_path, "wb")
        request_read, self.request_fd = os.pipe()
        self.result_fd, result_write = os.pipe()
        as_root = os.geteuid() == 0 and can_run_as_nobody()
        if os.geteuid() == 0 and not as_root:
            warnings.warn(f"grading as root, but {sys.executable} and tinyalbert cannot be read by `nobody`: the "
                          "student code runs as root. Install them where every user can read them (as on "
                          "Gradescope), or grade in a container.", RuntimeWarning, stacklevel=2)
        if as_root:
            for path in (self.workdir, submission, self.output_path, *[os.path.join(submission, f) for f in self.files]):
                os.chown(path, NOBODY, NOBODY)
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", BOOT, PACKAGE_ROOT, str(request_read), str(result_write)],
            cwd=self.workdir, env=minimal_environment(self.workdir), stdin=subprocess.DEVNULL,
            stdout=output, stderr=subprocess.STDOUT, pass_fds=(request_read, result_write),
            start_new_session=True, user=NOBODY if as_root else None, group=NOBODY if as_root else None,
            extra_groups=[] if as_root else None,
        )
        output.close()
        os.close(request_read)
        os.close(result_write)
        self._send({"graded": self.graded, "directory": submission, "limits": self.limits._asdict()})
        self.info = self._receive(self.limits.startup_s, during="loading your files")

    def stop(self):
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        for fd in (self.request_fd, self.result_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            with open(self.output_path, "rb") as handle:
                self.printed += handle.read(self.limits.print_bytes + 256)  # the cap, and the note saying so
        except OSError:
            pass
        self.process = None

    def close(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def ensure_started(self):
        if self.process is not None or self.startup_failure is not None:
            return
        try:
            self.start()
        except SandboxTimeout:
            self.startup_failure = (f"{LOAD_TIMEOUT_NOTE} {self.limits.startup_s:g} s: code at the top level of a "
                                    "file (outside any function) loops or is far too slow")
            self.stop()
        except SandboxBroken as error:
            self.startup_failure = f"your code could not be loaded: {error}"
            self.stop()

    # --- calls ------------------------------------------------------------------------------
    def call(self, target, args, kwargs=None, *, select=None, keep=None, perturbations=None) -> Outcome:
        """Call `target` in the student process; `perturbations` makes it one call per entry."""
        now = time.monotonic()
        self.calls_end = self.calls_end or now + self.limits.exercise_s
        if now >= self.calls_end:  # before any restart: a process killed for time is not started again
            return Outcome(False, error=self._over_budget())
        self.ensure_started()
        if self.startup_failure is not None:
            return Outcome(False, error=self.startup_failure)
        now = time.monotonic()
        count = 1 if perturbations is None else max(1, len(perturbations))
        request = {"op": "call" if perturbations is None else "perturbed", "target": target,
                   "args": {"args": list(args), "kwargs": dict(kwargs or {})}, "select": select,
                   "keep": keep, "cpu_s": self.limits.cpu_s, "perturbations": perturbations}
        try:
            self._send(request)
            reply = self._receive(min(self.limits.call_s * count, self.calls_end - now))
        except SandboxTimeout as error:
            self.stop()
            return Outcome(False, error=self._over_budget() if time.monotonic() >= self.calls_end else str(error))
        except SandboxBroken as error:
            self.stop()
            return Outcome(False, error=str(error))
        if perturbations is not None:
            return Outcome(True, [self._outcome(item) for item in reply["value"]])
        return self._outcome(reply)

    def _over_budget(self) -> str:
        return (f"not run to the end: this exercise's calls took more than {self.limits.exercise_s:g} s in all "
                "(far too slow; the reference takes well under a second)")

    @staticmethod
    def _outcome(reply) -> Outcome:
        if not isinstance(reply, dict) or "ok" not in reply:
            return Outcome(False, error="the sandbox sent an unreadable answer")
        if reply["ok"]:
            return Outcome(True, reply.get("value"))
        return Outcome(False, error=str(reply.get("error", "")), reference=tuple(reply.get("reference") or ()))

    # --- the pipe ---------------------------------------------------------------------------
    def _send(self, value):
        data = memoryview(codec.to_bytes(value))
        try:
            while data:
                data = data[os.write(self.request_fd, data):]
        except OSError:
            raise SandboxBroken(self._death_reason()) from None

    def _read_exact(self, count: int, deadline: float, seconds: float, during: str) -> bytes:
        data = b""
        while len(data) < count:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.result_fd], [], [], max(0.0, left))
            if not ready:
                raise SandboxTimeout(f"no answer within {seconds:g} s {during} (an endless loop, or far too slow)")
            chunk = os.read(self.result_fd, min(count - len(data), 1 << 20))
            if not chunk:
                raise SandboxBroken(self._death_reason())
            data += chunk
        return data

    def _receive(self, seconds: float, during: str = "from the call"):
        deadline = time.monotonic() + seconds
        header_size = struct.unpack("<Q", self._read_exact(8, deadline, seconds, during))[0]
        if header_size > codec.MAX_FRAME_BYTES:
            raise SandboxBroken("the answer was too large")
        header = self._read_exact(header_size, deadline, seconds, during)
        archive_size = struct.unpack("<Q", self._read_exact(8, deadline, seconds, during))[0]
        if archive_size > codec.MAX_FRAME_BYTES:
            raise SandboxBroken("the answer was too large")
        archive = self._read_exact(archive_size, deadline, seconds, during)
        try:
            return codec.from_bytes(header, archive, trusted=False)
        except Exception as error:  # garbage written into the pipe by the student code
            raise SandboxBroken(f"the sandbox sent an unreadable answer ({type(error).__name__})") from None

    def _death_reason(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "the process stopped answering"
        if code == -signal.SIGXCPU:
            return f"used more than {self.limits.cpu_s:g} s of CPU time"
        if code < 0:
            return f"the process was killed by signal {signal.Signals(-code).name}"
        return f"the process exited with status {code} (sys.exit or os._exit in your code?)"
