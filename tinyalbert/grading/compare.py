"""Compare a student's output with the reference's, and say what differs in words a student can use.

Tolerances (float64 throughout; the grader draws every float input in float64, but for the
`float32` checks below):

- FORWARD_RTOL = 1e-7, FORWARD_ATOL = 1e-9: |got - expected| <= atol + rtol * |expected|, entry by
  entry. Two correct implementations differ only by the order of rounding, ~1e-15 relative for
  the sizes graded here (sums of at most a few hundred terms); every bug in the self-test's
  mutants moves some entry by 1e-4 or far more.
- Gradients from a student's backward are held to the same tolerances against the reference's.
- A backward against finite differences of the student's own forward uses
  `tinyalbert.gradcheck.gradient_error` (central differences, h = 1e-6) with the bound
  GRADCHECK_TOL = 1e-6 from its error model, after each entry is forgiven the rounding noise
  of its difference, 10 * eps * sum |output * probe| / h: with only a few entries sampled, the
  largest numeric gradient can be tiny, and the noise of a forward with many terms (logits over
  a vocabulary) would otherwise exceed 1e-6 of it. Real bugs are off by orders of magnitude more.
- Integers, strings and lists of them must be equal.
- Arrays cut out of the arguments (`prune_attention_heads` takes rows and columns, computes
  nothing): tolerance 0, every entry equal in float64 (`compare_exactly`), and a dict must have
  exactly the reference's keys, none missing and none more.
- A float32 or float16 result that fails says so (`low_precision_note`): its rounding alone
  (1e-7 relative; 1e-2 in a finite difference) exceeds these bounds, whatever the formula.
- The float32 checks: the arguments of one case cast to float32, every float array returned
  must be float32 (`wider_floats`: a float64 one doubles the memory of training and turns what
  follows it float64), and the outputs must agree with the reference's float64 result on the
  same values (the float32 arguments, widened) within FLOAT32_RTOL = 1e-4 of each entry plus
  1e-4 of the largest |entry| among all the outputs compared (`compare(..., float32_scale=)`):
  an entry that is a sum of terms of both signs keeps their rounding, float32's eps = 1.2e-7
  times their size, and a gradient that is 0 in exact arithmetic (attention's key bias: softmax
  ignores a shift along its axis) is that rounding alone, 1e-7 beside gradients of size 1. Right
  float32 work is off by at most 1.9e-5 of that scale (the MLM head's `dense.weight` gradient,
  through a LayerNorm over 3 features; 5.5e-6 at most elsewhere), a tenth of the bound or less:
  measured on the reference over 300 seeds, and on other ways to write linear, LayerNorm,
  softmax, GELU and cross-entropy (einsum, np.var, a full Jacobian, log-softmax).
"""
from __future__ import annotations

import numpy as np

from .codec import Bad

FORWARD_RTOL = 1e-7
FORWARD_ATOL = 1e-9
GRADCHECK_TOL = 1e-6
SLICING_TOL = 0.0  # rtol and atol of arrays taken out of others (`compare_exactly`)
FLOAT32_RTOL = 1e-4  # float32 checks: of each entry, and of the largest |entry| of its array


