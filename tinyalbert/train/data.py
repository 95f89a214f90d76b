"""Pretraining examples for ALBERT: sentence-order pairs with n-gram masking.

The recipe is the one of google-research/albert's `create_pretraining_data.py`:

1. A corpus is a list of documents; a document is a list of sentences; a sentence is a list
   of token ids. Nothing here needs a tokenizer object, only ids and the four special ids.
2. Consecutive sentences of one document are gathered until they reach a target length
   (`max_seq_length - 3`, or with probability `short_seq_prob` a random shorter one) and cut
   at a random sentence boundary into segment A (the front) and segment B (the rest).
3. Sentence-order prediction (SOP): with probability 0.5 A and B trade places. The label is
   1 when they were swapped and 0 when they are in document order, as
   `AlbertForPreTraining`'s `sentence_order_label` expects.
4. The pair is trimmed to `max_seq_length - 3` tokens, one token at a time from the longer
   segment, from its front or back at random, and laid out as `[CLS] A [SEP] B [SEP]`.
5. N-gram masking: about 15% of the tokens are chosen for prediction, in spans of 1 to 3
   whole words with P(n) proportional to 1/n. A chosen token becomes [MASK] 80% of the time,
   a random vocabulary id 10% of the time, and stays as it is 10% of the time.

Where this module departs from the original, on purpose:

- The short target length is drawn again for every pair (the original draws it once per
  document), so that the fraction of short pairs is `short_seq_prob` whatever the
  document lengths.
- A chunk of a single sentence is cut inside the sentence into A and B. The original takes B
  from a random other document there, which gives an SOP label that says nothing about order.
- Words never run across [CLS] or [SEP], and an n-gram starting near the end of the sequence
  draws its length only among the lengths that fit.

All randomness goes through one `numpy.random.Generator` passed in, so a seed fixes the data.
"""
from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Sequence

import numpy as np

IGNORE_INDEX = -100  # label of the positions that are not predicted (cross-entropy skips them)
FIELDS = ("input_ids", "token_type_ids", "attention_mask", "labels", "sentence_order_label")


class SpecialIds(NamedTuple):
    """Ids of the special tokens that pretraining inserts."""

    cls: int
    sep: int
    mask: int
    pad: int


class PretrainingExample(NamedTuple):
    """One `[CLS] A [SEP] B [SEP]` example, padded to `max_seq_length` (seq)."""

    input_ids: np.ndarray  # (seq,) int32, masked ids
    token_type_ids: np.ndarray  # (seq,) int32, 0 for [CLS] A [SEP], 1 for B [SEP], 0 on padding
    attention_mask: np.ndarray  # (seq,) int32, 1 on tokens, 0 on padding
    labels: np.ndarray  # (seq,) int32, original id where predicted, IGNORE_INDEX elsewhere
    sentence_order_label: int  # 1 if A and B were swapped, 0 if in document order


# --- raw text -> documents ---------------------------------------------------------------------
# A sentence ends at '.', '!' or '?' (possibly repeated and followed by closing quotes or
# brackets) when whitespace and then a capital letter or an opening quote come next.
_SENTENCE_END = re.compile(r"""([.!?]+["'\u201d\u2019)\]]*)\s+(?=["'\u201c\u2018(\[]?[A-Z])""")
# Titles written with a period that almost never end a sentence in English prose.
_ABBREVIATIONS = frozenset({"Mr", "Mrs", "Ms", "Dr", "Prof", "Sr", "Jr", "St", "vs"})
_LAST_WORD_BEFORE_PERIOD = re.compile(r"""(\w+)\.$""")


def _ends_with_abbreviation(text: str) -> bool:
    """True if `text` ends with a title ("Dr.") or an initial ("J.") rather than a sentence."""
    match = _LAST_WORD_BEFORE_PERIOD.search(text)
    if match is None:
        return False
    word = match.group(1)
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isupper())


