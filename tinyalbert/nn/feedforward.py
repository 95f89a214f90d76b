"""The position-wise feed-forward block of an ALBERT layer:

    output = LayerNorm(x + ffn_output(activation(ffn(x))))

`weights` is keyed by the names below an `albert_layers.{j}.` prefix: `ffn.weight`,
`ffn_output.weight`, `full_layer_layer_norm.weight`, ...
"""
from __future__ import annotations

from typing import NamedTuple

from .activations import ActivationCache, activation_forward
from .layernorm import LayerNormCache, layernorm_forward
from .linear import LinearCache, linear_forward


class FeedForwardCache(NamedTuple):
    ffn: LinearCache
    activation: ActivationCache
    ffn_output: LinearCache
    layernorm: LayerNormCache


def feedforward_forward(hidden, weights, *, hidden_act: str, layer_norm_eps: float):
    """hidden (batch, seq, hidden) -> (batch, seq, hidden), through (batch, seq, intermediate)."""
    intermediate, ffn_cache = linear_forward(hidden, weights["ffn.weight"], weights["ffn.bias"])
    activated, activation_cache = activation_forward(intermediate, hidden_act)
    projected, ffn_output_cache = linear_forward(activated, weights["ffn_output.weight"], weights["ffn_output.bias"])
    # Transformers' AlbertLayer defines a dropout here but never applies it; neither do we.
    output, layernorm_cache = layernorm_forward(
        projected + hidden, weights["full_layer_layer_norm.weight"], weights["full_layer_layer_norm.bias"],
        layer_norm_eps,
    )
    return output, FeedForwardCache(ffn_cache, activation_cache, ffn_output_cache, layernorm_cache)
