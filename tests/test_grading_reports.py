"""The grader's promises about its report and its command line, on submissions that test them:
every format is written and parses whatever the submission's messages and prints hold, the whole
grading ends within its time budget, files the grader did not read are named, and a usage error
is one `error:` line."""
from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET

import pytest

from tinyalbert.grading.exercises import BY_NAME
from tinyalbert.grading.grade import Setting, grade
from tinyalbert.grading.sandbox import Limits
from tinyalbert.grading.stubs import exercise_file

QUICK = Setting(1, 2, 4)
LINEAR = exercise_file(BY_NAME["linear"], cut=False)  # the reference solution, as a student file
FORWARD = "def linear_forward(inputs, weight, bias):\n"

# What a submission can put into its messages and prints that no encoder or XML parser takes: a
# lone surrogate (from undecodable bytes), ANSI colours (ESC), NUL, and U+FFFE.
HOSTILE = LINEAR.replace(FORWARD, FORWARD + '    raise ValueError("bad \\udc80 \\x1b[1m \\x00 \\ufffe")\n', 1) + \
    'print("\\033[31mdebug\\033[0m \\x00")\n'
COLOURED = HOSTILE.replace("\\udc80", "")  # what an XML parser refuses, but no lone surrogate


def grade_cli(*args) -> int:
    from tinyalbert.grading.__main__ import main

    return main([str(arg) for arg in args])


@pytest.fixture(scope="module")
def hostile_results():
    return grade({"linear.py": HOSTILE}, ["linear"], setting=QUICK)


@pytest.fixture(scope="module")
def coloured_results():
    return grade({"linear.py": COLOURED}, ["linear"], setting=QUICK)


def test_a_report_of_messages_that_cannot_be_encoded_is_written_in_every_format(tmp_path, hostile_results):
    """A lone surrogate in an exception message crashed the writing of the text and JUnit
    reports (UnicodeEncodeError): no report at all. Every format is written, as a visible escape."""
    from tinyalbert.grading.report import render, write_atomically

    forward = next(c for c in hostile_results[0].checks if c.check == "forward")
    assert "\udc80" in forward.cases[0].message  # the submission's message, as it came back
    for fmt in ("text", "json", "gradescope", "junit"):
        path = tmp_path / f"report.{fmt}"
        write_atomically(path, render(hostile_results, fmt))
        text = path.read_text(encoding="utf-8")  # strict UTF-8: no surrogate was written
        assert "\\udc80" in text, fmt
        if fmt in ("json", "gradescope"):
            json.loads(text)
    # The command itself, end to end: exit status 0 and the report there.
    (tmp_path / "linear.py").write_text(HOSTILE, encoding="utf-8")
    assert grade_cli("grade", tmp_path / "linear.py", "--exercise", "linear", "--output", tmp_path / "out.txt") == 0
    assert "ValueError: bad \\udc80" in (tmp_path / "out.txt").read_text(encoding="utf-8")


def test_the_junit_report_is_well_formed_xml_whatever_the_submission_prints(coloured_results, hostile_results):
    """ESC (ANSI colours), NUL and U+FFFE are forbidden in XML 1.0: they are written as visible
    escapes, so that a CI system can read the report."""
    from tinyalbert.grading.__main__ import failure_report
    from tinyalbert.grading.report import to_junit

    root = ET.fromstring(to_junit(coloured_results))
    failures = " ".join(f.text or "" for f in root.iter("failure"))
    assert "bad  \\x1b[1m \\x00 \\ufffe" in failures, failures[:300]
    printed = " ".join(s.text or "" for s in root.iter("system-out"))
    assert "\\x1b[31mdebug\\x1b[0m \\x00" in printed, printed
    root = ET.fromstring(to_junit(hostile_results).encode("utf-8"))  # and a lone surrogate too
    assert "bad \\udc80 \\x1b[1m" in " ".join(f.text or "" for f in root.iter("failure"))
    # The report of a grader that failed says the same things the same way.
    message = ET.fromstring(failure_report("junit", "the grader failed: bad \x00 \udc80 \x1b").encode("utf-8"))
    assert message.find(".//failure").get("message") == "the grader failed: bad \\x00 \\udc80 \\x1b"


def sleeping(*names) -> str:
    return "import time\n" + "".join(f"def {name}(*args, **kwargs):\n    time.sleep(1000)\n" for name in names)


