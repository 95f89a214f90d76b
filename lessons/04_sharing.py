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
# # Lesson 4: cross-layer parameter sharing
#
# **After this lesson you can** say which stored layer runs at every pass of an ALBERT
# encoder for any `num_hidden_layers`, `num_hidden_groups` and `inner_group_num`, run the
# encoder yourself as a loop over those passes, say what sharing saves (storage) and what it
# does not (compute), and measure, as the ALBERT paper's Figure 2 does, how much each layer
# changes its input in a shared and a non-shared model.

# %%
import os
import re

import matplotlib.pyplot as plt
import numpy as np

from tinyalbert import AlbertConfig, AlbertModel, AlbertTokenizer
from tinyalbert.nn.albert import attention_mask_bias
from tinyalbert.nn.encoder import albert_layer_forward, group_of_pass, layer_prefix, weights_below

FULL = os.environ.get("LESSONS_FULL") == "1"  # heavier settings: longer inputs, more layers

# %% [markdown]
# ## 1. Which group runs at which pass
#
# ALBERT stores `num_hidden_groups` $G$ groups of `inner_group_num` layers. The encoder makes
# `num_hidden_layers` $L$ passes; pass $i$ (counting from 0) runs every layer of group
#
# $$g(i) = \Big\lfloor \frac{i}{L / G} \Big\rfloor,$$
#
# so the $L$ passes are cut into $G$ runs of (nearly) equal length. With $G = 1$ (every released ALBERT) one
# group serves all passes; with $G = L$ every pass has its own layer, as in BERT.
#
# *Exactly* which group runs is decided by how Transformers evaluates this formula: in
# floating point, `int(i / (L / G))`. That is not always the exact fraction
# $\lfloor iG/L \rfloor$: when $L/G$ is not a whole number, rounding can put $i/(L/G)$ just
# below an integer. A checkpoint trained that way must be run that way, so the library
# copies the floating-point formula. Let us find where the two disagree.

# %%
def group_by_hand(i, layers, groups):
    return int(i / (layers / groups))          # what Transformers computes


disagreements = []
for layers in range(1, 49):
    for groups in range(1, layers + 1):
        config = AlbertConfig(hidden_size=8, num_attention_heads=1, intermediate_size=8,
                              num_hidden_layers=layers, num_hidden_groups=groups)
        assert all(group_by_hand(i, layers, groups) == group_of_pass(i, config) for i in range(layers))
        disagreements += [(layers, groups, i) for i in range(layers)
                          if group_by_hand(i, layers, groups) != i * groups // layers]
print("the floating-point formula agrees with tinyalbert.nn.encoder.group_of_pass for every L <= 48 and G <= L")
print(f"{len(disagreements)} passes where it differs from the exact fraction, the first ones (L, G, pass):",
      disagreements[:4])
layers, groups, i = disagreements[0]
print(f"e.g. L = {layers}, G = {groups}, pass {i}: {i} / ({layers} / {groups}) = {i / (layers / groups)!r} -> group "
      f"{group_by_hand(i, layers, groups)}, while {i} * {groups} // {layers} = {i * groups // layers}")

# %%
L = 12
group_counts = [g for g in range(1, L + 1) if L % g == 0]
grid = np.array([[group_by_hand(i, L, g) for i in range(L)] for g in group_counts])
fig, ax = plt.subplots(figsize=(7, 3))
ax.imshow(grid, cmap="tab20", aspect="auto")
for row, g in enumerate(group_counts):
    for i in range(L):
        ax.text(i, row, str(grid[row, i]), ha="center", va="center", fontsize=8)
ax.set_xticks(range(L), [str(i) for i in range(L)])
ax.set_yticks(range(len(group_counts)), [f"G = {g}" for g in group_counts])
ax.set_xlabel("pass i")
ax.set_ylabel("number of groups")
ax.set_title(f"the group that runs at each pass, L = {L}")
plt.show()

# %% [markdown]
# Every stored layer has its own parameter names, `albert.encoder.albert_layer_groups.{g}.albert_layers.{j}.…`,
# so the checkpoint holds each stored layer once however many passes use it:

# %%
def stored_layer_prefixes(config):
    """The distinct `albert_layer_groups.{g}.albert_layers.{j}` prefixes among the parameter names."""
    layer = re.compile(r"albert_layer_groups\.\d+\.albert_layers\.\d+")
    return sorted({match.group() for name in AlbertModel.parameter_shapes(config) if (match := layer.search(name))})


for groups, inner in ((1, 1), (3, 1), (12, 1), (2, 2)):
    c = AlbertConfig(vocab_size=100, embedding_size=16, hidden_size=32, num_attention_heads=2, intermediate_size=64,
                     num_hidden_layers=12, num_hidden_groups=groups, inner_group_num=inner)
    prefixes = stored_layer_prefixes(c)
    print(f"G = {groups:>2}, inner_group_num = {inner}: {len(prefixes):>2} stored layers, "
          f"{AlbertModel(c).num_parameters():>7,} parameters")
    assert len(prefixes) == groups * inner

# %% [markdown]
# ## 2. The encoder as a loop
#
# After the $E \to H$ projection, the encoder is this loop. The library's
# `albert_layer_forward` is one layer (attention block then feed-forward block, lesson 3 and
# lesson 5); the loop must give exactly the model's output.

# %%
model = AlbertModel.from_pretrained("tinyalbert-mini")
tokenizer = AlbertTokenizer.from_pretrained("tinyalbert-mini")
config, params = model.config, model.params
inputs = tokenizer(["The river runs past the old mill.", "It turns the wheel."], padding=True, return_tensors="np")
out = model(**inputs, output_hidden_states=True)


def encoder_loop(first_hidden, attention_mask, params, config):
    mask_bias = attention_mask_bias(attention_mask, first_hidden.dtype)
    hidden, states = first_hidden, [first_hidden]
    for i in range(config.num_hidden_layers):
        group = group_by_hand(i, config.num_hidden_layers, config.num_hidden_groups)
        for inner in range(config.inner_group_num):
            weights = weights_below(params, layer_prefix(group, inner))
            hidden = albert_layer_forward(hidden, weights, mask_bias, None, config)[0]
        states.append(hidden)
    return states


# The first hidden state is the projected embedding of lesson 2, h0 = LayerNorm(embeddings) W_map^T + b_map.
first_hidden = out.hidden_states[0]
states = encoder_loop(first_hidden, inputs["attention_mask"], params, config)
print(f"{config.num_hidden_layers} passes of {config.num_hidden_groups} stored layer(s); "
      f"largest difference from the model: {max(np.abs(a - b).max() for a, b in zip(states, out.hidden_states)):.1e}")
assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(states, out.hidden_states))

