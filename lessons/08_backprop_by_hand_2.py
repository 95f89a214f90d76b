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
# # Lesson 8: Backprop by hand, part II: attention, sharing, and the tied embedding
#
# After this lesson you will be able to
#
# - backpropagate through self-attention: the value product, the softmax, the padding mask and the
#   heads, in a dozen lines of NumPy;
# - explain why the gradient of a *shared* ALBERT layer is the sum of the gradients of every pass
#   that uses it, and prove it with a model whose layers are copies;
# - follow the two gradient paths into the word-embedding matrix, which is both the input lookup
#   and the (tied) MLM decoder;
# - check the gradient of a whole ALBERT against finite differences and, when installed, torch autograd.
#
# The pieces of lesson 7 (linear, LayerNorm, GELU, softmax, cross-entropy) are all we need, plus one
# new one: the backward of a table lookup (section 3).

# %%
import os
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np

from tinyalbert import AlbertConfig, AlbertForPreTraining, gradcheck
from tinyalbert.nn import attention, embeddings

CI = os.environ.get("CI") == "true"
FULL = os.environ.get("LESSONS_FULL") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Attention, backwards
#
# For one head with queries $Q$, keys $K$, values $V$ (each `(seq, d)`) and the padding bias $M$
# (0 for a real key, a huge negative number for padding):
#
# $$S = \frac{QK^\top}{\sqrt d} + M, \qquad P = \mathrm{softmax}_{\text{rows}}(S), \qquad C = PV.$$
#
# Going back from $\partial L/\partial C$:
#
# $$\frac{\partial L}{\partial V} = P^\top \frac{\partial L}{\partial C}, \quad
# \frac{\partial L}{\partial P} = \frac{\partial L}{\partial C} V^\top, \quad
# \frac{\partial L}{\partial S} = P \odot \Big(\frac{\partial L}{\partial P} - \mathrm{rowsum}\big(\tfrac{\partial L}{\partial P}\odot P\big)\Big),$$
# $$\frac{\partial L}{\partial Q} = \frac{1}{\sqrt d}\frac{\partial L}{\partial S} K, \quad
# \frac{\partial L}{\partial K} = \frac{1}{\sqrt d}\Big(\frac{\partial L}{\partial S}\Big)^{\!\top} Q.$$
#
# The mask $M$ is a constant: no gradient flows into it. But it still shapes the gradient: a padded
# key has $P = 0$ in every row, so its key and value get exactly zero gradient. Heads are independent
# slices of the hidden axis, so the same formulas run batched over `(batch, heads, ...)`.

# %%
def my_attention_core(q, k, v, mask_bias):
    """q, k, v: (batch, heads, seq, d); mask_bias (batch, 1, 1, seq). Returns context and probs."""
    scores = q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]) + mask_bias
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    return probs @ v, probs


def my_attention_core_backward(d_context, q, k, v, probs):
    d_v = probs.swapaxes(-1, -2) @ d_context
    d_probs = d_context @ v.swapaxes(-1, -2)
    d_scores = probs * (d_probs - (d_probs * probs).sum(-1, keepdims=True))
    scale = 1 / np.sqrt(q.shape[-1])
    return scale * d_scores @ k, scale * d_scores.swapaxes(-1, -2) @ q, d_v


batch, heads, seq, d = 2, 3, 5, 4
q, k, v = (rng.standard_normal((batch, heads, seq, d)) for _ in range(3))
attention_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])  # the second sequence has 2 padding positions
mask_bias = (1.0 - attention_mask[:, None, None, :]) * np.finfo(np.float64).min
d_context = rng.standard_normal((batch, heads, seq, d))

context, probs = my_attention_core(q, k, v, mask_bias)
d_q, d_k, d_v = my_attention_core_backward(d_context, q, k, v, probs)
values = {"q": q, "k": k, "v": v}
def core_scalar(values):
    return np.sum(my_attention_core(values["q"], values["k"], values["v"], mask_bias)[0] * d_context)
gradcheck.check_gradients(core_scalar, values, {"q": d_q, "k": d_k, "v": d_v})
print("attention core: our backward == finite differences")
print("gradient reaching the padded keys and values:", np.abs(d_k[1, :, 3:]).max(), np.abs(d_v[1, :, 3:]).max())
assert np.abs(d_k[1, :, 3:]).max() == 0 and np.abs(d_v[1, :, 3:]).max() == 0

