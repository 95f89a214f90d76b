"""ALBERT's pretraining objective, forward and backward: masked-LM (+ sentence-order prediction).

    logits     = MLM head(sequence_output)               (batch, seq, vocab), decoder tied to the word table
    sop_logits = SOP head(pooled_output)                 (batch, 2)
    loss       = CE(logits, labels) [+ CE(sop_logits, sentence_order_label)]

Each term can carry a weight (`loss_scales`, 1 and 1 by default): data-parallel training weights
a process's terms by its share of the global batch (`tinyalbert.train.distributed`).

Functions of the parameter dict and the config alone: the model classes (AlbertForPreTraining,
AlbertForMaskedLM) check and prepare the inputs, then call `pretraining_forward` for their
forward pass and, with `pretraining_backward`, for `loss_and_grads`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..backend import array_namespace, scatter_add_rows
from .albert import AlbertBodyCache, albert_body_backward, albert_body_forward, complete_grads
from .encoder import weights_below
from .heads import (
    UNTIED_DECODER, WORD_EMBEDDINGS, ClassifierCache, MLMHeadCache, classifier_backward, classifier_forward,
    mlm_decoder_weight, mlm_head_backward, mlm_head_forward,
)
from .losses import IGNORE_INDEX, CrossEntropyCache, cross_entropy_backward, cross_entropy_forward

SOP_PREFIX = "sop_classifier.classifier."
SOP_CLASSES = 2  # Transformers reshapes the SOP logits to (-1, 2) for its loss


class PretrainingOutputs(NamedTuple):
    prediction_logits: object  # (batch, seq, vocab), or (labelled, vocab) with labelled_only
    sop_logits: object  # (batch, 2), or None when the params have no SOP head (AlbertForMaskedLM)
    hidden_states: object  # list of (batch, seq, hidden), or None
    attentions: object  # list of (batch, heads, seq, seq), or None


@dataclass
class PretrainingCache:
    """What `pretraining_backward` needs. The backward consumes it: each part is set to None once
    used, so that its arrays are freed on the way (the MLM softmax alone is batch x seq x vocab)."""

    params: dict  # the forward's parameters: the gradients are keyed and ordered like them
    body: AlbertBodyCache
    mlm_head: MLMHeadCache
    logits_shape: tuple  # (batch, seq, vocab), or (labelled, vocab) with `labelled_only`
    labelled: object  # (labelled,) flat positions the head ran on, or None: it ran on all of them
    sequence_shape: tuple  # (batch, seq, hidden) of the body's output
    mlm_loss: CrossEntropyCache  # or None without labels
    sop_head: ClassifierCache  # or None without an SOP head
    sop_loss: CrossEntropyCache  # or None without sentence_order_label
    loss_scales: tuple  # (MLM weight, SOP weight): d loss / d term in the backward


def pretraining_forward(params, config, input_ids, labels, sentence_order_label=None, attention_mask=None,
                        token_type_ids=None, position_ids=None, rng=None, *, head_mask=None, inputs_embeds=None,
                        output_hidden_states=False, output_attentions=False, keep_caches=True,
                        loss_scales=(1.0, 1.0), labelled_only=False):
    """Token ids (batch, seq) -> (loss, PretrainingOutputs, PretrainingCache or None).

    Inputs are arrays of the parameters' namespace, already checked and defaulted by the model
    (attention_mask all ones, token_type_ids zeros, position_ids 0..seq-1).
    labels: (batch, seq), -100 where nothing is predicted, or None (no MLM loss).
    sentence_order_label: (batch,) 0/1, or None (no SOP loss). loss is the sum of the losses
    asked for, each times its weight in `loss_scales` (MLM, SOP), or None. Dropout is on when an
    `rng` is given. keep_caches=False (inference) frees each layer's arrays as it goes and returns
    no cache.

    labelled_only=True (training) runs the MLM head only at the positions that have a label: the
    loss and the gradients are the same, and `prediction_logits` is (labelled, vocab) in the
    order of the flattened (batch, seq) positions. About 15% of the tokens carry a label, and the
    head's E x vocab decoder and vocab-wide softmax are a quarter of a small model's step.
    """
    xp = array_namespace(*params.values())
    with_sop = SOP_PREFIX + "weight" in params
    if sentence_order_label is not None and not with_sop:
        raise ValueError(f"the parameters have no SOP head ({SOP_PREFIX}*): pass sentence_order_label=None")
    body, body_cache = albert_body_forward(
        params, config, input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
        position_ids=position_ids, head_mask=head_mask, inputs_embeds=inputs_embeds, with_pooler=with_sop,
        output_hidden_states=output_hidden_states, output_attentions=output_attentions, rng=rng,
        keep_caches=keep_caches,
    )
    sequence_output, labelled = body.sequence_output, None
    if labelled_only and labels is not None:
        sequence_output, labels, labelled = labelled_rows(sequence_output, labels)
    logits, mlm_cache = mlm_head_forward(
        sequence_output, weights_below(params, "predictions."), mlm_decoder_weight(params),
        hidden_act=config.hidden_act, layer_norm_eps=config.layer_norm_eps,
    )
    mlm_scale, sop_scale = loss_scales
    loss = mlm_loss_cache = sop_logits = sop_cache = sop_loss_cache = None
    if labels is not None:
        loss, mlm_loss_cache = cross_entropy_forward(
            xp.reshape(logits, (-1, config.vocab_size)), xp.reshape(labels, (-1,))
        )
        loss = scaled(loss, mlm_scale)
    if with_sop:
        sop_logits, sop_cache = classifier_forward(
            body.pooled_output, weights_below(params, SOP_PREFIX), dropout=config.classifier_dropout_prob, rng=rng
        )
    if sentence_order_label is not None:
        sop_loss, sop_loss_cache = cross_entropy_forward(
            xp.reshape(sop_logits, (-1, SOP_CLASSES)), xp.reshape(sentence_order_label, (-1,))
        )
        sop_loss = scaled(sop_loss, sop_scale)
        loss = sop_loss if loss is None else loss + sop_loss
    outputs = PretrainingOutputs(logits, sop_logits, body.hidden_states, body.attentions)
    if not keep_caches:
        return loss, outputs, None
    cache = PretrainingCache(
        params, body_cache, mlm_cache, tuple(logits.shape), labelled, tuple(body.sequence_output.shape),
        mlm_loss_cache, sop_cache, sop_loss_cache,
        tuple(loss_scales),
    )
    return loss, outputs, cache


def scaled(loss, scale: float):
    """`loss` weighted by a process's share of the batch's targets. A share of 0 adds nothing: the
    process's own mean is then 0/0 = nan, and 0 * nan would make the whole batch's loss nan."""
    if scale == 1.0:
        return loss
    return array_namespace(loss).zeros_like(loss) if scale == 0 else loss * scale


def labelled_rows(sequence_output, labels):
    """The rows of sequence_output (batch, seq, hidden) whose label is not -100, as
    (labelled, hidden); their labels (labelled,); and their flat positions (labelled,)."""
    xp = array_namespace(sequence_output)
    flat_labels = xp.reshape(labels, (-1,))
    labelled = xp.nonzero(flat_labels != IGNORE_INDEX)[0]
    rows = xp.take(xp.reshape(sequence_output, (-1, sequence_output.shape[-1])), labelled, axis=0)
    return rows, xp.take(flat_labels, labelled, axis=0), labelled


def pretraining_backward(cache: PretrainingCache) -> dict:
    """The gradient of the forward's loss with respect to every parameter, keyed and ordered like
    the forward's `params`. A parameter the loss does not reach (the absolute position table of a
    relative-position model) gets zeros."""
    if cache.mlm_loss is None and cache.sop_loss is None:
        raise ValueError("pretraining_backward needs a loss: run pretraining_forward with labels")
    params = cache.params
    xp = array_namespace(*params.values())
    grads = {}
    # d loss / d term is that term's weight (1 for the plain sum).
    mlm_scale, sop_scale = cache.loss_scales
    d_sequence_output = d_pooled = d_decoder_weight = None
    if cache.mlm_loss is not None:
        d_logits, _ = cross_entropy_backward(mlm_scale, cache.mlm_loss)
        cache.mlm_loss = None
        d_sequence_output, head_grads = mlm_head_backward(xp.reshape(d_logits, cache.logits_shape), cache.mlm_head)
        del d_logits  # perf: (batch x seq, vocab), the largest array of the step
        if cache.labelled is not None:  # rows without a label get no gradient from the MLM loss
            batch, seq, hidden = cache.sequence_shape
            d_sequence_output = xp.reshape(scatter_add_rows(batch * seq, cache.labelled, d_sequence_output),
                                           (batch, seq, hidden))
        d_decoder_weight = head_grads.pop("decoder.weight")
        grads.update({"predictions." + name: grad for name, grad in head_grads.items()})
    cache.mlm_head = None
    if cache.sop_loss is not None:
        d_sop_logits, _ = cross_entropy_backward(sop_scale, cache.sop_loss)
        d_pooled, sop_grads = classifier_backward(d_sop_logits, cache.sop_head)
        grads.update({SOP_PREFIX + name: grad for name, grad in sop_grads.items()})

    _, body_grads = albert_body_backward(d_sequence_output, d_pooled, cache.body)
    cache.body = None
    grads.update(body_grads)
    if d_decoder_weight is not None:
        if UNTIED_DECODER in params:  # a decoder matrix of its own: the gradient is all its own
            grads[UNTIED_DECODER] = d_decoder_weight
        elif WORD_EMBEDDINGS in grads:
            # Tied: the decoder's weight is the word-embedding table, which gets the gradient of
            # its lookup in the embedding plus that of its use as the decoder.
            grads[WORD_EMBEDDINGS] += d_decoder_weight  # perf: in place (vocab x E)
        else:  # tied, but inputs_embeds replaced the lookup: the decoder is the table's only use
            grads[WORD_EMBEDDINGS] = d_decoder_weight
    return complete_grads(params, grads)
