"""Metrics that tell the truth about a pretraining run, on a batch or a held-out set.

- `mlm_accuracy`: top-1 over the masked positions. On text, a good part of the targets are a
  handful of frequent pieces ("is", "a", "of", "."), so a model that only predicts word
  frequencies already scores well here;
- `mlm_accuracy_uncommon`: the same over the targets outside the `NUM_COMMON_PIECES` most
  frequent pieces of the training text: the words that carry the content;
- `final_layer_cosine`: the mean cosine between the final-layer vectors of every two tokens of
  the batch. Near 1 the model has collapsed: every position looks the same to the heads, and
  only the word frequencies can be predicted (see `tinyalbert.train.trainer`);
- `sop_accuracy`, and the mean losses `mlm_loss`, `sop_loss`.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..backend import array_namespace, asarray, to_numpy
from ..nn.losses import IGNORE_INDEX, cross_entropy_forward
from .data import PretrainingExample, collate

NUM_COMMON_PIECES = 20


def common_pieces(counts: np.ndarray, num_common: int = NUM_COMMON_PIECES) -> np.ndarray:
    """(vocab,) bool: the `num_common` pieces with the highest `counts` (vocab,)."""
    common = np.zeros(len(counts), dtype=bool)
    common[np.argsort(-counts, kind="stable")[:num_common]] = True
    return common


def mean_pairwise_cosine(hidden, attention_mask):
    """Mean cosine between the vectors of every two distinct real tokens of a batch (0-d).

    hidden: (batch, seq, hidden); attention_mask: (batch, seq), 1 on real tokens. With unit
    vectors u_i and their sum s, sum over i != j of u_i . u_j = s . s - N, so no N x N matrix.
    """
    xp = array_namespace(hidden)
    weights = xp.reshape(xp.astype(attention_mask, hidden.dtype), (-1, 1))
    vectors = xp.reshape(hidden, (-1, hidden.shape[-1]))
    units = vectors / xp.maximum(xp.sqrt(xp.sum(vectors * vectors, axis=-1, keepdims=True)), 1e-12) * weights
    total = xp.sum(units, axis=0)
    count = xp.sum(weights)
    return (xp.sum(total * total) - count) / xp.maximum(count * (count - 1), 1.0)


def _eval_mode(model):
    """Switch dropout off; returns what `_restore_mode` needs to switch it back unchanged."""
    state = (model.training, model.rng)
    model.eval()
    return state


def _restore_mode(model, state) -> None:
    training, rng = state
    if training:
        model.train(rng=rng)  # the same generator object: its stream goes on where it was


def _mlm_sums(xp, logits, labels, common) -> dict:
    labels = xp.reshape(labels, (-1,))
    logits = xp.reshape(logits, (-1, logits.shape[-1]))
    counted = labels != IGNORE_INDEX
    num_masked = xp.sum(xp.astype(counted, xp.float32))
    mlm_loss, _ = cross_entropy_forward(logits, labels)
    correct = (xp.argmax(logits, axis=-1) == labels) & counted
    uncommon = counted & ~xp.take(common, xp.where(counted, labels, xp.zeros_like(labels)))
    # The mean loss of a batch without masked tokens is nan; its sum is 0.
    return {"mlm_loss": xp.where(num_masked > 0, mlm_loss * num_masked, xp.zeros_like(mlm_loss)),
            "mlm_correct": xp.sum(xp.astype(correct, xp.float32)), "num_masked": num_masked,
            "uncommon_correct": xp.sum(xp.astype(correct & uncommon, xp.float32)),
            "num_uncommon": xp.sum(xp.astype(uncommon, xp.float32))}


def batch_metric_sums(model, batch: dict, common) -> dict:
    """Summed losses, correct-prediction counts and cosine of one batch (device arrays), dropout off.

    `common`: (vocab,) bool device array, the pieces left out of `mlm_accuracy_uncommon`.
    mlm_*: over the predicted positions (labels != -100), top-1 of the MLM logits;
    sop_*: over the examples, argmax of the two SOP logits (only for models with the SOP head).
    """
    xp = model.xp
    state = _eval_mode(model)
    try:
        output = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       token_type_ids=batch["token_type_ids"], output_hidden_states=True, return_dict=True)
    finally:
        _restore_mode(model, state)
    logits = output.prediction_logits if hasattr(output, "prediction_logits") else output.logits
    sums = _mlm_sums(xp, logits, batch["labels"], common)
    sums["cosine"] = mean_pairwise_cosine(output.hidden_states[-1], batch["attention_mask"])
    sums["num_batches"] = xp.asarray(1.0)
    if getattr(output, "sop_logits", None) is not None:
        sop_labels = batch["sentence_order_label"]
        sop_loss, _ = cross_entropy_forward(output.sop_logits, sop_labels)
        num_examples = sop_labels.shape[0]
        sums["sop_loss"] = sop_loss * num_examples
        sums["sop_correct"] = xp.sum(xp.astype(xp.argmax(output.sop_logits, axis=-1) == sop_labels, xp.float32))
        sums["num_examples"] = xp.asarray(float(num_examples))
    return sums


def metrics_from_sums(sums: dict) -> dict:
    """Turn summed losses and counts (host floats) into means and accuracies."""
    metrics = {}
    if sums.get("num_masked", 0) > 0:
        metrics["mlm_loss"] = sums["mlm_loss"] / sums["num_masked"]
        metrics["mlm_accuracy"] = sums["mlm_correct"] / sums["num_masked"]
    if sums.get("num_uncommon", 0) > 0:
        metrics["mlm_accuracy_uncommon"] = sums["uncommon_correct"] / sums["num_uncommon"]
    if sums.get("num_batches", 0) > 0:
        metrics["final_layer_cosine"] = sums["cosine"] / sums["num_batches"]
    if sums.get("num_examples", 0) > 0:
        metrics["sop_loss"] = sums["sop_loss"] / sums["num_examples"]
        metrics["sop_accuracy"] = sums["sop_correct"] / sums["num_examples"]
    return metrics


def evaluate(model, examples: Sequence[PretrainingExample], batch_size: int = 32, common=None, *,
             on_batch: Callable[[int], None] | None = None) -> dict:
    """Held-out metrics of `model` (AlbertForPreTraining, or AlbertForMaskedLM for MLM alone).

    Returns the metrics of the module docstring (SOP ones only for models with the SOP head),
    plus `num_masked` and `num_examples`. `common` ((vocab,) bool) names the frequent pieces;
    by default the `NUM_COMMON_PIECES` most frequent targets of `examples`. Dropout is off
    during the evaluation and the model's mode is left as it was. `on_batch(num_examples)` is
    called after each batch with its number of examples, e.g. a progress bar's `advance`.
    """
    if not examples:
        raise ValueError("evaluate needs at least one example")
    if common is None:
        labels = np.concatenate([example.labels for example in examples])
        common = common_pieces(np.bincount(labels[labels != IGNORE_INDEX], minlength=model.config.vocab_size))
    common = asarray(model.xp, np.asarray(common, dtype=bool))
    totals: dict = {}
    for start in range(0, len(examples), batch_size):
        host_batch = collate(examples[start : start + batch_size])
        batch = {name: asarray(model.xp, value) for name, value in host_batch.items()}
        for name, value in batch_metric_sums(model, batch, common).items():
            totals[name] = totals[name] + value if name in totals else value
        if on_batch is not None:
            on_batch(len(host_batch["input_ids"]))
    host = {name: float(to_numpy(value)) for name, value in totals.items()}
    return {**metrics_from_sums(host), "num_masked": int(host["num_masked"]), "num_examples": len(examples)}
