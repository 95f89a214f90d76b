"""The task pipelines: text classification, token classification, feature extraction,
question answering.

Each gives the output of Transformers 4.53.3's pipeline of the same name when that runs with
the slow (SentencePiece) `AlbertTokenizer`, the tokenizer tinyalbert reproduces:

- `text-classification`: `[{"label", "score"}]`; softmax over the labels (sigmoid for one label
  or multi-label, the raw value for regression); `top_k=None` for every label, sorted.
- `token-classification`: one dict per token (`aggregation_strategy="none"`: `entity`, `score`,
  `index`, `word`, `start`, `end`) or per entity group (`"simple"`, `"first"`, `"average"`,
  `"max"`: `entity_group`, `score`, `word`, `start`, `end`), `O` left out (`ignore_labels`, for
  the pipeline or per call). The slow tokenizer has no character offsets, so `start` and `end`
  are None, as Transformers gives them, unless the call passes `offset_mapping` (a `(start, end)`
  per token, as Transformers takes it). Transformers refuses `first`/`average`/`max` with a slow
  tokenizer; here a word is a piece that starts with SentencePiece's word marker `▁` (or an
  added token, such as `[MASK]`) and the pieces after it that do not. `is_split_into_words=True`
  (lists of words, joined by `delimiter`) and `stride` (long texts in overlapping windows) give
  what Transformers gives with the fast tokenizer, `start` and `end` included, where it refuses
  the slow one.
- `feature-extraction`: the base model's last hidden states, per text `[[h_1, ..., h_n]]`
  (one row of floats per token, special tokens included, as nested lists of shape
  1 x tokens x hidden), or the array itself with `return_tensors=True`.
- `question-answering`: `{"score", "start", "end", "answer"}`, found as Transformers' SQuAD
  preprocessing does for slow tokenizers: the context is split into whitespace-separated words
  (which carry the character offsets), each word into pieces, long contexts into overlapping
  windows; the answer is whole words, and `end` is the last character index of the end word's
  stretch (its following whitespace included), as Transformers reports it.
"""
from __future__ import annotations

import unicodedata
import warnings
from collections.abc import Iterator

import numpy as np

from .backend import to_numpy
from .nn.softmax import softmax
from .pipelines import TextTooLongError, check_num_workers, check_positive_int, stream
from .task_data import SQUAD_WHITESPACE, window_starts
from .tokenizer.text import lowercase_each_char

WORD_MARKER = "\u2581"  # SentencePiece's "▁": this piece starts a word
AGGREGATIONS = ("none", "simple", "first", "average", "max")


def _as_list(inputs):
    return (list(inputs), True) if isinstance(inputs, (list, tuple)) else ([inputs], False)


def fitting_length(model, tokenizer) -> int:
    """The most tokens a text may be cut to: the tokenizer's model_max_length, capped by the
    model's positions (Transformers cuts to the first and then fails on a model with fewer)."""
    return min(tokenizer.model_max_length, model.config.max_position_embeddings)


