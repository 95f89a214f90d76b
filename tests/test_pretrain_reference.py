"""Pretraining data and the pretraining command held to the ALBERT paper (Lan et al. 2019) and to
google-research/albert's `create_pretraining_data.py`, as properties any corpus and seed must keep.

What the rules say, written here independently of tinyalbert's code:

- masking: round(length * masked_lm_prob) targets ([CLS] and [SEP] counted), at least 1 and at
  most max_predictions_per_seq; whole words (a SentencePiece piece without the '▁' marker
  continues the word before it); never [CLS], [SEP], padding or a [MASK] already there; a target
  becomes [MASK] 80%, stays 10%, becomes a random id of the whole vocabulary 10% (the original
  draws from its whole vocabulary, special pieces included); labels -100 off the targets;
- n-grams of n = 1..3 words, P(n) proportional to 1/n: 6/11, 3/11, 2/11;
- sentence order: A and B are consecutive text of one document, swapped (label 1) half of the time;
- a seed fixes everything; dynamic masking draws new masks at every pass.

The statistical tolerances are about 4 standard errors of the measured rate, so a wrong rule fails
and a correct one passes for any seed.
"""
import io
import math
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyalbert import pretrain
from tinyalbert.nn.losses import IGNORE_INDEX
from tinyalbert.train.arguments import TrainingArguments
from tinyalbert.train.checkpoints import CHECKPOINT_DIR, FINAL_DIR, read_trainer_state
from tinyalbert.train.data import BatchIterator, Remasking, collate, create_pretraining_examples
from tinyalbert.train.masking import Masking, SpecialIds, mask_tokens, sample_masked_spans
from tinyalbert.train.progress import Progress

import test_trainer

workspace = test_trainer.workspace  # corpus, tokenizer directory and tiny config.json, made once

SPECIAL = SpecialIds(cls=2, sep=3, mask=4, pad=0)
UNK = 1
# A small SentencePiece-like vocabulary and, by hand, which of its pieces begin a word: a piece
# with the '▁' marker, '<unk>', or a lone punctuation mark; any other continues the word before.
PIECES_AND_STARTS = [
    ("<pad>", True), ("<unk>", True), ("[CLS]", False), ("[SEP]", False), ("[MASK]", False),
    ("\u2581the", True), ("\u2581cat", True), ("s", False), ("ing", False), (",", True), (".", True),
    ("\u2581", True), ("1", False), ("9", False), ("\u2581run", True), ("ner", False), ("'", True),
    ("t", False), ("\u2581un", True), ("believ", False), ("able", False), ("\u2581a", True),
]
PIECES = [piece for piece, _ in PIECES_AND_STARTS]
IS_WORD_START = np.array([start for _, start in PIECES_AND_STARTS])
VOCAB_SIZE = len(PIECES)
TEXT_IDS = [index for index in range(VOCAB_SIZE) if index not in SPECIAL]


def tolerance(rate, count, standard_errors=4.0):
    return standard_errors * math.sqrt(rate * (1 - rate) / count)


def budget(length, masked_lm_prob, max_predictions):
    """The original's count of targets: round(length * prob), clipped to [1, max_predictions]."""
    return min(max_predictions, max(1, int(round(length * masked_lm_prob))))


def reference_words(tokens):
    """Whole words as lists of positions, by the rule of the module docstring: special tokens
    belong to no word and end the one before them."""
    words, previous_special = [], True
    for position, token in enumerate(tokens):
        if token in SPECIAL:
            previous_special = True
            continue
        if previous_special or IS_WORD_START[token]:
            words.append([position])
        else:
            words[-1].append(position)
        previous_special = False
    return words


def original_of(input_ids, labels):
    return np.where(labels != IGNORE_INDEX, labels, input_ids)


# --- masking -----------------------------------------------------------------------------------
segment = st.lists(st.sampled_from(TEXT_IDS + [SPECIAL.mask, SPECIAL.pad]), min_size=1, max_size=40)


@given(tokens_a=segment, tokens_b=segment, masked_lm_prob=st.floats(0.01, 1.0), max_predictions=st.integers(1, 30),
       seed=st.integers(0, 2**32 - 1))
