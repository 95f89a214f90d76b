"""`tinyalbert.torch_checkpoint`: `pytorch_model.bin` read without torch and without running
anything from the file. Files are written by torch itself; malicious ones are built by hand."""
import io
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyalbert.torch_checkpoint import UnsafeCheckpointError, load_torch_checkpoint

REPO_ROOT = Path(__file__).resolve().parents[1]
DTYPES = ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8", "bool")


def torch_or_skip():
    return pytest.importorskip("torch")


def expected_numpy(tensor):
    """What the reader must return for a torch tensor: its values, bfloat16 widened to float32."""
    torch = torch_or_skip()
    return tensor.float().numpy() if tensor.dtype == torch.bfloat16 else tensor.numpy()


def sample_state(torch):
    generator = torch.Generator().manual_seed(0)
    state = {}
    for name in DTYPES:
        dtype = getattr(torch, name)
        values = torch.randn(3, 4, generator=generator) * 50
        state[f"t_{name}"] = values.to(dtype) if dtype.is_floating_point else (values > 0 if dtype == torch.bool
                                                                              else values.to(dtype))
    state["scalar"] = torch.tensor(2.5)
    state["empty"] = torch.zeros(0, 7)
    return state


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_every_dtype_torch_writes_reads_back_exactly(tmp_path, zip_format):
    torch = torch_or_skip()
    state = sample_state(torch)
    file = tmp_path / "pytorch_model.bin"
    torch.save(state, file, _use_new_zipfile_serialization=zip_format)
    assert zipfile.is_zipfile(file) == zip_format
    loaded = load_torch_checkpoint(file)
    assert list(loaded) == list(state)
    for name, tensor in state.items():
        expected = expected_numpy(tensor)
        assert loaded[name].dtype == expected.dtype and loaded[name].shape == expected.shape, name
        np.testing.assert_array_equal(loaded[name], expected, err_msg=name)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_shared_storages_views_and_parameters(tmp_path, zip_format):
    torch = torch_or_skip()
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    weight = torch.nn.Parameter(torch.randn(5, 3))
    state = {
        "base": base, "row": base[2], "column": base[:, 1], "transposed": base.t(), "block": base[1:3, 2:5],
        "tied_a": weight, "tied_b": weight, "half_view": base.to(torch.float16)[::2, ::3],
    }
    file = tmp_path / "shared.bin"
    torch.save(state, file, _use_new_zipfile_serialization=zip_format)
    loaded = load_torch_checkpoint(file)
    for name, tensor in state.items():
        np.testing.assert_array_equal(loaded[name], tensor.detach().numpy(), err_msg=name)
    loaded["row"][0] = -1.0  # arrays are copies: a view no longer writes into its neighbours
    assert loaded["base"][2, 0] == 12.0


def test_big_endian_archive(tmp_path):
    torch = torch_or_skip()
    state = {"w": torch.randn(3, 5), "h": torch.randn(4).half(), "i": torch.arange(6)}
    little = tmp_path / "little.bin"
    torch.save(state, little)
    big = tmp_path / "big.bin"
    with zipfile.ZipFile(little) as source, zipfile.ZipFile(big, "w") as target:
        # Rewrite the archive as a big-endian machine would have: every storage byte-swapped.
        sizes = {"0": 4, "1": 2, "2": 8}
        for entry in source.namelist():
            data = source.read(entry)
            if entry.endswith("byteorder"):
                data = b"big"
            key = entry.rsplit("/data/", 1)[-1] if "/data/" in entry else None
            if key in sizes:
                data = np.frombuffer(data, dtype=f"<u{sizes[key]}").astype(f">u{sizes[key]}").tobytes()
            target.writestr(entry, data)
    loaded = load_torch_checkpoint(big)
    for name, tensor in state.items():
        np.testing.assert_array_equal(loaded[name], tensor.numpy(), err_msg=name)


