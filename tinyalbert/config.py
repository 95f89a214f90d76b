"""`AlbertConfig`: the hyper-parameters of an ALBERT model, read from and written to `config.json`.

Field names and defaults are those of Transformers' `AlbertConfig` (the defaults describe
albert-xxlarge), so a `config.json` written by either library is read by the other.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path

from .jsonfile import read_json_object
from .nn.activations import ACTIVATIONS
from .nn.relative_position import POSITION_EMBEDDING_TYPES

CONFIG_NAME = "config.json"
HIDDEN_ACTS = tuple(ACTIVATIONS)  # the names `hidden_act` may take: those nn.activations implements
logger = logging.getLogger("tinyalbert")
PROBLEM_TYPES = (None, "regression", "single_label_classification", "multi_label_classification")

_POSITIVE_INT_FIELDS = (
    "vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_hidden_groups",
    "num_attention_heads", "intermediate_size", "inner_group_num", "max_position_embeddings",
    "type_vocab_size",
)
_REAL_FIELDS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "initializer_range", "layer_norm_eps",
                "classifier_dropout_prob")
_TOKEN_ID_FIELDS = ("pad_token_id", "bos_token_id", "eos_token_id")
_BOOL_FIELDS = ("tie_word_embeddings", "output_hidden_states", "output_attentions", "return_dict")
# Fields of Transformers' generic `PretrainedConfig` that ALBERT does not use (generation,
# saving, other architectures). They are accepted as arguments, kept in `extra` and saved again.
PRETRAINED_CONFIG_NAMES = (
    "torch_dtype", "dtype", "transformers_version", "_name_or_path", "add_cross_attention", "bad_words_ids",
    "begin_suppress_tokens", "chunk_size_feed_forward", "cross_attention_hidden_size", "decoder_start_token_id",
    "diversity_penalty", "do_sample", "early_stopping", "encoder_no_repeat_ngram_size",
    "exponential_decay_length_penalty", "finetuning_task", "forced_bos_token_id", "forced_eos_token_id",
    "is_decoder", "is_encoder_decoder", "length_penalty", "max_length", "min_length", "no_repeat_ngram_size",
    "num_beam_groups", "num_beams", "num_return_sequences", "output_scores", "prefix", "pruned_heads",
    "remove_invalid_values", "repetition_penalty", "return_dict_in_generate", "sep_token_id", "suppress_tokens",
    "task_specific_params", "temperature", "tf_legacy_loss", "tie_encoder_decoder", "tokenizer_class", "top_k",
    "top_p", "torchscript", "typical_p", "use_bfloat16",
)


# The attention implementations Transformers has for ALBERT: both compute the same numbers,
# which is the one way tinyalbert computes attention.
ATTN_IMPLEMENTATIONS = (None, "eager", "sdpa")


def check_attn_implementation(value) -> None:
    """Accept Transformers' `attn_implementation` when it names ALBERT's attention; refuse any
    other (Transformers refuses "flash_attention_2" for ALBERT, and names it does not know)."""
    if value not in ATTN_IMPLEMENTATIONS:
        raise ValueError(f"attn_implementation={value!r} is not supported: ALBERT's attention is "
                         "\"eager\" (\"sdpa\" computes the same numbers; tinyalbert accepts both)")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _plain_number(value):
    """A NumPy scalar (`np.int64(3)`, `np.float32(0.1)`) as the Python int or float it stands for,
    so that it validates and saves to JSON like one (Transformers accepts them too)."""
    if isinstance(value, bool) or isinstance(value, (int, float)) or not isinstance(value, numbers.Real):
        return value
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _default_labels(count) -> dict:
    count = _plain_number(count)
    if not _is_int(count) or count < 1:
        raise ValueError(f"AlbertConfig.num_labels must be a positive integer, got {count!r}")
    return {i: f"LABEL_{i}" for i in range(count)}


def _labels_from_label2id(label2id) -> dict:
    """The `id2label` that a `label2id` of `{label: id}` describes, checked as `_label_map` checks it."""
    if not isinstance(label2id, dict):
        raise ValueError(f"AlbertConfig.label2id must be a dict {{label: id}}, got {label2id!r}")
    return _label_map({index: label for label, index in label2id.items()})


def _labels_from_label2id_of_size(label2id, num_labels: int, why: str) -> dict:
    """`_labels_from_label2id`, refused when `label2id` names another number of labels than
    `num_labels`. Transformers never lets `label2id` change the number of labels (the head would
    keep `num_labels` outputs and a `label2id` that disagrees with `id2label`); tinyalbert keeps one
    label map, so it cannot build that head and says so instead of building another size."""
    labels = _labels_from_label2id(label2id)
    if len(labels) != num_labels:
        raise ValueError(f"label2id names {len(labels)} labels, but {why} {num_labels}: Transformers would keep "
                         f"{num_labels} outputs; pass num_labels={len(labels)} (or id2label) with it")
    return labels


def _check_label_arguments(overrides: dict) -> None:
    """Raise as Transformers' `from_dict` does when `num_labels` and `id2label` are both given
    and disagree, whichever comes first."""
    if "num_labels" in overrides and "id2label" in overrides:
        id2label = overrides["id2label"] if overrides["id2label"] is not None else []
        if len(id2label) != overrides["num_labels"]:
            raise ValueError(f"You passed along `num_labels={overrides['num_labels']}` with an incompatible id to "
                             f"label map: {overrides['id2label']}. Since those arguments are inconsistent with each "
                             "other, you should remove one of them.")


def _labels_last(overrides: dict) -> list:
    """The overrides as (name, value) pairs, in the order given except that `num_labels`, then
    `id2label`, then `label2id` come last: the result does not depend on the order of the keywords."""
    label_names = ("num_labels", "id2label", "label2id")
    others = [(name, value) for name, value in overrides.items() if name not in label_names]
    return others + [(name, overrides[name]) for name in label_names if name in overrides]


def _label_map(id2label) -> dict:
    """`id2label` with integer keys (JSON stores them as strings), checked to be a dict of 0..n-1."""
    if not isinstance(id2label, dict):
        raise ValueError(f"AlbertConfig.id2label must be a dict {{id: label}}, got {type(id2label).__name__}")
    labels = {}
    for key, label in id2label.items():
        try:
            labels[int(key)] = label
        except (TypeError, ValueError):
            raise ValueError(f"AlbertConfig.id2label has key {key!r}, which is not an integer id") from None
    if sorted(labels) != list(range(len(labels))):
        raise ValueError(f"AlbertConfig.id2label must have the ids 0..{len(labels) - 1}, got {sorted(labels)}")
    return labels


def pruned_heads_map(pruned_heads) -> dict:
    """`pruned_heads` ({layer: [head, ...]}) with integer keys (JSON stores them as strings) and
    each layer's heads as a sorted list of distinct integers; the numbers are checked against
    the config's shape by `AlbertConfig.validate`."""
    if not isinstance(pruned_heads, dict):
        raise ValueError(f"AlbertConfig.pruned_heads must be a dict {{layer: [heads]}}, got {type(pruned_heads).__name__}")
    heads = {}
    for key, value in pruned_heads.items():
        try:
            layer = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"AlbertConfig.pruned_heads has key {key!r}, which is not a layer number") from None
        if not isinstance(value, (list, tuple, set)) or not all(_is_int(head) for head in value):
            raise ValueError(f"AlbertConfig.pruned_heads[{layer}] must be a list of head numbers, got {value!r}")
        heads[layer] = sorted(set(value))
    return heads


