"""Pretraining data: sentence-order pairs, n-gram masking, batching.

The statistical tests draw a few thousand examples from fixed seeds and compare rates with
what the recipe promises; each tolerance is about 4 standard errors of the measured rate
(plus any known small bias, stated where it applies), so a wrong rule fails and a correct
one passes for any seed.
"""
import json
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyalbert.nn.losses import IGNORE_INDEX
from tinyalbert.train.data import (
    BatchIterator,
    Remasking,
    build_example,
    collate,
    create_pretraining_examples,
    create_segment_pairs,
    truncate_pair,
    pack_documents,
)
from tinyalbert.train.masking import Masking, SpecialIds, mask_tokens, sample_masked_spans, word_start_ids_from_pieces
from tinyalbert.train.text import encode_documents, read_documents, split_sentences

SPECIAL = SpecialIds(cls=2, sep=3, mask=4, pad=0)
FIRST_WORD_ID = 5  # ids below this are special in these tests
VOCAB_SIZE = 30000  # large, so a random replacement rarely equals the original or [MASK]


def random_documents(rng, num_documents, vocab_size=VOCAB_SIZE, max_sentences=30, sentence_lengths=(3, 25)):
    """Documents of random sentences of random non-special ids."""
    return [
        [
            rng.integers(FIRST_WORD_ID, vocab_size, rng.integers(*sentence_lengths)).tolist()
            for _ in range(rng.integers(1, max_sentences))
        ]
        for _ in range(num_documents)
    ]


def expected_num_to_predict(length, masked_lm_prob, max_predictions):
    """ALBERT's count of predictions: round(length * prob), clipped to [1, max_predictions]."""
    return min(max_predictions, max(1, round(length * masked_lm_prob)))


def tolerance(rate, count, standard_errors=4.0):
    return standard_errors * math.sqrt(rate * (1 - rate) / count)


# --- raw text ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, sentences",
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
        ("J. R. Tolkien wrote. He died.", ["J. R. Tolkien wrote.", "He died."]),
        ('He said "Go." "Now?" she asked.', ['He said "Go."', '"Now?" she asked.']),
        ("Pi is 3.14 here. e.g. lower case stays.", ["Pi is 3.14 here. e.g. lower case stays."]),
        ("Wait... What?! Really.", ["Wait...", "What?!", "Really."]),
        ("  spread\n over\tlines.  Next  ", ["spread over lines.", "Next"]),
        ("", []),
    ],
)
def test_split_sentences(text, sentences):
    assert split_sentences(text) == sentences


def test_read_documents_splits_on_blank_lines_and_files(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "a.txt").write_text("First line. Second sentence.\nThird.\n\n\nNew doc here.\n", encoding="utf-8")
    (corpus / "sub" / "b.txt").write_text("\nOther file.\n", encoding="utf-8")
    (corpus / "ignored.md").write_text("Not text.\n", encoding="utf-8")
    expected = [["First line.", "Second sentence.", "Third."], ["New doc here."], ["Other file."]]
    assert read_documents(corpus) == expected
    assert read_documents(corpus / "a.txt") == expected[:2]


