"""Checkpoints in and out: layouts found in the wild, round trips with transformers, and the
errors a user gets for a bad file. (The config file: tests/test_config.py.)"""
import json
import logging
import warnings

import numpy as np
import pytest

import tinyalbert
from tinyalbert import AlbertConfig

try:
    import torch
    import transformers
except ImportError:  # the tests marked `reference` are skipped (tests/conftest.py)
    torch = transformers = None

SMALL = dict(vocab_size=50, embedding_size=8, hidden_size=12, num_hidden_layers=3, num_hidden_groups=1,
             inner_group_num=1, num_attention_heads=3, intermediate_size=20, max_position_embeddings=16)
IDS = np.array([[2, 7, 9, 11, 3, 0], [2, 5, 3, 0, 0, 0]])
MASK = (IDS != 0).astype(np.int64)


def reference(class_name="AlbertForMaskedLM", **overrides):
    torch.manual_seed(0)
    config = transformers.AlbertConfig(attn_implementation="eager", **{**SMALL, **overrides})
    return getattr(transformers, class_name)(config).eval()


def logits_of(model):
    if torch is not None and isinstance(model, torch.nn.Module):
        with torch.no_grad():
            return model(input_ids=torch.tensor(IDS), attention_mask=torch.tensor(MASK)).logits.numpy()
    return np.asarray(model(input_ids=IDS, attention_mask=MASK).logits)


# --- layouts ----------------------------------------------------------------------------------------
@pytest.mark.reference
def test_sharded_checkpoint_loads(tmp_path):
    model = reference()
    model.save_pretrained(tmp_path, max_shard_size="8KB")
    assert (tmp_path / "model.safetensors.index.json").exists()
    ours = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)
    np.testing.assert_allclose(logits_of(ours), logits_of(model), atol=1e-5)


@pytest.mark.reference
def test_legacy_names_buffers_and_untied_decoder_keys_load(tmp_path, caplog):
    """Old official checkpoints: LayerNorm gamma/beta, saved position_ids, decoder weight and bias
    stored next to the embeddings they are tied to, and a pooler in an MLM checkpoint."""
    from safetensors.numpy import load_file, save_file

    model = reference("AlbertForPreTraining")
    model.save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    legacy = {}
    for key, value in tensors.items():
        key = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        legacy[key] = value
    legacy["albert.embeddings.position_ids"] = np.arange(16)[None, :].astype(np.int64)
    legacy["predictions.decoder.weight"] = tensors["albert.embeddings.word_embeddings.weight"]
    legacy["predictions.decoder.bias"] = tensors["predictions.bias"]
    save_file(legacy, tmp_path / "model.safetensors", metadata={"format": "pt"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing missing, nothing unused for the pretraining class
        ours = tinyalbert.AlbertForPreTraining.from_pretrained(tmp_path)
    with torch.no_grad():
        expected = model(input_ids=torch.tensor(IDS), attention_mask=torch.tensor(MASK)).prediction_logits.numpy()
    np.testing.assert_allclose(ours(input_ids=IDS, attention_mask=MASK).prediction_logits, expected, atol=1e-5)
    with caplog.at_level(logging.INFO, logger="tinyalbert"):  # the MLM class leaves pooler and SOP head
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)
    assert "sop_classifier.classifier.weight" in caplog.text and "not used" in caplog.text


@pytest.mark.reference
def test_missing_head_is_initialized_with_a_warning(tmp_path):
    reference("AlbertModel").save_pretrained(tmp_path)  # a bare body: no `albert.` prefix, no head
    with pytest.warns(UserWarning, match=r"classifier\.weight.*classifier\.bias|classifier\.bias.*classifier\.weight"):
        model = tinyalbert.AlbertForSequenceClassification.from_pretrained(tmp_path, initializer_range=0.02)
    weight = np.asarray(model.params["classifier.weight"])
    assert np.all(np.asarray(model.params["classifier.bias"]) == 0)
    assert 0.005 < weight.std() < 0.05  # N(0, initializer_range), as transformers initializes it
    body = tinyalbert.AlbertModel.from_pretrained(tmp_path)
    np.testing.assert_array_equal(np.asarray(body.params["albert.pooler.weight"]),
                                  np.asarray(model.params["albert.pooler.weight"]))


@pytest.mark.reference
@pytest.mark.parametrize("class_name", ["AlbertModel", "AlbertForPreTraining", "AlbertForMaskedLM",
                                        "AlbertForSequenceClassification", "AlbertForTokenClassification",
                                        "AlbertForQuestionAnswering", "AlbertForMultipleChoice"])
def test_our_save_loads_in_transformers_like_its_own(tmp_path, class_name):
    extra = {"num_labels": 2}
    reference(class_name, **extra).save_pretrained(tmp_path / "theirs")
    ours = getattr(tinyalbert, class_name).from_pretrained(tmp_path / "theirs")
    ours.save_pretrained(tmp_path / "ours")
    loaded, info = getattr(transformers, class_name).from_pretrained(tmp_path / "ours", output_loading_info=True)
    _, own_info = getattr(transformers, class_name).from_pretrained(tmp_path / "theirs", output_loading_info=True)
    assert sorted(info["missing_keys"]) == sorted(own_info["missing_keys"])
    assert sorted(info["unexpected_keys"]) == sorted(own_info["unexpected_keys"])
    assert not info["mismatched_keys"]
    theirs_state = loaded.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_array_equal(np.asarray(value), theirs_state[name].numpy(), err_msg=name)


@pytest.mark.reference
def test_state_dict_names_follow_transformers():
    for class_name in ("AlbertModel", "AlbertForPreTraining", "AlbertForMaskedLM", "AlbertForQuestionAnswering"):
        config = AlbertConfig(**SMALL)
        ours = set(getattr(tinyalbert, class_name)(config).state_dict())
        theirs = set(reference(class_name).state_dict())
        theirs -= {"predictions.decoder.weight", "predictions.decoder.bias"}  # tied: stored once
        assert ours == theirs, class_name


# --- errors ----------------------------------------------------------------------------------------
@pytest.mark.reference
def test_not_safetensors_names_the_file(tmp_path):
    reference().save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_text("this is not a safetensors file")
    with pytest.raises(ValueError, match="model.safetensors"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)


@pytest.mark.reference
def test_truncated_file_names_the_file(tmp_path):
    reference().save_pretrained(tmp_path)
    data = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="model.safetensors"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)


