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
# # Lesson 3: self-attention
#
# **After this lesson you can** write multi-head self-attention in a dozen lines of NumPy:
# scaled dot products (and why they are scaled), the padding mask as an additive bias,
# splitting and merging heads, switching heads off with a head mask, and the residual
# connection with its LayerNorm. You can read attention maps of a real model, and you know how
# the `relative_key` and `relative_key_query` position types replace absolute positions with a
# table of distances.

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np

from tinyalbert import AlbertModel, AlbertTokenizer
from tinyalbert.nn.albert import attention_mask_bias
from tinyalbert.nn.attention import attention_forward
from tinyalbert.nn.relative_position import relative_distances, relative_position_forward
from tinyalbert.nn.softmax import softmax

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. One head
#
# Every token $i$ asks a question $q_i$ and offers a key $k_i$ and a value $v_i$. Token $i$'s answer
# is a weighted average of the values $v_j$, weighted by how well its question $q_i$ matches each
# key $k_j$ (row $i$ of $Q$ is $q_i$, and so on):
#
# $$\operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\Big(\frac{Q K^{\top}}{\sqrt{d}}\Big) V,
# \qquad Q = X W_Q^{\top} + b_Q,\; K = X W_K^{\top} + b_K,\; V = X W_V^{\top} + b_V.$$
#
# Why $\sqrt{d}$: if the $d$ entries of $q_i$ and $k_j$ are independent with mean 0 and variance 1,
# then $q_i \cdot k_j = \sum_{c=1}^{d} q_{ic} k_{jc}$ is a sum of $d$ terms of variance 1, so it has
# variance $d$. Dividing by $\sqrt{d}$ brings the scores back to variance 1 whatever the head size.
# Without it the scores spread further as $d$ grows, the softmax puts nearly all the weight on
# one key, and its gradient with respect to the other scores all but vanishes.

# %%
seq, d = 5, 8
Q, K, V = (rng.standard_normal((seq, d)).astype(np.float32) for _ in range(3))
scores = Q @ K.T / np.sqrt(d)                                   # (seq, seq): query i against key j
probs = np.exp(scores - scores.max(axis=-1, keepdims=True))     # shifting by the maximum avoids overflow
probs /= probs.sum(axis=-1, keepdims=True)
context = probs @ V                                             # (seq, d)
print("each row of probs sums to", probs.sum(axis=-1))
assert np.allclose(probs, softmax(scores), atol=1e-6)

demo = np.random.default_rng(1)
for size in (8, 64, 512):   # random unit-variance queries and keys of growing head size
    q_big, k_big = demo.standard_normal((2, 256, size))
    raw = q_big @ k_big.T
    scaled = raw / np.sqrt(size)
    print(f"d = {size:>3}: std of q.k {raw.std():5.2f} (sqrt(d) = {np.sqrt(size):5.2f}), "
          f"of q.k / sqrt(d) {scaled.std():.2f};  mean largest weight of a row: "
          f"unscaled {softmax(raw).max(axis=-1).mean():.2f}, scaled {softmax(scaled).max(axis=-1).mean():.2f}")

# %% [markdown]
# ## 2. The whole attention block of an ALBERT layer
#
# With $h$ heads, the hidden size $H$ is cut into $h$ slices of $d = H/h$: each head attends on
# its own slice, and the results are put side by side again. Padding positions must receive
# no attention: their scores get a bias of the most negative float, so their softmax weight
# is exactly 0. A head mask $m \in \{0,1\}^h$ multiplies each head's probabilities. Then:
#
# $$\text{output} = \operatorname{LayerNorm}\big(X + \operatorname{concat}(\text{heads})\, W_O^{\top} + b_O\big).$$

# %%
def layer_norm(x, weight, bias, eps):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def attention_numpy(x, w, attention_mask, num_heads, head_mask=None, eps=1e-12):
    """x (batch, seq, H) and attention_mask (batch, seq) of 1/0
    -> output (batch, seq, H), probs (batch, heads, seq, seq)."""
    batch, seq, hidden = x.shape
    d = hidden // num_heads

    def split(t):                                   # (batch, seq, H) -> (batch, heads, seq, d)
        return t.reshape(batch, seq, num_heads, d).transpose(0, 2, 1, 3)

    q, k, v = (split(x @ w[f"{name}.weight"].T + w[f"{name}.bias"]) for name in ("query", "key", "value"))
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)
    scores = scores + (1.0 - attention_mask[:, None, None, :]) * np.finfo(x.dtype).min
    probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    if head_mask is not None:
        probs = probs * head_mask[None, :, None, None]
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)   # merge the heads
    projected = context @ w["dense.weight"].T + w["dense.bias"]
    return layer_norm(x + projected, w["LayerNorm.weight"], w["LayerNorm.bias"], eps), probs


hidden, heads, seq = 16, 4, 6
weights = {f"{name}.weight": (rng.standard_normal((hidden, hidden)) * 0.3).astype(np.float32)
           for name in ("query", "key", "value", "dense")}
