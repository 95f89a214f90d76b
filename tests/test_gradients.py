"""Every hand-written backward against central finite differences, in float64.

Each check turns a module into a scalar, f(x) = sum(forward(x) * probe) with a random `probe`,
and compares the analytic gradient of every input and weight with central differences, through
`tinyalbert.gradcheck` (its docstring gives the error model and the tolerance). The modules are
small, so most checks cover every entry; the whole-model checks take a random sample of entries
of every parameter.

The whole-model checks run fewer hypothesis examples than the profile's (a third), since each
example evaluates the model a few hundred times.
"""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tinyalbert as ta
from tinyalbert.gradcheck import assert_gradient_close, check_gradients, numeric_gradient
from tinyalbert.nn.activations import activation_backward, activation_forward
from tinyalbert.nn.albert import attention_mask_bias, expand_head_mask
from tinyalbert.nn.attention import attention_backward, attention_forward
from tinyalbert.nn.dropout import dropout_backward, dropout_forward
from tinyalbert.nn.embeddings import embeddings_backward, embeddings_forward
from tinyalbert.nn.encoder import encoder_backward, encoder_forward, head_mask_row, layer_prefix
from tinyalbert.nn.feedforward import feedforward_backward, feedforward_forward
from tinyalbert.nn.heads import (
    classifier_backward, classifier_forward, mlm_head_backward, mlm_head_forward, pooler_backward,
    pooler_forward,
)
from tinyalbert.nn.layernorm import layernorm_backward, layernorm_forward
from tinyalbert.nn.linear import linear_backward, linear_forward
from tinyalbert.nn.losses import (
    IGNORE_INDEX, bce_with_logits_backward, bce_with_logits_forward, cross_entropy_backward, cross_entropy_forward,
    mse_backward, mse_forward,
)
from tinyalbert.nn.pretraining import pretraining_backward, pretraining_forward
from tinyalbert.nn.relative_position import relative_position_backward, relative_position_forward

# The layer checks use eps = 1e-6 in their LayerNorm and at least 3 features: a row of nearly
# equal values (2 features, or an activation that saturates) has 1/std up to ~1e6 with
# eps = 1e-12, and there central differences with h = 1e-6 stop being accurate. The LayerNorm
# check itself covers eps = 1e-12.
LAYER_NORM_EPS = 1e-6

