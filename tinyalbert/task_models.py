"""The four task classes, named and called as in Transformers: sequence classification, token
classification, question answering and multiple choice. Each is a linear head on the body of
`tinyalbert.models.AlbertPreTrainedModel`; `loss_and_grads` runs the hand-written backward of
`tinyalbert.nn.finetuning`.

    model = AlbertForSequenceClassification.from_pretrained("tinyalbert-mini", num_labels=3)
    loss, grads = model.loss_and_grads(input_ids=ids, labels=labels)   # grads keyed like state_dict()
"""
from __future__ import annotations

import math

from .backend import asarray
from .inputs import check_span_positions, refuse_mapping
from .models import AlbertPreTrainedModel, flat_cross_entropy
from .nn.albert import complete_grads
from .nn import finetuning
from .nn.encoder import weights_below
from .nn.heads import classifier_forward
from .nn.losses import bce_with_logits_forward, cross_entropy_forward, mse_forward
from .outputs import (
    MultipleChoiceModelOutput, QuestionAnsweringModelOutput, SequenceClassifierOutput, TokenClassifierOutput,
)
from .weights import linear_shapes


class AlbertForSequenceClassification(AlbertPreTrainedModel):
    """A linear layer on the pooled [CLS] vector: `logits` (batch, num_labels).

    The loss follows `config.problem_type`, inferred on first use as Transformers does:
    one label -> regression (MSE); integer labels -> single-label (cross-entropy);
    otherwise multi-label (BCE with logits).
    """

    has_num_labels_attribute = True

    @classmethod
    def head_shapes(cls, config):
        return linear_shapes("classifier.", config.hidden_size, config.num_labels)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None, return_dict=None):
        _check_classifier_size(self)
        body, _ = self._body(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                             output_hidden_states, output_attentions)
        logits, _ = classifier_forward(
            body.pooled_output, weights_below(self.params, "classifier."),
            dropout=self.config.classifier_dropout_prob, rng=self._dropout_rng(),
        )
        loss = None
        if labels is not None:
            loss = self._loss(logits, self._targets(labels, logits.shape[0]))
        output = SequenceClassifierOutput(loss, logits, self._tuple(body.hidden_states), self._tuple(body.attentions))
        return self._finish_output(output, return_dict)

    def _targets(self, labels, batch: int):
        """`labels` checked against the loss `config.problem_type` names (inferred on first use, as
        Transformers does): class ids (batch,) for single-label; for regression (batch,) with one
        label, else (batch, num_labels), as for multi-label. Same-size labels of another shape are
        refused: a broadcast or a reshape would compute a loss that pairs the wrong values."""
        labels = self._labels(labels)
        self.config.problem_type = finetuning.infer_problem_type(self.config, labels)
        num_labels = self.config.num_labels
        if self.config.problem_type == "single_label_classification":
            return self._class_ids(labels, batch)
        if self.config.problem_type == "regression" and num_labels == 1:
            if labels.size != batch:  # Transformers squeezes both: (batch,), (batch, 1) and (1, batch) all work
                raise ValueError(f"labels must have one value per example, shape ({batch},), got {tuple(labels.shape)}")
            return self.xp.reshape(labels, (batch,))
        if tuple(labels.shape) != (batch, num_labels):
            raise ValueError(f"labels must have one value per logit, shape ({batch}, {num_labels}) "
                             f"({self.config.problem_type}), got {tuple(labels.shape)}")
        return labels

    def _loss(self, logits, labels):
        """The loss of `labels` already checked by `_targets`."""
        xp = self.xp
        if self.config.problem_type == "regression":
            return mse_forward(logits if labels.ndim == 2 else xp.reshape(logits, (-1,)), xp.astype(labels, logits.dtype))[0]
        if self.config.problem_type == "single_label_classification":
            return flat_cross_entropy(logits, labels, self.config.num_labels)
        return bce_with_logits_forward(logits, xp.astype(labels, logits.dtype))[0]

    def _class_ids(self, labels, batch: int):
        """Single-label targets, (batch,) or (batch, 1), as a (batch,) array of class ids."""
        if labels.size != batch:
            multi_hot = labels.ndim == 2 and labels.shape[0] == batch
            hint = ("; multi-hot targets must be floats (0.0 / 1.0), which select multi_label_classification, "
                    "or set config.problem_type" if multi_hot else "")
            raise ValueError(f"labels must have shape ({batch},), one class id per example "
                             f"(single_label_classification), got {tuple(labels.shape)}{hint}")
        return self._labels(self.xp.reshape(labels, (-1,)), "labels", self.config.num_labels, (batch,))

    def loss_and_grads(self, input_ids, labels, attention_mask=None, token_type_ids=None, position_ids=None):
        """The loss of `forward` (problem_type inferred on first use) and the gradient of every
        parameter, keyed like `state_dict()`. Dropout is on in training mode (masks from `self.rng`)."""
        _check_classifier_size(self)
        inputs = _prepared_inputs(self, input_ids, attention_mask, token_type_ids, position_ids)
        labels = self._targets(labels, inputs.input_ids.shape[0])
        loss, _, cache = finetuning.sequence_classification_forward(
            self.params, self.config, inputs, labels, problem_type=self.config.problem_type, rng=self._dropout_rng()
        )
        return loss, complete_grads(self.params, finetuning.sequence_classification_backward(cache))


