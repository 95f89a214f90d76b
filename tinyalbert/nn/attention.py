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

from ..backend import array_namespace
from .dropout import DropoutCache, dropout_forward
from .layernorm import LayerNormCache, layernorm_forward
from .linear import LinearCache, linear_forward


class AttentionCache(NamedTuple):
    hidden: object  # (batch, seq, hidden): the layer input, also the residual
    query: LinearCache
    key: LinearCache
    value: LinearCache
    queries: object  # (batch, heads, seq, head_size)
    keys: object  # (batch, heads, seq, head_size)
    values: object  # (batch, heads, seq, head_size)
    distances: object  # (seq, seq) indices into distance_embedding, or None for absolute positions
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
    return xp.permute_dims(xp.reshape(x, (batch, seq, num_heads, hidden // num_heads)), (0, 2, 1, 3))


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

    scores = queries @ xp.matrix_transpose(keys)
    scores *= 1.0 / math.sqrt(queries.shape[-1])
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
        hidden, query_cache, key_cache, value_cache, queries, keys, values, distances, relative_table,
        probs, attention_dropout_cache, head_mask, dense_cache, output_dropout_cache, layernorm_cache,
    )
    return output, dropped, cache
