"""Grade a submission: each exercise in its own sandboxed process, each check a score.

`HEAVY_ENV` (TINYALBERT_GRADING_HEAVY=1) switches from the quick setting (2 random draws per
check, 3 finite-difference entries in each of at most 8 arrays per case, small property searches; what CI and the
self-test use) to the thorough one (8 draws, 6 entries in every array, 4x the property examples).

Time: besides the sandbox's limits per call and per exercise, `grade(budget_s=...)` bounds the
whole grading (the grade command's default, `DEFAULT_BUDGET_S`, fits Gradescope's default
10-minute timeout): once it is spent, the checks not yet run score 0 with a note saying so, and
the report is still written. Within a check, a function whose first call gets no answer in time
(an endless loop) is not waited for again on every other case.
"""
from __future__ import annotations

import math
import os
import pathlib
import time
import zlib
from typing import NamedTuple

import numpy as np

from .checks import CaseResult, InProcess, run_check
from .exercises import select
from .reference import reference_namespace
from .sandbox import LOAD_TIMEOUT_NOTE, Limits, Outcome, Sandbox
from .worker import FILE_TIMEOUT_NOTE

HEAVY_ENV = "TINYALBERT_GRADING_HEAVY"
DEFAULT_SEED = 20_250_611
# The grade command's budget for the whole grading: Gradescope's default timeout is 10 minutes,
# and a run past it gets 0 and no feedback at all; 2 minutes are left for starting up and margin.
DEFAULT_BUDGET_S = 480.0


class Setting(NamedTuple):
    draws: int  # random cases after the edge cases
    entries: int  # finite-difference entries per array
    arrays: int | None = None  # arrays per case checked by finite differences (None: all)


def setting_from_environment() -> Setting:
    return Setting(8, 6) if os.environ.get(HEAVY_ENV, "") not in ("", "0") else Setting(2, 3, 8)


class CheckResult(NamedTuple):
    exercise: str
    check: str
    about: str
    score: float
    max_score: float
    cases: list
    note: str = ""


class ExerciseResult(NamedTuple):
    name: str
    title: str
    checks: list
    notes: list  # load errors and other messages about the whole exercise
    printed: str  # what the submission printed (for staff)

    @property
    def score(self):
        return sum(c.score for c in self.checks)

    @property
    def max_score(self):
        return sum(c.max_score for c in self.checks)


class Budget:
    """The wall-clock budget of one whole grading (None: no bound but the sandbox's own)."""

    def __init__(self, seconds: float | None = None):
        self.seconds = seconds
        self.deadline = math.inf if seconds is None else time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def spent(self) -> bool:
        return self.left() <= 0

    def message(self, during_the_call: bool = False) -> str:
        start = "stopped: the grading time budget of {:g} s ran out during this call" if during_the_call else \
            "not run: the grading time budget of {:g} s was spent"
        return (start.format(self.seconds) + " (it counts your functions' calls, the grader's own work and "
                "starting your code; the reference answers each call in well under a second). Fix the endless "
                "loops or slow code that the checks report")

    def bound(self, limits: Limits) -> Limits:
        """`limits` whose start-up and exercise times end by the deadline (the sandbox enforces those)."""
        left = max(self.left(), 0.01)
        return limits._replace(startup_s=min(limits.startup_s, left), exercise_s=min(limits.exercise_s, left))


class Budgeted:
    """The sandbox as one exercise's checks call it: no call once the whole grading's budget is
    spent, and, within one check, no call of a function whose first call there got no answer in
    time (each further case would wait the whole limit again, for an endless loop). That is per
    function: a gradcheck calls the forward first, so a backward that never answers would
    otherwise be waited for on every case. Anything else goes to the sandbox."""

    def __init__(self, sandbox, budget: Budget):
        self.sandbox, self.budget = sandbox, budget
        self.called, self.stalled = set(), set()

    def __getattr__(self, name):
        return getattr(self.sandbox, name)

    def begin_check(self) -> None:
        self.called, self.stalled = set(), set()

    def call(self, target, args, kwargs=None, **options) -> Outcome:
        if self.budget.spent():
            return Outcome(False, error=self.budget.message())
        if target in self.stalled:
            return Outcome(False, error=f"not run: the first call of `{target}` in this check got no answer in "
                                        "time, so its other cases were not tried (an endless loop, or far too slow)")
        first = target not in self.called
        self.called.add(target)
        outcome = self.sandbox.call(target, args, kwargs, **options)
        if not outcome.timed_out:
            return outcome
        if self.budget.spent():  # cut short by the whole grading's deadline, not by its own limits
            return outcome._replace(error=self.budget.message(during_the_call=True))
        if first:
            self.stalled.add(target)
        return outcome


