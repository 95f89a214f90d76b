"""The tokenizer on disk: ``spiece.model``, ``tokenizer_config.json``, ``special_tokens_map.json``.

The layout is transformers', so either library loads what the other saves. The saved
``added_tokens_decoder`` (id -> token and its flags) is authoritative for the ids of special and
added tokens. ``check_vocab_matches`` compares a tokenizer with a model configuration.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import sentencepiece as spm

from ..jsonfile import read_json_object
from .added_tokens import SPECIAL_TOKEN_ROLES, as_added_token, token_entry
from .encoding import VERY_LARGE_INTEGER

VOCAB_FILE_NAME = "spiece.model"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
# {token: id} of every added token past the SentencePiece vocabulary, special or not. save_pretrained
# writes it, as Transformers does; loading reads it only when tokenizer_config.json has no added_tokens_decoder.
ADDED_TOKENS_FILE = "added_tokens.json"
SAVED_OPTIONS = ("do_lower_case", "remove_space", "keep_accents", "padding_side", "truncation_side",
                 "clean_up_tokenization_spaces", "split_special_tokens")
MAX_NBEST_SIZE = 512  # SentencePiece's kMaxNBestSize: a larger nbest_size fails at every encode


def load_sentencepiece(vocab_file: Path, sp_model_kwargs: dict | None = None) -> spm.SentencePieceProcessor:
    """Load a SentencePiece ``.model`` file, naming the file in every error.

    ``sp_model_kwargs`` go to ``SentencePieceProcessor`` as in Transformers, e.g.
    ``{"enable_sampling": True, "alpha": 0.1, "nbest_size": -1}`` for subword regularization.
    """
    if not vocab_file.is_file():
        raise FileNotFoundError(f"SentencePiece model file not found: {vocab_file}")
    processor = new_processor(sp_model_kwargs)
    try:
        processor.Load(str(vocab_file))
    except (RuntimeError, OSError) as error:
        raise ValueError(f"{vocab_file} is not a valid SentencePiece model ({error})") from None
    return processor


class TextByTextProcessor(spm.SentencePieceProcessor):
    """A processor that encodes a list of texts one at a time, in order, as Transformers does.

    Used when ``sp_model_kwargs`` turn sampling on: after ``spm.set_random_generator_seed``,
    SentencePiece samples every batched call the same way, which would defeat the sampling.
    """

    def encode(self, input, *args, **kwargs):
        if isinstance(input, list):
            return [super(TextByTextProcessor, self).encode(text, *args, **kwargs) for text in input]
        return super().encode(input, *args, **kwargs)


def new_processor(sp_model_kwargs: dict | None) -> spm.SentencePieceProcessor:
    """An empty ``SentencePieceProcessor`` with ``sp_model_kwargs``; a wrong one raises naming it."""
    sp_model_kwargs = sp_model_kwargs or {}
    processor_class = TextByTextProcessor if sp_model_kwargs.get("enable_sampling") else spm.SentencePieceProcessor
    try:
        return processor_class(**sp_model_kwargs)
    except TypeError as error:
        raise ValueError(f"sp_model_kwargs {sp_model_kwargs!r} are not SentencePieceProcessor options: "
                         f"{error}") from None
    except (RuntimeError, OSError) as error:  # a model_file or model_proto that SentencePiece cannot load
        source = sp_model_kwargs.get("model_file") or "model_proto"
        raise ValueError(f"sp_model_kwargs: {source} is not a valid SentencePiece model ({error})") from None


def read_json(path: Path) -> dict:
    """The JSON object in ``path`` ({} when there is no such file); errors name the file."""
    if not path.is_file():
        return {}
    return read_json_object(path)


def _saved_added_tokens(directory: Path, config: dict) -> dict:
    """``{id: AddedToken}`` from ``added_tokens_decoder`` (or, in older saves, ``added_tokens.json``)."""
    config_file = directory / TOKENIZER_CONFIG_FILE
    saved = config.get("added_tokens_decoder")
    if saved is None:
        legacy_file = directory / ADDED_TOKENS_FILE
        return {_saved_token_id(token_id, f"{legacy_file}: {content!r}"):
                _saved_token(content, f"{legacy_file}: {content!r}", special=False, normalized=True)
                for content, token_id in read_json(legacy_file).items()}
    if not isinstance(saved, dict):
        raise ValueError(f"{config_file}: added_tokens_decoder must be an object of id -> token")
    return {_saved_token_id(token_id, f"{config_file}: added_tokens_decoder"):
            _saved_token(entry, f"{config_file}: added_tokens_decoder[{token_id}]", special=False)
            for token_id, entry in saved.items()}


def _saved_token_id(token_id, where: str) -> int:
    """A token id read from a file: an integer of 0 or more, or its decimal digits (a JSON key)."""
    value = token_id
    if isinstance(value, str) and value.isascii() and value.isdigit():
        try:
            value = int(value)
        except ValueError:  # more digits than Python converts
            pass
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where} has the id {token_id!r:.80}, not an integer of 0 or more")
    return value


def _saved_token(value, name: str, **defaults):
    """``as_added_token`` for a value read from a file: a wrong type is a ValueError too, as the
    file is at fault, not the caller (``name`` names the file and the field)."""
    try:
        return as_added_token(value, name, **defaults)
    except TypeError as error:
        raise ValueError(str(error)) from None


def _saved_options(config: dict, config_file: Path) -> dict:
    """The tokenizer options in ``tokenizer_config.json``, each checked for its type."""
    kwargs = {}
    for key in SAVED_OPTIONS:
        if key not in config:
            continue
        value, wanted = config[key], (str if key.endswith("_side") else bool)
        if not isinstance(value, wanted):
            raise ValueError(f"{config_file}: {key} must be a JSON {'string' if wanted is str else 'true/false'}, "
                             f"got {value!r}")
        kwargs[key] = value
    max_length = config.get("model_max_length")
    if max_length is not None:
        kwargs["model_max_length"] = _saved_max_length(max_length, config_file)
    input_names = config.get("model_input_names")
    if input_names is not None:
        if not isinstance(input_names, list) or not all(isinstance(name, str) for name in input_names):
            raise ValueError(f"{config_file}: model_input_names must be a JSON list of strings, got {input_names!r}")
        kwargs["model_input_names"] = input_names
    sp_model_kwargs = config.get("sp_model_kwargs")
    if sp_model_kwargs:
        kwargs["sp_model_kwargs"] = _saved_sp_model_kwargs(sp_model_kwargs, config_file)
    return kwargs


def _saved_max_length(value, config_file: Path) -> int:
    """``model_max_length`` as saved: a whole number of 0 or more. Transformers writes a huge
    number (1e30) for "no limit"; ``Infinity`` means the same and becomes that number."""
    if value == math.inf:
        return VERY_LARGE_INTEGER
    if not (_is_finite_number(value) and value == int(value) and value >= 0):
        raise ValueError(f"{config_file}: model_max_length must be a whole number of 0 or more, got {value!r:.80}")
    return int(value)


def _is_finite_number(value) -> bool:
    """An int of any size, or a float that is not inf or NaN (``math.isfinite`` overflows on a huge int)."""
    return not isinstance(value, bool) and (isinstance(value, int) or isinstance(value, float) and math.isfinite(value))


def _is_flag(value) -> bool:
    return isinstance(value, bool)


def _is_count(low: int, high: int):
    return lambda value: not isinstance(value, bool) and isinstance(value, int) and low <= value <= high


# The SentencePieceProcessor options a tokenizer_config.json may set, with their check and what
# they must be. Not `model_file` or `model_proto` (a downloaded file would pick what SentencePiece
# opens) nor `out_type` (the tokenizer reads ids and pieces back as it asks for them).
SAVED_SP_MODEL_KWARGS = {
    "enable_sampling": (_is_flag, "true or false"),
    "nbest_size": (_is_count(-1, MAX_NBEST_SIZE), f"an integer from -1 to {MAX_NBEST_SIZE}"),
    "alpha": (lambda value: _is_finite_number(value) and 0 <= value <= 1000, "a number from 0 to 1000"),
    "num_threads": (_is_count(-1, 1024), "an integer from -1 to 1024"),
    **{name: (_is_flag, "true or false") for name in ("add_bos", "add_eos", "reverse", "emit_unk_piece")},
}


def _saved_sp_model_kwargs(sp_model_kwargs, config_file: Path) -> dict:
    """The SentencePiece options of ``tokenizer_config.json``, each checked (SAVED_SP_MODEL_KWARGS)."""
    if not isinstance(sp_model_kwargs, dict):
        raise ValueError(f"{config_file}: sp_model_kwargs must be a JSON object, got {sp_model_kwargs!r:.80}")
    for key, value in sp_model_kwargs.items():
        if key not in SAVED_SP_MODEL_KWARGS:
            raise ValueError(f"{config_file}: sp_model_kwargs may set {', '.join(SAVED_SP_MODEL_KWARGS)}, not "
                             f"{key!r:.80} (a file may not choose what SentencePiece opens or returns)")
        valid, wanted = SAVED_SP_MODEL_KWARGS[key]
        if not valid(value):
            raise ValueError(f"{config_file}: sp_model_kwargs[{key!r}] must be {wanted}, got {value!r:.80}")
    return dict(sp_model_kwargs)


def read_pretrained(directory: Path) -> dict:
    """The constructor arguments saved in ``directory`` (without ``vocab_file``)."""
    config_file, map_file = directory / TOKENIZER_CONFIG_FILE, directory / SPECIAL_TOKENS_MAP_FILE
    config = read_json(config_file)
    kwargs = _saved_options(config, config_file)
    special_map = read_json(map_file)
    decoder = _saved_added_tokens(directory, config)
    # Without a saved decoder, the flags of the special tokens live in special_tokens_map.json.
    sources = [(config, config_file), (special_map, map_file)]
    if not decoder:
        sources.reverse()
    for role in SPECIAL_TOKEN_ROLES + ("additional_special_tokens",):
        value, file = next(((values[role], file) for values, file in sources if role in values), (None, None))
        if value is not None:
            _check_saved_special_token(value, role, file)
            kwargs[role] = value
    if decoder:
        kwargs["added_tokens_decoder"] = decoder
        # The saved flags (lstrip, rstrip) of a role's token are authoritative.
        by_content = {token.content: token for token in decoder.values()}
        for role in SPECIAL_TOKEN_ROLES:
            content = kwargs.get(role)
            content = content.get("content") if isinstance(content, dict) else content
            if content in by_content:
                kwargs[role] = by_content[content]._replace(special=True)
    return kwargs


def _check_saved_special_token(value, role: str, file: Path) -> None:
    """Raise a ValueError naming the file and role unless ``value`` reads as that role's token(s):
    a string or a ``{"content": ...}`` object, a JSON list of them for ``additional_special_tokens``."""
    if role != "additional_special_tokens":
        _saved_token(value, f"{file}: {role}", special=True)
    elif not isinstance(value, list):
        raise ValueError(f"{file}: additional_special_tokens must be a JSON list, got {value!r:.80}")
    else:
        for index, token in enumerate(value):
            _saved_token(token, f"{file}: additional_special_tokens[{index}]", special=True)


def find_pretrained(name_or_path, **where) -> tuple[Path, dict]:
    """A directory, a ``.model`` file or a name ``tinyalbert.hub`` knows (looked up with the
    options ``where`` of ``resolve_model_dir``) -> ``(vocab_file, saved arguments)``."""
    path = Path(name_or_path)
    if path.is_file():
        return path, {}
    if path.is_dir() and where.get("subfolder"):
        path = path / where["subfolder"]  # Transformers' `subfolder`: the files are in a folder inside
    elif not path.is_dir():
        from ..hub import resolve_model_dir

        path = Path(resolve_model_dir(name_or_path, **where))
    vocab_file = path / VOCAB_FILE_NAME
    if not vocab_file.is_file():
        raise FileNotFoundError(f"{path} has no {VOCAB_FILE_NAME}{_training_run_hint(path)}")
    return vocab_file, read_pretrained(path)


def _training_run_hint(path: Path) -> str:
    from ..hub import training_run_hint

    return training_run_hint(path, VOCAB_FILE_NAME)


def copy_vocabulary(vocab_file: Path, model_bytes: bytes, out_file: Path) -> None:
    """Copy the ``.model`` file, or write it from the loaded model when the file has gone."""
    if vocab_file.is_file():
        if vocab_file.resolve() != out_file.resolve():
            shutil.copyfile(vocab_file, out_file)
    else:
        out_file.write_bytes(model_bytes)


def write_configs(directory: Path, options: dict, roles: dict, additional: list, added_tokens: dict,
                  prefix: str = "") -> tuple:
    """Write ``tokenizer_config.json`` and ``special_tokens_map.json`` (their names after
    ``prefix``, as Transformers' ``filename_prefix`` gives them); returns their paths.

    ``roles`` maps a role to its ``AddedToken``; ``added_tokens`` is ``{id: AddedToken}``.
    """
    def role_value(token):
        if not (token.lstrip or token.rstrip):
            return token.content
        return {key: value for key, value in token_entry(token).items() if key != "special"}

    special_tokens_map = {role: role_value(token) for role, token in roles.items()}
    if additional:
        special_tokens_map["additional_special_tokens"] = [role_value(token) for token in additional]
    config = {
        "added_tokens_decoder": {str(i): token_entry(token) for i, token in sorted(added_tokens.items())},
        **({"additional_special_tokens": [token.content for token in additional]} if additional else {}),
        **{role: token.content for role, token in roles.items()},
        "extra_special_tokens": {},
        "sp_model_kwargs": {},
        **options,
        "tokenizer_class": "AlbertTokenizer",
    }
    config_path = directory / (prefix + TOKENIZER_CONFIG_FILE)
    map_path = directory / (prefix + SPECIAL_TOKENS_MAP_FILE)
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    map_path.write_text(json.dumps(special_tokens_map, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return str(config_path), str(map_path)


def write_added_tokens(directory: Path, added_beyond_vocabulary: dict, prefix: str = "") -> str:
    """Write ``added_tokens.json`` (``{token: id}`` of the tokens past the SentencePiece vocabulary),
    as Transformers still does for older readers, when there are any; returns its path either way."""
    path = directory / (prefix + ADDED_TOKENS_FILE)
    if added_beyond_vocabulary:
        path.write_text(json.dumps(added_beyond_vocabulary, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    return str(path)


def check_vocab_matches(tokenizer, config, *, config_file=None, allow_larger_embedding: bool = False) -> None:
    """Raise a ``ValueError`` naming both sizes and both files unless tokenizer and model agree.

    The model's ``config.vocab_size`` rows of embeddings must cover every id the tokenizer makes
    (``len(tokenizer)``: the SentencePiece pieces plus added tokens); otherwise the first rare
    token would fail deep inside the embedding lookup. By default the sizes must be equal, as
    for every ALBERT checkpoint; ``allow_larger_embedding=True`` accepts unused extra rows.

    Args:
        tokenizer: an ``AlbertTokenizer``.
        config: an ``AlbertConfig``, or a ``config.json`` dict, with ``vocab_size``.
        config_file: where ``config`` came from, for the message.
    """
    vocab_size = config.get("vocab_size") if isinstance(config, dict) else getattr(config, "vocab_size", None)
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise ValueError(f"the model config ({config_file or 'config'}) has no integer vocab_size, got {vocab_size!r}")
    n_tokens = len(tokenizer)
    if n_tokens == vocab_size or (allow_larger_embedding and n_tokens < vocab_size):
        return
    n_added = n_tokens - tokenizer.vocab_size
    raise ValueError(
        f"the tokenizer and the model disagree on the vocabulary: the tokenizer ({tokenizer.vocab_file}) has "
        f"{n_tokens} tokens ({tokenizer.vocab_size} SentencePiece pieces"
        + (f" + {n_added} added" if n_added > 0 else "")
        + f"), the model config ({config_file or 'config.json'}) has vocab_size={vocab_size}; load the tokenizer "
        "saved with this model, or after adding tokens call model.resize_token_embeddings(len(tokenizer))"
    )
