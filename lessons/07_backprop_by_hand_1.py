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
# # Lesson 7: Backprop by hand, part I: the small pieces
#
# After this lesson you will be able to
#
# - derive the gradient of a linear layer, LayerNorm, GELU (both the tanh form `gelu_new` and the
#   exact erf form), softmax and cross-entropy with ignored labels;
# - write each backward pass in a few lines of NumPy;
# - check any backward pass with central finite differences in float64, using the project's
#   gradient checker `tinyalbert.gradcheck`, and know why float32 is the wrong precision for it;
# - read `tinyalbert.nn`'s `*_backward` functions and see they are the same few lines.
#
# Every backward here but one has the shape `d_inputs, d_params = f_backward(d_outputs, cache)`:
# given the gradient of a scalar loss $L$ with respect to the outputs, return the gradient with
# respect to the inputs and the weights. The exception is softmax: `softmax_backward(d_probs,
# probs)` takes the probabilities themselves as its cache and returns one array, the gradient of
# the scores, written over `d_probs` (which it changes). Lesson 8 chains these pieces, with one
# more (the backward of a table lookup), into the gradient of the whole ALBERT.

# %%
import matplotlib.pyplot as plt
import numpy as np

from tinyalbert import gradcheck
from tinyalbert.nn import activations, layernorm, linear, losses
from tinyalbert.nn.softmax import softmax, softmax_backward

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. How we know a gradient is right
#
# Turn any module into a scalar with a random *probe* $P$ of the output's shape,
# $f(x) = \sum_i \mathrm{forward}(x)_i P_i$. Then $\partial f / \partial x$ is exactly what the
# backward pass returns when it is given $P$ as `d_outputs`. Central differences estimate it entry by
# entry:
#
# $$\frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}.$$
#
# The error of this estimate has two parts: truncation, about $h^2 |f'''|$, and rounding, about
# $\varepsilon_{\text{machine}} |f| / h$. With $h = 10^{-6}$ in float64 ($\varepsilon \approx 10^{-16}$)
# both are tiny, so the project holds every backward to a small relative error, `gradcheck.REL_TOL`
# (the error model is written out in `tinyalbert/gradcheck.py`). A mistake shows up at its own size,
# far above that tolerance: a gradient 1% off gives a relative error of about $10^{-2}$ (the end of
# this lesson shows one).
#
# Here is the whole idea in NumPy, for $f(x) = \sum \tanh(x) P$, whose gradient is $(1 - \tanh^2 x) P$:

# %%
def central_differences(f, x, h=1e-6):
    """Numeric gradient of the scalar f at x, one entry at a time (x is perturbed and restored)."""
    grad = np.zeros_like(x)
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + h
        up = f(x)
        flat[i] = keep - h
        down = f(x)
        flat[i] = keep
        flat_grad[i] = (up - down) / (2 * h)
    return grad


x = rng.standard_normal((3, 4))
probe = rng.standard_normal((3, 4))
analytic = (1 - np.tanh(x) ** 2) * probe
numeric = central_differences(lambda v: np.sum(np.tanh(v) * probe), x)
print("our numeric gradient vs analytic, relative error:", gradcheck.gradient_error(analytic, numeric))

# the library's checker computes the same numbers
library_numeric = gradcheck.numeric_gradient_array(np.tanh, x, probe)
assert np.allclose(library_numeric, numeric, rtol=0, atol=1e-12)
gradcheck.assert_gradient_close(analytic, library_numeric, "tanh")

# %% [markdown]
# Why float64? Do the same in float32: the rounding term grows with machine epsilon (printed below),
# so with a step of $10^{-6}$ the "numeric gradient" is off by a few percent, and with a larger step the
# truncation error takes over. A correct backward then *looks* wrong: every float32 error below is
# far above the checker's tolerance.

# %%
print("machine epsilon: float32", np.finfo(np.float32).eps, " float64", np.finfo(np.float64).eps,
      " checker tolerance", gradcheck.REL_TOL)
