"""The activations ALBERT configs name in `hidden_act`, and their derivatives."""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import array_namespace, erf, is_float16

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_NEW_CUBIC = 0.044715
INV_SQRT_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class ActivationCache(NamedTuple):
    name: str
    inputs: object  # what the activation was applied to


def gelu_new(x):
    """The tanh approximation of GELU that Google's BERT and ALBERT code computes (`gelu_new` in
    Transformers, whose ALBERT v2 configs name it):

        gelu_new(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    """
    xp = array_namespace(x)
    # perf: the formula above in place, in two buffers instead of one per operation (it runs on
    # the largest activation, batch x seq x intermediate, at every layer)
    inner = x * x
    inner *= x
    inner *= GELU_NEW_CUBIC
    inner += x
    inner *= SQRT_2_OVER_PI
    out = xp.tanh(inner)
    out += 1.0
    out *= 0.5  # before the product with x: (1 + tanh) x overflows float16 past x = 32752
    out *= x
    return out


def gelu(x):
    """Exact GELU, x * Phi(x), through erf (`gelu` in Transformers, which the configs of the
    ALBERT v1 checkpoints name; Google's original code computed the tanh form for `gelu`)."""
    return 0.5 * x * (1.0 + erf(x * INV_SQRT_2))


def relu(x):
    xp = array_namespace(x)
    return xp.maximum(x, xp.zeros_like(x))


def silu(x):
    """x * sigmoid(x), also called swish."""
    xp = array_namespace(x)
    return x / (1.0 + xp.exp(-x))


def gelu_new_derivative(x):
    """d/dx of 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3):
    0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx."""
    xp = array_namespace(x)
    if is_float16(x):  # past |x| = 256, x * x overflows float16 and (1 - tanh^2 u) * inf is nan
        return xp.astype(gelu_new_derivative(xp.astype(x, xp.float32)), xp.float16)
    # perf: the formula in place, in four buffers instead of one per operation: on the (batch,
    # seq, intermediate) activation a fresh buffer costs several times an in-place pass, and this
    # runs at every layer of the backward pass (2-3% of a training step on a CPU)
    squared = x * x
    u = GELU_NEW_CUBIC * squared
    u += 1.0
    u *= x
    u *= SQRT_2_OVER_PI  # u = sqrt(2/pi) (x + 0.044715 x^3)
    tanh_u = xp.tanh(u)
    del u
    du_dx = squared  # sqrt(2/pi) (1 + 3 * 0.044715 x^2), built in the buffer of x^2
    du_dx *= 3.0 * GELU_NEW_CUBIC
    du_dx += 1.0
    du_dx *= SQRT_2_OVER_PI
    slope = tanh_u * tanh_u
    slope *= -1.0
    slope += 1.0  # 1 - tanh^2 u
    slope *= du_dx
    slope *= x
    slope += tanh_u
    slope += 1.0
    slope *= 0.5
    return slope


def gelu_derivative(x):
    """d/dx of x Phi(x) = Phi(x) + x phi(x), with phi the standard normal density."""
    xp = array_namespace(x)
    return 0.5 * (1.0 + erf(x * INV_SQRT_2)) + x * (INV_SQRT_2PI * xp.exp(-0.5 * (x * x)))


def relu_derivative(x):
    """1 where x > 0, else 0 (0 at x == 0, as torch takes it)."""
    xp = array_namespace(x)
    return xp.astype(x > 0, x.dtype)


def silu_derivative(x):
    """d/dx of x s(x), s the sigmoid: s (1 + x (1 - s))."""
    xp = array_namespace(x)
    sigmoid = 1.0 / (1.0 + xp.exp(-x))
    return sigmoid * (1.0 + x * (1.0 - sigmoid))


# Each name with its function, and the same name with its derivative. Aliases share both:
# `swish` is silu, and `gelu_pytorch_tanh` (torch's tanh-approximate GELU) is gelu_new's formula.
ACTIVATIONS = {"gelu_new": gelu_new, "gelu_pytorch_tanh": gelu_new, "gelu": gelu, "relu": relu, "silu": silu,
               "swish": silu}
DERIVATIVES = {
    "gelu_new": gelu_new_derivative, "gelu_pytorch_tanh": gelu_new_derivative, "gelu": gelu_derivative,
    "relu": relu_derivative, "silu": silu_derivative, "swish": silu_derivative,
}


def activation_forward(inputs, name: str):
    """Apply the activation called `name` elementwise; keep its input for the backward pass."""
    return ACTIVATIONS[name](inputs), ActivationCache(name, inputs)


def activation_backward(d_output, cache: ActivationCache):
    """Elementwise: d_inputs = d_output * f'(inputs). No weights, so the dict is empty."""
    d_inputs = DERIVATIVES[cache.name](cache.inputs)
    d_inputs *= d_output  # perf: in place; d_inputs = f'(inputs) * d_output
    return d_inputs, {}
