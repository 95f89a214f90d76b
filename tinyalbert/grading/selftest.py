"""The self-test: the grader must tell right from wrong, check by check.

1. The reference solutions (all exercises, extras included, as one directory) score full marks.
2. The stubs score 0 on every check.
3. Every mutant in `mutants.MUTANTS` loses points on each check aimed at it and keeps full marks
   on every other check of its exercise.

Runs in the quick setting unless TINYALBERT_GRADING_HEAVY is set (see `grade.py`).
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from .exercises import EXERCISES
from .grade import DEFAULT_SEED, grade
from .mutants import MUTANTS
from .stubs import exercise_file


class Finding(NamedTuple):
    what: str  # "reference", "stubs" or the mutant's name
    exercise: str
    score: float
    max_score: float
    ok: bool
    detail: str


def _solution_files(cut: bool) -> dict:
    return {f"{e.name}.py": exercise_file(e, cut=cut) for e in EXERCISES}


def check_reference(seed, solutions: dict) -> list:
    findings = []
    for result in grade(solutions, [e.name for e in EXERCISES], seed=seed):
        short = [f"{c.check}: {c.score:g}/{c.max_score:g} {c.note or _first_failure(c)}" for c in result.checks
                 if c.score < c.max_score]
        findings.append(Finding("reference", result.name, result.score, result.max_score, not short, "; ".join(short)))
    return findings


def check_stubs(seed, stubs: dict) -> list:
    findings = []
    for result in grade(stubs, [e.name for e in EXERCISES], seed=seed):
        scored = [c.check for c in result.checks if c.score > 0]
        findings.append(Finding("stubs", result.name, result.score, result.max_score, not scored,
                                f"scored on {scored}" if scored else ""))
    return findings


def check_mutant(mutant, seed, solutions: dict) -> Finding:
    exercise = next(e for e in EXERCISES if e.name == mutant.exercise)
    try:
        source = mutant.apply(solutions[f"{exercise.name}.py"])
    except ValueError as error:
        return Finding(mutant.name, mutant.exercise, 0.0, exercise.points, False, str(error))
    result = grade({f"{exercise.name}.py": source}, [exercise.name], seed=seed)[0]
    lost = {c.check for c in result.checks if c.score < c.max_score}
    problems = []
    if lost - set(mutant.aimed):
        problems.append(f"also lost {sorted(lost - set(mutant.aimed))}")
    if set(mutant.aimed) - lost:
        problems.append(f"kept full marks on {sorted(set(mutant.aimed) - lost)}")
    if result.notes:
        problems.append(f"notes: {result.notes}")
    return Finding(mutant.name, mutant.exercise, result.score, result.max_score, not problems, "; ".join(problems))


def _first_failure(check) -> str:
    failed = [c for c in check.cases if not c.passed]
    return f"({failed[0].name}: {failed[0].message.splitlines()[0]})" if failed else ""


def run_selftest(seed: int = DEFAULT_SEED, jobs: int = 2, mutants=MUTANTS) -> list:
    """All findings; the self-test passes when every finding is ok."""
    # The files are cut here, before the threads: ast.parse is not safe to run in several at once.
    solutions, stub_files = _solution_files(False), _solution_files(True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        reference = pool.submit(check_reference, seed, solutions)
        stubs = pool.submit(check_stubs, seed, stub_files)
        mutated = [pool.submit(check_mutant, mutant, seed, solutions) for mutant in mutants]
        return reference.result() + stubs.result() + [future.result() for future in mutated]


def format_findings(findings, seconds: float) -> str:
    lines = [f"{'':4} {'what':<62} {'exercise':<20} score"]
    for finding in findings:
        mark = "ok" if finding.ok else "FAIL"
        lines.append(f"{mark:<4} {finding.what[:62]:<62} {finding.exercise:<20} {finding.score:g}/{finding.max_score:g}"
                     + (f"\n       {finding.detail}" if finding.detail else ""))
    failed = sum(not f.ok for f in findings)
    lines.append(f"{len(findings) - failed} of {len(findings)} findings ok ({len(MUTANTS)} mutants) in {seconds:.1f} s")
    return "\n".join(lines) + "\n"


def main(seed: int = DEFAULT_SEED, jobs: int = 2) -> int:
    start = time.monotonic()
    findings = run_selftest(seed, jobs)
    print(format_findings(findings, time.monotonic() - start), end="")
    return 0 if all(f.ok for f in findings) else 1
