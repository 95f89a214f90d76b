"""Linear layer: `y = x W^T + b`, with W stored `(out, in)` as in Transformers' checkpoints."""
from __future__ import annotations

from typing import NamedTuple

from ..backend import array_namespace


class LinearCache(NamedTuple):
    inputs: object  # (..., in)
    weight: object  # (out, in)


def linear_forward(inputs, weight, bias):
    """(..., in) -> (..., out). The leading axes are flattened so that one matrix product does all rows."""
    xp = array_namespace(inputs)
    rows = xp.reshape(inputs, (-1, inputs.shape[-1]))
    outputs = rows @ xp.matrix_transpose(weight)
    if bias is not None:
        outputs += bias
    return xp.reshape(outputs, (*inputs.shape[:-1], weight.shape[0])), LinearCache(inputs, weight)