def split_sentences(text: str) -> list[str]:
    """Split English text into sentences with a few fixed rules.

    A boundary is '.', '!' or '?' (and any closing quotes/brackets after it) followed by
    whitespace and a capital letter or an opening quote. A period after a common title
    (Mr, Mrs, Ms, Dr, Prof, Sr, Jr, St, vs) or after a single capital letter (an initial) is
    not a boundary. Whitespace runs, newlines included, become single spaces.

    >>> split_sentences('It rained. "Stay in," said Dr. Lee! Why? no idea.')
    ['It rained.', '"Stay in," said Dr. Lee!', 'Why? no idea.']
    """
    text = " ".join(text.split())
    sentences = []
    start = 0
    for boundary in _SENTENCE_END.finditer(text):
        candidate = text[start : boundary.end(1)]
        if _ends_with_abbreviation(candidate):
            continue
        sentences.append(candidate)
        start = boundary.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def read_documents(path_or_dir: str | Path) -> list[list[str]]:
    """Read a text corpus into documents, each a list of sentences.

    `path_or_dir` is one text file or a directory whose `*.txt` files (searched recursively,
    read in sorted order) make the corpus. In a file, blank lines separate documents and
    every other line is a sentence or a paragraph, split further with `split_sentences`.
    The end of a file ends a document too.
    """
    path = Path(path_or_dir)
    if not path.exists():
        raise FileNotFoundError(f"corpus path {str(path)!r} does not exist")
    if path.is_dir():
        files = sorted(file for file in path.rglob("*.txt") if file.is_file())
        if not files:
            raise FileNotFoundError(f"corpus directory {str(path)!r} has no .txt files")
    else:
        files = [path]

    documents = []
    for file in files:
        document: list[str] = []
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                document.extend(split_sentences(line))
            elif document:
                documents.append(document)
                document = []
        if document:
            documents.append(document)
    return documents


def encode_documents(
    documents: Iterable[Iterable[str]], encode: Callable[[str], Sequence[int]]
) -> list[list[list[int]]]:
    """Turn documents of sentence strings into documents of token-id lists with `encode`.

    `encode` is any str -> ids function (e.g. a tokenizer's `encode` without special tokens).
    Sentences that encode to nothing and documents left empty are dropped.
    """
    encoded = []
    for document in documents:
        sentences = [list(encode(sentence)) for sentence in document]
        sentences = [sentence for sentence in sentences if sentence]
        if sentences:
            encoded.append(sentences)
    return encoded


_PUNCTUATION_PIECES = frozenset(string.punctuation)


def word_start_ids_from_pieces(pieces: Sequence[str]) -> np.ndarray:
    """Which SentencePiece pieces begin a word, as a boolean mask over the vocabulary (vocab,).

    `pieces[i]` is the piece of id i. Following ALBERT, a piece begins a word if it starts
    with '▁' (the SentencePiece space marker) or '<', or is a single punctuation character;
    any other piece continues the word before it.
    """
    return np.array(
        [piece.startswith(("\u2581", "<")) or piece in _PUNCTUATION_PIECES for piece in pieces],
        dtype=bool,
    )


def _word_start_mask(word_start_ids, vocab_size: int) -> np.ndarray | None:
    """`word_start_ids` (ids, or a boolean mask over the vocabulary) as a (vocab,) bool mask."""
    if word_start_ids is None:
        return None
    if isinstance(word_start_ids, np.ndarray) and word_start_ids.dtype == bool:
        if word_start_ids.shape != (vocab_size,):
            raise ValueError(
                f"word_start_ids as a boolean mask must have shape ({vocab_size},), "
                f"got {word_start_ids.shape}"
            )
        return word_start_ids
    ids = np.fromiter(word_start_ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"word_start_ids must lie in [0, {vocab_size}), got range [{ids.min()}, {ids.max()}]")
    mask = np.zeros(vocab_size, dtype=bool)
    mask[ids] = True
    return mask


# --- documents -> segment pairs ----------------------------------------------------------------
def truncate_pair(
    tokens_a: Sequence[int], tokens_b: Sequence[int], max_num_tokens: int, rng: np.random.Generator
) -> tuple[list[int], list[int]]:
    """Trim A and B until together they have at most `max_num_tokens` tokens.

    Each step removes one token from the longer segment (B on a tie), from its front or its
    back with equal chance, so that neither end of a segment is always the one kept.
    """
    a_start, a_end = 0, len(tokens_a)
    b_start, b_end = 0, len(tokens_b)
    excess = a_end + b_end - max_num_tokens
    if excess <= 0:
        return list(tokens_a), list(tokens_b)
    from_front = rng.random(excess) < 0.5
    for front in from_front:
        if a_end - a_start > b_end - b_start:
            if front:
                a_start += 1
            else:
                a_end -= 1
        elif front:
            b_start += 1
        else:
            b_end -= 1
    return list(tokens_a[a_start:a_end]), list(tokens_b[b_start:b_end])


