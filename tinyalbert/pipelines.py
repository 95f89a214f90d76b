"""The fill-mask pipeline: text with `[MASK]` in, the most likely tokens for each mask out.

    fill_mask = tinyalbert.pipeline("fill-mask", model="albert/albert-base-v2")
    fill_mask("The capital of France is [MASK].")
    # [{'score': <probability>, 'token': <id>, 'token_str': 'paris', 'sequence': 'the capital of france is paris .'}, ...]

The output has exactly the structure of Transformers' `fill-mask` pipeline:

- one text with one mask: a list of `top_k` dicts `{"score", "token", "token_str", "sequence"}`;
- one text with several masks: one such list per mask (each mask scored on its own; the other
  masks stay in `sequence`, which then keeps the special tokens);
- a list of texts: one result per text, except that a list of one text gives that text's result.

`score` is the softmax probability over the whole vocabulary (with `targets`, still over the
whole vocabulary, then restricted to the targets). Unlike Transformers, which runs one text at
a time, the texts of a call are run together in padded batches of similar lengths.
"""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator

import numpy as np

from .backend import backend_for_device, device_of_map, get_backend, to_numpy
from .nn.losses import IGNORE_INDEX
from .nn.softmax import softmax

logger = logging.getLogger(__name__)

DEFAULT_TOP_K = 5  # fill-mask's predictions per mask, as in Transformers

SUPPORTED_TASKS = ("fill-mask", "text-classification", "sentiment-analysis", "token-classification", "ner",
                   "question-answering", "feature-extraction")


class MissingMaskError(ValueError):
    """A text has no mask token."""

    def __init__(self, text: str, mask_token: str, truncated_to: int | None = None):
        self.text, self.mask_token, self.truncated_to = text, mask_token, truncated_to
        reason = f" after truncation to {truncated_to} tokens" if truncated_to else ""
        super().__init__(f"No mask_token ({mask_token}) found on the input{reason}: {text!r}")


