"""How a graded name is called, the same way for the reference and for a student's code.

Most graded names are plain functions: `namespace[name](*args, **kwargs)`. Two other shapes:

- an optimizer class (`AdamW`, `LAMB`): built with `kwargs["init"]`, then `step(params, grads, lr)`
  is called once per entry of `args`; the result is the list of the returned parameter dicts;
- a tokenizer method (`_split_digit_comma`, `_pieces_of_plain_texts`), which the student writes
  as a function of `self`: it is called on `PiecesTokenizer`, a stand-in that has the two
  attributes those methods use (`sp_model.encode` and the other method).
"""
from __future__ import annotations

import inspect
import re

import numpy as np

from .reference import GRADED_METHODS, is_method, resolve

SPIECE_UNDERLINE = "\u2581"
# One SentencePiece-like piece: digits with a trailing comma stay one piece ("9,", "1999,"),
# which is exactly what ALBERT's digit-comma rule exists to split again.
_PIECE = re.compile(r"\d+,|\d+|[^\W\d_]+|[^\s]")


class RuleBasedPieces:
    """A deterministic stand-in for a SentencePiece processor: `encode(text or texts, out_type=str)`.

    Each space-separated word gives "▁" + its first piece, then its other pieces; a run of digits
    keeps a comma that follows it, as real vocabularies often do ("▁9," in albert-base-v2).
    """

    def encode(self, text, out_type=str):
        if isinstance(text, (list, tuple)):
            return [self.encode(one, out_type) for one in text]
        pieces = []
        for word in text.split(" "):
            word_pieces = _PIECE.findall(word)
            if word_pieces:
                word_pieces[0] = SPIECE_UNDERLINE + word_pieces[0]
            pieces.extend(word_pieces)
        return pieces


class PiecesTokenizer:
    """What `AlbertTokenizer._pieces_of_plain_texts` and `_split_digit_comma` read from `self`."""

    def __init__(self, namespace: dict):
        self.sp_model = RuleBasedPieces()
        self._namespace = namespace

    def preprocess_text(self, text: str) -> str:
        return " ".join(text.split()).lower()

    def _split_digit_comma(self, piece: str) -> list:
        return self._namespace["_split_digit_comma"](self, piece)


def invoke(namespace: dict, target: str, args, kwargs):
    """Call the graded name `target` as found in `namespace` (see the module docstring)."""
    if target in GRADED_METHODS:
        optimizer = namespace[target](**kwargs["init"])
        return [optimizer.step(*step) for step in args]
    if is_method(target):
        return namespace[target](PiecesTokenizer(namespace), *args, **kwargs)
    return namespace[target](*args, **kwargs)


# --- arguments changed in place ---------------------------------------------------------------
# A function that writes into an array it was given breaks the model around it even when its own
# result is right: the caller still holds that array (the residual branch adds the layer's input
# again, the next pass of a shared layer reads it, a cache is read by a later backward). So every
# array of a call's arguments must come back as it went in. The exceptions are written down in the
# reference's docstring: graded name -> the parts of its arguments it may change, each a path into
# the positional arguments ((1, 1): argument 1's entry 1).
MAY_OVERWRITE = {
    "softmax_backward": ((0,),),  # "perf: overwrites and returns `d_probs`"
    "encoder_backward": ((1, 1),),  # "The layer caches are popped off `cache.layers`" (EncoderCache field 1)
}


def _argument_arrays(tree, path):
    """(path, array) for each NumPy array in the tuples, lists and dicts of `tree`."""
    if isinstance(tree, np.ndarray):
        yield path, tree
    elif isinstance(tree, dict):
        for key, value in tree.items():
            yield from _argument_arrays(value, (*path, key))
    elif isinstance(tree, (list, tuple)):
        for index, value in enumerate(tree):
            yield from _argument_arrays(value, (*path, index))


def argument_arrays(args, kwargs):
    """(path, array) of every array of a call's arguments, the path starting with "args" or "kwargs"."""
    return _argument_arrays({"args": list(args), "kwargs": dict(kwargs)}, ())


def _same(array, before) -> bool:
    """Bit for bit (a NaN that stays is the same; nothing a notebook can patch, e.g.
    `numpy.array_equal`, takes part)."""
    return array.shape == before.shape and array.dtype == before.dtype and array.tobytes() == before.tobytes()


