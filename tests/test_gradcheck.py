"""The gradient checker itself: it must pass a right gradient and catch a wrong one."""
import numpy as np
import pytest

from tinyalbert.gradcheck import (
    assert_gradient_close, check_gradients, gradient_error, numeric_gradient, numeric_gradient_array,
)


def cubic(values):
    """f(x, w) = sum(w * x^3): df/dx = 3 w x^2, df/dw = x^3."""
    return float(np.sum(values["w"] * values["x"] ** 3))


def test_numeric_gradient_of_a_known_function():
    rng = np.random.default_rng(0)
    values = {"x": rng.normal(size=(3, 4)), "w": rng.normal(size=(3, 4))}
    entries, numeric = numeric_gradient(cubic, values, "x")
    np.testing.assert_allclose(numeric, (3 * values["w"] * values["x"] ** 2).reshape(-1)[entries], rtol=1e-6, atol=1e-8)
    before = values["x"].copy()
    numeric_gradient(cubic, values, "x", entries=[0, 5])
    assert np.array_equal(values["x"], before)  # perturbed in place, then restored


def test_numeric_gradient_array_matches_the_cs231n_form():
    rng = np.random.default_rng(1)
    x, d_out = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    np.testing.assert_allclose(numeric_gradient_array(np.tanh, x, d_out), d_out * (1 - np.tanh(x) ** 2), rtol=1e-7)


def test_right_gradients_pass():
    rng = np.random.default_rng(2)
    values = {"x": rng.normal(size=5), "w": rng.normal(size=5)}
    check_gradients(cubic, values, {"x": 3 * values["w"] * values["x"] ** 2, "w": values["x"] ** 3})


@pytest.mark.parametrize("mistake", ["factor", "one_entry", "transposed", "sign"])
def test_wrong_gradients_are_caught(mistake):
    """Realistic slips in a backward pass: a missing factor, one entry off, a transposed matrix, a sign."""
    rng = np.random.default_rng(3)
    values = {"x": rng.normal(size=(3, 3)), "w": rng.normal(size=(3, 3))}
    right = 3 * values["w"] * values["x"] ** 2
    wrong = {
        "factor": right / 3,
        "one_entry": right + np.eye(3)[0] * np.array([1e-3, 0, 0]),
        "transposed": right.T,
        "sign": -right,
    }[mistake]
    with pytest.raises(AssertionError, match="x: relative gradient error"):
        check_gradients(cubic, values, {"x": wrong})


def test_sampled_check_catches_a_wrong_gradient_everywhere():
    rng = np.random.default_rng(4)
    values = {"x": rng.normal(size=40), "w": rng.normal(size=40)}
    with pytest.raises(AssertionError):
        check_gradients(cubic, values, {"w": values["x"] ** 2}, rng=rng, sample=3)


