"""Parameters on disk: the names and shapes of every ALBERT parameter, safetensors in and out,
and the initialization Transformers gives to weights a checkpoint does not have.

A checkpoint is the flat parameter dict on disk, with Transformers' key names. Nothing here
runs code from a file: `pytorch_model.bin` is read by `tinyalbert.torch_checkpoint`, which
rebuilds tensors and refuses everything else a pickle could ask for.
"""
from __future__ import annotations

import functools
import json
import logging
import re
import warnings
from pathlib import Path

import numpy as np

from .backend import array_namespace, asarray
from .jsonfile import read_json_object
from .nn.encoder import layer_prefix

SAFE_WEIGHTS_NAME = "model.safetensors"
SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
PICKLED_WEIGHTS_NAME = "pytorch_model.bin"
PICKLED_WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json"
logger = logging.getLogger("tinyalbert")

# Buffers Transformers saved in older checkpoints; they hold no learned values.
BUFFER_SUFFIXES = ("embeddings.position_ids", "embeddings.token_type_ids")


# --- the names and shapes of a model's parameters ----------------------------------------------
def body_shapes(config, with_pooler: bool) -> dict:
    """Every parameter of the ALBERT body, keyed by its Transformers name (with `albert.`)."""
    E, H, I, V = config.embedding_size, config.hidden_size, config.intermediate_size, config.vocab_size
    shapes = {
        "albert.embeddings.word_embeddings.weight": (V, E),
        "albert.embeddings.position_embeddings.weight": (config.max_position_embeddings, E),
        "albert.embeddings.token_type_embeddings.weight": (config.type_vocab_size, E),
        "albert.embeddings.LayerNorm.weight": (E,),
        "albert.embeddings.LayerNorm.bias": (E,),
        "albert.encoder.embedding_hidden_mapping_in.weight": (H, E),
        "albert.encoder.embedding_hidden_mapping_in.bias": (H,),
    }
    for group in range(config.num_hidden_groups):
        for inner in range(config.inner_group_num):
            prefix = layer_prefix(group, inner)
            A = config.kept_heads(group, inner) * config.head_size  # H, unless heads were pruned
            layer = {
                "full_layer_layer_norm.weight": (H,), "full_layer_layer_norm.bias": (H,),
                "attention.query.weight": (A, H), "attention.query.bias": (A,),
                "attention.key.weight": (A, H), "attention.key.bias": (A,),
                "attention.value.weight": (A, H), "attention.value.bias": (A,),
                "attention.dense.weight": (H, A), "attention.dense.bias": (H,),
                "attention.LayerNorm.weight": (H,), "attention.LayerNorm.bias": (H,),
                "ffn.weight": (I, H), "ffn.bias": (I,),
                "ffn_output.weight": (H, I), "ffn_output.bias": (H,),
            }
            if config.position_embedding_type != "absolute":
                layer["attention.distance_embedding.weight"] = (2 * config.max_position_embeddings - 1, config.head_size)
            shapes.update({prefix + name: shape for name, shape in layer.items()})
    if with_pooler:
        shapes["albert.pooler.weight"] = (H, H)
        shapes["albert.pooler.bias"] = (H,)
    return shapes


def mlm_head_shapes(config) -> dict:
    E, H = config.embedding_size, config.hidden_size
    shapes = {
        "predictions.bias": (config.vocab_size,),
        "predictions.dense.weight": (E, H), "predictions.dense.bias": (E,),
        "predictions.LayerNorm.weight": (E,), "predictions.LayerNorm.bias": (E,),
    }
    if not config.tie_word_embeddings:
        shapes["predictions.decoder.weight"] = (config.vocab_size, E)
    return shapes


