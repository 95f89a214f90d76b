"""Text before SentencePiece: input checks, ALBERT's normalisation, lower-casing around special tokens.

Everything here is a plain function of strings, so each rule can be read, tested and quoted on
its own. (The digit-comma rule works on SentencePiece's pieces, so it is a method of
``AlbertTokenizer``: ``_pieces_of_plain_texts`` and ``_split_digit_comma``.)
"""
from __future__ import annotations

import re
import unicodedata

SPIECE_UNDERLINE = "▁"  # SentencePiece's marker for "a space came before this piece"


def check_text(text, name: str) -> None:
    """Raise a clear error unless ``text`` is a ``str`` that UTF-8 can encode.

    Two kinds of bad input reach a tokenizer in practice: ``bytes`` (a file read in binary mode)
    and strings holding lone surrogates (``"\\udc80"``), which Python makes from bytes that are
    not UTF-8 when it decodes arguments or stdin with ``errors="surrogateescape"``. SentencePiece
    would answer both with an opaque ``TypeError``/``RuntimeError``; here the error names the
    argument and says how to clean the text.
    """
    if not isinstance(text, str):
        hint = (": decode it first, e.g. data.decode('utf-8', errors='replace')"
                if isinstance(text, (bytes, bytearray)) else "")
        raise TypeError(f"{name} must be a str, got {type(text).__name__}{hint}: {text!r:.80}")
    if text.isascii():  # the common case, and ASCII is always valid UTF-8
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{name} is not valid Unicode text: it holds the lone surrogate {text[error.start]!r} at "
            f"position {error.start} (usually bytes that were not UTF-8, decoded with errors='surrogateescape'); "
            "clean it with text.encode('utf-8', errors='replace').decode('utf-8')"
        ) from None


def preprocess_text(text: str, *, remove_space: bool, keep_accents: bool, do_lower_case: bool) -> str:
    """ALBERT's normalisation of text that holds no special tokens.

    Collapse whitespace, turn two backticks or two single quotes into ``"``, drop accents (NFKD,
    then remove the combining marks), lower-case.
    """
    if remove_space:
        text = " ".join(text.split())
    text = text.replace("``", '"').replace("''", '"')
    # ASCII text has no decompositions and no combining marks, so it can skip the slow part.
    if not keep_accents and not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(char for char in text if not unicodedata.combining(char))
    if do_lower_case:
        text = text.lower()
    return text


def lowercase_each_char(text: str) -> str:
    """Lower-case character by character, which is what the reference does outside special tokens.

    It differs from ``str.lower`` only for capital sigma: ``"ΟΔΟΣ".lower()`` ends in the
    word-final ``ς``, while lower-casing each character on its own always gives ``σ``.
    """
    return text.replace("Σ", "σ").lower()


def lowercase_outside(text: str, keep_regex: re.Pattern | None) -> str:
    """Lower-case ``text`` except where ``keep_regex`` (one capturing group) matches.

    The regex lists the tokens to keep in the reference's order, so that where two of them
    overlap the same one wins as there.
    """
    if keep_regex is None:
        return lowercase_each_char(text)
    parts = keep_regex.split(text)
    parts[0::2] = [lowercase_each_char(part) for part in parts[0::2]]
    return "".join(parts)


def clean_up_tokenization(text: str) -> str:
    """Remove the spaces English tokenization leaves before punctuation and contractions."""
    for spaced, joined in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                           (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(spaced, joined)
    return text
