"""Relative-position attention scores: how far apart two tokens are, instead of where they are.

Each query position l and key position r look up one learned vector of the table
`distance_embedding.weight` (2 * max_positions - 1, head_size) by their distance l - r, and the
scores gain a term from it:

    relative_key        (Shaw et al. 2018, "Self-Attention with Relative Position Representations")
        scores[b,h,l,r] += q[b,h,l] . T[l - r]
    relative_key_query  (Huang et al. 2020, "Improve Transformer Models with Better Relative
                         Position Embeddings", method 4)
        scores[b,h,l,r] += q[b,h,l] . T[l - r]  +  k[b,h,r] . T[l - r]

Transformers adds these terms after the 1/sqrt(head_size) scaling and the mask, unscaled, and so
does attention here. Both are batched matmuls: one per query position for the query term, one
per key position for the key term (the contraction einsum('bhld,lrd->bhlr') without einsum).
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import array_namespace, scatter_add_rows

POSITION_EMBEDDING_TYPES = ("absolute", "relative_key", "relative_key_query")


class RelativePositionCache(NamedTuple):
    queries: object  # (batch, heads, seq, head_size)
    keys: object  # (batch, heads, seq, head_size), or None for relative_key
    distances: object  # (seq, seq) table row of each (l, r): (l - r) + max_positions - 1, not l - r
    table: object  # (seq, seq, head_size) the gathered rows T[l - r]
    num_distances: int  # rows of distance_embedding.weight


def relative_distances(xp, seq_len: int, max_positions: int):
    """(seq, seq) row indices into the distance table, not the distances l - r themselves.

    Row (l - r) + max_positions - 1: the distance shifted so that it is never negative (distance 0
    is row max_positions - 1).
    """
    positions = xp.arange(seq_len)
    return positions[:, None] - positions[None, :] + (max_positions - 1)


def by_position(heads):
    """(batch, heads, seq, d) -> (seq, batch * heads, d): one matrix per sequence position."""
    xp = array_namespace(heads)
    batch, num_heads, seq, width = heads.shape
    return xp.reshape(xp.permute_dims(heads, (2, 0, 1, 3)), (seq, batch * num_heads, width))


def relative_position_forward(queries, keys, distance_embedding, *, position_embedding_type: str,
                              max_positions: int):
    """The relative-position term of the attention scores.

    queries, keys: (batch, heads, seq, head_size); distance_embedding: (2 * max_positions - 1,
    head_size). Returns (scores (batch, heads, seq, seq), cache).
    """
    xp = array_namespace(queries)
    batch, heads, seq, head_size = queries.shape
    distances = relative_distances(xp, seq, max_positions)
    table = xp.reshape(xp.take(distance_embedding, xp.reshape(distances, (-1,)), axis=0), (seq, seq, head_size))
    # query term: for each query position l, (b*h, d) @ (d, r)
    scores = by_position(queries) @ xp.permute_dims(table, (0, 2, 1))  # (l, b*h, r)
    scores = xp.permute_dims(xp.reshape(scores, (seq, batch, heads, seq)), (1, 2, 0, 3))
    with_keys = position_embedding_type == "relative_key_query"
    if with_keys:
        # key term: for each key position r, (b*h, d) @ (d, l)
        key_scores = by_position(keys) @ xp.permute_dims(table, (1, 2, 0))  # (r, b*h, l)
        scores += xp.permute_dims(xp.reshape(key_scores, (seq, batch, heads, seq)), (1, 2, 3, 0))  # perf: in place
    cache = RelativePositionCache(queries, keys if with_keys else None, distances, table, distance_embedding.shape[0])
    return scores, cache


def relative_position_backward(d_scores, cache: RelativePositionCache):
    """d_scores (batch, heads, seq, seq) -> ((d_queries, d_keys or None), {"weight": d_weight}).

    d_queries, d_keys: (batch, heads, seq, head_size); d_weight: (2 * max_positions - 1,
    head_size), the gradient of the whole distance table, not of the (seq, seq, head_size) rows
    gathered from it: the gradients of the gathered rows are scatter-added, so every table row
    holds the sum over all (l, r) at its distance (zero for distances the sequence never reaches).
    """
    xp = array_namespace(d_scores)
    batch, heads, seq, head_size = cache.queries.shape
    # query term, per query position l: d_q[l] = d_s[l] T[l],  d_T[l] = d_s[l]^T q[l]
    d_by_query = xp.reshape(xp.permute_dims(d_scores, (2, 0, 1, 3)), (seq, batch * heads, seq))  # (l, b*h, r)
    d_queries = d_by_query @ cache.table  # (l, b*h, d)
    d_table = xp.matrix_transpose(d_by_query) @ by_position(cache.queries)  # (l, r, d)
    d_queries = xp.permute_dims(xp.reshape(d_queries, (seq, batch, heads, head_size)), (1, 2, 0, 3))
    d_keys = None
    if cache.keys is not None:
        # key term, per key position r: d_k[r] = d_s[:, r] T[:, r],  d_T[:, r] = d_s[:, r]^T k[r]
        d_by_key = xp.reshape(xp.permute_dims(d_scores, (3, 0, 1, 2)), (seq, batch * heads, seq))  # (r, b*h, l)
        d_keys = d_by_key @ xp.permute_dims(cache.table, (1, 0, 2))  # (r, b*h, d)
        # perf: in place; d_table = d_table + (the key term's gradient of the table)
        d_table += xp.permute_dims(xp.matrix_transpose(d_by_key) @ by_position(cache.keys), (1, 0, 2))
        d_keys = xp.permute_dims(xp.reshape(d_keys, (seq, batch, heads, head_size)), (1, 2, 0, 3))
    # Each table row was gathered at every (l, r) with that distance: its gradient is their sum.
    d_weight = scatter_add_rows(
        cache.num_distances, xp.reshape(cache.distances, (-1,)), xp.reshape(d_table, (-1, head_size))
    )
    return (d_queries, d_keys), {"weight": d_weight}
