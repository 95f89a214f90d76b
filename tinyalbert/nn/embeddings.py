"""The factorized embedding: a small (vocab, embedding_size) table, so that the big
hidden size never multiplies the vocabulary.

    embedded = word[input_ids] + token_type[token_type_ids] (+ position[position_ids])
    output   = dropout(LayerNorm(embedded))          (batch, seq, embedding_size)

The E -> H projection (`embedding_hidden_mapping_in`) belongs to the encoder, as in Transformers.
`weights` is keyed by the names below `albert.embeddings.`.
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import array_namespace, scatter_add_rows
from .dropout import DropoutCache, dropout_backward, dropout_forward
from .layernorm import LayerNormCache, layernorm_backward, layernorm_forward


class EmbeddingCache(NamedTuple):
    input_ids: object  # (batch, seq) or None when inputs_embeds were given
    token_type_ids: object  # (batch, seq)
    position_ids: object  # (batch, seq), (1, seq) or (seq,); None for relative position types
    table_rows: dict  # rows of each table, keyed like `weights`: the shapes of the gradients
    padding_idx: object  # int or None: the word row whose lookups get no gradient
    layernorm: LayerNormCache
    dropout: DropoutCache


def embedding_lookup(table, ids):
    """Rows of `table` (rows, dim) at integer `ids` (any shape) -> ids.shape + (dim,)."""
    xp = array_namespace(table)
    rows = xp.take(table, xp.reshape(ids, (-1,)), axis=0)
    return xp.reshape(rows, (*ids.shape, table.shape[1]))


def embedding_lookup_backward(d_rows, ids, num_rows: int, padding_idx=None):
    """Gradient of the table for `embedding_lookup(table, ids)`: d_rows ids.shape + (dim,) ->
    (num_rows, dim). A row looked up several times gets the sum of all its gradients.

    `padding_idx` (Transformers' `nn.Embedding(..., padding_idx=pad_token_id)`) receives no
    gradient from the lookup, as in torch.
    """
    xp = array_namespace(d_rows)
    flat_ids = xp.reshape(ids, (-1,))
    updates = xp.reshape(d_rows, (-1, d_rows.shape[-1]))
    if padding_idx is not None:
        updates = updates * xp.astype(flat_ids != padding_idx, updates.dtype)[:, None]
    return scatter_add_rows(num_rows, flat_ids, updates)


def embeddings_forward(
    input_ids, token_type_ids, position_ids, weights, *, position_embedding_type: str,
    layer_norm_eps: float, inputs_embeds=None, dropout: float = 0.0, rng=None, padding_idx=None,
):
    """input_ids (batch, seq) int -> (batch, seq, embedding_size).

    token_type_ids: (batch, seq); position_ids: (batch, seq), or (1, seq) or (seq,) broadcast
    over the batch. padding_idx: the word id whose embedding row gets no gradient (only the
    backward uses it).
    """
    embedded = embedding_lookup(weights["word_embeddings.weight"], input_ids) if inputs_embeds is None else inputs_embeds
    embedded = embedded + embedding_lookup(weights["token_type_embeddings.weight"], token_type_ids)
    if position_embedding_type == "absolute":
        embedded += embedding_lookup(weights["position_embeddings.weight"], position_ids)  # perf: in place
    else:
        position_ids = None  # relative types take positions inside attention instead
    output, layernorm_cache = layernorm_forward(
        embedded, weights["LayerNorm.weight"], weights["LayerNorm.bias"], layer_norm_eps
    )
    output, dropout_cache = dropout_forward(output, dropout, rng)
    ids = input_ids if inputs_embeds is None else None
    table_rows = {name: table.shape[0] for name, table in weights.items() if name.endswith("embeddings.weight")}
    cache = EmbeddingCache(ids, token_type_ids, position_ids, table_rows, padding_idx, layernorm_cache, dropout_cache)
    return output, cache


def embeddings_backward(d_output, cache: EmbeddingCache):
    """d_output (batch, seq, embedding_size) -> (d_inputs_embeds, d_weights).

    d_inputs_embeds is the gradient of `inputs_embeds` when they replaced the word lookup, else
    None (token ids have no gradient). d_weights is keyed like the forward's `weights`; a table the
    forward did not use (positions for relative types, words with inputs_embeds) is left out.
    """
    xp = array_namespace(d_output)
    d_output, _ = dropout_backward(d_output, cache.dropout)
    d_embedded, norm_grads = layernorm_backward(d_output, cache.layernorm)
    d_weights = {"LayerNorm.weight": norm_grads["weight"], "LayerNorm.bias": norm_grads["bias"]}
    rows = cache.table_rows
    d_weights["token_type_embeddings.weight"] = embedding_lookup_backward(
        d_embedded, cache.token_type_ids, rows["token_type_embeddings.weight"]
    )
    if cache.position_ids is not None:
        # Position ids of shape (1, seq) or (seq,) served the whole batch: sum over the batch first.
        d_positions = d_embedded
        while d_positions.ndim > cache.position_ids.ndim + 1:
            d_positions = xp.sum(d_positions, axis=0)
        if cache.position_ids.shape[0] == 1 and d_positions.shape[0] != 1:
            d_positions = xp.sum(d_positions, axis=0, keepdims=True)
        d_weights["position_embeddings.weight"] = embedding_lookup_backward(
            d_positions, cache.position_ids, rows["position_embeddings.weight"]
        )
    if cache.input_ids is None:
        return d_embedded, d_weights
    d_weights["word_embeddings.weight"] = embedding_lookup_backward(
        d_embedded, cache.input_ids, rows["word_embeddings.weight"], cache.padding_idx
    )
    return None, d_weights
