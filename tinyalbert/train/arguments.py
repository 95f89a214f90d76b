"""What a pretraining run depends on: `TrainingArguments`, and the model shape it names."""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from pathlib import Path

from ..config import AlbertConfig

# The bundled `tinyalbert-mini`: albert-base's recipe (factorized E=128 embeddings, one shared
# layer, gelu_new, no dropout in the body as in the v2 models) at a size a CPU can train.
MINI_CONFIG = dict(
    embedding_size=128, hidden_size=256, num_hidden_layers=6, num_hidden_groups=1, inner_group_num=1,
    num_attention_heads=4, intermediate_size=1024, hidden_act="gelu_new", hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0, max_position_embeddings=128,
)
CONFIG_ALIASES = {"base": "albert-base-v2", "large": "albert-large-v2", "xlarge": "albert-xlarge-v2",
                  "xxlarge": "albert-xxlarge-v2"}

# Arguments that decide what the steps compute; a resumed run must keep them. (The corpus is
# compared by content, see `corpus_fingerprint`, so that it may be named by another path.)
RUN_DEFINING = (
    "config", "batch_size", "max_seq_length", "lr", "warmup_steps", "optimizer", "weight_decay",
    "clip_norm", "seed", "masked_lm_prob", "max_predictions_per_seq", "short_seq_prob", "dupe_factor",
    "heldout_fraction", "masking", "pack_documents", "output_bias_init", "init_from",
)
# What checkpoints written before an argument existed did, so that they still resume.
BEFORE_ARGUMENT_EXISTED = {"masking": "static", "pack_documents": False, "output_bias_init": "zero",
                           "init_from": None}

MASKING_CHOICES = ("dynamic", "static")
OUTPUT_BIAS_CHOICES = ("log-frequency", "zero")

# The numeric arguments, checked for their type before anything computes with them; None is
# allowed for the OPTIONAL ones (a default filled in later, or no limit).
INTEGER_FIELDS = ("steps", "batch_size", "max_seq_length", "warmup_steps", "seed", "save_every", "log_every",
                  "stop_at", "max_predictions_per_seq", "dupe_factor", "eval_batch_size", "vocab_size")
NUMBER_FIELDS = ("lr", "weight_decay", "clip_norm", "max_minutes", "masked_lm_prob", "short_seq_prob",
                 "heldout_fraction", "mpi_timeout")
OPTIONAL = ("warmup_steps", "stop_at", "max_predictions_per_seq", "vocab_size", "max_minutes")


def as_int(name: str, value) -> int:
    """`value` as a Python int, or ValueError naming `name`. NumPy integers pass; a bool (True
    is 1 to Python, never meant as a count) and a float (2.0 included) do not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


def as_number(name: str, value) -> float:
    """`value` as a Python float (so that it is written to JSON as one), or ValueError naming
    `name`: any real number passes, NumPy's too; a str, None or a bool does not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


