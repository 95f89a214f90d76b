"""Whole-model gradients against Transformers 4.53.3 and torch autograd.

Hypothesis draws small ALBERT shapes (embedding size != hidden size, several groups and inner
layers, every activation and position-embedding type, one or two token types) and batches with
padding, the padding token id, repeated ids and ignored (-100) labels. The torch model is saved
with `save_pretrained` and loaded with `from_pretrained`, so the comparison also covers the
parameter names; then the loss and every parameter's gradient must agree.

Tolerance, per tensor and scale-aware: |ours - torch| <= RTOL * scale, where scale is the
tensor's largest |torch gradient|, but at least FLOOR = 1e-2 times the largest gradient entry of
the whole model (gradients that are zero in exact arithmetic, like the key bias, whose shift
softmax ignores, are pure rounding noise on both sides and are measured against the model's scale).
- float64: RTOL = 1e-8. Same formulas in a different order: float64 rounding (1e-16) grows by a
  few orders through a dozen layers and stays far below 1e-8; a wrong formula is off at order 1.
- float32: RTOL = 1e-3. On these small shapes torch's own float32 gradients differ from its
  float64 ones by up to 8e-5 of that scale (ours by up to 5e-5; measured over 60 drawn models):
  LayerNorm over 3-10 features and the softmax amplify the 6e-8 rounding of each operation.
  1e-3 leaves a margin of 10 over that noise and is still far below a real mistake.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinyalbert as ta
from tinyalbert.nn.losses import IGNORE_INDEX

try:
    import torch
    import transformers
except ImportError:  # the tests marked `reference` are skipped (tests/conftest.py)
    torch = transformers = None

pytestmark = pytest.mark.reference  # every test here compares with torch autograd

RTOL = {"float64": 1e-8, "float32": 1e-3}
FLOOR = 1e-2


# --- building both models ------------------------------------------------------------------------
@st.composite
def albert_configs(draw):
    heads = draw(st.integers(1, 3))
    # At least 3 embedding and 4 hidden features: a LayerNorm over 2 values is a sign function,
    # whose float32 gradients are ill-conditioned beyond any useful tolerance.
    hidden = heads * draw(st.integers(-(-4 // heads), 5))
    embedding = draw(st.integers(3, 9).filter(lambda size: size != hidden))
    groups = draw(st.integers(1, 3))
    layers = groups * draw(st.integers(1, 2)) + draw(st.integers(0, groups - 1))
    layers_per_group = layers // groups
    return dict(
        vocab_size=draw(st.integers(8, 40)), embedding_size=embedding, hidden_size=hidden,
        num_attention_heads=heads, intermediate_size=draw(st.integers(2, 24)),
        num_hidden_groups=groups, num_hidden_layers=layers,
        inner_group_num=draw(st.integers(1, max(1, layers_per_group))),
        hidden_act=draw(st.sampled_from(["gelu_new", "gelu", "relu", "silu"])),
        position_embedding_type=draw(st.sampled_from(["absolute", "relative_key", "relative_key_query"])),
        type_vocab_size=draw(st.integers(1, 2)), max_position_embeddings=12,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0,
        initializer_range=0.3,
    )


def torch_model(model_class, config_values: dict, seed: int, dtype: str):
    """A Transformers model with random weights, moved off their init (LayerNorm weights off 1,
    biases off 0) so that every gradient is exercised."""
    torch.manual_seed(seed)
    config = transformers.AlbertConfig(**config_values, attn_implementation="eager")
    model = model_class(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    return model.double() if dtype == "float64" else model


def random_batch(rng, config_values: dict):
    vocab, batch, seq = config_values["vocab_size"], int(rng.integers(1, 4)), int(rng.integers(2, 9))
    input_ids = rng.integers(0, vocab, size=(batch, seq))
    input_ids[0, -1] = 0  # the padding id: torch gives its embedding row no lookup gradient
    input_ids[-1, 0] = input_ids[0, 0]  # a repeated id
    lengths = rng.integers(1, seq + 1, size=batch)
    lengths[0] = seq
    attention_mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    if batch > 1 and rng.random() < 0.3:
        attention_mask[-1] = 0  # a sequence that is padding only
    token_type_ids = rng.integers(0, config_values["type_vocab_size"], size=(batch, seq))
    labels = np.where(rng.random((batch, seq)) < 0.5, rng.integers(0, vocab, size=(batch, seq)), IGNORE_INDEX)
    labels[0, int(rng.integers(0, seq))] = int(rng.integers(0, vocab))  # at least one counted label
    sentence_order_label = rng.integers(0, 2, size=batch)
    return input_ids, labels, sentence_order_label, attention_mask, token_type_ids


def torch_loss_and_grads(reference, input_ids, labels, attention_mask, token_type_ids, sentence_order_label=None):
    reference.zero_grad(set_to_none=True)
    inputs = dict(input_ids=torch.tensor(input_ids), attention_mask=torch.tensor(attention_mask),
                  token_type_ids=torch.tensor(token_type_ids), labels=torch.tensor(labels))
    if sentence_order_label is not None:
        inputs["sentence_order_label"] = torch.tensor(sentence_order_label)
    loss = reference(**inputs).loss
    loss.backward()
    # Parameters the loss does not reach (absolute positions under relative types) have no .grad.
    grads = {name: np.zeros(tuple(p.shape)) if p.grad is None else p.grad.detach().numpy()
             for name, p in reference.named_parameters()}
    return loss.item(), grads


def assert_gradients_match(ours: dict, theirs: dict, dtype: str):
    assert set(ours) == set(theirs), f"keys differ: {sorted(set(ours) ^ set(theirs))}"
    model_scale = max(float(np.max(np.abs(grad), initial=0.0)) for grad in theirs.values())
    for name, expected in theirs.items():
        actual = np.asarray(ta.backend.to_numpy(ours[name]), dtype=np.float64)
        assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
        error = float(np.max(np.abs(actual - expected), initial=0.0))
        scale = max(float(np.max(np.abs(expected), initial=0.0)), FLOOR * model_scale)
        assert error <= RTOL[dtype] * scale, f"{name}: max error {error:.3e}, scale {scale:.3e} ({dtype})"


def assert_loss_matches(ours, theirs: float, dtype: str):
    assert abs(float(ours) - theirs) <= RTOL[dtype] * abs(theirs), f"loss {float(ours)} != torch {theirs}"


# --- the tests -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@given(config_values=albert_configs(), seed=st.integers(0, 2**31 - 1))
def test_pretraining_gradients_match_torch(load_in_tinyalbert, dtype, config_values, seed):
    reference = torch_model(transformers.AlbertForPreTraining, config_values, seed, dtype)
    model = load_in_tinyalbert(reference, ta.AlbertForPreTraining, dtype)
    input_ids, labels, sentence_order_label, attention_mask, token_type_ids = random_batch(
        np.random.default_rng(seed), config_values
    )
    expected_loss, expected = torch_loss_and_grads(
        reference, input_ids, labels, attention_mask, token_type_ids, sentence_order_label
    )
    loss, grads = model.loss_and_grads(input_ids, labels, sentence_order_label, attention_mask=attention_mask,
                                       token_type_ids=token_type_ids)
    assert_loss_matches(loss, expected_loss, dtype)
    assert_gradients_match(grads, expected, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@given(config_values=albert_configs(), seed=st.integers(0, 2**31 - 1))
def test_masked_lm_gradients_match_torch(load_in_tinyalbert, dtype, config_values, seed):
    reference = torch_model(transformers.AlbertForMaskedLM, config_values, seed, dtype)
    model = load_in_tinyalbert(reference, ta.AlbertForMaskedLM, dtype)
    input_ids, labels, _, attention_mask, token_type_ids = random_batch(np.random.default_rng(seed), config_values)
    expected_loss, expected = torch_loss_and_grads(reference, input_ids, labels, attention_mask, token_type_ids)
    loss, grads = model.loss_and_grads(input_ids, labels, attention_mask=attention_mask, token_type_ids=token_type_ids)
    assert_loss_matches(loss, expected_loss, dtype)
    assert_gradients_match(grads, expected, dtype)


@pytest.mark.parametrize("position_type", ["absolute", "relative_key_query"])
def test_gradients_match_torch_under_array_api_strict(load_in_tinyalbert, position_type):
    """The whole backward pass in standard Array API calls only (no NumPy-only habit slips in)."""
    xps = pytest.importorskip("array_api_strict")
    config_values = dict(
        vocab_size=30, embedding_size=6, hidden_size=8, num_attention_heads=2, intermediate_size=10,
        num_hidden_groups=2, num_hidden_layers=3, inner_group_num=1, hidden_act="gelu",
        position_embedding_type=position_type, type_vocab_size=2, max_position_embeddings=12,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0,
        initializer_range=0.3,
    )
    reference = torch_model(transformers.AlbertForPreTraining, config_values, 0, "float64")
    model = load_in_tinyalbert(reference, ta.AlbertForPreTraining, "float64", backend=xps)
    input_ids, labels, sentence_order_label, attention_mask, token_type_ids = random_batch(
        np.random.default_rng(1), config_values
    )
    expected_loss, expected = torch_loss_and_grads(
        reference, input_ids, labels, attention_mask, token_type_ids, sentence_order_label
    )
    loss, grads = model.loss_and_grads(input_ids, labels, sentence_order_label, attention_mask=attention_mask,
                                       token_type_ids=token_type_ids)
    assert all(value.__array_namespace__() is xps for value in grads.values())
    assert_loss_matches(loss, expected_loss, "float64")
    assert_gradients_match(grads, expected, "float64")