def test_read_documents_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        read_documents(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no .txt files"):
        read_documents(tmp_path)


def test_read_documents_names_the_file_and_line_that_are_not_utf8(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Fine text.\n", encoding="utf-8")
    (corpus / "b.txt").write_bytes("First line.\nSecond line.\nCaf\u00e9 ".encode("latin-1") + b"\n")
    with pytest.raises(ValueError, match=rf"{re.escape(str(corpus / 'b.txt'))} is not UTF-8 text: byte 0xe9 on line 3"):
        read_documents(corpus)


def test_encode_documents_drops_empty_sentences_and_documents():
    calls = []

    def encode_batch(sentences):
        calls.append(list(sentences))
        return [{"a b": [7, 8], "": [], "c": [9]}[sentence] for sentence in sentences]

    assert encode_documents([["a b", "", "c"], [""], ["c"]], encode_batch) == [[[7, 8], [9]], [[9]]]
    assert calls == [["a b", "", "c", "", "c"]]  # one batched call for the whole corpus


def test_word_start_ids_from_pieces():
    pieces = ["<pad>", "[CLS]", "\u2581the", "re", ",", "\u2581", "ing", "--"]
    np.testing.assert_array_equal(
        word_start_ids_from_pieces(pieces), [True, False, True, False, True, True, False, False]
    )


# --- segment pairs -----------------------------------------------------------------------------
@given(
    len_a=st.integers(1, 40),
    len_b=st.integers(1, 40),
    max_num_tokens=st.integers(2, 90),
    seed=st.integers(0, 2**32 - 1),
)
def test_truncate_pair_trims_the_longer_segment(len_a, len_b, max_num_tokens, seed):
    tokens_a = list(range(100, 100 + len_a))
    tokens_b = list(range(200, 200 + len_b))
    a, b = truncate_pair(tokens_a, tokens_b, max_num_tokens, np.random.default_rng(seed))
    excess = max(0, len_a + len_b - max_num_tokens)
    # Independent statement of "trim the longer one, B on a tie": the longer shrinks to the
    # shorter, after which they shrink in turn, B first, leaving A equal or one longer.
    if excess == 0:
        expected = (len_a, len_b)
    elif len_a > len_b and len_a - len_b >= excess:
        expected = (len_a - excess, len_b)
    elif len_b > len_a and len_b - len_a >= excess:
        expected = (len_a, len_b - excess)
    else:
        expected = ((max_num_tokens + 1) // 2, max_num_tokens // 2)
    assert (len(a), len(b)) == expected
    # What is left is a contiguous piece of each segment.
    assert a == list(range(a[0], a[0] + len(a))) and b == list(range(b[0], b[0] + len(b)))


def test_truncate_pair_trims_front_and_back_equally_often():
    rng = np.random.default_rng(0)
    trials = 4000
    front_trims_a = front_trims_b = 0
    for _ in range(trials):
        a, _ = truncate_pair(list(range(10)), [0], 10, rng)  # removes exactly one token of A
        _, b = truncate_pair([0], list(range(10)), 10, rng)  # and here one of B
        front_trims_a += a[0] == 1
        front_trims_b += b[0] == 1
    assert abs(front_trims_a / trials - 0.5) < tolerance(0.5, trials)
    assert abs(front_trims_b / trials - 0.5) < tolerance(0.5, trials)


def one_token_sentences(start, count):
    """A document whose sentences are single increasing ids: a pair's ids show where it came from."""
    return [[token] for token in range(start, start + count)]


def test_segment_pairs_order_labels_and_balance():
    rng = np.random.default_rng(1)
    document = one_token_sentences(FIRST_WORD_ID, 100_000)
    pairs = create_segment_pairs(document, max_num_tokens=29, short_seq_prob=0.1, rng=rng)
    assert len(pairs) > 3000
    for tokens_a, tokens_b, label in pairs:
        first, second = (tokens_a, tokens_b) if label == 0 else (tokens_b, tokens_a)
        # In document order, the first segment ends right where the second begins.
        assert first == list(range(first[0], first[0] + len(first)))
        assert second == list(range(first[-1] + 1, first[-1] + 1 + len(second)))
    # Together the pairs cover the document once (no pair here needs trimming).
    covered = sorted(token for a, b, _ in pairs for token in a + b)
    assert covered == [sentence[0] for sentence in document]
    swapped = np.mean([label for _, _, label in pairs])
    assert abs(swapped - 0.5) < tolerance(0.5, len(pairs))


@pytest.mark.parametrize("short_seq_prob, max_num_tokens", [(0.0, 61), (0.1, 61), (0.5, 61), (0.3, 4)])
def test_segment_pairs_short_sequence_rate(short_seq_prob, max_num_tokens):
    # With one-token sentences a chunk closes exactly at its target length, so a pair's length
    # is its target: max_num_tokens, or with probability short_seq_prob uniform on [2, max_num_tokens].
    rng = np.random.default_rng(2)
    document = one_token_sentences(FIRST_WORD_ID, 120_000)
    pairs = create_segment_pairs(document, max_num_tokens, short_seq_prob, rng)[:-1]  # the last is cut by the end
    lengths = np.array([len(a) + len(b) for a, b, _ in pairs])
    assert lengths.min() >= 2 and lengths.max() == max_num_tokens
    short = lengths < max_num_tokens
    expected_rate = short_seq_prob * (max_num_tokens - 2) / (max_num_tokens - 1)
    if short_seq_prob == 0:
        assert not short.any()
        return
    assert abs(short.mean() - expected_rate) < tolerance(expected_rate, len(pairs))
    # The short targets are uniform on [2, max_num_tokens - 1]: compare the mean.
    short_lengths = lengths[short]
    uniform_mean = (2 + max_num_tokens - 1) / 2
    uniform_std = math.sqrt(((max_num_tokens - 2) ** 2 - 1) / 12)
    assert abs(short_lengths.mean() - uniform_mean) < 4 * uniform_std / math.sqrt(len(short_lengths))


def test_single_sentence_chunk_is_cut_inside_the_sentence():
    rng = np.random.default_rng(3)
    for _ in range(200):
        ((tokens_a, tokens_b, label),) = create_segment_pairs([list(range(10, 50))], 100, 0.0, rng)
        first, second = (tokens_a, tokens_b) if label == 0 else (tokens_b, tokens_a)
        assert first + second == list(range(10, 50)) and first and second
    assert create_segment_pairs([[7]], 100, 0.0, rng) == []  # a one-token document makes no pair


# --- masking -----------------------------------------------------------------------------------
def test_ngram_lengths_follow_one_over_n():
    # Spans are counted away from the budget's end: the last span of each sequence may have
    # been shortened to fit, so it is left out. With 100 of 4000 words chosen, an n-gram
    # rarely meets a chosen word (under 3%), which biases the rates by less than 0.01.
    rng = np.random.default_rng(4)
    counts = np.zeros(3)
    for _ in range(400):
        spans = sample_masked_spans([1] * 4000, num_to_predict=100, rng=rng, max_ngram=3)
        for _, num_words in spans[:-1]:
            counts[num_words - 1] += 1
    expected = np.array([1, 1 / 2, 1 / 3]) / (1 + 1 / 2 + 1 / 3)
    np.testing.assert_allclose(counts / counts.sum(), expected, atol=0.015)


@given(
    word_lengths=st.lists(st.integers(1, 4), min_size=1, max_size=60),
    num_to_predict=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
)
def test_masked_spans_are_disjoint_and_within_budget(word_lengths, num_to_predict, seed):
    spans = sample_masked_spans(word_lengths, num_to_predict, np.random.default_rng(seed), max_ngram=3)
    words = [word for first, count in spans for word in range(first, first + count)]
    assert len(words) == len(set(words)) and all(0 <= word < len(word_lengths) for word in words)
    assert all(1 <= count <= 3 for _, count in spans)
    assert sum(word_lengths[word] for word in words) <= num_to_predict
    if all(length == 1 for length in word_lengths) and len(word_lengths) >= num_to_predict:
        # With one-token words a 1-gram always fits, so the budget is only missed when n-grams collide.
        assert sum(word_lengths[word] for word in words) >= num_to_predict // 2


def masked_pairs(seed, count, max_seq_length=128, max_predictions=20, masked_lm_prob=0.15):
    """Random pairs with their masked examples: (tokens, example) where tokens are the originals."""
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(count):
        len_a = int(rng.integers(1, max_seq_length - 4))
        len_b = int(rng.integers(1, max_seq_length - 2 - len_a))
        tokens_a = rng.integers(FIRST_WORD_ID, VOCAB_SIZE, len_a).tolist()
        tokens_b = rng.integers(FIRST_WORD_ID, VOCAB_SIZE, len_b).tolist()
        example = build_example(
            tokens_a,
            tokens_b,
            0,
            SPECIAL,
            VOCAB_SIZE,
            rng,
            max_seq_length=max_seq_length,
            masking=Masking(masked_lm_prob=masked_lm_prob, max_predictions_per_seq=max_predictions),
        )
        tokens = [SPECIAL.cls, *tokens_a, SPECIAL.sep, *tokens_b, SPECIAL.sep]
        results.append((tokens, example))
    return results


def test_mask_rate_and_cap():
    masked_total = length_total = 0
    shortfall = 0
    for tokens, example in masked_pairs(seed=5, count=3000, max_predictions=1000):
        chosen = example.labels != IGNORE_INDEX
        budget = expected_num_to_predict(len(tokens), 0.15, 1000)
        assert chosen.sum() <= budget
        shortfall += budget - chosen.sum()
        masked_total += chosen.sum()
        length_total += len(tokens)
    # About 15% of every sequence (rounded per sequence), and the budget is nearly always met.
    assert abs(masked_total / length_total - 0.15) < 0.005
    assert shortfall / masked_total < 0.01

    # A small cap binds on long sequences, and is then met (n-grams shrink to fit the budget).
    capped, budgets = [], []
    for tokens, example in masked_pairs(seed=6, count=500, max_predictions=5):
        capped.append((example.labels != IGNORE_INDEX).sum())
        budgets.append(expected_num_to_predict(len(tokens), 0.15, 5))
    assert max(capped) == 5 and all(count <= budget for count, budget in zip(capped, budgets))
    assert np.mean(capped) > 0.99 * np.mean(budgets)


def test_replacement_split_and_labels():
    replaced_by_mask = kept = random_ids = 0
    random_id_values = []
    for tokens, example in masked_pairs(seed=7, count=3000):
        length = len(tokens)
        original = np.array(tokens)
        chosen = np.flatnonzero(example.labels[:length] != IGNORE_INDEX)
        unchosen = np.flatnonzero(example.labels[:length] == IGNORE_INDEX)
        np.testing.assert_array_equal(example.labels[chosen], original[chosen])
        np.testing.assert_array_equal(example.input_ids[unchosen], original[unchosen])
        assert np.all(example.labels[length:] == IGNORE_INDEX)
        # [CLS] and both [SEP]s are never chosen.
        special_positions = [0, tokens.index(SPECIAL.sep), length - 1]
        assert np.all(example.labels[special_positions] == IGNORE_INDEX)
        inputs = example.input_ids[chosen]
        is_mask = inputs == SPECIAL.mask
        is_kept = inputs == original[chosen]
        replaced_by_mask += is_mask.sum()
        kept += is_kept.sum()
        random_ids += (~is_mask & ~is_kept).sum()
        random_id_values.extend(inputs[~is_mask & ~is_kept].tolist())
    total = replaced_by_mask + kept + random_ids
    # A random id equals the original or [MASK] with chance 1/VOCAB_SIZE each: negligible here.
    assert abs(replaced_by_mask / total - 0.8) < tolerance(0.8, total)
    assert abs(kept / total - 0.1) < tolerance(0.1, total)
    assert abs(random_ids / total - 0.1) < tolerance(0.1, total)
    # Random ids are uniform over the whole vocabulary: mean and spread of a uniform integer.
    values = np.array(random_id_values)
    uniform_std = math.sqrt((VOCAB_SIZE**2 - 1) / 12)
    assert abs(values.mean() - (VOCAB_SIZE - 1) / 2) < 4 * uniform_std / math.sqrt(len(values))
    assert abs(values.std() - uniform_std) < 0.05 * uniform_std


def test_whole_words_are_masked_together():
    # Ids divisible by 3 begin a word; every other id continues the word before it.
    rng = np.random.default_rng(8)
    vocab_size = 1000
    word_start_ids = set(range(0, vocab_size, 3))
    documents = random_documents(rng, 150, vocab_size=vocab_size)
    examples = create_pretraining_examples(
        documents, SPECIAL, vocab_size, rng, max_seq_length=96, word_start_ids=word_start_ids
    )
    assert len(examples) > 300
    masked_words = 0
    for example in examples:
        length = int(example.attention_mask.sum())
        original = np.where(example.labels != IGNORE_INDEX, example.labels, example.input_ids)[:length]
        chosen = example.labels[:length] != IGNORE_INDEX
        # Walk the words of each segment: a word is chosen entirely or not at all.
        word = []
        for position in range(1, length):
            token = original[position]
            if token in (SPECIAL.cls, SPECIAL.sep) or token % 3 == 0 or not word:
                if word:
                    assert len(set(chosen[word].tolist())) == 1
                    masked_words += chosen[word[0]]
                word = [] if token in (SPECIAL.cls, SPECIAL.sep) else [position]
            else:
                word.append(position)
    assert masked_words > 1000

    # The same words given as a boolean mask over the vocabulary give the same examples.
    mask = np.zeros(vocab_size, dtype=bool)
    mask[list(word_start_ids)] = True
    again = create_pretraining_examples(
        documents, SPECIAL, vocab_size, np.random.default_rng(8), max_seq_length=96, word_start_ids=mask
    )
    as_ids = create_pretraining_examples(
        documents, SPECIAL, vocab_size, np.random.default_rng(8), max_seq_length=96, word_start_ids=word_start_ids
    )
    assert all(np.array_equal(a.input_ids, b.input_ids) for a, b in zip(again, as_ids))


def test_no_masking_when_probability_is_zero():
    for tokens, example in masked_pairs(seed=9, count=50, masked_lm_prob=0.0):
        assert np.all(example.labels == IGNORE_INDEX)
        np.testing.assert_array_equal(example.input_ids[: len(tokens)], tokens)


# --- full examples -----------------------------------------------------------------------------
def test_examples_have_the_pair_layout():
    rng = np.random.default_rng(10)
    max_seq_length = 64
    documents = random_documents(rng, 400) + [[rng.integers(5, VOCAB_SIZE, 300).tolist()]]  # needs trimming
    examples = create_pretraining_examples(documents, SPECIAL, VOCAB_SIZE, rng, max_seq_length=max_seq_length)
    assert len(examples) > 1000
    for example in examples:
        for field in ("input_ids", "token_type_ids", "attention_mask", "labels"):
            assert getattr(example, field).shape == (max_seq_length,)
        length = int(example.attention_mask.sum())
        assert 5 <= length <= max_seq_length
        np.testing.assert_array_equal(example.attention_mask[:length], 1)
        original = np.where(example.labels != IGNORE_INDEX, example.labels, example.input_ids)
        assert original[0] == SPECIAL.cls and original[length - 1] == SPECIAL.sep
        seps = np.flatnonzero(original[:length] == SPECIAL.sep)
        assert len(seps) == 2 and 2 <= seps[0] <= length - 3  # A and B are not empty
        np.testing.assert_array_equal(example.input_ids[length:], SPECIAL.pad)
        expected_types = np.zeros(max_seq_length)
        expected_types[seps[0] + 1 : length] = 1
        np.testing.assert_array_equal(example.token_type_ids, expected_types)
        assert example.sentence_order_label in (0, 1)
    labels = np.array([example.sentence_order_label for example in examples])
    assert abs(labels.mean() - 0.5) < tolerance(0.5, len(labels))


def test_same_seed_same_examples_other_seed_other_examples():
    # Documents shorter than max_seq_length - 3, so no pair is trimmed and each is one chunk.
    documents = random_documents(np.random.default_rng(11), 150, max_sentences=5, sentence_lengths=(3, 12))

    def make(seed, dupe_factor=1):
        return create_pretraining_examples(
            documents, SPECIAL, VOCAB_SIZE, np.random.default_rng(seed), max_seq_length=64,
            short_seq_prob=0.0, dupe_factor=dupe_factor,
        )

    def as_array(examples):
        return collate(examples)

    first, again, other = as_array(make(0)), as_array(make(0)), as_array(make(1))
    for field in first:
        np.testing.assert_array_equal(first[field], again[field])
    assert first["input_ids"].shape != other["input_ids"].shape or not np.array_equal(
        first["input_ids"], other["input_ids"]
    )
    # Each pass re-masks the corpus: with no short targets the chunks are the same each pass,
    # so dupe_factor=3 gives three times the examples, the same texts under other masks.
    tripled = as_array(make(0, dupe_factor=3))
    assert len(tripled["input_ids"]) == 3 * len(first["input_ids"])

    def text_counts(arrays):
        original = np.where(arrays["labels"] != IGNORE_INDEX, arrays["labels"], arrays["input_ids"])
        return sorted(tuple(sorted(row.tolist())) for row in original)

    assert text_counts(tripled) == sorted(text_counts(first) * 3)
    assert len({row.tobytes() for row in tripled["labels"]}) > 2 * len(first["labels"])


def test_a_document_callback_counts_the_sentences_of_every_pass_and_changes_no_example():
    # Empty sentences and a document of nothing but empty ones are dropped before the passes.
    documents = random_documents(np.random.default_rng(14), 30) + [[[], []], [[5, 6, 7], [], [8, 9]]]
    nonempty_sentences = [sum(1 for sentence in document if sentence) for document in documents]
    options = dict(max_seq_length=48, dupe_factor=3)
    counted = []
    with_callback = create_pretraining_examples(documents, SPECIAL, VOCAB_SIZE, np.random.default_rng(15),
                                                on_document=counted.append, **options)
    without = create_pretraining_examples(documents, SPECIAL, VOCAB_SIZE, np.random.default_rng(15), **options)
    assert counted == [count for count in nonempty_sentences if count] * 3  # per document, in order, each pass
    assert len(with_callback) == len(without)
    for ours, theirs in zip(with_callback, without):
        for field, value in ours._asdict().items():
            assert np.array_equal(value, getattr(theirs, field)), field


def test_examples_come_out_shuffled():
    # Ids increase through the corpus, so in document order each example would start after
    # the one before; shuffled, about half the neighbours are out of order.
    documents = [one_token_sentences(FIRST_WORD_ID + 1000 * index, 500) for index in range(20)]
    examples = create_pretraining_examples(documents, SPECIAL, VOCAB_SIZE, np.random.default_rng(13), max_seq_length=32)
    firsts = [np.where(e.labels != IGNORE_INDEX, e.labels, e.input_ids)[1 : e.attention_mask.sum() - 1] for e in examples]
    firsts = np.array([row[row != SPECIAL.sep].min() for row in firsts])
    decreasing = np.mean(np.diff(firsts) < 0)
    assert abs(decreasing - 0.5) < tolerance(0.5, len(firsts))


def test_bad_arguments_are_reported():
    documents = [[[5, 6, 7], [8, 9]]]
    with pytest.raises(ValueError, match="max_seq_length"):
        create_pretraining_examples(documents, SPECIAL, 100, np.random.default_rng(0), max_seq_length=4)
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 8\)"):
        create_pretraining_examples(documents, SPECIAL, 8, np.random.default_rng(0), max_seq_length=16)
    with pytest.raises(ValueError, match="word_start_ids"):
        create_pretraining_examples(documents, SPECIAL, 100, np.random.default_rng(0), word_start_ids={100})
    with pytest.raises(ValueError, match="masked_lm_prob"):
        create_pretraining_examples(documents, SPECIAL, 100, np.random.default_rng(0), masked_lm_prob=1.5)


# --- batching ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_examples():
    rng = np.random.default_rng(12)
    return create_pretraining_examples(random_documents(rng, 40), SPECIAL, VOCAB_SIZE, rng, max_seq_length=32)


def test_collate_stacks_int64(small_examples):
    batch = collate(small_examples[:4])
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "labels", "sentence_order_label"}
    for field in ("input_ids", "token_type_ids", "attention_mask", "labels"):
        assert batch[field].dtype == np.int64 and batch[field].shape == (4, 32)
        np.testing.assert_array_equal(batch[field][2], getattr(small_examples[2], field))
    assert batch["sentence_order_label"].shape == (4,) and batch["sentence_order_label"].dtype == np.int64


def test_collate_refuses_examples_of_different_lengths_naming_them(small_examples):
    rng = np.random.default_rng(13)
    longer = create_pretraining_examples(random_documents(rng, 3), SPECIAL, VOCAB_SIZE, rng, max_seq_length=48)
    with pytest.raises(ValueError, match="examples of 32 and 48 tokens cannot make one batch"):
        collate(small_examples[:2] + longer[:1])


def test_batches_visit_every_example_once_per_epoch(small_examples):
    count = len(small_examples)
    iterator = BatchIterator(small_examples, batch_size=7, rng=np.random.default_rng(0), num_epochs=2, drop_last=False)
    assert iterator.batches_per_epoch == math.ceil(count / 7)
    seen = [batch["input_ids"] for batch in iterator]
    assert len(seen) == 2 * iterator.batches_per_epoch
    all_rows = collate(small_examples)["input_ids"]
    for epoch_batches in (seen[: len(seen) // 2], seen[len(seen) // 2 :]):
        rows = np.concatenate(epoch_batches)
        assert sorted(map(bytes, rows)) == sorted(map(bytes, all_rows))

    dropping = BatchIterator(small_examples, batch_size=7, rng=np.random.default_rng(0), num_epochs=1)
    assert [len(batch["labels"]) for batch in dropping] == [7] * (count // 7)


def test_batches_resume_exactly(small_examples):
    per_epoch = len(small_examples) // 5
    original = BatchIterator(small_examples, batch_size=5, rng=np.random.default_rng(3))
    for _ in range(per_epoch + 2):  # into the second epoch
        next(original)
    state = json.loads(json.dumps(original.state_dict()))  # plain values survive a JSON round trip
    expected = [next(original) for _ in range(2 * per_epoch)]  # across the next epoch boundary

    resumed = BatchIterator(small_examples, batch_size=5, rng=np.random.default_rng(999))
    resumed.load_state_dict(state)
    assert resumed.epoch == 1
    for want in expected:
        got = next(resumed)
        for field in want:
            np.testing.assert_array_equal(got[field], want[field])

    restarted = BatchIterator(small_examples, batch_size=5, rng=np.random.default_rng(4))
    assert not np.array_equal(next(restarted)["input_ids"], expected[0]["input_ids"])


# --- packing and masks drawn anew every epoch --------------------------------------------------
def test_pack_documents_packs_sentences_in_order_up_to_the_limit():
    documents = [[[5, 6]], [[7], [8, 9]], [[10, 11, 12, 13, 14, 15]], [[16], [17, 18]], [[19, 20, 21]]]
    packed = pack_documents(documents, max_tokens=4)
    assert packed == [[[5, 6], [7]], [[8, 9]], [[10, 11, 12, 13, 14, 15]], [[16], [17, 18]], [[19, 20, 21]]]
    assert [t for d in packed for s in d for t in s] == list(range(5, 22))


@pytest.mark.parametrize("max_sentences", [3, 30])  # documents shorter and longer than an example
def test_packing_fills_the_sequence(max_sentences):
    rng = np.random.default_rng(21)
    documents = random_documents(rng, 300 // max_sentences + 20, max_sentences=max_sentences, sentence_lengths=(3, 10))
    lengths = {}
    for packed in (False, True):
        corpus = pack_documents(documents, 125) if packed else documents
        examples = create_pretraining_examples(corpus, SPECIAL, VOCAB_SIZE, np.random.default_rng(0),
                                               max_seq_length=128, short_seq_prob=0.0)
        lengths[packed] = np.mean([example.attention_mask.sum() for example in examples])
    assert lengths[True] > 115 and lengths[True] > lengths[False] + 15, lengths


def unmasked_examples(seed=12, count=40, max_seq_length=48):
    rng = np.random.default_rng(seed)
    return create_pretraining_examples(random_documents(rng, count), SPECIAL, VOCAB_SIZE, rng,
                                       max_seq_length=max_seq_length, masked_lm_prob=0.0)


def remasking_batches(examples, seed, batch_size=8):
    remask = Remasking(SPECIAL, VOCAB_SIZE, Masking(masked_lm_prob=0.15, max_predictions_per_seq=20))
    return BatchIterator(examples, batch_size, np.random.default_rng(seed), remask=remask)


def epoch_of(iterator) -> dict:
    """{first input token ids of an example (its identity): labels} over one epoch."""
    masks = {}
    for _ in range(iterator.batches_per_epoch):
        batch = next(iterator)
        for row in range(len(batch["labels"])):
            original = np.where(batch["labels"][row] != IGNORE_INDEX, batch["labels"][row], batch["input_ids"][row])
            masks[tuple(original.tolist())] = tuple(batch["labels"][row].tolist())
    return masks


def test_dynamic_masking_draws_fresh_masks_every_epoch_as_the_recipe_says():
    examples = unmasked_examples()
    assert all((example.labels == IGNORE_INDEX).all() for example in examples)
    iterator = remasking_batches(examples, seed=5)
    first, second = epoch_of(iterator), epoch_of(iterator)
    assert first.keys() == second.keys() and len(first) == iterator.batches_per_epoch * 8
    changed = sum(first[key] != second[key] for key in first)
    assert changed >= 0.9 * len(first), changed  # the same text under another mask
    for key, labels in first.items():  # the recipe's count of predictions, on the original tokens only
        labels = np.array(labels)
        length = int(np.count_nonzero(np.array(key) != SPECIAL.pad))
        assert np.count_nonzero(labels != IGNORE_INDEX) == expected_num_to_predict(length, 0.15, 20)
        assert np.array_equal(labels[labels != IGNORE_INDEX], np.array(key)[labels != IGNORE_INDEX])
    # A seed fixes the masks; another seed gives others.
    assert epoch_of(remasking_batches(examples, seed=5)) == first
    assert epoch_of(remasking_batches(examples, seed=6)) != first


def test_dynamic_masking_resumes_exactly():
    examples = unmasked_examples()
    straight = remasking_batches(examples, seed=7)
    expected = [next(straight) for _ in range(9)]
    first = remasking_batches(examples, seed=7)
    got = [next(first) for _ in range(5)]
    resumed = remasking_batches(examples, seed=99)
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))
    got += [next(resumed) for _ in range(4)]
    for want, have in zip(expected, got):
        for field in want:
            np.testing.assert_array_equal(have[field], want[field])


# --- arguments that used to be misread or fail deep inside (audit of the data API) ------------
def word_start_examples(word_start_ids, seed=0):
    documents = [[[10, 11, 12, 13, 14, 15], [16, 17, 18, 19, 20, 21]]] * 20
    return create_pretraining_examples(documents, SPECIAL, 100, np.random.default_rng(seed), max_seq_length=16,
                                       word_start_ids=word_start_ids)


def test_word_start_ids_given_as_booleans_are_a_mask_not_the_ids_0_and_1():
    # Every id starts a word: the same examples as without word_start_ids (every token a word).
    # Read as the ids {0, 1}, each segment was one long word and nothing was masked.
    expected = word_start_examples(None)
    assert np.mean([(example.labels != IGNORE_INDEX).sum() for example in expected]) > 1
    for as_booleans in ([True] * 100, tuple([True] * 100), np.ones(100, dtype=bool)):
        got = word_start_examples(as_booleans)
        assert all(np.array_equal(a.labels, b.labels) for a, b in zip(got, expected))


def test_word_start_ids_as_a_torch_bool_tensor_is_a_mask():
    torch = pytest.importorskip("torch")
    got = word_start_examples(torch.ones(100, dtype=torch.bool))
    assert all(np.array_equal(a.labels, b.labels) for a, b in zip(got, word_start_examples(None)))


@pytest.mark.parametrize("word_start_ids, message", [
    (np.ones(100, dtype=np.int8), "repeated ids"),  # a 0/1 integer mask: ambiguous, refused
    ([1, 0] * 50, "repeated ids"),
    (np.zeros(100, dtype=bool), "no id as a word start"),  # would mask nothing
    (set(), "no id as a word start"),
    (np.full(100, 0.5), "integer ids or a boolean mask"),
])
def test_word_start_ids_that_would_mask_nothing_are_refused(word_start_ids, message):
    with pytest.raises(ValueError, match=message):
        word_start_examples(word_start_ids)


def test_segment_pairs_skip_empty_sentences():
    # An empty segment would show which side was which: the SOP label could be read off it.
    for seed in range(20):
        assert create_segment_pairs([[5], []], 10, 0.0, np.random.default_rng(seed)) == []
        assert create_segment_pairs([[], [], []], 10, 0.0, np.random.default_rng(seed)) == []
        with_empty = create_segment_pairs([[], [5, 6], [], [7, 8, 9], []], 10, 0.0, np.random.default_rng(seed))
        assert with_empty == create_segment_pairs([[5, 6], [7, 8, 9]], 10, 0.0, np.random.default_rng(seed))
        assert with_empty and all(a and b for a, b, _ in with_empty)


def test_sentences_wrapped_in_cls_and_sep_are_refused():
    wrapped = [[[SPECIAL.cls, 5, 6, SPECIAL.sep], [SPECIAL.cls, 7, 8, SPECIAL.sep]]]
    with pytest.raises(ValueError, match="add_special_tokens=False"):
        create_pretraining_examples(wrapped, SPECIAL, 100, np.random.default_rng(0), max_seq_length=16)
    # A text may spell out [SEP] (it encodes to the special id): that alone is no mistake.
    assert create_pretraining_examples([[[5, SPECIAL.sep, 6], [7, 8]]], SPECIAL, 100, np.random.default_rng(0),
                                       max_seq_length=16)


def test_remasking_refuses_examples_that_are_already_masked(small_examples):
    remask = Remasking(SPECIAL, VOCAB_SIZE, Masking())
    with pytest.raises(ValueError, match="masked_lm_prob=0"):  # their old [MASK]s would stay, without labels
        BatchIterator(small_examples, 4, np.random.default_rng(0), remask=remask)
    BatchIterator(unmasked_examples(), 4, np.random.default_rng(0), remask=remask)


@pytest.mark.parametrize("num_epochs", [0, -1])
def test_batch_iterator_needs_at_least_one_epoch(small_examples, num_epochs):
    with pytest.raises(ValueError, match="num_epochs must be >= 1"):
        BatchIterator(small_examples, 4, np.random.default_rng(0), num_epochs=num_epochs)


@pytest.mark.parametrize("masking, field", [
    (Masking(masked_lm_prob=-0.5), "masked_lm_prob"),
    (Masking(masked_lm_prob=float("nan")), "masked_lm_prob"),
    (Masking(masked_lm_prob=1.5), "masked_lm_prob"),
    (Masking(max_predictions_per_seq=-1), "max_predictions_per_seq"),
    (Masking(max_ngram=0), "max_ngram"),
    (Masking(is_word_start=np.ones(10, dtype=bool)), "is_word_start"),
])
def test_masking_fields_that_cannot_work_are_refused(masking, field):
    tokens = np.array([SPECIAL.cls, 10, 11, 12, SPECIAL.sep, 13, 14, SPECIAL.sep])
    with pytest.raises(ValueError, match=field):
        mask_tokens(tokens, SPECIAL, 100, np.random.default_rng(0), masking)
    with pytest.raises(ValueError, match=field):
        BatchIterator(unmasked_examples(), 4, np.random.default_rng(0), remask=Remasking(SPECIAL, 100, masking))


def test_build_example_refuses_a_sentence_order_label_other_than_0_or_1():
    with pytest.raises(ValueError, match="sentence_order_label must be 0"):
        build_example([10], [11], 5, SPECIAL, 100, np.random.default_rng(0), max_seq_length=8)


@pytest.mark.parametrize("dtype", [np.uint16, np.uint8, np.int32])
def test_masking_takes_any_integer_ids(dtype):
    # Labels hold IGNORE_INDEX (-100), which no unsigned dtype can: the ids are read as int64.
    tokens = np.array([SPECIAL.cls, 10, 11, 12, 13, 14, SPECIAL.sep, 20, 21, 22, SPECIAL.sep])
    expected = mask_tokens(tokens.astype(np.int64), SPECIAL, 100, np.random.default_rng(3))
    got = mask_tokens(tokens.astype(dtype), SPECIAL, 100, np.random.default_rng(3))
    for have, want in zip(got, expected):
        assert have.dtype == np.int64
        np.testing.assert_array_equal(have, want)
    with pytest.raises(TypeError, match="integer ids"):
        mask_tokens(tokens.astype(float), SPECIAL, 100, np.random.default_rng(3))


RNG_TAKERS = {
    "mask_tokens": lambda rng: mask_tokens(np.array([2, 10, 11, 3]), SPECIAL, 100, rng),
    "sample_masked_spans": lambda rng: sample_masked_spans([1, 1, 1], 2, rng),
    "truncate_pair": lambda rng: truncate_pair([5, 6, 7], [8, 9], 3, rng),
    "create_segment_pairs": lambda rng: create_segment_pairs([[5, 6], [7, 8]], 10, 0.0, rng),
    "build_example": lambda rng: build_example([10], [11], 0, SPECIAL, 100, rng, max_seq_length=8),
    "create_pretraining_examples": lambda rng: create_pretraining_examples([], SPECIAL, 100, rng),
    "BatchIterator": lambda rng: BatchIterator(unmasked_examples(count=4), 2, rng),
}


@pytest.mark.parametrize("rng", [0, None, np.random, np.random.RandomState(0)], ids=["int", "None", "np.random", "RandomState"])
@pytest.mark.parametrize("entry", sorted(RNG_TAKERS))
def test_anything_but_a_generator_is_refused_saying_what_to_pass(entry, rng):
    with pytest.raises(TypeError, match=r"np\.random\.default_rng\(seed\)"):
        RNG_TAKERS[entry](rng)


def test_word_start_ids_from_any_iterable_of_ids():
    from tinyalbert.train.masking import word_start_mask

    expected = word_start_mask([5, 7, 9], 12)
    for ids in ((i for i in (5, 7, 9)), {5: 0, 7: 0, 9: 0}.keys(), range(5, 10, 2), {9, 7, 5}):
        np.testing.assert_array_equal(word_start_mask(ids, 12), expected)
