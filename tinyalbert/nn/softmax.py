"""Softmax, the one definition used by attention, the cross-entropy loss and the pipelines.

    softmax(z)_i = exp(z_i - max z) / sum_j exp(z_j - max z)

Subtracting the maximum changes nothing mathematically and keeps exp from overflowing.
"""
from __future__ import annotations

from ..backend import array_namespace


def softmax_and_log_norm(scores, axis: int = -1):
    """(softmax(scores), log sum exp(scores)) along `axis`, from one exp of the shifted scores.

    The log-normalizer has `axis` kept with size 1; cross-entropy needs it for log p(target)
    (the Array API standard has no logsumexp).
    """
    xp = array_namespace(scores)
    shift = xp.max(scores, axis=axis, keepdims=True)
    probs = xp.exp(scores - shift)
    total = xp.sum(probs, axis=axis, keepdims=True)
    probs /= total  # perf: in place; probs = exp / total
    return probs, xp.log(total) + shift


def softmax(scores, axis: int = -1):
    """Softmax along `axis`: same shape as `scores`, each slice along `axis` summing to 1."""
    probs, _ = softmax_and_log_norm(scores, axis)
    return probs


def softmax_backward(d_probs, probs):
    """Through softmax along the last axis: d_scores = probs * (d_probs - sum(d_probs * probs)).

    perf: overwrites and returns `d_probs`, saving one (batch, heads, seq, seq) buffer per layer.
    """
    xp = array_namespace(probs)
    d_probs -= xp.sum(d_probs * probs, axis=-1, keepdims=True)
    d_probs *= probs
    return d_probs
