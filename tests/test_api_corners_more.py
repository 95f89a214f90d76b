"""More corners of the model API, each next to Transformers 4.53.3 doing the same thing: sharded
`pytorch_model.bin` checkpoints, one weights file given by path, Transformers' argument names
used by keyword, the names in the unused-weights warning of the bare model, and how a config prints."""
import json
import warnings

from pathlib import Path

import numpy as np
import pytest

import tinyalbert
from tinyalbert import AlbertConfig

from test_api import IDS, MASK, SMALL, saved_reference, transformers_or_skip

pytestmark = pytest.mark.reference


def logits_of_reference(model):
    import torch

    with torch.no_grad():
        return model(input_ids=torch.tensor(IDS), attention_mask=torch.tensor(MASK)).logits.numpy()


def logits_of(model):
    return np.asarray(model(input_ids=IDS, attention_mask=MASK).logits)


# --- sharded pytorch_model.bin --------------------------------------------------------------------
def test_a_sharded_pytorch_model_bin_of_transformers_loads(tmp_path):
    """`save_pretrained(safe_serialization=False, max_shard_size=...)` in Transformers writes
    pytorch_model-0000k-of-0000n.bin and pytorch_model.bin.index.json; Transformers loads them
    back, and tinyalbert did not find any weights in the folder."""
    transformers = transformers_or_skip()
    reference = saved_reference(tmp_path / "saved")
    reference.save_pretrained(tmp_path / "sharded", safe_serialization=False, max_shard_size="4KB")
    files = sorted(path.name for path in (tmp_path / "sharded").iterdir())
    assert "pytorch_model.bin.index.json" in files and "pytorch_model-00001-of-" in files[1], files
    expected = logits_of_reference(transformers.AlbertForMaskedLM.from_pretrained(tmp_path / "sharded").eval())
    np.testing.assert_allclose(expected, logits_of_reference(reference), atol=0)
    for use_safetensors in (None, False):
        ours, info = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path / "sharded", use_safetensors=use_safetensors,
                                                                  output_loading_info=True)
        assert info["missing_keys"] == info["unexpected_keys"] == []
        np.testing.assert_allclose(logits_of(ours), expected, atol=2e-5)
    with pytest.raises(FileNotFoundError, match="use_safetensors=True, but there is no model.safetensors"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path / "sharded", use_safetensors=True)
    # Saving over it leaves one model.safetensors: no pickled shard or index that could be read instead.
    ours.save_pretrained(tmp_path / "sharded")
    assert sorted(path.name for path in (tmp_path / "sharded").iterdir()) == ["config.json", "model.safetensors"]


def test_a_shard_missing_from_a_pickled_index_is_named(tmp_path):
    transformers_or_skip()
    reference = saved_reference(tmp_path / "saved")
    reference.save_pretrained(tmp_path / "sharded", safe_serialization=False, max_shard_size="4KB")
    index = json.loads((tmp_path / "sharded" / "pytorch_model.bin.index.json").read_text())
    last = sorted(set(index["weight_map"].values()))[-1]
    (tmp_path / "sharded" / last).unlink()
    with pytest.raises(FileNotFoundError, match=f"lists shard {last}, which is missing"):
        tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path / "sharded")


# --- one weights file by path ---------------------------------------------------------------------
@pytest.mark.parametrize("safe_serialization", [True, False], ids=["safetensors", "pytorch_model.bin"])
def test_a_weights_file_with_its_config_loads_as_in_transformers(tmp_path, safe_serialization):
    """Transformers takes the path of one weights file when config= says what model it is."""
    transformers = transformers_or_skip()
    saved_reference(tmp_path)
    reference = transformers.AlbertForMaskedLM.from_pretrained(tmp_path)
    reference.save_pretrained(tmp_path / "weights", safe_serialization=safe_serialization)
    file = tmp_path / "weights" / ("model.safetensors" if safe_serialization else "pytorch_model.bin")
    theirs = transformers.AlbertForMaskedLM.from_pretrained(
        file, config=transformers.AlbertConfig.from_pretrained(tmp_path)).eval()
    ours = tinyalbert.AlbertForMaskedLM.from_pretrained(file, config=AlbertConfig.from_pretrained(tmp_path))
    np.testing.assert_allclose(logits_of(ours), logits_of_reference(theirs), atol=2e-5)
    assert ours.name_or_path == str(file)
    # Without a config there is nothing to say what model the file holds (Transformers fails
    # reading the file as a config); tinyalbert says what to pass.
    with pytest.raises(FileNotFoundError, match=r"is a file: pass the directory .* config="):
        tinyalbert.AlbertForMaskedLM.from_pretrained(file)


