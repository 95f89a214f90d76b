"""Attention-head pruning against Transformers 4.53.3: `prune_heads`, `config.pruned_heads`.

A pruned layer keeps fewer heads: its query, key and value weights lose the rows of the pruned
heads and the output projection their columns. Transformers records the pruned heads in
`config.pruned_heads` ({layer: [heads]}, layers numbered group by group) and prunes again when it
loads, so a pruned checkpoint has smaller arrays than its other fields describe. Each test builds
both models from the same random weights (`save_pretrained`, `from_pretrained`), prunes, and
compares outputs, gradients and the files each library writes.
"""
import json
import tempfile
import warnings

import numpy as np
import pytest

import tinyalbert as ta
from tinyalbert.backend import to_numpy

try:
    import torch
    import transformers
except ImportError:  # the tests marked `reference` are skipped (tests/conftest.py)
    torch = transformers = None

pytestmark = pytest.mark.reference

# (groups, inner layers, passes, position type, two rounds of pruning: the second overlaps the first)
SHAPES = [
    (1, 1, 3, "absolute", [{0: [1, 3]}, {0: [0, 3]}]),
    (2, 2, 4, "relative_key_query", [{0: [0], 3: [2, 3]}, {3: [1]}]),
    (3, 1, 3, "relative_key", [{2: [1]}, {0: [0, 2], 2: [0]}]),
]
# float64 on our side, float32 in torch: the difference is torch's rounding.
TOLERANCE = 1e-5


def reference_model(model_class, groups, inner, layers, position_type, seed=0):
    torch.manual_seed(seed)
    config = transformers.AlbertConfig(
        vocab_size=40, embedding_size=6, hidden_size=16, num_attention_heads=4, intermediate_size=20,
        num_hidden_layers=layers, num_hidden_groups=groups, inner_group_num=inner,
        position_embedding_type=position_type, max_position_embeddings=16, attn_implementation="eager",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0)
    return model_class(config).eval()


def inputs():
    rng = np.random.default_rng(0)
    input_ids = rng.integers(1, 40, size=(2, 7))
    attention_mask = np.ones((2, 7), dtype=np.int64)
    attention_mask[1, 5:] = 0
    return input_ids, attention_mask


def run_reference(model, input_ids, attention_mask, **options):
    with torch.no_grad():
        return model(torch.tensor(input_ids), attention_mask=torch.tensor(attention_mask), **options)