x32, probe32 = x.astype(np.float32), probe.astype(np.float32)
for step in (1e-6, 1e-3, 1e-2):
    numeric32 = central_differences(lambda v: float(np.sum(np.tanh(v) * probe32)), x32.copy(), h=step)
    error32 = gradcheck.gradient_error(analytic, numeric32)
    print(f"float32, step {step:g}: relative error of a correct gradient {error32:.1e}")
    assert error32 > 10 * gradcheck.REL_TOL  # a correct backward would fail the float32 check at every step
print(f"float64, step 1e-06: relative error {gradcheck.gradient_error(analytic, numeric):.1e}")

# %% [markdown]
# The same error for many steps $h$, in both precisions. To the left of each curve's lowest point
# rounding dominates and the error grows like $\varepsilon/h$ (a slope of -1 on these log axes); to
# the right truncation dominates and it grows like $h^2$ (a slope of 2). Float64's valley lies far
# below the checker's tolerance around the checker's step; float32's lowest point stays above it.

# %%
steps = np.logspace(-8, -1, 29)
errors = {}
for dtype in (np.float32, np.float64):
    x_typed, probe_typed = x.astype(dtype), probe.astype(dtype)
    errors[dtype.__name__] = [
        gradcheck.gradient_error(analytic, central_differences(
            lambda v: float(np.sum(np.tanh(v) * probe_typed)), x_typed.copy(), h=step))
        for step in steps]
fig, ax = plt.subplots(figsize=(7.5, 3.6))
for name, curve in errors.items():
    ax.loglog(steps, curve, marker=".", label=name)
ax.axhline(gradcheck.REL_TOL, color="gray", ls="--", lw=0.8, label="checker tolerance (REL_TOL)")
ax.axvline(gradcheck.STEP, color="gray", ls=":", lw=0.8, label="checker step (STEP)")
ax.set(xlabel="step h", ylabel="relative error of a correct gradient",
       title="central differences of tanh: rounding (left) against truncation (right)")
ax.legend(fontsize=8)
plt.tight_layout()
plt.show()
best = {name: steps[int(np.argmin(curve))] for name, curve in errors.items()}
print("lowest error: " + ", ".join(f"{name} {min(curve):.1e} at h = {best[name]:.0e}" for name, curve in errors.items()))
assert min(errors["float64"]) < gradcheck.REL_TOL < min(errors["float32"])

# %% [markdown]
# ## 2. Linear layer
#
# $Y = X W^\top + b$ with $X$ `(rows, in)`, $W$ `(out, in)` (Transformers' layout) and $b$ `(out,)`.
# Each output is $Y_{ro} = \sum_i X_{ri} W_{oi} + b_o$, so by the chain rule
#
# $$\frac{\partial L}{\partial X} = \frac{\partial L}{\partial Y} W, \qquad
# \frac{\partial L}{\partial W} = \Big(\frac{\partial L}{\partial Y}\Big)^{\!\top} X, \qquad
# \frac{\partial L}{\partial b} = \sum_r \frac{\partial L}{\partial Y_{r\cdot}}.$$
#
# The bias is added to every row, so its gradient is the sum over the rows: the first of many
# "used several times, so the gradients add" in ALBERT.

# %%
def my_linear_backward(d_y, x, w):
    return d_y @ w, d_y.T @ x, d_y.sum(axis=0)


x = rng.standard_normal((5, 4))
w = rng.standard_normal((3, 4))
b = rng.standard_normal(3)
d_y = rng.standard_normal((5, 3))

y, cache = linear.linear_forward(x, w, b)
d_x, grads = linear.linear_backward(d_y, cache)
mine = my_linear_backward(d_y, x, w)
for name, ours, library in zip(("x", "weight", "bias"), mine, (d_x, grads["weight"], grads["bias"])):
    np.testing.assert_allclose(ours, library, rtol=1e-12, atol=1e-12, err_msg=name)

# and both agree with finite differences of the forward
values = {"x": x, "w": w, "b": b}
def linear_scalar(v):
    return np.sum(linear.linear_forward(v["x"], v["w"], v["b"])[0] * d_y)
