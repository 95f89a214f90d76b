"""The fine-tuning losses of the four task heads, forward and backward, pure.

    loss, outputs, cache = sequence_classification_forward(params, config, inputs, labels, ...)
    grads = sequence_classification_backward(cache)

Each forward runs the ALBERT body with its caches kept, the head, and the head's loss as
Transformers 4.53.3 computes it; each backward goes from d loss = 1 back through the loss, the
head and the body. `inputs` is an `AlbertInputs` of prepared arrays (the model classes fill in
the defaults). Gradients come back keyed by the Transformers names of the parameters the loss
reaches; `tinyalbert.nn.albert.complete_grads` adds zeros for the others and puts them in the
model's order.
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import array_namespace
from .albert import AlbertBodyCache, albert_body_backward, albert_body_forward
from .encoder import weights_below
from .heads import ClassifierCache, classifier_backward, classifier_forward
from .losses import (
    bce_with_logits_backward, bce_with_logits_forward, cross_entropy_backward, cross_entropy_forward,
    mse_backward, mse_forward,
)

PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")


class AlbertInputs(NamedTuple):
    """What the body reads, as arrays of the parameters' namespace: each (batch, seq), or
    (batch, choices, seq) for multiple choice; position_ids (1, seq), (batch, seq), or
    (batch * choices, seq) for multiple choice."""
    input_ids: object
    attention_mask: object
    token_type_ids: object
    position_ids: object  # (1 or batch, seq); (1 or batch * choices, seq) for multiple choice


class HeadCache(NamedTuple):
    """What every head's backward needs: the body, the classifier layer and the loss."""
    body: AlbertBodyCache
    classifier: ClassifierCache
    logits_shape: tuple  # the classifier's output shape, before the loss reshaped it
    loss: object  # the loss function's cache (one per loss term for QA: a pair)
    loss_kind: str  # "cross_entropy", "mse", "bce" or "span" (QA: two cross-entropies)
    classifier_prefix: str  # "classifier." or "qa_outputs."


def _body(params, config, inputs: AlbertInputs, with_pooler: bool, rng):
    return albert_body_forward(
        params, config, inputs.input_ids, attention_mask=inputs.attention_mask,
        token_type_ids=inputs.token_type_ids, position_ids=inputs.position_ids, with_pooler=with_pooler,
        rng=rng, keep_caches=True,
    )


def infer_problem_type(config, labels) -> str:
    """`config.problem_type` when set, else what Transformers infers on the first batch:
    one label -> regression; integer labels -> single-label; otherwise multi-label."""
    if config.problem_type is not None:
        if config.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type must be one of {PROBLEM_TYPES}, got {config.problem_type!r}")
        return config.problem_type
    if config.num_labels == 1:
        return "regression"
    if array_namespace(labels).isdtype(labels.dtype, "integral"):
        return "single_label_classification"
    return "multi_label_classification"


def sequence_classification_forward(params, config, inputs: AlbertInputs, labels, *, problem_type: str, rng=None):
    """Loss of AlbertForSequenceClassification. labels: (batch,) ints for single-label, (batch,)
    or (batch, num_labels) floats for regression, (batch, num_labels) 0/1 floats for multi-label.

    Returns (loss, logits (batch, num_labels), cache). Regression: MSE over every entry (with one
    label, logits and labels are flattened, as Transformers squeezes them); single-label: mean
    cross-entropy, ignoring -100; multi-label: mean BCE with logits over every entry.
    """
    body, body_cache = _body(params, config, inputs, True, rng)
    logits, classifier_cache = classifier_forward(
        body.pooled_output, weights_below(params, "classifier."),
        dropout=config.classifier_dropout_prob, rng=rng,
    )
    xp = array_namespace(logits)
    num_labels = config.num_labels
    if problem_type == "regression":
        targets = xp.astype(labels, logits.dtype)
        if num_labels == 1:
            loss, loss_cache = mse_forward(xp.reshape(logits, (-1,)), xp.reshape(targets, (-1,)))
        else:
            loss, loss_cache = mse_forward(logits, targets)
        kind = "mse"
    elif problem_type == "single_label_classification":
        loss, loss_cache = cross_entropy_forward(xp.reshape(logits, (-1, num_labels)), xp.reshape(labels, (-1,)))
        kind = "cross_entropy"
    else:
        loss, loss_cache = bce_with_logits_forward(logits, xp.astype(labels, logits.dtype))
        kind = "bce"
    cache = HeadCache(body_cache, classifier_cache, tuple(logits.shape), loss_cache, kind, "classifier.")
    return loss, logits, cache


