"""The autograder against work students really hand in: mistakes the self-test's mutants do not
cover lose points with feedback that says where to look, and right work written another way
(einsum, a Jacobian, other but equivalent numerics) keeps full marks."""
from __future__ import annotations

import numpy as np
import pytest

from tinyalbert.grading.compare import compare_arrays
from tinyalbert.grading.exercises import BY_NAME
from tinyalbert.grading.grade import Setting, grade
from tinyalbert.grading.mutants import MUTANTS
from tinyalbert.grading.sandbox import Limits
from tinyalbert.grading.selftest import check_mutant
from tinyalbert.grading.stubs import exercise_file

QUICK = Setting(1, 2, 4)
LIMITS = Limits(call_s=10, cpu_s=10)


def graded(exercise: str, source: str, seed: int = 0) -> dict:
    result = grade({f"{exercise}.py": source}, [exercise], seed=seed, setting=QUICK, limits=LIMITS)[0]
    return {c.check: c for c in result.checks}


def reference(exercise: str) -> str:
    return exercise_file(BY_NAME[exercise], cut=False)


def edited(source: str, *pairs) -> str:
    for old, new in pairs:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    return source


def lost(checks: dict) -> set:
    return {name for name, c in checks.items() if c.score < c.max_score}


def failures(check) -> list:
    return [(c.name, c.message) for c in check.cases if not c.passed]


# --- dropout: the forward must draw it, the backward must apply the cache's masks -------------------
ATTENTION_WITHOUT_DROPOUT = (
    ("attention_probs, attention_dropout_cache = dropout_forward(probs, attention_dropout, rng)",
     "attention_probs, attention_dropout_cache = probs, DropoutCache(None)"),
    ("projected, output_dropout_cache = dropout_forward(projected, output_dropout, rng)",
     "output_dropout_cache = DropoutCache(None)"),
)


def test_an_attention_forward_that_ignores_dropout_loses_the_dropout_case():
    checks = graded("attention", edited(reference("attention"), *ATTENTION_WITHOUT_DROPOUT))
    assert lost(checks) == {"forward"}  # its backward is the reference's; with its own forward it agrees
    (name, message), = failures(checks["forward"])
    assert "dropout 0.2 on the probabilities" in name and "dropout_forward(x, p, rng)" in name
    assert "largest error" in message


def test_an_attention_backward_that_forgets_the_dropout_masks_loses_points():
    source = edited(reference("attention"),
                    ("d_projected, _ = dropout_backward(d_sum, cache.output_dropout)", "d_projected = d_sum"),
                    ("d_probs, _ = dropout_backward(d_probs, cache.attention_dropout)", "pass"),
                    ("attention_probs = dropout_reapply(probs, cache.attention_dropout)", "attention_probs = probs"))
    checks = graded("attention", source)
    assert lost(checks) == {"backward", "gradcheck"}
    (name, message), = failures(checks["backward"])
    assert name.startswith("dropout") and "gradients differ" in message and "`weights`['dense.weight']" in message


def test_a_classifier_without_dropout_loses_its_forward_and_one_without_masks_its_backward():
    source = reference("sop_head")
    no_dropout = edited(source, ("dropped, dropout_cache = dropout_forward(features, dropout, rng)",
                                 "dropped, dropout_cache = features, DropoutCache(None)"))
    assert lost(graded("sop_head", no_dropout)) == {"classifier_forward"}
    no_masks = edited(source, ("d_features, _ = dropout_backward(d_dropped, cache.dropout)", "d_features = d_dropped"))
    checks = graded("sop_head", no_masks)
    assert lost(checks) == {"classifier_backward", "classifier_gradcheck"}
    assert "gradient of `features`" in failures(checks["classifier_backward"])[0][1]


def test_embeddings_without_dropout_lose_the_dropout_case():
    source = edited(reference("embeddings"), ("output, dropout_cache = dropout_forward(output, dropout, rng)",
                                              "dropout_cache = DropoutCache(None)"))
    checks = graded("embeddings", source)
    assert lost(checks) == {"forward"}
    assert failures(checks["forward"])[0][0].startswith("dropout 0.25")


OWN_DROPOUT_ATTENTION_PROBS = """
    keep = rng.random(probs.shape, dtype=np.float32) >= attention_dropout
    attention_probs = probs * keep / (1.0 - attention_dropout)
    attention_dropout_cache = DropoutCache(keep / (1.0 - attention_dropout))
"""