@pytest.mark.reference
def test_wrong_shape_names_file_key_and_both_shapes(tmp_path):
    reference().save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["intermediate_size"] = 21
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"model\.safetensors.*ffn\.weight.*\(20, 12\).*\(21, 12\)"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)


@pytest.mark.reference
def test_pickle_only_checkpoint_loads_through_the_safe_reader(tmp_path):
    # Read by tinyalbert.torch_checkpoint, which runs nothing from the file (tests/test_torch_checkpoint.py).
    model = reference()
    model.save_pretrained(tmp_path, safe_serialization=False)
    assert not (tmp_path / "model.safetensors").exists()
    ours = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)
    np.testing.assert_allclose(logits_of(ours), logits_of(model), atol=1e-5)


@pytest.mark.reference
def test_save_without_safe_serialization_writes_a_torch_file_and_drops_the_stale_one(tmp_path):
    """safe_serialization=False writes pytorch_model.bin, as Transformers does. A model.safetensors
    left from an earlier save would be read first, so it goes (and the other way round)."""
    model = tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL), seed=1)
    other = tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL), seed=2)
    other.save_pretrained(tmp_path)
    model.save_pretrained(tmp_path, safe_serialization=False)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json", "pytorch_model.bin"]
    theirs = transformers.AlbertForMaskedLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
    np.testing.assert_allclose(logits_of(theirs), logits_of(model), atol=1e-5)
    np.testing.assert_array_equal(logits_of(tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)), logits_of(model))
    other.save_pretrained(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json", "model.safetensors"]


def test_missing_directory_and_weights(tmp_path):
    with pytest.raises(FileNotFoundError):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path / "nowhere")
    AlbertConfig(**SMALL).save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)


def test_bad_inputs_are_reported():
    model = tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL))
    with pytest.raises(ValueError, match="vocab_size"):
        model(input_ids=np.array([[1, 50]]))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(input_ids=np.ones((1, 17), dtype=np.int64))
    with pytest.raises(ValueError, match="attention_mask"):
        model(input_ids=IDS, attention_mask=np.ones((2, 5)))
    with pytest.raises(ValueError, match="either input_ids or inputs_embeds"):
        model()


@pytest.mark.reference
def test_float16_and_float64_backends_keep_their_dtype(tmp_path):
    model = reference()
    model.save_pretrained(tmp_path)
    expected = logits_of(model)
    for dtype, tolerance in (("float64", 1e-5), ("float16", 2e-2)):
        ours = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, dtype=dtype)
        logits = ours(input_ids=IDS, attention_mask=MASK).logits
        assert logits.dtype == np.dtype(dtype)
        np.testing.assert_allclose(logits.astype(np.float32), expected, atol=tolerance * max(1, np.abs(expected).max()))


