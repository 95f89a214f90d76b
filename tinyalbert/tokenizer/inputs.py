"""What the encoding methods accept, sorted into ``[(first, second or None), ...]`` and then ids.

``tokenizer(text, text_pair)`` takes a str, a batch of str or of pairs, or (with
``is_split_into_words=True``) words; ``encode_plus`` and ``batch_encode_plus`` also take lists
of tokens or of ids, as transformers' slow tokenizers do. ``prepare_for_model`` takes both too,
where transformers' takes ids only (it passes tokens through unconverted).
Every text is checked here, and every error names the argument it is about.
"""
from __future__ import annotations

import numpy as np

from .text import check_text


def as_id_list(token_ids, name: str = "token_ids") -> list[int]:
    """Ids given as an int, a list, a NumPy array or any array with ``tolist`` -> a flat list of ints.

    Anything else is refused rather than rounded: floats here are usually logits or
    probabilities passed where their argmax was meant.
    """
    if hasattr(token_ids, "tolist"):
        token_ids = token_ids.tolist()
    if isinstance(token_ids, int) and not isinstance(token_ids, bool):
        return [token_ids]
    if not isinstance(token_ids, (list, tuple)) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in token_ids):
        raise TypeError(f"{name} must be an int or a flat list/array of ints (token ids), got {token_ids!r:.80}; "
                        "for scores, take the argmax first")
    return list(token_ids)


def _is_words(item) -> bool:
    return isinstance(item, (list, tuple)) and len(item) > 0 and isinstance(item[0], str)


def call_examples(text, text_pair, is_split_into_words: bool) -> tuple[list[tuple], bool]:
    """``tokenizer(text, text_pair)`` arguments -> ``([(first, second or None), ...], is_batched)``."""
    if is_split_into_words:
        is_batched = isinstance(text, (list, tuple)) and len(text) > 0 and isinstance(text[0], (list, tuple))
    else:
        is_batched = isinstance(text, (list, tuple))
    if not is_batched:
        if not (is_split_into_words and isinstance(text, (list, tuple))):
            check_text(text, "text")
        return [(text, text_pair)], False
    if text_pair is None:
        return batch_examples(text, is_split_into_words), True
    if not isinstance(text_pair, (list, tuple)) or len(text_pair) != len(text):
        given = type(text_pair).__name__ + (f" of length {len(text_pair)}" if isinstance(text_pair, (list, tuple))
                                            else "")
        raise ValueError(f"for a batch of {len(text)} texts, text_pair must be a list of {len(text)} texts, "
                         f"got {given}")
    return list(zip(text, text_pair)), True


def batch_examples(batch, is_split_into_words: bool) -> list[tuple]:
    """A batch of texts, of ``(first, second)`` pairs, or of word lists -> ``[(first, second or None), ...]``."""
    if not isinstance(batch, (list, tuple)):
        raise TypeError(f"the batch must be a list, got {type(batch).__name__}: {batch!r:.80}")
    examples = []
    for item in batch:
        is_pair = isinstance(item, (list, tuple)) and (
            not is_split_into_words or (len(item) > 0 and isinstance(item[0], (list, tuple))))
        if not is_pair:
            examples.append((item, None))
        elif len(item) == 2:
            examples.append((item[0], item[1]))
        else:
            raise ValueError(f"a batch item that is a list must be a (text, text_pair) pair, got {len(item)} items "
                             f"(for pre-split words pass is_split_into_words=True): {item!r:.80}")
    return examples


def _check_id(token_id, name: str, n_tokens: int) -> int:
    """`token_id` as an int, or ValueError naming `name` unless it is a whole number in 0..n_tokens-1."""
    if isinstance(token_id, bool) or not isinstance(token_id, (int, np.integer)) or not 0 <= token_id < n_tokens:
        raise ValueError(f"{name} must be a token id in 0..{n_tokens - 1}, got {token_id!r}")
    return int(token_id)


def _check_ids(item, name: str, n_tokens: int) -> list[int]:
    return [_check_id(token_id, f"{name}[{index}]", n_tokens) for index, token_id in enumerate(item)]


def ids_of_items(examples: list[tuple], tokenizer, *, batched: bool, accept_ids: bool,
                 is_split_into_words: bool, split_special_tokens: bool | None = None,
                 empty_is_ids: bool = False) -> list[tuple]:
    """``[(first, second or None), ...]`` -> ``[(ids, pair_ids or None), ...]``, no special tokens added.

    Texts (and the words of pre-split texts) go through SentencePiece in one call; lists of
    tokens and of ids (``accept_ids``) are looked up or checked. An empty list or array is
    refused, as the reference's ``encode_plus`` refuses it, unless ``empty_is_ids``: then it is
    the ids of a blank text (``prepare_for_model``).
    """
    texts, plans = [], []  # a plan: None, ("ids", ids) or ("texts", start, stop) in `texts`
    for index, example in enumerate(examples):
        for position, item in enumerate(example):
            if isinstance(item, str) and item.isascii():  # the common case, checked without building a name
                plans.append(("texts", len(texts), len(texts) + 1))
                texts.append(item)
                continue
            name = ("text", "text_pair")[position] + (f"[{index}]" if batched else "")
            if item is None and position == 1:
                plans.append(None)
            elif isinstance(item, str):
                check_text(item, name)
                plans.append(("texts", len(texts), len(texts) + 1))
                texts.append(item)
            elif is_split_into_words and _is_words(item):
                for word_index, word in enumerate(item):
                    check_text(word, f"{name}[{word_index}]")
                plans.append(("texts", len(texts), len(texts) + len(item)))
                texts.extend(item)
            elif accept_ids and _is_words(item):
                for token_index, token in enumerate(item):
                    check_text(token, f"{name}[{token_index}]")
                plans.append(("ids", tokenizer.convert_tokens_to_ids(list(item))))
            elif accept_ids and isinstance(item, (list, tuple, np.ndarray)) and (len(item) > 0 or empty_is_ids):
                plans.append(("ids", _check_ids(item, name, len(tokenizer))))
            else:
                allowed = "a str, a list of tokens or a list of ids" if accept_ids else (
                    "a str or a list of words (str)" if is_split_into_words else "a str")
                if not accept_ids and not is_split_into_words:
                    check_text(item, name)  # the bytes hint, when it is bytes
                raise TypeError(f"{name} must be {allowed}, got {type(item).__name__}: {item!r:.80}")
    ids_per_text = tokenizer._ids_batch(texts, split_special_tokens)
    ids = [None if plan is None else plan[1] if plan[0] == "ids" else ids_per_text[plan[1]]
           if plan[2] == plan[1] + 1 else [i for text_ids in ids_per_text[plan[1]:plan[2]] for i in text_ids]
           for plan in plans]
    return list(zip(ids[0::2], ids[1::2]))