def _check_classifier_size(model) -> None:
    """The classifier was built for `config.num_labels` labels; a label map changed since
    (`config.id2label = {...}` with another count) would index past its rows."""
    rows = model.params["classifier.weight"].shape[0]
    if rows != model.config.num_labels:
        raise ValueError(
            f"config.num_labels is {model.config.num_labels} but the classifier has {rows} outputs: the label map "
            "changed after the model was built. Build it with the new labels instead: "
            "from_pretrained(..., num_labels=N, ignore_mismatched_sizes=True) (a new, untrained classifier)"
        )


class AlbertForTokenClassification(AlbertPreTrainedModel):
    """A linear layer on every token: `logits` (batch, seq, num_labels)."""

    has_num_labels_attribute = True
    with_pooler = False

    @classmethod
    def head_shapes(cls, config):
        return linear_shapes("classifier.", config.hidden_size, config.num_labels)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None, return_dict=None):
        _check_classifier_size(self)
        body, _ = self._body(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                             output_hidden_states, output_attentions)
        dropout = self.config.classifier_dropout_prob
        dropout = self.config.hidden_dropout_prob if dropout is None else dropout
        logits, _ = classifier_forward(
            body.sequence_output, weights_below(self.params, "classifier."), dropout=dropout, rng=self._dropout_rng()
        )
        labels = self._position_labels(labels, "labels", self.config.num_labels, logits.shape[:2])
        loss = None if labels is None else flat_cross_entropy(logits, labels, self.config.num_labels)
        output = TokenClassifierOutput(loss, logits, self._tuple(body.hidden_states), self._tuple(body.attentions))
        return self._finish_output(output, return_dict)

    def loss_and_grads(self, input_ids, labels, attention_mask=None, token_type_ids=None, position_ids=None):
        """Token cross-entropy (labels -100 ignored) and the gradient of every parameter, keyed
        like `state_dict()`. Dropout is on in training mode (masks from `self.rng`)."""
        _check_classifier_size(self)
        inputs = _prepared_inputs(self, input_ids, attention_mask, token_type_ids, position_ids)
        labels = self._position_labels(labels, "labels", self.config.num_labels, inputs.input_ids.shape)
        loss, _, cache = finetuning.token_classification_forward(
            self.params, self.config, inputs, labels, rng=self._dropout_rng()
        )
        return loss, complete_grads(self.params, finetuning.token_classification_backward(cache))