def test_reader_never_imports_torch(tmp_path):
    torch = torch_or_skip()
    file = tmp_path / "pytorch_model.bin"
    torch.save({"a": torch.ones(2, 2)}, file)
    code = ("import sys; sys.modules['torch'] = None\n"  # any import of torch would now fail
            "from tinyalbert.torch_checkpoint import load_torch_checkpoint\n"
            f"print(load_torch_checkpoint({str(file)!r})['a'].sum())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "4.0", done.stderr


# --- malicious and broken files ------------------------------------------------------------------
class RunsCommand:
    """A pickle payload that would run a shell command when unpickled by `pickle.load`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class CallsEval:
    def __reduce__(self):
        return eval, ("__import__('os').getpid()",)


def zip_checkpoint(file, payload: bytes, storages: dict | None = None):
    with zipfile.ZipFile(file, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", "little")
        for key, data in (storages or {}).items():
            archive.writestr(f"archive/data/{key}", data)
    return file


def legacy_checkpoint(file, payload: bytes):
    stream = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True, "protocol_version": 1001}):
        pickle.dump(header, stream, protocol=2)
    stream.write(payload)
    pickle.dump([], stream, protocol=2)
    file.write_bytes(stream.getvalue())
    return file


@pytest.mark.parametrize("payload", [RunsCommand, CallsEval], ids=["os.system", "eval"])
@pytest.mark.parametrize("container", [zip_checkpoint, legacy_checkpoint], ids=["zip", "legacy"])
def test_pickles_that_run_code_are_refused_before_running(tmp_path, payload, container):
    marker = tmp_path / "ran"
    obj = payload(marker) if payload is RunsCommand else payload()
    file = container(tmp_path / "evil.bin", pickle.dumps({"weight": obj}, protocol=2))
    refused = r"evil\.bin asks to run ((posix|os|nt)\.system|(builtins|__builtin__)\.eval)"
    with pytest.raises(UnsafeCheckpointError, match=refused):
        load_torch_checkpoint(file)
    assert not marker.exists()


def test_rebuild_call_helper_builds_a_valid_tensor(tmp_path):
    """The hand-made pickle of the tests below is right when its numbers are."""
    data = np.arange(6, dtype=np.float32).tobytes()
    payload = _tensor_pickle(("storage", "FloatStorage", "0", "cpu", 6), 1, (2, 2), (3, 1))
    loaded = load_torch_checkpoint(zip_checkpoint(tmp_path / "ok.bin", payload, {"0": data}))
    np.testing.assert_array_equal(loaded["w"], [[1, 2], [4, 5]])


def _tensor_pickle(storage_id, offset, size, stride) -> bytes:
    """Protocol-2 pickle of {"w": _rebuild_tensor_v2(<storage>, offset, size, stride, False, OrderedDict())}."""
    kind, storage_class, key, location, numel = storage_id

    def text(value):
        return b"X" + len(value).to_bytes(4, "little") + value.encode()

    def integer(value):
        return b"\x8a" + bytes([8]) + int(value).to_bytes(8, "little", signed=True)

    def int_tuple(values):
        return b"(" + b"".join(integer(v) for v in values) + b"t"

    persistent = b"(" + text(kind) + f"ctorch\n{storage_class}\n".encode() + text(key) + text(location) \
        + integer(numel) + b"tQ"
    arguments = b"(" + persistent + integer(offset) + int_tuple(size) + int_tuple(stride) + b"\x89" \
        + b"ccollections\nOrderedDict\n)Rt"
    return b"\x80\x02}" + text("w") + b"ctorch._utils\n_rebuild_tensor_v2\n" + arguments + b"Rs."


@pytest.mark.parametrize("offset, size, stride", [
    (0, (4, 4), (4, 1)),        # 16 elements from a storage of 6
    (5, (2,), (1,)),            # starts inside, ends past the end
    (0, (2, 2), (100, 1)),      # a stride that leaps out of the storage
    (0, (10**6, 10**6), (0, 0)),  # a broadcast view far larger than the file
    (-1, (1,), (1,)),           # a negative offset
])
def test_tensor_views_outside_their_storage_are_refused(tmp_path, offset, size, stride):
    data = np.arange(6, dtype=np.float32).tobytes()
    payload = _tensor_pickle(("storage", "FloatStorage", "0", "cpu", 6), offset, size, stride)
    with pytest.raises(UnsafeCheckpointError, match="storage|offset"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "bad.bin", payload, {"0": data}))


def test_truncated_and_inconsistent_files_name_the_file(tmp_path):
    torch = torch_or_skip()
    good = tmp_path / "good.bin"
    torch.save({"w": torch.randn(50, 50)}, good)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="cut.bin"):
        load_torch_checkpoint(cut)
    payload = _tensor_pickle(("storage", "FloatStorage", "0", "cpu", 6), 0, (6,), (1,))
    with pytest.raises(ValueError, match=r"short\.bin.*fewer than its 6 elements"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "short.bin", payload, {"0": b"\x00" * 8}))
    with pytest.raises(ValueError, match=r"missing\.bin.*lacks"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "missing.bin", payload, {}))
    (tmp_path / "text.bin").write_text("not a checkpoint at all")
    with pytest.raises(ValueError, match="text.bin"):
        load_torch_checkpoint(tmp_path / "text.bin")
    with pytest.raises(ValueError, match="dict of tensors"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "list.bin", pickle.dumps([1, 2], protocol=2)))


@given(st.binary(max_size=300))
def test_random_bytes_in_the_pickle_never_escape_as_other_errors(tmp_path_factory, payload):
    file = zip_checkpoint(tmp_path_factory.mktemp("fuzz") / "fuzz.bin", b"\x80\x02" + payload,
                          {"0": b"\x00" * 64})
    try:
        load_torch_checkpoint(file)
    except ValueError:  # UnsafeCheckpointError is a ValueError too
        pass


def test_model_loads_from_a_bfloat16_transformers_bin(tmp_path):
    torch = torch_or_skip()
    transformers = pytest.importorskip("transformers")
    import tinyalbert

    torch.manual_seed(0)
    config = transformers.AlbertConfig(vocab_size=40, embedding_size=8, hidden_size=12, num_hidden_layers=2,
                                       num_attention_heads=3, intermediate_size=20, max_position_embeddings=16,
                                       attn_implementation="eager")
    reference = transformers.AlbertForMaskedLM(config).to(torch.bfloat16).eval()
    reference.save_pretrained(tmp_path, safe_serialization=False)
    assert (tmp_path / "pytorch_model.bin").exists() and not (tmp_path / "model.safetensors").exists()
    ours = tinyalbert.AlbertForMaskedLM.from_pretrained(tmp_path)
    for name, value in ours.state_dict().items():
        np.testing.assert_array_equal(value, reference.state_dict()[name].float().numpy(), err_msg=name)


@given(st.data())
def test_corrupted_valid_pickles_fail_only_with_value_errors(tmp_path_factory, data):
    payload = bytearray(_tensor_pickle(("storage", "FloatStorage", "0", "cpu", 6), 1, (2, 2), (3, 1)))
    for _ in range(data.draw(st.integers(1, 3))):
        payload[data.draw(st.integers(0, len(payload) - 1))] = data.draw(st.integers(0, 255))
    file = zip_checkpoint(tmp_path_factory.mktemp("fuzz") / "fuzz.bin", bytes(payload),
                          {"0": np.arange(6, dtype=np.float32).tobytes()})
    try:
        loaded = load_torch_checkpoint(file)
    except ValueError:
        return
    assert all(isinstance(value, np.ndarray) for value in loaded.values())


def test_a_broadcast_view_is_refused_for_its_element_count(tmp_path):
    torch = torch_or_skip()
    file = tmp_path / "expanded.bin"
    torch.save({"e": torch.zeros(1).expand(4)}, file)  # stride 0: torch loads it, four elements from one
    assert torch.load(file)["e"].shape == (4,)
    with pytest.raises(UnsafeCheckpointError, match=r"has 4 elements, more than its storage of 1 .*broadcast"):
        load_torch_checkpoint(file)


# --- the pickle machine: what a hostile file tried, each stopped before it could act ----------------
def _text(value: str) -> bytes:  # BINUNICODE
    return b"X" + len(value.encode()).to_bytes(4, "little") + value.encode()


def _storage_tensor(key: str, numel: int, size: tuple, storage_class: str = "FloatStorage") -> bytes:
    """Protocol-2 opcodes that push `_rebuild_tensor_v2(<storage key>, 0, size, contiguous stride)`."""
    strides = [int(np.prod(size[i + 1:])) for i in range(len(size))]
    ints = lambda values: b"(" + b"".join(b"J" + v.to_bytes(4, "little") for v in values) + b"t"  # noqa: E731
    persistent = b"(" + _text("storage") + f"ctorch\n{storage_class}\n".encode() + _text(key) + _text("cpu") \
        + b"J" + numel.to_bytes(4, "little") + b"tQ"
    return b"ctorch._utils\n_rebuild_tensor_v2\n(" + persistent + b"J\x00\x00\x00\x00" + ints(size) + ints(strides) \
        + b"\x89Nt" + b"R"


def test_a_pickle_may_not_set_the_state_of_a_storage_or_a_storage_type(tmp_path):
    """BUILD sets an object's attributes: on a storage, a tensor could then read memory past the
    end of an empty buffer (a segfault, or process memory in a weight); on the shared storage
    type, every later float32 file would load as float16. Only the state dict's `_metadata` may be set."""
    floats = np.arange(6, dtype=np.float32).tobytes()
    on_storage = (b"\x80\x02}" + _text("w") + b"(" + _text("storage") + b"ctorch\nFloatStorage\n" + _text("0")
                  + _text("cpu") + b"J\x06\x00\x00\x00tQ" + b"}" + _text("elements") + b"]sb" + b"s.")
    with pytest.raises(UnsafeCheckpointError, match="sets the state of a Storage"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "storage.bin", on_storage, {"0": floats}))
    on_type = b"\x80\x02}" + _text("w") + b"ctorch\nFloatStorage\n}" + _text("dtype") + _text("<f2") + b"sbs."
    with pytest.raises(UnsafeCheckpointError, match="sets the state of a StorageType"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "type.bin", on_type))
    good = b"\x80\x02}" + _text("w") + _storage_tensor("0", 6, (6,)) + b"s."
    loaded = load_torch_checkpoint(zip_checkpoint(tmp_path / "good.bin", good, {"0": floats}))
    assert loaded["w"].dtype == np.float32 and loaded["w"].tolist() == list(range(6))


@pytest.mark.parametrize("instruction, name", [
    (b"0", "POP"), (b"i__builtin__\nobject\n", "INST"), (b"(ctorch\nFloatStorage\no", "OBJ"),
    (b"ctorch\nFloatStorage\n)\x81", "NEWOBJ"), (b"\x82\x01", "EXT1"), (b"L5L\n", "LONG"), (b"I5\n", "INT"),
])
def test_instructions_torch_does_not_write_are_refused(tmp_path, instruction, name):
    payload = b"\x80\x02" + instruction + b"."
    with pytest.raises(UnsafeCheckpointError, match=f"uses {name}, which torch.save does not write"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "odd.bin", payload))


def test_dict_keys_must_be_names_and_memo_numbers_in_order(tmp_path):
    """A key is hashed when it is set: a tuple that nests itself through the memo doubles the work
    at every level (a 700-byte file ran for centuries), a deep one crashed Python. And a memo
    number far ahead of the others would grow a table of that size (9 bytes asked for 4 GB)."""
    tuple_key = b"\x80\x02}(J\x01\x00\x00\x00t" + _text("v") + b"s."
    with pytest.raises(UnsafeCheckpointError, match="a dict key is a tuple, not a name"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "key.bin", tuple_key))
    far_memo = b"\x80\x02}r\x00\x00\x00\x10."  # LONG_BINPUT 2**28
    with pytest.raises(UnsafeCheckpointError, match="memo index 268435456 out of order"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "memo.bin", far_memo))