weights |= {f"{name}.bias": (rng.standard_normal(hidden) * 0.1).astype(np.float32)
            for name in ("query", "key", "value", "dense")}
weights |= {"LayerNorm.weight": np.ones(hidden, np.float32), "LayerNorm.bias": np.zeros(hidden, np.float32)}
x = rng.standard_normal((2, seq, hidden)).astype(np.float32)
mask = np.array([[1] * seq, [1] * 4 + [0] * 2], dtype=np.float32)   # the second row ends in 2 padding tokens
head_mask = np.array([1, 0, 1, 1], dtype=np.float32)              # switch head 1 off

ours, our_probs = attention_numpy(x, weights, mask, heads, head_mask)
library, library_probs, _ = attention_forward(
    x, weights, attention_mask_bias(mask, np.float32), head_mask[None, :, None, None], num_heads=heads,
    position_embedding_type="absolute", max_positions=seq, layer_norm_eps=1e-12,
)
print("largest difference, output:", np.abs(ours - library).max(),
      " probabilities:", np.abs(our_probs - library_probs).max())
print("attention paid to the two padding positions:", our_probs[1, :, :, 4:].max())
assert np.allclose(ours, library, atol=1e-5) and np.allclose(our_probs, library_probs, atol=1e-6)
assert (our_probs[1, :, :, 4:] == 0).all() and (our_probs[:, 1] == 0).all()

# %% [markdown]
# ## 3. Attention maps of tinyalbert-mini
#
# `output_attentions=True` returns the probabilities of every layer, shape
# `(batch, heads, seq, seq)`. Row $i$ of a map shows where token $i$ looks (bright: much
# attention; each map has its own scale). We draw the first and the last layer.

# %%
model = AlbertModel.from_pretrained("tinyalbert-mini")
tokenizer = AlbertTokenizer.from_pretrained("tinyalbert-mini")
text = "The cat sat on the mat because it was tired."
inputs = tokenizer(text, return_tensors="np")
tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0].tolist())
attentions = model(**inputs, output_attentions=True).attentions
print(f"{len(attentions)} layers of {attentions[0].shape}")