def test_the_whole_grading_ends_within_its_time_budget_and_the_report_is_written(tmp_path):
    """Functions that never answer: each exercise used to take its own 180 s budget (12 minutes
    for four, past Gradescope's timeout, which gives 0 and no feedback). With --time-budget the
    grading stops there and says why, under every check not run."""
    submission = tmp_path / "slow.py"
    submission.write_text(sleeping("linear_forward", "linear_backward", "layernorm_forward", "layernorm_backward"))
    started = time.monotonic()
    status = grade_cli("grade", submission, "--exercise", "linear", "layernorm", "--format", "json",
                       "--time-budget", "2", "--output", tmp_path / "report.json")
    took = time.monotonic() - started
    assert status == 0 and took < 15, took
    report = json.loads((tmp_path / "report.json").read_text())
    checks = [check for exercise in report["exercises"] for check in exercise["checks"]]
    assert report["score"] == 0 and len(checks) == 8
    for check in checks:
        said = [check["note"]] + [case["message"] for case in check["cases"]]
        assert any("the grading time budget of 2 s" in text and "slow code" in text for text in said), said


def test_a_check_whose_first_call_gets_no_answer_does_not_wait_on_every_case():
    """After a check's first call timed out, its other cases fail at once (an endless loop would
    cost the whole call limit on each); a function that hangs on one later case only keeps the
    points of the cases it answers, and the next check starts afresh."""
    limits = Limits(call_s=1.0, cpu_s=1.0)
    hangs = LINEAR.replace(FORWARD, FORWARD + "    import time\n    time.sleep(1000)\n", 1)
    started = time.monotonic()
    result = grade({"linear.py": hangs}, ["linear"], setting=QUICK, limits=limits)[0]
    checks = {c.check: c for c in result.checks}
    forward = checks["forward"].cases
    assert len(forward) > 2 and "no answer within 1 s" in forward[0].message, forward[0]
    assert all("not tried" in case.message for case in forward[1:]), [c.message for c in forward]
    assert checks["backward"].score == checks["backward"].max_score
    assert time.monotonic() - started < 2 * len(forward) + 4  # two first calls waited for, not every case
    # Only the second case (the one without a bias) hangs: the others still run and score.
    second = LINEAR.replace(FORWARD, FORWARD + "    import time\n    if bias is None:\n        time.sleep(1000)\n", 1)
    forward = {c.check: c for c in grade({"linear.py": second}, ["linear"], setting=QUICK, limits=limits)[0].checks}["forward"]
    failed = [case for case in forward.cases if not case.passed]
    assert [case.name for case in failed] == ["no bias (bias=None)"], [c.message for c in failed]


def test_files_below_the_top_folder_are_named_when_a_function_is_missing(tmp_path):
    """The top folder has a .py file, so the folders below are not read (as docs/grading-students.md
    says); the student is told which file was left out instead of "look for a typo"."""
    (tmp_path / "hw").mkdir()
    (tmp_path / "notes.py").write_text("x = 1\n")
    (tmp_path / "hw" / "linear.py").write_text(LINEAR)
    assert grade_cli("grade", tmp_path, "--exercise", "linear", "--format", "json",
                     "--output", tmp_path / "report.json") == 0
    checks = json.loads((tmp_path / "report.json").read_text())["exercises"][0]["checks"]
    for check in checks:
        assert "`linear_" in check["note"] and "was not found" in check["note"], check["note"]
        assert "hw/linear.py was not read: put your files at the top of the submission" in check["note"], check["note"]
        assert "typo" not in check["note"]


@pytest.mark.parametrize("args", [
    ["grade", "sol", "--seed", "-1"],
    ["grade", "sol", "--no-such-option"],
    ["grade", "sol", "--time-budget", "0"],
    ["grade"],
    ["no-such-command"],
    [],
    ["selftest", "--jobs", "0"],
])
def test_a_usage_error_is_one_error_line_and_exit_status_2(capsys, args):
    """What docs/grading-staff.md promises: one `error:` line, not argparse's usage block."""
    try:
        status = grade_cli(*args)
    except SystemExit as exit:  # argparse's own refusal: the usage block
        status = exit.code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("error: "), (args, status, captured.err)
    assert captured.out == ""
