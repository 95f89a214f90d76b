"""The float32 checks: training runs in float32, so a function that returns float64 for float32
inputs (an `np.zeros(shape)` without dtype, `x.astype(float)`, a NumPy float64 constant) loses a
little, with a message naming the output, and right float32 work, however written, keeps full marks."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tinyalbert.grading import cases_nn, check, codec
from tinyalbert.grading.checks import InProcess, run_check
from tinyalbert.grading.exercises import BY_NAME, EXERCISES
from tinyalbert.grading.grade import DEFAULT_SEED, Setting, check_rng, grade
from tinyalbert.grading.mutants import MUTANTS
from tinyalbert.grading.reference import reference_namespace
from tinyalbert.grading.sandbox import Limits
from tinyalbert.grading.selftest import check_mutant
from tinyalbert.grading.stubs import exercise_file
from tinyalbert.nn.layernorm import LayerNormCache
from tinyalbert.nn.losses import CrossEntropyCache

QUICK = Setting(1, 2, 4)
LIMITS = Limits(call_s=10, cpu_s=10)
KEEP_THE_DTYPE = "keep the input's dtype (e.g. create arrays with dtype=x.dtype, use Python floats for constants)"
# the exercises of the network, whose every function takes and returns float arrays
NETWORK = {"linear", "layernorm", "activations", "softmax", "attention", "attention_relative", "feedforward",
           "embeddings", "encoder", "mlm_head", "sop_head", "cross_entropy", "task_losses"}


def graded(exercise: str, source: str, seed: int = 0) -> dict:
    result = grade({f"{exercise}.py": source}, [exercise], seed=seed, setting=QUICK, limits=LIMITS)[0]
    return {c.check: c for c in result.checks}


def edited(source: str, *pairs) -> str:
    for old, new in pairs:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    return source


def messages(result) -> list:
    return [c.message for c in result.cases if not c.passed]


def test_a_solution_that_returns_float64_loses_exactly_the_float32_points_and_is_told_which_output():
    source = edited(exercise_file(BY_NAME["linear"], cut=False),
                    ("rows = xp.reshape(inputs, (-1, inputs.shape[-1]))",
                     "rows = xp.reshape(inputs.astype(float), (-1, inputs.shape[-1]))"),
                    ("d_bias = xp.sum(d_rows, axis=0) if cache.has_bias else None",
                     "d_bias = xp.zeros(weight.shape[0]) + xp.sum(d_rows, axis=0) if cache.has_bias else None"))
    checks = graded("linear", source)
    # forward 2 + backward 2 + gradcheck 2, all kept (float64 in, float64 out: right); float32 0 of 0.5
    assert {name: c.score for name, c in checks.items()} == {"forward": 2, "backward": 2, "gradcheck": 2, "float32": 0}
    assert checks["float32"].max_score == 0.5
    forward, backward = messages(checks["float32"])
    assert forward == f"`linear_forward` returns float64 for float32 inputs: output [0]; {KEEP_THE_DTYPE}"
    assert backward == f"`linear_backward` returns float64 for float32 inputs: gradient of `bias`; {KEEP_THE_DTYPE}"


def test_numpy_float64_constants_and_float_dtypes_cost_their_functions_share():
    # np.sqrt(2 / np.pi) is a NumPy float64, not a Python float: under NumPy 2 it makes a float32 array float64
    source = edited(exercise_file(BY_NAME["activations"], cut=False),
                    ("from __future__ import annotations\n", "from __future__ import annotations\nimport numpy as np\n"),
                    ("inner *= SQRT_2_OVER_PI", "inner = inner * np.sqrt(2 / np.pi)"),
                    ("return 0.5 * x * (1.0 + erf(x * INV_SQRT_2))",
                     "return 0.5 * x * (np.ones_like(x, dtype=float) + erf(x * INV_SQRT_2))"))
    checks = graded("activations", source)
    assert all(c.score == c.max_score for name, c in checks.items() if name != "float32"), \
        {name: messages(c)[:1] for name, c in checks.items()}
    assert checks["float32"].score == pytest.approx(0.25)  # 2 of its 4 functions: 0.5 * 2 / 4
    lost = messages(checks["float32"])
    assert lost == [f"`gelu_new` returns float64 for float32 inputs: the output; {KEEP_THE_DTYPE}",
                    f"`gelu` returns float64 for float32 inputs: the output; {KEEP_THE_DTYPE}"]


def test_a_float64_field_of_the_cache_is_named_by_its_field():
    def layernorm_forward(inputs, weight, bias, eps):
        centered = inputs - inputs.mean(-1, keepdims=True)
        inv_std = 1.0 / np.sqrt((centered ** 2).mean(-1, keepdims=True).astype(float) + eps)
        normalized = centered * inv_std  # float32 times float64: float64
        return (normalized * weight + bias).astype(inputs.dtype), LayerNormCache(normalized.astype(inputs.dtype),
                                                                                 inv_std, weight)

    results = _float32_results("layernorm", {"layernorm_forward": layernorm_forward})
    forward = next(r for r in results if r.name.startswith("`layernorm_forward`"))
    assert not forward.passed
    assert forward.message == ("`layernorm_forward` returns float64 for float32 inputs: output [1, 1] "
                               f"(LayerNormCache.inv_std); {KEEP_THE_DTYPE}")


def _float32_results(exercise: str, functions: dict, seed: int = DEFAULT_SEED) -> list:
    """The float32 check of `exercise` in this process, with `functions` in place of the reference's."""
    item = next(c for c in BY_NAME[exercise].checks if c.kind == "float32")
    reference = reference_namespace(BY_NAME[exercise].functions)
    return run_check(item, InProcess({**reference, **functions}), InProcess(reference),
                     check_rng(seed, exercise, item.name), draws=2, entries=3, arrays=8)


def test_every_exercise_of_the_network_has_a_small_float32_check_over_each_of_its_functions():
    with_float32 = {e.name: next(c for c in e.checks if c.kind == "float32") for e in EXERCISES
                    if any(c.kind == "float32" for c in e.checks)}
    assert set(with_float32) == NETWORK
    for name, item in with_float32.items():
        assert item.points == 0.5 < BY_NAME[name].points / 10
        graded_functions = [f for f in BY_NAME[name].functions if f != "group_of_pass"]  # an int in, an int out
        assert list(item.functions) == graded_functions


@pytest.mark.parametrize("exercise", sorted(NETWORK))
def test_the_reference_passes_the_float32_check_on_every_seed(exercise):
    for seed in range(12):
        results = _float32_results(exercise, {}, seed)
        assert results and all(r.passed for r in results), [(r.name, r.message) for r in results if not r.passed]


def test_the_reference_gets_full_marks_through_the_sandbox():
    solutions = {e.file_name: exercise_file(e, cut=False) for e in EXERCISES if e.name in NETWORK}
    for result in grade(solutions, sorted(NETWORK), seed=918273645, setting=QUICK, limits=LIMITS):
        float32 = next(c for c in result.checks if c.check == "float32")
        assert float32.cases and float32.score == float32.max_score, (result.name, messages(float32))


def _linear_einsum(inputs, weight, bias):
    outputs = np.einsum("...i,oi->...o", inputs, weight)
    return outputs if bias is None else outputs + bias, None


def _softmax_backward_jacobian(d_probs, probs):
    jacobian = probs[..., :, None] * np.eye(probs.shape[-1], dtype=probs.dtype) - probs[..., :, None] * probs[..., None, :]
    return np.einsum("...ij,...j->...i", jacobian, d_probs)


def _layernorm_with_var(inputs, weight, bias, eps):
    inv_std = 1.0 / np.sqrt(np.var(inputs, axis=-1, keepdims=True) + eps)
    normalized = (inputs - np.mean(inputs, axis=-1, keepdims=True)) * inv_std
    return np.einsum("...i,i->...i", normalized, weight) + bias, LayerNormCache(normalized, inv_std, weight)


