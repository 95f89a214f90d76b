"""Pretraining examples for ALBERT: sentence-order pairs, masked, in shuffled batches.

The recipe is the one of google-research/albert's `create_pretraining_data.py`:

1. A corpus is a list of documents; a document is a list of sentences; a sentence is a list
   of token ids (`tinyalbert.train.text` reads and encodes one). Nothing here needs a
   tokenizer object, only ids and the four special ids.
2. Consecutive sentences of one document are gathered until they reach a target length
   (`max_seq_length - 3`, or with probability `short_seq_prob` a random shorter one) and cut
   at a random sentence boundary into segment A (the front) and segment B (the rest).
3. Sentence-order prediction (SOP): with probability 0.5 A and B trade places. The label is
   1 when they were swapped and 0 when they are in document order, as
   `AlbertForPreTraining`'s `sentence_order_label` expects.
4. The pair is trimmed to `max_seq_length - 3` tokens, one token at a time from the longer
   segment, from its front or back at random, and laid out as `[CLS] A [SEP] B [SEP]`.
5. N-gram masking (`tinyalbert.train.masking`): about 15% of the tokens, in whole-word spans.

Where this module departs from the original, on purpose:

- The short target length is drawn again for every pair (the original draws it once per
  document), so that the fraction of short pairs is `short_seq_prob` whatever the
  document lengths.
- A chunk of a single sentence is cut inside the sentence into A and B. The original takes B
  from a random other document there, which gives an SOP label that says nothing about order.
  Its `random_next_sentence` option (BERT's next-sentence prediction: B from another document
  half of the time) is not offered: the ALBERT paper replaced it with sentence order.
- Dynamic masking (as RoBERTa): `BatchIterator(..., remask=...)` draws fresh masks for every pass
  over the data instead of the original's `dupe_factor` copies with fixed masks, so every
  token of the text becomes a target sooner or later. The masks of an epoch follow from the
  batch generator, so a seed fixes them and a resumed run draws the same ones.
- `pack_documents` packs the sentences of consecutive documents into sequence-sized
  documents, so that examples fill the sequence instead of ending documents with short tails.

All randomness goes through one `numpy.random.Generator` passed in, so a seed fixes the data
(anything else is refused, see `masking.check_generator`).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np

from ..nn.losses import IGNORE_INDEX
from .masking import Masking, SpecialIds, check_generator, check_masking, mask_tokens, word_start_mask

FIELDS = ("input_ids", "token_type_ids", "attention_mask", "labels", "sentence_order_label")


class PretrainingExample(NamedTuple):
    """One `[CLS] A [SEP] B [SEP]` example, padded to `max_seq_length` (seq)."""

    input_ids: np.ndarray  # (seq,) int32, masked ids
    token_type_ids: np.ndarray  # (seq,) int32, 0 for [CLS] A [SEP], 1 for B [SEP], 0 on padding
    attention_mask: np.ndarray  # (seq,) int32, 1 on tokens, 0 on padding
    labels: np.ndarray  # (seq,) int32, original id where predicted, IGNORE_INDEX elsewhere
    sentence_order_label: int  # 1 if A and B were swapped, 0 if in document order


# --- short documents -> packed documents -----------------------------------------------------
def pack_documents(documents: Sequence[Sequence[Sequence[int]]], max_tokens: int) -> list[list[list[int]]]:
    """The sentences of the corpus, in order, packed into documents of as many sentences as fit
    in `max_tokens` tokens (a longer sentence makes a document of its own).

    Cut into pairs, a document leaves a short tail example at its end (and a corpus of short
    documents, a dictionary entry or a caption, gives only short examples); padding teaches
    nothing. Packed, nearly every example fills the sequence. The price: a sentence-order pair
    may span the end of one document and the start of the next.
    """
    packed: list[list[list[int]]] = []
    current: list[list[int]] = []
    current_tokens = 0
    for sentence in (sentence for document in documents for sentence in document):
        if current and current_tokens + len(sentence) > max_tokens:
            packed.append(current)
            current, current_tokens = [], 0
        current.append(list(sentence))
        current_tokens += len(sentence)
    if current:
        packed.append(current)
    return packed


# --- documents -> segment pairs ----------------------------------------------------------------
def truncate_pair(
    tokens_a: Sequence[int], tokens_b: Sequence[int], max_num_tokens: int, rng: np.random.Generator
) -> tuple[list[int], list[int]]:
    """Trim A and B until together they have at most `max_num_tokens` tokens.

    Each step removes one token from the longer segment (B on a tie), from its front or its
    back with equal chance, so that neither end of a segment is always the one kept.
    """
    check_generator(rng)
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

    Empty sentences are skipped: a pair with an empty segment would give its label away (the
    empty side). Sentences are plain text ids, without [CLS] or [SEP] (encode them with
    `add_special_tokens=False`); this function does not know the special ids, so
    `create_pretraining_examples` checks that.
    """
    check_generator(rng)
    if max_num_tokens < 2:
        raise ValueError(f"max_num_tokens must be at least 2 (one token each for A and B), got {max_num_tokens}")
    document = [sentence for sentence in document if len(sentence)]
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
    masking: Masking = Masking(),
) -> PretrainingExample:
    """Lay out `[CLS] A [SEP] B [SEP]`, mask it, and pad it to `max_seq_length`.

    `sentence_order_label`: 0 if A comes before B in the text, 1 if they were swapped.
    """
    if sentence_order_label not in (0, 1):
        raise ValueError(f"sentence_order_label must be 0 (in order) or 1 (swapped), got {sentence_order_label!r}")
    tokens = np.array([special_ids.cls, *tokens_a, special_ids.sep, *tokens_b, special_ids.sep], dtype=np.int64)
    length = len(tokens)
    if length > max_seq_length:
        raise ValueError(f"pair of {len(tokens_a)} + {len(tokens_b)} tokens does not fit max_seq_length={max_seq_length}")
    if tokens.min() < 0 or tokens.max() >= vocab_size:
        raise ValueError(f"token ids must lie in [0, {vocab_size}), got range [{tokens.min()}, {tokens.max()}]")
    masked_ids, labels = mask_tokens(tokens, special_ids, vocab_size, rng, masking)
    input_ids = np.full(max_seq_length, special_ids.pad, dtype=np.int32)
    input_ids[:length] = masked_ids
    padded_labels = np.full(max_seq_length, IGNORE_INDEX, dtype=np.int32)
    padded_labels[:length] = labels
    token_type_ids = np.zeros(max_seq_length, dtype=np.int32)
    token_type_ids[len(tokens_a) + 2 : length] = 1
    attention_mask = np.zeros(max_seq_length, dtype=np.int32)
    attention_mask[:length] = 1
    return PretrainingExample(input_ids, token_type_ids, attention_mask, padded_labels, int(sentence_order_label))


