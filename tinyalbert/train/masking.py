"""N-gram masking, as in google-research/albert's `create_pretraining_data.py`.

About 15% of the tokens of an example are chosen for prediction (round(length * 0.15) with
[CLS] and [SEP] counted, at least 1, at most `max_predictions_per_seq`), in spans of 1 to 3
whole words with P(n) proportional to 1/n. A chosen token becomes [MASK] 80% of the time, a
random vocabulary id 10% of the time (any id, the special ones included, as the original draws
from its whole vocabulary), and stays as it is 10% of the time. [CLS], [SEP], padding and a
[MASK] already in the text are never chosen.

Where this module departs from the original, on purpose:

- Words never run across [CLS] or [SEP]: the original appends a continuation piece that
  follows [SEP] to the last word before it, so one "word" could span both segments.
- An n-gram starting near the end of the sequence draws its length among the lengths that fit,
  with P(n) proportional to 1/n renormalized over them. The original draws among all lengths
  and takes what is left, so there the longest length that fits gets the probability of the
  lengths that do not as well.
- The n-gram length is drawn from the generator passed in. The original draws it from NumPy's
  global generator, which its `random_seed` does not seed, so its masks cannot be reproduced.
- Word starts are simplified, see `word_start_ids_from_pieces`.

All randomness goes through one `numpy.random.Generator` passed in: an int seed is refused
rather than turned into a generator, because every call would then restart the same stream
(two examples masked alike).
"""
from __future__ import annotations

import string
from typing import NamedTuple, Sequence

import numpy as np

from ..backend import to_numpy
from ..nn.losses import IGNORE_INDEX


class SpecialIds(NamedTuple):
    """Ids of the special tokens that pretraining inserts."""

    cls: int
    sep: int
    mask: int
    pad: int


class Masking(NamedTuple):
    """How an example is masked; one value passed wherever masking happens."""

    masked_lm_prob: float = 0.15  # share of the tokens to predict
    max_predictions_per_seq: int = 20  # cap on the predicted tokens of one example
    max_ngram: int = 3  # longest span, in whole words
    is_word_start: np.ndarray | None = None  # (vocab,) bool; None: every token is a word


_PUNCTUATION_PIECES = frozenset(string.punctuation)


def word_start_ids_from_pieces(pieces: Sequence[str]) -> np.ndarray:
    """Which SentencePiece pieces begin a word: `is_word_start`, a boolean mask over the
    vocabulary (vocab,), not a list of ids.

    `pieces[i]` is the piece of id i. A piece begins a word if it starts with '▁' (the
    SentencePiece space marker) or '<', or is a single punctuation character; any other piece
    continues the word before it. This simplifies google-research/albert's `_is_start_piece_sp`,
    which also starts a word at every piece holding a character outside a-z and punctuation
    (digits, accented letters, '€', '£'): there a number cut into pieces is masked piece by
    piece, here as one word.
    """
    return np.array(
        [piece.startswith(("\u2581", "<")) or piece in _PUNCTUATION_PIECES for piece in pieces],
        dtype=bool,
    )


