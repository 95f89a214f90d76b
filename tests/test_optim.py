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
    global_norm,
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


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("optimizer_class", [AdamW, LAMB])
def test_step_builds_new_arrays_and_leaves_params_grads_and_an_earlier_state_alone(optimizer_class, weight_decay):
    """The update is built in place to save temporaries: only in arrays of its own. A state_dict
    taken before a step (a checkpoint about to be written) keeps its values, as do params and grads
    (LayerNorm and bias entries take the branch without decay or trust ratio)."""
    optimizer = optimizer_class(weight_decay=weight_decay)
    params = random_params(6)
    for step in range(2):
        grads = random_grads(np.random.default_rng(10 + step))
        state = optimizer.state_dict()
        saved = {key: value if key == "step" else value.copy() for key, value in state.items()}
        kept_params = {name: value.copy() for name, value in params.items()}
        kept_grads = {name: value.copy() for name, value in grads.items()}
        updated = optimizer.step(params, grads, 1e-2)
        for key, value in saved.items():
            np.testing.assert_array_equal(state[key], value, err_msg=key)
        for name in params:
            np.testing.assert_array_equal(params[name], kept_params[name], err_msg=name)
            np.testing.assert_array_equal(grads[name], kept_grads[name], err_msg=name)
            assert not np.shares_memory(updated[name], optimizer.exp_avg[name])
            assert not np.array_equal(updated[name], params[name]), name
        params = updated


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


@pytest.mark.parametrize("optimizer_class", [AdamW, LAMB])
@pytest.mark.parametrize("mistake", ["broadcastable shape", "transposed", "float64 for float32"])
def test_step_refuses_a_gradient_that_does_not_fit_its_parameter(optimizer_class, mistake):
    """A (1, 4) gradient was broadcast into a (3, 4) parameter, a float64 one promoted a float32
    parameter to float64; torch refuses both (when the gradient is assigned)."""
    torch = pytest.importorskip("torch")
    params = {"dense.weight": np.ones((3, 4), dtype=np.float32)}
    grad = {"broadcastable shape": np.ones((1, 4), dtype=np.float32), "transposed": np.ones((4, 3), dtype=np.float32),
            "float64 for float32": np.ones((3, 4))}[mistake]
    optimizer = optimizer_class()
    with pytest.raises(ValueError, match=r"dense.weight: gradient .* does not match the parameter float32 \(3, 4\)"):
        optimizer.step(params, {"dense.weight": grad}, 1e-3)
    assert optimizer.step_count == 0 and not optimizer.exp_avg  # refused before any state changed
    tensor = torch.ones((3, 4), dtype=torch.float32, requires_grad=True)
    with pytest.raises(RuntimeError, match="attempting to assign a gradient"):
        tensor.grad = torch.from_numpy(grad)


@pytest.mark.parametrize("lr", [-1e-3, float("nan")])
def test_invalid_learning_rate_is_refused_as_torch(lr):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="Invalid learning rate"):
        torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=lr)
    params = random_params(11)
    for optimizer_class in (AdamW, LAMB):
        with pytest.raises(ValueError, match="Invalid learning rate"):
            optimizer_class().step(params, random_grads(np.random.default_rng(12)), lr)


@pytest.mark.parametrize("setting", [{"eps": float("nan")}, {"eps": -1e-8}, {"weight_decay": float("nan")},
                                     {"weight_decay": -0.01}])
def test_invalid_eps_and_weight_decay_are_refused_as_torch(setting):
    """nan passed the old `eps < 0` test (every comparison with nan is False)."""
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="Invalid (epsilon|weight_decay) value"):
        torch.optim.AdamW([torch.zeros(1, requires_grad=True)], **setting)
    name = next(iter(setting))
    for optimizer_class in (AdamW, LAMB):
        with pytest.raises(ValueError, match=f"{name} must be >= 0"):
            optimizer_class(**setting)


def saved_state(optimizer_class, steps=2):
    optimizer, params = optimizer_class(), random_params(13)
    rng = np.random.default_rng(14)
    for _ in range(steps):
        params = optimizer.step(params, random_grads(rng), 1e-3)
    return optimizer.state_dict(), params


