# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 9: Pretraining data: sentence-order pairs and n-gram masking
#
# After this lesson you will be able to
#
# - turn raw documents into ALBERT's pretraining examples `[CLS] A [SEP] B [SEP]` with a
#   sentence-order label, and read them back decoded;
# - explain n-gram masking: spans of 1 to 3 whole words with $P(n) \propto 1/n$, about 15% of the
#   tokens, each replaced by `[MASK]` (80%), a random token (10%) or left alone (10%);
# - measure the statistics of a data pipeline (mask rate, n-gram shares, replacement shares, short
#   examples) and compare them with what the recipe asks for;
# - say what next-sentence prediction (BERT) and sentence-order prediction (ALBERT) ask of a model,
#   and why a model can pass NSP without learning anything about order.
#
# Everything here is `tinyalbert.train` (`text` for documents, `data` for pairs and examples,
# `masking` for the masks), which follows google-research/albert's `create_pretraining_data.py`,
# and the bundled tinyalbert-mini tokenizer. The text is written below.

# %%
import os
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np

from tinyalbert import AlbertTokenizer
from tinyalbert.train import data, masking, text

FULL = os.environ.get("LESSONS_FULL") == "1"
NUM_DRAWS = 20_000 if FULL else 2_000  # how many draws the statistics below average over

tokenizer = AlbertTokenizer.from_pretrained("tinyalbert-mini")
special = masking.SpecialIds(cls=tokenizer.cls_token_id, sep=tokenizer.sep_token_id,
                          mask=tokenizer.mask_token_id, pad=tokenizer.pad_token_id)
vocab_size = len(tokenizer)
pieces = tokenizer.convert_ids_to_tokens(list(range(vocab_size)))
is_word_start = masking.word_start_ids_from_pieces(pieces)
print(special, "vocabulary", vocab_size)

# %% [markdown]
# ## 1. Documents and sentences
#
# A corpus is a list of documents; a document is a list of sentences. Sentence order *inside* a
# document is what SOP learns from, and document boundaries are what NSP uses.

# %%
TEXT = """\
Honeybees live in colonies of many thousands. A single queen lays the eggs. Worker bees gather nectar and pollen from flowers. When a worker finds a rich patch, she returns to the hive and dances. The angle of her dance tells the others which way to fly. Within an hour, hundreds of her sisters are visiting the same flowers.

A volcano begins deep underground, where rock melts into magma. The magma is lighter than the solid rock around it, so it rises. It collects in a chamber a few kilometres below the surface. When the pressure grows too high, the magma forces its way up through cracks. At the surface it is called lava. Layers of cooled lava and ash slowly build the mountain.

Before the printing press, every book was copied by hand. A scribe could spend a year on a single bible. Around 1450, Gutenberg combined movable metal type with an oil-based ink and a screw press. His workshop could print hundreds of pages in a day. Books became cheaper, and more people learned to read. Within fifty years, presses were running in over two hundred European cities.

Bread starts with flour, water, salt and yeast. The baker mixes them and kneads the dough until it is smooth. Then the dough rests in a warm place. The yeast eats sugars in the flour and releases gas, and the dough rises. After shaping, the loaf goes into a hot oven. Half an hour later, the kitchen smells of fresh bread.

The moon has no light of its own. It reflects the light of the sun. As it travels around the earth, we see different parts of its lit side. First a thin crescent appears in the evening sky. Over two weeks it grows into a full moon. Then it shrinks again until it disappears for a night or two.

A chess game opens with both players developing their pieces. Knights and bishops move out, and the king is often tucked away by castling. In the middle game, the players attack and defend. Pieces are traded, and the board empties. In the endgame, even the king becomes a fighting piece. The game ends when one king is trapped in checkmate.

Early railways used horses to pull wagons along wooden rails. Steam engines replaced the horses in the early nineteenth century. The first public steam railway opened in England in 1825. Soon lines crossed whole countries, and journeys of days took hours. Later, diesel and electric engines replaced steam. Today, high-speed trains run at more than three hundred kilometres an hour.

A river starts as rain or melting snow in the hills. Small streams join and grow into a river. In the mountains it runs fast and cuts a deep valley. On the plains it slows down and winds from side to side. Near the sea it drops the mud it has carried. There it spreads into a wide, flat delta.
"""
documents = [text.split_sentences(paragraph) for paragraph in TEXT.strip().split("\n\n")]
print(len(documents), "documents,", sum(map(len, documents)), "sentences; the first document:")
for sentence in documents[0]:
    print("  ", sentence)
