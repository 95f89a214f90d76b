"""`python -m tinyalbert.grading grade-class`: every student of a class folder graded as `grade`
grades one, a report each and summary.csv. Before it, `grade` given the class folder graded one
student's files (the first found) and reported that score for the folder."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from tinyalbert.grading.exercises import BY_NAME
from tinyalbert.grading.stubs import exercise_file

SOLUTION = exercise_file(BY_NAME["layernorm"], cut=False)
STUB = exercise_file(BY_NAME["layernorm"], cut=True)
# A student who forgot the epsilon inside the square root: the forward and its gradients are off.
NO_EPS = SOLUTION.replace("variance + eps", "variance")


def grading(*arguments, cwd=None):
    return subprocess.run([sys.executable, "-m", "tinyalbert.grading", *map(str, arguments)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


@pytest.fixture
def class_folder(tmp_path):
    """alice (right, a folder), bob (the untouched stub, a folder), carol (one .py file, no eps),
    and what is not a student: a hidden folder and a README."""
    assert NO_EPS != SOLUTION
    submissions = tmp_path / "submissions"
    for student, text in (("alice", SOLUTION), ("bob", STUB)):
        (submissions / student).mkdir(parents=True)
        (submissions / student / "layernorm.py").write_text(text)
    (submissions / "carol.py").write_text(NO_EPS)
    (submissions / ".git").mkdir()
    (submissions / ".git" / "layernorm.py").write_text(SOLUTION)
    (submissions / "README.txt").write_text("hand-ins of week 3")
    return submissions


def test_each_student_gets_the_report_grade_gives_and_a_row_in_the_summary(class_folder, tmp_path):
    reports = tmp_path / "reports"
    done = grading("grade-class", class_folder, "--exercise", "layernorm", "--format", "json", "--output-dir", reports)
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in reports.iterdir()) == ["alice.json", "bob.json", "carol.json", "summary.csv"]
    for student, submission in (("alice", class_folder / "alice"), ("bob", class_folder / "bob"),
                                ("carol", class_folder / "carol.py")):
        alone = json.loads(grading("grade", submission, "--exercise", "layernorm", "--format", "json").stdout)
        in_class = json.loads((reports / f"{student}.json").read_text())
        assert (in_class["score"], in_class["max_score"]) == (alone["score"], alone["max_score"]), student
    rows = {row["student"]: row for row in csv.DictReader((reports / "summary.csv").open())}
    assert list(rows) == ["alice", "bob", "carol"]
    maximum = float(rows["alice"]["max_score"])
    assert float(rows["alice"]["score"]) == maximum == float(rows["alice"]["layernorm"]) > 0
    assert float(rows["bob"]["score"]) == 0
    assert 0 <= float(rows["carol"]["score"]) < maximum
    assert "[1/3] alice: " in done.stderr and "[3/3] carol: " in done.stderr
    assert done.stdout.strip() == str(reports / "summary.csv")


def test_a_class_folder_that_cannot_be_graded_is_one_error_line(class_folder, tmp_path):
    inside = grading("grade-class", class_folder, "--exercise", "layernorm", "--output-dir", class_folder / "reports")
    assert inside.returncode == 2 and "inside SUBMISSIONS_DIR" in inside.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    nobody = grading("grade-class", empty, "--output-dir", tmp_path / "reports")
    assert nobody.returncode == 2 and "holds no student" in nobody.stderr
    a_file = grading("grade-class", class_folder / "carol.py", "--output-dir", tmp_path / "reports")
    assert a_file.returncode == 2 and "must be a folder with one sub-folder or .py file per student" in a_file.stderr
    unknown = grading("grade-class", class_folder, "--exercise", "nonsense", "--output-dir", tmp_path / "reports")
    assert unknown.returncode == 2 and "nonsense" in unknown.stderr
    assert not (tmp_path / "reports").exists()  # nothing written for a command that was refused


def test_grade_given_a_class_folder_points_to_grade_class(class_folder):
    """The duplicates note of `grade` says which file was graded; where each copy is in a folder
    of its own, it also names grade-class, the command the folder needs."""
    (class_folder / "carol.py").unlink()  # (a .py file at the top would be the one graded)
    (class_folder / "dave").mkdir()
    (class_folder / "dave" / "layernorm.py").write_text(STUB)
    report = grading("grade", class_folder, "--exercise", "layernorm").stdout
    assert "files named layernorm.py (alice/layernorm.py, bob/layernorm.py, dave/layernorm.py)" in report
    assert "grade-class" in report
    (class_folder / "dave" / "layernorm.py").unlink()  # two folders: a student's v1/ and v2/, as likely
    assert "grade-class" not in grading("grade", class_folder, "--exercise", "layernorm").stdout


def test_what_is_not_a_student_is_left_out_and_two_of_one_name_are_refused(class_folder, tmp_path):
    (class_folder / "__MACOSX").mkdir()
    (class_folder / "__MACOSX" / "layernorm.py").write_text(SOLUTION)
    (class_folder / "eve").symlink_to(class_folder / "alice")
    reports = tmp_path / "reports"
    done = grading("grade-class", class_folder, "--exercise", "layernorm", "--output-dir", reports)
    assert done.returncode == 0, done.stderr
    assert "left out eve: a symbolic link" in done.stderr
    assert [row["student"] for row in csv.DictReader((reports / "summary.csv").open())] == ["alice", "bob", "carol"]
    (class_folder / "alice.py").write_text(SOLUTION)
    clash = grading("grade-class", class_folder, "--exercise", "layernorm", "--output-dir", tmp_path / "again")
    assert clash.returncode == 2 and "alice and alice.py would be the same student" in clash.stderr
    assert not (tmp_path / "again").exists()


def test_a_file_inside_a_hidden_folder_is_not_the_students(tmp_path):
    """`.git/`, `.ipynb_checkpoints/` or a zipped `.venv/` is not the student's code: its files
    are neither graded nor counted as duplicates (`.git/layernorm.py` sorted first by path)."""
    upload = tmp_path / "upload"
    (upload / "work").mkdir(parents=True)
    (upload / "work" / "layernorm.py").write_text(SOLUTION)
    (upload / ".venv" / "lib").mkdir(parents=True)
    (upload / ".venv" / "lib" / "layernorm.py").write_text(STUB)
    (upload / ".venv" / "lib64").symlink_to(upload / ".venv" / "lib")  # as a virtual environment has
    report = grading("grade", upload, "--exercise", "layernorm", "--format", "json").stdout
    document = json.loads(report)
    assert document["score"] == document["max_score"] > 0 and ".venv" not in report  # no file, no link note