def _draw_target_length(max_num_tokens: int, short_seq_prob: float, rng: np.random.Generator) -> int:
    """Usually the full length; with probability `short_seq_prob` uniform in [2, max_num_tokens].

    Short examples in pretraining keep the model used to the short inputs of fine-tuning.
    """
    if rng.random() < short_seq_prob:
        return int(rng.integers(2, max_num_tokens, endpoint=True))
    return max_num_tokens


def _split_chunk(chunk: list[list[int]], rng: np.random.Generator) -> tuple[list[int], list[int]] | None:
    """Cut consecutive sentences into A (a random number of leading sentences) and B (the rest).

    A single sentence is cut at a random token instead; a single one-token sentence gives None.
    """
    if len(chunk) >= 2:
        a_end = int(rng.integers(1, len(chunk)))  # 1 .. len(chunk) - 1 sentences in A
        tokens_a = [token for sentence in chunk[:a_end] for token in sentence]
        tokens_b = [token for sentence in chunk[a_end:] for token in sentence]
        return tokens_a, tokens_b
    sentence = chunk[0]
    if len(sentence) < 2:
        return None
    cut = int(rng.integers(1, len(sentence)))
    return list(sentence[:cut]), list(sentence[cut:])


def create_segment_pairs(
    document: Sequence[Sequence[int]],
    max_num_tokens: int,
    short_seq_prob: float,
    rng: np.random.Generator,
) -> list[tuple[list[int], list[int], int]]:
    """Sentence-order pairs `(tokens_a, tokens_b, sentence_order_label)` from one document.

    Sentences are gathered until their length reaches the target (see `_draw_target_length`)
    or the document ends; the chunk is cut into A and B, swapped with probability 0.5
    (label 1) or kept in order (label 0), and trimmed to `max_num_tokens`.
    """
    if max_num_tokens < 2:
        raise ValueError(f"max_num_tokens must be at least 2 (one token each for A and B), got {max_num_tokens}")
    pairs = []
    target_length = _draw_target_length(max_num_tokens, short_seq_prob, rng)
    chunk: list[list[int]] = []
    chunk_length = 0
    for index, sentence in enumerate(document):
        chunk.append(list(sentence))
        chunk_length += len(sentence)
        if index < len(document) - 1 and chunk_length < target_length:
            continue
        segments = _split_chunk(chunk, rng)
        if segments is not None:
            tokens_a, tokens_b = segments
            swapped = rng.random() < 0.5
            if swapped:
                tokens_a, tokens_b = tokens_b, tokens_a
            tokens_a, tokens_b = truncate_pair(tokens_a, tokens_b, max_num_tokens, rng)
            pairs.append((tokens_a, tokens_b, int(swapped)))
        chunk, chunk_length = [], 0
        target_length = _draw_target_length(max_num_tokens, short_seq_prob, rng)
    return pairs


