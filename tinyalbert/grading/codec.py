"""How arguments and results cross between the grader and the sandboxed student process.

A value is a tree of plain Python data and NumPy arrays. It travels as one frame:

    [8-byte length][JSON header][8-byte length][.npz archive of the arrays]

The JSON header is {"tree": the value, "layout": where each array is}; the tree names each
array by its index in the layout, and the archive holds the arrays of one dtype end to end in
one entry (see `to_bytes`). It is read back with `allow_pickle=False`, so nothing the student
process sends is ever unpickled. Tagged nodes of the tree:

    {"@a": i}            the i-th array             {"@t": [...]}   a tuple
    {"@s": i}            a NumPy float (np.float32(1.5)): the i-th array, of shape (), keeps its dtype
    {"@l": [...]}        a list                     {"@d": [[k, v], ...]}  a dict
    {"@n": "mod:Cls", "f": [...]}  a NamedTuple from tinyalbert (rebuilt by type on the sandbox
                         side, and by `checks.InProcess`; the grader reading the sandbox's reply gets a plain tuple)
    {"@rng": seed}       a fresh numpy.random.Generator      {"@config": {...}}  an AlbertConfig
                         (rebuilt where `trusted`; the grader reading the sandbox's reply gets a Bad)
    {"@ref": [slot, path...]}  (sandbox side) a value the sandbox kept from an earlier call
    {"@bad": "type"}     a value of a type that cannot travel (the grader reports it)
"""
from __future__ import annotations

import importlib
import io
import json
import math
import struct

import numpy as np

MAX_FRAME_BYTES = 256 * 1024 * 1024  # a result bigger than this is refused, not read
# The JSON part alone: arrays travel in the archive, so only a value of millions of Python
# numbers (a list, not an array) comes near it; decoding that would take the grader minutes,
# outside every time limit of the student's calls.
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64  # containers nested deeper than this (or a container holding itself) travel as {"@bad"}


class Rng:
    """Marker for "a new numpy.random.default_rng(seed)" in a case's arguments."""

    def __init__(self, seed: int):
        self.seed = int(seed)


class Config:
    """Marker for "an AlbertConfig with these fields" in a case's arguments."""

    def __init__(self, **fields):
        self.fields = fields


class Ref:
    """Marker for "the value the sandbox kept in `slot`, at `path`"."""

    def __init__(self, slot: str, *path):
        self.slot, self.path = slot, list(path)


def encode(value):
    """value -> (JSON-able tree, list of NumPy arrays)."""
    arrays: list = []
    return _encode(value, arrays), arrays