def test_masking_chooses_whole_words_never_special_tokens_within_the_budget(tokens_a, tokens_b, masked_lm_prob,
                                                                            max_predictions, seed):
    tokens = np.array([SPECIAL.cls, *tokens_a, SPECIAL.sep, *tokens_b, SPECIAL.sep])
    masking = Masking(masked_lm_prob, max_predictions, 3, IS_WORD_START)
    masked, labels = mask_tokens(tokens, SPECIAL, VOCAB_SIZE, np.random.default_rng(seed), masking)
    chosen = labels != IGNORE_INDEX
    np.testing.assert_array_equal(labels[chosen], tokens[chosen])  # the label is the original token
    np.testing.assert_array_equal(masked[~chosen], tokens[~chosen])  # nothing else changes
    assert not np.isin(tokens[chosen], list(SPECIAL)).any()  # [CLS], [SEP], padding, [MASK]: never
    for word in reference_words(tokens.tolist()):
        assert len(set(chosen[word].tolist())) == 1, (word, tokens[word], chosen[word])
    assert chosen.sum() <= budget(len(tokens), masked_lm_prob, max_predictions)
    allowed = budget(len(tokens), masked_lm_prob, max_predictions)
    if any(len(word) <= allowed for word in reference_words(tokens.tolist())):
        assert chosen.sum() >= 1  # a word that fits the budget is always found
    again = mask_tokens(tokens, SPECIAL, VOCAB_SIZE, np.random.default_rng(seed), masking)
    np.testing.assert_array_equal(again[0], masked)
    np.testing.assert_array_equal(again[1], labels)


def test_masked_share_is_masked_lm_prob_on_text_of_several_piece_words():
    # Whole words of 1 to 3 pieces can leave the budget a token short now and then (a word that
    # does not fit is skipped), never over it; measured over 2000 sequences the share of targets
    # is within 3% below round(length * 0.15) and the capped sequences reach their cap.
    rng = np.random.default_rng(0)
    masking = Masking(0.15, 20, 3, IS_WORD_START)
    starts = [i for i in TEXT_IDS if IS_WORD_START[i]]
    continuations = [i for i in TEXT_IDS if not IS_WORD_START[i]]
    chosen_total = budget_total = 0
    for _ in range(2000):
        words = [[rng.choice(starts), *rng.choice(continuations, rng.integers(0, 3))]
                 for _ in range(rng.integers(2, 60))]
        text = [token for word in words for token in word]
        cut = int(rng.integers(1, len(text)))
        tokens = np.array([SPECIAL.cls, *text[:cut], SPECIAL.sep, *text[cut:], SPECIAL.sep])
        _, labels = mask_tokens(tokens, SPECIAL, VOCAB_SIZE, rng, masking)
        chosen_total += int((labels != IGNORE_INDEX).sum())
        budget_total += budget(len(tokens), 0.15, 20)
    assert 0.97 * budget_total <= chosen_total <= budget_total


def test_ngram_lengths_in_words_follow_one_over_n_with_words_of_several_pieces():
    # Lengths count words, not pieces. The last two spans of a draw may have been shortened to fit
    # the budget and are left out; a span that meets a chosen word is skipped (under 3% here,
    # biasing the rates by less than 0.01).
    rng = np.random.default_rng(1)
    counts = np.zeros(3)
    for _ in range(300):
        word_lengths = rng.integers(1, 4, 3000).tolist()
        spans = sample_masked_spans(word_lengths, num_to_predict=150, rng=rng, max_ngram=3)
        for _, num_words in spans[:-2]:
            counts[num_words - 1] += 1
    expected = np.array([6, 3, 2]) / 11
    np.testing.assert_allclose(counts / counts.sum(), expected, atol=0.015)


