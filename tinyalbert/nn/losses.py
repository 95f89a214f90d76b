"""The losses of the heads, with Transformers' (torch's) reductions.

Cross-entropy ignores targets equal to `ignore_index` (-100 by default) and averages over the
counted ones, as torch.nn.CrossEntropyLoss does.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import array_namespace
from .softmax import softmax_and_log_norm

IGNORE_INDEX = -100


class CrossEntropyCache(NamedTuple):
    probs: object  # (n, classes) softmax of the logits
    targets: object  # (n,) with ignored entries replaced by 0
    counted: object  # (n,) 1.0 where the target counts, 0.0 where ignored
    num_counted: object  # scalar: how many targets count


def cross_entropy_forward(logits, targets, ignore_index: int = IGNORE_INDEX):
    """Mean negative log-likelihood. logits (n, classes), targets (n,) int -> (mean loss, a 0-d
    array; cache = CrossEntropyCache).

    With no counted target the mean is 0/0 = nan, as in torch.
    """
    xp = array_namespace(logits)
    counted_mask = targets != ignore_index
    safe_targets = xp.where(counted_mask, targets, xp.zeros_like(targets))
    # perf: softmax and log-sum-exp from one exp of the logits (the logits are big: n x vocab)
    probs, log_norm = softmax_and_log_norm(logits)  # log_norm (n, 1)
    picked = xp.take_along_axis(logits, safe_targets[:, None], axis=-1) - log_norm  # log p(target)
    counted = xp.astype(counted_mask, logits.dtype)
    num_counted = xp.sum(counted)
    loss = -xp.sum(xp.squeeze(picked, axis=-1) * counted) / num_counted
    return loss, CrossEntropyCache(probs, safe_targets, counted, num_counted)


def cross_entropy_backward(d_loss, cache: CrossEntropyCache):
    """d_loss (scalar) -> (d_logits, {}), d_logits (n, classes) =
    (probs - one_hot(target)) * counted / num_counted * d_loss. No weights, so the dict is empty.

    Ignored rows get zero gradient, and so does every row when no target counts: the loss is
    nan then, but the gradient is 0, as in torch (not 0 * (d_loss / 0) = nan, which one optimizer
    step would spread into every weight). The one-hot rows are a comparison against the class
    ids: the Array API standard has no scatter into columns.
    """
    xp = array_namespace(cache.probs)
    probs = cache.probs
    class_ids = xp.arange(probs.shape[-1], dtype=cache.targets.dtype)
    d_logits = probs - xp.astype(class_ids[None, :] == cache.targets[:, None], probs.dtype)
    # with no counted target every `counted` is 0: dividing by 1 instead of 0 keeps the gradient 0
    safe_num_counted = xp.maximum(cache.num_counted, xp.ones_like(cache.num_counted))
    d_logits *= (cache.counted * (d_loss / safe_num_counted))[:, None]  # perf: in place (n x vocab)
    return d_logits, {}


def mse_forward(predictions, targets):
    """predictions, targets (same shape) -> (mean squared error over all entries, a 0-d array;
    cache = predictions - targets)."""
    xp = array_namespace(predictions)
    difference = predictions - targets
    return xp.mean(difference * difference), difference


def mse_backward(d_loss, difference):
    """d_loss (scalar) -> (d_predictions, {}): the mean over n entries of difference^2 has
    derivative 2 * difference / n with respect to each prediction. `difference` is the forward's
    cache (predictions - targets)."""
    count = max(1, math.prod(difference.shape))  # entries; an empty batch has an empty gradient, and no 0/0
    return difference * (2.0 * d_loss / count), {}


def bce_with_logits_forward(logits, targets):
    """logits (any real values) and targets in [0, 1], of the same shape -> (binary cross-entropy
    averaged over all entries, a 0-d array; cache = (logits, targets)), in the overflow-safe form
    max(x, 0) - x*y + log(1 + exp(-|x|))."""
    xp = array_namespace(logits)
    loss = xp.maximum(logits, xp.zeros_like(logits)) - logits * targets + xp.log1p(xp.exp(-xp.abs(logits)))
    return xp.mean(loss), (logits, targets)


def bce_with_logits_backward(d_loss, cache):
    """d_loss (scalar) -> (d_logits, {}): d/dx of the mean BCE is (sigmoid(x) - y) / n.

    The sigmoid is taken as 1 / (1 + e^-|x|) or e^-|x| / (1 + e^-|x|) by the sign of x, so
    that exp never overflows, as in the forward.
    """
    logits, targets = cache
    xp = array_namespace(logits)
    small = xp.exp(-xp.abs(logits))  # in (0, 1]
    sigmoid = xp.where(logits >= 0, 1.0 / (1.0 + small), small / (1.0 + small))
    count = max(1, math.prod(logits.shape))  # entries; an empty batch has an empty gradient, and no 0/0
    return (sigmoid - targets) * (d_loss / count), {}