# %% [markdown]
# Sharing constrains the parameters, not the computation. Copy tinyalbert-mini's one stored
# layer into $L$ groups and the unshared model computes exactly the same thing, with $L$ times
# the layer parameters (each copy could now be trained apart):

# %%
untied_config = AlbertConfig.from_dict({**config.to_dict(), "num_hidden_groups": config.num_hidden_layers})
shared_layer = "albert.encoder.albert_layer_groups.0."
untied_params = {name: value for name, value in params.items() if not name.startswith(shared_layer)}
for group in range(untied_config.num_hidden_groups):
    untied_params |= {name.replace(shared_layer, f"albert.encoder.albert_layer_groups.{group}."): value
                      for name, value in params.items() if name.startswith(shared_layer)}
untied = AlbertModel(untied_config, params=untied_params)
same = untied(**inputs).last_hidden_state
print(f"shared {model.num_parameters():,} parameters, untied {untied.num_parameters():,}; "
      f"largest difference in the output {np.abs(same - out.last_hidden_state).max()}")
assert np.array_equal(same, out.last_hidden_state)

# %% [markdown]
# So sharing saves storage, not arithmetic. It divides by up to $L$ what is stored: the
# parameters, their gradients and the optimizer's moments, and with them the bytes that
# data-parallel processes exchange at every step (lesson 14). It saves no compute: the $L$
# passes make the same matrix products, shared or not, and training keeps the same activations
# for the backward pass. A wide shared model is therefore cheap to store and still slow to run:
# the paper (section 5) calls ALBERT-xxlarge, which has fewer parameters than BERT-large,
# computationally more expensive than it.

# %% [markdown]
# ## 3. How much does each layer change its input? (the idea of the paper's Figure 2)
#
# For every layer $\ell$ with input $h^{(\ell-1)}$ and output $h^{(\ell)}$, averaged over the
# tokens $t$:
#
# $$\text{L2}_\ell = \frac1T \sum_t \big\lVert h^{(\ell)}_t - h^{(\ell-1)}_t \big\rVert_2, \qquad
# \cos_\ell = \frac1T \sum_t
# \frac{h^{(\ell)}_t \cdot h^{(\ell-1)}_t}{\lVert h^{(\ell)}_t\rVert\,\lVert h^{(\ell-1)}_t\rVert}.$$
#
# The paper plots these for trained BERT-large and ALBERT-large and finds ALBERT's
# transitions smoother. Here, at small scale: two freshly initialized models of the same
# shape, one shared ($G = 1$) and one not ($G = L$), and the trained, shared tinyalbert-mini.

# %%
def layer_transitions(hidden_states, attention_mask):
    keep = attention_mask.astype(bool)
    l2, cosine = [], []
    for before, after in zip(hidden_states[:-1], hidden_states[1:]):
        b, a = before[keep], after[keep]                       # (tokens, H), padding left out
        l2.append(np.linalg.norm(a - b, axis=-1).mean())
        cosine.append((np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))).mean())
    return np.array(l2), np.array(cosine)


