"""The ALBERT tokenizer: SentencePiece pieces plus ALBERT's own text preprocessing.

Text goes through four steps, each of which the reference (the slow ``AlbertTokenizer`` of
transformers 4.53.3) performs in exactly this order:

1. Lower-case everything except the special tokens (``[CLS]``, ``[SEP]``, ``[MASK]``, ``<pad>``,
   ``<unk>``) that occur literally in the text.
2. Cut the text at the added tokens (the special ones and any added later). ``[MASK]`` also
   swallows the whitespace on its left, so ``"a [MASK]"`` and ``"a[MASK]"`` give the same ids.
3. Preprocess each piece of plain text: collapse whitespace, turn two backticks or two single
   quotes into ``"``, drop accents (NFKD, then remove combining marks), lower-case.
4. Run SentencePiece, then apply the digit-comma rule of the original ALBERT: a piece such as
   ``"▁9,"`` is re-split into ``["▁9", ","]`` so that numbers do not swallow a following comma.

Then come the model-facing steps: truncation, ``[CLS] A [SEP] B [SEP]`` with token types 0/1,
padding, and arrays.

Where each step lives:

- ``text``: input checks, the lower-casing of step 1 (``lowercase_outside``), step 3 (preprocessing)
- ``added_tokens``, ``special_tokens``: step 2; which tokens step 1 keeps in case; adding tokens; the
  special-token roles
- ``inputs``: what the encoding methods accept (texts, pairs, batches, words, tokens, ids)
- ``encoding``: special tokens, truncation with overflow, padding, arrays
- ``albert``: the ``AlbertTokenizer`` class that ties them together, and step 4's digit-comma rule
  (``_pieces_of_plain_texts``, ``_split_digit_comma``)
- ``files``: saving and loading in transformers' layout; ``check_vocab_matches``
- ``training``: ``train_sentencepiece``, with the flags google-research/albert used
"""
from .added_tokens import SPECIAL_TOKEN_ROLES, AddedToken
from .albert import AlbertTokenizer
from .encoding import PADDING_STRATEGIES, TRUNCATION_STRATEGIES, BatchEncoding
from .files import SPECIAL_TOKENS_MAP_FILE, TOKENIZER_CONFIG_FILE, VOCAB_FILE_NAME, check_vocab_matches
from .text import SPIECE_UNDERLINE, preprocess_text
from .training import ALBERT_CONTROL_SYMBOLS, ALBERT_USER_DEFINED_SYMBOLS, train_sentencepiece

__all__ = [
    "ALBERT_CONTROL_SYMBOLS", "ALBERT_USER_DEFINED_SYMBOLS", "AddedToken", "AlbertTokenizer", "BatchEncoding",
    "PADDING_STRATEGIES", "SPECIAL_TOKENS_MAP_FILE", "SPECIAL_TOKEN_ROLES", "SPIECE_UNDERLINE", "TOKENIZER_CONFIG_FILE",
    "TRUNCATION_STRATEGIES", "VOCAB_FILE_NAME", "check_vocab_matches", "preprocess_text", "train_sentencepiece",
]