def _gelu_new_python_constants(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def _cross_entropy_log_softmax(logits, targets, ignore_index=-100):
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    counted = (targets != ignore_index).astype(logits.dtype)
    safe = np.where(targets != ignore_index, targets, 0)
    loss = float(-(log_probs[np.arange(len(safe)), safe] * counted).sum() / counted.sum())
    return loss, CrossEntropyCache(np.exp(log_probs), safe, counted, counted.sum())


@pytest.mark.parametrize("name, function", [
    ("linear_forward", _linear_einsum),
    ("softmax_backward", _softmax_backward_jacobian),
    ("layernorm_forward", _layernorm_with_var),
    ("gelu_new", _gelu_new_python_constants),
    ("cross_entropy_forward", _cross_entropy_log_softmax),
])
def test_right_float32_work_written_another_way_passes(name, function, capsys):
    for seed in (0, 1, 2):
        assert check(name, function, seed=seed) is True
        printed = capsys.readouterr().out
        assert "PASS" in printed and "/float32: 1 of 1 cases" in printed, printed


def test_check_in_a_notebook_runs_the_float32_case_of_that_function_only(capsys):
    def gelu_new(x):
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))

    assert check("gelu_new", gelu_new) is False
    printed = capsys.readouterr().out
    assert "FAIL activations/float32: 0 of 1 cases" in printed, printed
    assert "`gelu_new` returns float64 for float32 inputs: the output" in printed


def test_float32_results_off_by_more_than_rounding_fail_and_say_they_are_float32():
    reference = reference_namespace(["gelu_new"])["gelu_new"]

    def gelu_new(x):  # right in float64; in float32, 1e-3 too large everywhere
        return reference(x) * (1.001 if x.dtype == np.float32 else 1.0)

    results = _float32_results("activations", {"gelu_new": gelu_new})
    failed = [r for r in results if not r.passed]
    assert [r.name.split(":")[0] for r in failed] == ["`gelu_new`"]
    assert "largest error" in failed[0].message and "these are float32, as they should be" in failed[0].message

    def gelu(x):  # float16 is not float32 either
        return reference_namespace(["gelu"])["gelu"](x).astype(np.float16)

    message = next(r for r in _float32_results("activations", {"gelu": gelu}) if not r.passed).message
    assert message.startswith("`gelu` returns float16 for float32 inputs: the output;")


def test_a_float32_case_casts_the_float_arrays_and_nothing_else():
    case = cases_nn.embeddings_cases(np.random.default_rng(0), 0)[0]
    single = cases_nn.as_float32(case)
    ids, types, positions, weights = single.args
    assert ids.dtype == case.args[0].dtype and ids.dtype.kind == "i" and positions.dtype.kind == "i"
    assert {w.dtype for w in weights.values()} == {np.dtype(np.float32)}
    assert single.kwargs == case.kwargs and isinstance(single.kwargs["layer_norm_eps"], float)
    assert single.name == case.name + ", in float32"
    np.testing.assert_array_equal(weights["word_embeddings.weight"],
                                  case.args[3]["word_embeddings.weight"].astype(np.float32))


def test_a_numpy_float32_number_comes_back_a_float32():
    # a loss returned as a NumPy float64 number is a float64 result like any array
    back = codec.round_trip({"loss": np.float32(1.5), "other": np.float64(2.0), "python": 0.25}, trusted=False)
    assert type(back["loss"]) is np.float32 and back["loss"] == 1.5
    assert type(back["other"]) is np.float64 and type(back["python"]) is float


NEW_MUTANTS = ("LayerNorm's inv_std computed in float64 (astype(float)): float32 output, float64 cache",
               "gelu_new with sqrt(2/pi) as a NumPy float64 (np.sqrt(2 / np.pi)), which turns float32 into float64",
               "lookup gradient summed into np.zeros without a dtype (float64)",
               "counted labels as float64 (astype(float)): a float64 loss and cache")


@pytest.mark.parametrize("name", NEW_MUTANTS)
def test_each_float64_mutant_loses_the_float32_check_only(name):
    mutant = next((m for m in MUTANTS if m.name == name), None)
    assert mutant is not None and mutant.aimed == ("float32",)
    solutions = {e.file_name: exercise_file(e, cut=False) for e in EXERCISES if e.name == mutant.exercise}
    finding = check_mutant(mutant, DEFAULT_SEED, solutions)
    assert finding.ok, finding.detail  # lost points on the float32 check, full marks on every other
    assert finding.max_score - 0.5 <= finding.score < finding.max_score