# %% [markdown]
# The library's `attention_backward` does exactly this inside a full ALBERT attention block: the
# $Q$, $K$, $V$ projections before, and after it the output projection, the residual connection and
# LayerNorm. Three projections read the same input $h$, so $\partial L/\partial h$ is the *sum* of
# their three input gradients plus the residual's. Check the library block against finite differences
# of its own forward, on every weight:

# %%
hidden_size, num_heads = 12, 3
hidden = rng.standard_normal((batch, seq, hidden_size))
weights = {f"{name}.weight": rng.standard_normal((hidden_size, hidden_size)) * 0.3 for name in ("query", "key", "value", "dense")}
weights |= {f"{name}.bias": rng.standard_normal(hidden_size) * 0.1 for name in ("query", "key", "value", "dense")}
weights |= {"LayerNorm.weight": 1 + 0.1 * rng.standard_normal(hidden_size), "LayerNorm.bias": 0.1 * rng.standard_normal(hidden_size)}
d_output = rng.standard_normal((batch, seq, hidden_size))
options = dict(num_heads=num_heads, position_embedding_type="absolute", max_positions=seq, layer_norm_eps=1e-12)

output, _, cache = attention.attention_forward(hidden, weights, mask_bias, None, **options)
d_hidden, d_weights = attention.attention_backward(d_output, cache)
values = {"hidden": hidden, **weights}
def block_scalar(values):
    block_weights = {name: values[name] for name in weights}
    return np.sum(attention.attention_forward(values["hidden"], block_weights, mask_bias, None, **options)[0] * d_output)
gradcheck.check_gradients(block_scalar, values, {"hidden": d_hidden, **d_weights})
print("full attention block: every gradient == finite differences, e.g. the key bias gradient is",
      f"{np.abs(d_weights['key.bias']).max():.1e} (softmax ignores a shift shared by all keys)")

# %% [markdown]
# ## 2. The shared encoder: gradients add up over the passes
#
# ALBERT runs one layer (weights $\theta$) $L$ times: $h_{\ell+1} = F(h_\ell; \theta)$. By the chain rule
# over every place $\theta$ appears,
#
# $$\frac{\partial \mathcal L}{\partial \theta} = \sum_{\ell=0}^{L-1} \frac{\partial \mathcal L}{\partial h_{\ell+1}}\,
# \frac{\partial F(h_\ell;\theta)}{\partial \theta}.$$
#
# The proof by experiment: build a *non-shared* model (`num_hidden_groups = L`, one set of weights per
# pass) whose $L$ layers are copies of the shared layer. It computes the same function. Its per-layer
# gradients are the terms of the sum above, and they must add up to the shared model's gradient.

# %%
small = dict(vocab_size=30, embedding_size=6, hidden_size=8, num_attention_heads=2, intermediate_size=16,
             max_position_embeddings=10, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
             classifier_dropout_prob=0.0, initializer_range=0.3)
num_layers = 3
shared = AlbertForPreTraining(AlbertConfig(**small, num_hidden_layers=num_layers, num_hidden_groups=1), dtype="float64", seed=1)
separate = AlbertForPreTraining(AlbertConfig(**small, num_hidden_layers=num_layers, num_hidden_groups=num_layers), dtype="float64")
LAYER = "albert.encoder.albert_layer_groups.{}.albert_layers.0."
for name in separate.params:
    source = name
    for group in range(num_layers):
        source = source.replace(LAYER.format(group), LAYER.format(0))
    separate.params[name] = shared.params[source].copy()

input_ids = rng.integers(5, 30, size=(2, 7))
labels = np.where(rng.random((2, 7)) < 0.4, input_ids, -100)
labels[0, 1] = input_ids[0, 1]  # at least one counted label
sop_labels = np.array([0, 1])
loss_shared, grads_shared = shared.loss_and_grads(input_ids, labels, sop_labels)
loss_separate, grads_separate = separate.loss_and_grads(input_ids, labels, sop_labels)
print(f"same function: loss {float(loss_shared):.12f} vs {float(loss_separate):.12f}")
assert abs(float(loss_shared) - float(loss_separate)) < 1e-12