def prune_attention_heads(attention: dict, pruned_before, pruning, num_heads: int, head_size: int) -> dict:
    """One layer's attention weights (keyed `query.weight`, ..., `dense.weight`) without the heads
    `pruning`: the query, key and value rows and the output projection's columns of those heads
    go, as Transformers' `prune_heads` cuts its Linear layers. Heads are numbered as in the
    unpruned layer (0..num_heads-1); `pruned_before` are those already gone from the arrays, and
    a head in both lists is skipped (nothing more to cut). The arrays hold the kept heads in
    increasing order, `head_size` rows each: `query.weight` is (kept * head_size, hidden), its
    bias (kept * head_size,), `dense.weight` (hidden, kept * head_size).

    Returns a new dict of the seven arrays cut (query, key and value weight and bias, and
    `dense.weight`); the given arrays are left unchanged, and the others (LayerNorm, the dense
    bias) are neither changed nor returned."""
    gone, cut = set(pruned_before), set(pruning)
    kept_before = [head for head in range(num_heads) if head not in gone]
    kept_after = [head for head in kept_before if head not in cut]
    # the rows (of query/key/value) or columns (of dense) of each kept head, where it sits now
    positions = [kept_before.index(head) * head_size + i for head in kept_after for i in range(head_size)]
    xp = array_namespace(attention["query.weight"])
    index = xp.asarray(positions, dtype=xp.int64)
    pruned = {f"{name}.{part}": xp.take(attention[f"{name}.{part}"], index, axis=0)
              for name in ("query", "key", "value") for part in ("weight", "bias")}
    pruned["dense.weight"] = xp.take(attention["dense.weight"], index, axis=1)
    return pruned


def linear_shapes(prefix: str, inputs: int, outputs: int) -> dict:
    return {prefix + "weight": (outputs, inputs), prefix + "bias": (outputs,)}


# --- initialization (Transformers' AlbertPreTrainedModel._init_weights) -------------------------
def init_parameter(name: str, shape, config, rng: np.random.Generator) -> np.ndarray:
    """A fresh value for parameter `name`: N(0, initializer_range) for matrices and embedding
    tables (the padding row of the word embeddings zeroed), ones for LayerNorm weights, zeros
    for biases."""
    if name.endswith("LayerNorm.weight") or name.endswith("layer_norm.weight"):
        return np.ones(shape, dtype=np.float32)
    if name.endswith("bias"):
        return np.zeros(shape, dtype=np.float32)
    value = rng.normal(0.0, config.initializer_range, size=shape).astype(np.float32)
    if name.endswith("word_embeddings.weight") and config.pad_token_id is not None and config.pad_token_id < shape[0]:
        value[config.pad_token_id] = 0.0
    return value


def init_parameters(shapes: dict, config, rng: np.random.Generator) -> dict:
    return {name: init_parameter(name, shape, config, rng) for name, shape in shapes.items()}


def resize_rows(table, count: int, mean_resizing: bool, std: float, rng: np.random.Generator):
    """`table` (rows, ...) cut or grown to `count` rows; new rows are the mean of the old ones,
    or N(0, std) draws (zeros for std 0)."""
    xp = array_namespace(table)
    if count <= table.shape[0]:
        return table[:count, ...]
    new_shape = (count - table.shape[0], *table.shape[1:])
    if mean_resizing:
        new_rows = xp.broadcast_to(xp.mean(table, axis=0, keepdims=True), new_shape)
    else:
        new_rows = asarray(xp, rng.normal(0.0, std, size=new_shape) if std else np.zeros(new_shape), dtype=table.dtype)
    return xp.concat([table, xp.astype(new_rows, table.dtype)], axis=0)


VOCABULARY_ROWS = ("albert.embeddings.word_embeddings.weight", "predictions.decoder.weight", "predictions.bias")


