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
