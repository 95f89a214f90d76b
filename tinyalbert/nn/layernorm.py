"""Layer normalization over the last axis, exactly as torch.nn.LayerNorm computes it
(biased variance, `eps` added inside the square root)."""
from __future__ import annotations

from typing import NamedTuple

from ..backend import array_namespace, is_float16


class LayerNormCache(NamedTuple):
    normalized: object  # (..., dim): (x - mean) / std
    inv_std: object  # (..., 1)
    weight: object  # (dim,)


def layernorm_forward(inputs, weight, bias, eps: float):
    """(..., dim) -> (..., dim)."""
    xp = array_namespace(inputs)
    if is_float16(inputs):
        # float16 holds neither eps = 1e-12 (it rounds to 0) nor squares past 65504: as torch
        # does, normalize in float32 and round the output once (the cache stays float32)
        outputs, cache = layernorm_forward(*(xp.astype(a, xp.float32) for a in (inputs, weight, bias)), eps)
        return xp.astype(outputs, xp.float16), cache
    centered = inputs - xp.mean(inputs, axis=-1, keepdims=True)
    variance = xp.mean(centered * centered, axis=-1, keepdims=True)
    inv_std = 1.0 / xp.sqrt(variance + eps)
    centered *= inv_std  # perf: in place, `centered` becomes normalized = (x - mean) * inv_std
    outputs = centered * weight
    outputs += bias  # perf: in place; outputs = normalized * weight + bias
    return outputs, LayerNormCache(centered, inv_std, weight)


def layernorm_backward(d_output, cache: LayerNormCache):
    """d_output (..., dim) -> (d_inputs (..., dim), {"weight": (dim,), "bias": (dim,)}).

    With n = normalized and g = d_output * weight, the mean and the variance both depend on
    every input of the row, which gives
        d_inputs = inv_std * (g - mean(g) - n * mean(g * n)).
    """
    xp = array_namespace(d_output)
    if is_float16(d_output):  # the forward ran in float32 (see above): so does the backward
        d_inputs, grads = layernorm_backward(xp.astype(d_output, xp.float32), cache)
        return xp.astype(d_inputs, xp.float16), {name: xp.astype(g, xp.float16) for name, g in grads.items()}
    normalized = cache.normalized
    dim = normalized.shape[-1]
    d_rows = xp.reshape(d_output, (-1, dim))
    d_weight = xp.sum(d_rows * xp.reshape(normalized, (-1, dim)), axis=0)
    d_bias = xp.sum(d_rows, axis=0)

    d_normalized = d_output * cache.weight
    projection = xp.mean(d_normalized * normalized, axis=-1, keepdims=True)
    # perf: the formula above in place in one buffer
    d_inputs = d_normalized - xp.mean(d_normalized, axis=-1, keepdims=True)
    d_inputs -= normalized * projection
    d_inputs *= cache.inv_std
    return d_inputs, {"weight": d_weight, "bias": d_bias}
