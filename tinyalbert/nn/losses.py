"""The losses of the heads, with Transformers' (torch's) reductions.

Cross-entropy ignores targets equal to `ignore_index` (-100 by default) and averages over the
counted ones, as torch.nn.CrossEntropyLoss does.
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import array_namespace, logsumexp

IGNORE_INDEX = -100


class CrossEntropyCache(NamedTuple):
    probs: object  # (n, classes) softmax of the logits
    targets: object  # (n,) with ignored entries replaced by 0
    counted: object  # (n,) 1.0 where the target counts, 0.0 where ignored
    num_counted: object  # scalar: how many targets count


def cross_entropy_forward(logits, targets, ignore_index: int = IGNORE_INDEX):
    """Mean negative log-likelihood. logits (n, classes), targets (n,) int -> scalar.

    With no counted target the mean is 0/0 = nan, as in torch.
    """
    xp = array_namespace(logits)
    counted_mask = targets != ignore_index
    safe_targets = xp.where(counted_mask, targets, xp.zeros_like(targets))
    log_norm = logsumexp(logits, axis=-1, keepdims=True)
    log_probs = logits - log_norm
    picked = xp.squeeze(xp.take_along_axis(log_probs, safe_targets[:, None], axis=-1), axis=-1)
    counted = xp.astype(counted_mask, logits.dtype)
    num_counted = xp.sum(counted)
    loss = -xp.sum(picked * counted) / num_counted
    return loss, CrossEntropyCache(xp.exp(log_probs), safe_targets, counted, num_counted)


def mse_forward(predictions, targets):
    """Mean squared error over all entries."""
    xp = array_namespace(predictions)
    difference = predictions - targets
    return xp.mean(difference * difference), difference


def bce_with_logits_forward(logits, targets):
    """Binary cross-entropy on logits, averaged over all entries, in the overflow-safe form
    max(x, 0) - x*y + log(1 + exp(-|x|))."""
    xp = array_namespace(logits)
    loss = xp.maximum(logits, xp.zeros_like(logits)) - logits * targets + xp.log1p(xp.exp(-xp.abs(logits)))
    return xp.mean(loss), (logits, targets)
