"""The ALBERT tokenizer: SentencePiece pieces plus ALBERT's own text preprocessing.

Text goes through four steps, each of which the reference (the slow ``AlbertTokenizer`` of
transformers 4.53.3) performs in exactly this order:

1. Lower-case everything except the special tokens (``[CLS]``, ``[SEP]``, ``[MASK]``, ``<pad>``,
   ``<unk>``) that occur literally in the text.
2. Cut the text at those special tokens. ``[MASK]`` also swallows the whitespace on its left, so
   ``"a [MASK]"`` and ``"a[MASK]"`` give the same ids.
3. Preprocess each piece of plain text: collapse whitespace, turn two backticks or two single
   quotes into ``"``, drop accents (NFKD, then remove combining marks), lower-case.
4. Run SentencePiece, then apply the digit-comma rule of the original ALBERT: a piece such as
   ``"▁9,"`` is re-split into ``["▁9", ","]`` so that numbers do not swallow a following comma.

Then come the model-facing steps: truncation, ``[CLS] A [SEP] B [SEP]`` with token types 0/1,
padding, and arrays. ``train_sentencepiece`` builds a vocabulary with the flags google-research/albert
used for its own.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
import warnings
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import sentencepiece as spm

SPIECE_UNDERLINE = "▁"  # SentencePiece's marker for "a space came before this piece"
VOCAB_FILE_NAME = "spiece.model"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"

# The order matters: it is the order of `all_special_tokens` (and so of `all_special_ids`),
# and the order in which special tokens missing from the vocabulary get new ids.
SPECIAL_TOKEN_ROLES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")

PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")

# Flags of google-research/albert's `spm_train` call for the 30k vocabulary.
ALBERT_CONTROL_SYMBOLS = ("[CLS]", "[SEP]", "[MASK]")
ALBERT_USER_DEFINED_SYMBOLS = ("(", ")", '"', "-", ".", "–", "£", "€")


class SpecialToken(NamedTuple):
    """A special token and how it treats the whitespace next to it in raw text."""

    content: str
    lstrip: bool = False  # eat the whitespace on its left
    rstrip: bool = False  # eat the whitespace on its right


class BatchEncoding(dict):
    """The tokenizer's output: a dict (``input_ids``, ``token_type_ids``, ...) with attribute access."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no field {name!r}; it has {sorted(self)}") from None


def _as_special_token(value, role: str, default_lstrip: bool = False) -> SpecialToken:
    """Accept a plain string, a ``{"content": ..., "lstrip": ...}`` dict (as saved in JSON) or a SpecialToken."""
    if isinstance(value, SpecialToken):
        return value
    if isinstance(value, str):
        return SpecialToken(value, lstrip=default_lstrip)
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        if value.get("single_word"):
            raise ValueError(f"{role}: special tokens with single_word=True are not supported")
        return SpecialToken(value["content"], bool(value.get("lstrip", False)), bool(value.get("rstrip", False)))
    raise TypeError(f"{role} must be a str, got {type(value).__name__}: {value!r}")


def _lowercase_each_char(text: str) -> str:
    """Lower-case character by character, which is what the reference does outside special tokens.

    It differs from ``str.lower`` only for capital sigma: ``"ΟΔΟΣ".lower()`` ends in the
    word-final ``ς``, while lower-casing each character on its own always gives ``σ``.
    """
    return text.replace("Σ", "σ").lower()


def _to_int_list(token_ids) -> list[int]:
    """Ids given as an int, a list, a NumPy array or any array with ``tolist`` -> a flat list of ints."""
    if hasattr(token_ids, "tolist"):
        token_ids = token_ids.tolist()
    if isinstance(token_ids, int):
        return [token_ids]
    return [int(i) for i in token_ids]


def preprocess_text(text: str, *, remove_space: bool, keep_accents: bool, do_lower_case: bool) -> str:
    """ALBERT's normalisation before SentencePiece (see the module docstring, step 3)."""
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


def _load_sentencepiece(vocab_file: Path) -> spm.SentencePieceProcessor:
    if not vocab_file.is_file():
        raise FileNotFoundError(f"SentencePiece model file not found: {vocab_file}")
    processor = spm.SentencePieceProcessor()
    try:
        processor.Load(str(vocab_file))
    except (RuntimeError, OSError) as error:
        raise ValueError(f"{vocab_file} is not a valid SentencePiece model ({error})") from None
    return processor


