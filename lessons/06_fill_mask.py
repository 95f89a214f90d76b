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
# # Lesson 6: predicting masked words
#
# **After this lesson you can** run the fill-mask pipeline step by step (tokenize, find the
# masks, score the whole vocabulary, keep the top $k$ or only chosen targets, such as whole
# words), see how the pieces around a mask change what is scored, get the same answer from
# `tinyalbert.pipeline` and from the command line `python -m tinyalbert.predict`, and run the
# same code on a GPU through CuPy.

# %%
import json
import os
import subprocess
import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np

from tinyalbert import AlbertForMaskedLM, AlbertTokenizer, pipeline
from tinyalbert.pipelines import top_k_indices

# %% [markdown]
# ## 1. Step by step
#
# The model gives, at every position, one logit $z_v$ per vocabulary piece $v$. At a masked
# position the prediction is the softmax over the whole vocabulary,
#
# $$P(v \mid \text{text}) = \frac{e^{z_v}}{\sum_{u=1}^{V} e^{z_u}},$$
#
# and the pipeline reports the $k$ most probable pieces, each with the text it would give.

# %%
tokenizer = AlbertTokenizer.from_pretrained("tinyalbert-mini")
model = AlbertForMaskedLM.from_pretrained("tinyalbert-mini")
text = "Paris is the capital and largest city of [MASK]."

encoded = tokenizer(text, return_tensors="np")                                    # 1. tokenize
ids = encoded["input_ids"][0]
positions = np.flatnonzero(ids == tokenizer.mask_token_id)                        # 2. find the masks
print("pieces:", tokenizer.convert_ids_to_tokens(ids.tolist()), " mask at", positions)

logits = model(**encoded).logits[0, positions[0]].astype(np.float64)              # 3. (V,) scores
probs = np.exp(logits - logits.max())
probs /= probs.sum()                                                              # 4. softmax
k = 5
best = np.argsort(-probs, kind="stable")[:k]                                      # 5. top k
by_hand = []
for token in best:
    filled = ids.copy()
    filled[positions[0]] = token
    by_hand.append({"score": probs[token], "token": int(token), "token_str": tokenizer.decode([int(token)]),
                    "sequence": tokenizer.decode(filled.tolist(), skip_special_tokens=True)})
for row in by_hand:
    print(f"{row['score']:.4f}  {row['token_str']!r:<10} {row['sequence']}")

# %% [markdown]
# Look at the pieces: a bare `▁` follows `[MASK]`, before the `.`. The tokenizer cuts the text at
# special tokens and encodes what follows, `.`, as a text of its own, which SentencePiece starts
# with a word start; `.` is one of the user-defined pieces (lesson 1), so the `▁` stays alone.
# Transformers' slow `AlbertTokenizer` does the same, and tinyalbert matches it. The model
# therefore reads the mask as a word followed by one more word. The input pieces decide what is
# scored: without that `▁`, the same model ranks other words first.

# %%
word_start = tokenizer.convert_tokens_to_ids("▁")
stray = ids[positions[0] + 1] == word_start
if not stray:  # a vocabulary in which "." is not a piece of its own
    print("NOTE: this tokenizer writes no bare ▁ after [MASK] here, so there is nothing to take out")
without = np.delete(ids, positions[0] + 1) if stray else ids
logits_without = model(input_ids=without[None]).logits[0, positions[0]].astype(np.float64)
probs_without = np.exp(logits_without - logits_without.max())
probs_without /= probs_without.sum()
print("without the ▁:", tokenizer.convert_ids_to_tokens(without.tolist()))
for token in np.argsort(-probs_without, kind="stable")[:k]:
    print(f"{probs_without[token]:.4f}  {tokenizer.decode([int(token)])!r}")

# %% [markdown]
# The library's pipeline takes the same steps on the text as the tokenizer cuts it, `▁` included
# (in batches, and for several masks at once):

# %%
fill_mask = pipeline("fill-mask", model="tinyalbert-mini", top_k=k)
result = fill_mask(text)
assert [r["token"] for r in result] == [r["token"] for r in by_hand]
assert [r["sequence"] for r in result] == [r["sequence"] for r in by_hand]
assert np.allclose([r["score"] for r in result], [r["score"] for r in by_hand], atol=1e-6)
print("tinyalbert.pipeline gives the same", k, "predictions")

fig, ax = plt.subplots(figsize=(6, 3))
top10 = np.argsort(-probs, kind="stable")[:10]
ax.barh([tokenizer.decode([int(t)]) for t in top10][::-1], probs[top10][::-1])
ax.set_xlabel("probability")
ax.set_title(f"{text!r}: the 10 most likely pieces")
plt.show()

# %% [markdown]
# With several masks the pipeline returns one list per mask. Each is scored at its own position
# from one forward pass, the other masks still masked: the scores are probabilities of one
# position each, not of a joint filling, and the best pieces of two masks need not go together.

