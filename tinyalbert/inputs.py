"""What a model call accepts: its inputs moved to the backend, Transformers' defaults filled in,
and every id checked against the table it indexes.

An id outside its table would not fail in array code: a negative index reads from the end
(`token_type_ids = -1` acts as type 1, a label of -5 gives a loss). So each is checked here and
a bad one raises ValueError naming the argument and the range allowed.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping

from .backend import asarray

IGNORE_INDEX = -100  # a label that the loss skips, as in torch's cross-entropy


def check_ids(xp, ids, name: str, limit: int, shape=None, allowed_extra: tuple = ()):
    """`ids` as a backend integer array, every value in [0, limit) or in `allowed_extra`."""
    ids = asarray(xp, ids)
    if not xp.isdtype(ids.dtype, "integral"):
        raise ValueError(f"{name} must be integers, got dtype {ids.dtype}")
    if shape is not None and tuple(ids.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(ids.shape)}")
    if ids.size == 0:
        return ids
    valid = (ids >= 0) & (ids < limit)
    for value in allowed_extra:
        valid = valid | (ids == value)
    if not bool(xp.all(valid)):
        bad = int(ids[xp.logical_not(valid)][0])
        extra = "".join(f" or {value}" for value in allowed_extra)
        raise ValueError(f"{name} must lie in [0, {limit}){extra}, got {bad}")
    return ids


def check_labels(xp, labels, name: str, classes: int | None, shape=None):
    """Class-id labels: each in [0, classes) or -100 (ignored). With `classes=None`, only moved."""
    if classes is None:
        return asarray(xp, labels)
    return check_ids(xp, labels, name, classes, shape, allowed_extra=(IGNORE_INDEX,))


def check_span_positions(xp, positions, name: str, batch: int):
    """Answer-span positions (batch,) as integers. Any value is allowed: the model clamps them to
    [0, seq] and ignores `seq`, as Transformers does (so -1, "no answer", becomes [CLS] at 0)."""
    positions = xp.reshape(asarray(xp, positions), (-1,))
    if not xp.isdtype(positions.dtype, "integral"):
        raise ValueError(f"{name} must be integers, got dtype {positions.dtype}")
    if tuple(positions.shape) != (batch,):
        raise ValueError(f"{name} must have one position per sequence, shape ({batch},), got {tuple(positions.shape)}")
    return positions


def refuse_mapping(value, name: str = "input_ids") -> None:
    """A tokenizer's whole output passed as `input_ids` (`model(batch)`) would become a 0-d object
    array and fail far from the mistake; say what to write instead."""
    if isinstance(value, Mapping):
        raise TypeError(f"{name} is a mapping with keys {sorted(map(str, value))[:4]} (a tokenizer's output?): "
                        "unpack it, model(**batch), or pass batch['input_ids']")


def warn_if_padded_without_mask(xp, config, input_ids) -> None:
    """Padding ids in the first or last column and no mask: the model would attend to the padding
    (an all-ones mask is filled in). Warned as Transformers warns, looking where it looks."""
    pad = config.pad_token_id
    if pad is None or not bool(xp.any((input_ids[:, 0] == pad) | (input_ids[:, -1] == pad))):
        return
    message = ("input_ids may be padded (pad_token_id %d found at the start or end of a row) and no "
               "attention_mask was given: the padding is attended to as if it were text; pass the "
               "tokenizer's attention_mask" % pad)
    if pad in (config.bos_token_id, config.eos_token_id, config.sep_token_id):
        message += " (or ignore this if the inputs are not padded: pad_token_id is also a bos/eos/sep id)"
    warnings.warn(message, stacklevel=2)  # one place: shown once per process, as Transformers warns once


def output_flags(config, output_hidden_states, output_attentions) -> tuple[bool, bool]:
    """The two output switches of a call, each defaulting (None) to the config's, as in Transformers."""
    hidden = config.output_hidden_states if output_hidden_states is None else output_hidden_states
    attentions = config.output_attentions if output_attentions is None else output_attentions
    return bool(hidden), bool(attentions)


def broadcast_over_batch(xp, ids, shape):
    """Ids of shape (seq,) or (1, seq) repeated over the batch to `shape` (batch, seq), as torch's
    embedding add broadcasts them in Transformers; any other shape is returned for `check_ids` to judge."""
    ids = asarray(xp, ids)
    if ids.ndim == 1:
        ids = ids[None, :]
    if ids.ndim == 2 and ids.shape[0] == 1 and ids.shape[1] == shape[1]:
        ids = xp.broadcast_to(ids, shape)
    return ids


def _broadcasts(shape, target) -> bool:
    """Whether an array of `shape` broadcasts to `target` (NumPy's rule: trailing axes of 1 or equal)."""
    return len(shape) <= len(target) and all(size in (1, full) for size, full in zip(shape[::-1], target[::-1]))


