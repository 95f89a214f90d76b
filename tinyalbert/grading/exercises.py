"""The exercises: which functions a student writes, and the checks (with points) that grade them.

An exercise is named after what it asks for; its `functions` are graded names from
`reference.REFERENCE` (written in the student file in this order). Points are per check; an
exercise's total is their sum. `extra` exercises are listed and graded only when asked for by name.
"""
from __future__ import annotations

from typing import NamedTuple

from . import cases_data as data
from . import cases_nn as nn
from . import properties
from .checks import Check


class Exercise(NamedTuple):
    name: str
    title: str
    functions: tuple
    checks: tuple
    extra: bool = False

    @property
    def points(self) -> float:
        return sum(check.points for check in self.checks)

    @property
    def file_name(self) -> str:
        """The student file of the exercise (`stubs.write_stubs` writes it): its definitions are graded first."""
        return f"{self.name}.py"


def inputs_and(mapping):
    """Gradient pairs: argument 0 -> gradient 0, plus `mapping(case)`."""
    return lambda case: [(("args", 0), (0,)), *mapping(case)]


def weights_at(position, prefix=""):
    """Every entry of the weights dict at argument `position` -> gradient dict entry."""
    return lambda case: [(("args", position, key), (1, prefix + key)) for key in case.args[position]]


def forward_backward(forward, backward, cases, points, grads, gradient_cases=None, outputs=((0,),),
                     backward_args="cache", prefix=""):
    """The three usual checks of a forward/backward pair; `points` = (forward, backward, gradcheck)."""
    gradient_cases = gradient_cases or cases
    given = {"cache": "cache", "result": "output"}[backward_args]
    return (
        Check(prefix + "forward", points[0], "forward", forward, cases, outputs=outputs,
              about=f"`{forward}` against the reference"),
        Check(prefix + "backward", points[1], "backward", backward, cases, forward=forward, outputs=outputs,
              backward_args=backward_args, grads=grads, about=f"`{backward}` on the reference's {given}, against the reference"),
        Check(prefix + "gradcheck", points[2], "gradcheck", backward, gradient_cases, forward=forward,
              outputs=outputs, backward_args=backward_args, grads=grads,
              about=f"`{backward}` against finite differences of your own `{forward}`"),
    )


def _linear_grads(case):
    pairs = [(("args", 0), (0,)), (("args", 1), (1, "weight"))]
    return pairs + ([(("args", 2), (1, "bias"))] if case.args[2] is not None else [])


def _layernorm_grads(case):
    return [(("args", 0), (0,)), (("args", 1), (1, "weight")), (("args", 2), (1, "bias"))]


def _embeddings_grads(case):
    """inputs_embeds -> d_inputs_embeds where they were given, then each table the forward used: not the
    word table beside inputs_embeds, nor the position table of a relative position type."""
    embeds = case.kwargs.get("inputs_embeds") is not None
    unused = {"word_embeddings.weight"} if embeds else set()
    if case.args[2] is None:
        unused.add("position_embeddings.weight")
    tables = [(("args", 3, key), (1, key)) for key in case.args[3] if key not in unused]
    return [(("kwargs", "inputs_embeds"), (0,))] * embeds + tables


def _gradient_cases(builder):
    return lambda rng, draws: builder(rng, draws, for_gradients=True)


