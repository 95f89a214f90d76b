"""The shared encoder: E -> H projection, then `num_hidden_layers` passes through a few
layer groups whose weights are reused.

ALBERT has `num_hidden_groups` groups of `inner_group_num` layers each. Pass i of
`num_hidden_layers` runs the whole group `int(i / (num_hidden_layers / num_hidden_groups))`
(every inner layer of it), Transformers' formula, floating-point division included (see
`group_of_pass`). With the usual 1 group of 1 layer, one layer's weights serve all 12 (or 24)
passes; that reuse is why ALBERT is small.
"""
from __future__ import annotations

from typing import NamedTuple

from .attention import AttentionCache, attention_backward, attention_forward
from .feedforward import FeedForwardCache, feedforward_backward, feedforward_forward
from .linear import LinearCache, linear_backward, linear_forward

ENCODER_PREFIX = "albert.encoder."


class LayerCache(NamedTuple):
    prefix: str  # "albert.encoder.albert_layer_groups.{g}.albert_layers.{j}."
    attention: AttentionCache
    feedforward: FeedForwardCache


class EncoderCache(NamedTuple):
    mapping_in: LinearCache
    layers: list  # LayerCache for every use of a layer, in the order of use; backward empties it


def layer_prefix(group: int, inner: int) -> str:
    return f"{ENCODER_PREFIX}albert_layer_groups.{group}.albert_layers.{inner}."


def weights_below(params: dict, prefix: str) -> dict:
    """The entries of `params` under `prefix`, keyed by the rest of their name."""
    return {name[len(prefix):]: value for name, value in params.items() if name.startswith(prefix)}


def group_of_pass(layer_pass: int, config) -> int:
    """Which layer group runs at pass `layer_pass`: Transformers' AlbertTransformer computes it
    with a float division, and for some (layers, groups) that rounds differently from the exact
    integer i * groups // layers, so the float form is kept."""
    return int(layer_pass / (config.num_hidden_layers / config.num_hidden_groups))


def head_mask_row(head_mask, layer_pass: int, inner: int, config):
    """The head-mask row that Transformers applies to inner layer `inner` at pass `layer_pass`.

    Transformers slices the (num_hidden_layers, ...) mask per *group* and indexes the slice by the
    inner-layer number, so every pass of a group sees the same rows.
    """
    if head_mask is None:
        return None
    layers_per_group = int(config.num_hidden_layers / config.num_hidden_groups)
    row = group_of_pass(layer_pass, config) * layers_per_group + inner
    if inner >= layers_per_group or row >= head_mask.shape[0]:
        raise ValueError(
            f"head_mask has no row for inner layer {inner} of group {group_of_pass(layer_pass, config)} "
            f"(inner_group_num {config.inner_group_num} > layers per group {layers_per_group})"
        )
    return head_mask[row, ...]


def albert_layer_forward(hidden, layer_weights, mask_bias, head_mask, config, *, rng=None):
    """One ALBERT layer: attention block then feed-forward block. (batch, seq, hidden) -> same."""
    # Heads are head_size rows of the query weight each: fewer than num_attention_heads in a
    # layer whose heads were pruned (config.pruned_heads).
    num_heads = layer_weights["attention.query.weight"].shape[0] // config.head_size
    if head_mask is not None and head_mask.shape[-3] not in (1, num_heads):
        raise ValueError(f"head_mask has {head_mask.shape[-3]} heads, but this layer has {num_heads} after pruning "
                         f"(config.pruned_heads); give a mask of shape (num_hidden_layers, 1) or none")
    attended, probs, attention_cache = attention_forward(
        hidden, weights_below(layer_weights, "attention."), mask_bias, head_mask,
        num_heads=num_heads, position_embedding_type=config.position_embedding_type,
        max_positions=config.max_position_embeddings, layer_norm_eps=config.layer_norm_eps,
        attention_dropout=config.attention_probs_dropout_prob, output_dropout=config.hidden_dropout_prob, rng=rng,
    )
    output, feedforward_cache = feedforward_forward(
        attended, layer_weights, hidden_act=config.hidden_act, layer_norm_eps=config.layer_norm_eps
    )
    return output, probs, attention_cache, feedforward_cache


