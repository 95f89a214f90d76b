"""From token ids to model inputs: special tokens, truncation (with overflow), padding, arrays.

The functions here know nothing of text: they take lists of ids and the resolved options, so the
rules of ``[CLS] A [SEP] B [SEP]``, of truncation and of padding can each be read in one place.
The argument handling follows transformers 4.53.3 (``padding=True`` means "longest", a lone
``max_length`` switches on ``longest_first`` truncation, and so on).
"""
from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from ..backend import is_torch_tensor

PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")
# What each field is padded with; fields not listed here (length, overflow) are left alone.
PAD_VALUES = {"token_type_ids": 0, "special_tokens_mask": 1, "attention_mask": 0}
# Transformers' model_max_length when nothing sets one ("no limit"), and the size above which a
# model_max_length means no limit.
VERY_LARGE_INTEGER = int(1e30)
LARGE_INTEGER = int(1e20)


_TOKENIZER_FILES = os.path.dirname(os.path.abspath(__file__)) + os.sep


def caller_stacklevel() -> int:
    """The `stacklevel` of a warning raised here that names the first line outside the
    tokenizer's modules: the user's call, however deep inside the tokenizer it went (`encode`
    passes through `encode_plus`, `pad` goes straight here)."""
    frame, level = sys._getframe(1), 1  # the function that warns
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_TOKENIZER_FILES):
        frame, level = frame.f_back, level + 1
    return level


