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
# # Lesson 5: the whole forward pass in one page
#
# **After this lesson you can** write ALBERT's complete forward pass from token ids to hidden
# states in one screen of NumPy, with the weights of a real checkpoint (and its `gelu_new`, and
# its LayerNorm after each residual sum), and put the heads on top: the pooler, the masked-LM
# head whose decoder is the word-embedding table, and the sentence-order head. You will know
# which of the seven Transformers model classes adds which head.

# %%
import math
import warnings

import numpy as np

import tinyalbert
import tinyalbert.onepage
from tinyalbert import AlbertConfig, AlbertForPreTraining, AlbertModel, AlbertTokenizer
from tinyalbert.nn.heads import mlm_decoder_weight, pooler_forward

# %% [markdown]
# ## 1. The forward pass
#
# Everything of lessons 2 to 4, in order: embeddings (lesson 2), the projection to $H$, then
# for every pass the shared layer (lesson 4) made of the attention block (lesson 3) and the
# feed-forward block
#
# $$\operatorname{FFN}(x) = \operatorname{GELU}(x W_1^{\top} + b_1)\, W_2^{\top} + b_2, \qquad
# \operatorname{GELU}(x) \approx \tfrac12 x \Big(1 + \tanh\!\big(\sqrt{2/\pi}\,(x + 0.044715\,x^3)\big)\Big),$$
#
# each followed by a residual connection and a LayerNorm; last, the pooler reads the `[CLS]`
# position: $\text{pooled} = \tanh(h_{\texttt{[CLS]}} W_P^{\top} + b_P)$.
#
# Two details decide whether the numbers match a checkpoint. GELU itself is $x\,\Phi(x)$, with
# $\Phi$ the standard normal CDF (`hidden_act="gelu"`, as in the released v1 configurations);
# the v2 configurations, `AlbertConfig`'s default and tinyalbert-mini ask for `"gelu_new"`, which
# *is* the tanh formula above, so the page computes that formula, not the exact GELU (the cells
# below print how far apart the two are, and how far the page lands from the model with the
# exact one). And the LayerNorm comes *after* the residual sum,
# $h \leftarrow \operatorname{LayerNorm}(h + f(h))$ ("post-LN", as in BERT), not inside the branch
# as in pre-LN models such as GPT-2, $h \leftarrow h + f(\operatorname{LayerNorm}(h))$; so every
# layer's output, the last hidden state included, is a LayerNorm output.

