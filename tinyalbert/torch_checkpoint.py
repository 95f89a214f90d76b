"""Read `pytorch_model.bin` without torch and without running anything from the file.

A file written by `torch.save(state_dict)` is a zip archive:

    archive/data.pkl       a pickle of the dict {name: tensor}, each tensor described by a call
                           `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`
    archive/data/<key>     the raw bytes of each storage (one per distinct storage; views share)
    archive/byteorder      "little" or "big"

(Files from torch < 1.6, or saved with `_use_new_zipfile_serialization=False`, are one stream
instead: a few small pickles, the same main pickle, then the storages one after another.)

Unpickling normally imports and calls whatever the file names, which is how a pickle runs code.
Here the unpickler knows a short list of names, and each maps to a function of this module:
rebuilding a tensor becomes a NumPy copy of its part of the storage; an `OrderedDict` is a dict. Any other
name (`os.system`, `builtins.eval`, ...) raises `UnsafeCheckpointError` before anything runs.
"""
from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

# The storage classes torch names in its pickles, and the NumPy type of their elements.
# bfloat16 has no NumPy type: its 16 bits are read as uint16 and widened to float32 at the end.
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C


class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
    """The pickle asks for something other than tensors and dicts (a ValueError, like any bad file)."""


class StorageType:
    """What `torch.FloatStorage` and its siblings become: only the element type they name."""

    def __init__(self, name: str):
        self.dtype = STORAGE_DTYPES[name]

    @property
    def numpy_dtype(self):
        return np.dtype(np.uint16) if self.dtype == "bfloat16" else np.dtype(self.dtype)


class Storage:
    """A flat array of one storage's elements, and whether they are bfloat16 bits."""

    def __init__(self, elements: np.ndarray, bfloat16: bool):
        self.elements, self.bfloat16 = elements, bfloat16


def rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    """The tensor `storage[offset:]` seen with `size` and `stride` (in elements), as a NumPy copy.

    Sizes, strides and offset are checked to stay inside the storage: an array view that
    reached beyond it would read memory that is not part of the file. No tensor may have more
    elements than its storage either, so views that repeat elements (``expand``'s stride 0, or
    overlapping strides) are refused, although torch loads them: a few bytes of file could
    otherwise ask for an array of any size.
    """
    if not isinstance(storage, Storage):
        raise UnsafeCheckpointError("a tensor is built from something that is not a storage of this file")
    size, stride = tuple(size), tuple(stride)
    values = (storage_offset, *size, *stride)
    if len(size) != len(stride) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise UnsafeCheckpointError(f"a tensor has an invalid size {size}, stride {stride} or offset {storage_offset}")
    count = int(np.prod(size, dtype=np.int64)) if size else 1
    elements = storage.elements
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride)) if count else storage_offset - 1
    if last >= elements.shape[0]:
        raise UnsafeCheckpointError(
            f"a tensor of size {size} and stride {stride} at offset {storage_offset} reaches beyond its storage "
            f"of {elements.shape[0]} elements"
        )
    if count > elements.shape[0]:
        raise UnsafeCheckpointError(
            f"a tensor of size {size} and stride {stride} has {count} elements, more than its storage of "
            f"{elements.shape[0]} (views that repeat elements, such as broadcast views, are refused)"
        )
    itemsize = elements.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        elements[storage_offset:], shape=size, strides=tuple(s * itemsize for s in stride), writeable=False
    )
    tensor = np.array(view)  # a copy: tensors that shared a storage are independent arrays from here on
    return widen_bfloat16(tensor) if storage.bfloat16 else tensor


def widen_bfloat16(bits: np.ndarray) -> np.ndarray:
    """bfloat16 values, held as their uint16 bit patterns -> the same values as float32, exactly:
    bfloat16 is the top half of a float32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    """An `nn.Parameter` is its tensor."""
    return data


def ordered_dict(*args):
    if args:  # torch calls OrderedDict() with no argument; the items come afterwards
        raise UnsafeCheckpointError("OrderedDict called with arguments")
    return collections.OrderedDict()


# Every name a checkpoint pickle may mention, and what it becomes.
ALLOWED_GLOBALS = {
    ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
    ("collections", "OrderedDict"): ordered_dict,
    **{("torch", name): StorageType(name) for name in STORAGE_DTYPES},
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only ALLOWED_GLOBALS and reads storages through `load_storage`."""

    def __init__(self, file, load_storage, source: str):
        super().__init__(file)
        self.load_storage, self.source = load_storage, source

    def find_class(self, module, name):
        allowed = ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise UnsafeCheckpointError(
                f"{self.source} asks to run {module}.{name}; only tensors and dicts are read from a checkpoint"
            )
        return allowed

    def persistent_load(self, saved_id):
        if not (isinstance(saved_id, tuple) and len(saved_id) >= 5 and saved_id[0] == "storage"):
            raise UnsafeCheckpointError(f"{self.source} refers to an unknown kind of object {saved_id!r:.80}")
        storage_type, key, _location, numel = saved_id[1:5]
        if not isinstance(storage_type, StorageType) or not isinstance(numel, int) or numel < 0:
            raise UnsafeCheckpointError(f"{self.source} has an invalid storage reference {saved_id!r:.80}")
        return self.load_storage(str(key), storage_type, numel)


