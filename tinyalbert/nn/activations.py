"""The activations ALBERT configs name in `hidden_act`."""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import array_namespace, erf

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
GELU_NEW_CUBIC = 0.044715


class ActivationCache(NamedTuple):
    name: str
    inputs: object  # what the activation was applied to


def gelu_new(x):
    """The tanh approximation of GELU used by BERT and ALBERT v2 (`gelu_new` in Transformers)."""
    xp = array_namespace(x)
    inner = x * x
    inner *= x
    inner *= GELU_NEW_CUBIC
    inner += x
    inner *= SQRT_2_OVER_PI
    out = xp.tanh(inner)
    out += 1.0
    out *= x
    out *= 0.5
    return out


def gelu(x):
    """Exact GELU, x * Phi(x), through erf (`gelu` in Transformers, used by ALBERT v1)."""
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def relu(x):
    xp = array_namespace(x)
    return xp.maximum(x, xp.zeros_like(x))


def silu(x):
    """x * sigmoid(x), also called swish."""
    xp = array_namespace(x)
    return x / (1.0 + xp.exp(-x))


ACTIVATIONS = {"gelu_new": gelu_new, "gelu": gelu, "relu": relu, "silu": silu, "swish": silu}


def activation_forward(inputs, name: str):
    """Apply the activation called `name` elementwise; keep its input for the backward pass."""
    return ACTIVATIONS[name](inputs), ActivationCache(name, inputs)