# %%
def layer_norm(x, p, name, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * p[name + ".weight"] + p[name + ".bias"]


def linear(x, p, name):
    return x @ p[name + ".weight"].T + p[name + ".bias"]


def gelu_new(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def gelu_exact(x):
    """x * Phi(x), what hidden_act="gelu" computes."""
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


grid = np.linspace(-6, 6, 2401)
gap = np.abs(gelu_new(grid) - gelu_exact(grid))
print(f"|gelu_new - gelu|: largest {gap.max():.1e}, at |x| = {abs(grid[gap.argmax()]):.2f}")
assert 0 < gap.max() < 1e-3


def albert_forward(p, c, ids, types, mask, activation=gelu_new):
    """Token ids (batch, seq) -> (hidden states (batch, seq, H), pooled (batch, H))."""
    emb = "albert.embeddings."
    e = (p[emb + "word_embeddings.weight"][ids] + p[emb + "position_embeddings.weight"][np.arange(ids.shape[1])]
         + p[emb + "token_type_embeddings.weight"][types])
    h = linear(layer_norm(e, p, emb + "LayerNorm", c.layer_norm_eps), p, "albert.encoder.embedding_hidden_mapping_in")
    batch, seq, hidden = h.shape
    heads, d = c.num_attention_heads, hidden // c.num_attention_heads
    bias = (1.0 - mask[:, None, None, :]) * np.finfo(h.dtype).min         # padding gets no attention

    def split(t):
        return t.reshape(batch, seq, heads, d).transpose(0, 2, 1, 3)

    for i in range(c.num_hidden_layers):
        group = int(i / (c.num_hidden_layers / c.num_hidden_groups))       # lesson 4
        for inner in range(c.inner_group_num):
            L = f"albert.encoder.albert_layer_groups.{group}.albert_layers.{inner}."
            q, k, v = (split(linear(h, p, L + "attention." + m)) for m in ("query", "key", "value"))
            probs = softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
            attended = h + linear(context, p, L + "attention.dense")
            h = layer_norm(attended, p, L + "attention.LayerNorm", c.layer_norm_eps)
            ffn = linear(activation(linear(h, p, L + "ffn")), p, L + "ffn_output")
            h = layer_norm(h + ffn, p, L + "full_layer_layer_norm", c.layer_norm_eps)
    return h, np.tanh(linear(h[:, 0], p, "albert.pooler"))


# %% [markdown]
# Run it on tinyalbert-mini and compare with `tinyalbert.AlbertModel`:

# %%
tokenizer = AlbertTokenizer.from_pretrained("tinyalbert-mini")
pretraining = AlbertForPreTraining.from_pretrained("tinyalbert-mini")
config, p = pretraining.config, pretraining.params
assert config.hidden_act == "gelu_new" and config.position_embedding_type == "absolute"  # what the page implements

batch = tokenizer(["The river runs past the old [MASK].", "It turns the wheel of the mill."],
                  ["It turns the wheel.", "The river runs past it."], padding=True, return_tensors="np")
ids, types, mask = batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]
hidden, pooled = albert_forward(p, config, ids, types, mask)

body = AlbertModel.from_pretrained("tinyalbert-mini")(**batch)
print("hidden states", hidden.shape, "largest difference", np.abs(hidden - body.last_hidden_state).max())
print("pooled       ", pooled.shape, "largest difference", np.abs(pooled - body.pooler_output).max())
assert np.allclose(hidden, body.last_hidden_state, atol=1e-4) and np.allclose(pooled, body.pooler_output, atol=1e-5)
with_exact_gelu, _ = albert_forward(p, config, ids, types, mask, activation=gelu_exact)
print("with the exact GELU instead, largest difference", np.abs(with_exact_gelu - body.last_hidden_state).max())
assert not np.allclose(with_exact_gelu, body.last_hidden_state, atol=1e-4)

# %% [markdown]
# The package keeps a page like this one as `tinyalbert/onepage.py` (every activation, and the
# MLM head too), tested against the same modules. Read it next to the cell above; it gives the
# same numbers:

# %%
page_hidden, page_pooled = tinyalbert.onepage.albert(p, config, ids, attention_mask=mask, token_type_ids=types)
print("largest difference from tinyalbert.onepage:", np.abs(page_hidden - hidden).max())
assert np.allclose(page_hidden, hidden, atol=1e-5) and np.allclose(page_pooled, pooled, atol=1e-5)

# %% [markdown]
# ## 2. The heads
#
# **Masked-LM head.** Back from $H$ to $E$, then a score for every vocabulary piece. The
# decoder matrix is *the word-embedding table itself* (tied weights): the checkpoint has no
# separate decoder matrix, only the bias $b_{\text{vocab}}$:
#
# $$\text{logits} = \operatorname{LayerNorm}\big(\operatorname{GELU}(h W_T^{\top} + b_T)\big)\,
# W_{\text{word}}^{\top} + b_{\text{vocab}}
# \in \mathbb{R}^{V}.$$
#
# **Sentence-order head.** Two scores from the pooled vector: are the two segments in their
# original order (0) or swapped (1)? $\;\text{sop} = \text{pooled}\, W_S^{\top} + b_S$.

# %%
word_table = p["albert.embeddings.word_embeddings.weight"]
print("a decoder matrix in the checkpoint:", any("decoder" in name for name in p))
assert mlm_decoder_weight(p) is word_table

mlm_logits = layer_norm(gelu_new(linear(hidden, p, "predictions.dense")), p, "predictions.LayerNorm",
                        config.layer_norm_eps) @ word_table.T + p["predictions.bias"]
sop_logits = linear(pooled, p, "sop_classifier.classifier")
assert np.allclose(tinyalbert.onepage.mlm_logits(p, config, hidden), mlm_logits, atol=1e-4)

out = pretraining(**batch)
print("MLM logits", mlm_logits.shape, "largest difference", np.abs(mlm_logits - out.prediction_logits).max())
print("SOP logits", sop_logits.shape, "largest difference", np.abs(sop_logits - out.sop_logits).max())
assert np.allclose(mlm_logits, out.prediction_logits, atol=1e-3)
assert np.allclose(sop_logits, out.sop_logits, atol=1e-4)

mask_row, mask_col = np.argwhere(ids == tokenizer.mask_token_id)[0]
best = np.argsort(-mlm_logits[mask_row, mask_col])[:5]
print("best guesses for the [MASK]:", tokenizer.convert_ids_to_tokens(best.tolist()))
print("sentence order, P(swapped):", softmax(sop_logits)[:, 1].round(3))

# %% [markdown]
# ## 3. Seven classes, one body
#
# Every model class is the same body with a different head (three of them, the masked-LM, token
# classification and question-answering classes, leave out the body's pooler, as in Transformers:
# their heads read every position, not the first one's summary). We build each on a small random
# configuration and print what it returns.

# %%
small = AlbertConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_attention_heads=2, intermediate_size=32,
                     num_hidden_layers=2, max_position_embeddings=16)          # two labels, the default