encoded = text.encode_documents(documents, lambda batch: [tokenizer.encode(s, add_special_tokens=False) for s in batch])
print("first sentence as pieces:", tokenizer.convert_ids_to_tokens(encoded[0][0]))

# %% [markdown]
# ## 2. Sentence-order pairs
#
# Consecutive sentences are gathered until a target length is reached, then cut at a random sentence
# boundary into A (the front) and B (the rest). With probability ½ they trade places: the label is 1
# for swapped, 0 for document order. In a few lines of Python, the idea is just:

# %%
def my_sop_pair(chunk, rng):
    """chunk: consecutive sentences (lists of ids) of one document -> (A, B, label)."""
    cut = int(rng.integers(1, len(chunk)))
    a, b = sum(chunk[:cut], []), sum(chunk[cut:], [])
    return (b, a, 1) if rng.random() < 0.5 else (a, b, 0)


rng = np.random.default_rng(0)
a, b, label = my_sop_pair(encoded[1][:4], rng)
print("label", label, "| A:", tokenizer.decode(a), "| B:", tokenizer.decode(b))

# %% [markdown]
# The library's `create_segment_pairs` does the same, plus the target length and the trimming of a
# pair that is too long (one token at a time from the longer segment, front or back at random).
# Here are real examples, laid out and padded by `build_example` (masking off, so we can read them):

# %%
pairs = data.create_segment_pairs(encoded[2], max_num_tokens=40, short_seq_prob=0.0, rng=np.random.default_rng(1))
for tokens_a, tokens_b, label in pairs:
    example = data.build_example(tokens_a, tokens_b, label, special, vocab_size, rng, max_seq_length=43,
                                 masking=masking.Masking(masked_lm_prob=0.0))
    assert len(tokens_a) + len(tokens_b) <= 40
    length = int(example.attention_mask.sum())
    print(f"label {label} ({'swapped' if label else 'in order'}):", tokenizer.decode(example.input_ids[:length]))
    print("   token types:", "".join(map(str, example.token_type_ids[:length])))

# %% [markdown]
# The label balance is a statistic worth checking on a bigger sample: over many passes of the corpus
# (`dupe_factor`), the share of swapped pairs should be close to ½.

# %%
rng = np.random.default_rng(2)
labels = [label for _ in range(NUM_DRAWS // 40) for document in encoded
          for _, _, label in data.create_segment_pairs(document, 60, 0.1, rng)]
swapped_share = np.mean(labels)
print(f"{len(labels)} pairs, swapped share {swapped_share:.3f} (target 0.5)")
assert abs(swapped_share - 0.5) < 4 * 0.5 / np.sqrt(len(labels))  # within 4 standard errors

# %% [markdown]
# ### `short_seq_prob`
#
# Fine-tuning inputs are often short, so 10% of the pretraining pairs get a random shorter target
# length, uniform in $[2, \text{max}]$. Our eight documents are too short to show it (they end before
# the target), so take long synthetic documents of id-sentences and look at the pair lengths:

# %%
rng = np.random.default_rng(3)
long_documents = [[list(rng.integers(10, 1000, size=rng.integers(5, 15))) for _ in range(200)] for _ in range(30)]
max_num_tokens = 125
fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=True)
short_shares = {}
for axis, short_seq_prob in zip(axes, (0.0, 0.1)):
    lengths = np.array([len(a) + len(b) for document in long_documents
                        for a, b, _ in data.create_segment_pairs(document, max_num_tokens, short_seq_prob, rng)])
    # a full-length target is reached by adding whole sentences (at most 14 ids each): pairs shorter
    # than that are the short targets
    short_share = short_shares[short_seq_prob] = np.mean(lengths < max_num_tokens - 14)
    axis.hist(lengths, bins=25)
    axis.set_title(f"short_seq_prob={short_seq_prob}: {short_share:.1%} short")
    axis.set_xlabel("tokens in A + B")
    print(f"short_seq_prob {short_seq_prob}: {len(lengths)} pairs, share shorter than {max_num_tokens - 14}: {short_share:.3f}")