def resize_vocabulary(params: dict, count: int, pad_to_multiple_of, mean_resizing: bool, initializer_range: float,
                      rng: np.random.Generator) -> dict:
    """`params` with every table indexed by token id (embeddings, untied decoder, MLM bias) cut
    or grown to `count` rows, rounded up to a multiple of `pad_to_multiple_of`.

    As in Transformers, the MLM bias of a tied decoder grows with zeros (it follows the tied
    table, which gets no bias of its own); an untied decoder's bias grows like its weights."""
    for argument, value in (("new_num_tokens", count), ("pad_to_multiple_of", pad_to_multiple_of or 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{argument} must be a positive integer, got {value!r}")
    count = int(count)
    if pad_to_multiple_of:
        count = -(-count // int(pad_to_multiple_of)) * int(pad_to_multiple_of)
    tied = "predictions.decoder.weight" not in params
    resized = dict(params)
    for key in VOCABULARY_ROWS:
        if key in params:
            spread = 0.0 if key.endswith("bias") else initializer_range
            mean = mean_resizing and not (tied and key.endswith("bias"))
            resized[key] = resize_rows(params[key], count, mean, spread, rng)
    return resized


# --- reading checkpoints ------------------------------------------------------------------------
def _read_safetensors(file: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(file))
    except SafetensorError as error:
        raise ValueError(f"{file} is not a readable safetensors file (truncated or corrupt?): {error}") from None
    except (TypeError, ValueError, AttributeError):
        # A dtype NumPy has no type for: bfloat16 (TypeError), float8 (AttributeError, numpy has no
        # float8_e4m3fn). The header passed safetensors' checks, so it can be read by hand.
        return _read_safetensors_by_hand(file)


# The safetensors dtypes NumPy has a type for; BF16 is widened to float32 by hand.
SAFETENSORS_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16,
                      "U32": np.uint32, "I32": np.int32, "U64": np.uint64, "I64": np.int64,
                      "F16": np.float16, "F32": np.float32, "F64": np.float64, "C64": np.complex64}


def _read_safetensors_by_hand(file: Path) -> dict:
    """Read a safetensors file whose header safetensors has checked, widening bfloat16 (the top
    half of a float32) to float32; a dtype NumPy cannot hold (float8, float4) raises naming it."""
    from .torch_checkpoint import widen_bfloat16  # a module with pickle and zipfile: loaded when needed

    raw = file.read_bytes()
    header_size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_size])
    data = memoryview(raw)[8 + header_size :]
    tensors = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        start, end = info["data_offsets"]
        if info["dtype"] == "BF16":
            tensors[key] = widen_bfloat16(np.frombuffer(data[start:end], dtype=np.uint16)).reshape(info["shape"])
        elif info["dtype"] in SAFETENSORS_DTYPES:  # a copy: writable, as safetensors' own arrays are
            tensors[key] = np.frombuffer(data[start:end], dtype=SAFETENSORS_DTYPES[info["dtype"]]).reshape(
                info["shape"]).copy()
        else:
            raise ValueError(f"{file}: tensor {key!r} has dtype {info['dtype']}, which NumPy cannot hold "
                             f"(readable: BF16, {', '.join(SAFETENSORS_DTYPES)})")
    return tensors


def read_checkpoint(directory: Path, use_safetensors: bool | None = None) -> tuple[dict, Path]:
    """All tensors of the checkpoint in `directory` as NumPy arrays, and the file they came from.

    Transformers' order: `model.safetensors`, its shard index `model.safetensors.index.json`,
    `pytorch_model.bin`, then its shard index `pytorch_model.bin.index.json` (what
    `save_pretrained(safe_serialization=False, max_shard_size=...)` writes); as in Transformers,
    `use_safetensors=True` accepts the safetensors files only and `use_safetensors=False` the
    pickled ones only.
    """
    directory = Path(directory)
    safe = [(SAFE_WEIGHTS_NAME, _read_safetensors),
            (SAFE_WEIGHTS_INDEX_NAME, functools.partial(_read_sharded, read_shard=_read_safetensors))]
    pickled = [(PICKLED_WEIGHTS_NAME, _read_pickled),
               (PICKLED_WEIGHTS_INDEX_NAME, functools.partial(_read_sharded, read_shard=_read_pickled))]
    candidates = {True: safe, False: pickled, None: safe + pickled}[use_safetensors]
    for name, read in candidates:
        if (directory / name).is_file():
            return read(directory / name), directory / name
    names = [name for name, _ in candidates]
    wanted = f"{', '.join(names[:-1])} or {names[-1]}"
    if use_safetensors is None:
        raise FileNotFoundError(f"no {wanted} in {directory}")
    raise FileNotFoundError(f"use_safetensors={use_safetensors}, but there is no {wanted} in {directory}")