def check_head_mask(xp, head_mask, dtype, config, batch: int, seq: int):
    """`head_mask` in the shapes Transformers' `get_head_mask` accepts, as an array of `dtype`:

    - 1-D or 2-D, broadcast to (num_hidden_layers, num_attention_heads): `(heads,)` for every
      layer, `(layers, heads)`, `(layers, 1)` one value per layer, ...; returned (layers, heads),
      or (layers, 1) for a mask of one value per layer, which also fits layers whose heads were
      pruned (as Transformers' (layers, 1, 1, 1, 1) does).
    - 5-D, already expanded as Transformers expands it, (layers, batch, heads, seq, seq) where
      any axis may be 1; returned with its first axis broadcast to num_hidden_layers.
    """
    head_mask = asarray(xp, head_mask, dtype=dtype)
    layers, heads = config.num_hidden_layers, config.num_attention_heads
    target = (layers, heads) if head_mask.ndim <= 2 else (layers, batch, heads, seq, seq)
    if head_mask.ndim not in (1, 2, 5) or not _broadcasts(tuple(head_mask.shape), target):
        raise ValueError(
            f"head_mask must have shape ({heads},) (num_attention_heads) or ({layers}, {heads}) (num_hidden_layers, "
            f"num_attention_heads), or another that broadcasts to ({layers}, {heads}) such as ({layers}, 1), or be "
            f"5-D as Transformers expands it, ({layers}, 1, {heads}, 1, 1) (any axis of (layers, batch, heads, seq, "
            f"seq) may be 1), got {tuple(head_mask.shape)}"
        )
    if head_mask.ndim <= 2:
        return xp.broadcast_to(head_mask, (layers, head_mask.shape[-1]))
    return xp.broadcast_to(head_mask, (layers,) + tuple(head_mask.shape[1:]))


def prepare_inputs(xp, dtype, config, input_ids, attention_mask, token_type_ids, position_ids, head_mask,
                   inputs_embeds):
    """Move the inputs to `xp`, check them, and fill in Transformers' defaults: an all-ones
    mask, token type 0 everywhere, positions 0..seq-1. Ids are (batch, seq); inputs_embeds
    (batch, seq, embedding_size)."""
    if input_ids is not None and inputs_embeds is not None:
        raise ValueError("You cannot specify both input_ids and inputs_embeds at the same time")
    if input_ids is None and inputs_embeds is None:
        raise ValueError("You have to specify either input_ids or inputs_embeds")
    if input_ids is not None:
        refuse_mapping(input_ids)
        input_ids = asarray(xp, input_ids)
        if input_ids.ndim != 2:
            raise ValueError(f"input_ids must have shape (batch, seq), got {tuple(input_ids.shape)}")
        shape = tuple(input_ids.shape)
        input_ids = check_ids(xp, input_ids, "input_ids (vocab_size)", config.vocab_size)
    else:
        inputs_embeds = asarray(xp, inputs_embeds, dtype=dtype)
        if inputs_embeds.ndim != 3 or inputs_embeds.shape[-1] != config.embedding_size:
            raise ValueError(
                f"inputs_embeds must have shape (batch, seq, {config.embedding_size}), "
                f"got {tuple(inputs_embeds.shape)}"
            )
        shape = tuple(inputs_embeds.shape[:2])
    batch, seq = shape
    if batch == 0 or seq == 0:
        raise ValueError(f"the inputs are empty (shape (batch, seq) = {shape}): give at least one token of one text")
    # Absolute positions have max_position_embeddings rows; relative ones 2 * max_position_embeddings - 1
    # distances, and a longer sequence would index past those too.
    if seq > config.max_position_embeddings:
        raise ValueError(f"sequence length {seq} exceeds max_position_embeddings ({config.max_position_embeddings})")
    if attention_mask is None and input_ids is not None:
        warn_if_padded_without_mask(xp, config, input_ids)
    attention_mask = xp.ones(shape, dtype=dtype) if attention_mask is None else asarray(xp, attention_mask)
    if tuple(attention_mask.shape) != shape:
        raise ValueError(f"attention_mask must have shape {shape} like the inputs, got {tuple(attention_mask.shape)}")
    if token_type_ids is None:
        token_type_ids = xp.zeros(shape, dtype=xp.int64)
    token_type_ids = check_ids(xp, broadcast_over_batch(xp, token_type_ids, shape),
                               "token_type_ids (type_vocab_size)", config.type_vocab_size, shape)
    if position_ids is None:
        position_ids = xp.arange(seq, dtype=xp.int64)[None, :]
    position_ids = asarray(xp, position_ids)
    if position_ids.ndim == 1:  # (seq,) is broadcast over the batch, as torch's embedding lookup does
        position_ids = position_ids[None, :]
    if config.position_embedding_type == "absolute":  # the relative types do not look positions up
        position_ids = check_ids(xp, position_ids, "position_ids (max_position_embeddings)",
                                 config.max_position_embeddings)
    if position_ids.ndim != 2 or position_ids.shape[0] not in (1, batch) or position_ids.shape[1] != seq:
        raise ValueError(f"position_ids must have shape (1, {seq}) or {shape}, got {tuple(position_ids.shape)}")
    if head_mask is not None:
        head_mask = check_head_mask(xp, head_mask, dtype, config, batch, seq)
    return input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds
