"""``AlbertTokenizer``: text -> SentencePiece pieces -> ids -> model inputs, and back.

The class ties the steps together and holds the digit-comma rule (``_split_digit_comma``); the
other steps live in their own modules: ``text`` (preprocessing), ``added_tokens`` and
``special_tokens`` (tokens kept whole), ``encoding`` (special tokens, truncation, padding, arrays)
and ``files`` (saving and loading).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from . import encoding
from .added_tokens import split_on_added_tokens
from .encoding import VERY_LARGE_INTEGER, BatchEncoding, EncodeOptions
from .files import (
    VOCAB_FILE_NAME, copy_vocabulary, find_pretrained, load_sentencepiece, new_processor, write_added_tokens, write_configs,
)
from .inputs import as_id_list, batch_examples, call_examples, ids_of_items
from .special_tokens import SpecialTokensMixin
from .text import SPIECE_UNDERLINE, check_text, clean_up_tokenization, lowercase_outside, preprocess_text

# The keyword options of the encoding methods. truncation_side is an EncodeOptions field but not a
# call option: it is the tokenizer's attribute (see _resolve_options).
CALL_OPTIONS = tuple(field for field in EncodeOptions._fields if field != "truncation_side")


# SentencePiece's batched encode (a list of texts) starts a thread pool: about 50-80 us a call
# before any text is encoded, where one short text alone takes 3 us. It pays from about 64 texts
# on, the measured crossover (64 words: 88 us either way; 128: 98 us batched, 146 us one by one;
# 1,000 sentences: 1.6 ms against 2.9 ms); fewer go one by one.
BATCHED_ENCODE_FROM = 64


class AlbertTokenizer(SpecialTokensMixin):
    """SentencePiece tokenizer for ALBERT, id-for-id identical to transformers 4.53.3's slow ``AlbertTokenizer``.

    Args:
        vocab_file: path of the SentencePiece ``.model`` file.
        do_lower_case: lower-case the text (special tokens in the text are left alone).
        remove_space: strip the text and collapse runs of whitespace into one space.
        keep_accents: keep accents; otherwise NFKD-decompose and drop combining marks.
        bos_token ... mask_token: the special tokens, each a string or an ``AddedToken``.
            ``mask_token`` given as a string eats the whitespace on its left, as in the reference.
        additional_special_tokens: more special tokens (kept whole, skipped by ``skip_special_tokens``).
        split_special_tokens: read special and added tokens written in a text as plain text (a call's
            ``split_special_tokens`` overrides it), as Transformers does.
        name_or_path: what ``from_pretrained`` was given. ``legacy`` is accepted, as Transformers'
            ``AlbertTokenizer`` accepts it, and changes nothing (it concerns other tokenizers).
        model_max_length: the longest sequence the model accepts, used when ``truncation=True`` or
            ``padding="max_length"`` come without ``max_length``. The default, as in Transformers, is
            "no limit" (``VERY_LARGE_INTEGER``, 1e30; a saved ``tokenizer_config.json`` usually names
            one): then neither happens, with a warning.
        padding_side, truncation_side: "right" or "left".
        clean_up_tokenization_spaces: the default of ``decode``'s argument of that name.
        added_tokens_decoder: ``{id: token}`` of added tokens, as saved in ``tokenizer_config.json``
            (``from_pretrained`` passes it); their ids take precedence.
        model_input_names: the inputs the model takes, ``["input_ids", "token_type_ids",
            "attention_mask"]`` by default. As in Transformers, a call that leaves
            ``return_token_type_ids`` or ``return_attention_mask`` unset (None) returns that field
            only when it is named here; saved to and loaded from ``tokenizer_config.json``.
            ``input_ids`` must come first (Transformers pads by the first name).

    Differences from the reference, all on inputs it rejects or mishandles: text that is not a
    ``str`` raises ``TypeError`` and a string with lone surrogates ``ValueError``, naming the
    argument; a truncation that cannot reach ``max_length`` raises ``ValueError`` (the reference
    logs an error and returns the untruncated sequence); ragged batches with ``return_tensors``
    raise ``ValueError``; ``return_overflowing_tokens`` without a ``max_length`` raises
    ``ValueError`` (the reference crashes with a ``TypeError``); setting a special token to a
    string outside the vocabulary adds it
    (the reference silently gives it the ``<unk>`` id); ``single_word`` added tokens and offsets
    are not supported. Three differences on inputs it accepts: a text with no ids (blank, with
    ``add_special_tokens=False``) is padded as any other (the reference returns a single such
    encoding unpadded, whatever ``padding`` asks); a call's ``split_special_tokens``
    is honoured for batches too (the reference's ``batch_encode_plus``, and so ``tokenizer(list)``,
    drops it and follows the tokenizer's own setting; single texts agree), and a call's
    ``truncation_side`` raises ``TypeError`` (the reference ignores it with a log line and
    truncates on ``tokenizer.truncation_side``; set that attribute instead).
    """

    padding_side = "right"
    truncation_side = "right"
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    is_fast = False  # Transformers' name for "the slow, SentencePiece tokenizer": no offsets
    vocab_files_names = {"vocab_file": VOCAB_FILE_NAME}  # the files from_pretrained reads, by argument
    pad_token_type_id = 0

    def __init__(self, vocab_file, do_lower_case: bool = True, remove_space: bool = True, keep_accents: bool = False,
                 bos_token="[CLS]", eos_token="[SEP]", unk_token="<unk>", sep_token="[SEP]", pad_token="<pad>",
                 cls_token="[CLS]", mask_token="[MASK]", additional_special_tokens=None, model_max_length: int = VERY_LARGE_INTEGER,
                 padding_side: str = "right", truncation_side: str = "right",
                 clean_up_tokenization_spaces: bool = False, added_tokens_decoder: dict | None = None,
                 sp_model_kwargs: dict | None = None, split_special_tokens: bool = False, name_or_path: str = "",
                 legacy=None, model_input_names: Sequence[str] | None = None):
        self.vocab_file = str(vocab_file)  # a str, as in Transformers
        self.name_or_path = str(name_or_path)  # what from_pretrained was given ("" when built directly)
        # Options of SentencePieceProcessor, as in Transformers: {"enable_sampling": True, "alpha": 0.1,
        # "nbest_size": -1} samples a segmentation on every call (subword regularization).
        self.sp_model_kwargs = dict(sp_model_kwargs or {})
        self.sp_model = load_sentencepiece(Path(self.vocab_file), self.sp_model_kwargs)
        # True: special and added tokens written in a text are read as plain text, not as tokens.
        self.split_special_tokens = bool(split_special_tokens)
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
        if model_input_names is not None:  # else the class's list
            self.model_input_names = _checked_input_names(model_input_names)
        roles = dict(bos_token=bos_token, eos_token=eos_token, unk_token=unk_token, sep_token=sep_token,
                     pad_token=pad_token, cls_token=cls_token, mask_token=mask_token)
        self._init_special_tokens(roles, additional_special_tokens, added_tokens_decoder)
        self._default_options = (None, None)

    @property
    def vocab_size(self) -> int:
        """Number of SentencePiece pieces (added tokens outside that vocabulary not counted; see ``len``)."""
        return self.sp_model.GetPieceSize()

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return 3 if pair else 2

    @property
    def max_len_single_sentence(self) -> int:
        """The most tokens one text may have so that it fits `model_max_length` with [CLS] and [SEP]."""
        return self.model_max_length - self.num_special_tokens_to_add(pair=False)

    @property
    def max_len_sentences_pair(self) -> int:
        """The most tokens two texts may have together to fit `model_max_length` with their three specials."""
        return self.model_max_length - self.num_special_tokens_to_add(pair=True)

    # ------------------------------------------------------------------ text -> tokens -> ids

    def preprocess_text(self, text: str) -> str:
        """Whitespace, quotes, accents and case, for text that holds no special tokens."""
        return preprocess_text(text, remove_space=self.remove_space, keep_accents=self.keep_accents,
                               do_lower_case=self.do_lower_case)

    def _split_on_added_tokens(self, text: str, split_special_tokens: bool = False) -> list[str]:
        """``"Hi [MASK] there"`` -> ``["hi", "[MASK]", " there"]``: odd positions are added tokens.

        Lower-casing happens before the split, which means that ``"<PAD>"`` in the text becomes
        the special token ``<pad>``, exactly as in the reference. With `split_special_tokens`
        nothing is split off: the whole text is plain text.
        """
        if split_special_tokens:
            return [text]
        if self.do_lower_case:
            text = lowercase_outside(text, self._keep_case_regex)
        return split_on_added_tokens(text, self._split_regex, self._added_by_content)

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
        """SentencePiece pieces of texts without special tokens, digit-comma rule applied: one batched
        call from `BATCHED_ENCODE_FROM` texts on, a call per text below it."""
        preprocessed = [self.preprocess_text(text) for text in plain_texts]
        if len(preprocessed) < BATCHED_ENCODE_FROM:
            pieces_per_text = [self.sp_model.encode(text, out_type=str) for text in preprocessed]
        else:
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

    def _tokenize_batch(self, texts: Sequence[str], split_special_tokens: bool | None = None) -> list[list[str]]:
        """Tokens (SentencePiece pieces and added tokens) of each text, the plain parts of all the
        texts encoded together (`_pieces_of_plain_texts`)."""
        split = self.split_special_tokens if split_special_tokens is None else split_special_tokens
        parts_per_text = [self._split_on_added_tokens(text, split) for text in texts]
        plain_texts = [part for parts in parts_per_text for part in parts[0::2] if part]
        plain_pieces = iter(self._pieces_of_plain_texts(plain_texts))
        tokens_per_text = []
        for parts in parts_per_text:
            tokens = []
            for index, part in enumerate(parts):
                if index % 2:
                    if part:
                        tokens.append(part)
                elif part:
                    tokens.extend(next(plain_pieces))
            tokens_per_text.append(tokens)
        return tokens_per_text

    def tokenize(self, text: str, *, split_special_tokens: bool | None = None, **ignored) -> list[str]:
        """``"Hello, world!"`` -> ``["▁hello", ",", "▁world", "!"]``.

        One text only: a second positional argument (a fast tokenizer's ``text_pair``) raises
        ``TypeError``, as in the reference, rather than being read as ``split_special_tokens``.
        Other keyword arguments (``add_special_tokens``, ...) are ignored with a warning, as
        Transformers' slow tokenizer ignores them: it never adds [CLS] and [SEP] here.
        """
        check_text(text, "text")
        if ignored:
            warnings.warn(f"tokenize() ignores {sorted(ignored)}, as Transformers' slow AlbertTokenizer does "
                          "(for the tokens with [CLS] and [SEP]: convert_ids_to_tokens(tokenizer(text)['input_ids']))",
                          stacklevel=2)
        return self._tokenize_batch([text], split_special_tokens)[0]

    def _ids_batch(self, texts: Sequence[str], split_special_tokens: bool | None = None) -> list[list[int]]:
        """Token ids (no special tokens added) of each text."""
        tokens_per_text = self._tokenize_batch(texts, split_special_tokens)
        flat_tokens = [token for tokens in tokens_per_text for token in tokens]
        flat_ids = self.sp_model.piece_to_id(flat_tokens) if flat_tokens else []
        if self._ids_to_override:
            flat_ids = [self._ids_to_override.get(t, i) for t, i in zip(flat_tokens, flat_ids)]
        ids_per_text, start = [], 0
        for tokens in tokens_per_text:
            ids_per_text.append(flat_ids[start : start + len(tokens)])
            start += len(tokens)
        return ids_per_text

    # ------------------------------------------------------------------ ids -> tokens -> text

    def convert_ids_to_tokens(self, ids, skip_special_tokens: bool = False):
        """An id -> its token; a list (or array) of ids -> a list of tokens."""
        if isinstance(ids, (int, np.integer)):
            return self._id_to_token(int(ids))
        return [self._id_to_token(token_id) for token_id in as_id_list(ids)
                if not (skip_special_tokens and token_id in self._special_id_set)]

    def _id_to_token(self, token_id: int) -> str:
        added = self._added_tokens_decoder.get(token_id)
        if added is not None:
            return added.content
        if not 0 <= token_id < self.vocab_size:
            raise IndexError(f"token id {token_id} is outside the vocabulary (0..{len(self) - 1})")
        return self.sp_model.IdToPiece(token_id)

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Join tokens into text; SentencePiece decodes the runs between special tokens.

        Matching the reference, each special token is written directly after the text decoded
        before it, and that text starts with a space, unless the previous token was special too.
        The text after the last special token gets no space, and the result is stripped:
        ``["▁a", "[MASK]"]`` gives ``"a[MASK]"``, ``["▁a", "[SEP]", "[CLS]", "▁b"]`` gives
        ``"a[SEP][CLS]b"``, and ``["[CLS]", "▁hello", "[MASK]", "▁world", "[SEP]"]`` gives
        ``"[CLS] hello[MASK] world[SEP]"``.
        """
        text, run, previous_was_special = "", [], False
        for token in tokens:
            if token in self._special_set:
                if not previous_was_special:
                    text += " "
                text += self.sp_model.decode(run) + token
                run, previous_was_special = [], True
            else:
                run.append(token)
                previous_was_special = False
        return (text + self.sp_model.decode(run)).strip()

    def decode(self, token_ids, skip_special_tokens: bool = False, clean_up_tokenization_spaces: bool | None = None,
               spaces_between_special_tokens: bool = True, use_source_tokenizer: bool = False) -> str:
        """Ids (list, array, or a single int) -> text.

        ``use_source_tokenizer`` is accepted, as Transformers accepts it, and changes nothing: it
        picks the source side of tokenizers that hold a source and a target vocabulary
        (translation models); ALBERT's has one.

        Added tokens that are not special, and additional special tokens beyond the SentencePiece
        vocabulary, are written as they are, set apart by spaces (the reference's
        ``legacy_added_tokens``); everything else, role tokens beyond the vocabulary (such as a new
        pad token) included, goes through ``convert_tokens_to_string``.
        """
        tokens = self.convert_ids_to_tokens(as_id_list(token_ids), skip_special_tokens=skip_special_tokens)
        sub_texts, run = [], []
        for token in tokens:
            if skip_special_tokens and token in self._special_set:
                continue
            if token in self._decoded_alone:
                if run and (decoded := self.convert_tokens_to_string(run)):
                    sub_texts.append(decoded)
                sub_texts.append(token)
                run = []
            else:
                run.append(token)
        if run:
            sub_texts.append(self.convert_tokens_to_string(run))
        text = (" " if spaces_between_special_tokens else "").join(sub_texts)
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        return clean_up_tokenization(text) if clean_up_tokenization_spaces else text

    def batch_decode(self, sequences, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: bool | None = None, spaces_between_special_tokens: bool = True,
                     use_source_tokenizer: bool = False) -> list[str]:
        """Rows of ids (a list of lists, or a 2-D array) -> one text per row; options as for ``decode``."""
        if hasattr(sequences, "tolist"):
            sequences = sequences.tolist()
        return [self.decode(ids, skip_special_tokens, clean_up_tokenization_spaces, spaces_between_special_tokens,
                            use_source_tokenizer) for ids in sequences]

    clean_up_tokenization = staticmethod(clean_up_tokenization)

    # ------------------------------------------------------------------ special-token layout

    def build_inputs_with_special_tokens(self, token_ids_0: list[int], token_ids_1: list[int] | None = None):
        """``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]``."""
        return encoding.build_inputs_with_special_tokens(token_ids_0, token_ids_1, self.cls_token_id,
                                                         self.sep_token_id)

    def create_token_type_ids_from_sequences(self, token_ids_0: list[int], token_ids_1: list[int] | None = None):
        """0 for ``[CLS] A [SEP]``, 1 for ``B [SEP]``."""
        return encoding.token_type_ids_for(token_ids_0, token_ids_1)

    def get_special_tokens_mask(self, token_ids_0: list[int], token_ids_1: list[int] | None = None,
                                already_has_special_tokens: bool = False) -> list[int]:
        """1 where ``build_inputs_with_special_tokens`` puts a special token, else 0.

        With ``already_has_special_tokens=True``, ``token_ids_0`` is a full sequence and every id
        of a special token (``<unk>`` too) is marked.
        """
        if not already_has_special_tokens:
            return encoding.special_tokens_mask_for(token_ids_0, token_ids_1)
        if token_ids_1 is not None:
            raise ValueError("token_ids_1 must be None when already_has_special_tokens=True: "
                             "the ids already hold both sequences")
        return [1 if token_id in self._special_id_set else 0 for token_id in as_id_list(token_ids_0)]

    def truncate_sequences(self, ids: list[int], pair_ids: list[int] | None = None, num_tokens_to_remove: int = 0,
                           truncation_strategy="longest_first", stride: int = 0):
        """Remove ``num_tokens_to_remove`` ids (no special tokens among them) by ``truncation_strategy``,
        on the tokenizer's ``truncation_side``; returns ``(ids, pair_ids, overflowing_tokens)``.

        As in Transformers, the overflow is what was removed plus ``stride`` ids kept before it,
        and empty for ``"longest_first"`` on a pair; ``"do_not_truncate"`` removes nothing. Where
        the sequences are too short it raises ``ValueError`` (the reference logs an error and
        returns them uncut).
        """
        strategy = getattr(truncation_strategy, "value", truncation_strategy)  # transformers' TruncationStrategy
        if strategy not in encoding.TRUNCATION_STRATEGIES:
            raise ValueError(f"truncation_strategy must be one of {encoding.TRUNCATION_STRATEGIES}, "
                             f"got {truncation_strategy!r}")
        ids = as_id_list(ids, "ids")
        pair_ids = None if pair_ids is None else as_id_list(pair_ids, "pair_ids")
        if strategy == "do_not_truncate":
            return ids, pair_ids, []
        return encoding.truncate_sequences(ids, pair_ids, num_tokens_to_remove, strategy, self.truncation_side, stride)

    # ------------------------------------------------------------------ encoding

    def __call__(self, text=None, text_pair=None, *, is_split_into_words: bool = False, return_tensors=None,
                 **options) -> BatchEncoding:
        """Encode a text, a pair, or a batch of texts or pairs.

        Args:
            text: a str, a list of str, or a list of ``(first, second)`` pairs; with
                ``is_split_into_words=True``, a list of words or a list of such lists.
            text_pair: the second sequences: a str (or list of words) for a single ``text``, a list for a batch.
            is_split_into_words: the text is already cut into words; each word is tokenized on its own.
            return_tensors: None for lists, "np" for NumPy, "pt" for torch, or an array namespace module
                (``array_api_strict``, ``torch``, ...) whose ``asarray`` builds the arrays.
                Single inputs then get a batch axis of 1.
            **options: ``add_special_tokens`` (True), ``padding`` (False / "do_not_pad", True /
                "longest", "max_length"), ``truncation`` (None: off unless ``max_length`` comes with
                padding off; True / "longest_first", "only_first", "only_second", False /
                "do_not_truncate"), ``max_length``, ``stride`` (ids repeated in the overflow),
                ``pad_to_multiple_of``, ``padding_side``, ``return_token_type_ids`` and
                ``return_attention_mask`` (None: as ``model_input_names`` says),
                ``return_overflowing_tokens``, ``return_special_tokens_mask``, ``return_length``,
                ``split_special_tokens``, ``verbose``. The truncation side is the tokenizer's
                ``truncation_side`` attribute, not a call option.

        Returns:
            ``BatchEncoding`` with ``input_ids``, ``token_type_ids``, ``attention_mask`` and, on request,
            ``special_tokens_mask``, ``overflowing_tokens`` and ``num_truncated_tokens``, ``length``;
            each a list of ints for a single input, a list of lists for a batch.
        """
        if text is None:  # text_target alone: explain why it is refused; else check_text names the missing text
            _refuse_text_target(options)
        examples, is_batched = call_examples(text, text_pair, is_split_into_words)
        return self._encode_examples(examples, is_batched, is_split_into_words, return_tensors, options,
                                     "__call__", accept_ids=False)

    def encode_plus(self, text, text_pair=None, *, is_split_into_words: bool = False, return_tensors=None,
                    **options) -> BatchEncoding:
        """One text or pair; each may also be a list of tokens or of ids. Options as for ``__call__``."""
        return self._encode_examples([(text, text_pair)], False, is_split_into_words, return_tensors, options,
                                     "encode_plus")

    def batch_encode_plus(self, batch_text_or_text_pairs, *, is_split_into_words: bool = False, return_tensors=None,
                          **options) -> BatchEncoding:
        """A list of texts or ``(text, pair)`` tuples (or tokens, or ids). Options as for ``__call__``."""
        examples = batch_examples(batch_text_or_text_pairs, is_split_into_words)
        return self._encode_examples(examples, True, is_split_into_words, return_tensors, options,
                                     "batch_encode_plus")

    def prepare_for_model(self, ids, pair_ids=None, *, return_tensors=None, prepend_batch_axis: bool = False,
                          **options) -> BatchEncoding:
        """Ids (no special tokens yet) -> model inputs: truncate, add special tokens, pad.

        ``ids`` and ``pair_ids`` may be empty (the ids of a blank text): ``prepare_for_model([])``
        gives ``[CLS] [SEP]``, as in the reference.
        """
        resolved = self._resolve_options(options, "prepare_for_model")
        id_pairs = ids_of_items([(ids, pair_ids)], self, batched=False, accept_ids=True, is_split_into_words=False,
                                empty_is_ids=True)
        return self._finish(id_pairs, False, resolved, return_tensors, prepend_batch_axis)

    def encode(self, text, text_pair=None, add_special_tokens: bool = True, **options) -> list[int]:
        """The ``input_ids`` of one text or pair (or of a list of tokens or ids)."""
        return self.encode_plus(text, text_pair, add_special_tokens=add_special_tokens, **options)["input_ids"]

    def _encode_examples(self, examples, is_batched, is_split_into_words, return_tensors, options, method: str,
                         accept_ids: bool = True) -> BatchEncoding:
        """Texts, tokens or ids -> ids, then ``_finish``; ``method`` names the caller in errors."""
        if is_batched and not examples:  # as the reference: an empty batch is a mistake upstream
            raise ValueError(f"{method}() got an empty batch: pass at least one text")
        options = dict(options)
        split_special_tokens = options.pop("split_special_tokens", None)
        resolved = self._resolve_options(options, method)
        id_pairs = ids_of_items(examples, self, batched=is_batched, accept_ids=accept_ids,
                                is_split_into_words=is_split_into_words, split_special_tokens=split_special_tokens)
        return self._finish(id_pairs, is_batched, resolved, return_tensors, prepend_batch_axis=True)

    def _resolve_options(self, options: dict, method: str) -> EncodeOptions:
        """Keyword options -> ``EncodeOptions``, with the reference's defaults and strategy names."""
        if not options:  # the defaults, resolved once per setting (a speed-up for one-text calls)
            key = (self.model_max_length, self.padding_side, self.truncation_side)
            if self._default_options[0] != key:
                self._default_options = (key, self._resolve_options({"padding": False}, method))
            return self._default_options[1]
        options = dict(options)
        if options.pop("return_offsets_mapping", False):
            raise NotImplementedError("return_offsets_mapping is not available: the slow ALBERT tokenizer "
                                      "has no offsets either")
        _refuse_text_target(options)
        if "truncation_side" in options:
            raise TypeError(f"{method}() takes no truncation_side: set tokenizer.truncation_side = "
                            f"{options['truncation_side']!r} (Transformers ignores the argument and truncates on "
                            "the tokenizer's side)")
        unknown = sorted(set(options) - set(CALL_OPTIONS))
        if unknown:  # split_special_tokens, taken out before for the methods that read text, is one too
            named = list(CALL_OPTIONS) + ([] if method == "prepare_for_model" else ["split_special_tokens"])
            raise TypeError(f"{method}() got unexpected keyword arguments {unknown}; the options are {named}")
        padding, truncation, max_length = encoding.resolve_strategies(
            options.get("padding", False), options.get("truncation"), options.get("max_length"),
            options.get("pad_to_multiple_of"), self.model_max_length, options.get("verbose", True),
            truncates=method != "pad")
        padding_side = options.get("padding_side") or self.padding_side
        if padding_side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
        return EncodeOptions(**{**options, "padding": padding, "truncation": truncation, "max_length": max_length,
                                "padding_side": padding_side, "truncation_side": self.truncation_side})

    def _finish(self, id_pairs, is_batched: bool, options: EncodeOptions, return_tensors,
                prepend_batch_axis: bool) -> BatchEncoding:
        """Truncate, add special tokens, pad and make arrays, as the reference does for one input or a batch."""
        encoding.check_options(options, any(pair_ids is not None for _, pair_ids in id_pairs))
        options = self._with_model_input_defaults(options)
        cls_id, sep_id = self.cls_token_id, self.sep_token_id
        encoded = [encoding.prepare_example(ids, pair_ids, options, cls_id, sep_id) for ids, pair_ids in id_pairs]
        lengths = [len(example["input_ids"]) for example in encoded]
        if options.verbose:
            encoding.warn_if_too_long(lengths, options.max_length, self.model_max_length)
        attention_mask = options.return_attention_mask
        if not is_batched:  # a single input is padded first, so its `length` counts the padding
            return self._pad_examples(encoded, options, attention_mask, return_tensors, prepend_batch_axis, single=True)
        return self._pad_examples(encoded, options, attention_mask, return_tensors, False, single=False)

    def _returns_field(self, name: str, requested: bool | None) -> bool:
        """Whether to return ``token_type_ids`` or ``attention_mask``: as requested, or (None) when
        ``model_input_names`` names it, as in Transformers."""
        return name in self.model_input_names if requested is None else bool(requested)

    def _with_model_input_defaults(self, options: EncodeOptions) -> EncodeOptions:
        """``options`` with ``return_token_type_ids`` and ``return_attention_mask`` decided (no None left)."""
        return options._replace(
            return_token_type_ids=self._returns_field("token_type_ids", options.return_token_type_ids),
            return_attention_mask=self._returns_field("attention_mask", options.return_attention_mask))

    def _pad_examples(self, encoded: list[dict], options: EncodeOptions, attention_mask: bool, return_tensors,
                      add_batch_axis: bool, single: bool) -> BatchEncoding:
        """Pad (and count) prepared examples; one example, or a batch of them, -> ``BatchEncoding``."""
        if not single and options.return_length:
            for example in encoded:
                example["length"] = len(example["input_ids"])
        target = encoding.padded_length([len(example["input_ids"]) for example in encoded], options.padding,
                                        options.max_length, options.pad_to_multiple_of)
        pad_id = self.pad_token_id
        encoded = [encoding.pad_example(example, target, pad_id, options.padding_side, attention_mask)
                   for example in encoded]
        if single:
            if options.return_length:
                encoded[0]["length"] = len(encoded[0]["input_ids"])
            return BatchEncoding(encoding.to_arrays(encoded[0], return_tensors, add_batch_axis))
        keys = list(encoded[0]) if encoded else ["input_ids"]
        batch = {key: [example[key] for example in encoded] for key in keys}
        return BatchEncoding(encoding.to_arrays(batch, return_tensors, add_batch_axis=False))

    def pad(self, encoded_inputs, padding=True, max_length: int | None = None, pad_to_multiple_of: int | None = None,
            padding_side: str | None = None, return_attention_mask: bool | None = None, return_tensors=None,
            verbose: bool = True) -> BatchEncoding:
        """Pad one encoded input or a batch (a dict of lists, or a list of dicts) to a common length.

        Arrays come back as arrays of the same kind unless ``return_tensors`` says otherwise.
        """
        examples, single, return_tensors = encoding.examples_to_pad(encoded_inputs, return_tensors)
        options = self._resolve_options(dict(padding=padding, max_length=max_length, padding_side=padding_side,
                                             pad_to_multiple_of=pad_to_multiple_of, verbose=verbose), "pad")
        if not examples:
            return BatchEncoding({"input_ids": [], **({"attention_mask": []} if return_attention_mask else {})})
        attention_mask = self._returns_field("attention_mask", return_attention_mask)
        return self._pad_examples(examples, options, attention_mask, return_tensors, False, single)

    # ------------------------------------------------------------------ files

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *, revision: str = "main", cache_dir=None,
                        local_files_only: bool = False, token=None, subfolder: str = "", force_download: bool = False,
                        trust_remote_code: bool | None = None, **overrides) -> "AlbertTokenizer":
        """Load ``spiece.model`` (+ ``tokenizer_config.json`` and ``special_tokens_map.json`` when present).

        ``pretrained_model_name_or_path`` (Transformers' name) is a directory, a ``.model`` file,
        or a name that ``tinyalbert.hub`` resolves to a directory (``revision``, ``cache_dir``,
        ``local_files_only``, ``token``, ``subfolder`` and ``force_download`` as in Transformers). Other keyword arguments
        override the saved configuration. ``trust_remote_code`` is accepted, as Transformers
        accepts it, and changes nothing: no code is ever loaded from a checkpoint.
        """
        overrides.pop("use_fast", None)  # Transformers' AlbertTokenizer.from_pretrained ignores it too
        name_or_path = pretrained_model_name_or_path
        vocab_file, saved = find_pretrained(name_or_path, revision=revision, cache_dir=cache_dir,
                                            local_files_only=local_files_only, token=token, subfolder=subfolder,
                                            force_download=force_download)
        return cls(vocab_file, **{"name_or_path": str(name_or_path), **saved, **overrides})

    def save_vocabulary(self, save_directory, filename_prefix: str | None = None) -> tuple[str]:
        """Write the SentencePiece model into ``save_directory``; returns a one-element tuple, ``(path,)``."""
        save_directory = Path(save_directory)
        if not save_directory.is_dir():
            raise NotADirectoryError(f"save_vocabulary needs an existing directory, got {save_directory}")
        out_file = save_directory / ((filename_prefix + "-" if filename_prefix else "") + VOCAB_FILE_NAME)
        copy_vocabulary(Path(self.vocab_file), self.sp_model.serialized_model_proto(), out_file)
        return (str(out_file),)

    def save_pretrained(self, save_directory, legacy_format: bool | None = None, filename_prefix: str | None = None,
                        push_to_hub: bool = False, **hub_options) -> tuple[str, ...]:
        """Write ``tokenizer_config.json``, ``special_tokens_map.json``, ``spiece.model`` and, when
        tokens were added past the vocabulary, ``added_tokens.json``; returns their paths (the
        last one whether written or not), as Transformers' slow tokenizer does.

        The files follow transformers' layout, so ``transformers.AlbertTokenizer.from_pretrained``
        loads them too, added tokens included. ``filename_prefix`` starts each file name
        (``prefix-spiece.model``). ``legacy_format=False`` (the fast tokenizers' single file) and
        ``push_to_hub`` are refused with a reason; the Hub options that go with ``push_to_hub``
        are accepted when it is False.
        """
        if legacy_format is False:
            raise ValueError("legacy_format=False writes a fast tokenizer's tokenizer.json; this is the slow, "
                             "SentencePiece tokenizer, saved as spiece.model and its configs")
        from ..hub import check_no_upload

        check_no_upload(push_to_hub, hub_options)
        save_directory = Path(save_directory)
        save_directory.mkdir(parents=True, exist_ok=True)
        prefix = filename_prefix + "-" if filename_prefix else ""
        options = {key: getattr(self, key) for key in ("clean_up_tokenization_spaces", "do_lower_case", "keep_accents",
                                                       "model_max_length", "padding_side", "remove_space",
                                                       "sp_model_kwargs", "split_special_tokens", "truncation_side")}
        if list(self.model_input_names) != AlbertTokenizer.model_input_names:  # as Transformers: saved when set
            options["model_input_names"] = list(self.model_input_names)
        roles = {role: self._token_entry(content) for role, content in self._roles.items()}
        paths = write_configs(save_directory, options, roles, [self._token_entry(c) for c in self._additional],
                              self._added_tokens_decoder, prefix)
        (vocab_path,) = self.save_vocabulary(save_directory, filename_prefix)
        beyond = {token: index for token, index in self.added_tokens_encoder.items() if index >= self.vocab_size}
        return (*paths, vocab_path, write_added_tokens(save_directory, beyond, prefix))

    # SentencePieceProcessor cannot be pickled everywhere; carry the model bytes instead (DataLoader workers).
    def __getstate__(self):
        state = self.__dict__.copy()
        state["sp_model"] = self.sp_model.serialized_model_proto()
        state["_pieces"] = None  # rebuilt from the model when needed
        return state

    def __setstate__(self, state):
        model_bytes = state.pop("sp_model")
        self.__dict__.update(state)
        self.sp_model = new_processor(self.sp_model_kwargs)
        self.sp_model.LoadFromSerializedProto(model_bytes)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(vocab_file={self.vocab_file!r}, vocab_size={self.vocab_size}, "
                f"len={len(self)}, do_lower_case={self.do_lower_case}, keep_accents={self.keep_accents}, "
                f"model_max_length={self.model_max_length})")


def _refuse_text_target(options: dict) -> None:
    """Raise ``TypeError`` when ``options`` give a ``text_target`` (or ``text_pair_target``) other than None."""
    if options.get("text_target") is not None or options.get("text_pair_target") is not None:
        raise TypeError("text_target is for the labels of a model with a decoder (translation, summaries); "
                        "ALBERT has none: encode targets as texts of their own, tokenizer(targets)")
    options.pop("text_target", None)
    options.pop("text_pair_target", None)


def _checked_input_names(names) -> list[str]:
    """``model_input_names`` as a list of str with ``input_ids`` first, or a ``ValueError`` saying what is wrong."""
    if isinstance(names, str) or not all(isinstance(name, str) for name in names):
        raise ValueError(f"model_input_names must be a list of str, got {names!r}")
    names = list(names)
    if not names or names[0] != "input_ids":
        raise ValueError(f"model_input_names must start with 'input_ids' (the field that is padded), got {names!r}")
    return names