def test_dropout_drawn_as_dropout_forward_draws_it_gets_full_marks():
    # the masks are the reference's when drawn from the same generator in the same way
    source = edited(reference("attention"),
                    ("    attention_probs, attention_dropout_cache = dropout_forward(probs, attention_dropout, rng)\n",
                     "    import numpy as np\n    if rng is None or not attention_dropout:\n"
                     "        attention_probs, attention_dropout_cache = probs, DropoutCache(None)\n"
                     "    else:" + OWN_DROPOUT_ATTENTION_PROBS.replace("\n    ", "\n        ")))
    checks = graded("attention", source)
    assert not lost(checks), {name: failures(c)[:1] for name, c in checks.items()}


# --- inputs_embeds in place of the word lookup --------------------------------------------------------
def test_embeddings_that_ignore_inputs_embeds_or_drop_their_gradient_lose_points():
    source = reference("embeddings")
    ignored = edited(source, ('embedding_lookup(weights["word_embeddings.weight"], input_ids) if inputs_embeds is None '
                              'else inputs_embeds', 'embedding_lookup(weights["word_embeddings.weight"], input_ids)'))
    checks = graded("embeddings", ignored)
    assert lost(checks) == {"forward", "gradcheck"}
    assert failures(checks["forward"])[0][0].startswith("inputs_embeds")
    no_gradient = edited(source, ("        return d_embedded, d_weights\n", "        return None, d_weights\n"))
    checks = graded("embeddings", no_gradient)
    assert lost(checks) == {"backward", "gradcheck"}
    assert "gradient of `inputs_embeds`" in failures(checks["backward"])[0][1]


# --- a cache that holds something else ----------------------------------------------------------------
LAYERNORM_STD_IN_CACHE = """
import numpy as np
from typing import NamedTuple


class LayerNormCache(NamedTuple):
    normalized: object
    inv_std: object
    weight: object


def layernorm_forward(inputs, weight, bias, eps):
    centered = inputs - inputs.mean(-1, keepdims=True)
    std = np.sqrt((centered ** 2).mean(-1, keepdims=True) + eps)
    normalized = centered / std
    return normalized * weight + bias, LayerNormCache(normalized, std, weight)  # std, not 1 / std


def layernorm_backward(d_output, cache):
    n, inv_std, w = cache
    g = d_output * w
    d_inputs = inv_std * (g - g.mean(-1, keepdims=True) - n * (g * n).mean(-1, keepdims=True))
    rows = d_output.reshape(-1, n.shape[-1])
    return d_inputs, {"weight": (rows * n.reshape(rows.shape)).sum(0), "bias": rows.sum(0)}
"""


def test_a_forward_and_a_backward_right_alone_but_not_together_are_told_to_look_at_the_cache():
    checks = graded("layernorm", LAYERNORM_STD_IN_CACHE)
    assert lost(checks) == {"gradcheck"}
    note = checks["gradcheck"].note
    assert "`layernorm_forward` passes `forward`" in note and "`layernorm_backward` passes `backward`" in note
    assert "cache" in note and "Fix `layernorm_forward` first" not in note


def test_a_gradcheck_lost_to_a_wrong_forward_still_says_fix_the_forward_first():
    source = edited(reference("layernorm"), ("variance = xp.mean(centered * centered, axis=-1, keepdims=True)",
                                             "variance = xp.mean(centered * centered, axis=-1, keepdims=True) * 1.01"))
    checks = graded("layernorm", source)
    assert "Fix `layernorm_forward` first" in checks["gradcheck"].note


# --- what a failure shows ---------------------------------------------------------------------------
def test_a_small_error_is_shown_with_the_digits_where_the_values_differ():
    # 1.684674645 against 1.684675145, 3e-7 apart relative (over the 1e-7 allowed): at the usual
    # 6 digits both print as 1.684675
    message = compare_arrays(np.array([-0.099829712, 1.684674645, -1.154351556]),
                             np.array([-0.099829712, 1.684675145, -1.154351556]), "the output")
    assert message is not None
    expected = message.split("; expected ")[1].split(", got")[0]
    got = message.split(", got ")[1]
    assert "1.6846746" in expected and "1.6846751" in got, message


def test_a_float32_output_is_named_without_a_stray_article():
    got = np.array([0.1, 0.2001], dtype=np.float32)
    message = compare_arrays(np.array([0.1, 0.2]), got, "the output")
    assert message is not None
    assert "your output is float32" in message and "your the output" not in message