def describe_shape(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array {value.shape} {value.dtype}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of {len(value)}"
    if isinstance(value, dict):
        return f"dict with keys {sorted(map(str, value))}"
    return type(value).__name__


def _numeric(value):
    """value as a float64 array, or None when it is not numeric."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return np.asarray(value, dtype=np.float64)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
        return value.astype(np.float64)
    return None


def slice_around(array: np.ndarray, index: tuple, width: int = 3, precision: int = 6) -> str:
    """A few entries of the last axis around `index`, e.g. "[..., 4:7]", with `precision` digits."""
    if array.ndim == 0:
        return np.array2string(array, precision=precision)
    last = index[-1]
    start = max(0, last - width // 2)
    stop = min(array.shape[-1], start + width)
    window = array[(*index[:-1], slice(start, stop))]
    prefix = ", ".join(str(i) for i in index[:-1])
    where = f"[{prefix + ', ' if prefix else ''}{start}:{stop}]"
    return f"{where} {np.array2string(window, precision=precision, separator=', ')}"


def digits_to_show(error: float) -> int:
    """Digits after the point that show an error of `error` between two printed values: 6, or
    more for a smaller error (an expected 1.684675 beside a got 1.684675 would say nothing)."""
    if not np.isfinite(error) or error <= 0:
        return 6
    return int(min(17, max(6, np.ceil(-np.log10(error)) + 1)))


def low_precision(*values) -> str:
    """The dtype of the first float array (or NumPy float) among `values` narrower than float64
    ("float32"), or ""."""
    for value in values:
        if isinstance(value, (np.ndarray, np.floating)) and value.dtype.kind == "f" and value.dtype.itemsize < 8:
            return str(value.dtype)
    return ""


def low_precision_note(dtype: str, what: str, finite_differences: bool = False) -> str:
    """What to add to a failed comparison when `what` came back as `dtype` (float32, float16): the
    difference is most likely that dtype's rounding, not a mistake in the formula."""
    if not dtype:
        return ""
    why = (f"finite differences of a {dtype} function are off by 1e-2 or so (its rounding divided by h = 1e-6)"
           if finite_differences else f"{dtype} keeps only about {3 if dtype == 'float16' else 7} digits")
    return (f"\n{what} is {dtype}; the grader works in float64 (keep the dtype of the inputs: no "
            f"astype('{dtype}')): {why}")


def float_leaves(value, path=()):
    """(path, dtype name) of every float array and NumPy float in the result tree `value`. A Python
    float has no dtype of its own (NumPy keeps the array's beside it), so it is not one."""
    if isinstance(value, (np.ndarray, np.floating)):
        if value.dtype.kind == "f":
            yield path, str(value.dtype)
    elif isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            yield from float_leaves(item, (*path, position))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from float_leaves(item, (*path, key))


def largest_magnitude(value) -> float:
    """The largest finite |entry| of the float arrays and numbers in the result tree `value` (0.0 if none)."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return max((largest_magnitude(item) for item in value), default=0.0)
    numbers = _numeric(value)
    if numbers is None or isinstance(value, (int, np.integer)):
        return 0.0
    return float(np.max(np.abs(numbers[np.isfinite(numbers)]), initial=0.0))


def wider_floats(value, dtype: str = "float32") -> list:
    """(path, dtype name) of the float arrays in `value` that are not of `dtype`."""
    return [(path, found) for path, found in float_leaves(value) if found != dtype]


def compare_arrays(expected: np.ndarray, got, what: str, rtol=FORWARD_RTOL, atol=FORWARD_ATOL, float32_scale=None):
    """None when close enough, else a message: shapes, the largest error and where, a slice of each
    (and, for values that came back float32 or float16, that the grader works in float64).
    `float32_scale`: the tolerances of the float32 checks instead, for outputs whose largest
    |entry| is that (see the top of this module)."""
    got_array = _numeric(got)
    if got_array is None:
        return f"{what}: expected {describe_shape(expected)}, got {describe_shape(got)}"
    if got_array.shape != expected.shape:
        return f"{what}: expected shape {expected.shape}, got shape {got_array.shape}"
    float32 = float32_scale is not None
    note = "" if float32 else low_precision_note(low_precision(got), f"your {what.removeprefix('the ')}")
    expected = expected.astype(np.float64)
    if float32:
        rtol, atol = FLOAT32_RTOL, FLOAT32_RTOL * float32_scale
    bad_values = ~np.isfinite(got_array) & np.isfinite(expected)
    if bad_values.any():
        index = tuple(int(i) for i in np.argwhere(bad_values)[0])
        return (f"{what}: got {got_array[index]} at index {index} where {expected[index]:.6g} was expected "
                f"(expected {slice_around(expected, index)}, got {slice_around(got_array, index)})") + note
    error = np.abs(got_array - expected)
    error = np.where(np.isfinite(error), error, np.where(got_array == expected, 0.0, np.inf))
    allowed = atol + rtol * np.abs(np.where(np.isfinite(expected), expected, 0.0))
    if np.all(error <= allowed):
        return None
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(error - allowed)), error.shape)) if error.ndim else ()
    digits = digits_to_show(float(error[index]))
    return (f"{what} {expected.shape}: largest error {error[index]:.3e} at index {index} "
            f"(allowed {allowed[index]:.1e}); expected {slice_around(expected, index, precision=digits)}, "
            f"got {slice_around(got_array, index, precision=digits)}") + note


def compare(expected, got, what: str = "output", float32_scale=None):
    """Compare two result trees; None when they agree, else the first difference, described.
    `float32_scale`: floats within the tolerances of the float32 checks, for outputs whose largest
    |entry| is that (`largest_magnitude`; see the top of this module)."""
    if isinstance(got, Bad):
        return f"{what}: returned a {got.kind}, which is not an array, a number or a container of them"
    if expected is None:
        return None if got is None else f"{what}: expected None, got {describe_shape(got)}"
    expected_numbers = _numeric(expected)
    if expected_numbers is not None and not isinstance(expected, (int, np.integer)):
        return compare_arrays(expected_numbers, got, what, float32_scale=float32_scale)
    if isinstance(expected, np.ndarray):  # integer or boolean arrays must match exactly
        got_array = np.asarray(got) if isinstance(got, (np.ndarray, list)) else None
        if got_array is None or got_array.shape != expected.shape:
            return f"{what}: expected {describe_shape(expected)}, got {describe_shape(got)}"
        if not np.array_equal(got_array, expected):
            index = tuple(int(i) for i in np.argwhere(got_array != expected)[0])
            return f"{what}: at index {index} expected {expected[index]!r}, got {got_array[index]!r}"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{what}: expected a dict with keys {sorted(map(str, expected))}, got {describe_shape(got)}"
        missing = sorted(str(k) for k in expected if k not in got)
        if missing:
            return f"{what}: missing keys {missing}"
        for key in expected:
            problem = compare(expected[key], got[key], f"{what}[{key!r}]", float32_scale)
            if problem:
                return problem
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(expected):
            return f"{what}: expected {describe_shape(expected)} {_short(expected)}, got {describe_shape(got)} {_short(got)}"
        for position, (want, have) in enumerate(zip(expected, got)):
            problem = compare(want, have, f"{what}[{position}]", float32_scale)
            if problem:
                return problem
        return None
    if isinstance(got, np.ndarray) and got.ndim == 0:
        got = got.item()
    if type(expected) is not type(got) and not (isinstance(expected, int) and isinstance(got, (int, np.integer))):
        return f"{what}: expected {type(expected).__name__} {expected!r}, got {type(got).__name__} {_short(got)}"
    return None if expected == got else f"{what}: expected {expected!r}, got {_short(got)}"


def compare_exactly(expected, got, what: str = "result"):
    """For results cut out of the arguments, nothing computed: None when `got` is `expected`
    exactly, else the first difference. A dict must have the same keys (a key more is named too:
    the caller stores every array returned); each array is compared entry by entry in float64 with
    tolerance `SLICING_TOL` (0)."""
    if isinstance(got, Bad):
        return f"{what}: returned a {got.kind}, which is not an array, a number or a container of them"
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{what}: expected a dict with keys {sorted(map(str, expected))}, got {describe_shape(got)}"
        missing = sorted(str(k) for k in expected if k not in got)
        extra = sorted(str(k) for k in got if k not in expected)
        if missing or extra:
            parts = ([f"missing keys {missing}"] if missing else []) + ([f"keys {extra} that it should not return"] if extra else [])
            return f"{what}: {' and '.join(parts)}; expected exactly {sorted(map(str, expected))}"
        return next((problem for key in expected
                     if (problem := compare_exactly(expected[key], got[key], f"{what}[{key!r}]"))), None)
    return compare_arrays(np.asarray(expected), got, what, rtol=SLICING_TOL, atol=SLICING_TOL)


def _short(value, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
