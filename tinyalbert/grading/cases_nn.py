"""The cases each neural-network check is run on: hand-picked edge cases, then random draws.

Every builder takes `(rng, draws)`: `rng` comes from the grading seed (which students do not
see), `draws` is how many random cases to add after the edge cases. All floats are float64;
the float32 checks cast one case (`as_float32`). A `Case` holds the arguments of the *forward*
function; backward checks derive their inputs from it (see `checks.py`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .codec import Config, Rng

MASKED = -1e9  # the additive mask of a padded key (Transformers uses the dtype's minimum)


class Case(NamedTuple):
    name: str
    args: list
    kwargs: dict = {}


def cast_floats(value, dtype):
    """`value` with every float array in it (in lists, tuples and dicts too) cast to `dtype`;
    everything else as it is: integer ids, boolean masks, Python numbers (eps, a dropout rate)."""
    if isinstance(value, np.ndarray):
        return value.astype(dtype) if value.dtype.kind == "f" else value
    if isinstance(value, dict):
        return {key: cast_floats(item, dtype) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(cast_floats(item, dtype) for item in value)
    return value


def as_float32(case: Case) -> Case:
    """`case` in float32, as training runs: its float arrays cast (weights, inputs, an additive
    mask), the rest as it is. Named after it."""
    return Case(f"{case.name}, in float32", cast_floats(case.args, np.float32), cast_floats(case.kwargs, np.float32))


def normal(rng, *shape, scale=1.0):
    return rng.standard_normal(shape) * scale


# The least width a random draw gives a LayerNorm it feeds (attention, feed-forward, embeddings, MLM
# head). Over 2 features LayerNorm is all but constant: the row (a, b) normalizes to
# +-(1, -1) d / sqrt(d^2 + 4 eps) with d = a - b, so its gradient is 4 eps / |d|^3, a value of eps's
# size, and what central differences see of it is the rounding of x - mean(x) magnified |x| / |d|
# times (a rounding noise the gradcheck's noise allowance, sized on |output|, does not cover). A
# right backward then failed the gradcheck on some seeds (attention, hidden (1, 4, 2), d = 2.3e-3:
# relative error 5e-6), and a backward returning zeros passed it. Over 1 feature it is constant.
MIN_NORMALIZED = 3


def layernorm_params(rng, dim):
    return 1.0 + normal(rng, dim, scale=0.1), normal(rng, dim, scale=0.1)


# --- linear, layernorm, activations, softmax ---------------------------------------------------
def linear_cases(rng, draws):
    cases = [
        Case("3-D input (batch 2, seq 3, in 4) to out 5", [normal(rng, 2, 3, 4), normal(rng, 5, 4), normal(rng, 5)]),
        Case("no bias (bias=None)", [normal(rng, 3, 4), normal(rng, 2, 4), None]),
        Case("one row, out 1", [normal(rng, 1, 3), normal(rng, 1, 3), normal(rng, 1)]),
    ]
    for i in range(draws):
        shape = tuple(int(n) for n in rng.integers(1, 5, size=int(rng.integers(1, 4))))
        fan_in, fan_out = (int(n) for n in rng.integers(1, 7, size=2))
        cases.append(Case(f"random draw {i + 1}", [normal(rng, *shape, fan_in), normal(rng, fan_out, fan_in), normal(rng, fan_out)]))
    return cases


def layernorm_cases(rng, draws, *, for_gradients=False):
    weight, bias = layernorm_params(rng, 6)
    cases = [
        Case("(batch 2, seq 3, dim 6), eps 1e-12", [normal(rng, 2, 3, 6, scale=3.0) + 1.0, weight, bias, 1e-12]),
        Case("large eps 0.5 (inside the square root)", [normal(rng, 4, 6), weight, bias, 0.5]),
        Case("rows with a small spread, eps 1e-3", [1.0 + normal(rng, 3, 6, scale=0.01), weight, bias, 1e-3]),
    ]
    if not for_gradients:  # a constant row: the gradient is 1/sqrt(eps) there, too steep for finite differences
        cases.append(Case("a constant row (zero variance)", [np.full((2, 6), 3.0), weight, bias, 1e-12]))
    for i in range(draws):
        dim = int(rng.integers(2, 9))
        w, b = layernorm_params(rng, dim)
        cases.append(Case(f"random draw {i + 1}", [normal(rng, int(rng.integers(1, 4)), dim, scale=2.0), w, b, 1e-5]))
    return cases


def activation_cases(rng, draws):
    cases = [
        Case("zero and values near it", [np.array([0.0, 1e-3, -1e-3, 0.5, -0.5])]),
        Case("large |x| (tails)", [np.array([-8.0, -4.0, 3.0, 6.0, 10.0])]),
        Case("(batch 2, seq 3, dim 4)", [normal(rng, 2, 3, 4, scale=2.0)]),
    ]
    cases += [Case(f"random draw {i + 1}", [normal(rng, int(rng.integers(1, 6)), 3, scale=3.0)]) for i in range(draws)]
    return cases


def log_norm_cases(rng, draws):
    return [Case(c.name, c.args, {"axis": axis}) for c, axis in zip(softmax_cases(rng, draws), [-1, 2, -1, -1, 1, -1, -1])]


def softmax_cases(rng, draws, *, for_gradients=False):
    cases = [Case("(batch 2, heads 2, seq 3, seq 3)", [normal(rng, 2, 2, 3, 3, scale=2.0)])]
    masked = normal(rng, 2, 1, 3, 4)
    masked[0, :, :, 3] += MASKED
    cases.append(Case("a masked column (-1e9 added)", [masked]))
    if not for_gradients:
        cases.append(Case("large scores (+-1000: needs the max subtracted)", [normal(rng, 2, 3, 3, 4, scale=1000.0)]))
    cases += [Case(f"random draw {i + 1}", [normal(rng, 2, int(rng.integers(1, 3)), 3, int(rng.integers(2, 6)), scale=2.0)])
              for i in range(draws)]
    return cases


# --- attention ---------------------------------------------------------------------------------
def attention_weights(rng, hidden):
    weights = {}
    for name in ("query", "key", "value", "dense"):
        weights[f"{name}.weight"] = normal(rng, hidden, hidden, scale=0.5)
        weights[f"{name}.bias"] = normal(rng, hidden, scale=0.1)
    weights["LayerNorm.weight"], weights["LayerNorm.bias"] = layernorm_params(rng, hidden)
    return weights


def mask_bias(lengths, seq):
    """(batch, 1, 1, seq): 0 on the first `length` keys of each row, MASKED on the padding."""
    bias = np.zeros((len(lengths), 1, 1, seq))
    for row, length in enumerate(lengths):
        bias[row, ..., length:] = MASKED
    return bias


def attention_case(rng, name, batch, seq, hidden, heads, lengths=None, head_mask=None, dropout=None):
    """`dropout`: (on the probabilities, on the dense output), drawn from a generator of a seed from `rng`."""
    mask = None if lengths is None else mask_bias(lengths, seq)
    args = [normal(rng, batch, seq, hidden), attention_weights(rng, hidden), mask, head_mask]
    kwargs = {"num_heads": heads, "position_embedding_type": "absolute", "max_positions": seq, "layer_norm_eps": 1e-12}
    if dropout is not None:
        kwargs.update(attention_dropout=dropout[0], output_dropout=dropout[1], rng=dropout_rng(rng))
    return Case(name, args, kwargs)


def dropout_rng(rng):
    """A generator for a case with dropout, made anew from its seed for each call: the student's
    forward draws the same masks as the reference's, and again at every perturbed input of the gradcheck."""
    return Rng(int(rng.integers(2**31)))


