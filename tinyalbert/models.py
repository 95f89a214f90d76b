"""The model classes, named and called as in Transformers.

Each class is thin: a config, a flat parameter dict keyed by Transformers names, and a call
that runs the functions of `tinyalbert.nn`. Arrays come in as NumPy, CuPy or any Array API
arrays and leave on the model's backend.

    model = AlbertForMaskedLM.from_pretrained("path/to/albert-base-v2")
    logits = model(input_ids=ids, attention_mask=mask).logits     # (batch, seq, vocab)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from .backend import array_namespace, asarray, dtype_name, get_backend, get_dtype, to_numpy
from .config import AlbertConfig
from .nn.albert import albert_body_forward
from .nn.encoder import weights_below
from .nn.heads import classifier_forward
from .nn.losses import bce_with_logits_forward, cross_entropy_forward, mse_forward
from .nn.pretraining import SOP_PREFIX, pretraining_backward, pretraining_forward
from .weights import (
    SAFE_WEIGHTS_NAME, body_shapes, init_parameters, linear_shapes, match_checkpoint, mlm_head_shapes,
    normalize_checkpoint_keys, read_checkpoint, write_safetensors,
)


# --- outputs ------------------------------------------------------------------------------------
class ModelOutput:
    """Fields by attribute (`out.logits`), by name (`out["logits"]`) or, skipping the unset
    ones, by position (`out[0]`), as with Transformers' outputs."""

    def to_tuple(self) -> tuple:
        return tuple(value for value in (getattr(self, f.name) for f in dataclasses.fields(self)) if value is not None)

    def keys(self) -> list:
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None]

    def __getitem__(self, key):
        return getattr(self, key) if isinstance(key, str) else self.to_tuple()[key]

    def __iter__(self):
        return iter(self.keys())


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
class SequenceClassifierOutput(MaskedLMOutput):
    pass


@dataclass
class TokenClassifierOutput(MaskedLMOutput):
    pass


@dataclass
class MultipleChoiceModelOutput(MaskedLMOutput):
    pass


@dataclass
class QuestionAnsweringModelOutput(ModelOutput):
    loss: object = None
    start_logits: object = None
    end_logits: object = None
    hidden_states: tuple | None = None
    attentions: tuple | None = None


