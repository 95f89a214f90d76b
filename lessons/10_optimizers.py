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
# # Lesson 10: Optimizers: AdamW, LAMB, schedules and clipping
#
# After this lesson you will be able to
#
# - write one step of AdamW (Adam with *decoupled* weight decay) and of LAMB (Adam's direction,
#   rescaled per tensor by a trust ratio) in a few lines, and check them against `tinyalbert.train.optim`
#   and torch;
# - say which ALBERT parameters get no weight decay, and why;
# - draw the warm-up-then-decay schedule and clip gradients by their global norm;
# - run a small large-batch experiment and read what it says (and does not say) about LAMB.
#
# Parameters and gradients are flat dicts `name -> array` keyed like `model.state_dict()`, so an
# optimizer is a loop over names.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from tinyalbert import AlbertForPreTraining, AlbertTokenizer
from tinyalbert.nn import activations, linear, losses
from tinyalbert.train import data, masking, optim

FULL = os.environ.get("LESSONS_FULL") == "1"
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. AdamW
#
# For each parameter $p$ with gradient $g$, at step $t = 1, 2, \ldots$:
#
# $$m \leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2,$$
# $$p \leftarrow p\,(1 - \eta\lambda) - \eta\,\frac{m / (1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)} + \epsilon}.$$
#
# The division by $\sqrt v$ gives every *entry* a step of about $\eta$, whatever the scale of its
# gradient. The decay $\lambda$ is applied to the weight directly ("decoupled", Loshchilov & Hutter),
# not added to the gradient, so Adam's normalization does not undo it.

