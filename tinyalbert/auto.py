"""Transformers' Auto classes, so that code written against them runs unchanged.

tinyalbert has one model type, so each Auto class stands for one ALBERT class:
`AutoModelForMaskedLM.from_pretrained(path)` is `AlbertForMaskedLM.from_pretrained(path)`, and a
checkpoint of another model type is refused there with the file and the type it names.

    model = AutoModelForMaskedLM.from_pretrained("tinyalbert-mini")
    tokenizer = AutoTokenizer.from_pretrained("tinyalbert-mini")   # the SentencePiece AlbertTokenizer
"""
from __future__ import annotations

import warnings

from .config import AlbertConfig, check_attn_implementation
from .models import AlbertForMaskedLM, AlbertForPreTraining, AlbertModel, chosen_dtype
from .task_models import (
    AlbertForMultipleChoice, AlbertForQuestionAnswering, AlbertForSequenceClassification, AlbertForTokenClassification,
)


class _AutoClass:
    """`from_pretrained` and `from_config` of `albert_class`. As in Transformers, an Auto class
    is not instantiated itself."""

    albert_class: type = AlbertModel

    def __init__(self, *args, **kwargs):
        name = type(self).__name__
        raise OSError(f"{name} is designed to be instantiated using `{name}.from_pretrained(...)` "
                      f"or `{name}.from_config(config)`")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        return cls.albert_class.from_pretrained(pretrained_model_name_or_path, **kwargs)

    @classmethod
    def from_config(cls, config: AlbertConfig, **kwargs):
        """A model with freshly initialized weights (`seed`, `backend`, `dtype` as the class takes
        them). Transformers' `torch_dtype` is read as `dtype`; `attn_implementation` may be "eager"
        or "sdpa" (tinyalbert computes attention one way, which both name); `trust_remote_code` is
        accepted and changes nothing."""
        kwargs["dtype"] = chosen_dtype(kwargs.pop("dtype", None), kwargs.pop("torch_dtype", None))
        check_attn_implementation(kwargs.pop("attn_implementation", None))
        kwargs.pop("trust_remote_code", None)
        return cls.albert_class(config, **kwargs)


class AutoModel(_AutoClass):
    albert_class = AlbertModel


class AutoModelForPreTraining(_AutoClass):
    albert_class = AlbertForPreTraining


class AutoModelForMaskedLM(_AutoClass):
    albert_class = AlbertForMaskedLM


class AutoModelForSequenceClassification(_AutoClass):
    albert_class = AlbertForSequenceClassification


class AutoModelForTokenClassification(_AutoClass):
    albert_class = AlbertForTokenClassification


class AutoModelForQuestionAnswering(_AutoClass):
    albert_class = AlbertForQuestionAnswering


class AutoModelForMultipleChoice(_AutoClass):
    albert_class = AlbertForMultipleChoice


class AutoModelWithLMHead(_AutoClass):
    """Transformers' older name, which for ALBERT is the masked-LM model."""

    albert_class = AlbertForMaskedLM


class AutoModelForTextEncoding(_AutoClass):
    """The bare encoder, as Transformers maps ALBERT for text encoding."""

    albert_class = AlbertModel


class AutoConfig(_AutoClass):
    albert_class = AlbertConfig

    @classmethod
    def from_config(cls, config, **kwargs):
        raise AttributeError("AutoConfig has no from_config; use AlbertConfig(**fields) or AutoConfig.from_pretrained")

    @classmethod
    def for_model(cls, model_type: str, *args, **kwargs) -> AlbertConfig:
        """`AutoConfig.for_model("albert", hidden_size=...)`: a new config, as in Transformers."""
        if model_type != "albert":
            raise ValueError(f"tinyalbert has configs for 'albert' only, got model_type={model_type!r}")
        return AlbertConfig(*args, **kwargs)


class AutoTokenizer(_AutoClass):
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, use_fast: bool | None = None, **kwargs):
        """The `AlbertTokenizer` of `pretrained_model_name_or_path`. Transformers' AutoTokenizer gives the fast
        (Rust) tokenizer unless `use_fast=False`; tinyalbert has the slow one, which Transformers'
        ALBERT checkpoints were made with. Asking for the fast one explicitly warns."""
        from .tokenizer import AlbertTokenizer

        if use_fast:
            warnings.warn("tinyalbert has only the slow, SentencePiece AlbertTokenizer; it is what you get. The fast "
                          "one differs on some text (docs/parity.md)", stacklevel=2)
        return AlbertTokenizer.from_pretrained(pretrained_model_name_or_path, **kwargs)

    @classmethod
    def from_config(cls, config, **kwargs):
        raise AttributeError("AutoTokenizer has no from_config; use AutoTokenizer.from_pretrained")
