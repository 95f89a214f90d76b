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


def dropout_forward(inputs, p: float | None, rng: np.random.Generator | None):
    """inputs (any shape) -> (inputs * keep / (1 - p), cache), keep drawn from `rng`.

    The identity, with an empty cache, when `rng` is None (inference) or p is 0 or None: callers
    need no guard of their own. p = 1 drops everything: zeros, as in torch. A p outside [0, 1]
    is refused, also at inference, where it would otherwise go unnoticed.
    """
    if p is not None and not 0.0 <= p <= 1.0:  # also refuses nan
        raise ValueError(f"dropout probability must lie in [0, 1], got {p}")
    if rng is None or not p:
        return inputs, DropoutCache(None)
    xp = array_namespace(inputs)
    keep = rng.random(inputs.shape, dtype=np.float32) >= p
    if p < 1.0:
        keep_scaled = keep.astype(np.float32) / (1.0 - p)
    else:  # nothing kept: zeros, not 0 / (1 - 1) = nan
        keep_scaled = np.zeros(inputs.shape, dtype=np.float32)
    keep_scaled = asarray(xp, keep_scaled, dtype=inputs.dtype)
    return inputs * keep_scaled, DropoutCache(keep_scaled)


def dropout_reapply(inputs, cache: DropoutCache):
    """The forward's output again from its input and the stored mask, without drawing."""
    return inputs if cache.keep_scaled is None else inputs * cache.keep_scaled


def dropout_backward(d_output, cache: DropoutCache):
    """The kept values passed through scaled by 1/(1-p), so their gradient is scaled the same way."""
    return dropout_reapply(d_output, cache), {}
