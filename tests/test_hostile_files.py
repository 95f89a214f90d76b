"""Model and tokenizer files written to harm or crash the reader (security audit findings 3, 4, 8).

A downloaded model directory is untrusted input. These tests write hostile files by hand and check
that every one is refused with a ValueError naming the file (and the field where there is one), and
that nothing outside the model directory is opened or deleted. The pickled `pytorch_model.bin` has
its own tests in tests/test_torch_checkpoint.py.
"""
import json
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import tinyalbert
from tinyalbert.config import AlbertConfig
from tinyalbert.tokenizer import AlbertTokenizer
from tinyalbert.weights import read_checkpoint, remove_stale_weights

VOCAB_FILE = Path(tinyalbert.__file__).parent / "data" / "tinyalbert-mini" / "spiece.model"
INDEX_NAME = "model.safetensors.index.json"
DEEP_JSON = "[" * 100_000 + "]" * 100_000  # 200 KB that json.loads can only parse by recursing 100,000 deep


def write_index(directory: Path, content) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    index = directory / INDEX_NAME
    index.write_text(content if isinstance(content, str) else json.dumps(content))
    return index


# --- finding 3: a shard index naming files outside the model directory -------------------------------
@pytest.fixture
def outside_shard(tmp_path) -> Path:
    """A valid safetensors file beside, not inside, the model directory `tmp_path / "model"`."""
    (tmp_path / "outside").mkdir()
    file = tmp_path / "outside" / "victim.safetensors"
    save_file({"secret": np.array([42.0], np.float32)}, str(file))
    return file


@pytest.mark.parametrize("how", ["relative", "absolute", "dot-dot"])
def test_a_shard_index_cannot_open_files_outside_the_model_directory(tmp_path, outside_shard, how):
    shard = {"relative": "../outside/victim.safetensors", "absolute": str(outside_shard), "dot-dot": ".."}[how]
    write_index(tmp_path / "model", {"weight_map": {"secret": shard}})
    with pytest.raises(ValueError, match=rf"{INDEX_NAME}: weight_map\['secret'\] must be the name of a file"):
        read_checkpoint(tmp_path / "model")


@pytest.mark.parametrize("content", [
    {"weight_map": ["a"]}, {"weight_map": {"a": 5}}, {"weight_map": {"a": ["x"]}}, [1], {"metadata": {}},
    DEEP_JSON, "{not json",
], ids=["list-map", "int-shard", "list-shard", "top-level-list", "no-map", "deep", "broken"])
def test_a_malformed_shard_index_is_a_value_error_naming_it(tmp_path, content):
    write_index(tmp_path, content)
    with pytest.raises(ValueError, match=INDEX_NAME):
        read_checkpoint(tmp_path)


def test_shards_that_are_symlinks_as_in_the_hugging_face_cache_still_load(tmp_path):
    """In the Hub cache `snapshots/<commit>/model-….safetensors` links to `../../blobs/<hash>`: the
    shard's name is plain, its target outside the snapshot directory, and that must keep working."""
    blobs, snapshot = tmp_path / "blobs", tmp_path / "snapshots" / ("0" * 40)
    blobs.mkdir()
    snapshot.mkdir(parents=True)
    save_file({"w": np.arange(3, dtype=np.float32)}, str(blobs / "abc123"))
    (snapshot / "model-00001-of-00001.safetensors").symlink_to(Path("..", "..", "blobs", "abc123"))
    write_index(snapshot, {"weight_map": {"w": "model-00001-of-00001.safetensors"}})
    tensors, source = read_checkpoint(snapshot)
    assert source == snapshot / INDEX_NAME
    np.testing.assert_array_equal(tensors["w"], [0.0, 1.0, 2.0])


def test_saving_over_a_hostile_index_deletes_nothing_outside_the_directory(tmp_path, outside_shard):
    """`save_pretrained` removes the shards an old index names: a name outside must not be deleted."""
    write_index(tmp_path / "model", {"weight_map": {"a": str(outside_shard), "b": "../outside/victim.safetensors"}})
    remove_stale_weights(tmp_path / "model", kept="model.safetensors")
    assert outside_shard.is_file()
    assert not (tmp_path / "model" / INDEX_NAME).exists()


