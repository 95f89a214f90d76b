"""Forward parity with transformers 4.53.3: every head class, random configs and inputs.

Each example builds a model in transformers (eager attention) from random weights, saves it
with `save_pretrained`, loads the directory with tinyalbert and compares every output.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinyalbert
from tinyalbert.backend import to_numpy
from tinyalbert.nn.losses import IGNORE_INDEX

try:
    import torch
    import transformers
except ImportError:  # the tests marked `reference` are skipped (tests/conftest.py)
    torch = transformers = None

pytestmark = pytest.mark.reference  # every test here compares with transformers


def cupy_available():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


# --- tolerances, written down once -------------------------------------------------------------
# float32: both libraries round every operation to 24 bits but sum in different orders (BLAS
# blocking, fused kernels), so differences grow with the size of the values; we allow 2e-5 of
# the largest magnitude in the reference tensor (never less than 2e-5 absolute).
# float64: the same differences at 53 bits are about 1e-15 relative; 1e-10 leaves room for
# the error amplification of LayerNorm and softmax while still catching any real mistake.
TOLERANCE = {"float32": 2e-5, "float64": 1e-10}

CLASS_NAMES = [
    "AlbertModel", "AlbertForPreTraining", "AlbertForMaskedLM", "AlbertForSequenceClassification",
    "AlbertForTokenClassification", "AlbertForQuestionAnswering", "AlbertForMultipleChoice",
]


def assert_close(ours, reference, dtype, what):
    reference = reference.detach().numpy() if hasattr(reference, "detach") else np.asarray(reference)
    ours = to_numpy(ours)
    assert ours.shape == reference.shape, f"{what}: shape {ours.shape} != {reference.shape}"
    # nan where every target is ignored (a mean over nothing) must be nan on both sides.
    assert np.array_equal(np.isnan(ours), np.isnan(reference)), f"{what}: nan in different places"
    ours, reference = np.nan_to_num(ours), np.nan_to_num(reference)
    scale = max(1.0, float(np.max(np.abs(reference))) if reference.size else 1.0)
    error = float(np.max(np.abs(ours - reference))) if reference.size else 0.0
    assert error <= TOLERANCE[dtype] * scale, f"{what}: max abs error {error:.3g} (scale {scale:.3g})"


@st.composite
def albert_configs(draw):
    heads = draw(st.integers(1, 4))
    head_size = draw(st.integers(1, 6))
    layers = draw(st.integers(1, 4))
    groups = draw(st.integers(1, layers))
    return dict(
        vocab_size=draw(st.integers(10, 60)),
        embedding_size=draw(st.integers(2, 12)),  # independent of hidden: E != H most of the time
        hidden_size=heads * head_size,
        num_hidden_layers=layers,
        num_hidden_groups=groups,
        # Transformers indexes a per-group slice of the head mask by inner layer, and fails when a
        # group has more inner layers than passes (even without a head mask): draw within that.
        inner_group_num=draw(st.integers(1, min(3, layers // groups))),
        num_attention_heads=heads,
        intermediate_size=draw(st.integers(1, 24)),
        hidden_act=draw(st.sampled_from(["gelu_new", "gelu", "relu", "silu"])),
        position_embedding_type=draw(st.sampled_from(["absolute", "relative_key", "relative_key_query"])),
        type_vocab_size=draw(st.integers(1, 2)),
        max_position_embeddings=draw(st.integers(12, 20)),
        layer_norm_eps=draw(st.sampled_from([1e-12, 1e-5])),
        initializer_range=draw(st.sampled_from([0.02, 0.3])),
        num_labels=draw(st.integers(1, 3)),
    )


def build_reference(class_name, config_values, dtype, seed):
    values = dict(config_values)
    if class_name == "AlbertForQuestionAnswering":
        values["num_labels"] = 2
    if class_name == "AlbertForPreTraining":
        values["num_labels"] = 2  # the SOP head is (hidden -> num_labels) and its loss assumes 2
    config = transformers.AlbertConfig(attn_implementation="eager", **values)
    torch.manual_seed(seed)
    model = getattr(transformers, class_name)(config).eval()
    # Random LayerNorm and bias values, so that a swapped weight/bias cannot hide.
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias"):
                parameter.add_(0.1 * torch.randn_like(parameter))
    return model.double() if dtype == "float64" else model


@st.composite
def model_inputs(draw, values, class_name):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    batch = draw(st.integers(1, 3))
    seq = draw(st.integers(1, min(10, values["max_position_embeddings"])))
    shape = (batch, draw(st.integers(1, 3)), seq) if class_name == "AlbertForMultipleChoice" else (batch, seq)
    lengths = rng.integers(1, seq + 1, size=shape[:-1])
    attention_mask = (np.arange(seq) < lengths[..., None]).astype(np.int64)
    inputs = dict(
        input_ids=rng.integers(0, values["vocab_size"], size=shape),
        attention_mask=attention_mask if draw(st.booleans()) else None,
        token_type_ids=rng.integers(0, values["type_vocab_size"], size=shape) if draw(st.booleans()) else None,
    )
    if draw(st.booleans()):
        inputs["position_ids"] = rng.integers(0, values["max_position_embeddings"], size=shape)
    if draw(st.booleans()):
        heads = values["num_attention_heads"]
        head_shape = (heads,) if draw(st.booleans()) else (values["num_hidden_layers"], heads)
        inputs["head_mask"] = rng.choice([0.0, 0.5, 1.0], size=head_shape)
    if class_name != "AlbertForMultipleChoice" and draw(st.booleans()):
        inputs["inputs_embeds"] = rng.normal(size=(*shape, values["embedding_size"]))
        inputs["input_ids"] = None
    return inputs


def draw_labels(rng, class_name, values, shape):
    batch, seq = shape[0], shape[-1]
    if class_name in ("AlbertForMaskedLM", "AlbertForPreTraining"):
        labels = rng.integers(0, values["vocab_size"], size=shape)
        labels[rng.random(shape) < 0.5] = IGNORE_INDEX
        labels.flat[0] = 1  # at least one counted label, else both losses are nan
        out = {"labels": labels}
        if class_name == "AlbertForPreTraining":
            out["sentence_order_label"] = rng.integers(0, 2, size=batch)
        return out
    if class_name == "AlbertForSequenceClassification":
        num_labels = values["num_labels"]
        if num_labels == 1:
            return {"labels": rng.normal(size=batch)}
        if rng.random() < 0.5:
            return {"labels": rng.integers(0, num_labels, size=batch)}
        return {"labels": rng.integers(0, 2, size=(batch, num_labels)).astype(np.float64)}
    if class_name == "AlbertForTokenClassification":
        labels = rng.integers(0, values["num_labels"], size=shape)
        labels[rng.random(shape) < 0.3] = IGNORE_INDEX
        labels.flat[0] = 0
        return {"labels": labels}
    if class_name == "AlbertForQuestionAnswering":
        # Includes positions past the end, which both libraries clamp and then ignore.
        return {"start_positions": rng.integers(0, seq + 3, size=batch), "end_positions": rng.integers(0, seq, size=batch)}
    if class_name == "AlbertForMultipleChoice":
        return {"labels": rng.integers(0, shape[1], size=batch)}
    return {}


def to_torch(inputs, dtype):
    float_dtype = torch.float64 if dtype == "float64" else torch.float32
    out = {}
    for name, value in inputs.items():
        if value is None:
            continue
        if name in ("head_mask", "inputs_embeds") or np.issubdtype(value.dtype, np.floating):
            out[name] = torch.tensor(value, dtype=float_dtype)
        else:
            out[name] = torch.tensor(value, dtype=torch.long)
    return out


def compare_outputs(ours, reference, dtype):
    for field in ours.keys():
        ours_value, reference_value = getattr(ours, field), getattr(reference, field)
        assert reference_value is not None, f"{field} returned but transformers has none"
        if isinstance(ours_value, tuple):
            assert len(ours_value) == len(reference_value), f"{field}: {len(ours_value)} != {len(reference_value)}"
            for index, (a, b) in enumerate(zip(ours_value, reference_value)):
                assert_close(a, b, dtype, f"{field}[{index}]")
        else:
            assert_close(ours_value, reference_value, dtype, field)
    assert set(ours.keys()) == set(reference.keys())


def check_head_parity(load_in_tinyalbert, data, class_name, values, dtype, seed, backend):
    reference_model = build_reference(class_name, values, dtype, seed)
    inputs = data.draw(model_inputs(values, class_name))
    shape = (inputs["input_ids"] if inputs["input_ids"] is not None else inputs["inputs_embeds"][..., 0]).shape
    labels = draw_labels(np.random.default_rng(seed), class_name, values, shape) if data.draw(st.booleans()) else {}
    model = load_in_tinyalbert(reference_model, getattr(tinyalbert, class_name), dtype=dtype, backend=backend)
    with torch.no_grad():
        reference = reference_model(**to_torch({**inputs, **labels}, dtype), output_hidden_states=True,
                                    output_attentions=True)
    ours = model(**inputs, **labels, output_hidden_states=True, output_attentions=True)
    compare_outputs(ours, reference, dtype)


@settings(max_examples=40)
@given(data=st.data(), class_name=st.sampled_from(CLASS_NAMES), values=albert_configs(),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_every_head_matches_transformers(load_in_tinyalbert, data, class_name, values, dtype, seed):
    check_head_parity(load_in_tinyalbert, data, class_name, values, dtype, seed, "numpy")


@pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA GPU")
@settings(max_examples=40)
@given(data=st.data(), class_name=st.sampled_from(CLASS_NAMES), values=albert_configs(),
       dtype=st.sampled_from(["float32", "float64"]), seed=st.integers(0, 2**16))
def test_every_head_matches_transformers_on_cupy(load_in_tinyalbert, data, class_name, values, dtype, seed):
    """The same property on the GPU: NumPy inputs go in, CuPy outputs come out."""
    check_head_parity(load_in_tinyalbert, data, class_name, values, dtype, seed, "cupy")


@pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA GPU")
def test_a_float16_model_with_exact_gelu_stays_float16_on_cupy():
    """CuPy's erf computes float16 in float64 and returns that: the ALBERT v1 activation turned a
    float16 model's hidden states (and so its logits and gradients) into float64."""
    import cupy

    values = dict(vocab_size=30, embedding_size=4, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=16, max_position_embeddings=8, hidden_act="gelu")
    model = tinyalbert.AlbertForMaskedLM(tinyalbert.AlbertConfig(**values), backend="cupy", dtype="float16")
    assert model(input_ids=np.array([[2, 5, 9, 3]])).logits.dtype == cupy.float16


@pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA GPU")
def test_model_device_names_the_gpu_on_cupy():
    import cupy

    values = dict(vocab_size=20, embedding_size=4, hidden_size=6, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=8, max_position_embeddings=8)
    model = tinyalbert.AlbertModel(tinyalbert.AlbertConfig(**values), backend="cupy")
    assert model.device == f"cuda:{cupy.cuda.Device().id}"


@pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA GPU")
def test_to_cuda_and_back_moves_every_parameter_and_keeps_the_logits():
    import cupy

    values = dict(vocab_size=30, embedding_size=4, hidden_size=6, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=8, max_position_embeddings=8)
    model = tinyalbert.AlbertForMaskedLM(tinyalbert.AlbertConfig(**values), dtype="float64")
    ids = np.array([[2, 5, 9, 3], [2, 7, 3, 0]])
    on_cpu = model(input_ids=ids).logits
    assert model.to("cuda") is model and model.xp is cupy and model.device == f"cuda:{cupy.cuda.Device().id}"
    assert all(isinstance(value, cupy.ndarray) for value in model.params.values())
    np.testing.assert_allclose(cupy.asnumpy(model(input_ids=ids).logits), on_cpu, rtol=1e-10, atol=1e-12)
    other = (cupy.cuda.Device().id + 1) % 8
    with pytest.raises(ValueError, match="current CUDA device"):
        model.to(f"cuda:{other}")
    assert model.cpu().xp is np and all(isinstance(value, np.ndarray) for value in model.params.values())
    np.testing.assert_allclose(model(input_ids=ids).logits, on_cpu, rtol=1e-10, atol=1e-12)