def token_classification_forward(params, config, inputs: AlbertInputs, labels, *, rng=None):
    """Loss of AlbertForTokenClassification: mean cross-entropy over the tokens whose label is
    not -100. labels (batch, seq) ints. Returns (loss, logits (batch, seq, num_labels), cache).

    The head's dropout is classifier_dropout_prob, or hidden_dropout_prob when that is None.
    """
    body, body_cache = _body(params, config, inputs, False, rng)
    p = config.hidden_dropout_prob if config.classifier_dropout_prob is None else config.classifier_dropout_prob
    logits, classifier_cache = classifier_forward(
        body.sequence_output, weights_below(params, "classifier."), dropout=p, rng=rng
    )
    xp = array_namespace(logits)
    loss, loss_cache = cross_entropy_forward(
        xp.reshape(logits, (-1, config.num_labels)), xp.reshape(labels, (-1,))
    )
    cache = HeadCache(body_cache, classifier_cache, tuple(logits.shape), loss_cache, "cross_entropy", "classifier.")
    return loss, logits, cache


def question_answering_forward(params, config, inputs: AlbertInputs, start_positions, end_positions, *, rng=None):
    """Loss of AlbertForQuestionAnswering: the mean of the start and end cross-entropies.

    start_positions, end_positions: (batch,) or (batch, 1) token indices. As in Transformers,
    they are clamped to [0, seq] and the value seq is ignored, so an answer cut off by
    truncation (any position >= seq) adds nothing, while a negative position counts as 0.
    Returns (loss, (start_logits, end_logits) each (batch, seq), cache). The head has no dropout.
    """
    body, body_cache = _body(params, config, inputs, False, rng)
    logits, classifier_cache = classifier_forward(body.sequence_output, weights_below(params, "qa_outputs."))
    xp = array_namespace(logits)
    start_logits, end_logits = logits[..., 0], logits[..., 1]
    seq = start_logits.shape[1]
    start = xp.clip(xp.reshape(start_positions, (-1,)), 0, seq)
    end = xp.clip(xp.reshape(end_positions, (-1,)), 0, seq)
    start_loss, start_cache = cross_entropy_forward(start_logits, start, ignore_index=seq)
    end_loss, end_cache = cross_entropy_forward(end_logits, end, ignore_index=seq)
    cache = HeadCache(body_cache, classifier_cache, tuple(logits.shape), (start_cache, end_cache), "span", "qa_outputs.")
    return (start_loss + end_loss) / 2, (start_logits, end_logits), cache


def multiple_choice_forward(params, config, inputs: AlbertInputs, labels, *, rng=None):
    """Loss of AlbertForMultipleChoice. inputs are (batch, choices, seq), labels (batch,) the
    index of the right choice (-100: ignored). Every choice runs through the body as its own
    sequence; its pooled vector gets one score. Returns (loss, logits (batch, choices), cache)."""
    xp = array_namespace(inputs.input_ids)
    batch, choices, seq = inputs.input_ids.shape
    flat = AlbertInputs(*(xp.reshape(value, (-1, value.shape[-1])) for value in inputs))
    body, body_cache = _body(params, config, flat, True, rng)
    scores, classifier_cache = classifier_forward(
        body.pooled_output, weights_below(params, "classifier."),
        dropout=config.classifier_dropout_prob, rng=rng,
    )
    logits = xp.reshape(scores, (batch, choices))
    loss, loss_cache = cross_entropy_forward(logits, xp.reshape(labels, (-1,)))
    cache = HeadCache(body_cache, classifier_cache, tuple(scores.shape), loss_cache, "cross_entropy", "classifier.")
    return loss, logits, cache


def _d_logits(cache: HeadCache):
    """d loss / d logits, shaped like the classifier's output."""
    if cache.loss_kind == "span":
        d_start, _ = cross_entropy_backward(0.5, cache.loss[0])  # loss = (start + end) / 2
        d_end, _ = cross_entropy_backward(0.5, cache.loss[1])
        return array_namespace(d_start).stack([d_start, d_end], axis=-1)
    backward = {"cross_entropy": cross_entropy_backward, "mse": mse_backward, "bce": bce_with_logits_backward}
    d_logits, _ = backward[cache.loss_kind](1.0, cache.loss)
    return array_namespace(d_logits).reshape(d_logits, cache.logits_shape)


def head_backward(cache: HeadCache) -> dict:
    """Gradients of the loss with respect to every parameter it reaches, keyed by full names.

    The body's cache is consumed. The pooler gets the classifier's gradient for the heads that
    read the pooled vector (sequence classification, multiple choice), the sequence output for
    the others.
    """
    d_features, classifier_grads = classifier_backward(_d_logits(cache), cache.classifier)
    grads = {cache.classifier_prefix + name: grad for name, grad in classifier_grads.items()}
    reads_pooled = cache.body.pooler is not None
    d_sequence, d_pooled = (None, d_features) if reads_pooled else (d_features, None)
    _, body_grads = albert_body_backward(d_sequence, d_pooled, cache.body)
    grads.update(body_grads)
    return grads


# One backward serves all four heads; the names say which forward each one undoes.
sequence_classification_backward = head_backward
token_classification_backward = head_backward
question_answering_backward = head_backward
multiple_choice_backward = head_backward
