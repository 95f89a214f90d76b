"""The API around the numbers, used as Transformers' users use it: `from_pretrained` overrides,
config arguments, `return_dict=False`, output objects, and the errors bad ids must raise.

Each behaviour is checked against transformers 4.53.3 doing the same thing."""
import importlib.util
import json
import re
import warnings

import numpy as np
import pytest

import tinyalbert
from tinyalbert import AlbertConfig

SMALL = dict(vocab_size=50, embedding_size=8, hidden_size=12, num_hidden_layers=3, num_hidden_groups=1,
             inner_group_num=1, num_attention_heads=3, intermediate_size=20, max_position_embeddings=16)
IDS = np.array([[2, 7, 9, 11, 3, 0], [2, 5, 3, 0, 0, 0]])
MASK = (IDS != 0).astype(np.int64)
# float32 through the same operations in another order: agreement to a few ulps of the values (~1).
ATOL = 2e-5
CLASS_NAMES = ("AlbertModel", "AlbertForPreTraining", "AlbertForMaskedLM", "AlbertForSequenceClassification",
               "AlbertForTokenClassification", "AlbertForQuestionAnswering", "AlbertForMultipleChoice")


def transformers_or_skip():
    pytest.importorskip("torch")
    return pytest.importorskip("transformers")


def saved_reference(tmp_path, class_name="AlbertForMaskedLM", **overrides):
    """A transformers model with random weights saved to `tmp_path`; returns the model."""
    import torch

    transformers = transformers_or_skip()
    torch.manual_seed(0)
    config = transformers.AlbertConfig(attn_implementation="eager", **{**SMALL, **overrides})
    model = getattr(transformers, class_name)(config).eval()
    model.save_pretrained(tmp_path)
    return model


def inputs_for(class_name):
    if class_name == "AlbertForMultipleChoice":
        return {"input_ids": np.stack([IDS, IDS[::-1]], axis=1), "attention_mask": np.stack([MASK, MASK[::-1]], axis=1)}
    return {"input_ids": IDS, "attention_mask": MASK}


def run_reference(model, **inputs):
    import torch

    with torch.no_grad():
        return model(**{k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()})


def as_numpy(value):
    return value.detach().numpy() if hasattr(value, "detach") else np.asarray(value)


# --- from_pretrained -----------------------------------------------------------------------------
def test_num_labels_override_gives_a_new_head_when_the_saved_config_has_labels(tmp_path):
    transformers = transformers_or_skip()
    tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL)).save_pretrained(tmp_path)  # writes id2label, 2 labels
    assert len(json.loads((tmp_path / "config.json").read_text())["id2label"]) == 2
    theirs = transformers.AlbertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    with pytest.warns(UserWarning, match="classifier.weight"):
        ours = tinyalbert.AlbertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    assert ours.config.num_labels == theirs.config.num_labels == 5
    assert ours.config.id2label == theirs.config.id2label
    assert ours.config.label2id == theirs.config.label2id
    assert ours(input_ids=IDS).logits.shape == tuple(run_reference(theirs, input_ids=IDS).logits.shape) == (2, 5)


def test_config_overrides_in_from_pretrained_match_transformers(tmp_path):
    transformers = transformers_or_skip()
    saved_reference(tmp_path)
    overrides = dict(id2label={0: "neg", 1: "neutral", 2: "pos"}, problem_type="single_label_classification",
                     output_hidden_states=True, classifier_dropout_prob=0.25)
    theirs = transformers.AlbertConfig.from_pretrained(tmp_path, **overrides)
    ours = AlbertConfig.from_pretrained(tmp_path, **overrides)
    for name in ("num_labels", "id2label", "problem_type", "output_hidden_states", "classifier_dropout_prob",
                 "hidden_size"):
        assert getattr(ours, name) == getattr(theirs, name), name
    # Transformers leaves label2id at the saved LABEL_0, LABEL_1 here; tinyalbert derives it from id2label.
    assert ours.label2id == {"neg": 0, "neutral": 1, "pos": 2}
    theirs, their_unused = transformers.AlbertConfig.from_pretrained(tmp_path, return_unused_kwargs=True,
                                                                    num_labels=4, foo=1)
    ours, our_unused = AlbertConfig.from_pretrained(tmp_path, return_unused_kwargs=True, num_labels=4, foo=1)
    assert our_unused == their_unused == {"foo": 1}
    assert ours.num_labels == theirs.num_labels == 4 and "foo" not in ours.to_dict()


def test_config_argument_replaces_the_saved_config_as_in_transformers(tmp_path):
    transformers = transformers_or_skip()
    saved_reference(tmp_path)
    config = AlbertConfig.from_pretrained(tmp_path, num_labels=4, output_hidden_states=True)
    theirs = transformers.AlbertForSequenceClassification.from_pretrained(
        tmp_path, config=transformers.AlbertConfig.from_pretrained(tmp_path, num_labels=4, output_hidden_states=True))
    with pytest.warns(UserWarning, match="classifier.weight"):
        ours = tinyalbert.AlbertForSequenceClassification.from_pretrained(tmp_path, config=config)
    assert ours.config.num_labels == theirs.config.num_labels == 4
    reference = run_reference(theirs, input_ids=IDS)
    assert ours(input_ids=IDS).logits.shape == tuple(reference.logits.shape) == (2, 4)
    assert len(ours(input_ids=IDS).hidden_states) == len(reference.hidden_states)
    # Overrides apply on a copy: the caller's config keeps its 4 labels.
    with pytest.warns(UserWarning, match="classifier.weight"):
        three = tinyalbert.AlbertForSequenceClassification.from_pretrained(tmp_path, config=config, num_labels=3)
    assert three.config.num_labels == 3 and config.num_labels == 4
    config.save_pretrained(tmp_path / "elsewhere")
    with pytest.warns(UserWarning, match="classifier.weight"):
        from_path = tinyalbert.AlbertForSequenceClassification.from_pretrained(tmp_path, config=tmp_path / "elsewhere")
    assert from_path.config.num_labels == 4
    with pytest.raises(TypeError, match="config must be a tinyalbert AlbertConfig"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, config={"num_labels": 4})


def test_unknown_from_pretrained_argument_is_a_type_error(tmp_path):
    transformers = transformers_or_skip()
    saved_reference(tmp_path)
    with pytest.raises(TypeError):
        transformers.AlbertForMaskedLM.from_pretrained(tmp_path, num_label=5)
    with pytest.raises(TypeError, match="num_label"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, num_label=5)
    # Transformers' own model arguments are accepted.
    tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, attn_implementation="eager")


def test_loader_only_arguments_of_transformers_are_accepted_and_change_nothing(tmp_path):
    """Lines copied from Transformers code pass trust_remote_code and low_cpu_mem_usage; both
    load the same weights there, and here too, without keeping either in the config."""
    reference = saved_reference(tmp_path)
    transformers = transformers_or_skip()
    loader_only = dict(trust_remote_code=True, low_cpu_mem_usage=True)
    theirs = transformers.AlbertForMaskedLM.from_pretrained(tmp_path, **loader_only).eval()
    ours = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, **loader_only)
    expected = as_numpy(run_reference(reference, input_ids=IDS, attention_mask=MASK).logits)
    np.testing.assert_array_equal(as_numpy(run_reference(theirs, input_ids=IDS, attention_mask=MASK).logits), expected)
    np.testing.assert_allclose(np.asarray(ours(IDS, attention_mask=MASK).logits), expected, atol=ATOL)
    their_config = transformers.AutoConfig.from_pretrained(tmp_path, trust_remote_code=True).to_dict()
    our_config = tinyalbert.AutoConfig.from_pretrained(tmp_path, trust_remote_code=True).to_dict()
    assert "trust_remote_code" not in their_config and "trust_remote_code" not in our_config
    assert "trust_remote_code" not in ours.config.to_dict()
    tokenizer = tinyalbert.AutoTokenizer.from_pretrained("tinyalbert-mini", trust_remote_code=True)
    assert tokenizer("A dog.")["input_ids"] == tinyalbert.AutoTokenizer.from_pretrained("tinyalbert-mini")("A dog.")["input_ids"]