gradcheck.check_gradients(linear_scalar, values, {"x": d_x, "w": grads["weight"], "b": grads["bias"]})
print("linear: ours == tinyalbert.nn.linear == finite differences")

# %% [markdown]
# ## 3. LayerNorm
#
# Over the last axis of size $D$: $\mu = \frac1D\sum_j x_j$, $\sigma^2 = \frac1D \sum_j (x_j-\mu)^2$
# (biased, as torch), $\hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon}$, and $y = \gamma \odot \hat x + \beta$.
# The weight gradients are sums over rows: $\partial L/\partial\gamma = \sum_r g_r \odot \hat x_r$,
# $\partial L/\partial\beta = \sum_r g_r$ with $g = \partial L / \partial y$.
#
# The input gradient is the interesting one, because $\mu$ and $\sigma$ depend on *every* $x_j$ of the
# row. Write $s = 1/\sqrt{\sigma^2+\epsilon}$ and $u = \gamma \odot g$ (the gradient reaching $\hat x$).
# Differentiating $\hat x_k = (x_k - \mu)s$ gives
# $\partial \hat x_k / \partial x_j = s\,(\delta_{jk} - \tfrac1D - \tfrac1D \hat x_j \hat x_k)$, and summing
# against $u_k$:
#
# $$\frac{\partial L}{\partial x} = s \Big(u - \overline{u} - \hat x \, \overline{u \odot \hat x}\Big),$$
#
# where the bar is the mean over the row. Two means and a few products: the backward costs about as
# much as the forward.

# %%
def my_layernorm_backward(d_y, x, gamma, eps):
    mean = x.mean(-1, keepdims=True)
    inv_std = 1 / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + eps)
    x_hat = (x - mean) * inv_std
    u = d_y * gamma
    d_x = inv_std * (u - u.mean(-1, keepdims=True) - x_hat * (u * x_hat).mean(-1, keepdims=True))
    return d_x, (d_y * x_hat).reshape(-1, x.shape[-1]).sum(0), d_y.reshape(-1, x.shape[-1]).sum(0)


eps = 1e-12
x = rng.standard_normal((2, 3, 8))
gamma, beta = rng.standard_normal(8), rng.standard_normal(8)
d_y = rng.standard_normal((2, 3, 8))
y, cache = layernorm.layernorm_forward(x, gamma, beta, eps)
d_x, grads = layernorm.layernorm_backward(d_y, cache)
for name, ours, library in zip(("x", "weight", "bias"), my_layernorm_backward(d_y, x, gamma, eps),
                               (d_x, grads["weight"], grads["bias"])):
    np.testing.assert_allclose(ours, library, rtol=1e-10, atol=1e-12, err_msg=name)

values = {"x": x, "gamma": gamma, "beta": beta}
def layernorm_scalar(v):
    return np.sum(layernorm.layernorm_forward(v["x"], v["gamma"], v["beta"], eps)[0] * d_y)
gradcheck.check_gradients(layernorm_scalar, values, {"x": d_x, "gamma": grads["weight"], "beta": grads["bias"]})
print("LayerNorm: ours == tinyalbert.nn.layernorm == finite differences")

# %% [markdown]
# A check that the formula is right *for the right reason*: LayerNorm's output does not change when a
# constant is added to a row, so the input gradient of every row must sum to zero.

# %%
row_sums = d_x.sum(-1)
print("largest |sum of a row's input gradient|:", np.abs(row_sums).max())
assert np.abs(row_sums).max() < 1e-9

