"""Running one check: cases in, a score and per-case feedback out.

Kinds of check:

- `forward`: the student's function and the reference on the same arguments; every selected
  output compared (see `compare.py` for the tolerances).
- `backward`: the reference forward makes the cache; the student's backward gets that cache and
  a random upstream gradient; every gradient compared with the reference backward's. So a
  backward is graded on its own, whatever the student's forward does.
- `gradcheck`: the student's forward and backward together: the backward's gradients against
  central differences of the student's *own* forward, on a few random entries of each input.
  A backward consistent with its forward earns these points even if the forward is wrong.
- `derivative`: the same for an elementwise activation and its derivative function.
- `value`: any other graded name (text, word grouping, optimizer steps): results compared.
- `property`: a function in `properties.py` checks what must hold (hypothesis search) or what
  must hold on average (statistics).

Partial credit: points * (cases passed / cases run).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from . import codec
from .calling import argument_name, arguments_changed, invoke, snapshot_arguments
from .compare import GRADCHECK_TOL, compare
from .reference import resolve
from .sandbox import Outcome
from .worker import select_paths
from tinyalbert.gradcheck import STEP, gradient_error


class CaseResult(NamedTuple):
    name: str
    passed: bool
    message: str = ""


class Check(NamedTuple):
    name: str
    points: float
    kind: str  # forward | backward | gradcheck | derivative | value | property
    target: str  # the graded name whose points these are
    cases: Callable  # (rng, draws) -> list of Case
    forward: str = ""  # backward, gradcheck, derivative: the forward function
    outputs: tuple = ((0,),)  # paths into the forward's result: compared, or probed by the gradient
    backward_args: str = "cache"  # "cache": backward(d_out, result[-1]); "result": backward(d_out, result)
    grads: Callable = None  # case -> [(argument path, gradient path)], for backward and gradcheck
    run: Callable = None  # property checks: (call, case list, rng) -> [CaseResult]
    about: str = ""

    @property
    def functions(self) -> tuple:
        """The student's functions this check calls (a backward check runs the reference forward)."""
        if self.kind == "backward":
            return (self.target,)
        return tuple(name for name in (self.target, self.forward) if name)


class InProcess:
    """Calls graded names in this process, the way the sandbox does (arguments copied first)."""

    def __init__(self, namespace: dict):
        self.namespace, self.slots = namespace, {}

    def call(self, target, args, kwargs=None, *, select=None, keep=None, perturbations=None) -> Outcome:
        if perturbations is not None:
            return Outcome(True, [self._perturbed(target, args, kwargs, select, p) for p in perturbations])
        try:
            request = codec.copy_tree({"args": list(args), "kwargs": dict(kwargs or {})}, self.slots)
            before = snapshot_arguments(target, request["args"], request["kwargs"])
            result = invoke(self.namespace, target, request["args"], request["kwargs"])
            if keep:
                self.slots[keep] = result
            changed = arguments_changed(target, self.namespace.get(target), request["args"], request["kwargs"], before)
            if changed:
                return Outcome(False, error=changed)
            return Outcome(True, select_paths(result, select))
        except (Exception, SystemExit) as error:  # the notebook's own function may raise anything
            return Outcome(False, error=f"{type(error).__name__}: {error}")

    def _perturbed(self, target, args, kwargs, select, perturbation):
        path, index, delta = perturbation
        request = codec.copy_tree({"args": list(args), "kwargs": dict(kwargs or {})}, self.slots)
        array = request
        for step in path:
            array = array[step]
        array.reshape(-1)[index] += delta
        return self.call(target, request["args"], request["kwargs"], select=select)


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
    return got.error if not got.ok else compare(expected.value, got.value, "result")


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
    for (arg_path, grad_path), want, have in zip(pairs, expected.value, got.value):
        problem = compare(want, have, f"gradient of {_argument_name(arg_path, check.forward)}")
        if problem:
            return problem
    return None


def run_gradcheck(check, case, student, reference, rng, entries: int, arrays=None):
    forward = student.call(check.forward, case.args, case.kwargs, keep="forward", select=[list(check.outputs[0])])
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
    for (arg_path, _), analytic in zip(pairs, backward.value):
        array = np.asarray(_get(request, arg_path))
        chosen = rng.choice(array.size, size=min(entries, array.size), replace=False)
        perturbations = [[list(arg_path), int(i), sign * STEP] for i in chosen for sign in (1.0, -1.0)]
        outcome = student.call(check.forward, case.args, case.kwargs, select=[list(check.outputs[0])], perturbations=perturbations)
        values = []
        for item in outcome.value if outcome.ok else []:
            if not item.ok:
                return f"your forward failed at a perturbed input: {item.error}"
            values.append(float(np.sum(np.asarray(item.value[0], dtype=np.float64) * probe)))
        if not outcome.ok:
            return outcome.error
        numeric = (np.array(values[0::2]) - np.array(values[1::2])) / (2 * STEP)
        problem = _gradient_problem(analytic, array, chosen, numeric, _argument_name(arg_path, check.forward), noise)
        if problem:
            return problem
    return None


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
    return _gradient_problem(derivative.value, x, np.arange(x.size), numeric.reshape(-1), "x", noise)


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
    """`inputs (3, 5)`, `num_heads 2`, `config num_hidden_layers=3 ...`; "" for what says little (dicts, None)."""
    if isinstance(value, np.ndarray):
        return f"{name} {tuple(value.shape)}"
    if isinstance(value, (bool, int, float, str)):
        return f"{name} {value!r}" if isinstance(value, str) else f"{name} {value}"
    fields = value.fields if isinstance(value, codec.Config) else {}
    if "num_hidden_layers" in fields:
        keys = ("num_hidden_layers", "num_hidden_groups", "inner_group_num", "num_attention_heads")
        return f"{name} " + " ".join(f"{key}={fields[key]}" for key in keys if key in fields)
    return ""


RUNNERS = {"forward": run_forward, "value": run_value, "backward": run_backward, "derivative": run_derivative}


def run_check(check: Check, student, reference, rng, *, draws: int, entries: int, arrays=None) -> list:
    """CaseResults of one check on every case. `student`/`reference` have a `call` like `Sandbox`'s."""
    cases = check.cases(rng, draws)
    if check.kind == "property":
        return check.run(student, reference, cases, rng)
    cases = [case._replace(name=with_shapes(case, check.forward or check.target)) for case in cases]
    results = []
    for case in cases:
        try:
            if check.kind == "gradcheck":
                problem = run_gradcheck(check, case, student, reference, rng, entries, arrays)
            else:
                problem = RUNNERS[check.kind](check, case, student, reference, rng)
        except Exception as error:  # a result of the wrong type that broke the comparison
            problem = f"could not check the result: {type(error).__name__}: {error}"
        results.append(CaseResult(case.name, problem is None, problem or ""))
    return results
