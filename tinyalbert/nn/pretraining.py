"""One pretraining step's loss and gradients: masked-LM (+ sentence-order prediction).

    loss = CE(MLM logits, labels)  [+ CE(SOP logits, sentence_order_label)]

computed forward with every cache kept, then backward by hand through the heads, the shared
encoder and the factorized embedding. The gradients come back keyed like `model.state_dict()`.
"""
from __future__ import annotations

from ..backend import asarray
from .albert import albert_body_backward, albert_body_forward
from .encoder import weights_below
from .heads import (
    UNTIED_DECODER, WORD_EMBEDDINGS, classifier_backward, classifier_forward, mlm_decoder_weight,
    mlm_head_backward, mlm_head_forward,
)
from .losses import cross_entropy_backward, cross_entropy_forward

SOP_PREFIX = "sop_classifier.classifier."
SOP_CLASSES = 2  # Transformers reshapes the SOP logits to (-1, 2) for its loss


def pretraining_loss_and_grads(model, input_ids, labels, sentence_order_label=None, attention_mask=None,
                               token_type_ids=None, loss_scales=(1.0, 1.0)):
    """(loss, grads) of one batch for an AlbertForPreTraining or AlbertForMaskedLM `model`.

    input_ids, labels: (batch, seq) ints, labels -100 where no prediction is asked for.
    sentence_order_label: (batch,) 0/1, or None for the MLM loss alone (AlbertForMaskedLM).
    Dropout is on when `model.training`, drawing its masks from `model.rng`.
    loss_scales: (MLM weight, SOP weight) of the two terms; data-parallel training weights each
    rank's terms by its share of the global batch (`tinyalbert.train.distributed`).
    Returns the scalar loss (an array of the model's namespace) and a dict with exactly the keys
    of `model.state_dict()`; a parameter the loss does not reach (the absolute position table of a
    relative-position model) gets zeros.
    """
    params, config, xp = model.params, model.config, model.xp
    with_sop = sentence_order_label is not None
    if with_sop and "albert.pooler.weight" not in params:
        raise ValueError(f"{type(model).__name__} has no pooler and SOP head: pass sentence_order_label=None")
    input_ids, attention_mask, token_type_ids, position_ids, _, _ = model._prepare_inputs(
        input_ids, attention_mask, token_type_ids, None, None, None
    )
    labels = asarray(xp, labels)
    if tuple(labels.shape) != tuple(input_ids.shape):
        raise ValueError(f"labels must have the shape of input_ids {tuple(input_ids.shape)}, got {tuple(labels.shape)}")
    rng = model.rng if model.training else None

    # --- forward, keeping what the backward pass needs
    body, body_cache = albert_body_forward(
        params, config, input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
        position_ids=position_ids, with_pooler=with_sop, rng=rng, keep_caches=True,
    )
    decoder_weight = mlm_decoder_weight(params)
    logits, mlm_cache = mlm_head_forward(
        body.sequence_output, weights_below(params, "predictions."), decoder_weight,
        hidden_act=config.hidden_act, layer_norm_eps=config.layer_norm_eps,
    )
    logits_shape = logits.shape
    mlm_scale, sop_scale = loss_scales
    loss, mlm_loss_cache = cross_entropy_forward(
        xp.reshape(logits, (-1, config.vocab_size)), xp.reshape(labels, (-1,))
    )
    loss = loss * mlm_scale
    del logits  # (batch, seq, vocab): the largest array of the step; the loss cache keeps the softmax
    if with_sop:
        sop_logits, sop_cache = classifier_forward(
            body.pooled_output, weights_below(params, SOP_PREFIX),
            dropout=(config.classifier_dropout_prob or 0.0) if rng is not None else 0.0, rng=rng,
        )
        sop_logits_shape = sop_logits.shape
        sop_loss, sop_loss_cache = cross_entropy_forward(
            xp.reshape(sop_logits, (-1, SOP_CLASSES)), xp.reshape(asarray(xp, sentence_order_label), (-1,))
        )
        loss = loss + sop_loss * sop_scale
    del body

    # --- backward: d loss / d term is that term's scale (1 for the plain sum)
    grads = {}
    d_logits, _ = cross_entropy_backward(mlm_scale, mlm_loss_cache)
    del mlm_loss_cache
    d_sequence_output, head_grads = mlm_head_backward(xp.reshape(d_logits, logits_shape), mlm_cache)
    del d_logits, mlm_cache
    d_decoder_weight = head_grads.pop("decoder.weight")
    grads.update({"predictions." + name: grad for name, grad in head_grads.items()})

    d_pooled = None
    if with_sop:
        d_sop_logits, _ = cross_entropy_backward(sop_scale, sop_loss_cache)
        d_pooled, sop_grads = classifier_backward(xp.reshape(d_sop_logits, sop_logits_shape), sop_cache)
        grads.update({SOP_PREFIX + name: grad for name, grad in sop_grads.items()})

    _, body_grads = albert_body_backward(d_sequence_output, d_pooled, body_cache)
    grads.update(body_grads)
    del body_cache, body_grads

    # The decoder's weight is the word-embedding table (tied): the table gets the gradient of its
    # lookup in the embedding plus that of its use as the decoder.
    if UNTIED_DECODER in params:
        grads[UNTIED_DECODER] = d_decoder_weight
    else:
        grads[WORD_EMBEDDINGS] += d_decoder_weight

    state_keys = model.state_dict().keys()
    for name in state_keys:
        if name not in grads:  # unused by this loss (e.g. position_embeddings with relative positions)
            grads[name] = xp.zeros_like(params[name])
    return loss, {name: grads[name] for name in state_keys}