@dataclass(init=False)
class AlbertConfig:
    """The fields below, plus Transformers' constructor conveniences: `num_labels=` (labels
    `LABEL_0`, ...), `label2id=`, and any other name, kept in `extra` and saved again. The first
    twenty fields (`vocab_size` to `eos_token_id`) may also be given positionally, in this order,
    as Transformers' `AlbertConfig(30000, 128, 4096)` takes them."""

    model_type = "albert"  # a class attribute, as in Transformers; not a field: it never changes

    vocab_size: int = 30000
    embedding_size: int = 128
    hidden_size: int = 4096
    num_hidden_layers: int = 12
    num_hidden_groups: int = 1
    num_attention_heads: int = 64
    intermediate_size: int = 16384
    inner_group_num: int = 1
    hidden_act: str = "gelu_new"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    classifier_dropout_prob: float | None = 0.1
    position_embedding_type: str = "absolute"
    pad_token_id: int | None = 0
    bos_token_id: int | None = 2
    eos_token_id: int | None = 3
    # From Transformers' PretrainedConfig: the label set of the classification heads, what the
    # models return by default, and which head the checkpoint was saved from.
    id2label: dict = field(default_factory=lambda: {0: "LABEL_0", 1: "LABEL_1"})
    problem_type: str | None = None
    tie_word_embeddings: bool = True
    output_hidden_states: bool = False
    output_attentions: bool = False
    return_dict: bool = True
    architectures: list | None = None
    # Every other field found in a config.json (e.g. `torch_dtype`, `dtype`, `transformers_version`),
    # kept so that a load-then-save round trip loses nothing.
    extra: dict = field(default_factory=dict, repr=False)

    def __init__(self, *args, **values):
        values.update(_positional_arguments(args, values))
        values.pop("model_type", None)  # always "albert"
        check_attn_implementation(values.pop("attn_implementation", None))
        num_labels, label2id = values.pop("num_labels", None), values.pop("label2id", None)
        if values.get("id2label", 0) is None:  # null in a config.json: no labels given
            del values["id2label"]
        given = values.get("id2label")
        if isinstance(given, dict) and num_labels is not None and num_labels != len(given):
            logger.warning("num_labels=%r disagrees with id2label, which wins (as in Transformers)", num_labels)
        if "id2label" not in values:  # else id2label names the labels and label2id is not read
            if label2id is not None:  # it names the labels, but not their number (Transformers' rule)
                why = "num_labels is" if num_labels is not None else "num_labels is not given, so"
                values["id2label"] = _labels_from_label2id_of_size(label2id, 2 if num_labels is None else num_labels,
                                                                   why)
            elif num_labels is not None:
                values["id2label"] = _default_labels(num_labels)
        extra = dict(values.pop("extra", None) or {})
        for item in dataclasses.fields(self):
            if item.name == "extra":
                continue
            default = item.default_factory() if item.default is dataclasses.MISSING else item.default
            setattr(self, item.name, values.pop(item.name, default))
        self.extra = {**extra, **values}  # the names ALBERT does not use
        if "pruned_heads" in self.extra:
            self.pruned_heads = self.extra["pruned_heads"]  # int keys, as __setattr__ makes them
        self.validate()

    def __setattr__(self, name, value):
        # As in Transformers, an attribute set on a config is part of it: a name that is not a
        # field goes into `extra`, and so into the saved config.json.
        if name == "id2label":
            # Keys made ints and checked, as the constructor does: a map read from JSON has string
            # keys, and `config.id2label[int(pred)]` must find the label.
            object.__setattr__(self, name, _label_map(value))
        elif name == "pruned_heads":  # a generic field kept in `extra`, its layer keys made ints as for id2label
            self.extra[name] = pruned_heads_map(value)
        elif name in _FIELD_NAMES:
            object.__setattr__(self, name, _plain_number(value))
        elif name.startswith("_") or hasattr(type(self), name):
            object.__setattr__(self, name, value)
        else:
            self.extra[name] = value

    def __getattr__(self, name):
        # Only called when normal lookup fails: the kept fields read as attributes (`config.torch_dtype`),
        # then the generic ones every Transformers config has, at their defaults (`config.is_decoder`).
        extra = self.__dict__.get("extra", {})
        if name in extra:
            return extra[name]
        if name == "pruned_heads":  # the one mutable default: kept, so that `config.pruned_heads[2] = [0]` lasts
            extra[name] = {}
            return extra[name]
        if name in GENERIC_DEFAULTS:
            return copy.copy(GENERIC_DEFAULTS[name])
        raise AttributeError(f"'AlbertConfig' object has no attribute {name!r}")

    @property
    def name_or_path(self) -> str:
        """Where `from_pretrained` read this config from ("" for one built in code), as in Transformers."""
        return self.__dict__.get("_name_or_path", "")

    @name_or_path.setter
    def name_or_path(self, value) -> None:
        self._name_or_path = str(value)  # not a field: not saved

    # --- derived quantities -------------------------------------------------------------
    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, count: int) -> None:
        # As in Transformers: a new count replaces the labels by LABEL_0, LABEL_1, ...
        if count != self.num_labels:
            self.id2label = _default_labels(count)

    @property
    def label2id(self) -> dict:
        return {label: i for i, label in self.id2label.items()}

    @label2id.setter
    def label2id(self, label2id: dict) -> None:
        # One label map is kept; setting the other direction replaces it, so the two never disagree.
        self.id2label = _labels_from_label2id(label2id)

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def use_return_dict(self) -> bool:
        """What a model call returns when it does not say (`return_dict=None`), under Transformers'
        name: `return_dict`, except that `torchscript=True` makes every call return tuples, as in
        Transformers (TorchScript traces tuples, not output objects)."""
        return self.return_dict and not self.torchscript

    def validate(self) -> None:
        """Raise `ValueError` naming the first field whose value cannot describe an ALBERT."""
        self._validate_types()
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"AlbertConfig.hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.num_hidden_groups > self.num_hidden_layers:
            raise ValueError(
                f"AlbertConfig.num_hidden_groups ({self.num_hidden_groups}) cannot exceed "
                f"num_hidden_layers ({self.num_hidden_layers})"
            )
        if self.hidden_act not in HIDDEN_ACTS:
            raise ValueError(f"AlbertConfig.hidden_act {self.hidden_act!r} is not one of {HIDDEN_ACTS}")
        if self.position_embedding_type not in POSITION_EMBEDDING_TYPES:
            raise ValueError(
                f"AlbertConfig.position_embedding_type {self.position_embedding_type!r} "
                f"is not one of {POSITION_EMBEDDING_TYPES}"
            )
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout_prob"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise ValueError(f"AlbertConfig.{name} must lie in [0, 1), got {value!r}")
        if not self.layer_norm_eps > 0 or not self.initializer_range >= 0:
            raise ValueError(f"AlbertConfig.layer_norm_eps must be positive and initializer_range not negative, "
                             f"got {self.layer_norm_eps!r} and {self.initializer_range!r}")
        if self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"AlbertConfig.problem_type {self.problem_type!r} is not one of {PROBLEM_TYPES}")
        if self.num_labels < 1:
            raise ValueError("AlbertConfig.id2label must name at least one label")
        self._validate_pruned_heads()

    def _validate_pruned_heads(self) -> None:
        """Each key of `pruned_heads` numbers one of the shared layers as Transformers does, group
        by group (group * inner_group_num + inner), and names heads of the unpruned layer; a layer
        keeps one head at least (with none, its attention would be its output bias alone)."""
        if "pruned_heads" not in self.extra:  # (not read through the attribute, which would keep the default)
            return
        # Read again: a map changed in place (`config.pruned_heads["1"] = [0]`) has not been through __setattr__
        self.extra["pruned_heads"] = pruned = pruned_heads_map(self.extra["pruned_heads"])
        layers = self.num_hidden_groups * self.inner_group_num
        for layer, heads in pruned.items():
            if not 0 <= layer < layers:
                raise ValueError(
                    f"AlbertConfig.pruned_heads names layer {layer}, but the encoder has {layers} layer(s) with weights "
                    f"of their own ({self.num_hidden_groups} group(s) of {self.inner_group_num}), numbered "
                    f"0..{layers - 1} group by group")
            outside = [head for head in heads if not 0 <= head < self.num_attention_heads]
            if outside:
                raise ValueError(f"AlbertConfig.pruned_heads[{layer}] names heads {outside}, but a layer has heads "
                                 f"0..{self.num_attention_heads - 1}")
            if len(heads) == self.num_attention_heads:
                raise ValueError(f"AlbertConfig.pruned_heads[{layer}] prunes all {self.num_attention_heads} heads of "
                                 "the layer; keep one at least")

    def kept_heads(self, group: int, inner: int) -> int:
        """How many attention heads inner layer `inner` of group `group` has after pruning."""
        pruned = self.extra.get("pruned_heads", {})
        return self.num_attention_heads - len(pruned.get(group * self.inner_group_num + inner, ()))

    def _validate_types(self) -> None:
        """Each field has the JSON type it must have (a number written as a string is refused)."""
        for name in _POSITIVE_INT_FIELDS:
            value = getattr(self, name)
            if not _is_int(value) or value <= 0:
                raise ValueError(f"AlbertConfig.{name} must be a positive integer, got {value!r}")
        for name in _REAL_FIELDS:
            value = getattr(self, name)
            if value is None and name == "classifier_dropout_prob":  # allowed, as in Transformers
                continue
            if not (_is_real(value) and math.isfinite(value)):
                raise ValueError(f"AlbertConfig.{name} must be a finite number, got {value!r}")
        for name in _TOKEN_ID_FIELDS:
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 0):
                raise ValueError(f"AlbertConfig.{name} must be a token id (an integer >= 0) or null, got {value!r}")
        for name in _BOOL_FIELDS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"AlbertConfig.{name} must be true or false, got {getattr(self, name)!r}")
        for name in ("hidden_act", "position_embedding_type"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"AlbertConfig.{name} must be a string, got {getattr(self, name)!r}")
        if not all(isinstance(label, str) for label in self.id2label.values()):
            raise ValueError(f"AlbertConfig.id2label values must be strings, got {self.id2label!r:.200}")
        architectures = self.architectures
        if architectures is not None and not (
            isinstance(architectures, list) and all(isinstance(name, str) for name in architectures)
        ):
            raise ValueError(f"AlbertConfig.architectures must be a list of class names, got {architectures!r}")

    def saved_dtype(self) -> str:
        """The dtype the checkpoint was saved in (`torch_dtype`, or `dtype` in Transformers 5), when
        tinyalbert computes in it; else float32 (bfloat16 checkpoints are widened)."""
        saved = str(self.extra.get("dtype") or self.extra.get("torch_dtype") or "float32")
        return saved if saved in ("float32", "float64", "float16") else "float32"

    @classmethod
    def unknown_names(cls, names) -> list:
        """The names among `names` that are neither a field nor a Transformers config name (typos)."""
        known = {f.name for f in dataclasses.fields(cls)} | set(PRETRAINED_CONFIG_NAMES)
        return sorted(set(names) - known - {"num_labels", "label2id", "model_type", "attn_implementation"})

    # --- dict and file I/O --------------------------------------------------------------
    @classmethod
    def from_dict(cls, config_dict: dict, *, return_unused_kwargs: bool = False, **overrides):
        """A config from the contents of a `config.json`, then `overrides` set on it one by one,
        as Transformers does (so `num_labels=5` replaces a saved `id2label` of another size).
        An override that is no config field is kept in `extra`; with `return_unused_kwargs`, as
        in Transformers, it is left out and returned: `(config, {name: value})`."""
        if return_unused_kwargs:
            unused = {name: overrides.pop(name) for name in cls.unknown_names(overrides)}
            return cls.from_dict(config_dict, **overrides), unused
        if not isinstance(config_dict, dict):
            raise ValueError(f"a config must be a JSON object {{field: value}}, got a {type(config_dict).__name__}")
        config = cls(**{name: value for name, value in config_dict.items() if name != "extra"})
        if "extra" in config_dict:  # a field of some other config that happens to share our attribute's name
            config.extra["extra"] = config_dict["extra"]
        _check_label_arguments(overrides)
        for name, value in _labels_last(overrides):
            config._override(name, value, labels_given="id2label" in overrides)
        config.validate()
        return config

    def _override(self, name: str, value, labels_given: bool = False) -> None:
        """Set one field (or `num_labels`, `label2id`, or a kept Transformers field) by name.
        `label2id` must name as many labels as the config has; with `labels_given` (an `id2label`
        override too) it is only checked, and `id2label` names the labels."""
        if name == "label2id":
            labels = _labels_from_label2id_of_size(value, self.num_labels, "the config has num_labels =")
            if not labels_given:
                self.id2label = labels
        elif name == "id2label":
            self.id2label = _label_map(value)
        elif name == "attn_implementation":
            check_attn_implementation(value)
        elif name == "model_type":
            return
        elif name in ("num_labels", "pruned_heads") or name in {f.name for f in dataclasses.fields(self)}:
            setattr(self, name, value)  # pruned_heads: through __setattr__, which makes its keys ints
        else:
            self.extra[name] = value

    def __eq__(self, other) -> bool:
        # What would be saved: `pruned_heads` read once is kept as {} in `extra` (see __getattr__),
        # which makes no other config.
        return self.to_dict() == other.to_dict() if isinstance(other, AlbertConfig) else NotImplemented

    def to_dict(self) -> dict:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        values["id2label"] = dict(self.id2label)  # int keys, as Transformers' to_dict; JSON makes them strings
        values["label2id"] = self.label2id
        values["model_type"] = "albert"
        if values["architectures"] is None:
            del values["architectures"]
        extra = {key: value for key, value in self.extra.items() if not (key == "pruned_heads" and not value)}
        return {**extra, **values}  # (no pruned heads: left out, as the other generic defaults are)

    def to_diff_dict(self) -> dict:
        """`to_dict()` without the generic fields that equal both every Transformers config's
        defaults and ALBERT's (`id2label` with two labels, `return_dict`, ...); the ALBERT fields
        all stay, as in Transformers' `to_diff_dict`."""
        albert_defaults = AlbertConfig().to_dict()  # a generic field that differs from ALBERT's default stays too
        return {key: value for key, value in self.to_dict().items()
                if key not in GENERIC_FIELD_DEFAULTS or GENERIC_FIELD_DEFAULTS[key] != value
                or albert_defaults.get(key) != value}

    def to_json_string(self, use_diff: bool = True) -> str:
        """The config as JSON; with `use_diff` (Transformers' default) as `to_diff_dict` leaves it."""
        values = self.to_diff_dict() if use_diff else self.to_dict()
        return json.dumps(values, indent=2, sort_keys=True) + "\n"

    def update(self, config_dict: dict) -> None:
        """Set the fields named in `config_dict`, as Transformers' `update` does. The result is
        checked first: a bad value raises and leaves this config as it was."""
        self.__dict__.update(AlbertConfig.from_dict(self.to_dict(), **dict(config_dict)).__dict__)

    def get_text_config(self, decoder: bool = False) -> "AlbertConfig":
        """The config of the text model, as Transformers' generic code asks a config for it: for
        ALBERT, a text-only encoder, the config itself (`decoder` changes nothing, as there)."""
        return self

    def update_from_string(self, update_str: str) -> None:
        """Transformers' `update_from_string("hidden_size=24,hidden_act=gelu,return_dict=false")`:
        each value is read as the type the field has now (bool from true/false/1/0/yes/no, int,
        float or str), then set as `update` sets it (checked; a bad value changes nothing)."""
        values, name_or_path = {}, None
        for pair in update_str.split(","):
            name, _, text = pair.partition("=")
            # a field, a kept Transformers one, a generic one, or one of the two settable names
            # Transformers' configs have: not a derived property such as head_size
            if name not in (*_FIELD_NAMES, *self.extra, *GENERIC_DEFAULTS, "num_labels", "name_or_path"):
                raise ValueError(f"key {name} isn't in the original config dict")
            if name == "name_or_path":  # not a field: it is not saved (see the property)
                name_or_path = text
                continue
            values[name] = _parse_like(getattr(self, name), text, name)
        self.update(values)
        if name_or_path is not None:
            self.name_or_path = name_or_path

    def __repr__(self) -> str:
        # As Transformers prints a config: the class name, then the JSON `to_json_string` gives
        # (a value JSON cannot hold, set as an attribute, is shown by its repr rather than raising).
        values = json.dumps(self.to_diff_dict(), indent=2, sort_keys=True, default=repr)
        return f"{type(self).__name__} {values}\n"

    def to_json_file(self, json_file_path, use_diff: bool = True) -> None:
        Path(json_file_path).write_text(self.to_json_string(use_diff), encoding="utf-8")

    @classmethod
    def from_json_file(cls, json_file) -> "AlbertConfig":
        return cls.from_pretrained(json_file)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, cache_dir=None, force_download: bool = False,
                        local_files_only: bool = False, token=None, revision: str = "main", *,
                        return_unused_kwargs: bool = False, subfolder: str = "",
                        trust_remote_code: bool | None = None, **overrides):
        """Read `config.json` from a directory (or the file itself, or a Hub name at `revision`;
        `cache_dir`, `local_files_only`, `token`, `subfolder` and `force_download` as in
        Transformers, and positionally in its order), then apply `overrides`. `trust_remote_code`
        is accepted and changes nothing (no code is loaded from a checkpoint; it is not kept as a field).

        With `return_unused_kwargs`, as in Transformers, the overrides that are no config field
        are left out and returned: `(config, {name: value})`. A file that is not an ALBERT config
        raises ValueError naming the file and the field.
        """
        from .hub import resolve_model_dir, training_run_hint

        where = dict(revision=revision, cache_dir=cache_dir, local_files_only=local_files_only, token=token,
                     subfolder=subfolder, force_download=force_download)
        if return_unused_kwargs:
            unused = {name: overrides.pop(name) for name in cls.unknown_names(overrides)}
            return cls.from_pretrained(pretrained_model_name_or_path, **where, **overrides), unused

        path = Path(pretrained_model_name_or_path)
        # A file is read whatever its name ends with, as in Transformers; anything else names a model.
        file = path if path.is_file() else resolve_model_dir(path, **where) / CONFIG_NAME
        if not file.is_file():
            raise FileNotFoundError(f"no {CONFIG_NAME} in {file.parent}{training_run_hint(file.parent, CONFIG_NAME)}")
        values = read_json_object(file)
        if values.get("model_type", "albert") != "albert":
            raise ValueError(f"{file} describes a {values['model_type']!r} model, not 'albert'")
        try:
            config = cls.from_dict(values, **overrides)
        except ValueError as error:
            raise ValueError(f"{file}: {error}") from None
        config._name_or_path = str(path)  # an attribute, not a field: it is not saved
        return config

    def save_pretrained(self, save_directory, push_to_hub: bool = False, **hub_options) -> Path:
        """Write `config.json` into `save_directory` (made if needed); returns the file. As in
        `AlbertPreTrainedModel.save_pretrained`, `push_to_hub` is refused and the upload options
        that go with it do nothing."""
        from .hub import check_no_upload

        check_no_upload(push_to_hub, hub_options)
        directory = Path(save_directory)
        directory.mkdir(parents=True, exist_ok=True)
        file = directory / CONFIG_NAME
        file.write_text(self.to_json_string(use_diff=False), encoding="utf-8")
        return file

    @classmethod
    def preset(cls, name: str, **overrides) -> "AlbertConfig":
        """One of the official shapes: `albert-{base,large,xlarge,xxlarge}-v{1,2}`."""
        short = name.split("/")[-1]
        if short not in PRESETS:
            raise ValueError(f"unknown preset {name!r}: choose from {sorted(PRESETS)}")
        return cls(**{**PRESETS[short], **overrides})


def _parse_like(current, text: str, name: str):
    """`text` read as a value of `current`'s type, as Transformers' `update_from_string` reads it."""
    if isinstance(current, bool):
        if text.lower() in ("true", "1", "y", "yes"):
            return True
        if text.lower() in ("false", "0", "n", "no"):
            return False
        raise ValueError(f"can't derive true or false from {text} (key {name})")
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float):
        return float(text)
    if isinstance(current, str):
        return text
    raise TypeError(f"You can only update int, float, bool or string values in the config, got {text} for key {name}")


_FIELD_NAMES = frozenset(item.name for item in dataclasses.fields(AlbertConfig))
# The fields Transformers' AlbertConfig takes positionally, in its order (vocab_size ... eos_token_id).
_POSITIONAL_NAMES = tuple(item.name for item in dataclasses.fields(AlbertConfig))[:20]


def _positional_arguments(args: tuple, keywords: dict) -> dict:
    """`AlbertConfig(100, 16, 32)` as Transformers reads it: positions name the fields in its order."""
    if len(args) > len(_POSITIONAL_NAMES):
        raise TypeError(f"AlbertConfig() takes at most {len(_POSITIONAL_NAMES)} positional arguments "
                        f"({', '.join(_POSITIONAL_NAMES)}), got {len(args)}")
    named = dict(zip(_POSITIONAL_NAMES, args))
    twice = sorted(set(named) & set(keywords))
    if twice:
        raise TypeError(f"AlbertConfig() got multiple values for argument(s) {twice}")
    return named