def read_weights_file(file: Path) -> dict:
    """The tensors of one weights file named by its path, read as Transformers reads it:
    safetensors when the name ends with `.safetensors`, else a torch checkpoint."""
    file = Path(file).expanduser()
    return _read_safetensors(file) if file.name.endswith(".safetensors") else _read_pickled(file)


def _read_pickled(file: Path) -> dict:
    from .torch_checkpoint import load_torch_checkpoint  # a module with pickle and zipfile: loaded when needed

    return load_torch_checkpoint(file)


def _read_sharded(index: Path, read_shard) -> dict:
    """The tensors of every shard that a shard index (`model.safetensors.index.json`,
    `pytorch_model.bin.index.json`) lists, each read with `read_shard`."""
    weight_map = _read_weight_map(index)
    tensors = {}
    for shard in sorted(set(weight_map.values())):
        shard_file = index.parent / shard
        if not shard_file.is_file():
            raise FileNotFoundError(f"{index} lists shard {shard}, which is missing from {index.parent}")
        tensors.update(read_shard(shard_file))
    missing = sorted(set(weight_map) - set(tensors))
    if missing:
        raise ValueError(f"{index} maps {missing[:5]} to shards that do not contain them")
    return tensors


def _read_weight_map(index: Path) -> dict:
    """The `weight_map` of a shard index, `{tensor name: shard file name}`, checked: each shard
    must be a plain file name in the index's directory, so an index cannot open (or, when saving
    over it, delete) files elsewhere. The name is checked, not where it leads: in the Hugging
    Face cache every shard is a symlink into `blobs/`."""
    weight_map = read_json_object(index).get("weight_map")
    if not isinstance(weight_map, dict):
        raise ValueError(f"{index} must hold a JSON object with a \"weight_map\" object of tensor name -> shard file")
    for name, shard in weight_map.items():
        if not _is_plain_file_name(shard):
            raise ValueError(f"{index}: weight_map[{name!r}] must be the name of a file beside the index, "
                             f"got {shard!r:.200}")
    return weight_map


def _is_plain_file_name(name) -> bool:
    """True for a file name with no directory part: not absolute, no separator, not `.` or `..`."""
    return (isinstance(name, str) and name not in ("", ".", "..")
            and not any(character in name for character in "/\\\0"))


def normalize_checkpoint_keys(tensors: dict, config) -> dict:
    """Map the key layouts found in the wild onto this package's names (all with `albert.`).

    - legacy LayerNorm names `gamma` / `beta` become `weight` / `bias`;
    - a bare AlbertModel checkpoint (`embeddings.…`, `encoder.…`, `pooler.…`) gets `albert.`;
    - saved buffers (`position_ids`, `token_type_ids`) are dropped;
    - the tied decoder keys are folded into the word embeddings and `predictions.bias`.
    """
    renamed = {}
    for key, value in tensors.items():
        if key.endswith(".gamma"):
            key = key[: -len("gamma")] + "weight"
        elif key.endswith(".beta"):
            key = key[: -len("beta")] + "bias"
        if key.startswith(("embeddings.", "encoder.", "pooler.")):
            key = "albert." + key
        if key.endswith(BUFFER_SUFFIXES):
            continue
        renamed[key] = value
    if "predictions.decoder.bias" in renamed:
        bias = renamed.pop("predictions.decoder.bias")
        renamed.setdefault("predictions.bias", bias)
    if config.tie_word_embeddings and "predictions.decoder.weight" in renamed:
        decoder = renamed.pop("predictions.decoder.weight")
        renamed.setdefault("albert.embeddings.word_embeddings.weight", decoder)
    return renamed