# %%
def my_adamw_step(params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
    state["t"] += 1
    t, new = state["t"], {}
    for name, p in params.items():
        g = grads[name]
        m = state.setdefault("m", {}).get(name, 0) * betas[0] + (1 - betas[0]) * g
        v = state.setdefault("v", {}).get(name, 0) * betas[1] + (1 - betas[1]) * g * g
        state["m"][name], state["v"][name] = m, v
        if optim.uses_weight_decay(name):
            p = p * (1 - lr * weight_decay)
        new[name] = p - lr * (m / (1 - betas[0] ** t)) / (np.sqrt(v / (1 - betas[1] ** t)) + eps)
    return new


params = {"dense.weight": rng.standard_normal((4, 3)), "dense.bias": rng.standard_normal(4),
          "LayerNorm.weight": 1 + 0.1 * rng.standard_normal(4)}
mine, library, state, adamw = dict(params), dict(params), {"t": 0}, optim.AdamW(weight_decay=0.01)
for step in range(5):
    grads = {name: rng.standard_normal(p.shape) for name, p in params.items()}
    mine = my_adamw_step(mine, grads, state, lr=1e-2)
    library = adamw.step(library, grads, lr=1e-2)
for name in params:
    np.testing.assert_allclose(mine[name], library[name], rtol=1e-12, atol=1e-15, err_msg=name)
print("five AdamW steps: ours == tinyalbert.train.optim.AdamW")

# %% [markdown]
# ### What gets no weight decay
#
# Following BERT and ALBERT, LayerNorm gains and biases are not decayed: shrinking a gain toward 0 or
# a bias toward 0 is no useful prior. Here is the split for the bundled tinyalbert-mini:

# %%
mini = AlbertForPreTraining.from_pretrained("tinyalbert-mini")
decayed = [name for name in mini.params if optim.uses_weight_decay(name)]
not_decayed = [name for name in mini.params if not optim.uses_weight_decay(name)]
count = lambda names: sum(mini.params[name].size for name in names)
print(f"decayed: {len(decayed)} tensors, {count(decayed):,} numbers; not decayed: {len(not_decayed)} tensors, {count(not_decayed):,} numbers")
print("not decayed, e.g.:", not_decayed[:4])

# %% [markdown]
# ## 2. LAMB: one step size per tensor
#
# LAMB (You et al. 2019, the optimizer ALBERT was pretrained with, at very large batches) takes Adam's
# direction $r$ (with the decay term added) and rescales it per tensor:
#
# $$r = \frac{m/(1-\beta_1^t)}{\sqrt{v/(1-\beta_2^t)}+\epsilon} + \lambda p, \qquad
# p \leftarrow p - \eta\,\frac{\lVert p\rVert}{\lVert r\rVert}\, r.$$
#
# So every tensor moves by $\eta\lVert p\rVert$: a *relative* step of $\eta$, the same for the big
# embedding table and for a small dense layer. The ratio $\lVert p\rVert/\lVert r\rVert$ is the
# "trust ratio". LayerNorm parameters and biases skip both the decay and the ratio. (The bias
# corrections $1-\beta^t$ are the paper's; google-research/albert's LAMB leaves them out, which
# changes the first few thousand steps only.)

# %%
def my_lamb_step(params, grads, state, lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01):
    state["t"] += 1
    t, new, ratios = state["t"], {}, {}
    for name, p in params.items():
        g = grads[name]
        m = state.setdefault("m", {}).get(name, 0) * betas[0] + (1 - betas[0]) * g
        v = state.setdefault("v", {}).get(name, 0) * betas[1] + (1 - betas[1]) * g * g
        state["m"][name], state["v"][name] = m, v
        r = (m / (1 - betas[0] ** t)) / (np.sqrt(v / (1 - betas[1] ** t)) + eps)
        ratio = 1.0
        if optim.uses_weight_decay(name):
            r = r + weight_decay * p
            ratio = np.linalg.norm(p) / np.linalg.norm(r)
        ratios[name] = ratio
        new[name] = p - lr * ratio * r
    return new, ratios


mine, library, state, lamb = dict(params), dict(params), {"t": 0}, optim.LAMB(weight_decay=0.01)
for step in range(5):
    grads = {name: rng.standard_normal(p.shape) for name, p in params.items()}
    mine, ratios = my_lamb_step(mine, grads, state, lr=1e-2)
    library = lamb.step(library, grads, lr=1e-2)
for name in params:
    np.testing.assert_allclose(mine[name], library[name], rtol=1e-12, atol=1e-15, err_msg=name)
print("five LAMB steps: ours == tinyalbert.train.optim.LAMB; trust ratios of the last step:",
      {name: round(float(r), 3) for name, r in ratios.items()})

# %% [markdown]
# ### One step on the real model
#
# Take one batch of text through tinyalbert-mini, and compare the *relative* change
# $\lVert\Delta p\rVert / \lVert p\rVert$ of every tensor after one AdamW step and one LAMB step at
# the same learning rate. AdamW moves each entry by about $\eta$, so a tensor whose entries are small
# changes a lot relative to its size, and one with large entries little. LAMB moves every decayed tensor by the same relative amount.

# %%
tokenizer = AlbertTokenizer.from_pretrained("tinyalbert-mini")
special = masking.SpecialIds(tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.mask_token_id, tokenizer.pad_token_id)
sentences = ["a river starts as rain or melting snow in the hills.", "small streams join and grow into a river.",
             "bread starts with flour, water, salt and yeast.", "the baker mixes them and kneads the dough.",
             "the moon has no light of its own.", "it reflects the light of the sun.",
             "a chess game opens with both players developing their pieces.", "the game ends in checkmate."]
ids = [tokenizer.encode(s, add_special_tokens=False) for s in sentences]
examples = [data.build_example(ids[i], ids[i + 1], 0, special, len(tokenizer), np.random.default_rng(i), max_seq_length=40)
            for i in range(0, len(ids), 2)]
batch = data.collate(examples)
loss, grads = mini.loss_and_grads(batch["input_ids"], batch["labels"], batch["sentence_order_label"],
                                  attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"])
lr = 1e-3
relative = {}
for name, optimizer in (("AdamW", optim.AdamW()), ("LAMB", optim.LAMB())):
    stepped = optimizer.step(mini.params, grads, lr)
    relative[name] = {key: float(np.linalg.norm(stepped[key] - mini.params[key]) / np.linalg.norm(mini.params[key]))
                      for key in decayed}
short = [key.replace("albert.encoder.albert_layer_groups.0.albert_layers.0.", "layer.").replace("albert.", "") for key in decayed]
plt.figure(figsize=(9, 3.5))
positions = np.arange(len(decayed))
for offset, name in ((-0.2, "AdamW"), (0.2, "LAMB")):
    plt.bar(positions + offset, [relative[name][key] for key in decayed], 0.4, label=name)
plt.yscale("log")
plt.xticks(positions, short, rotation=70, ha="right", fontsize=7)
plt.ylabel("‖Δp‖ / ‖p‖ after one step")
plt.title(f"one step at lr {lr:g} on tinyalbert-mini (decayed tensors)")
plt.legend()
plt.tight_layout()
plt.show()
spread = {name: max(values.values()) / min(values.values()) for name, values in relative.items()}
print(f"largest / smallest relative change across tensors: AdamW {spread['AdamW']:.1f}x, LAMB {spread['LAMB']:.3f}x")
assert spread["LAMB"] < 1.01 < spread["AdamW"]

# %% [markdown]
# ## 3. Warm-up, decay and clipping
#
# The learning rate rises linearly from 0 over the warm-up steps, then falls linearly to 0. In
# Transformers' `get_linear_schedule_with_warmup`, which tinyalbert follows
# (`linear_warmup_then_decay`), the fall starts at the peak:
#
# $$\eta_t = \eta_{\max}\cdot\begin{cases} t / T_w & t < T_w\\ (T - t)/(T - T_w) & T_w \le t < T\\ 0 & t \ge T\end{cases}$$
#
# Google's original ALBERT code decays from step 0 instead, $\eta_{\max}(1 - t/T)$, and lets the
# warm-up override it while $t < T_w$; so its rate drops at $t = T_w$, from nearly $\eta_{\max}$ to
# $\eta_{\max}(1 - T_w/T)$. The two never differ by more than $\eta_{\max} T_w / T$ (2.5% of the peak
# for ALBERT's 3,125 warm-up steps of 125,000).
#
# Warm-up keeps the first updates small while Adam's $v$ is still a poor estimate of the gradient's
# scale (early on one large gradient can dominate it). Clipping rescales *all* gradients by one factor
# when their joint norm $\sqrt{\sum_{\text{tensors}} \lVert g\rVert^2}$ exceeds a maximum (1.0 in
# ALBERT), which bounds a step without changing its direction.

# %%
total, warmup, peak = 1000, 100, 5e-4
my_schedule = [peak * min(t / warmup, max(0.0, (total - t) / (total - warmup))) for t in range(total + 50)]
schedule = [optim.linear_warmup_then_decay(t, warmup, total, peak) for t in range(total + 50)]
np.testing.assert_allclose(my_schedule, schedule, rtol=1e-12, atol=1e-20)

grads = {name: rng.standard_normal(p.shape) * 3 for name, p in params.items()}
norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
clipped, reported = optim.clip_grad_global_norm(grads, 1.0)
clipped_norm = np.sqrt(sum(np.sum(g * g) for g in clipped.values()))
np.testing.assert_allclose(float(reported), norm, rtol=1e-12)
np.testing.assert_allclose(clipped["dense.weight"], grads["dense.weight"] / (norm + 1e-6), rtol=1e-12)
print(f"global norm {norm:.3f} -> {clipped_norm:.6f} after clipping to 1.0 (same direction)")

plt.figure(figsize=(6, 2.8))
plt.plot(schedule)
plt.axvline(warmup, color="gray", lw=0.5)
plt.xlabel("step")
plt.ylabel("learning rate")
plt.title(f"linear warm-up ({warmup} steps) then linear decay to 0 at step {total}")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. The same steps as torch and Transformers
#
# `torch.optim.AdamW`, `torch.nn.utils.clip_grad_norm_` and Transformers' linear schedule should give
# the same numbers. (torch has no LAMB of its own; the check above against the formula stands for it.)

# %%
try:
    import torch
    import transformers
except ImportError:
    torch = None

if torch is None:
    print("SKIPPED: torch and transformers are not installed (pip install torch transformers) - the comparison did not run.")
else:
    tensors = {name: torch.tensor(p, requires_grad=True) for name, p in params.items()}
    groups = [{"params": [t for n, t in tensors.items() if optim.uses_weight_decay(n)], "weight_decay": 0.01},
              {"params": [t for n, t in tensors.items() if not optim.uses_weight_decay(n)], "weight_decay": 0.0}]
    reference = torch.optim.AdamW(groups, lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    ours, adamw = dict(params), optim.AdamW(weight_decay=0.01)
    for step in range(5):
        grads = {name: rng.standard_normal(p.shape) for name, p in params.items()}
        for name, t in tensors.items():
            t.grad = torch.tensor(grads[name])
        reference.step()
        ours = adamw.step(ours, grads, lr=1e-2)
    worst = max(np.abs(ours[n] - tensors[n].detach().numpy()).max() for n in params)
    print(f"AdamW, five steps: max |ours - torch| = {worst:.1e}")
    assert worst < 1e-12

    for name, t in tensors.items():
        t.grad = torch.tensor(grads[name] * 3)
    torch_norm = torch.nn.utils.clip_grad_norm_(list(tensors.values()), 1.0)
    clipped, our_norm = optim.clip_grad_global_norm({n: g * 3 for n, g in grads.items()}, 1.0)
    worst = max(np.abs(clipped[n] - tensors[n].grad.numpy()).max() for n in params)
    print(f"clipping: norms {float(our_norm):.12f} vs {torch_norm.item():.12f}, max gradient difference {worst:.1e}")
    assert worst < 1e-12

    dummy = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    hf = transformers.get_linear_schedule_with_warmup(dummy, warmup, total)
    hf_lrs = []
    for t in range(total):
        hf_lrs.append(dummy.param_groups[0]["lr"])
        dummy.step()
        hf.step()
    print(f"schedule: max |ours - transformers| = {np.abs(np.array(hf_lrs) - schedule[:total]).max():.1e}")
    assert np.allclose(hf_lrs, schedule[:total], rtol=1e-12, atol=1e-20)

# %% [markdown]
# ## 5. An experiment: AdamW and LAMB as the batch grows
#
# LAMB's promise is that a model can be trained with a much larger batch (so fewer, bigger steps on
# the same data) without losing accuracy. Test it on a problem small enough to run many times: a
# 4-layer GELU network (built from `tinyalbert.nn`'s linear and activation functions, whose backward
# passes lesson 7 derived) learns to copy the decisions of a random "teacher" network of the same
# shape. Every run sees the same number of examples (a fixed number of epochs), so a batch 16 times
# larger takes 16 times fewer steps. For each batch size and optimizer we try a small grid of
# learning rates, since every optimizer needs its own, and keep the one with the best accuracy on a
# *validation* split held out of the training data. The comparison is then made on a separate *test*
# split that played no part in that choice: picking the rate by test accuracy would fit the test
# set's noise, and the comparison would favour whichever optimizer happened to fit it better.

# %%
WIDTH, DEPTH, CLASSES, INPUTS = 64, 4, 10, 32
NUM_TRAIN, NUM_VALIDATION, NUM_TEST = (16384, 4096, 4096) if FULL else (4096, 2048, 2048)
EPOCHS = 8 if FULL else 4
BATCH_SIZES = [16, 64, 256, 1024] if FULL else [16, 64, 256]
LEARNING_RATES = {"AdamW": [1e-3, 3e-3, 1e-2, 3e-2], "LAMB": [3e-3, 1e-2, 3e-2, 1e-1]}


def init_mlp(seed, scale=1.0):
    generator = np.random.default_rng(seed)
    sizes = [INPUTS] + [WIDTH] * (DEPTH - 1) + [CLASSES]
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"layer{i}.weight"] = generator.standard_normal((fan_out, fan_in)) * scale / np.sqrt(fan_in)
        params[f"layer{i}.bias"] = np.zeros(fan_out)
    return params


def mlp_logits(params, x):
    for i in range(DEPTH):
        x, _ = linear.linear_forward(x, params[f"layer{i}.weight"], params[f"layer{i}.bias"])
        if i < DEPTH - 1:
            x = activations.gelu_new(x)
    return x


def mlp_loss_and_grads(params, x, targets):
    caches = []
    for i in range(DEPTH):
        x, linear_cache = linear.linear_forward(x, params[f"layer{i}.weight"], params[f"layer{i}.bias"])
        activation_cache = None
        if i < DEPTH - 1:
            x, activation_cache = activations.activation_forward(x, "gelu_new")
        caches.append((linear_cache, activation_cache))
    loss, loss_cache = losses.cross_entropy_forward(x, targets)
    d_x, _ = losses.cross_entropy_backward(1.0, loss_cache)
    grads = {}
    for i in reversed(range(DEPTH)):
        linear_cache, activation_cache = caches[i]
        if activation_cache is not None:
            d_x, _ = activations.activation_backward(d_x, activation_cache)
        d_x, layer_grads = linear.linear_backward(d_x, linear_cache)
        grads[f"layer{i}.weight"], grads[f"layer{i}.bias"] = layer_grads["weight"], layer_grads["bias"]
    return float(loss), grads


data_rng = np.random.default_rng(1)
teacher = init_mlp(seed=100, scale=2.0)
labelled_x = data_rng.standard_normal((NUM_TRAIN + NUM_VALIDATION, INPUTS))  # the training data
labelled_y = np.argmax(mlp_logits(teacher, labelled_x), -1)
train_x, train_y = labelled_x[:NUM_TRAIN], labelled_y[:NUM_TRAIN]
validation_x, validation_y = labelled_x[NUM_TRAIN:], labelled_y[NUM_TRAIN:]  # held out: only picks the lr
test_x = data_rng.standard_normal((NUM_TEST, INPUTS))  # only for the comparison
test_y = np.argmax(mlp_logits(teacher, test_x), -1)


def accuracy(params, x, y):
    return float(np.mean(np.argmax(mlp_logits(params, x), -1) == y))


def train_mlp(optimizer_name, batch_size, lr):
    params = init_mlp(seed=0)
    optimizer = optim.AdamW() if optimizer_name == "AdamW" else optim.LAMB()
    steps = EPOCHS * NUM_TRAIN // batch_size
    order = np.random.default_rng(2)
    curve = []
    for step in range(steps):
        index = order.integers(0, NUM_TRAIN, batch_size)
        loss, grads = mlp_loss_and_grads(params, train_x[index], train_y[index])
        grads, _ = optim.clip_grad_global_norm(grads, 1.0)
        params = optimizer.step(params, grads, optim.linear_warmup_then_decay(step, steps // 10, steps, lr))
        curve.append(loss)
    return params, curve


results = {}  # (optimizer, batch) -> (lr chosen on validation, its test accuracy, its loss curve)
for optimizer_name, rates in LEARNING_RATES.items():
    for batch_size in BATCH_SIZES:
        runs = {lr: train_mlp(optimizer_name, batch_size, lr) for lr in rates}
        best_lr = max(rates, key=lambda lr: accuracy(runs[lr][0], validation_x, validation_y))
        params, curve = runs[best_lr]
        results[optimizer_name, batch_size] = (best_lr, accuracy(params, test_x, test_y), curve)
print(f"{NUM_TRAIN} training examples, {EPOCHS} epochs; learning rate chosen on {NUM_VALIDATION} held-out "
      f"validation examples; accuracy on {NUM_TEST} test examples:")
print("batch  " + "  ".join(f"{name:>18s}" for name in LEARNING_RATES))
for batch_size in BATCH_SIZES:
    row = [f"{results[name, batch_size][1]:.3f} (lr {results[name, batch_size][0]:g})" for name in LEARNING_RATES]
    print(f"{batch_size:5d}  " + "  ".join(f"{cell:>18s}" for cell in row))

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for name, marker in (("AdamW", "o"), ("LAMB", "s")):
    axes[0].plot(BATCH_SIZES, [results[name, b][1] for b in BATCH_SIZES], marker=marker, label=name)
axes[0].set_xscale("log", base=2)
axes[0].set_xlabel("batch size (same number of examples seen)")
axes[0].set_ylabel("test accuracy (lr chosen on validation)")
axes[0].legend()
largest = BATCH_SIZES[-1]
for name in LEARNING_RATES:
    curve = np.array(results[name, largest][2])
    axes[1].plot(np.arange(len(curve)) + 1, curve, label=f"{name}, lr {results[name, largest][0]:g}")
axes[1].set_xlabel("step")
axes[1].set_ylabel("training loss")
axes[1].set_title(f"batch {largest}")
axes[1].legend()
plt.tight_layout()
plt.show()
drop = {name: results[name, BATCH_SIZES[0]][1] - results[name, largest][1] for name in LEARNING_RATES}
print(f"test accuracy lost from batch {BATCH_SIZES[0]} to batch {largest}: AdamW {drop['AdamW']:+.3f}, LAMB {drop['LAMB']:+.3f}")
gap = drop["AdamW"] - drop["LAMB"]
# The gap adds and subtracts four test accuracies, each with a standard error sqrt(a(1-a)/n) on n
# test examples; two standard errors of their sum mark the noise. (The four share one test set, so
# their errors are correlated and the gap's real noise is smaller: this rule leans toward "the same".)
four = [results[name, batch][1] for name in LEARNING_RATES for batch in (BATCH_SIZES[0], largest)]
noise = 2 * np.sqrt(sum(a * (1 - a) / NUM_TEST for a in four))
if abs(gap) <= noise:
    print(f"verdict: at this scale the two optimizers lose about the same (gap {gap:+.3f}, within the noise {noise:.3f})")
else:
    print(f"verdict: {'LAMB' if gap > 0 else 'AdamW'} loses {abs(gap):.3f} less accuracy at the largest batch "
          f"(beyond the noise {noise:.3f})")

# %% [markdown]
# How to read it: with a fixed budget of examples, a larger batch means far fewer steps, which costs
# any optimizer accuracy; the question is which one loses less, and the verdict line above answers it
# for this run. One small problem and one seed are no proof either way. LAMB's advantage in its paper appears at batch sizes in the thousands to tens of thousands on
# BERT, where some tensors (embeddings, LayerNorms, attention projections) have gradients of very
# different scales: the per-tensor step of section 2 is what keeps those stable at a large learning
# rate. Our 4-layer network has no such spread to correct.
#
# ## Exercises
#
# Each exercise cell raises `NotImplementedError` until you write the function's body, and the
# self-check below it says "not attempted yet" until then. `check` is this lesson's own, for
# exercises cut smaller than the course autograder's
# (`tinyalbert.grading.check(name, function)` grades whole optimizers, `AdamW` and `LAMB`;
# `python -m tinyalbert.grading list` shows them).

# %%
def check(exercise, function):
    cases = np.random.default_rng(5)
    if exercise == "trust_ratio":
        for _ in range(5):
            p, r = cases.standard_normal((4, 6)), cases.standard_normal((4, 6))
            np.testing.assert_allclose(function(p, r), np.linalg.norm(p) / np.linalg.norm(r), rtol=1e-12)
        assert function(np.zeros((2, 2)), cases.standard_normal((2, 2))) == 1.0, "a zero parameter norm gives ratio 1"
        assert function(cases.standard_normal((2, 2)), np.zeros((2, 2))) == 1.0, "a zero update norm gives ratio 1"
    elif exercise == "warmup_then_decay":
        for step in (0, 5, 10, 11, 55, 99, 100, 150):
            np.testing.assert_allclose(function(step, 10, 100, 2e-3), optim.linear_warmup_then_decay(step, 10, 100, 2e-3),
                                       rtol=1e-12, atol=1e-20, err_msg=f"step {step}")
        for step in (0, 1, 100):  # no warm-up at all: the peak from the first step
            try:
                got = function(step, 0, 100, 2e-3)
            except ZeroDivisionError:
                raise AssertionError(f"step {step} without warm-up (warmup_steps=0) divides by zero") from None
            np.testing.assert_allclose(got, optim.linear_warmup_then_decay(step, 0, 100, 2e-3),
                                       rtol=1e-12, atol=1e-20, err_msg=f"step {step} without warm-up")
    else:
        raise ValueError(f"no exercise called {exercise!r}")


def must_reject(exercise, wrong_answer):
    """The check itself is checked: it must fail on a known wrong answer."""
    try:
        check(exercise, wrong_answer)
    except AssertionError:
        return
    raise RuntimeError(f"the self-check of {exercise} accepted a wrong answer")


def reference_trust_ratio(p, r):
    """The ratio `optim.LAMB.step` computes inline (the library has no function for it alone)."""
    p_norm, r_norm = np.linalg.norm(p), np.linalg.norm(r)
    return p_norm / r_norm if p_norm > 0 and r_norm > 0 else 1.0


# The check itself is checked: it accepts a right answer and rejects known wrong ones.
check('trust_ratio', reference_trust_ratio)
check('warmup_then_decay', optim.linear_warmup_then_decay)  # the library's answer passes
must_reject('trust_ratio', lambda p, r: np.linalg.norm(r) / np.linalg.norm(p))
must_reject('warmup_then_decay', lambda step, warmup, total, peak: peak * max(0.0, (total - step) / total))


def warmup_up_to_and_including(step, warmup_steps, total_steps, peak_lr):
    """Wrong only at warmup 0: step <= warmup divides by zero there."""
    if step <= warmup_steps:
        return peak_lr * step / warmup_steps
    return peak_lr * max(0.0, (total_steps - step) / (total_steps - warmup_steps))


must_reject('warmup_then_decay', warmup_up_to_and_including)


# %% [markdown]
# **Exercise 1.** Write LAMB's trust ratio $\lVert p\rVert/\lVert r\rVert$, with ratio 1 when either
# norm is zero (a freshly zeroed tensor must still be able to move).

# %%
def trust_ratio(p, r):
    """p, r: arrays of one shape (a parameter tensor and its update). Returns a float."""
    raise NotImplementedError("write trust_ratio")


# %%
try:
    check("trust_ratio", trust_ratio)
    print("Exercise 1: correct.")
except NotImplementedError:
    print("Exercise 1: not attempted yet. Write trust_ratio above and run this cell again.")

# %% [markdown]
# **Exercise 2.** Write the schedule `warmup_then_decay(step, warmup_steps, total_steps, peak_lr)`
# (`warmup_steps` may be 0: then the first step already takes the peak).

# %%
def warmup_then_decay(step, warmup_steps, total_steps, peak_lr):
    """The learning rate at optimizer step `step` (0 for the first update), section 3's formula."""
    raise NotImplementedError("write warmup_then_decay")


# %%
try:
    check("warmup_then_decay", warmup_then_decay)
    print("Exercise 2: correct.")
except NotImplementedError:
    print("Exercise 2: not attempted yet. Write warmup_then_decay above and run this cell again.")

# %% [markdown]
# **Exercise 3 (no self-check).** In section 5, scale the learning rate with the batch size instead
# of searching a grid: $\eta \propto \sqrt{B}$ (the LAMB paper's rule), starting from the batch-16 rate
# chosen on the validation split. Which optimizer tolerates the rule better?
#
# Next: lesson 11 puts data, backward pass and optimizer together and pretrains a tiny ALBERT.
