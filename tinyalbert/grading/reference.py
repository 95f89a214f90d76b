"""Where each graded function lives in tinyalbert: the one table to edit when a module moves.

A student writes functions with exactly these names. An entry is "module:attribute", where the
attribute may be `Class.method`: the optimizers' `step` and two methods of the tokenizer.
"""
from __future__ import annotations

import importlib

REFERENCE = {
    # nn/
    "linear_forward": "tinyalbert.nn.linear:linear_forward",
    "linear_backward": "tinyalbert.nn.linear:linear_backward",
    "layernorm_forward": "tinyalbert.nn.layernorm:layernorm_forward",
    "layernorm_backward": "tinyalbert.nn.layernorm:layernorm_backward",
    "gelu_new": "tinyalbert.nn.activations:gelu_new",
    "gelu": "tinyalbert.nn.activations:gelu",
    "gelu_new_derivative": "tinyalbert.nn.activations:gelu_new_derivative",
    "gelu_derivative": "tinyalbert.nn.activations:gelu_derivative",
    "softmax_and_log_norm": "tinyalbert.nn.softmax:softmax_and_log_norm",
    "softmax": "tinyalbert.nn.softmax:softmax",
    "softmax_backward": "tinyalbert.nn.softmax:softmax_backward",
    "attention_forward": "tinyalbert.nn.attention:attention_forward",
    "attention_backward": "tinyalbert.nn.attention:attention_backward",
    "relative_position_forward": "tinyalbert.nn.relative_position:relative_position_forward",
    "relative_position_backward": "tinyalbert.nn.relative_position:relative_position_backward",
    "feedforward_forward": "tinyalbert.nn.feedforward:feedforward_forward",
    "feedforward_backward": "tinyalbert.nn.feedforward:feedforward_backward",
    "embedding_lookup": "tinyalbert.nn.embeddings:embedding_lookup",
    "embedding_lookup_backward": "tinyalbert.nn.embeddings:embedding_lookup_backward",
    "embeddings_forward": "tinyalbert.nn.embeddings:embeddings_forward",
    "embeddings_backward": "tinyalbert.nn.embeddings:embeddings_backward",
    "group_of_pass": "tinyalbert.nn.encoder:group_of_pass",
    "encoder_forward": "tinyalbert.nn.encoder:encoder_forward",
    "encoder_backward": "tinyalbert.nn.encoder:encoder_backward",
    "mlm_head_forward": "tinyalbert.nn.heads:mlm_head_forward",
    "mlm_head_backward": "tinyalbert.nn.heads:mlm_head_backward",
    "pooler_forward": "tinyalbert.nn.heads:pooler_forward",
    "pooler_backward": "tinyalbert.nn.heads:pooler_backward",
    "classifier_forward": "tinyalbert.nn.heads:classifier_forward",
    "classifier_backward": "tinyalbert.nn.heads:classifier_backward",
    "cross_entropy_forward": "tinyalbert.nn.losses:cross_entropy_forward",
    "cross_entropy_backward": "tinyalbert.nn.losses:cross_entropy_backward",
    "mse_forward": "tinyalbert.nn.losses:mse_forward",
    "mse_backward": "tinyalbert.nn.losses:mse_backward",
    "bce_with_logits_forward": "tinyalbert.nn.losses:bce_with_logits_forward",
    "bce_with_logits_backward": "tinyalbert.nn.losses:bce_with_logits_backward",
    # model surgery
    "prune_attention_heads": "tinyalbert.weights:prune_attention_heads",
    # fine-tuning on long inputs
    "window_starts": "tinyalbert.task_data:window_starts",
    "sentence_tags": "tinyalbert.finetune_loop:sentence_tags",
    # text preprocessing and pretraining data
    "preprocess_text": "tinyalbert.tokenizer.text:preprocess_text",
    "_split_digit_comma": "tinyalbert.tokenizer.albert:AlbertTokenizer._split_digit_comma",
    "_pieces_of_plain_texts": "tinyalbert.tokenizer.albert:AlbertTokenizer._pieces_of_plain_texts",
    "group_into_words": "tinyalbert.train.masking:group_into_words",
    "sample_masked_spans": "tinyalbert.train.masking:sample_masked_spans",
    "mask_tokens": "tinyalbert.train.masking:mask_tokens",
    "create_segment_pairs": "tinyalbert.train.data:create_segment_pairs",
    # optimizers: the student writes the class; its `step` is graded
    "AdamW": "tinyalbert.train.optim:AdamW",
    "LAMB": "tinyalbert.train.optim:LAMB",
}

# The attributes inside a graded class that are the student's to write (the rest is given).
GRADED_METHODS = {"AdamW": ("step",), "LAMB": ("step",)}


def split_entry(name: str) -> tuple[str, list[str]]:
    """"tinyalbert.nn.linear:linear_forward" -> ("tinyalbert.nn.linear", ["linear_forward"])."""
    module, _, attribute = REFERENCE[name].partition(":")
    return module, attribute.split(".")


def is_method(name: str) -> bool:
    """True for a method of a reference class that the student writes as a plain function with `self`."""
    return len(split_entry(name)[1]) == 2


def resolve(name: str):
    """The reference object called `name` (a function, or a class for the optimizers)."""
    if name not in REFERENCE:
        raise KeyError(f"no graded function called {name!r}; known: {', '.join(sorted(REFERENCE))}")
    module, path = split_entry(name)
    value = importlib.import_module(module)
    for part in path:
        value = getattr(value, part)
    return value


def reference_namespace(names) -> dict:
    """name -> reference object, for the functions of an exercise."""
    return {name: resolve(name) for name in names}
