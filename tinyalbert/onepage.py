"""ALBERT's forward pass on one page of NumPy, in the spirit of picoGPT.

The whole model at a glance: absolute positions, every head (none pruned), inference only
(no dropout, no head mask, no caches for a backward pass). The package computes the same numbers through `tinyalbert.nn`,
one module per idea, with the backward pass beside each forward; tests/test_onepage.py checks
that the two agree, on a random config and on the bundled tinyalbert-mini.

    params = AlbertForMaskedLM.from_pretrained("tinyalbert-mini").params    # NumPy arrays
    hidden, pooled = albert(params, config, input_ids)
    logits = mlm_logits(params, config, hidden)
"""
import math

import numpy as np

ERF = np.vectorize(math.erf)  # exact GELU needs erf; slow, but this page is for reading
ACTIVATIONS = {
    "gelu_new": lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    "gelu": lambda x: 0.5 * x * (1 + ERF(x / math.sqrt(2))),
    "relu": lambda x: np.maximum(x, 0),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "swish": lambda x: x / (1 + np.exp(-x)),
}
ACTIVATIONS["gelu_pytorch_tanh"] = ACTIVATIONS["gelu_new"]  # torch's name for the same tanh formula


def softmax(x):
    exp = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return exp / np.sum(exp, axis=-1, keepdims=True)


def layer_norm(x, p, name, eps):  # biased variance, eps inside the square root, as torch
    mean = np.mean(x, axis=-1, keepdims=True)
    variance = np.mean((x - mean) ** 2, axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * p[name + ".weight"] + p[name + ".bias"]


def linear(x, p, name):  # weights stored (out, in), as in the checkpoint
    return x @ p[name + ".weight"].T + p[name + ".bias"]


def attention(x, p, mask_bias, heads, eps):  # (batch, seq, hidden) -> (batch, seq, hidden)
    batch, seq, hidden = x.shape

    def split(t):  # (batch, seq, hidden) -> (batch, heads, seq, head_size)
        return t.reshape(batch, seq, heads, hidden // heads).transpose(0, 2, 1, 3)

    q, k, v = split(linear(x, p, "query")), split(linear(x, p, "key")), split(linear(x, p, "value"))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hidden // heads) + mask_bias  # (batch, heads, seq, seq)
    context = (softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
    return layer_norm(x + linear(context, p, "dense"), p, "LayerNorm", eps)


def feed_forward(x, p, act, eps):  # (batch, seq, hidden) -> (batch, seq, hidden)
    inner = ACTIVATIONS[act](linear(x, p, "ffn"))  # (batch, seq, intermediate)
    return layer_norm(x + linear(inner, p, "ffn_output"), p, "full_layer_layer_norm", eps)


def below(params, prefix):  # the entries under `prefix`, keyed by the rest of their name
    return {name[len(prefix):]: value for name, value in params.items() if name.startswith(prefix)}


def albert(params, config, input_ids, attention_mask=None, token_type_ids=None):
    """input_ids (batch, seq) -> (hidden (batch, seq, hidden_size), pooled (batch, hidden_size))."""
    c, eps = config, config.layer_norm_eps
    batch, seq = input_ids.shape
    attention_mask = np.ones((batch, seq)) if attention_mask is None else attention_mask
    token_type_ids = np.zeros((batch, seq), dtype=int) if token_type_ids is None else token_type_ids
    emb = below(params, "albert.embeddings.")

    # factorized embedding: a small (vocab, E) table, then one E -> H projection
    x = (emb["word_embeddings.weight"][input_ids] + emb["position_embeddings.weight"][np.arange(seq)]
         + emb["token_type_embeddings.weight"][token_type_ids])  # (batch, seq, E)
    x = layer_norm(x, emb, "LayerNorm", eps)
    x = linear(x, params, "albert.encoder.embedding_hidden_mapping_in")  # (batch, seq, H)

    # padding keys get the most negative float: exp(score) = 0 after the softmax
    dtype = x.dtype
    mask_bias = (1.0 - attention_mask[:, None, None, :].astype(dtype)) * np.finfo(dtype).min

    # cross-layer sharing: num_hidden_layers passes over num_hidden_groups groups of weights
    for i in range(c.num_hidden_layers):
        group = int(i / (c.num_hidden_layers / c.num_hidden_groups))  # Transformers' formula
        for j in range(c.inner_group_num):
            layer = below(params, f"albert.encoder.albert_layer_groups.{group}.albert_layers.{j}.")
            x = attention(x, below(layer, "attention."), mask_bias, c.num_attention_heads, eps)
            x = feed_forward(x, layer, c.hidden_act, eps)

    pooled = np.tanh(linear(x[:, 0], params, "albert.pooler")) if "albert.pooler.weight" in params else None
    return x, pooled


def mlm_logits(params, config, hidden):
    """hidden (batch, seq, H) -> logits (batch, seq, vocab): H -> E, then the tied word table."""
    x = ACTIVATIONS[config.hidden_act](linear(hidden, params, "predictions.dense"))
    x = layer_norm(x, params, "predictions.LayerNorm", config.layer_norm_eps)  # (batch, seq, E)
    decoder = params.get("predictions.decoder.weight", params["albert.embeddings.word_embeddings.weight"])
    return x @ decoder.T + params["predictions.bias"]