def test_error_model_floor_and_shapes():
    # a gradient that should be exactly zero, computed as 1e-12, passes through the absolute floor
    assert_gradient_close(np.full(3, 1e-12), np.zeros(3), "tiny")
    assert gradient_error(np.array([2.0]), np.array([1.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        gradient_error(np.zeros(2), np.zeros(3))


def square_sum(values):
    return float(np.sum(values["x"] ** 2))


@pytest.mark.parametrize("layout", ["transposed", "fortran", "strided"])
def test_numeric_gradient_of_any_memory_layout(layout):
    """`reshape(-1)` of these is a copy: perturbing it left x alone and every derivative read 0."""
    base = np.random.default_rng(5).normal(size=(3, 4))
    x = {"transposed": base.copy().T, "fortran": np.asfortranarray(base), "strided": base[:, ::2]}[layout]
    before = x.copy()
    entries, numeric = numeric_gradient(square_sum, {"x": x}, "x")
    np.testing.assert_allclose(numeric, (2 * x).reshape(-1)[entries], rtol=1e-6, atol=1e-8)
    assert np.array_equal(x, before)
    check_gradients(square_sum, {"x": x}, {"x": 2 * x})
    with pytest.raises(AssertionError, match="x: relative gradient error"):
        check_gradients(square_sum, {"x": x}, {"x": np.zeros_like(x)})


@pytest.mark.parametrize("dtype", [np.int64, np.float16])
def test_arrays_that_cannot_hold_the_step_are_refused(dtype):
    """x + 1e-6 is x again in these dtypes: the numeric gradient would be 0 (float16) or nonsense (int)."""
    x = np.arange(6).reshape(2, 3).astype(dtype)
    with pytest.raises(TypeError, match=f"{np.dtype(dtype).name} cannot represent a step"):
        numeric_gradient(square_sum, {"x": x}, "x")
    with pytest.raises(TypeError, match="cannot represent a step"):
        check_gradients(square_sum, {"x": x}, {"x": 2.0 * x})
    with pytest.raises(TypeError, match="NumPy array"):
        numeric_gradient(lambda v: sum(t * t for t in v["x"]), {"x": [1.0, 2.0]}, "x")


def test_float32_is_checked_with_a_warning_and_a_hint():
    x = np.random.default_rng(6).normal(size=5).astype(np.float32)
    with pytest.warns(UserWarning, match="float32.*check gradients in float64"):
        numeric_gradient(square_sum, {"x": x}, "x")
    with pytest.warns(UserWarning), pytest.raises(AssertionError, match=r"x \(float32: check in float64\)"):
        check_gradients(square_sum, {"x": x}, {"x": 3 * x})


def test_input_restored_when_the_function_raises():
    x = np.ones(3)

    def fails_on_a_perturbed_second_entry(values):
        if values["x"][1] != 1.0:
            raise RuntimeError("boom")
        return float(np.sum(values["x"]))

    with pytest.raises(RuntimeError, match="boom"):
        numeric_gradient(fails_on_a_perturbed_second_entry, {"x": x}, "x")
    np.testing.assert_array_equal(x, np.ones(3))


def test_floor_must_be_positive():
    """floor 0 with an all-zero numeric gradient was a ZeroDivisionError; it is the scale, so > 0."""
    for floor in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="floor must be > 0"):
            assert_gradient_close(np.zeros(2), np.zeros(2), "zero", floor=floor)


def test_numeric_gradient_array_refuses_a_d_out_of_another_shape():
    """A (4,) or scalar d_out against a (3, 4) output was broadcast: the check of another function."""
    x = np.random.default_rng(7).normal(size=(3, 4))
    for d_out in (np.ones(4), 1.0, np.ones((4, 3))):
        with pytest.raises(ValueError, match=r"d_out has shape .* the output of forward has shape \(3, 4\)"):
            numeric_gradient_array(np.tanh, x, d_out)
    transposed = x.copy().T  # and a transposed x works like any other
    np.testing.assert_allclose(numeric_gradient_array(np.tanh, transposed, np.ones((4, 3))),
                               1 - np.tanh(transposed) ** 2, rtol=1e-7)


# --- check_gradients with `sample` and no `rng`: a fixed generator, not an AttributeError ---------------
def perturbed_entries(values, sample):
    """The flat indices of x that a sampled check_gradients without rng perturbs."""
    original = values["x"].copy()
    seen = set()

    def recording(current):
        seen.update(np.flatnonzero(current["x"] != original).tolist())
        return cubic(current)

    check_gradients(recording, values, {"x": 3 * values["w"] * values["x"] ** 2}, sample=sample)
    return seen


def test_sample_without_rng_checks_the_same_entries_every_time():
    rng = np.random.default_rng(0)
    values = {"x": rng.normal(size=40), "w": rng.normal(size=40)}
    first = perturbed_entries(values, sample=3)
    assert len(first) == 3
    assert perturbed_entries(values, sample=3) == first


def test_sample_without_rng_still_catches_a_wrong_gradient():
    rng = np.random.default_rng(1)
    values = {"x": rng.normal(size=40), "w": rng.normal(size=40)}
    with pytest.raises(AssertionError, match="w: relative gradient error"):
        check_gradients(cubic, values, {"w": values["x"] ** 2}, sample=3)