def test_compressed_members_are_refused_before_they_are_inflated(tmp_path):
    """torch stores every member as it is; a compressed one could inflate a kilobyte into gigabytes."""
    file = tmp_path / "deflated.bin"
    with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}." + b"\x00" * 10_000)
    with pytest.raises(ValueError, match="'archive/data.pkl' is compressed"):
        load_torch_checkpoint(file)


def test_legacy_storage_sizes_past_the_file_are_refused_before_memory_is_taken(tmp_path):
    huge = b"\x80\x02}" + _text("w") + _storage_tensor("0", 800_000_000, (800_000_000,)) + b"s."
    with pytest.raises(ValueError, match="declares storages of 3200000000 bytes, more than the file's"):
        load_torch_checkpoint(legacy_checkpoint(tmp_path / "huge.bin", huge))


def test_a_protocol_4_checkpoint_reads_as_torch_loads_it(tmp_path):
    torch = torch_or_skip()
    state = sample_state(torch)
    file = tmp_path / "p4.bin"
    torch.save(state, file, pickle_protocol=4)
    loaded = load_torch_checkpoint(file)
    for name, tensor in state.items():
        np.testing.assert_array_equal(loaded[name], expected_numpy(tensor), err_msg=name)


def test_a_size_that_nests_itself_is_refused_without_printing_it(tmp_path):
    """A size tuple whose levels each hold the previous one twice (through the memo) is a few
    bytes a level, but its repr doubles per level: the error must not spell it out."""
    payload = b"\x80\x02}" + _text("w") + b"ctorch._utils\n_rebuild_tensor_v2\n(" + b"(" + _text("storage") \
        + b"ctorch\nFloatStorage\n" + _text("0") + _text("cpu") + b"J\x01\x00\x00\x00tQ" + b"J\x00\x00\x00\x00" \
        + b")q\x00"
    for level in range(40):  # (L, L), remembered as the next level: 2**40 leaves in its repr
        payload += b"h" + bytes([level]) + b"\x86q" + bytes([level + 1])
    payload += b"\x85(J\x01\x00\x00\x00ttRs."
    with pytest.raises(UnsafeCheckpointError, match="size, stride or offset is not integers"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "nested.bin", payload, {"0": b"\x00" * 4}))


