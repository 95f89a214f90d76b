"""Added tokens: the special tokens and any token added later, kept whole in raw text.

An added token is a string that the tokenizer cuts out of the text before SentencePiece sees it
(``[MASK]``, ``[CLS]``, a new ``<ent>``), with its own id. A token that is already a piece of the
SentencePiece vocabulary keeps that piece's id; a new one is appended after the vocabulary, so
``len(tokenizer)`` grows by one and a model needs one more embedding row
(``resize_token_embeddings(len(tokenizer))``).

A *special* token is an added token that also fills a role (``cls_token``, ``mask_token``, ...) or
is listed in ``additional_special_tokens``: it keeps its case in lower-cased text and
``skip_special_tokens`` drops it when decoding.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from .text import check_text

# The order matters: it is the order of `all_special_tokens` (and so of `all_special_ids`),
# and the order in which special tokens missing from the vocabulary get new ids.
SPECIAL_TOKEN_ROLES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")


class AddedToken(NamedTuple):
    """An added token and how it treats the text around it.

    ``lstrip`` / ``rstrip`` eat the whitespace on its left / right; ``normalized`` means the token
    is lower-cased like the text (non-special tokens added to a lower-casing tokenizer).
    ``single_word`` (match only where the token stands alone) is not supported and is refused.
    """

    content: str
    lstrip: bool = False
    rstrip: bool = False
    single_word: bool = False
    normalized: bool = True  # the default of transformers' AddedToken
    special: bool = False

    def __str__(self) -> str:
        return self.content


def as_added_token(value, name: str, *, special: bool, normalized: bool = False, lstrip: bool = False) -> AddedToken:
    """A ``str``, a ``{"content": ...}`` dict (as saved in JSON) or an ``AddedToken`` -> ``AddedToken``.

    Plain strings get the given defaults; anything with flags of its own keeps them (transformers'
    own ``AddedToken`` objects are read through their attributes).
    """
    if isinstance(value, AddedToken):
        token = value._replace(special=value.special or special)
    elif isinstance(value, str):
        token = AddedToken(value, lstrip=lstrip, normalized=normalized, special=special)
    elif isinstance(value, dict) and isinstance(value.get("content"), str):
        flags = {field: bool(value[field]) for field in AddedToken._fields[1:] if field in value}
        flags["special"] = special or flags.get("special", False)
        token = AddedToken(value["content"], **{"normalized": normalized, **flags})
    elif isinstance(getattr(value, "content", None), str):  # transformers' or tokenizers' AddedToken
        token = AddedToken(value.content, bool(value.lstrip), bool(value.rstrip), bool(value.single_word),
                           bool(value.normalized), special or bool(getattr(value, "special", False)))
    else:
        raise TypeError(f"{name} must be a str or an AddedToken, got {type(value).__name__}: {value!r:.80}")
    check_text(token.content, name)
    if token.single_word:
        raise ValueError(f"{name}: added tokens with single_word=True are not supported, got {token.content!r}")
    return token


def token_entry(token: AddedToken) -> dict:
    """The JSON form of an added token, as transformers writes it in ``tokenizer_config.json``."""
    return {"content": token.content, "lstrip": token.lstrip, "normalized": token.normalized,
            "rstrip": token.rstrip, "single_word": token.single_word, "special": token.special}


def alternation_regex(contents, *, longest_first: bool) -> re.Pattern | None:
    """One capturing group matching any of ``contents``; None when there are none.

    ``longest_first=True`` gives "leftmost, and longest there", which is how the reference's trie
    cuts added tokens out of text; otherwise the contents are tried in the order given.
    """
    contents = [content for content in dict.fromkeys(contents) if content]
    if not contents:
        return None
    if longest_first:
        contents = sorted(contents, key=len, reverse=True)
    return re.compile("(" + "|".join(map(re.escape, contents)) + ")")


def split_on_added_tokens(text: str, split_regex: re.Pattern | None, tokens: dict[str, AddedToken]) -> list[str]:
    """``"Hi [MASK] there"`` -> ``["Hi", "[MASK]", " there"]``: odd positions hold added tokens.

    The text next to each token loses the whitespace the token eats (``lstrip``/``rstrip``).
    Two tokens in a row have an empty string between them.
    """
    if split_regex is None:
        return [text]
    parts = split_regex.split(text)
    for index in range(1, len(parts), 2):
        token = tokens[parts[index]]
        if token.rstrip:
            parts[index + 1] = parts[index + 1].lstrip()
        if token.lstrip:
            parts[index - 1] = parts[index - 1].rstrip()
    return parts