axes[0].set_ylabel("number of pairs")
plt.tight_layout()
plt.show()
print(f"short pairs added by short_seq_prob=0.1: {short_shares[0.1] - short_shares[0.0]:.3f} of all pairs")

# %% [markdown]
# Even without short targets a few pairs are short: the last pair of a document ends where the
# document ends. The difference between the two shares is what `short_seq_prob` adds; it is a little
# under 0.1 because a short target drawn close to the maximum still gives a pair of nearly full length.
#
# ## 3. N-gram masking
#
# First the maskable positions are grouped into whole words. A piece starts a new word if it begins
# with `▁` or `<`, or is a single punctuation mark such as `.` or `,`; any other piece continues the
# word before it (`masking.word_start_ids_from_pieces`). Special tokens such as `[CLS]` and `[SEP]`
# are never masked and end the word before them. Then spans of $n$ whole words are chosen with
#
# $$P(n) = \frac{1/n}{\sum_{k=1}^{3} 1/k}, \qquad n = 1, 2, 3,$$
#
# until about 15% of the tokens are chosen. Every chosen token is then replaced by `[MASK]` with
# probability 0.8, by a random id with 0.1, and kept with 0.1. The label is the original id at the
# chosen positions and $-100$ everywhere else.

# %%
my_probs = (1 / np.arange(1, 4)) / (1 / np.arange(1, 4)).sum()
np.testing.assert_allclose(my_probs, masking.ngram_length_probs(3))
print("P(n) for n = 1, 2, 3:", np.round(my_probs, 4))

sentence = encoded[0][3] + encoded[0][4]
words = masking.group_into_words(np.array(sentence), special, is_word_start)
print("whole words:", [tokenizer.convert_tokens_to_string(tokenizer.convert_ids_to_tokens([sentence[p] for p in word])) for word in words])

# %% [markdown]
# A real example, masked: `input_ids` is what the model reads, `labels` what it must predict.

# %%
pairs = data.create_segment_pairs(encoded[4], 60, 0.0, np.random.default_rng(4))
tokens_a, tokens_b, label = pairs[0]
example = data.build_example(tokens_a, tokens_b, label, special, vocab_size, np.random.default_rng(5),
                             max_seq_length=64, masking=masking.Masking(max_predictions_per_seq=10, is_word_start=is_word_start))
length = int(example.attention_mask.sum())
print("model reads:", tokenizer.decode(example.input_ids[:length]))
predicted = example.labels != -100
print("must predict:", [(int(p), tokenizer.convert_ids_to_tokens(int(example.labels[p])), tokenizer.convert_ids_to_tokens(int(example.input_ids[p])))
                        for p in np.flatnonzero(predicted)])
print("(position, original piece, what the model sees there)")

# %% [markdown]
# ### Measuring the masking against its targets
#
# Mask many sequences and count: the share of tokens predicted, the share of spans of each length
# $n$, and what happened to the chosen tokens.

# %%
rng = np.random.default_rng(6)
all_sentences = [sentence for document in encoded for sentence in document]
span_lengths, predicted, total, outcome = Counter(), 0, 0, Counter()
num_sequences = NUM_DRAWS // 4
for _ in range(num_sequences):
    picks = rng.choice(len(all_sentences), size=4, replace=False)
    tokens = np.array([special.cls] + sum((all_sentences[i] for i in picks), []) + [special.sep])[:128]
    masked, labels = masking.mask_tokens(tokens, special, vocab_size, rng, masking.Masking(max_predictions_per_seq=20, is_word_start=is_word_start))
    chosen = labels != -100
    predicted += chosen.sum()
    total += len(tokens)
    outcome["[MASK]"] += np.sum(masked[chosen] == special.mask)
    outcome["kept"] += np.sum(masked[chosen] == tokens[chosen])
    outcome["random"] += np.sum((masked[chosen] != special.mask) & (masked[chosen] != tokens[chosen]))
    # the spans themselves (mask_tokens does not return its own): a fresh draw by the library's
    # procedure, on the same words
    words = masking.group_into_words(tokens, special, is_word_start)
    budget = masking.num_tokens_to_predict(len(tokens), 0.15, 20)
    for _, num_words in masking.sample_masked_spans([len(w) for w in words], budget, rng):
        span_lengths[num_words] += 1

