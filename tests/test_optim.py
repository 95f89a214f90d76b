"""Optimizers, schedule and clipping against PyTorch / transformers and the LAMB paper.

Everything runs in float64, where an update written in a different but equivalent order
differs from the reference by a few ulps per step; RTOL allows that to build up over the
steps compared and still catches any wrong constant or missing term.
"""
import math

import array_api_strict
import numpy as np
import pytest

from tinyalbert.train.optim import (
    LAMB,
    AdamW,
    clip_grad_global_norm,
    linear_warmup_then_decay,
    uses_weight_decay,
)

RTOL = 1e-10
ATOL = 1e-13

SHAPES = {
    "albert.embeddings.word_embeddings.weight": (11, 4),
    "albert.embeddings.LayerNorm.weight": (4,),
    "albert.embeddings.LayerNorm.bias": (4,),
    "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight": (6, 6),
    "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.query.bias": (6,),
    "albert.encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.weight": (6,),
    "predictions.bias": (11,),
    "sop_classifier.classifier.weight": (2, 6),
}


def random_params(seed):
    rng = np.random.default_rng(seed)
    return {name: rng.normal(size=shape) for name, shape in SHAPES.items()}


def random_grads(rng):
    # Gradients of changing scale, so that the moments and the bias correction matter.
    return {name: rng.normal(scale=10.0 ** rng.uniform(-3, 1), size=shape) for name, shape in SHAPES.items()}


def test_weight_decay_exclusions():
    excluded = [name for name in SHAPES if not uses_weight_decay(name)]
    assert excluded == [
        "albert.embeddings.LayerNorm.weight",
        "albert.embeddings.LayerNorm.bias",
        "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.query.bias",
        "albert.encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.weight",
        "predictions.bias",
    ]


@pytest.mark.parametrize("weight_decay, betas, eps", [(0.01, (0.9, 0.999), 1e-8), (0.3, (0.8, 0.95), 1e-6), (0.0, (0.9, 0.999), 1e-8)])
def test_adamw_matches_torch(weight_decay, betas, eps):
    torch = pytest.importorskip("torch")
    params = random_params(0)
    torch_params = {name: torch.tensor(value, requires_grad=True) for name, value in params.items()}
    torch_optimizer = torch.optim.AdamW(
        [
            {"params": [p for n, p in torch_params.items() if uses_weight_decay(n)], "weight_decay": weight_decay},
            {"params": [p for n, p in torch_params.items() if not uses_weight_decay(n)], "weight_decay": 0.0},
        ],
        lr=1.0,
        betas=betas,
        eps=eps,
        foreach=False,
    )
    optimizer = AdamW(betas=betas, eps=eps, weight_decay=weight_decay)
    rng = np.random.default_rng(1)
    for step in range(20):
        lr = 1e-3 * (1 + step % 4)  # a changing rate, as a schedule gives
        grads = random_grads(rng)
        for name, tensor in torch_params.items():
            tensor.grad = torch.tensor(grads[name])
        for group in torch_optimizer.param_groups:
            group["lr"] = lr
        torch_optimizer.step()
        params = optimizer.step(params, grads, lr)
        for name in params:
            np.testing.assert_allclose(params[name], torch_params[name].detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=name)


def lamb_from_the_paper(params, grads_per_step, lrs, beta1, beta2, eps, weight_decay):
    """Algorithm 2 of You et al. (2019) with phi = identity, one parameter tensor at a time.

    BERT/ALBERT's exclusions: LayerNorm and bias tensors have lambda = 0 and no trust ratio.
    """
    params = {name: value.copy() for name, value in params.items()}
    for name in params:
        decay = not ("LayerNorm" in name or "layer_norm" in name or name.endswith("bias"))
        m = np.zeros_like(params[name])
        v = np.zeros_like(params[name])
        for t, (grads, lr) in enumerate(zip(grads_per_step, lrs), start=1):
            g = grads[name]
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g**2
            m_hat = m / (1 - beta1**t)
            v_hat = v / (1 - beta2**t)
            r = m_hat / (np.sqrt(v_hat) + eps)
            x = params[name]
            if decay:
                r = r + weight_decay * x
                x_norm, r_norm = np.linalg.norm(x), np.linalg.norm(r)
                ratio = x_norm / r_norm if x_norm > 0 and r_norm > 0 else 1.0
            else:
                ratio = 1.0
            params[name] = x - lr * ratio * r
    return params