def _encode(value, arrays, depth=0):
    if depth > MAX_DEPTH:
        return {"@bad": "too deeply nested value"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, np.floating):  # travels as an array, so that a float32 comes back a float32
        arrays.append(np.asarray(value))
        return {"@s": len(arrays) - 1}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"@f": repr(value)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return {"@bad": "object array"}
        arrays.append(value)
        return {"@a": len(arrays) - 1}
    if isinstance(value, Rng):
        return {"@rng": value.seed}
    if isinstance(value, Config):
        return {"@config": _encode(value.fields, arrays, depth + 1)}
    if isinstance(value, Ref):
        return {"@ref": [value.slot, *value.path]}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        kind = type(value)
        return {"@n": f"{kind.__module__}:{kind.__qualname__}", "f": [_encode(v, arrays, depth + 1) for v in value]}
    if isinstance(value, tuple):
        return {"@t": [_encode(v, arrays, depth + 1) for v in value]}
    if isinstance(value, list):
        return {"@l": [_encode(v, arrays, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"@d": [[_encode(k, arrays, depth + 1), _encode(v, arrays, depth + 1)] for k, v in value.items()]}
    if hasattr(value, "__array__") and not callable(value):  # e.g. a CuPy array or a 0-d array-like
        try:
            return _encode(np.asarray(value), arrays, depth + 1)
        except Exception:  # an object whose __array__ raises
            return {"@bad": type(value).__name__}
    if type(value).__name__ == "AlbertConfig":
        return {"@config": _encode({k: v for k, v in vars(value).items() if k != "extra"}, arrays, depth + 1)}
    return {"@bad": type(value).__name__}


class Bad:
    """A value the student returned that could not travel (a function, a custom object, ...)."""

    def __init__(self, kind: str):
        self.kind = kind

    def __repr__(self):
        return f"<{self.kind}>"


def decode(tree, arrays, *, trusted: bool, slots=None):
    """The inverse of `encode`. `trusted` (the sandbox reading the grader's request) rebuilds
    tinyalbert NamedTuples and AlbertConfigs (so does `checks.InProcess`, which reads its own
    process's results); the grader reading the sandbox's reply never does."""
    if isinstance(tree, list):
        raise ValueError("bare list in a frame")
    if not isinstance(tree, dict):
        return tree
    if "@a" in tree:
        return arrays[tree["@a"]]
    if "@s" in tree:
        array = arrays[tree["@s"]]
        return array[()] if array.shape == () else array
    if "@f" in tree:
        return float(tree["@f"])
    if "@t" in tree:
        return tuple(decode(v, arrays, trusted=trusted, slots=slots) for v in tree["@t"])
    if "@l" in tree:
        return [decode(v, arrays, trusted=trusted, slots=slots) for v in tree["@l"]]
    if "@d" in tree:
        return {decode(k, arrays, trusted=trusted, slots=slots): decode(v, arrays, trusted=trusted, slots=slots)
                for k, v in tree["@d"]}
    if "@n" in tree:
        fields = [decode(v, arrays, trusted=trusted, slots=slots) for v in tree["f"]]
        return _named_tuple(tree["@n"], fields) if trusted else tuple(fields)
    if "@bad" in tree:
        return Bad(str(tree["@bad"]))
    if trusted and "@rng" in tree:
        return np.random.default_rng(tree["@rng"])
    if "@config" in tree:
        if not trusted:  # an AlbertConfig the student's process sends back (an argument, as it got it)
            return Bad("AlbertConfig")
        from tinyalbert.config import AlbertConfig

        return AlbertConfig(**decode(tree["@config"], arrays, trusted=True))
    if trusted and "@ref" in tree and slots is not None:
        slot, *path = tree["@ref"]
        value = slots[slot]
        for step in path:
            value = value[step]
        return value
    raise ValueError(f"unknown node {sorted(tree)[:3]}")


def _named_tuple(qualified: str, fields):
    module, _, name = qualified.partition(":")
    if not module.startswith("tinyalbert."):
        return tuple(fields)
    kind = getattr(importlib.import_module(module), name)
    return kind(*fields)


class TooLarge(ValueError):
    """A value whose JSON part is over `MAX_HEADER_BYTES`: refused, with a message for the student."""


def too_large_message(size: int) -> str:
    return (f"your function returned a value too large to grade: its numbers and containers outside NumPy arrays "
            f"take {size / 2**20:.0f} MB to send, more than {MAX_HEADER_BYTES // 2**20} MB (return a NumPy array, "
            "not a list or tuple of millions of numbers)")


def to_bytes(value) -> bytes:
    """One frame for `value` (see the module docstring)."""
    tree, arrays = encode(value)
    # The arrays of one dtype travel as one flat array of the archive (an .npz entry costs about
    # a millisecond to read: a call that sends back a model's weights would take seconds);
    # "layout" says where each one is: [entry, offset, size, shape].
    entries, sizes, layout = {}, {}, []
    for array in arrays:
        key = array.dtype.str
        if key not in entries:
            entries[key], sizes[key] = [], 0
        layout.append([list(entries).index(key), sizes[key], int(array.size), list(array.shape)])
        entries[key].append(np.ascontiguousarray(array).reshape(-1))
        sizes[key] += int(array.size)
    header = json.dumps({"tree": tree, "layout": layout}).encode()
    if len(header) > MAX_HEADER_BYTES:
        raise TooLarge(too_large_message(len(header)))
    buffer = io.BytesIO()
    np.savez(buffer, *[np.concatenate(parts) for parts in entries.values()])
    archive = buffer.getvalue()
    return struct.pack("<Q", len(header)) + header + struct.pack("<Q", len(archive)) + archive


def from_bytes(header: bytes, archive: bytes, *, trusted: bool, slots=None):
    frame = json.loads(header.decode())
    with np.load(io.BytesIO(archive), allow_pickle=False) as loaded:
        entries = [loaded[f"arr_{i}"] for i in range(len(loaded.files))]
    arrays = []
    for entry, offset, size, shape in frame["layout"]:
        flat = entries[entry][offset:offset + size]
        if flat.size != size:
            raise ValueError("an array is shorter than its layout says")
        arrays.append(flat.reshape(shape).copy())  # each its own, writeable
    return decode(frame["tree"], arrays, trusted=trusted, slots=slots)


def round_trip(value, *, trusted: bool):
    """`value` as the other side of the pipe reads it: `from_bytes(to_bytes(value))`."""
    data = to_bytes(value)
    header_size = struct.unpack("<Q", data[:8])[0]
    header = data[8:8 + header_size]
    archive = data[16 + header_size:]
    return from_bytes(header, archive, trusted=trusted)


def copy_tree(value, slots=None):
    """A deep copy through the codec: what the sandbox would receive, built in this process.
    A `Ref` becomes the kept value in `slots` itself, not a copy, as in the sandbox (so a
    student's own cache class reaches their backward intact)."""
    tree, arrays = encode(value)
    return decode(tree, [np.array(a, copy=True) for a in arrays], trusted=True, slots=slots)
