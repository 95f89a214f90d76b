"""The autograder: stubs, scoring, feedback, formats, and each safety promise, on real
misbehaving submissions. The self-test (reference, stubs, mutants) runs in test_grading_selftest.py."""
from __future__ import annotations

import json
import re
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tinyalbert.grading import check
from tinyalbert.grading.exercises import BY_NAME, EXERCISES
from tinyalbert.grading.grade import Setting, grade
from tinyalbert.grading.reference import REFERENCE, resolve
from tinyalbert.grading.sandbox import Limits
from tinyalbert.grading.stubs import MARKER, exercise_file

ROOT = Path(__file__).resolve().parents[1]
QUICK = Setting(1, 2, 4)
LINEAR = exercise_file(BY_NAME["linear"], cut=False)  # the reference solution, as a student file
CORRECT_BACKWARD = LINEAR[LINEAR.index("def linear_backward"):]


def environment():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "tinyalbert.grading", *map(str, args)], cwd=cwd,
                          env=environment(), capture_output=True, text=True, timeout=300)


def grade_linear(source: str, limits: Limits = Limits(call_s=5, cpu_s=5)):
    result = grade({"linear.py": source}, ["linear"], setting=QUICK, limits=limits)[0]
    return result, {c.check: c for c in result.checks}


def with_forward(body: str) -> str:
    """A linear solution whose forward is `body` (indented code) and whose backward is correct."""
    return ("import numpy as np\nfrom tinyalbert.backend import array_namespace\nfrom tinyalbert.nn.linear import LinearCache\n\n"
            f"def linear_forward(inputs, weight, bias):\n{body}\n\n" + CORRECT_BACKWARD)


# --- exercises and stubs ---------------------------------------------------------------------------
def test_every_graded_name_resolves_and_every_exercise_has_points():
    for name in REFERENCE:
        assert callable(resolve(name)), name
    for exercise in EXERCISES:
        assert exercise.points > 0 and set(exercise.functions) <= set(REFERENCE)
        for item in exercise.checks:
            assert set(item.functions) <= set(exercise.functions), (exercise.name, item.name)


def test_stubs_keep_signatures_docstrings_and_cache_types(tmp_path):
    result = cli("stubs", tmp_path, "--exercise", "layernorm", "adamw", "text_preprocessing")
    assert result.returncode == 0, result.stderr
    layernorm = (tmp_path / "layernorm.py").read_text()
    assert "class LayerNormCache(NamedTuple):" in layernorm
    assert "def layernorm_backward(" in layernorm and "cache: LayerNormCache):" in layernorm
    assert "d_inputs = inv_std * (g - mean(g) - n * mean(g * n))" in layernorm  # the docstring, with its formula
    assert layernorm.count("    " + MARKER) == 2 and layernorm.count("raise NotImplementedError") == 2
    assert "xp.sqrt(variance + eps)" not in layernorm  # the body is gone
    adamw = (tmp_path / "adamw.py").read_text()
    assert "class AdamW(_AdamMoments):" in adamw and "super().__init__(betas, eps, weight_decay)" in adamw
    assert adamw.count("    " + MARKER) == 1
    assert "Each *_forward returns (output, cache)" in layernorm and "*_forward" not in adamw  # only with forwards
    text = (tmp_path / "text_preprocessing.py").read_text()
    assert "def _split_digit_comma(self, piece: str)" in text
    for path in tmp_path.glob("*.py"):
        compile(path.read_text(), str(path), "exec")
    # Running it again is harmless; over a student's work it refuses, unless told to overwrite.
    assert cli("stubs", tmp_path, "--exercise", "layernorm").returncode == 0
    (tmp_path / "layernorm.py").write_text(layernorm.replace("raise NotImplementedError", "return None", 1))
    again = cli("stubs", tmp_path, "--exercise", "layernorm", "adamw")
    assert again.returncode == 2 and "layernorm.py already exist" in again.stderr
    assert "return None" in (tmp_path / "layernorm.py").read_text()
    assert cli("stubs", tmp_path, "--exercise", "layernorm", "--force").returncode == 0
    assert (tmp_path / "layernorm.py").read_text() == layernorm


def test_list_shows_every_exercise_with_points():
    result = cli("list")
    assert result.returncode == 0
    for exercise in EXERCISES:
        assert exercise.name in result.stdout
    assert "total" in result.stdout


def test_usage_errors_exit_2(tmp_path):
    assert cli("grade", tmp_path / "missing.py").returncode == 2
    (tmp_path / "a.py").write_text("x = 1\n")
    assert cli("grade", tmp_path / "a.py", "--exercise", "no_such_exercise").returncode == 2
    assert cli("grade").returncode == 2


# --- scoring and feedback ------------------------------------------------------------------------
def test_partial_credit_and_actionable_feedback():
    # Wrong only where the input has three axes: the feedback must name the case, shapes and the error.
    source = with_forward("    out = inputs @ weight.T\n    if bias is not None:\n        out = out + bias\n"
                          "    if inputs.ndim == 3:\n        out = out * 1.01\n    return out, LinearCache(inputs, weight, bias is not None)")
    result, checks = grade_linear(source)
    forward = checks["forward"]
    assert 0 < forward.score < forward.max_score
    failed = [c for c in forward.cases if not c.passed]
    assert failed[0].name.startswith("3-D input")
    assert "largest error" in failed[0].message and "at index" in failed[0].message
    assert "expected [" in failed[0].message and "got [" in failed[0].message
    assert checks["backward"].score == checks["backward"].max_score