name = "attention.query.weight"
per_pass = [grads_separate[LAYER.format(group) + name] for group in range(num_layers)]
summed = sum(per_pass)
np.testing.assert_allclose(summed, grads_shared[LAYER.format(0) + name], rtol=1e-10, atol=1e-14)
for key in grads_shared:
    if key.startswith(LAYER.format(0)):
        total = sum(grads_separate[key.replace(LAYER.format(0), LAYER.format(g))] for g in range(num_layers))
        np.testing.assert_allclose(total, grads_shared[key], rtol=1e-10, atol=1e-14, err_msg=key)
print("every shared-layer gradient == the sum of the per-pass gradients of the copied model")

# %%
norms = [np.linalg.norm(g) for g in per_pass]
plt.figure(figsize=(5, 3))
plt.bar([f"pass {i}" for i in range(num_layers)] + ["shared (sum)"], norms + [np.linalg.norm(summed)],
        color=["C0"] * num_layers + ["C1"])
plt.ylabel("Frobenius norm")
plt.title("gradient of attention.query.weight")
plt.tight_layout()
plt.show()

# %% [markdown]
# In `tinyalbert/nn/encoder.py` this sum is the line `grads[key] += grad` inside `encoder_backward`,
# which walks the passes backwards and adds each pass's layer gradient into the one shared key.
#
# ## 3. The factorized embedding
#
# The input side is $E_{\text{out}} = \mathrm{LayerNorm}(W_{\text{word}}[\text{ids}] + W_{\text{type}}[\text{types}]
# + W_{\text{pos}}[0..\text{seq}-1])$, `(batch, seq, E)`, then the encoder's $E \to H$ projection, a linear
# layer (lesson 7). A lookup copies row $t$ of the table to every position holding id $t$, so the
# table's gradient is a *scatter-add*: row $t$ receives the sum of the gradients at all positions with
# id $t$, and a row nobody looked up gets zero. The padding id gets none, as in torch.

# %%
table_rows, dim = 10, 4
ids = np.array([[3, 7, 3, 0], [1, 3, 0, 0]])  # id 3 three times; 0 is padding
d_rows = rng.standard_normal((2, 4, dim))
mine = np.zeros((table_rows, dim))
np.add.at(mine, ids[ids != 0], d_rows[ids != 0])  # scatter-add, skipping the padding id
library = embeddings.embedding_lookup_backward(d_rows, ids, table_rows, padding_idx=0)
np.testing.assert_allclose(mine, library, rtol=1e-12, atol=1e-15)
print("row 3 gets the sum of its three positions:", np.allclose(library[3], d_rows[ids == 3].sum(0)))
zero_rows = np.flatnonzero(~library.any(axis=1)).tolist()  # read from the gradient itself
assert zero_rows == sorted(set(range(table_rows)) - set(ids[ids != 0].ravel()))  # the rows no position looked up, and 0
print("rows of the table gradient that are all zero:", zero_rows, "(never looked up, or the padding row)")

# %% [markdown]
# ## 4. The tied decoder: two paths into one matrix
#
# The MLM head maps the encoder's output $h$, `(batch, seq, H)`, to
# $\tilde h = \mathrm{LayerNorm}(\mathrm{GELU}(h W_T^\top + b_T))$, `(batch, seq, E)`, with $W_T$, $b_T$ the
# head's $H \to E$ transform (`predictions.dense`), and ends with logits $= \tilde h\,W_{\text{word}}^\top + b$,
# `(batch, seq, V)`: the decoder *is* the word-embedding table. $W_{\text{word}}$ is used twice, so
#
# $$\frac{\partial \mathcal L}{\partial W_{\text{word}}} = \underbrace{\mathrm{scatter\_add}(\ldots)}_{\text{input lookup}}
# + \underbrace{\Big(\frac{\partial \mathcal L}{\partial \text{logits}}\Big)^{\!\top} \tilde h}_{\text{decoder}}.$$
#
# Untie them to see the two terms: give the model its own decoder matrix
# (`predictions.decoder.weight`, what `tie_word_embeddings=False` means), equal to the table. The
# function is unchanged, and the two gradients it now reports add up to the tied one.