# --- the shared machinery -----------------------------------------------------------------------
class AlbertPreTrainedModel:
    """Parameters, backend, loading and saving; subclasses add their head and their call."""

    with_pooler = True  # whether this class has `albert.pooler.*`
    base_model_prefix = "albert"
    # What `state_dict()` strips from the parameter names: the bare body (AlbertModel) is saved
    # without its `albert.` prefix, as Transformers saves it; the classes with a head keep it.
    stripped_prefix = ""

    def __init__(self, config: AlbertConfig, params: dict | None = None, *, backend="numpy", dtype="float32", seed: int = 0):
        """A model with `params` (NumPy or backend arrays keyed by Transformers names) or, when
        None, freshly initialized ones drawn from a generator seeded with `seed`."""
        self.config = config
        self.xp: ModuleType = get_backend(backend)
        self.dtype = get_dtype(self.xp, dtype)
        self.dtype_name = dtype_name(self.xp, self.dtype)
        self.training = False
        self.rng: np.random.Generator | None = None
        if params is None:
            params = init_parameters(self.parameter_shapes(config), config, np.random.default_rng(seed))
        self.params = {name: asarray(self.xp, value, dtype=self.dtype) for name, value in params.items()}

    # -- names and shapes
    @classmethod
    def head_shapes(cls, config) -> dict:
        return {}

    @classmethod
    def parameter_shapes(cls, config) -> dict:
        return {**body_shapes(config, cls.with_pooler), **cls.head_shapes(config)}

    # -- modes
    def train(self, mode: bool = True, rng: np.random.Generator | None = None):
        """Training mode turns dropout on, drawing masks from `rng` (default: seeded with 0)."""
        self.training = mode
        self.rng = (rng if rng is not None else np.random.default_rng(0)) if mode else None
        return self

    def eval(self):
        return self.train(False)

    # -- loading and saving
    @classmethod
    def from_pretrained(cls, name_or_path, *, backend="numpy", dtype="float32", allow_pickle: bool = False,
                        seed: int = 0, **config_overrides):
        """Load a Transformers-layout directory (`config.json` + `model.safetensors`), a name found
        in the local Hugging Face cache, or (with `huggingface_hub`) a Hub name.

        Head weights the checkpoint lacks are initialized as Transformers does, with a warning.
        """
        from .hub import resolve_model_dir

        directory = resolve_model_dir(name_or_path)
        config = AlbertConfig.from_pretrained(directory, **config_overrides)
        tensors, source = read_checkpoint(directory, allow_pickle=allow_pickle)
        tensors = normalize_checkpoint_keys(tensors, config)
        params = match_checkpoint(tensors, cls.parameter_shapes(config), source, config, np.random.default_rng(seed))
        return cls(config, params, backend=backend, dtype=dtype)

    def state_dict(self) -> dict:
        """The parameters keyed by the names Transformers gives them in this class."""
        cut = len(self.stripped_prefix)
        return {name[cut:]: value for name, value in self.params.items()}

    def load_state_dict(self, state: dict) -> None:
        """Replace the parameters (same names and shapes as `state_dict()`)."""
        own = self.state_dict()
        if set(state) != set(own):
            raise ValueError(
                f"state dict keys differ: missing {sorted(set(own) - set(state))}, "
                f"unexpected {sorted(set(state) - set(own))}"
            )
        for name, value in state.items():
            if tuple(value.shape) != tuple(own[name].shape):
                raise ValueError(f"{name}: shape {tuple(value.shape)} does not match {tuple(own[name].shape)}")
        prefix = self.stripped_prefix
        # Keep the model's own key order: sums over all parameters (the global gradient norm)
        # then add in the same order before and after a checkpoint round trip.
        self.params = {prefix + name: asarray(self.xp, state[name], dtype=self.dtype) for name in own}

    def save_pretrained(self, directory) -> Path:
        """Write `config.json` and `model.safetensors` so that this package and Transformers load them."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        # The saved config names this class and dtype; the model's own config is left as it was.
        config = dataclasses.replace(self.config, architectures=[type(self).__name__],
                                     extra={**self.config.extra, "torch_dtype": self.dtype_name})
        config.save_pretrained(directory)
        write_safetensors({name: to_numpy(value) for name, value in self.state_dict().items()}, directory / SAFE_WEIGHTS_NAME)
        return directory

    def num_parameters(self) -> int:
        return sum(int(np.prod(value.shape)) for value in self.params.values())

    # -- the forward pass
    def _prepare_inputs(self, input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds):
        """Move inputs to the backend and fill in Transformers' defaults."""
        xp = self.xp
        if input_ids is not None and inputs_embeds is not None:
            raise ValueError("You cannot specify both input_ids and inputs_embeds at the same time")
        if input_ids is None and inputs_embeds is None:
            raise ValueError("You have to specify either input_ids or inputs_embeds")
        if input_ids is not None:
            input_ids = asarray(xp, input_ids)
            if input_ids.ndim != 2:
                raise ValueError(f"input_ids must have shape (batch, seq), got {tuple(input_ids.shape)}")
            shape = tuple(input_ids.shape)
            if not xp.isdtype(input_ids.dtype, "integral"):
                raise ValueError(f"input_ids must be integers, got {input_ids.dtype}")
            if int(xp.min(input_ids)) < 0 or int(xp.max(input_ids)) >= self.config.vocab_size:
                raise ValueError(f"input_ids must lie in [0, {self.config.vocab_size}) (vocab_size)")
        else:
            inputs_embeds = asarray(xp, inputs_embeds, dtype=self.dtype)
            if inputs_embeds.ndim != 3 or inputs_embeds.shape[-1] != self.config.embedding_size:
                raise ValueError(
                    f"inputs_embeds must have shape (batch, seq, {self.config.embedding_size}), "
                    f"got {tuple(inputs_embeds.shape)}"
                )
            shape = tuple(inputs_embeds.shape[:2])
        batch, seq = shape
        if seq > self.config.max_position_embeddings and self.config.position_embedding_type == "absolute":
            raise ValueError(
                f"sequence length {seq} exceeds max_position_embeddings ({self.config.max_position_embeddings})"
            )
        attention_mask = xp.ones(shape, dtype=self.dtype) if attention_mask is None else asarray(xp, attention_mask)
        token_type_ids = (
            xp.zeros(shape, dtype=xp.int64) if token_type_ids is None else asarray(xp, token_type_ids)
        )
        position_ids = xp.arange(seq, dtype=xp.int64)[None, :] if position_ids is None else asarray(xp, position_ids)
        for name, value in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
            if tuple(value.shape) != shape:
                raise ValueError(f"{name} must have shape {shape} like the inputs, got {tuple(value.shape)}")
        if head_mask is not None:
            head_mask = asarray(xp, head_mask, dtype=self.dtype)
        return input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds

    def _body(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
              inputs_embeds=None, output_hidden_states=False, output_attentions=False):
        input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds = self._prepare_inputs(
            input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds
        )
        return albert_body_forward(
            self.params, self.config, input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
            position_ids=position_ids, head_mask=head_mask, inputs_embeds=inputs_embeds,
            with_pooler=self.with_pooler, output_hidden_states=bool(output_hidden_states),
            output_attentions=bool(output_attentions), rng=self._dropout_rng(),
        )

    def _dropout_rng(self):
        return self.rng if self.training else None

    def _labels(self, labels):
        return None if labels is None else asarray(self.xp, labels)

    @staticmethod
    def _tuple(values):
        return None if values is None else tuple(values)

    def _pretraining(self, input_ids, labels, sentence_order_label, attention_mask=None, token_type_ids=None,
                     position_ids=None, head_mask=None, inputs_embeds=None, output_hidden_states=False,
                     output_attentions=False, keep_caches=False, loss_scales=(1.0, 1.0)):
        """Check and prepare the inputs, then run the MLM (+ SOP) objective of `nn.pretraining`."""
        input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds = self._prepare_inputs(
            input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds
        )
        labels = self._labels(labels)
        shape = tuple(attention_mask.shape)
        if labels is not None and tuple(labels.shape) != shape:
            raise ValueError(f"labels must have the shape of input_ids {shape}, got {tuple(labels.shape)}")
        return pretraining_forward(
            self.params, self.config, input_ids, labels, self._labels(sentence_order_label), attention_mask,
            token_type_ids, position_ids, self._dropout_rng(), head_mask=head_mask, inputs_embeds=inputs_embeds,
            output_hidden_states=bool(output_hidden_states), output_attentions=bool(output_attentions),
            keep_caches=keep_caches, loss_scales=loss_scales,
        )

    def _pretraining_loss_and_grads(self, input_ids, labels, sentence_order_label, attention_mask, token_type_ids,
                                    loss_scales):
        if labels is None:
            raise ValueError("loss_and_grads needs labels (batch, seq), -100 where nothing is predicted")
        loss, outputs, cache = self._pretraining(
            input_ids, labels, sentence_order_label, attention_mask, token_type_ids, keep_caches=True,
            loss_scales=loss_scales,
        )
        del outputs  # perf: the (batch, seq, vocab) logits are not needed for the gradients: free them first
        return loss, pretraining_backward(cache)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)


