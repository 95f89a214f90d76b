"""AlbertConfig: defaults, presets, validation that names the bad field, config.json in and out."""
import json

import pytest

import tinyalbert
from tinyalbert import AlbertConfig
from tinyalbert.hub import LEGACY_ALBERT_NAMES

try:
    import transformers
except ImportError:  # the tests marked `reference` are skipped (tests/conftest.py)
    transformers = None

SMALL = dict(vocab_size=50, embedding_size=8, hidden_size=12, num_hidden_layers=3, num_hidden_groups=1,
             inner_group_num=1, num_attention_heads=3, intermediate_size=20, max_position_embeddings=16)


# --- AlbertConfig ---------------------------------------------------------------------------------
@pytest.mark.reference
def test_config_defaults_match_transformers():
    ours = AlbertConfig().to_dict()
    theirs = transformers.AlbertConfig().to_dict()
    for name, value in ours.items():
        if name in theirs and name != "architectures":  # id2label too: int keys in both dicts
            assert value == theirs[name], name
    # model_type is read from the class (AutoConfig's registry does) and from an instance alike.
    assert AlbertConfig.model_type == transformers.AlbertConfig.model_type == AlbertConfig(**SMALL).model_type


@pytest.mark.parametrize("preset", sorted(tinyalbert.config.PRESETS))
def test_presets_are_valid_shapes(preset):
    config = AlbertConfig.preset(preset)
    assert config.hidden_size % config.num_attention_heads == 0
    assert config.hidden_act == ("gelu" if preset.endswith("v1") else "gelu_new")


@pytest.mark.parametrize("field, value", [
    ("hidden_size", 10), ("num_attention_heads", 0), ("vocab_size", -1), ("embedding_size", 0),
    ("hidden_act", "tanh"), ("position_embedding_type", "rotary"), ("intermediate_size", 2.5),
    ("num_hidden_groups", 20), ("hidden_dropout_prob", 1.5), ("layer_norm_eps", 0.0),
])
def test_invalid_config_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        AlbertConfig(**{**SMALL, field: value})


@pytest.mark.reference
def test_config_json_round_trip_with_transformers_and_5x_fields(tmp_path):
    transformers.AlbertConfig(**SMALL, num_labels=3, torch_dtype="float32").save_pretrained(tmp_path)
    values = json.loads((tmp_path / "config.json").read_text())
    # transformers 5.x writes `dtype` instead of `torch_dtype` and adds fields of its own.
    values["dtype"] = values.pop("torch_dtype")
    values["some_future_field"] = {"kept": True}
    (tmp_path / "config.json").write_text(json.dumps(values))
    config = AlbertConfig.from_pretrained(tmp_path)
    assert config.num_labels == 3 and config.hidden_size == 12
    config.save_pretrained(tmp_path / "again")
    again = json.loads((tmp_path / "again" / "config.json").read_text())
    assert again["some_future_field"] == {"kept": True} and again["dtype"] == values["dtype"]
    theirs = transformers.AlbertConfig.from_pretrained(tmp_path / "again")
    assert theirs.num_labels == 3 and theirs.id2label == config.id2label


def test_config_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        AlbertConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json"):
        AlbertConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ValueError, match="bert"):
        AlbertConfig.from_pretrained(tmp_path)


def test_preset_names_are_the_legacy_hub_names():
    assert set(LEGACY_ALBERT_NAMES) == set(tinyalbert.config.PRESETS) and len(LEGACY_ALBERT_NAMES) == 8
    with pytest.raises(ValueError, match="albert-base-v2"):
        AlbertConfig.preset("albert-huge-v3")


def test_activation_names_are_those_the_activations_module_implements():
    from tinyalbert.nn.activations import ACTIVATIONS

    for name in ACTIVATIONS:
        assert AlbertConfig(**SMALL, hidden_act=name).hidden_act == name
    with pytest.raises(ValueError, match="hidden_act"):
        AlbertConfig(**SMALL, hidden_act="gelu_fast")


@pytest.mark.reference
def test_an_id2label_set_with_string_keys_reads_as_after_a_json_round_trip(tmp_path):
    """`config.id2label = json.load(...)` (string keys) kept the strings: `id2label[0]` failed and
    `label2id` gave string ids, until a save and reload made them ints. Both libraries make them
    ints on reading; the attribute now does too, and refuses ids with a gap, as the file does."""
    theirs = transformers.AlbertConfig(**SMALL)
    theirs.id2label = {"0": "neg", "1": "pos", "2": "mixed"}
    theirs.save_pretrained(tmp_path)
    reloaded = transformers.AlbertConfig.from_pretrained(tmp_path)
    ours = AlbertConfig(**SMALL)
    ours.id2label = {"0": "neg", "1": "pos", "2": "mixed"}
    assert ours.id2label == reloaded.id2label == {0: "neg", 1: "pos", 2: "mixed"}
    # (Transformers' reloaded label2id is None here: its JSON kept no label2id; ours derives it.)
    assert ours.label2id == {label: i for i, label in reloaded.id2label.items()}
    assert ours.num_labels == reloaded.num_labels == 3
    with pytest.raises(ValueError, match="ids 0..1"):
        ours.id2label = {0: "a", 2: "b"}


@pytest.mark.reference
def test_update_from_string_matches_transformers():
    ours, theirs = AlbertConfig(**SMALL), transformers.AlbertConfig(**SMALL)
    update = "hidden_size=24,hidden_act=gelu,return_dict=no,layer_norm_eps=1e-5,output_attentions=1"
    ours.update_from_string(update)
    theirs.update_from_string(update)
    for name in ("hidden_size", "hidden_act", "return_dict", "layer_norm_eps", "output_attentions", "use_return_dict"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for config in (ours, theirs):
        with pytest.raises(ValueError, match="isn't in the original config dict"):
            config.update_from_string("hidden_sise=24")
        with pytest.raises(ValueError, match="can't derive true or false"):
            config.update_from_string("return_dict=maybe")
    with pytest.raises(ValueError, match="num_attention_heads"):  # checked, where Transformers takes it
        ours.update_from_string("hidden_size=25")
    assert ours.hidden_size == 24  # and left as it was


def test_update_from_string_refuses_what_is_not_a_field_as_transformers_does():
    """A property (head_size, use_return_dict) or a name the config lacks is no key to update:
    Transformers refuses it, and storing it would write a stray entry into config.json."""
    for text in ("head_size=8", "use_return_dict=false", "no_such_field=1"):
        config = AlbertConfig(hidden_size=16, num_attention_heads=4)
        with pytest.raises(ValueError, match="isn't in the original config dict"):
            config.update_from_string(text)
        assert "head_size" not in config.to_dict() and "use_return_dict" not in config.to_dict()


def test_update_from_string_sets_num_labels_and_name_or_path_as_transformers_does():
    transformers = pytest.importorskip("transformers")
    ours, theirs = AlbertConfig(hidden_size=16, num_attention_heads=4), transformers.AlbertConfig()
    for config in (ours, theirs):
        config.update_from_string("num_labels=3,name_or_path=somewhere")
    assert ours.id2label == theirs.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert ours.name_or_path == theirs.name_or_path == "somewhere"
    assert "name_or_path" not in ours.to_dict()  # where the config came from, not a saved field