# %%
WORDS, DECODER = "albert.embeddings.word_embeddings.weight", "predictions.decoder.weight"
untied = AlbertForPreTraining(shared.config, {**shared.params, DECODER: shared.params[WORDS].copy()}, dtype="float64")
loss_untied, grads_untied = untied.loss_and_grads(input_ids, labels, sop_labels)
assert abs(float(loss_untied) - float(loss_shared)) < 1e-12
np.testing.assert_allclose(grads_untied[WORDS] + grads_untied[DECODER], grads_shared[WORDS], rtol=1e-10, atol=1e-14)
lookup_share = np.linalg.norm(grads_untied[WORDS]) / (np.linalg.norm(grads_untied[WORDS]) + np.linalg.norm(grads_untied[DECODER]))
print(f"tied gradient == lookup path + decoder path; the lookup path is {lookup_share:.0%} of the two norms' sum")
rows_used = np.unique(input_ids)
unused = np.setdiff1d(np.arange(small["vocab_size"]), rows_used)
print(f"rows of ids absent from the batch: lookup gradient {np.abs(grads_untied[WORDS][unused]).max():.1e}, "
      f"decoder gradient {np.abs(grads_untied[DECODER][unused]).max():.1e} (every row is a candidate answer)")

# %% [markdown]
# The decoder path reaches *every* row of the vocabulary (each word is a candidate answer at every
# masked position), the lookup path only the rows of the ids in the batch.
#
# ## 5. The whole model against finite differences
#
# Now the whole `AlbertForPreTraining` (embeddings, $E \to H$, two layer groups each used for two of
# the four passes, pooler, MLM head with the tied decoder, SOP head, both losses), in float64.
# `check_gradients` perturbs a few random entries of every parameter and compares with `loss_and_grads`.

# %%
config = AlbertConfig(**{**small, "embedding_size": 5}, num_hidden_layers=4, num_hidden_groups=2, inner_group_num=1)
model = AlbertForPreTraining(config, dtype="float64", seed=3)
for name in model.params:  # move LayerNorm gains off 1 and biases off 0 so that every path is exercised
    model.params[name] = model.params[name] + 0.1 * rng.standard_normal(model.params[name].shape)
attention_mask = np.array([[1] * 7, [1] * 5 + [0] * 2])
loss, grads = model.loss_and_grads(input_ids, labels, sop_labels, attention_mask=attention_mask)

def model_loss(params):
    # `params` is model.params itself, which check_gradients perturbs in place: the model reads it there
    return float(model(input_ids=input_ids, attention_mask=attention_mask, labels=labels,
                       sentence_order_label=sop_labels).loss)

sample = 3 if CI else 8
gradcheck.check_gradients(model_loss, model.params, grads, rng=rng, sample=sample)
errors = {}
for name in list(model.params)[:: max(1, len(model.params) // 6)]:
    entries, numeric = gradcheck.numeric_gradient(model_loss, model.params, name, rng.choice(model.params[name].size, 2, replace=False))
    errors[name.replace("albert.encoder.albert_layer_groups.", "group ")] = gradcheck.gradient_error(grads[name].reshape(-1)[entries], numeric)
for name, error in errors.items():
    print(f"{error:.1e}  {name}")
print(f"all {len(grads)} parameters of the model pass the finite-difference check ({sample} entries each)")

# %% [markdown]
# ## 6. The whole model against torch autograd
#
# Save the model with `save_pretrained`, load it in Transformers, let torch differentiate, and compare
# every parameter's gradient with ours.

# %%
try:
    import torch
    import transformers
except ImportError:
    torch = None

if torch is None:
    print("SKIPPED: torch and transformers are not installed (pip install torch transformers) - "
          "the autograd comparison did not run.")
else:
    with tempfile.TemporaryDirectory() as directory:
        model.save_pretrained(directory)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = transformers.AlbertForPreTraining.from_pretrained(
                directory, torch_dtype=torch.float64, attn_implementation="eager")
    reference.eval()
    out = reference(input_ids=torch.tensor(input_ids), attention_mask=torch.tensor(attention_mask),
                    labels=torch.tensor(labels), sentence_order_label=torch.tensor(sop_labels))
    out.loss.backward()
    torch_grads = dict(reference.named_parameters())
    worst = 0.0
    for name, ours in grads.items():
        theirs = torch_grads[name].grad.numpy()
        worst = max(worst, np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-2))
    print(f"loss: ours {float(loss):.12f}, torch {out.loss.item():.12f}")
    print(f"largest relative gradient difference over all {len(grads)} parameters: {worst:.1e}")
    assert worst < 1e-8

# %% [markdown]
# ## Exercises
#
# Each exercise cell raises `NotImplementedError` until you write the function's body, and the
# self-check below it says "not attempted yet" until then. The `check` function is this lesson's
# own: these exercises are cut smaller than the course autograder's
# (`tinyalbert.grading.check(name, function)` takes whole graded functions such as
# `attention_backward`; `python -m tinyalbert.grading list` shows them).

# %%
from tinyalbert.nn.encoder import layer_prefix


def check(exercise, function):
    cases = np.random.default_rng(7)
    if exercise == "attention_core_backward":
        q, k, v, d_c = (cases.standard_normal((2, 2, 6, 3)) for _ in range(4))
        mask = np.array([[1] * 6, [1] * 4 + [0] * 2])
        bias = (1.0 - mask[:, None, None, :]) * np.finfo(np.float64).min
        _, probs = my_attention_core(q, k, v, bias)
        got = function(d_c, q, k, v, probs)
        assert len(got) == 3, f"return (d_q, d_k, d_v): got {len(got)} arrays"
        values = {"q": q, "k": k, "v": v}
        def scalar(values):
            return np.sum(my_attention_core(values["q"], values["k"], values["v"], bias)[0] * d_c)
        gradcheck.check_gradients(scalar, values, dict(zip(("q", "k", "v"), got)))
    elif exercise == "shared_gradient":
        expected = grads_shared[LAYER.format(0) + "ffn.weight"]
        got = function(grads_separate, "ffn.weight", num_layers)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)
    else:
        raise ValueError(f"no exercise called {exercise!r}")