shown = (0, len(attentions) - 1)
fig, axes = plt.subplots(len(shown), model.config.num_attention_heads, figsize=(13, 6.5))
for row, layer in enumerate(shown):
    for head in range(model.config.num_attention_heads):
        ax = axes[row, head]
        ax.imshow(attentions[layer][0, head], cmap="viridis", vmin=0)   # each map scaled to its own maximum
        ax.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=9)
        ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=7)
        ax.set_yticks(range(len(tokens)), tokens if head == 0 else [], fontsize=7)
        ax.set_xlabel("key (looked at)", fontsize=8)
        if head == 0:
            ax.set_ylabel("query (looking)", fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# The same weights produce every layer's map (lesson 4), yet the maps differ, because each
# layer receives a different input. Our NumPy block reproduces the first layer's map from the
# model's first hidden state:

# %%
layer_weights = {name.split("attention.")[1]: value for name, value in model.params.items() if ".attention." in name}
first_hidden = model(**inputs, output_hidden_states=True).hidden_states[0]
_, our_first_map = attention_numpy(first_hidden, layer_weights, inputs["attention_mask"].astype(np.float32),
                                   model.config.num_attention_heads)
print("largest difference:", np.abs(our_first_map - attentions[0]).max())
assert np.allclose(our_first_map, attentions[0], atol=1e-5)

# %% [markdown]
# ## 4. Relative positions
#
# With `position_embedding_type="relative_key"` no position vector is added at the input (the
# absolute table is still allocated, in tinyalbert as in Transformers, and counts among the
# parameters, but it is not used). Instead each stored layer has a table $D$ of $2P - 1$ vectors
# ($P$ = `max_position_embeddings`), shared by every pass through that layer,
# one per distance $i - j$ between a query and a key, and adds to the scores
#
# $$\text{relative\_key:}\quad q_i \cdot D_{i-j}, \qquad
# \text{relative\_key\_query:}\quad q_i \cdot D_{i-j} + k_j \cdot D_{i-j}.$$
#
# (Transformers adds these after the division by $\sqrt d$.) The row of $D$ used for the pair
# $(i, j)$ is $i - j + P - 1$; `relative_distances` returns these row indices, not the distances
# $i - j$ themselves:

# %%
P, seq = 8, 6
rows = relative_distances(np, seq, P)
by_hand = np.array([[i - j + P - 1 for j in range(seq)] for i in range(seq)])
assert (rows == by_hand).all()
fig, ax = plt.subplots(figsize=(3.5, 3.2))
ax.imshow(rows - (P - 1), cmap="coolwarm")
for i in range(seq):
    for j in range(seq):
        ax.text(j, i, str(i - j), ha="center", va="center", fontsize=8)
ax.set_xlabel("key position j")
ax.set_ylabel("query position i")
ax.set_title("distance i - j")
plt.show()

# %%
batch, heads, d = 2, 3, 4
q = rng.standard_normal((batch, heads, seq, d)).astype(np.float32)
k = rng.standard_normal((batch, heads, seq, d)).astype(np.float32)
D = rng.standard_normal((2 * P - 1, d)).astype(np.float32)
table = D[rows]                                                  # (seq, seq, d): the vector of each pair
by_query = np.einsum("bhid,ijd->bhij", q, table)                 # q_i . D[i - j]
by_key = np.einsum("bhjd,ijd->bhij", k, table)                   # k_j . D[i - j]
for kind, ours in (("relative_key", by_query), ("relative_key_query", by_query + by_key)):
    library, _ = relative_position_forward(q, k, D, position_embedding_type=kind, max_positions=P)
    print(f"{kind:<19} largest difference from tinyalbert.nn.relative_position: {np.abs(ours - library).max():.1e}")
    assert np.allclose(ours, library, atol=1e-5)

# %% [markdown]
# ## 5. Compare with Transformers
#
# The attention maps of tinyalbert-mini computed by Transformers' ALBERT (eager attention,
# which returns the probabilities) must equal ours.

# %%
warnings.filterwarnings("ignore", message="IProgress not found")  # a notebook-only notice of tqdm
try:
    import torch
    import transformers
except ImportError:
    transformers = None
    print("SKIPPED: transformers (with torch) is not installed, so the comparison with it does not run "
          "(pip install -e '.[test]' installs it).")

if transformers is not None:
    from tinyalbert.hub import resolve_model_dir

    transformers.logging.set_verbosity_error()  # the heads of the checkpoint are not used here
    reference = transformers.AlbertModel.from_pretrained(resolve_model_dir("tinyalbert-mini"),
                                                         attn_implementation="eager").eval()
    with torch.no_grad():
        theirs = reference(**{k: torch.from_numpy(v) for k, v in inputs.items()}, output_attentions=True).attentions
    worst = max(float(np.abs(t.numpy() - o).max()) for t, o in zip(theirs, attentions))
    print(f"transformers {transformers.__version__}: {len(theirs)} attention maps, largest difference {worst:.1e}")
    assert worst < 1e-5

# %% [markdown]
# ## Exercise: the masked softmax
#
# Write `masked_softmax(scores, attention_mask)`: scores `(batch, heads, seq, seq)` and a mask
# `(batch, seq)` of 1 (a real token) and 0 (padding) give attention probabilities in which
# padded keys get exactly 0. The self-check compares it with the library on random inputs.

# %%
def masked_softmax(scores, attention_mask):
    """scores: (batch, heads, seq, seq), query i against key j; attention_mask: (batch, seq) of 1 and 0.
    Returns probabilities of the scores' shape: each row sums to 1, padded keys get exactly 0."""
    raise NotImplementedError("write masked_softmax")


# %%
def check_masked_softmax(candidate, trials=10, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        batch, heads, seq = (int(n) for n in rng.integers(1, 5, size=3))
        scores = (rng.standard_normal((batch, heads, seq, seq)) * 3).astype(np.float32)
        mask = (rng.random((batch, seq)) < 0.7).astype(np.float32)
        mask[:, 0] = 1  # every row keeps one real token
        expected = softmax(scores + attention_mask_bias(mask, np.float32))
        got = np.asarray(candidate(scores, mask))
        assert got.shape == expected.shape, f"shape {got.shape}, expected {expected.shape}"
        assert np.allclose(got.sum(axis=-1), 1, atol=1e-5), (
            f"rows sum to {got.sum(axis=-1).min():.3g} ... {got.sum(axis=-1).max():.3g}, not 1: "
            "the softmax must run over the keys (the last axis), after the mask")
        padded_keys = got[np.broadcast_to(mask[:, None, None, :] == 0, got.shape)]
        assert (padded_keys == 0).all(), (f"padded keys get up to {np.abs(padded_keys).max()}, not 0: "
                                          "mask the keys (the last axis), before the softmax")
        assert np.allclose(got, expected, atol=1e-6), f"largest difference {np.abs(got - expected).max()}"


# The check itself is checked: it accepts a right answer and rejects a softmax that ignores the mask,
# one that masks the queries instead of the keys and one that masks after the softmax.
check_masked_softmax(lambda s, m: softmax(np.where(m[:, None, None, :] > 0, s, -np.inf)))
for wrong in (lambda s, m: softmax(s),
              lambda s, m: softmax(s + attention_mask_bias(m, np.float32).transpose(0, 1, 3, 2)),
              lambda s, m: softmax(s) * m[:, None, None, :]):
    try:
        check_masked_softmax(wrong)
        raise RuntimeError("the self-check accepted a wrong answer")
    except AssertionError:
        pass

try:
    check_masked_softmax(masked_softmax)
    print("Exercise: correct.")
except NotImplementedError:
    print("Exercise: not attempted yet. Write masked_softmax above and run this cell again.")