# %% [markdown]
# ## 4. GELU, both forms
#
# The exact GELU is $x\,\Phi(x)$ with $\Phi$ the normal CDF; the tanh approximation `gelu_new` is
# $\tfrac12 x\,(1 + \tanh u)$ with $u = \sqrt{2/\pi}\,(x + 0.044715\,x^3)$. Google's original
# ALBERT code computes the tanh form for both versions; in Transformers the configs of the v1
# checkpoints name `gelu`, which it computes exactly, and those of v2 (and tinyalbert-mini) name
# `gelu_new`. So a v1 checkpoint runs in Transformers, and here, with a slightly different
# activation from the one it was trained with. Their derivatives:
#
# $$\frac{d}{dx}\, x\Phi(x) = \Phi(x) + x\,\varphi(x), \qquad
# \frac{d}{dx}\, \tfrac12 x (1+\tanh u) = \tfrac12(1+\tanh u) + \tfrac12 x\,(1-\tanh^2 u)\,\sqrt{2/\pi}\,(1 + 3\cdot 0.044715\,x^2).$$
#
# An elementwise function's backward is `d_x = d_y * f'(x)`: no sums at all.

# %%
from math import erf, pi, sqrt

def my_gelu_derivative(x):
    phi_cdf = 0.5 * (1 + np.vectorize(erf)(x / sqrt(2)))
    return phi_cdf + x * np.exp(-0.5 * x * x) / sqrt(2 * pi)


