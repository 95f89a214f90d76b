"""Optimizers, learning-rate schedule and gradient clipping for flat parameter dicts.

Parameters and gradients are dicts `name -> array` with the same keys (Hugging Face names).
Every update asks the arrays for their namespace, so the same code runs on NumPy, CuPy or
any Array API library; nothing here converts an array to a Python number.

- `AdamW`: the update of `torch.optim.AdamW` (decoupled weight decay).
- `LAMB`: Adam's direction, rescaled per parameter tensor by a trust ratio ||p|| / ||update||
  (You et al. 2019, "Large Batch Optimization for Deep Learning"), the optimizer ALBERT was
  pretrained with (here with Adam's bias correction, as the paper writes it).
- As in BERT and ALBERT, LayerNorm weights and biases get no weight decay (and in LAMB no
  trust ratio): see `uses_weight_decay`.
"""
from __future__ import annotations

import math
from typing import Mapping

from tinyalbert.backend import array_namespace

NO_DECAY_NAME_PARTS = ("LayerNorm", "layer_norm")


def uses_weight_decay(name: str) -> bool:
    """False for LayerNorm parameters and biases, which BERT/ALBERT pretraining does not decay.

    Shrinking a LayerNorm gain or a bias towards zero is not a useful prior, and these small
    vectors have no scale for LAMB's trust ratio to adapt to.
    """
    return not (any(part in name for part in NO_DECAY_NAME_PARTS) or name.endswith("bias"))