@pytest.mark.parametrize("weight_decay", [0.01, 0.0])
def test_lamb_matches_the_paper(weight_decay):
    params = random_params(2)
    params["sop_classifier.classifier.weight"][:] = 0.0  # ||p|| = 0: ratio 1
    rng = np.random.default_rng(3)
    grads_per_step = [random_grads(rng) for _ in range(20)]
    grads_per_step[4]["albert.embeddings.word_embeddings.weight"][:] = 0.0
    lrs = [1e-3 * (1 + step % 4) for step in range(20)]
    expected = lamb_from_the_paper(params, grads_per_step, lrs, 0.9, 0.999, 1e-6, weight_decay)

    optimizer = LAMB(betas=(0.9, 0.999), eps=1e-6, weight_decay=weight_decay)
    for grads, lr in zip(grads_per_step, lrs):
        params = optimizer.step(params, grads, lr)
    for name in params:
        np.testing.assert_allclose(params[name], expected[name], rtol=RTOL, atol=ATOL, err_msg=name)


def test_lamb_zero_update_keeps_the_parameter():
    # Zero gradients from the start and no decay: the update and its norm are 0, ratio is 1.
    params = {"dense.weight": np.ones((3, 3))}
    new = LAMB(weight_decay=0.0).step(params, {"dense.weight": np.zeros((3, 3))}, lr=0.1)
    np.testing.assert_array_equal(new["dense.weight"], params["dense.weight"])


@pytest.mark.parametrize("optimizer_class", [AdamW, LAMB])
def test_state_dict_round_trip_continues_identically(optimizer_class, tmp_path):
    rng = np.random.default_rng(4)
    grads_per_step = [random_grads(rng) for _ in range(8)]
    optimizer = optimizer_class()
    params = random_params(5)
    for grads in grads_per_step[:4]:
        params = optimizer.step(params, grads, 1e-3)

    # Through npz, as a trainer would save it.
    np.savez(tmp_path / "optimizer.npz", **optimizer.state_dict())
    with np.load(tmp_path / "optimizer.npz") as saved:
        state = {key: saved[key] for key in saved.files}
    resumed = optimizer_class()
    resumed.load_state_dict(state)
    assert resumed.step_count == 4

    continued, resumed_params = params, dict(params)
    for grads in grads_per_step[4:]:
        continued = optimizer.step(continued, grads, 1e-3)
        resumed_params = resumed.step(resumed_params, grads, 1e-3)
    for name in continued:
        np.testing.assert_array_equal(resumed_params[name], continued[name])


def test_step_leaves_inputs_and_checks_keys():
    params = random_params(6)
    before = {name: value.copy() for name, value in params.items()}
    grads = random_grads(np.random.default_rng(7))
    AdamW().step(params, grads, 1e-2)
    for name in params:
        np.testing.assert_array_equal(params[name], before[name])
    del grads["predictions.bias"]
    with pytest.raises(ValueError, match="missing.*predictions.bias"):
        LAMB().step(params, grads, 1e-2)
    with pytest.raises(ValueError, match="betas"):
        AdamW(betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="unexpected optimizer state entry 'momentum'"):
        AdamW().load_state_dict({"step": 1, "momentum": np.zeros(2)})