def rename_keys(tensors: dict, key_mapping: dict) -> dict:
    """Checkpoint keys renamed as Transformers' `key_mapping` does: the first `{pattern: replacement}`
    that matches a key is applied (`re.subn`), the others not. Two keys renamed to one name raise."""
    renamed = {}
    for key, value in tensors.items():
        new_key = key
        for pattern, replacement in key_mapping.items():
            new_key, count = re.subn(pattern, replacement, key)
            if count:
                break
        if new_key in renamed:
            raise ValueError(f"key_mapping renames two checkpoint keys to {new_key!r}")
        renamed[new_key] = value
    return renamed


class MismatchedShapeError(ValueError):
    """A checkpoint tensor whose shape is not the one the config asks for (`.name`, `.found`,
    `.wanted`), e.g. a classifier fine-tuned for 2 labels loaded for 3; a ValueError, so callers
    that catch ValueError keep working, and its own class, so a CLI can give its own advice."""

    def __init__(self, message: str, name: str, found: tuple, wanted: tuple):
        super().__init__(message)
        self.name, self.found, self.wanted = name, found, wanted


def match_checkpoint(tensors: dict, shapes: dict, source: Path, config, rng: np.random.Generator,
                     ignore_mismatched_sizes: bool = False, class_name: str | None = None,
                     stripped_prefix: str = "") -> tuple[dict, dict]:
    """The model's parameters from checkpoint `tensors`: shapes checked, missing ones initialized
    (with a warning that lists them), unused ones reported. With `ignore_mismatched_sizes`, a
    tensor of another shape (a 2-label head loaded for 5 labels) is initialized afresh, with a
    warning, instead of raising. Unused tensors are warned about when `class_name`, the loading
    class, is one that `config.architectures` names (the checkpoint was saved from this class, so
    nothing should be left over), as Transformers does; else only logged.

    Returns `(params, report)`; the report lists `missing_keys`, `unexpected_keys` and
    `mismatched_keys` under this package's names (Transformers' loading info). The warnings name
    the parameters, used or not, as the loading class's `state_dict` does (`stripped_prefix` cut:
    `albert.` for AlbertModel), as Transformers names them."""
    def shown(names):
        return [name[len(stripped_prefix):] if name.startswith(stripped_prefix) else name for name in names]

    params, mismatched = {}, []
    for name, shape in shapes.items():
        if name not in tensors:
            continue
        value = tensors[name]
        if tuple(value.shape) != tuple(shape):
            if ignore_mismatched_sizes:
                mismatched.append(name)
                continue
            raise MismatchedShapeError(
                f"{source}: tensor {name!r} has shape {tuple(value.shape)}, but the config asks for "
                f"{tuple(shape)}; the checkpoint does not fit its config (to train this tensor afresh "
                "instead, load with from_pretrained(..., ignore_mismatched_sizes=True))",
                name, tuple(value.shape), tuple(shape),
            )
        if not np.issubdtype(value.dtype, np.floating):
            raise ValueError(f"{source}: tensor {name!r} has dtype {value.dtype}, expected floating point")
        params[name] = value
    if mismatched:
        shapes_found = [f"{label}: found shape {tuple(tensors[name].shape)} in the checkpoint and "
                        f"{tuple(shapes[name])} in the model" for name, label in zip(mismatched, shown(mismatched))]
        warnings.warn(
            f"Some weights of {source} have another shape than the model's and are newly initialized: "
            f"{'; '.join(shapes_found)}. {training_advice(class_name)}",
            stacklevel=3,
        )
    missing = [name for name in shapes if name not in params and name not in tensors]
    if missing:
        warnings.warn(
            f"Some weights were not in {source} and are newly initialized: {shown(missing)}. "
            f"{training_advice(class_name)}",
            stacklevel=3,
        )
    fresh = [name for name in shapes if name not in params]
    params.update(init_parameters({name: shapes[name] for name in fresh}, config, rng))
    unused = sorted(set(tensors) - set(shapes))
    if unused:
        _report_unused(shown(unused), source, class_name, config.architectures or [])
    return params, {"missing_keys": missing, "unexpected_keys": unused, "mismatched_keys": mismatched}


