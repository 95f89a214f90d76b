"""The heads that sit on the encoder output.

Each takes weights keyed by its Transformers names below the head's prefix
(`predictions.`, `sop_classifier.classifier.`, `classifier.`, `qa_outputs.`, `albert.pooler.`).
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import array_namespace
from .activations import ActivationCache, activation_backward, activation_forward
from .dropout import DropoutCache, dropout_backward, dropout_forward
from .layernorm import LayerNormCache, layernorm_backward, layernorm_forward
from .linear import LinearCache, linear_backward, linear_forward

WORD_EMBEDDINGS = "albert.embeddings.word_embeddings.weight"
UNTIED_DECODER = "predictions.decoder.weight"


class PoolerCache(NamedTuple):
    dense: LinearCache
    pooled: object  # (batch, hidden): tanh output, whose derivative is 1 - pooled^2
    seq_len: int  # length of the sequence the [CLS] vector was taken from


class MLMHeadCache(NamedTuple):
    dense: LinearCache
    activation: ActivationCache
    layernorm: LayerNormCache
    decoder: LinearCache  # its weight is the word-embedding table (tied)


class ClassifierCache(NamedTuple):
    dropout: DropoutCache
    linear: LinearCache


def pooler_forward(sequence_output, weights):
    """The [CLS] vector through dense + tanh: (batch, seq, hidden) -> (batch, hidden)."""
    xp = array_namespace(sequence_output)
    projected, dense_cache = linear_forward(sequence_output[:, 0, :], weights["weight"], weights["bias"])
    pooled = xp.tanh(projected)
    return pooled, PoolerCache(dense_cache, pooled, sequence_output.shape[1])


def pooler_backward(d_pooled, cache: PoolerCache):
    """d_pooled (batch, hidden) -> (d_sequence_output (batch, seq, hidden), {"weight", "bias"}).

    Only position 0 ([CLS]) fed the pooler, so every other position gets zeros.
    """
    xp = array_namespace(d_pooled)
    d_projected = d_pooled * (1.0 - cache.pooled * cache.pooled)  # tanh' = 1 - tanh^2
    d_cls, grads = linear_backward(d_projected, cache.dense)
    batch, hidden = d_cls.shape
    rest = xp.zeros((batch, cache.seq_len - 1, hidden), dtype=d_cls.dtype)
    return xp.concat([d_cls[:, None, :], rest], axis=1), grads


def mlm_decoder_weight(params):
    """The (vocab, embedding_size) matrix of the MLM decoder: the word-embedding table, which
    Transformers ties to it, unless the model has its own (`tie_word_embeddings=False`)."""
    return params.get(UNTIED_DECODER, params[WORD_EMBEDDINGS])


def mlm_head_forward(sequence_output, weights, decoder_weight, *, hidden_act: str, layer_norm_eps: float):
    """Masked-LM logits: H -> E (dense, activation, LayerNorm), then E -> vocab.

    sequence_output (batch, seq, hidden) -> logits (batch, seq, vocab). `decoder_weight`
    (vocab, embedding_size) is the word-embedding table when the decoder is tied to it (the
    default), else `predictions.decoder.weight` (see `mlm_decoder_weight`); its bias is
    `predictions.bias`.
    """
    projected, dense_cache = linear_forward(sequence_output, weights["dense.weight"], weights["dense.bias"])
    activated, activation_cache = activation_forward(projected, hidden_act)
    normalized, layernorm_cache = layernorm_forward(
        activated, weights["LayerNorm.weight"], weights["LayerNorm.bias"], layer_norm_eps
    )
    logits, decoder_cache = linear_forward(normalized, decoder_weight, weights["bias"])
    return logits, MLMHeadCache(dense_cache, activation_cache, layernorm_cache, decoder_cache)


def mlm_head_backward(d_logits, cache: MLMHeadCache):
    """d_logits (batch, seq, vocab) -> (d_sequence_output (batch, seq, hidden), d_weights).

    d_weights is keyed like the forward's `weights` (`dense.weight`, `LayerNorm.bias`, `bias`
    for the decoder bias), plus `decoder.weight`: the gradient of `decoder_weight`. When that is
    the tied word-embedding table, the caller adds it to the table's lookup gradient.
    """
    d_normalized, decoder_grads = linear_backward(d_logits, cache.decoder)
    d_activated, norm_grads = layernorm_backward(d_normalized, cache.layernorm)
    del d_normalized  # perf: free each buffer once used
    d_projected, _ = activation_backward(d_activated, cache.activation)
    del d_activated
    d_sequence_output, dense_grads = linear_backward(d_projected, cache.dense)
    return d_sequence_output, {
        "dense.weight": dense_grads["weight"], "dense.bias": dense_grads["bias"],
        "LayerNorm.weight": norm_grads["weight"], "LayerNorm.bias": norm_grads["bias"],
        "bias": decoder_grads["bias"], "decoder.weight": decoder_grads["weight"],
    }


def classifier_forward(features, weights, *, dropout: float = 0.0, rng=None):
    """Dropout then a linear layer: (..., hidden) -> (..., num_labels). Used by the SOP,
    sequence-, token-classification, question-answering and multiple-choice heads."""
    dropped, dropout_cache = dropout_forward(features, dropout, rng)
    logits, linear_cache = linear_forward(dropped, weights["weight"], weights["bias"])
    return logits, ClassifierCache(dropout_cache, linear_cache)


def classifier_backward(d_logits, cache: ClassifierCache):
    """d_logits (..., num_labels) -> (d_features (..., hidden), {"weight", "bias"})."""
    d_dropped, grads = linear_backward(d_logits, cache.linear)
    d_features, _ = dropout_backward(d_dropped, cache.dropout)
    return d_features, grads
