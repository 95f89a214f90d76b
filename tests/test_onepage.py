"""The one-page NumPy forward (tinyalbert/onepage.py) computes what the package computes."""
import numpy as np
import pytest

import tinyalbert as ta
from tinyalbert import onepage


@pytest.mark.parametrize("seed", range(6))
def test_onepage_matches_albert_model_on_random_configs(seed):
    rng = np.random.default_rng(seed)
    heads = int(rng.integers(1, 4))
    layers = int(rng.integers(1, 5))
    config = ta.AlbertConfig(
        vocab_size=int(rng.integers(10, 40)), embedding_size=int(rng.integers(2, 9)),
        hidden_size=heads * int(rng.integers(2, 5)), num_attention_heads=heads, num_hidden_layers=layers,
        num_hidden_groups=int(rng.integers(1, layers + 1)), inner_group_num=int(rng.integers(1, 3)),
        intermediate_size=int(rng.integers(3, 12)), max_position_embeddings=16, type_vocab_size=3,
        hidden_act=["gelu_new", "gelu", "relu", "silu", "swish", "gelu_pytorch_tanh"][seed], layer_norm_eps=1e-12,
        initializer_range=0.5,
    )
    model = ta.AlbertModel(config, dtype="float64", seed=seed)
    batch, seq = 3, int(rng.integers(1, 9))
    input_ids = rng.integers(0, config.vocab_size, size=(batch, seq))
    token_type_ids = rng.integers(0, 3, size=(batch, seq))
    attention_mask = (np.arange(seq)[None, :] < rng.integers(1, seq + 1, size=(batch, 1))).astype(np.int64)

    hidden, pooled = onepage.albert(model.params, config, input_ids, attention_mask, token_type_ids)
    ours = model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
    # float64 on both sides, the same operations in a different grouping: rounding only
    np.testing.assert_allclose(hidden, ours.last_hidden_state, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(pooled, ours.pooler_output, rtol=1e-10, atol=1e-10)


def test_onepage_matches_the_bundled_tinyalbert_mini():
    model = ta.AlbertForMaskedLM.from_pretrained("tinyalbert-mini", dtype="float64")
    rng = np.random.default_rng(0)
    input_ids = rng.integers(5, model.config.vocab_size, size=(2, 12))
    attention_mask = np.ones((2, 12), dtype=np.int64)
    attention_mask[1, 8:] = 0

    hidden, pooled = onepage.albert(model.params, model.config, input_ids, attention_mask)
    assert pooled is None  # AlbertForMaskedLM has no pooler
    logits = onepage.mlm_logits(model.params, model.config, hidden)
    ours = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
    np.testing.assert_allclose(hidden, ours.hidden_states[-1], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(logits, ours.logits, rtol=1e-9, atol=1e-9)