def test_forward_runs_under_array_api_strict(tmp_path):
    """The whole forward of the pretraining model, on arrays that refuse anything non-standard."""
    xps = pytest.importorskip("array_api_strict")
    values = dict(vocab_size=40, embedding_size=6, hidden_size=8, num_hidden_layers=2, num_hidden_groups=2,
                  inner_group_num=1, num_attention_heads=2, intermediate_size=10, hidden_act="gelu",
                  max_position_embeddings=16)
    for position_type in ("absolute", "relative_key_query"):
        reference_model = build_reference("AlbertForPreTraining", {**values, "position_embedding_type": position_type},
                                          "float32", seed=3)
        reference_model.save_pretrained(tmp_path / position_type)
        model = tinyalbert.AlbertForPreTraining.from_pretrained(tmp_path / position_type, backend=xps)
        rng = np.random.default_rng(0)
        ids = rng.integers(0, 40, size=(2, 7))
        mask = np.ones((2, 7), dtype=np.int64)
        mask[1, 4:] = 0
        labels = np.where(rng.random((2, 7)) < 0.5, ids, IGNORE_INDEX)
        labels[0, 0] = ids[0, 0]
        ours = model(input_ids=xps.asarray(ids), attention_mask=xps.asarray(mask), labels=xps.asarray(labels),
                     sentence_order_label=xps.asarray([0, 1]), head_mask=xps.asarray([1.0, 0.0]))
        assert ours.prediction_logits.__array_namespace__() is xps
        with torch.no_grad():
            reference = reference_model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                                        labels=torch.tensor(labels), sentence_order_label=torch.tensor([0, 1]),
                                        head_mask=torch.tensor([1.0, 0.0]))
        for field in ("loss", "prediction_logits", "sop_logits"):
            assert_close(np.asarray(getattr(ours, field)), getattr(reference, field), "float32", field)


