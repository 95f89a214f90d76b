"""Running one check: cases in, a score and per-case feedback out.

Kinds of check:

- `forward`: the student's function and the reference on the same arguments; every selected
  output compared (see `compare.py` for the tolerances).
- `backward`: the reference forward makes the cache; the student's backward gets that cache and
  a random upstream gradient; every gradient compared with the reference backward's. So a
  backward is graded on its own, whatever the student's forward does.
- `gradcheck`: the student's forward and backward together: the backward's gradients against
  central differences of the student's *own* forward, on a few random entries of each input.
  A backward consistent with its forward earns these points even if the forward is wrong, but
  not a forward that does not depend on an input at all where the reference's does (finite
  differences all 0 where the reference's gradient is not: blank work, zeros in and out, would
  otherwise be "consistent"): such a case earns nothing, and says why.
- `derivative`: the same for an elementwise activation and its derivative function.
- `value`: any other graded name (text, word grouping, optimizer steps, head pruning): results
  compared (by the check's own `compare` where it has one: pruning's is exact, see `compare.py`).
- `property`: a function in `properties.py` checks what must hold (hypothesis search) or what
  must hold on average (statistics).
- `float32`: each function of the checks in `of` (a forward, backward or value check of the
  exercise) on its check's first case cast to float32 (`cases_nn.as_float32`), called as that
  check calls it (a backward on the reference's float32 cache): every float array it returns must
  be float32, and the outputs (the gradients) must agree with the reference's float64 result on
  the same values within float32's rounding (`compare.py`). Training runs in float32: a float64
  array out of one function doubles memory and turns everything after it float64.

Partial credit: points * (cases passed / cases run).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from . import codec
from .calling import argument_name, arguments_changed
from .cases_nn import as_float32, cast_floats
from .compare import (GRADCHECK_TOL, compare, describe_shape, largest_magnitude, low_precision, low_precision_note,
                      wider_floats)
from .reference import resolve
from .sandbox import Outcome, outcome_of
from .worker import execute, perturbed, unsendable
from tinyalbert.gradcheck import GRADIENT_FLOOR, STEP, gradient_error


class CaseResult(NamedTuple):
    name: str
    passed: bool
    message: str = ""


class Check(NamedTuple):
    name: str
    points: float
    kind: str  # forward | backward | gradcheck | derivative | value | property | float32
    target: str  # the graded name whose points these are
    cases: Callable  # (rng, draws) -> list of Case
    forward: str = ""  # backward, gradcheck, derivative: the forward function
    outputs: tuple = ((0,),)  # paths into the forward's result: compared, or probed by the gradient
    backward_args: str = "cache"  # "cache": backward(d_out, result[-1]); "result": backward(d_out, result)
    grads: Callable = None  # case -> [(argument path, gradient path)], for backward and gradcheck
    run: Callable = None  # property checks: (call, case list, rng) -> [CaseResult]
    about: str = ""
    compare: Callable = None  # value checks: (expected, got, case) -> None or a message; default `compare.compare`
    of: tuple = ()  # float32 checks: the checks whose functions it runs in float32, one case each

    @property
    def functions(self) -> tuple:
        """The student's functions this check calls (a backward check runs the reference forward)."""
        if self.kind == "float32":
            return tuple(dict.fromkeys(inner.target for inner in self.of))
        if self.kind == "backward":
            return (self.target,)
        return tuple(name for name in (self.target, self.forward) if name)


class InProcess:
    """Calls graded names in this process, the way the sandbox does: the arguments copied in
    through the codec, the call made by the worker's own `execute`, and its reply (the outputs,
    the arguments after the call) read back through the codec, so that `check` in a notebook
    sees what `grade` sees (an object with `__array__` as the array it gives, a tuple for a
    NamedTuple of the notebook's). Tinyalbert's NamedTuples come back as themselves: the
    reference's forward hands its cache on to a backward."""

    def __init__(self, namespace: dict):
        self.namespace, self.slots = namespace, {}

    def call(self, target, args, kwargs=None, *, select=None, keep=None, perturbations=None) -> Outcome:
        request = {"args": list(args), "kwargs": dict(kwargs or {})}
        if perturbations is not None:
            original = codec.copy_tree(request, self.slots)
            return Outcome(True, [self._run(target, perturbed(original, p), select, None) for p in perturbations])
        return self._run(target, codec.copy_tree(request, self.slots), select, keep)

    def _run(self, target, call_args, select, keep) -> Outcome:
        reply = execute(self.namespace, target, call_args, select=select, keep=keep, slots=self.slots, in_process=True)
        try:
            reply = codec.round_trip(reply, trusted=True)
        except Exception as error:  # what the sandbox's process would fail to send
            reply = unsendable(error)
        return outcome_of(reply)


