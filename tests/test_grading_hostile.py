"""The grader against submissions that reach past the exercise: links to the grader's own files,
routes around the tripwires, files that hang, values too large to read, and the rules that must
not accuse or penalize right work (a given helper imported, a second file defining a name).

Most tests call the function that decides; a grading run uses the `linear` exercise with short limits.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinyalbert.grading import codec, sandbox
from tinyalbert.grading.checks import CaseResult, Check, InProcess, run_check
from tinyalbert.grading.exercises import BY_NAME
from tinyalbert.grading.grade import Setting, grade, link_notes, read_files, submission_paths, unread_files
from tinyalbert.grading.properties import run_masking_statistics
from tinyalbert.grading.reference import resolve
from tinyalbert.grading.sandbox import Limits, Outcome
from tinyalbert.grading.stubs import exercise_file
from tinyalbert.grading.worker import reference_live_again, reloads_modules

ROOT = Path(__file__).resolve().parents[1]
QUICK = Setting(1, 2, 4)
SHORT = Limits(call_s=5, cpu_s=5, startup_s=20)
LINEAR = exercise_file(BY_NAME["linear"], cut=False)  # the reference solution, as a student file


def grade_linear(files: dict, limits: Limits = SHORT):
    result = grade(files, ["linear"], setting=QUICK, limits=limits)[0]
    return result, {c.check: c for c in result.checks}


# --- links in the submission --------------------------------------------------------------------------
def test_links_in_the_submission_are_not_read_and_the_report_names_them(tmp_path):
    """The grader reads the submission as root: a link to `grading.json` (the hidden seed) would
    put its text into the student's sandbox, and so into the feedback."""
    secret = tmp_path / "grading.json"
    secret.write_text('{"seed": 72531650}')
    submission = tmp_path / "submission"
    (submission / "real").mkdir(parents=True)
    (submission / "linear.py").write_text(LINEAR)
    (submission / "secret.py").symlink_to(secret)
    (submission / "real" / "helper.py").write_text("x = 1\n")
    (submission / "linked").symlink_to(submission / "real", target_is_directory=True)
    assert sorted(submission_paths(submission)) == ["linear.py"]
    assert unread_files(submission) == ["real/helper.py"]  # not linked/helper.py
    [note] = link_notes(submission)
    assert "linked, secret.py are symbolic links, which the grader does not follow: not read" in note, note
    # An uploaded folder (searched below its top): a linked folder on the way is not followed either.
    upload = tmp_path / "upload"
    (upload / "hw").mkdir(parents=True)
    (upload / "hw" / "linear.py").write_text(LINEAR)
    (upload / "via").symlink_to(submission, target_is_directory=True)
    assert {name: [p.relative_to(upload).as_posix() for p in found]
            for name, found in submission_paths(upload).items()} == {"linear.py": ["hw/linear.py"]}
    # A file replaced by a link after it was found is refused, not read through.
    found = {"linear.py": [submission / "secret.py"]}
    with pytest.raises(OSError):
        read_files(found)


def test_the_grade_command_says_which_links_were_skipped(tmp_path):
    (tmp_path / "grading.json").write_text('{"seed": 72531650}')
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "linear.py").write_text(LINEAR)
    (submission / "secret.py").symlink_to(tmp_path / "grading.json")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "tinyalbert.grading", "grade", str(submission), "--exercise", "linear"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "secret.py is a symbolic link, which the grader does not follow" in run.stdout, run.stdout
    assert "72531650" not in run.stdout and "TOTAL 6.5 / 6.5" in run.stdout


def test_a_submission_that_is_itself_a_link_is_one_usage_error(tmp_path):
    """grade LINK.py raised a traceback (the no-follow open's ELOOP), with no report written."""
    (tmp_path / "real.py").write_text(LINEAR)
    (tmp_path / "linear.py").symlink_to(tmp_path / "real.py")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "tinyalbert.grading", "grade", str(tmp_path / "linear.py"),
                          "--exercise", "linear"], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert "linear.py is a symbolic link, which the grader does not follow" in run.stderr, run.stderr