def test_gradcheck_credits_a_backward_consistent_with_a_wrong_forward():
    # Forward doubles the output; backward doubles every gradient: consistent with itself.
    source = LINEAR.replace("return xp.reshape(outputs,", "outputs = 2 * outputs\n    return xp.reshape(outputs,")
    source = source.replace("    return d_inputs, {\"weight\": d_weight", "    d_inputs, d_weight = 2 * d_inputs, 2 * d_weight\n"
                            "    d_bias = None if d_bias is None else 2 * d_bias\n    return d_inputs, {\"weight\": d_weight")
    _, checks = grade_linear(source)
    assert checks["forward"].score == 0
    assert checks["backward"].score == 0
    assert checks["gradcheck"].score == checks["gradcheck"].max_score


def test_property_failure_reports_the_smallest_input_found():
    source = exercise_file(BY_NAME["ngram_masking"], cut=False)
    source = source.replace("maskable = ~np.isin(token_ids, specials)", "maskable = np.ones(token_ids.shape, dtype=bool)")
    result = grade({"m.py": source}, ["ngram_masking"], setting=QUICK)[0]
    prop = next(c for c in result.checks if c.check == "mask_tokens_properties")
    failed = [c for c in prop.cases if not c.passed]
    assert failed and "smallest failing input found: token_ids=[" in failed[0].message
    # derandomized: the same report every run
    again = grade({"m.py": source}, ["ngram_masking"], setting=QUICK)[0]
    assert [c.message for c in next(c for c in again.checks if c.check == "mask_tokens_properties").cases] == \
        [c.message for c in prop.cases]


def test_check_in_a_notebook_prints_feedback(capsys):
    def layernorm_forward(inputs, weight, bias, eps):
        centered = inputs - inputs.mean(-1, keepdims=True)
        normalized = centered / (np.sqrt((centered ** 2).mean(-1, keepdims=True)) + eps)  # eps outside the root
        return normalized * weight + bias, None

    assert check("layernorm_forward", layernorm_forward) is False
    printed = capsys.readouterr().out
    assert "FAIL layernorm/forward" in printed and "large eps 0.5" in printed
    assert check("layernorm_backward", resolve("layernorm_backward")) is True


def test_group_of_pass_by_the_exact_fraction_fails_where_float_division_rounds_down(capsys):
    # i * G // L agrees with Transformers' int(i / (L / G)) for every L <= 17; the check must
    # include the passes where they differ (first at L = 18, G = 14, pass 9) and name them.
    assert check("group_of_pass", lambda i, c: i * c.num_hidden_groups // c.num_hidden_layers) is False
    printed = capsys.readouterr().out
    assert "FAIL encoder/group_of_pass" in printed and "pass 9 of 18 layers in 14 groups" in printed
    assert "expected 6, got 7" in printed
    assert check("group_of_pass", lambda i, c: int(i / (c.num_hidden_layers / c.num_hidden_groups))) is True


def test_check_in_a_notebook_passes_a_students_own_cache_to_their_backward():
    """A notebook's forward returns its own NamedTuple cache; the backward must get it as it was
    returned (the grader's sandbox keeps it as an object), not as a plain tuple."""
    from typing import NamedTuple

    class MyCache(NamedTuple):
        normalized: np.ndarray
        inv_std: np.ndarray
        weight: np.ndarray

    def layernorm_forward(inputs, weight, bias, eps):
        centered = inputs - inputs.mean(-1, keepdims=True)
        inv_std = 1.0 / np.sqrt((centered ** 2).mean(-1, keepdims=True) + eps)
        normalized = centered * inv_std
        return normalized * weight + bias, MyCache(normalized, inv_std, weight)

    def layernorm_backward(d_out, cache):
        d_normalized = d_out * cache.weight  # read by field name, as a student writes it
        axes = tuple(range(d_out.ndim - 1))
        d_weight, d_bias = (d_out * cache.normalized).sum(axes), d_out.sum(axes)
        mean_d = d_normalized.mean(-1, keepdims=True)
        mean_dn = (d_normalized * cache.normalized).mean(-1, keepdims=True)
        d_inputs = cache.inv_std * (d_normalized - mean_d - cache.normalized * mean_dn)
        return d_inputs, {"weight": d_weight, "bias": d_bias}

    assert check("layernorm_forward", layernorm_forward) is True
    assert check("layernorm_backward", layernorm_backward, layernorm_forward=layernorm_forward) is True


# --- safety: misbehaving submissions -------------------------------------------------------------
def test_a_function_that_raises_fails_its_checks_with_the_error():
    _, checks = grade_linear(with_forward("    raise ValueError('not done yet')"))
    assert checks["forward"].score == 0
    assert "ValueError: not done yet" in checks["forward"].cases[0].message
    assert checks["backward"].score == checks["backward"].max_score


def test_an_endless_loop_times_out_and_the_rest_is_still_graded():
    limits = Limits(call_s=1.5, cpu_s=1.5)
    _, checks = grade_linear(with_forward("    while True:\n        pass"), limits)
    assert checks["forward"].score == 0
    assert any("no answer within" in c.message or "CPU time" in c.message for c in checks["forward"].cases)
    assert checks["backward"].score == checks["backward"].max_score


def test_exhausting_memory_is_caught():
    limits = Limits(memory_bytes=1536 * 1024**2)
    _, checks = grade_linear(with_forward("    big = np.ones(10**10)\n    return big, None"), limits)
    assert checks["forward"].score == 0
    assert "MemoryError" in checks["forward"].cases[0].message
    assert checks["backward"].score == checks["backward"].max_score


def test_wrong_shapes_nans_and_odd_types_are_explained():
    _, checks = grade_linear(with_forward("    return inputs, None"))
    assert any("expected shape" in c.message for c in checks["forward"].cases if not c.passed)
    _, checks = grade_linear(with_forward("    out = inputs @ weight.T\n    return out * np.nan, None"))
    assert "got nan" in checks["forward"].cases[0].message
    _, checks = grade_linear(with_forward("    return (lambda: 0), None"))
    assert "returned a function" in checks["forward"].cases[0].message
    _, checks = grade_linear(with_forward("    return ()"))
    assert "the result has no entry at [0]: it is a tuple of 0" in checks["forward"].cases[0].message
    _, checks = grade_linear(with_forward("    return inputs @ weight.T + bias"))  # the output alone, no cache
    assert "is one array of shape" in checks["forward"].cases[0].message
    assert "(output, cache)" in checks["forward"].cases[0].message


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "os._exit(0)", "raise SystemExit(3)"])
def test_exiting_during_a_call_cannot_end_the_grading(exit_call):
    source = with_forward(f"    import os, sys\n    {exit_call}")
    result, checks = grade_linear(source)
    assert checks["forward"].score == 0
    message = checks["forward"].cases[0].message
    assert "sys.exit" in message or "exited with status" in message
    assert checks["backward"].score == checks["backward"].max_score  # the process was started again