def cupy_gpu_present() -> bool:
    try:
        tinyalbert.backend.get_backend("cupy")
    except RuntimeError:
        return False
    return True


def test_device_map_puts_the_whole_model_on_one_device(tmp_path):
    """Transformers needs accelerate for device_map, so this is checked against the rule itself:
    one device, "auto" the GPU when there is one; a map over several devices is refused."""
    from tinyalbert.backend import device_of_map

    tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL)).save_pretrained(tmp_path)
    auto = "cuda" if cupy_gpu_present() else "cpu"
    for device_map, device in (("cpu", "cpu"), ({"": "cpu"}, "cpu"), ({"albert": -1, "predictions": -1}, -1),
                               ("auto", auto), ("balanced", auto), ({"": 0}, 0)):
        assert device_of_map(device_map) == device, device_map
    for device_map in ("cpu", {"": "cpu"}, "auto"):
        model = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, device_map=device_map)
        assert model.device.split(":")[0] == ("cpu" if device_map != "auto" else auto)  # "cuda:0" on a GPU
    with pytest.raises(ValueError, match="spreads the model over"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, device_map={"albert": "cpu", "predictions": 0})
    with pytest.raises(ValueError, match="unknown device 'disk'"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, device_map={"": "disk"})
    if not cupy_gpu_present():  # the missing GPU is found before any file is read
        with pytest.raises(RuntimeError, match="needs CuPy and a CUDA GPU"):
            tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path / "no such directory", device_map={"": 0})
    fill = tinyalbert.pipeline("fill-mask", device_map="auto", trust_remote_code=True)
    assert fill.model.device.split(":")[0] == auto
    with pytest.raises(ValueError, match="device or device_map, not both"):
        tinyalbert.pipeline("fill-mask", device="cpu", device_map="cpu")


def test_torch_dtype_argument_sets_the_model_dtype_as_in_transformers(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = transformers_or_skip()
    saved_reference(tmp_path)
    for value in ("float16", torch.float16, torch.float64):
        theirs = transformers.AlbertForMaskedLM.from_pretrained(tmp_path, torch_dtype=value)
        ours = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, torch_dtype=value)
        assert str(ours.dtype).split(".")[-1].strip("'>") == str(theirs.dtype).split(".")[-1]
    tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL), dtype="float64").save_pretrained(tmp_path / "f64")
    theirs = transformers.AlbertForMaskedLM.from_pretrained(tmp_path / "f64", torch_dtype="auto")
    ours = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path / "f64", torch_dtype="auto")
    assert theirs.dtype == torch.float64 and "float64" in str(ours.dtype)


def test_mismatched_head_raises_unless_ignore_mismatched_sizes(tmp_path):
    transformers = transformers_or_skip()
    reference = saved_reference(tmp_path, "AlbertForSequenceClassification")  # a 2-label head
    with pytest.raises(RuntimeError, match="size mismatch"):
        transformers.AlbertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    with pytest.raises(ValueError, match=r"classifier\.weight.*\(2, 12\).*\(5, 12\).*ignore_mismatched_sizes"):
        tinyalbert.AlbertForSequenceClassification.from_pretrained(tmp_path, num_labels=5)
    theirs = transformers.AlbertForSequenceClassification.from_pretrained(
        tmp_path, num_labels=5, ignore_mismatched_sizes=True)
    with pytest.warns(UserWarning, match=r"classifier\.weight: found shape \(2, 12\)"):
        ours = tinyalbert.AlbertForSequenceClassification.from_pretrained(
            tmp_path, num_labels=5, ignore_mismatched_sizes=True)
    assert ours(input_ids=IDS).logits.shape == (2, 5) == tuple(run_reference(theirs, input_ids=IDS).logits.shape)
    # Everything but the head came from the checkpoint.
    pooled = tinyalbert.AlbertModel.from_pretrained(tmp_path)(input_ids=IDS, attention_mask=MASK).pooler_output
    expected = run_reference(reference.albert, input_ids=IDS, attention_mask=MASK).pooler_output.numpy()
    np.testing.assert_allclose(pooled, expected, atol=ATOL)
    np.testing.assert_array_equal(ours.params["albert.pooler.weight"], reference.albert.pooler.weight.detach().numpy())


def test_a_pad_token_id_outside_the_vocabulary_is_refused_when_the_model_is_built(tmp_path):
    transformers = transformers_or_skip()
    saved_reference(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "pad_token_id": SMALL["vocab_size"]}))
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        transformers.AlbertForMaskedLM.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match=rf"config\.json has pad_token_id 50, not an id of its 50-piece"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)
    with pytest.raises(AssertionError, match="Padding_idx"):
        transformers.AlbertModel(transformers.AlbertConfig(**SMALL, pad_token_id=50))
    with pytest.raises(ValueError, match="pad_token_id 50, not an id"):
        tinyalbert.AlbertModel(AlbertConfig(**SMALL, pad_token_id=50))
    # The config alone is valid in both (a tokenizer may be chosen later), and the last row works.
    assert transformers.AlbertConfig(**SMALL, pad_token_id=50).pad_token_id == 50 == AlbertConfig(**SMALL, pad_token_id=50).pad_token_id
    table = tinyalbert.AlbertModel(AlbertConfig(**SMALL, pad_token_id=49)).params["albert.embeddings.word_embeddings.weight"]
    assert not table[49].any() and table[48].any()


def test_main_input_name_parameters_and_their_count_match_transformers(tmp_path):
    transformers_or_skip()
    for class_name in CLASS_NAMES:
        reference = saved_reference(tmp_path / class_name, class_name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = getattr(tinyalbert, class_name).from_pretrained(tmp_path / class_name)
        assert ours.main_input_name == reference.main_input_name == "input_ids"
        assert ours.device == str(reference.device) == "cpu"
        assert ours.num_parameters() == reference.num_parameters(), class_name
        assert ours.num_parameters(exclude_embeddings=True) == reference.num_parameters(exclude_embeddings=True)
        assert ours.num_parameters(only_trainable=True) == reference.num_parameters(only_trainable=True)
        # The same names and shapes as torch lists (the pretraining heads in another order).
        theirs = {name: tuple(value.shape) for name, value in reference.named_parameters()}
        assert {name: tuple(value.shape) for name, value in ours.named_parameters()} == theirs, class_name
        assert sum(value.size for value in ours.parameters()) == ours.num_parameters()


def test_to_and_its_shorthands_cast_in_place_as_torch_does(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = transformers_or_skip()
    saved_reference(tmp_path)
    theirs = transformers.AlbertForMaskedLM.from_pretrained(tmp_path)
    ours = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)
    float32_logits = ours(input_ids=IDS, attention_mask=MASK).logits
    float32_params = {name: value.copy() for name, value in ours.params.items()}
    calls = [(lambda m: m.to(torch.float16), "float16"), (lambda m: m.to("cpu", torch.float64), "float64"),
             (lambda m: m.to(dtype=torch.float32), "float32"), (lambda m: m.half(), "float16"),
             (lambda m: m.double(), "float64"), (lambda m: m.to(torch.device("cpu")), "float64"),
             (lambda m: m.cpu(), "float64"), (lambda m: m.float(), "float32"),
             (lambda m: m.to(device="cpu", dtype=torch.float16), "float16")]
    for call, name in calls:
        assert call(theirs) is theirs and call(ours) is ours  # in place, and the model comes back
        assert str(theirs.dtype) == f"torch.{name}" and ours.dtype == getattr(np, name) and ours.dtype_name == name
        assert {str(v.dtype) for v in ours.params.values()} == {name} and ours.device == str(theirs.device) == "cpu"
    # NumPy's and plain names too; the values survive a round trip through float64 exactly.
    assert ours.to(np.float64).dtype_name == "float64" and ours.to("float32").dtype_name == "float32"
    ours.load_state_dict(float32_params)
    for name, value in ours.double().float().params.items():
        np.testing.assert_array_equal(value, float32_params[name])
    half = ours.half()(input_ids=IDS, attention_mask=MASK).logits
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.astype(np.float32), float32_logits, atol=0.05)  # float16 keeps ~3 digits
    ours.save_pretrained(tmp_path / "half")
    assert AlbertConfig.from_pretrained(tmp_path / "half").saved_dtype() == "float16"