# --- the probe of whether `nobody` can run Python -------------------------------------------------------
class FakeProbe:
    """Stands in for `subprocess.run` in the probe: answers the exit statuses `codes` in turn, and
    notes whether the user lock was held shared meanwhile (another grader's sweep would wait)."""

    def __init__(self, *codes):
        self.codes, self.calls, self.lock_held = list(codes), 0, []

    def __call__(self, *args, **kwargs):
        self.calls += 1
        self.lock_held.append(self._lock_held())
        return subprocess.CompletedProcess(args, self.codes.pop(0))

    @staticmethod
    def _lock_held():
        fd = sandbox._user_lock_file()
        if fd < 0:
            return None  # no lock file can be had here (not root): nothing to hold
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)


def test_a_probe_killed_by_a_signal_is_run_again_under_the_lock_and_never_remembered(monkeypatch):
    """Two graders as root: the other one's sweep killed the probe, and the False it left made the
    student code run as root for the rest of the grading."""
    monkeypatch.setattr(sandbox, "_CAN_DROP", None)
    probe = FakeProbe(-9, 0)
    monkeypatch.setattr(sandbox.subprocess, "run", probe)
    assert sandbox.can_run_as_nobody() is True
    assert probe.calls == 2 and all(held in (True, None) for held in probe.lock_held), probe.lock_held
    monkeypatch.setattr(sandbox, "_CAN_DROP", None)
    monkeypatch.setattr(sandbox.subprocess, "run", FakeProbe(*[-9] * sandbox.PROBE_TRIES))
    with pytest.raises(RuntimeError, match="killed or timed out"):
        sandbox.can_run_as_nobody()
    assert sandbox._CAN_DROP is None
    monkeypatch.setattr(sandbox.subprocess, "run", FakeProbe(1))  # a real answer: remembered
    assert sandbox.can_run_as_nobody() is False and sandbox._CAN_DROP is False


def test_a_probe_that_times_out_is_run_again_and_never_remembered(monkeypatch):
    """A machine too busy to start Python in 60 s says nothing about the interpreter: before, the
    timeout was remembered as "nobody cannot run it", and the student code ran as root."""
    def too_slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(args, 60)

    monkeypatch.setattr(sandbox, "_CAN_DROP", None)
    monkeypatch.setattr(sandbox.subprocess, "run", too_slow)
    with pytest.raises(RuntimeError, match="killed or timed out"):
        sandbox.can_run_as_nobody()
    assert sandbox._CAN_DROP is None


# --- routes around the tripwires ------------------------------------------------------------------------
@pytest.mark.parametrize("source, found", [
    ("import sys\nfor k in list(sys.modules):\n    del sys.modules[k]\n", "changes sys.modules (del sys.modules[...])"),
    ("import sys as s\ns.modules.pop('tinyalbert.nn.linear')\n", "changes sys.modules (sys.modules.pop())"),
    ("from sys import modules\nmodules.clear()\n", "changes sys.modules (sys.modules.clear())"),
    ("import sys\nsys.modules['tinyalbert.nn.linear'] = None\n", "changes sys.modules (sys.modules[...] = ...)"),
    ("exec(open('linear.py').read(), {})\n", "calls exec()"),
    ("code = compile('x = 1', 'ref', 'exec')\n", "calls compile()"),
    ("import builtins\nbuiltins.exec('x = 1')\n", "calls exec()"),
    ("import importlib\nimportlib.reload(importlib)\n", "calls reload()"),
])
def test_the_source_check_finds_writes_to_sys_modules_and_source_run_as_code(source, found):
    assert reloads_modules(source) == found


@pytest.mark.parametrize("source", [
    "import re\npattern = re.compile('[a-z]+')\n",
    "from re import compile\npattern = compile('[a-z]+')\n",
    "import sys\nmodule = sys.modules[__name__]\nother = sys.modules.get('numpy')\n",
    # names the file binds itself, any way, are not the builtins
    "import re\ncompile = re.compile\npattern = compile('[a-z]+')\n",
    "def apply_all(values, compile=None):\n    return [compile(v) for v in values]\n",
    "call_with_3 = lambda exec: exec(3)\nprint(call_with_3(abs))\n",
    "for exec in (len, abs):\n    exec(-1)\n",
    "import contextlib\nwith contextlib.nullcontext(print) as exec:\n    exec('x')\n",
    "try:\n    pass\nexcept ValueError as compile:\n    compile('a', 'b', 'exec')\n",
])
def test_the_source_check_leaves_reads_and_other_compiles_alone(source):
    assert reloads_modules(source) == ""