class _AdamMoments:
    """Step count and Adam's two moment estimates per parameter, shared by AdamW and LAMB.

    The moments start at zero on the first step, shaped like each parameter.
    """

    def __init__(self, betas: tuple[float, float], eps: float, weight_decay: float):
        beta1, beta2 = betas
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        if not eps >= 0.0:  # `not >=` also refuses nan
            raise ValueError(f"eps must be >= 0, got {eps}")
        if not weight_decay >= 0.0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.beta1, self.beta2 = beta1, beta2
        self.eps = eps
        self.weight_decay = weight_decay
        self.step_count = 0
        self.exp_avg: dict = {}  # m: running mean of the gradient
        self.exp_avg_sq: dict = {}  # v: running mean of the squared gradient

    def _check_step_inputs(self, params: Mapping, grads: Mapping, lr: float) -> None:
        """Raise before any state changes, as torch does, unless: grads match params in keys,
        shapes and dtypes (broadcasting or promoting would silently change the parameter), lr is
        a number >= 0, and after step 0 every parameter has moments of its shape (one first seen
        at a later step would skip Adam's bias correction: give it an optimizer of its own)."""
        if params.keys() != grads.keys():
            missing = sorted(params.keys() - grads.keys())
            extra = sorted(grads.keys() - params.keys())
            raise ValueError(f"grads must have the keys of params: missing {missing}, unexpected {extra}")
        if not lr >= 0.0:  # `not >=` also refuses nan
            raise ValueError(f"Invalid learning rate: {lr} (must be >= 0)")
        for name, param in params.items():
            grad = grads[name]
            if grad.shape != param.shape or grad.dtype != param.dtype:
                raise ValueError(f"{name}: gradient {grad.dtype} {tuple(grad.shape)} does not match "
                                 f"the parameter {param.dtype} {tuple(param.shape)}")
        misfit = self.misfit(params)
        if misfit:
            raise ValueError(misfit)

    def misfit(self, params: Mapping) -> str | None:
        """Why this state cannot step `params`, or None: after step 0, a parameter without moments
        (it would skip Adam's bias correction) or with moments of another shape. Moments of names
        not in `params` are allowed: a step may update a subset of what the state holds."""
        for name, param in params.items():
            moments = self.exp_avg.get(name)
            if moments is None and self.step_count > 0:
                return f"{name}: no moments in the optimizer state after step {self.step_count}"
            if moments is not None and moments.shape != param.shape:
                return (f"{name}: moments of shape {tuple(moments.shape)} in the optimizer state, "
                        f"parameter of shape {tuple(param.shape)}")
        return None

    def _update_moments(self, name: str, grad) -> tuple:
        """Fold `grad` into the moments of `name`; returns the new (m, v)."""
        xp = array_namespace(grad)
        if name not in self.exp_avg:
            self.exp_avg[name] = xp.zeros_like(grad)
            self.exp_avg_sq[name] = xp.zeros_like(grad)
        # perf: each new moment is built in place in its first term, a new array: fewer
        # temporaries of the parameter's size, and the stored moments are replaced, not
        # modified (a state_dict taken before the step keeps its values)
        exp_avg = self.beta1 * self.exp_avg[name]
        exp_avg += (1.0 - self.beta1) * grad  # m = beta1 m + (1 - beta1) g
        exp_avg_sq = self.beta2 * self.exp_avg_sq[name]
        squared = grad * grad
        squared *= 1.0 - self.beta2
        exp_avg_sq += squared  # v = beta2 v + (1 - beta2) g^2
        self.exp_avg[name], self.exp_avg_sq[name] = exp_avg, exp_avg_sq
        return exp_avg, exp_avg_sq

    def state_dict(self) -> dict:
        """`{"step": int, "exp_avg.<name>": array, "exp_avg_sq.<name>": array, ...}`.

        Flat and made of arrays and one int, so it can be written with safetensors or npz.
        """
        state: dict = {"step": self.step_count}
        for name in self.exp_avg:
            state[f"exp_avg.{name}"] = self.exp_avg[name]
            state[f"exp_avg_sq.{name}"] = self.exp_avg_sq[name]
        return state

    def load_state_dict(self, state: Mapping) -> None:
        """Restore what `state_dict` returned (the arrays must belong to the parameters' library)."""
        if "step" not in state:
            raise ValueError("optimizer state has no 'step' entry")
        step = int(state["step"])  # a 0-d array after a trip through npz
        if step < 0 or step != state["step"]:
            raise ValueError(f"optimizer state 'step' must be a whole number >= 0, got {state['step']}")
        exp_avg, exp_avg_sq = {}, {}
        for key, value in state.items():
            if key.startswith("exp_avg_sq."):
                exp_avg_sq[key[len("exp_avg_sq.") :]] = value
            elif key.startswith("exp_avg."):
                exp_avg[key[len("exp_avg.") :]] = value
            elif key != "step":
                raise ValueError(f"unexpected optimizer state entry {key!r}")
        if exp_avg.keys() != exp_avg_sq.keys():
            unpaired = sorted(exp_avg.keys() ^ exp_avg_sq.keys())
            raise ValueError(f"optimizer state has exp_avg without exp_avg_sq (or the reverse) for {unpaired}")
        for name in exp_avg:
            if exp_avg[name].shape != exp_avg_sq[name].shape:
                raise ValueError(f"optimizer state: exp_avg.{name} and exp_avg_sq.{name} differ in shape")
        self.step_count = step
        self.exp_avg, self.exp_avg_sq = exp_avg, exp_avg_sq