def my_gelu_new_derivative(x):
    t = np.tanh(sqrt(2 / pi) * (x + 0.044715 * x**3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * sqrt(2 / pi) * (1 + 3 * 0.044715 * x * x)


grid = np.linspace(-5, 5, 201)
np.testing.assert_allclose(my_gelu_derivative(grid), activations.gelu_derivative(grid), rtol=1e-12, atol=1e-14)
np.testing.assert_allclose(my_gelu_new_derivative(grid), activations.gelu_new_derivative(grid), rtol=1e-12, atol=1e-14)
for name in ("gelu", "gelu_new"):
    x = rng.standard_normal((4, 6)) * 2
    d_y = rng.standard_normal((4, 6))
    _, cache = activations.activation_forward(x, name)
    d_x, _ = activations.activation_backward(d_y, cache)
    numeric = gradcheck.numeric_gradient_array(activations.ACTIVATIONS[name], x, d_y)
    gradcheck.assert_gradient_close(d_x, numeric, name)
gap = np.abs(activations.gelu(grid) - activations.gelu_new(grid)).max()
print(f"gelu and gelu_new: derivatives match the library and finite differences; the two forms differ by at most {gap:.1e} on [-5, 5]")

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
axes[0].plot(grid, activations.gelu(grid), label="gelu (exact)")
axes[0].plot(grid, activations.gelu_new(grid), "--", label="gelu_new (tanh)")
axes[0].set_title("GELU")
axes[0].set_ylabel("activation(x)")
axes[1].plot(grid, activations.gelu_derivative(grid), label="gelu'")
axes[1].plot(grid, activations.gelu_new_derivative(grid), "--", label="gelu_new'")
axes[1].axhline(1, color="gray", lw=0.5)
axes[1].set_title("derivative (note the dip below 0 and the bump above 1)")
axes[1].set_ylabel("d activation / dx")
for axis in axes:
    axis.legend()
    axis.set_xlabel("x")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Softmax
#
# $p = \mathrm{softmax}(z)$, $p_k = e^{z_k} / \sum_j e^{z_j}$, has the Jacobian
# $\partial p_k / \partial z_j = p_k(\delta_{jk} - p_j)$. We never build that $n \times n$ matrix: its
# product with the incoming gradient $g = \partial L/\partial p$ is
#
# $$\frac{\partial L}{\partial z} = p \odot \big(g - \langle g, p\rangle\big).$$
#
# Attention applies this to every row of its `(batch, heads, seq, seq)` scores.

# %%
def my_softmax_backward(d_p, p):
    return p * (d_p - (d_p * p).sum(-1, keepdims=True))


z = rng.standard_normal((3, 5)) * 3
d_p = rng.standard_normal((3, 5))
p = softmax(z)
full_jacobian = np.stack([np.diag(row) - np.outer(row, row) for row in p])  # (rows, 5, 5), only to compare
np.testing.assert_allclose(my_softmax_backward(d_p, p), np.einsum("rkj,rk->rj", full_jacobian, d_p), atol=1e-14)
library = softmax_backward(d_p.copy(), p)  # the library works in place: give it a copy
np.testing.assert_allclose(my_softmax_backward(d_p, p), library, rtol=1e-12, atol=1e-14)
gradcheck.assert_gradient_close(library, gradcheck.numeric_gradient_array(softmax, z, d_p), "softmax")
print("softmax: Jacobian-vector product == full Jacobian == tinyalbert == finite differences")
print("each row of d_z sums to", np.abs(library.sum(-1)).max(), "(softmax ignores a constant shift)")

# %% [markdown]
# ## 6. Cross-entropy with ignored labels
#
# The MLM loss only counts the positions chosen for prediction; every other label is $-100$. With
# $C$ the set of counted rows,
#
# $$L = -\frac{1}{|C|} \sum_{r\in C} \log p_{r, t_r}, \qquad
# \frac{\partial L}{\partial z_r} = \frac{\mathbb 1[r\in C]}{|C|}\,\big(p_r - \mathrm{onehot}(t_r)\big).$$
#
# Softmax and log combine into this short form (no division by $p$, so no overflow). Ignored rows get
# exactly zero gradient, and the mean is over the counted rows only, as `torch.nn.CrossEntropyLoss`.

# %%
def my_cross_entropy(logits, targets):
    counted = targets != -100
    shifted = logits - logits.max(-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    loss = -log_p[counted, targets[counted]].sum() / counted.sum()
    d_logits = np.exp(log_p)
    d_logits[counted, targets[counted]] -= 1
    d_logits *= counted[:, None] / counted.sum()
    return loss, d_logits


logits = rng.standard_normal((6, 7))
targets = np.array([3, -100, 0, 6, -100, 2])
loss, cache = losses.cross_entropy_forward(logits, targets)
d_logits, _ = losses.cross_entropy_backward(1.0, cache)
my_loss, my_d_logits = my_cross_entropy(logits, targets)
# first our gradient against finite differences of our own loss, then both against the library
my_numeric = gradcheck.numeric_gradient_array(lambda z: my_cross_entropy(z, targets)[0], logits, np.ones(()))
gradcheck.assert_gradient_close(my_d_logits, my_numeric, "my_cross_entropy")
np.testing.assert_allclose(my_loss, loss, rtol=1e-12)
np.testing.assert_allclose(my_d_logits, d_logits, rtol=1e-12, atol=1e-15)
numeric = gradcheck.numeric_gradient_array(lambda z: losses.cross_entropy_forward(z, targets)[0], logits, np.ones(()))
gradcheck.assert_gradient_close(d_logits, numeric, "cross-entropy")
print(f"loss {float(loss):.6f}; rows with label -100 get gradient {np.abs(d_logits[targets == -100]).max()}")

# %% [markdown]
# ## 7. The same numbers from torch autograd
#
# torch computes these gradients with automatic differentiation. If it is installed, each of our
# hand-written backward passes should agree with it to float64 rounding.

# %%
try:
    import torch
except ImportError:
    torch = None

if torch is None:
    print("SKIPPED: torch is not installed (pip install torch) - the autograd comparison did not run.")
else:
    t = torch.tensor
    worst = {}
    # linear
    x = rng.standard_normal((5, 4)); w = rng.standard_normal((3, 4)); b = rng.standard_normal(3); g = rng.standard_normal((5, 3))
    tx, tw, tb = (t(a, requires_grad=True) for a in (x, w, b))
    (torch.nn.functional.linear(tx, tw, tb) * t(g)).sum().backward()
    d_x, grads = linear.linear_backward(g, linear.linear_forward(x, w, b)[1])
    worst["linear"] = max(np.abs(d_x - tx.grad.numpy()).max(), np.abs(grads["weight"] - tw.grad.numpy()).max())
    # LayerNorm
    x = rng.standard_normal((4, 8)); gamma = rng.standard_normal(8); beta = rng.standard_normal(8); g = rng.standard_normal((4, 8))
    tx, tg = t(x, requires_grad=True), t(gamma, requires_grad=True)
    (torch.nn.functional.layer_norm(tx, (8,), tg, t(beta), 1e-12) * t(g)).sum().backward()
    d_x, grads = layernorm.layernorm_backward(g, layernorm.layernorm_forward(x, gamma, beta, 1e-12)[1])
    worst["layernorm"] = max(np.abs(d_x - tx.grad.numpy()).max(), np.abs(grads["weight"] - tg.grad.numpy()).max())
    # both GELUs
    for name, approximate in (("gelu", "none"), ("gelu_new", "tanh")):
        x = rng.standard_normal((4, 8)) * 2; g = rng.standard_normal((4, 8)); tx = t(x, requires_grad=True)
        (torch.nn.functional.gelu(tx, approximate=approximate) * t(g)).sum().backward()
        d_x, _ = activations.activation_backward(g, activations.activation_forward(x, name)[1])
        worst[name] = np.abs(d_x - tx.grad.numpy()).max()
    # softmax
    z = rng.standard_normal((3, 5)); g = rng.standard_normal((3, 5)); tz = t(z, requires_grad=True)
    (torch.softmax(tz, -1) * t(g)).sum().backward()
    worst["softmax"] = np.abs(softmax_backward(g.copy(), softmax(z)) - tz.grad.numpy()).max()
    # cross-entropy with ignore_index=-100
    tl = t(logits, requires_grad=True)
    torch.nn.functional.cross_entropy(tl, t(targets), ignore_index=-100).backward()
    worst["cross_entropy"] = np.abs(d_logits - tl.grad.numpy()).max()
    for name, error in worst.items():
        print(f"{name:14s} max |ours - torch autograd| = {error:.1e}")
        assert error < 1e-12, name

# %% [markdown]
# ## Exercises
#
# Each exercise asks for one function (`silu_derivative` has a counterpart of the same name in
# `tinyalbert.nn.activations`). Its cell raises
# `NotImplementedError` until you write the body, and the self-check below it says "not attempted
# yet" until then. (`check` below is this lesson's own: these two exercises are smaller than the
# course autograder's. The autograder's `tinyalbert.grading.check(name, function)`, shown after
# them, takes the full `layernorm_forward` / `layernorm_backward` with tinyalbert's signatures.)

# %%
def check(exercise, function):
    """Self-check of an exercise: compares `function` with tinyalbert and with finite differences."""
    cases = np.random.default_rng(123)
    if exercise == "silu_derivative":
        x = cases.standard_normal(50) * 3
        expected = activations.silu_derivative(x)
        numeric = gradcheck.numeric_gradient_array(activations.silu, x.copy(), np.ones_like(x))
        got = np.asarray(function(x))
        assert got.shape == x.shape, f"shape {got.shape}, expected {x.shape}"
        gradcheck.assert_gradient_close(got, numeric, "your silu_derivative vs finite differences")
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    elif exercise == "layernorm_backward_no_affine":
        x = cases.standard_normal((3, 6)) * 2 + 1
        d_y = cases.standard_normal((3, 6))
        x[-1] = 0.5  # a constant row: only epsilon inside the square root keeps it finite and right
        ones, zeros = np.ones(6), np.zeros(6)
        expected, _ = layernorm.layernorm_backward(d_y, layernorm.layernorm_forward(x, ones, zeros, 1e-12)[1])
        got = np.asarray(function(d_y, x))
        assert got.shape == x.shape, f"shape {got.shape}, expected {x.shape}"
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)
    else:
        raise ValueError(f"no exercise called {exercise!r}")


def must_reject(exercise, wrong_answer):
    """The check itself is checked: it must fail on a known wrong answer."""
    try:
        check(exercise, wrong_answer)
    except AssertionError:
        return
    raise RuntimeError(f"the self-check of {exercise} accepted a wrong answer")


def reference_layernorm_backward_no_affine(d_y, x):
    """The library's LayerNorm backward with weight 1, bias 0 and eps 1e-12: its input gradient."""
    ones, zeros = np.ones(x.shape[-1]), np.zeros(x.shape[-1])
    return layernorm.layernorm_backward(d_y, layernorm.layernorm_forward(x, ones, zeros, 1e-12)[1])[0]


# The check itself is checked: it accepts a right answer and rejects known wrong ones.
check('silu_derivative', activations.silu_derivative)  # the library's answer passes
check('layernorm_backward_no_affine', reference_layernorm_backward_no_affine)  # so does the library's LayerNorm
must_reject('silu_derivative', lambda x: 1 / (1 + np.exp(-x)))
must_reject('layernorm_backward_no_affine', lambda d_y, x: d_y - d_y.mean(-1, keepdims=True))


def layernorm_backward_eps_outside(d_y, x):
    """Wrong: 1 / (sqrt(variance) + eps) instead of 1 / sqrt(variance + eps)."""
    centered = x - x.mean(-1, keepdims=True)
    inv_std = 1 / (np.sqrt((centered**2).mean(-1, keepdims=True)) + 1e-12)
    x_hat = centered * inv_std
    return inv_std * (d_y - d_y.mean(-1, keepdims=True) - x_hat * (d_y * x_hat).mean(-1, keepdims=True))


must_reject('layernorm_backward_no_affine', layernorm_backward_eps_outside)


# %% [markdown]
# **Exercise 1.** SiLU (also called swish) is $x\,s(x)$ with $s$ the sigmoid. Derive its derivative
# (hint: $s' = s(1-s)$) and write it.

# %%
def silu_derivative(x):
    """d/dx of x * sigmoid(x), elementwise: an array of x's shape."""
    raise NotImplementedError("write silu_derivative")


# %%
try:
    check("silu_derivative", silu_derivative)
    print("Exercise 1: correct.")
except NotImplementedError:
    print("Exercise 1: not attempted yet. Write silu_derivative above and run this cell again.")

# %% [markdown]
# **Exercise 2.** Write LayerNorm's input gradient *without* the weight and bias ($\gamma = 1$,
# $\beta = 0$, $\epsilon = 10^{-12}$): derive $\partial \hat x_k / \partial x_j$ yourself first,
# then compare with the formula of section 3.

# %%
def layernorm_backward_no_affine(d_y, x):
    """d_y, x: (rows, D), LayerNorm over the last axis. Returns dL/dx, (rows, D)."""
    raise NotImplementedError("write layernorm_backward_no_affine")


# %%
try:
    check("layernorm_backward_no_affine", layernorm_backward_no_affine)
    print("Exercise 2: correct.")
except NotImplementedError:
    print("Exercise 2: not attempted yet. Write layernorm_backward_no_affine above and run this cell again.")

# %% [markdown]
# **In a course.** The autograder (`tinyalbert.grading`) gives the full exercise: `layernorm_forward`
# and `layernorm_backward` with tinyalbert's signatures and cache. `python -m tinyalbert.grading stubs
# DIR --exercise layernorm` writes the student file. `tinyalbert.grading.check` runs the
# grader's checks on one function in the notebook and prints which cases pass: the same cases it
# grades, without the points. Here it runs on the library's own backward, and on a copy of that
# backward with a 1% error in the input gradient, which it must catch.

# %%
import tinyalbert.grading as grading
from tinyalbert.nn.layernorm import layernorm_backward


def slightly_wrong_layernorm_backward(d_output, cache):
    d_input, d_weights = layernorm_backward(d_output, cache)
    return d_input * 1.01, d_weights


print("-- the library's backward (must PASS):")
assert grading.check("layernorm_backward", layernorm_backward)
print("-- a copy with a 1% error in the input gradient (must FAIL):")
assert not grading.check("layernorm_backward", slightly_wrong_layernorm_backward)

# %% [markdown]
# **Exercise 3 (no self-check).** Put a bug into the loss line of `my_cross_entropy`: divide by the
# number of rows instead of the number of counted rows, and leave the gradient as it is. Run section 6
# again. Which assert fails, and what relative error does the gradient checker report? Explain that
# number from the 4 counted rows out of 6. Then make the same change in the gradient line too: the
# gradient check now passes and a later assert fails. Why can a gradient check not catch this bug?
#
# Next: lesson 8 chains these pieces through attention, the shared encoder and the tied embedding,
# and checks the gradient of the whole model.