def _check_recipe(max_seq_length, short_seq_prob, dupe_factor):
    """Raise ValueError naming the first setting of `create_pretraining_examples` that cannot work
    (the masking settings: see `check_masking`)."""
    if max_seq_length < 5:
        raise ValueError(f"max_seq_length must be at least 5 ([CLS] A [SEP] B [SEP]), got {max_seq_length}")
    if not 0.0 <= short_seq_prob <= 1.0:
        raise ValueError(f"short_seq_prob must lie in [0, 1], got {short_seq_prob}")
    if dupe_factor < 1:
        raise ValueError(f"dupe_factor must be >= 1, got {dupe_factor}")


def _check_no_special_wrapping(documents, special_ids: SpecialIds) -> None:
    """Refuse sentences encoded as `[CLS] ... [SEP]` (a tokenizer called without
    `add_special_tokens=False`): their [CLS] and [SEP] would land inside the segments. A [SEP]
    alone is left alone: a text may spell out the token."""
    for number, document in enumerate(documents):
        for sentence in document:
            if sentence[0] == special_ids.cls and sentence[-1] == special_ids.sep:
                raise ValueError(f"a sentence of document {number} is wrapped in [CLS] ... [SEP]: "
                                 "encode the sentences with add_special_tokens=False")


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
    on_document: Callable[[int], None] | None = None,
) -> list[PretrainingExample]:
    """Every pretraining example of a corpus, in random order.

    documents: list of documents, each a list of sentences, each a list of token ids.
    The corpus is passed over `dupe_factor` times (the original used 40), each pass with
    fresh pair boundaries and masks, so one text is seen under several masks.
    `word_start_ids`: the ids (or a (vocab,) bool mask, NumPy, list or torch) of the pieces that
    begin a word, for whole-word n-grams (see `word_start_ids_from_pieces`, and `word_start_mask`
    for what is refused); None makes every token a word. Empty sentences are dropped.
    `masked_lm_prob=0` gives unmasked examples, for `BatchIterator(..., remask=...)` to mask anew
    at every pass.
    `on_document(num_sentences)` is called after each document of each pass, with the number of
    its sentences (empty ones not counted), e.g. a progress bar's `advance`; it draws nothing
    from `rng`, so the examples are the same with it or without.
    """
    check_generator(rng)
    _check_recipe(max_seq_length, short_seq_prob, dupe_factor)
    if any(not 0 <= token_id < vocab_size for token_id in special_ids):
        raise ValueError(f"special ids {tuple(special_ids)} must lie in [0, {vocab_size})")
    masking = Masking(masked_lm_prob, max_predictions_per_seq, max_ngram, word_start_mask(word_start_ids, vocab_size))
    check_masking(masking, vocab_size)
    documents = [[sentence for sentence in document if len(sentence)] for document in documents]
    documents = [document for document in documents if document]
    _check_no_special_wrapping(documents, special_ids)

    examples = []
    for _ in range(dupe_factor):
        for document in documents:
            for tokens_a, tokens_b, label in create_segment_pairs(document, max_seq_length - 3, short_seq_prob, rng):
                examples.append(build_example(tokens_a, tokens_b, label, special_ids, vocab_size, rng,
                                              max_seq_length=max_seq_length, masking=masking))
            if on_document is not None:
                on_document(len(document))
    return [examples[index] for index in rng.permutation(len(examples))]