# --- finding 4: sp_model_kwargs in tokenizer_config.json ---------------------------------------------
def tokenizer_dir(tmp_path: Path, **files) -> Path:
    """A tokenizer directory: the bundled spiece.model plus `files` ({name: JSON value or text})."""
    shutil.copy(VOCAB_FILE, tmp_path / "spiece.model")
    for name, content in files.items():
        (tmp_path / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return tmp_path


@pytest.mark.parametrize("key", ["model_file", "model_proto", "out_type", "bogus"])
def test_tokenizer_config_sp_model_kwargs_cannot_name_files_or_other_options(tmp_path, key):
    victim = tmp_path / "not-a-model.txt"
    victim.write_text("root:x:0:0\n")
    directory = tokenizer_dir(tmp_path, **{"tokenizer_config.json": {"sp_model_kwargs": {key: str(victim)}}})
    with pytest.raises(ValueError, match=rf"tokenizer_config.json: sp_model_kwargs may set .*not '{key}'"):
        AlbertTokenizer.from_pretrained(directory)


@pytest.mark.parametrize("key, value", [
    ("enable_sampling", "yes"), ("nbest_size", "x"), ("nbest_size", 1.5), ("nbest_size", 10**6), ("nbest_size", -2),
    ("alpha", "0.1"), ("alpha", -1.0), ("alpha", True), ("alpha", 10**400), ("num_threads", "1"), ("add_bos", 1),
])
def test_tokenizer_config_sampling_options_are_type_checked(tmp_path, key, value):
    directory = tokenizer_dir(tmp_path, **{"tokenizer_config.json": {"sp_model_kwargs": {key: value}}})
    with pytest.raises(ValueError, match=rf"tokenizer_config.json: sp_model_kwargs\['{key}'\] must be"):
        AlbertTokenizer.from_pretrained(directory)


def test_tokenizer_config_alpha_nan_is_refused(tmp_path):
    directory = tokenizer_dir(tmp_path, **{"tokenizer_config.json": '{"sp_model_kwargs": {"alpha": NaN}}'})
    with pytest.raises(ValueError, match=r"tokenizer_config.json: sp_model_kwargs\['alpha'\] must be a number"):
        AlbertTokenizer.from_pretrained(directory)


def test_tokenizer_config_sampling_options_still_load(tmp_path):
    sampling = {"enable_sampling": True, "nbest_size": -1, "alpha": 0.1}
    directory = tokenizer_dir(tmp_path, **{"tokenizer_config.json": {"sp_model_kwargs": sampling}})
    assert AlbertTokenizer.from_pretrained(directory).sp_model_kwargs == sampling


@pytest.mark.reference
def test_harmless_sp_model_kwargs_transformers_saves_still_load(tmp_path):
    """A tokenizer built with num_threads (or add_bos, ...) and saved by Transformers loads there."""
    transformers = pytest.importorskip("transformers")
    options = {"num_threads": 1, "emit_unk_piece": False}
    transformers.AlbertTokenizer(vocab_file=str(VOCAB_FILE), sp_model_kwargs=options).save_pretrained(tmp_path)
    assert AlbertTokenizer.from_pretrained(tmp_path).sp_model_kwargs == options


@pytest.mark.parametrize("text", ['{"model_max_length": 1' + "0" * 400 + '}', '{"model_max_length": ' + "9" * 5000 + '}'])
def test_huge_numbers_in_tokenizer_config_are_read_or_named(tmp_path, text):
    """An int of 401 digits is a whole number (kept, as Transformers keeps it); one of 5,000 digits
    is beyond what Python's JSON reader converts: an error naming the file either way, no OverflowError."""
    directory = tokenizer_dir(tmp_path, **{"tokenizer_config.json": text})
    try:
        AlbertTokenizer.from_pretrained(directory)
    except ValueError as error:
        assert "tokenizer_config.json" in str(error)


def test_a_model_file_sentencepiece_cannot_load_is_a_value_error_naming_it(tmp_path):
    """A caller may still pass `model_file` (as in Transformers); SentencePiece's RuntimeError
    then becomes a ValueError naming the file."""
    bad = tmp_path / "bad.model"
    bad.write_text("not a model")
    with pytest.raises(ValueError, match=rf"{bad.name} is not a valid SentencePiece model"):
        AlbertTokenizer(VOCAB_FILE, sp_model_kwargs={"model_file": str(bad)})


# --- finding 8: metadata that crashed with the wrong exception, or was accepted ----------------------
@pytest.mark.parametrize("text, expected", [("Infinity", int(1e30)), ("1e30", int(1e30)), ("512", 512)])
def test_model_max_length_infinity_means_no_limit(tmp_path, text, expected):
    """Transformers writes int(1e30) for "no limit"; `Infinity` is read as that same number."""
    directory = tokenizer_dir(tmp_path, **{"tokenizer_config.json": f'{{"model_max_length": {text}}}'})
    assert AlbertTokenizer.from_pretrained(directory).model_max_length == expected


@pytest.mark.parametrize("text", ["NaN", "-Infinity", "-5", "12.5"])
def test_model_max_length_nan_or_negative_is_refused_naming_the_file(tmp_path, text):
    directory = tokenizer_dir(tmp_path, **{"tokenizer_config.json": f'{{"model_max_length": {text}}}'})
    with pytest.raises(ValueError, match="tokenizer_config.json: model_max_length must be a whole number of 0 or more"):
        AlbertTokenizer.from_pretrained(directory)


@pytest.mark.parametrize("token_id", ["[1]", '"abc"', "NaN", "1.5", "-1", "true"])
def test_added_tokens_json_ids_must_be_integers(tmp_path, token_id):
    directory = tokenizer_dir(tmp_path, **{"added_tokens.json": f'{{"[X]": {token_id}}}'})
    with pytest.raises(ValueError, match=r"added_tokens.json: '\[X\]' has the id .*not an integer of 0 or more"):
        AlbertTokenizer.from_pretrained(directory)


def test_added_tokens_decoder_ids_must_not_be_negative(tmp_path):
    directory = tokenizer_dir(tmp_path, **{"tokenizer_config.json": {"added_tokens_decoder": {"-5": {"content": "[X]"}}}})
    with pytest.raises(ValueError, match="tokenizer_config.json: added_tokens_decoder has the id '-5'"):
        AlbertTokenizer.from_pretrained(directory)


def test_a_single_word_added_token_is_reported_as_such(tmp_path):
    entry = {"content": "[X]", "single_word": True}
    directory = tokenizer_dir(tmp_path, **{"tokenizer_config.json": {"added_tokens_decoder": {"30001": entry}}})
    with pytest.raises(ValueError, match=r"added_tokens_decoder\[30001\]: added tokens with single_word=True are not"):
        AlbertTokenizer.from_pretrained(directory)


def test_an_added_tokens_decoder_entry_of_the_wrong_type_is_a_value_error(tmp_path):
    directory = tokenizer_dir(tmp_path, **{"tokenizer_config.json": {"added_tokens_decoder": {"30001": ["x"]}}})
    with pytest.raises(ValueError, match=r"tokenizer_config.json: added_tokens_decoder\[30001\] must be a str"):
        AlbertTokenizer.from_pretrained(directory)


@pytest.mark.parametrize("role, value, field", [
    ("mask_token", 5, "mask_token"), ("mask_token", ["a"], "mask_token"),
    ("mask_token", {"content": {"a": 1}}, "mask_token"), ("additional_special_tokens", "abc", "additional_special_tokens"),
    ("additional_special_tokens", [[["x"]]], r"additional_special_tokens\[0\]"),
])
def test_special_tokens_of_the_wrong_type_name_the_file_and_role(tmp_path, role, value, field):
    directory = tokenizer_dir(tmp_path, **{"special_tokens_map.json": {role: value}})
    with pytest.raises(ValueError, match=rf"special_tokens_map.json: {field} must be"):
        AlbertTokenizer.from_pretrained(directory)


def write_safetensors_by_hand(file: Path, tensors: dict) -> Path:
    """A safetensors file of `{name: (dtype name, shape, raw bytes)}`, for dtypes NumPy lacks."""
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    encoded = json.dumps(header).encode()
    file.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)
    return file