# --- n-gram masking ----------------------------------------------------------------------------
def ngram_length_probs(max_ngram: int) -> np.ndarray:
    """P(n) proportional to 1/n for n = 1..max_ngram: short spans are the common case. (max_ngram,)"""
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
    that fit before the last word); if the n-gram has more tokens than the budget has left,
    shorter n-grams are tried; an n-gram that still does not fit, or that touches a word
    already chosen, is skipped. The spans returned never overlap and hold at most
    `num_to_predict` tokens.
    """
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
    *,
    masked_lm_prob: float = 0.15,
    max_predictions_per_seq: int = 20,
    max_ngram: int = 3,
    is_word_start: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """N-gram masking of one unpadded sequence. Returns `(masked_ids, labels)`, both (seq,).

    The chosen positions (see `sample_masked_spans`) get `labels` = their original id; every
    other position gets IGNORE_INDEX. Each chosen token is independently replaced by [MASK]
    (80%), left as it is (10%) or replaced by an id drawn uniformly from the whole vocabulary
    (10%); the last keeps the model from trusting that an unmasked token is always right.
    """
    token_ids = np.asarray(token_ids)
    masked_ids = token_ids.copy()
    labels = np.full(token_ids.shape, IGNORE_INDEX, dtype=token_ids.dtype)
    num_to_predict = num_tokens_to_predict(len(token_ids), masked_lm_prob, max_predictions_per_seq)
    words = group_into_words(token_ids, special_ids, is_word_start)
    if num_to_predict == 0 or not words:
        return masked_ids, labels

    spans = sample_masked_spans([len(word) for word in words], num_to_predict, rng, max_ngram)
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


# --- pairs -> padded examples ------------------------------------------------------------------
def build_example(
    tokens_a: Sequence[int],
    tokens_b: Sequence[int],
    sentence_order_label: int,
    special_ids: SpecialIds,
    vocab_size: int,
    rng: np.random.Generator,
    *,
    max_seq_length: int = 512,
    masked_lm_prob: float = 0.15,
    max_predictions_per_seq: int = 20,
    max_ngram: int = 3,
    is_word_start: np.ndarray | None = None,
) -> PretrainingExample:
    """Lay out `[CLS] A [SEP] B [SEP]`, mask it, and pad it to `max_seq_length`."""
    tokens = np.array([special_ids.cls, *tokens_a, special_ids.sep, *tokens_b, special_ids.sep], dtype=np.int64)
    length = len(tokens)
    if length > max_seq_length:
        raise ValueError(f"pair of {len(tokens_a)} + {len(tokens_b)} tokens does not fit max_seq_length={max_seq_length}")
    if tokens.min() < 0 or tokens.max() >= vocab_size:
        raise ValueError(f"token ids must lie in [0, {vocab_size}), got range [{tokens.min()}, {tokens.max()}]")
    masked_ids, labels = mask_tokens(
        tokens,
        special_ids,
        vocab_size,
        rng,
        masked_lm_prob=masked_lm_prob,
        max_predictions_per_seq=max_predictions_per_seq,
        max_ngram=max_ngram,
        is_word_start=is_word_start,
    )
    input_ids = np.full(max_seq_length, special_ids.pad, dtype=np.int32)
    input_ids[:length] = masked_ids
    padded_labels = np.full(max_seq_length, IGNORE_INDEX, dtype=np.int32)
    padded_labels[:length] = labels
    token_type_ids = np.zeros(max_seq_length, dtype=np.int32)
    token_type_ids[len(tokens_a) + 2 : length] = 1
    attention_mask = np.zeros(max_seq_length, dtype=np.int32)
    attention_mask[:length] = 1
    return PretrainingExample(input_ids, token_type_ids, attention_mask, padded_labels, int(sentence_order_label))


def create_pretraining_examples(
    documents: Sequence[Sequence[Sequence[int]]],
    special_ids: SpecialIds,
    vocab_size: int,
    rng: np.random.Generator,
    *,
    max_seq_length: int = 512,
    max_predictions_per_seq: int = 20,
    masked_lm_prob: float = 0.15,
    short_seq_prob: float = 0.1,
    dupe_factor: int = 1,
    max_ngram: int = 3,
    word_start_ids=None,
) -> list[PretrainingExample]:
    """Every pretraining example of a corpus, in random order.

    documents: list of documents, each a list of sentences, each a list of token ids.
    The corpus is passed over `dupe_factor` times (the original used 40), each pass with
    fresh pair boundaries and masks, so one text is seen under several masks.
    `word_start_ids`: the ids (or a (vocab,) bool mask) of the pieces that begin a word, for
    whole-word n-grams (see `word_start_ids_from_pieces`); None makes every token a word.
    """
    if max_seq_length < 5:
        raise ValueError(f"max_seq_length must be at least 5 ([CLS] A [SEP] B [SEP]), got {max_seq_length}")
    if not 0.0 <= masked_lm_prob <= 1.0:
        raise ValueError(f"masked_lm_prob must lie in [0, 1], got {masked_lm_prob}")
    if not 0.0 <= short_seq_prob <= 1.0:
        raise ValueError(f"short_seq_prob must lie in [0, 1], got {short_seq_prob}")
    if max_predictions_per_seq < 0:
        raise ValueError(f"max_predictions_per_seq must be >= 0, got {max_predictions_per_seq}")
    if dupe_factor < 1:
        raise ValueError(f"dupe_factor must be >= 1, got {dupe_factor}")
    if max_ngram < 1:
        raise ValueError(f"max_ngram must be >= 1, got {max_ngram}")
    if any(not 0 <= token_id < vocab_size for token_id in special_ids):
        raise ValueError(f"special ids {tuple(special_ids)} must lie in [0, {vocab_size})")
    is_word_start = _word_start_mask(word_start_ids, vocab_size)
    documents = [[sentence for sentence in document if len(sentence)] for document in documents]
    documents = [document for document in documents if document]

    examples = []
    for _ in range(dupe_factor):
        for document in documents:
            for tokens_a, tokens_b, label in create_segment_pairs(document, max_seq_length - 3, short_seq_prob, rng):
                examples.append(
                    build_example(
                        tokens_a,
                        tokens_b,
                        label,
                        special_ids,
                        vocab_size,
                        rng,
                        max_seq_length=max_seq_length,
                        masked_lm_prob=masked_lm_prob,
                        max_predictions_per_seq=max_predictions_per_seq,
                        max_ngram=max_ngram,
                        is_word_start=is_word_start,
                    )
                )
    return [examples[index] for index in rng.permutation(len(examples))]


# --- batching ----------------------------------------------------------------------------------
def collate(examples: Sequence[PretrainingExample]) -> dict[str, np.ndarray]:
    """Stack examples into int64 arrays: (batch, seq) per token field, (batch,) for the SOP label."""
    if not examples:
        raise ValueError("collate needs at least one example")
    return {field: np.stack([np.asarray(getattr(example, field)) for example in examples]).astype(np.int64) for field in FIELDS}


class BatchIterator:
    """Shuffled batches over `examples`, epoch after epoch, that can resume exactly.

    Every epoch draws a fresh permutation from `rng`. `state_dict()` holds the epoch, the
    position inside it and the generator state the epoch's permutation was drawn from, so
    `load_state_dict` rebuilds the same permutation and the next batch is the one that
    would have come next. Batches are dicts like `collate`'s output.
    """

    def __init__(
        self,
        examples: Sequence[PretrainingExample],
        batch_size: int,
        rng: np.random.Generator,
        *,
        num_epochs: int | None = None,
        drop_last: bool = True,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if drop_last and batch_size > len(examples):
            raise ValueError(f"batch_size {batch_size} is larger than the {len(examples)} examples (drop_last=True)")
        self.columns = collate(examples)
        self.num_examples = len(examples)
        self.batch_size = batch_size
        self.rng = rng
        self.num_epochs = num_epochs
        self.drop_last = drop_last
        self.epoch = 0
        self._start_epoch()

    def _start_epoch(self) -> None:
        self.position = 0
        self._epoch_rng_state = self.rng.bit_generator.state
        self._order = self.rng.permutation(self.num_examples)

    @property
    def batches_per_epoch(self) -> int:
        full, rest = divmod(self.num_examples, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self) -> BatchIterator:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        remaining = self.num_examples - self.position
        if remaining == 0 or (self.drop_last and remaining < self.batch_size):
            if self.num_epochs is not None and self.epoch + 1 >= self.num_epochs:
                raise StopIteration
            self.epoch += 1
            self._start_epoch()
        indices = self._order[self.position : self.position + self.batch_size]
        self.position += len(indices)
        return {field: column[indices] for field, column in self.columns.items()}

    def state_dict(self) -> dict:
        """Plain Python values: epoch, position, and the generator state of this epoch's start."""
        return {"epoch": self.epoch, "position": self.position, "epoch_rng_state": self._epoch_rng_state}

    def load_state_dict(self, state: dict) -> None:
        position = int(state["position"])
        if not 0 <= position <= self.num_examples:
            raise ValueError(f"position {position} is outside an epoch of {self.num_examples} examples")
        self.rng.bit_generator.state = state["epoch_rng_state"]
        self.epoch = int(state["epoch"])
        self._start_epoch()
        self.position = position


def batches(
    examples: Sequence[PretrainingExample],
    batch_size: int,
    rng: np.random.Generator,
    *,
    num_epochs: int | None = None,
    drop_last: bool = True,
) -> BatchIterator:
    """Shuffled batches of `examples`, forever (or for `num_epochs`); see `BatchIterator`."""
    return BatchIterator(examples, batch_size, rng, num_epochs=num_epochs, drop_last=drop_last)