class Checked:
    """The student's or the reference's calls as the checks make them (a `Sandbox` or an
    `InProcess` underneath): each reply carries the outputs and the arguments as they were after
    the call, and here, in the grader, the arguments are compared with what was sent
    (`calling.arguments_changed`). A call that changed one fails; otherwise `value` is the
    selected outputs. The value kept in a slot (`keep`) comes back too, so that an argument
    taken from it (`codec.Ref`) is compared with it as it was."""

    def __init__(self, runner):
        self.runner, self.kept = runner, {}

    def __getattr__(self, name):
        return getattr(self.runner, name)

    def call(self, target, args, kwargs=None, *, select=None, keep=None, perturbations=None,
             check_arguments=True) -> Outcome:
        """`check_arguments=False`: a change to the arguments does not fail the call (the gradcheck's
        forward calls: each works on its own copy, and the forward check fails that change already)."""
        if keep:
            self.kept.pop(keep, None)
        outcome = self.runner.call(target, args, kwargs, select=select, keep=keep, perturbations=perturbations)
        if not outcome.ok:
            return outcome
        try:  # what the call got: the grader's arguments, and any kept value as it came back
            sent = codec.copy_tree({"args": list(args), "kwargs": dict(kwargs or {})}, self.kept) \
                if check_arguments else None
        except (LookupError, TypeError):  # taken from a call that failed: nothing to compare it with
            sent = None
        if perturbations is None:
            return self._unpack(target, sent, outcome, keep)
        return Outcome(True, [self._unpack(target, None if sent is None else perturbed(sent, p), item, None)
                              for p, item in zip(perturbations, outcome.value)])

    def _unpack(self, target, sent, outcome, keep) -> Outcome:
        if not outcome.ok:
            return outcome
        value = outcome.value
        if not isinstance(value, dict) or "outputs" not in value or "arguments" not in value:
            return Outcome(False, error="the sandbox sent an unreadable answer")
        if keep:
            self.kept[keep] = value.get("kept")
        if sent is not None:
            changed = arguments_changed(target, sent, value["arguments"], value.get("replaced") or ())
            if changed:
                return Outcome(False, error=changed)
        return Outcome(True, value["outputs"])


def _get(value, path):
    for step in path:
        value = value[step]
    return value


def probe_like(rng, value):
    """A random upstream gradient shaped like `value` (a float for a scalar)."""
    shape = np.shape(value)
    return float(rng.standard_normal()) if shape == () else rng.standard_normal(shape)


def backward_arguments(check: Check, d_out, forward_result):
    """What the backward is called with: the cache (the forward's last output), or the output
    itself for softmax_backward(d_probs, probs)."""
    return [d_out, forward_result] if check.backward_args == "result" else [d_out, forward_result[-1]]


# --- the kinds ---------------------------------------------------------------------------------
def run_forward(check, case, student, reference, rng):
    expected = reference.call(check.target, case.args, case.kwargs, select=list(check.outputs))
    got = student.call(check.target, case.args, case.kwargs, select=list(check.outputs))
    if not got.ok:
        return got.error
    problems = [compare(e, g, f"output {list(p)}" if p else "the output")
                for e, g, p in zip(expected.value, got.value, check.outputs)]
    return next((p for p in problems if p), None)


def run_value(check, case, student, reference, rng):
    expected = reference.call(check.target, case.args, case.kwargs)
    if not expected.ok:
        raise RuntimeError(f"the reference failed on {case.name}: {expected.error}")
    got = student.call(check.target, case.args, case.kwargs)
    if not got.ok:
        return got.error
    return check.compare(expected.value, got.value, case) if check.compare else compare(expected.value, got.value, "result")


