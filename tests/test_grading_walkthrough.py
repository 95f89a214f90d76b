"""What a walk through docs/grading-staff.md and docs/grading-students.md found, one test each:
a backward that never answers is not waited for on every gradcheck case, a wrong gradient is
placed among the right ones, a gradcheck failed by the forward says so, `check` on a function no
check calls does not pass it, an exercise absent from the submission is not called a typo, and
the stubs' refusal to overwrite one file is worded for one."""
from __future__ import annotations

import time

import pytest

from tinyalbert.grading import check
from tinyalbert.grading.exercises import BY_NAME
from tinyalbert.grading.grade import Setting, grade
from tinyalbert.grading.sandbox import Limits
from tinyalbert.grading.stubs import exercise_file

QUICK = Setting(1, 2, 4)
LINEAR = exercise_file(BY_NAME["linear"], cut=False)  # the reference solution, as a student file
LAYERNORM = exercise_file(BY_NAME["layernorm"], cut=False)
BACKWARD = 'def linear_backward(d_output, cache: LinearCache):\n    """'


def edited(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, old
    return source.replace(old, new)


def checks_of(source: str, limits: Limits = Limits(call_s=10, cpu_s=10)) -> dict:
    result = grade({"linear.py": source}, ["linear"], setting=QUICK, limits=limits)[0]
    return {c.check: c for c in result.checks}


def test_a_backward_that_never_answers_is_waited_for_once_per_check_not_on_every_gradcheck_case():
    """The gradcheck calls the student's forward first, which answers: only the first call of a
    check counted, so an endless backward cost the whole call limit on each gradcheck case
    (20 s x 5 cases for one loop, 2 minutes of a 10-minute Gradescope run)."""
    hangs = edited(LINEAR, BACKWARD, 'def linear_backward(d_output, cache: LinearCache):\n'
                                     '    import time\n    time.sleep(1000)\n    """')
    started = time.monotonic()
    checks = checks_of(hangs, Limits(call_s=1.0, cpu_s=1.0))
    took = time.monotonic() - started
    gradcheck = checks["gradcheck"].cases
    assert len(gradcheck) > 2 and "no answer within 1 s" in gradcheck[0].message, gradcheck[0]
    assert all("not tried" in case.message and "`linear_backward`" in case.message for case in gradcheck[1:]), \
        [case.message for case in gradcheck]
    assert checks["forward"].score == checks["forward"].max_score
    assert took < 2 * 1.0 + 8, took  # the backward check's first call and the gradcheck's, not every case


def test_a_wrong_gradient_is_named_beside_the_ones_that_agree():
    """The backward check described only the first gradient that differed (in attention, always
    `hidden`, downstream of every mistake): a student could not tell which branch was wrong."""
    wrong_bias = edited(LINEAR, "d_bias = xp.sum(d_rows, axis=0)", "d_bias = 2 * xp.sum(d_rows, axis=0)")
    failed = [case.message for case in checks_of(wrong_bias)["backward"].cases if not case.passed]
    assert failed, "the wrong bias gradient was not caught"
    for message in failed:
        assert "1 of 3 gradients differ: `bias`; these agree: `inputs`, `weight`" in message, message


def test_a_gradcheck_failed_by_a_wrong_forward_says_to_fix_the_forward_first():
    """A right backward under a wrong forward fails the gradcheck with "your backward gives ...":
    the student looked for a bug in the backward, which had passed its own check."""
    wrong_forward = edited(LINEAR, "outputs += bias", "outputs += 2 * bias")
    checks = checks_of(wrong_forward)
    assert checks["forward"].score < checks["forward"].max_score
    assert checks["backward"].score == checks["backward"].max_score
    gradcheck = checks["gradcheck"]
    assert gradcheck.score < gradcheck.max_score
    assert "Fix `linear_forward` first" in gradcheck.note and "passed `backward`" in gradcheck.note, gradcheck.note
    # Right work gets no such note, nor does a stub, whose every case says that the forward failed.
    assert not checks_of(LINEAR)["gradcheck"].note
    stub = checks_of(exercise_file(BY_NAME["linear"], cut=True))["gradcheck"]
    assert stub.score == 0 and not stub.note, stub.note


def test_check_on_a_function_no_check_calls_does_not_report_it_passed(capsys):
    """`check("sample_masked_spans", f)` ran no check at all, printed nothing and returned True,
    whatever f did: the student read that as passing."""
    assert check("sample_masked_spans", lambda *args, **kwargs: 0) is False
    said = capsys.readouterr().out
    assert "NOT CHECKED" in said and "`mask_tokens`" in said and "check('mask_tokens'" in said, said


def test_an_exercise_absent_from_the_submission_is_not_called_a_typo():
    """`grade layernorm.py` without --exercise grades every exercise: each function of the others
    said "look for a typo in its name", 50 times over, where the whole file is simply not there."""
    results = {r.name: r for r in grade({"layernorm.py": LAYERNORM}, ["linear", "layernorm"], setting=QUICK)}
    notes = [c.note for c in results["linear"].checks]
    assert all("none of exercise linear's functions" in n and "linear.py" in n and "typo" not in n for n in notes), notes
    assert results["layernorm"].score == results["layernorm"].max_score
    # One name missing from a file that is there is still a likely typo.
    without = LINEAR[:LINEAR.index("def linear_backward")]
    assert "typo" in checks_of(without)["backward"].note


def test_the_stubs_refusal_is_worded_for_one_file(tmp_path):
    """"handout/layernorm.py already exist ... to overwrite them", for one file."""
    from tinyalbert.grading.stubs import write_stubs

    write_stubs(tmp_path, [BY_NAME["layernorm"]])
    (tmp_path / "layernorm.py").write_text("# my work\n")
    with pytest.raises(FileExistsError) as error:
        write_stubs(tmp_path, [BY_NAME["layernorm"]])
    assert "layernorm.py already exists with other contents" in str(error.value)
    assert str(error.value).endswith("pass --force to overwrite it"), str(error.value)


def test_a_traceback_in_the_feedback_ends_with_its_last_line_not_an_empty_one():
    """Every failure with a traceback was followed by an empty, indented line in each report."""
    from tinyalbert.grading.report import feedback

    crashes = edited(LINEAR, "    xp = array_namespace(inputs)\n", "    xp = array_namespace(inputs)\n"
                                                                  "    raise ValueError('shapes do not match')\n")
    forward = checks_of(crashes)["forward"]
    message = forward.cases[0].message
    assert message.startswith("ValueError: shapes do not match") and 'File "linear.py"' in message, message
    assert not message.endswith("\n"), repr(message)
    assert not any(line.strip() == "" for line in feedback(forward).splitlines()), feedback(forward)


def test_a_multi_line_note_stays_under_its_note_in_the_text_report():
    """A load error's source line and caret were printed at the report's margin, where they read
    as lines of their own; they go under the note's text."""
    from tinyalbert.grading.report import to_text

    result = grade({"layernorm.py": "def layernorm_forward(x\n    return 1\n"}, ["layernorm"], setting=QUICK)
    lines = to_text(result).splitlines()
    note = next(index for index, line in enumerate(lines) if line.startswith("   note: layernorm.py: SyntaxError"))
    assert lines[note + 1].startswith(" " * 9) and "def layernorm_forward(x" in lines[note + 1], lines[note:note + 3]
    assert lines[note + 2].strip() == "^"