def test_a_reference_function_is_found_live_where_no_tripwire_replaced_it():
    """In this process no tripwire is installed: the reference is live, named by its module."""
    resolve("AdamW")  # its module imported, as the worker imports every graded one
    assert reference_live_again(["linear_forward", "AdamW"]) == {"linear_forward": "tinyalbert.nn.linear",
                                                                  "AdamW": "tinyalbert.train.optim"}


MODULES_BYPASS = """
import sys
for _k in [k for k in sys.modules if k.startswith("tinyalbert")]:
    del sys.modules[_k]
from tinyalbert.nn import linear as _fresh
linear_forward, linear_backward = _fresh.linear_forward, _fresh.linear_backward
"""
EXEC_BYPASS = """
import tinyalbert.nn.linear as _m
_g = {"__name__": "tinyalbert.nn._copy", "__package__": "tinyalbert.nn"}
exec(compile(open(_m.__file__).read(), "ref", "exec"), _g)
def linear_forward(inputs, weight, bias):
    return _g["linear_forward"](inputs, weight, bias)
def linear_backward(d_output, cache):
    return _g["linear_backward"](d_output, cache)
"""
# The same at call time, where no source check sees it: the call finds the module imported afresh.
AT_CALL_TIME = LINEAR.replace("def linear_forward(inputs, weight, bias):\n", """def linear_forward(inputs, weight, bias):
    import importlib, sys
    getattr(sys, "mod" + "ules").pop("tinyalbert.nn.linear")
    return importlib.import_module("tinyalbert.nn.linear").linear_forward(inputs, weight, bias)
""", 1)


@pytest.mark.parametrize("source, note", [
    (MODULES_BYPASS, "linear.py imports tinyalbert.nn.linear a second time, around the grader's tripwires"),
    (EXEC_BYPASS, "linear.py calls exec(): a submission may not load module code again"),
    (AT_CALL_TIME, "your code imported tinyalbert.nn.linear a second time, around the grader's tripwires"),
])
def test_the_reference_loaded_around_the_tripwires_earns_nothing(source, note):
    assert AT_CALL_TIME != LINEAR
    _, checks = grade_linear({"linear.py": source})
    assert checks["forward"].score == 0 and note in checks["forward"].note, checks["forward"].note


# --- a file that hangs while loading -------------------------------------------------------------------
def test_a_file_that_hangs_while_loading_is_named_and_the_others_still_load():
    files = {"linear.py": LINEAR, "scratch.py": "import time\nwhile True:\n    time.sleep(1)\n"}
    started = time.monotonic()
    results = grade(files, ["linear", "layernorm"], setting=QUICK, limits=SHORT._replace(startup_s=10, file_s=2))
    took = time.monotonic() - started
    note = "scratch.py: not loaded: loading it took more than 2 s: code at the top level"
    for result in results:
        assert any(n.startswith(note) for n in result.notes), result.notes
    assert results[0].score == results[0].max_score
    assert took < 10, f"{took:.1f} s: the second exercise waited for scratch.py again"


def test_a_function_whose_file_was_left_out_for_loading_slowly_names_that_file():
    """The next exercise leaves a slow file out: its functions were then "not found (look for a
    typo in its name)", where the report should say that their file did not load in time."""
    slow = exercise_file(BY_NAME["layernorm"], cut=False) + "\nimport time\ntime.sleep(30)  # a slow self-test\n"
    results = grade({"linear.py": LINEAR, "layernorm.py": slow}, ["linear", "layernorm"], setting=QUICK,
                    limits=SHORT._replace(startup_s=10, file_s=2))
    note = results[1].checks[0].note
    assert "layernorm.py: not loaded: loading it took more than 2 s" in note and "typo" not in note, note
    assert results[1].notes.count(results[0].notes[0]) == 1, results[1].notes


def test_an_error_message_of_megabytes_is_cut_and_the_other_files_still_graded():
    """A stray file failing an assert that prints 3 million numbers: the load error alone was over
    the 16 MB a reply may hold, the student process died at start-up and every exercise scored 0."""
    files = {"linear.py": LINEAR, "scratch.py": "values = list(range(3_000_000))\nassert values == [], values\n"}
    result, _ = grade_linear(files)
    assert result.score == result.max_score, result.notes
    note = next(n for n in result.notes if n.startswith("scratch.py: AssertionError"))
    assert len(note) < 5_000 and "more characters]" in note


