"""python -m tinyalbert.grading list | stubs | grade | grade-class | selftest | gradescope-bundle

Exit status: 0 whenever the command completed (a low score included), 1 when the self-test
finds a problem, 2 for a usage error.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

from ..cli import (OneLineErrorParser, UsageError, directory_path_problem, file_path_problem, int_at_least,
                   print_error)
from .exercises import EXERCISES, select
from .grade import (DEFAULT_BUDGET_S, DEFAULT_SEED, HEAVY_ENV, check_budget, duplicate_notes, grade, link_notes,
                    parse_points, read_files, rescale, submission_paths, system_entry, unread_files, with_notes)
from .report import clean_text, render, write_atomically, xml_text


# --seed: refused here rather than failing every check later (numpy refuses negative seeds).
seed_argument, jobs_argument = int_at_least(0), int_at_least(1)


def seconds_argument(text: str) -> float:
    """An argparse `type`: a finite number of seconds > 0 (`grade.check_budget`)."""
    try:
        return check_budget(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}") from None


def add_grading_options(command: argparse.ArgumentParser) -> None:
    """What `grade` and `grade-class` both take: the exercises, the report's format, the seed, the points."""
    command.add_argument("--exercise", nargs="+", metavar="NAME")
    command.add_argument("--format", choices=("text", "json", "gradescope", "junit"), default="text")
    command.add_argument("--seed", type=seed_argument, default=DEFAULT_SEED, help="seed of the random cases (>= 0)")
    command.add_argument("--points", nargs="+", metavar="NAME=TOTAL", help="what an exercise is worth (its checks scale)")


def parser() -> argparse.ArgumentParser:
    # OneLineErrorParser: a usage error is one `error:` line (main says it), not argparse's usage
    # block; the sub-commands' parsers are of the same class (add_subparsers takes the parent's).
    main = OneLineErrorParser(prog="python -m tinyalbert.grading", description="The tinyalbert coursework autograder.",
                              epilog=f"Set {HEAVY_ENV}=1 for more random cases and finite-difference entries.")
    commands = main.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the exercises and their points")
    stubs = commands.add_parser("stubs", help="write the student files")
    stubs.add_argument("out_dir")
    stubs.add_argument("--exercise", nargs="+", metavar="NAME")
    stubs.add_argument("--solutions", action="store_true", help="write the reference solutions instead (for staff)")
    stubs.add_argument("--force", action="store_true", help="overwrite files that are there with other contents")
    grading = commands.add_parser("grade", help="grade a .py file or a directory of .py files")
    grading.add_argument("submission")
    add_grading_options(grading)
    grading.add_argument("--output", metavar="FILE", help="write the report here (default: standard output)")
    grading.add_argument("--time-budget", type=seconds_argument, default=DEFAULT_BUDGET_S, metavar="SECONDS",
                         help=f"wall-clock seconds for the whole grading; what is not run in time scores 0 (default "
                              f"{DEFAULT_BUDGET_S:g}, for Gradescope's default 10-minute timeout)")
    group = commands.add_parser("grade-class", help="grade every student of a folder (one sub-folder or .py file "
                                                    "each): a report per student and summary.csv")
    group.add_argument("submissions", metavar="SUBMISSIONS_DIR")
    add_grading_options(group)
    group.add_argument("--output-dir", required=True, metavar="DIR", help="where the reports and summary.csv go")
    group.add_argument("--time-budget", type=seconds_argument, default=DEFAULT_BUDGET_S, metavar="SECONDS",
                       help=f"wall-clock seconds for each student; what is not run in time scores 0 (default "
                            f"{DEFAULT_BUDGET_S:g})")
    selftest = commands.add_parser("selftest", help="reference full marks, stubs 0, every mutant caught")
    selftest.add_argument("--seed", type=seed_argument, default=DEFAULT_SEED)
    selftest.add_argument("--jobs", type=jobs_argument, default=2)
    bundle = commands.add_parser("gradescope-bundle", help="write a Gradescope autograder zip")
    bundle.add_argument("out_zip")
    bundle.add_argument("--exercise", nargs="+", metavar="NAME")
    bundle.add_argument("--seed", type=seed_argument,
                        help="seed of the random cases, >= 0 (default: drawn at random, kept in the zip)")
    bundle.add_argument("--points", nargs="+", metavar="NAME=TOTAL", help="what an exercise is worth (its checks scale)")
    bundle.add_argument("--time-budget", type=seconds_argument, default=DEFAULT_BUDGET_S, metavar="SECONDS",
                        help=f"the grading's budget at every submission (default {DEFAULT_BUDGET_S:g}; raise it "
                             "with the assignment's timeout on Gradescope, at most 40 minutes)")
    return main


def list_exercises() -> str:
    lines = [f"{'exercise':<20} {'points':>6}  functions"]
    for exercise in EXERCISES:
        extra = "  (extra: only when named)" if exercise.extra else ""
        lines.append(f"{exercise.name:<20} {exercise.points:>6g}  {', '.join(exercise.functions)}{extra}")
        lines += [f"{'':<20} {c.points:>6g}    - {c.name}: {c.about}" for c in exercise.checks]
    total = sum(e.points for e in EXERCISES if not e.extra)
    lines.append(f"{'total':<20} {total:>6g}  (without extras)")
    return "\n".join(lines) + "\n"