def test_to_refuses_what_it_cannot_do_and_leaves_the_model_as_it_was():
    torch = pytest.importorskip("torch")
    model = tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL))
    with pytest.raises(ValueError, match="unknown device 'mps'"):
        model.to("mps")
    with pytest.raises(ValueError, match="unsupported dtype"):
        model.to(torch.int64)
    with pytest.raises(ValueError, match="unsupported dtype"):
        model.to(dtype="bfloat16")
    if importlib.util.find_spec("cupy") is None:  # with no CuPy, asking for the GPU says what to install
        with pytest.raises(RuntimeError, match="needs CuPy"):
            model.cuda()
        with pytest.raises(RuntimeError, match="needs CuPy"):
            tinyalbert.pipeline("fill-mask", device=0)
    assert model.dtype_name == "float32" and model.device == "cpu"
    assert {str(v.dtype) for v in model.params.values()} == {"float32"}


def test_pipeline_device_and_torch_dtype_move_a_built_model_as_in_transformers():
    torch = pytest.importorskip("torch")
    built = tinyalbert.AlbertForMaskedLM.from_pretrained("tinyalbert-mini")
    tokenizer = tinyalbert.AlbertTokenizer.from_pretrained("tinyalbert-mini")
    fill = tinyalbert.pipeline("fill-mask", model=built, tokenizer=tokenizer, device=-1, torch_dtype=torch.float64)
    assert fill.model is built and built.dtype_name == "float64" and built.device == "cpu"
    loaded = tinyalbert.pipeline("fill-mask", device="cpu", torch_dtype="float16")
    assert loaded.model.dtype_name == "float16"
    text = "A physician is a [MASK]."
    assert [p["token"] for p in fill(text)] == [p["token"] for p in tinyalbert.pipeline("fill-mask")(text)]


@pytest.mark.parametrize("new_size, multiple, tied", [(53, None, True), (45, None, True), (51, 8, True),
                                                     (55, None, False)])
def test_resize_token_embeddings_matches_transformers(tmp_path, new_size, multiple, tied):
    import torch

    reference = saved_reference(tmp_path, "AlbertForMaskedLM", tie_word_embeddings=tied)
    with torch.no_grad():  # a trained bias is not zero: a tied model's new rows get 0, an untied one's the mean
        reference.predictions.bias.normal_()
    reference.save_pretrained(tmp_path)
    ours = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)
    torch.manual_seed(0)
    their_table = reference.resize_token_embeddings(new_size, pad_to_multiple_of=multiple)
    table = ours.resize_token_embeddings(new_size, pad_to_multiple_of=multiple)
    assert ours.config.vocab_size == reference.config.vocab_size == table.num_embeddings == their_table.num_embeddings
    assert table.weight is ours.params["albert.embeddings.word_embeddings.weight"]
    theirs = reference.state_dict()
    for name, value in ours.state_dict().items():
        # New rows: the old rows' mean here; Transformers adds noise of 1e-9 x their covariance.
        np.testing.assert_allclose(value, theirs[name].detach().numpy(), atol=1e-5, err_msg=name)
    np.testing.assert_allclose(ours(input_ids=IDS).logits, run_reference(reference, input_ids=IDS).logits.numpy(),
                               atol=ATOL)


@pytest.mark.parametrize("tied", [True, False])
def test_input_and_output_embeddings_are_the_tables_transformers_hands_out(tmp_path, tied):
    """get_input_embeddings(): the word table, which looks ids up; get_output_embeddings(): the
    MLM decoder (the same table when tied) and the MLM bias, or None for a class without one.
    Both are views of the model's parameters: they follow a resize, and setting them sets the model."""
    import torch

    reference = saved_reference(tmp_path, "AlbertForMaskedLM", tie_word_embeddings=tied)
    ours = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)
    embeddings, theirs = ours.get_input_embeddings(), reference.get_input_embeddings()
    assert (embeddings.num_embeddings, embeddings.embedding_dim, embeddings.padding_idx) == \
        (theirs.num_embeddings, theirs.embedding_dim, theirs.padding_idx)
    assert embeddings.weight is ours.params["albert.embeddings.word_embeddings.weight"]
    np.testing.assert_array_equal(embeddings(IDS), theirs(torch.tensor(IDS)).detach().numpy())
    decoder, their_decoder = ours.get_output_embeddings(), reference.get_output_embeddings()
    assert (decoder.in_features, decoder.out_features) == (their_decoder.in_features, their_decoder.out_features)
    assert (decoder.weight is embeddings.weight) == tied == (their_decoder.weight is theirs.weight)
    np.testing.assert_array_equal(decoder.weight, their_decoder.weight.detach().numpy())
    np.testing.assert_array_equal(decoder.bias, their_decoder.bias.detach().numpy())
    hidden = np.random.default_rng(0).standard_normal((2, 3, 8)).astype(np.float32)
    np.testing.assert_allclose(decoder(hidden), their_decoder(torch.tensor(hidden)).detach().numpy(), atol=ATOL)
    for class_name in ("AlbertModel", "AlbertForSequenceClassification"):
        model = getattr(tinyalbert, class_name)(AlbertConfig(**SMALL))
        assert model.get_output_embeddings() is None is getattr(transformers_or_skip(), class_name)(
            transformers_or_skip().AlbertConfig(**SMALL)).get_output_embeddings()
        assert model.get_input_embeddings().weight.shape == (50, 8)

    ours.resize_token_embeddings(60)
    assert embeddings.num_embeddings == 60 and decoder.bias.shape == (60,)
    ours.set_input_embeddings(np.zeros((60, 8)))
    assert not np.any(ours.params["albert.embeddings.word_embeddings.weight"])
    assert ours.params["albert.embeddings.word_embeddings.weight"].dtype == np.float32
    with pytest.raises(ValueError, match=r"shape \(60, 8\).*resize_token_embeddings"):
        embeddings.weight = np.zeros((61, 8))


def test_resize_token_embeddings_without_mean_and_bad_sizes():
    model = tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL), seed=0)
    table = model.resize_token_embeddings(np.int64(60), mean_resizing=False).weight  # NumPy ints too, as torch takes them
    assert table.shape == (60, 8) and model.params["predictions.bias"].shape == (60,)
    assert 0.005 < table[50:].std() < 0.05  # N(0, initializer_range = 0.02)
    assert model(input_ids=np.array([[59]])).logits.shape == (1, 1, 60)
    assert model.resize_token_embeddings().weight is model.params["albert.embeddings.word_embeddings.weight"]
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="new_num_tokens"):
            model.resize_token_embeddings(bad)


# --- AlbertConfig --------------------------------------------------------------------------------
CONFIG_ARGUMENTS = [
    dict(num_labels=4),
    dict(id2label={0: "a", 1: "b", 2: "c"}),
    dict(id2label={"0": "x", "1": "y"}),
    dict(num_labels=3, problem_type="multi_label_classification"),
    dict(output_hidden_states=True, output_attentions=True, return_dict=False),
    dict(torch_dtype="float16", architectures=["AlbertForMaskedLM"]),
    dict(tie_word_embeddings=False, classifier_dropout_prob=None),
]


@pytest.mark.parametrize("arguments", CONFIG_ARGUMENTS)
def test_config_constructor_arguments_match_transformers(arguments):
    transformers = transformers_or_skip()
    theirs = transformers.AlbertConfig(**SMALL, **arguments)
    ours = AlbertConfig(**SMALL, **arguments)
    for name in ("num_labels", "id2label", "problem_type", "output_hidden_states", "output_attentions",
                 "return_dict", "architectures", "tie_word_embeddings", "classifier_dropout_prob"):
        assert getattr(ours, name) == getattr(theirs, name), name
    # Given id2label alone, Transformers leaves label2id None; tinyalbert always derives it from id2label.
    assert ours.label2id == (theirs.label2id or {label: i for i, label in theirs.id2label.items()})
    if "torch_dtype" in arguments:
        assert ours.torch_dtype == arguments["torch_dtype"]
    their_dict, our_dict = theirs.to_dict(), ours.to_dict()
    for name, value in our_dict.items():
        if name in their_dict and name not in ("transformers_version", "label2id"):
            assert value == their_dict[name] or (name == "torch_dtype" and str(their_dict[name]) == value), name


