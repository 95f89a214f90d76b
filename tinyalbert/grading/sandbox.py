"""The grader's side of the sandbox: start the student process, send calls, read results.

Each exercise is graded in a fresh process:

    python -I -c <boot> ROOT REQUEST_FD RESULT_FD

`-I` ignores PYTHON* variables and the user's site-packages and keeps the current directory off
`sys.path`; the environment is replaced by a minimal one; the working directory is a new
temporary directory holding a copy of the submission; when the grader runs as root (as on
Gradescope) the process drops to the `nobody` user, so it cannot write the grader's results.

As root, nothing the student process can reach is trusted: every start gets a fresh folder that
root creates inside its own (so no link can be placed there beforehand), files are created with
O_EXCL|O_NOFOLLOW and given to `nobody` through their open descriptor, what was printed is read
back through the descriptor kept open here, never by path. `nobody` may have at most
`NPROC_LIMIT` processes, and every process of `nobody` is killed before a start and after a stop
(see `kill_user_processes`): the grader assumes that `nobody` runs nothing else on the machine.
Limits (see `Limits`): wall-clock time per call (enforced here), CPU time per call and memory
(RLIMIT_CPU, RLIMIT_AS, set by the worker before any student code runs), and what it may print.

A call that times out, or a process that dies (sys.exit at import, os._exit, a signal), fails
that call with a reason; the process is started again for the next call.
"""
from __future__ import annotations

import fcntl
import os
import pathlib
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from typing import NamedTuple

from . import codec

# argv[4]: the cap on the processes of the user (RLIMIT_NPROC, soft and hard), set before any
# student code runs; 0 for none (a grader that does not drop to `nobody`: the cap would count its own).
BOOT = (
    "import sys, resource; n = int(sys.argv[4]); n and resource.setrlimit(resource.RLIMIT_NPROC, (n, n)); "
    "sys.path.insert(0, sys.argv[1]); from tinyalbert.grading.worker import main; "
    "main(int(sys.argv[2]), int(sys.argv[3]))"
)
PACKAGE_ROOT = str(pathlib.Path(__file__).resolve().parents[2])
NOBODY = 65534
NPROC_LIMIT = 64  # processes (threads included) of `nobody` at once, while a student process runs as it
LOCK_NAME = "tinyalbert-grading-nobody.lock"  # held shared while a student process runs as `nobody`


class Limits(NamedTuple):
    call_s: float = 20.0  # wall-clock seconds per call
    cpu_s: float = 20.0  # CPU seconds per call
    startup_s: float = 60.0  # wall-clock seconds to start Python and load the submission
    exercise_s: float = 180.0  # wall-clock seconds for all the calls of one exercise (a slow submission's bound)
    memory_bytes: int = 4 * 1024**3  # address space of the student process
    print_bytes: int = 64 * 1024  # what the student code may print, in all
    cpu_total_s: float = 600.0  # CPU seconds of one process in all
    file_s: float = 10.0  # wall-clock seconds to load one file (a file that hangs is named; the others still load)


class Outcome(NamedTuple):
    ok: bool
    value: object = None  # when ok: the worker's reply value (`worker.execute`); after `checks.Checked`, the selected outputs
    error: str = ""  # what went wrong, for the student
    reference: tuple = ()  # graded names whose reference the call reached
    timed_out: bool = False  # no answer in time: the wall-clock or CPU limit of the call, or the exercise's


def outcome_of(reply) -> Outcome:
    """A worker's reply (`worker.execute`) as an Outcome, however it was carried."""
    if not isinstance(reply, dict) or "ok" not in reply:
        return Outcome(False, error="the sandbox sent an unreadable answer")
    if reply["ok"]:
        return Outcome(True, reply.get("value"))
    return Outcome(False, error=str(reply.get("error", "")), reference=tuple(reply.get("reference") or ()))


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
_PROBE_LOCK = threading.Lock()  # one probe, even when several sandboxes start at once (the self-test's threads)
PROBE_TRIES = 5  # a probe killed by a signal (or timed out) is run again, up to this many times in all


