"""Inverted dropout: zero each value with probability `p` and scale the rest by 1/(1-p).

Randomness comes from an explicit `numpy.random.Generator` so a training run is reproducible;
`rng=None` (inference) or `p == 0` makes dropout the identity.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..backend import array_namespace, asarray


class DropoutCache(NamedTuple):
    keep_scaled: object  # same shape as the input: 0 or 1/(1-p); None when dropout was off


def dropout_forward(inputs, p: float, rng: np.random.Generator | None):
    if rng is None or p == 0.0:
        return inputs, DropoutCache(None)
    xp = array_namespace(inputs)
    keep = rng.random(inputs.shape, dtype=np.float32) >= p
    keep_scaled = asarray(xp, keep.astype(np.float32) / (1.0 - p), dtype=inputs.dtype)
    return inputs * keep_scaled, DropoutCache(keep_scaled)


def dropout_backward(d_outputs, cache: DropoutCache):
    """The kept values passed through scaled by 1/(1-p), so their gradient is scaled the same way."""
    if cache.keep_scaled is None:
        return d_outputs, {}
    return d_outputs * cache.keep_scaled, {}
