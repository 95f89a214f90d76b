"""The heads that sit on the encoder output.

Each takes weights keyed by its Transformers names below the head's prefix
(`predictions.`, `sop_classifier.classifier.`, `classifier.`, `qa_outputs.`, `albert.pooler.`).
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import array_namespace
from .activations import ActivationCache, activation_forward
from .dropout import DropoutCache, dropout_forward
from .layernorm import LayerNormCache, layernorm_forward
from .linear import LinearCache, linear_forward


class PoolerCache(NamedTuple):
    dense: LinearCache
    pooled: object  # (batch, hidden): tanh output, whose derivative is 1 - pooled^2


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
    return pooled, PoolerCache(dense_cache, pooled)


def mlm_head_forward(sequence_output, weights, decoder_weight, *, hidden_act: str, layer_norm_eps: float):
    """Masked-LM logits: H -> E (dense, activation, LayerNorm), then E -> vocab.

    sequence_output (batch, seq, hidden) -> logits (batch, seq, vocab). `decoder_weight` is the
    (vocab, embedding_size) word-embedding table: the decoder is tied to the input embedding,
    and its bias is `predictions.bias`.
    """
    projected, dense_cache = linear_forward(sequence_output, weights["dense.weight"], weights["dense.bias"])
    activated, activation_cache = activation_forward(projected, hidden_act)
    normalized, layernorm_cache = layernorm_forward(
        activated, weights["LayerNorm.weight"], weights["LayerNorm.bias"], layer_norm_eps
    )
    logits, decoder_cache = linear_forward(normalized, decoder_weight, weights["bias"])
    return logits, MLMHeadCache(dense_cache, activation_cache, layernorm_cache, decoder_cache)


def classifier_forward(features, weights, *, dropout: float = 0.0, rng=None):
    """Dropout then a linear layer: (..., hidden) -> (..., num_labels). Used by the SOP,
    sequence-, token-classification, question-answering and multiple-choice heads."""
    dropped, dropout_cache = dropout_forward(features, dropout, rng)
    logits, linear_cache = linear_forward(dropped, weights["weight"], weights["bias"])
    return logits, ClassifierCache(dropout_cache, linear_cache)
