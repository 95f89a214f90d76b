"""Special tokens and added tokens: their ids, their roles, and adding new ones.

The tokenizer keeps two small tables, as transformers' slow tokenizers do:

- ``added_tokens_decoder``: id -> ``AddedToken`` for every token cut whole out of the text.
  Special tokens that are SentencePiece pieces keep the piece's id; new tokens are appended
  after the vocabulary, in the order they are added.
- the roles: ``cls_token`` -> ``"[CLS]"`` and so on, plus ``additional_special_tokens``.

``cls_token`` and ``cls_token_id`` both read the one stored role, so they cannot disagree;
setting either one changes the role.
"""
from __future__ import annotations

import warnings

from .added_tokens import SPECIAL_TOKEN_ROLES, AddedToken, alternation_regex, as_added_token
from .inputs import _check_id
from .text import check_text


class SpecialTokenRole:
    """The attribute pair ``mask_token`` / ``mask_token_id``: a view of the tokenizer's stored role."""

    def __init__(self, role: str, as_id: bool = False):
        self.role, self.as_id = role, as_id

    def __get__(self, tokenizer, owner=None):
        if tokenizer is None:
            return self
        return tokenizer._role_ids[self.role] if self.as_id else tokenizer._roles[self.role]

    def __set__(self, tokenizer, value) -> None:
        if self.as_id:
            value = tokenizer.convert_ids_to_tokens(_check_id(value, self.role + "_id", len(tokenizer)))
        tokenizer._set_role(self.role, value)


