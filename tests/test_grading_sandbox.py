"""The sandbox against submissions that attack the grader rather than the exercise.

The tests marked `as_root` grade as root with a Python that `nobody` can run, as on Gradescope,
so that the student code really drops to `nobody`; they build that Python (a virtual
environment without pip, over this one's site-packages) once per module, and are skipped
elsewhere (CI does not run as root) or where no such Python can be made.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinyalbert.grading import bundle, sandbox
from tinyalbert.grading.sandbox import NOBODY, PACKAGE_ROOT, Limits, Sandbox

GRADED = ["linear_forward", "linear_backward"]
LINUX = sys.platform.startswith("linux")


def _nobody_runs(argv) -> bool:
    try:
        return subprocess.run(argv, cwd="/", env={"PATH": os.defpath}, user=NOBODY, group=NOBODY, extra_groups=[],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.fixture(scope="module")
def nobody_python():
    """A Python that root grades with and `nobody` can run, tinyalbert and numpy included."""
    if not LINUX or os.geteuid() != 0:
        pytest.skip("needs root on Linux: the student code drops to `nobody` only there")
    version = sys.version_info[:2]
    bases = [sys.executable, getattr(sys, "_base_executable", ""),
             shutil.which("python{}.{}".format(*version), path="/usr/local/bin:/usr/bin:/bin") or ""]
    same = f"import sys; assert sys.version_info[:2] == {version}"
    base = next((b for b in bases if b and _nobody_runs([b, "-I", "-c", same])), None)
    if base is None:
        pytest.skip(f"no Python {version[0]}.{version[1]} that `nobody` can run")
    folder = tempfile.mkdtemp(prefix="tinyalbert-nobody-python-")
    try:
        os.chmod(folder, 0o755)
        venv = Path(folder, "venv")
        made = subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], capture_output=True, timeout=120)
        if made.returncode != 0:
            pytest.skip(f"python -m venv failed: {made.stderr[-300:]!r}")
        ours = [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]
        for site_packages in venv.glob("lib/python*/site-packages"):
            (site_packages / "zz_tinyalbert_tests.pth").write_text(
                "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in ours) + "\n")
        python = str(venv / "bin" / "python")
        if not _nobody_runs([python, "-I", "-c", f"import sys; sys.path.insert(0, {PACKAGE_ROOT!r}); import numpy, tinyalbert"]):
            pytest.skip(f"`nobody` cannot import numpy and tinyalbert (from {PACKAGE_ROOT}) with {python}")
        yield python
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Grades `linear.py` (argv[1]) as root with this Python: `calls` (argv[2]) calls of linear_forward,
# then prints whether the student code dropped to `nobody` and each call's error.
DRIVER = """
import json, sys, warnings
import numpy as np
from tinyalbert.grading import sandbox
warnings.simplefilter("error", RuntimeWarning)  # the student code must not run as root here
with open(sys.argv[1], "rb") as handle:
    files = {"linear.py": handle.read()}
errors = []
with sandbox.Sandbox(files, ["linear_forward", "linear_backward"], sandbox.Limits(call_s=30, startup_s=60)) as box:
    for _ in range(int(sys.argv[2])):
        errors.append(box.call("linear_forward", (np.ones((2, 3)), np.ones((4, 3)), None)).error)
print(json.dumps({"dropped": sandbox.can_run_as_nobody(), "errors": errors}))
"""


def grade_as_root(python: str, source: str, calls: int) -> list:
    folder = tempfile.mkdtemp(prefix="tinyalbert-driver-")
    try:
        path = Path(folder, "linear.py")
        path.write_text(source)
        env = {"PATH": os.defpath, "PYTHONPATH": PACKAGE_ROOT, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        run = subprocess.run([python, "-c", DRIVER, str(path), str(calls)], env=env, capture_output=True,
                             text=True, timeout=300)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["dropped"], "the student code did not run as `nobody`"
    return report["errors"]


def victim_folder() -> Path:
    """A folder of root's with one file of root's, that the student code must not change."""
    folder = Path(tempfile.mkdtemp(prefix="tinyalbert-victim-"))
    os.chmod(folder, 0o755)
    (folder / "victim.py").write_text("VICTIM = 'untouched'\n")
    return folder


def assert_untouched(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == ["victim.py"]
    victim = folder / "victim.py"
    assert victim.read_text() == "VICTIM = 'untouched'\n"
    assert (victim.stat().st_uid, folder.stat().st_uid) == (os.geteuid(), os.geteuid())


# The first call replaces the student's own file (or its whole folder) by a link to the victim,
# then exits: the grader starts the process again for the next call.
SYMLINK_ATTACK = """
import os

def linear_forward(inputs, weight, bias):
    submission = os.path.join(os.getcwd(), "submission")
    if {folder!r}:
        if not os.path.lexists(submission + "-moved"):  # once: a restart in the same folder would find it
            os.rename(submission, submission + "-moved")
            os.symlink({victim_folder!r}, submission)
    else:
        os.unlink(os.path.join(submission, "linear.py"))
        os.symlink({victim_file!r}, os.path.join(submission, "linear.py"))
    os._exit(0)