def _flat_cross_entropy(logits, labels, classes: int):
    xp = array_namespace(logits)
    loss, _ = cross_entropy_forward(xp.reshape(logits, (-1, classes)), xp.reshape(labels, (-1,)))
    return loss


# --- the model classes --------------------------------------------------------------------------
class AlbertModel(AlbertPreTrainedModel):
    """The bare body: `last_hidden_state` (batch, seq, hidden) and `pooler_output` (batch, hidden)."""

    stripped_prefix = "albert."

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=True):
        body, _ = self._body(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                             output_hidden_states, output_attentions)
        return BaseModelOutputWithPooling(
            body.sequence_output, body.pooled_output, self._tuple(body.hidden_states), self._tuple(body.attentions)
        )


class AlbertForPreTraining(AlbertPreTrainedModel):
    """MLM head (tied to the word embeddings) and sentence-order-prediction head."""

    @classmethod
    def head_shapes(cls, config):
        return {**mlm_head_shapes(config), **linear_shapes(SOP_PREFIX, config.hidden_size, config.num_labels)}

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, labels=None, sentence_order_label=None, output_attentions=None,
                output_hidden_states=None, return_dict=True):
        if labels is None or sentence_order_label is None:  # Transformers gives a loss only with both
            labels = sentence_order_label = None
        loss, out, _ = self._pretraining(input_ids, labels, sentence_order_label, attention_mask, token_type_ids,
                                         position_ids, head_mask, inputs_embeds, output_hidden_states,
                                         output_attentions)
        return AlbertForPreTrainingOutput(
            loss, out.prediction_logits, out.sop_logits, self._tuple(out.hidden_states), self._tuple(out.attentions)
        )

    def loss_and_grads(self, input_ids, labels, sentence_order_label, attention_mask=None, token_type_ids=None,
                       loss_scales=(1.0, 1.0)):
        """Total MLM + SOP loss and the gradient of every parameter (keys of `state_dict()`).
        `loss_scales` weights the MLM and SOP terms (data-parallel training passes each process's shares)."""
        return self._pretraining_loss_and_grads(input_ids, labels, sentence_order_label, attention_mask, token_type_ids,
                                                loss_scales)