def test_exiting_at_import_is_reported():
    future = "from __future__ import annotations\n"
    result, checks = grade_linear(LINEAR.replace(future, future + "import os\nos._exit(0)\n"))
    assert result.score == 0
    assert "could not be loaded" in checks["forward"].note and "exited" in checks["forward"].note
    result, checks = grade_linear("def linear_forward(:\n")
    assert "SyntaxError" in checks["forward"].note


def test_printing_fake_results_and_writing_results_json_change_nothing(tmp_path):
    output = tmp_path / "results" / "results.json"
    fake = json.dumps({"score": 1000, "tests": []})
    source = (f"import json, os\nprint({fake!r})\nprint('TOTAL 6 / 6')\n"
              f"for path in ({str(output)!r}, 'results.json'):\n"
              f"    try:\n        os.makedirs(os.path.dirname(path) or '.', exist_ok=True)\n"
              f"        open(path, 'w').write({fake!r})\n    except OSError:\n        pass\n"
              + with_forward(f"    print({fake!r})\n    open({str(output)!r}, 'w').write({fake!r})\n    return inputs, None"))
    submission = tmp_path / "linear.py"
    submission.write_text(source)
    result = cli("grade", submission, "--exercise", "linear", "--format", "gradescope", "--output", output)
    assert result.returncode == 0, result.stderr
    report = json.loads(output.read_text())
    scores = {t["name"]: t["score"] for t in report["tests"]}
    assert scores["linear: forward"] == 0 and scores["linear: backward"] == 2
    # the backward's points and its float32 case; the gradcheck needs the forward
    assert report["score"] == pytest.approx(2.25)
    assert report["stdout_visibility"] == "hidden"
    hidden = [t for t in report["tests"] if t["visibility"] == "hidden"]
    assert len(hidden) == 1 and "TOTAL 6 / 6" in hidden[0]["output"]
    assert all("1000" not in t["output"] for t in report["tests"] if t["visibility"] == "visible")
    assert fake not in result.stdout


def test_printing_is_capped():
    source = with_forward("    print('x' * 10**7)\n    out = inputs @ weight.T\n"
                          "    return (out if bias is None else out + bias), LinearCache(inputs, weight, bias is not None)")
    result, checks = grade_linear(source, Limits(print_bytes=4096))
    assert checks["forward"].score == checks["forward"].max_score
    assert len(result.printed) <= 4 * 4096
    assert "[... the rest was not kept: more than 4096 bytes printed]" in result.printed


def test_using_the_reference_earns_nothing_and_says_why():
    imported = "from tinyalbert.nn.linear import linear_forward\n" + CORRECT_BACKWARD.replace(
        "def linear_backward", "from tinyalbert.nn.linear import LinearCache\nfrom tinyalbert.backend import array_namespace\n\ndef linear_backward")
    _, checks = grade_linear(imported)
    assert checks["forward"].score == 0 and "tinyalbert" in checks["forward"].note
    assert checks["backward"].score == checks["backward"].max_score

    called = with_forward("    import tinyalbert.nn.linear\n    return tinyalbert.nn.linear.linear_forward(inputs, weight, bias)")
    _, checks = grade_linear(called)
    assert checks["forward"].score == 0
    assert checks["forward"].note == "no points: your code called tinyalbert's reference `linear_forward`"

    through_another_module = with_forward("    from tinyalbert.nn import feedforward\n"
                                          "    return feedforward.linear_forward(inputs, weight, bias)")
    _, checks = grade_linear(through_another_module)
    assert checks["forward"].score == 0 and "reference" in checks["forward"].note

    reloaded = with_forward("    import importlib, tinyalbert.nn.linear as reference\n"
                            "    return importlib.reload(reference).linear_forward(inputs, weight, bias)")
    _, checks = grade_linear(reloaded)
    assert checks["forward"].score == 0 and "reload()" in checks["forward"].note

    re_executed = with_forward("    import importlib.util, tinyalbert.nn.linear as reference\n"
                               "    spec = importlib.util.spec_from_file_location('copy', reference.__file__)\n"
                               "    module = importlib.util.module_from_spec(spec)\n    spec.loader.exec_module(module)\n"
                               "    return module.linear_forward(inputs, weight, bias)")
    _, checks = grade_linear(re_executed)
    assert checks["forward"].score == 0 and "may not load module code again" in checks["forward"].note


