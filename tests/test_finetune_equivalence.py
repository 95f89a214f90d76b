"""Twenty fine-tuning steps in tinyalbert and in transformers + torch, side by side.

Same checkpoint (written by transformers' save_pretrained from random weights), same batches,
AdamW with the same settings (no decay on LayerNorm and biases, as tinyalbert's AdamW does;
the torch side gets the same two parameter groups), linear warm-up then linear decay
(transformers' get_linear_schedule_with_warmup), global-norm clipping at 1.0 (torch's
clip_grad_norm_). Every step's loss must agree to 1e-8 relative in float64: the gradients agree
to ~1e-12 (test_finetune_grads.py) and twenty Adam steps, each dividing by sqrt(v), amplify that
by a few orders at most, far below what one wrong term in any update would show.
"""
import tempfile
import warnings

import numpy as np
import pytest

import tinyalbert as ta
from tinyalbert.train.optim import AdamW, clip_grad_global_norm, linear_warmup_then_decay, uses_weight_decay

STEPS, WARMUP, PEAK_LR, WEIGHT_DECAY, CLIP = 20, 4, 2e-3, 0.01, 1.0
RTOL = 1e-8
CONFIG = dict(
    vocab_size=30, embedding_size=6, hidden_size=8, num_attention_heads=2, intermediate_size=12,
    num_hidden_groups=2, num_hidden_layers=3, inner_group_num=1, hidden_act="gelu_new",
    max_position_embeddings=16, type_vocab_size=2, hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0, initializer_range=0.2,
)


def batches(task: str, rng, num_labels: int):
    """STEPS padded batches of 3 for `task`, as keyword arguments of both libraries' models: two
    batches in turn, so that the loss must fall if the updates are right."""
    out = []
    for _ in range(2):
        shape = (3, 2, 7) if task == "multiple_choice" else (3, 7)
        ids = rng.integers(1, CONFIG["vocab_size"], size=shape)
        lengths = rng.integers(3, 8, size=shape[:-1])
        mask = (np.arange(7) < lengths[..., None]).astype(np.int64)
        batch = dict(input_ids=ids * mask, attention_mask=mask, token_type_ids=np.zeros(shape, dtype=np.int64))
        if task == "sequence":
            batch["labels"] = rng.integers(0, num_labels, size=3)
        elif task == "token":
            batch["labels"] = np.where(mask == 1, rng.integers(0, num_labels, size=shape), -100)
        elif task == "question_answering":
            batch["start_positions"] = rng.integers(0, 4, size=3)
            batch["end_positions"] = batch["start_positions"] + rng.integers(0, 3, size=3)
        else:
            batch["labels"] = rng.integers(0, 2, size=3)
        out.append(batch)
    return out * (STEPS // 2)


def torch_losses(reference, data):
    import torch
    from transformers import get_linear_schedule_with_warmup

    groups = [
        {"params": [p for n, p in reference.named_parameters() if uses_weight_decay(n)], "weight_decay": WEIGHT_DECAY},
        {"params": [p for n, p in reference.named_parameters() if not uses_weight_decay(n)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=PEAK_LR, betas=(0.9, 0.999), eps=1e-8)
    schedule = get_linear_schedule_with_warmup(optimizer, WARMUP, STEPS)
    reference.train()
    losses = []
    for batch in data:
        optimizer.zero_grad()
        loss = reference(**{name: torch.tensor(value) for name, value in batch.items()}).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(reference.parameters(), CLIP)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses


def tinyalbert_losses(model, data):
    optimizer = AdamW(betas=(0.9, 0.999), eps=1e-8, weight_decay=WEIGHT_DECAY)
    model.train(rng=np.random.default_rng(0))
    losses = []
    for step, batch in enumerate(data):
        loss, grads = model.loss_and_grads(**batch)
        grads, _ = clip_grad_global_norm(grads, CLIP)
        model.params = optimizer.step(model.params, grads, linear_warmup_then_decay(step, WARMUP, STEPS, PEAK_LR))
        losses.append(float(loss))
    return losses


@pytest.mark.reference
@pytest.mark.parametrize("task, class_name, num_labels", [
    ("sequence", "AlbertForSequenceClassification", 3),
    ("token", "AlbertForTokenClassification", 5),
    ("question_answering", "AlbertForQuestionAnswering", 2),
    ("multiple_choice", "AlbertForMultipleChoice", 2),
])
def test_twenty_steps_give_the_losses_of_torch(task, class_name, num_labels):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.AlbertConfig(**CONFIG, num_labels=num_labels, attn_implementation="eager")
    reference = getattr(transformers, class_name)(config).double()
    with tempfile.TemporaryDirectory() as directory:
        reference.save_pretrained(directory)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = getattr(ta, class_name).from_pretrained(directory, dtype="float64")
    data = batches(task, np.random.default_rng(1), num_labels)
    expected = torch_losses(reference, data)
    actual = tinyalbert_losses(model, data)
    assert sum(expected[-2:]) < sum(expected[:2])  # the run learns, so every update matters
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0)