"""


@pytest.mark.parametrize("folder", [False, True], ids=["file-link", "folder-link"])
@pytest.mark.filterwarnings("ignore:grading as root")
def test_a_restart_writes_through_no_link_the_student_code_made(folder):
    """Where the grader is not root the student code could write these files itself; the restart
    must still write into a fresh folder, not through what the last process left."""
    victims = victim_folder()
    try:
        source = SYMLINK_ATTACK.format(folder=folder, victim_folder=str(victims), victim_file=str(victims / "victim.py"))
        with Sandbox({"linear.py": source}, GRADED, Limits(call_s=30, startup_s=60)) as box:
            for _ in range(2):
                assert "exited with status 0" in box.call("linear_forward", (np.ones((2, 3)), np.ones((4, 3)), None)).error
        assert_untouched(victims)
    finally:
        shutil.rmtree(victims, ignore_errors=True)


@pytest.mark.parametrize("folder", [False, True], ids=["file-link", "folder-link"])
def test_as_root_a_restart_overwrites_and_chowns_nothing_outside_the_sandbox(nobody_python, folder):
    """The audit's attack: as root, the restart wrote the submission through the link (over an
    installed reference file) and gave that file to `nobody`."""
    victims = victim_folder()
    try:
        source = SYMLINK_ATTACK.format(folder=folder, victim_folder=str(victims), victim_file=str(victims / "victim.py"))
        errors = grade_as_root(nobody_python, source, calls=2)
        assert all("exited with status 0" in error for error in errors), errors
        assert_untouched(victims)
    finally:
        shutil.rmtree(victims, ignore_errors=True)


def _alive_as_nobody(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["Uid"].split()[0]) == NOBODY and fields["State"].split()[0] not in ("Z", "X")


# Forks twice, the grandchild in a session of its own (out of the sandbox's process group), and
# waits until it has written its pid; then says what RLIMIT_NPROC is.
ESCAPE = """
import os, resource, time

def linear_forward(inputs, weight, bias):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            with open({pidfile!r} + ".part", "w") as handle:
                handle.write(str(os.getpid()))
            os.rename({pidfile!r} + ".part", {pidfile!r})
            while True:
                time.sleep(1)
        os._exit(0)
    for _ in range(1000):
        if os.path.exists({pidfile!r}):
            break
        time.sleep(0.01)
    raise ValueError("nproc %d %d" % resource.getrlimit(resource.RLIMIT_NPROC))
"""


def test_as_root_no_process_of_the_student_outlives_its_grading_and_forks_are_capped(nobody_python):
    shared = tempfile.mkdtemp(prefix="tinyalbert-escape-")
    pidfile = os.path.join(shared, "escaped.pid")
    escaped = None
    try:
        os.chmod(shared, 0o777)
        errors = grade_as_root(nobody_python, ESCAPE.format(pidfile=pidfile), calls=1)
        assert os.path.exists(pidfile), errors  # the grandchild ran
        escaped = int(Path(pidfile).read_text())
        time.sleep(0.2)
        assert not _alive_as_nobody(escaped), "a process forked by the student code outlived the grading"
        assert f"nproc {sandbox.NPROC_LIMIT} {sandbox.NPROC_LIMIT}" in errors[0], errors
    finally:
        if escaped is not None and _alive_as_nobody(escaped):
            os.kill(escaped, signal.SIGKILL)
        shutil.rmtree(shared, ignore_errors=True)


@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_killing_every_process_of_a_user_refuses_root_and_the_graders_own_user():
    for uid in {0, os.getuid(), os.geteuid()}:
        with pytest.raises(ValueError, match="refusing"):
            sandbox.kill_user_processes(uid)


# Looks for the seed in every command line and environment it can read.
LEAK = """
import glob

def linear_forward(inputs, weight, bias):
    seen, read = [], 0
    for path in glob.glob("/proc/[0-9]*/cmdline") + glob.glob("/proc/[0-9]*/environ"):
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        read += 1
        if b"{seed}" in data:
            seen.append(path)
    raise ValueError(f"LEAKED in {{seen}}" if seen else f"CLEAN after {{read}} files")
"""


@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_the_bundles_seed_is_on_no_command_line_and_its_file_is_private(tmp_path, monkeypatch):
    def fake_wheel(out_dir):  # the wheel is not what this test is about: run_autograder imports this checkout
        wheel = Path(out_dir) / "tinyalbert-0.0.0-py3-none-any.whl"
        wheel.write_bytes(b"")
        return wheel

    monkeypatch.setattr(bundle, "build_wheel", fake_wheel)
    seed = 987654321
    zipped = bundle.write_bundle(tmp_path / "autograder.zip", ["linear"], seed=seed)
    source = tmp_path / "source"
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(source)
        assert (archive.getinfo("grading.json").external_attr >> 16) & 0o777 == 0o600
    os.chmod(source / "grading.json", 0o644)  # as an unzip that drops the modes would leave it
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "linear.py").write_text(LEAK.format(seed=seed))
    env = {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": PACKAGE_ROOT, "AUTOGRADER_ROOT": str(root),
           "AUTOGRADER_PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "PYTHONWARNINGS": "ignore"}
    run = subprocess.run(["bash", str(source / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    report = (root / "results" / "results.json").read_text()
    assert "ValueError: LEAKED" not in report, report
    assert "ValueError: CLEAN after" in report, report  # the student code ran and looked
    assert stat.S_IMODE((source / "grading.json").stat().st_mode) == 0o600
