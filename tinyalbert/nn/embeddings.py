"""The factorized embedding: a small (vocab, embedding_size) table, so that the big
hidden size never multiplies the vocabulary.

    embedded = word[input_ids] + token_type[token_type_ids] (+ position[position_ids])
    output   = LayerNorm(embedded)          (batch, seq, embedding_size)

The E -> H projection (`embedding_hidden_mapping_in`) belongs to the encoder, as in Transformers.
`weights` is keyed by the names below `albert.embeddings.`.
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import array_namespace
from .dropout import DropoutCache, dropout_forward
from .layernorm import LayerNormCache, layernorm_forward


class EmbeddingCache(NamedTuple):
    input_ids: object  # (batch, seq) or None when inputs_embeds were given
    token_type_ids: object  # (batch, seq)
    position_ids: object  # (batch or 1, seq), or None for relative position types
    layernorm: LayerNormCache
    dropout: DropoutCache


def embedding_lookup(table, ids):
    """Rows of `table` (rows, dim) at integer `ids` (any shape) -> ids.shape + (dim,)."""
    xp = array_namespace(table)
    rows = xp.take(table, xp.reshape(ids, (-1,)), axis=0)
    return xp.reshape(rows, (*ids.shape, table.shape[1]))


def embeddings_forward(
    input_ids, token_type_ids, position_ids, weights, *, position_embedding_type: str,
    layer_norm_eps: float, inputs_embeds=None, dropout: float = 0.0, rng=None,
):
    """input_ids (batch, seq) int -> (batch, seq, embedding_size)."""
    embedded = embedding_lookup(weights["word_embeddings.weight"], input_ids) if inputs_embeds is None else inputs_embeds
    embedded = embedded + embedding_lookup(weights["token_type_embeddings.weight"], token_type_ids)
    if position_embedding_type == "absolute":
        embedded += embedding_lookup(weights["position_embeddings.weight"], position_ids)
    else:
        position_ids = None  # relative types take positions inside attention instead
    output, layernorm_cache = layernorm_forward(
        embedded, weights["LayerNorm.weight"], weights["LayerNorm.bias"], layer_norm_eps
    )
    output, dropout_cache = dropout_forward(output, dropout, rng)
    ids = input_ids if inputs_embeds is None else None
    return output, EmbeddingCache(ids, token_type_ids, position_ids, layernorm_cache, dropout_cache)