def qa_window(model, tokenizer, max_seq_len: int | None = None, doc_stride: int | None = None) -> tuple[int, int]:
    """The question-answering pipeline's window, (max_seq_len, doc_stride), with Transformers'
    defaults for what is None: 384 tokens capped by the model's positions (where Transformers would
    fail), and a stride of half the window, at most 128."""
    max_seq_len = max_seq_len or min(384, fitting_length(model, tokenizer))
    return max_seq_len, doc_stride or min(max_seq_len // 2, 128)


def _run(model, encoded: dict):
    """The model's output for one encoded text, as a batch of one. A field the tokenizer leaves out
    (its `model_input_names` may omit `token_type_ids`) takes the model's default, as in Transformers."""
    inputs = {name: np.asarray([encoded[name]]) for name in ("input_ids", "attention_mask", "token_type_ids")
              if name in encoded}
    # return_dict=True: a config.json may say `"return_dict": false`, which would give a tuple.
    return model(**inputs, return_dict=True)


def _logits(model, encoded: dict, key: str = "logits") -> np.ndarray:
    return to_numpy(getattr(_run(model, encoded), key))[0].astype(np.float64)


class TextClassificationPipeline:
    """`pipeline("text-classification")`: a text, `{"text", "text_pair"}`, or a list of them.

    Options, when the pipeline is built or per call (a call's win): `top_k` (an int, or None for
    every label; 0 gives `[]`, as in Transformers), `function_to_apply` ("softmax", "sigmoid",
    "none", any case), `return_all_scores` (Transformers' older spelling of `top_k=None` / `top_k=1`), and the
    tokenizer's own (`truncation`, `max_length`, `padding`). As in Transformers, one text gives
    a list around its result unless the call itself names `top_k`.
    """

    def __init__(self, model, tokenizer, **options):
        self.model, self.tokenizer = model, tokenizer
        self.tokenizer_kwargs, self.scoring = self.read_options(**options)

    def read_options(self, top_k="", function_to_apply=None, return_all_scores=None, batch_size=None,
                     num_workers=None, **tokenizer_kwargs) -> tuple[dict, dict]:
        """(tokenizer options, scoring options), as Transformers reads them; "" means not given."""
        _check_batch_size(batch_size)
        check_num_workers(num_workers)
        scoring = {}
        if return_all_scores is None:
            return_all_scores = getattr(self.model.config, "return_all_scores", None)
        if top_k is None or (isinstance(top_k, int) and not isinstance(top_k, bool)):
            # 0 gives no labels, as in Transformers; a negative count is refused (Transformers
            # slices with it and silently drops labels from the end).
            if top_k is not None and top_k < 0:
                raise ValueError(f"top_k must be an int of at least 0, or None, got {top_k!r}")
            scoring.update(top_k=top_k, legacy=False)
        elif top_k != "":
            raise ValueError(f"top_k must be an int of at least 0, or None, got {top_k!r}")
        elif return_all_scores is not None:
            warnings.warn("return_all_scores is deprecated (as in Transformers): use top_k=None for "
                          "return_all_scores=True, top_k=1 for False", UserWarning, stacklevel=3)
            scoring["top_k"] = None if return_all_scores else 1
        if function_to_apply is not None:
            scoring["function_to_apply"] = _check_function(function_to_apply)
        return tokenizer_kwargs, scoring

    def scores(self, logits: np.ndarray, function_to_apply=None) -> np.ndarray:
        config = self.model.config
        if function_to_apply is None:
            if config.problem_type == "regression":
                function_to_apply = "none"
            elif config.problem_type == "multi_label_classification" or config.num_labels == 1:
                function_to_apply = "sigmoid"
            else:
                function_to_apply = "softmax"
        function_to_apply = _check_function(function_to_apply)
        if function_to_apply == "sigmoid":
            return 1.0 / (1.0 + np.exp(-logits))
        if function_to_apply == "softmax":
            return softmax(logits)
        return logits

    def _one(self, text, tokenizer_kwargs: dict, top_k, legacy: bool, function_to_apply):
        cut = dict(tokenizer_kwargs)
        if cut.get("truncation") and "max_length" not in cut:
            cut["max_length"] = fitting_length(self.model, self.tokenizer)
        if isinstance(text, dict):
            encoded = self.tokenizer(text["text"], text.get("text_pair"), **cut)
        elif isinstance(text, str):
            encoded = self.tokenizer(text, **cut)
        else:
            raise ValueError('inputs must be texts or {"text": ..., "text_pair": ...} dicts, got '
                             f"{type(text).__name__}")
        limit = self.model.config.max_position_embeddings
        if len(encoded["input_ids"]) > limit:
            raise TextTooLongError(text, len(encoded["input_ids"]), limit)
        scores = self.scores(_logits(self.model, encoded), function_to_apply)
        id2label = self.model.config.id2label
        if top_k == 1 and legacy:
            return {"label": id2label[int(scores.argmax())], "score": float(scores.max())}
        ranked = [{"label": id2label[i], "score": float(score)} for i, score in enumerate(scores)]
        if not legacy:
            ranked.sort(key=lambda item: item["score"], reverse=True)
            ranked = ranked if top_k is None else ranked[:top_k]
        return ranked

    def __call__(self, inputs, **options):
        if isinstance(inputs, Iterator):  # a generator: an iterator of results, as in Transformers
            return stream(lambda texts: self(texts, **options), inputs, 1)
        tokenizer_kwargs, scoring = self.read_options(**options)
        tokenizer_kwargs = {**self.tokenizer_kwargs, **tokenizer_kwargs}
        scoring = {"top_k": 1, "legacy": True, "function_to_apply": None, **self.scoring, **scoring}
        texts, batched = _as_list(inputs)
        results = [self._one(text, tokenizer_kwargs, **scoring) for text in texts]
        if batched:
            return results
        # Transformers' quirk, kept: one text gives a list around its result unless the call names top_k.
        return [results[0]] if isinstance(inputs, str) and "top_k" not in options else results[0]


def _check_function(name) -> str:
    if not isinstance(name, str) or name.lower() not in ("softmax", "sigmoid", "none"):
        raise ValueError(f"function_to_apply must be 'softmax', 'sigmoid' or 'none', got {name!r}")
    return name.lower()


class TokenClassificationPipeline:
    """`pipeline("token-classification")` (alias "ner"): the entities of a text or of each text.

    Each `score` is a Python `float`; Transformers gives a `numpy.float32` of the same value
    (to about 1e-6). Both compare and serialise as numbers, except that `json.dumps` refuses
    the `numpy.float32`.

    Two options that Transformers 4.53.3 has only with a fast tokenizer (with the slow one it
    raises ValueError) work here: the pipeline finds each piece's characters itself
    (`piece_spans`) and gives `start` and `end` as the fast tokenizer does, a piece that starts
    a word after a space taking that space in ("▁old" in "the old" is characters 3 to 7).

    - `is_split_into_words=True`: the input is a list of words, or a list of such lists (one per
      text). Each word is tokenized on its own; `start` and `end` count in the words joined by
      `delimiter` (" " by default), and `word` is the decoded pieces, not that joined text. As
      in Transformers, one list of words gives a list around its result.
    - `stride`: a text (or list of words) longer than a window of `model_max_length` tokens
      ([CLS] and [SEP] included; capped by the model's positions) is tagged window by window,
      each window starting `stride` pieces before the last one ended. Each window's entities are
      found as for a text alone; then, in order of `start`, an entity that starts inside the one
      kept before replaces it if longer (or as long with a higher score) and is dropped
      otherwise (`aggregate_overlapping_entities`). As in Transformers, `stride` must be less
      than `model_max_length`, and a call (or `pipeline()`) that names it with
      `aggregation_strategy="none"` is refused; a strategy of "none" that comes from elsewhere
      (the default) runs, keeping one tag per stretch of text.

    Where this differs from Transformers with the fast tokenizer: the words of first/average/max
    are the `▁`-marked ones and the added tokens such as `[MASK]` (and `<unk>`, an unknown
    piece, which Transformers makes a word too; for `is_split_into_words`, the given words),
    where Transformers guesses them from spaces, since ALBERT's fast tokenizer does not mark
    words: with a `delimiter` that does not end in a space it reads each word as part of the
    word before, and so it reads a word after "\r\n" or a tab. `start` and `end`
    differ on two rarities (see `piece_spans`).
    `is_split_into_words` and `delimiter` given to `pipeline()` are the calls' defaults
    (Transformers' calls read `is_split_into_words=False` unless they name it), and a generator
    of word lists gives an iterator of results (Transformers' list check uses up the generator
    and gives none). `offset_mapping` cannot be combined with either option.
    """

    def __init__(self, model, tokenizer, aggregation_strategy=None, ignore_labels=("O",), grouped_entities=None,
                 ignore_subwords=None, batch_size=None, is_split_into_words=False, delimiter=None, stride=None):
        self.model, self.tokenizer = model, tokenizer
        _check_batch_size(batch_size)
        named = _strategy_of_legacy_flags(grouped_entities, ignore_subwords, aggregation_strategy)
        self.aggregation_strategy = "none" if named is None else _check_aggregation(named)
        self.ignore_labels = list(ignore_labels)
        self.is_split_into_words = bool(is_split_into_words)
        self.delimiter = _check_delimiter(delimiter)
        self.stride = self.checked_stride(stride, named)

    def window_width(self) -> int:
        """The most pieces one window holds beside [CLS] and [SEP]."""
        return fitting_length(self.model, self.tokenizer) - self.tokenizer.num_special_tokens_to_add()

    def checked_stride(self, stride, strategy) -> int | None:
        """`stride` as an int, checked as Transformers checks it: less than the tokenizer's
        `model_max_length`, and not named beside `strategy` "none" (`strategy` is the one given
        with it, None when none was); then less than a window's pieces, which Transformers leaves
        to its tokenizer (a ValueError or a panic there)."""
        if stride is None:
            return None
        if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 0:
            raise ValueError(f"stride must be an int of at least 0, got {stride!r}")
        if stride >= self.tokenizer.model_max_length:
            raise ValueError(f"`stride` must be less than `tokenizer.model_max_length` "
                             f"({self.tokenizer.model_max_length}; less still, as a window holds [CLS] and [SEP] "
                             f"too), got {stride}")
        if strategy is not None and _check_aggregation(strategy) == "none":
            raise ValueError('`stride` was given to tag the whole text, which needs an aggregation_strategy other '
                             'than "none" to merge the windows: choose "simple", "first", "average" or "max"')
        width = self.window_width()
        if stride >= width:
            raise ValueError(f"`stride` must be less than the {width} pieces a window holds (model_max_length "
                             f"{self.tokenizer.model_max_length}, capped by the model's "
                             f"{self.model.config.max_position_embeddings} positions, less [CLS] and [SEP]), or the "
                             f"windows would not move on; got {stride}")
        return int(stride)

    def pre_entities(self, text: str, offset_mapping=None) -> list[dict]:
        """Per piece (special tokens left out): the piece, its label probabilities, its position.

        `offset_mapping`, one `(start, end)` per token of the encoded text (special tokens
        included), gives each piece its characters, as in Transformers: they become `start` and
        `end`, and an unknown piece is named by the text it covers instead of `<unk>`. Word
        boundaries stay those of the `▁` marker.
        """
        encoded = self.tokenizer(text, truncation=True, max_length=fitting_length(self.model, self.tokenizer),
                                 return_special_tokens_mask=True)
        if offset_mapping is not None and len(offset_mapping) < len(encoded["input_ids"]):
            raise ValueError(f"offset_mapping has {len(offset_mapping)} (start, end) pairs, but the text has "
                             f"{len(encoded['input_ids'])} tokens, [CLS] and [SEP] included: {text!r:.80}")
        return self.window_pre_entities(encoded, text, offset_mapping)

    def window_pre_entities(self, encoded: dict, text: str, offset_mapping=None) -> list[dict]:
        """`pre_entities` of one encoded window of `text` (`input_ids` and `special_tokens_mask`
        of its tokens; `offset_mapping`, if any, as long as they)."""
        probabilities = softmax(_logits(self.model, encoded))
        pieces = self.tokenizer.convert_ids_to_tokens(encoded["input_ids"])
        # Added tokens ([MASK]) are words of their own, and so is `<unk>`, inside a word too, as
        # Transformers' pipeline makes every unknown piece a word (is_subword False).
        added = self.tokenizer.get_added_vocab()
        entities = []
        for index, piece in enumerate(pieces):
            if encoded["special_tokens_mask"][index]:
                continue
            start = end = None
            word = piece
            if offset_mapping is not None:
                start, end = (int(position) for position in offset_mapping[index])
                if encoded["input_ids"][index] == self.tokenizer.unk_token_id:
                    word = text[start:end]  # what Transformers shows for a piece the vocabulary lacks
            entities.append({"word": word, "scores": probabilities[index], "start": start, "end": end,
                             "index": index, "is_subword": not (piece.startswith(WORD_MARKER) or piece in added)})
        return entities

    def split_words(self, words, delimiter: str) -> tuple[str, list[str], list[tuple[int, int]]]:
        """(text, pieces, spans) of a list of words: the words joined by `delimiter`, the pieces of
        each word tokenized on its own (as the tokenizer's `is_split_into_words` does), and each
        piece's `(start, end)` in that text."""
        if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
            raise ValueError("When `is_split_into_words=True`, each text must be a list of words (str), "
                             f"got {words!r:.80}")
        pieces, spans, word_start = [], [], 0
        for word in words:
            word_pieces = self.tokenizer.tokenize(word)
            pieces += word_pieces
            spans += [(word_start + start, word_start + end)
                      for start, end in piece_spans(word, word_pieces, self.tokenizer)]
            word_start += len(word) + len(delimiter)
        return delimiter.join(words), pieces, spans

    def _label(self, scores) -> tuple[str, float]:
        best = int(np.argmax(scores))
        return self.model.config.id2label[best], float(scores[best])

    def aggregate(self, pre_entities: list[dict], strategy: str) -> list[dict]:
        """The entities of one window's pieces: one per piece ("none", "simple") or per word
        (the others); grouped into spans of one type unless the strategy is "none"."""
        if strategy in ("none", "simple"):
            entities = []
            for piece in pre_entities:
                label, score = self._label(piece["scores"])
                entities.append({"entity": label, "score": score, "index": piece["index"], "word": piece["word"],
                                 "start": piece["start"], "end": piece["end"]})
        else:
            words, current = [], []
            for piece in pre_entities:
                if current and not piece["is_subword"]:
                    words.append(current)
                    current = []
                current.append(piece)
            entities = [self.aggregate_word(word, strategy) for word in words + ([current] if current else [])]
        return entities if strategy == "none" else self.group_entities(entities)

    def aggregate_word(self, pieces: list[dict], strategy: str) -> dict:
        """One entity for the pieces of one word: its first piece's label, the label of its most
        confident piece, or the label of its averaged probabilities."""
        if strategy == "first":
            label, score = self._label(pieces[0]["scores"])
        elif strategy == "max":
            label, score = self._label(max(pieces, key=lambda piece: piece["scores"].max())["scores"])
        else:
            label, score = self._label(np.nanmean(np.stack([piece["scores"] for piece in pieces]), axis=0))
        word = self.tokenizer.convert_tokens_to_string([piece["word"] for piece in pieces])
        return {"entity": label, "score": score, "word": word, "start": pieces[0]["start"], "end": pieces[-1]["end"]}

    def group_entities(self, entities: list[dict]) -> list[dict]:
        """Adjacent entities of one type make a group, a `B-` tag starting a new one."""
        groups, current = [], []
        for entity in entities:
            prefix, kind = _bio(entity["entity"])
            if current and (kind != _bio(current[-1]["entity"])[1] or prefix == "B"):
                groups.append(self._group(current))
                current = []
            current.append(entity)
        if current:
            groups.append(self._group(current))
        return groups

    def _group(self, entities: list[dict]) -> dict:
        return {"entity_group": entities[0]["entity"].split("-", 1)[-1],
                "score": float(np.nanmean([entity["score"] for entity in entities])),
                "word": self.tokenizer.convert_tokens_to_string([entity["word"] for entity in entities]),
                "start": entities[0]["start"], "end": entities[-1]["end"]}

    @staticmethod
    def aggregate_overlapping_entities(entities: list[dict]) -> list[dict]:
        """One entity per stretch of text from the entities of overlapping windows: in order of
        `start`, one that starts inside the entity kept before replaces it when it is longer (or
        as long, with a higher score), and is dropped otherwise."""
        kept = []
        for entity in sorted(entities, key=lambda entity: entity["start"]):
            last = kept[-1] if kept else None
            if last is None or not last["start"] <= entity["start"] < last["end"]:
                kept.append(entity)
                continue
            length, last_length = entity["end"] - entity["start"], last["end"] - last["start"]
            if length > last_length or (length == last_length and entity["score"] > last["score"]):
                kept[-1] = entity
        return kept

    def _one(self, item, strategy: str, ignore_labels: list[str], offset_mapping=None, is_split_into_words=False,
             delimiter: str = " ", stride: int | None = None) -> list[dict]:
        if is_split_into_words:
            text, pieces, spans = self.split_words(item, delimiter)
        elif not isinstance(item, str):
            raise ValueError(f"inputs must be texts, got {type(item).__name__} (for lists of words pass "
                             f"is_split_into_words=True)")
        elif stride is None:  # the slow tokenizer's path: characters only from a caller's offset_mapping
            return _kept(self.aggregate(self.pre_entities(item, offset_mapping), strategy), ignore_labels)
        else:
            text, pieces = item, self.tokenizer.tokenize(item)
            spans = piece_spans(text, pieces, self.tokenizer)
        ids = self.tokenizer.convert_tokens_to_ids(pieces)
        windows = token_windows(len(ids), self.window_width(), stride)
        entities = []
        for window in windows:
            encoded = self.tokenizer.prepare_for_model(ids[window.start:window.stop], return_special_tokens_mask=True)
            offsets = [(0, 0)] + spans[window.start:window.stop] + [(0, 0)]  # [CLS] window [SEP]
            entities += _kept(self.aggregate(self.window_pre_entities(encoded, text, offsets), strategy), ignore_labels)
        return self.aggregate_overlapping_entities(entities) if len(windows) > 1 else entities

    def __call__(self, inputs, *, aggregation_strategy=None, ignore_labels=None, grouped_entities=None,
                 ignore_subwords=None, batch_size=None, offset_mapping=None, is_split_into_words=None,
                 delimiter=None, stride=None, num_workers=None):
        """The entities of `inputs` (a text, a list, or an iterator: then an iterator of results);
        a call may override the strategy and the labels left out (`ignore_labels=[]` keeps every
        token, `O` included). `grouped_entities` and `ignore_subwords` are Transformers' older
        spellings of the strategy. `offset_mapping` gives the characters of each token, for one
        text a list of `(start, end)` tuples, for a list of texts one such list per text.
        `is_split_into_words`, `delimiter` and `stride`: see the class; None keeps the pipeline's.
        The options are keywords only, as in Transformers.
        """
        _check_batch_size(batch_size)
        check_num_workers(num_workers)
        aggregation_strategy = _strategy_of_legacy_flags(grouped_entities, ignore_subwords, aggregation_strategy)
        if is_split_into_words is None:
            is_split_into_words = self.is_split_into_words
        delimiter = _check_delimiter(delimiter)
        strategy = self.aggregation_strategy if aggregation_strategy is None else _check_aggregation(aggregation_strategy)
        options = dict(
            strategy=strategy,
            ignore_labels=self.ignore_labels if ignore_labels is None else list(ignore_labels),
            is_split_into_words=bool(is_split_into_words),
            delimiter=delimiter if delimiter is not None else self.delimiter if self.delimiter is not None else " ",
            stride=self.stride if stride is None else self.checked_stride(stride, aggregation_strategy))
        if offset_mapping is not None and (options["is_split_into_words"] or options["stride"] is not None):
            raise ValueError("offset_mapping cannot be combined with is_split_into_words or stride: the pipeline "
                             "finds each piece's characters itself then")
        if isinstance(inputs, Iterator):
            if offset_mapping is not None:
                raise ValueError("offset_mapping needs a text or a list of texts, not an iterator")
            return stream(lambda items: [self._one(item, **options) for item in items], inputs, 1)
        if options["is_split_into_words"]:
            return [self._one(words, **options) for words in _word_lists(inputs)]
        texts, batched = _as_list(inputs)
        offsets = _offsets_per_text(offset_mapping, len(texts))
        results = [self._one(text, offset_mapping=text_offsets, **options)
                   for text, text_offsets in zip(texts, offsets)]
        return results if batched else results[0]


def _kept(entities: list[dict], ignore_labels: list[str]) -> list[dict]:
    """The entities whose label (or group) is not one of `ignore_labels`."""
    return [entity for entity in entities
            if entity.get("entity") not in ignore_labels and entity.get("entity_group") not in ignore_labels]


def _check_delimiter(delimiter) -> str | None:
    if delimiter is not None and not isinstance(delimiter, str):
        raise ValueError(f"delimiter must be a str, got {type(delimiter).__name__}")
    return delimiter


def _word_lists(inputs) -> list:
    """The texts of `is_split_into_words=True` input: one list of words, or a list of such lists.
    Lists only, as Transformers takes them: a text or a tuple is refused."""
    if isinstance(inputs, list) and inputs:
        if all(isinstance(item, list) for item in inputs):
            return inputs
        if all(isinstance(item, str) for item in inputs):
            return [inputs]
    raise ValueError("When `is_split_into_words=True`, inputs must be a non-empty list of words (str) or a list of "
                     f"such lists, got {inputs!r:.80}")


def token_windows(count: int, width: int, stride: int | None) -> list[range]:
    """Which of `count` pieces each window holds. Without a stride, the first `width` (the rest
    cut off, as truncation does); with one, the windows of `window_starts`: `width` at a time,
    each sharing `stride` pieces with the one before, until one holds the last piece (as a fast
    tokenizer's overflowing windows do)."""
    if stride is None:
        return [range(min(count, width))]
    return [range(start, min(start + width, count)) for start in window_starts(count, width, stride)]


def _normal_form(text: str, tokenizer) -> str:
    """What the tokenizer's preprocessing, then SentencePiece's NFKC, make of `text` (no whitespace in it).
    Lower-casing goes character by character first, as the tokenizer does it (`lowercase_each_char`)."""
    if tokenizer.do_lower_case:
        text = lowercase_each_char(text)
    return unicodedata.normalize("NFKC", tokenizer.preprocess_text(text))


# The most characters that `normalized_characters` puts in one stretch. Written text stays far
# below it (Unicode's stream-safe format, UAX #15, allows at most 30 combining marks in a row);
# a longer run of marks that keep composing (Tibetan vowel signs, which NFKC reorders) is cut
# into stretches of this size, so that its time grows with its length: NFKC itself (CPython's
# unicodedata) sorts a run of marks in time that grows with the square of its length.
LONGEST_STRETCH = 32


def _composes(before: str, character: str, tokenizer) -> bool:
    """Whether `character` joins the normal form of the characters `before` it (a kept accent joins
    its letter, a Hangul vowel its consonant), rather than adding its own."""
    return _normal_form(before + character, tokenizer) != (_normal_form(before, tokenizer)
                                                           + _normal_form(character, tokenizer))


def normalized_characters(text: str, tokenizer) -> list[tuple[str, int, int]]:
    """`text` after the tokenizer's normalisation, one `(character, start, end)` per normalised
    character, `start:end` being the characters of `text` it came from. Whitespace stays, as
    itself, and so does a character SentencePiece reads as a space (a zero-width space); one it
    drops is left out. Where the fast tokenizer's normaliser reads several characters as one, so
    does this, placing the result where it does:

    - a doubled quote (two backticks or two single quotes) becomes one `"` on the second of the two;
    - "\r\n" is one space, on the "\r" (one grapheme, which SentencePiece's character map turns
      into one space as a whole);
    - characters that compose (a letter and the accents kept with `keep_accents`, Hangul jamo)
      make one stretch, each of its normalised characters coming from all of them.
    """
    characters, index = [], 0
    while index < len(text):
        if text[index:index + 2] in ("``", "''"):
            characters.append(('"', index + 1, index + 2))
            index += 2
            continue
        if text[index:index + 2] == "\r\n":
            characters.append((" ", index, index + 1))
            index += 2
            continue
        character, stop = text[index], index + 1
        # One stretch at a time: the whole text's normalisation would lose which characters each came from.
        if character.isspace():
            normal = character
        elif not tokenizer.sp_model.normalize(character):
            # SentencePiece reads it as a space (a zero-width space, a byte-order mark) or drops it (U+007F)
            normal = " " if "▁" in tokenizer.sp_model.normalize(f"a{character}a")[1:] else ""
        elif " " < character < "\x7f" and (stop == len(text) or text[stop].isascii()):
            normal = _normal_form(character, tokenizer)  # printable ASCII before ASCII: composes with nothing
        else:
            while (stop < len(text) and stop - index < LONGEST_STRETCH and not text[stop].isspace()
                   and _composes(text[index:stop], text[stop], tokenizer)):
                stop += 1
            normal = _normal_form(text[index:stop], tokenizer)
        characters += [(piece_character, index, stop) for piece_character in normal]
        index = stop
    return characters


def piece_spans(text: str, pieces: list[str], tokenizer) -> list[tuple[int, int]]:
    """Each piece's characters in `text`, `(start, end)`, as a fast tokenizer's offset_mapping
    gives them.

    `pieces` are `tokenizer.tokenize(text)`: the normalised text each piece covers (an unknown
    piece too, which `convert_ids_to_tokens` would call `<unk>`), so the pieces, read in order,
    step through the normalised characters, whitespace between them. A piece that starts a word
    (`▁`) after whitespace takes the last whitespace character in as well; a lone `▁` with no
    whitespace before it gets the next character of `text`, as the fast tokenizer gives them. An
    added token that eats the whitespace on its left (`lstrip`, as `[MASK]` does) starts at the first
    whitespace character before it, and one that eats the whitespace on its right (`rstrip`)
    ends after the last one after it.

    Two rarities where the fast tokenizer (tokenizers' alignment) reports otherwise, kept here as
    the characters really are: after a character the normaliser drops at the very start of the
    text (a control character such as U+007F or U+001B), the fast tokenizer moves the next
    characters' offsets one back, onto the dropped one; and U+0085 (next line), which the
    tokenizer reads as whitespace (Python's `str.split`), it joins to a neighbouring piece where
    both tokenizers cut the text alike.
    """
    characters = normalized_characters(text, tokenizer)
    added = {token.content: token for token in tokenizer.added_tokens_decoder.values()}  # with lstrip/rstrip
    spans, position = [], 0
    for piece in pieces:
        space = first_space = None
        while position < len(characters) and characters[position][0].isspace():
            space, position = characters[position], position + 1
            first_space = first_space or space
        token = added.get(piece)
        if token is not None and token.lstrip and first_space is not None:
            space = first_space
        starts_word = piece.startswith(WORD_MARKER) or token is not None and token.lstrip
        surface = piece[1:] if piece.startswith(WORD_MARKER) else piece  # the characters the piece covers
        stop = min(position + len(surface), len(characters))
        if token is not None and token.rstrip:  # the whitespace after it is the token's
            while stop < len(characters) and characters[stop][0].isspace():
                stop += 1
        if stop > position:
            first = space if starts_word and space is not None else characters[position]
            spans.append((first[1], characters[stop - 1][2]))
        elif space is not None:  # a lone "▁": the whitespace it stands for
            spans.append((space[1], space[2]))
        elif position < len(characters):  # a lone "▁" before a word: the word's first character
            spans.append((characters[position][1], characters[position][1] + 1))
        else:
            spans.append((len(text), len(text)))
        position = stop
    return spans


def _offsets_per_text(offset_mapping, count: int) -> list:
    """The `offset_mapping` of each of `count` texts, read as Transformers reads it: a list that
    starts with a tuple is one text's, otherwise a list of one per text (None: no offsets).

    Each text gets its own: Transformers 4.53.3 checks that a list of texts has one per text,
    then reads the first text's for every text, which gives the others wrong characters."""
    if offset_mapping is None:
        return [None] * count
    if isinstance(offset_mapping, list) and offset_mapping and isinstance(offset_mapping[0], tuple):
        offset_mapping = [offset_mapping]
    if not isinstance(offset_mapping, (list, tuple)) or len(offset_mapping) != count:
        raise ValueError("offset_mapping should have the same batch size as the input")
    return list(offset_mapping)


def _strategy_of_legacy_flags(grouped_entities, ignore_subwords, strategy):
    """Transformers' deprecated flags, read as it reads them: grouped and ignoring subwords is
    "first", grouped alone "simple", otherwise "none"; without either flag, `strategy`."""
    if grouped_entities is None and ignore_subwords is None:
        return strategy
    replacement = "first" if grouped_entities and ignore_subwords else "simple" if grouped_entities else "none"
    warnings.warn(f'grouped_entities and ignore_subwords are deprecated (as in Transformers): read as '
                  f'aggregation_strategy="{replacement}"', UserWarning, stacklevel=3)
    return replacement


def _check_batch_size(batch_size) -> None:
    # Inputs run one at a time, so the count changes nothing; it is checked, as Transformers takes it.
    if batch_size is not None:
        check_positive_int("batch_size", batch_size)


def _check_aggregation(strategy) -> str:
    name = str(getattr(strategy, "value", strategy)).lower()
    if name not in AGGREGATIONS:
        raise ValueError(f"aggregation_strategy must be one of {AGGREGATIONS}, got {strategy!r}")
    return name


def _bio(label: str) -> tuple[str, str]:
    """("B" or "I", type); a label without a B-/I- prefix counts as a continuation of itself."""
    if label.startswith(("B-", "I-")):
        return label[0], label[2:]
    return "I", label


# --- question answering -------------------------------------------------------------------------
def split_context(context: str) -> tuple[list[str], list[int]]:
    """Whitespace-separated words and, for every character, the index of its word (whitespace
    belongs to the word before it, leading whitespace to -1), as SQuAD's preprocessing does."""
    words, char_to_word, after_space = [], [], True
    for character in context:
        if character in SQUAD_WHITESPACE:
            after_space = True
        else:
            if after_space:
                words.append(character)
            else:
                words[-1] += character
            after_space = False
        char_to_word.append(len(words) - 1)
    return words, char_to_word


def _masked_softmax(logits, allowed):
    """Softmax with the logits of disallowed tokens set to -10000, as Transformers masks them."""
    masked = np.where(allowed == 0, -10000.0, logits)
    exps = np.exp(masked - masked.max())
    return exps / exps.sum()


class QuestionAnsweringPipeline:
    """`pipeline("question-answering")`: `pipe(question=..., context=...)` (strings or lists).

    Two options are taken for Transformers' signature and change nothing, as with its slow
    tokenizer: `align_to_words` (the answers are whole words either way) and `padding` (each
    window is padded to `max_seq_len` either way; checked to be a padding strategy). `topk` is
    Transformers' deprecated spelling of `top_k`, read as it with a warning.
    """

    def __init__(self, model, tokenizer, top_k: int | None = None, max_answer_len: int = 15, max_question_len: int = 64,
                 max_seq_len: int | None = None, doc_stride: int | None = None, handle_impossible_answer=False,
                 align_to_words: bool = True, batch_size=None, padding=None, topk=None):
        self.model, self.tokenizer = model, tokenizer
        _check_batch_size(batch_size)
        self.options = _qa_options(QA_DEFAULTS, _qa_given(dict(
            top_k=top_k, max_answer_len=max_answer_len, max_question_len=max_question_len, max_seq_len=max_seq_len,
            doc_stride=doc_stride, handle_impossible_answer=handle_impossible_answer, align_to_words=align_to_words,
            padding=padding, topk=topk)))

    def windows(self, question: str, pieces: list[int], max_seq_len: int, doc_stride: int, max_question_len: int):
        """Model inputs for each window of the context pieces: [CLS] question [SEP] window [SEP],
        padded to max_seq_len, with the first piece index of the window and the mask of pieces
        that may not be part of an answer (question, special tokens, padding)."""
        tokenizer = self.tokenizer
        query = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(question))[:max_question_len]
        if not query:  # Transformers fails on it too ("Input [] is not valid")
            raise ValueError(f"the question has no words (only whitespace or characters the tokenizer drops): "
                             f"{question!r:.80}")
        width = max_seq_len - len(query) - 3
        if width <= 0:  # a stride wider than the window skips pieces between windows, as in Transformers
            raise ValueError(f"max_seq_len={max_seq_len} leaves no room for the context (question: {len(query)} tokens)")
        special = set(tokenizer.all_special_ids)
        start = 0
        while True:
            window = pieces[start:start + width]
            ids = [tokenizer.cls_token_id] + query + [tokenizer.sep_token_id] + window + [tokenizer.sep_token_id]
            padding = max_seq_len - len(ids)
            types = [0] * (len(query) + 2) + [1] * (len(window) + 1) + [0] * padding
            ids += [tokenizer.pad_token_id] * padding
            impossible = [1] * (len(query) + 2) + [int(i in special) for i in ids[len(query) + 2:]]
            impossible[0] = 0  # [CLS] stays: it stands for "no answer"
            yield {"input_ids": ids, "token_type_ids": types, "attention_mask": [1] * (max_seq_len - padding) + [0] * padding,
                   "impossible": impossible, "first_piece": start, "context_start": len(query) + 2, "length": len(window)}
            if start + width >= len(pieces):
                return
            start += doc_stride

    @staticmethod
    def best_spans(start_logits, end_logits, impossible, attention_mask, top_k: int, max_answer_len: int):
        """(starts, ends, scores, null score): the top_k spans by p(start) * p(end), with the
        probabilities a softmax over the allowed tokens and [CLS], the [CLS] pair then set aside.
        Only spans inside the context with a score above 0 are answers: when top_k asks for more
        than there are, spans at [CLS] or ending before they start (score 0) are left out, not
        read as words."""
        allowed = (1 - np.asarray(impossible)) & np.asarray(attention_mask)
        start, end = _masked_softmax(start_logits, allowed), _masked_softmax(end_logits, allowed)
        null_score = float(start[0] * end[0])
        start[0] = end[0] = 0.0
        pairs = np.tril(np.triu(np.outer(start, end)), max_answer_len - 1)
        flat = pairs.reshape(-1)
        order = [int(np.argmax(flat))] if top_k == 1 else list(np.argsort(-flat, kind="stable")[:top_k])
        starts, ends = np.unravel_index(np.asarray(order, dtype=np.int64), pairs.shape)
        keep = (starts > 0) & (allowed[starts] == 1) & (allowed[ends] == 1) & (pairs[starts, ends] > 0)
        return starts[keep], ends[keep], pairs[starts[keep], ends[keep]], null_score

    def _one(self, question: str, context: str, options: dict):
        if not isinstance(question, str) or not isinstance(context, str) or not question or not context:
            raise ValueError("question and context must be non-empty texts")
        words, char_to_word = split_context(context)
        pieces, piece_words = [], []
        for index, word in enumerate(words):
            word_pieces = self.tokenizer.convert_tokens_to_ids(self.tokenizer.tokenize(word))
            pieces += word_pieces
            piece_words += [index] * len(word_pieces)
        if not pieces:  # Transformers fails here inside its preprocessing (StopIteration)
            raise ValueError(f"the context has no words to answer from (only whitespace or characters the "
                             f"tokenizer drops): {context!r:.80}")
        max_seq_len, doc_stride = qa_window(self.model, self.tokenizer, options["max_seq_len"], options["doc_stride"])
        char_to_word = np.asarray(char_to_word)
        answers, null_score = [], 1000000.0
        for window in self.windows(question, pieces, max_seq_len, doc_stride, options["max_question_len"]):
            output = _run(self.model, window)
            start_logits = to_numpy(output.start_logits)[0].astype(np.float64)
            end_logits = to_numpy(output.end_logits)[0].astype(np.float64)
            starts, ends, scores, null = self.best_spans(start_logits, end_logits, window["impossible"],
                                                         window["attention_mask"], options["top_k"], options["max_answer_len"])
            null_score = min(null_score, null)
            offset = window["first_piece"] - window["context_start"]
            for s, e, score in zip(starts, ends, scores):
                first_word, last_word = piece_words[s + offset], piece_words[e + offset]
                answers.append({"score": float(score), "start": int(np.nonzero(char_to_word == first_word)[0][0]),
                                "end": int(np.nonzero(char_to_word == last_word)[0][-1]),
                                "answer": " ".join(words[first_word:last_word + 1])})
        if options["handle_impossible_answer"]:
            answers.append({"score": null_score, "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda answer: answer["score"], reverse=True)[:options["top_k"]]
        return answers[0] if len(answers) == 1 else answers

    def __call__(self, *args, question=None, context=None, batch_size=None, num_workers=None, **options):
        """Answers for `question=..., context=...` (texts, or lists of them), a dict
        `{"question", "context"}`, a list of such dicts, dicts given one after another, two texts
        in that order, or an iterator of dicts (then an iterator of answers); `X=` and `data=`,
        Transformers' deprecated names, take what one positional argument takes. One question
        gives its answer (a dict, or a list of `top_k`); several give one such result each."""
        _check_batch_size(batch_size)
        check_num_workers(num_workers)
        question, context = _qa_inputs(args, question, context, options)
        options = _qa_given(options)
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ValueError(f"unknown option(s) {unknown}: the options are {sorted(self.options)}")
        options = _qa_options(self.options, options)
        if isinstance(question, Iterator):
            return stream(lambda items: [self(items[0], **options)], question, 1)
        if isinstance(question, dict):
            if context is not None:
                raise ValueError('pass the context inside the {"question", "context"} dict or as context=, '
                                 "not both")
            question, context = question.get("question"), question.get("context")
        if isinstance(question, (list, tuple)) and question and all(isinstance(item, dict) for item in question):
            if context is not None:
                raise ValueError("pass the contexts inside the {\"question\", \"context\"} dicts or as context=, not both")
            question, context = [item.get("question") for item in question], [item.get("context") for item in question]
        if isinstance(question, (list, tuple)) or isinstance(context, (list, tuple)):
            questions = list(question) if isinstance(question, (list, tuple)) else [question] * len(context)
            contexts = list(context) if isinstance(context, (list, tuple)) else [context] * len(questions)
            if len(questions) != len(contexts):
                raise ValueError(f"{len(questions)} questions but {len(contexts)} contexts")
            results = [self._one(q, c, options) for q, c in zip(questions, contexts)]
            return results[0] if len(results) == 1 else results
        return self._one(question, context, options)


class FeatureExtractionPipeline:
    """`pipeline("feature-extraction")`: a text or a list of texts -> hidden states per token."""

    def __init__(self, model, tokenizer, tokenize_kwargs=None, return_tensors=False, truncation=None, batch_size=None):
        self.model, self.tokenizer = model, tokenizer
        _check_batch_size(batch_size)
        self.tokenize_kwargs, self.return_tensors, self.truncation = dict(tokenize_kwargs or {}), return_tensors, truncation

    def _one(self, text, tokenize_kwargs: dict, return_tensors: bool):
        if not isinstance(text, str):
            raise ValueError(f"inputs must be texts, got {type(text).__name__}")
        if tokenize_kwargs.get("truncation") and "max_length" not in tokenize_kwargs:
            tokenize_kwargs = {**tokenize_kwargs, "max_length": fitting_length(self.model, self.tokenizer)}
        encoded = self.tokenizer(text, **tokenize_kwargs)
        limit = self.model.config.max_position_embeddings
        if len(encoded["input_ids"]) > limit:
            raise TextTooLongError(text, len(encoded["input_ids"]), limit)
        hidden = _run(self.model, encoded).last_hidden_state  # (1, tokens, hidden)
        return hidden if return_tensors else to_numpy(hidden).tolist()

    def __call__(self, inputs, *, tokenize_kwargs=None, return_tensors=None, truncation=None, batch_size=None,
                 num_workers=None):
        """Hidden states of `inputs` (a text, a list, or an iterator: then an iterator of results).
        The options are keywords only: Transformers takes none by position (it ignores a second
        positional argument, with a log line); here one raises `TypeError`."""
        _check_batch_size(batch_size)
        check_num_workers(num_workers)
        if isinstance(inputs, Iterator):  # a generator: an iterator of results, as in Transformers
            options = dict(tokenize_kwargs=tokenize_kwargs, return_tensors=return_tensors, truncation=truncation)
            return stream(lambda texts: self(texts, **options), inputs, 1)
        tokenize_kwargs = {**self.tokenize_kwargs, **(tokenize_kwargs or {})}
        truncation = self.truncation if truncation is None else truncation
        if truncation is not None:
            if "truncation" in tokenize_kwargs:
                raise ValueError("truncation was given twice: as an argument and in tokenize_kwargs")
            tokenize_kwargs["truncation"] = truncation
        return_tensors = self.return_tensors if return_tensors is None else return_tensors
        texts, batched = _as_list(inputs)
        results = [self._one(text, tokenize_kwargs, return_tensors) for text in texts]
        return results if batched else results[0]


# The question-answering options a pipeline starts from (max_seq_len and doc_stride: see qa_window).
QA_DEFAULTS = dict(top_k=1, max_answer_len=15, max_question_len=64, max_seq_len=None, doc_stride=None,
                   handle_impossible_answer=False, align_to_words=True)


def _qa_options(defaults: dict, given: dict) -> dict:
    """`defaults` with the `given` options that are not None: Transformers reads an option given as
    None (`top_k=None`) as not given, so the pipeline's own value (or the default) stays."""
    return _check_qa_options({**defaults, **{name: value for name, value in given.items() if value is not None}})


def _qa_inputs(args: tuple, question, context, options: dict) -> tuple:
    """`(question, context)` of a question-answering call, its arguments read as Transformers
    reads them: one positional argument (or `X=` / `data=`, its deprecated names, taken out of
    `options`) is a dict, a list of dicts or an iterator, held in `question`; two texts (or
    lists of texts) are the question and the context; several dicts are one question each.
    Giving the inputs twice raises `ValueError` (Transformers keeps one and drops the other)."""
    for name in ("X", "data"):
        if name in options:
            warnings.warn(f"{name}= is deprecated (as in Transformers): pass question= and context=", FutureWarning,
                          stacklevel=3)
            args = (*args, options.pop(name))
    if not args:
        return question, context
    if question is not None:
        raise ValueError("pass the question by position or as question=, not both")
    if len(args) == 2 and not any(isinstance(item, dict) for item in args):
        if context is not None:
            raise ValueError("pass the context by position or as context=, not both")
        return args
    if len(args) == 1:
        return args[0], context
    if not all(isinstance(item, dict) for item in args):
        raise ValueError('several positional inputs must each be a {"question": ..., "context": ...} dict, got '
                         f"{', '.join(type(item).__name__ for item in args)}")
    return list(args), context


def _qa_given(options: dict) -> dict:
    """Question-answering options with Transformers' other names read: `topk` (deprecated) is
    `top_k`, with a warning, where `top_k` is not given; `padding` is checked and dropped."""
    options = dict(options)
    topk = options.pop("topk", None)
    if topk is not None:
        warnings.warn("topk is deprecated (as in Transformers): use top_k", UserWarning, stacklevel=3)
        if options.get("top_k") is None:
            options["top_k"] = topk
    padding = options.pop("padding", None)
    padding = getattr(padding, "value", padding)  # transformers' PaddingStrategy carries its name in .value
    if padding not in (None, True, False, "longest", "max_length", "do_not_pad"):
        raise ValueError(f"padding must be True, False, 'longest', 'max_length' or 'do_not_pad', got {padding!r}")
    return options


def _check_qa_options(options: dict) -> dict:
    """Counts must be positive ints (max_seq_len and doc_stride may be None: the defaults)."""
    for name in ("top_k", "max_answer_len", "max_question_len", "max_seq_len", "doc_stride"):
        if options[name] is not None or name not in ("max_seq_len", "doc_stride"):
            check_positive_int(name, options[name])
    return options


TASK_ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}
TASK_PIPELINES = {"text-classification": TextClassificationPipeline, "token-classification": TokenClassificationPipeline,
                  "question-answering": QuestionAnsweringPipeline, "feature-extraction": FeatureExtractionPipeline}
TASK_PIPELINES.update({alias: TASK_PIPELINES[task] for alias, task in TASK_ALIASES.items()})


def build_task_pipeline(task: str, model, tokenizer, **options):
    """The pipeline of `task` around an already loaded `model` and `tokenizer`; `options` are the
    pipeline's own (top_k, aggregation_strategy, max_answer_len, ...)."""
    pipeline_class = TASK_PIPELINES[task]
    try:
        return pipeline_class(model, tokenizer, **options)
    except TypeError as error:
        raise ValueError(f"{task}: {error}") from None


def task_model_class(task: str):
    """The model class a task pipeline runs (the aliases "sentiment-analysis" and "ner" included)."""
    from .models import AlbertModel
    from .task_models import TASK_CLASSES

    canonical = TASK_ALIASES.get(task, task)
    return AlbertModel if canonical == "feature-extraction" else TASK_CLASSES[canonical]