# --- property checks on a result of the wrong kind -------------------------------------------------------
class ThreeValues:
    """A runner whose mask_tokens returns (masked, labels, None)."""

    def call(self, target, args, kwargs=None, **options):
        return Outcome(True, (np.asarray(args[0]), np.full(len(args[0]), -100), None))


def test_a_result_of_the_wrong_kind_fails_the_property_check_with_a_message():
    from tinyalbert.grading.properties import masking_statistics

    assert masking_statistics(ThreeValues(), [1]) == "mask_tokens returned 3 values, expected 2: (masked_ids, labels)"
    [case] = run_masking_statistics(ThreeValues(), None, [2], np.random.default_rng(0))
    assert not case.passed and "returned 3 values, expected 2" in case.message

    def unguarded(student, reference, cases, rng):  # a property check that trusts the result's kind
        masked, labels = (np.arange(3), np.arange(3), None)  # what ThreeValues' mask_tokens gives
        return [CaseResult("labels", bool(np.all(masked == labels)))]

    check = Check("statistics", 3, "property", "mask_tokens", lambda rng, draws: [1], run=unguarded)
    [case] = run_check(check, ThreeValues(), ThreeValues(), np.random.default_rng(0), draws=1, entries=1)
    assert not case.passed and "could not check what `mask_tokens` returned (ValueError: too many values" in case.message


# --- no accusation of copying a given helper -----------------------------------------------------------
def test_a_helper_imported_as_given_is_not_called_copied_when_its_own_file_failed():
    attention = exercise_file(BY_NAME["attention"], cut=False)  # imports linear_forward as a given helper
    assert "from tinyalbert.nn.linear import" in attention
    for files in ({"attention.py": attention, "linear.py": "def linear_forward(:\n"}, {"attention.py": attention}):
        _, checks = grade_linear(files)
        note = checks["forward"].note
        assert "takes `linear_forward` from tinyalbert" not in note, note
        assert note.startswith("`linear_forward` was not found in your submission"), note
        assert "attention.py imports it from tinyalbert, which does not count as writing it" in note, note
        assert ("SyntaxError" in note) == ("linear.py" in files), note
    _, checks = grade_linear({"linear.py": "from tinyalbert.nn.linear import linear_forward, linear_backward\n"})
    assert "linear.py takes `linear_forward` from tinyalbert instead of writing it" in checks["forward"].note


# --- writing into an input, in the gradcheck -------------------------------------------------------------
def test_a_forward_that_writes_into_its_input_loses_the_forward_check_only():
    in_place = LINEAR.replace("    rows = xp.reshape(inputs, (-1, inputs.shape[-1]))\n",
                              "    rows = xp.reshape(inputs, (-1, inputs.shape[-1])); inputs *= 1.0000001\n", 1)
    assert in_place != LINEAR
    _, checks = grade_linear({"linear.py": in_place})
    assert checks["forward"].score == 0
    assert checks["gradcheck"].score == checks["gradcheck"].max_score, [c.message for c in checks["gradcheck"].cases]


# --- two files defining one graded name ------------------------------------------------------------------
def test_the_file_named_after_the_exercise_is_graded_before_an_old_attempt():
    old = "def linear_forward(inputs, weight, bias):\n    return inputs @ weight.T, None\n"
    result, checks = grade_linear({"linear.py": LINEAR, "my_old_attempt.py": old})
    assert checks["forward"].score == checks["forward"].max_score
    assert any("`linear_forward` is defined in linear.py, my_old_attempt.py: the one in linear.py is graded "
               "(the file named after the exercise)" in note for note in result.notes), result.notes


# --- a reply too large to read -----------------------------------------------------------------------------
def test_a_value_of_millions_of_python_numbers_is_refused_with_a_message(monkeypatch):
    monkeypatch.setattr(codec, "MAX_HEADER_BYTES", 10_000)
    with pytest.raises(codec.TooLarge):
        codec.to_bytes([123456789] * 2_000)
    codec.to_bytes(np.zeros(100_000))  # arrays travel apart, in the archive
    outcome = InProcess({"linear_forward": lambda *args: [123456789] * 2_000}).call("linear_forward", [1, 2, 3])
    assert not outcome.ok and outcome.error.startswith("your function returned a value too large to grade"), outcome