class AlbertForMaskedLM(AlbertPreTrainedModel):
    """The MLM head alone: `logits` (batch, seq, vocab)."""

    with_pooler = False

    @classmethod
    def head_shapes(cls, config):
        return mlm_head_shapes(config)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None, return_dict=True):
        loss, out, _ = self._pretraining(input_ids, labels, None, attention_mask, token_type_ids, position_ids,
                                         head_mask, inputs_embeds, output_hidden_states, output_attentions)
        return MaskedLMOutput(loss, out.prediction_logits, self._tuple(out.hidden_states), self._tuple(out.attentions))

    def loss_and_grads(self, input_ids, labels, attention_mask=None, token_type_ids=None, loss_scales=(1.0, 1.0)):
        """MLM loss and the gradient of every parameter (keys of `state_dict()`); only the first of
        `loss_scales` applies, there being no SOP term."""
        return self._pretraining_loss_and_grads(input_ids, labels, None, attention_mask, token_type_ids, loss_scales)


class AlbertForSequenceClassification(AlbertPreTrainedModel):
    """A linear layer on the pooled [CLS] vector: `logits` (batch, num_labels).

    The loss follows `config.problem_type`, inferred on first use as Transformers does:
    one label -> regression (MSE); integer labels -> single-label (cross-entropy);
    otherwise multi-label (BCE with logits).
    """

    @classmethod
    def head_shapes(cls, config):
        return linear_shapes("classifier.", config.hidden_size, config.num_labels)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None, return_dict=True):
        body, _ = self._body(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                             output_hidden_states, output_attentions)
        logits, _ = classifier_forward(
            body.pooled_output, weights_below(self.params, "classifier."),
            dropout=self.config.classifier_dropout_prob, rng=self._dropout_rng(),
        )
        loss = None
        labels = self._labels(labels)
        if labels is not None:
            loss = self._loss(logits, labels)
        return SequenceClassifierOutput(loss, logits, self._tuple(body.hidden_states), self._tuple(body.attentions))

    def _loss(self, logits, labels):
        xp, num_labels = self.xp, self.config.num_labels
        if self.config.problem_type is None:
            if num_labels == 1:
                self.config.problem_type = "regression"
            elif xp.isdtype(labels.dtype, "integral"):
                self.config.problem_type = "single_label_classification"
            else:
                self.config.problem_type = "multi_label_classification"
        if self.config.problem_type == "regression":
            labels = xp.astype(labels, logits.dtype)
            if num_labels == 1:
                return mse_forward(xp.reshape(logits, (-1,)), xp.reshape(labels, (-1,)))[0]
            return mse_forward(logits, labels)[0]
        if self.config.problem_type == "single_label_classification":
            return _flat_cross_entropy(logits, labels, num_labels)
        return bce_with_logits_forward(logits, xp.astype(labels, logits.dtype))[0]

    def loss_and_grads(self, input_ids, labels, attention_mask=None, token_type_ids=None, position_ids=None):
        """The loss of `forward` (problem_type inferred on first use) and the gradient of every
        parameter, keyed like `state_dict()`. Dropout is on in training mode (masks from `self.rng`)."""
        from .nn import finetuning

        inputs = finetuning.prepared_inputs(self, input_ids, attention_mask, token_type_ids, position_ids)
        labels = self._labels(labels)
        self.config.problem_type = finetuning.infer_problem_type(self.config, labels)
        loss, _, cache = finetuning.sequence_classification_forward(
            self.params, self.config, inputs, labels, problem_type=self.config.problem_type, rng=self._dropout_rng()
        )
        return loss, finetuning.complete_grads(self.params, finetuning.sequence_classification_backward(cache))