def run_backward(check, case, student, reference, rng):
    forward = reference.call(check.forward, case.args, case.kwargs)
    d_out = probe_like(rng, _get(forward.value, check.outputs[0]))
    backward_args = backward_arguments(check, d_out, forward.value)
    pairs = check.grads(case)
    select = [list(grad_path) for _, grad_path in pairs]
    got = student.call(check.target, backward_args, select=select)  # sent (copied) before the reference runs
    expected = reference.call(check.target, backward_args, select=select)
    if not got.ok:
        return got.error
    names = [_argument_name(arg_path, check.forward) for arg_path, _ in pairs]
    problems = [compare(want, have, f"gradient of {name}") for name, want, have in zip(names, expected.value, got.value)]
    return gradients_summary(names, problems)


def gradients_summary(names: list, problems: list) -> str | None:
    """The first wrong gradient described, then which gradients differ and which agree: a wrong
    gradient of the input alone does not say where the backward goes wrong, a wrong one of
    `value.weight` beside right ones of `query.weight` and `key.weight` does."""
    wrong = [name for name, problem in zip(names, problems) if problem]
    if not wrong:
        return None
    first = next(problem for problem in problems if problem)
    if len(names) < 3:
        return first
    right = [name for name in names if name not in wrong]
    summary = (f"{len(wrong)} of {len(names)} gradients differ: {', '.join(wrong)}"
               + (f"; these agree: {', '.join(right)}" if right else ""))
    return f"{first}\n{summary}"


def run_gradcheck(check, case, student, reference, rng, entries: int, arrays=None):
    forward = student.call(check.forward, case.args, case.kwargs, keep="forward", select=[list(check.outputs[0])],
                           check_arguments=False)
    if not forward.ok:
        return f"your forward `{check.forward}` failed: {forward.error}"
    probe = probe_like(rng, forward.value[0])
    noise = rounding_noise(forward.value[0], probe)
    backward_args = [probe, codec.Ref("forward") if check.backward_args == "result" else codec.Ref("forward", -1)]
    pairs = [(a, g) for a, g in check.grads(case) if _get({"args": case.args, "kwargs": case.kwargs}, a) is not None]
    if arrays is not None and len(pairs) > arrays:  # the first (the input) always, then a random few
        pairs = [pairs[0]] + [pairs[i] for i in sorted(rng.choice(np.arange(1, len(pairs)), arrays - 1, replace=False))]
    backward = student.call(check.target, backward_args, select=[list(g) for _, g in pairs])
    if not backward.ok:
        return f"your backward failed: {backward.error}"
    request = {"args": case.args, "kwargs": case.kwargs}
    reference_gradients = None  # fetched only for a forward that does not move with an input
    for position, ((arg_path, _), analytic) in enumerate(zip(pairs, backward.value)):
        array = np.asarray(_get(request, arg_path))
        chosen = rng.choice(array.size, size=min(entries, array.size), replace=False)
        perturbations = [[list(arg_path), int(i), sign * STEP] for i in chosen for sign in (1.0, -1.0)]
        outcome = student.call(check.forward, case.args, case.kwargs, select=[list(check.outputs[0])],
                               perturbations=perturbations, check_arguments=False)
        values = []
        for item in outcome.value if outcome.ok else []:
            if not item.ok:
                return f"your forward failed at a perturbed input: {item.error}"
            values.append(float(np.sum(np.asarray(item.value[0], dtype=np.float64) * probe)))
        if not outcome.ok:
            return outcome.error
        numeric = (np.array(values[0::2]) - np.array(values[1::2])) / (2 * STEP)
        name = _argument_name(arg_path, check.forward)
        if np.max(np.abs(numeric), initial=0.0) <= noise:  # the forward did not move: does the reference's?
            if reference_gradients is None:
                reference_gradients = _reference_gradients(check, case, reference, probe, pairs)
            want = reference_gradients[position] if len(reference_gradients) == len(pairs) else None
            problem = _constant_forward(check.forward, want, array, chosen, name, noise)
            if problem:
                return problem
        problem = _gradient_problem(analytic, array, chosen, numeric, name, noise)
        if problem:
            dtype = low_precision(forward.value[0], *outcome_values(outcome))
            return problem + (low_precision_note(dtype, "your forward's output", finite_differences=True) if dtype
                              else low_precision_note(low_precision(analytic), "your backward's gradient"))
    return None