def _storage_from_bytes(raw: bytes, storage_type: StorageType, numel: int, byteorder: str, where: str) -> Storage:
    dtype = storage_type.numpy_dtype.newbyteorder("<" if byteorder == "little" else ">")
    if len(raw) < numel * dtype.itemsize:
        raise ValueError(f"{where} holds {len(raw)} bytes, fewer than its {numel} elements need (truncated?)")
    elements = np.frombuffer(raw, dtype=dtype, count=numel).astype(dtype.newbyteorder("="))
    return Storage(elements, storage_type.dtype == "bfloat16")


def _load_zip(file: Path) -> dict:
    with zipfile.ZipFile(file) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{file} is a zip archive but not a torch checkpoint (no single data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        names = set(archive.namelist())
        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = archive.read(prefix + "byteorder").decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise ValueError(f"{file}: unknown byte order {byteorder!r}")
        storages = {}

        def load_storage(key, storage_type, numel):
            if key not in storages:
                entry = f"{prefix}data/{key}"
                if entry not in names:
                    raise ValueError(f"{file} names storage {key!r}, which the archive lacks (truncated?)")
                storages[key] = _storage_from_bytes(archive.read(entry), storage_type, numel, byteorder,
                                                    f"{file}:{entry}")
            return storages[key]

        return RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), load_storage, str(file)).load()


def _load_legacy(file: Path) -> dict:
    """The stream format: magic number, protocol, system info, the main pickle, the storage keys,
    then each storage as an 8-byte element count and its bytes, in the order of the keys.

    The storages come after the pickle that uses them, so the pickle is read twice: once to
    learn each storage's type and size, once more to build the tensors from the bytes read.
    """
    stream = io.BytesIO(file.read_bytes())
    header = [RestrictedUnpickler(stream, None, str(file)).load() for _ in range(3)]
    if header[0] != LEGACY_MAGIC_NUMBER or not isinstance(header[2], dict):
        raise ValueError(f"{file} is neither a zip archive nor a legacy torch checkpoint")
    byteorder = "little" if header[2].get("little_endian", True) else "big"
    main_pickle = stream.tell()
    declared = {}

    def declare(key, storage_type, numel):  # a zero-filled stand-in, the size of the real storage
        declared[key] = (storage_type, numel)
        return Storage(np.zeros(numel, dtype=storage_type.numpy_dtype), storage_type.dtype == "bfloat16")

    RestrictedUnpickler(stream, declare, str(file)).load()
    storages = {}
    for key in map(str, RestrictedUnpickler(stream, None, str(file)).load()):
        storage_type, numel = declared[key]
        if int.from_bytes(stream.read(8), byteorder) != numel:
            raise ValueError(f"{file}: storage {key} does not have the {numel} elements its pickle declares")
        raw = stream.read(numel * storage_type.numpy_dtype.itemsize)
        storages[key] = _storage_from_bytes(raw, storage_type, numel, byteorder, f"{file} storage {key}")
    stream.seek(main_pickle)
    return RestrictedUnpickler(stream, lambda key, storage_type, numel: storages[key], str(file)).load()


def load_torch_checkpoint(file) -> dict:
    """The tensors of a `torch.save`d state dict as {name: NumPy array}; bfloat16 becomes float32.

    Raises UnsafeCheckpointError for a pickle that names anything but tensors and dicts, and
    ValueError for a file that is not a torch checkpoint or is cut short.
    """
    file = Path(file)
    try:
        state = _load_zip(file) if zipfile.is_zipfile(file) else _load_legacy(file)
    except UnsafeCheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, KeyError, TypeError, IndexError,
            AttributeError, OverflowError, MemoryError, ValueError) as error:
        raise ValueError(f"{file} is not a readable torch checkpoint: {type(error).__name__}: {error}") from None
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise ValueError(f"{file} does not hold a dict of tensors (a state dict)")
    return {str(name): value for name, value in state.items()}


def write_torch_checkpoint(tensors: dict, file) -> Path:
    """`torch.save` NumPy arrays as a state dict of tensors, the file Transformers writes with
    `safe_serialization=False`. Writing needs torch (reading, above, does not)."""
    try:
        import torch
    except ImportError:
        raise ImportError(f"writing {Path(file).name} needs torch (pip install torch); "
                          "save_pretrained() without safe_serialization=False writes model.safetensors") from None
    file = Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    torch.save({name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in tensors.items()}, file)
    return file