def test_rebuilding_one_view_again_and_again_is_stopped_by_a_budget(tmp_path):
    """Each rebuild is a copy, and five bytes of pickle (get the function, get its arguments,
    call) rebuild the same view: 300 of them would take 300 times the file."""
    numel = 2**18  # a 1 MiB storage
    tensor = _storage_tensor("0", numel, (numel,))
    payload = b"\x80\x02}" + _text("w0") + tensor[:-1] + b"q\x00Rs"  # the call's arguments remembered as 0
    payload += b"".join(_text(f"w{k}") + b"ctorch._utils\n_rebuild_tensor_v2\nh\x00Rs" for k in range(1, 300))
    file = zip_checkpoint(tmp_path / "again.bin", payload + b".", {"0": b"\x00" * 4 * numel})
    with pytest.raises(UnsafeCheckpointError, match="its tensors would take more than"):
        load_torch_checkpoint(file)


def test_nothing_below_a_mark_can_be_taken(tmp_path):
    """As in Python's unpickler, MARK starts a new stack: SETITEM right after a MARK would set an
    item of the dict below the mark, and SETITEMS would then find nothing; Python and torch refuse it."""
    payload = b"\x80\x02ccollections\nOrderedDict\n)R(" + _text("w") + _storage_tensor("0", 2, (2,)) + b"su."
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(payload.replace(b"ctorch._utils\n_rebuild_tensor_v2\n", b"cbuiltins\nslice\n"))
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "mark.bin", payload, {"0": b"\x00" * 8}))


def test_empty_views_past_their_storage_read_as_torch_loads_them(tmp_path):
    torch = torch_or_skip()
    state = {"h": torch.empty(0, 3)[:, 1:], "k": torch.zeros(3, 0, 2), "b": torch.empty(0, 2, dtype=torch.bfloat16)}
    for zip_format in (True, False):
        file = tmp_path / f"empty-{zip_format}.bin"
        torch.save(state, file, _use_new_zipfile_serialization=zip_format)
        loaded = load_torch_checkpoint(file)
        for name, tensor in state.items():
            assert loaded[name].shape == tuple(tensor.shape), name


def test_a_legacy_file_from_a_big_endian_machine_is_little_endian_inside(tmp_path):
    """torch writes legacy storages little-endian whatever the machine; only the flag differs."""
    torch = torch_or_skip()
    state = {"w": torch.randn(3, 4), "i": torch.arange(5)}
    saved = io.BytesIO()
    torch.save(state, saved, _use_new_zipfile_serialization=False)
    stream = io.BytesIO(saved.getvalue())
    magic, protocol, system = (pickle.load(stream) for _ in range(3))
    rewritten = io.BytesIO()
    for header in (magic, protocol, {**system, "little_endian": False}):
        pickle.dump(header, rewritten, protocol=2)
    rewritten.write(stream.read())
    (tmp_path / "be.bin").write_bytes(rewritten.getvalue())
    reference, loaded = torch.load(tmp_path / "be.bin", weights_only=True), load_torch_checkpoint(tmp_path / "be.bin")
    for name in state:
        np.testing.assert_array_equal(loaded[name], reference[name].numpy(), err_msg=name)


def test_encrypted_members_and_dtypes_it_does_not_read_are_named(tmp_path):
    file = zip_checkpoint(tmp_path / "locked.bin", b"\x80\x02}.")
    data = bytearray(file.read_bytes())
    for signature in (b"PK\x03\x04", b"PK\x01\x02"):  # set the 'encrypted' flag in both headers
        at = data.find(signature)
        flag = at + (6 if signature == b"PK\x03\x04" else 8)
        data[flag] |= 0x1
    file.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="compressed or encrypted"):
        load_torch_checkpoint(file)
    complex_storage = b"\x80\x02}" + _text("w") + _storage_tensor("0", 2, (2,), "ComplexFloatStorage") + b"s."
    with pytest.raises(ValueError, match="tensors of a type this reader does not read .*ComplexFloatStorage"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "complex.bin", complex_storage, {"0": b"\x00" * 16}))