@pytest.mark.parametrize("optimizer_class", [AdamW, LAMB])
def test_one_step_under_array_api_strict(optimizer_class):
    params = random_params(8)
    grads = random_grads(np.random.default_rng(9))
    expected = optimizer_class().step(params, grads, 1e-2)
    strict = optimizer_class().step(
        {name: array_api_strict.asarray(value) for name, value in params.items()},
        {name: array_api_strict.asarray(value) for name, value in grads.items()},
        1e-2,
    )
    for name in expected:
        np.testing.assert_allclose(np.asarray(strict[name]), expected[name], rtol=1e-14, atol=0)

    clipped, norm = clip_grad_global_norm({name: array_api_strict.asarray(value) for name, value in grads.items()}, 1.0)
    reference, reference_norm = clip_grad_global_norm(grads, 1.0)
    assert float(norm) == pytest.approx(float(reference_norm), rel=1e-14)
    for name in grads:
        np.testing.assert_allclose(np.asarray(clipped[name]), reference[name], rtol=1e-14)


# --- schedule ----------------------------------------------------------------------------------
def reference_lrs(make_scheduler, peak_lr, num_steps):
    """Learning rates a transformers scheduler gives for steps 0..num_steps-1."""
    torch = pytest.importorskip("torch")
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak_lr)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(num_steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize("warmup_steps, total_steps", [(10, 100), (0, 50), (50, 50), (1, 7)])
def test_linear_schedule_matches_transformers(warmup_steps, total_steps):
    get_linear_schedule_with_warmup = pytest.importorskip("transformers").get_linear_schedule_with_warmup
    peak_lr = 3e-4
    expected = reference_lrs(lambda opt: get_linear_schedule_with_warmup(opt, warmup_steps, total_steps), peak_lr, total_steps + 10)
    ours = [linear_warmup_then_decay(step, warmup_steps, total_steps, peak_lr) for step in range(total_steps + 10)]
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("power, end_lr", [(1.0, 1e-7), (2.0, 1e-5), (0.5, 0.0)])
def test_polynomial_schedule_matches_transformers(power, end_lr):
    transformers = pytest.importorskip("transformers")
    peak_lr, warmup_steps, total_steps = 1e-3, 20, 120
    expected = reference_lrs(
        lambda opt: transformers.get_polynomial_decay_schedule_with_warmup(opt, warmup_steps, total_steps, lr_end=end_lr, power=power),
        peak_lr,
        total_steps + 10,
    )
    ours = [linear_warmup_then_decay(step, warmup_steps, total_steps, peak_lr, end_lr, power) for step in range(total_steps + 10)]
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-18)


def test_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError, match="warmup_steps"):
        linear_warmup_then_decay(0, 10, 5, 1e-3)
    with pytest.raises(ValueError, match="end_lr"):
        linear_warmup_then_decay(0, 1, 5, 1e-3, end_lr=1e-2)


# --- clipping ----------------------------------------------------------------------------------
@pytest.mark.parametrize("max_norm", [0.5, 5.0, 1e6])
def test_clip_matches_torch(max_norm):
    torch = pytest.importorskip("torch")
    grads = random_grads(np.random.default_rng(10))
    tensors = [torch.zeros(value.shape, dtype=torch.float64, requires_grad=True) for value in grads.values()]
    for tensor, value in zip(tensors, grads.values()):
        tensor.grad = torch.tensor(value)
    expected_norm = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    clipped, total_norm = clip_grad_global_norm(grads, max_norm)
    assert float(total_norm) == pytest.approx(expected_norm.item(), rel=1e-13)
    for tensor, name in zip(tensors, grads):
        np.testing.assert_allclose(clipped[name], tensor.grad.numpy(), rtol=1e-13, atol=0)
    # The norm is independent of how it is computed: one flat vector.
    flat = np.concatenate([value.ravel() for value in grads.values()])
    assert float(total_norm) == pytest.approx(math.sqrt(flat @ flat), rel=1e-13)


def test_clip_leaves_small_gradients_alone():
    grads = {"a.weight": np.array([0.3, 0.4])}
    clipped, total_norm = clip_grad_global_norm(grads, 1.0)
    assert float(total_norm) == pytest.approx(0.5)
    np.testing.assert_array_equal(clipped["a.weight"], grads["a.weight"])