def _examples(count):
    """A property check's one "case": how many inputs to try, `count` per two random draws."""
    return lambda rng, draws: [count * max(1, draws // 2)]


def _mlm_grads(case):
    return [(("args", 0), (0,)), *weights_at(1)(case), (("args", 2), (1, "decoder.weight"))]


def _relative_grads(case):
    """queries -> d_queries, keys -> d_keys (relative_key_query only), the table -> "weight"."""
    pairs = [(("args", 0), (0, 0)), (("args", 2), (1, "weight"))]
    if case.kwargs["position_embedding_type"] == "relative_key_query":
        pairs.append((("args", 1), (0, 1)))
    return pairs


def _value(name, target, cases, points, about):
    return Check(name, points, "value", target, cases, about=about)


FLOAT32_POINTS = 0.5  # a dtype slip costs a little: the values are graded by the other checks


def with_float32(checks: tuple, skip=()) -> tuple:
    """`checks` and their exercise's float32 check: each function of a forward, backward or value
    check (but those named in `skip`: no float comes in or out) on that check's first case in float32."""
    inner = tuple(c for c in checks if c.kind in ("forward", "backward", "value") and c.name not in skip)
    return checks + (Check("float32", FLOAT32_POINTS, "float32", inner[0].target, None, of=inner,
                           about=float32_about(c.target for c in inner)),)


def float32_about(functions) -> str:
    names = ", ".join(dict.fromkeys(f"`{name}`" for name in functions))
    return (f"{names} on float32 inputs: every float array returned is float32 (no float64), with the reference's "
            "values to float32's precision")


EXERCISES = (
    Exercise("linear", "Linear layer y = x W^T + b", ("linear_forward", "linear_backward"),
             with_float32(forward_backward("linear_forward", "linear_backward", nn.linear_cases, (2, 2, 2),
                                           _linear_grads))),
    Exercise("layernorm", "Layer normalization", ("layernorm_forward", "layernorm_backward"),
             with_float32(forward_backward("layernorm_forward", "layernorm_backward", nn.layernorm_cases, (3, 3, 2),
                                           _layernorm_grads, gradient_cases=_gradient_cases(nn.layernorm_cases)))),
    Exercise("activations", "GELU: the tanh approximation and the exact one, with derivatives",
             ("gelu_new", "gelu", "gelu_new_derivative", "gelu_derivative"), with_float32((
                 Check("gelu_new", 1.5, "forward", "gelu_new", nn.activation_cases, outputs=((),),
                       about="`gelu_new` against the reference"),
                 Check("gelu", 1.5, "forward", "gelu", nn.activation_cases, outputs=((),), about="`gelu` against the reference"),
                 Check("gelu_new_derivative", 1, "forward", "gelu_new_derivative", nn.activation_cases, outputs=((),),
                       about="`gelu_new_derivative` against the reference"),
                 Check("gelu_derivative", 1, "forward", "gelu_derivative", nn.activation_cases, outputs=((),),
                       about="`gelu_derivative` against the reference"),
                 Check("gelu_new_gradcheck", 0.5, "derivative", "gelu_new_derivative", nn.activation_cases, forward="gelu_new",
                       about="`gelu_new_derivative` against finite differences of your own `gelu_new`"),
                 Check("gelu_gradcheck", 0.5, "derivative", "gelu_derivative", nn.activation_cases, forward="gelu",
                       about="`gelu_derivative` against finite differences of your own `gelu`"),
             ))),
    Exercise("softmax", "Softmax (and its log-normalizer) along an axis, and its backward",
             ("softmax_and_log_norm", "softmax", "softmax_backward"), with_float32((
                 Check("softmax_and_log_norm", 1, "forward", "softmax_and_log_norm", nn.log_norm_cases, outputs=((0,), (1,)),
                       about="`softmax_and_log_norm` along several axes, against the reference"),
                 *forward_backward("softmax", "softmax_backward", nn.softmax_cases, (2, 2, 1), lambda case: [(("args", 0), ())],
                                   gradient_cases=_gradient_cases(nn.softmax_cases), outputs=((),), backward_args="result"),
             ))),
    Exercise("attention", "Multi-head self-attention (absolute positions), residual and LayerNorm",
             ("attention_forward", "attention_backward"),
             with_float32(forward_backward("attention_forward", "attention_backward", nn.attention_cases, (5, 5, 4),
                                           inputs_and(weights_at(1)), outputs=((0,), (1,))))),
    Exercise("attention_relative", "Relative-position attention scores (relative_key, relative_key_query)",
             ("relative_position_forward", "relative_position_backward"),
             with_float32(forward_backward("relative_position_forward", "relative_position_backward", nn.relative_cases,
                                           (2, 2, 2), _relative_grads)), extra=True),
    Exercise("feedforward", "The feed-forward block with residual and LayerNorm", ("feedforward_forward", "feedforward_backward"),
             with_float32(forward_backward("feedforward_forward", "feedforward_backward", nn.feedforward_cases, (2, 2, 2),
                                           inputs_and(weights_at(1))))),
    Exercise("embeddings", "Factorized embeddings: lookups, sums and LayerNorm",
             ("embedding_lookup", "embedding_lookup_backward", "embeddings_forward", "embeddings_backward"), with_float32((
                 _value("lookup", "embedding_lookup", nn.lookup_cases, 1, "`embedding_lookup` against the reference"),
                 _value("lookup_backward", "embedding_lookup_backward", nn.lookup_backward_cases, 2,
                        "`embedding_lookup_backward`: repeated ids add up, padding_idx gets nothing"),
                 *forward_backward("embeddings_forward", "embeddings_backward", nn.embeddings_cases, (2, 2, 1),
                                   _embeddings_grads,
                                   gradient_cases=_gradient_cases(nn.embeddings_cases)),
             ))),
    Exercise("encoder", "The shared encoder: layer-to-group map, passes, gradient sum over shared uses",
             ("group_of_pass", "encoder_forward", "encoder_backward"), with_float32((
                 _value("group_of_pass", "group_of_pass", nn.group_of_pass_cases, 2, "which group runs at each pass"),
                 *forward_backward("encoder_forward", "encoder_backward", nn.encoder_cases, (3, 3, 2),
                                   inputs_and(weights_at(1))),
             ), skip=("group_of_pass",))),
    Exercise("mlm_head", "Masked-LM head with the decoder tied to the word embeddings", ("mlm_head_forward", "mlm_head_backward"),
             with_float32(forward_backward("mlm_head_forward", "mlm_head_backward", nn.mlm_cases, (3, 3, 2), _mlm_grads))),
    Exercise("sop_head", "Sentence-order head: pooler ([CLS], dense, tanh) and classifier",
             ("pooler_forward", "pooler_backward", "classifier_forward", "classifier_backward"),
             with_float32(forward_backward("pooler_forward", "pooler_backward", nn.pooler_cases, (1, 1, 1),
                                           inputs_and(weights_at(1)), prefix="pooler_")
                          + forward_backward("classifier_forward", "classifier_backward", nn.classifier_cases, (1, 1, 1),
                                             inputs_and(weights_at(1)), prefix="classifier_"))),
    Exercise("cross_entropy", "Cross-entropy with ignored labels", ("cross_entropy_forward", "cross_entropy_backward"),
             with_float32(forward_backward("cross_entropy_forward", "cross_entropy_backward", nn.cross_entropy_cases,
                                           (2, 2, 2), lambda case: [(("args", 0), (0,))],
                                           gradient_cases=_gradient_cases(nn.cross_entropy_cases)))),
    Exercise("task_losses", "The other fine-tuning losses: mean squared error and BCE with logits",
             ("mse_forward", "mse_backward", "bce_with_logits_forward", "bce_with_logits_backward"),
             with_float32(forward_backward("mse_forward", "mse_backward", nn.mse_cases, (1, 1, 1),
                                           lambda case: [(("args", 0), (0,))], prefix="mse_")
                          + forward_backward("bce_with_logits_forward", "bce_with_logits_backward", nn.bce_cases, (1, 1, 1),
                                             lambda case: [(("args", 0), (0,))], gradient_cases=_gradient_cases(nn.bce_cases),
                                             prefix="bce_")), extra=True),
    Exercise("head_pruning", "Pruning attention heads (their query, key and value rows and dense columns)",
             ("prune_attention_heads",), (
                 Check("arrays", 3, "value", "prune_attention_heads", nn.pruning_cases, compare=properties.compare_pruned,
                       about="every array returned, exactly (slicing computes nothing), and only those keys"),
                 Check("masked_attention", 2, "property", "prune_attention_heads", nn.pruning_cases,
                       run=properties.run_pruned_attention,
                       about="attention on the pruned weights = the unpruned layer with those heads masked to 0"),
             ), extra=True),
    Exercise("long_windows", "Long inputs in overlapping windows, and each word's tag from the window that sees it best",
             ("window_starts", "sentence_tags"), (
                 _value("window_starts", "window_starts", data.window_cases, 2,
                        "where each window starts (run_qa's overflowing windows)"),
                 _value("max_context", "sentence_tags", data.tagged_window_cases, 3,
                        "each word's tag from the window with the most pieces on its shorter side, the first on a tie"),
             ), extra=True),
    Exercise("text_preprocessing", "ALBERT's text preprocessing and the digit-comma rule",
             ("preprocess_text", "_split_digit_comma", "_pieces_of_plain_texts"), (
                 _value("preprocess_text", "preprocess_text", data.preprocess_cases, 2, "whitespace, quotes, accents, case"),
                 _value("split_digit_comma", "_split_digit_comma", data.split_digit_comma_cases, 1.5, "\"9,\" -> \"9\", \",\""),
                 _value("digit_comma_rule", "_pieces_of_plain_texts", data.digit_comma_cases, 1.5,
                        "the rule applied to the pieces of whole texts"),
             )),
    Exercise("ngram_masking", "N-gram masking of whole words, 80/10/10",
             ("group_into_words", "sample_masked_spans", "mask_tokens"), (
                 _value("group_into_words", "group_into_words", data.group_into_words_cases, 2, "maskable positions grouped into words"),
                 Check("mask_tokens_properties", 3, "property", "mask_tokens", _examples(25),
                       run=properties.run_masking_properties, about="what must hold for every call (hypothesis search)"),
                 Check("mask_tokens_statistics", 3, "property", "mask_tokens", _examples(60),
                       run=properties.run_masking_statistics, about="80/10/10 and n-gram spans over many calls"),
             )),
    Exercise("sop_pairs", "Sentence-order pairs from a document", ("create_segment_pairs",), (
        Check("properties", 3, "property", "create_segment_pairs", _examples(25), run=properties.run_sop_properties,
              about="what must hold for every call (hypothesis search)"),
        Check("statistics", 2, "property", "create_segment_pairs", _examples(80), run=properties.run_sop_statistics,
              about="swap rate and tokens kept, over many documents"),
    )),
    Exercise("adamw", "One AdamW step", ("AdamW",), (
        _value("update", "AdamW", data.adamw_update_cases, 3, "weight matrices: Adam step with decoupled weight decay"),
        _value("no_decay_params", "AdamW", data.adamw_no_decay_cases, 2, "LayerNorm weights and biases: no weight decay"),
    )),
    Exercise("lamb", "One LAMB step", ("LAMB",), (
        _value("update", "LAMB", data.lamb_update_cases, 3, "weight matrices: Adam direction times the trust ratio"),
        _value("no_decay_params", "LAMB", data.lamb_no_decay_cases, 2, "LayerNorm weights and biases: no decay, no trust ratio"),
    )),
)

BY_NAME = {exercise.name: exercise for exercise in EXERCISES}


def select(names=None, include_extra=False):
    """The exercises called `names` (all regular ones when None), in the table's order."""
    if not names:
        return [e for e in EXERCISES if include_extra or not e.extra]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise KeyError(f"unknown exercise {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return [e for e in EXERCISES if e.name in names]
