"""Realistic student bugs, each one edit of the reference solution, for the self-test.

A mutant names the exercise, its edits (pairs of old and new text; each old text must occur
exactly once in that exercise's reference solution, `stubs.exercise_file(exercise, cut=False)`),
and the checks aimed at it. The self-test requires each mutant to lose points on every aimed check and to keep full
marks on every other check. A forward bug usually also fails the exercise's `gradcheck`: the
student's backward, still the reference's, no longer matches the student's own forward; and a
bug in the values usually fails the exercise's `float32` check too, which compares them on its
first case (where that case shows the bug).
"""
from __future__ import annotations

from typing import NamedTuple


class Mutant(NamedTuple):
    name: str
    exercise: str
    old: object  # the text replaced, or a tuple of them
    new: object  # its replacement, or a tuple of them
    aimed: tuple  # names of the checks that must lose points

    @property
    def edits(self):
        if isinstance(self.old, tuple):
            return tuple(zip(self.old, self.new))
        return ((self.old, self.new),)

    def apply(self, source: str) -> str:
        """The mutated source; ValueError when an edit no longer matches exactly once."""
        for old, new in self.edits:
            if source.count(old) != 1:
                raise ValueError(f"mutant {self.name!r}: {old!r} occurs {source.count(old)} times in the reference")
            source = source.replace(old, new)
        return source