def load_ours(directory, model_class=ta.AlbertModel, dtype="float64", **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_class.from_pretrained(directory, dtype=dtype, **options)


def assert_close(ours, theirs, what):
    error = float(np.max(np.abs(np.asarray(to_numpy(ours), dtype=np.float64) - theirs.double().numpy())))
    assert error <= TOLERANCE, f"{what}: max error {error:.3g}"


@pytest.mark.parametrize("groups, inner, layers, position_type, rounds", SHAPES)
def test_a_checkpoint_pruned_by_transformers_loads_and_computes_the_same(tmp_path, groups, inner, layers,
                                                                        position_type, rounds):
    reference = reference_model(transformers.AlbertModel, groups, inner, layers, position_type)
    for heads in rounds:
        reference.prune_heads(heads)
    reference.save_pretrained(tmp_path)
    ours = load_ours(tmp_path)
    assert ours.config.pruned_heads == {layer: sorted(heads) for layer, heads in reference.config.pruned_heads.items()}
    input_ids, attention_mask = inputs()
    expected = run_reference(reference, input_ids, attention_mask, output_attentions=True)
    output = ours(input_ids, attention_mask=attention_mask, output_attentions=True)
    assert_close(output.last_hidden_state, expected.last_hidden_state, "last_hidden_state")
    assert [a.shape for a in output.attentions] == [tuple(a.shape) for a in expected.attentions]
    for index, (mine, theirs) in enumerate(zip(output.attentions, expected.attentions)):
        assert_close(mine, theirs, f"attentions[{index}]")


@pytest.mark.parametrize("groups, inner, layers, position_type, rounds", SHAPES)
def test_prune_heads_cuts_what_transformers_cuts_and_both_read_the_saved_model(tmp_path, groups, inner, layers,
                                                                              position_type, rounds):
    reference = reference_model(transformers.AlbertForMaskedLM, groups, inner, layers, position_type)
    reference.save_pretrained(tmp_path / "unpruned")
    ours = load_ours(tmp_path / "unpruned", ta.AlbertForMaskedLM)
    for heads in rounds:
        reference.prune_heads(heads)
        ours.prune_heads(heads)
    theirs_state = reference.state_dict()
    for name, value in ours.state_dict().items():
        assert tuple(value.shape) == tuple(theirs_state[name].shape), name
        assert_close(value, theirs_state[name], name)
    ours.save_pretrained(tmp_path / "ours")
    saved = json.loads((tmp_path / "ours" / "config.json").read_text())["pruned_heads"]
    assert {int(layer): sorted(heads) for layer, heads in saved.items()} == {
        layer: sorted(heads) for layer, heads in reference.config.pruned_heads.items()}
    reloaded = transformers.AlbertForMaskedLM.from_pretrained(tmp_path / "ours", attn_implementation="eager").eval()
    input_ids, attention_mask = inputs()
    expected = run_reference(reference, input_ids, attention_mask).logits
    assert_close(run_reference(reloaded, input_ids, attention_mask).logits, expected, "Transformers reading ours")
    assert_close(ours(input_ids, attention_mask=attention_mask).logits, expected, "ours")
    assert_close(load_ours(tmp_path / "ours", ta.AlbertForMaskedLM)(input_ids, attention_mask=attention_mask).logits,
                 expected, "ours reloaded")


def test_gradients_of_a_pruned_model_match_torch_autograd(tmp_path):
    reference = reference_model(transformers.AlbertForPreTraining, 2, 2, 4, "relative_key_query")
    for heads in SHAPES[1][4]:
        reference.prune_heads(heads)
    reference = reference.double()  # after pruning: Transformers' pruned Linear layers are new, in float32
    reference.save_pretrained(tmp_path)
    ours = load_ours(tmp_path, ta.AlbertForPreTraining)
    input_ids, attention_mask = inputs()
    labels = np.where(np.random.default_rng(1).random(input_ids.shape) < 0.4, input_ids, -100)
    labels[0, 0] = input_ids[0, 0]
    sentence_order_label = np.array([0, 1])
    output = reference(torch.tensor(input_ids), attention_mask=torch.tensor(attention_mask),
                       labels=torch.tensor(labels), sentence_order_label=torch.tensor(sentence_order_label))
    output.loss.backward()
    loss, grads = ours.loss_and_grads(input_ids, labels, sentence_order_label, attention_mask=attention_mask)
    assert abs(float(loss) - output.loss.item()) <= 1e-10
    for name, parameter in reference.named_parameters():
        expected = np.zeros(tuple(parameter.shape)) if parameter.grad is None else parameter.grad.numpy()
        error = float(np.max(np.abs(to_numpy(grads[name]) - expected)))
        assert error <= 1e-10 * max(1.0, float(np.max(np.abs(expected)))), f"{name}: {error:.3g}"


def test_a_head_mask_of_one_value_per_layer_fits_pruned_layers_and_a_per_head_one_is_refused(tmp_path):
    reference = reference_model(transformers.AlbertModel, 3, 1, 3, "absolute")
    reference.prune_heads({1: [0, 2]})
    reference.save_pretrained(tmp_path)
    ours = load_ours(tmp_path)
    input_ids, attention_mask = inputs()
    head_mask = np.array([[0.5], [0.0], [1.0]])
    expected = run_reference(reference, input_ids, attention_mask, head_mask=torch.tensor(head_mask))
    assert_close(ours(input_ids, attention_mask=attention_mask, head_mask=head_mask).last_hidden_state,
                 expected.last_hidden_state, "head_mask (layers, 1)")
    with pytest.raises(ValueError, match="has 2 after pruning"):
        ours(input_ids, attention_mask=attention_mask, head_mask=np.ones(4))


def test_a_pruned_model_runs_under_array_api_strict(tmp_path):
    """`prune_heads` slices with standard Array API calls only (`take`), on any backend."""
    xps = pytest.importorskip("array_api_strict")
    reference = reference_model(transformers.AlbertModel, 1, 1, 2, "absolute")
    reference.save_pretrained(tmp_path)
    ours, strict = load_ours(tmp_path), load_ours(tmp_path, backend=xps)
    ours.prune_heads({0: [2]})
    strict.prune_heads({0: [2]})
    input_ids, attention_mask = inputs()
    expected = ours(input_ids, attention_mask=attention_mask).last_hidden_state
    result = strict(input_ids, attention_mask=attention_mask).last_hidden_state
    assert result.__array_namespace__() is xps
    np.testing.assert_allclose(to_numpy(result), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("heads, message", [
    ({3: [0]}, "names layer 3, but the encoder has 3 layer"),
    ({0: [4]}, r"names heads \[4\], but a layer has heads 0..3"),
    ({0: [0, 1, 2, 3]}, "prunes all 4 heads"),
    ({"first": [0]}, "not a layer number"),
    ({0: 1}, "must be a list of head numbers"),
])
def test_pruning_that_cannot_be_done_is_refused_and_changes_nothing(heads, message):
    model = ta.AlbertModel(ta.AlbertConfig(vocab_size=40, embedding_size=6, hidden_size=16, num_attention_heads=4,
                                           intermediate_size=20, num_hidden_layers=3, num_hidden_groups=3))
    model.prune_heads({0: [1]})
    before = {name: value.copy() for name, value in model.params.items()}
    with pytest.raises(ValueError, match=message):
        model.prune_heads(heads)
    assert model.config.pruned_heads == {0: [1]}
    assert all(np.array_equal(model.params[name], value) for name, value in before.items())
    with pytest.raises(ValueError, match=message):  # the same numbers in a config.json
        with tempfile.TemporaryDirectory() as directory:
            model.save_pretrained(directory)
            path = f"{directory}/config.json"
            values = json.loads(open(path).read())
            values["pruned_heads"] = {str(key): value for key, value in heads.items()}
            open(path, "w").write(json.dumps(values))
            ta.AlbertModel.from_pretrained(directory)


def test_pruned_heads_given_as_an_override_are_read_as_in_a_config_json():
    """from_dict / from_pretrained / update overrides go through the same reading as the
    constructor: keys as JSON writes them ("0") and a head named twice count as in Transformers."""
    base = ta.AlbertConfig(vocab_size=40, embedding_size=6, hidden_size=16, num_attention_heads=4,
                           intermediate_size=20, num_hidden_layers=2).to_dict()
    for config in (ta.AlbertConfig.from_dict(base, pruned_heads={"0": [1, 1]}), ta.AlbertConfig(**base)):
        if not config.pruned_heads:
            config.update({"pruned_heads": {"0": [1, 1]}})
        assert config.pruned_heads == {0: [1]}
        assert ta.AlbertModel(config).params[
            "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight"].shape == (12, 16)


def test_pruned_heads_changed_in_place_are_kept_saved_and_built_as_in_transformers(tmp_path):
    """`config.pruned_heads[layer] = [...]` on a config with no pruned heads lasts, as on a
    Transformers config (the default {} is the config's own, not a fresh copy each read); a
    config that only read it is still equal to one that did not, and saves no `pruned_heads`."""
    import transformers

    shape = dict(vocab_size=40, embedding_size=6, hidden_size=16, num_attention_heads=4, intermediate_size=20,
                 num_hidden_layers=2)
    ours, theirs = ta.AlbertConfig(**shape), transformers.AlbertConfig(**shape)
    assert "pruned_heads" not in ours.extra  # building and checking a config does not keep the default
    assert ours.pruned_heads == {} and ours == ta.AlbertConfig(**shape)
    ours.save_pretrained(tmp_path / "unpruned")
    assert "pruned_heads" not in json.loads((tmp_path / "unpruned" / "config.json").read_text())
    for config in (ours, theirs):
        config.pruned_heads[0] = [0, 2]
    assert ours.pruned_heads == theirs.pruned_heads == {0: [0, 2]} and ours != ta.AlbertConfig(**shape)
    query = "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight"
    assert ta.AlbertModel(ours).params[query].shape == (8, 16)  # the shared layer keeps 2 of 4 heads
    ours.save_pretrained(tmp_path / "pruned")
    assert transformers.AlbertConfig.from_pretrained(tmp_path / "pruned").pruned_heads == {0: [0, 2]}
    fresh = ta.AlbertConfig(**shape)
    fresh.pruned_heads["0"] = [3, 1]  # a key as JSON writes it, put in place: read as the layer number on use
    assert ta.AlbertModel(fresh).params[query].shape == (8, 16) and fresh.pruned_heads == {0: [1, 3]}
