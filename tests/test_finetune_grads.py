"""Gradients of the four fine-tuning heads: central differences, then torch autograd.

First the new pieces alone (the MSE and BCE backward, each head's backward through a whole small
model) against `tinyalbert.gradcheck`'s central differences in float64; then every class against
Transformers 4.53.3 on hypothesis-drawn configs, loss and every parameter's gradient, with the
tolerances (and their reasons) of test_grad_parity.py.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import test_grad_parity as reference_helpers  # the torch side: model building, tolerances, comparisons
import tinyalbert as ta
from tinyalbert.gradcheck import assert_gradient_close, check_gradients, numeric_gradient_array
from tinyalbert.nn.losses import bce_with_logits_backward, bce_with_logits_forward, mse_backward, mse_forward

SMALL = dict(
    vocab_size=20, embedding_size=5, hidden_size=6, num_attention_heads=2, intermediate_size=7,
    num_hidden_groups=1, num_hidden_layers=2, inner_group_num=1, hidden_act="gelu_new",
    max_position_embeddings=10, type_vocab_size=2, hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0, initializer_range=0.5,
)


# --- the losses alone ----------------------------------------------------------------------------
def test_mse_backward_matches_central_differences():
    rng = np.random.default_rng(0)
    predictions, targets = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    _, cache = mse_forward(predictions, targets)
    analytic, _ = mse_backward(1.7, cache)
    numeric = numeric_gradient_array(lambda x: mse_forward(x, targets)[0], predictions.copy(), 1.7)
    assert_gradient_close(analytic, numeric, "mse d_predictions")


def test_bce_backward_matches_central_differences_and_survives_large_logits():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=4.0, size=(5, 3))
    targets = rng.integers(0, 2, size=(5, 3)).astype(np.float64)
    _, cache = bce_with_logits_forward(logits, targets)
    analytic, _ = bce_with_logits_backward(0.6, cache)
    numeric = numeric_gradient_array(lambda x: bce_with_logits_forward(x, targets)[0], logits.copy(), 0.6)
    assert_gradient_close(analytic, numeric, "bce d_logits")
    extreme = np.array([[-800.0, 800.0]])
    with np.errstate(over="raise", invalid="raise"):  # no overflow or nan on the way
        d_extreme, _ = bce_with_logits_backward(1.0, bce_with_logits_forward(extreme, np.array([[1.0, 0.0]]))[1])
    np.testing.assert_allclose(d_extreme, [[-0.5, 0.5]])


# --- each head through a whole small model, against central differences --------------------------
def _head_case(name, rng):
    """(model class, config overrides, the loss_and_grads keyword arguments) for one head."""
    batch, seq = 2, 5
    ids = rng.integers(1, SMALL["vocab_size"], size=(batch, seq))
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    if name == "regression":
        return ta.AlbertForSequenceClassification, dict(num_labels=1), dict(
            input_ids=ids, attention_mask=mask, labels=rng.normal(size=batch))
    if name == "single_label":
        return ta.AlbertForSequenceClassification, dict(num_labels=3), dict(
            input_ids=ids, attention_mask=mask, labels=np.array([2, 0]))
    if name == "multi_label":
        return ta.AlbertForSequenceClassification, dict(num_labels=3), dict(
            input_ids=ids, attention_mask=mask, labels=np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]))
    if name == "token":
        return ta.AlbertForTokenClassification, dict(num_labels=4), dict(
            input_ids=ids, attention_mask=mask, labels=np.array([[0, 3, 1, -100, 2], [1, 1, 2, -100, -100]]))
    if name == "question_answering":
        return ta.AlbertForQuestionAnswering, dict(num_labels=2), dict(
            input_ids=ids, attention_mask=mask, start_positions=np.array([1, 9]), end_positions=np.array([3, -2]))
    return ta.AlbertForMultipleChoice, {}, dict(
        input_ids=rng.integers(1, SMALL["vocab_size"], size=(batch, 3, seq)), labels=np.array([2, 0]))


@pytest.mark.parametrize("head", ["regression", "single_label", "multi_label", "token", "question_answering",
                                  "multiple_choice"])
def test_head_gradients_match_central_differences(head):
    rng = np.random.default_rng(7)
    model_class, overrides, batch = _head_case(head, rng)
    model = model_class(ta.AlbertConfig.from_dict({**SMALL, **overrides}), dtype="float64", seed=3)
    _, grads = model.loss_and_grads(**batch)
    assert list(grads) == list(model.state_dict())

    def loss_of(values):
        model.params = values
        return model.loss_and_grads(**batch)[0]

    values = {name: np.array(value) for name, value in model.params.items()}
    check_gradients(loss_of, values, grads, rng=rng, sample=4)


def test_problem_type_is_inferred_as_transformers_does():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 20, size=(2, 4))
    for num_labels, labels, expected in [
        (1, np.array([0.5, 1.0]), "regression"),
        (3, np.array([1, 2]), "single_label_classification"),
        (3, np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]), "multi_label_classification"),
    ]:
        model = ta.AlbertForSequenceClassification(ta.AlbertConfig.from_dict({**SMALL, "num_labels": num_labels}))
        model.loss_and_grads(ids, labels)
        assert model.config.problem_type == expected


# --- every class against torch autograd -----------------------------------------------------------


def _torch_loss_and_grads(reference, inputs: dict):
    import torch

    reference.zero_grad(set_to_none=True)
    loss = reference(**{name: torch.tensor(value) for name, value in inputs.items()}).loss
    loss.backward()
    grads = {name: np.zeros(tuple(p.shape)) if p.grad is None else p.grad.detach().numpy()
             for name, p in reference.named_parameters()}
    return loss.item(), grads


def task_batch(task: str, rng, config_values: dict, num_labels: int):
    """A padded batch for `task` with the awkward cases: a padding-only row, ignored labels,
    answer positions beyond the sequence or negative."""
    vocab, batch, seq = config_values["vocab_size"], int(rng.integers(1, 4)), int(rng.integers(2, 9))
    shape = (batch, 3, seq) if task == "multiple_choice" else (batch, seq)
    input_ids = rng.integers(0, vocab, size=shape)
    lengths = rng.integers(1, seq + 1, size=shape[:-1])
    attention_mask = (np.arange(seq) < lengths[..., None]).astype(np.int64)
    token_type_ids = rng.integers(0, config_values["type_vocab_size"], size=shape)
    inputs = dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
    if task == "regression":
        inputs["labels"] = rng.normal(size=(batch,)) if num_labels == 1 else rng.normal(size=(batch, num_labels))
    elif task == "single_label":
        inputs["labels"] = rng.integers(0, num_labels, size=batch)
    elif task == "multi_label":
        inputs["labels"] = rng.integers(0, 2, size=(batch, num_labels)).astype(np.float64)
    elif task == "token":
        labels = np.where(rng.random((batch, seq)) < 0.3, -100, rng.integers(0, num_labels, size=(batch, seq)))
        labels[0, 0] = 0  # at least one counted label
        inputs["labels"] = labels
    elif task == "question_answering":
        inputs["start_positions"] = rng.integers(-2, seq + 3, size=batch)
        inputs["start_positions"][0] = 0
        inputs["end_positions"] = rng.integers(-2, seq + 3, size=batch)
        inputs["end_positions"][0] = seq - 1
    else:
        inputs["labels"] = rng.integers(0, 3, size=batch)
    return inputs


TASKS = {
    "regression": ("AlbertForSequenceClassification", "regression"),
    "single_label": ("AlbertForSequenceClassification", "single_label_classification"),
    "multi_label": ("AlbertForSequenceClassification", "multi_label_classification"),
    "token": ("AlbertForTokenClassification", None),
    "question_answering": ("AlbertForQuestionAnswering", None),
    "multiple_choice": ("AlbertForMultipleChoice", None),
}


@pytest.mark.reference
@pytest.mark.parametrize("task", list(TASKS))
@given(data=st.data(), seed=st.integers(0, 2**31 - 1))
def test_task_gradients_match_torch(load_in_tinyalbert, task, data, seed):
    helpers = reference_helpers
    import transformers

    config_values = data.draw(helpers.albert_configs())
    class_name, problem_type = TASKS[task]
    num_labels = 2 if task == "question_answering" else data.draw(st.integers(1 if task == "regression" else 2, 4))
    config_values = {**config_values, "num_labels": num_labels}
    if problem_type is not None:
        config_values["problem_type"] = problem_type
    reference = helpers.torch_model(getattr(transformers, class_name), config_values, seed, "float64")
    model = load_in_tinyalbert(reference, getattr(ta, class_name), "float64")
    inputs = task_batch(task, np.random.default_rng(seed), config_values, num_labels)
    expected_loss, expected = _torch_loss_and_grads(reference, inputs)
    loss, grads = model.loss_and_grads(**inputs)
    helpers.assert_loss_matches(loss, expected_loss, "float64")
    helpers.assert_gradients_match(grads, expected, "float64")


@pytest.mark.parametrize("head", ["regression", "multi_label", "token", "question_answering", "multiple_choice"])
def test_head_backward_runs_in_standard_array_api_calls_only(head):
    """The same losses and gradients under array_api_strict as under NumPy."""
    xps = pytest.importorskip("array_api_strict")
    model_class, overrides, batch = _head_case(head, np.random.default_rng(5))
    config = ta.AlbertConfig.from_dict({**SMALL, **overrides})
    reference = model_class(config, dtype="float64", seed=3)
    strict = model_class(ta.AlbertConfig.from_dict({**SMALL, **overrides}), dict(reference.params), backend=xps,
                         dtype="float64")
    expected_loss, expected = reference.loss_and_grads(**batch)
    loss, grads = strict.loss_and_grads(**batch)
    assert all(value.__array_namespace__() is xps for value in grads.values())
    assert float(loss) == pytest.approx(float(expected_loss), rel=1e-12)
    for name, value in expected.items():
        np.testing.assert_allclose(ta.backend.to_numpy(grads[name]), value, rtol=1e-10, atol=1e-14, err_msg=name)