# The name of a case with dropout says how its masks are drawn: a right forward draws them with
# `dropout_forward` from the generator given, one array at a time in the order of the computation
# (as tinyalbert and Transformers do); its backward applies the masks of the cache.
DROPOUT_DRAWN = "masks drawn by `dropout_forward(x, p, rng)` in the order of the computation"


def attention_cases(rng, draws):
    head_mask = np.ones((1, 2, 1, 1))
    head_mask[0, 1] = 0.0
    cases = [
        attention_case(rng, "padding: row 0 has 2 real tokens of 4", 2, 4, 6, 2, lengths=[2, 4]),
        attention_case(rng, "one head (head_size = hidden)", 2, 3, 4, 1, lengths=[3, 2]),
        attention_case(rng, "head_mask switching head 1 off", 1, 3, 6, 2, head_mask=head_mask),
        attention_case(rng, "batch 1, seq 1", 1, 1, 4, 2),
    ]
    drawn = []
    for i in range(draws):
        heads = int(rng.integers(1, 4))
        seq, batch = int(rng.integers(2, 5)), int(rng.integers(1, 3))
        lengths = [int(n) for n in rng.integers(1, seq + 1, size=batch)]
        head_size = max(int(rng.integers(1, 3)), -(-MIN_NORMALIZED // heads))  # hidden >= MIN_NORMALIZED
        drawn.append(attention_case(rng, f"random draw {i + 1}", batch, seq, heads * head_size, heads, lengths))
    # drawn from `rng` last, so that the other cases of a seed stay what they were before it was added
    cases.append(attention_case(rng, "dropout 0.2 on the probabilities, then 0.3 on the dense output (before the "
                                     f"residual; {DROPOUT_DRAWN}), padding", 2, 3, 4, 2, lengths=[3, 2],
                                dropout=(0.2, 0.3)))
    return cases + drawn


def relative_cases(rng, draws):
    """queries, keys (batch, heads, seq, head_size) and the distance table (2 * max_positions - 1, head_size)."""
    def case(name, batch, heads, seq, size, kind, max_positions):
        return Case(name, [normal(rng, batch, heads, seq, size), normal(rng, batch, heads, seq, size),
                           normal(rng, 2 * max_positions - 1, size)],
                    {"position_embedding_type": kind, "max_positions": max_positions})

    cases = [case("relative_key_query, (batch 2, heads 2, seq 3, head_size 4)", 2, 2, 3, 4, "relative_key_query", 4),
             case("relative_key: the keys play no part", 1, 2, 3, 2, "relative_key", 3),
             case("seq 1, one head", 1, 1, 1, 3, "relative_key_query", 2)]
    for i in range(draws):
        batch, heads, seq, size = (int(n) for n in rng.integers(1, 4, size=4))
        kind = "relative_key_query" if rng.random() < 0.5 else "relative_key"
        cases.append(case(f"random draw {i + 1}", batch, heads, seq, size, kind, seq + int(rng.integers(0, 3))))
    return cases


# --- feed-forward, embeddings, encoder -----------------------------------------------------------
def feedforward_weights(rng, hidden, intermediate):
    weights = {"ffn.weight": normal(rng, intermediate, hidden, scale=0.5), "ffn.bias": normal(rng, intermediate, scale=0.1),
               "ffn_output.weight": normal(rng, hidden, intermediate, scale=0.5), "ffn_output.bias": normal(rng, hidden, scale=0.1)}
    weights["full_layer_layer_norm.weight"], weights["full_layer_layer_norm.bias"] = layernorm_params(rng, hidden)
    return weights


def feedforward_cases(rng, draws):
    def case(name, batch, seq, hidden, intermediate, act):
        return Case(name, [normal(rng, batch, seq, hidden), feedforward_weights(rng, hidden, intermediate)],
                    {"hidden_act": act, "layer_norm_eps": 1e-12})

    cases = [case("gelu_new, intermediate 8 > hidden 4", 2, 3, 4, 8, "gelu_new"),
             case("exact gelu, intermediate 3 < hidden 5", 1, 2, 5, 3, "gelu"),
             case("relu", 2, 2, 4, 6, "relu")]
    cases += [case(f"random draw {i + 1}", int(rng.integers(1, 3)), int(rng.integers(1, 4)),
                   int(rng.integers(MIN_NORMALIZED, 6)), int(rng.integers(2, 8)), "gelu_new") for i in range(draws)]
    return cases


def embedding_weights(rng, vocab, size, positions=6, types=2):
    weights = {"word_embeddings.weight": normal(rng, vocab, size), "position_embeddings.weight": normal(rng, positions, size),
               "token_type_embeddings.weight": normal(rng, types, size)}
    weights["LayerNorm.weight"], weights["LayerNorm.bias"] = layernorm_params(rng, size)
    return weights


def embeddings_cases(rng, draws, *, for_gradients=False):
    def case(name, ids, types, positions, size, kind="absolute", padding_idx=0, **options):
        weights = embedding_weights(rng, 7, size)
        kwargs = {"position_embedding_type": kind, "layer_norm_eps": 1e-12,
                  "padding_idx": None if for_gradients else padding_idx, **options}
        return Case(name, [None if ids is None else np.array(ids), np.array(types), positions, weights], kwargs)

    cases = [
        case("repeated ids, padding id 0 in row 1", [[1, 5, 5, 2], [3, 1, 0, 0]], [[0, 0, 1, 1], [0, 1, 1, 0]],
             np.array([[0, 1, 2, 3], [0, 1, 2, 3]]), 3),
        case("position ids (1, seq) shared by the batch", [[2, 2, 6], [4, 3, 1]], [[0, 1, 1], [1, 1, 0]], np.array([[0, 1, 2]]), 4),
        case("relative positions: no position table", [[1, 2, 3]], [[0, 0, 1]], None, MIN_NORMALIZED, kind="relative_key"),
    ]
    drawn = []
    for i in range(draws):
        batch, seq = int(rng.integers(1, 3)), int(rng.integers(1, 6))
        positions = np.tile(np.arange(seq), (batch, 1))
        drawn.append(case(f"random draw {i + 1}", rng.integers(0, 7, (batch, seq)), rng.integers(0, 2, (batch, seq)),
                          positions, int(rng.integers(MIN_NORMALIZED, 6))))
    # drawn from `rng` last, so that the other cases of a seed stay what they were before they were added
    cases += [
        case("inputs_embeds (2, 3, 4) in place of the word lookup (input_ids=None)", None, [[0, 1, 1], [1, 0, 0]],
             np.array([[0, 1, 2]]), 4, inputs_embeds=normal(rng, 2, 3, 4)),
        case(f"dropout 0.25 after the LayerNorm ({DROPOUT_DRAWN})", [[1, 5, 2], [3, 3, 6]], [[0, 0, 1], [0, 1, 1]],
             np.array([[0, 1, 2], [0, 1, 2]]), 4, dropout=0.25, rng=dropout_rng(rng)),
    ]
    return cases + drawn


def lookup_cases(rng, draws):
    table = normal(rng, 6, 3)
    cases = [Case("ids (2, 3) with repeats", [table, np.array([[1, 1, 4], [0, 5, 1]])]),
             Case("one id", [table, np.array([2])])]
    cases += [Case(f"random draw {i + 1}", [table, rng.integers(0, 6, (2, int(rng.integers(1, 5))))]) for i in range(draws)]
    return cases


def lookup_backward_cases(rng, draws):
    ids = np.array([[1, 1, 4], [0, 5, 1]])
    cases = [Case("repeated ids sum up", [normal(rng, 2, 3, 3), ids, 6, None]),
             Case("padding_idx 1 gets no gradient", [normal(rng, 2, 3, 3), ids, 6, 1])]
    for i in range(draws):
        ids = rng.integers(0, 5, (2, int(rng.integers(1, 6))))
        cases.append(Case(f"random draw {i + 1}", [normal(rng, *ids.shape, 2), ids, 5, 0]))
    return cases


ENCODER = "albert.encoder."


def encoder_params(rng, config: dict):
    """Only the encoder's parameters, keyed by their full Transformers names."""
    hidden, size = config["hidden_size"], config["embedding_size"]
    params = {ENCODER + "embedding_hidden_mapping_in.weight": normal(rng, hidden, size, scale=0.5),
              ENCODER + "embedding_hidden_mapping_in.bias": normal(rng, hidden, scale=0.1)}
    for group in range(config["num_hidden_groups"]):
        for inner in range(config["inner_group_num"]):
            prefix = f"{ENCODER}albert_layer_groups.{group}.albert_layers.{inner}."
            params.update({prefix + "attention." + k: v for k, v in attention_weights(rng, hidden).items()})
            params.update({prefix + k: v for k, v in feedforward_weights(rng, hidden, config["intermediate_size"]).items()})
    return params


def encoder_case(rng, name, *, layers, groups, inner=1, hidden=4, heads=2, size=3, batch=2, seq=3, lengths=None):
    config = {"vocab_size": 10, "embedding_size": size, "hidden_size": hidden, "num_hidden_layers": layers,
              "num_hidden_groups": groups, "inner_group_num": inner, "num_attention_heads": heads,
              "intermediate_size": 5, "max_position_embeddings": 8, "layer_norm_eps": 1e-12}
    mask = None if lengths is None else mask_bias(lengths, seq)
    return Case(name, [normal(rng, batch, seq, size), encoder_params(rng, config), mask, None, Config(**config)],
                {"keep_caches": True})


def encoder_cases(rng, draws):
    cases = [
        encoder_case(rng, "3 passes over 2 groups (E 3 != H 4), padding", layers=3, groups=2, lengths=[3, 2]),
        encoder_case(rng, "2 passes of one shared layer", layers=2, groups=1),
        encoder_case(rng, "2 inner layers per group, one head", layers=2, groups=1, inner=2, heads=1, batch=1),
    ]
    for i in range(draws):
        layers = int(rng.integers(2, 5))
        cases.append(encoder_case(rng, f"random draw {i + 1}", layers=layers, groups=int(rng.integers(1, layers + 1)),
                                  seq=int(rng.integers(1, 4)), batch=1))
    return cases


def group_of_pass_cases(rng, draws):
    pairs = [(12, 1), (3, 2), (4, 3), (6, 4), (5, 5), (7, 3)]
    pairs += [(int(layers), int(rng.integers(1, layers + 1))) for layers in rng.integers(2, 25, size=draws)]
    cases = []
    for layers, groups in pairs:
        config = Config(num_hidden_layers=layers, num_hidden_groups=groups, hidden_size=4, num_attention_heads=1)
        cases += [Case(f"pass {p} of {layers} layers in {groups} groups", [p, config]) for p in range(layers)]
    # The passes where Transformers' float division int(p / (layers / groups)) lands one group below
    # the exact p * groups // layers: there layers / groups is rounded, so p / (layers / groups)
    # comes out just under a whole number. The random draws above seldom land on such a pass.
    for layers, groups, p in ((18, 14, 9), (27, 21, 18), (45, 35, 36)):
        config = Config(num_hidden_layers=layers, num_hidden_groups=groups, hidden_size=4, num_attention_heads=1)
        cases.append(Case(f"pass {p} of {layers} layers in {groups} groups, where in floating point "
                          f"{p} / ({layers} / {groups}) = {p / (layers / groups)!r}, just under the exact "
                          f"{p} * {groups} / {layers} = {p * groups // layers}", [p, config]))
    return cases


# --- heads and the loss ------------------------------------------------------------------------
def mlm_cases(rng, draws):
    def case(name, batch, seq, hidden, size, vocab, act="gelu_new"):
        weights = {"dense.weight": normal(rng, size, hidden, scale=0.5), "dense.bias": normal(rng, size, scale=0.1),
                   "bias": normal(rng, vocab, scale=0.1)}
        weights["LayerNorm.weight"], weights["LayerNorm.bias"] = layernorm_params(rng, size)
        return Case(name, [normal(rng, batch, seq, hidden), weights, normal(rng, vocab, size)],
                    {"hidden_act": act, "layer_norm_eps": 1e-12})

    cases = [case("E 3 != H 5, vocab 7", 2, 3, 5, 3, 7), case("exact gelu, one position", 1, 1, 4, 4, 6, "gelu")]
    cases += [case(f"random draw {i + 1}", 1, int(rng.integers(1, 4)), int(rng.integers(2, 6)),
                   int(rng.integers(MIN_NORMALIZED, 6)), int(rng.integers(3, 9))) for i in range(draws)]
    return cases


def pooler_cases(rng, draws):
    def case(name, batch, seq, hidden):
        return Case(name, [normal(rng, batch, seq, hidden), {"weight": normal(rng, hidden, hidden, scale=0.5),
                                                             "bias": normal(rng, hidden, scale=0.1)}])

    cases = [case("[CLS] of (batch 2, seq 4, hidden 3)", 2, 4, 3), case("seq 1", 1, 1, 4)]
    cases += [case(f"random draw {i + 1}", int(rng.integers(1, 4)), int(rng.integers(2, 5)), int(rng.integers(1, 6)))
              for i in range(draws)]
    return cases


def classifier_cases(rng, draws):
    def case(name, leading, hidden, labels):
        return Case(name, [normal(rng, *leading, hidden), {"weight": normal(rng, labels, hidden), "bias": normal(rng, labels)}])

    cases = [case("SOP: (batch 3, hidden 4) -> 2 labels", (3,), 4, 2), case("token level (2, 3, 4) -> 5", (2, 3), 4, 5)]
    drawn = [case(f"random draw {i + 1}", (int(rng.integers(1, 5)),), int(rng.integers(1, 6)), 2) for i in range(draws)]
    # drawn from `rng` last, so that the other cases of a seed stay what they were before it was added
    dropout = case(f"dropout 0.3 on the features ({DROPOUT_DRAWN}): (batch 4, hidden 5) -> 3", (4,), 5, 3)
    dropout = dropout._replace(kwargs={"dropout": 0.3, "rng": dropout_rng(rng)})
    return cases + [dropout] + drawn


def cross_entropy_cases(rng, draws, *, for_gradients=False):
    cases = [
        Case("ignored labels (-100) in the batch", [normal(rng, 5, 4, scale=2.0), np.array([1, -100, 3, -100, 0])]),
        Case("only one counted target", [normal(rng, 3, 6), np.array([-100, 5, -100])]),
        Case("ignore_index=0 (given)", [normal(rng, 4, 3), np.array([0, 2, 1, 0])], {"ignore_index": 0}),
    ]
    if not for_gradients:
        cases.append(Case("large logits (+-500)", [normal(rng, 3, 5, scale=500.0), np.array([4, 0, -100])]))
    for i in range(draws):
        rows, classes = int(rng.integers(1, 7)), int(rng.integers(2, 9))
        targets = rng.integers(0, classes, rows)
        targets[rng.random(rows) < 0.3] = -100
        targets[0] = int(rng.integers(0, classes))
        cases.append(Case(f"random draw {i + 1}", [normal(rng, rows, classes, scale=2.0), targets]))
    return cases


def mse_cases(rng, draws):
    """Regression: one output per example (batch,), several (batch, labels), a 3-d table."""
    cases = [Case("one label: (batch 5,)", [normal(rng, 5), normal(rng, 5)]),
             Case("3 outputs: (batch 4, 3)", [normal(rng, 4, 3, scale=2.0), normal(rng, 4, 3)]),
             Case("(2, 3, 4)", [normal(rng, 2, 3, 4), normal(rng, 2, 3, 4)])]
    for i in range(draws):
        shape = (int(rng.integers(1, 6)), int(rng.integers(1, 5)))
        cases.append(Case(f"random draw {i + 1}", [normal(rng, *shape, scale=2.0), normal(rng, *shape)]))
    return cases


def bce_cases(rng, draws, *, for_gradients=False):
    """Multi-label: 0/1 targets, soft targets, and (forward only) logits far beyond exp's range."""
    def zero_one(*shape):
        return (rng.random(shape) < 0.5).astype(np.float64)

    cases = [Case("multi-hot targets (batch 4, 3 labels)", [normal(rng, 4, 3, scale=2.0), zero_one(4, 3)]),
             Case("soft targets in [0, 1]", [normal(rng, 3, 5), rng.random((3, 5))]),
             Case("one label per example (batch 6,)", [normal(rng, 6, scale=3.0), zero_one(6)])]
    if not for_gradients:
        # e^x overflows float64 from x = 710 on
        cases.append(Case("large logits (+-800): exp must not overflow", [np.array([[800.0, -800.0], [-750.0, 790.0]]),
                                                                          np.array([[1.0, 0.0], [1.0, 0.0]])]))
    for i in range(draws):
        shape = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
        cases.append(Case(f"random draw {i + 1}", [normal(rng, *shape, scale=2.0), zero_one(*shape)]))
    return cases


# --- head pruning --------------------------------------------------------------------------------
def pruning_weights(rng, num_heads, head_size, hidden, pruned_before, relative=False):
    """One layer's attention weights with the heads `pruned_before` gone already: query, key and
    value (kept * head_size, hidden) and their biases, dense (hidden, kept * head_size) and its
    bias, LayerNorm; with `relative`, the distance table too (shared by the heads, never cut).
    Every entry is drawn anew, so a row or column taken from the wrong place cannot match."""
    rows = (num_heads - len(set(pruned_before))) * head_size
    weights = {}
    for name in ("query", "key", "value"):
        weights[f"{name}.weight"] = normal(rng, rows, hidden, scale=0.5)
        weights[f"{name}.bias"] = normal(rng, rows, scale=0.1)
    weights["dense.weight"], weights["dense.bias"] = normal(rng, hidden, rows, scale=0.5), normal(rng, hidden, scale=0.1)
    weights["LayerNorm.weight"], weights["LayerNorm.bias"] = layernorm_params(rng, hidden)
    if relative:
        weights["distance_embedding.weight"] = normal(rng, 2 * 4 - 1, head_size)
    return weights


def pruning_cases(rng, draws):
    """Arguments of `prune_attention_heads(attention, pruned_before, pruning, num_heads, head_size)`.
    Heads are numbered as in the unpruned layer; a head of `pruning` pruned before is already gone
    (nothing more to cut for it, as Transformers' `find_pruneable_heads_and_indices` drops it)."""
    def case(name, num_heads, head_size, hidden, pruned_before, pruning, relative=False):
        weights = pruning_weights(rng, num_heads, head_size, hidden, pruned_before, relative)
        return Case(name, [weights, list(pruned_before), list(pruning), num_heads, head_size])

    cases = [
        case("nothing to prune (pruning []), head 1 of 4 pruned before: every array as it was", 4, 2, 8, [1], []),
        case("the first head, 0 of 4", 4, 2, 8, [], [0]),
        case("the last head, 3 of 4 (a relative-position layer: its distance table is not cut)", 4, 2, 8, [], [3],
             relative=True),
        case("head 2 of 4 after head 0 was pruned before: it sits at position 1 now", 4, 3, 12, [0], [2]),
        case("pruning [1, 3] with head 1 pruned before (already gone: only 3 is cut)", 4, 2, 8, [1], [1, 3]),
        case("one head left: 1, 2 of 3 pruned, hidden 5", 3, 2, 5, [], [1, 2]),
        case("head_size 1: heads 1, 2 of 5 pruned, head 4 before, hidden 3", 5, 1, 3, [4], [1, 2]),
        case("heads given out of order: pruning [3, 0] of 5", 5, 2, 10, [], [3, 0]),
    ]
    for i in range(draws):
        num_heads, head_size, hidden = int(rng.integers(2, 7)), int(rng.integers(1, 5)), int(rng.integers(3, 11))
        before = sorted(int(h) for h in rng.choice(num_heads, size=int(rng.integers(0, num_heads)), replace=False))
        kept = [h for h in range(num_heads) if h not in before]
        pruning = [int(h) for h in rng.choice(kept, size=int(rng.integers(0, len(kept))), replace=False)]
        if before and rng.random() < 0.3:  # a head pruned before, named again
            pruning.append(int(rng.choice(before)))
        cases.append(case(f"random draw {i + 1} (hidden {hidden})", num_heads, head_size, hidden, before, sorted(pruning)))
    return cases