def test_save_pretrained_leaves_the_models_config_alone(tmp_path):
    """The saved config names the class and the dtype; the model's own config object is unchanged."""
    config = AlbertConfig(**SMALL)
    model = tinyalbert.AlbertForMaskedLM(config, dtype="float64")
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["architectures"] == ["AlbertForMaskedLM"] and saved["torch_dtype"] == "float64"
    assert config.architectures is None and "torch_dtype" not in config.extra
    again = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, dtype="float64")
    np.testing.assert_array_equal(logits_of(again), logits_of(model))


# --- Transformers' loading and saving options -------------------------------------------------------
@pytest.mark.reference
@pytest.mark.parametrize("saved, class_name, options", [
    ("AlbertForPreTraining", "AlbertModel", {}),
    ("AlbertForPreTraining", "AlbertForMaskedLM", {}),
    ("AlbertForPreTraining", "AlbertForPreTraining", {}),
    ("AlbertForPreTraining", "AlbertForQuestionAnswering", {}),
    ("AlbertForPreTraining", "AlbertModel", dict(add_pooling_layer=False)),
    ("AlbertForSequenceClassification", "AlbertForMaskedLM", {}),
    ("AlbertForSequenceClassification", "AlbertForSequenceClassification", dict(num_labels=5, ignore_mismatched_sizes=True)),
])
def test_output_loading_info_matches_transformers(tmp_path, saved, class_name, options):
    reference(saved).save_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn about fresh weights
        _, theirs = getattr(transformers, class_name).from_pretrained(tmp_path, output_loading_info=True, **options)
        model, ours = getattr(tinyalbert, class_name).from_pretrained(tmp_path, output_loading_info=True, **options)
    assert isinstance(model, getattr(tinyalbert, class_name))
    assert ours == {key: sorted(names) for key, names in theirs.items()}


@pytest.mark.reference
def test_albert_model_without_pooling_layer_matches_transformers(tmp_path):
    reference("AlbertForPreTraining").save_pretrained(tmp_path)
    theirs = transformers.AlbertModel.from_pretrained(tmp_path, add_pooling_layer=False).eval()
    ours = tinyalbert.AlbertModel.from_pretrained(tmp_path, add_pooling_layer=False)
    assert not any("pooler" in name for name in ours.state_dict())
    with torch.no_grad():
        expected = theirs(input_ids=torch.tensor(IDS), attention_mask=torch.tensor(MASK), return_dict=False,
                          output_hidden_states=True)
    got = ours(input_ids=IDS, attention_mask=MASK, return_dict=False, output_hidden_states=True)
    assert len(got) == len(expected) == 3 and got[1] is None and expected[1] is None  # the pooler's place kept
    np.testing.assert_allclose(np.asarray(got[0]), expected[0].numpy(), atol=1e-5)
    assert ours(input_ids=IDS).pooler_output is None
    built = tinyalbert.AlbertModel(AlbertConfig(**SMALL), add_pooling_layer=False)
    assert built.num_parameters() == sum(p.numel() for p in transformers.AlbertModel(
        transformers.AlbertConfig(**SMALL), add_pooling_layer=False).parameters())
    with pytest.raises(TypeError, match="only AlbertModel"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, add_pooling_layer=False)


@pytest.mark.reference
def test_state_dict_and_key_mapping_replace_the_file_as_in_transformers(tmp_path):
    from safetensors.numpy import load_file, save_file

    model = reference()
    model.save_pretrained(tmp_path / "plain")
    # Weights given as a state dict, with a config, in place of a checkpoint.
    state = {name: value.clone() for name, value in model.state_dict().items()}
    table = torch.randn_like(state["albert.embeddings.word_embeddings.weight"])
    state["albert.embeddings.word_embeddings.weight"] = state["predictions.decoder.weight"] = table  # tied
    their_config = transformers.AlbertConfig.from_pretrained(tmp_path / "plain")
    theirs = transformers.AlbertForMaskedLM.from_pretrained(None, config=their_config, state_dict=state).eval()
    ours = tinyalbert.AlbertForMaskedLM.from_pretrained(None, config=tmp_path / "plain",
                                                        state_dict={k: v.numpy() for k, v in state.items()})
    with pytest.raises(ValueError, match="state_dict= takes the place of a checkpoint"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path / "plain", state_dict=ours.state_dict())
    np.testing.assert_allclose(logits_of(ours), logits_of(theirs), atol=1e-5)
    assert not np.allclose(logits_of(ours), logits_of(model), atol=1e-3)
    # A checkpoint with renamed keys, read back through key_mapping.
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    (renamed / "config.json").write_text((tmp_path / "plain" / "config.json").read_text())
    tensors = load_file(tmp_path / "plain" / "model.safetensors")
    assert any("ffn_output" in key for key in tensors)
    save_file({key.replace("ffn_output", "feedforward_out"): value for key, value in tensors.items()},
              renamed / "model.safetensors", metadata={"format": "pt"})
    mapping = {r"\.feedforward_out\.": ".ffn_output."}
    theirs = transformers.AlbertForMaskedLM.from_pretrained(renamed, key_mapping=mapping).eval()
    ours = tinyalbert.AlbertForMaskedLM.from_pretrained(renamed, key_mapping=mapping)
    np.testing.assert_allclose(logits_of(ours), logits_of(theirs), atol=1e-5)
    np.testing.assert_allclose(logits_of(ours), logits_of(model), atol=1e-5)
    # Only the first pattern that matches a key applies, as in Transformers (no chains).
    chained = {r"\.feedforward_out\.": ".ffn_output.", r"\.ffn_output\.": ".broken."}
    theirs = transformers.AlbertForMaskedLM.from_pretrained(renamed, key_mapping=chained).eval()
    ours = tinyalbert.AlbertForMaskedLM.from_pretrained(renamed, key_mapping=chained)
    np.testing.assert_allclose(logits_of(ours), logits_of(theirs), atol=1e-5)
    np.testing.assert_allclose(logits_of(ours), logits_of(model), atol=1e-5)
    # Tensors that require grad, as a torch state dict holds them, are taken too.
    grad_state = {name: value.clone().requires_grad_(True) for name, value in model.state_dict().items()}
    ours = tinyalbert.AlbertForMaskedLM.from_pretrained(None, config=tmp_path / "plain", state_dict=grad_state)
    np.testing.assert_allclose(logits_of(ours), logits_of(model), atol=1e-5)