MUTANTS = (
    # linear
    Mutant("missing transpose in the weight gradient", "linear",
           "d_weight = xp.matrix_transpose(d_rows) @ input_rows", "d_weight = xp.matrix_transpose(input_rows) @ d_rows",
           ("backward", "gradcheck", "float32")),
    Mutant("blank work: forward and backward return zeros", "linear",  # consistent with each other: no gradcheck credit
           ("    return xp.reshape(outputs, (*inputs.shape[:-1], weight.shape[0])), LinearCache(",
            '    return d_inputs, {"weight": d_weight, "bias": d_bias}'),
           ("    return 0.0 * xp.reshape(outputs, (*inputs.shape[:-1], weight.shape[0])), LinearCache(",
            '    return 0.0 * d_inputs, {"weight": 0.0 * d_weight, "bias": None if d_bias is None else 0.0 * d_bias}'),
           ("forward", "backward", "gradcheck", "float32")),
    Mutant("bias gradient averaged over rows instead of summed", "linear",
           "d_bias = xp.sum(d_rows, axis=0)", "d_bias = xp.mean(d_rows, axis=0)", ("backward", "gradcheck", "float32")),
    # layernorm
    Mutant("LayerNorm eps outside the square root", "layernorm",
           "inv_std = 1.0 / xp.sqrt(variance + eps)", "inv_std = 1.0 / (xp.sqrt(variance) + eps)", ("forward", "gradcheck")),
    Mutant("LayerNorm with the unbiased variance (n - 1)", "layernorm",
           "variance = xp.mean(centered * centered, axis=-1, keepdims=True)",
           "variance = xp.sum(centered * centered, axis=-1, keepdims=True) / (inputs.shape[-1] - 1)",
           ("forward", "gradcheck", "float32")),
    Mutant("LayerNorm backward without the variance term", "layernorm",
           "d_inputs -= normalized * projection", "pass", ("backward", "gradcheck", "float32")),
    # The forward and float32 checks fail a call that changes its input; not the gradcheck, whose forward calls do not (its backward agrees).
    Mutant("LayerNorm forward centers its input in place (right output, input changed)", "layernorm",
           "centered = inputs - xp.mean(inputs, axis=-1, keepdims=True)",
           "inputs -= xp.mean(inputs, axis=-1, keepdims=True)\n    centered = inputs", ("forward", "float32")),
    Mutant("LayerNorm backward scales the upstream gradient in place (right gradients, d_output changed)",
           "layernorm", "d_normalized = d_output * cache.weight", "d_output *= cache.weight\n    d_normalized = d_output",
           ("backward", "gradcheck", "float32")),
    Mutant("LayerNorm weight gradient not multiplied by the normalized input", "layernorm",
           "d_weight = xp.sum(d_rows * xp.reshape(normalized, (-1, dim)), axis=0)", "d_weight = xp.sum(d_rows, axis=0)",
           ("backward", "gradcheck", "float32")),
    # float64 out of float32 inputs (each function is right in float64: only the float32 check sees it)
    Mutant("LayerNorm's inv_std computed in float64 (astype(float)): float32 output, float64 cache", "layernorm",
           "inv_std = 1.0 / xp.sqrt(variance + eps)", "inv_std = 1.0 / xp.sqrt(variance.astype(float) + eps)",
           ("float32",)),
    # activations
    Mutant("gelu_new without the factor 0.5", "activations",
           "out *= 0.5  # before the product with x: (1 + tanh) x overflows float16 past x = 32752\n    out *= x",
           "out *= x", ("gelu_new", "gelu_new_gradcheck", "float32")),
    Mutant("exact gelu with erf(x) instead of erf(x / sqrt 2)", "activations",
           "return 0.5 * x * (1.0 + erf(x * INV_SQRT_2))", "return 0.5 * x * (1.0 + erf(x))",
           ("gelu", "gelu_gradcheck", "float32")),
    Mutant("gelu derivative missing the x * pdf(x) term", "activations",
           "return 0.5 * (1.0 + erf(x * INV_SQRT_2)) + x * (INV_SQRT_2PI * xp.exp(-0.5 * (x * x)))",
           "return 0.5 * (1.0 + erf(x * INV_SQRT_2))", ("gelu_derivative", "gelu_gradcheck", "float32")),
    Mutant("gelu_new with sqrt(2/pi) as a NumPy float64 (np.sqrt(2 / np.pi)), which turns float32 into float64",
           "activations", "    inner *= SQRT_2_OVER_PI\n    out = xp.tanh(inner)\n",
           "    out = xp.tanh(inner * xp.sqrt(2 / xp.pi))\n", ("float32",)),
    # softmax
    Mutant("softmax over the wrong axis", "softmax",
           ("shift = xp.max(scores, axis=axis, keepdims=True)", "total = xp.sum(probs, axis=axis, keepdims=True)"),
           ("shift = xp.max(scores, axis=0, keepdims=True)", "total = xp.sum(probs, axis=0, keepdims=True)"),
           ("softmax_and_log_norm", "forward", "gradcheck", "float32")),
    Mutant("softmax without subtracting the maximum (overflows)", "softmax",
           ("probs = xp.exp(scores - shift)", "return probs, xp.log(total) + shift"),
           ("probs = xp.exp(scores)", "return probs, xp.log(total)"), ("softmax_and_log_norm", "forward")),
    Mutant("softmax backward without the subtracted sum", "softmax",
           "    d_probs -= xp.sum(d_probs * probs, axis=-1, keepdims=True)\n", "", ("backward", "gradcheck", "float32")),
    # attention
    Mutant("no 1/sqrt(head_size) scaling", "attention", "    scores *= scale  #", "    pass  #",
           ("forward", "gradcheck", "float32")),
    Mutant("mask applied after the softmax (no renormalization)", "attention",
           ("    if mask_bias is not None:\n        scores += mask_bias\n", "probs = softmax(scores)\n"),
           ("", "probs = softmax(scores)\n    if mask_bias is not None:\n        probs = probs * (mask_bias == 0)\n"),
           ("forward", "gradcheck", "float32")),
    Mutant("attention softmax over the query axis", "attention", "probs = softmax(scores)", "probs = softmax(scores, axis=-2)",
           ("forward", "gradcheck", "float32")),
    Mutant("missing transpose of the probabilities in the value gradient", "attention",
           "d_values = xp.matrix_transpose(attention_probs) @ d_context", "d_values = attention_probs @ d_context",
           ("backward", "gradcheck", "float32")),
    Mutant("1/sqrt(head_size) forgotten in the backward", "attention", "    d_scores *= cache.scale  #", "    pass  #",
           ("backward", "gradcheck", "float32")),
    Mutant("residual gradient dropped in the attention backward", "attention",
           "d_hidden = d_sum  #", "d_hidden = xp.zeros_like(d_sum)  #", ("backward", "gradcheck", "float32")),
    Mutant("output dropout after the residual and LayerNorm, not on the dense output", "attention",
           ("    projected, output_dropout_cache = dropout_forward(projected, output_dropout, rng)\n",
            "    cache = AttentionCache(\n"),
           ("    output_dropout_cache = DropoutCache(None)\n",
            "    output, _ = dropout_forward(output, output_dropout, rng)\n    cache = AttentionCache(\n"),
           ("forward", "gradcheck")),
    Mutant("dropout masks left out of the attention backward", "attention",
           ("d_projected, _ = dropout_backward(d_sum, cache.output_dropout)",
            "attention_probs = dropout_reapply(probs, cache.attention_dropout)",
            "d_probs, _ = dropout_backward(d_probs, cache.attention_dropout)"),
           ("d_projected = d_sum", "attention_probs = probs", "pass"), ("backward", "gradcheck")),
    # relative positions
    Mutant("relative scores of the keys left out (relative_key_query)", "attention_relative",
           "    if with_keys:\n        # key term", "    if False:\n        # key term",
           ("forward", "gradcheck", "float32")),
    Mutant("distance table rows overwritten instead of summed", "attention_relative",
           ("    d_weight = scatter_add_rows(\n        cache.num_distances, xp.reshape(cache.distances, (-1,)), xp.reshape(d_table, (-1, head_size))\n    )",),
           ("    d_weight = xp.zeros((cache.num_distances, head_size), dtype=d_table.dtype)\n"
            "    d_weight[xp.reshape(cache.distances, (-1,))] = xp.reshape(d_table, (-1, head_size))",),
           ("backward", "gradcheck", "float32")),
    # feed-forward
    Mutant("feed-forward residual missing", "feedforward", "projected + hidden, weights", "projected, weights",
           ("forward", "gradcheck", "float32")),
    Mutant("activation derivative skipped in the feed-forward backward", "feedforward",
           "d_intermediate, _ = activation_backward(d_activated, cache.activation)", "d_intermediate = d_activated",
           ("backward", "gradcheck", "float32")),
    # embeddings
    Mutant("repeated ids overwrite instead of adding up", "embeddings",
           "return scatter_add_rows(num_rows, flat_ids, updates)",
           "table = xp.zeros((num_rows, updates.shape[1]), dtype=updates.dtype)\n    table[flat_ids] = updates\n    return table",
           ("lookup_backward", "backward", "gradcheck", "float32")),
    Mutant("lookup gradient summed into np.zeros without a dtype (float64)", "embeddings",
           "return scatter_add_rows(num_rows, flat_ids, updates)",
           "table = xp.zeros((num_rows, updates.shape[1]))\n    xp.add.at(table, flat_ids, updates)\n    return table",
           ("float32",)),
    Mutant("padding_idx row still gets a gradient", "embeddings",
           "    if padding_idx is not None:\n        updates = updates *", "    if False:\n        updates = updates *",
           ("lookup_backward", "backward", "float32")),
    Mutant("inputs_embeds ignored: the word lookup always", "embeddings",
           'embedding_lookup(weights["word_embeddings.weight"], input_ids) if inputs_embeds is None else inputs_embeds',
           'embedding_lookup(weights["word_embeddings.weight"], input_ids)', ("forward", "gradcheck")),
    Mutant("no gradient for inputs_embeds", "embeddings",
           "        return d_embedded, d_weights\n", "        return None, d_weights\n", ("backward", "gradcheck")),
    # encoder
    Mutant("layer-to-group map as pass % groups", "encoder",
           "return int(layer_pass / (config.num_hidden_layers / config.num_hidden_groups))",
           "return layer_pass % config.num_hidden_groups", ("group_of_pass", "forward", "float32")),
    Mutant("layer-to-group map by the exact fraction, not Transformers' float division", "encoder",
           "return int(layer_pass / (config.num_hidden_layers / config.num_hidden_groups))",
           "return layer_pass * config.num_hidden_groups // config.num_hidden_layers", ("group_of_pass",)),
    Mutant("shared layer's gradients overwritten instead of summed", "encoder",
           "                grads[key] += grad", "                grads[key] = grad", ("backward", "gradcheck", "float32")),
    # heads
    Mutant("tied decoder's gradient path dropped", "mlm_head",
           '"decoder.weight": decoder_grads["weight"]', '"decoder.weight": decoder_grads["weight"] * 0.0',
           ("backward", "gradcheck", "float32")),
    Mutant("decoder bias left out of the logits", "mlm_head", "linear_forward(normalized, decoder_weight, weights[\"bias\"])",
           "linear_forward(normalized, decoder_weight, None)", ("forward", "gradcheck", "float32")),
    Mutant("pooler reads the last token instead of [CLS]", "sop_head", "sequence_output[:, 0, :]", "sequence_output[:, -1, :]",
           ("pooler_forward", "pooler_gradcheck", "float32")),
    Mutant("tanh derivative missing in the pooler backward", "sop_head",
           "d_projected = d_pooled * (1.0 - cache.pooled * cache.pooled)", "d_projected = d_pooled",
           ("pooler_backward", "pooler_gradcheck", "float32")),
    Mutant("dropout mask left out of the classifier backward", "sop_head",
           "d_features, _ = dropout_backward(d_dropped, cache.dropout)", "d_features = d_dropped",
           ("classifier_backward", "classifier_gradcheck")),
    # loss
    Mutant("ignored labels counted in the mean", "cross_entropy",
           "loss = -xp.sum(xp.squeeze(picked, axis=-1) * counted) / num_counted",
           "loss = -xp.sum(xp.squeeze(picked, axis=-1) * counted) / targets.shape[0]", ("forward", "gradcheck", "float32")),
    Mutant("counted labels as float64 (astype(float)): a float64 loss and cache", "cross_entropy",
           "counted = xp.astype(counted_mask, logits.dtype)", "counted = counted_mask.astype(float)", ("float32",)),
    Mutant("ignored rows get a gradient", "cross_entropy",
           "d_logits *= (cache.counted * (d_loss / safe_num_counted))[:, None]", "d_logits *= d_loss / safe_num_counted",
           ("backward", "gradcheck", "float32")),
    Mutant("the 2 of the square's derivative dropped", "task_losses",
           "return difference * (2.0 * d_loss / count), {}", "return difference * (d_loss / count), {}",
           ("mse_backward", "mse_gradcheck", "float32")),
    Mutant("BCE written as log(1 + e^x) - x y, which overflows", "task_losses",
           "loss = xp.maximum(logits, xp.zeros_like(logits)) - logits * targets + xp.log1p(xp.exp(-xp.abs(logits)))",
           "loss = xp.log1p(xp.exp(logits)) - logits * targets", ("bce_forward",)),
    Mutant("BCE gradient with the sign flipped", "task_losses",
           "return (sigmoid - targets) * (d_loss / count), {}", "return (targets - sigmoid) * (d_loss / count), {}",
           ("bce_backward", "bce_gradcheck", "float32")),
    # head pruning
    Mutant("columns of query, key and value cut instead of rows", "head_pruning",
           'xp.take(attention[f"{name}.{part}"], index, axis=0)', 'xp.take(attention[f"{name}.{part}"], index, axis=-1)',
           ("arrays", "masked_attention")),
    Mutant("rows of dense cut instead of columns", "head_pruning",
           'xp.take(attention["dense.weight"], index, axis=1)', 'xp.take(attention["dense.weight"], index, axis=0)',
           ("arrays", "masked_attention")),
    Mutant("biases of query, key and value not cut (not returned)", "head_pruning",
           'for name in ("query", "key", "value") for part in ("weight", "bias")}',
           'for name in ("query", "key", "value") for part in ("weight",)}', ("arrays", "masked_attention")),
    Mutant("heads indexed in the unpruned numbering, pruned_before not accounted for", "head_pruning",
           "positions = [kept_before.index(head) * head_size + i", "positions = [head * head_size + i",
           ("arrays", "masked_attention")),
    Mutant("the heads to prune kept, the others cut", "head_pruning",
           "kept_after = [head for head in kept_before if head not in cut]",
           "kept_after = [head for head in kept_before if head in cut]", ("arrays", "masked_attention")),
    Mutant("off by one in the head blocks: the last row of each head dropped", "head_pruning",
           "for head in kept_after for i in range(head_size)]", "for head in kept_after for i in range(head_size - 1)]",
           ("arrays", "masked_attention")),
    Mutant("the pruned arrays also written into the dict given", "head_pruning",
           '    pruned["dense.weight"] = xp.take(attention["dense.weight"], index, axis=1)\n',
           '    pruned["dense.weight"] = xp.take(attention["dense.weight"], index, axis=1)\n    attention.update(pruned)\n',
           ("arrays", "masked_attention")),
    # The same layer with its heads in another order: it computes the same, so only the exact check sees it
    # (a checkpoint, the attentions returned and a per-head head_mask would all be out of Transformers' order).
    Mutant("heads kept in reverse order", "head_pruning",
           "for head in kept_after for i in range(head_size)]", "for head in reversed(kept_after) for i in range(head_size)]",
           ("arrays",)),
    # long inputs in windows
    Mutant("a window too many where the last one ends exactly at the end", "long_windows",
           "while starts[-1] + width < length:", "while starts[-1] + width <= length:", ("window_starts",)),
    Mutant("each window starts doc_stride pieces after the last, not width - doc_stride", "long_windows",
           "starts.append(starts[-1] + width - doc_stride)", "starts.append(starts[-1] + max(doc_stride, 1))",
           ("window_starts",)),
    Mutant("ties go to the last window", "long_windows",
           "if context > chosen[word][0]:", "if context >= chosen[word][0]:", ("max_context",)),
    Mutant("the first window that holds a word decides, whatever its context", "long_windows",
           "if context > chosen[word][0]:", "if chosen[word][1] is None:", ("max_context",)),
    Mutant("the last window that holds a word decides", "long_windows",
           "if context > chosen[word][0]:", "if True:", ("max_context",)),
    # text
    Mutant("digit-comma rule missing", "text_preprocessing",
           'if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():', "if False:", ("digit_comma_rule",)),
    Mutant("leading \u2581 kept on a piece that had none", "text_preprocessing",
           "if not piece.startswith(SPIECE_UNDERLINE) and sub_pieces[0].startswith(SPIECE_UNDERLINE):", "if False:",
           ("split_digit_comma", "digit_comma_rule")),
    Mutant("accents kept", "text_preprocessing", "if not keep_accents and not text.isascii():", "if False:",
           ("preprocess_text",)),
    # n-gram masking
    Mutant("80/10/10 swapped to 10/45/45", "ngram_masking", "replace_draw < 0.8", "replace_draw < 0.1",
           ("mask_tokens_statistics",)),
    Mutant("special tokens maskable", "ngram_masking", "maskable = ~np.isin(token_ids, specials)",
           "maskable = np.ones(token_ids.shape, dtype=bool)", ("group_into_words", "mask_tokens_properties")),
    Mutant("unigrams only (no n-gram spans)", "ngram_masking",
           "num_words_in_span = min(num_words_in_span, longest)", "num_words_in_span = 1", ("mask_tokens_statistics",)),
    # SOP pairs
    Mutant("SOP label inverted", "sop_pairs", "pairs.append((tokens_a, tokens_b, int(swapped)))",
           "pairs.append((tokens_a, tokens_b, int(not swapped)))", ("properties",)),
    Mutant("SOP pairs never swapped", "sop_pairs", "swapped = rng.random() < 0.5", "swapped = rng.random() < 0.0",
           ("statistics",)),
    # optimizers
    Mutant("AdamW decays LayerNorm weights and biases", "adamw",
           "if uses_weight_decay(name) and self.weight_decay != 0.0:", "if self.weight_decay != 0.0:", ("no_decay_params",)),
    Mutant("AdamW without bias correction of the first moment", "adamw", "step_size = lr / bias_correction1",
           "step_size = lr", ("update", "no_decay_params")),
    Mutant("LAMB trust ratio applied to biases and LayerNorm", "lamb",
           "            if not uses_weight_decay(name):\n                updated[name] = param - lr * update\n                continue\n",
           "", ("no_decay_params",)),
    Mutant("LAMB trust ratio with the gradient norm", "lamb",
           "update_norm = xp.sqrt(xp.sum(update * update))", "update_norm = xp.sqrt(xp.sum(grads[name] * grads[name]))",
           ("update",)),
)