def albert_layer_backward(d_output, cache: LayerCache):
    """d_output (batch, seq, hidden) -> (d_hidden, d_weights keyed below the layer's prefix)."""
    d_attended, feedforward_grads = feedforward_backward(d_output, cache.feedforward)
    d_hidden, attention_grads = attention_backward(d_attended, cache.attention)
    return d_hidden, {**feedforward_grads, **{"attention." + name: grad for name, grad in attention_grads.items()}}


def encoder_forward(
    embedded, params, mask_bias, head_mask, config, *, output_hidden_states=False,
    output_attentions=False, rng=None, keep_caches=False,
):
    """embedded (batch, seq, embedding_size) -> hidden (batch, seq, hidden_size).

    keep_caches: keep every layer's cache for a backward pass. Inference leaves it off, so each
    layer's intermediate arrays are freed as soon as the next layer has run.

    Returns (last_hidden, all_hidden_states or None, all_attentions or None, cache).
    head_mask: None or 5-D, (num_hidden_layers, batch or 1, heads or 1, seq or 1, seq or 1), as
    `expand_head_mask` returns it ((num_hidden_layers, 1, heads, 1, 1) from a 1-D or 2-D mask);
    `head_mask_row` picks the row that multiplies each layer's attention probabilities.
    """
    hidden, mapping_cache = linear_forward(
        embedded, params[ENCODER_PREFIX + "embedding_hidden_mapping_in.weight"],
        params[ENCODER_PREFIX + "embedding_hidden_mapping_in.bias"],
    )
    all_hidden = [hidden] if output_hidden_states else None
    all_attentions = [] if output_attentions else None
    layer_weights = {}  # the sub-dict of each layer's prefix, built once per call
    layer_caches = []
    for layer_pass in range(config.num_hidden_layers):
        group = group_of_pass(layer_pass, config)
        for inner in range(config.inner_group_num):
            prefix = layer_prefix(group, inner)
            if prefix not in layer_weights:
                layer_weights[prefix] = weights_below(params, prefix)
            hidden, probs, attention_cache, feedforward_cache = albert_layer_forward(
                hidden, layer_weights[prefix], mask_bias, head_mask_row(head_mask, layer_pass, inner, config),
                config, rng=rng,
            )
            if keep_caches:
                layer_caches.append(LayerCache(prefix, attention_cache, feedforward_cache))
            if output_attentions:
                all_attentions.append(probs)
        # Transformers records one hidden state per pass (after all inner layers of the group).
        if output_hidden_states:
            all_hidden.append(hidden)
    cache = EncoderCache(mapping_cache, layer_caches)
    return hidden, all_hidden, all_attentions, cache


def encoder_backward(d_hidden, cache: EncoderCache):
    """d_hidden (batch, seq, hidden) -> (d_embedded (batch, seq, embedding_size), grads).

    grads is keyed by full parameter names (`albert.encoder.…`). The layer caches are popped off
    `cache.layers` as the backward pass goes, so each layer's activations are freed once used.
    """
    grads = {}
    while cache.layers:
        layer_cache = cache.layers.pop()
        d_hidden, layer_grads = albert_layer_backward(d_hidden, layer_cache)
        for name, grad in layer_grads.items():
            key = layer_cache.prefix + name
            # A shared layer is used at several passes: its gradient is the sum over all of them.
            if key in grads:
                grads[key] += grad  # perf: in place; grads[key] = grads[key] + grad
            else:
                grads[key] = grad
        del layer_cache, layer_grads  # perf: this layer's activations are freed now, not at the end
    d_embedded, mapping_grads = linear_backward(d_hidden, cache.mapping_in)
    grads[ENCODER_PREFIX + "embedding_hidden_mapping_in.weight"] = mapping_grads["weight"]
    grads[ENCODER_PREFIX + "embedding_hidden_mapping_in.bias"] = mapping_grads["bias"]
    return d_embedded, grads