class AdamW(_AdamMoments):
    """Adam with decoupled weight decay, step for step as `torch.optim.AdamW`.

    For each parameter p with gradient g, at step t (from 1):
        p <- p * (1 - lr * weight_decay)              (skipped where `uses_weight_decay` is False)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(betas, eps, weight_decay)

    def step(self, params: Mapping, grads: Mapping, lr: float) -> dict:
        """One update. Returns a new params dict; `params` itself is left as it was."""
        self._check_step_inputs(params, grads, lr)
        self.step_count += 1
        bias_correction1 = 1.0 - self.beta1**self.step_count
        bias_correction2_sqrt = math.sqrt(1.0 - self.beta2**self.step_count)
        step_size = lr / bias_correction1
        updated = {}
        for name, param in params.items():
            xp = array_namespace(param)
            if uses_weight_decay(name) and self.weight_decay != 0.0:
                param = param * (1.0 - lr * self.weight_decay)
            exp_avg, exp_avg_sq = self._update_moments(name, grads[name])
            # perf: the last line of the formula in two buffers, `denom` and `update`, not one per
            # operation: each is the size of the parameter, and allocating them costs more than the
            # arithmetic (the step takes a quarter less time)
            denom = xp.sqrt(exp_avg_sq)
            denom /= bias_correction2_sqrt
            denom += self.eps
            update = exp_avg / denom
            update *= -step_size
            update += param  # p - step_size * m / denom
            updated[name] = update
        return updated


class LAMB(_AdamMoments):
    """Layer-wise Adaptive Moments for Batch training (You et al. 2019), with Adam's bias
    correction. (google-research/albert's `lamb_optimizer.py` leaves the correction out,
    r = m / (sqrt(v) + eps): the two differ mostly in the first few thousand steps.)

    For each parameter tensor p with gradient g, at step t (from 1):
        m <- beta1 * m + (1 - beta1) * g,   v <- beta2 * v + (1 - beta2) * g^2
        r = (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps) + weight_decay * p
        ratio = ||p|| / ||r||     (1 if either norm is 0)
        p <- p - lr * ratio * r
    The trust ratio gives every tensor a step proportional to its own size, whatever the
    scale of its gradient, which is what keeps very large batches stable. LayerNorm weights
    and biases get neither the decay term nor the ratio (ratio 1), as in the original code.
    """

    def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6, weight_decay: float = 0.01):
        super().__init__(betas, eps, weight_decay)

    def step(self, params: Mapping, grads: Mapping, lr: float) -> dict:
        """One update. Returns a new params dict; `params` itself is left as it was."""
        self._check_step_inputs(params, grads, lr)
        self.step_count += 1
        bias_correction1 = 1.0 - self.beta1**self.step_count
        bias_correction2 = 1.0 - self.beta2**self.step_count
        updated = {}
        for name, param in params.items():
            xp = array_namespace(param)
            exp_avg, exp_avg_sq = self._update_moments(name, grads[name])
            # perf: r built in place in `update`, and the step below too, as in AdamW
            update = exp_avg / bias_correction1
            denom = xp.sqrt(exp_avg_sq / bias_correction2)
            denom += self.eps
            update /= denom  # r = (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
            if not uses_weight_decay(name):
                updated[name] = param - lr * update
                continue
            if self.weight_decay != 0.0:
                update += self.weight_decay * param
            param_norm = xp.sqrt(xp.sum(param * param))
            update_norm = xp.sqrt(xp.sum(update * update))
            both_nonzero = (param_norm > 0) & (update_norm > 0)
            # The safe denominator only avoids a 0/0 in the branch `where` throws away.
            safe_update_norm = xp.where(both_nonzero, update_norm, xp.ones_like(update_norm))
            trust_ratio = xp.where(both_nonzero, param_norm / safe_update_norm, xp.ones_like(param_norm))
            update *= -(lr * trust_ratio)
            update += param  # p - lr * ratio * r
            updated[name] = update
        return updated


def linear_warmup_then_decay(
    step: int,
    warmup_steps: int,
    total_steps: int,
    peak_lr: float,
    end_lr: float = 0.0,
    power: float = 1.0,
) -> float:
    """Learning rate at optimizer step `step` (0 for the first update).

    Rises linearly from 0 to `peak_lr` over `warmup_steps`, then falls to `end_lr` at
    `total_steps` as `end_lr + (peak_lr - end_lr) * (1 - progress)^power` (power 1: a straight
    line), and stays at `end_lr` after. This is the factor of transformers'
    `get_polynomial_decay_schedule_with_warmup` (and, with end_lr=0 and power=1,
    `get_linear_schedule_with_warmup`) times the peak rate. Warmup keeps the first updates,
    made while Adam's second moment is still a poor estimate, small.

    google-research/albert's `optimization.py` decays from step 0 instead,
    `peak_lr * (1 - step / total_steps)`, with the warmup rate replacing it on the first steps;
    so its rate falls at the end of warmup from `peak_lr` to `peak_lr * (1 - warmup_steps /
    total_steps)`. Here the decay starts from the peak, as in Transformers: after warmup the
    original's rate is this one times that factor (0.9 with the 10% warmup of `TrainingArguments`)
    at every step, both reaching `end_lr` 0 at `total_steps`.
    """
    if step < 0:  # a negative rate would climb the loss
        raise ValueError(f"step must be >= 0, got {step}")
    if warmup_steps < 0 or total_steps < warmup_steps:
        raise ValueError(f"need 0 <= warmup_steps <= total_steps, got warmup_steps={warmup_steps}, total_steps={total_steps}")
    if end_lr > peak_lr:
        raise ValueError(f"end_lr ({end_lr}) must not exceed peak_lr ({peak_lr})")
    if step < warmup_steps:
        return peak_lr * step / max(1, warmup_steps)
    if step >= total_steps:
        return end_lr
    remaining = 1.0 - (step - warmup_steps) / (total_steps - warmup_steps)
    return (peak_lr - end_lr) * remaining**power + end_lr


def global_norm(grads: Mapping):
    """sqrt of the sum of squares of every gradient entry, all tensors together: a 0-d array of
    the gradients' dtype.

    The squares are summed in float32 at least, as torch does: in float16 they overflow (to inf)
    once the norm passes 256, and clipping by an infinite norm would zero every gradient. (The
    norm itself comes back as float16, inf past 65504; `clip_grad_global_norm` scales by the wide one.)
    """
    norm = _wide_global_norm(grads)
    xp = array_namespace(norm)
    return xp.astype(norm, xp.result_type(*grads.values()))


def _wide_global_norm(grads: Mapping):
    """`global_norm` in float32 at least (float64 gradients keep float64)."""
    if not grads:
        raise ValueError("the global norm needs at least one gradient")
    xp = array_namespace(*grads.values())
    dtype = xp.result_type(*grads.values())
    wide = xp.result_type(dtype, xp.float32)
    sum_of_squares = 0.0
    for grad in grads.values():
        grad = grad if grad.dtype == wide else xp.astype(grad, wide)  # no copy of float32 or float64 gradients
        sum_of_squares = sum_of_squares + xp.sum(grad * grad)
    return xp.sqrt(sum_of_squares)


def clip_grad_global_norm(grads: Mapping, max_norm: float) -> tuple[dict, object]:
    """Scale all gradients together so that their joint L2 norm is at most `max_norm`.

    Returns `(clipped_grads, total_norm)`, total_norm being the norm before clipping as a 0-d
    array. Like `torch.nn.utils.clip_grad_norm_`: the scale is max_norm / (total_norm + 1e-6),
    applied only when it is below 1 (clipping never enlarges a gradient); it is one factor for
    every tensor, so the direction of the update is kept. A negative or nan `max_norm` is
    refused (torch would flip the gradients, or not clip).
    """
    if not max_norm >= 0.0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm}")
    wide_norm = _wide_global_norm(grads)
    xp = array_namespace(wide_norm)
    dtype = xp.result_type(*grads.values())
    total_norm = xp.astype(wide_norm, dtype)
    scale = max_norm / (total_norm + 1e-6)  # torch's, bit for bit
    # A float16 norm past 65504 is inf, and scaling by it would zero every gradient: there only,
    # the wider norm sets the scale. (xp.where, not an `if`: nothing waits for the device.)
    scale = xp.where(xp.isinf(total_norm), xp.astype(max_norm / (wide_norm + 1e-6), dtype), scale)
    scale = xp.where(scale < 1.0, scale, xp.ones_like(scale))
    return {name: grad * xp.astype(scale, grad.dtype) for name, grad in grads.items()}, total_norm