def test_num_labels_setter_and_label2id_only(tmp_path):
    transformers = transformers_or_skip()
    ours, theirs = AlbertConfig(**SMALL), transformers.AlbertConfig(**SMALL)
    ours.num_labels = theirs.num_labels = 3
    assert ours.id2label == theirs.id2label and ours.label2id == theirs.label2id
    # Given label2id alone, tinyalbert builds id2label from it (Transformers would keep LABEL_0, LABEL_1).
    assert AlbertConfig(label2id={"neg": 0, "pos": 1}).id2label == {0: "neg", 1: "pos"}


def test_attributes_set_on_a_config_are_saved_as_in_transformers(tmp_path):
    transformers = transformers_or_skip()
    ours, theirs = AlbertConfig(**SMALL), transformers.AlbertConfig(**SMALL)
    for config in (ours, theirs):  # the usual fine-tuning set-up, then a field of the user's own
        config.id2label = {0: "neg", 1: "neu", 2: "pos"}
        config.label2id = {"neg": 0, "neu": 1, "pos": 2}
        config.task_notes = {"source": "reviews"}
    ours.save_pretrained(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "theirs")
    saved = {name: json.loads((tmp_path / name / "config.json").read_text()) for name in ("ours", "theirs")}
    for key in ("id2label", "label2id", "task_notes"):
        assert saved["ours"][key] == saved["theirs"][key], key
    again = transformers.AlbertConfig.from_pretrained(tmp_path / "ours")
    assert again.task_notes == {"source": "reviews"} and again.num_labels == ours.num_labels == 3
    # label2id given alone replaces the labels (Transformers would leave id2label as it was).
    ours.label2id = {"no": 0, "yes": 1}
    assert ours.id2label == {0: "no", 1: "yes"} and ours.num_labels == 2
    with pytest.raises(ValueError, match="label2id"):
        ours.label2id = ["no", "yes"]
    ours.hidden_size = 24  # a field stays a field
    assert ours.to_dict()["hidden_size"] == 24 and "hidden_size" not in ours.extra


def test_to_json_string_and_file_are_read_by_transformers(tmp_path):
    transformers = transformers_or_skip()
    ours = AlbertConfig(**SMALL, num_labels=3, output_hidden_states=True, hidden_act="gelu")
    for use_diff in (True, False):
        file = tmp_path / f"config-{use_diff}.json"
        ours.to_json_file(file, use_diff=use_diff)
        assert json.loads(file.read_text()) == json.loads(ours.to_json_string(use_diff=use_diff))
        theirs = transformers.AlbertConfig.from_json_file(file)
        again = AlbertConfig.from_json_file(file)
        for name in ("num_labels", "hidden_size", "hidden_act", "output_hidden_states", "id2label"):
            assert getattr(theirs, name) == getattr(ours, name) == getattr(again, name), (name, use_diff)
    diff = json.loads(ours.to_json_string())
    # As Transformers: every ALBERT field stays, generic fields at their defaults go.
    assert "hidden_act" in diff and "layer_norm_eps" in diff and "return_dict" not in diff
    assert ours.to_dict()["layer_norm_eps"] == 1e-12
    assert json.loads(json.dumps(ours.to_diff_dict())) == diff


