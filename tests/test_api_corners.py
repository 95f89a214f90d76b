"""Corners of the model API found by an audit against Transformers 4.53.3: conflicting label
arguments, broadcast `token_type_ids` and `head_mask`, unused checkpoint weights,
`torch_dtype="auto"` without a saved dtype, configs Transformers accepts, and the attributes and
key order of models and outputs.

Each behaviour is checked against Transformers doing the same thing, where it is parity."""
import json
import logging
import warnings

import numpy as np
import pytest

import tinyalbert
from tinyalbert import AlbertConfig

from test_api import ATOL, CLASS_NAMES, IDS, MASK, SMALL, saved_reference, transformers_or_skip


def run_reference(model, **inputs):
    import torch

    with torch.no_grad():
        return model(**{k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()})


def as_numpy(value):
    return value.detach().numpy() if hasattr(value, "detach") else np.asarray(value)


def load_quietly(class_name, directory, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # heads the saved class lacks, initialized fresh
        return getattr(tinyalbert, class_name).from_pretrained(directory, **options)


# --- 1. conflicting label arguments ----------------------------------------------------------------
CONFLICTS = [{"num_labels": 4, "id2label": {0: "a", 1: "b"}}, {"id2label": {0: "a", 1: "b"}, "num_labels": 4}]


@pytest.mark.reference
@pytest.mark.parametrize("arguments", CONFLICTS, ids=["num_labels-first", "id2label-first"])
def test_num_labels_with_an_id2label_of_another_size_raises_in_either_order(tmp_path, arguments):
    transformers = transformers_or_skip()
    saved_reference(tmp_path)
    loaders = [
        (transformers.AlbertForSequenceClassification, tinyalbert.AlbertForSequenceClassification),
        (transformers.AlbertConfig, tinyalbert.AlbertConfig),
        (transformers.AutoConfig, tinyalbert.AutoConfig),
    ]
    for theirs, ours in loaders:
        with pytest.raises(ValueError, match="incompatible id to label map"):
            theirs.from_pretrained(tmp_path, **arguments)
        with pytest.raises(ValueError, match="incompatible id to label map"):
            ours.from_pretrained(tmp_path, **arguments)
    # The constructor keeps id2label, with a warning, in both.
    assert AlbertConfig(**SMALL, **arguments).num_labels == transformers.AlbertConfig(**arguments).num_labels == 2


@pytest.mark.reference
def test_a_label2id_never_changes_the_head_size_silently(tmp_path):
    transformers = transformers_or_skip()
    saved_reference(tmp_path)
    three = {"neg": 0, "neu": 1, "pos": 2}
    # Transformers keeps num_labels outputs and a label2id that disagrees; tinyalbert, with one
    # label map, refuses rather than build a head of another size.
    for arguments in ({"num_labels": 3, "label2id": {"neg": 0, "neu": 1}}, {"label2id": three}):
        theirs = load_quietly_reference(transformers, tmp_path, **arguments)
        with pytest.raises(ValueError, match="label2id names"):
            load_quietly("AlbertForSequenceClassification", tmp_path, **arguments)
        assert theirs.classifier.out_features == arguments.get("num_labels", 2)
    for arguments in ({"num_labels": 3, "label2id": three}, {"label2id": three, "num_labels": 3}):
        theirs = load_quietly_reference(transformers, tmp_path, **arguments)
        ours = load_quietly("AlbertForSequenceClassification", tmp_path, **arguments)
        assert ours.config.num_labels == theirs.config.num_labels == 3
        # tinyalbert applies label2id after num_labels whatever the order; Transformers in the order
        # given, so there the second order ends with LABEL_0.. in place of the label2id given.
        assert ours.config.label2id == three
    assert load_quietly_reference(transformers, tmp_path, num_labels=3, label2id=three).config.label2id == three
    # The constructor: label2id alone gives Transformers its default 2 labels.
    assert transformers.AlbertConfig(label2id=three).num_labels == 2
    with pytest.raises(ValueError, match="label2id names 3 labels"):
        AlbertConfig(**SMALL, label2id=three)
    # With num_labels, the constructor follows from_pretrained's rule: refused when the sizes
    # differ, the label2id names when they agree (it used to drop label2id without a word).
    with pytest.raises(ValueError, match="label2id names 2 labels, but num_labels is 3"):
        AlbertConfig(**SMALL, num_labels=3, label2id={"neg": 0, "neu": 1})
    assert AlbertConfig(**SMALL, num_labels=3, label2id=three).label2id == three


def load_quietly_reference(transformers, directory, **arguments):
    transformers.logging.set_verbosity_error()
    try:
        return transformers.AlbertForSequenceClassification.from_pretrained(directory, **arguments)
    finally:
        transformers.logging.set_verbosity_warning()


# --- 2. token_type_ids broadcast over the batch ----------------------------------------------------
@pytest.mark.reference
@pytest.mark.parametrize("types", [np.array([0, 0, 1, 1, 1, 0]), np.array([[0, 0, 1, 1, 1, 0]])],
                         ids=["(seq,)", "(1, seq)"])
def test_token_type_ids_of_one_row_are_broadcast_over_the_batch(tmp_path, types):
    reference = saved_reference(tmp_path, "AlbertForSequenceClassification")
    ours = tinyalbert.AlbertForSequenceClassification.from_pretrained(tmp_path)
    theirs = run_reference(reference, input_ids=IDS, attention_mask=MASK, token_type_ids=types).logits
    logits = ours(input_ids=IDS, attention_mask=MASK, token_type_ids=types).logits
    np.testing.assert_allclose(logits, as_numpy(theirs), atol=ATOL)
    full = ours(input_ids=IDS, attention_mask=MASK, token_type_ids=np.broadcast_to(types, IDS.shape)).logits
    np.testing.assert_array_equal(logits, full)


# --- 3. head_mask shapes of Transformers' get_head_mask --------------------------------------------
def head_masks():
    """Masks for SMALL's 3 layers of 3 heads."""
    per_layer = np.array([[1.0], [0.0], [0.5]])
    per_head = np.array([1.0, 0.0, 0.7])
    return {
        "(layers, 1)": per_layer,
        "(layers, 1, heads, 1, 1)": (per_layer * per_head)[:, None, :, None, None],
        "(1, 1, heads, 1, 1)": per_head[None, None, :, None, None],
        "(layers, batch, heads, 1, 1)": np.stack([per_layer * per_head, per_layer * per_head[::-1]], axis=1)[..., None, None],
        "(1, heads)": per_head[None, :],
    }


@pytest.mark.reference
@pytest.mark.parametrize("name", list(head_masks()))
def test_head_mask_shapes_that_transformers_broadcasts(tmp_path, name):
    head_mask = head_masks()[name]
    reference = saved_reference(tmp_path, "AlbertModel")
    ours = tinyalbert.AlbertModel.from_pretrained(tmp_path)
    theirs = run_reference(reference, input_ids=IDS, attention_mask=MASK, head_mask=head_mask.astype(np.float32),
                           output_attentions=True)
    out = ours(input_ids=IDS, attention_mask=MASK, head_mask=head_mask, output_attentions=True)
    np.testing.assert_allclose(out.last_hidden_state, as_numpy(theirs.last_hidden_state), atol=ATOL)
    for mine, reference_map in zip(out.attentions, theirs.attentions):
        np.testing.assert_allclose(mine, as_numpy(reference_map), atol=ATOL)


def test_a_head_mask_that_does_not_broadcast_says_what_is_accepted():
    model = tinyalbert.AlbertModel(AlbertConfig(**SMALL))
    for shape in [(2,), (2, 3), (3, 1, 3, 1), (3, 1, 2, 1, 1)]:
        with pytest.raises(ValueError, match=r"broadcasts to \(3, 3\).*\(3, 1, 3, 1, 1\)"):
            model(input_ids=IDS, attention_mask=MASK, head_mask=np.ones(shape))


# --- 5. unused checkpoint weights ------------------------------------------------------------------
@pytest.mark.reference
def test_unused_weights_warn_when_the_checkpoint_was_saved_from_this_class(tmp_path, caplog):
    from safetensors.numpy import load_file, save_file

    transformers = transformers_or_skip()
    saved_reference(tmp_path, "AlbertForMaskedLM")
    tensors = load_file(str(tmp_path / "model.safetensors"))
    tensors["albert.extra_adapter.weight"] = np.ones((2, 2), np.float32)
    save_file(tensors, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    # Transformers: a WARNING record when the class is in config.architectures, INFO otherwise.
    transformers.logging.enable_propagation()
    try:
        with caplog.at_level(logging.INFO, logger="transformers"):
            transformers.AlbertForMaskedLM.from_pretrained(tmp_path)
            transformers.AlbertModel.from_pretrained(tmp_path)
    finally:
        transformers.logging.disable_propagation()
    levels = {record.getMessage().split(":")[0].split()[-1]: record.levelname
              for record in caplog.records if "were not used" in record.getMessage()}
    assert levels == {"AlbertForMaskedLM": "WARNING", "AlbertModel": "INFO"}
    with pytest.warns(UserWarning, match=r"not used when initializing AlbertForMaskedLM.*extra_adapter"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # another class: unused tensors are expected, nothing is shown
        model, info = tinyalbert.AlbertModel.from_pretrained(tmp_path, output_loading_info=True)
    assert not [warning for warning in caught if "not used" in str(warning.message)]
    assert "extra_adapter.weight" in info["unexpected_keys"]


# --- 6. torch_dtype="auto" without a saved dtype ---------------------------------------------------
@pytest.mark.reference
def test_torch_dtype_auto_reads_the_weights_when_the_config_names_no_dtype(tmp_path):
    import torch

    transformers = transformers_or_skip()
    saved_reference(tmp_path, "AlbertForSequenceClassification").half().save_pretrained(tmp_path)
    values = json.loads((tmp_path / "config.json").read_text())
    del values["torch_dtype"]
    (tmp_path / "config.json").write_text(json.dumps(values))
    assert transformers.AlbertForSequenceClassification.from_pretrained(tmp_path, torch_dtype="auto").dtype == torch.float16
    for options in ({"torch_dtype": "auto"}, {"dtype": "auto"}):
        assert tinyalbert.AlbertForSequenceClassification.from_pretrained(tmp_path, **options).dtype_name == "float16"
    # Without "auto", float32 as before (and as Transformers).
    assert tinyalbert.AlbertForSequenceClassification.from_pretrained(tmp_path).dtype_name == "float32"


# --- 7. configs Transformers accepts ---------------------------------------------------------------
@pytest.mark.reference
def test_gelu_pytorch_tanh_is_gelu_new_forward_and_backward(tmp_path):
    from tinyalbert.nn.activations import activation_backward, activation_forward

    reference = saved_reference(tmp_path, "AlbertForSequenceClassification", hidden_act="gelu_pytorch_tanh")
    ours = tinyalbert.AlbertForSequenceClassification.from_pretrained(tmp_path)
    theirs = run_reference(reference, input_ids=IDS, attention_mask=MASK).logits
    np.testing.assert_allclose(ours(input_ids=IDS, attention_mask=MASK).logits, as_numpy(theirs), atol=ATOL)
    x = np.linspace(-6, 6, 101)
    for name in ("gelu_new", "gelu_pytorch_tanh"):
        value, cache = activation_forward(x, name)
        slope, _ = activation_backward(np.ones_like(x), cache)
        if name == "gelu_new":
            expected_value, expected_slope = value, slope
    np.testing.assert_array_equal(value, expected_value)
    np.testing.assert_array_equal(slope, expected_slope)


@pytest.mark.reference
def test_positional_config_arguments_follow_transformers_order():
    transformers = transformers_or_skip()
    import inspect

    # Every name Transformers' constructor takes by position, in its order, with a value of its own.
    names = [name for name, parameter in inspect.signature(transformers.AlbertConfig.__init__).parameters.items()
             if name != "self" and parameter.kind is parameter.POSITIONAL_OR_KEYWORD]
    assert len(names) == 20, names
    values = {"vocab_size": 100, "embedding_size": 16, "hidden_size": 32, "num_hidden_layers": 2,
              "num_hidden_groups": 1, "num_attention_heads": 4, "intermediate_size": 64, "inner_group_num": 1,
              "hidden_act": "relu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.05,
              "max_position_embeddings": 40, "type_vocab_size": 3, "initializer_range": 0.03,
              "layer_norm_eps": 1e-6, "classifier_dropout_prob": 0.2, "position_embedding_type": "relative_key",
              "pad_token_id": 5, "bos_token_id": 6, "eos_token_id": 7}
    positional = [values[name] for name in names]
    theirs, ours = transformers.AlbertConfig(*positional), AlbertConfig(*positional)
    for name in names:
        assert getattr(ours, name) == getattr(theirs, name) == values[name], name
    with pytest.raises(TypeError, match="multiple values"):
        AlbertConfig(100, vocab_size=50)


# --- 8. model attributes and output key order ------------------------------------------------------
@pytest.mark.reference
@pytest.mark.parametrize("class_name", CLASS_NAMES)
def test_num_labels_and_name_or_path_attributes_match_transformers(tmp_path, class_name):
    transformers = transformers_or_skip()
    saved_reference(tmp_path, class_name, num_labels=2)
    transformers.logging.set_verbosity_error()
    try:
        theirs = getattr(transformers, class_name).from_pretrained(tmp_path)
    finally:
        transformers.logging.set_verbosity_warning()
    ours = load_quietly(class_name, tmp_path)
    assert hasattr(ours, "num_labels") == hasattr(theirs, "num_labels")
    if hasattr(theirs, "num_labels"):
        assert ours.num_labels == theirs.num_labels == 2
    assert ours.name_or_path == theirs.name_or_path == str(tmp_path)
    assert getattr(tinyalbert, class_name)(AlbertConfig(**SMALL)).name_or_path == ""


@pytest.mark.reference
def test_setting_an_unset_output_field_keeps_transformers_key_order():
    import torch

    transformers = transformers_or_skip()
    theirs = transformers.modeling_outputs.SequenceClassifierOutput(logits=torch.ones(2, 3))
    ours = tinyalbert.outputs.SequenceClassifierOutput(logits=np.ones((2, 3)))
    for output in (theirs, ours):
        output.loss = 1.0  # by attribute: not a key
    assert list(ours.keys()) == list(theirs.keys()) == ["logits"]
    assert len(ours.to_tuple()) == len(theirs.to_tuple()) == 1 and ours.loss == theirs.loss == 1.0
    for output in (theirs, ours):
        output["loss"] = 2.0  # by name: a key, after the others
    assert list(ours.keys()) == list(theirs.keys()) == ["logits", "loss"]
    assert ours.to_tuple()[1] == theirs.to_tuple()[1] == 2.0 and ours[1] == 2.0
    assert not isinstance(ours, dict)  # documented in docs/parity.md


@pytest.mark.parametrize("bad", [-1, 10_000])
def test_the_input_embeddings_check_ids_as_a_model_call_does(bad):
    """get_input_embeddings()(ids) read -1 as the last row (torch's nn.Embedding raises); on CuPy
    any id out of range wrapped around silently."""
    model = tinyalbert.AlbertModel(AlbertConfig(**SMALL))
    embeddings = model.get_input_embeddings()
    np.testing.assert_array_equal(embeddings(np.array([[1, 2]])), embeddings.weight[[1, 2]][None])
    with pytest.raises(ValueError, match=rf"input_ids must lie in \[0, {SMALL['vocab_size']}\), got {bad}"):
        embeddings(np.array([[1, bad]]))


# --- 2. a second audit: return type, Transformers' configs, configs changed after they were built --
@pytest.mark.reference
@pytest.mark.parametrize("class_name", ["AlbertModel", "AlbertForSequenceClassification"])
def test_a_torchscript_config_makes_calls_return_tuples_as_in_transformers(tmp_path, class_name):
    """`config.use_return_dict` is `return_dict and not torchscript` in Transformers; the models
    read it, so `torchscript=True` gives tuples. tinyalbert read `return_dict` alone."""
    saved_reference(tmp_path, class_name)
    theirs = getattr(transformers_or_skip(), class_name).from_pretrained(
        tmp_path, torchscript=True, attn_implementation="eager").eval()
    ours = load_quietly(class_name, tmp_path, torchscript=True)
    assert ours.config.use_return_dict is theirs.config.use_return_dict is False
    reference, output = run_reference(theirs, input_ids=IDS, attention_mask=MASK), ours(input_ids=IDS, attention_mask=MASK)
    assert isinstance(reference, tuple) and isinstance(output, tuple) and len(output) == len(reference)
    for mine, its in zip(output, reference):
        np.testing.assert_allclose(mine, as_numpy(its), atol=ATOL)
    assert not isinstance(ours(input_ids=IDS, attention_mask=MASK, return_dict=True), tuple)  # the call still wins


@pytest.mark.reference
def test_a_transformers_config_builds_a_model_that_saves_and_reloads(tmp_path):
    """`tinyalbert.AlbertForSequenceClassification(transformers.AlbertConfig(...))` ran, but
    `save_pretrained` then failed on the foreign config; it is now read as tinyalbert's, in the
    constructor and as `from_pretrained(config=...)`."""
    transformers = transformers_or_skip()
    config = transformers.AlbertConfig(**SMALL, num_labels=3, id2label={0: "a", 1: "b", 2: "c"})
    ours = tinyalbert.AlbertForSequenceClassification(config)
    assert isinstance(ours.config, AlbertConfig) and ours.config.id2label == config.id2label
    ours.save_pretrained(tmp_path / "ours")
    theirs = transformers.AlbertForSequenceClassification.from_pretrained(
        tmp_path / "ours", attn_implementation="eager").eval()
    np.testing.assert_allclose(ours(input_ids=IDS, attention_mask=MASK).logits,
                               as_numpy(run_reference(theirs, input_ids=IDS, attention_mask=MASK).logits), atol=ATOL)
    loaded = tinyalbert.AlbertForSequenceClassification.from_pretrained(
        tmp_path / "ours", config=transformers.AlbertConfig.from_pretrained(tmp_path / "ours"), output_hidden_states=True)
    assert loaded.config.id2label == theirs.config.id2label and loaded.config.output_hidden_states
    with pytest.raises(TypeError, match="config must be a tinyalbert AlbertConfig"):
        tinyalbert.AlbertModel(transformers.BertConfig())


@pytest.mark.reference
def test_a_config_changed_into_nonsense_after_it_was_built_is_refused_by_the_model(tmp_path):
    """More groups than layers, set after the config was built, ran silently here (on groups the
    layers never reach); Transformers fails inside its encoder. The model now checks its config."""
    import torch

    transformers = transformers_or_skip()
    theirs_config = transformers.AlbertConfig(**SMALL)
    theirs_config.num_hidden_groups = 5
    with pytest.raises(IndexError):
        transformers.AlbertModel(theirs_config).eval()(input_ids=torch.tensor(IDS))
    config = AlbertConfig(**SMALL)
    config.num_hidden_groups = 5
    with pytest.raises(ValueError, match=r"num_hidden_groups \(5\) cannot exceed num_hidden_layers \(3\)"):
        tinyalbert.AlbertModel(config)


def test_loading_warnings_name_parameters_as_transformers_does_for_the_bare_model(tmp_path):
    """AlbertModel's parameters have no `albert.` prefix in Transformers (nor in its state_dict
    here): the newly-initialized warning names `pooler.weight`, as Transformers' does."""
    transformers = transformers_or_skip()
    import torch

    torch.manual_seed(0)
    config = transformers.AlbertConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_attention_heads=4,
                                       intermediate_size=20, num_hidden_layers=2)
    transformers.AlbertForMaskedLM(config).save_pretrained(tmp_path)
    _, info = transformers.AlbertModel.from_pretrained(tmp_path, output_loading_info=True)
    with pytest.warns(UserWarning, match="newly initialized") as caught:
        tinyalbert.AlbertModel.from_pretrained(tmp_path)
    message = next(str(w.message) for w in caught if "newly initialized" in str(w.message))
    assert info["missing_keys"] and all(f"'{name}'" in message for name in info["missing_keys"]), message
    assert "albert.pooler" not in message