# %%
two_masks = "[MASK] is the capital and largest city of [MASK]."
per_mask = fill_mask(two_masks)
encoded_two = tokenizer(two_masks, return_tensors="np")
logits_two = model(**encoded_two).logits[0].astype(np.float64)
for position, predictions in zip(np.flatnonzero(encoded_two["input_ids"][0] == tokenizer.mask_token_id), per_mask):
    at_position = np.exp(logits_two[position] - logits_two[position].max())
    at_position /= at_position.sum()
    assert np.allclose([r["score"] for r in predictions], at_position[[r["token"] for r in predictions]], atol=1e-6)
    print(f"mask at {position}:", [(r["token_str"], round(r["score"], 3)) for r in predictions])

# %% [markdown]
# ## 2. Targets
#
# With `targets`, only the given candidates are ranked. Their scores are still the
# probabilities over the *whole* vocabulary, so they need not sum to one. A target must be a
# piece of the vocabulary: the three below are pieces of tinyalbert-mini's; the cell checks,
# and says which it replaces should a retrained vocabulary lack one.

# %%
targets = ["▁france", "▁paris", "▁london"]
missing = [t for t in targets if tokenizer.convert_tokens_to_ids(t) == tokenizer.unk_token_id]
if missing:  # a vocabulary without one of them: take the model's best whole words instead
    replacements = [piece for piece in tokenizer.convert_ids_to_tokens(np.argsort(-probs, kind="stable").tolist())
                    if piece.startswith("▁") and piece[1:].isalpha() and piece not in targets][: len(missing)]
    print(f"NOTE: this vocabulary has no piece {missing}; the targets use {replacements} instead")
    targets = [t for t in targets if t not in missing] + replacements
target_ids = [tokenizer.convert_tokens_to_ids(t) for t in targets]
by_hand_targets = sorted(zip(probs[target_ids], targets), reverse=True)
from_pipeline = fill_mask(text, targets=targets)
for score, target in by_hand_targets:
    print(f"{score:.5f}  {target}")
print(f"together {sum(score for score, _ in by_hand_targets):.5f} of the whole vocabulary's 1")
assert [tokenizer.convert_ids_to_tokens(r["token"]) for r in from_pipeline] == [t for _, t in by_hand_targets]
assert np.allclose([r["score"] for r in from_pipeline], [s for s, _ in by_hand_targets], atol=1e-6)

# %% [markdown]
# A small model often ranks pieces first that are not words: the bare word start `▁` (shown as
# `''`: it guesses a word that needs two pieces), a word's end such as `s`, or punctuation.
# Targets can leave them out. The command line's `--whole-words` passes every piece that begins
# a word with a letter or digit as a target, so its scores are still whole-vocabulary
# probabilities: the words keep their places, only the other pieces drop out.

# %%
from tinyalbert.predict import whole_word_pieces

word_starts = whole_word_pieces(tokenizer)
print(len(word_starts), "of", len(tokenizer), "pieces begin a word, e.g.", word_starts[100:106])
dog = "A dog is a kind of [MASK]."
every_piece, words_only = fill_mask(dog), fill_mask(dog, targets=word_starts)
print(dog)
print("  all pieces: ", [r["token_str"] for r in every_piece])
print("  whole words:", [r["token_str"] for r in words_only])
in_both = [r["token"] for r in every_piece if r["token"] in {w["token"] for w in words_only}]
assert [r["token"] for r in words_only][: len(in_both)] == in_both  # same order, the others removed

# %% [markdown]
# ## 3. From the command line
#
# `python -m tinyalbert.predict` runs the same pipeline; `--json` prints one object per text.

# %%
command = [sys.executable, "-m", "tinyalbert.predict", text, "--top-k", str(k), "--json"]
printed = subprocess.run(command, capture_output=True, text=True, check=True, env=dict(os.environ)).stdout
from_cli = json.loads(printed.splitlines()[0])
print(" ".join(command[1:]))
print(printed[:300], "...")
assert [r["token"] for r in from_cli["predictions"]] == [r["token"] for r in result]
assert np.allclose([r["score"] for r in from_cli["predictions"]], [r["score"] for r in result], atol=1e-6)

# %% [markdown]
# ## 4. The same code on a GPU
#
# The model runs on whatever array library its `backend` names. With CuPy and a CUDA GPU,
# `backend="cupy"` puts the weights on the GPU and every step above runs there unchanged.

# %%
try:
    import cupy

    gpu_count = cupy.cuda.runtime.getDeviceCount()
except Exception as error:  # CuPy missing, or installed without a usable GPU or driver
    gpu_count, reason = 0, f"{type(error).__name__}: {error}"
else:
    reason = "no CUDA device found"