def test_update_and_use_return_dict_behave_as_in_transformers():
    transformers = transformers_or_skip()
    ours, theirs = AlbertConfig(**SMALL), transformers.AlbertConfig(**SMALL)
    changes = {"hidden_dropout_prob": 0.3, "num_labels": 4, "return_dict": False}
    ours.update(changes)
    theirs.update(changes)
    for name in ("hidden_dropout_prob", "num_labels", "id2label", "use_return_dict"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.use_return_dict is False
    with pytest.raises(ValueError, match="hidden_dropout_prob"):
        ours.update({"hidden_dropout_prob": "high"})  # checked, where Transformers would take it
    assert ours.hidden_dropout_prob == 0.3  # and left as it was


@pytest.mark.parametrize("contents, field", [
    ([1, 2, 3], "JSON object"),
    ({"id2label": ["neg", "pos"]}, "id2label"),
    ({"hidden_size": "768"}, "hidden_size"),
    ({"hidden_dropout_prob": "0.1"}, "hidden_dropout_prob"),
    ({"layer_norm_eps": None}, "layer_norm_eps"),
    ({"tie_word_embeddings": "yes"}, "tie_word_embeddings"),
    ({"pad_token_id": -1}, "pad_token_id"),
    ({"id2label": {"zero": "a"}}, "id2label"),
    ({"id2label": {"0": "a", "2": "b"}}, "id2label"),
    ({"architectures": "AlbertForMaskedLM"}, "architectures"),
    ({"num_labels": "3"}, "num_labels"),
    ({"id2label": 5, "num_labels": 3}, "id2label"),
    ({"label2id": [1]}, "label2id"),
])
def test_bad_config_json_names_the_file_and_the_field(tmp_path, contents, field):
    (tmp_path / "config.json").write_text(json.dumps(contents))
    with pytest.raises(ValueError) as error:
        AlbertConfig.from_pretrained(tmp_path)
    assert str(tmp_path / "config.json") in str(error.value) and field in str(error.value)


def test_config_json_oddities_that_are_valid(tmp_path):
    transformers = transformers_or_skip()
    values = {**SMALL, "id2label": None, "extra": {"kept": 1}, "some_other_field": [1, 2]}
    (tmp_path / "config.json").write_text(json.dumps(values))
    ours, theirs = AlbertConfig.from_pretrained(tmp_path), transformers.AlbertConfig.from_pretrained(tmp_path)
    assert ours.id2label == theirs.id2label == {0: "LABEL_0", 1: "LABEL_1"}  # null: the default labels
    assert ours.to_dict()["extra"] == theirs.to_dict()["extra"] == {"kept": 1}
    assert ours.some_other_field == theirs.some_other_field == [1, 2]


# --- outputs -------------------------------------------------------------------------------------
def loaded_pair(tmp_path, class_name, **config):
    reference = saved_reference(tmp_path, class_name, **config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(tinyalbert, class_name).from_pretrained(tmp_path), reference


@pytest.mark.parametrize("class_name", CLASS_NAMES)
def test_config_output_flags_are_honoured_by_every_class(tmp_path, class_name):
    ours, theirs = loaded_pair(tmp_path, class_name, output_hidden_states=True, output_attentions=True)
    inputs = inputs_for(class_name)
    our_out, their_out = ours(**inputs), run_reference(theirs, **inputs)
    assert our_out.keys() == list(their_out.keys())
    assert len(our_out.hidden_states) == len(their_out.hidden_states) == SMALL["num_hidden_layers"] + 1
    their_arrays = their_out.hidden_states + their_out.attentions
    for mine, reference in zip(our_out.hidden_states + our_out.attentions, their_arrays):
        np.testing.assert_allclose(mine, as_numpy(reference), atol=ATOL)
    # An explicit argument wins over the config.
    assert ours(**inputs, output_hidden_states=False).hidden_states is None


@pytest.mark.parametrize("class_name", CLASS_NAMES)
def test_return_dict_false_gives_the_same_tuple_as_transformers(tmp_path, class_name):
    ours, theirs = loaded_pair(tmp_path, class_name)
    inputs = inputs_for(class_name)
    labels = {
        "AlbertForPreTraining": {"labels": np.where(IDS > 5, IDS, -100), "sentence_order_label": np.array([0, 1])},
        "AlbertForMaskedLM": {"labels": np.where(IDS > 5, IDS, -100)},
        "AlbertForSequenceClassification": {"labels": np.array([1, 0])},
        "AlbertForTokenClassification": {"labels": np.where(MASK == 1, IDS % 2, -100)},
        "AlbertForQuestionAnswering": {"start_positions": np.array([1, 30]), "end_positions": np.array([3, 2])},
        "AlbertForMultipleChoice": {"labels": np.array([1, 0])},
    }.get(class_name, {})
    our_tuple = ours(**inputs, **labels, return_dict=False)
    their_tuple = run_reference(theirs, **inputs, **labels, return_dict=False)
    assert isinstance(our_tuple, tuple) and len(our_tuple) == len(their_tuple)
    for mine, reference in zip(our_tuple, their_tuple):
        np.testing.assert_allclose(mine, as_numpy(reference), atol=ATOL)
    if labels:
        loss, first = ours(**inputs, **labels, return_dict=False)[:2]
        assert np.ndim(loss) == 0
    ours.config.return_dict = False  # the config's default, as in Transformers
    assert isinstance(ours(**inputs), tuple)


def test_model_output_behaves_like_transformers_model_output(tmp_path):
    ours, theirs = loaded_pair(tmp_path, "AlbertForMaskedLM")
    labels = np.where(IDS > 5, IDS, -100)
    for kwargs in ({}, {"labels": labels}, {"labels": labels, "output_hidden_states": True}):
        mine, reference = ours(input_ids=IDS, **kwargs), run_reference(theirs, input_ids=IDS, **kwargs)
        assert list(mine.keys()) == list(reference.keys()) == list(mine)
        assert len(mine) == len(reference) == len(mine.values()) == len(mine.to_tuple())
        assert [name for name, _ in mine.items()] == [name for name, _ in reference.items()]
        np.testing.assert_allclose(mine[0], as_numpy(reference[0]), atol=ATOL)
        np.testing.assert_allclose(mine[-1 if "hidden_states" not in kwargs else 1], as_numpy(
            reference[-1 if "hidden_states" not in kwargs else 1]), atol=ATOL)
        assert len(mine[1:]) == len(reference[1:])
        assert ("loss" in mine) == ("loss" in reference)
        assert list(dict(mine)) == list(dict(reference))  # dict(out) works as with a Transformers output
        np.testing.assert_allclose(mine["logits"], as_numpy(reference["logits"]), atol=ATOL)
        for unset in ({"loss", "hidden_states", "attentions"} - set(mine.keys())):
            assert getattr(mine, unset) is None and getattr(reference, unset) is None
            with pytest.raises(KeyError):
                reference[unset]
            with pytest.raises(KeyError):
                mine[unset]


def test_output_classes_are_related_as_in_transformers():
    transformers = transformers_or_skip()
    from transformers import modeling_outputs
    from transformers.models.albert import modeling_albert

    from tinyalbert import outputs

    def reference_class(name):
        if name == "ModelOutput":
            return transformers.utils.ModelOutput
        return getattr(modeling_outputs, name, None) or getattr(modeling_albert, name)

    names = [name for name, value in vars(outputs).items()
             if isinstance(value, type) and issubclass(value, outputs.ModelOutput)]
    assert len(names) == 8
    for first in names:
        for second in names:
            ours = issubclass(getattr(outputs, first), getattr(outputs, second))
            assert ours == issubclass(reference_class(first), reference_class(second)), (first, second)


# --- bad ids: an error naming the argument, never a silent wrong answer --------------------------
@pytest.fixture(scope="module")
def models():
    config = AlbertConfig(**SMALL, num_labels=2)
    return {name: getattr(tinyalbert, name)(config, seed=0) for name in CLASS_NAMES}


@pytest.mark.parametrize("name, value, fragment", [
    ("token_type_ids", -1, r"token_type_ids.*\[0, 2\).*-1"),
    ("token_type_ids", 2, r"token_type_ids.*\[0, 2\).*got 2"),
    ("position_ids", -3, r"position_ids.*\[0, 16\).*-3"),
    ("position_ids", 16, r"position_ids.*\[0, 16\)"),
])
def test_out_of_range_ids_raise_naming_the_argument(models, name, value, fragment):
    ids = np.full(IDS.shape, 1)
    ids[0, 2] = value
    for model in (models["AlbertModel"], models["AlbertForMaskedLM"]):
        with pytest.raises(ValueError, match=fragment):
            model(input_ids=IDS, **{name: ids})
    with pytest.raises(ValueError, match="position_ids|token_type_ids"):
        models["AlbertModel"](input_ids=IDS, **{name: np.full(IDS.shape, 0.5)})  # not integers


def test_head_mask_of_the_wrong_shape_names_both_sizes(models):
    model = models["AlbertModel"]
    for shape in ((2,), (3, 2), (2, 3), (1, 3, 1)):
        with pytest.raises(ValueError, match=r"head_mask must have shape \(3,\).*\(3, 3\)"):
            model(input_ids=IDS, head_mask=np.ones(shape))
    model(input_ids=IDS, head_mask=np.ones(3))  # the heads of every layer
    model(input_ids=IDS, head_mask=np.ones((3, 3)))


@pytest.mark.parametrize("class_name, labels, fragment", [
    ("AlbertForMaskedLM", {"labels": np.full(IDS.shape, -5)}, r"labels.*\[0, 50\) or -100.*-5"),
    ("AlbertForMaskedLM", {"labels": np.full(IDS.shape, 50)}, r"labels.*\[0, 50\)"),
    ("AlbertForMaskedLM", {"labels": np.full((2, 3), 1)}, r"labels.*shape \(2, 6\)"),
    ("AlbertForPreTraining", {"labels": np.full(IDS.shape, -100), "sentence_order_label": np.array([0, 2])},
     r"sentence_order_label.*\[0, 2\)"),
    ("AlbertForSequenceClassification", {"labels": np.array([0, 3])}, r"labels.*\[0, 3\)"),
    ("AlbertForSequenceClassification", {"labels": np.array([-1, 0])}, r"labels.*-1"),
    ("AlbertForTokenClassification", {"labels": np.full(IDS.shape, -2)}, r"labels.*\[0, 3\) or -100"),
    ("AlbertForSequenceClassification", {"labels": np.array([0, 1, 2])}, r"labels.*shape \(2,\)"),
    # Multi-hot integers read as class ids (as in Transformers): the message says what to do instead.
    ("AlbertForSequenceClassification", {"labels": np.array([[1, 0, 1], [0, 1, 1]])},
     r"labels must have shape \(2,\), one class id per example.*got \(2, 3\); multi-hot targets must be floats"),
    ("AlbertForSequenceClassification", {"labels": np.ones((2, 2))}, r"one value per logit.*\(2, 3\)"),
    ("AlbertForMultipleChoice", {"labels": np.array([2, 0])}, r"labels.*\[0, 2\)"),
    ("AlbertForQuestionAnswering", {"start_positions": np.array([0.5, 0]), "end_positions": np.array([1, 1])},
     r"start_positions must be integers"),
    ("AlbertForQuestionAnswering", {"start_positions": np.array([0, 0]), "end_positions": np.array([1, 1, 2])},
     r"end_positions.*shape \(2,\)"),
])
def test_bad_labels_raise_naming_the_argument(tmp_path, class_name, labels, fragment):
    config = AlbertConfig(**SMALL, num_labels=2 if class_name == "AlbertForQuestionAnswering" else 3)
    model = getattr(tinyalbert, class_name)(config, seed=0)
    with pytest.raises(ValueError, match=fragment):
        model(**inputs_for(class_name), **labels)


def test_loss_and_grads_checks_its_labels_too():
    config = AlbertConfig(**SMALL)
    with pytest.raises(ValueError, match=r"labels.*\[0, 50\) or -100.*-5"):
        tinyalbert.AlbertForMaskedLM(config).loss_and_grads(IDS, np.full(IDS.shape, -5))
    with pytest.raises(ValueError, match=r"sentence_order_label.*\[0, 2\).*-1"):
        tinyalbert.AlbertForPreTraining(config).loss_and_grads(IDS, np.full(IDS.shape, -100), np.array([0, -1]))


@pytest.mark.parametrize("class_name, labels, fragment", [
    ("AlbertForSequenceClassification", (np.array([0, 2]),), r"labels.*\[0, 2\)"),
    ("AlbertForTokenClassification", (np.full(IDS.shape, -3),), r"labels.*\[0, 2\) or -100.*-3"),
    ("AlbertForQuestionAnswering", (np.array([0, 1, 2]), np.array([1, 1])), r"start_positions.*shape \(2,\)"),
    ("AlbertForMultipleChoice", (np.array([0, 5]),), r"labels.*\[0, 2\)"),
])
def test_task_loss_and_grads_check_labels_as_forward_does(models, class_name, labels, fragment):
    with pytest.raises(ValueError, match=fragment):
        models[class_name].loss_and_grads(inputs_for(class_name)["input_ids"], *labels)


def test_ignored_and_clamped_labels_give_transformers_loss(tmp_path):
    """-100 is skipped; QA positions are clamped to [0, seq] and seq skipped, as in Transformers."""
    for class_name, labels in (
        ("AlbertForMaskedLM", {"labels": np.where(IDS > 5, IDS, -100)}),
        ("AlbertForQuestionAnswering", {"start_positions": np.array([2, 99]), "end_positions": np.array([4, 1])}),
        ("AlbertForQuestionAnswering", {"start_positions": np.array([-1, 3]), "end_positions": np.array([-7, 2])}),
        ("AlbertForTokenClassification", {"labels": np.where(MASK == 1, 1, -100)}),
    ):
        ours, theirs = loaded_pair(tmp_path / class_name, class_name)
        loss = ours(input_ids=IDS, attention_mask=MASK, **labels).loss
        expected = run_reference(theirs, input_ids=IDS, attention_mask=MASK, **labels).loss.item()
        np.testing.assert_allclose(float(loss), expected, rtol=1e-5)


def test_flattened_position_labels_give_transformers_loss(tmp_path):
    """Transformers flattens the labels of the per-position losses (labels.view(-1)), so
    (batch * seq,) labels and a (batch, 1) sentence-order label work there, and here."""
    flat = np.where(IDS > 5, IDS, -100).reshape(-1)
    for class_name, labels in (
        ("AlbertForMaskedLM", {"labels": flat}),
        ("AlbertForPreTraining", {"labels": flat, "sentence_order_label": np.array([[1], [0]])}),
        ("AlbertForTokenClassification", {"labels": np.where(MASK == 1, 1, -100).reshape(-1)}),
    ):
        ours, theirs = loaded_pair(tmp_path / class_name, class_name)
        loss = ours(input_ids=IDS, attention_mask=MASK, **labels).loss
        expected = run_reference(theirs, input_ids=IDS, attention_mask=MASK, **labels).loss.item()
        np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    # A transposed (seq, batch) array has the right count but is not a flattening: refused.
    with pytest.raises(ValueError, match="shape"):
        ours(input_ids=IDS, attention_mask=MASK, labels=np.where(MASK == 1, 1, -100).T)


@pytest.mark.parametrize("shape", [(0, 5), (2, 0)])
def test_empty_batch_or_sequence_is_a_clear_error(models, shape):
    for model in models.values():
        ids = np.zeros(shape, dtype=np.int64)
        if isinstance(model, tinyalbert.AlbertForMultipleChoice):
            ids = ids[:, None, :]
        with pytest.raises(ValueError, match=r"empty"):
            model(input_ids=ids)


def test_nan_weights_warn_at_load_naming_the_tensors(tmp_path):
    model = tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL), seed=0)
    model.params["predictions.dense.weight"][0, 0] = np.nan
    model.params["albert.embeddings.LayerNorm.bias"][1] = np.inf
    model.save_pretrained(tmp_path)
    with pytest.warns(UserWarning, match=r"NaN or infinite.*albert\.embeddings\.LayerNorm\.bias.*predictions\.dense"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a finite checkpoint loads without a warning
        tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL), seed=0).save_pretrained(tmp_path / "fine")
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path / "fine")