def submission_paths(path) -> dict:
    """file name -> every .py file of that name in the submission, the graded one first, for a
    .py file or a directory of them. A directory without .py files at its top is searched below
    (an uploaded folder); one without any is graded as empty. The graded one of a name found
    twice below is the one nearest the top, then the first by path: a rule a student can read."""
    path = pathlib.Path(path)
    if path.is_symlink():
        raise ValueError(f"SUBMISSION {path} is a symbolic link, which the grader does not follow: "
                         "give the file or folder itself")
    if path.is_file():
        if path.suffix != ".py":
            raise ValueError(f"SUBMISSION must be a .py file or a directory of them, got {path}")
        return {path.name: [path]}
    if not path.is_dir():
        raise ValueError(f"SUBMISSION {path} does not exist")
    found = [p for p in path.glob("*.py") if _readable(p, path)] or \
        [p for p in path.rglob("*.py") if _readable(p, path)]
    by_name: dict = {}
    for file in sorted(found, key=lambda p: (len(p.relative_to(path).parts), p.relative_to(path).parts)):
        by_name.setdefault(file.name, []).append(file)
    return by_name


def unread_files(path) -> list:
    """The .py files below the top of the submission folder `path`, as paths relative to it, that
    are not graded because the top has .py files of its own (see `submission_paths`)."""
    path = pathlib.Path(path)
    if not path.is_dir():
        return []
    found = [p.relative_to(path) for p in path.rglob("*.py") if _readable(p, path)]
    if not any(len(p.parts) == 1 for p in found):
        return []
    return sorted((p.as_posix() for p in found if len(p.parts) > 1), key=lambda p: (p.count("/"), p))


def _readable(file: pathlib.Path, top: pathlib.Path) -> bool:
    """Whether `file` (found below the folder `top`) is a student's plain .py file: no link (the
    file itself or a folder on the way from `top`, see `linked_entries`) and no system copy."""
    relative = file.relative_to(top)
    return not _through_a_link(relative, top) and file.is_file() and not _system_copy(relative)


def _through_a_link(relative: pathlib.Path, top: pathlib.Path) -> bool:
    """Whether `top / relative` or a folder on the way to it is a symbolic link."""
    parts = relative.parts
    return any((top / pathlib.Path(*parts[:depth])).is_symlink() for depth in range(1, len(parts) + 1))


def linked_entries(path) -> list:
    """The symbolic links in the submission folder `path` named `*.py` or leading to a folder, as
    paths relative to it. They are never followed: the grader reads the submission as root, and a
    link can point at any file root can read (the hidden seed of `grading.json`), whose text
    would come back in the student's feedback."""
    path = pathlib.Path(path)
    if not path.is_dir():
        return []
    links = []
    for folder, folders, files in os.walk(path):  # does not go into a linked folder (followlinks=False)
        here = pathlib.Path(folder)
        folders[:] = [f for f in folders if not system_entry(f)]  # what is inside them is not read either
        links += [(here / name).relative_to(path) for name in folders if (here / name).is_symlink()]
        links += [(here / name).relative_to(path) for name in files
                  if name.endswith(".py") and (here / name).is_symlink() and not _system_copy(pathlib.Path(name))]
    return sorted((p.as_posix() for p in links), key=lambda p: (p.count("/"), p))


