"""`AlbertConfig`: the hyper-parameters of an ALBERT model, read from and written to `config.json`.

Field names and defaults are those of Transformers' `AlbertConfig` (the defaults describe
albert-xxlarge), so a `config.json` written by either library is read by the other.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from .nn.activations import ACTIVATIONS
from .nn.relative_position import POSITION_EMBEDDING_TYPES

CONFIG_NAME = "config.json"
HIDDEN_ACTS = tuple(ACTIVATIONS)  # the names `hidden_act` may take: those nn.activations implements
PROBLEM_TYPES = (None, "regression", "single_label_classification", "multi_label_classification")

_POSITIVE_INT_FIELDS = (
    "vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_hidden_groups",
    "num_attention_heads", "intermediate_size", "inner_group_num", "max_position_embeddings",
    "type_vocab_size",
)


@dataclass
class AlbertConfig:
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
    # From Transformers' PretrainedConfig: the label set of the classification heads.
    id2label: dict = field(default_factory=lambda: {0: "LABEL_0", 1: "LABEL_1"})
    problem_type: str | None = None
    tie_word_embeddings: bool = True
    architectures: list | None = None
    # Every other field found in a config.json (e.g. `torch_dtype`, `dtype`, `transformers_version`),
    # kept so that a load-then-save round trip loses nothing.
    extra: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.id2label = {int(key): value for key, value in self.id2label.items()}
        self.validate()

    # --- derived quantities -------------------------------------------------------------
    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, count: int) -> None:
        if count != self.num_labels:
            self.id2label = {i: f"LABEL_{i}" for i in range(count)}

    @property
    def label2id(self) -> dict:
        return {label: i for i, label in self.id2label.items()}

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def validate(self) -> None:
        """Raise `ValueError` naming the first field whose value cannot describe an ALBERT."""
        for name in _POSITIVE_INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"AlbertConfig.{name} must be a positive integer, got {value!r}")
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
        if not self.layer_norm_eps > 0:
            raise ValueError(f"AlbertConfig.layer_norm_eps must be positive, got {self.layer_norm_eps!r}")
        if self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"AlbertConfig.problem_type {self.problem_type!r} is not one of {PROBLEM_TYPES}")
        if self.num_labels < 1:
            raise ValueError("AlbertConfig.id2label must name at least one label")

    # --- dict and file I/O --------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict) -> "AlbertConfig":
        values = dict(values)
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        if "num_labels" in values and "id2label" not in values:
            values["id2label"] = {i: f"LABEL_{i}" for i in range(int(values["num_labels"]))}
        values.pop("num_labels", None)
        values.pop("label2id", None)  # derived from id2label
        values.pop("model_type", None)  # always "albert"
        extra = {key: values.pop(key) for key in list(values) if key not in known}
        return cls(**values, extra=extra)

    def to_dict(self) -> dict:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        values["id2label"] = {str(i): label for i, label in self.id2label.items()}
        values["label2id"] = self.label2id
        values["model_type"] = "albert"
        if values["architectures"] is None:
            del values["architectures"]
        return {**self.extra, **values}

    @classmethod
    def from_pretrained(cls, path, **overrides) -> "AlbertConfig":
        """Read `config.json` from a directory (or the file itself), then apply `overrides`."""
        from .hub import resolve_model_dir

        path = Path(path)
        file = path if path.suffix == ".json" and path.is_file() else resolve_model_dir(path) / CONFIG_NAME
        if not file.is_file():
            raise FileNotFoundError(f"no {CONFIG_NAME} in {file.parent}")
        try:
            values = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{file} is not valid JSON: {error}") from None
        if values.get("model_type", "albert") != "albert":
            raise ValueError(f"{file} describes a {values['model_type']!r} model, not 'albert'")
        values.update(overrides)
        return cls.from_dict(values)

    def save_pretrained(self, directory) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        file = directory / CONFIG_NAME
        file.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return file

    @classmethod
    def preset(cls, name: str, **overrides) -> "AlbertConfig":
        """One of the official shapes: `albert-{base,large,xlarge,xxlarge}-v{1,2}`."""
        short = name.split("/")[-1]
        if short not in PRESETS:
            raise ValueError(f"unknown preset {name!r}: choose from {sorted(PRESETS)}")
        return cls(**{**PRESETS[short], **overrides})


def _preset(hidden, layers, heads, intermediate, version):
    # v1 checkpoints used exact GELU and 0.1 dropout; v2 switched to gelu_new and no dropout.
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