# The classes whose heads are trained by pretraining, and what their heads predict.
PRETRAINING_PREDICTIONS = {"AlbertForPreTraining": "masked-token and sentence-order predictions",
                           "AlbertForMaskedLM": "masked-token predictions"}


def training_advice(class_name: str | None) -> str:
    """The last sentence of the newly-initialized warning: what trains the new weights. A
    pretraining head is trained by pretraining (which is what `python -m tinyalbert.pretrain
    --init-from` then does); any other head by fine-tuning on a task, as Transformers advises."""
    if class_name in PRETRAINING_PREDICTIONS:
        return (f"Pretraining trains them (python -m tinyalbert.pretrain); until it has, the model's "
                f"{PRETRAINING_PREDICTIONS[class_name]} are not to be trusted.")
    return "Train the model on a down-stream task before using it for predictions."


def _report_unused(unused: list, source, class_name: str | None, architectures: list) -> None:
    """Unused checkpoint tensors are expected when a class loads a checkpoint saved from another
    (a pretraining checkpoint into AlbertForMaskedLM leaves the pooler and the SOP head): a log
    record then. Saved from this very class, they mean the checkpoint is not what it says: a warning."""
    if class_name is None or class_name not in architectures:
        logger.info("Some weights of %s were not used by this model: %s", source, unused)
        return
    warnings.warn(
        f"Some weights of {source} were not used when initializing {class_name}: {unused}. The checkpoint "
        f"was saved from {class_name} (config.architectures), so these tensors were expected to be used: "
        "they may come from a modified model, or another library's layout.",
        stacklevel=4,
    )


def nonfinite_tensors(params: dict) -> list:
    """Names of the parameters holding a NaN or an infinity (any backend)."""
    names = []
    for name, value in params.items():
        xp = array_namespace(value)
        if xp.isdtype(value.dtype, "real floating") and not bool(xp.all(xp.isfinite(value))):
            names.append(name)
    return names


def warn_nonfinite(params: dict, source) -> list:
    """Warn, naming them, when parameters loaded from `source` hold NaN or inf; returns their names.

    Such a model computes NaN everywhere those weights reach, so nothing it predicts means anything.
    """
    bad = nonfinite_tensors(params)
    if bad:
        warnings.warn(f"{source} holds NaN or infinite values in {len(bad)} tensor(s): {bad[:10]}"
                      f"{' ...' if len(bad) > 10 else ''}; the model's outputs will not be numbers", stacklevel=3)
    return bad


# --- writing checkpoints ------------------------------------------------------------------------
def remove_stale_weights(directory: Path, kept) -> None:
    """Delete the weight files of `directory` other than `kept` (a file name, or several), as
    Transformers' save does: `read_checkpoint` prefers safetensors, so a stale one would shadow
    a fresh pytorch_model.bin, and an old index would name shards of another save."""
    kept = {kept} if isinstance(kept, str) else set(kept)
    directory = Path(directory)
    indexes = [directory / SAFE_WEIGHTS_INDEX_NAME, directory / PICKLED_WEIGHTS_INDEX_NAME]
    stale = [directory / SAFE_WEIGHTS_NAME, directory / PICKLED_WEIGHTS_NAME, *indexes]
    for index in indexes:
        if index.is_file():
            try:
                stale += [directory / shard for shard in set(_read_weight_map(index).values())]
            except ValueError:
                pass  # an unreadable index (or one naming files elsewhere) still goes; its shards cannot be named
    # Shards of an earlier sharded save that the new index no longer lists (it was written first).
    number = "[0-9]" * 5
    stale += list(directory.glob(f"model-{number}-of-{number}.safetensors"))
    stale += list(directory.glob(f"pytorch_model-{number}-of-{number}.bin"))  # Transformers' pickled shards
    for file in stale:
        if file.name not in kept and file.is_file():
            file.unlink()