# --- Auto classes --------------------------------------------------------------------------------
def test_auto_classes_give_the_class_transformers_auto_classes_give(tmp_path):
    transformers = transformers_or_skip()
    for class_name in CLASS_NAMES:
        saved_reference(tmp_path / class_name, class_name)
        auto_name = "AutoModel" + {"AlbertModel": ""}.get(class_name, class_name.replace("Albert", ""))
        theirs = getattr(transformers, auto_name).from_pretrained(tmp_path / class_name)
        ours = getattr(tinyalbert, auto_name).from_pretrained(tmp_path / class_name)
        assert type(ours).__name__ == type(theirs).__name__ == class_name, auto_name
        fresh = getattr(tinyalbert, auto_name).from_config(ours.config, seed=3)
        assert type(fresh).__name__ == class_name and fresh.num_parameters() == ours.num_parameters()
        with pytest.raises(OSError, match=f"{auto_name} is designed to be instantiated"):
            getattr(transformers, auto_name)()
        with pytest.raises(OSError, match=f"{auto_name} is designed to be instantiated"):
            getattr(tinyalbert, auto_name)()
    theirs = transformers.AutoConfig.from_pretrained(tmp_path / "AlbertModel", num_labels=4)
    ours = tinyalbert.AutoConfig.from_pretrained(tmp_path / "AlbertModel", num_labels=4)
    assert type(ours).__name__ == type(theirs).__name__ == "AlbertConfig" and ours.num_labels == theirs.num_labels == 4


def test_auto_tokenizer_is_the_slow_albert_tokenizer_and_says_so_when_asked_for_the_fast_one(tmp_path):
    transformers = transformers_or_skip()
    tinyalbert.AlbertTokenizer.from_pretrained("tinyalbert-mini").save_pretrained(tmp_path)
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path, use_fast=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = tinyalbert.AutoTokenizer.from_pretrained(tmp_path, use_fast=False)
        assert type(tinyalbert.AutoTokenizer.from_pretrained(tmp_path)) is type(ours)
    assert type(ours).__name__ == type(theirs).__name__ == "AlbertTokenizer"
    text = "The capital of France is [MASK]."
    assert ours(text)["input_ids"] == theirs(text)["input_ids"]
    with pytest.warns(UserWarning, match="only the slow"):
        tinyalbert.AutoTokenizer.from_pretrained(tmp_path, use_fast=True)


def test_auto_classes_refuse_another_model_type(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8}))
    with pytest.raises(ValueError, match="describes a 'bert' model, not 'albert'"):
        tinyalbert.AutoModelForMaskedLM.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="describes a 'bert' model"):
        tinyalbert.AutoConfig.from_pretrained(tmp_path)


@pytest.mark.parametrize("fields", [dict(), dict(hidden_act="gelu", num_labels=3),
                                    dict(pad_token_id=None, output_hidden_states=True, problem_type="regression")])
def test_config_diff_json_and_generic_attributes_match_transformers(fields):
    transformers = transformers_or_skip()
    ours, theirs = AlbertConfig(**fields), transformers.AlbertConfig(**fields)
    expected = json.loads(theirs.to_json_string())
    expected.pop("transformers_version")  # tinyalbert is not Transformers; a loaded file's version is kept
    assert json.loads(ours.to_json_string()) == expected
    for name in ("is_encoder_decoder", "is_decoder", "pruned_heads", "chunk_size_feed_forward", "torchscript",
                 "add_cross_attention", "tie_encoder_decoder", "finetuning_task", "sep_token_id", "name_or_path",
                 "_attn_implementation"):
        assert getattr(ours, name) == getattr(theirs, name), name
    config, unused = AlbertConfig.from_dict(theirs.to_dict(), return_unused_kwargs=True, hidden_size=128, foo=1)
    their_config, their_unused = transformers.AlbertConfig.from_dict(theirs.to_dict(), return_unused_kwargs=True,
                                                                     hidden_size=128, foo=1)
    assert unused == their_unused == {"foo": 1} and config.hidden_size == their_config.hidden_size == 128
    assert "foo" not in config.to_dict()
    made = tinyalbert.AutoConfig.for_model("albert", hidden_size=48, num_attention_heads=4)
    assert made.to_dict() == AlbertConfig(hidden_size=48, num_attention_heads=4).to_dict()
    with pytest.raises(ValueError, match="'albert' only"):
        tinyalbert.AutoConfig.for_model("bert")