def can_run_as_nobody() -> bool:
    """Root only: whether this Python and tinyalbert work for `nobody` (a probe, run once).

    On Gradescope they do, and the student process runs as `nobody`. Where the interpreter lives
    in a private directory (a virtual environment under /root) they do not, and it stays root.
    The probe runs as `nobody` too, so it holds the user lock shared, as a student process does:
    another grader's sweep then spares it. A probe killed by a signal all the same (a sweep with
    no lock file), or one that did not finish in time, says nothing about the interpreter: it is
    run again, and never remembered; one that fails so every time is a RuntimeError, rather than a
    False that would run the student code as root.
    """
    global _CAN_DROP
    with _PROBE_LOCK:
        for _ in range(PROBE_TRIES if _CAN_DROP is None else 0):
            code = _probe_as_nobody()
            if code >= 0:
                _CAN_DROP = code == 0
                break
        if _CAN_DROP is None:
            raise RuntimeError(f"the probe of whether `nobody` can run {sys.executable} was killed or timed out "
                               f"{PROBE_TRIES} times (another grader's sweep, or a machine too busy?)")
    return _CAN_DROP


def _probe_as_nobody() -> int:
    """The exit status of importing numpy and tinyalbert as `nobody` (< 0: killed by that signal,
    or -1 when it did not finish in time; 1 when it cannot be started), run under the shared
    user lock."""
    lock_fd = _user_lock_file()
    try:
        if lock_fd >= 0:
            fcntl.flock(lock_fd, fcntl.LOCK_SH)
        probe = subprocess.run(
            [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {PACKAGE_ROOT!r}); import numpy, tinyalbert"],
            cwd="/", env=minimal_environment("/tmp"), user=NOBODY, group=NOBODY, extra_groups=[],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
        )
        return probe.returncode
    except subprocess.TimeoutExpired:  # a machine too busy to answer says nothing about the interpreter
        return -1
    except (OSError, subprocess.SubprocessError):  # e.g. nobody may not enter a private virtual environment
        return 1
    finally:
        if lock_fd >= 0:
            os.close(lock_fd)  # and with it the lock