class SpecialTokensMixin:
    """Added tokens, special-token roles and the lookups derived from them (``_refresh``).

    The class using it provides ``sp_model``, ``vocab_size``, ``do_lower_case`` and
    ``convert_ids_to_tokens``.
    """

    bos_token, bos_token_id = SpecialTokenRole("bos_token"), SpecialTokenRole("bos_token", as_id=True)
    eos_token, eos_token_id = SpecialTokenRole("eos_token"), SpecialTokenRole("eos_token", as_id=True)
    unk_token, unk_token_id = SpecialTokenRole("unk_token"), SpecialTokenRole("unk_token", as_id=True)
    sep_token, sep_token_id = SpecialTokenRole("sep_token"), SpecialTokenRole("sep_token", as_id=True)
    pad_token, pad_token_id = SpecialTokenRole("pad_token"), SpecialTokenRole("pad_token", as_id=True)
    cls_token, cls_token_id = SpecialTokenRole("cls_token"), SpecialTokenRole("cls_token", as_id=True)
    mask_token, mask_token_id = SpecialTokenRole("mask_token"), SpecialTokenRole("mask_token", as_id=True)

    def _init_special_tokens(self, roles: dict, additional, added_tokens_decoder: dict | None) -> None:
        """Register the saved added tokens, then the special tokens that are not among them.

        As in the reference, a role given as a plain string that is already an added token keeps
        the saved entry; one given with flags (the mask token, which eats the space on its left)
        is registered with those flags.
        """
        self._added_tokens_decoder = {
            int(i): as_added_token(token, f"added_tokens_decoder[{i}]", special=False)
            for i, token in (added_tokens_decoder or {}).items()
        }
        self._roles, self._additional = {}, []
        given = list(roles.items()) + [("additional_special_tokens", value) for value in additional or ()]
        to_register, seen = [], set()
        for role, value in given:
            token = as_added_token(value, role, special=True, lstrip=(role == "mask_token"))
            if role == "additional_special_tokens":
                self._additional.append(token.content)
            else:
                self._roles[role] = token.content
            if token.content in seen:  # the first role naming a token decides how it is registered
                continue
            seen.add(token.content)
            is_saved = any(saved.content == token.content for saved in self._added_tokens_decoder.values())
            if not (isinstance(value, str) and role != "mask_token" and is_saved):
                to_register.append(token)
        self._refresh()
        self._add_tokens(to_register, special_tokens=True)

    # ------------------------------------------------------------------ derived lookups

    def _refresh(self) -> None:
        """Rebuild every lookup that depends on the two tables; called after each change."""
        self._added_tokens_encoder = {token.content: i for i, token in self._added_tokens_decoder.items()}
        self._added_by_content = {token.content: token for token in self._added_tokens_decoder.values()}
        # Roles in order, then the additional tokens not already named by a role (a duplicate within
        # the additional list stays, as in the reference).
        role_tokens = list(dict.fromkeys(self._roles.values()))
        self.all_special_tokens = role_tokens + [token for token in self._additional if token not in role_tokens]
        self._role_ids = {role: self.convert_tokens_to_ids(content) for role, content in self._roles.items()}
        self.all_special_ids = [self.convert_tokens_to_ids(content) for content in self.all_special_tokens]
        self._special_id_set = frozenset(self.all_special_ids)
        self._special_set = frozenset(self.all_special_tokens)
        # Added tokens whose id is not the one SentencePiece gives the same string.
        self._ids_to_override = {content: i for content, i in self._added_tokens_encoder.items()
                                 if i >= self.vocab_size or self.sp_model.PieceToId(content) != i}
        # Lower-casing spares the special tokens and the (already lower-cased) normalized added
        # tokens, tried in this order; the text is then cut at added tokens, longest match first.
        kept_in_case = self.all_special_tokens + [token.content for token in self._added_tokens_decoder.values()
                                                  if not token.special and token.normalized]
        self._keep_case_regex = alternation_regex(kept_in_case, longest_first=False)
        self._split_regex = alternation_regex(self._added_tokens_encoder, longest_first=True)
        # Added tokens that decode on their own, between spaces, rather than through SentencePiece.
        self._decoded_alone = (set(self._added_tokens_encoder) - self._special_set) | {
            content for content in self._additional if self.convert_tokens_to_ids(content) >= self.vocab_size}
        self._n_tokens = len(self.get_vocab())

    def _token_to_id(self, token: str, index: int | None = None) -> int:
        added_id = self._added_tokens_encoder.get(token) if isinstance(token, str) else None
        if added_id is not None:
            return added_id
        try:
            return self.sp_model.PieceToId(token)
        except (TypeError, RuntimeError):  # SentencePiece's opaque answer to non-text: say which token
            check_text(token, "tokens" if index is None else f"tokens[{index}]")
            raise

    def convert_tokens_to_ids(self, tokens):
        """A token -> its id; a list of tokens -> a list of ids (unknown tokens get ``unk_token_id``).

        None gives None, as in Transformers.
        """
        if tokens is None:
            return None
        if isinstance(tokens, str):
            return self._token_to_id(tokens)
        if not isinstance(tokens, (list, tuple)):
            check_text(tokens, "tokens (a str or a list of str)")
        return [self._token_to_id(token, index) for index, token in enumerate(tokens)]

    # ------------------------------------------------------------------ reading

    def get_vocab(self) -> dict[str, int]:
        """Every token -> its id: the SentencePiece pieces, then the added tokens."""
        if getattr(self, "_pieces", None) is None:  # all pieces in one SentencePiece call, once
            self._pieces = self.sp_model.id_to_piece(list(range(self.vocab_size)))
        names = list(self._pieces)
        for token_id, token in self._added_tokens_decoder.items():
            if token_id < len(names):
                names[token_id] = token.content
        vocab = dict(zip(names, range(len(names))))
        vocab.update(self._added_tokens_encoder)
        return vocab

    def __len__(self) -> int:
        """The number of distinct tokens, added ones included: the rows a model's embedding needs."""
        return self._n_tokens

    def get_added_vocab(self) -> dict[str, int]:
        return dict(self._added_tokens_encoder)

    @property
    def added_tokens_decoder(self) -> dict[int, AddedToken]:
        return dict(sorted(self._added_tokens_decoder.items()))

    @property
    def added_tokens_encoder(self) -> dict[str, int]:
        return {token.content: i for i, token in sorted(self._added_tokens_decoder.items())}

    @property
    def special_tokens_map(self) -> dict:
        roles = {role: content for role, content in self._roles.items() if content}
        return {**roles, "additional_special_tokens": list(self._additional)} if self._additional else roles

    def _token_entry(self, content: str) -> AddedToken:
        # The AddedToken a special token was registered with (its lstrip/rstrip flags); a
        # SentencePiece piece that was never added stands as a plain special AddedToken.
        return self._added_by_content.get(content) or AddedToken(content, normalized=False, special=True)

    @property
    def special_tokens_map_extended(self) -> dict:
        """`special_tokens_map` with `AddedToken` values (their flags included), as in Transformers."""
        return {role: ([self._token_entry(token) for token in value] if isinstance(value, list)
                       else self._token_entry(value)) for role, value in self.special_tokens_map.items()}

    @property
    def all_special_tokens_extended(self) -> list[AddedToken]:
        """`all_special_tokens` as `AddedToken`s, in the same order."""
        return [self._token_entry(token) for token in self.all_special_tokens]

    @property
    def additional_special_tokens(self) -> list[str]:
        return list(self._additional)

    @additional_special_tokens.setter
    def additional_special_tokens(self, tokens) -> None:
        """Replace the list; tokens not yet known are added, as by ``add_special_tokens`` (see ``_set_role``)."""
        self._additional = []
        self.add_special_tokens({"additional_special_tokens": list(tokens)})

    @property
    def additional_special_tokens_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self._additional)

    # ------------------------------------------------------------------ changing

    def _set_role(self, role: str, value) -> None:
        """``tokenizer.mask_token = value``: a known token takes the role; an unknown one is added first.

        The reference only renames the role, so an unknown token silently gets the ``<unk>`` id;
        here it is added as a special token (as ``add_special_tokens`` does), with a warning,
        because the model then needs a new embedding row.
        """
        token = as_added_token(value, role, special=True)
        known = token.content in self._added_tokens_encoder or (
            self.sp_model.IdToPiece(self.sp_model.PieceToId(token.content)) == token.content)
        if known:
            self._roles[role] = token.content
            self._refresh()
            return
        self.add_special_tokens({role: value})
        warnings.warn(f"{role}={token.content!r} was not in the vocabulary: it was added with id "
                      f"{self._role_ids[role]}; call model.resize_token_embeddings(len(tokenizer)) "
                      f"to give it an embedding", stacklevel=3)

    def add_tokens(self, new_tokens, special_tokens: bool = False) -> int:
        """Add tokens that are cut whole out of the text; returns how many got a new id.

        A token already in the vocabulary keeps its id (and is from now on never split); a new one
        gets the next id after the vocabulary, so ``len(tokenizer)`` grows by one. Resize the
        model's embeddings to ``len(tokenizer)`` afterwards. Plain strings added to a lower-casing
        tokenizer are lower-cased, as the text is.
        """
        if not new_tokens:
            return 0
        if not isinstance(new_tokens, (list, tuple)):
            new_tokens = [new_tokens]
        return self._add_tokens(new_tokens, special_tokens=special_tokens)

    def _add_tokens(self, new_tokens, special_tokens: bool) -> int:
        """``add_tokens`` step by step, as the reference does it: new ids count up from ``len(vocab)``."""
        vocab = self.get_vocab()
        next_id, n_new = len(vocab), 0
        for index, value in enumerate(new_tokens):
            if isinstance(value, str) and value in self._added_tokens_encoder:
                continue
            is_special = special_tokens or (isinstance(value, str) and value in self._special_set)
            token = as_added_token(value, f"new_tokens[{index}]", special=is_special, normalized=not is_special)
            if not token.content:
                continue
            if not token.special and token.normalized and self.do_lower_case:
                token = token._replace(content=token.content.lower())
            if token.content not in vocab:
                vocab[token.content] = next_id + n_new
                n_new += 1
            if token.special and token.content not in self._roles.values() and token.content not in self._additional:
                self._additional.append(token.content)
            self._added_tokens_decoder[vocab[token.content]] = token
            self._added_tokens_encoder[token.content] = vocab[token.content]
        self._refresh()
        return n_new

    def add_special_tokens(self, special_tokens_dict: dict, replace_additional_special_tokens: bool = True) -> int:
        """Set roles (``{"pad_token": "<pad>"}``) and ``additional_special_tokens``; returns the number of new ids.

        Tokens not yet in the vocabulary are appended after it, as in ``add_tokens``. With
        ``replace_additional_special_tokens=False`` the list is extended instead of replaced.
        """
        to_add = []
        for key, value in (special_tokens_dict or {}).items():
            if key not in SPECIAL_TOKEN_ROLES + ("additional_special_tokens",):
                raise ValueError(f"special_tokens_dict keys must be among {SPECIAL_TOKEN_ROLES} or "
                                 f"'additional_special_tokens', got {key!r}")
            if key != "additional_special_tokens":
                token = as_added_token(value, key, special=True)
                self._roles[key] = token.content
                to_add.append(token)
                continue
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"additional_special_tokens must be a list of str, got {type(value).__name__}")
            tokens = [as_added_token(item, f"additional_special_tokens[{i}]", special=True)
                      for i, item in enumerate(value)]
            if not replace_additional_special_tokens:
                tokens = [token for token in tokens if token.content not in self._additional]
                self._additional.extend(token.content for token in tokens)
            elif tokens:
                self._additional = [token.content for token in tokens]
            to_add.extend(tokens)
        return self.add_tokens(to_add, special_tokens=True)