def test_config_name_or_path_is_where_it_was_read_and_is_not_saved(tmp_path):
    AlbertConfig(**SMALL).save_pretrained(tmp_path)
    config = AlbertConfig.from_pretrained(tmp_path)
    assert config.name_or_path == str(tmp_path) and AlbertConfig(**SMALL).name_or_path == ""
    config.save_pretrained(tmp_path / "again")
    assert "_name_or_path" not in json.loads((tmp_path / "again" / "config.json").read_text())
    config.name_or_path = "mine"  # settable, as in Transformers, and still not saved
    assert config.name_or_path == "mine" and "name_or_path" not in config.to_dict()


# --- the model object: what a Transformers user does with it after loading --------------------------
def test_models_deep_copy_and_pickle():
    """Early stopping keeps `copy.deepcopy(model)`; multiprocessing pickles models."""
    import copy
    import pickle

    model = tinyalbert.AlbertForSequenceClassification(AlbertConfig(**SMALL, num_labels=3), seed=1)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert clone.params is not model.params and clone.xp is np
        np.testing.assert_array_equal(clone(input_ids=IDS).logits, model(input_ids=IDS).logits)


def test_train_keeps_its_dropout_generator_across_calls():
    """`model.train()` at every epoch must not restart the dropout masks; an explicit generator
    still makes a run repeatable."""
    config = AlbertConfig(**{**SMALL, "hidden_dropout_prob": 0.3})
    model = tinyalbert.AlbertForMaskedLM(config, seed=0)
    first = np.asarray(model.train()(input_ids=IDS).logits)
    second = np.asarray(model.train()(input_ids=IDS).logits)
    third = np.asarray(model.eval().train()(input_ids=IDS).logits)
    assert not np.allclose(first, second) and not np.allclose(second, third)
    again = tinyalbert.AlbertForMaskedLM(config, seed=0).train(rng=np.random.default_rng(7))
    repeat = tinyalbert.AlbertForMaskedLM(config, seed=0).train(rng=np.random.default_rng(7))
    np.testing.assert_array_equal(again(input_ids=IDS).logits, repeat(input_ids=IDS).logits)


def test_body_of_a_head_model_and_add_pooling_layer_positional_match_transformers(tmp_path):
    ours, theirs = loaded_pair(tmp_path, "AlbertForSequenceClassification")
    for body, their_body in ((ours.albert, theirs.albert), (ours.base_model, theirs.base_model)):
        got, expected = body(input_ids=IDS), run_reference(their_body, input_ids=IDS)
        np.testing.assert_allclose(got.last_hidden_state, as_numpy(expected.last_hidden_state), atol=ATOL)
        np.testing.assert_allclose(got.pooler_output, as_numpy(expected.pooler_output), atol=ATOL)
    assert ours.albert.params["albert.pooler.weight"] is ours.params["albert.pooler.weight"]  # the same arrays
    bare = tinyalbert.AlbertModel(AlbertConfig(**SMALL), False)  # Transformers' second argument
    assert bare.base_model is bare and "albert.pooler.weight" not in bare.params
    with pytest.raises(TypeError, match="params="):
        tinyalbert.AlbertModel(AlbertConfig(**SMALL), bare.params)
    bare.tie_weights()  # Transformers' call; ties are structural here
    import torch

    table = torch.nn.Embedding(SMALL["vocab_size"], SMALL["embedding_size"])  # a weight that requires grad
    bare.set_input_embeddings(table)
    np.testing.assert_array_equal(bare.get_input_embeddings().weight, table.weight.detach().numpy())


def test_load_state_dict_takes_a_transformers_state_dict(tmp_path):
    """torch tensors, the tied decoder keys Transformers repeats, and strict=False's report."""
    ours, theirs = loaded_pair(tmp_path, "AlbertForMaskedLM")
    fresh = tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL), seed=5)
    state = theirs.state_dict()
    assert "predictions.decoder.weight" in state
    assert fresh.load_state_dict(state) == ([], [])
    np.testing.assert_allclose(fresh(input_ids=IDS).logits, as_numpy(run_reference(theirs, input_ids=IDS).logits),
                               atol=ATOL)
    partial = {name: value for name, value in state.items() if not name.startswith("predictions.dense")}
    partial["classifier.weight"] = state["predictions.bias"]
    before = fresh.params["predictions.dense.weight"]
    missing, unexpected = fresh.load_state_dict(partial, strict=False)
    assert missing == ["predictions.dense.bias", "predictions.dense.weight"] and unexpected == ["classifier.weight"]
    assert fresh.params["predictions.dense.weight"] is before
    with pytest.raises(ValueError, match="missing"):
        fresh.load_state_dict(partial)


@pytest.mark.parametrize("position_embedding_type", ["absolute", "relative_key", "relative_key_query"])
def test_num_parameters_and_long_inputs_with_relative_positions(tmp_path, position_embedding_type):
    ours, theirs = loaded_pair(tmp_path, "AlbertForMaskedLM", position_embedding_type=position_embedding_type)
    for exclude in (False, True):
        assert ours.num_parameters(exclude_embeddings=exclude) == theirs.num_parameters(exclude_embeddings=exclude)
    too_long = np.full((1, SMALL["max_position_embeddings"] + 1), 5)
    with pytest.raises(ValueError, match="exceeds max_position_embeddings"):
        ours(input_ids=too_long)


def test_auto_from_config_takes_transformers_arguments():
    transformers = transformers_or_skip()
    import torch

    config = AlbertConfig(**SMALL)
    model = tinyalbert.AutoModel.from_config(config, torch_dtype=torch.float16, attn_implementation="eager")
    assert model.dtype_name == "float16"
    for name, class_name in (("AutoModelWithLMHead", "AlbertForMaskedLM"), ("AutoModelForTextEncoding", "AlbertModel")):
        ours = getattr(tinyalbert, name).from_config(config)
        theirs = getattr(transformers, name).from_config(transformers.AlbertConfig(**SMALL))
        assert type(ours).__name__ == type(theirs).__name__ == class_name


# --- inputs that have the right size but not the right shape ------------------------------------
@pytest.mark.parametrize("class_name", ["AlbertForSequenceClassification", "AlbertForTokenClassification",
                                        "AlbertForQuestionAnswering", "AlbertForMultipleChoice"])
def test_loss_and_grads_refuse_a_mask_or_types_of_another_shape_as_forward_does(models, class_name):
    # A (seq, batch) mask has as many entries as a (batch, seq) one: reshaped, it read the wrong rows.
    model = models[class_name]
    inputs = inputs_for(class_name)
    labels = {"AlbertForSequenceClassification": (np.array([0, 1]),),
              "AlbertForTokenClassification": (np.where(MASK == 1, 1, -100),),
              "AlbertForQuestionAnswering": (np.array([1, 2]), np.array([2, 3])),
              "AlbertForMultipleChoice": (np.array([0, 1]),)}[class_name]
    mask = inputs["attention_mask"]
    for name, wrong in (("attention_mask", np.ascontiguousarray(np.swapaxes(mask, 0, -1))),
                        ("token_type_ids", np.zeros(mask.size + mask.shape[-1], dtype=np.int64))):
        with pytest.raises(ValueError, match=rf"{name} must have shape {re.escape(str(mask.shape))}"):
            model.loss_and_grads(inputs["input_ids"], *labels, **{name: wrong})
        with pytest.raises(ValueError, match=name):
            model(input_ids=inputs["input_ids"], **{name: wrong})
    loss, _ = model.loss_and_grads(inputs["input_ids"], *labels, attention_mask=mask)
    assert np.isfinite(float(loss))