def link_notes(path) -> list:
    """One note naming the links of the submission folder `path` that were not read (see `linked_entries`)."""
    links = linked_entries(path)
    if not links:
        return []
    shown = ", ".join(links[:5]) + (f" and {len(links) - 5} more" if len(links) > 5 else "")
    return [f"{shown} {'is a symbolic link' if len(links) == 1 else 'are symbolic links'}, which the grader "
            "does not follow: not read. Submit the files themselves"]


def system_entry(name: str) -> bool:
    """Whether a file or folder of this name in a submission is what an operating system or a tool
    adds to a zipped folder, not the student's code: macOS's `__MACOSX/` tree and `._name.py`
    resource forks (binary), Python's `__pycache__`, and hidden folders (`.git/`,
    `.ipynb_checkpoints/`, a `.venv/` whose packages may hold a file of a graded name)."""
    return name in ("__MACOSX", "__pycache__") or name.startswith(".")


def _system_copy(path: pathlib.Path) -> bool:
    """Whether `path` (relative to the submission) is such an entry or lies inside one: a hidden
    file of the student's own (`.notes.py`) is still theirs, a file inside a hidden folder is not."""
    return (path.name.startswith("._") or path.name in ("__MACOSX", "__pycache__")
            or any(map(system_entry, path.parts[:-1])))


def read_files(paths: dict) -> dict:
    """file name -> source bytes of the graded file of each name (see `submission_paths`). The
    bytes are copied as they are, so a file's own coding declaration (latin-1, ...) holds."""
    return {name: _read_no_link(found[0]) for name, found in paths.items()}


def _read_no_link(path: pathlib.Path) -> bytes:
    """The bytes of `path`, opened without following a link there (O_NOFOLLOW: a link put in place
    since `submission_paths` looked is an error, not a read of its target)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    with open(fd, "rb") as handle:
        return handle.read()


def read_submission(path) -> dict:
    """file name -> source bytes, for a .py file or a directory of them (see `submission_paths`)."""
    return read_files(submission_paths(path))


def duplicate_notes(paths: dict, top) -> list:
    """A note for each file name found more than once in the folder `top`, saying which is graded:
    the sandbox holds one file per name, and a student must know which one that was."""
    notes = []
    for name, found in paths.items():
        if len(found) > 1:
            shown = [p.relative_to(top).as_posix() for p in found]
            # each in a sub-folder of its own: more likely a class folder than one student's upload
            folders = {pathlib.Path(path).parts[0] for path in shown if "/" in path}
            staff = (" (several students' folders? `python -m tinyalbert.grading grade-class` grades each)"
                     if len(folders) == len(shown) >= 3 else "")  # (a student's v1/ and v2/ are not a class)
            notes.append(f"your submission has {len(found)} files named {name} ({', '.join(shown)}): only "
                         f"{shown[0]} is graded (the one nearest the top folder, then the first by path); "
                         f"remove or rename the others{staff}")
    return notes


def with_notes(results, notes: list) -> list:
    """`results` with `notes` (about the whole submission) first among every exercise's notes."""
    return [result._replace(notes=notes + result.notes) for result in results]