def outcome_values(outcome) -> list:
    """The first selected output of each perturbed call that went through."""
    return [item.value[0] for item in (outcome.value if outcome.ok else []) if item.ok]


def _reference_gradients(check, case, reference, probe, pairs) -> list:
    """The reference backward's gradients for `pairs` on `case` (the student's probe when it fits
    the reference's output, a fixed one otherwise); [] when they cannot be had."""
    forward = reference.call(check.forward, case.args, case.kwargs)
    if not forward.ok:
        return []
    output = _get(forward.value, check.outputs[0])
    if np.shape(output) != np.shape(probe):
        probe = probe_like(np.random.default_rng(0), output)
    backward = reference.call(check.target, backward_arguments(check, probe, forward.value),
                              select=[list(g) for _, g in pairs])
    return list(backward.value) if backward.ok else []


def _constant_forward(forward: str, want, array, chosen, name, noise) -> str | None:
    """The gradcheck's rule for a forward that does not move with an input: no points when the
    reference's gradient there is clearly not 0 (a backward of zeros would match a forward of
    zeros, and prove nothing); None when it is 0 there too (an unused embedding row, a masked key)."""
    if want is None or np.shape(want) != array.shape:
        return None
    picked = np.asarray(want, dtype=np.float64).reshape(-1)[chosen]
    if not np.max(np.abs(picked), initial=0.0) > 100 * (noise + GRADCHECK_TOL * GRADIENT_FLOOR):
        return None
    worst = int(np.argmax(np.abs(picked)))
    index = tuple(int(i) for i in np.unravel_index(int(chosen[worst]), array.shape))
    return (f"your `{forward}` does not change with {name}: (f(x+h) - f(x-h)) / 2h is 0 at every entry tried, "
            f"where tinyalbert's gradient is not (at index {index} it is {picked[worst]:.6g}). A backward earns "
            "these points by agreeing with your own forward, which proves nothing where that forward ignores "
            "its input (a backward of zeros would agree), so this case earns none: make the forward right first")


def rounding_noise(output, probe) -> float:
    """What rounding alone can put into one central difference of f = sum(output * probe):
    about eps * sum |terms| / h, times a margin of 10 (see `compare.py`)."""
    terms = np.abs(np.asarray(output, dtype=np.float64) * probe)
    total = float(np.sum(terms)) if np.all(np.isfinite(terms)) else 0.0
    return 10.0 * np.finfo(np.float64).eps * total / STEP


def _gradient_problem(analytic, array, chosen, numeric, name, noise=0.0):
    if analytic is None or np.shape(analytic) != array.shape:
        gave = np.shape(analytic) if analytic is not None else None
        return f"gradient of {name}: expected shape {array.shape}, your backward gave {gave}"
    picked = np.asarray(analytic, dtype=np.float64).reshape(-1)[chosen]
    # relative error, after forgiving each entry the rounding noise of its finite difference
    excess = np.maximum(np.abs(picked - numeric) - noise, 0.0)
    error = gradient_error(numeric + np.sign(picked - numeric) * excess, numeric)
    if not np.isfinite(error) or error > GRADCHECK_TOL:
        worst = int(np.argmax(np.abs(picked - numeric)))
        index = tuple(int(i) for i in np.unravel_index(int(chosen[worst]), array.shape))
        return (f"gradient of {name} disagrees with finite differences of your forward: relative error "
                f"{error:.2e} > {GRADCHECK_TOL:.0e}; at index {index} your backward gives {picked[worst]:.6g}, "
                f"(f(x+h) - f(x-h)) / 2h gives {numeric[worst]:.6g}")
    return None


def run_derivative(check, case, student, reference, rng):
    x = case.args[0]
    derivative = student.call(check.target, [x])
    up = student.call(check.forward, [x + STEP])
    down = student.call(check.forward, [x - STEP])
    for outcome in (derivative, up, down):
        if not outcome.ok:
            return outcome.error
    numeric = (np.asarray(up.value, dtype=np.float64) - np.asarray(down.value, dtype=np.float64)) / (2 * STEP)
    largest = float(np.max(np.abs(np.asarray(up.value, dtype=np.float64)), initial=0.0))
    noise = 10.0 * np.finfo(np.float64).eps * largest / STEP  # elementwise: each difference has one term
    if np.max(np.abs(numeric), initial=0.0) <= noise:  # the forward did not move: does the reference's?
        want = reference.call(check.target, [x])
        problem = _constant_forward(check.forward, want.value if want.ok else None, x, np.arange(x.size), "x", noise)
        if problem:
            return problem
    problem = _gradient_problem(derivative.value, x, np.arange(x.size), numeric.reshape(-1), "x", noise)
    if problem:
        return problem + low_precision_note(low_precision(up.value, down.value), "your forward's output",
                                            finite_differences=True)
    return None