class AlbertTokenizer:
    """SentencePiece tokenizer for ALBERT, id-for-id identical to transformers 4.53.3's slow ``AlbertTokenizer``.

    Args:
        vocab_file: path of the SentencePiece ``.model`` file.
        do_lower_case: lower-case the text (special tokens in the text are left alone).
        remove_space: strip the text and collapse runs of whitespace into one space.
        keep_accents: keep accents; otherwise NFKD-decompose and drop combining marks.
        bos_token ... mask_token: the special tokens; each is a string (or a ``SpecialToken``).
            ``mask_token`` given as a string eats the whitespace on its left, as in the reference.
        model_max_length: the longest sequence the model accepts, used when ``truncation=True`` or
            ``padding="max_length"`` come without ``max_length``.
        padding_side, truncation_side: "right" or "left".
        clean_up_tokenization_spaces: the default of ``decode``'s argument of that name.
        special_token_ids: ``{content: id}`` for special tokens, as saved in ``tokenizer_config.json``
            (``from_pretrained`` passes it); by default a special token takes the id of the
            SentencePiece piece with the same text.

    Differences from the reference, all on inputs it rejects or mishandles: non-string text raises
    ``TypeError``; a truncation that cannot reach ``max_length`` raises ``ValueError`` (the reference
    logs an error and returns the untruncated sequence); ragged batches with ``return_tensors``
    raise ``ValueError`` (the reference builds object arrays). Pre-tokenized input, overflowing
    tokens and offsets are not supported.
    """

    padding_side = "right"
    truncation_side = "right"

    def __init__(
        self,
        vocab_file,
        do_lower_case: bool = True,
        remove_space: bool = True,
        keep_accents: bool = False,
        bos_token="[CLS]",
        eos_token="[SEP]",
        unk_token="<unk>",
        sep_token="[SEP]",
        pad_token="<pad>",
        cls_token="[CLS]",
        mask_token="[MASK]",
        model_max_length: int = 512,
        padding_side: str = "right",
        truncation_side: str = "right",
        clean_up_tokenization_spaces: bool = False,
        special_token_ids: dict[str, int] | None = None,
    ):
        self.vocab_file = Path(vocab_file)
        self.sp_model = _load_sentencepiece(self.vocab_file)
        self.do_lower_case = do_lower_case
        self.remove_space = remove_space
        self.keep_accents = keep_accents
        self.model_max_length = model_max_length
        self.clean_up_tokenization_spaces = clean_up_tokenization_spaces
        for side_name, side in (("padding_side", padding_side), ("truncation_side", truncation_side)):
            if side not in ("right", "left"):
                raise ValueError(f"{side_name} must be 'right' or 'left', got {side!r}")
        self.padding_side = padding_side
        self.truncation_side = truncation_side

        given = dict(bos_token=bos_token, eos_token=eos_token, unk_token=unk_token, sep_token=sep_token,
                     pad_token=pad_token, cls_token=cls_token, mask_token=mask_token)
        # `role -> SpecialToken`; `[MASK]` behaves like a word, so it takes the space before it.
        self._special_by_role = {
            role: _as_special_token(value, role, default_lstrip=(role == "mask_token"))
            for role, value in given.items()
        }
        self._setup_special_tokens(special_token_ids or {})

    # ------------------------------------------------------------------ special tokens and vocabulary

    def _setup_special_tokens(self, known_ids: dict[str, int]) -> None:
        """Give every special token an id and build the regexes that find them in raw text.

        A special token that is a piece of the SentencePiece vocabulary keeps that piece's id;
        one that is not gets the next free id after the vocabulary (``known_ids``, read from a
        saved config, take precedence).
        """
        self._special_by_content: dict[str, SpecialToken] = {}
        for token in self._special_by_role.values():
            # The first role that names a content decides its whitespace handling.
            self._special_by_content.setdefault(token.content, token)
        self.all_special_tokens = list(self._special_by_content)

        self._special_token_to_id: dict[str, int] = {}
        next_free_id = self.vocab_size
        for content in self.all_special_tokens:
            if content in known_ids:
                token_id = int(known_ids[content])
            else:
                piece_id = self.sp_model.PieceToId(content)
                if self.sp_model.IdToPiece(piece_id) == content:
                    token_id = piece_id
                else:
                    token_id = next_free_id
            next_free_id = max(next_free_id, token_id + 1)
            self._special_token_to_id[content] = token_id
        self._special_id_to_token = {i: c for c, i in self._special_token_to_id.items()}
        self.all_special_ids = [self._special_token_to_id[c] for c in self.all_special_tokens]
        self._special_id_set = frozenset(self.all_special_ids)
        # `cls_token`, `cls_token_id`, `mask_token`, ... as plain attributes, as in transformers.
        for role, token in self._special_by_role.items():
            setattr(self, role, token.content)
            setattr(self, role + "_id", self._special_token_to_id[token.content])
        # Special tokens that `piece_to_id` maps elsewhere: outside the vocabulary, or renumbered
        # by a saved config.
        self._special_ids_to_override = {
            content: token_id for content, token_id in self._special_token_to_id.items()
            if token_id >= self.vocab_size or self.sp_model.PieceToId(content) != token_id
        }

        # Longest first, so that the leftmost match is also the longest one there.
        by_length = sorted(self.all_special_tokens, key=len, reverse=True)
        self._special_split_regex = re.compile("(" + "|".join(map(re.escape, by_length)) + ")")

    @property
    def special_tokens_map(self) -> dict[str, str]:
        return {role: token.content for role, token in self._special_by_role.items()}

    @property
    def vocab_size(self) -> int:
        """Number of SentencePiece pieces (special tokens outside that vocabulary not counted)."""
        return self.sp_model.GetPieceSize()

    def __len__(self) -> int:
        return len(self.get_vocab())

    def get_vocab(self) -> dict[str, int]:
        vocab = {self.sp_model.IdToPiece(i): i for i in range(self.vocab_size)}
        vocab.update(self._special_token_to_id)
        return vocab

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return 3 if pair else 2

    # ------------------------------------------------------------------ text -> tokens

    def preprocess_text(self, text: str) -> str:
        """Whitespace, quotes, accents and case, for text that holds no special tokens."""
        return preprocess_text(text, remove_space=self.remove_space, keep_accents=self.keep_accents,
                               do_lower_case=self.do_lower_case)

    def _split_on_special_tokens(self, text: str) -> list[str]:
        """``"Hi [MASK] there"`` -> ``["hi", "[MASK]", " there"]``: odd positions are special tokens.

        Lower-casing happens before the split, which means that ``"<PAD>"`` in the text becomes
        the special token ``<pad>``, exactly as in the reference.
        """
        parts = self._special_split_regex.split(text)
        if self.do_lower_case:
            parts[0::2] = [_lowercase_each_char(part) for part in parts[0::2]]
            parts = self._special_split_regex.split("".join(parts))
        for index in range(1, len(parts), 2):
            token = self._special_by_content[parts[index]]
            if token.lstrip:
                parts[index - 1] = parts[index - 1].rstrip()
            if token.rstrip:
                parts[index + 1] = parts[index + 1].lstrip()
        return parts

    def _split_digit_comma(self, piece: str) -> list[str]:
        """The original ALBERT rule: ``"▁9,"`` becomes ``["▁9", ","]``, ``"9,"`` becomes ``["9", ","]``.

        The digits are encoded again on their own; a leading "▁" that SentencePiece adds is dropped
        when the original piece had none.
        """
        digits = piece[:-1].replace(SPIECE_UNDERLINE, "")
        sub_pieces = self.sp_model.encode(digits, out_type=str)
        if not piece.startswith(SPIECE_UNDERLINE) and sub_pieces[0].startswith(SPIECE_UNDERLINE):
            sub_pieces[0] = sub_pieces[0][1:]
            if not sub_pieces[0]:
                sub_pieces = sub_pieces[1:]
        return sub_pieces + [","]

    def _pieces_of_plain_texts(self, plain_texts: list[str]) -> list[list[str]]:
        """SentencePiece pieces of texts without special tokens, in one batched call."""
        preprocessed = [self.preprocess_text(text) for text in plain_texts]
        pieces_per_text = self.sp_model.encode(preprocessed, out_type=str)
        for pieces in pieces_per_text:
            # Quick test for "some piece ends in a comma" before looking piece by piece. It must
            # look at the pieces, not the text: SentencePiece's own normalisation turns "，" into ",".
            if ",\0" not in "\0".join(pieces) + "\0":
                continue
            fixed = []
            for piece in pieces:
                if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
                    fixed.extend(self._split_digit_comma(piece))
                else:
                    fixed.append(piece)
            pieces[:] = fixed
        return pieces_per_text

    def _tokenize_batch(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokens (SentencePiece pieces and special tokens) of each text."""
        parts_per_text = [self._split_on_special_tokens(text) for text in texts]
        plain_texts = [part for parts in parts_per_text for part in parts[0::2] if part]
        plain_pieces = iter(self._pieces_of_plain_texts(plain_texts))
        tokens_per_text = []
        for parts in parts_per_text:
            tokens = []
            for index, part in enumerate(parts):
                if index % 2:
                    tokens.append(part)
                elif part:
                    tokens.extend(next(plain_pieces))
            tokens_per_text.append(tokens)
        return tokens_per_text

    def tokenize(self, text: str) -> list[str]:
        """``"Hello, world!"`` -> ``["▁hello", ",", "▁world", "!"]``."""
        self._check_is_text(text, "text")
        return self._tokenize_batch([text])[0]

    def _ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids (no special tokens added) of each text."""
        tokens_per_text = self._tokenize_batch(texts)
        flat_tokens = [token for tokens in tokens_per_text for token in tokens]
        flat_ids = self.sp_model.piece_to_id(flat_tokens) if flat_tokens else []
        if self._special_ids_to_override:
            flat_ids = [self._special_ids_to_override.get(t, i) for t, i in zip(flat_tokens, flat_ids)]
        ids_per_text, start = [], 0
        for tokens in tokens_per_text:
            ids_per_text.append(flat_ids[start : start + len(tokens)])
            start += len(tokens)
        return ids_per_text

    # ------------------------------------------------------------------ tokens <-> ids <-> text

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int]:
        if isinstance(tokens, str):
            return self._token_to_id(tokens)
        return [self._token_to_id(token) for token in tokens]

    def _token_to_id(self, token: str) -> int:
        special_id = self._special_token_to_id.get(token)
        return special_id if special_id is not None else self.sp_model.PieceToId(token)

    def convert_ids_to_tokens(self, ids, skip_special_tokens: bool = False) -> str | list[str]:
        if isinstance(ids, (int, np.integer)):
            return self._id_to_token(int(ids))
        return [
            self._id_to_token(token_id)
            for token_id in _to_int_list(ids)
            if not (skip_special_tokens and token_id in self._special_id_set)
        ]

    def _id_to_token(self, token_id: int) -> str:
        special = self._special_id_to_token.get(token_id)
        if special is not None:
            return special
        if not 0 <= token_id < self.vocab_size:
            raise IndexError(f"token id {token_id} is outside the vocabulary (0..{len(self) - 1})")
        return self.sp_model.IdToPiece(token_id)

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Join tokens into text; SentencePiece decodes the runs between special tokens.

        Matching the reference, a special token is preceded by a space unless it follows another
        special token, and nothing is put after it: ``[CLS] hello[MASK] world[SEP]``.
        """
        text = ""
        run: list[str] = []
        previous_was_special = False
        for token in tokens:
            if token in self._special_by_content:
                if not previous_was_special:
                    text += " "
                text += self.sp_model.decode(run) + token
                run = []
                previous_was_special = True
            else:
                run.append(token)
                previous_was_special = False
        text += self.sp_model.decode(run)
        return text.strip()

    def decode(self, token_ids, skip_special_tokens: bool = False,
               clean_up_tokenization_spaces: bool | None = None) -> str:
        """Ids (list, array, or a single int) -> text."""
        tokens = self.convert_ids_to_tokens(_to_int_list(token_ids), skip_special_tokens=skip_special_tokens)
        text = self.convert_tokens_to_string(tokens) if tokens else ""
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        if clean_up_tokenization_spaces:
            text = self.clean_up_tokenization(text)
        return text

    def batch_decode(self, sequences, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: bool | None = None) -> list[str]:
        if hasattr(sequences, "tolist"):
            sequences = sequences.tolist()
        return [self.decode(ids, skip_special_tokens, clean_up_tokenization_spaces) for ids in sequences]

    @staticmethod
    def clean_up_tokenization(text: str) -> str:
        """Remove the spaces English tokenization leaves before punctuation and contractions."""
        for spaced, joined in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                               (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
            text = text.replace(spaced, joined)
        return text

    # ------------------------------------------------------------------ special-token layout

    def build_inputs_with_special_tokens(self, token_ids_0: list[int],
                                         token_ids_1: list[int] | None = None) -> list[int]:
        """``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]``."""
        cls, sep = [self.cls_token_id], [self.sep_token_id]
        if token_ids_1 is None:
            return cls + list(token_ids_0) + sep
        return cls + list(token_ids_0) + sep + list(token_ids_1) + sep

    def create_token_type_ids_from_sequences(self, token_ids_0: list[int],
                                             token_ids_1: list[int] | None = None) -> list[int]:
        """0 for ``[CLS] A [SEP]``, 1 for ``B [SEP]``."""
        first = [0] * (len(token_ids_0) + 2)
        return first if token_ids_1 is None else first + [1] * (len(token_ids_1) + 1)

    def get_special_tokens_mask(self, token_ids_0: list[int], token_ids_1: list[int] | None = None,
                                already_has_special_tokens: bool = False) -> list[int]:
        """1 where ``build_inputs_with_special_tokens`` puts a special token, else 0.

        With ``already_has_special_tokens=True``, ``token_ids_0`` is a full sequence and every id
        of a special token (``<unk>`` too) is marked.
        """
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError("token_ids_1 must be None when already_has_special_tokens=True: "
                                 "the ids already hold both sequences")
            return [1 if token_id in self._special_id_set else 0 for token_id in _to_int_list(token_ids_0)]
        first = [1] + [0] * len(token_ids_0) + [1]
        return first if token_ids_1 is None else first + [0] * len(token_ids_1) + [1]

    # ------------------------------------------------------------------ encoding

    @staticmethod
    def _check_is_text(text, name: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a str, got {type(text).__name__}: {text!r:.80}")

    def _resolve_strategies(self, padding, truncation, max_length, pad_to_multiple_of):
        """The user's padding/truncation arguments -> (padding, truncation, max_length), as in the reference.

        ``max_length`` alone switches on ``longest_first`` truncation; ``padding="max_length"`` or
        truncation without ``max_length`` use ``model_max_length``.
        """
        # transformers' PaddingStrategy / TruncationStrategy enums carry the names in `.value`.
        padding, truncation = getattr(padding, "value", padding), getattr(truncation, "value", truncation)
        if max_length is not None and padding is False and truncation is None:
            truncation = "longest_first"
        if padding is True:
            if max_length is not None and truncation in (None, False, "do_not_truncate"):
                warnings.warn("max_length is ignored when padding=True and there is no truncation; "
                              "use padding='max_length' to pad to max_length", stacklevel=3)
            padding = "longest"
        elif padding is False or padding is None:
            padding = "do_not_pad"
        if truncation is True:
            truncation = "longest_first"
        elif truncation is False or truncation is None:
            truncation = "do_not_truncate"
        if padding not in PADDING_STRATEGIES:
            raise ValueError(f"padding must be True, False or one of {PADDING_STRATEGIES}, got {padding!r}")
        if truncation not in TRUNCATION_STRATEGIES:
            raise ValueError(
                f"truncation must be True, False or one of {TRUNCATION_STRATEGIES}, got {truncation!r}")
        if max_length is None and (padding == "max_length" or truncation != "do_not_truncate"):
            max_length = self.model_max_length
        if (truncation != "do_not_truncate" and padding != "do_not_pad" and pad_to_multiple_of is not None
                and max_length is not None and max_length % pad_to_multiple_of != 0):
            raise ValueError(f"truncation to max_length={max_length} and padding to a multiple of "
                             f"{pad_to_multiple_of} are both on, but {max_length} is not a multiple of "
                             f"{pad_to_multiple_of}")
        return padding, truncation, max_length

    def _truncate(self, ids: list[int], pair_ids: list[int] | None, n_remove: int, strategy: str):
        """Remove ``n_remove`` tokens, from the right (or left, per ``truncation_side``)."""

        def cut(sequence: list[int], n: int) -> list[int]:
            if n <= 0:
                return sequence
            return sequence[:-n] if self.truncation_side == "right" else sequence[n:]

        if strategy == "only_first" or (strategy == "longest_first" and pair_ids is None):
            if len(ids) <= n_remove:
                raise ValueError(
                    f"cannot truncate: {n_remove} tokens must go but the first sequence has only {len(ids)}; "
                    + ("raise max_length or use truncation='longest_first' or 'only_second'"
                       if strategy == "only_first" else "raise max_length")
                )
            return cut(ids, n_remove), pair_ids
        if strategy == "only_second":
            if pair_ids is None:  # the reference silently leaves the sequence too long here
                raise ValueError(f"cannot truncate: truncation='only_second' needs a text_pair, and the text "
                                 f"is {n_remove} tokens over max_length")
            if len(pair_ids) <= n_remove:
                raise ValueError(
                    f"cannot truncate: {n_remove} tokens must go but the second sequence has only "
                    f"{len(pair_ids)}; "
                    "raise max_length or use truncation='longest_first' or 'only_first'"
                )
            return ids, cut(pair_ids, n_remove)
        # longest_first on a pair: shorten the longer sequence until both are equally long,
        # then take the rest from both alike, the second sequence giving up the odd token.
        if n_remove > len(ids) + len(pair_ids):
            raise ValueError(
                f"cannot truncate the pair to max_length: {n_remove} tokens must go but both sequences "
                f"together have {len(ids) + len(pair_ids)}; max_length must leave room for the 3 special tokens"
            )
        from_longer = min(abs(len(pair_ids) - len(ids)), n_remove)
        shared = n_remove - from_longer
        if len(ids) > len(pair_ids):
            n_first, n_second = from_longer + shared // 2, shared - shared // 2
        else:
            n_first, n_second = shared // 2, from_longer + shared - shared // 2
        return cut(ids, n_first), cut(pair_ids, n_second)

    def _prepare_one(self, ids, pair_ids, add_special_tokens, truncation, max_length, want_token_types,
                     want_special_mask) -> dict[str, list[int]]:
        """Truncate one example and add the special tokens; no padding."""
        n_special = self.num_special_tokens_to_add(pair_ids is not None) if add_special_tokens else 0
        total = len(ids) + (len(pair_ids) if pair_ids is not None else 0) + n_special
        # A max_length of 0 switches truncation off, as in the reference.
        if truncation != "do_not_truncate" and max_length and total > max_length:
            ids, pair_ids = self._truncate(ids, pair_ids, total - max_length, truncation)
        if add_special_tokens:
            encoded = {"input_ids": self.build_inputs_with_special_tokens(ids, pair_ids)}
            token_types = self.create_token_type_ids_from_sequences(ids, pair_ids)
            special_mask = self.get_special_tokens_mask(ids, pair_ids)
        else:
            encoded = {"input_ids": ids + (pair_ids or [])}
            token_types = special_mask = [0] * len(encoded["input_ids"])
        if want_token_types:
            encoded["token_type_ids"] = token_types
        if want_special_mask:
            encoded["special_tokens_mask"] = special_mask
        return encoded

    def _pad_one(self, encoded: dict[str, list[int]], length: int) -> dict[str, list[int]]:
        """Pad every field of one example to ``length`` on ``padding_side``."""
        difference = length - len(encoded["input_ids"])
        if difference <= 0:
            return encoded
        fill = {"input_ids": self.pad_token_id, "token_type_ids": 0, "special_tokens_mask": 1, "attention_mask": 0}
        for key, values in encoded.items():
            padding = [fill[key]] * difference
            encoded[key] = values + padding if self.padding_side == "right" else padding + values
        return encoded

    def __call__(
        self,
        text,
        text_pair=None,
        add_special_tokens: bool = True,
        padding=False,
        truncation=None,
        max_length: int | None = None,
        return_tensors=None,
        return_special_tokens_mask: bool = False,
        return_attention_mask: bool = True,
        return_token_type_ids: bool = True,
        pad_to_multiple_of: int | None = None,
    ) -> BatchEncoding:
        """Encode a text, a pair, or a batch of texts or pairs.

        Args:
            text: a str, a list of str, or a list of ``(first, second)`` pairs.
            text_pair: the second sequences: a str for a single ``text``, a list for a batch.
            padding: False / "do_not_pad", True / "longest" (to the longest in the batch), or
                "max_length" (to ``max_length``, else ``model_max_length``).
            truncation: None (off, unless ``max_length`` is given with padding off), False /
                "do_not_truncate", True / "longest_first", "only_first" or "only_second".
            return_tensors: None for lists, "np" for NumPy, or an array namespace module
                (``array_api_strict``, ``torch``, ...) whose ``asarray`` builds the arrays.
                Single inputs then get a batch axis of 1.

        Returns:
            ``BatchEncoding`` with ``input_ids``, ``token_type_ids``, ``attention_mask`` and, on request,
            ``special_tokens_mask``; each a list of ints for a single input, a list of lists for a batch.
        """
        examples, is_batched = self._examples_from_arguments(text, text_pair)
        padding, truncation, max_length = self._resolve_strategies(padding, truncation, max_length,
                                                                   pad_to_multiple_of)

        # Every text of the batch in one SentencePiece call.
        texts = [t for first, second in examples for t in ((first,) if second is None else (first, second))]
        all_ids = iter(self._ids_batch(texts))
        encoded = []
        for first, second in examples:
            ids = next(all_ids)
            pair_ids = None if second is None else next(all_ids)
            encoded.append(self._prepare_one(ids, pair_ids, add_special_tokens, truncation, max_length,
                                             return_token_type_ids, return_special_tokens_mask))
        self._warn_if_too_long(encoded, max_length)

        for example in encoded:
            if return_attention_mask:
                example["attention_mask"] = [1] * len(example["input_ids"])
        if padding != "do_not_pad" and encoded:
            target = max_length if padding == "max_length" else max(len(e["input_ids"]) for e in encoded)
            if target is not None and pad_to_multiple_of and target % pad_to_multiple_of:
                target += pad_to_multiple_of - target % pad_to_multiple_of
            encoded = [self._pad_one(example, target) for example in encoded]

        keys = list(encoded[0]) if encoded else ["input_ids"]
        batch = {key: [example[key] for example in encoded] for key in keys}
        if not is_batched:
            batch = {key: values[0] for key, values in batch.items()}
        return BatchEncoding(self._to_arrays(batch, return_tensors, add_batch_axis=not is_batched))

    def _examples_from_arguments(self, text, text_pair) -> tuple[list[tuple[str, str | None]], bool]:
        """``(text, text_pair)`` in any accepted form -> ``[(first, second or None), ...]``, is it a batch."""
        if isinstance(text, str):
            if text_pair is not None:
                self._check_is_text(text_pair, "text_pair (for a single text)")
            return [(text, text_pair)], False
        if not isinstance(text, (list, tuple)):
            raise TypeError(f"text must be a str, a list of str or a list of (str, str) pairs, "
                            f"got {type(text).__name__}: {text!r:.80}")
        if text_pair is not None:
            if not isinstance(text_pair, (list, tuple)) or len(text_pair) != len(text):
                given = type(text_pair).__name__
                if isinstance(text_pair, (list, tuple)):
                    given += f" of length {len(text_pair)}"
                raise ValueError(f"for a batch of {len(text)} texts, text_pair must be a list of {len(text)} str, "
                                 f"got {given}")
            examples = list(zip(text, text_pair))
        else:
            examples = [(item[0], item[1]) if isinstance(item, (list, tuple)) and len(item) == 2 else (item, None)
                        for item in text]
        for index, (first, second) in enumerate(examples):
            self._check_is_text(first, f"text[{index}]")
            if second is not None:
                self._check_is_text(second, f"text_pair[{index}]")
        return examples, True

    def _warn_if_too_long(self, encoded: list[dict], max_length: int | None) -> None:
        if max_length is not None or not self.model_max_length:
            return
        lengths = [len(example["input_ids"]) for example in encoded]
        too_long = [n for n in lengths if n > self.model_max_length]
        if too_long:
            warnings.warn(
                f"{len(too_long)} of {len(lengths)} sequences are longer than model_max_length="
                f"{self.model_max_length} (longest: {max(too_long)} tokens) and truncation is off; "
                "the model cannot take them. Pass truncation=True to cut them.",
                stacklevel=3,
            )

    @staticmethod
    def _to_arrays(batch: dict, return_tensors, add_batch_axis: bool) -> dict:
        if return_tensors is None:
            return batch
        if isinstance(return_tensors, str):
            if return_tensors != "np":
                raise ValueError(
                    f"return_tensors must be None, 'np' or an array namespace module, got {return_tensors!r}")
            xp = np
        else:
            xp = return_tensors
        arrays = {}
        for key, values in batch.items():
            if add_batch_axis:
                values = [values]
            if len({len(row) for row in values}) > 1:
                raise ValueError(f"cannot make an array of {key}: the sequences have different lengths; "
                                 "pass padding=True (and truncation=True for long texts)")
            arrays[key] = xp.asarray(values, dtype=xp.int64)
        return arrays

    def encode(self, text: str, text_pair: str | None = None, add_special_tokens: bool = True, padding=False,
               truncation=None, max_length: int | None = None, return_tensors=None):
        """The ``input_ids`` of one text or pair."""
        self._check_is_text(text, "text")
        return self(text, text_pair, add_special_tokens=add_special_tokens, padding=padding, truncation=truncation,
                    max_length=max_length, return_tensors=return_tensors, return_attention_mask=False,
                    return_token_type_ids=False)["input_ids"]

    # ------------------------------------------------------------------ files

    @classmethod
    def from_pretrained(cls, name_or_path, **overrides) -> "AlbertTokenizer":
        """Load ``spiece.model`` (+ ``tokenizer_config.json`` and ``special_tokens_map.json`` when present).

        ``name_or_path`` is a directory, a ``.model`` file, or a name that ``tinyalbert.hub``
        resolves to a directory. Keyword arguments override the saved configuration.
        """
        path = Path(name_or_path)
        if path.is_file():
            return cls(path, **overrides)
        if not path.is_dir():
            try:
                from tinyalbert.hub import resolve_model_dir
            except ImportError:
                raise FileNotFoundError(f"no tokenizer directory or file at {name_or_path!s}") from None
            path = Path(resolve_model_dir(name_or_path))
        vocab_file = path / VOCAB_FILE_NAME
        if not vocab_file.is_file():
            raise FileNotFoundError(f"{path} has no {VOCAB_FILE_NAME}")

        config = cls._read_json(path / TOKENIZER_CONFIG_FILE)
        kwargs = {key: config[key] for key in ("do_lower_case", "remove_space", "keep_accents", "padding_side",
                                               "truncation_side", "clean_up_tokenization_spaces") if key in config}
        if config.get("model_max_length") is not None:
            kwargs["model_max_length"] = int(config["model_max_length"])
        for role in SPECIAL_TOKEN_ROLES:
            if config.get(role) is not None:
                kwargs[role] = config[role]

        saved_added_tokens = config.get("added_tokens_decoder")
        if saved_added_tokens:
            # The saved flags (lstrip, rstrip) and ids of the special tokens are authoritative.
            by_content = {entry["content"]: (int(token_id), entry)
                          for token_id, entry in saved_added_tokens.items()}
            kwargs["special_token_ids"] = {content: token_id for content, (token_id, _) in by_content.items()}
            for role in SPECIAL_TOKEN_ROLES:
                content = kwargs.get(role)
                content = content.get("content") if isinstance(content, dict) else content
                if content in by_content:
                    kwargs[role] = by_content[content][1]
        else:
            # Older saves keep the flags only in special_tokens_map.json.
            for role, value in cls._read_json(path / SPECIAL_TOKENS_MAP_FILE).items():
                if role in SPECIAL_TOKEN_ROLES:
                    kwargs[role] = value
        kwargs.update(overrides)
        return cls(vocab_file, **kwargs)

    @staticmethod
    def _read_json(path: Path) -> dict:
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from None

    def save_vocabulary(self, save_directory, filename_prefix: str | None = None) -> tuple[str]:
        """Write the SentencePiece model into ``save_directory``; returns its path."""
        save_directory = Path(save_directory)
        if not save_directory.is_dir():
            raise NotADirectoryError(f"save_vocabulary needs an existing directory, got {save_directory}")
        out_file = save_directory / ((filename_prefix + "-" if filename_prefix else "") + VOCAB_FILE_NAME)
        if self.vocab_file.is_file():
            if self.vocab_file.resolve() != out_file.resolve():
                shutil.copyfile(self.vocab_file, out_file)
        else:
            out_file.write_bytes(self.sp_model.serialized_model_proto())
        return (str(out_file),)

    def _token_entry(self, token: SpecialToken) -> dict:
        return {"content": token.content, "lstrip": token.lstrip, "normalized": False, "rstrip": token.rstrip,
                "single_word": False}

    def save_pretrained(self, save_directory) -> tuple[str, ...]:
        """Write ``spiece.model``, ``tokenizer_config.json`` and ``special_tokens_map.json``.

        The files follow transformers' layout, so ``transformers.AlbertTokenizer.from_pretrained``
        loads them too.
        """
        save_directory = Path(save_directory)
        save_directory.mkdir(parents=True, exist_ok=True)
        (vocab_path,) = self.save_vocabulary(save_directory)

        def role_value(token: SpecialToken):
            return token.content if not (token.lstrip or token.rstrip) else self._token_entry(token)

        special_tokens_map = {role: role_value(token) for role, token in self._special_by_role.items()}
        added_tokens_decoder = {
            str(token_id): {**self._token_entry(self._special_by_content[content]), "special": True}
            for token_id, content in sorted(self._special_id_to_token.items())
        }
        config = {
            "added_tokens_decoder": added_tokens_decoder,
            **{role: token.content for role, token in self._special_by_role.items()},
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
            "do_lower_case": self.do_lower_case,
            "extra_special_tokens": {},
            "keep_accents": self.keep_accents,
            "model_max_length": self.model_max_length,
            "padding_side": self.padding_side,
            "remove_space": self.remove_space,
            "sp_model_kwargs": {},
            "tokenizer_class": "AlbertTokenizer",
            "truncation_side": self.truncation_side,
        }
        config_path = save_directory / TOKENIZER_CONFIG_FILE
        map_path = save_directory / SPECIAL_TOKENS_MAP_FILE
        config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        map_path.write_text(json.dumps(special_tokens_map, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return (str(config_path), str(map_path), vocab_path)

    # SentencePieceProcessor cannot be pickled everywhere; carry the model bytes instead (DataLoader workers).
    def __getstate__(self):
        state = self.__dict__.copy()
        state["sp_model"] = self.sp_model.serialized_model_proto()
        return state

    def __setstate__(self, state):
        model_bytes = state.pop("sp_model")
        self.__dict__.update(state)
        self.sp_model = spm.SentencePieceProcessor()
        self.sp_model.LoadFromSerializedProto(model_bytes)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(vocab_file={str(self.vocab_file)!r}, vocab_size={self.vocab_size}, "
                f"do_lower_case={self.do_lower_case}, keep_accents={self.keep_accents}, "
                f"model_max_length={self.model_max_length})")


def train_sentencepiece(
    input_files_or_iterable,
    model_prefix,
    vocab_size: int,
    *,
    do_lower_case: bool = True,
    keep_accents: bool = False,
    remove_space: bool = True,
    control_symbols: Sequence[str] = ALBERT_CONTROL_SYMBOLS,
    user_defined_symbols: Sequence[str] = ALBERT_USER_DEFINED_SYMBOLS,
    pad_id: int = 0,
    unk_id: int = 1,
    bos_id: int = -1,
    eos_id: int = -1,
    input_sentence_size: int = 10_000_000,
    shuffle_input_sentence: bool = True,
    character_coverage: float = 0.99995,
    model_type: str = "unigram",
    seed: int | None = None,
    verbose: bool = False,
    **extra_options,
) -> Path:
    """Train a SentencePiece model with the flags of google-research/albert; returns the ``.model`` path.

    Args:
        input_files_or_iterable: a text file (str or Path, one sentence per line), a list of Paths,
            or an iterable of sentences (str).
        model_prefix: writes ``{model_prefix}.model`` and ``{model_prefix}.vocab``.
        vocab_size: number of pieces, the 5 special ones (``<pad>``, ``<unk>``, ``[CLS]``, ``[SEP]``,
            ``[MASK]`` at ids 0-4) included.
        do_lower_case, keep_accents, remove_space: each sentence goes through the tokenizer's own
            ``preprocess_text`` with these flags, so the vocabulary is learned on the strings the
            tokenizer will feed it. The defaults lower-case and strip accents, as for ALBERT's 30k vocabulary.
        seed: seeds SentencePiece's sampling of ``input_sentence_size`` sentences and its shuffling.
        extra_options: any further SentencePiece trainer flag, e.g. ``hard_vocab_limit=False`` for tiny corpora.
    """
    model_prefix = Path(model_prefix)
    model_prefix.parent.mkdir(parents=True, exist_ok=True)

    if isinstance(input_files_or_iterable, (str, os.PathLike)):
        input_files_or_iterable = [Path(input_files_or_iterable)]
    if isinstance(input_files_or_iterable, (list, tuple)):
        # Checked here because errors raised while SentencePiece reads the input come out as RuntimeError.
        for item in input_files_or_iterable:
            if isinstance(item, os.PathLike) and not Path(item).is_file():
                raise FileNotFoundError(f"training text file not found: {item}")
            if not isinstance(item, (str, os.PathLike)):
                raise TypeError(f"training input must be str sentences or Paths of text files, "
                                f"got {type(item).__name__}")

    def raw_sentences() -> Iterable[str]:
        for item in input_files_or_iterable:
            if isinstance(item, os.PathLike):
                with open(item, encoding="utf-8") as lines:
                    yield from (line.rstrip("\r\n") for line in lines)
            elif isinstance(item, str):
                yield item
            else:
                raise TypeError(f"training input must be str sentences or Paths of text files, "
                                f"got {type(item).__name__}")

    def sentences() -> Iterable[str]:
        for sentence in raw_sentences():
            sentence = preprocess_text(sentence, remove_space=remove_space, keep_accents=keep_accents,
                                       do_lower_case=do_lower_case)
            if sentence:
                yield sentence

    if seed is not None:
        spm.set_random_generator_seed(seed)
    spm.SentencePieceTrainer.train(
        sentence_iterator=sentences(),
        model_prefix=str(model_prefix),
        vocab_size=vocab_size,
        model_type=model_type,
        pad_id=pad_id,
        unk_id=unk_id,
        bos_id=bos_id,
        eos_id=eos_id,
        control_symbols=list(control_symbols),
        user_defined_symbols=list(user_defined_symbols),
        input_sentence_size=input_sentence_size,
        shuffle_input_sentence=shuffle_input_sentence,
        character_coverage=character_coverage,
        minloglevel=0 if verbose else 2,
        **extra_options,
    )
    return model_prefix.with_name(model_prefix.name + ".model")