@pytest.mark.parametrize("problem_type, labels", [
    ("multi_label_classification", np.array([[0.0], [1.0]])),  # (2, 1) against logits (1, 2)
    ("regression", np.array([[0.5], [1.0]])),
])
def test_sequence_labels_of_the_right_size_but_another_shape_are_refused(tmp_path, problem_type, labels):
    # Transformers: BCE raises "Target size must be the same as input size"; MSE broadcasts with a warning.
    ours, theirs = loaded_pair(tmp_path, "AlbertForSequenceClassification", problem_type=problem_type)
    with pytest.raises(ValueError, match=r"labels must have one value per logit, shape \(1, 2\).*got \(2, 1\)"):
        ours(input_ids=IDS[:1], labels=labels)
    with pytest.raises(ValueError, match=r"shape \(1, 2\).*got \(2, 1\)"):
        ours.loss_and_grads(IDS[:1], labels)
    if problem_type == "multi_label_classification":
        with pytest.raises(ValueError, match="Target size"):
            run_reference(theirs, input_ids=IDS[:1], labels=labels.astype(np.float32))
    right = labels.reshape(1, 2).astype(np.float32)
    expected = run_reference(theirs, input_ids=IDS[:1], labels=right).loss.item()
    np.testing.assert_allclose(float(ours(input_ids=IDS[:1], labels=right).loss), expected, rtol=1e-5)
    np.testing.assert_allclose(float(ours.loss_and_grads(IDS[:1], right)[0]), expected, rtol=1e-5)


def test_multiple_choice_takes_flat_masks_and_shared_positions_as_transformers_does(tmp_path):
    ours, theirs = loaded_pair(tmp_path, "AlbertForMultipleChoice")
    inputs = inputs_for("AlbertForMultipleChoice")
    batch, choices, seq = inputs["input_ids"].shape
    for extra in ({"attention_mask": inputs["attention_mask"].reshape(batch * choices, seq)},
                  {"attention_mask": inputs["attention_mask"], "position_ids": np.arange(seq)},
                  {"attention_mask": inputs["attention_mask"],
                   "token_type_ids": np.zeros((batch * choices, seq), dtype=np.int64)}):
        expected = run_reference(theirs, input_ids=inputs["input_ids"], **extra).logits.numpy()
        np.testing.assert_allclose(ours(input_ids=inputs["input_ids"], **extra).logits, expected, atol=ATOL)
    positions = np.broadcast_to(np.arange(seq), inputs["input_ids"].shape)  # (batch, choices, seq), as forward takes
    loss, _ = ours.loss_and_grads(inputs["input_ids"], np.array([0, 1]), attention_mask=inputs["attention_mask"],
                                  position_ids=positions)
    np.testing.assert_allclose(
        float(loss), float(ours(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                labels=np.array([0, 1])).loss), rtol=1e-6)
    with pytest.raises(ValueError, match=r"token_type_ids.* must have shape \(4, 6\), got \(2, 6\)"):
        ours(input_ids=inputs["input_ids"], token_type_ids=np.zeros((batch, seq), dtype=np.int64))


def test_torch_tensors_that_need_grad_or_are_bfloat16_are_taken(tmp_path):
    # e.g. the embeddings of a Transformers model fed to tinyalbert: torch's .numpy() refuses both.
    import torch

    ours, theirs = loaded_pair(tmp_path, "AlbertModel")
    embeds = theirs.get_input_embeddings()(torch.tensor(IDS))  # requires grad
    assert embeds.requires_grad
    expected = theirs(inputs_embeds=embeds, attention_mask=torch.tensor(MASK)).last_hidden_state.detach().numpy()
    got = ours(inputs_embeds=embeds, attention_mask=torch.tensor(MASK).bfloat16()).last_hidden_state
    np.testing.assert_allclose(got, expected, atol=ATOL)


def test_a_tokenizer_output_passed_whole_says_to_unpack_it(models):
    batch = {"input_ids": IDS, "attention_mask": MASK}
    for model in models.values():
        with pytest.raises(TypeError, match=r"unpack it, model\(\*\*batch\)"):
            model(batch)
    with pytest.raises(TypeError, match="unpack it"):
        models["AlbertForSequenceClassification"].loss_and_grads(batch, np.array([0, 1]))


def test_a_label_map_grown_after_loading_is_named_not_an_index_error(tmp_path):
    # Transformers keeps the head's size from construction; here the mismatch is said, with the way out.
    ours, _ = loaded_pair(tmp_path, "AlbertForSequenceClassification")
    ours.config.id2label = {0: "a", 1: "b", 2: "c"}
    with pytest.raises(ValueError, match=r"config.num_labels is 3 but the classifier has 2 outputs.*num_labels=N"):
        ours(input_ids=IDS, labels=np.array([0, 2]))
    with pytest.raises(ValueError, match="num_labels is 3 but the classifier has 2"):
        ours.loss_and_grads(IDS, np.array([0, 2]))
    token = tinyalbert.AlbertForTokenClassification(AlbertConfig(**SMALL, num_labels=2), seed=0)
    token.config.num_labels = 4
    with pytest.raises(ValueError, match="num_labels is 4 but the classifier has 2"):
        token(input_ids=IDS)


def test_numpy_scalars_in_a_config_work_as_in_transformers():
    transformers = transformers_or_skip()
    fields = dict(num_labels=np.int64(3), hidden_dropout_prob=np.float32(0.25), layer_norm_eps=np.float32(1e-5),
                  hidden_size=np.int64(12), num_attention_heads=np.int64(3), vocab_size=np.int32(50))
    ours, theirs = AlbertConfig(**fields), transformers.AlbertConfig(**fields)
    for name in ("num_labels", "hidden_dropout_prob", "layer_norm_eps", "hidden_size", "vocab_size"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert json.loads(ours.to_json_string())["hidden_size"] == 12  # plain JSON, not a NumPy repr


def test_padded_ids_without_a_mask_warn_where_transformers_looks():
    # Transformers warns once when pad_token_id is in the first or last column and no mask is given.
    model = tinyalbert.AlbertModel(AlbertConfig(**SMALL), seed=0)
    with pytest.warns(UserWarning, match=r"input_ids may be padded \(pad_token_id 0.*attention_mask"):
        model(input_ids=IDS)
    unpadded = np.where(IDS == 0, 4, IDS)
    inner_pad = unpadded.copy()
    inner_pad[0, 2] = 0  # not where Transformers looks
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(input_ids=IDS, attention_mask=MASK)
        model(input_ids=unpadded)
        model(input_ids=inner_pad)
        tinyalbert.AlbertModel(AlbertConfig(**SMALL, pad_token_id=None), seed=0)(input_ids=IDS)


def test_a_training_runs_folder_points_at_the_models_inside(tmp_path):
    # pretrain's OUT keeps final/ and checkpoint/; finetune's best/ and checkpoint/.
    model = tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL), seed=0)
    for folder in ("checkpoint", "final"):
        model.save_pretrained(tmp_path / "run" / folder)
    for load in (AlbertConfig.from_pretrained, tinyalbert.AlbertForMaskedLM.from_pretrained):
        with pytest.raises(FileNotFoundError, match=r"training run's folder.*run/final and .*run/checkpoint; "
                                                     r"load .*run/final"):
            load(tmp_path / "run")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no config.json in \S+$"):  # nothing inside: no hint
        AlbertConfig.from_pretrained(tmp_path / "empty")


def test_a_training_runs_folder_points_the_tokenizer_at_the_models_inside(tmp_path):
    tokenizer = tinyalbert.AlbertTokenizer.from_pretrained("tinyalbert-mini")
    for folder in ("best", "checkpoint"):  # finetune's OUT
        tokenizer.save_pretrained(tmp_path / "run" / folder)
    with pytest.raises(FileNotFoundError, match=r"run has no spiece.model, which looks like a training run's folder: "
                                                 r"its models are in .*run/best and .*run/checkpoint; load .*run/best$"):
        tinyalbert.AlbertTokenizer.from_pretrained(tmp_path / "run")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty has no spiece.model$"):
        tinyalbert.AlbertTokenizer.from_pretrained(tmp_path / "empty")


def test_star_import_gives_every_public_name_the_lazy_ones_included():
    """`from tinyalbert import *` as a lesson or notebook writes it: the tokenizer and `pipeline`,
    imported on first use, come along with the classes, and every name in __all__ exists."""
    namespace = {}
    exec("from tinyalbert import *", namespace)
    assert {"AlbertTokenizer", "pipeline", "AlbertForMaskedLM", "AutoModel"} <= set(namespace)
    assert namespace["AlbertTokenizer"] is tinyalbert.AlbertTokenizer and callable(namespace["pipeline"])
    assert {"AlbertTokenizer", "pipeline"} <= set(dir(tinyalbert))