if gpu_count:
    on_gpu = pipeline("fill-mask", model="tinyalbert-mini", top_k=k, backend="cupy")(text)
    print(f"CuPy on {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}:")
    for cpu_row, gpu_row in zip(result, on_gpu):
        print(f"  {gpu_row['token_str']!r:<10} GPU {gpu_row['score']:.6f}   CPU {cpu_row['score']:.6f}")
    assert [r["token"] for r in on_gpu] == [r["token"] for r in result]
    assert np.allclose([r["score"] for r in on_gpu], [r["score"] for r in result], atol=1e-4)
else:
    print(f"SKIPPED: no GPU run ({reason}). With CuPy and a CUDA GPU this cell runs the pipeline "
          "with backend='cupy' and compares it with the CPU.")

# %% [markdown]
# ## 5. Compare with Transformers
#
# Transformers' own `fill-mask` pipeline, with its ALBERT and slow tokenizer loaded from the
# same files, must rank the same pieces with the same probabilities. Name the slow tokenizer:
# given only `model=`, `transformers.pipeline` loads the fast `AlbertTokenizerFast`, which writes
# no `▁` after `[MASK]` (the cell checks it when it can build one), so it scores the input of
# section 1 without the `▁`, not the first one.

# %%
warnings.filterwarnings("ignore", message="IProgress not found")  # a notebook-only notice of tqdm
try:
    import torch  # noqa: F401
    import transformers
except ImportError:
    transformers = None
    print("SKIPPED: transformers (with torch) is not installed, so the comparison with it does not run "
          "(pip install -e '.[test]' installs it).")

if transformers is not None:
    from tinyalbert.hub import resolve_model_dir

    transformers.logging.set_verbosity_error()  # no notice about the device it picked
    directory = resolve_model_dir("tinyalbert-mini")
    reference = transformers.pipeline(
        "fill-mask", model=transformers.AlbertForMaskedLM.from_pretrained(directory),
        tokenizer=transformers.AlbertTokenizer.from_pretrained(directory), top_k=k, device="cpu",
    )
    theirs = reference(text)
    for ours, their in zip(result, theirs):
        print(f"  {their['token_str']!r:<10} transformers {their['score']:.6f}   tinyalbert {ours['score']:.6f}")
    assert [r["token"] for r in theirs] == [r["token"] for r in result]
    assert np.allclose([r["score"] for r in theirs], [r["score"] for r in result], atol=1e-5)
    try:  # the fast tokenizer is converted from spiece.model, which needs protobuf
        fast = transformers.AlbertTokenizerFast.from_pretrained(directory)
    except Exception as error:
        print(f"(no fast tokenizer here: {type(error).__name__}: {error})")
    else:
        fast_ids = fast(text)["input_ids"]
        print("the fast tokenizer's pieces:", fast.convert_ids_to_tokens(fast_ids))
        assert fast_ids == without.tolist()

# %% [markdown]
# ## Exercise: the top k
#
# Write `top_k(probs, k)`: the indices of the `k` largest entries of the 1-D array `probs`, largest
# first, and equal probabilities in increasing index order. The self-check compares the
# probabilities it picks with those of the pipeline's `top_k_indices`, on random vectors with
# many ties.

# %%
def top_k(probs, k):
    """probs: a 1-D array; 1 <= k <= len(probs). Returns k indices (a list or an array of ints),
    largest probability first, equal probabilities in increasing index order."""
    raise NotImplementedError("write top_k")


# %%
def check_top_k(candidate, trials=50, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        size = int(rng.integers(1, 30))
        probs = rng.integers(0, 6, size=size) / 10.0            # few distinct values: many ties
        k = int(rng.integers(1, size + 1))
        expected = probs[top_k_indices(probs, k)].tolist()
        got = [int(i) for i in candidate(probs, k)]
        assert len(set(got)) == len(got) == k, f"k={k}: expected {k} different indices into probs, got {got}"
        assert probs[got].tolist() == expected, (
            f"probs {probs.tolist()}, k={k}: picked {probs[got].tolist()}, expected {expected}")
        ties_in_order = all(a < b for a, b in zip(got, got[1:]) if probs[a] == probs[b])
        assert ties_in_order, f"probs {probs.tolist()}, k={k}: equal probabilities out of index order in {got}"


# The library passes its own check.
check_top_k(top_k_indices)
# The check itself is checked: it accepts a right answer and rejects one that breaks ties the other way.
check_top_k(lambda p, k: np.argsort(-p, kind="stable")[:k])
try:
    check_top_k(lambda p, k: np.argsort(p, kind="stable")[::-1][:k])
    raise RuntimeError("the self-check accepted a wrong answer")
except AssertionError:
    pass

try:
    check_top_k(top_k)
    print("Exercise: correct.")
except NotImplementedError:
    print("Exercise: not attempted yet. Write top_k above and run this cell again.")