# --- right work written another way keeps full marks ------------------------------------------------
SOFTMAX_OTHER_WAY = """
import numpy as np


def softmax_and_log_norm(scores, axis=-1):
    top = scores.max(axis=axis, keepdims=True)
    log_norm = top + np.log(np.exp(scores - top).sum(axis=axis, keepdims=True))
    return np.exp(scores - log_norm), log_norm


def softmax(scores, axis=-1):
    shifted = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def softmax_backward(d_probs, probs):
    # the full Jacobian diag(p) - p p^T, row by row
    jacobian = probs[..., :, None] * np.eye(probs.shape[-1], dtype=probs.dtype) - probs[..., :, None] * probs[..., None, :]
    return np.einsum("...ij,...j->...i", jacobian, d_probs)
"""

CROSS_ENTROPY_OTHER_WAY = """
import numpy as np
from typing import NamedTuple


class CrossEntropyCache(NamedTuple):
    probs: object
    targets: object
    counted: object
    num_counted: object


def cross_entropy_forward(logits, targets, ignore_index=-100):
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    counted = (targets != ignore_index).astype(logits.dtype)
    safe = np.where(targets != ignore_index, targets, 0)
    picked = log_probs[np.arange(len(safe)), safe]
    return float(-(picked * counted).sum() / counted.sum()), CrossEntropyCache(np.exp(log_probs), safe, counted,
                                                                               counted.sum())


def cross_entropy_backward(d_loss, cache):
    d_logits = cache.probs.copy()
    d_logits[np.arange(len(cache.targets)), cache.targets] -= 1.0
    return d_logits * (cache.counted * d_loss / max(float(cache.num_counted), 1.0))[:, None], {}
"""

LAYERNORM_OTHER_WAY = """
import numpy as np
from typing import NamedTuple


class LayerNormCache(NamedTuple):
    normalized: object
    inv_std: object
    weight: object


def layernorm_forward(inputs, weight, bias, eps):
    mean = inputs.mean(-1, keepdims=True)
    variance = (inputs ** 2).mean(-1, keepdims=True) - mean ** 2  # E[x^2] - E[x]^2
    inv_std = (variance + eps) ** -0.5
    normalized = (inputs - mean) * inv_std
    return np.einsum("...i,i->...i", normalized, weight) + bias, LayerNormCache(normalized, inv_std, weight)


def layernorm_backward(d_output, cache):
    # staged as in CS231n: through the variance, then the mean
    n, inv_std, w = cache
    dim = n.shape[-1]
    centered = n / inv_std
    d_normalized = d_output * w
    d_variance = np.sum(d_normalized * centered, -1, keepdims=True) * -0.5 * inv_std ** 3
    d_centered = d_normalized * inv_std + d_variance * 2.0 * centered / dim
    d_inputs = d_centered - d_centered.mean(-1, keepdims=True)
    rows, normalized_rows = d_output.reshape(-1, dim), n.reshape(-1, dim)
    return d_inputs, {"weight": np.einsum("ri,ri->i", rows, normalized_rows), "bias": np.einsum("ri->i", rows)}
"""


@pytest.mark.parametrize("exercise, source", [("softmax", SOFTMAX_OTHER_WAY), ("cross_entropy", CROSS_ENTROPY_OTHER_WAY),
                                              ("layernorm", LAYERNORM_OTHER_WAY)])
def test_right_work_written_another_way_gets_full_marks(exercise, source):
    for seed in (0, 1):
        checks = graded(exercise, source, seed=seed)
        assert not lost(checks), {name: failures(c)[:1] for name, c in checks.items()}


def test_attention_with_einsum_products_gets_full_marks():
    source = edited(reference("attention"),
                    ("scores = queries @ xp.matrix_transpose(keys)",
                     "import numpy as np\n    scores = np.einsum('bhqd,bhkd->bhqk', queries, keys)"),
                    ("context = merge_heads(attention_probs @ values)",
                     "context = merge_heads(np.einsum('bhqk,bhkd->bhqd', attention_probs, values))"))
    checks = graded("attention", source)
    assert not lost(checks), {name: failures(c)[:1] for name, c in checks.items()}


# --- the self-test proves the new cases ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["output dropout after the residual and LayerNorm, not on the dense output",
                                  "dropout masks left out of the attention backward",
                                  "inputs_embeds ignored: the word lookup always", "no gradient for inputs_embeds",
                                  "dropout mask left out of the classifier backward"])
def test_the_self_test_catches_the_dropout_and_inputs_embeds_mutants(name):
    mutant = next(m for m in MUTANTS if m.name == name)
    exercise = BY_NAME[mutant.exercise]
    finding = check_mutant(mutant, 0, {f"{exercise.name}.py": reference(exercise.name)})
    assert finding.ok, finding.detail