def entry_at(tree, path):
    """`tree[path[0]][path[1]]...`; None when there is no such entry."""
    try:
        for step in path:
            tree = tree[step]
    except (LookupError, TypeError, ValueError):
        return None
    return tree


def arguments_changed(target: str, sent, returned, replaced=()) -> str:
    """"" when every array the call was given is still in its place and as it was; else what changed.

    Decided here, in the grader: `sent` is the call's arguments ({"args": [...], "kwargs": {...}}) as
    the grader sent them, `returned` the same tree after the call as the student's process sent it
    back (through the codec, as the outputs). `replaced`: the paths that process saw swapped for
    another object (an equal array too); it can only fail a call, never pass one.
    """
    allowed = MAY_OVERWRITE.get(target, ())
    replaced = {tuple(path) for path in replaced or ()}
    for path, before in _argument_arrays(sent, ()):
        if path[0] == "args" and any(path[1:1 + len(part)] == part for part in allowed):
            continue
        array = entry_at(returned, path)
        if path not in replaced and isinstance(array, np.ndarray) and _same(array, before):
            continue
        try:  # the names in the messages: the graded signature's
            function = resolve(target)
        except Exception:  # not a graded name: arguments by position
            function = None
        name = _describe_path(function, target, path, sent[path[0]][path[1]])
        if path in replaced or not isinstance(array, np.ndarray):
            return (f"`{target}` replaced or removed {name} in the container it was given; the caller "
                    "still uses that container: build a new one instead")
        where = ""  # unchanged arrays were passed over above: this one changed
        if array.shape == before.shape and array.size:
            differs = np.argwhere(~np.isclose(array, before, equal_nan=True)) if array.dtype.kind in "fc" \
                and before.dtype.kind in "fc" else np.argwhere(array != before)
            if len(differs):
                index = tuple(int(i) for i in differs[0])
                where = f" (at index {index} it was {_scalar(before[index])}, now {_scalar(array[index])})"
        else:
            where = f" (shape {before.shape} {before.dtype}, now {array.shape} {array.dtype})"
        return (f"`{target}` changed {name} in place{where}. Your result may be right, but the model "
                "still uses that array after the call (a residual branch, the next pass of a shared "
                "layer, a cache read again): write into a new array (`y = x * 2`, not `x *= 2`; "
                "`x = x.copy()` first if you must)")
    return ""


def _scalar(value) -> str:
    value = value.item() if hasattr(value, "item") else value
    return f"{value:.6g}" if isinstance(value, float) else repr(value)


def _describe_path(function, target: str, path, argument) -> str:
    """`x`, `weights['query']`, `cache.normalized`, `params['w'] of step 2`: an argument's part
    as the student names it (`argument` is the whole argument, for the names of a cache's fields)."""
    where, first, *rest = path
    if where == "args" and target in GRADED_METHODS and rest:  # args = [(params, grads, lr), ...]: one per step
        names = ("params", "grads", "lr")
        position, *rest = rest
        label = names[position] if position < len(names) else f"argument {position}"
        return f"`{label}`" + _keys_text(argument[position], rest) + f" of step {first + 1}"
    return "its argument " + argument_name(function, path, argument, drop_self=is_method(target))


def argument_name(function, path, argument=None, drop_self: bool = False) -> str:
    """The argument at `path` (("args", position, keys...) or ("kwargs", name, keys...)) as the
    signature of `function` names it (`weight`, `weights['query']`), by position when that cannot
    be read. `argument`, the whole argument, gives a cache's field names (`cache.normalized`);
    `drop_self`: `function` is a method written as a function of `self`."""
    where, first, *rest = path
    label = f"`{first}`" if where == "kwargs" else f"argument {first}"
    if where == "args":
        try:
            parameters = [p for p in inspect.signature(function).parameters if not (drop_self and p == "self")]
            label = f"`{parameters[first]}`"
        except (TypeError, ValueError, IndexError):  # no function, or a signature that cannot be read
            pass
    return label + _keys_text(argument, rest)


def _keys_text(value, keys) -> str:
    """`.normalized` for a NamedTuple's field, `['query']` for a dict's key, `[2]` for a position."""
    text = ""
    for key in keys:
        fields = getattr(value, "_fields", None)
        text += f".{fields[key]}" if fields and isinstance(key, int) else f"[{key!r}]"
        try:
            value = value[key]
        except (LookupError, TypeError):
            value = None
    return text