def must_reject(exercise, wrong_answer):
    """The check itself is checked: it must fail on a known wrong answer."""
    try:
        check(exercise, wrong_answer)
    except AssertionError:
        return
    raise RuntimeError(f"the self-check of {exercise} accepted a wrong answer")


def reference_shared_gradient(separate_grads, name, num_layers):
    """The sum over the passes, with the library's layer names (`layer_prefix(group, inner)`)."""
    return sum(separate_grads[layer_prefix(group, 0) + name] for group in range(num_layers))


# The check itself is checked: it accepts a right answer and rejects known wrong ones.
check('attention_core_backward', my_attention_core_backward)  # section 1's backward, checked there against finite differences
check('shared_gradient', reference_shared_gradient)
must_reject('attention_core_backward', lambda d_c, q, k, v, p: my_attention_core_backward(d_c, q, k, v, p)[:2] + (d_c,))
must_reject('shared_gradient', lambda grads, name, n: grads["albert.encoder.albert_layer_groups.0.albert_layers.0." + name])
must_reject('attention_core_backward', lambda d_c, q, k, v, p: my_attention_core_backward(d_c, q, k, v, p)[:2])  # d_v left out


# %% [markdown]
# **Exercise 1.** Write the backward of the attention core (section 1) from the formulas alone,
# returning `(d_q, d_k, d_v)`.

# %%
def attention_core_backward(d_context, q, k, v, probs):
    """d_context, q, k, v: (batch, heads, seq, d); probs: (batch, heads, seq, seq), the softmax
    of the masked scores. Returns (d_q, d_k, d_v), each (batch, heads, seq, d)."""
    raise NotImplementedError("write attention_core_backward")


# %%
try:
    check("attention_core_backward", attention_core_backward)
    print("Exercise 1: correct.")
except NotImplementedError:
    print("Exercise 1: not attempted yet. Write attention_core_backward above and run this cell again.")

# %% [markdown]
# **Exercise 2.** Given the gradients of the non-shared copy model (a dict keyed like its
# `state_dict()`), return the gradient the shared model gets for the layer weight `name`. `name`
# is the name inside a layer, such as `"ffn.weight"`; the full key of pass $g$'s copy is
# `LAYER.format(g) + name` (the library's `layer_prefix(g, 0) + name`).

# %%
def shared_gradient(separate_grads, name, num_layers):
    """The shared model's gradient of the layer weight `name` (e.g. "ffn.weight"): an array of
    that weight's shape."""
    raise NotImplementedError("write shared_gradient")


# %%
try:
    check("shared_gradient", shared_gradient)
    print("Exercise 2: correct.")
except NotImplementedError:
    print("Exercise 2: not attempted yet. Write shared_gradient above and run this cell again.")

# %% [markdown]
# **Exercise 3 (no self-check).** In section 4, which rows of the decoder-path gradient would be zero
# if the MLM loss were computed only over the vocabulary ids present in the batch? Why does the
# real loss not allow that shortcut?
#
# Next: lesson 9 builds the data these gradients are computed on.
