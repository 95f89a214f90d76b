"""Multi-head self-attention of an ALBERT layer, with its residual connection and LayerNorm
(Vaswani et al. 2017, "Attention Is All You Need"):

    scores  = Q K^T / sqrt(head_size) + mask_bias  (+ relative-position scores, relative_position.py)
    probs   = softmax(scores), then dropout, then head_mask
    context = probs V, heads merged, projected by `dense`
    output  = LayerNorm(hidden + dropout(context_projected))

Weights are read from `weights`, a dict keyed by the Transformers names below the layer's
`attention.` prefix (`query.weight`, `dense.bias`, `LayerNorm.weight`, ...).
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import array_namespace, contiguous
from .dropout import DropoutCache, dropout_backward, dropout_forward, dropout_reapply
from .layernorm import LayerNormCache, layernorm_backward, layernorm_forward
from .linear import LinearCache, linear_backward, linear_forward
from .relative_position import RelativePositionCache, relative_position_backward, relative_position_forward
from .softmax import softmax, softmax_backward


class AttentionCache(NamedTuple):
    query: LinearCache  # each of the three holds the layer input `hidden`
    key: LinearCache
    value: LinearCache
    queries: object  # (batch, heads, seq, head_size)
    keys: object  # (batch, heads, seq, head_size)
    values: object  # (batch, heads, seq, head_size)
    scale: float  # 1 / sqrt(head_size)
    relative: RelativePositionCache  # or None for absolute positions
    probs: object  # (batch, heads, seq, seq) softmax output, before dropout and head mask
    attention_dropout: DropoutCache
    head_mask: object  # broadcastable to probs, or None
    dense: LinearCache
    output_dropout: DropoutCache
    layernorm: LayerNormCache


def split_heads(x, num_heads: int):
    """(batch, seq, hidden) -> (batch, heads, seq, head_size)."""
    xp = array_namespace(x)
    batch, seq, hidden = x.shape
    # perf: a contiguous copy, so that the batched matmuls run as plain BLAS calls (a permuted
    # view makes NumPy and CuPy loop over the matrices, several times slower)
    return contiguous(xp.permute_dims(xp.reshape(x, (batch, seq, num_heads, hidden // num_heads)), (0, 2, 1, 3)))


def merge_heads(x):
    """(batch, heads, seq, head_size) -> (batch, seq, hidden)."""
    xp = array_namespace(x)
    batch, heads, seq, head_size = x.shape
    return xp.reshape(xp.permute_dims(x, (0, 2, 1, 3)), (batch, seq, heads * head_size))


def attention_forward(
    hidden, weights, mask_bias, head_mask, *, num_heads: int, position_embedding_type: str,
    max_positions: int, layer_norm_eps: float, attention_dropout: float = 0.0,
    output_dropout: float = 0.0, rng=None,
):
    """hidden (batch, seq, hidden) -> (output (batch, seq, hidden), attention_probs, cache).

    attention_probs (batch, heads, seq, seq) are the weights that multiplied V: the softmax after
    dropout and head mask, what Transformers returns as `attentions`.
    mask_bias: (batch, 1, 1, seq), 0 where a key may be attended to and a huge negative number
    where it is padding. head_mask: broadcastable to (batch, heads, seq, seq), or None.
    """
    xp = array_namespace(hidden)
    query_out, query_cache = linear_forward(hidden, weights["query.weight"], weights["query.bias"])
    key_out, key_cache = linear_forward(hidden, weights["key.weight"], weights["key.bias"])
    value_out, value_cache = linear_forward(hidden, weights["value.weight"], weights["value.bias"])
    queries = split_heads(query_out, num_heads)  # (batch, heads, seq, head_size)
    keys = split_heads(key_out, num_heads)
    values = split_heads(value_out, num_heads)

    # scores = Q K^T / sqrt(d) + mask_bias
    scale = 1.0 / math.sqrt(queries.shape[-1])
    scores = queries @ xp.matrix_transpose(keys)
    scores *= scale  # perf: in place, as are the additions below; scores = Q K^T * scale + mask_bias
    if mask_bias is not None:
        scores += mask_bias
    relative_cache = None
    if position_embedding_type != "absolute":
        relative_scores, relative_cache = relative_position_forward(
            queries, keys, weights["distance_embedding.weight"], position_embedding_type=position_embedding_type,
            max_positions=max_positions,
        )
        scores += relative_scores

    probs = softmax(scores)
    attention_probs, attention_dropout_cache = dropout_forward(probs, attention_dropout, rng)
    if head_mask is not None:
        attention_probs = attention_probs * head_mask
    context = merge_heads(attention_probs @ values)
    projected, dense_cache = linear_forward(context, weights["dense.weight"], weights["dense.bias"])
    projected, output_dropout_cache = dropout_forward(projected, output_dropout, rng)
    output, layernorm_cache = layernorm_forward(
        hidden + projected, weights["LayerNorm.weight"], weights["LayerNorm.bias"], layer_norm_eps
    )
    cache = AttentionCache(
        query_cache, key_cache, value_cache, queries, keys, values, scale, relative_cache, probs,
        attention_dropout_cache, head_mask, dense_cache, output_dropout_cache, layernorm_cache,
    )
    return output, attention_probs, cache


def attention_backward(d_output, cache: AttentionCache):
    """d_output (batch, seq, hidden) -> (d_hidden (batch, seq, hidden), d_weights).

    d_weights is keyed like `weights` of the forward (`query.weight`, ..., `LayerNorm.bias`, and
    `distance_embedding.weight` for the relative position types).
    """
    xp = array_namespace(d_output)
    d_weights = {}

    def collect(prefix, grads):
        d_weights.update({f"{prefix}.{name}": grad for name, grad in grads.items() if grad is not None})

    # output = LayerNorm(hidden + dropout(dense(context))): the residual passes d_sum straight to hidden.
    d_sum, grads = layernorm_backward(d_output, cache.layernorm)
    collect("LayerNorm", grads)
    d_projected, _ = dropout_backward(d_sum, cache.output_dropout)
    d_context, grads = linear_backward(d_projected, cache.dense)
    collect("dense", grads)
    d_context = split_heads(d_context, cache.queries.shape[1])  # (batch, heads, seq, head_size)

    # context = attention_probs V, where attention_probs = dropout(probs) * head_mask
    probs, values = cache.probs, cache.values
    attention_probs = dropout_reapply(probs, cache.attention_dropout)
    if cache.head_mask is not None:
        attention_probs = attention_probs * cache.head_mask
    d_values = xp.matrix_transpose(attention_probs) @ d_context
    d_probs = d_context @ xp.matrix_transpose(values)
    del attention_probs, d_context  # perf: free (batch, heads, seq, seq) buffers as soon as they are used
    if cache.head_mask is not None:
        d_probs *= cache.head_mask
    d_probs, _ = dropout_backward(d_probs, cache.attention_dropout)
    d_scores = softmax_backward(d_probs, probs)  # the mask bias is a constant: nothing flows into it
    del d_probs, probs  # perf: free them before the (batch, heads, seq, head_size) products

    # The relative-position scores were added unscaled, so they see d_scores itself.
    d_queries = d_keys = None
    if cache.relative is not None:
        (d_queries, d_keys), grads = relative_position_backward(d_scores, cache.relative)
        collect("distance_embedding", grads)

    # scores = (Q K^T) * scale
    d_scores *= cache.scale  # perf: in place; d_scores = d_scores * scale
    d_queries = add_optional(d_scores @ cache.keys, d_queries)
    d_keys = add_optional(xp.matrix_transpose(d_scores) @ cache.queries, d_keys)
    del d_scores

    # Q, K and V are three linear maps of the same input: their input gradients add up, with the residual's.
    d_hidden = d_sum  # perf: d_sum is not needed any more, accumulate in its buffer
    for name, d_heads, linear_cache in (
        ("query", d_queries, cache.query), ("key", d_keys, cache.key), ("value", d_values, cache.value)
    ):
        d_input, grads = linear_backward(merge_heads(d_heads), linear_cache)
        collect(name, grads)
        d_hidden += d_input
    return d_hidden, d_weights


def add_optional(total, term):
    """total + term, where term may be None (nothing to add)."""
    if term is not None:
        total += term  # perf: in place; total = total + term
    return total
