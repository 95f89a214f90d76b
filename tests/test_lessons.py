"""Every lesson in lessons/ runs top to bottom as a notebook, in its own kernel, within its time limit.

A lesson checks itself: it asserts that its few lines of NumPy agree with the library function
it explains, so a change in `tinyalbert` that alters the numbers makes that lesson fail here.
New lessons (`lessons/NN_topic.py`) are picked up without touching this file.

The executed notebooks are kept in build/lessons/ for the docs build (`mkdocs build` renders
them instead of running the lessons again). Heavier settings: LESSONS_FULL=1.
"""
import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest
from nbclient.exceptions import CellExecutionError, CellTimeoutError

REPO_ROOT = Path(__file__).resolve().parents[1]


def _load_runner():
    spec = importlib.util.spec_from_file_location("lesson_runner", REPO_ROOT / "scripts" / "lessons.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


runner = _load_runner()
LESSONS = runner.lesson_files()


def test_lessons_are_found():
    assert LESSONS, f"no {runner.LESSON_PATTERN} in {runner.LESSONS_DIR}"
    numbers = [path.name[:2] for path in LESSONS]
    assert len(numbers) == len(set(numbers)), f"two lessons share a number: {[p.name for p in LESSONS]}"


def test_the_runner_answers_help_with_its_usage(capsys):
    with pytest.raises(SystemExit) as stop:
        runner.parse_prefixes(["--help"])
    assert stop.value.code == 0
    assert "LESSONS_FULL=1" in capsys.readouterr().out  # the docstring's usage lines
    assert runner.parse_prefixes(["03", "05"]) == ["03", "05"]


@pytest.mark.parametrize("path", LESSONS, ids=[path.stem for path in LESSONS])
def test_lesson_runs(path):
    try:
        notebook, seconds = runner.execute_lesson(path)
    except (CellExecutionError, CellTimeoutError) as error:
        # The failing cell and its traceback, without the kernel's terminal colours.
        message = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(error))
        pytest.fail(f"{path.name} stopped (limit {runner.lesson_timeout()} s for the whole lesson):\n{message}",
                    pytrace=False)
    runner.save_executed(notebook, path)
    print(f"{path.name}: {seconds:.1f} s")
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells, f"{path.name} has no code cell"
    assert all(cell.get("execution_count") for cell in code_cells), f"{path.name}: a cell did not run"


def test_a_lesson_without_transformers_says_it_skips_the_comparison(tmp_path, monkeypatch):
    """The comparison cells must run (and say so) where transformers and torch are missing."""
    for name in ("transformers", "torch"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('{name} hidden for this test')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the kernel's PYTHONPATH: the checkout, then these
    lesson = LESSONS[0]
    notebook, _ = runner.execute_lesson(lesson)
    printed = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for output in cell.get("outputs", []))
    assert "SKIPPED: transformers" in printed, f"{lesson.name} printed no skip message without transformers"


def _exercise_stubs(tree):
    """Module-level functions whose whole body is `raise NotImplementedError(...)` (a docstring allowed)."""
    stubs = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        body = node.body[1:] if ast.get_docstring(node) is not None else node.body
        if (len(body) == 1 and isinstance(body[0], ast.Raise) and isinstance(body[0].exc, ast.Call)
                and getattr(body[0].exc.func, "id", None) == "NotImplementedError"):
            stubs.append(node.name)
    return stubs


def _names_guarded_by_not_implemented(tree):
    """Names used inside a `try:` whose handlers catch NotImplementedError: a self-check of a stub."""
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                "NotImplementedError" in ast.unparse(handler.type) for handler in node.handlers if handler.type):
            guarded |= {name.id for statement in node.body for name in ast.walk(statement) if isinstance(name, ast.Name)}
    return guarded


@pytest.mark.parametrize("path", LESSONS, ids=[path.stem for path in LESSONS])
def test_every_exercise_is_a_stub_with_a_guarded_self_check(path):
    """An exercise cell holds no answer: the learner's function raises NotImplementedError until
    written, and its self-check says "not attempted yet" instead of stopping the notebook."""
    source = path.read_text()
    tree = ast.parse(source)
    numbered = re.findall(r"^# \*\*Exercise \d+\.\*\*", source, flags=re.MULTILINE)  # "(no self-check)" ones excluded
    single = re.findall(r"^# ## Exercise: ", source, flags=re.MULTILINE)
    expected = len(numbered) + len(single)
    assert expected, f"{path.name} has no exercise with a self-check"
    stubs = _exercise_stubs(tree)
    assert len(stubs) == expected, (
        f"{path.name}: {expected} exercises with a self-check, but {len(stubs)} stub functions {stubs} "
        "(an exercise cell must hold `raise NotImplementedError(...)`, not an answer)")
    unguarded = sorted(set(stubs) - _names_guarded_by_not_implemented(tree))
    assert not unguarded, f"{path.name}: the self-check of {unguarded} does not catch NotImplementedError"