mask_rate = predicted / total
num_spans = sum(span_lengths.values())
span_shares = np.array([span_lengths[n] / num_spans for n in (1, 2, 3)])
replacement_shares = {name: count / predicted for name, count in outcome.items()}
print(f"{num_sequences} sequences: mask rate {mask_rate:.4f} (target 0.15)")
print("span shares n=1,2,3:", np.round(span_shares, 3), " target P(n):", np.round(my_probs, 3))
print("replacements:", {name: round(share, 3) for name, share in replacement_shares.items()}, " target 0.8 / 0.1 / 0.1")
assert abs(mask_rate - 0.15) < 0.01
assert abs(replacement_shares["[MASK]"] - 0.8) < 0.03 and abs(replacement_shares["kept"] - 0.1) < 0.03
assert span_shares[0] > my_probs[0] and span_shares[2] < my_probs[2]  # shorter spans than 1/n (see below)

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
positions = np.arange(3)
axes[0].bar(positions - 0.2, my_probs, 0.4, label="target P(n) ∝ 1/n")
axes[0].bar(positions + 0.2, span_shares, 0.4, label="measured")
axes[0].set_xticks(positions, ["1 word", "2 words", "3 words"])
axes[0].set_title("n-gram span shares")
axes[0].set_ylabel("share of spans")
axes[0].legend()
names = ["[MASK]", "random", "kept"]
axes[1].bar(np.arange(3) - 0.2, [0.8, 0.1, 0.1], 0.4, label="target")
axes[1].bar(np.arange(3) + 0.2, [replacement_shares[n] for n in names], 0.4, label="measured")
axes[1].set_xticks(np.arange(3), names)
axes[1].set_title("what a chosen token becomes")
axes[1].set_ylabel("share of chosen tokens")
axes[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The measured span shares lean toward short spans compared with $1/n$: a long span that would
# overshoot the budget is shortened, and one that would overlap a chosen word is skipped; both happen
# more often to long spans. (A random id that happens to equal the original counts as "kept", which
# moves a sliver from "random" to "kept".)
#
# The original recipe masks each text once per copy of the corpus (`dupe_factor` copies, each with
# its own masks, fixed for the whole training). `tinyalbert.train.data.BatchIterator` can instead
# draw fresh masks at every pass over the data (`remask=`, dynamic masking as in RoBERTa), so every
# token becomes a target sooner or later.
#
# ## 4. NSP and SOP: what each asks the model to learn
#
# BERT's *next-sentence prediction* pairs A with either its true continuation or a segment of a
# **random other document**. ALBERT's *sentence-order prediction* always takes both segments from the
# **same** document, in order or swapped. Build both from our corpus:

# %%
def nsp_pairs(encoded_documents, max_num_tokens, rng):
    """BERT-style pairs: (A, B, label), label 1 when B comes from another document."""
    pairs = []
    for index, document in enumerate(encoded_documents):
        for a, b, swapped in data.create_segment_pairs(document, max_num_tokens, 0.0, rng):
            if swapped:  # undo SOP's swap: we want A then its continuation
                a, b = b, a
            if rng.random() < 0.5:
                other = encoded_documents[(index + int(rng.integers(1, len(encoded_documents)))) % len(encoded_documents)]
                start = int(rng.integers(0, len(other)))
                b = sum(other[start:], [])[: len(b)]
                pairs.append((a, b, 1))
            else:
                pairs.append((a, b, 0))
    return pairs


rng = np.random.default_rng(7)
nsp = [pair for _ in range(NUM_DRAWS // 40) for pair in nsp_pairs(encoded, 40, rng)]
sop = [pair for _ in range(NUM_DRAWS // 40) for document in encoded for pair in data.create_segment_pairs(document, 40, 0.0, rng)]
a, b, label = next(pair for pair in nsp if pair[2] == 1)
print("NSP, random B:  ", tokenizer.decode(a), "||", tokenizer.decode(b))

# %% [markdown]
# A random B is almost always about another *topic*. So a model can score well on NSP by checking
# whether A and B share words, without knowing anything about discourse order. Measure it: a
# "classifier" that only looks at the word overlap of A and B (the distinct word pieces found in
# both, divided by those found in either, $|A \cap B| / |A \cup B|$, thresholded at its best value),
# on both tasks. The threshold is fitted to the very labels it is scored on, so the rule scores
# above 0.5 even where the score carries no information; to see how far above, it is also scored on
# the SOP labels shuffled at random.

# %%
def overlap(a, b):
    return len(set(a) & set(b)) / max(1, len(set(a) | set(b)))


def best_threshold_accuracy(scores, labels):
    """Accuracy of the best rule 'label 1 when the score is below t' (0.5 means it tells nothing)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    return max(np.mean((scores < t) == labels) for t in np.unique(scores))


assert all(overlap(a, b) == overlap(b, a) for a, b, _ in sop)  # swapping A and B changes nothing
sop_scores, sop_labels = [overlap(a, b) for a, b, _ in sop], np.array([label for *_, label in sop])
nsp_accuracy = best_threshold_accuracy([overlap(a, b) for a, b, _ in nsp], [label for *_, label in nsp])
sop_accuracy = best_threshold_accuracy(sop_scores, sop_labels)
shuffled_rng = np.random.default_rng(8)
chance_accuracy = np.mean([best_threshold_accuracy(sop_scores, shuffled_rng.permutation(sop_labels)) for _ in range(20)])
print(f"word-overlap rule: NSP accuracy {nsp_accuracy:.3f}, SOP accuracy {sop_accuracy:.3f} ({len(nsp)} and {len(sop)} pairs)")
print(f"the same rule on shuffled SOP labels, mean of 20 shuffles: {chance_accuracy:.3f}")
assert nsp_accuracy > 0.6 and nsp_accuracy > sop_accuracy
assert abs(sop_accuracy - chance_accuracy) < 0.03

# %% [markdown]
# The overlap rule does clearly better than chance on NSP. On SOP it tells nothing: the overlap
# does not change when A and B are swapped, so a pair's score does not depend on its label. The SOP
# accuracy is about what the same rule reaches on shuffled labels; it lies above 0.5 only because
# the threshold was chosen to fit those labels. To predict sentence order, a model has to use *how*
# the sentences connect ("Then...", "It collects...", "At the surface it is called lava"). That is
# the ALBERT paper's argument for SOP (Section 3.1; the experiment is Section 4.6, Table 5); lesson
# 12 tests it by training on each.
#
# ## 5. The same layout as Transformers' tokenizer
#
# With masking off, `build_example` must give what Transformers' `AlbertTokenizer` gives for the same
# text pair: `[CLS] A [SEP] B [SEP]` with token types 0 then 1.

# %%
try:
    import transformers
except ImportError:
    transformers = None

if transformers is None:
    print("SKIPPED: transformers is not installed (pip install transformers) - the comparison did not run.")
else:
    from pathlib import Path

    import tinyalbert
    spiece = Path(tinyalbert.__file__).parent / "data" / "tinyalbert-mini" / "spiece.model"
    reference = transformers.AlbertTokenizer(str(spiece))
    text_a, text_b = documents[3][0], documents[3][1]
    ids_a = tokenizer.encode(text_a, add_special_tokens=False)
    ids_b = tokenizer.encode(text_b, add_special_tokens=False)
    ours = data.build_example(ids_a, ids_b, 0, special, vocab_size, np.random.default_rng(0), max_seq_length=64,
                              masking=masking.Masking(masked_lm_prob=0.0))
    theirs = reference(text_a, text_b)
    length = len(theirs["input_ids"])
    assert ours.input_ids[:length].tolist() == theirs["input_ids"]
    assert ours.token_type_ids[:length].tolist() == theirs["token_type_ids"]
    print(f"identical input ids and token types for a {length}-token pair")

# %% [markdown]
# ## Exercises
#
# Each exercise cell raises `NotImplementedError` until you write the function's body, and the
# self-check below it says "not attempted yet" until then. `check` is this lesson's own, for
# exercises cut smaller than the course autograder's
# (`tinyalbert.grading.check(name, function)` takes whole graded functions such as `mask_tokens`
# and `create_segment_pairs`; `python -m tinyalbert.grading list` shows them).

# %%
def check(exercise, function):
    cases = np.random.default_rng(11)
    if exercise == "ngram_length_probs":
        for max_ngram in (1, 2, 3, 5):
            got = np.asarray(function(max_ngram))
            np.testing.assert_allclose(got, masking.ngram_length_probs(max_ngram), rtol=1e-12, err_msg=f"max_ngram={max_ngram}")
    elif exercise == "mask_statistics":
        examples = data.create_pretraining_examples(encoded, special, vocab_size, cases, max_seq_length=64,
                                                    max_predictions_per_seq=10, dupe_factor=3, word_start_ids=is_word_start)
        batch = data.collate(examples)
        expected_rate = (batch["labels"] != -100).sum() / batch["attention_mask"].sum()
        chosen = batch["labels"] != -100
        expected_mask_share = (batch["input_ids"][chosen] == special.mask).mean()
        got = function(batch, special.mask)
        assert len(got) == 2, "return (mask_rate, mask_share)"
        np.testing.assert_allclose(got[0], expected_rate, rtol=1e-12,
                                   err_msg="mask_rate: predicted tokens / real tokens (attention_mask 1)")
        np.testing.assert_allclose(got[1], expected_mask_share, rtol=1e-12,
                                   err_msg="mask_share: predicted positions whose input is [MASK] / predicted positions")
    else:
        raise ValueError(f"no exercise called {exercise!r}")


def must_reject(exercise, wrong_answer):
    """The check itself is checked: it must fail on a known wrong answer."""
    try:
        check(exercise, wrong_answer)
    except AssertionError:
        return
    raise RuntimeError(f"the self-check of {exercise} accepted a wrong answer")


def reference_mask_statistics(batch, mask_id):
    """A right answer (the library has no function for these two statistics)."""
    chosen = batch["labels"] != -100
    return chosen.sum() / batch["attention_mask"].sum(), (batch["input_ids"][chosen] == mask_id).mean()


# The check itself is checked: it accepts a right answer and rejects known wrong ones.
check('ngram_length_probs', masking.ngram_length_probs)  # the library's answer passes
check('mask_statistics', reference_mask_statistics)
must_reject('ngram_length_probs', lambda n: np.full(n, 1 / n))
must_reject('mask_statistics', lambda batch, mask_id: ((batch["labels"] != -100).mean(), 0.8))


# %% [markdown]
# **Exercise 1.** Write `ngram_length_probs(max_ngram)`: the array of $P(n) \propto 1/n$ for
# $n = 1..\text{max\_ngram}$.

# %%
def ngram_length_probs(max_ngram):
    """(max_ngram,) array: entry n - 1 is P(n), for n = 1..max_ngram; the entries sum to 1."""
    raise NotImplementedError("write ngram_length_probs")


# %%
try:
    check("ngram_length_probs", ngram_length_probs)
    print("Exercise 1: correct.")
except NotImplementedError:
    print("Exercise 1: not attempted yet. Write ngram_length_probs above and run this cell again.")

# %% [markdown]
# **Exercise 2.** Given a collated batch (a dict of `(batch, seq)` arrays `input_ids`, `labels`,
# `attention_mask`, ...), return `(mask_rate, mask_share)`: the share of real (non-padding) tokens
# that are predicted, and the share of predicted positions whose input is `[MASK]`.

# %%
def mask_statistics(batch, mask_id):
    """(mask_rate, mask_share) of a collated batch: two floats."""
    raise NotImplementedError("write mask_statistics")


# %%
try:
    check("mask_statistics", mask_statistics)
    print("Exercise 2: correct.")
except NotImplementedError:
    print("Exercise 2: not attempted yet. Write mask_statistics above and run this cell again.")

# %% [markdown]
# **Exercise 3 (no self-check).** In the measuring cell of section 3, build the `Masking` with
# `max_ngram=1` and pass `max_ngram=1` to `sample_masked_spans` too, then measure again: which of
# the statistics of section 3 change, and which stay? Why does the ALBERT paper mask whole-word
# n-grams at all (hint: what can a model predict from the other pieces of the same word)?
#
# Next: lesson 10 covers the optimizers that learn from these examples.