@dataclass
class TrainingArguments:
    """Everything a pretraining run depends on; `python -m tinyalbert.pretrain --help` explains each."""

    corpus: str
    out: str
    config: str | None = None  # default: "mini", or the config of `init_from`
    tokenizer: str | None = None  # a tokenizer directory or spiece.model
    vocab_size: int | None = None  # ... or train a SentencePiece vocabulary of this size
    steps: int = 1000
    batch_size: int = 32
    max_seq_length: int = 128
    lr: float = 5e-4
    warmup_steps: int | None = None  # default: 10% of steps
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    clip_norm: float = 1.0  # 0 turns clipping off
    seed: int = 0
    save_every: int = 200
    log_every: int = 10
    backend: str = "numpy"
    resume: bool = False
    stop_at: int | None = None  # stop after this step (checkpointed), the schedule still made for `steps`
    max_minutes: float | None = None  # stop (checkpointed) once this much wall time has passed
    masked_lm_prob: float = 0.15
    max_predictions_per_seq: int | None = None  # default: round(masked_lm_prob * max_seq_length)
    short_seq_prob: float = 0.1
    dupe_factor: int = 1  # passes over the corpus with other pair boundaries (and, if static, masks)
    heldout_fraction: float = 0.01
    eval_batch_size: int = 32
    masking: str = "dynamic"  # fresh masks every epoch, or "static": fixed when the examples are made
    pack_documents: bool = True  # join short documents so examples fill max_seq_length
    output_bias_init: str = "log-frequency"  # MLM output bias from target frequencies, or "zero"
    mpi_timeout: float = 600.0  # under mpiexec: seconds a collective may wait before the job stops
    init_from: str | None = None  # start from this pretrained model's weights (continued pretraining)

    def __post_init__(self):
        self.corpus, self.out = str(self.corpus), str(self.out)
        self._check_types()  # before the defaults below compute with them
        if self.config is None and self.init_from is None:
            self.config = "mini"
        if self.warmup_steps is None:
            self.warmup_steps = self.steps // 10
        if self.max_predictions_per_seq is None:
            self._check_masked_lm_prob()  # nan or inf would fail inside round() with a message naming nothing
            self.max_predictions_per_seq = default_max_predictions(self.masked_lm_prob, self.max_seq_length)
        self.validate()

    def _check_types(self) -> None:
        """Every numeric argument as a Python int or float, or ValueError naming it."""
        for name in INTEGER_FIELDS + NUMBER_FIELDS:
            value = getattr(self, name)
            if value is not None or name not in OPTIONAL:
                setattr(self, name, as_int(name, value) if name in INTEGER_FIELDS else as_number(name, value))

    def validate(self) -> None:
        """Raise ValueError naming the first argument that cannot work."""
        self._check_types()
        for name in ("steps", "batch_size", "max_seq_length", "save_every", "log_every", "dupe_factor",
                     "eval_batch_size", "max_predictions_per_seq"):
            value = getattr(self, name)  # an int: `_check_types` made it one
            if value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.max_seq_length < 5:
            raise ValueError(f"max_seq_length must be at least 5 ([CLS] A [SEP] B [SEP]), got {self.max_seq_length}")
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.max_predictions_per_seq > self.max_seq_length - 3:
            raise ValueError(f"max_predictions_per_seq must be at most max_seq_length - 3 = {self.max_seq_length - 3} "
                             "(the tokens of an example besides [CLS] and two [SEP]), "
                             f"got {self.max_predictions_per_seq}")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps must lie in [0, steps={self.steps}], got {self.warmup_steps}")
        for name, choices in (("optimizer", ("adamw", "lamb")), ("masking", MASKING_CHOICES),
                              ("output_bias_init", OUTPUT_BIAS_CHOICES), ("backend", ("numpy", "cupy"))):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {getattr(self, name)!r}")
        self._validate_numbers()
        if self.tokenizer is not None and self.vocab_size is not None:
            raise ValueError("give either tokenizer (an existing vocabulary) or vocab_size (train one), not both")
        if self.init_from is not None and (self.config is not None or self.vocab_size is not None):
            raise ValueError("init_from brings its own config and vocabulary: leave out config and vocab_size")
        if self.vocab_size is not None and self.vocab_size < 8:
            raise ValueError(f"vocab_size must be at least 8 (5 special pieces and some text), got {self.vocab_size}")

    def _validate_numbers(self) -> None:
        # `not x >= 0` rather than `x < 0`: nan fails every comparison and must fail here too.
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        for name in ("weight_decay", "clip_norm"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        self._check_masked_lm_prob()
        if not 0.0 <= self.short_seq_prob <= 1.0:
            raise ValueError(f"short_seq_prob must lie in [0, 1], got {self.short_seq_prob!r}")
        if not 0.0 <= self.heldout_fraction < 1.0:
            raise ValueError(f"heldout_fraction must lie in [0, 1), got {self.heldout_fraction!r}")
        if self.stop_at is not None and self.stop_at < 1:
            raise ValueError(f"stop_at must be a positive step number, got {self.stop_at}")
        if not (self.mpi_timeout > 0 and math.isfinite(self.mpi_timeout)):
            raise ValueError(f"mpi_timeout must be a positive number of seconds, got {self.mpi_timeout!r}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ValueError(f"max_minutes must be a positive number of minutes, got {self.max_minutes!r}")

    def _check_masked_lm_prob(self) -> None:
        if not 0.0 < self.masked_lm_prob <= 1.0:  # with 0 no token is a target: the MLM loss is 0 / 0
            raise ValueError(f"masked_lm_prob must lie in (0, 1]: the share of tokens to predict, above 0, "
                             f"got {self.masked_lm_prob!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def default_max_predictions(masked_lm_prob: float, max_seq_length: int) -> int:
    """round(P * L) predicted tokens, at least 1 and at most the L - 3 that are not [CLS] or [SEP]."""
    return max(1, min(round(masked_lm_prob * max_seq_length), max_seq_length - 3))


def resolve_config(spec: str) -> AlbertConfig:
    """`mini`, `base` (large, xlarge, xxlarge: the v2 shapes), any `albert-*-v*` preset name,
    or a path to a config.json (or to a directory holding one)."""
    if spec == "mini":
        return AlbertConfig(**MINI_CONFIG)
    name = CONFIG_ALIASES.get(spec, spec)
    if name.startswith("albert-") and not Path(spec).exists():
        return AlbertConfig.preset(name)
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"config {spec!r} is neither mini, base, a preset name nor an existing config.json")
    return AlbertConfig.from_pretrained(path)


def saved_arguments(state: dict) -> dict:
    """The arguments a checkpoint's trainer state records, completed for arguments added since it
    was written (with the values that reproduce the run, BEFORE_ARGUMENT_EXISTED)."""
    return {**BEFORE_ARGUMENT_EXISTED, **state["args"]}


def check_resumable(args: TrainingArguments, saved_args: dict) -> None:
    """A resumed run must compute the same steps: refuse arguments that changed from `saved_args`
    (see `saved_arguments`)."""
    changed = [f"{name} (checkpoint: {saved_args.get(name)!r}, now: {getattr(args, name)!r})"
               for name in RUN_DEFINING if saved_args.get(name) != getattr(args, name)]
    if changed:
        raise ValueError("cannot resume with different arguments: " + "; ".join(changed)
                         + ". Leave them out (the checkpoint's values are used) or start a new --out")
