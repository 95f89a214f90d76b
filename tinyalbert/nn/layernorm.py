"""Layer normalization over the last axis, exactly as torch.nn.LayerNorm computes it
(biased variance, `eps` added inside the square root)."""
from __future__ import annotations

from typing import NamedTuple

from ..backend import array_namespace


class LayerNormCache(NamedTuple):
    normalized: object  # (..., dim): (x - mean) / std
    inv_std: object  # (..., 1)
    weight: object  # (dim,)


def layernorm_forward(inputs, weight, bias, eps: float):
    """(..., dim) -> (..., dim)."""
    xp = array_namespace(inputs)
    centered = inputs - xp.mean(inputs, axis=-1, keepdims=True)
    variance = xp.mean(centered * centered, axis=-1, keepdims=True)
    inv_std = 1.0 / xp.sqrt(variance + eps)
    centered *= inv_std  # now the normalized values; reuse the buffer
    outputs = centered * weight
    outputs += bias
    return outputs, LayerNormCache(centered, inv_std, weight)
