"""What the model classes return: named fields that also behave like an ordered dict and a tuple.

As with Transformers' `ModelOutput`, a field left at None (no labels, so no `loss`) is not there:
it is absent from `keys()`, `len()`, `to_tuple()` and integer indexing, while `out.loss` still
reads None.

    out = model(input_ids, labels=labels)
    out.logits, out["logits"], out[1]        # the same array (out[0] is the loss)
    loss, logits = out.to_tuple()            # what `return_dict=False` returns

The keys are fixed when the output is made, in field order, and change as in Transformers:
setting a field that was None by attribute (`out.loss = x`) leaves it out of `keys()`, setting
it by name (`out["loss"] = x`) adds it after the others. Unlike Transformers' `ModelOutput`, this
is no `OrderedDict` subclass (`isinstance(out, dict)` is False), but it has the dict methods.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


class ModelOutput:
    """Fields by attribute, by name (`out["logits"]`), by position or slice over the set fields."""

    def __post_init__(self):
        # The fields holding a value, in declared order; `__setitem__` appends to it afterwards.
        object.__setattr__(self, "_keys", [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None])

    def keys(self) -> list:
        return list(self._keys)

    def values(self) -> list:
        return [getattr(self, name) for name in self.keys()]

    def items(self) -> list:
        return [(name, getattr(self, name)) for name in self.keys()]

    def to_tuple(self) -> tuple:
        return tuple(self.values())

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in self.keys():  # unset fields are absent, as in a dict
                raise KeyError(key)
            return getattr(self, key)
        return self.to_tuple()[key]

    def __setitem__(self, key, value):
        if key not in {f.name for f in dataclasses.fields(self)}:
            raise KeyError(f"{type(self).__name__} has no field {key!r}")
        setattr(self, key, value)
        if key not in self._keys:  # a new key goes last, as in Transformers' OrderedDict
            self._keys.append(key)

    def __contains__(self, key) -> bool:
        return key in self.keys()

    def __len__(self) -> int:
        return len(self.keys())

    def __iter__(self):
        # Like a dict: iterating gives the names. Unpack the values with `to_tuple()`.
        return iter(self.keys())

    def get(self, key, default=None):
        return getattr(self, key) if key in self.keys() else default


@dataclass
class BaseModelOutputWithPooling(ModelOutput):
    last_hidden_state: object = None
    pooler_output: object = None
    hidden_states: tuple | None = None
    attentions: tuple | None = None


@dataclass
class AlbertForPreTrainingOutput(ModelOutput):
    loss: object = None
    prediction_logits: object = None
    sop_logits: object = None
    hidden_states: tuple | None = None
    attentions: tuple | None = None


@dataclass
class MaskedLMOutput(ModelOutput):
    loss: object = None
    logits: object = None
    hidden_states: tuple | None = None
    attentions: tuple | None = None


@dataclass
class SequenceClassifierOutput(ModelOutput):
    loss: object = None
    logits: object = None
    hidden_states: tuple | None = None
    attentions: tuple | None = None


@dataclass
class TokenClassifierOutput(ModelOutput):
    loss: object = None
    logits: object = None
    hidden_states: tuple | None = None
    attentions: tuple | None = None


@dataclass
class MultipleChoiceModelOutput(ModelOutput):
    loss: object = None
    logits: object = None
    hidden_states: tuple | None = None
    attentions: tuple | None = None


@dataclass
class QuestionAnsweringModelOutput(ModelOutput):
    loss: object = None
    start_logits: object = None
    end_logits: object = None
    hidden_states: tuple | None = None
    attentions: tuple | None = None