# max_shard_size units. Transformers 4.53.3 (through huggingface_hub's parse_size_to_int) takes KB, MB, GB
# and TB, powers of 1000, and refuses the rest; KiB, MiB, GiB and TiB (powers of 1024) are a tinyalbert extra.
SIZE_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
              "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def shard_size_in_bytes(size) -> int:
    """`max_shard_size` as Transformers takes it: a number of bytes, or text such as "5GB".

    tinyalbert also takes the binary units KiB, MiB, GiB and TiB, which Transformers refuses.
    """
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool) and size > 0:
        return int(size)
    if isinstance(size, str):
        text = size.strip().upper()
        unit = next((unit for unit in sorted(SIZE_UNITS, key=len, reverse=True) if text.endswith(unit)), None)
        try:
            value = float(text[: -len(unit)]) if unit else -1.0
        except ValueError:
            value = -1.0
        if value > 0:
            return int(value * SIZE_UNITS[unit])
    raise ValueError(f"max_shard_size must be a positive number of bytes or a size such as '5GB' or '200MB' "
                     f"(units KB, MB, GB, TB; tinyalbert also takes KiB, MiB, GiB, TiB), got {size!r}")


def split_into_shards(tensors: dict, max_bytes: int) -> list[dict]:
    """The tensors, in order, in shards of at most `max_bytes`: a shard ends when the next tensor
    would not fit, and a tensor larger than the limit has a shard of its own."""
    shards, current, current_bytes = [], {}, 0
    for name, value in tensors.items():
        if value.nbytes > max_bytes:
            shards.append({name: value})
            continue
        if current and current_bytes + value.nbytes > max_bytes:
            shards.append(current)
            current, current_bytes = {}, 0
        current[name] = value
        current_bytes += value.nbytes
    if current:
        shards.append(current)
    return shards


def write_sharded_safetensors(tensors: dict, directory: Path, max_bytes: int) -> list[str]:
    """Write `tensors` as Transformers does: one `model.safetensors` when they fit in `max_bytes`,
    else `model-00001-of-0000N.safetensors` ... with `model.safetensors.index.json` mapping each
    tensor to its file. Returns the names of the files written."""
    directory = Path(directory)
    shards = split_into_shards(tensors, max_bytes)
    if len(shards) <= 1:
        write_safetensors(tensors, directory / SAFE_WEIGHTS_NAME)
        return [SAFE_WEIGHTS_NAME]
    weight_map, names = {}, []
    for number, shard in enumerate(shards, start=1):
        name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(shard, directory / name)
        weight_map.update(dict.fromkeys(shard, name))
        names.append(name)
    index = {"metadata": {"total_size": sum(value.nbytes for value in tensors.values()),
                          "total_parameters": sum(value.size for value in tensors.values())},
             "weight_map": weight_map}
    (directory / SAFE_WEIGHTS_INDEX_NAME).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return [*names, SAFE_WEIGHTS_INDEX_NAME]


def write_safetensors(tensors: dict, file: Path) -> Path:
    """Write NumPy arrays to `file`, tagged as Transformers expects (`format: pt`)."""
    from safetensors.numpy import save_file

    file = Path(file)
    file.parent.mkdir(parents=True, exist_ok=True)
    contiguous = {key: np.ascontiguousarray(value) for key, value in tensors.items()}
    save_file(contiguous, str(file), metadata={"format": "pt"})
    return file