layers = 24 if FULL else 12
seq = 64 if FULL else 24
shape = dict(vocab_size=config.vocab_size, embedding_size=128, hidden_size=256, num_attention_heads=4,
             intermediate_size=1024, num_hidden_layers=layers, max_position_embeddings=128)
rng = np.random.default_rng(0)
ids = rng.integers(5, config.vocab_size, size=(4, seq))
mask = np.ones_like(ids)
curves = {}
for label, groups in (("random, shared", 1), ("random, not shared", layers)):
    random_model = AlbertModel(AlbertConfig(**shape, num_hidden_groups=groups), seed=1)
    states = random_model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
    curves[label] = layer_transitions(states, mask)
curves["tinyalbert-mini (trained, shared)"] = layer_transitions(out.hidden_states, inputs["attention_mask"])

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
for label, (l2, cosine) in curves.items():
    left.plot(range(1, len(l2) + 1), l2, "o-", label=label)
    right.plot(range(1, len(cosine) + 1), cosine, "o-", label=label)
left.set(xlabel="layer", ylabel="mean L2 distance, input to output", title="L2 distance")
right.set(xlabel="layer", ylabel="mean cosine similarity", title="cosine similarity")
left.legend(fontsize=8)
fig.tight_layout()
plt.show()
for label, (l2, cosine) in curves.items():
    print(f"{label:<34} L2 from {l2.min():.2f} to {l2.max():.2f} (spread {l2.std():.3f}), "
          f"cosine from {cosine.min():.3f} to {cosine.max():.3f}")

# %% [markdown]
# Read the numbers printed above rather than expecting the paper's curves: the two random
# models show what sharing alone does before any training, and only tinyalbert-mini is trained.
# The paper's contrast between shared and non-shared is a property of *trained* models; with
# `LESSONS_FULL=1` the random models get 24 layers and longer inputs.

# %% [markdown]
# ## Exercise: the order of the stored layers
#
# Write `layer_schedule(L, G, inner)`: the list of `(group, inner_layer)` pairs in the order
# the encoder runs them. The self-check compares it with the library's `group_of_pass`, for
# every $L \le 12$ and for the first two $(L, G)$ pairs of section 1 where the exact fraction
# picks another group, and with the number of attention maps a model returns.

# %%
def layer_schedule(L, G, inner):
    """L passes, G groups of `inner` layers each. Returns a list of L * inner pairs
    (group, inner_layer), both counted from 0, in the order the encoder runs them."""
    raise NotImplementedError("write layer_schedule")


# %%
def check_layer_schedule(candidate):
    pairs = [(L, G) for L in range(1, 13) for G in range(1, L + 1)]
    pairs += [(18, 14), (27, 21)]  # here int(i / (L / G)) != i * G // L for some pass i (section 1)
    for L, G in pairs:
        for inner in (1, 2, 3):
            c = AlbertConfig(hidden_size=8, num_attention_heads=1, intermediate_size=8,
                             num_hidden_layers=L, num_hidden_groups=G, inner_group_num=inner)
            expected = [(group_of_pass(i, c), j) for i in range(L) for j in range(inner)]
            got = list(candidate(L, G, inner))
            assert all(np.shape(pair) == (2,) for pair in got), (
                f"L={L}, G={G}, inner={inner}: {got} is not a list of (group, inner_layer) pairs")
            got = [tuple(int(n) for n in pair) for pair in got]
            assert got == expected, f"L={L}, G={G}, inner={inner}: expected {expected}, got {got}"
    c = AlbertConfig(vocab_size=20, embedding_size=4, hidden_size=8, num_attention_heads=1, intermediate_size=8,
                     num_hidden_layers=4, num_hidden_groups=2, inner_group_num=3)
    maps = AlbertModel(c)(input_ids=np.array([[5, 6, 7]]), output_attentions=True).attentions
    assert len(candidate(4, 2, 3)) == len(maps), "one attention map per layer run"


# The check itself is checked: it accepts a right answer and rejects one that swaps the loops
# and one that uses the exact fraction i * G // L.
check_layer_schedule(lambda L, G, inner: [(int(i / (L / G)), j) for i in range(L) for j in range(inner)])
wrong_answers = [lambda L, G, inner: [(int(i / (L / G)), j) for j in range(inner) for i in range(L)],
                 lambda L, G, inner: [(i * G // L, j) for i in range(L) for j in range(inner)]]
for wrong in wrong_answers:
    try:
        check_layer_schedule(wrong)
        raise RuntimeError("the self-check accepted a wrong answer")
    except AssertionError:
        pass

try:
    check_layer_schedule(layer_schedule)
    print("Exercise: correct.")
except NotImplementedError:
    print("Exercise: not attempted yet. Write layer_schedule above and run this cell again.")