def test_a_pickle_of_too_many_instructions_is_refused(tmp_path):
    from tinyalbert.torch_checkpoint import MAX_PICKLE_INSTRUCTIONS

    payload = b"\x80\x02" + b"N" * (MAX_PICKLE_INSTRUCTIONS + 5) + b"."
    with pytest.raises(UnsafeCheckpointError, match="more than .* instructions"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "long.bin", payload))


def test_two_references_to_one_storage_must_agree(tmp_path):
    """The first reference's checks (its size against the file) must hold for every later one: a
    legacy file repeating a key with a huge size got a new zero-filled stand-in each time."""
    floats = np.arange(6, dtype=np.float32).tobytes()
    payload = (b"\x80\x02}" + _text("a") + _storage_tensor("0", 6, (6,)) + b"s"
               + _text("b") + _storage_tensor("0", 2**28, (1,)) + b"s.")
    for container, extra in ((zip_checkpoint, {"0": floats}), (legacy_checkpoint, None)):
        file = container(tmp_path / f"twice-{container.__name__}.bin", payload, *([extra] if extra else []))
        with pytest.raises(ValueError, match="storage '0' is referred to with two types or sizes"):
            load_torch_checkpoint(file)


def test_storage_views_of_old_torch_versions_are_named_not_misread(tmp_path):
    """torch before 1.0 saved (view key, offset, size) as a sixth element; it was dropped, so the
    tensor read the wrong part of the storage without a word."""
    view = b"(" + _text("view") + b"J\x02\x00\x00\x00J\x03\x00\x00\x00t"
    persistent = (b"(" + _text("storage") + b"ctorch\nFloatStorage\n" + _text("0") + _text("cpu")
                  + b"J\x06\x00\x00\x00" + view + b"tQ")
    payload = (b"\x80\x02}" + _text("w") + b"ctorch._utils\n_rebuild_tensor_v2\n(" + persistent
               + b"J\x00\x00\x00\x00(J\x03\x00\x00\x00t(J\x01\x00\x00\x00t\x89Nt" + b"Rs.")
    with pytest.raises(ValueError, match="a view of a storage, as torch before 1.0 saved them"):
        load_torch_checkpoint(zip_checkpoint(tmp_path / "view.bin", payload, {"0": b"\x00" * 24}))


def test_the_format_is_told_by_the_first_bytes_as_torch_tells_it(tmp_path):
    """A zip archive appended to a legacy file: torch reads the legacy file, and so must this
    reader (zipfile finds the archive at the end and would read other weights)."""
    torch = torch_or_skip()
    legacy, archive = tmp_path / "legacy.bin", tmp_path / "archive.bin"
    torch.save({"w": torch.ones(4)}, legacy, _use_new_zipfile_serialization=False)
    torch.save({"w": torch.full((4,), 666.0)}, archive)
    both = tmp_path / "both.bin"
    both.write_bytes(legacy.read_bytes() + archive.read_bytes())
    assert torch.load(both, weights_only=True)["w"].tolist() == [1.0] * 4
    assert load_torch_checkpoint(both)["w"].tolist() == [1.0] * 4


def test_zip_flags_and_offsets_torch_never_writes_are_value_errors(tmp_path):
    torch = torch_or_skip()
    source = tmp_path / "source.bin"
    torch.save({"w": torch.arange(4.0)}, source)
    data = bytearray(source.read_bytes())
    patched = bytearray(data)
    for signature, flag in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # 'compressed patched data' on every member
        at = patched.find(signature)
        while at != -1:
            patched[at + flag] |= 0x20
            at = patched.find(signature, at + 4)
    (tmp_path / "patched.bin").write_bytes(bytes(patched))
    with pytest.raises(ValueError, match="compressed or encrypted"):
        load_torch_checkpoint(tmp_path / "patched.bin")
    # A member whose local header lies 2**60 bytes into the file (a ZIP64 extra field): seeking
    # there is an OSError, which must be a ValueError like every other bad file.
    import struct
    central = data.find(b"PK\x01\x02")
    name_length, extra_length = struct.unpack_from("<HH", data, central + 28)
    assert extra_length == 0
    struct.pack_into("<I", data, central + 42, 0xFFFFFFFF)
    struct.pack_into("<H", data, central + 30, 12)
    data[central + 46 + name_length:central + 46 + name_length] = struct.pack("<HHQ", 1, 8, 2**60)
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<I", data, end + 12, struct.unpack_from("<I", data, end + 12)[0] + 12)
    (tmp_path / "far.bin").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="far.bin"):
        load_torch_checkpoint(tmp_path / "far.bin")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_torch_checkpoint(tmp_path / "absent.bin")
