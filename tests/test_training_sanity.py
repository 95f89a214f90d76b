"""Plain SGD on the hand-written gradients trains a tiny ALBERT, and follows torch's trajectory.

The corpus is synthetic but learnable. Each sequence has a topic: a band of 9 word ids out of
45. Its first segment draws words from the lower 4 of the band, its second from the upper 5, and
the two segments are swapped half of the time (sentence-order label 1). A masked word is
predictable (up to 4 or 5 choices) from the other words of its sequence and its segment, and the
order from which segment holds the upper words, so both MLM and SOP can be learned.
"""
import tempfile
import warnings

import numpy as np
import pytest

import tinyalbert as ta

PAD, CLS, SEP, MASK = 0, 2, 3, 4
FIRST_WORD = 5  # ids below are special
VOCAB, SEQ, BATCH = 50, 16, 16
TOPIC_WIDTH = 9
LEARNING_RATE = 0.1
TINY = dict(
    vocab_size=VOCAB, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    intermediate_size=64, max_position_embeddings=SEQ, hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0, initializer_range=0.15,
)


def topic_batch(rng, batch=BATCH, seq=SEQ, mask_rate=0.15):
    """(input_ids, labels, sentence_order_label, attention_mask, token_type_ids), all NumPy:
    [CLS] A [SEP] B [SEP], 15% of the words masked (and at least one per sequence)."""
    words = seq - 3
    first_len = words // 2
    input_ids = np.zeros((batch, seq), dtype=np.int64)
    token_type_ids = np.zeros((batch, seq), dtype=np.int64)
    sentence_order_label = rng.integers(0, 2, size=batch)
    for row in range(batch):
        band = FIRST_WORD + TOPIC_WIDTH * rng.integers(0, (VOCAB - FIRST_WORD) // TOPIC_WIDTH) + np.arange(TOPIC_WIDTH)
        first = rng.choice(band[:4], size=first_len)
        second = rng.choice(band[4:], size=words - first_len)
        if sentence_order_label[row]:
            first, second = second, first
        input_ids[row] = np.concatenate([[CLS], first, [SEP], second, [SEP]])
        token_type_ids[row, len(first) + 2:] = 1
    masked = (input_ids >= FIRST_WORD) & (rng.random((batch, seq)) < mask_rate)
    masked[:, 1] = True
    labels = np.where(masked, input_ids, -100)
    input_ids = np.where(masked, MASK, input_ids)
    attention_mask = np.ones((batch, seq), dtype=np.int64)
    return input_ids, labels, sentence_order_label, attention_mask, token_type_ids


def sgd_step(model, batch):
    input_ids, labels, sentence_order_label, attention_mask, token_type_ids = batch
    loss, grads = model.loss_and_grads(input_ids, labels, sentence_order_label, attention_mask=attention_mask,
                                       token_type_ids=token_type_ids)
    for name, grad in grads.items():
        model.params[name] -= LEARNING_RATE * grad
    return float(loss)


def test_sgd_drives_the_pretraining_loss_down():
    """300 steps take MLM + SOP from about ln(45) + ln(2) = 4.5 to below 60% of it (it gets to
    about 2.0; a model that knew topic, segment and order exactly would reach ln(4.5) = 1.5).

    Means over 20 steps, so that batch-to-batch noise cannot pass or fail the test.
    """
    model = ta.AlbertForPreTraining(ta.AlbertConfig(**TINY), seed=0)
    rng = np.random.default_rng(0)
    losses = [sgd_step(model, topic_batch(rng)) for _ in range(300)]
    start, end = np.mean(losses[:20]), np.mean(losses[-20:])
    assert np.all(np.isfinite(losses))
    assert start > 4.0
    assert end < 0.6 * start, f"loss went from {start:.3f} to {end:.3f}"


def test_sgd_trajectory_matches_torch():
    """Same start (the torch weights saved and loaded), same batches, same learning rate:
    the first 10 steps give the same losses and the same weights as torch.optim.SGD.

    float32 on both sides. The losses agree to 1e-6 relative (they differ in the last bit or two)
    and after 10 updates the weights to 1e-5 of each tensor's largest entry (about 1e-6 is
    observed: float32 rounding of the gradients, times lr, summed over 10 updates).
    """
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    reference = transformers.AlbertForPreTraining(transformers.AlbertConfig(**TINY, attn_implementation="eager"))
    reference.train()
    with tempfile.TemporaryDirectory() as directory:
        reference.save_pretrained(directory)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ta.AlbertForPreTraining.from_pretrained(directory)
    optimizer = torch.optim.SGD(reference.parameters(), lr=LEARNING_RATE)
    rng = np.random.default_rng(1)
    for step in range(10):
        batch = topic_batch(rng)
        input_ids, labels, sentence_order_label, attention_mask, token_type_ids = batch
        optimizer.zero_grad()
        expected = reference(
            input_ids=torch.tensor(input_ids), attention_mask=torch.tensor(attention_mask),
            token_type_ids=torch.tensor(token_type_ids), labels=torch.tensor(labels),
            sentence_order_label=torch.tensor(sentence_order_label),
        ).loss
        expected.backward()
        optimizer.step()
        loss = sgd_step(model, batch)
        assert loss == pytest.approx(expected.item(), rel=1e-6), f"step {step}"
    state = model.state_dict()
    for name, parameter in reference.named_parameters():
        expected = parameter.detach().numpy()
        scale = max(float(np.max(np.abs(expected))), 1e-2)
        assert np.max(np.abs(state[name] - expected)) <= 1e-5 * scale, name