ACTIVATIONS = ["gelu_new", "gelu", "relu", "silu"]
POSITION_TYPES = ["absolute", "relative_key", "relative_key_query"]
seeds = st.integers(0, 2**32 - 1)
fewer_examples = settings(max_examples=max(3, settings.default.max_examples // 3))


def probe_like(rng, shape):
    return rng.normal(size=shape)


# --- linear, LayerNorm, activations, dropout --------------------------------------------------------
@given(seed=seeds, lead=st.lists(st.integers(1, 3), min_size=1, max_size=2), fan_in=st.integers(1, 5),
       fan_out=st.integers(1, 5), with_bias=st.booleans())
def test_linear(seed, lead, fan_in, fan_out, with_bias):
    rng = np.random.default_rng(seed)
    values = {"x": rng.normal(size=(*lead, fan_in)), "weight": rng.normal(size=(fan_out, fan_in)),
              "bias": rng.normal(size=fan_out)}
    probe = probe_like(rng, (*lead, fan_out))

    def run(v):
        return linear_forward(v["x"], v["weight"], v["bias"] if with_bias else None)

    out, cache = run(values)
    d_x, grads = linear_backward(probe, cache)
    analytic = {"x": d_x, "weight": grads["weight"]}
    if with_bias:
        analytic["bias"] = grads["bias"]
    else:
        assert grads["bias"] is None
    check_gradients(lambda v: float(np.sum(run(v)[0] * probe)), values, analytic)


@given(seed=seeds, rows=st.integers(1, 4), dim=st.sampled_from([1, 3, 4, 6]), eps=st.sampled_from([1e-12, 1e-5, 0.1]),
       spread=st.sampled_from([0.1, 1.0, 30.0]))
def test_layernorm(seed, rows, dim, eps, spread):
    rng = np.random.default_rng(seed)
    values = {"x": spread * rng.normal(size=(rows, 2, dim)) + rng.normal(), "weight": rng.normal(size=dim),
              "bias": rng.normal(size=dim)}
    probe = probe_like(rng, (rows, 2, dim))

    def run(v):
        return layernorm_forward(v["x"], v["weight"], v["bias"], eps)

    _, cache = run(values)
    d_x, grads = layernorm_backward(probe, cache)
    check_gradients(lambda v: float(np.sum(run(v)[0] * probe)), values,
                    {"x": d_x, "weight": grads["weight"], "bias": grads["bias"]})


@pytest.mark.parametrize("name", ACTIVATIONS + ["swish"])
@given(seed=seeds, size=st.integers(1, 30), scale=st.sampled_from([0.3, 3.0, 12.0]))
def test_activation(name, seed, size, scale):
    rng = np.random.default_rng(seed)
    x = scale * rng.normal(size=size)
    if name == "relu":  # the kink at 0 has no derivative; keep the inputs a step away from it
        x = np.where(np.abs(x) < 1e-3, 0.5, x)
    values = {"x": x}
    probe = probe_like(rng, size)
    _, cache = activation_forward(values["x"], name)
    d_x, weights = activation_backward(probe, cache)
    assert weights == {}
    check_gradients(lambda v: float(np.sum(activation_forward(v["x"], name)[0] * probe)), values, {"x": d_x})


@given(seed=seeds, shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), p=st.sampled_from([0.0, 0.1, 0.5, 0.9]))
def test_dropout(seed, shape, p):
    rng = np.random.default_rng(seed)
    values = {"x": rng.normal(size=shape)}
    probe = probe_like(rng, shape)

    def run(v):  # the same mask at every evaluation: a fresh generator with the same seed
        return dropout_forward(v["x"], p, np.random.default_rng(seed))

    _, cache = run(values)
    d_x, _ = dropout_backward(probe, cache)
    check_gradients(lambda v: float(np.sum(run(v)[0] * probe)), values, {"x": d_x})


def test_dropout_of_everything_gives_zeros_as_torch():
    """p = 1 scaled the (all dropped) values by 1 / 0: nan everywhere, where torch gives zeros."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(2, 3))
    output, cache = dropout_forward(x, 1.0, np.random.default_rng(0))
    d_x, _ = dropout_backward(np.ones_like(x), cache)
    expected = torch.nn.functional.dropout(torch.tensor(x), p=1.0).numpy()
    np.testing.assert_array_equal(output, expected)
    np.testing.assert_array_equal(d_x, np.zeros_like(x))


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_dropout_probability_outside_0_1_is_refused(p):
    """p < 0 kept every value and shrank it by 1 / (1 - p), p > 1 dropped everything; torch refuses both."""
    torch = pytest.importorskip("torch")
    x = np.ones(4)
    for rng in (np.random.default_rng(0), None):  # refused at inference too
        with pytest.raises(ValueError, match=r"dropout probability must lie in \[0, 1\]"):
            dropout_forward(x, p, rng)
    with pytest.raises((ValueError, RuntimeError), match="dropout probability has to be between 0 and 1"):
        torch.nn.functional.dropout(torch.ones(4), p=p)


# --- attention ------------------------------------------------------------------------------------
def attention_weights(rng, hidden, head_size, max_positions, position_type):
    weights = {}
    for name in ("query", "key", "value", "dense"):
        weights[f"{name}.weight"] = rng.normal(scale=0.6, size=(hidden, hidden))
        weights[f"{name}.bias"] = rng.normal(scale=0.3, size=hidden)
    weights["LayerNorm.weight"] = 1.0 + 0.3 * rng.normal(size=hidden)
    weights["LayerNorm.bias"] = 0.3 * rng.normal(size=hidden)
    if position_type != "absolute":
        weights["distance_embedding.weight"] = rng.normal(scale=0.6, size=(2 * max_positions - 1, head_size))
    return weights


def padding_mask(rng, batch, seq):
    """1 = attend, 0 = padding, at least one position kept per sequence.

    (A sequence that is all padding has scores of about finfo.min, where rounding swallows any
    finite difference; its gradient is compared with torch's in test_grad_parity instead.)
    """
    lengths = rng.integers(1, seq + 1, size=batch)
    lengths[0] = seq
    return (np.arange(seq)[None, :] < lengths[:, None]).astype(np.float64)


@pytest.mark.parametrize("position_type", POSITION_TYPES)
@given(seed=seeds, batch=st.integers(1, 3), seq=st.integers(1, 5), heads=st.integers(1, 3),
       head_size=st.integers(1, 3), with_head_mask=st.booleans(), dropout=st.sampled_from([0.0, 0.3]))
def test_attention(position_type, seed, batch, seq, heads, head_size, with_head_mask, dropout):
    hidden = heads * head_size
    assume(hidden >= 3)  # a LayerNorm over 2 values is a sign function: too ill-conditioned for differences
    rng = np.random.default_rng(seed)
    max_positions = seq + int(rng.integers(0, 3))
    values = {"hidden": rng.normal(size=(batch, seq, hidden)),
              **attention_weights(rng, hidden, head_size, max_positions, position_type)}
    mask_bias = attention_mask_bias(padding_mask(rng, batch, seq), np.float64)
    head_mask = rng.choice([0.0, 0.5, 1.0], size=(1, heads, 1, 1)) if with_head_mask else None
    probe = probe_like(rng, (batch, seq, hidden))

    def run(v):
        weights = {name: value for name, value in v.items() if name != "hidden"}
        output, _, cache = attention_forward(
            v["hidden"], weights, mask_bias, head_mask, num_heads=heads, position_embedding_type=position_type,
            max_positions=max_positions, layer_norm_eps=LAYER_NORM_EPS, attention_dropout=dropout,
            output_dropout=dropout, rng=np.random.default_rng(seed),
        )
        return output, cache

    _, cache = run(values)
    d_hidden, grads = attention_backward(probe, cache)
    assert set(grads) == set(values) - {"hidden"}
    check_gradients(lambda v: float(np.sum(run(v)[0] * probe)), values, {"hidden": d_hidden, **grads})


@pytest.mark.parametrize("position_type", ["relative_key", "relative_key_query"])
@given(seed=seeds, batch=st.integers(1, 2), seq=st.integers(1, 5), heads=st.integers(1, 3),
       head_size=st.integers(1, 3), extra_positions=st.integers(0, 2))
def test_relative_position_scores(position_type, seed, batch, seq, heads, head_size, extra_positions):
    """The relative-position term alone: queries, keys and the distance table, with distances
    repeated along the diagonals (every row's gradient is a sum) and table rows never used."""
    rng = np.random.default_rng(seed)
    max_positions = seq + extra_positions
    values = {"queries": rng.normal(size=(batch, heads, seq, head_size)),
              "keys": rng.normal(size=(batch, heads, seq, head_size)),
              "table": rng.normal(size=(2 * max_positions - 1, head_size))}
    probe = probe_like(rng, (batch, heads, seq, seq))

    def run(v):
        return relative_position_forward(v["queries"], v["keys"], v["table"], position_embedding_type=position_type,
                                         max_positions=max_positions)

    scores, cache = run(values)
    # the definition, entry by entry: q[l] . T[l - r] (+ k[r] . T[l - r])
    q, k, table = values["queries"], values["keys"], values["table"]
    for l in range(seq):
        for r in range(seq):
            row = table[l - r + max_positions - 1]
            expected = q[:, :, l] @ row + (k[:, :, r] @ row if position_type == "relative_key_query" else 0.0)
            np.testing.assert_allclose(scores[:, :, l, r], expected, rtol=1e-12, atol=1e-12)
    (d_queries, d_keys), grads = relative_position_backward(probe, cache)
    analytic = {"queries": d_queries, "table": grads["weight"]}
    if position_type == "relative_key_query":
        analytic["keys"] = d_keys
    else:
        assert d_keys is None
    check_gradients(lambda v: float(np.sum(run(v)[0] * probe)), values, analytic)


# --- feed-forward, one layer, the shared encoder ----------------------------------------------------
def layer_weights(rng, hidden, intermediate, heads, max_positions, position_type):
    weights = {"attention." + name: value for name, value in
               attention_weights(rng, hidden, hidden // heads, max_positions, position_type).items()}
    weights["ffn.weight"] = rng.normal(scale=0.6, size=(intermediate, hidden))
    weights["ffn.bias"] = rng.normal(scale=0.3, size=intermediate)
    weights["ffn_output.weight"] = rng.normal(scale=0.6, size=(hidden, intermediate))
    weights["ffn_output.bias"] = rng.normal(scale=0.3, size=hidden)
    weights["full_layer_layer_norm.weight"] = 1.0 + 0.3 * rng.normal(size=hidden)
    weights["full_layer_layer_norm.bias"] = 0.3 * rng.normal(size=hidden)
    return weights


@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(seed=seeds, batch=st.integers(1, 2), seq=st.integers(1, 4), hidden=st.integers(3, 5),
       intermediate=st.integers(1, 6))
def test_feedforward(activation, seed, batch, seq, hidden, intermediate):
    rng = np.random.default_rng(seed)
    weights = layer_weights(rng, hidden, intermediate, 1, 1, "absolute")
    values = {"hidden": rng.normal(size=(batch, seq, hidden)),
              **{name: value for name, value in weights.items() if not name.startswith("attention.")}}
    probe = probe_like(rng, (batch, seq, hidden))

    def run(v):
        return feedforward_forward(v["hidden"], v, hidden_act=activation, layer_norm_eps=LAYER_NORM_EPS)

    _, cache = run(values)
    d_hidden, grads = feedforward_backward(probe, cache)
    assert set(grads) == set(values) - {"hidden"}
    check_gradients(lambda v: float(np.sum(run(v)[0] * probe)), values, {"hidden": d_hidden, **grads})


def tiny_config(rng, position_type, activation, **overrides):
    groups = int(rng.integers(1, 3))
    layers_per_group = int(rng.integers(1, 3))
    values = dict(
        vocab_size=int(rng.integers(5, 12)), embedding_size=int(rng.integers(3, 6)), hidden_size=4,
        num_attention_heads=int(rng.choice([1, 2])), intermediate_size=int(rng.integers(2, 7)),
        num_hidden_groups=groups, num_hidden_layers=groups * layers_per_group,
        inner_group_num=int(rng.integers(1, layers_per_group + 1)), hidden_act=activation,
        position_embedding_type=position_type, max_position_embeddings=8, type_vocab_size=int(rng.integers(1, 3)),
        classifier_dropout_prob=0.0,
        # No padding id: torch's nn.Embedding(padding_idx=...) withholds the padding row's lookup
        # gradient, which finite differences cannot see (test_embeddings_* and the parity test cover it).
        pad_token_id=None,
    )
    values.update(overrides)
    return ta.AlbertConfig(**values)


def perturbed_params(model, rng):
    """The model's parameters moved off their init (LayerNorm weights off 1, biases off 0), as float64."""
    return {name: np.asarray(value, dtype=np.float64) + 0.3 * rng.normal(size=value.shape)
            for name, value in model.params.items()}


@pytest.mark.parametrize("position_type", POSITION_TYPES)
@fewer_examples
@given(seed=seeds, activation=st.sampled_from(ACTIVATIONS), with_head_mask=st.booleans())
def test_encoder_sums_shared_layer_gradients(position_type, seed, activation, with_head_mask):
    """The E -> H mapping and every use of every shared layer (groups x inner layers x passes)."""
    rng = np.random.default_rng(seed)
    config = tiny_config(rng, position_type, activation)
    params = perturbed_params(ta.AlbertModel(config, seed=seed), rng)
    values = {name: value for name, value in params.items() if name.startswith("albert.encoder.")}
    batch, seq = 2, int(rng.integers(1, 5))
    values["embedded"] = rng.normal(size=(batch, seq, config.embedding_size))
    mask_bias = attention_mask_bias(padding_mask(rng, batch, seq), np.float64)
    head_mask = None
    if with_head_mask:
        rows = rng.choice([0.0, 0.5, 1.0], size=(config.num_hidden_layers, config.num_attention_heads))
        head_mask = expand_head_mask(rows, config.num_hidden_layers)
    probe = probe_like(rng, (batch, seq, config.hidden_size))

    def run(v):
        output, _, _, cache = encoder_forward(v["embedded"], v, mask_bias, head_mask, config, keep_caches=True)
        return output, cache

    _, cache = run(values)
    expected_uses = config.num_hidden_layers * config.inner_group_num
    assert len(cache.layers) == expected_uses
    d_embedded, grads = encoder_backward(probe, cache)
    assert cache.layers == []  # consumed on the way back
    assert set(grads) == set(values) - {"embedded"}
    check_gradients(lambda v: float(np.sum(run(v)[0] * probe)), values, {"embedded": d_embedded, **grads},
                    rng=rng, sample=6)


def test_head_mask_rows_follow_transformers():
    """Every pass of a group reads the head-mask rows of that group (the backward reuses them)."""
    config = ta.AlbertConfig(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2, hidden_size=4,
                             num_attention_heads=1, intermediate_size=4)
    mask = np.arange(4.0)[:, None] * np.ones((4, 1))
    assert [float(head_mask_row(mask, p, 1, config)[0]) for p in range(4)] == [1.0, 1.0, 3.0, 3.0]
    assert layer_prefix(1, 0) == "albert.encoder.albert_layer_groups.1.albert_layers.0."


# --- embeddings -------------------------------------------------------------------------------------
@pytest.mark.parametrize("position_type", POSITION_TYPES)
@given(seed=seeds, batch=st.integers(1, 3), seq=st.integers(1, 6), batched_positions=st.booleans(),
       padding_idx=st.sampled_from([None, 0]), dropout=st.sampled_from([0.0, 0.4]))
def test_embeddings_with_repeated_ids(position_type, seed, batch, seq, batched_positions, padding_idx, dropout):
    rng = np.random.default_rng(seed)
    vocab, types, positions, width = 4, 2, seq + 2, 3
    values = {
        "word_embeddings.weight": rng.normal(size=(vocab, width)),
        "token_type_embeddings.weight": rng.normal(size=(types, width)),
        "position_embeddings.weight": rng.normal(size=(positions, width)),
        "LayerNorm.weight": 1.0 + 0.3 * rng.normal(size=width), "LayerNorm.bias": 0.3 * rng.normal(size=width),
    }
    input_ids = rng.integers(0, vocab, size=(batch, seq))  # a vocabulary of 4: ids repeat
    input_ids[0, 0] = 0  # the padding id occurs
    token_type_ids = rng.integers(0, types, size=(batch, seq))
    position_ids = np.arange(seq)[None, :] + rng.integers(0, 3)
    if batched_positions:
        position_ids = np.broadcast_to(position_ids, (batch, seq)).copy()
    probe = probe_like(rng, (batch, seq, width))

    def run(v):
        return embeddings_forward(
            input_ids, token_type_ids, position_ids, v, position_embedding_type=position_type, layer_norm_eps=1e-12,
            dropout=dropout, rng=np.random.default_rng(seed), padding_idx=padding_idx,
        )

    _, cache = run(values)
    d_inputs_embeds, grads = embeddings_backward(probe, cache)
    assert d_inputs_embeds is None
    if position_type == "absolute":
        assert set(grads) == set(values)
    else:  # positions enter inside attention instead: the absolute table is unused
        assert set(grads) == set(values) - {"position_embeddings.weight"}
    if padding_idx is not None:
        # torch's nn.Embedding(padding_idx=...) gives the padding row no gradient: the numeric
        # derivative sees the row's use, so compare that row with zero and the rest numerically
        assert np.all(grads["word_embeddings.weight"][padding_idx] == 0.0)
        grads = dict(grads)
        word_grad = grads.pop("word_embeddings.weight")
        _, numeric = numeric_gradient(lambda v: float(np.sum(run(v)[0] * probe)), values, "word_embeddings.weight")
        numeric = numeric.reshape(vocab, width)
        assert_gradient_close(word_grad[1:], numeric[1:], "word_embeddings.weight without the padding row")
    check_gradients(lambda v: float(np.sum(run(v)[0] * probe)), values, grads)


def test_embeddings_inputs_embeds_gradient():
    rng = np.random.default_rng(0)
    values = {"inputs_embeds": rng.normal(size=(2, 3, 4)), "token_type_embeddings.weight": rng.normal(size=(2, 4)),
              "position_embeddings.weight": rng.normal(size=(5, 4)), "word_embeddings.weight": rng.normal(size=(6, 4)),
              "LayerNorm.weight": rng.normal(size=4), "LayerNorm.bias": rng.normal(size=4)}
    token_type_ids, position_ids = np.array([[0, 1, 1], [1, 0, 0]]), np.arange(3)[None, :]
    probe = probe_like(rng, (2, 3, 4))

    def run(v):
        return embeddings_forward(None, token_type_ids, position_ids, v, position_embedding_type="absolute",
                                  layer_norm_eps=1e-12, inputs_embeds=v["inputs_embeds"])

    _, cache = run(values)
    d_inputs_embeds, grads = embeddings_backward(probe, cache)
    assert "word_embeddings.weight" not in grads
    check_gradients(lambda v: float(np.sum(run(v)[0] * probe)), values, {"inputs_embeds": d_inputs_embeds, **grads})


# --- heads and the loss -----------------------------------------------------------------------------
@given(seed=seeds, batch=st.integers(1, 3), seq=st.integers(1, 4), hidden=st.integers(1, 5))
def test_pooler(seed, batch, seq, hidden):
    rng = np.random.default_rng(seed)
    values = {"sequence": rng.normal(size=(batch, seq, hidden)), "weight": rng.normal(size=(hidden, hidden)),
              "bias": rng.normal(size=hidden)}
    probe = probe_like(rng, (batch, hidden))
    _, cache = pooler_forward(values["sequence"], values)
    d_sequence, grads = pooler_backward(probe, cache)
    check_gradients(lambda v: float(np.sum(pooler_forward(v["sequence"], v)[0] * probe)), values,
                    {"sequence": d_sequence, **grads})


@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(seed=seeds, batch=st.integers(1, 2), seq=st.integers(1, 3), hidden=st.integers(1, 4), width=st.integers(3, 5),
       vocab=st.integers(2, 7))
def test_mlm_head(activation, seed, batch, seq, hidden, width, vocab):
    rng = np.random.default_rng(seed)
    values = {"sequence": rng.normal(size=(batch, seq, hidden)), "dense.weight": rng.normal(size=(width, hidden)),
              "dense.bias": rng.normal(size=width), "LayerNorm.weight": 1.0 + 0.3 * rng.normal(size=width),
              "LayerNorm.bias": 0.3 * rng.normal(size=width), "bias": rng.normal(size=vocab),
              "decoder.weight": rng.normal(size=(vocab, width))}
    probe = probe_like(rng, (batch, seq, vocab))

    def run(v):
        return mlm_head_forward(v["sequence"], v, v["decoder.weight"], hidden_act=activation,
                                layer_norm_eps=LAYER_NORM_EPS)

    _, cache = run(values)
    d_sequence, grads = mlm_head_backward(probe, cache)
    assert set(grads) == set(values) - {"sequence"}
    check_gradients(lambda v: float(np.sum(run(v)[0] * probe)), values, {"sequence": d_sequence, **grads})


@given(seed=seeds, batch=st.integers(1, 4), hidden=st.integers(1, 5), labels=st.integers(1, 3),
       dropout=st.sampled_from([0.0, 0.5]))
def test_classifier(seed, batch, hidden, labels, dropout):
    rng = np.random.default_rng(seed)
    values = {"features": rng.normal(size=(batch, hidden)), "weight": rng.normal(size=(labels, hidden)),
              "bias": rng.normal(size=labels)}
    probe = probe_like(rng, (batch, labels))

    def run(v):
        return classifier_forward(v["features"], v, dropout=dropout, rng=np.random.default_rng(seed))

    _, cache = run(values)
    d_features, grads = classifier_backward(probe, cache)
    check_gradients(lambda v: float(np.sum(run(v)[0] * probe)), values, {"features": d_features, **grads})


@given(seed=seeds, rows=st.integers(1, 6), classes=st.integers(1, 6), scale=st.sampled_from([1.0, 30.0]),
       d_loss=st.sampled_from([1.0, -2.5]))
def test_cross_entropy_with_ignored_targets(seed, rows, classes, scale, d_loss):
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, classes, size=rows)
    targets[rng.random(rows) < 0.4] = IGNORE_INDEX
    targets[0] = rng.integers(0, classes)  # at least one counted target (none gives 0/0 = nan, as in torch)
    values = {"logits": scale * rng.normal(size=(rows, classes))}

    loss, cache = cross_entropy_forward(values["logits"], targets)
    # an independent formula for the loss: mean of -log softmax at the counted targets
    counted = targets != IGNORE_INDEX
    log_softmax = [values["logits"][i] - math.log(sum(math.exp(z) for z in values["logits"][i])) for i in range(rows)]
    expected = -sum(log_softmax[i][targets[i]] for i in range(rows) if counted[i]) / counted.sum()
    assert float(loss) == pytest.approx(expected, rel=1e-12, abs=1e-12)

    d_logits, _ = cross_entropy_backward(d_loss, cache)
    assert np.all(d_logits[~counted] == 0.0)
    check_gradients(lambda v: d_loss * float(cross_entropy_forward(v["logits"], targets)[0]), values,
                    {"logits": d_logits})


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")
@pytest.mark.parametrize("d_loss", [1.0, -2.5])
def test_cross_entropy_with_no_counted_target_has_zero_gradient_as_torch(d_loss):
    """Every target ignored: the mean is 0/0, a nan loss as in torch, but the gradient is 0, not
    0 * (d_loss / 0) = nan (which one optimizer step spread into every weight)."""
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(0).normal(size=(3, 4))
    targets = np.full(3, IGNORE_INDEX)
    loss, cache = cross_entropy_forward(logits, targets)
    d_logits, _ = cross_entropy_backward(d_loss, cache)

    torch_logits = torch.tensor(logits, requires_grad=True)
    torch_loss = torch.nn.functional.cross_entropy(torch_logits, torch.tensor(targets))
    (d_loss * torch_loss).backward()
    assert np.isnan(float(loss)) and np.isnan(torch_loss.item())
    np.testing.assert_array_equal(d_logits, torch_logits.grad.numpy())
    np.testing.assert_array_equal(d_logits, np.zeros_like(logits))


@pytest.mark.parametrize("loss_name", ["mse", "bce"])
def test_empty_batch_losses_have_an_empty_gradient_as_torch(loss_name):
    """No entries: the mean is nan (as torch) and the gradient empty; dividing d_loss by the count
    of 0 raised ZeroDivisionError for a Python-float d_loss."""
    torch = pytest.importorskip("torch")
    predictions, targets = np.zeros((0, 3)), np.zeros((0, 3))
    forward, backward, torch_loss = {
        "mse": (mse_forward, mse_backward, torch.nn.functional.mse_loss),
        "bce": (bce_with_logits_forward, bce_with_logits_backward, torch.nn.functional.binary_cross_entropy_with_logits),
    }[loss_name]
    with np.errstate(invalid="ignore"), pytest.warns(RuntimeWarning, match="[Mm]ean of empty"):
        loss, cache = forward(predictions, targets)
    d_predictions, _ = backward(1.0, cache)
    torch_predictions = torch.tensor(predictions, requires_grad=True)
    expected = torch_loss(torch_predictions, torch.tensor(targets))
    expected.backward()
    assert np.isnan(float(loss)) and np.isnan(expected.item())
    assert d_predictions.shape == tuple(torch_predictions.grad.shape) == (0, 3)


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")
def test_pretraining_with_every_sentence_order_label_ignored_gives_the_mlm_gradients():
    """SOP labels all -100: the SOP loss is nan (so is the total, as in transformers), and its
    gradient is 0, so the gradients are exactly those of the MLM loss alone, none nan."""
    rng = np.random.default_rng(0)
    config = tiny_config(rng, "absolute", "gelu_new")
    model = ta.AlbertForPreTraining(config, dtype="float64", seed=0)
    input_ids, labels, _, attention_mask, token_type_ids = pretraining_batch(rng, config, 2, 4)
    loss, grads = model.loss_and_grads(input_ids, labels, np.full(2, IGNORE_INDEX),
                                       attention_mask=attention_mask, token_type_ids=token_type_ids)
    _, mlm_grads = model.loss_and_grads(input_ids, labels, None, attention_mask=attention_mask,
                                        token_type_ids=token_type_ids)
    assert np.isnan(float(loss))
    for name, grad in grads.items():
        np.testing.assert_array_equal(grad, mlm_grads[name], err_msg=name)


# --- the whole pretraining loss ------------------------------------------------------------------------
def pretraining_batch(rng, config, batch, seq):
    input_ids = rng.integers(0, config.vocab_size, size=(batch, seq))
    input_ids[:, 0] = 2  # a [CLS]-like id
    input_ids[-1, -1] = 0  # an id repeated across the batch
    attention_mask = padding_mask(rng, batch, seq)
    token_type_ids = rng.integers(0, config.type_vocab_size, size=(batch, seq))
    targets = rng.integers(0, config.vocab_size, size=(batch, seq))
    labels = np.where(rng.random((batch, seq)) < 0.5, targets, IGNORE_INDEX)
    labels[0, 0] = 1  # at least one counted
    sentence_order_label = rng.integers(0, 2, size=batch)
    return input_ids, labels, sentence_order_label, attention_mask, token_type_ids


@pytest.mark.parametrize("position_type", POSITION_TYPES)
@fewer_examples
@given(seed=seeds, activation=st.sampled_from(ACTIVATIONS), dropout=st.sampled_from([0.0, 0.2]))
def test_pretraining_loss_and_grads(position_type, seed, activation, dropout):
    """MLM + SOP through every module, with the tied decoder, shared layers, padding, ignored
    labels and dropout (drawn from the model's generator, re-seeded per evaluation).

    The numeric side differentiates the model's own forward (`model(...).loss`), which draws the
    same dropout masks in the same order, so this also checks that the two losses agree.
    """
    rng = np.random.default_rng(seed)
    config = tiny_config(rng, position_type, activation, hidden_dropout_prob=dropout,
                         attention_probs_dropout_prob=dropout, classifier_dropout_prob=dropout)
    model = ta.AlbertForPreTraining(config, dtype="float64", seed=seed)
    values = perturbed_params(model, rng)
    input_ids, labels, sentence_order_label, attention_mask, token_type_ids = batch = pretraining_batch(
        rng, config, 2, int(rng.integers(2, 5))
    )

    def forward_loss(v):
        model.params = v
        model.train(rng=np.random.default_rng(seed))
        return float(model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                           labels=labels, sentence_order_label=sentence_order_label).loss)

    model.params = values
    model.train(rng=np.random.default_rng(seed))
    loss, grads = model.loss_and_grads(*batch)
    assert float(loss) == pytest.approx(forward_loss(values), rel=1e-13)
    assert set(grads) == set(model.state_dict())
    if position_type != "absolute":
        assert not np.any(grads["albert.embeddings.position_embeddings.weight"])
    check_gradients(forward_loss, values, grads, rng=rng, sample=3)


@fewer_examples
@given(seed=seeds, tied=st.booleans())
def test_masked_lm_loss_and_grads(seed, tied):
    """MLM alone; with `tie_word_embeddings=False` the decoder has its own weight."""
    rng = np.random.default_rng(seed)
    config = tiny_config(rng, "absolute", "gelu_new", tie_word_embeddings=tied)
    model = ta.AlbertForMaskedLM(config, dtype="float64", seed=seed)
    values = perturbed_params(model, rng)
    input_ids, labels, _, attention_mask, token_type_ids = pretraining_batch(rng, config, 2, 3)

    def forward_loss(v):
        model.params = v
        return float(model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                           labels=labels).loss)

    model.params = values
    loss, grads = model.loss_and_grads(input_ids, labels, attention_mask=attention_mask, token_type_ids=token_type_ids)
    assert float(loss) == pytest.approx(forward_loss(values), rel=1e-13)
    assert set(grads) == set(model.state_dict())
    assert ("predictions.decoder.weight" in grads) == (not tied)
    check_gradients(forward_loss, values, grads, rng=rng, sample=3)


@fewer_examples
@given(seed=seeds, with_sop=st.booleans())
def test_pretraining_functions_are_pure(seed, with_sop):
    """`pretraining_forward` / `pretraining_backward` need only a parameter dict, a config and
    arrays: no model object. Their gradient is checked against central differences of the same
    function, and reading it leaves the parameters untouched."""
    rng = np.random.default_rng(seed)
    config = tiny_config(rng, "absolute", "gelu_new")
    model_class = ta.AlbertForPreTraining if with_sop else ta.AlbertForMaskedLM
    values = perturbed_params(model_class(config, dtype="float64", seed=seed), rng)
    input_ids, labels, sentence_order_label, attention_mask, token_type_ids = pretraining_batch(rng, config, 2, 3)
    sentence_order_label = sentence_order_label if with_sop else None
    position_ids = np.arange(3)[None, :]
    before = {name: value.copy() for name, value in values.items()}

    def loss_of(v):
        loss, _, _ = pretraining_forward(v, config, input_ids, labels, sentence_order_label, attention_mask,
                                         token_type_ids, position_ids, keep_caches=False)
        return float(loss)

    loss, outputs, cache = pretraining_forward(values, config, input_ids, labels, sentence_order_label,
                                               attention_mask, token_type_ids, position_ids)
    assert outputs.prediction_logits.shape == (2, 3, config.vocab_size)
    assert (outputs.sop_logits is not None) == with_sop
    grads = pretraining_backward(cache)
    assert list(grads) == list(values)  # keyed and ordered like the parameters
    assert all(np.array_equal(values[name], before[name]) for name in values)
    check_gradients(loss_of, values, grads, rng=rng, sample=3)


@fewer_examples
@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")
@given(seed=seeds, with_sop=st.booleans(), no_labels=st.booleans())
def test_mlm_head_at_labelled_positions_only_gives_the_same_loss_and_gradients(seed, with_sop, no_labels):
    """`labelled_only=True` (what training uses) runs the MLM head on the labelled rows alone;
    loss and gradients must be those of the head on every position, also with no label at all."""
    rng = np.random.default_rng(seed)
    config = tiny_config(rng, "absolute", "gelu_new")
    model_class = ta.AlbertForPreTraining if with_sop else ta.AlbertForMaskedLM
    values = perturbed_params(model_class(config, dtype="float64", seed=seed), rng)
    input_ids, labels, sentence_order_label, attention_mask, token_type_ids = pretraining_batch(rng, config, 3, 4)
    if no_labels:
        labels[:] = IGNORE_INDEX
    sentence_order_label = sentence_order_label if with_sop else None
    results = {}
    for labelled_only in (False, True):
        loss, outputs, cache = pretraining_forward(values, config, input_ids, labels, sentence_order_label,
                                                   attention_mask, token_type_ids, np.arange(4)[None, :],
                                                   labelled_only=labelled_only)
        results[labelled_only] = (loss, outputs.prediction_logits, pretraining_backward(cache))
    (full_loss, full_logits, full_grads), (loss, logits, grads) = results[False], results[True]
    labelled = labels.reshape(-1) != IGNORE_INDEX
    assert logits.shape == (int(labelled.sum()), config.vocab_size)
    np.testing.assert_allclose(logits, full_logits.reshape(-1, config.vocab_size)[labelled], rtol=1e-12, atol=1e-13)
    if no_labels:  # nothing counted: nan in both (as torch's mean cross-entropy over no targets), zero MLM gradient
        assert np.isnan(float(loss)) and np.isnan(float(full_loss))
        assert all(np.all(np.isfinite(grad)) for grad in (*grads.values(), *full_grads.values()))
    else:
        assert float(loss) == pytest.approx(float(full_loss), rel=1e-12)
    for name in full_grads:
        np.testing.assert_allclose(grads[name], full_grads[name], rtol=1e-10, atol=1e-13, err_msg=name)


def test_mlm_head_at_labelled_positions_only_runs_under_array_api_strict():
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(0)
    config = tiny_config(rng, "absolute", "gelu_new")
    model = ta.AlbertForPreTraining(config, dtype="float64", seed=0)
    batch = pretraining_batch(rng, config, 2, 3)
    expected_loss, expected = model.loss_and_grads(*batch[:2], sentence_order_label=batch[2],
                                                   attention_mask=batch[3], token_type_ids=batch[4])
    strict = ta.AlbertForPreTraining(config, dict(model.params), backend=xps, dtype="float64")
    loss, grads = strict.loss_and_grads(*batch[:2], sentence_order_label=batch[2], attention_mask=batch[3],
                                        token_type_ids=batch[4])
    assert float(loss) == pytest.approx(float(expected_loss), rel=1e-12)
    for name, grad in expected.items():
        np.testing.assert_allclose(np.asarray(grads[name]), grad, rtol=1e-10, atol=1e-13, err_msg=name)


def test_pretraining_rejects_sop_labels_without_pooler():
    config = ta.AlbertConfig(vocab_size=10, embedding_size=2, hidden_size=2, num_hidden_layers=1,
                             num_attention_heads=1, intermediate_size=2)
    params = ta.AlbertForMaskedLM(config).params
    ids, ones = np.ones((1, 2), dtype=int), np.ones((1, 2))
    with pytest.raises(ValueError, match="sentence_order_label"):
        pretraining_forward(params, config, ids, ids, np.zeros(1, dtype=int), ones, 0 * ids, np.arange(2)[None, :])
