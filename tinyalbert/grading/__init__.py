"""tinyalbert.grading: the coursework autograder.

Exercises are cut from tinyalbert's own modules (a student writes `layernorm_forward`,
`attention_backward`, `mask_tokens`, ... with the reference's names and signatures), graded
against the reference in a sandboxed process, with partial credit and feedback a student can
act on. Command line: `python -m tinyalbert.grading list | stubs | grade | selftest |
gradescope-bundle`. In a notebook:

    from tinyalbert.grading import check
    check("layernorm_forward", layernorm_forward)     # prints what passed and what did not

`check` runs the same checks as `grade`, in this process and without points.
"""
from __future__ import annotations

from .exercises import EXERCISES


def _exercise_of(name: str):
    for exercise in EXERCISES:
        if name in exercise.functions:
            return exercise
    known = ", ".join(n for e in EXERCISES for n in e.functions)
    raise KeyError(f"no exercise has a function called {name!r}; known: {known}")


def _not_checked(name: str, exercise) -> str:
    """What `check` says for a function no check calls on its own (`sample_masked_spans`): which
    checked function of its exercise calls it in tinyalbert (and so should call the student's)."""
    import inspect

    from .reference import resolve

    targets = list(dict.fromkeys(item.target for item in exercise.checks))
    callers = []
    for target in targets:
        try:
            if f"{name}(" in inspect.getsource(resolve(target)):
                callers.append(target)
        except (OSError, TypeError):  # no source to read: named among the others below
            pass
    through = callers or targets
    example = through[0].split(".")[0]
    return (f"NOT CHECKED {exercise.name}/{name}: no check calls `{name}` on its own. It is graded through "
            f"{', '.join(f'`{t}`' for t in through)}, which should call it: check that one, e.g. "
            f"check({example!r}, {example}), with your own `{name}` where your `{example}` finds it")


def check(name: str, function, *, seed: int | None = None, **others) -> bool:
    """Run every check aimed at `name` on `function` and print the feedback; True if all pass.

    The other functions of the exercise are tinyalbert's reference, unless given by name in
    `others` (e.g. `check("layernorm_backward", my_backward, layernorm_forward=my_forward)` also
    checks `my_backward` against finite differences of `my_forward`).
    """
    from .checks import InProcess, run_check
    from .exercises import float32_about
    from .grade import DEFAULT_SEED, check_rng, setting_from_environment
    from .reference import reference_namespace

    exercise = _exercise_of(name)
    if not any(item.target == name for item in exercise.checks):  # graded through another function
        print(_not_checked(name, exercise))
        return False
    namespace = {**reference_namespace(exercise.functions), name: function, **others}
    student, reference = InProcess(namespace), InProcess(reference_namespace(exercise.functions))
    setting = setting_from_environment()
    all_passed = True
    for item in exercise.checks:
        if item.kind == "float32":  # the case of `name` only
            item = item._replace(of=tuple(inner for inner in item.of if inner.target == name),
                                 about=float32_about([name]))
            if not item.of:
                continue
        elif item.target != name:
            continue
        rng = check_rng(seed if seed is not None else DEFAULT_SEED, exercise.name, item.name)
        results = run_check(item, student, reference, rng, draws=setting.draws, entries=setting.entries, arrays=setting.arrays)
        failed = [case for case in results if not case.passed]
        all_passed &= not failed
        verdict = "PASS" if not failed else "FAIL"
        about = item.about
        if item.forward and item.forward not in others:  # given only `name`, the forward is the reference's
            about = about.replace(f"your own `{item.forward}`",
                                  f"tinyalbert's `{item.forward}` (pass {item.forward}=yours to use yours)")
        print(f"{verdict} {exercise.name}/{item.name}: {len(results) - len(failed)} of {len(results)} cases ({about})")
        for case in failed[:3]:
            print(f"  case '{case.name}':\n    " + case.message.replace("\n", "\n    "))
    return all_passed


__all__ = ["check", "EXERCISES"]