# Transformers' PretrainedConfig defaults of the fields AlbertConfig shares with every config:
# `to_diff_dict` leaves such a field out when it has this value.
GENERIC_FIELD_DEFAULTS = {
    "id2label": {0: "LABEL_0", 1: "LABEL_1"}, "label2id": {"LABEL_0": 0, "LABEL_1": 1}, "problem_type": None,
    "tie_word_embeddings": True, "output_hidden_states": False, "output_attentions": False, "return_dict": True,
    "pad_token_id": None, "bos_token_id": None, "eos_token_id": None,
}
# Attributes every Transformers config has and ALBERT never changes, read at these values unless a
# loaded config.json (kept in `extra`) or an assignment sets them. Libraries written for
# Transformers read them (`config.is_encoder_decoder`, `config.pruned_heads`).
GENERIC_DEFAULTS = {
    "is_encoder_decoder": False, "is_decoder": False, "add_cross_attention": False, "tie_encoder_decoder": False,
    "torchscript": False, "pruned_heads": {}, "chunk_size_feed_forward": 0, "cross_attention_hidden_size": None,
    "finetuning_task": None, "task_specific_params": None, "tokenizer_class": None, "prefix": None,
    "sep_token_id": None, "decoder_start_token_id": None, "torch_dtype": None, "_attn_implementation": "eager",
}

def _preset(hidden, layers, heads, intermediate, version):
    # Transformers' v1 configs name gelu (computed exactly) and 0.1 dropout; v2's gelu_new and none.
    dropout = 0.1 if version == 1 else 0.0
    return dict(
        hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=intermediate, hidden_act="gelu" if version == 1 else "gelu_new",
        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
    )


PRESETS = {
    f"albert-{size}-v{version}": _preset(*shape, version)
    for size, shape in {
        "base": (768, 12, 12, 3072),
        "large": (1024, 24, 16, 4096),
        "xlarge": (2048, 24, 16, 8192),
        "xxlarge": (4096, 12, 64, 16384),
    }.items()
    for version in (1, 2)
}
