"""The ALBERT body shared by every model class: embeddings -> shared encoder -> pooler.

`params` is the flat dict of the whole model, keyed by Transformers names starting with `albert.`.
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import array_namespace
from .embeddings import EmbeddingCache, embeddings_backward, embeddings_forward
from .encoder import EncoderCache, encoder_backward, encoder_forward, weights_below
from .heads import PoolerCache, pooler_backward, pooler_forward


class AlbertBodyOutput(NamedTuple):
    sequence_output: object  # (batch, seq, hidden)
    pooled_output: object  # (batch, hidden), or None without a pooler
    hidden_states: object  # list of (batch, seq, hidden), or None
    attentions: object  # list of (batch, heads, seq, seq), or None


class AlbertBodyCache(NamedTuple):
    embeddings: EmbeddingCache
    encoder: EncoderCache
    pooler: PoolerCache  # or None


def attention_mask_bias(attention_mask, dtype):
    """(batch, seq) of 1 (attend) / 0 (padding) -> (batch, 1, 1, seq) additive bias.

    Padding gets the most negative finite value of the dtype, as in Transformers, so that a row
    that is all padding still gives a (uniform) softmax instead of nan.
    """
    xp = array_namespace(attention_mask)
    mask = xp.astype(attention_mask, dtype)
    return (1.0 - mask[:, None, None, :]) * xp.finfo(dtype).min


def expand_head_mask(head_mask, num_hidden_layers: int):
    """(heads,) or (num_hidden_layers, heads) -> (num_hidden_layers, 1, heads, 1, 1), as
    Transformers' `get_head_mask` expands it. A 5-D mask (num_hidden_layers, batch|1, heads|1,
    seq|1, seq|1), already expanded, is returned as it is (`inputs.check_head_mask` checks the shapes)."""
    xp = array_namespace(head_mask)
    if head_mask.ndim == 5:
        return head_mask
    if head_mask.ndim == 1:
        head_mask = xp.broadcast_to(head_mask[None, :], (num_hidden_layers, head_mask.shape[0]))
    if head_mask.ndim != 2:
        raise ValueError(f"head_mask must have shape (heads,), (layers, heads) or 5-D (layers, 1, heads, 1, 1), "
                         f"got {tuple(head_mask.shape)}")
    return head_mask[:, None, :, None, None]


def albert_body_forward(
    params, config, input_ids, *, attention_mask, token_type_ids, position_ids, head_mask=None,
    inputs_embeds=None, with_pooler=True, output_hidden_states=False, output_attentions=False,
    rng=None, keep_caches=False,
):
    """Token ids (batch, seq) -> AlbertBodyOutput, AlbertBodyCache.

    All inputs are arrays of the parameters' namespace; the model classes prepare the defaults
    (all-ones mask, zero token types, positions 0..seq-1).
    """
    embedded, embedding_cache = embeddings_forward(
        input_ids, token_type_ids, position_ids, weights_below(params, "albert.embeddings."),
        position_embedding_type=config.position_embedding_type, layer_norm_eps=config.layer_norm_eps,
        inputs_embeds=inputs_embeds, dropout=config.hidden_dropout_prob, rng=rng,
        padding_idx=config.pad_token_id,
    )
    mask_bias = attention_mask_bias(attention_mask, embedded.dtype)
    if head_mask is not None:
        head_mask = expand_head_mask(head_mask, config.num_hidden_layers)
    sequence_output, all_hidden, all_attentions, encoder_cache = encoder_forward(
        embedded, params, mask_bias, head_mask, config, output_hidden_states=output_hidden_states,
        output_attentions=output_attentions, rng=rng, keep_caches=keep_caches,
    )
    pooled = pooler_cache = None
    if with_pooler:
        pooled, pooler_cache = pooler_forward(sequence_output, weights_below(params, "albert.pooler."))
    output = AlbertBodyOutput(sequence_output, pooled, all_hidden, all_attentions)
    return output, AlbertBodyCache(embedding_cache, encoder_cache, pooler_cache)


def albert_body_backward(d_sequence_output, d_pooled, cache: AlbertBodyCache):
    """Gradients of the body from those of its two outputs.

    d_sequence_output: (batch, seq, hidden) or None; d_pooled: (batch, hidden) or None (no pooler,
    or no loss on it). Returns (d_inputs_embeds or None, grads keyed by full names `albert.…`).
    The caches are consumed: the encoder's layer list is emptied on the way.
    """
    grads = {}
    if d_pooled is not None:
        d_from_pooler, pooler_grads = pooler_backward(d_pooled, cache.pooler)
        grads.update({"albert.pooler." + name: grad for name, grad in pooler_grads.items()})
        # The pooler read position 0 of the sequence output, which the heads read too: the gradients add.
        d_sequence_output = d_from_pooler if d_sequence_output is None else d_sequence_output + d_from_pooler
        del d_from_pooler  # perf: each `del` here and in the other backward passes frees a buffer early
    d_embedded, encoder_grads = encoder_backward(d_sequence_output, cache.encoder)
    grads.update(encoder_grads)
    del d_sequence_output, encoder_grads
    d_inputs_embeds, embedding_grads = embeddings_backward(d_embedded, cache.embeddings)
    grads.update({"albert.embeddings." + name: grad for name, grad in embedding_grads.items()})
    return d_inputs_embeds, grads


def complete_grads(params: dict, grads: dict) -> dict:
    """`grads` in the order of `params`, with zeros for the parameters the loss does not reach
    (the absolute position table of a relative-position model)."""
    return {
        name: grads[name] if name in grads else array_namespace(value).zeros_like(value)
        for name, value in params.items()
    }