ids_small = np.array([[2, 10, 11, 12, 3], [2, 20, 21, 3, 0]])
mask_small = (ids_small != 0).astype(np.int64)
classes = ["AlbertModel", "AlbertForPreTraining", "AlbertForMaskedLM", "AlbertForSequenceClassification",
           "AlbertForTokenClassification", "AlbertForQuestionAnswering", "AlbertForMultipleChoice"]
for name in classes:
    model = getattr(tinyalbert, name)(small)
    if name == "AlbertForMultipleChoice":   # (batch, choices, seq): one score per choice
        result = model(input_ids=ids_small[None], attention_mask=mask_small[None])
    else:
        result = model(input_ids=ids_small, attention_mask=mask_small)
    head = sorted({n.split(".")[0] for n in model.params} - {"albert"})
    pooler = "albert.pooler.weight" in model.params
    print(f"{name:<32} pooler {'yes' if pooler else 'no ':<4} head {head!s:<34} "
          f"returns {', '.join(f'{k} {tuple(result[k].shape)}' for k in result.keys())}")
    assert pooler == (name not in ("AlbertForMaskedLM", "AlbertForTokenClassification", "AlbertForQuestionAnswering"))

# %% [markdown]
# ## 4. Compare with Transformers

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

    reference = transformers.AlbertForPreTraining.from_pretrained(resolve_model_dir("tinyalbert-mini")).eval()
    with torch.no_grad():
        theirs = reference(**{k: torch.from_numpy(v) for k, v in batch.items()})
    mlm_gap = np.abs(theirs.prediction_logits.numpy() - mlm_logits).max()
    sop_gap = np.abs(theirs.sop_logits.numpy() - sop_logits).max()
    print(f"transformers {transformers.__version__}: largest difference MLM {mlm_gap:.1e}, SOP {sop_gap:.1e}")
    assert mlm_gap < 1e-3 and sop_gap < 1e-4

# %% [markdown]
# ## Exercise: the pooler
#
# Write `pool(sequence_output, weight, bias)`: `(batch, seq, H)` hidden states and the pooler's
# weights give the `(batch, H)` pooled vectors. The self-check compares it with the library's
# `pooler_forward` on random inputs.

# %%
def pool(sequence_output, weight, bias):
    """sequence_output: (batch, seq, H); weight: (H, H) as stored, (out, in); bias: (H,).
    Returns the pooled vectors, (batch, H)."""
    raise NotImplementedError("write pool")


# %%
def check_pool(candidate, trials=10, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(trials):
        batch, seq, hidden = (int(n) for n in rng.integers(1, 6, size=3))
        states = rng.standard_normal((batch, seq, hidden)).astype(np.float32)
        weights = {"weight": rng.standard_normal((hidden, hidden)).astype(np.float32),
                   "bias": rng.standard_normal(hidden).astype(np.float32)}
        expected, _ = pooler_forward(states, weights)
        got = candidate(states, weights["weight"], weights["bias"])
        assert np.shape(got) == expected.shape, f"shape {np.shape(got)}, expected {expected.shape}"
        assert np.allclose(got, expected, atol=1e-5), (
            f"largest difference {np.abs(got - expected).max()}: the pooler is tanh(first position @ weight.T + bias)")


# The check itself is checked: it accepts a right answer and rejects one that reads the last position,
# one that forgets the transpose and one that forgets the tanh.
check_pool(lambda s, w, b: np.tanh(s[:, 0] @ w.T + b))
for wrong in (lambda s, w, b: np.tanh(s[:, -1] @ w.T + b),
              lambda s, w, b: np.tanh(s[:, 0] @ w + b),
              lambda s, w, b: s[:, 0] @ w.T + b):
    try:
        check_pool(wrong)
        raise RuntimeError("the self-check accepted a wrong answer")
    except AssertionError:
        pass

try:
    check_pool(pool)
    print("Exercise: correct.")
except NotImplementedError:
    print("Exercise: not attempted yet. Write pool above and run this cell again.")