class AlbertForTokenClassification(AlbertPreTrainedModel):
    """A linear layer on every token: `logits` (batch, seq, num_labels)."""

    with_pooler = False

    @classmethod
    def head_shapes(cls, config):
        return linear_shapes("classifier.", config.hidden_size, config.num_labels)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None, return_dict=True):
        body, _ = self._body(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                             output_hidden_states, output_attentions)
        dropout = self.config.classifier_dropout_prob
        dropout = self.config.hidden_dropout_prob if dropout is None else dropout
        logits, _ = classifier_forward(
            body.sequence_output, weights_below(self.params, "classifier."), dropout=dropout, rng=self._dropout_rng()
        )
        labels = self._labels(labels)
        loss = None if labels is None else _flat_cross_entropy(logits, labels, self.config.num_labels)
        return TokenClassifierOutput(loss, logits, self._tuple(body.hidden_states), self._tuple(body.attentions))

    def loss_and_grads(self, input_ids, labels, attention_mask=None, token_type_ids=None, position_ids=None):
        """Token cross-entropy (labels -100 ignored) and the gradient of every parameter, keyed
        like `state_dict()`. Dropout is on in training mode (masks from `self.rng`)."""
        from .nn import finetuning

        inputs = finetuning.prepared_inputs(self, input_ids, attention_mask, token_type_ids, position_ids)
        loss, _, cache = finetuning.token_classification_forward(
            self.params, self.config, inputs, self._labels(labels), rng=self._dropout_rng()
        )
        return loss, finetuning.complete_grads(self.params, finetuning.token_classification_backward(cache))