def test_layer_groups_follow_transformers_float_formula(load_in_tinyalbert):
    """18 passes over 14 groups: at pass 9 Transformers' int(9 / (18 / 14)) rounds to group 6,
    where the exact integer 9 * 14 // 18 is 7. The float formula is the one to match."""
    values = dict(vocab_size=20, embedding_size=4, hidden_size=6, num_hidden_layers=18, num_hidden_groups=14,
                  inner_group_num=1, num_attention_heads=2, intermediate_size=8, max_position_embeddings=8)
    assert [int(i / (18 / 14)) for i in range(18)] != [i * 14 // 18 for i in range(18)]
    reference_model = build_reference("AlbertModel", values, "float64", seed=1)
    model = load_in_tinyalbert(reference_model, tinyalbert.AlbertModel, dtype="float64")
    ids = np.random.default_rng(0).integers(0, 20, size=(2, 5))
    with torch.no_grad():
        reference = reference_model(input_ids=torch.tensor(ids), output_hidden_states=True)
    ours = model(input_ids=ids, output_hidden_states=True)
    for index, (a, b) in enumerate(zip(ours.hidden_states, reference.hidden_states)):
        assert_close(a, b, "float64", f"hidden_states[{index}]")


def test_head_mask_follows_eager_attention_which_transformers_sdpa_drops(tmp_path):
    """Transformers 4.53.3's default attention (sdpa) ignores `head_mask` without a word; its eager
    attention applies it. tinyalbert applies it, as eager does (docs/parity.md says so); if the
    sdpa path ever applies it too, the first assertion fails and that paragraph must go."""
    values = dict(vocab_size=30, embedding_size=6, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=10, max_position_embeddings=12)
    build_reference("AlbertModel", values, "float32", seed=5).save_pretrained(tmp_path)
    ids = torch.tensor(np.random.default_rng(0).integers(0, 30, size=(2, 6)))
    head_mask = torch.tensor([1.0, 0.0])
    outputs = {}
    with torch.no_grad():
        for implementation in ("sdpa", "eager"):
            reference_model = transformers.AlbertModel.from_pretrained(tmp_path, attn_implementation=implementation)
            for masked in (False, True):
                outputs[implementation, masked] = reference_model(
                    ids, head_mask=head_mask if masked else None).last_hidden_state.numpy()
    ours = tinyalbert.AlbertModel.from_pretrained(tmp_path)(ids.numpy(), head_mask=head_mask.numpy()).last_hidden_state
    np.testing.assert_array_equal(outputs["sdpa", True], outputs["sdpa", False])  # dropped
    assert np.abs(outputs["eager", True] - outputs["eager", False]).max() > 1e-2  # applied
    assert_close(ours, outputs["eager", True], "float32", "last_hidden_state with a head masked")