def check_budget(seconds) -> float:
    """`seconds` as the float budget of a whole grading; ValueError unless it is a finite number > 0."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float, np.integer, np.floating)) \
            or not 0 < seconds < math.inf:
        raise ValueError(f"the time budget must be a finite number of seconds > 0, got {seconds!r}")
    return float(seconds)


def check_seed(seed) -> int:
    """`seed` as the int the random cases are drawn from; ValueError unless it is a whole number
    >= 0 (numpy's generators refuse negative seeds: each check would fail, not the command)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"the seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


def check_rng(seed: int, exercise: str, check: str):
    return np.random.default_rng([seed, zlib.crc32(f"{exercise}/{check}".encode())])


def score_check(exercise, check, student, reference, seed, setting, flagged, found, unread=()) -> CheckResult:
    if getattr(student, "startup_failure", None):
        return CheckResult(exercise.name, check.name, check.about, 0.0, check.points, [], student.startup_failure)
    missing = [name for name in check.functions if name not in found]
    used = [name for name in check.functions if name in flagged]
    if used:
        return CheckResult(exercise.name, check.name, check.about, 0.0, check.points, [],
                           f"no points: {flagged[used[0]]}. Write `{used[0]}` yourself.")
    if missing:
        info = getattr(student, "info", {})
        errors = info.get("errors") or []
        if not getattr(student, "files", True):
            why = ": the submission holds no .py files"
        elif errors:
            why = f"; loading your files failed: {_load_error(errors, exercise)}"
        elif unread:
            why = ""
        elif not found & set(exercise.functions):  # the whole exercise is absent, not one name misspelt
            why = (f": none of exercise {exercise.name}'s functions ({', '.join(exercise.functions)}) is there "
                   f"(its file is {exercise.file_name})")
        else:
            why = " (look for a typo in its name)"
        importer = (info.get("imported") or {}).get(missing[0])
        if importer:  # a given helper of another exercise's file: not the student's version, not copying either
            why += f"; {importer} imports it from tinyalbert, which does not count as writing it"
        if unread:  # files in folders below the top one, which are not read when the top has .py files
            shown = ", ".join(unread[:3]) + (f" and {len(unread) - 3} more" if len(unread) > 3 else "")
            why += (f"; {shown} {'was' if len(unread) == 1 else 'were'} not read: put your files at the top of "
                    "the submission (when its top folder has .py files, the folders below it are not read)")
        return CheckResult(exercise.name, check.name, check.about, 0.0, check.points, [],
                           f"`{missing[0]}` was not found in your submission{why}")
    cases = run_check(check, student, reference, check_rng(seed, exercise.name, check.name),
                      draws=setting.draws, entries=setting.entries, arrays=setting.arrays)
    reached = [c for c in cases if c.message.startswith("reference used")]
    if reached:
        return CheckResult(exercise.name, check.name, check.about, 0.0, check.points, cases,
                           f"no points: your code {_reference_call(reached[0].message)}")
    passed = sum(c.passed for c in cases)
    score = check.points * passed / len(cases) if cases else 0.0
    return CheckResult(exercise.name, check.name, check.about, round(score, 4), check.points, cases)


# The checks that differentiate the student's own forward by finite differences.
DIFFERENTIATING = ("gradcheck", "derivative")


def forward_first_notes(exercise, results: list) -> list:
    """`results` with a note on each failed gradcheck whose forward failed its own check too: the
    gradcheck differentiates the student's forward, so a forward bug fails it even under a right
    backward, and its message ("your backward gives ...") would send the student to the backward.
    Where the forward and the backward both passed their own checks, the note points at the cache."""
    result_of = {check.name: result for check, result in zip(exercise.checks, results)}
    noted = []
    for check, result in zip(exercise.checks, results):
        forward = next((c for c in exercise.checks if c.kind == "forward" and c.target == check.forward), None)
        # (not where every failed case already says that the forward itself failed: a stub, a crash)
        compared = [case for case in result.cases if not case.passed and not case.message.startswith("your forward")]
        if (check.kind in DIFFERENTIATING and forward is not None and compared and not result.note
                and _lost_points(result_of[forward.name])):
            result = result._replace(note=_fix_forward_first(exercise, check, forward, result_of))
        elif check.kind == "gradcheck" and check.backward_args == "cache" and compared and not result.note:
            result = result._replace(note=_cache_note(exercise, check, forward, result_of))
        noted.append(result)
    return noted


def _cache_note(exercise, check, forward, result_of: dict) -> str:
    """The note of a failed gradcheck whose forward and backward both pass their own checks: each is
    right with the reference's other half, so what differs is the cache between them ("" otherwise)."""
    backward = next((c for c in exercise.checks if c.kind == "backward" and c.target == check.target), None)
    halves = [result_of[c.name] for c in (forward, backward) if c is not None]
    if len(halves) < 2 or any(not half.cases or _lost_points(half) for half in halves):
        return ""
    return (f"your `{check.forward}` passes `{forward.name}` and your `{check.target}` passes `{backward.name}` "
            "(on the reference's cache), but not together: most likely the cache your forward returns holds "
            "something other than the reference's (another value in a field, such as a standard deviation where "
            "its inverse belongs, or fields in another order). Give each field of the cache what its comment says")


def _lost_points(result) -> bool:
    return bool(result.cases) and result.score < result.max_score


def _fix_forward_first(exercise, check, forward, result_of: dict) -> str:
    """The note of `forward_first_notes`, saying also when the backward passed on the reference's cache."""
    backward = next((result_of[c.name] for c in exercise.checks if c.kind == "backward" and c.target == check.target),
                    None)
    right = (f" (your `{check.target}` passed `{backward.check}`, on the reference's cache)"
             if backward is not None and backward.cases and not _lost_points(backward) else "")
    return (f"your `{check.forward}` fails its own check `{forward.name}` too: this check differentiates your "
            f"forward, so a wrong forward fails it even where the backward is right{right}. Fix `{check.forward}` "
            "first")


def _load_error(errors: list, exercise) -> str:
    """The load error to show for a missing function: the exercise's own file's, else the first."""
    return next((e for e in errors if e.startswith(f"{exercise.file_name}: ")), errors[0])


def _reference_call(message: str) -> str:
    """"reference used: ReferenceUsed: called tinyalbert's ..." -> "called tinyalbert's ..."."""
    first = message[len("reference used: "):].splitlines()[0]
    return first.removeprefix("ReferenceUsed: ")


def grade_exercise(exercise, files, seed, setting, limits=Limits(), budget: Budget | None = None,
                   unread=(), left_out=()) -> ExerciseResult:
    """`left_out`: the load errors of files of the submission left out of `files` (they did not
    load in time for an earlier exercise); they count as this exercise's load errors too."""
    budget = budget or Budget()
    reference = InProcess(reference_namespace(exercise.functions))
    with Sandbox(files, exercise.functions, budget.bound(limits), home=exercise.file_name) as sandbox:
        sandbox.ensure_started()
        if left_out:  # a function missing because its file was left out: the report names that file's error
            sandbox.info = {**sandbox.info, "errors": [*left_out, *sandbox.info.get("errors", [])]}
        if sandbox.startup_failure and budget.spent():  # cut short by the deadline: not a loading problem
            return _without_a_start(exercise, [], budget.message())
        sandbox.limits = budget.bound(sandbox.limits)  # its calls' clock starts now: they end by the deadline
        student = Budgeted(sandbox, budget)
        notes = list(sandbox.info.get("errors", []))
        if sandbox.startup_failure:
            notes.append(sandbox.startup_failure)
        flagged = dict(sandbox.info.get("flagged", {}))
        found = set(sandbox.info.get("found", []))
        checks = []
        for check in exercise.checks:
            if budget.spent():
                checks.append(CheckResult(exercise.name, check.name, check.about, 0.0, check.points, [], budget.message()))
                continue
            student.begin_check()
            checks.append(score_check(exercise, check, student, reference, seed, setting, flagged, found, unread))
        checks = forward_first_notes(exercise, checks)
        sandbox.stop()
        printed = sandbox.printed.decode("utf-8", "replace")
    return ExerciseResult(exercise.name, exercise.title, checks, notes, printed)


def grade(files: dict, exercise_names=None, seed: int = DEFAULT_SEED, setting: Setting | None = None,
          limits: Limits = Limits(), include_extra=False, budget_s: float | None = None, unread=()) -> list:
    """ExerciseResults for `files` (file name -> source). Never raises for a bad submission; a
    seed that is not a whole number >= 0 is a ValueError before anything is graded.

    `budget_s`: wall-clock seconds for the whole grading (None: only the sandbox's limits); what
    is not run in time scores 0 with a note. `unread`: the submission's files that were not read
    (see `unread_files`), named when a graded function is not found."""
    seed = check_seed(seed)
    setting = setting or setting_from_environment()
    budget = Budget(None if budget_s is None else check_budget(budget_s))
    results, load_timeout, slow = [], None, []
    for exercise in select(exercise_names, include_extra):
        if budget.spent():
            results.append(_without_a_start(exercise, [], budget.message()))
            continue
        if load_timeout is not None:  # the same files would hang as long again: say so at once
            results.append(_without_a_start(exercise, [load_timeout], "no points: your files did not load"))
            continue
        loaded = {name: source for name, source in files.items() if not _timed_out(name, slow)}
        try:
            results.append(grade_exercise(exercise, loaded, seed, setting, limits, budget, list(unread), slow))
        except Exception as error:  # a grader bug must not lose the other exercises' scores
            note = f"the grader failed on this exercise ({type(error).__name__}: {error}); tell the course staff"
            results.append(_without_a_start(exercise, [], note))
        load_timeout = next((n for n in results[-1].notes if n.startswith(LOAD_TIMEOUT_NOTE)), None)
        slow += slow_files(results[-1].notes, files, slow)
    return results


def slow_files(notes: list, files: dict, known: list) -> list:
    """The notes of `notes` that say a file of `files` did not load in time, but those `known`:
    the next exercises leave those files out rather than wait for each of them again."""
    return [note for note in notes if note not in known and any(_timed_out(name, [note]) for name in files)]


def _timed_out(file_name: str, notes: list) -> bool:
    """Whether one of `notes` is the worker's note that `file_name` did not load in time."""
    return any(note.startswith(f"{file_name}: {FILE_TIMEOUT_NOTE}") for note in notes)


def _without_a_start(exercise, notes: list, message: str) -> ExerciseResult:
    """No points for any check of `exercise`, with `notes` for the exercise and `message` per check."""
    checks = [CheckResult(exercise.name, c.name, c.about, 0.0, c.points, [], message) for c in exercise.checks]
    return ExerciseResult(exercise.name, exercise.title, checks, notes, "")


def failed_cases(result: CheckResult) -> list:
    return [c for c in result.cases if not c.passed]


def parse_points(items, graded=None) -> dict:
    """["linear=10", "attention=20"] -> {"linear": 10.0, "attention": 20.0}; ValueError when
    malformed, a total is not a finite number >= 0, a name is given twice, or a name is not among
    the exercises `graded` (all known ones by default)."""
    from .exercises import BY_NAME

    graded = list(BY_NAME) if graded is None else list(graded)
    points = {}
    for item in items or []:
        name, _, value = item.partition("=")
        if name not in graded:
            raise ValueError(f"--points {item!r}: {name!r} is not an exercise graded here "
                             f"(graded: {', '.join(graded)})")
        if name in points:  # the last one would win silently
            raise ValueError(f"--points names {name!r} twice; give each exercise one total")
        points[name] = points_total(item, value)
    return points


def points_total(item: str, value: str) -> float:
    """The TOTAL of a --points `item` NAME=TOTAL. NaN or infinity would make Gradescope's JSON
    invalid (`"score": NaN`) and mark full marks as failed, so only finite numbers >= 0 pass."""
    try:
        total = float(value)
    except ValueError:
        raise ValueError(f"--points takes NAME=TOTAL (e.g. attention=20), got {item!r}") from None
    if not math.isfinite(total) or total < 0:
        raise ValueError(f"--points {item!r}: a total must be a number >= 0 (e.g. attention=20)")
    return total


def rescale(results, points: dict) -> list:
    """Scale the checks of each exercise named in `points` so that the exercise is worth that total."""
    scaled = []
    for result in results:
        if result.name not in points or not result.max_score:
            scaled.append(result)
            continue
        factor = points[result.name] / result.max_score
        # Not rounded per check: rounded parts would not add up to the total asked for (20.0001).
        checks = [c._replace(score=c.score * factor, max_score=c.max_score * factor) for c in result.checks]
        scaled.append(result._replace(checks=checks))
    return scaled


__all__ = ["grade", "read_submission", "submission_paths", "unread_files", "duplicate_notes", "link_notes",
           "ExerciseResult", "CheckResult",
           "CaseResult", "Setting", "DEFAULT_SEED", "DEFAULT_BUDGET_S"]