@pytest.mark.parametrize("optimizer_class", [AdamW, LAMB])
def test_load_state_dict_refuses_a_state_that_does_not_fit(optimizer_class):
    state, params = saved_state(optimizer_class)
    name = "sop_classifier.classifier.weight"  # (2, 6)
    grads = random_grads(np.random.default_rng(15))
    for step in (-1, 2.5, "two"):  # step -1 made the next step's bias correction 1 - beta^0 = 0: ZeroDivisionError
        with pytest.raises(ValueError, match="'step' must be a whole number >= 0|invalid literal"):
            optimizer_class().load_state_dict({**state, "step": step})
    with pytest.raises(ValueError, match=f"exp_avg.{name} and exp_avg_sq.{name} differ in shape"):
        optimizer_class().load_state_dict({**state, f"exp_avg.{name}": np.zeros((6, 2))})

    # moments of another shape, both of them: the parameter came back reshaped to (6, 2)
    resumed = optimizer_class()
    resumed.load_state_dict({**state, f"exp_avg.{name}": np.zeros((6, 1)), f"exp_avg_sq.{name}": np.zeros((6, 1))})
    with pytest.raises(ValueError, match=rf"{name}: moments of shape \(6, 1\) in the optimizer state, parameter of shape \(2, 6\)"):
        resumed.step(params, grads, 1e-3)
    assert resumed.step_count == 2  # refused before any state changed

    # a parameter without moments at step 3 would start from zero moments with bias correction ~1
    resumed = optimizer_class()
    resumed.load_state_dict({key: value for key, value in state.items() if not key.endswith(name)})
    with pytest.raises(ValueError, match=f"{name}: no moments in the optimizer state after step 2"):
        resumed.step(params, grads, 1e-3)

    # a state saved before the first step has no moments, and needs none
    fresh = optimizer_class()
    fresh.load_state_dict({"step": np.asarray(0)})
    fresh.step(params, grads, 1e-3)
    assert fresh.step_count == 1


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
    with pytest.raises(ValueError, match="step must be >= 0"):  # was -5.0 with no warmup: gradient ascent
        linear_warmup_then_decay(-5, 0, 100, 1.0)


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


def test_clip_float16_norm_does_not_overflow_as_torch():
    """The squares of 10 float16 entries of 300 sum past float16's 65504: the norm was inf and
    clipping zeroed every gradient. torch accumulates in float32 and reports 948.5 (in float16)."""
    torch = pytest.importorskip("torch")
    grads = {"dense.weight": np.full(10, 300.0, dtype=np.float16)}
    tensor = torch.zeros(10, dtype=torch.float16, requires_grad=True)
    tensor.grad = torch.tensor(grads["dense.weight"])
    expected_norm = torch.nn.utils.clip_grad_norm_([tensor], 1.0)
    clipped, total_norm = clip_grad_global_norm(grads, 1.0)
    assert total_norm.dtype == np.float16 and clipped["dense.weight"].dtype == np.float16
    assert float(total_norm) == expected_norm.item() == 948.5
    np.testing.assert_array_equal(clipped["dense.weight"], tensor.grad.numpy())
    assert float(global_norm({"a": np.ones(3, np.float32), "b": np.ones(1)})) == 2.0  # mixed: the wider dtype


@pytest.mark.parametrize("max_norm", [float("nan"), -1.0])
def test_clip_refuses_a_nan_or_negative_max_norm(max_norm):
    """nan never clipped (scale nan < 1 is False), a negative bound flipped every gradient (as torch does)."""
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        clip_grad_global_norm({"dense.weight": np.full(2, 3.0)}, max_norm)


def test_clipping_a_float16_norm_past_its_range_scales_instead_of_zeroing():
    # The norm of ten entries of 30000 is 94868, past float16's 65504: computed in float16 it is
    # inf and the scale 0. Clipping scales by the float32 norm; the gradient keeps its direction.
    grads = {"w": np.full(10, 30000, np.float16)}
    clipped, norm = clip_grad_global_norm(grads, 1.0)
    assert clipped["w"].dtype == np.float16 and np.isinf(norm)  # the returned norm is float16, as torch's
    np.testing.assert_allclose(clipped["w"].astype(np.float64), np.full(10, 10 ** -0.5), rtol=2e-3)