# --- masks drawn anew at every pass ------------------------------------------------------------
class Remasking(NamedTuple):
    """What `BatchIterator(..., remask=...)` needs to mask unmasked examples afresh in every epoch."""

    special_ids: SpecialIds
    vocab_size: int
    masking: Masking


def remask_rows(columns: dict[str, np.ndarray], indices: np.ndarray, epoch_seed: int, remask: Remasking) -> dict:
    """Masked copies of the rows `indices` of unmasked `columns` (as `collate` makes them).

    Example i is masked with a generator seeded by (epoch_seed, i): its mask depends on the
    epoch and the example only, not on the batch it lands in.
    """
    batch = {field: column[indices].copy() for field, column in columns.items()}
    for row, index in enumerate(indices.tolist()):
        length = int(batch["attention_mask"][row].sum())
        masked_ids, labels = mask_tokens(batch["input_ids"][row, :length], remask.special_ids, remask.vocab_size,
                                         np.random.default_rng((epoch_seed, index)), remask.masking)
        batch["input_ids"][row, :length] = masked_ids
        batch["labels"][row, :length] = labels
    return batch


# --- batching ----------------------------------------------------------------------------------
def collate(examples: Sequence[PretrainingExample]) -> dict[str, np.ndarray]:
    """Stack examples into int64 arrays: (batch, seq) per token field, (batch,) for the SOP label."""
    if not examples:
        raise ValueError("collate needs at least one example")
    lengths = sorted({len(example.input_ids) for example in examples})
    if len(lengths) > 1:
        raise ValueError(f"examples of {lengths[0]} and {lengths[-1]} tokens cannot make one batch: "
                         "make them with one max_seq_length")
    # np.array on each field's rows, not np.stack, which first makes every SOP label an array of
    # its own: a third of the time on 143,000 examples (0.5 s against 1.5 s, timed after a first call).
    return {field: np.array([getattr(example, field) for example in examples], dtype=np.int64) for field in FIELDS}


class BatchIterator:
    """Shuffled batches over `examples`, epoch after epoch, that can resume exactly.

    Every epoch draws a fresh permutation from `rng`. `state_dict()` holds the epoch, the
    position inside it and the generator state the epoch's permutation was drawn from, so
    `load_state_dict` rebuilds the same permutation and the next batch is the one that
    would have come next. Batches are dicts like `collate`'s output.

    With `remask`, the examples are unmasked and every epoch masks them anew (see
    `remask_rows`), from a seed drawn from `rng` right after the permutation, so the state
    above restores the masks too. Examples already masked (a label that is not IGNORE_INDEX)
    are refused, not quietly unmasked: kept, their old [MASK]s would stay without a target, and
    they most likely mean a forgotten `masked_lm_prob=0`.

    `num_epochs`: None runs on for ever; otherwise at least 1.
    """

    def __init__(
        self,
        examples: Sequence[PretrainingExample],
        batch_size: int,
        rng: np.random.Generator,
        *,
        num_epochs: int | None = None,
        drop_last: bool = True,
        remask: Remasking | None = None,
    ):
        check_generator(rng)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if num_epochs is not None and num_epochs < 1:
            raise ValueError(f"num_epochs must be >= 1 (or None: no end), got {num_epochs}")
        if drop_last and batch_size > len(examples):
            raise ValueError(f"batch_size {batch_size} is larger than the {len(examples)} examples (drop_last=True)")
        self.columns = collate(examples)
        if remask is not None:
            check_masking(remask.masking, remask.vocab_size)
            if (self.columns["labels"] != IGNORE_INDEX).any():
                raise ValueError("remask masks the examples anew, so they must be unmasked (every label IGNORE_INDEX): "
                                 "make them with create_pretraining_examples(..., masked_lm_prob=0)")
        self.num_examples = len(examples)
        self.batch_size = batch_size
        self.rng = rng
        self.num_epochs = num_epochs
        self.drop_last = drop_last
        self.remask = remask
        self.epoch = 0
        self._start_epoch()

    def _start_epoch(self) -> None:
        self.position = 0
        self._epoch_rng_state = self.rng.bit_generator.state
        self._order = self.rng.permutation(self.num_examples)
        if self.remask is not None:
            self._epoch_seed = int(self.rng.integers(2**63))

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
        if self.remask is not None:
            return remask_rows(self.columns, indices, self._epoch_seed, self.remask)
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