class BatchEncoding(dict):
    """The tokenizer's output: a dict (``input_ids``, ``token_type_ids``, ...) with attribute access."""

    # As a slow tokenizer's output in Transformers: no `tokenizers` encodings behind it.
    is_fast = False
    encodings = None
    n_sequences = None

    def convert_to_tensors(self, tensor_type=None, prepend_batch_axis: bool = False) -> "BatchEncoding":
        """Turn the fields into arrays of `tensor_type` ("np", "pt" or an array namespace), in
        place, with a batch axis of 1 in front when `prepend_batch_axis`; returns self."""
        if tensor_type is not None:
            lists = {key: value.tolist() if hasattr(value, "tolist") else value for key, value in self.items()}
            self.update(to_arrays(lists, tensor_type, prepend_batch_axis))
        return self

    def __dir__(self):  # the methods of the table below are listed, as Transformers' class has them
        return sorted({*super().__dir__(), *FAST_TOKENIZER_METHODS})

    def __getattr__(self, name):
        if name in FAST_TOKENIZER_METHODS:  # a method that raises, as in Transformers with a slow tokenizer
            return functools.partial(_needs_fast_tokenizer, name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no field {name!r}; it has {sorted(self)}") from None

    @property
    def data(self) -> dict:
        """The fields as a plain dict, as Transformers' `BatchEncoding.data`."""
        return dict(self)

    def to(self, device) -> "BatchEncoding":
        """Move the torch tensors to `device`, as Transformers' does
        (`tokenizer(text, return_tensors="pt").to(model.device)`); other values stay. Returns self."""
        for key, value in self.items():
            if callable(getattr(value, "to", None)):
                self[key] = value.to(device)
        return self


# Transformers' BatchEncoding maps tokens to words, characters and sequences through a fast
# tokenizer's offsets; with a slow tokenizer these methods raise ValueError. So do they here (an
# AttributeError would read like a missing field), each with what to use instead, where there is one.
FAST_TOKENIZER_METHODS = {
    "tokens": 'tokenizer.convert_ids_to_tokens(encoding["input_ids"]) gives the tokens',
    "sequence_ids": "token_type_ids tell the sequences of a pair apart",
    "token_to_sequence": "token_type_ids tell the sequences of a pair apart",
    **dict.fromkeys(("words", "word_ids", "token_to_word", "word_to_tokens", "token_to_chars", "char_to_token",
                     "word_to_chars", "char_to_word"), ""),
}


def _needs_fast_tokenizer(method: str, *_arguments, **_options) -> None:
    """Raise the ``ValueError`` of a ``BatchEncoding`` method that needs a fast tokenizer's alignment."""
    hint = FAST_TOKENIZER_METHODS[method]
    raise ValueError(f"{method}() is not available with the slow (SentencePiece) AlbertTokenizer, as in Transformers: "
                     "it needs the word and character offsets of a fast tokenizer, which tinyalbert does not have"
                     + (f"; {hint}" if hint else ""))


class EncodeOptions(NamedTuple):
    """Every choice that turns ids into model inputs, after ``resolve_strategies``."""

    add_special_tokens: bool = True
    padding: str = "do_not_pad"
    truncation: str = "do_not_truncate"
    max_length: int | None = None
    stride: int = 0
    pad_to_multiple_of: int | None = None
    padding_side: str = "right"
    truncation_side: str = "right"
    return_token_type_ids: bool | None = None
    return_attention_mask: bool | None = None
    return_overflowing_tokens: bool = False
    return_special_tokens_mask: bool = False
    return_length: bool = False
    verbose: bool = True  # False: no warnings about the options or the lengths, as in Transformers


def resolve_strategies(padding, truncation, max_length, pad_to_multiple_of, model_max_length, verbose: bool = True,
                       truncates: bool = True):
    """The user's padding/truncation arguments -> ``(padding, truncation, max_length)`` by name.

    ``max_length`` alone switches on ``longest_first`` truncation, with a warning, as in
    Transformers; ``padding="max_length"`` or truncation without ``max_length`` use
    ``model_max_length``. ``verbose=False`` silences the warnings. ``truncates=False``: the
    caller (``pad``) never cuts, so a lone ``max_length`` is said to do nothing instead.
    """
    # transformers' PaddingStrategy / TruncationStrategy enums carry the names in `.value`.
    padding, truncation = getattr(padding, "value", padding), getattr(truncation, "value", truncation)
    if max_length is not None and padding is False and truncation is None:
        if verbose and truncates:
            warnings.warn(f"max_length={max_length} without truncation: truncating with 'longest_first', as "
                          "Transformers does; pass truncation=True (or a strategy such as 'only_second' for pairs) "
                          "to say so", stacklevel=caller_stacklevel())
        elif verbose:
            warnings.warn(f"max_length={max_length} does nothing with padding=False: pad never cuts; pass "
                          "padding='max_length' to pad to it", stacklevel=caller_stacklevel())
        truncation = "longest_first"
    if padding is True:
        if verbose and max_length is not None and truncation in (None, False, "do_not_truncate"):
            warnings.warn("max_length is ignored when padding=True and there is no truncation; "
                          "use padding='max_length' to pad to max_length", stacklevel=caller_stacklevel())
        padding = "longest"
    elif padding is False or padding is None:
        padding = "do_not_pad"
    if truncation is True:
        truncation = "longest_first"
    elif truncation is False or truncation is None:
        truncation = "do_not_truncate"
    if padding not in PADDING_STRATEGIES:
        raise ValueError(f"padding must be True, False or one of {PADDING_STRATEGIES}, got {padding!r}")
    if truncation not in TRUNCATION_STRATEGIES:
        raise ValueError(f"truncation must be True, False or one of {TRUNCATION_STRATEGIES}, got {truncation!r}")
    if max_length is None and (padding == "max_length" or truncation != "do_not_truncate"):
        if model_max_length is None or model_max_length > LARGE_INTEGER:  # no limit known: as Transformers, do neither
            if padding == "max_length":
                if verbose:
                    warnings.warn("padding='max_length' without max_length, and the tokenizer has no "
                                  "model_max_length: not padding", stacklevel=caller_stacklevel())
                padding = "do_not_pad"
            if truncation != "do_not_truncate":
                if verbose:
                    warnings.warn("truncation without max_length, and the tokenizer has no model_max_length: "
                                  "not truncating", stacklevel=caller_stacklevel())
                truncation = "do_not_truncate"
        else:
            max_length = model_max_length
    if (truncation != "do_not_truncate" and padding != "do_not_pad" and pad_to_multiple_of is not None
            and max_length is not None and max_length % pad_to_multiple_of != 0):
        raise ValueError(f"truncation to max_length={max_length} and padding to a multiple of {pad_to_multiple_of} "
                         f"are both on, but {max_length} is not a multiple of {pad_to_multiple_of}")
    return padding, truncation, max_length


def _cut(sequence: list[int], n_remove: int, stride: int, side: str) -> tuple[list[int], list[int]]:
    """Remove ``n_remove`` ids from ``side``; the overflow is what went, plus ``stride`` ids kept before it."""
    window = min(len(sequence), stride + n_remove)
    if side == "left":
        return sequence[n_remove:], sequence[:window]
    return sequence[: len(sequence) - n_remove], sequence[len(sequence) - window :]


def truncate_sequences(ids: list[int], pair_ids: list[int] | None, n_remove: int, strategy: str, side: str,
                       stride: int = 0) -> tuple[list[int], list[int] | None, list[int]]:
    """Remove ``n_remove`` ids by ``strategy``; returns ``(ids, pair_ids, overflowing_ids)``.

    Where the reference cannot reach ``max_length`` it logs an error and returns the sequences
    uncut; here that is a ``ValueError`` saying what to change.
    """
    if n_remove <= 0:
        return ids, pair_ids, []
    if strategy == "only_first" or (strategy == "longest_first" and pair_ids is None):
        if len(ids) <= n_remove:
            raise ValueError(
                f"cannot truncate: {n_remove} tokens must go but the first sequence has only {len(ids)}; "
                + ("raise max_length or use truncation='longest_first' or 'only_second'"
                   if strategy == "only_first" else "raise max_length"))
        ids, overflow = _cut(ids, n_remove, stride, side)
        return ids, pair_ids, overflow
    if strategy == "only_second":
        if pair_ids is None:  # the reference silently leaves the sequence too long here
            raise ValueError(f"cannot truncate: truncation='only_second' needs a text_pair, and the text "
                             f"is {n_remove} tokens over max_length")
        if len(pair_ids) <= n_remove:
            raise ValueError(f"cannot truncate: {n_remove} tokens must go but the second sequence has only "
                             f"{len(pair_ids)}; raise max_length or use truncation='longest_first' or 'only_first'")
        pair_ids, overflow = _cut(pair_ids, n_remove, stride, side)
        return ids, pair_ids, overflow
    # longest_first on a pair: shorten the longer sequence until both are equally long, then take
    # the rest from both alike, the second sequence giving up the odd token. No overflow is kept.
    if n_remove > len(ids) + len(pair_ids):
        raise ValueError(f"cannot truncate the pair to max_length: {n_remove} tokens must go but both sequences "
                         f"together have {len(ids) + len(pair_ids)}; max_length must leave room for the 3 special "
                         "tokens")
    from_longer = min(abs(len(pair_ids) - len(ids)), n_remove)
    shared = n_remove - from_longer
    if len(ids) > len(pair_ids):
        n_first, n_second = from_longer + shared // 2, shared - shared // 2
    else:
        n_first, n_second = shared // 2, from_longer + shared - shared // 2
    return _cut(ids, n_first, 0, side)[0], _cut(pair_ids, n_second, 0, side)[0], []


def build_inputs_with_special_tokens(ids: list[int], pair_ids: list[int] | None, cls_id: int,
                                     sep_id: int) -> list[int]:
    """``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]``."""
    if pair_ids is None:
        return [cls_id] + list(ids) + [sep_id]
    return [cls_id] + list(ids) + [sep_id] + list(pair_ids) + [sep_id]


def token_type_ids_for(ids: list[int], pair_ids: list[int] | None) -> list[int]:
    """0 for ``[CLS] A [SEP]``, 1 for ``B [SEP]``."""
    first = [0] * (len(ids) + 2)
    return first if pair_ids is None else first + [1] * (len(pair_ids) + 1)


def special_tokens_mask_for(ids: list[int], pair_ids: list[int] | None) -> list[int]:
    """1 where ``build_inputs_with_special_tokens`` puts a special token, else 0."""
    first = [1] + [0] * len(ids) + [1]
    return first if pair_ids is None else first + [0] * len(pair_ids) + [1]


def check_options(options: EncodeOptions, has_pair: bool) -> None:
    """Refuse the option combinations that have no defined result.

    The reference refuses the first two with the same reasons; the third,
    ``return_overflowing_tokens`` without a ``max_length``, makes it crash with a ``TypeError``.
    """
    if options.return_token_type_ids and not options.add_special_tokens:
        raise ValueError("return_token_type_ids=True needs add_special_tokens=True: without [CLS] and [SEP] "
                         "the token types are not defined; leave return_token_type_ids unset")
    if options.return_overflowing_tokens and options.truncation == "longest_first" and has_pair:
        raise ValueError("return_overflowing_tokens is not possible for pairs with truncation='longest_first'; "
                         "use truncation='only_first' or 'only_second'")
    if options.return_overflowing_tokens and options.max_length is None:
        raise ValueError("return_overflowing_tokens needs max_length (or truncation, which uses model_max_length)")


def prepare_example(ids: list[int], pair_ids: list[int] | None, options: EncodeOptions, cls_id: int,
                    sep_id: int) -> dict[str, list[int] | int]:
    """Truncate one example and add the special tokens; no padding, no attention mask.

    The caller has run ``check_options`` on ``options`` and decided ``return_token_type_ids``
    from ``model_input_names`` where it was None.
    """
    n_special = (3 if pair_ids is not None else 2) if options.add_special_tokens else 0
    total = len(ids) + (len(pair_ids) if pair_ids is not None else 0) + n_special
    encoded, overflow = {}, []
    # A max_length of 0 switches truncation off, as in the reference.
    if options.truncation != "do_not_truncate" and options.max_length and total > options.max_length:
        ids, pair_ids, overflow = truncate_sequences(ids, pair_ids, total - options.max_length, options.truncation,
                                                     options.truncation_side, options.stride)
    if options.return_overflowing_tokens:
        encoded["overflowing_tokens"] = overflow
        encoded["num_truncated_tokens"] = total - options.max_length  # negative when nothing was cut
    if options.add_special_tokens:
        encoded["input_ids"] = build_inputs_with_special_tokens(ids, pair_ids, cls_id, sep_id)
    else:
        encoded["input_ids"] = list(ids) + list(pair_ids or [])
    if options.return_token_type_ids is not False:
        encoded["token_type_ids"] = (token_type_ids_for(ids, pair_ids) if options.add_special_tokens
                                     else [0] * len(encoded["input_ids"]))
    if options.return_special_tokens_mask:
        encoded["special_tokens_mask"] = (special_tokens_mask_for(ids, pair_ids) if options.add_special_tokens
                                          else [0] * len(encoded["input_ids"]))
    return encoded


def warn_if_too_long(lengths: list[int], max_length: int | None, model_max_length: int | None) -> None:
    """Warn when sequences exceed ``model_max_length`` and nothing (no ``max_length``) cut them."""
    if max_length is not None or not model_max_length or model_max_length > LARGE_INTEGER:
        return
    too_long = [n for n in lengths if n > model_max_length]
    if too_long:
        warnings.warn(
            f"{len(too_long)} of {len(lengths)} sequences are longer than model_max_length={model_max_length} "
            f"(longest: {max(too_long)} tokens) and truncation is off; the model cannot take them. "
            "Pass truncation=True to cut them.", stacklevel=caller_stacklevel())


def padded_length(lengths: list[int], padding: str, max_length: int | None, pad_to_multiple_of: int | None):
    """The length every sequence is padded to (None: no padding)."""
    if padding == "do_not_pad" or not lengths:
        return None
    target = max(lengths) if padding == "longest" else max_length
    if target is not None and pad_to_multiple_of and target % pad_to_multiple_of:
        target += pad_to_multiple_of - target % pad_to_multiple_of
    return target


def pad_example(encoded: dict, length: int | None, pad_id: int, side: str, attention_mask: bool) -> dict:
    """Pad the sequence fields of one example to ``length`` on ``side``; add its attention mask."""
    n_real = len(encoded["input_ids"])
    if attention_mask and "attention_mask" not in encoded:
        encoded["attention_mask"] = [1] * n_real
    difference = 0 if length is None else length - n_real
    if difference <= 0:
        return encoded
    for key in [key for key in encoded if key == "input_ids" or key in PAD_VALUES]:
        if key == "attention_mask" and not attention_mask:
            continue
        padding = [pad_id if key == "input_ids" else PAD_VALUES[key]] * difference
        encoded[key] = encoded[key] + padding if side == "right" else padding + encoded[key]
    return encoded


def _as_lists(values):
    """An array, or a list of arrays or lists -> plain (nested) lists."""
    if hasattr(values, "tolist"):
        return values.tolist()
    if isinstance(values, (list, tuple)):
        return [value.tolist() if hasattr(value, "tolist") else list(value) if isinstance(value, (list, tuple))
                else value for value in values]
    return values


def lists_and_array_kind(encoded_inputs, return_tensors):
    """Fields as plain lists, and the array kind to give back: ``return_tensors``, else that of the input."""
    if return_tensors is None:
        sample = encoded_inputs["input_ids"]
        if isinstance(sample, (list, tuple)) and len(sample) > 0:
            sample = sample[0]
        if isinstance(sample, np.ndarray):
            return_tensors = "np"
        elif is_torch_tensor(sample):  # it has no __array_namespace__
            return_tensors = "pt"
        elif hasattr(sample, "__array_namespace__"):
            return_tensors = sample.__array_namespace__()
    return {key: _as_lists(values) for key, values in encoded_inputs.items()}, return_tensors


def examples_to_pad(encoded_inputs, return_tensors) -> tuple[list[dict], bool, object]:
    """What ``pad`` accepts -> ``(examples as dicts of lists, is it a single example, array kind to return)``.

    ``encoded_inputs`` is one encoding, a batch as a dict of lists, or a list of encodings.
    """
    if isinstance(encoded_inputs, (list, tuple)) and encoded_inputs and isinstance(encoded_inputs[0], Mapping):
        encoded_inputs = {key: [example[key] for example in encoded_inputs] for key in encoded_inputs[0]}
    if not isinstance(encoded_inputs, Mapping) or "input_ids" not in encoded_inputs:
        raise ValueError("pad needs an encoding (or a list of encodings) with input_ids, got "
                         f"{type(encoded_inputs).__name__}")
    inputs, return_tensors = lists_and_array_kind(encoded_inputs, return_tensors)
    if not inputs["input_ids"]:
        return [], False, return_tensors
    if not isinstance(inputs["input_ids"][0], (list, tuple)):
        return [inputs], True, return_tensors
    n_examples = len(inputs["input_ids"])
    if any(len(values) != n_examples for values in inputs.values()):
        raise ValueError(f"every field must hold {n_examples} examples, like input_ids; got "
                         f"{ {key: len(values) for key, values in inputs.items()} }")
    return [{key: values[i] for key, values in inputs.items()} for i in range(n_examples)], False, return_tensors


def to_arrays(batch: dict, return_tensors, add_batch_axis: bool) -> dict:
    """Lists -> int64 arrays of ``return_tensors``: "np", "pt" (torch tensors, for feeding
    Transformers' model side by side) or an array namespace module."""
    if return_tensors is None:
        return batch
    if return_tensors == "pt":
        try:
            import torch
        except ImportError:
            raise ImportError("return_tensors='pt' needs torch (pip install torch); 'np' needs nothing more") from None
        return_tensors = torch  # torch has asarray and int64, as an array namespace does
    if isinstance(return_tensors, str):
        if return_tensors != "np":
            raise ValueError(f"return_tensors must be None, 'np', 'pt' or an array namespace module, "
                             f"got {return_tensors!r}")
        xp = np
    else:
        xp = return_tensors
    arrays = {}
    for key, values in batch.items():
        if add_batch_axis:
            values = [values]
        if values and isinstance(values[0], list) and len({len(row) for row in values}) > 1:
            if key != "input_ids" and key not in PAD_VALUES:  # padding leaves this field as it is
                raise ValueError(f"cannot make an array of {key}: its rows have different lengths and padding "
                                 f"does not pad {key}; leave return_tensors unset to get lists, or leave {key} out")
            raise ValueError(f"cannot make an array of {key}: the sequences have different lengths; "
                             "pass padding=True (and truncation=True for long texts)")
        if np.asarray(values).dtype.kind == "f":  # e.g. regression labels padded along: kept as numbers
            arrays[key] = xp.asarray(values)
        else:
            arrays[key] = xp.asarray(values, dtype=xp.int64)
    return arrays