# 1.0 and 2.0 in bfloat16: the top 16 bits of their float32 patterns.
BF16_ONE_TWO = (np.array([1.0, 2.0], np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()


@pytest.mark.parametrize("dtype, numpy_dtype", [("BOOL", np.bool_), ("U8", np.uint8), ("I8", np.int8)])
def test_bfloat16_beside_one_byte_dtypes_loads(tmp_path, dtype, numpy_dtype):
    write_safetensors_by_hand(tmp_path / "model.safetensors",
                              {"a": ("BF16", (2,), BF16_ONE_TWO), "b": (dtype, (2,), b"\x01\x00")})
    tensors, _ = read_checkpoint(tmp_path)
    np.testing.assert_array_equal(tensors["a"], np.array([1.0, 2.0], np.float32))
    assert tensors["b"].dtype == numpy_dtype and tensors["b"].tolist() == [1, 0]


@pytest.mark.parametrize("tensors", [
    {"a": ("F8_E4M3", (2,), b"\x00\x00")},
    {"a": ("BF16", (2,), BF16_ONE_TWO), "b": ("F8_E5M2", (2,), b"\x00\x00")},
], ids=["float8", "bfloat16-and-float8"])
def test_float8_tensors_are_refused_naming_file_and_tensor(tmp_path, tensors):
    write_safetensors_by_hand(tmp_path / "model.safetensors", tensors)
    with pytest.raises(ValueError, match=r"model.safetensors: tensor '[ab]' has dtype F8_E\dM\d, which NumPy cannot"):
        read_checkpoint(tmp_path)


# --- every JSON file read: whatever is wrong is one ValueError naming the file (finding 8 for two of them)
HUGE_INTEGER = "9" * 5_000  # past the 4,300 digits Python converts from text: a bare ValueError in json.loads
BROKEN_JSON = {
    "nested too deeply": (DEEP_JSON, "nested too deeply"),
    "an integer of 5,000 digits": (f'{{"n": {HUGE_INTEGER}}}', "integer string conversion"),
    "not UTF-8": (b'{"n": "\xff"}', "not UTF-8"),
    "cut short": ('{"n": [1, 2', "Expecting"),
}


def _write(path: Path, content) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _read_config(tmp_path, content):
    AlbertConfig.from_pretrained(_write(tmp_path / "config.json", content).parent)


def _read_tokenizer_config(tmp_path, content):
    AlbertTokenizer.from_pretrained(_write(tokenizer_dir(tmp_path) / "tokenizer_config.json", content).parent)


def _read_shard_index(tmp_path, content):
    read_checkpoint(_write(tmp_path / "model" / INDEX_NAME, content).parent)


def _read_pretraining_state(tmp_path, content):
    from tinyalbert.train.checkpoints import read_trainer_state
    read_trainer_state(_write(tmp_path / "checkpoint" / "trainer_state.json", content).parent)


def _read_task_records(tmp_path, content):
    from tinyalbert.task_data import read_task_file
    first = b'{"tokens": ["a"], "tags": ["O"]}\n'
    read_task_file("token-classification", _write(tmp_path / "train.jsonl", first + (
        content if isinstance(content, bytes) else content.encode())))


def _read_squad(tmp_path, content):
    from tinyalbert.task_data import read_task_file
    read_task_file("question-answering", _write(tmp_path / "train.json", content))


JSON_READERS = {  # reader -> what its error must name
    "config.json": (_read_config, "config.json"),
    "tokenizer_config.json": (_read_tokenizer_config, "tokenizer_config.json"),
    "shard index": (_read_shard_index, INDEX_NAME),
    "pretraining trainer_state.json": (_read_pretraining_state, "trainer_state.json"),
    "fine-tuning data, one record a line": (_read_task_records, "train.jsonl, line 2"),
    "SQuAD file": (_read_squad, "train.json"),
}

DATA_READERS = {"fine-tuning data, one record a line": r"train.jsonl is not UTF-8 text: byte 0xff on line 2",
                "SQuAD file": r"train.json is not UTF-8 text: byte 0xff on line 1"}


@pytest.mark.parametrize("reader", JSON_READERS)
@pytest.mark.parametrize("damage", BROKEN_JSON)
def test_every_json_reader_names_the_file_whatever_is_wrong(tmp_path, reader, damage):
    """Before, the trainer state and fine-tuning data let RecursionError and the bare ValueError of
    a 5,000-digit integer escape (no file, no line); every reader now shares one parser."""
    read, name = JSON_READERS[reader]
    content, reason = BROKEN_JSON[damage]
    expected = rf"{re.escape(name)}: not valid JSON \(.*{reason}"
    if damage == "not UTF-8" and reader in DATA_READERS:  # text files: the reader of every data file says where
        expected = DATA_READERS[reader]
    with pytest.raises(ValueError, match=expected):
        read(tmp_path, content)


@pytest.mark.parametrize("reader", ["config.json", "shard index", "pretraining trainer_state.json"])
def test_json_files_that_hold_no_object_are_refused_naming_the_file(tmp_path, reader):
    read, name = JSON_READERS[reader]
    with pytest.raises(ValueError, match=rf"{re.escape(name)} must hold a JSON object .*not a list"):
        read(tmp_path, "[1, 2]")
