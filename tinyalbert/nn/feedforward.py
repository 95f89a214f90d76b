"""The position-wise feed-forward block of an ALBERT layer:

    output = LayerNorm(x + ffn_output(activation(ffn(x))))

`weights` is keyed by the names below an `albert_layers.{j}.` prefix: `ffn.weight`,
`ffn_output.weight`, `full_layer_layer_norm.weight`, ...
"""
from __future__ import annotations

from typing import NamedTuple

from .activations import ActivationCache, activation_backward, activation_forward
from .layernorm import LayerNormCache, layernorm_backward, layernorm_forward
from .linear import LinearCache, linear_backward, linear_forward


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


def feedforward_backward(d_output, cache: FeedForwardCache):
    """d_output (batch, seq, hidden) -> (d_hidden, d_weights keyed like the forward's `weights`)."""
    d_sum, norm_grads = layernorm_backward(d_output, cache.layernorm)
    d_activated, ffn_output_grads = linear_backward(d_sum, cache.ffn_output)
    d_intermediate, _ = activation_backward(d_activated, cache.activation)
    del d_activated  # perf: free the (batch, seq, intermediate) buffer before the next matmul
    d_hidden, ffn_grads = linear_backward(d_intermediate, cache.ffn)
    d_hidden += d_sum  # the residual connection (perf: in place; d_hidden = d_hidden + d_sum)
    return d_hidden, {
        "ffn.weight": ffn_grads["weight"], "ffn.bias": ffn_grads["bias"],
        "ffn_output.weight": ffn_output_grads["weight"], "ffn_output.bias": ffn_output_grads["bias"],
        "full_layer_layer_norm.weight": norm_grads["weight"], "full_layer_layer_norm.bias": norm_grads["bias"],
    }
