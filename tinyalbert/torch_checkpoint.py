"""Read `pytorch_model.bin` without torch and without running anything from the file.

A file written by `torch.save(state_dict)` is a zip archive:

    archive/data.pkl       a pickle of the dict {name: tensor}, each tensor described by a call
                           `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`
    archive/data/<key>     the raw bytes of each storage (one per distinct storage; views share)
    archive/byteorder      "little" or "big"

(Files from torch < 1.6, or saved with `_use_new_zipfile_serialization=False`, are one stream
instead: a few small pickles, the same main pickle, then the storages one after another.)

Unpickling normally imports and calls whatever the file names, which is how a pickle runs code.
So Python's unpickler is not used. A pickle is a program for a small stack machine, and
`run_pickle` runs it here, one instruction at a time (`pickletools.genops` decodes them): only
the instructions `torch.save` writes, only the names of a short list, each mapped to a function
of this module (rebuilding a tensor becomes a NumPy copy of its part of the storage; an
`OrderedDict` is a dict), dict keys that are strings, no attribute set on anything but the state
dict. Anything else (`os.system`, `builtins.eval`, an object's `__setstate__`, ...) raises
`UnsafeCheckpointError` before it happens. Sizes are checked before memory is taken: a few bytes
of file cannot ask for gigabytes.
"""
from __future__ import annotations

import collections
import io
import itertools
import math
import pickle
import pickletools
import warnings
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
# A state dict's pickle names its tensors (some 30 instructions and 200 bytes each); the numbers
# are in the storages. A pickle past these is not a state dict, and each instruction costs memory.
MAX_PICKLE_BYTES = 64 * 2**20
MAX_PICKLE_INSTRUCTIONS = 2**18


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
    # Checked before any of them is printed: the repr of a tuple that nests itself through the
    # pickle's memo doubles with each level, so an error message could take all memory.
    if not (_is_index(storage_offset) and _are_indices(size) and _are_indices(stride) and len(size) == len(stride)):
        raise UnsafeCheckpointError("a tensor's size, stride or offset is not integers >= 0 (as many strides as sizes)")
    count = math.prod(size)  # Python ints: a product past 2**63 does not wrap around
    elements = storage.elements
    if count == 0:  # nothing is read, wherever it starts (torch saves empty views past a storage's end)
        empty = np.empty(size, dtype=elements.dtype)
        return widen_bfloat16(empty) if storage.bfloat16 else empty
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
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


