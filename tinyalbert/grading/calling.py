"""How a graded name is called, the same way for the reference and for a student's code.

Most graded names are plain functions: `namespace[name](*args, **kwargs)`. Two other shapes:

- an optimizer class (`AdamW`, `LAMB`): built with `kwargs["init"]`, then `step(params, grads, lr)`
  is called once per entry of `args`; the result is the list of the returned parameter dicts;
- a tokenizer method (`_split_digit_comma`, `_pieces_of_plain_texts`), which the student writes
  as a function of `self`: it is called on `PiecesTokenizer`, a stand-in that has the two
  attributes those methods use (`sp_model.encode` and the other method).
"""
from __future__ import annotations

import re

from .reference import GRADED_METHODS, is_method

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