def usage_error(message: str) -> int:
    print_error(message)
    return 2


def os_error_text(error: OSError) -> str:
    """An OSError in one line: the system's carry a reason and a file name, ours a message."""
    if error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return str(error.args[0]) if error.args else type(error).__name__


def graded_points(args) -> dict:
    """--points as {exercise: total}, checked against the exercises graded (KeyError, ValueError)."""
    graded = select(args.exercise, include_extra=bool(args.exercise))
    return parse_points(args.points, [exercise.name for exercise in graded])


def grade_submission(submission, args, points: dict) -> tuple[str, list | None]:
    """(the report in --format, the results or None) of one student's .py file or folder. A
    submission that cannot be read (a link, an unreadable file) is a ValueError or OSError; a
    failure of the grader itself still gives a report, which says so."""
    paths = submission_paths(submission)
    files = read_files(paths)
    # A name found twice in an uploaded folder: the report says which file was graded; a link: that it was not read.
    notes = duplicate_notes(paths, submission) + link_notes(submission)
    start = time.monotonic()
    try:
        results = grade(files, args.exercise, seed=args.seed, include_extra=bool(args.exercise),
                        budget_s=args.time_budget, unread=unread_files(submission))
        results = with_notes(rescale(results, points), notes)
        return render(results, args.format, seed=args.seed, execution_time=time.monotonic() - start), results
    except Exception as error:  # the report must be written whatever happened
        return failure_report(args.format, f"the grader failed: {type(error).__name__}: {error}"), None


def command_grade(args) -> int:
    output_problem = file_path_problem(args.output, "results.json") if args.output else ""
    if output_problem:  # said now, not after minutes of grading
        return usage_error(f"--output {output_problem}")
    try:
        points = graded_points(args)
        submitted = [p for found in submission_paths(args.submission).values() for p in found]
    except (ValueError, KeyError) as error:
        return usage_error(error.args[0])
    except OSError as error:  # SUBMISSION itself a link (not followed), or a file that cannot be read
        return usage_error(os_error_text(error))
    if args.output and os.path.exists(args.output) and any(os.path.samefile(args.output, p) for p in submitted):
        return usage_error(f"--output {args.output} is a file of the submission: the report would replace it")
    try:
        text, _ = grade_submission(args.submission, args, points)
    except (ValueError, KeyError) as error:
        return usage_error(error.args[0])
    except OSError as error:
        return usage_error(os_error_text(error))
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        write_atomically(args.output, text)
    except OSError as error:
        return usage_error(f"the report could not be written to {args.output}: {os_error_text(error)}")
    return 0


REPORT_SUFFIX = {"text": ".txt", "json": ".json", "gradescope": ".json", "junit": ".xml"}
SUMMARY_FILE = "summary.csv"


def students_of(folder) -> tuple[list, list]:
    """(students, left out) of a class folder: each sub-folder and each .py file at its top is a
    student, named by the folder or the file without `.py`; what a system or tool adds
    (`grade.system_entry`: hidden entries, `__pycache__`, `__MACOSX`) and links (not followed, as
    in `grade`) are left out, the links named so that the staff hears of them. Two students of one name (`alice/` and `alice.py`, or `Alice/` and `alice/`, which a
    case-blind file system would mix up) would share a report: a ValueError."""
    top = pathlib.Path(folder)
    if not top.is_dir() or top.is_symlink():
        raise ValueError(f"SUBMISSIONS_DIR must be a folder with one sub-folder or .py file per student, got {folder}")
    entries = sorted(entry for entry in top.iterdir() if not system_entry(entry.name))
    links = [entry.name for entry in entries if entry.is_symlink()]
    students = [entry for entry in entries if not entry.is_symlink() and (entry.is_dir() or entry.suffix == ".py")]
    if not students:
        raise ValueError(f"{folder} holds no student: put one sub-folder (or one .py file) per student in it")
    by_name = {}
    for student in students:
        by_name.setdefault(student_name(student).casefold(), []).append(student.name)
    clashes = [" and ".join(names) for names in by_name.values() if len(names) > 1]
    if clashes:
        raise ValueError(f"{folder}: {'; '.join(clashes)} would be the same student (one report each name): "
                         "rename or merge them")
    return students, links


def student_name(entry: pathlib.Path) -> str:
    """A student's name in the reports: the folder's, or the .py file's without its suffix."""
    return entry.stem if entry.is_file() else entry.name


def summary_row(name: str, results: list | None, seconds: float) -> dict:
    """One row of summary.csv: the student, the total and its maximum, each exercise's score
    (empty where the grader failed), and the seconds grading took."""
    row = {"student": name}
    if results is not None:
        row.update({"score": f"{sum(r.score for r in results):g}", "max_score": f"{sum(r.max_score for r in results):g}"})
        row.update({result.name: f"{result.score:g}" for result in results})
    return {**row, "seconds": f"{seconds:.1f}"}