def test_replacements_split_80_10_10_and_random_ids_cover_the_whole_vocabulary():
    # A tiny vocabulary, half special, so that every id is drawn often: the original draws the
    # random replacement from its whole vocabulary, special pieces included.
    rng = np.random.default_rng(2)
    vocab_size = 10
    masking = Masking(0.5, 1000, 1, None)
    text_ids = np.arange(5, vocab_size)
    replaced = kept = random = 0
    random_ids = []
    for _ in range(3000):
        tokens = np.array([SPECIAL.cls, *rng.choice(text_ids, 20), SPECIAL.sep, *rng.choice(text_ids, 20), SPECIAL.sep])
        masked, labels = mask_tokens(tokens, SPECIAL, vocab_size, rng, masking)
        # A mask draw can only be told from a random [MASK] with a second draw: count on
        # the token ids, and the random draws that hit [MASK] or the original by their expected share.
        chosen = labels != IGNORE_INDEX
        replaced += int((masked[chosen] == SPECIAL.mask).sum())
        kept += int((masked[chosen] == tokens[chosen]).sum())
        others = chosen & (masked != SPECIAL.mask) & (masked != tokens)
        random += int(others.sum())
        random_ids.extend(masked[others].tolist())
    total = replaced + kept + random
    # A random id is [MASK] with chance 1/10 and the original with chance 1/10.
    expected = {"mask": 0.8 + 0.1 / vocab_size, "kept": 0.1 + 0.1 / vocab_size, "random": 0.1 * (1 - 2 / vocab_size)}
    assert abs(replaced / total - expected["mask"]) < tolerance(expected["mask"], total)
    assert abs(kept / total - expected["kept"]) < tolerance(expected["kept"], total)
    assert abs(random / total - expected["random"]) < tolerance(expected["random"], total)
    # Every id but [MASK] (counted above) turns up, [CLS], [SEP] and <pad> as often as a word.
    counts = np.bincount(random_ids, minlength=vocab_size)
    assert counts[SPECIAL.mask] == 0
    seen = np.delete(np.arange(vocab_size), SPECIAL.mask)
    share = counts[seen] / counts.sum()
    assert np.all(np.abs(share - 1 / 9) < 4 * math.sqrt((1 / 9) * (8 / 9) / counts.sum()) + 0.03), share


