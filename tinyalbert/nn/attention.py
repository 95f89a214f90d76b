"""Multi-head self-attention of an ALBERT layer, with its residual connection and LayerNorm.

    scores  = Q K^T / sqrt(head_size) + mask_bias (+ relative-position scores)
    probs   = softmax(scores) (then dropout, then head_mask)
    context = probs V, heads merged, projected by `dense`
    output  = LayerNorm(hidden + context_projected)

Weights are read from `weights`, a dict keyed by the Transformers names below the layer's
`attention.` prefix (`query.weight`, `dense.bias`, `LayerNorm.weight`, ...).
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import array_namespace, contiguous, scatter_add_rows
from .dropout import DropoutCache, dropout_backward, dropout_forward
from .layernorm import LayerNormCache, layernorm_backward, layernorm_forward
from .linear import LinearCache, linear_backward, linear_forward


class AttentionCache(NamedTuple):
    query: LinearCache  # each of the three holds the layer input `hidden`
    key: LinearCache
    value: LinearCache
    queries: object  # (batch, heads, seq, head_size)
    keys: object  # (batch, heads, seq, head_size)
    values: object  # (batch, heads, seq, head_size)
    scale: float  # 1 / sqrt(head_size)
    position_embedding_type: str
    distances: object  # (seq, seq) indices into distance_embedding, or None for absolute positions
    num_distances: int  # rows of distance_embedding.weight (2 * max_positions - 1)
    relative_table: object  # (seq, seq, head_size) gathered distance embeddings, or None
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
    # Made contiguous so that the batched matmuls of attention run as plain BLAS calls.
    return contiguous(xp.permute_dims(xp.reshape(x, (batch, seq, num_heads, hidden // num_heads)), (0, 2, 1, 3)))


def merge_heads(x):
    """(batch, heads, seq, head_size) -> (batch, seq, hidden)."""
    xp = array_namespace(x)
    batch, heads, seq, head_size = x.shape
    return xp.reshape(xp.permute_dims(x, (0, 2, 1, 3)), (batch, seq, heads * head_size))


def softmax(scores, axis: int = -1):
    """Softmax along `axis`, shifted by the maximum so that exp cannot overflow."""
    xp = array_namespace(scores)
    exp = xp.exp(scores - xp.max(scores, axis=axis, keepdims=True))
    exp /= xp.sum(exp, axis=axis, keepdims=True)
    return exp


def softmax_backward(d_probs, probs):
    """Through softmax along the last axis: d_scores = probs * (d_probs - sum(d_probs * probs)).
    Overwrites and returns `d_probs`."""
    xp = array_namespace(probs)
    d_probs -= xp.sum(d_probs * probs, axis=-1, keepdims=True)
    d_probs *= probs
    return d_probs


def relative_distances(xp, seq_len: int, max_positions: int):
    """(seq, seq) row index into the distance table: (l - r) + max_positions - 1, never negative."""
    positions = xp.arange(seq_len)
    return positions[:, None] - positions[None, :] + (max_positions - 1)


def relative_scores_query(queries, table):
    """einsum('bhld,lrd->bhlr'): each query position l against the distance embeddings of row l."""
    xp = array_namespace(queries)
    batch, heads, seq, head_size = queries.shape
    by_position = xp.reshape(xp.permute_dims(queries, (2, 0, 1, 3)), (seq, batch * heads, head_size))
    scores = by_position @ xp.permute_dims(table, (0, 2, 1))  # (l, b*h, r)
    return xp.permute_dims(xp.reshape(scores, (seq, batch, heads, seq)), (1, 2, 0, 3))


def relative_scores_key(keys, table):
    """einsum('bhrd,lrd->bhlr'): each key position r against the distance embeddings of column r."""
    xp = array_namespace(keys)
    batch, heads, seq, head_size = keys.shape
    by_position = xp.reshape(xp.permute_dims(keys, (2, 0, 1, 3)), (seq, batch * heads, head_size))
    scores = by_position @ xp.permute_dims(table, (1, 2, 0))  # (r, b*h, l)
    return xp.permute_dims(xp.reshape(scores, (seq, batch, heads, seq)), (1, 2, 3, 0))


def relative_scores_query_backward(d_scores, queries, table):
    """Gradients of `relative_scores_query` (scores[b,h,l,r] = sum_d q[b,h,l,d] T[l,r,d]):
    d_queries (batch, heads, seq, head_size) and d_table (seq, seq, head_size).
    Both are one batched matmul per query position l."""
    xp = array_namespace(d_scores)
    batch, heads, seq, head_size = queries.shape
    d_by_position = xp.reshape(xp.permute_dims(d_scores, (2, 0, 1, 3)), (seq, batch * heads, seq))  # (l, b*h, r)
    queries_by_position = xp.reshape(xp.permute_dims(queries, (2, 0, 1, 3)), (seq, batch * heads, head_size))
    d_queries = d_by_position @ table  # (l, b*h, d)
    d_table = xp.matrix_transpose(d_by_position) @ queries_by_position  # (l, r, d)
    d_queries = xp.permute_dims(xp.reshape(d_queries, (seq, batch, heads, head_size)), (1, 2, 0, 3))
    return d_queries, d_table


def relative_scores_key_backward(d_scores, keys, table):
    """Gradients of `relative_scores_key` (scores[b,h,l,r] = sum_d k[b,h,r,d] T[l,r,d]):
    d_keys (batch, heads, seq, head_size) and d_table (seq, seq, head_size).
    Both are one batched matmul per key position r."""
    xp = array_namespace(d_scores)
    batch, heads, seq, head_size = keys.shape
    d_by_position = xp.reshape(xp.permute_dims(d_scores, (3, 0, 1, 2)), (seq, batch * heads, seq))  # (r, b*h, l)
    keys_by_position = xp.reshape(xp.permute_dims(keys, (2, 0, 1, 3)), (seq, batch * heads, head_size))
    d_keys = d_by_position @ xp.permute_dims(table, (1, 0, 2))  # (r, b*h, d)
    d_table = xp.matrix_transpose(d_by_position) @ keys_by_position  # (r, l, d)
    d_keys = xp.permute_dims(xp.reshape(d_keys, (seq, batch, heads, head_size)), (1, 2, 0, 3))
    return d_keys, xp.permute_dims(d_table, (1, 0, 2))


def attention_forward(
    hidden, weights, mask_bias, head_mask, *, num_heads: int, position_embedding_type: str,
    max_positions: int, layer_norm_eps: float, attention_dropout: float = 0.0,
    output_dropout: float = 0.0, rng=None,
):
    """hidden (batch, seq, hidden) -> (output (batch, seq, hidden), probs (batch, heads, seq, seq), cache).

    mask_bias: (batch, 1, 1, seq), 0 where a key may be attended to and a huge negative number
    where it is padding. head_mask: broadcastable to (batch, heads, seq, seq), or None.
    """
    xp = array_namespace(hidden)
    query_out, query_cache = linear_forward(hidden, weights["query.weight"], weights["query.bias"])
    key_out, key_cache = linear_forward(hidden, weights["key.weight"], weights["key.bias"])
    value_out, value_cache = linear_forward(hidden, weights["value.weight"], weights["value.bias"])
    queries = split_heads(query_out, num_heads)
    keys = split_heads(key_out, num_heads)
    values = split_heads(value_out, num_heads)

    scale = 1.0 / math.sqrt(queries.shape[-1])
    scores = queries @ xp.matrix_transpose(keys)
    scores *= scale
    if mask_bias is not None:
        scores += mask_bias
    distances = relative_table = None
    if position_embedding_type != "absolute":
        # Transformers adds these scores after the scaling and the mask, unscaled.
        distances = relative_distances(xp, hidden.shape[1], max_positions)
        flat = xp.reshape(distances, (-1,))
        relative_table = xp.reshape(
            xp.take(weights["distance_embedding.weight"], flat, axis=0), (*distances.shape, queries.shape[-1])
        )
        scores += relative_scores_query(queries, relative_table)
        if position_embedding_type == "relative_key_query":
            scores += relative_scores_key(keys, relative_table)

    probs = softmax(scores)
    dropped, attention_dropout_cache = dropout_forward(probs, attention_dropout, rng)
    if head_mask is not None:
        dropped = dropped * head_mask
    context = merge_heads(dropped @ values)
    projected, dense_cache = linear_forward(context, weights["dense.weight"], weights["dense.bias"])
    projected, output_dropout_cache = dropout_forward(projected, output_dropout, rng)
    output, layernorm_cache = layernorm_forward(
        hidden + projected, weights["LayerNorm.weight"], weights["LayerNorm.bias"], layer_norm_eps
    )
    cache = AttentionCache(
        query_cache, key_cache, value_cache, queries, keys, values, scale, position_embedding_type, distances,
        2 * max_positions - 1, relative_table, probs, attention_dropout_cache, head_mask, dense_cache,
        output_dropout_cache, layernorm_cache,
    )
    return output, dropped, cache


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

    # context = dropped @ values, where dropped = dropout(probs) * head_mask
    probs, values = cache.probs, cache.values
    dropped = probs if cache.attention_dropout.keep_scaled is None else probs * cache.attention_dropout.keep_scaled
    if cache.head_mask is not None:
        dropped = dropped * cache.head_mask
    d_values = xp.matrix_transpose(dropped) @ d_context
    del dropped
    d_probs = d_context @ xp.matrix_transpose(values)
    del d_context
    if cache.head_mask is not None:
        d_probs *= cache.head_mask
    d_probs, _ = dropout_backward(d_probs, cache.attention_dropout)
    d_scores = softmax_backward(d_probs, probs)  # the mask bias is a constant: nothing flows into it
    del d_probs, probs

    queries, keys = cache.queries, cache.keys
    # The relative-position scores were added unscaled, so they see d_scores itself.
    d_queries = d_keys = None
    if cache.relative_table is not None:
        d_queries, d_table = relative_scores_query_backward(d_scores, queries, cache.relative_table)
        if cache.position_embedding_type == "relative_key_query":
            d_keys, d_table_from_keys = relative_scores_key_backward(d_scores, keys, cache.relative_table)
            d_table += d_table_from_keys
            del d_table_from_keys
        # Each distance row was gathered at every (l, r) with that l - r: add all those gradients into it.
        head_size = d_table.shape[-1]
        d_weights["distance_embedding.weight"] = scatter_add_rows(
            cache.num_distances, xp.reshape(cache.distances, (-1,)), xp.reshape(d_table, (-1, head_size))
        )
        del d_table

    # scores = (Q K^T) * scale
    d_scores *= cache.scale
    d_queries_direct = d_scores @ keys
    d_queries = d_queries_direct if d_queries is None else d_queries + d_queries_direct
    d_keys_direct = xp.matrix_transpose(d_scores) @ queries
    d_keys = d_keys_direct if d_keys is None else d_keys + d_keys_direct
    del d_scores, d_queries_direct, d_keys_direct

    # Q, K and V are three linear maps of the same input: their input gradients add up, with the residual's.
    d_hidden = d_sum  # d_sum is not needed any more: accumulate in its buffer
    for name, d_heads, linear_cache in (
        ("query", d_queries, cache.query), ("key", d_keys, cache.key), ("value", d_values, cache.value)
    ):
        d_input, grads = linear_backward(merge_heads(d_heads), linear_cache)
        collect(name, grads)
        d_hidden += d_input
    return d_hidden, d_weights