def command_grade_class(args) -> int:
    """Grade each student of SUBMISSIONS_DIR as `grade` grades one (same exercises, seed, points
    and time budget each): OUTPUT_DIR/<student>.<format's suffix> and OUTPUT_DIR/summary.csv,
    with a line per student on standard error as it goes."""
    problem = directory_path_problem(args.output_dir)
    if problem:
        return usage_error(f"--output-dir {problem}")
    try:
        points = graded_points(args)
        students, links = students_of(args.submissions)
    except (ValueError, KeyError) as error:
        return usage_error(error.args[0])
    except OSError as error:  # a folder that cannot be listed
        return usage_error(os_error_text(error))
    output = pathlib.Path(args.output_dir)
    if output.resolve().is_relative_to(pathlib.Path(args.submissions).resolve()):
        return usage_error(f"--output-dir {output} is inside SUBMISSIONS_DIR: its reports would be read as a student")
    output.mkdir(parents=True, exist_ok=True)
    for link in links:
        print(f"left out {link}: a symbolic link, which the grader does not follow", file=sys.stderr)
    rows = []
    for number, student in enumerate(students, start=1):
        name = student_name(student)
        start = time.monotonic()
        try:
            text, results = grade_submission(student, args, points)
        except (ValueError, OSError) as error:  # this student's work cannot be read: said in the report
            message = error.args[0] if isinstance(error, ValueError) else os_error_text(error)
            text, results = failure_report(args.format, f"the submission could not be read: {message}"), None
        seconds = time.monotonic() - start
        write_atomically(output / f"{name}{REPORT_SUFFIX[args.format]}", text)
        rows.append(summary_row(name, results, seconds))
        score = f"{rows[-1]['score']} / {rows[-1]['max_score']}" if results is not None else "not graded (see its report)"
        print(f"[{number}/{len(students)}] {name}: {score} ({seconds:.1f} s)", file=sys.stderr, flush=True)
        write_atomically(output / SUMMARY_FILE, summary_csv(rows))  # after each student: a stopped run keeps it
    print(output / SUMMARY_FILE)
    return 0


def summary_csv(rows: list) -> str:
    """summary.csv's text: a header of every column the rows have, `seconds` last, a row each."""
    import csv
    import io

    columns = list(dict.fromkeys(column for row in rows for column in row))
    columns.append(columns.pop(columns.index("seconds")))
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return table.getvalue()


def command_stubs(args) -> int:
    from .stubs import write_stubs

    problem = directory_path_problem(args.out_dir)
    if problem:
        return usage_error(f"OUT_DIR {problem}")
    try:
        chosen = select(args.exercise, include_extra=True) if args.exercise else list(EXERCISES)
        paths = write_stubs(args.out_dir, chosen, cut=not args.solutions, overwrite=args.force)
    except KeyError as error:
        return usage_error(error.args[0])
    except OSError as error:  # FileExistsError: a student's work is there (write_stubs says so)
        return usage_error(os_error_text(error))
    for path in paths:
        print(path)
    return 0


def command_bundle(args) -> int:
    from .bundle import write_bundle

    problem = file_path_problem(args.out_zip, "autograder.zip")
    if problem:  # said before the wheel is built
        return usage_error(f"OUT_ZIP {problem}")
    try:
        graded = [exercise.name for exercise in select(args.exercise, include_extra=bool(args.exercise))]
        write_bundle(args.out_zip, args.exercise, args.seed, parse_points(args.points, graded), args.time_budget)
    except (KeyError, ValueError, RuntimeError) as error:
        return usage_error(error.args[0])
    except OSError as error:
        return usage_error(f"{args.out_zip} could not be written: {os_error_text(error)}")
    print(args.out_zip)
    return 0


def failure_report(fmt: str, message: str) -> str:
    import json

    message = clean_text(message)  # valid JSON and XML whatever the error said
    if fmt == "gradescope":
        ended = message if message.endswith((".", "!", "?")) else message + "."
        return json.dumps({"score": 0, "output": ended + " Tell the course staff.", "stdout_visibility": "hidden",
                           "tests": []}) + "\n"
    if fmt == "json":
        return json.dumps({"score": 0, "max_score": None, "error": message, "exercises": []}) + "\n"
    if fmt == "junit":
        from xml.sax.saxutils import quoteattr

        return ('<?xml version="1.0"?>\n<testsuites><testsuite name="grader" tests="1" failures="1">'
                f'<testcase name="grader"><failure message={quoteattr(xml_text(message))}/></testcase></testsuite>'
                '</testsuites>\n')
    return message + "\n"


def main(argv=None) -> int:
    try:
        args = parser().parse_args(argv)
    except UsageError as error:  # exit status 2, as argparse's own
        return usage_error(str(error))
    if args.command == "list":
        sys.stdout.write(list_exercises())
        return 0
    if args.command == "stubs":
        return command_stubs(args)
    if args.command == "grade":
        return command_grade(args)
    if args.command == "grade-class":
        return command_grade_class(args)
    if args.command == "selftest":
        from .selftest import main as selftest_main

        return selftest_main(args.seed, args.jobs)
    return command_bundle(args)


if __name__ == "__main__":
    sys.exit(main())