def kill_user_processes(uid: int, rounds: int = 200) -> int:
    """SIGKILL every process whose real uid is `uid`, scanning /proc again until none is left
    (a process may fork while it is scanned; RLIMIT_NPROC bounds how many it can make). Returns
    how many were still alive after `rounds` scans (0: all gone). Never for root or the uid of
    this process: it is only for the user the student code was dropped to, which must run
    nothing else on this machine."""
    if uid in (0, os.getuid(), os.geteuid()):
        raise ValueError(f"refusing to kill every process of uid {uid}: it is root or the grader's own")
    own = os.getpid()
    alive = 0
    for _ in range(rounds):
        alive = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == own:
                continue
            try:
                with open(f"/proc/{entry.name}/status", "rb") as handle:
                    status = handle.read().decode("ascii", "replace")
            except OSError:  # gone meanwhile
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            try:
                real_uid = int(fields["Uid"].split()[0])
            except (KeyError, IndexError, ValueError):
                continue
            if real_uid != uid:
                continue
            try:  # a zombie too: its other threads may still run
                os.kill(int(entry.name), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue
            if fields.get("State", "").split()[:1] not in (["Z"], ["X"]):
                alive += 1
        if not alive:
            return 0
        time.sleep(0.005)
    return alive


def _sweep_nobody() -> None:
    left = kill_user_processes(NOBODY)
    if left:
        warnings.warn(f"{left} processes of the user `nobody` (uid {NOBODY}) survived SIGKILL", RuntimeWarning, stacklevel=3)


def _user_lock_file() -> int:
    """A descriptor of the lock file in a folder only root can write (so `nobody` cannot take or
    replace it), or -1 when there is none such."""
    for folder in ("/run", "/var/run"):
        try:
            info = os.stat(folder)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o022:
            break
    else:
        folder = os.path.join(tempfile.gettempdir(), "tinyalbert-grading-root")
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return -1
        info = os.lstat(folder)  # made here, or by someone else beforehand: then it is not used
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o077:
            return -1
    try:
        return os.open(os.path.join(folder, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError:
        return -1


def _create(directory_fd: int, name: str, flags: int, owner) -> int:
    """Open a new file `name` in the open directory: it must not exist (no link is followed), and
    it is given to `owner` (uid, gid) through the descriptor."""
    if name in ("", ".", "..") or os.path.basename(name) != name:
        raise ValueError(f"not a plain file name: {name!r}")
    fd = os.open(name, flags | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=directory_fd)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
    except BaseException:
        os.close(fd)
        raise
    return fd


class Sandbox:
    """One student process for one exercise. `files`: file name -> source text; `home`: the
    exercise's own file name (`linear.py`), whose definitions win over other files' (see
    `worker.load_submission`)."""

    def __init__(self, files: dict, graded, limits: Limits = Limits(), home: str | None = None):
        self.files, self.graded, self.limits, self.home = dict(files), list(graded), limits, home
        self.process = None
        self.startup_failure = None  # set when the submission cannot even be loaded
        self.calls_end = None  # when the exercise's time for calls runs out (set by the first call)
        self.info = {"found": [], "errors": [], "flagged": {}}
        self.printed = b""
        # Root's own (as root): the student process gets a fresh folder inside it at every start.
        self.workdir = tempfile.mkdtemp(prefix="tinyalbert-grading-")
        os.chmod(self.workdir, 0o711)  # `nobody` may pass through to its folder, not list or write here
        self.starts = 0
        self.rundir = self.output_fd = self.request_fd = self.result_fd = None
        self.dropped = False  # whether the running process is `nobody`'s
        self.lock_fd = None

    # --- process life ---------------------------------------------------------------------
    def _prepare(self, owner) -> str:
        """A fresh folder with the submission and the file for what is printed, made by this
        process before the student's, then given to `owner` (None: kept): no path in it is
        followed, so no link the student code made earlier (in a folder it owned) is written through."""
        self.starts += 1
        self.rundir = os.path.join(self.workdir, f"run-{self.starts}")
        os.mkdir(self.rundir, 0o700)  # fails if anything is there: the parent is root's
        submission = os.path.join(self.rundir, "submission")
        os.mkdir(submission, 0o755)
        folder = os.open(submission, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            for name, source in self.files.items():  # bytes as submitted, or text (written as UTF-8)
                fd = _create(folder, name, os.O_WRONLY, owner)
                with open(fd, "wb") as handle:
                    handle.write(source if isinstance(source, bytes) else source.encode("utf-8"))
        finally:
            os.close(folder)
        folder = os.open(self.rundir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:  # kept open by the grader: read back through this descriptor, whatever becomes of the name
            self.output_fd = _create(folder, "printed.txt", os.O_RDWR, owner)
        finally:
            os.close(folder)
        if owner is not None:  # last, when everything in them is made
            os.chown(submission, *owner, follow_symlinks=False)
            os.chown(self.rundir, *owner, follow_symlinks=False)
        return submission

    def _claim_nobody(self):
        """Before a start as `nobody`: kill what `nobody` runs (unless a student process of another
        sandbox, this grader's or another's, runs now), then hold the lock shared while this one runs."""
        if self.lock_fd is None:
            self.lock_fd = _user_lock_file()
        self._sweep_unless_shared()
        if self.lock_fd >= 0:
            fcntl.flock(self.lock_fd, fcntl.LOCK_SH)

    def _release_nobody(self):
        """After a stop as `nobody`: kill every process of `nobody` (what the student code forked
        and detached too), unless another sandbox's runs now: then the last one to stop does it."""
        try:
            self._sweep_unless_shared()
        finally:
            if self.lock_fd >= 0:
                fcntl.flock(self.lock_fd, fcntl.LOCK_UN)

    def _sweep_unless_shared(self):
        """Kill every process of `nobody`, unless another sandbox holds the lock (its student process
        runs now). Without a safe lock file, always (a sandbox beside this one then dies too)."""
        if self.lock_fd >= 0:
            try:
                fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
        _sweep_nobody()

    def start(self):
        as_root = os.geteuid() == 0 and can_run_as_nobody()
        if os.geteuid() == 0 and not as_root:
            warnings.warn(f"grading as root, but {sys.executable} and tinyalbert cannot be read by `nobody`: the "
                          "student code runs as root. Install them where every user can read them (as on "
                          "Gradescope), or grade in a container.", RuntimeWarning, stacklevel=2)
        if as_root:
            self._claim_nobody()
            self.dropped = True
        try:
            submission = self._prepare((NOBODY, NOBODY) if as_root else None)
            request_read, self.request_fd = os.pipe()
            result_write = None
            try:
                self.result_fd, result_write = os.pipe()
                self.process = subprocess.Popen(
                    [sys.executable, "-I", "-c", BOOT, PACKAGE_ROOT, str(request_read), str(result_write),
                     str(NPROC_LIMIT if as_root else 0)],
                    cwd=self.rundir, env=minimal_environment(self.rundir), stdin=subprocess.DEVNULL,
                    stdout=self.output_fd, stderr=subprocess.STDOUT, pass_fds=(request_read, result_write),
                    start_new_session=True, user=NOBODY if as_root else None, group=NOBODY if as_root else None,
                    extra_groups=[] if as_root else None,
                )
            finally:
                os.close(request_read)
                if result_write is not None:
                    os.close(result_write)
        except BaseException:
            self._after_process()
            raise
        self._send({"graded": self.graded, "directory": submission, "limits": self.limits._asdict(), "home": self.home})
        self.info = self._receive(self.limits.startup_s, during="loading your files")

    def stop(self):
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        self.process = None
        self._after_process()

    def _after_process(self):
        """What is left of a start once its process is gone (or never began)."""
        if self.dropped:
            self.dropped = False
            self._release_nobody()
        for fd in (self.request_fd, self.result_fd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.request_fd = self.result_fd = None
        if self.output_fd is not None:
            try:  # the cap, and the note saying so
                self.printed += os.pread(self.output_fd, self.limits.print_bytes + 256, 0)
            except OSError:
                pass
            os.close(self.output_fd)
            self.output_fd = None
        if self.rundir is not None:
            shutil.rmtree(self.rundir, ignore_errors=True)  # fd-based: follows no link (avoids_symlink_attacks)
            self.rundir = None

    def close(self):
        self.stop()
        if self.lock_fd is not None and self.lock_fd >= 0:
            os.close(self.lock_fd)
        self.lock_fd = None
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
            return Outcome(False, error=self._over_budget(), timed_out=True)
        self.ensure_started()
        if self.startup_failure is not None:  # a restart that ran out of time is a timeout too
            return Outcome(False, error=self.startup_failure, timed_out=self.startup_failure.startswith(LOAD_TIMEOUT_NOTE))
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
            return Outcome(False, error=self._over_budget() if time.monotonic() >= self.calls_end else str(error),
                           timed_out=True)
        except SandboxBroken as error:
            out_of_cpu = self.process is not None and self.process.poll() == -signal.SIGXCPU
            self.stop()
            return Outcome(False, error=str(error), timed_out=out_of_cpu)
        if perturbations is not None and isinstance(reply, dict) and reply.get("ok") is True:
            return Outcome(True, [outcome_of(item) for item in reply["value"]])
        return outcome_of(reply)  # one call's reply, or the batch's failure (a reply that could not be sent)

    def _over_budget(self) -> str:
        return (f"not run to the end: this exercise's calls took more than {self.limits.exercise_s:g} s in all "
                "(far too slow; the reference takes well under a second)")

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
        if header_size > codec.MAX_HEADER_BYTES:  # the worker refuses to send one (codec.to_bytes): a backstop
            raise SandboxBroken(codec.too_large_message(header_size))
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