def check_generator(rng) -> None:
    """Refuse anything but a `numpy.random.Generator` (an int, None, `np.random`, a RandomState)
    with a TypeError that says what to pass, instead of an AttributeError deep inside."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, e.g. np.random.default_rng(seed), "
                        f"got {type(rng).__name__}")


def check_masking(masking: Masking, vocab_size: int) -> None:
    """Raise ValueError naming the first field of `masking` that cannot work. (A NamedTuple
    cannot check itself when it is made, so the functions that mask check it.)"""
    if not 0.0 <= masking.masked_lm_prob <= 1.0:  # written so that nan fails too
        raise ValueError(f"masked_lm_prob must lie in [0, 1], got {masking.masked_lm_prob!r}")
    if masking.max_predictions_per_seq < 0:
        raise ValueError(f"max_predictions_per_seq must be >= 0, got {masking.max_predictions_per_seq!r}")
    if masking.max_ngram < 1:
        raise ValueError(f"max_ngram must be >= 1, got {masking.max_ngram!r}")
    starts = masking.is_word_start
    if starts is not None and (getattr(starts, "dtype", None) != bool or starts.shape != (vocab_size,)):
        raise ValueError(f"is_word_start must be a ({vocab_size},) bool mask (see word_start_ids_from_pieces), "
                         f"got {getattr(starts, 'dtype', type(starts).__name__)} of shape {np.shape(starts)}")


def checked_masking_inputs(token_ids, vocab_size: int, rng, masking: Masking) -> np.ndarray:
    """`token_ids` as an int64 array (an unsigned dtype cannot hold IGNORE_INDEX, -100), after
    checking the generator and the masking settings: what `mask_tokens` takes, checked once."""
    check_generator(rng)
    check_masking(masking, vocab_size)
    token_ids = np.asarray(token_ids)
    if token_ids.size and token_ids.dtype.kind not in "iu":
        raise TypeError(f"token_ids must be integer ids, got dtype {token_ids.dtype}")
    return token_ids.astype(np.int64, copy=False)  # mask_tokens copies it once, for the masked ids


def word_start_mask(word_start_ids, vocab_size: int) -> np.ndarray | None:
    """`word_start_ids` as a (vocab,) bool mask.

    Booleans (a NumPy array, a list, a torch tensor) are the mask itself, and must have one
    value per id. Integers (a set, a list, an array) are the ids that start a word, each once.
    A 0/1 integer mask is ambiguous: it reads as ids, so its repeated 0s and 1s are refused
    (pass it as `mask.astype(bool)`). A mask with no word start is refused too: every segment
    would be one long word, and nothing would be masked.
    """
    if word_start_ids is None:
        return None
    if not hasattr(word_start_ids, "shape") and not isinstance(word_start_ids, (list, tuple)):
        word_start_ids = sorted(word_start_ids)  # a set, a generator, a dict's keys: ids
    values = to_numpy(word_start_ids)
    if values.dtype == bool:
        if values.shape != (vocab_size,):
            raise ValueError(f"word_start_ids as a boolean mask must have shape ({vocab_size},), got {values.shape}")
        mask = values
    elif values.dtype.kind in "iu" or values.size == 0:  # [] reads as float
        ids = values.astype(np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
            raise ValueError(f"word_start_ids must lie in [0, {vocab_size}), got range [{ids.min()}, {ids.max()}]")
        if len(np.unique(ids)) < len(ids):
            raise ValueError("word_start_ids holds repeated ids: a 0/1 mask? Pass a mask as booleans (.astype(bool))")
        mask = np.zeros(vocab_size, dtype=bool)
        mask[ids] = True
    else:
        raise ValueError(f"word_start_ids must be integer ids or a boolean mask, got dtype {values.dtype}")
    if not mask.any():
        raise ValueError("word_start_ids marks no id as a word start: every segment would be one word, none masked")
    return mask


def ngram_length_probs(max_ngram: int) -> np.ndarray:
    """P(n) proportional to 1/n for n = 1..max_ngram: short spans are the common case. (max_ngram,)"""
    if max_ngram < 1:
        raise ValueError(f"max_ngram must be >= 1, got {max_ngram!r}")
    weights = 1.0 / np.arange(1, max_ngram + 1)
    return weights / weights.sum()


def group_into_words(
    token_ids: np.ndarray, special_ids: SpecialIds, is_word_start: np.ndarray | None
) -> list[list[int]]:
    """Positions of the maskable tokens, grouped into whole words.

    token_ids: (seq,). [CLS], [SEP], [PAD] and [MASK] are not maskable and end the word before
    them. With `is_word_start` (a (vocab,) bool mask) a token that does not start a word joins
    the word before it; without it every token is a word of its own.
    """
    specials = np.array([special_ids.cls, special_ids.sep, special_ids.pad, special_ids.mask])
    maskable = ~np.isin(token_ids, specials)
    starts = maskable.copy()
    if is_word_start is not None:
        follows_unmaskable = np.concatenate([[True], ~maskable[:-1]])
        starts &= is_word_start[token_ids] | follows_unmaskable
    words: list[list[int]] = []
    for position in np.flatnonzero(maskable).tolist():
        if starts[position]:
            words.append([position])
        else:
            words[-1].append(position)
    return words


def sample_masked_spans(
    word_lengths: Sequence[int], num_to_predict: int, rng: np.random.Generator, max_ngram: int = 3
) -> list[tuple[int, int]]:
    """Choose n-grams of whole words to mask, as `(first_word, num_words)` spans.

    Every word is a candidate start, visited in random order until `num_to_predict` tokens
    are chosen. At each start an n-gram length is drawn with P(n) ∝ 1/n (among the lengths
    that end on or before the last word); if the n-gram has more tokens than the budget has left,
    shorter n-grams are tried; an n-gram that still does not fit, or that touches a word
    already chosen, is skipped. The spans returned never overlap and hold at most
    `num_to_predict` tokens.
    """
    check_generator(rng)
    num_words = len(word_lengths)
    cumulative_probs = np.cumsum(ngram_length_probs(max_ngram))
    # tokens_before[i] = tokens in words 0..i-1, so words i..i+n-1 hold tokens_before[i+n] - tokens_before[i]
    tokens_before = np.concatenate([[0], np.cumsum(word_lengths)]).tolist()
    starts = rng.permutation(num_words).tolist()
    draws = rng.random(num_words).tolist()
    covered = [False] * num_words
    spans = []
    num_chosen = 0
    for start, draw in zip(starts, draws):
        if num_chosen >= num_to_predict:
            break
        longest = min(max_ngram, num_words - start)
        # Inverse-CDF draw among n = 1..longest, the probabilities renormalized to that range.
        num_words_in_span = 1 + int(np.searchsorted(cumulative_probs[:longest], draw * cumulative_probs[longest - 1], side="right"))
        num_words_in_span = min(num_words_in_span, longest)
        while num_words_in_span > 1 and (
            num_chosen + tokens_before[start + num_words_in_span] - tokens_before[start] > num_to_predict
        ):
            num_words_in_span -= 1
        span_tokens = tokens_before[start + num_words_in_span] - tokens_before[start]
        if num_chosen + span_tokens > num_to_predict:
            continue
        if any(covered[start : start + num_words_in_span]):
            continue
        covered[start : start + num_words_in_span] = [True] * num_words_in_span
        spans.append((start, num_words_in_span))
        num_chosen += span_tokens
    return spans


def num_tokens_to_predict(sequence_length: int, masked_lm_prob: float, max_predictions_per_seq: int) -> int:
    """How many tokens an example of `sequence_length` tokens ([CLS] and [SEP]s counted) predicts.

    round(length * masked_lm_prob), at least 1 and at most `max_predictions_per_seq`; 0 when
    `masked_lm_prob` is 0. Python's round (half to even), as the original.
    """
    if masked_lm_prob == 0:
        return 0
    return min(max_predictions_per_seq, max(1, int(round(sequence_length * masked_lm_prob))))


def mask_tokens(
    token_ids: np.ndarray,
    special_ids: SpecialIds,
    vocab_size: int,
    rng: np.random.Generator,
    masking: Masking = Masking(),
) -> tuple[np.ndarray, np.ndarray]:
    """N-gram masking of one unpadded sequence. Returns `(masked_ids, labels)`, both (seq,) int64.

    The chosen positions (see `sample_masked_spans`) get `labels` = their original id; every
    other position gets IGNORE_INDEX. Each chosen token is independently replaced by [MASK]
    (80%), left as it is (10%) or replaced by an id drawn uniformly from the whole vocabulary
    (10%; the special ids included, as the original and Transformers' DataCollatorForLanguageModeling
    draw); the last keeps the model from trusting that an unmasked token is always right.
    """
    token_ids = checked_masking_inputs(token_ids, vocab_size, rng, masking)  # (seq,) int64
    masked_ids = token_ids.copy()
    labels = np.full(token_ids.shape, IGNORE_INDEX, dtype=token_ids.dtype)
    num_to_predict = num_tokens_to_predict(len(token_ids), masking.masked_lm_prob, masking.max_predictions_per_seq)
    words = group_into_words(token_ids, special_ids, masking.is_word_start)
    if num_to_predict == 0 or not words:
        return masked_ids, labels

    spans = sample_masked_spans([len(word) for word in words], num_to_predict, rng, masking.max_ngram)
    positions = np.array(
        sorted(position for first, count in spans for word in words[first : first + count] for position in word),
        dtype=np.int64,
    )
    replace_draw = rng.random(len(positions))
    keep_draw = rng.random(len(positions))
    random_ids = rng.integers(0, vocab_size, len(positions))
    original = token_ids[positions]
    replacement = np.where(
        replace_draw < 0.8, special_ids.mask, np.where(keep_draw < 0.5, original, random_ids)
    )
    masked_ids[positions] = replacement
    labels[positions] = original
    return masked_ids, labels