# --- Transformers' argument names, by keyword -----------------------------------------------------
def test_transformers_argument_names_are_taken_by_keyword(tmp_path):
    """`from_pretrained(pretrained_model_name_or_path=...)` and `save_pretrained(save_directory=...)`
    run in Transformers; in tinyalbert they were a TypeError."""
    transformers = transformers_or_skip()
    saved_reference(tmp_path / "saved")
    for library in (transformers, tinyalbert):
        model = library.AlbertForMaskedLM.from_pretrained(pretrained_model_name_or_path=tmp_path / "saved")
        config = library.AlbertConfig.from_pretrained(pretrained_model_name_or_path=tmp_path / "saved")
        auto = library.AutoModelForMaskedLM.from_pretrained(pretrained_model_name_or_path=tmp_path / "saved")
        auto_config = library.AutoConfig.from_pretrained(pretrained_model_name_or_path=tmp_path / "saved")
        assert config.hidden_size == auto_config.hidden_size == model.config.hidden_size == auto.config.hidden_size
        where = tmp_path / library.__name__
        model.save_pretrained(save_directory=where / "model")
        config.save_pretrained(save_directory=where / "config")
        assert (where / "model" / "config.json").is_file() and (where / "config" / "config.json").is_file()
    np.testing.assert_allclose(logits_of(tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path / "tinyalbert" / "model")),
                               logits_of_reference(transformers.AlbertForMaskedLM.from_pretrained(tmp_path / "saved")),
                               atol=2e-5)
    mini = Path(tinyalbert.__file__).parent / "data" / "tinyalbert-mini"
    tokenizers = [library.AlbertTokenizer.from_pretrained(pretrained_model_name_or_path=mini)
                  for library in (transformers, tinyalbert)]
    assert tokenizers[0]("A doctor.")["input_ids"] == tokenizers[1]("A doctor.")["input_ids"]
    with pytest.raises(ValueError, match="does not upload"):
        AlbertConfig(**SMALL).save_pretrained(tmp_path / "hub", push_to_hub=True)
    with pytest.raises(TypeError, match="unexpected keyword"):
        AlbertConfig(**SMALL).save_pretrained(tmp_path / "typo", push_to_hubb=True)


# --- loading warnings ------------------------------------------------------------------------------
def test_unused_weights_of_the_bare_model_are_named_as_transformers_names_them(tmp_path):
    """AlbertModel(add_pooling_layer=False) from a checkpoint saved from AlbertModel leaves the
    pooler unused: Transformers names `pooler.weight`, as its state_dict does, not `albert.pooler.weight`."""
    transformers = transformers_or_skip()
    saved_reference(tmp_path, "AlbertModel")
    _, info = transformers.AlbertModel.from_pretrained(tmp_path, add_pooling_layer=False, output_loading_info=True)
    assert sorted(info["unexpected_keys"]) == ["pooler.bias", "pooler.weight"]
    with pytest.warns(UserWarning, match="not used when initializing AlbertModel") as caught:
        tinyalbert.AlbertModel.from_pretrained(tmp_path, add_pooling_layer=False)
    message = next(str(w.message) for w in caught if "not used" in str(w.message))
    assert all(f"'{name}'" in message for name in info["unexpected_keys"]) and "albert.pooler" not in message, message


# --- how a config prints ---------------------------------------------------------------------------
def test_a_config_prints_as_transformers_prints_it():
    """`print(config)` in Transformers shows the class name and the config's JSON (`to_json_string`)."""
    transformers = transformers_or_skip()
    arguments = dict(SMALL, num_labels=3, hidden_dropout_prob=0.1, output_attentions=True)
    theirs, ours = repr(transformers.AlbertConfig(**arguments)), repr(AlbertConfig(**arguments))
    assert ours.startswith("AlbertConfig {\n") and theirs.startswith("AlbertConfig {\n")
    their_values = json.loads(theirs[len("AlbertConfig "):])
    their_values.pop("transformers_version")  # (tinyalbert writes no Transformers version of its own)
    assert json.loads(ours[len("AlbertConfig "):]) == their_values
    assert str(AlbertConfig(**arguments)) == ours
    config = AlbertConfig(**SMALL)
    config.note = np.arange(2)  # an attribute JSON cannot hold still prints
    assert '"note": "array([0, 1])"' in repr(config)


def test_every_model_class_names_its_config_class_as_in_transformers(tmp_path):
    transformers = transformers_or_skip()
    saved_reference(tmp_path)
    for name in ("AlbertModel", "AlbertForMaskedLM", "AlbertForSequenceClassification", "AlbertForMultipleChoice"):
        theirs, ours = getattr(transformers, name), getattr(tinyalbert, name)
        assert ours.config_class.__name__ == theirs.config_class.__name__ == "AlbertConfig"
        assert ours.config_class.from_pretrained(tmp_path).hidden_size == SMALL["hidden_size"]


def test_a_cached_hub_copy_with_pickled_shards_counts_as_whole(tmp_path, monkeypatch):
    """A repository whose weights are pickled shards, in the Hugging Face cache, is a whole model:
    loaded offline without the warning for a partial download."""
    transformers_or_skip()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    commit = "0" * 40
    repo = tmp_path / "cache" / "models--org--albert"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    saved_reference(tmp_path / "saved").save_pretrained(snapshot, safe_serialization=False, max_shard_size="4KB")
    (snapshot / "spiece.model").write_bytes(b"not read by the model")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "the cached copy ... lacks model.safetensors"
        model = tinyalbert.AlbertForMaskedLM.from_pretrained("org/albert", cache_dir=tmp_path / "cache")
    reference = saved_reference(tmp_path / "again")
    np.testing.assert_allclose(logits_of(model), logits_of_reference(reference), atol=2e-5)