class TextTooLongError(ValueError):
    """A text has more tokens than the model has positions."""

    def __init__(self, text: str, length: int, limit: int):
        self.text, self.length, self.limit = text, length, limit
        super().__init__(
            f"the input is {length} tokens long, but the model takes at most {limit} "
            f"(max_position_embeddings); pass truncation=True to cut it: {text!r}"
        )


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` largest `scores`, largest first; equal scores keep the lower index first."""
    if k <= 0:
        return np.arange(0)
    if k < scores.shape[0]:
        candidates = np.argpartition(-scores, k - 1)[:k]
    else:
        candidates = np.arange(scores.shape[0])
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order]


class FillMaskPipeline:
    """Predicts the tokens behind each `[MASK]` of a text with an `AlbertForMaskedLM`.

    Args:
        model: an `AlbertForMaskedLM` (any backend: NumPy, CuPy, ...).
        tokenizer: its `AlbertTokenizer`.
        top_k: how many predictions to return per mask (0: none, as in Transformers), unless a call says
            otherwise; None keeps the default, 5, as Transformers reads `top_k=None`.
        batch_size: how many texts run through the model at once.
        truncation: cut texts longer than the model's positions instead of raising.
        targets, tokenizer_kwargs: defaults for the calls' arguments of those names.
    """

    task = "fill-mask"

    def __init__(self, model, tokenizer, top_k: int | None = 5, batch_size: int = 8, truncation: bool = False,
                 targets=None, tokenizer_kwargs: dict | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.top_k = DEFAULT_TOP_K if top_k is None else _check_top_k(top_k)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = batch_size
        self.truncation = bool(truncation)
        if tokenizer.mask_token_id is None:
            raise ValueError("The tokenizer does not define a `mask_token`.")
        from .tokenizer import check_vocab_matches

        # Every id the tokenizer makes needs a row of the model's embeddings (spare rows are fine).
        check_vocab_matches(tokenizer, model.config, allow_larger_embedding=True)
        # Positions beyond this have no position embedding: the model cannot take them.
        self.max_length = int(model.config.max_position_embeddings)
        self.target_ids = None if targets is None else self.get_target_ids(targets)
        self._truncation_limit(None, tokenizer_kwargs)  # checked now, not at the first call
        self.tokenizer_kwargs = tokenizer_kwargs

    def __repr__(self) -> str:
        return (f"FillMaskPipeline(vocab_size={self.model.config.vocab_size}, top_k={self.top_k}, "
                f"backend={getattr(self.model.xp, '__name__', self.model.xp)!s})")

    # -- targets ---------------------------------------------------------------------------------
    def get_target_ids(self, targets) -> np.ndarray:
        """Vocabulary ids of `targets` (a str or a list of str).

        A target that is not a vocabulary piece as written (`"paris"` is not, `"▁paris"` is) is
        tokenized and its first piece used instead, with a warning; one that gives no piece at
        all is dropped, with a warning. Duplicates count once.
        """
        if isinstance(targets, str):
            targets = [targets]
        vocab = self.tokenizer.get_vocab()
        target_ids = []
        for target in targets:
            token_id = vocab.get(target)
            if token_id is None:
                ids = self.tokenizer(target, add_special_tokens=False, return_attention_mask=False,
                                     return_token_type_ids=False, max_length=1, truncation=True)["input_ids"]
                if len(ids) == 0:
                    logger.warning(
                        f"The specified target token `{target}` does not exist in the model vocabulary. "
                        "We cannot replace it with anything meaningful, ignoring it"
                    )
                    continue
                token_id = ids[0]
                logger.warning(
                    f"The specified target token `{target}` does not exist in the model vocabulary. "
                    f"Replacing with `{self.tokenizer.convert_ids_to_tokens(token_id)}`."
                )
            target_ids.append(int(token_id))
        target_ids = list(set(target_ids))
        if not target_ids:
            raise ValueError("At least one target must be provided when passed.")
        return np.array(target_ids)

    # -- the call --------------------------------------------------------------------------------
    def __call__(self, inputs, *, top_k: int | None = None, targets=None, truncation: bool | None = None,
                 tokenizer_kwargs: dict | None = None, batch_size: int | None = None, num_workers: int | None = None):
        """Fill the masks of `inputs` (a str or a list of str); see the module docstring for the output.

        The options are keywords only, as in Transformers. `tokenizer_kwargs` takes Transformers'
        `{"truncation": ..., "max_length": N}`: with truncation, texts are cut to N tokens (at most
        the model's positions). `batch_size` overrides the pipeline's for this call. A generator
        (any iterator) of texts gives an iterator of results, one per text, computed `batch_size`
        texts at a time. `num_workers`: see `check_num_workers`.
        """
        check_num_workers(num_workers)
        batch_size = self.batch_size if batch_size is None else check_positive_int("batch_size", batch_size)
        target_ids = self.target_ids if targets is None else self.get_target_ids(targets)  # once, warnings too
        if isinstance(inputs, Iterator):
            options = dict(top_k=top_k, target_ids=target_ids, truncation=truncation, tokenizer_kwargs=tokenizer_kwargs)
            return self._stream(inputs, batch_size, options)
        if isinstance(inputs, str):
            texts, unwrap = [inputs], True
        elif isinstance(inputs, (list, tuple)):
            texts, unwrap = list(inputs), len(inputs) == 1
        else:
            raise TypeError(f"inputs must be a str, a list of str or an iterator of str, got {type(inputs).__name__}")
        results = self._fill(texts, top_k, target_ids, truncation, tokenizer_kwargs, batch_size)
        return results[0] if unwrap else results

    def _stream(self, inputs: Iterator, batch_size: int, options: dict) -> Iterator:
        """The results of an iterator of texts, `batch_size` at a time (errors name the item's place)."""
        done = 0
        for batch in batches(inputs, batch_size):
            yield from self._fill(batch, batch_size=batch_size, first_index=done, **options)
            done += len(batch)

    def _fill(self, texts: list, top_k, target_ids, truncation, tokenizer_kwargs, batch_size: int,
              first_index: int = 0) -> list:
        """One result per text of `texts` (items `first_index`... of the caller's inputs)."""
        for index, text in enumerate(texts, start=first_index):
            if not isinstance(text, str):
                raise TypeError(f"inputs[{index}] must be a str, got {type(text).__name__}: {text!r:.80}")
        top_k = self.top_k if top_k is None else _check_top_k(top_k)
        tokenizer_kwargs = self.tokenizer_kwargs if tokenizer_kwargs is None else tokenizer_kwargs
        truncation, limit = self._truncation_limit(truncation, tokenizer_kwargs)
        if not texts:
            return []

        encoded, cut_lengths = self._encode(texts, truncation, limit)
        mask_positions = [self._mask_positions(text, ids, cut_to)
                          for text, ids, cut_to in zip(texts, encoded, cut_lengths)]
        logits = self._masked_logits(encoded, mask_positions, batch_size)
        results = []
        for ids, positions, rows in zip(encoded, mask_positions, logits):
            results.append(self._postprocess(ids, positions, rows, top_k, target_ids))
        return results

    def _truncation_limit(self, truncation, tokenizer_kwargs) -> tuple[bool, int]:
        """Whether to cut long texts, and to how many tokens, from the call's `truncation` and
        Transformers-style `tokenizer_kwargs`."""
        limit, tokenizer_kwargs = self.max_length, tokenizer_kwargs or {}
        unknown = sorted(set(tokenizer_kwargs) - {"truncation", "max_length"})
        if unknown:
            raise ValueError(f"fill-mask takes tokenizer_kwargs 'truncation' and 'max_length', got {unknown}")
        if "truncation" in tokenizer_kwargs:
            # Transformers' strategies: any of them cuts a single text; False or "do_not_truncate" does not.
            requested = tokenizer_kwargs["truncation"] not in (False, None, "do_not_truncate")
            if truncation is not None and bool(truncation) != requested:
                raise ValueError(f"truncation={truncation!r} and tokenizer_kwargs truncation="
                                 f"{tokenizer_kwargs['truncation']!r} disagree; give one")
            truncation = requested
        truncation = self.truncation if truncation is None else bool(truncation)
        max_length = tokenizer_kwargs.get("max_length")
        if max_length is not None:
            if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) or max_length < 3:
                raise ValueError(f"tokenizer_kwargs max_length must be an int of at least 3 "
                                 f"([CLS], [MASK], [SEP]), got {max_length!r}")
            limit = min(limit, int(max_length))
        return truncation, limit

    def _tokenize(self, texts: list[str], **options) -> list[list[int]]:
        with warnings.catch_warnings():
            # A too-long text gets a more specific error here than the tokenizer's warning.
            warnings.filterwarnings("ignore", message=".*model_max_length.*")
            encoded = self.tokenizer(texts, return_attention_mask=False, return_token_type_ids=False,
                                     **options)["input_ids"]
        return [list(map(int, ids)) for ids in encoded]

    def _encode(self, texts: list[str], truncation: bool, limit: int) -> tuple[list[list[int]], list[int | None]]:
        """Token ids of each text, with `[CLS]`/`[SEP]`, unpadded, and the length it was cut to (None: not cut).

        With `truncation`, a text longer than `limit` tokens is cut by the tokenizer (on its
        `truncation_side`, keeping `[SEP]`) to exactly that many; without, one longer than the
        model's positions raises TextTooLongError.
        """
        encoded = self._tokenize(texts)
        if not truncation:
            too_long = [i for i, ids in enumerate(encoded) if len(ids) > self.max_length]
            if too_long:
                raise TextTooLongError(texts[too_long[0]], len(encoded[too_long[0]]), self.max_length)
            return encoded, [None] * len(texts)
        too_long = [i for i, ids in enumerate(encoded) if len(ids) > limit]
        if too_long:
            cut = self._tokenize([texts[i] for i in too_long], truncation=True, max_length=limit)
            for i, ids in zip(too_long, cut):
                encoded[i] = ids
        cut_ones = set(too_long)
        return encoded, [limit if i in cut_ones else None for i in range(len(texts))]

    def _mask_positions(self, text: str, ids: list[int], cut_to: int | None) -> list[int]:
        positions = [i for i, token_id in enumerate(ids) if token_id == self.tokenizer.mask_token_id]
        if not positions:
            raise MissingMaskError(text, self.tokenizer.mask_token, cut_to)
        return positions

    def _masked_logits(self, encoded: list[list[int]], mask_positions: list[list[int]], batch_size: int) -> list[np.ndarray]:
        """Logits at the mask positions of each text: a (masks, vocab) float array per text.

        Texts are sorted by length and run in padded batches of `batch_size`, so that a batch wastes
        little on padding.
        """
        pad_id = self.tokenizer.pad_token_id
        pad_id = 0 if pad_id is None else pad_id
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        logits_per_text: list[np.ndarray | None] = [None] * len(encoded)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            seq = max(len(encoded[i]) for i in batch)
            input_ids = np.full((len(batch), seq), pad_id, dtype=np.int64)
            attention_mask = np.zeros((len(batch), seq), dtype=np.int64)
            at_masks = np.full((len(batch), seq), IGNORE_INDEX, dtype=np.int64)
            for row, i in enumerate(batch):
                input_ids[row, : len(encoded[i])] = encoded[i]
                attention_mask[row, : len(encoded[i])] = 1
                at_masks[row, mask_positions[i]] = 0  # any id: only where they are matters
            # The MLM head at the mask positions alone, as pretraining runs it at its labelled
            # ones (`labelled_only`): the same logits for those rows, without the vocabulary-wide
            # decoder at every other position (an eighth of the time of a fill-mask call).
            # `prediction_logits` is (masks, vocab) in the order of the flattened positions.
            _, outputs, _ = self.model._pretraining(input_ids, at_masks, None, attention_mask,
                                                    np.zeros_like(input_ids), labelled_only=True)
            rows = to_numpy(outputs.prediction_logits)  # only the masked rows leave the device
            offset = 0
            for i in batch:
                count = len(mask_positions[i])
                logits_per_text[i] = rows[offset : offset + count]
                offset += count
        return logits_per_text

    def _postprocess(self, ids: list[int], positions: list[int], logits: np.ndarray, top_k: int, target_ids):
        """The Transformers-shaped result of one text from its (masks, vocab) logits."""
        probs = softmax(logits.astype(np.float64))  # float64: the scores are reported, not trained on
        if target_ids is not None:
            probs = probs[:, target_ids]
        k = min(top_k, probs.shape[-1])
        single_mask = len(positions) == 1
        pad_id = self.tokenizer.pad_token_id
        result = []
        for position, mask_probs in zip(positions, probs):
            row = []
            for index in top_k_indices(mask_probs, k):
                token = int(target_ids[index]) if target_ids is not None else int(index)
                tokens = list(ids)
                tokens[position] = token
                tokens = [t for t in tokens if t != pad_id]
                # With several masks the other [MASK]s stay visible, so special tokens are kept.
                row.append({
                    "score": float(mask_probs[index]),
                    "token": token,
                    "token_str": self.tokenizer.decode([token]),
                    "sequence": self.tokenizer.decode(tokens, skip_special_tokens=single_mask),
                })
            result.append(row)
        return result[0] if single_mask else result


# model_kwargs that say where a named model is found (and whether it may be downloaded).
HUB_LOOKUP_OPTIONS = ("cache_dir", "local_files_only", "force_download", "subfolder")
NOT_GIVEN = object()  # top_k left out: each task's own default (fill-mask 5, text-classification 1, ...)


def batches(inputs: Iterator, batch_size: int) -> Iterator[list]:
    """The items of `inputs` in lists of `batch_size` (the last one shorter), as they come."""
    batch = []
    for item in inputs:
        batch.append(item)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def stream(run_batch, inputs: Iterator, batch_size: int) -> Iterator:
    """Results for an iterator of inputs, as Transformers' pipelines give them for a generator:
    an iterator, one result per input; `run_batch(list)` gives the results of `batch_size`
    inputs at a time, in a list."""
    for batch in batches(inputs, batch_size):
        yield from run_batch(batch)


def check_positive_int(name: str, value) -> int:
    """`value` as an int, or a ValueError naming `name` unless it is an int of at least 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_num_workers(num_workers) -> None:
    """Transformers' `num_workers` (the processes of a torch DataLoader that prepares the inputs):
    taken where Transformers takes it, and checked; tinyalbert prepares the inputs in the calling
    process, so it changes nothing."""
    if num_workers is not None and (isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer))
                                    or num_workers < 0):
        raise ValueError(f"num_workers must be an int of at least 0, got {num_workers!r}")


def _check_top_k(top_k) -> int:
    """Predictions per mask: an int of at least 0 (0 gives none, as in Transformers)."""
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0:
        raise ValueError(f"top_k must be an int of at least 0, got {top_k!r}")
    return int(top_k)


def _device_name(device):
    """Transformers' pipeline device: -1 is the CPU, N >= 0 the GPU N; other values as `model.to()` reads them."""
    return "cpu" if isinstance(device, int) and not isinstance(device, bool) and device < 0 else device


def pipeline(task: str = "fill-mask", model=None, *, tokenizer=None, top_k=NOT_GIVEN, backend="numpy",
             dtype="float32", batch_size=NOT_GIVEN, truncation=NOT_GIVEN, revision: str = "main", device=None,
             torch_dtype=None, token=None, device_map=None, trust_remote_code: bool | None = None, config=None,
             model_kwargs: dict | None = None, use_fast: bool = True, framework: str | None = None,
             num_workers: int | None = None, **task_options):
    """Build a pipeline, as `transformers.pipeline` does: `"fill-mask"`, or one of the task
    pipelines of `tinyalbert.task_pipelines`. `task_options` go to the pipeline: fill-mask's
    default `targets` and `tokenizer_kwargs`, a task's own (e.g. aggregation_strategy).

    Only `task` and `model` may be given by position: Transformers' third positional argument
    is `config`, so a third one here would be read differently; it raises `TypeError` instead.

    Args:
        model: a directory, a Hub name (`"albert/albert-base-v2"`, found in the local Hugging Face
            cache or downloaded), the bundled `"tinyalbert-mini"` (the default), or an
            `AlbertForMaskedLM` already built (then `backend` and `dtype` are its own).
        tokenizer: an `AlbertTokenizer`, or where to load one; by default the model's directory.
        top_k: predictions per mask; a call can override it.
        backend: `"numpy"`, `"cupy"` or an Array API namespace; dtype: `"float32"`, `"float16"`, `"float64"`.
        device, torch_dtype: Transformers' names for the same choices, as `model.to()` reads them
            (`device=0` or `"cuda"` is CuPy, `-1` or `"cpu"` the CPU); they win over backend and dtype.
        device_map: instead of device, as Transformers takes it ("auto", `{"": 0}`, ...;
            `tinyalbert.backend.device_of_map`). trust_remote_code: accepted, changes nothing.
        batch_size: texts per forward pass (fill-mask, 8 by default; the task pipelines take it
            and run one text at a time). truncation: cut texts longer than the model's positions
            (fill-mask, text-classification, feature-extraction).
        revision, token: the Hub revision for a Hub name, and the access token for a private one.
        model_kwargs: more arguments of the model's `from_pretrained` (`{"config": ...}`,
            `{"id2label": ...}`), as Transformers passes them. config: accepted with a warning;
            Transformers uses it only to choose the model class, which here follows the task.
        use_fast, framework: accepted for Transformers' signature: tinyalbert has one tokenizer,
            which gives the slow (SentencePiece) one's output, and computes in NumPy or CuPy
            (`framework` may be None or "pt", whose results these are; "tf" is refused).
        num_workers: accepted and checked, as Transformers takes it; changes nothing (`check_num_workers`).
    """
    check_num_workers(num_workers)
    if task not in SUPPORTED_TASKS:
        raise ValueError(f"unknown task {task!r}: tinyalbert has {', '.join(map(repr, SUPPORTED_TASKS))}")
    if framework not in (None, "pt"):
        raise ValueError(f"framework={framework!r}: tinyalbert gives the results of Transformers' PyTorch models (None or 'pt')")
    if not isinstance(use_fast, bool):
        raise ValueError(f"use_fast must be True or False, got {use_fast!r}")
    model_kwargs = dict(model_kwargs or {})
    if config is not None:  # Transformers reads it to choose the model class, which here follows the task
        warnings.warn("pipeline(config=...) does not change the loaded model (nor does it in Transformers): "
                      "pass model_kwargs={'config': ...} to load the weights with another config", UserWarning,
                      stacklevel=2)
    if device_map is not None:
        if device is not None:
            raise ValueError("pass device or device_map, not both: they might name different devices")
        device = device_of_map(device_map)
    from .hub import DEFAULT_MODEL, resolve_model_dir
    from .models import AlbertForMaskedLM, chosen_dtype

    model_class = AlbertForMaskedLM
    if task != "fill-mask":
        from .task_pipelines import task_model_class

        model_class = task_model_class(task)
    if model is None:
        model = DEFAULT_MODEL
    directory = None
    if isinstance(model, (str, os.PathLike)):
        # Where the model is found follows model_kwargs' Hub options, as in Transformers; the
        # subfolder is then part of the directory, not applied a second time.
        where = {name: model_kwargs[name] for name in HUB_LOOKUP_OPTIONS if name in model_kwargs}
        model_kwargs = {name: value for name, value in model_kwargs.items() if name != "subfolder"}
        directory = resolve_model_dir(model, revision=revision, token=token, **where)
        # A device is checked before the weights are read, so that a missing GPU fails fast.
        backend = backend if device is None else backend_for_device(_device_name(device), get_backend(backend))
        loading_dtype = dtype if torch_dtype is None else torch_dtype
        if "torch_dtype" in model_kwargs or "dtype" in model_kwargs:  # as Transformers takes them there
            if torch_dtype is not None:
                raise ValueError("torch_dtype is given twice, to pipeline() and in model_kwargs: give it once")
            loading_dtype = chosen_dtype(model_kwargs.pop("dtype", None), model_kwargs.pop("torch_dtype", None))
        model = model_class.from_pretrained(directory, backend=backend, dtype=loading_dtype, **model_kwargs)
    elif model_kwargs:
        raise ValueError("model_kwargs are for loading a model; this one is already built")
    elif device is not None or torch_dtype is not None:  # a built model moves, as Transformers moves it
        model.to(device=None if device is None else _device_name(device), dtype=torch_dtype)
    if tokenizer is None or isinstance(tokenizer, (str, os.PathLike)):
        from .tokenizer import AlbertTokenizer

        if tokenizer is None and directory is None:
            raise ValueError("pass tokenizer= (an AlbertTokenizer or its directory) with an already-built model")
        source = directory if tokenizer is None else resolve_model_dir(tokenizer, revision=revision, token=token)
        tokenizer = AlbertTokenizer.from_pretrained(source)
    if task != "fill-mask":
        from .task_pipelines import build_task_pipeline

        given = dict(top_k=top_k, batch_size=batch_size, truncation=truncation)
        task_options.update({name: value for name, value in given.items() if value is not NOT_GIVEN})
        return build_task_pipeline(task, model, tokenizer, **task_options)
    top_k = DEFAULT_TOP_K if top_k is NOT_GIVEN else top_k
    batch_size = 8 if batch_size is NOT_GIVEN else batch_size
    truncation = False if truncation is NOT_GIVEN else truncation
    unknown = sorted(set(task_options) - {"targets", "tokenizer_kwargs"})
    if unknown:
        raise ValueError(f"fill-mask takes no option(s) {unknown}; its options are targets and tokenizer_kwargs")
    return FillMaskPipeline(model, tokenizer, top_k=top_k, batch_size=batch_size, truncation=truncation,
                            **task_options)