def _is_index(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _are_indices(values) -> bool:
    """A size or stride: a tuple of at most 32 integers >= 0 (NumPy's arrays have at most 64 axes)."""
    return isinstance(values, tuple) and len(values) <= 32 and all(_is_index(value) for value in values)


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

# The instructions that push a constant, and its value.
CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
# What `REDUCE` may call: the functions above (the storage types are names, not calls).
CALLABLE = (rebuild_tensor, rebuild_parameter, ordered_dict)
# The instructions `torch.save` writes: protocol 2, or 4 with `pickle_protocol=4`. Instructions
# that build arbitrary objects (INST, OBJ, NEWOBJ, EXT*) or read text-format arguments are not here.
PICKLE_OPCODES = frozenset({
    "PROTO", "FRAME", "STOP", "MARK", "BINPUT", "LONG_BINPUT", "MEMOIZE", "BINGET", "LONG_BINGET",
    "GLOBAL", "STACK_GLOBAL", "BINPERSID", "REDUCE", "BUILD", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE",
    "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "SETITEM", "SETITEMS", "APPEND", "APPENDS", "NONE", "NEWTRUE",
    "NEWFALSE", "BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT", "BINUNICODE", "SHORT_BINUNICODE",
    "BINUNICODE8",
})


def run_pickle(stream, load_storage, source: str, max_tensor_bytes: int = 0):
    """The object a pickle builds, built here: `stream` is read up to the pickle's STOP.

    `load_storage(key, storage_type, numel)` gives the storage a tensor refers to (`BINPERSID`).
    The tensors built may hold `max_tensor_bytes` in all (0: no tensor is expected): each is a
    copy, and a few bytes of pickle can rebuild the same view again and again.
    Raises UnsafeCheckpointError for anything `torch.save` does not write.
    """
    stack, frames, memo, tensor_bytes = [], [], [], 0  # frames: the stacks set aside by MARK
    with warnings.catch_warnings():  # pickletools decodes a global's name with escapes: "\\q" warns
        warnings.simplefilter("ignore", DeprecationWarning)
        instructions = list(itertools.islice(pickletools.genops(stream), MAX_PICKLE_INSTRUCTIONS + 1))
    if len(instructions) > MAX_PICKLE_INSTRUCTIONS:
        raise UnsafeCheckpointError(f"{source}: the pickle has more than {MAX_PICKLE_INSTRUCTIONS} instructions")
    for opcode, argument, _ in instructions:
        name = opcode.name
        if name not in PICKLE_OPCODES:
            raise UnsafeCheckpointError(f"{source}: the pickle uses {name}, which torch.save does not write")
        if name == "STOP":
            break
        if name in ("PROTO", "FRAME"):  # the protocol, and a length prefix of the next instructions
            continue
        if name == "MARK":  # as in Python's unpickler: a new stack, so nothing below the mark can be taken
            frames.append(stack)
            stack = []
        elif name in ("BINPUT", "LONG_BINPUT", "MEMOIZE"):  # remember the top object by number
            index = len(memo) if name == "MEMOIZE" else argument
            if index > len(memo):  # pickle numbers them 0, 1, 2, ...; a far index would grow a huge table
                raise UnsafeCheckpointError(f"{source}: memo index {index} out of order")
            memo[index:index + 1] = [stack[-1]]
        elif name in ("BINGET", "LONG_BINGET"):
            stack.append(memo[argument])
        elif name in ("GLOBAL", "STACK_GLOBAL"):
            if name == "GLOBAL":
                module, qualified_name = argument.split(" ", 1)
            else:
                qualified_name, module = stack.pop(), stack.pop()
            stack.append(_allowed_global(module, qualified_name, source))
        elif name == "BINPERSID":
            stack.append(_storage_reference(stack.pop(), load_storage, source))
        elif name == "REDUCE":
            arguments, function = stack.pop(), stack.pop()
            if not (any(function is allowed for allowed in CALLABLE) and isinstance(arguments, tuple)):
                raise UnsafeCheckpointError(f"{source}: the pickle calls something that is not a tensor rebuild")
            stack.append(function(*arguments))
            if isinstance(stack[-1], np.ndarray):  # an empty one still costs its array object
                tensor_bytes += max(stack[-1].nbytes, 256)
                if tensor_bytes > max_tensor_bytes:
                    raise UnsafeCheckpointError(f"{source}: its tensors would take more than {max_tensor_bytes} "
                                                "bytes, far more than the file holds")
        elif name == "BUILD":  # torch sets the state dict's `_metadata` (module versions), not read here
            state = stack.pop()
            if not (isinstance(stack[-1], collections.OrderedDict) and isinstance(state, dict)):
                raise UnsafeCheckpointError(f"{source}: the pickle sets the state of a {type(stack[-1]).__name__}")
        elif name in ("SETITEM", "SETITEMS"):
            if name == "SETITEMS":
                items, stack = stack, frames.pop()
            else:
                items = [stack.pop(-2), stack.pop()]
            _set_items(stack[-1], items, source)
        elif name in ("APPEND", "APPENDS"):
            if name == "APPENDS":
                items, stack = stack, frames.pop()
            else:
                items = [stack.pop()]
            if not isinstance(stack[-1], list):
                raise UnsafeCheckpointError(f"{source}: the pickle appends to a {type(stack[-1]).__name__}")
            stack[-1].extend(items)
        elif name == "TUPLE":
            items, stack = stack, frames.pop()
            stack.append(tuple(items))
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            count = int(name[-1])
            if len(stack) < count:
                raise pickle.UnpicklingError(f"{source}: {name} with {len(stack)} object(s) on the stack")
            items = tuple(stack[-count:])
            del stack[-count:]
            stack.append(items)
        elif name == "EMPTY_DICT":
            stack.append({})
        elif name == "EMPTY_LIST":
            stack.append([])
        elif name == "EMPTY_TUPLE":
            stack.append(())
        elif name in CONSTANTS:
            stack.append(CONSTANTS[name])
        else:  # ints, floats and strings: the decoded argument is the value
            stack.append(argument)
    if len(stack) != 1 or frames:
        raise pickle.UnpicklingError(f"{source}: the pickle does not end with one object")
    return stack[0]


def _set_items(target, items: list, source: str) -> None:
    """`target[key] = value` for each (key, value) of `items`: a dict, and keys that are strings
    (a key of another kind would be hashed, and a tuple that nests itself through the memo takes
    2**depth steps to hash)."""
    if not isinstance(target, dict) or len(items) % 2:
        raise UnsafeCheckpointError(f"{source}: the pickle sets items of a {type(target).__name__}")
    for key, value in zip(items[::2], items[1::2]):
        if not isinstance(key, str):
            raise UnsafeCheckpointError(f"{source}: a dict key is a {type(key).__name__}, not a name")
        target[key] = value


def _allowed_global(module, name, source: str):
    if not (isinstance(module, str) and isinstance(name, str)):
        raise UnsafeCheckpointError(f"{source}: the pickle names a global that is not a string")
    allowed = ALLOWED_GLOBALS.get((module, name))
    if allowed is None and (module == "torch" and name.endswith("Storage") or name == "_rebuild_tensor_v3"):
        raise ValueError(f"{source} holds tensors of a type this reader does not read ({module[:60]}.{name[:60]}; "
                         f"it reads {', '.join(STORAGE_DTYPES)})")
    if allowed is None:
        raise UnsafeCheckpointError(f"{source} asks to run {module[:60]}.{name[:60]}; only tensors and dicts are "
                                    "read from a checkpoint")
    return allowed


def _storage_reference(saved_id, load_storage, source: str) -> Storage:
    """The storage of `("storage", storage_type, key, location, numel, ...)`, as torch writes it."""
    if not (isinstance(saved_id, tuple) and len(saved_id) >= 5 and saved_id[0] == "storage"):
        raise UnsafeCheckpointError(f"{source} refers to an unknown kind of object (a {type(saved_id).__name__})")
    storage_type, key, _location, numel = saved_id[1:5]
    if not (isinstance(storage_type, StorageType) and isinstance(key, str) and _is_index(numel)):
        raise UnsafeCheckpointError(f"{source} has an invalid storage reference")
    if len(saved_id) > 6 or len(saved_id) == 6 and saved_id[5] is not None:
        raise ValueError(f"{source} refers to a view of a storage, as torch before 1.0 saved them; this reader "
                         "does not read those (load and save the file again with a recent torch)")
    return load_storage(key, storage_type, numel)


def _check_same_reference(seen: dict, key: str, storage_type: StorageType, numel: int, source: str) -> None:
    """Every reference to a storage names the type and size of the first (torch writes them so):
    the first one's checks then hold for all."""
    if seen.setdefault(key, (storage_type, numel)) != (storage_type, numel):
        raise UnsafeCheckpointError(f"{source}: storage {key[:40]!r} is referred to with two types or sizes")


def _storage_from_bytes(raw: bytes, storage_type: StorageType, numel: int, byteorder: str, where: str) -> Storage:
    dtype = storage_type.numpy_dtype.newbyteorder("<" if byteorder == "little" else ">")
    if len(raw) < numel * dtype.itemsize:
        raise ValueError(f"{where} holds {len(raw)} bytes, fewer than its {numel} elements need (truncated?)")
    elements = np.frombuffer(raw, dtype=dtype, count=numel)  # a read-only view of the bytes: each tensor copies
    if not dtype.isnative:  # its part once; only a big-endian file needs the whole storage swapped first
        elements = elements.astype(dtype.newbyteorder("="))
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
            byteorder = _read_member(archive, prefix + "byteorder", 16, file).decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise ValueError(f"{file}: unknown byte order {byteorder!r}")
        storages, seen = {}, {}

        def load_storage(key, storage_type, numel):
            _check_same_reference(seen, key, storage_type, numel, str(file))
            if key not in storages:
                entry = f"{prefix}data/{key}"
                if entry not in names:
                    raise ValueError(f"{file} names storage {key!r:.80}, which the archive lacks (truncated?)")
                raw = _read_member(archive, entry, numel * storage_type.numpy_dtype.itemsize, file)
                storages[key] = _storage_from_bytes(raw, storage_type, numel, byteorder, f"{file}:{entry}")
            return storages[key]

        if archive.getinfo(pickles[0]).file_size > MAX_PICKLE_BYTES:
            raise ValueError(f"{file}: its pickle is larger than {MAX_PICKLE_BYTES} bytes, not a state dict's")
        pickled = _read_member(archive, pickles[0], MAX_PICKLE_BYTES, file)
        return run_pickle(io.BytesIO(pickled), load_storage, str(file), max_tensor_bytes=_tensor_budget(file))


def _tensor_budget(file: Path) -> int:
    """The bytes a checkpoint's tensors may take: four times the file (bfloat16 widens to float32,
    and views may share a storage), plus a little for files of empty tensors."""
    return 4 * file.stat().st_size + 2**20


def _read_member(archive: zipfile.ZipFile, name: str, limit: int, file: Path) -> bytes:
    """At most `limit` bytes of a member, which must be stored, not compressed, as torch writes
    every member: the bytes then lie in the file, and no small member can inflate into a large one."""
    info = archive.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x61:  # encrypted, patched, strongly encrypted
        raise ValueError(f"{file}: member {name!r:.80} is compressed or encrypted; torch.save stores every "
                         "member as it is")
    with archive.open(info) as member:
        return member.read(min(limit, info.file_size))


def _load_legacy(file: Path) -> dict:
    """The stream format: magic number, protocol, system info, the main pickle, the storage keys,
    then each storage as an 8-byte element count and its bytes, in the order of the keys.

    The storages come after the pickle that uses them, so the pickle is read twice: once to
    learn each storage's type and size, once more to build the tensors from the bytes read.
    """
    data = file.read_bytes()
    stream = io.BytesIO(data)
    header = [run_pickle(stream, None, str(file)) for _ in range(3)]
    if header[0] != LEGACY_MAGIC_NUMBER or not isinstance(header[2], dict):
        raise ValueError(f"{file} is neither a zip archive nor a legacy torch checkpoint")
    # The system information says which byte order the saving machine had, but torch writes the
    # counts and the storages little-endian whatever it was, and reads them so.
    byteorder = "little"
    main_pickle = stream.tell()
    declared, stand_ins, declared_bytes = {}, {}, 0

    def declare(key, storage_type, numel):  # a zero-filled stand-in, the size of the real storage
        nonlocal declared_bytes
        _check_same_reference(declared, key, storage_type, numel, str(file))
        if key not in stand_ins:
            declared_bytes += storage_type.numpy_dtype.itemsize * numel
            if declared_bytes > len(data):  # checked before the memory is taken
                raise ValueError(f"{file}: its pickle declares storages of {declared_bytes} bytes, more than the "
                                 f"file's {len(data)} (truncated, or not a checkpoint)")
            stand_ins[key] = Storage(np.zeros(numel, dtype=storage_type.numpy_dtype), storage_type.dtype == "bfloat16")
        return stand_ins[key]

    run_pickle(stream, declare, str(file), max_tensor_bytes=_tensor_budget(file))
    storages = {}
    keys = run_pickle(stream, None, str(file))
    if not (isinstance(keys, list) and all(isinstance(key, str) for key in keys)):
        raise ValueError(f"{file}: the list of storage keys is not a list of names")
    for key in keys:
        storage_type, numel = declared[key]
        if int.from_bytes(stream.read(8), byteorder) != numel:
            raise ValueError(f"{file}: storage {key:.80} does not have the {numel} elements its pickle declares")
        raw = stream.read(numel * storage_type.numpy_dtype.itemsize)
        storages[key] = _storage_from_bytes(raw, storage_type, numel, byteorder, f"{file} storage {key:.80}")
    stream.seek(main_pickle)
    return run_pickle(stream, lambda key, storage_type, numel: storages[key], str(file),
                      max_tensor_bytes=_tensor_budget(file))


def load_torch_checkpoint(file) -> dict:
    """The tensors of a `torch.save`d state dict as {name: NumPy array}; bfloat16 becomes float32.

    Raises UnsafeCheckpointError for a pickle that names anything but tensors and dicts, and
    ValueError for a file that is not a torch checkpoint or is cut short.
    """
    file = Path(file)
    if not file.is_file():
        raise FileNotFoundError(f"no such file: {file}")
    try:
        with file.open("rb") as handle:  # as torch decides: a zip archive starts with a local file header
            is_zip = handle.read(4) == b"PK\x03\x04"
        state = _load_zip(file) if is_zip else _load_legacy(file)
    except UnsafeCheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, KeyError, TypeError, IndexError, AttributeError,
            OverflowError, MemoryError, ValueError, RecursionError, OSError, NotImplementedError) as error:
        raise ValueError(f"{file} is not a readable torch checkpoint: {type(error).__name__}: {str(error)[:200]}") from None
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