# --- formats ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["text", "json", "gradescope", "junit"])
def test_every_format_is_written(tmp_path, fmt):
    (tmp_path / "linear.py").write_text(with_forward("    raise NotImplementedError"))
    out = tmp_path / f"report.{fmt}"
    result = cli("grade", tmp_path, "--exercise", "linear", "--format", fmt, "--output", out, "--seed", 7)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    if fmt == "text":
        assert "TOTAL 2.25 / 6.5" in text and "not written yet: the body still raises NotImplementedError" in text
        assert "Traceback" not in text and 'File "' not in text  # a stub needs no traceback
    elif fmt == "json":
        data = json.loads(text)
        assert data["score"] == 2.25 and data["seed"] == 7 and data["exercises"][0]["checks"][0]["cases"]
    elif fmt == "gradescope":
        data = json.loads(text)
        assert data["score"] == 2.25
        for test in data["tests"]:
            assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
        assert {t["status"] for t in data["tests"] if "status" in t} == {"passed", "failed"}
    else:
        root = ET.fromstring(text.split("?>", 1)[1])
        suite = root.find("testsuite")
        assert suite.get("name") == "linear" and suite.get("failures") == "3"
        assert root.find(".//failure") is not None


def test_points_can_be_chosen_and_an_empty_submission_is_graded(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.txt").write_text("no code")
    result = cli("grade", tmp_path / "sub", "--exercise", "linear", "softmax", "--points", "linear=12", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["score"] == 0 and data["max_score"] == 12 + BY_NAME["softmax"].points
    assert "was not found in your submission" in data["exercises"][0]["checks"][0]["note"]
    assert cli("grade", tmp_path / "sub", "--points", "linear=ten").returncode == 2
    typo = cli("grade", tmp_path / "sub", "--exercise", "linear", "--points", "lineer=5")
    assert typo.returncode == 2 and "'lineer' is not an exercise graded here" in typo.stderr
    assert cli("grade", tmp_path / "sub", "--exercise", "linear", "--points", "softmax=5").returncode == 2
    (tmp_path / "sub" / "linear.py").write_text(LINEAR)
    exact = json.loads(cli("grade", tmp_path / "sub", "--exercise", "linear", "--points", "linear=7",
                           "--format", "json").stdout)
    assert exact["score"] == exact["max_score"] == 7  # checks of 7/3 points each add up to 7, not 7.0001


def can_build_wheels_offline() -> bool:
    """setuptools 77 reads pyproject.toml's SPDX licence and builds wheels without `wheel`."""
    import importlib.metadata

    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    return major >= 77


@pytest.mark.skipif(not can_build_wheels_offline(), reason="needs setuptools>=77 (the test extra installs it)")
def test_gradescope_bundle_runs_against_a_stand_in_autograder_root(tmp_path):
    import zipfile

    bundle = tmp_path / "autograder.zip"
    result = cli("gradescope-bundle", bundle, "--exercise", "linear", "--seed", 11, "--points", "linear=3",
                 "--time-budget", 300)
    assert result.returncode == 0, result.stderr
    source = tmp_path / "source"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(source)
        assert {"setup.sh", "run_autograder", "grading.json"} <= set(archive.namelist())
        wheel = next(name for name in archive.namelist() if name.endswith(".whl"))
    installed = tmp_path / "site"
    with zipfile.ZipFile(source / wheel) as archive:  # what `pip install` of the wheel would put on the path
        archive.extractall(installed)
    assert (installed / "tinyalbert" / "grading" / "worker.py").exists()
    assert subprocess.run(["bash", "-n", str(source / "setup.sh")]).returncode == 0
    assert '"hypothesis>=' in (source / "setup.sh").read_text()  # the property checks search there as here
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "linear.py").write_text(LINEAR)
    env = {**environment(), "PYTHONPATH": str(installed), "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}
    run = subprocess.run(["bash", str(source / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads((root / "results" / "results.json").read_text())
    assert report["score"] == 3  # full marks, scaled to the 3 points chosen
    assert sum(t["max_score"] for t in report["tests"]) == 3

    # The bundle's time budget reaches the grader: spent at once, nothing is run and the report says why.
    config = json.loads((source / "grading.json").read_text())
    assert config["time_budget_s"] == 300
    (source / "grading.json").write_text(json.dumps({**config, "time_budget_s": 0.001}))
    run = subprocess.run(["bash", str(source / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    report = json.loads((root / "results" / "results.json").read_text())
    assert report["score"] == 0 and "time budget" in json.dumps(report), report

    env["AUTOGRADER_PYTHON"] = "/nonexistent/python3"  # the grader cannot even start: results.json still appears
    subprocess.run(["bash", str(source / "run_autograder")], env=env, capture_output=True, text=True, timeout=60)
    assert json.loads((root / "results" / "results.json").read_text())["score"] == 0


def test_staff_page_lists_every_exercise_with_its_points():
    page = (ROOT / "docs" / "grading-staff.md").read_text()
    for exercise in EXERCISES:
        row = next((line for line in page.splitlines() if line.startswith(f"| `{exercise.name}`")), None)
        assert row is not None, exercise.name
        assert f"| {exercise.points:g} |" in row, (exercise.name, row)
    assert f"is {sum(e.points for e in EXERCISES if not e.extra):g}." in page
    from tinyalbert.grading.mutants import MUTANTS

    assert f"and {len(MUTANTS)}\nmutants" in page or f"and {len(MUTANTS)} mutants" in page


def test_a_file_named_like_a_library_module_does_not_break_the_grader():
    result = grade({"json.py": "raise RuntimeError('shadowing json')\n", "numpy.py": LINEAR}, ["linear"], setting=QUICK)[0]
    assert result.score == result.max_score
    assert any("shadowing json" in note for note in result.notes)


def test_a_file_that_loops_while_loading_is_named_once_not_waited_for_per_exercise():
    """Code at the top level that never finishes: the first exercise waits the start-up limit,
    says what happened, and the others are scored 0 at once with the same note."""
    files = {"linear.py": "while True:\n    pass\n", "other.py": "x = 1\n"}
    started = time.monotonic()
    results = grade(files, ["linear", "layernorm", "softmax"], setting=QUICK, limits=Limits(startup_s=2.0))
    assert time.monotonic() - started < 12  # one start-up wait, not three
    for result in results:
        assert any("loading your files took more than 2 s" in note for note in result.notes), result.notes
        assert all(check.score == 0 for check in result.checks)


def test_grading_as_root_warns_when_the_student_code_cannot_drop_to_nobody(monkeypatch):
    from tinyalbert.grading import sandbox

    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 0)
    monkeypatch.setattr(sandbox, "can_run_as_nobody", lambda: False)
    with pytest.warns(RuntimeWarning, match="the student code runs as root"):
        grade({"linear.py": "x = 1\n"}, ["linear"], setting=QUICK)


def test_submission_files_keep_their_bytes_and_duplicates_and_emptiness_are_named(tmp_path):
    """A latin-1 file with its coding line runs as Python reads it; a graded function defined in
    two files is named with the one graded; an empty submission says it is empty."""
    from tinyalbert.grading.grade import read_submission

    latin = "# -*- coding: latin-1 -*-\n" + LINEAR.replace(
        "def linear_forward(inputs, weight, bias):\n",
        "def linear_forward(inputs, weight, bias):\n    assert MARK == '\\u00b4', repr(MARK)\n", 1) + "\nMARK = '\u00b4'\n"
    (tmp_path / "linear.py").write_bytes(latin.encode("latin-1"))
    (tmp_path / "a_linear.py").write_text(LINEAR.replace("return ", "return 0 * "), encoding="utf-8")  # shadowed
    files = read_submission(tmp_path)
    assert isinstance(files["linear.py"], bytes)
    result = grade(files, ["linear"], setting=QUICK)[0]
    forward = next(c for c in result.checks if c.check == "forward")
    assert forward.score == forward.max_score, [c.message for c in forward.cases if not c.passed][:1]
    assert any("`linear_forward` is defined in a_linear.py, linear.py: the one in linear.py is graded"
               in note for note in result.notes), result.notes
    (tmp_path / "empty").mkdir()
    empty = grade(read_submission(tmp_path / "empty"), ["linear"], setting=QUICK)[0]
    assert all("the submission holds no .py files" in c.note for c in empty.checks)


def test_a_slow_submission_is_stopped_by_the_exercise_time_budget():
    """Every call well inside its own limit, but hundreds of them: the exercise's budget ends it."""
    limits = Limits(exercise_s=2.0)
    started = time.monotonic()
    _, checks = grade_linear(with_forward("    import time\n    time.sleep(0.25)\n"
                                          "    out = inputs @ weight.T + (0 if bias is None else bias)\n"
                                          "    return out, LinearCache(inputs, weight, bias is not None)"), limits)
    assert time.monotonic() - started < 15
    messages = [c.message for check in checks.values() for c in check.cases if not c.passed]
    assert any("calls took more than 2 s in all" in m for m in messages), messages[:3]
    assert not any("no answer within" in m for m in messages)  # a call cut by the budget says so


def test_a_load_error_is_said_once_not_under_every_exercise():
    from tinyalbert.grading.report import to_gradescope, to_text

    files = {"broken.py": "open('accents.txt')\n", "linear.py": LINEAR,
             "softmax.py": exercise_file(BY_NAME["softmax"], cut=False)}
    results = grade(files, ["linear", "softmax"], setting=QUICK)
    assert all(any("broken.py: FileNotFoundError" in note for note in r.notes) for r in results)
    text = to_text(results)
    assert text.count("broken.py: FileNotFoundError") == 1 and text.startswith("note (every exercise)")
    assert "<frozen" not in text
    document = json.loads(to_gradescope(results))
    assert "broken.py: FileNotFoundError" in document["output"]
    assert not any("broken.py" in test["output"] for test in document["tests"])


def test_gradient_failures_name_the_parameter():
    wrong = LINEAR.replace('return d_inputs, {"weight": d_weight, "bias": d_bias}',
                           'return d_inputs, {"weight": 2 * d_weight, "bias": d_bias}')
    assert wrong != LINEAR
    _, checks = grade_linear(wrong)
    messages = [c.message for c in checks["backward"].cases + checks["gradcheck"].cases if not c.passed]
    assert messages and all("gradient of `weight`" in m for m in messages), messages[:2]


def test_a_wrong_signature_is_told_the_one_graded():
    renamed = LINEAR.replace("def linear_forward(inputs, weight, bias):", "def linear_forward(inputs, weight):")
    assert renamed != LINEAR
    _, checks = grade_linear(renamed)
    message = next(c.message for c in checks["forward"].cases if not c.passed)
    assert "TypeError" in message and "the grader calls linear_forward(inputs, weight, bias)" in message, message


def test_a_syntax_error_shows_the_line():
    broken = LINEAR.replace("def linear_backward(", "def linear_backward(d_out cache, ", 1)
    result, _ = grade_linear(broken)
    note = next(note for note in result.notes if "SyntaxError" in note)
    assert "(linear.py, line" in note and "def linear_backward(d_out cache," in note and "^" in note, note


# --- arguments changed in place ------------------------------------------------------------------
def test_a_forward_that_changes_its_input_fails_though_its_output_is_right():
    # The output is the reference's to the last bit; only the caller's `inputs` is changed.
    in_place = LINEAR.replace("    rows = xp.reshape(inputs, (-1, inputs.shape[-1]))",
                              "    rows = xp.reshape(inputs, (-1, inputs.shape[-1]))\n    inputs *= 1.0\n    inputs += 0.0\n"
                              "    inputs[...] = xp.where(inputs == inputs, inputs, inputs) + 0.5\n    rows = rows - 0.5")
    assert in_place != LINEAR
    _, checks = grade_linear(in_place)
    assert checks["forward"].score == 0 and checks["gradcheck"].score == 0
    assert checks["backward"].score == checks["backward"].max_score  # the backward is untouched
    message = next(c.message for c in checks["forward"].cases if not c.passed)
    assert "`linear_forward` changed its argument `inputs` in place (at index (0, 0" in message, message
    assert "now" in message and "not `x *= 2`" in message


def test_a_backward_that_writes_into_its_cache_or_upstream_gradient_fails():
    into_cache = LINEAR.replace("    d_inputs = xp.reshape(d_rows @ weight, inputs.shape)",
                                "    d_inputs = xp.reshape(d_rows @ weight, inputs.shape)\n    weight *= 2.0\n    weight /= 2.0\n"
                                "    weight[0, 0] = 123.0")
    into_upstream = LINEAR.replace("    d_inputs = xp.reshape(d_rows @ weight, inputs.shape)",
                                   "    d_inputs = xp.reshape(d_rows @ weight, inputs.shape)\n    d_output[...] = 0.0")
    assert into_cache != LINEAR and into_upstream != LINEAR
    for source, named in ((into_cache, "its argument `cache`.weight in place"),
                          (into_upstream, "its argument `d_output` in place")):
        _, checks = grade_linear(source)
        assert checks["forward"].score == checks["forward"].max_score
        assert checks["backward"].score == 0 and checks["gradcheck"].score == 0
        message = next(c.message for c in checks["backward"].cases if not c.passed)
        assert named in message, message


def test_an_optimizer_that_replaces_entries_of_the_params_dict_fails():
    source = exercise_file(BY_NAME["adamw"], cut=False)
    changed = source.replace("        return updated\n", "        params.update(updated)\n        return updated\n")
    assert changed != source
    result = grade({"adamw.py": changed}, ["adamw"], setting=QUICK)[0]
    assert result.score == 0
    message = next(c.message for check in result.checks for c in check.cases if not c.passed)
    assert "`AdamW` replaced or removed `params`[" in message and "of step 1" in message, message


def test_check_in_a_notebook_fails_a_function_that_changes_its_input(capsys):
    def layernorm_forward(inputs, weight, bias, eps):
        inputs -= inputs.mean(-1, keepdims=True)  # the output is right; the caller's array is not
        inv_std = 1.0 / np.sqrt((inputs ** 2).mean(-1, keepdims=True) + eps)
        return inputs * inv_std * weight + bias, None

    assert check("layernorm_forward", layernorm_forward) is False
    assert "changed its argument `inputs` in place" in capsys.readouterr().out


def test_the_documented_overwrites_are_allowed_and_only_those():
    # softmax_backward overwrites d_probs and encoder_backward pops its layer caches, as their
    # docstrings say; the reference itself must pass, and the exceptions must name real parameters.
    import inspect

    from tinyalbert.grading.calling import MAY_OVERWRITE

    for name, parts in MAY_OVERWRITE.items():
        parameters = list(inspect.signature(resolve(name)).parameters)
        doc = inspect.getdoc(resolve(name))
        for part in parts:
            assert f"`{parameters[part[0]]}" in doc, (name, parameters[part[0]])
    assert check("softmax_backward", resolve("softmax_backward")) is True
    # Only the layer caches may go: a backward that writes into the cache's linear layer fails.
    reference = resolve("encoder_backward")

    def writes_into_mapping(d_hidden, cache):
        result = reference(d_hidden, cache)
        cache.mapping_in.weight[...] = 0.0
        return result

    assert check("encoder_backward", reference) is True
    assert check("encoder_backward", writes_into_mapping) is False


def test_a_random_draw_is_named_with_its_shapes_and_settings():
    # Edge cases say their shapes in their names; a random draw must too, or a student cannot
    # rebuild the input that failed.
    wrong = LINEAR.replace("return xp.reshape(outputs,", "outputs = outputs + 1.0\n    return xp.reshape(outputs,")
    _, checks = grade_linear(wrong)
    drawn = [c.name for c in checks["forward"].cases if c.name.startswith("random draw")]
    assert drawn and all(not c.passed for c in checks["forward"].cases)
    for name in drawn:
        assert re.fullmatch(r"random draw \d+: inputs \([\d, ]+\), weight \(\d+, \d+\), bias \(\d+,\)", name), name
    encoder = grade({"encoder.py": exercise_file(BY_NAME["encoder"], cut=False)}, ["encoder"], setting=QUICK)[0]
    names = [c.name for check in encoder.checks for c in check.cases if c.name.startswith("random draw")]
    assert names and all("num_hidden_layers=" in n and "num_hidden_groups=" in n for n in names), names


# --- command lines that must be refused ------------------------------------------------------------
def refused(capsys, *args) -> str:
    """Run the command line in this process, where it must be refused as a usage error: exit
    status 2 and one `error:` line, which is returned."""
    from tinyalbert.grading.__main__ import main

    try:
        status = main([str(arg) for arg in args])
    except SystemExit as exit:  # argparse's own refusals
        status = exit.code
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert status == 2 and len(errors) == 1, (args, status, errors)
    return errors[0]


def test_points_must_be_a_finite_total_given_once(tmp_path, capsys):
    from tinyalbert.grading.bundle import write_bundle
    from tinyalbert.grading.grade import parse_points

    (tmp_path / "linear.py").write_text(LINEAR)
    for bad in ("nan", "inf", "-1"):  # nan made "score": NaN, invalid JSON, and a correct solution "failed"
        line = refused(capsys, "grade", tmp_path / "linear.py", "--exercise", "linear", "--points", f"linear={bad}",
                       "--format", "gradescope")
        assert f"linear={bad}" in line and ">= 0" in line, line
    line = refused(capsys, "gradescope-bundle", tmp_path / "b.zip", "--exercise", "linear", "--points", "linear=nan")
    assert "linear=nan" in line and not (tmp_path / "b.zip").exists()
    twice = refused(capsys, "grade", tmp_path / "linear.py", "--exercise", "linear", "--points", "linear=3", "linear=9")
    assert "'linear' twice" in twice, twice
    with pytest.raises(ValueError, match=">= 0"):  # a bundle made from Python: its config is checked the same way
        write_bundle(tmp_path / "c.zip", ["linear"], 1, {"linear": float("nan")})
    assert not (tmp_path / "c.zip").exists()
    assert parse_points(["linear=0", "softmax=2.5"]) == {"linear": 0.0, "softmax": 2.5}


def test_negative_seeds_and_no_jobs_are_refused(tmp_path, capsys):
    from tinyalbert.grading.bundle import write_bundle

    (tmp_path / "linear.py").write_text(LINEAR)
    for command in (["grade", tmp_path / "linear.py", "--exercise", "linear"], ["selftest"],
                    ["gradescope-bundle", tmp_path / "b.zip", "--exercise", "linear"]):
        line = refused(capsys, *command, "--seed", "-1")
        assert "--seed" in line and ">= 0" in line, line
    assert not (tmp_path / "b.zip").exists()
    assert "--jobs" in refused(capsys, "selftest", "--jobs", "0")
    # A seed that comes another way (Python, a grading.json edited by hand) is refused before any
    # grading, not turned into "the grader failed" and 0 points on every exercise.
    with pytest.raises(ValueError, match="seed must be a whole number >= 0"):
        grade({"linear.py": LINEAR}, ["linear"], seed=-1, setting=QUICK)
    with pytest.raises(ValueError, match="seed must be a whole number >= 0"):
        write_bundle(tmp_path / "c.zip", ["linear"], -1)
    assert not (tmp_path / "c.zip").exists()


def test_a_file_name_found_twice_in_an_uploaded_folder_is_named_and_the_top_one_graded(tmp_path):
    from tinyalbert.grading.grade import duplicate_notes, submission_paths

    stub = exercise_file(BY_NAME["linear"])
    upload = tmp_path / "upload"  # an uploaded folder: no .py file at the top, so it is searched below
    (upload / "hw" / "old").mkdir(parents=True)
    (upload / "hw" / "linear.py").write_text(LINEAR)
    (upload / "hw" / "old" / "linear.py").write_text(stub)  # deeper, and last by path: it used to be graded
    result = cli("grade", upload, "--exercise", "linear", "--format", "gradescope")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["score"] == BY_NAME["linear"].points
    note = ("your submission has 2 files named linear.py (hw/linear.py, hw/old/linear.py): "
            "only hw/linear.py is graded")
    visible = [test for test in report["tests"] if test["visibility"] == "visible"]
    assert visible and all(note in test["output"] for test in visible)  # the student's feedback, which staff see too
    # Equally deep: the first by path is graded, and the note says which.
    tie = tmp_path / "tie"
    for folder, source in (("old", stub), ("final", LINEAR)):
        (tie / folder).mkdir(parents=True)
        (tie / folder / "linear.py").write_text(source)
    paths = submission_paths(tie)
    assert paths["linear.py"] == [tie / "final" / "linear.py", tie / "old" / "linear.py"]
    [tie_note] = duplicate_notes(paths, tie)
    assert "(final/linear.py, old/linear.py): only final/linear.py is graded" in tie_note, tie_note
    assert duplicate_notes(submission_paths(upload / "hw" / "linear.py"), upload / "hw" / "linear.py") == []


def test_paths_that_cannot_be_written_are_refused_and_leave_nothing_behind(tmp_path, capsys):
    (tmp_path / "linear.py").write_text(LINEAR)
    (tmp_path / "afile").write_text("x\n")
    (tmp_path / "emptydir").mkdir()
    report_to = ["grade", tmp_path / "linear.py", "--exercise", "linear", "--output"]
    not_a_folder = "afile is a file, not a directory"
    for args, why in ((report_to + [tmp_path / "emptydir"], "emptydir is a directory; name a file in it"),
                      (report_to + [tmp_path / "afile" / "x.json"], not_a_folder),
                      (["gradescope-bundle", tmp_path / "emptydir"], "emptydir is a directory; name a file in it"),
                      (["gradescope-bundle", tmp_path / "afile" / "x.zip"], not_a_folder),
                      (["stubs", tmp_path / "afile" / "sub"], not_a_folder),
                      (["stubs", tmp_path / "afile"], not_a_folder)):
        line = refused(capsys, *args)
        assert why in line, line
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["afile", "emptydir", "linear.py"]  # no .results-*
    assert (tmp_path / "afile").read_text() == "x\n"


def test_a_report_that_cannot_be_written_is_one_error_and_leaves_no_temporary_file(tmp_path, capsys, monkeypatch):
    from tinyalbert.grading import __main__ as command_line, report

    def disk_full(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report.os, "replace", disk_full)
    with pytest.raises(OSError):
        report.write_atomically(tmp_path / "results.json", "{}\n")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "linear.py").write_text(exercise_file(BY_NAME["linear"]))

    def no_space(path, text):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(command_line, "write_atomically", no_space)
    line = refused(capsys, "grade", tmp_path / "linear.py", "--exercise", "linear", "--output", tmp_path / "r.json")
    assert "the report could not be written" in line and "No space left on device" in line, line


def test_the_report_never_replaces_a_submitted_file_and_macos_copies_are_not_code(tmp_path):
    (tmp_path / "linear.py").write_text(LINEAR)
    result = cli("grade", tmp_path / "linear.py", "--exercise", "linear", "--output", tmp_path / "linear.py")
    assert result.returncode == 2 and "is a file of the submission" in result.stderr, result.stderr
    assert (tmp_path / "linear.py").read_text() == LINEAR
    # A folder zipped on macOS carries __MACOSX/ and ._name.py resource forks: binary, not code.
    upload = tmp_path / "upload"
    (upload / "hw").mkdir(parents=True)
    (upload / "hw" / "linear.py").write_text(LINEAR)
    (upload / "hw" / "._linear.py").write_bytes(b"\x00\x05\x16\x07 Mac OS X resource fork")
    (upload / "__MACOSX" / "hw").mkdir(parents=True)
    (upload / "__MACOSX" / "hw" / "._linear.py").write_bytes(b"\x00\x05\x16\x07")
    report = json.loads(cli("grade", upload, "--exercise", "linear", "--format", "json").stdout)
    assert report["exercises"][0]["notes"] == [] and report["exercises"][0]["score"] == BY_NAME["linear"].points
    # Only what lies inside the submission counts: one kept under a folder of that name is graded.
    from tinyalbert.grading.grade import submission_paths

    inside = tmp_path / "__MACOSX" / "upload"
    inside.mkdir(parents=True)
    (inside / "linear.py").write_text(LINEAR)
    assert list(submission_paths(inside)) == ["linear.py"]


def test_the_head_pruning_stub_keeps_the_signature_and_docstring_and_its_draws_name_their_heads(tmp_path):
    result = cli("stubs", tmp_path, "--exercise", "head_pruning")
    assert result.returncode == 0, result.stderr
    stub = (tmp_path / "head_pruning.py").read_text()
    assert ("def prune_attention_heads(attention: dict, pruned_before, pruning, num_heads: int, head_size: int) "
            "-> dict:") in stub
    assert "`pruned_before` are those already gone from the arrays" in stub  # the docstring
    assert stub.count("    " + MARKER) == 1 and "kept_before" not in stub  # the body is gone
    assert "grade head_pruning.py --exercise head_pruning" in stub
    compile(stub, "head_pruning.py", "exec")
    listed = cli("list").stdout
    assert re.search(r"head_pruning +5 +prune_attention_heads +\(extra: only when named\)", listed), listed
    # A random draw says which heads were pruned before and which are pruned now.
    result = grade({"head_pruning.py": stub}, ["head_pruning"], setting=QUICK)[0]
    drawn = [c.name for check in result.checks for c in check.cases if c.name.startswith("random draw")]
    assert drawn
    for name in drawn:
        assert re.fullmatch(r"random draw \d+ \(hidden \d+\): pruned_before \[[\d, ]*\], pruning \[[\d, ]*\], "
                            r"num_heads \d, head_size \d", name), name