def float32_cases(check: Check, rng) -> list:
    """A float32 check's cases: the first case of each check in `of`, in float32, named after its function."""
    cases = [as_float32(inner.cases(rng, 0)[0]) for inner in check.of]
    return [case._replace(name=f"`{inner.target}`: {case.name}") for inner, case in zip(check.of, cases)]


def run_float32(check, case, student, reference, rng):
    """The float32 case of one function: `check` is its own forward, backward or value check, and
    `case` that check's case in float32. The reference's float64 result on the same values (the
    float32 arguments widened) is what the outputs are compared with."""
    wide = case._replace(args=cast_floats(case.args, np.float64), kwargs=cast_floats(case.kwargs, np.float64))
    if check.kind == "backward":
        forward, forward_wide = (reference.call(check.forward, c.args, c.kwargs) for c in (case, wide))
        if not (forward.ok and forward_wide.ok):
            raise RuntimeError(f"the reference failed on {case.name}: {forward.error or forward_wide.error}")
        d_out = probe_like(rng, _get(forward.value, check.outputs[0]))
        d_out = d_out.astype(np.float32) if isinstance(d_out, np.ndarray) else d_out  # a float has no dtype
        pairs = check.grads(case)
        paths = [list(grad_path) for _, grad_path in pairs]
        names = [f"gradient of {_argument_name(arg_path, check.forward)}" for arg_path, _ in pairs]
        call = (check.target, backward_arguments(check, d_out, forward.value), {})
        expected = reference.call(check.target, backward_arguments(check, cast_floats(d_out, np.float64),
                                                                   forward_wide.value), select=paths)
    else:
        paths = [list(path) for path in check.outputs] if check.kind == "forward" else [[]]
        names = [(f"output {path}" if path else "the output") if check.kind == "forward" else "the result"
                 for path in paths]
        call = (check.target, case.args, case.kwargs)
        expected = reference.call(check.target, wide.args, wide.kwargs, select=paths)
    if not expected.ok:
        raise RuntimeError(f"the reference failed on {case.name}: {expected.error}")
    got = student.call(*call)  # the whole result: every float array in it is checked
    if not got.ok:
        return got.error
    wider = wider_floats(got.value)
    if wider:
        word = "result" if check.kind == "backward" else "output"
        return _wider_message(check.target, wider, dict(zip(map(tuple, paths), names)),
                              lambda path: _entry_name(word, path, reference.call(*call).value))
    try:
        outputs = [_get(got.value, path) for path in paths]
    except (LookupError, TypeError):
        return f"`{check.target}` returned {describe_shape(got.value)}: not what its docstring says"
    scale = largest_magnitude(expected.value)  # of all outputs: a gradient that is 0 keeps the others' rounding
    problems = [compare(want, have, name, float32_scale=scale)
                for name, want, have in zip(names, expected.value, outputs)]
    problem = gradients_summary(names, problems)
    return problem and (problem + "\nthese are float32, as they should be, but further from the reference's float64 "
                        "values than float32's rounding goes: the float64 checks of this function say more (if they "
                        "pass, look for a step that overflows or cancels in float32: exp beyond 88, 1e-12 added to 1)")


def _wider_message(target: str, wider: list, names: dict, name_of) -> str:
    """`target` returns float64 for float32 inputs: each such array by its name in `names` (path ->
    name), else by `name_of(path)`."""
    by_dtype: dict = {}
    for path, dtype in wider:
        by_dtype.setdefault(dtype, []).append(names.get(path) or name_of(path))
    parts = [f"{dtype} for float32 inputs: {', '.join(found[:6])}"
             + (f" and {len(found) - 6} more" if len(found) > 6 else "") for dtype, found in by_dtype.items()]
    return (f"`{target}` returns {'; '.join(parts)}; keep the input's dtype (e.g. create arrays with "
            "dtype=x.dtype, use Python floats for constants)")