class AlbertForQuestionAnswering(AlbertPreTrainedModel):
    """Span extraction: `start_logits` and `end_logits`, each (batch, seq)."""

    has_num_labels_attribute = True
    with_pooler = False

    @classmethod
    def head_shapes(cls, config):
        return linear_shapes("qa_outputs.", config.hidden_size, config.num_labels)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, start_positions=None, end_positions=None, output_attentions=None,
                output_hidden_states=None, return_dict=None):
        xp = self.xp
        if self.config.num_labels != 2:
            raise ValueError(f"AlbertForQuestionAnswering needs config.num_labels == 2, got {self.config.num_labels}")
        body, _ = self._body(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                             output_hidden_states, output_attentions)
        logits, _ = classifier_forward(body.sequence_output, weights_below(self.params, "qa_outputs."))
        start_logits, end_logits = logits[..., 0], logits[..., 1]
        loss = None
        if start_positions is not None and end_positions is not None:
            # Positions beyond the sequence are clamped to `seq` and then ignored, as in Transformers.
            seq, batch = start_logits.shape[1], start_logits.shape[0]
            start = xp.clip(check_span_positions(xp, start_positions, "start_positions", batch), 0, seq)
            end = xp.clip(check_span_positions(xp, end_positions, "end_positions", batch), 0, seq)
            start_loss, _ = cross_entropy_forward(start_logits, start, ignore_index=seq)
            end_loss, _ = cross_entropy_forward(end_logits, end, ignore_index=seq)
            loss = (start_loss + end_loss) / 2
        return self._finish_output(QuestionAnsweringModelOutput(
            loss, start_logits, end_logits, self._tuple(body.hidden_states), self._tuple(body.attentions)
        ), return_dict)

    def loss_and_grads(self, input_ids, start_positions, end_positions, attention_mask=None, token_type_ids=None,
                       position_ids=None):
        """Mean of the start and end cross-entropies (positions clamped to [0, seq], seq ignored)
        and the gradient of every parameter, keyed like `state_dict()`."""
        if self.config.num_labels != 2:
            raise ValueError(f"AlbertForQuestionAnswering needs config.num_labels == 2, got {self.config.num_labels}")
        inputs = _prepared_inputs(self, input_ids, attention_mask, token_type_ids, position_ids)
        batch = inputs.input_ids.shape[0]
        loss, _, cache = finetuning.question_answering_forward(
            self.params, self.config, inputs, check_span_positions(self.xp, start_positions, "start_positions", batch),
            check_span_positions(self.xp, end_positions, "end_positions", batch), rng=self._dropout_rng(),
        )
        return loss, complete_grads(self.params, finetuning.question_answering_backward(cache))


