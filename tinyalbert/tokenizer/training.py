"""Training a SentencePiece vocabulary the way google-research/albert trained its own."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import sentencepiece as spm

from .text import check_text, preprocess_text

# Flags of google-research/albert's `spm_train` call for the 30k vocabulary.
ALBERT_CONTROL_SYMBOLS = ("[CLS]", "[SEP]", "[MASK]")
ALBERT_USER_DEFINED_SYMBOLS = ("(", ")", '"', "-", ".", "–", "£", "€")


def _training_items(input_files_or_iterable) -> Iterable:
    """A path, a list of paths and sentences, or any iterable of sentences -> an iterable of items.

    Lists are checked at once, because errors raised while SentencePiece reads its input come out
    as a bare ``RuntimeError``.
    """
    if isinstance(input_files_or_iterable, (str, os.PathLike)):
        input_files_or_iterable = [Path(input_files_or_iterable)]
    if isinstance(input_files_or_iterable, (list, tuple)):
        for index, item in enumerate(input_files_or_iterable):
            if isinstance(item, os.PathLike):
                if not Path(item).is_file():
                    raise FileNotFoundError(f"training text file not found: {item}")
            else:
                check_text(item, f"training input {index} (a sentence, or a Path of a text file)")
    return input_files_or_iterable


def _raw_sentences(items: Iterable) -> Iterable[str]:
    """Each line of each file (read as UTF-8) and each sentence given as a str."""
    for index, item in enumerate(items):
        if isinstance(item, os.PathLike):
            try:
                with open(item, encoding="utf-8") as lines:
                    yield from (line.rstrip("\r\n") for line in lines)
            except UnicodeDecodeError as error:
                raise ValueError(f"training text file {item} is not UTF-8 text ({error})") from None
        elif isinstance(item, str):
            check_text(item, f"training sentence {index}")
            yield item
        else:
            raise TypeError(f"training input must be str sentences or Paths of text files, got {type(item).__name__}")


def _preprocessed(items: Iterable, flags: dict, errors: list) -> Iterable[str]:
    """The non-empty sentences after ``preprocess_text``; an error on the way is also kept in ``errors``."""
    try:
        for sentence in _raw_sentences(items):
            sentence = preprocess_text(sentence, **flags)
            if sentence:
                yield sentence
    except (OSError, TypeError, ValueError) as error:
        errors.append(error)
        raise


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
    items = _training_items(input_files_or_iterable)

    input_errors = []  # SentencePiece re-raises errors of its input as a bare RuntimeError
    flags = dict(remove_space=remove_space, keep_accents=keep_accents, do_lower_case=do_lower_case)
    if seed is not None:
        spm.set_random_generator_seed(seed)
    try:
        _run_trainer(_preprocessed(items, flags, input_errors), model_prefix, vocab_size, model_type=model_type,
                     pad_id=pad_id, unk_id=unk_id, bos_id=bos_id, eos_id=eos_id, control_symbols=list(control_symbols),
                     user_defined_symbols=list(user_defined_symbols), input_sentence_size=input_sentence_size,
                     shuffle_input_sentence=shuffle_input_sentence, character_coverage=character_coverage,
                     minloglevel=0 if verbose else 2, **extra_options)
    except RuntimeError:
        if input_errors:
            raise input_errors[0] from None
        raise
    return model_prefix.with_name(model_prefix.name + ".model")


def _run_trainer(sentences: Iterable[str], model_prefix: Path, vocab_size: int, **flags) -> None:
    """SentencePiece's trainer on an iterable of (already preprocessed) sentences."""
    spm.SentencePieceTrainer.train(
        sentence_iterator=sentences, model_prefix=str(model_prefix), vocab_size=vocab_size, **flags)