def _entry_name(word: str, path: tuple, reference_result) -> str:
    """"output [1, 2]", with the field's name where the reference has a NamedTuple there (its cache):
    "output [1, 2] (LayerNormCache.inv_std)"."""
    name = f"{word} {list(path)}"
    try:
        parent = _get(reference_result, path[:-1])
        field = parent._fields[path[-1]]
    except (LookupError, TypeError, AttributeError):  # no NamedTuple there (or the student's result is shaped otherwise)
        return name
    return f"{name} ({type(parent).__name__}.{field})"


def _argument_name(path, function: str | None = None) -> str:
    """How the report names the argument at `path`: by the parameter's name in the signature of
    the reference `function` (`weight`, `weights['query']`), or by position when that cannot be read."""
    try:
        reference = resolve(function)
    except Exception:  # no function named
        reference = None
    return argument_name(reference, path)


def with_shapes(case, function: str) -> str:
    """A random draw's name with the shapes of its array arguments, which its name alone does not
    say ("random draw 2: inputs (3, 5), weight (4, 5), bias (4,)"); other names say them already."""
    if not case.name.startswith("random draw"):
        return case.name
    named = [(_argument_name(("args", i), function).strip("`"), value) for i, value in enumerate(case.args)]
    parts = [_summary(name, value) for name, value in named + list(case.kwargs.items())
             if not (isinstance(value, str) and value in case.name)]  # a drawn text is its name already
    parts = [part for part in parts if part]
    return f"{case.name}: {', '.join(parts)}" if parts else case.name


def _summary(name: str, value) -> str:
    """`inputs (3, 5)`, `num_heads 2`, `pruning [0, 3]`, `config num_hidden_layers=3 ...`; "" for what says
    little (dicts, None)."""
    if isinstance(value, np.ndarray):
        return f"{name} {tuple(value.shape)}"
    if isinstance(value, (bool, int, float, str)):
        return f"{name} {value!r}" if isinstance(value, str) else f"{name} {value}"
    if isinstance(value, list) and all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        return f"{name} {value}"  # head numbers: `pruning [0, 3]`
    fields = value.fields if isinstance(value, codec.Config) else {}
    if "num_hidden_layers" in fields:
        keys = ("num_hidden_layers", "num_hidden_groups", "inner_group_num", "num_attention_heads")
        return f"{name} " + " ".join(f"{key}={fields[key]}" for key in keys if key in fields)
    return ""


def _checked(runner):
    return runner if isinstance(runner, Checked) else Checked(runner)


RUNNERS = {"forward": run_forward, "value": run_value, "backward": run_backward, "derivative": run_derivative}


def run_properties(check: Check, student, reference, cases, rng) -> list:
    """A property check's CaseResults; one failed case when it cannot even read what the student's
    function returned (a value of another kind than its docstring says broke the check's own code)."""
    try:
        return check.run(student, reference, cases, rng)
    except Exception as error:
        return [CaseResult(f"{check.target} runs", False,
                           f"could not check what `{check.target}` returned ({type(error).__name__}: {error}): return "
                           "what its docstring says. If it does, this is a grader bug: tell the course staff")]


def run_check(check: Check, student, reference, rng, *, draws: int, entries: int, arrays=None) -> list:
    """CaseResults of one check on every case. `student`/`reference` have a `call` like `Sandbox`'s."""
    cases = float32_cases(check, rng) if check.kind == "float32" else check.cases(rng, draws)
    student, reference = _checked(student), _checked(reference)  # the in-place check, here in the grader
    if check.kind == "property":
        return run_properties(check, student, reference, cases, rng)
    cases = [case._replace(name=with_shapes(case, check.forward or check.target)) for case in cases]
    results = []
    for position, case in enumerate(cases):
        try:
            if check.kind == "gradcheck":
                problem = run_gradcheck(check, case, student, reference, rng, entries, arrays)
            elif check.kind == "float32":
                problem = run_float32(check.of[position], case, student, reference, rng)
            else:
                problem = RUNNERS[check.kind](check, case, student, reference, rng)
        except Exception as error:  # a result of the wrong type that broke the comparison
            problem = f"could not check the result: {type(error).__name__}: {error}"
        results.append(CaseResult(case.name, problem is None, problem or ""))
    return results