# --- sentence order ----------------------------------------------------------------------------
@given(num_documents=st.integers(1, 12), max_seq_length=st.integers(6, 48),
       short_seq_prob=st.sampled_from([0, 0.1, 0.5]), multi_token=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_sentence_order_pairs_are_consecutive_text_of_one_document_swapped_by_the_label(
        num_documents, max_seq_length, short_seq_prob, multi_token, seed):
    # Every token id is its place in the corpus, so the text of a pair tells where it came from.
    # Document d holds ids 1000 * (d + 1) ..., in sentences of 1 (or 1 to 4) tokens.
    rng = np.random.default_rng(seed)
    documents = []
    for number in range(num_documents):
        next_id, sentences = 1000 * (number + 1), []
        for _ in range(int(rng.integers(1, 25))):
            length = int(rng.integers(1, 5)) if multi_token else 1
            sentences.append(list(range(next_id, next_id + length)))
            next_id += length
        documents.append(sentences)
    examples = create_pretraining_examples(documents, SPECIAL, 100 * 1000, rng, max_seq_length=max_seq_length,
                                           short_seq_prob=short_seq_prob, word_start_ids=None)
    for example in examples:
        length = int(example.attention_mask.sum())
        tokens = original_of(example.input_ids, example.labels)[:length].tolist()
        assert tokens[0] == SPECIAL.cls and tokens[-1] == SPECIAL.sep
        middle = tokens.index(SPECIAL.sep)
        tokens_a, tokens_b = tokens[1:middle], tokens[middle + 1 : -1]
        assert tokens_a and tokens_b
        assert len({token // 1000 for token in tokens_a + tokens_b}) == 1  # one document
        for part in (tokens_a, tokens_b):  # trimmed only at its ends: still a run of the text
            assert part == list(range(part[0], part[0] + len(part)))
        first, second = (tokens_a, tokens_b) if example.sentence_order_label == 0 else (tokens_b, tokens_a)
        assert first[-1] < second[0]
        if not multi_token:  # one-token sentences: a chunk never needs trimming, so B follows A at once
            assert second[0] == first[-1] + 1
        np.testing.assert_array_equal(example.token_type_ids[: middle + 1], 0)
        np.testing.assert_array_equal(example.token_type_ids[middle + 1 : length], 1)


def test_sentence_order_labels_are_balanced():
    rng = np.random.default_rng(3)
    documents = [[rng.integers(5, 1000, int(rng.integers(3, 15))).tolist() for _ in range(20)] for _ in range(600)]
    labels = [example.sentence_order_label for example in
              create_pretraining_examples(documents, SPECIAL, 1000, rng, max_seq_length=64)]
    assert len(labels) > 1000
    assert abs(np.mean(labels) - 0.5) < tolerance(0.5, len(labels))


# --- a seed fixes everything; dynamic masking draws anew ---------------------------------------
@given(seed=st.integers(0, 2**32 - 1))
def test_a_seed_fixes_the_examples_and_the_dynamic_masks_and_every_pass_masks_anew(seed):
    documents = [[list(range(100 + 50 * d + 10 * s, 100 + 50 * d + 10 * s + 8)) for s in range(4)] for d in range(8)]

    def examples(masked_lm_prob):
        return create_pretraining_examples(documents, SPECIAL, 1000, np.random.default_rng(seed), max_seq_length=32,
                                           masked_lm_prob=masked_lm_prob)

    first, again = collate(examples(0.15)), collate(examples(0.15))
    for field in first:
        np.testing.assert_array_equal(first[field], again[field])

    remask = Remasking(SPECIAL, 1000, Masking(0.15, 5))
    unmasked = examples(0.0)

    def passes(count):
        iterator = BatchIterator(unmasked, len(unmasked), np.random.default_rng(seed), remask=remask)
        return [next(iterator) for _ in range(count)]

    one, two = passes(2), passes(2)
    for got, expected in zip(two, one):
        for field in got:
            np.testing.assert_array_equal(got[field], expected[field])

    def masks_by_text(batch):
        text = original_of(batch["input_ids"], batch["labels"])
        return {row.tobytes(): labels.tobytes() for row, labels in zip(text, batch["labels"])}

    first_pass, second_pass = masks_by_text(one[0]), masks_by_text(one[1])
    assert first_pass.keys() == second_pass.keys()  # the same texts ...
    changed = sum(first_pass[text] != second_pass[text] for text in first_pass)
    assert changed >= len(first_pass) // 2  # ... under other masks (two draws seldom coincide)


# --- arguments and the command ------------------------------------------------------------------
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_masked_lm_prob_that_is_not_a_share_is_refused_naming_it(value):
    with pytest.raises(ValueError, match=r"masked_lm_prob must lie in \(0, 1\]"):
        TrainingArguments(corpus="c", out="o", vocab_size=100, masked_lm_prob=value)


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_cli_refuses_a_masked_lm_prob_of_nan_or_inf_on_one_line(workspace, tmp_path, capsys, value):
    status = pretrain.main([str(option) for option in test_trainer.tiny_cli_options(workspace, tmp_path / "run")]
                           + ["--masked-lm-prob", value])
    stderr = capsys.readouterr().err
    assert status == 2
    assert stderr == ("error: --masked-lm-prob must lie in (0, 1]: the share of tokens to predict, above 0, "
                      f"got {value}\n")


def run_main(arguments, capsys) -> tuple[int, str]:
    status = pretrain.main([str(argument) for argument in arguments])
    return status, capsys.readouterr().err


@pytest.mark.reference
def test_resume_takes_the_corpus_from_the_checkpoint_and_final_loads_in_transformers(workspace, tmp_path, capsys,
                                                                                     monkeypatch):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tinyalbert import AlbertForPreTraining, AlbertTokenizer

    out = tmp_path / "run"
    status, stderr = run_main(test_trainer.tiny_cli_options(workspace, out) + ["--stop-at", 2], capsys)
    assert status == 0, stderr
    status, stderr = run_main(["--out", out, "--resume"], capsys)  # as the help says: options left out, --corpus too
    assert status == 0, stderr
    assert read_trainer_state(out / CHECKPOINT_DIR)["step"] == 4

    status, stderr = run_main(["--out", tmp_path / "other"], capsys)
    assert (status, stderr) == (2, "error: the following arguments are required: --corpus (see --help)\n")
    # The checkpoint names its corpus as it was given: a relative path leads nowhere from elsewhere.
    relative = tmp_path / "relative"
    relative.mkdir()
    (relative / "corpus.txt").write_text(workspace["corpus"].read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(relative)
    options = test_trainer.tiny_cli_options(workspace, tmp_path / "moved") + ["--stop-at", 2]
    options[options.index("--corpus") + 1] = "corpus.txt"
    assert run_main(options, capsys)[0] == 0
    monkeypatch.chdir(tmp_path)
    status, stderr = run_main(["--out", tmp_path / "moved", "--resume"], capsys)
    assert status == 2 and stderr.count("\n") == 1
    assert stderr.startswith("error: the corpus 'corpus.txt' that ")
    assert stderr.endswith("give its path with --corpus\n")

    # final/: Transformers' AlbertForPreTraining and its slow tokenizer read it as tinyalbert does.
    texts = ["the cat eats [MASK] in the field.", "a dog lives in the house."]
    theirs_tokenizer = transformers.AlbertTokenizer.from_pretrained(out / FINAL_DIR)
    ours_tokenizer = AlbertTokenizer.from_pretrained(out / FINAL_DIR)
    theirs_inputs = theirs_tokenizer(texts, padding=True, return_tensors="pt")
    ours_inputs = ours_tokenizer(texts, padding=True, return_tensors="np")
    for name in theirs_inputs:
        np.testing.assert_array_equal(ours_inputs[name], theirs_inputs[name].numpy())
    theirs, info = transformers.AlbertForPreTraining.from_pretrained(out / FINAL_DIR, output_loading_info=True)
    assert all(not keys for keys in info.values())
    with torch.no_grad():
        expected = theirs.eval()(**theirs_inputs)
    got = AlbertForPreTraining.from_pretrained(out / FINAL_DIR)(**ours_inputs)
    np.testing.assert_allclose(got.prediction_logits, expected.prediction_logits.numpy(), atol=test_trainer.LOGITS_ATOL)
    np.testing.assert_allclose(got.sop_logits, expected.sop_logits.numpy(), atol=test_trainer.LOGITS_ATOL)


class Terminal(io.StringIO):
    """What is written, kept, on a stream that says it is a terminal of `columns` x 24 (a pseudo-terminal
    of that size gives tqdm the width, as a real one does)."""

    def __init__(self, columns: int):
        super().__init__()
        import fcntl
        import struct
        import termios

        self.pty, self.tty = os.openpty()
        fcntl.ioctl(self.tty, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))

    def isatty(self):
        return True

    def fileno(self):
        return self.tty

    def close_terminal(self):
        os.close(self.pty)
        os.close(self.tty)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_on_an_80_column_terminal_the_progress_line_keeps_its_eta_and_no_metric_is_cut_away():
    terminal = Terminal(80)
    assert os.get_terminal_size(terminal.fileno()).columns == 80
    progress = Progress(1000, 0, terminal)
    values = {"loss": 3.14159, "mlm_accuracy": 0.25, "mlm_accuracy_uncommon": 0.0625, "sop_accuracy": 0.75,
              "final_layer_cosine": 0.5, "lr": 1e-4, "tokens_per_second": 12345.6}
    progress.update(250, {"loss": 3.5, "lr": 2e-4, "tokens_per_second": 1000.0})  # a save step: no metrics
    progress.update(500, values)
    progress.close()
    terminal.close_terminal()
    shown = [part for line in terminal.getvalue().split("\n") for part in line.split("\r") if part.strip()]
    bars = [part for part in shown if "|" in part]
    assert bars and all(len(part) <= 80 for part in bars), bars
    assert all("eta " in part for part in bars)
    assert any(part.startswith("step 500/1000 |") for part in bars)
    # The logged step's values stand whole on a line of their own; the save step's, in the bar only.
    whole = [part for part in shown if "|" not in part]
    assert whole == ["step 500/1,000  loss 3.1416  mlm_acc 0.250  acc_uncommon 0.062  sop_acc 0.750  cos 0.500  "
                     "lr 1.00e-04  12,346 tok/s"]


def test_the_closing_line_says_when_no_held_out_target_lies_outside_the_frequent_pieces():
    results = {"mlm_accuracy": 0.2, "sop_accuracy": 0.5, "final_layer_cosine": 0.14}
    line = pretrain.heldout_summary(results)
    assert "nan" not in line and "no target outside the most frequent pieces" in line
    assert "0.1250 outside" in pretrain.heldout_summary({**results, "mlm_accuracy_uncommon": 0.125})


@given(total_steps=st.integers(2, 10_000), warmup_share=st.floats(0.0, 0.5), peak_lr=st.floats(1e-5, 1e-2),
       position=st.floats(0.0, 1.0))
def test_after_warmup_the_original_schedule_is_this_one_times_one_minus_the_warmup_share(total_steps, warmup_share,
                                                                                         peak_lr, position):
    # google-research/albert's optimization.py: polynomial (power 1) decay from step 0 over the run,
    # replaced by peak * step / warmup during warmup. The documented relation to the schedule here.
    from tinyalbert.train.optim import linear_warmup_then_decay

    warmup_steps = int(warmup_share * total_steps)
    step = warmup_steps + int(position * (total_steps - 1 - warmup_steps))
    original = peak_lr * (1 - step / total_steps)
    ours = linear_warmup_then_decay(step, warmup_steps, total_steps, peak_lr)
    assert original == pytest.approx(ours * (1 - warmup_steps / total_steps), rel=1e-9, abs=1e-15)
    if warmup_steps:
        early = warmup_steps // 2
        assert linear_warmup_then_decay(early, warmup_steps, total_steps, peak_lr) == pytest.approx(
            peak_lr * early / warmup_steps, rel=1e-12)