class AlbertForQuestionAnswering(AlbertPreTrainedModel):
    """Span extraction: `start_logits` and `end_logits`, each (batch, seq)."""

    with_pooler = False

    @classmethod
    def head_shapes(cls, config):
        return linear_shapes("qa_outputs.", config.hidden_size, config.num_labels)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, start_positions=None, end_positions=None, output_attentions=None,
                output_hidden_states=None, return_dict=True):
        xp = self.xp
        if self.config.num_labels != 2:
            raise ValueError(f"AlbertForQuestionAnswering needs config.num_labels == 2, got {self.config.num_labels}")
        body, _ = self._body(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                             output_hidden_states, output_attentions)
        logits, _ = classifier_forward(body.sequence_output, weights_below(self.params, "qa_outputs."))
        start_logits, end_logits = logits[..., 0], logits[..., 1]
        loss = None
        if start_positions is not None and end_positions is not None:
            # Positions outside the sequence are clamped to `seq` and then ignored, as in Transformers.
            seq = start_logits.shape[1]
            start = xp.clip(xp.reshape(asarray(xp, start_positions), (-1,)), 0, seq)
            end = xp.clip(xp.reshape(asarray(xp, end_positions), (-1,)), 0, seq)
            start_loss, _ = cross_entropy_forward(start_logits, start, ignore_index=seq)
            end_loss, _ = cross_entropy_forward(end_logits, end, ignore_index=seq)
            loss = (start_loss + end_loss) / 2
        return QuestionAnsweringModelOutput(
            loss, start_logits, end_logits, self._tuple(body.hidden_states), self._tuple(body.attentions)
        )

    def loss_and_grads(self, input_ids, start_positions, end_positions, attention_mask=None, token_type_ids=None,
                       position_ids=None):
        """Mean of the start and end cross-entropies (positions clamped to [0, seq], seq ignored)
        and the gradient of every parameter, keyed like `state_dict()`."""
        from .nn import finetuning

        if self.config.num_labels != 2:
            raise ValueError(f"AlbertForQuestionAnswering needs config.num_labels == 2, got {self.config.num_labels}")
        inputs = finetuning.prepared_inputs(self, input_ids, attention_mask, token_type_ids, position_ids)
        loss, _, cache = finetuning.question_answering_forward(
            self.params, self.config, inputs, self._labels(start_positions), self._labels(end_positions),
            rng=self._dropout_rng(),
        )
        return loss, finetuning.complete_grads(self.params, finetuning.question_answering_backward(cache))


class AlbertForMultipleChoice(AlbertPreTrainedModel):
    """Scores each choice from its pooled [CLS] vector: inputs (batch, choices, seq),
    `logits` (batch, choices)."""

    @classmethod
    def head_shapes(cls, config):
        return linear_shapes("classifier.", config.hidden_size, 1)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None, return_dict=True):
        xp = self.xp
        source = input_ids if input_ids is not None else inputs_embeds
        if source is None:
            raise ValueError("You have to specify either input_ids or inputs_embeds")
        num_choices = source.shape[1]

        def flatten(value):
            if value is None:
                return None
            value = asarray(xp, value)
            return xp.reshape(value, (-1, *value.shape[2:]))

        body, _ = self._body(flatten(input_ids), flatten(attention_mask), flatten(token_type_ids),
                             flatten(position_ids), head_mask, flatten(inputs_embeds),
                             output_hidden_states, output_attentions)
        scores, _ = classifier_forward(
            body.pooled_output, weights_below(self.params, "classifier."),
            dropout=self.config.classifier_dropout_prob, rng=self._dropout_rng(),
        )
        logits = xp.reshape(scores, (-1, num_choices))
        labels = self._labels(labels)
        loss = None if labels is None else _flat_cross_entropy(logits, labels, num_choices)
        return MultipleChoiceModelOutput(loss, logits, self._tuple(body.hidden_states), self._tuple(body.attentions))

    def loss_and_grads(self, input_ids, labels, attention_mask=None, token_type_ids=None, position_ids=None):
        """Cross-entropy over the choices (inputs (batch, choices, seq), labels (batch,)) and the
        gradient of every parameter, keyed like `state_dict()`."""
        from .nn import finetuning

        inputs = finetuning.prepared_inputs(self, input_ids, attention_mask, token_type_ids, position_ids, choices=True)
        loss, _, cache = finetuning.multiple_choice_forward(
            self.params, self.config, inputs, self._labels(labels), rng=self._dropout_rng()
        )
        return loss, finetuning.complete_grads(self.params, finetuning.multiple_choice_backward(cache))

