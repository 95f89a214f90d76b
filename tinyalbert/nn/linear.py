"""Linear layer: `y = x W^T + b`, with W stored `(out, in)` as in Transformers' checkpoints."""
from __future__ import annotations

from typing import NamedTuple

from ..backend import array_namespace


class LinearCache(NamedTuple):
    inputs: object  # (..., in)
    weight: object  # (out, in)
    has_bias: bool


def linear_forward(inputs, weight, bias):
    """(..., in) -> (..., out). The leading axes are flattened so that one matrix product does all rows."""
    xp = array_namespace(inputs)
    rows = xp.reshape(inputs, (-1, inputs.shape[-1]))
    outputs = rows @ xp.matrix_transpose(weight)
    if bias is not None:
        outputs += bias  # perf: in place; outputs = rows @ W^T + bias
    return xp.reshape(outputs, (*inputs.shape[:-1], weight.shape[0])), LinearCache(inputs, weight, bias is not None)


def linear_backward(d_output, cache: LinearCache):
    """d_output (..., out) -> (d_inputs (..., in), {"weight": (out, in), "bias": (out,) or None}).

    With the rows flattened to 2-D, y = x W^T + b gives dx = dy W, dW = dy^T x, db = sum of dy's rows.
    """
    xp = array_namespace(d_output)
    inputs, weight = cache.inputs, cache.weight
    d_rows = xp.reshape(d_output, (-1, weight.shape[0]))
    input_rows = xp.reshape(inputs, (-1, weight.shape[1]))
    d_inputs = xp.reshape(d_rows @ weight, inputs.shape)
    d_weight = xp.matrix_transpose(d_rows) @ input_rows
    d_bias = xp.sum(d_rows, axis=0) if cache.has_bias else None
    return d_inputs, {"weight": d_weight, "bias": d_bias}