class AlbertForMultipleChoice(AlbertPreTrainedModel):
    """Scores each choice from its pooled [CLS] vector: inputs (batch, choices, seq),
    `logits` (batch, choices)."""

    @classmethod
    def head_shapes(cls, config):
        return linear_shapes("classifier.", config.hidden_size, 1)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
                inputs_embeds=None, labels=None, output_attentions=None, output_hidden_states=None, return_dict=None):
        xp = self.xp
        source = input_ids if input_ids is not None else inputs_embeds
        if source is None:
            raise ValueError("You have to specify either input_ids or inputs_embeds")
        refuse_mapping(source, "input_ids" if input_ids is not None else "inputs_embeds")
        source = asarray(xp, source)
        if source.ndim != (3 if input_ids is not None else 4):
            raise ValueError(f"{'input_ids' if input_ids is not None else 'inputs_embeds'} must have shape "
                             f"(batch, choices, seq{'' if input_ids is not None else ', embedding_size'}), "
                             f"got {tuple(source.shape)}")
        num_choices = source.shape[1]

        def flatten(value, axes: int = 3):
            # (batch, choices, seq) -> (batch * choices, seq), as Transformers' view(-1, seq); an
            # input given flat already, or position ids (seq,) / (1, seq), is the body's to check.
            if value is None:
                return None
            value = asarray(xp, value)
            if value.ndim != axes:
                return value
            return xp.reshape(value, (value.shape[0] * value.shape[1], *value.shape[2:]))

        body, _ = self._body(flatten(input_ids), flatten(attention_mask), flatten(token_type_ids),
                             flatten(position_ids), head_mask, flatten(inputs_embeds, 4),
                             output_hidden_states, output_attentions)
        scores, _ = classifier_forward(
            body.pooled_output, weights_below(self.params, "classifier."),
            dropout=self.config.classifier_dropout_prob, rng=self._dropout_rng(),
        )
        logits = xp.reshape(scores, (-1, num_choices))
        labels = self._labels(labels, "labels", num_choices, logits.shape[:1])
        loss = None if labels is None else flat_cross_entropy(logits, labels, num_choices)
        output = MultipleChoiceModelOutput(loss, logits, self._tuple(body.hidden_states), self._tuple(body.attentions))
        return self._finish_output(output, return_dict)

    def loss_and_grads(self, input_ids, labels, attention_mask=None, token_type_ids=None, position_ids=None):
        """Cross-entropy over the choices (inputs (batch, choices, seq), labels (batch,)) and the
        gradient of every parameter, keyed like `state_dict()`."""
        inputs = _prepared_inputs(self, input_ids, attention_mask, token_type_ids, position_ids, choices=True)
        batch, num_choices = inputs.input_ids.shape[:2]
        labels = self._labels(labels, "labels", num_choices, (batch,))
        loss, _, cache = finetuning.multiple_choice_forward(
            self.params, self.config, inputs, labels, rng=self._dropout_rng()
        )
        return loss, complete_grads(self.params, finetuning.multiple_choice_backward(cache))



# The class that each fine-tuning task trains, and each task pipeline runs.
TASK_CLASSES = {"text-classification": AlbertForSequenceClassification,
                "token-classification": AlbertForTokenClassification,
                "question-answering": AlbertForQuestionAnswering,
                "multiple-choice": AlbertForMultipleChoice}

def _prepared_inputs(model, input_ids, attention_mask=None, token_type_ids=None, position_ids=None,
                     choices: bool = False) -> finetuning.AlbertInputs:
    """The inputs on the model's backend with its defaults filled in (all-ones mask, zero token
    types, positions 0..seq-1) and checked. With `choices`, inputs are (batch, choices, seq):
    checked as (batch * choices, seq) sequences, returned in their own shape."""
    xp = model.xp
    refuse_mapping(input_ids)
    input_ids = asarray(xp, input_ids)
    wanted = 3 if choices else 2
    if input_ids.ndim != wanted:
        axes = "(batch, choices, seq)" if choices else "(batch, seq)"
        raise ValueError(f"input_ids must have shape {axes}, got {tuple(input_ids.shape)}")
    shape = tuple(input_ids.shape)
    rows = (math.prod(shape[:-1]), shape[-1])  # one row per sequence (per choice)

    def as_rows(value, name):
        # Checked before the reshape: a reshape alone would read a transposed mask without a word.
        if value is None:
            return None
        value = asarray(xp, value)
        if tuple(value.shape) not in (shape, rows):
            raise ValueError(f"{name} must have shape {shape} like input_ids, got {tuple(value.shape)}")
        return xp.reshape(value, rows)

    if position_ids is not None:  # (seq,) and (1, seq) are broadcast by the model; (batch, choices, seq) flattened
        position_ids = asarray(xp, position_ids)
        position_ids = as_rows(position_ids, "position_ids") if position_ids.ndim == 3 else position_ids
    ids, mask, types, positions, _, _ = model._prepare_inputs(
        xp.reshape(input_ids, rows), as_rows(attention_mask, "attention_mask"),
        as_rows(token_type_ids, "token_type_ids"), position_ids, None, None,
    )
    return finetuning.AlbertInputs(xp.reshape(ids, shape), xp.reshape(mask, shape), xp.reshape(types, shape), positions)