def test_loader_options_for_downloads_are_accepted_and_others_refused(tmp_path):
    tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL)).save_pretrained(tmp_path)
    model = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, proxies={"https": "http://proxy:1"},
                                                         resume_download=None, max_memory={0: "1GB"},
                                                         offload_folder="off", weights_only=True)
    assert "proxies" not in model.config.extra and "weights_only" not in model.config.extra
    for option, fragment in ((dict(from_tf=True), "TensorFlow"), (dict(variant="fp16"), "variant='fp16'"),
                             (dict(quantization_config={"load_in_8bit": True}), "quantization_config")):
        with pytest.raises(ValueError, match=fragment):
            tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path, **option)


@pytest.mark.reference
def test_save_with_max_shard_size_writes_shards_transformers_loads(tmp_path):
    ours = tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL))
    ours.save_pretrained(tmp_path, max_shard_size="4KB")
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    assert not (tmp_path / "model.safetensors").exists()
    assert index["metadata"]["total_size"] == sum(np.asarray(v).nbytes for v in ours.state_dict().values())
    theirs = transformers.AlbertForMaskedLM.from_pretrained(tmp_path).eval()
    np.testing.assert_allclose(logits_of(theirs), logits_of(ours), atol=1e-5)
    again = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)
    np.testing.assert_allclose(logits_of(again), logits_of(ours), atol=0)
    # Saving again with bigger shards leaves none of the old ones; in one file, no shard or index.
    ours.save_pretrained(tmp_path, max_shard_size="5KiB")  # 8,088 bytes: 2 shards, where 4KB gave more
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert sorted(p.name for p in tmp_path.glob("model-*.safetensors")) == sorted(set(index["weight_map"].values()))
    ours.save_pretrained(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    with pytest.raises(ValueError, match="max_shard_size must be"):
        ours.save_pretrained(tmp_path, max_shard_size="4 bananas")
    from tinyalbert.weights import shard_size_in_bytes

    assert [shard_size_in_bytes(size) for size in ("5GB", "5GiB", "200mb", "1.5KiB", 10)] == [
        5 * 10**9, 5 * 2**30, 200 * 10**6, 1536, 10]
    with pytest.raises(ValueError, match="safetensors only"):
        ours.save_pretrained(tmp_path / "pickled", max_shard_size="4KB", safe_serialization=False)


def test_save_options_of_distributed_runs_and_the_hub(tmp_path):
    model = tinyalbert.AlbertForMaskedLM(AlbertConfig(**SMALL))
    model.save_pretrained(tmp_path / "worker", is_main_process=False)
    assert sorted(path.name for path in (tmp_path / "worker").iterdir()) == ["model.safetensors"]
    model.save_pretrained(tmp_path / "given", state_dict={k: np.zeros_like(v) for k, v in model.state_dict().items()})
    loaded = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path / "given")
    assert all(not np.any(value) for value in loaded.state_dict().values())
    model.save_pretrained(tmp_path / "plain", push_to_hub=False, token="unused", commit_message="unused")
    with pytest.raises(ValueError, match="does not upload"):
        model.save_pretrained(tmp_path / "hub", push_to_hub=True)
    with pytest.raises(TypeError, match="unexpected keyword"):
        model.save_pretrained(tmp_path / "typo", safe_serialisation=False)
