"""Numeric gradients and the relative-error check that every hand-written backward is held to.

The counterpart of CS231n's `gradient_check.py`. Turn a module into a scalar with a random probe,

    f(x) = sum(forward(x) * probe),     so that  df/dx = backward(probe),

and compare the analytic gradient with central differences, entry by entry:

    df/dx_i  ~  (f(x + h e_i) - f(x - h e_i)) / 2h.

Error model (float64, h = 1e-6): the truncation error of central differences is about
h^2 * |f'''| ~ 1e-12 relative; the rounding of f itself, divided by 2h, adds about
1e-16 * (sum of |terms| of f) / h, up to ~1e-9 absolute for the small modules here. So the check is

    max |analytic - numeric|  <=  rel_tol * max(max |numeric|, floor)

with rel_tol = 1e-6 (far above both errors, far below any real mistake, which shows up at its own
size: a gradient 1% off gives 1e-2) and floor = 1e-2, the smallest scale the error is divided by:
for gradients that are tiny or exactly zero (the key bias of attention: softmax ignores a
constant shift) the check becomes an absolute tolerance, rel_tol * floor = 1e-8.
In float32 the rounding term is about 5e8 times larger (machine epsilon 1.2e-7 against
2.2e-16): with h = 1e-6 a float32 numeric gradient is off by 1e-2 to 1e-1 relative, so check
gradients in float64.
"""
from __future__ import annotations

import warnings

import numpy as np

STEP = 1e-6
REL_TOL = 1e-6
GRADIENT_FLOOR = 1e-2


def _check_perturbable(array, name: str, step: float) -> None:
    """Refuse an array that central differences cannot perturb, warn for one they perturb badly."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name}: a NumPy array is needed (it is perturbed in place), got {type(array).__name__}")
    if not np.issubdtype(array.dtype, np.floating) or np.finfo(array.dtype).eps >= step:
        # integers cannot hold x + h; float16 rounds 1 + 1e-6 back to 1: the derivative would read 0
        raise TypeError(f"{name}: {array.dtype} cannot represent a step of {step:g} (x + h rounds back to x); "
                        "check gradients on float64 arrays")
    if np.finfo(array.dtype).eps > np.finfo(np.float64).eps:
        warnings.warn(f"{name} is {array.dtype}: its numeric gradient is off by rounding noise of order 1e-2 or more, "
                      "so a right backward can fail the check; check gradients in float64", stacklevel=3)


def numeric_gradient(scalar_fn, values: dict, name: str, entries=None, step: float = STEP):
    """Central differences of `scalar_fn(values)` with respect to `values[name]` (a float64 NumPy
    array, perturbed in place and restored), at the flat indices `entries` (all when None).

    Flat indices count in C order over the array's shape, whatever its memory layout (a transposed
    or Fortran-order array too), as `gradient.reshape(-1)[entries]` does.
    Returns (flat indices, numeric derivatives), two 1-D arrays of the same length.
    """
    array = values[name]
    _check_perturbable(array, name, step)
    entries = list(range(array.size) if entries is None else entries)
    derivatives = []
    for index in entries:
        # an n-d index into the array itself: `array.reshape(-1)` would be a copy for a transposed array
        position = np.unravel_index(index, array.shape)
        original = array[position]
        try:
            array[position] = original + step
            up = float(scalar_fn(values))
            array[position] = original - step
            down = float(scalar_fn(values))
        finally:  # restored even when scalar_fn raises
            array[position] = original
        derivatives.append((up - down) / (2 * step))
    return np.asarray(entries, dtype=np.int64), np.asarray(derivatives, dtype=np.float64)


def numeric_gradient_array(forward, x, d_out, step: float = STEP):
    """CS231n's `eval_numerical_gradient_array`: the numeric gradient of sum(forward(x) * d_out)
    with respect to the NumPy array `x` (perturbed in place and restored), shaped like `x`.

    `d_out` must have the output's shape: broadcasting it would check another function."""

    def weighted_sum(values):
        output = np.asarray(forward(values["x"]))
        if output.shape != np.shape(d_out):  # checked at each call, so forward runs no extra time
            raise ValueError(f"d_out has shape {np.shape(d_out)}, the output of forward has shape {output.shape}")
        return np.sum(output * d_out)

    _, derivatives = numeric_gradient(weighted_sum, {"x": x}, "x", step=step)
    return derivatives.reshape(x.shape)


def gradient_error(analytic, numeric, floor: float = GRADIENT_FLOOR) -> float:
    """max |analytic - numeric| / max(max |numeric|, floor): the number that `assert_gradient_close`
    holds below `rel_tol`."""
    if not floor > 0:  # the scale when the numeric gradient is all zeros: 0 would divide by zero
        raise ValueError(f"floor must be > 0, got {floor}")
    analytic, numeric = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"gradient shape {analytic.shape} differs from the numeric one {numeric.shape}")
    scale = max(float(np.max(np.abs(numeric), initial=0.0)), floor)
    return float(np.max(np.abs(analytic - numeric), initial=0.0)) / scale


def assert_gradient_close(analytic, numeric, what: str, rel_tol: float = REL_TOL, floor: float = GRADIENT_FLOOR):
    """Raise AssertionError, naming `what`, unless `gradient_error(analytic, numeric) <= rel_tol`."""
    error = gradient_error(analytic, numeric, floor)
    assert error <= rel_tol, f"{what}: relative gradient error {error:.3e} > {rel_tol:.0e}"


def check_gradients(scalar_fn, values: dict, analytic: dict, rng=None, sample: int | None = None,
                    rel_tol: float = REL_TOL):
    """Compare analytic[name] with central differences of `scalar_fn` for every name in `analytic`.

    values: name -> float64 NumPy array, the inputs `scalar_fn` reads. With `sample`, only that many
    random entries (drawn from `rng`) of each array are checked: the whole-model checks use it.
    Without `rng` the entries come from `np.random.default_rng(0)`, so a call checks the same
    entries every time it runs.
    """
    assert analytic, "nothing to check"
    if sample is not None and rng is None:
        rng = np.random.default_rng(0)
    for name, gradient in analytic.items():
        gradient = np.asarray(gradient)
        assert gradient.shape == values[name].shape, f"{name}: gradient shape {gradient.shape} != {values[name].shape}"
        entries = None
        if sample is not None and values[name].size > sample:
            entries = rng.choice(values[name].size, size=sample, replace=False)
        entries, numeric = numeric_gradient(scalar_fn, values, name, entries)
        what = name if values[name].dtype == np.float64 else f"{name} ({values[name].dtype}: check in float64)"
        assert_gradient_close(gradient.reshape(-1)[entries], numeric, what, rel_tol)
