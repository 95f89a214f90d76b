"""Scores the autograder must get right: correct work at full marks on every seed, blank or
bypassing work at none, and feedback that names the real problem. Each test grades small
submissions written here (the quick setting: few draws, few finite-difference entries)."""
from __future__ import annotations

import numpy as np
import pytest

from tinyalbert.grading import check
from tinyalbert.grading import cases_nn
from tinyalbert.grading.checks import InProcess, run_check
from tinyalbert.grading.exercises import BY_NAME
from tinyalbert.grading.grade import Setting, check_rng, grade
from tinyalbert.grading.reference import reference_namespace, resolve
from tinyalbert.grading.sandbox import Limits
from tinyalbert.grading.stubs import exercise_file

QUICK = Setting(1, 2, 4)
GRADER_DEFAULT = Setting(2, 3, 8)  # what `grade` uses without TINYALBERT_GRADING_HEAVY
LIMITS = Limits(call_s=10, cpu_s=10)
LINEAR = exercise_file(BY_NAME["linear"], cut=False)
LAYERNORM = exercise_file(BY_NAME["layernorm"], cut=False)


def graded(exercise: str, source: str, setting: Setting = QUICK, seed: int = 0) -> dict:
    result = grade({f"{exercise}.py": source}, [exercise], seed=seed, setting=setting, limits=LIMITS)[0]
    return {c.check: c for c in result.checks}


def failures(result) -> list:
    return [c.message for c in result.cases if not c.passed]


def edited(source: str, old: str, new: str) -> str:
    assert source.count(old) == 1, old
    return source.replace(old, new)


# --- 1. correct work keeps full marks on every seed ------------------------------------------------
def _gradcheck(exercise: str, seed: int) -> list:
    """The reference's own functions through an exercise's gradcheck, in this process."""
    item = next(c for c in BY_NAME[exercise].checks if c.kind == "gradcheck")
    namespace = reference_namespace(BY_NAME[exercise].functions)
    return run_check(item, InProcess(namespace), InProcess(namespace), check_rng(seed, exercise, item.name),
                     draws=GRADER_DEFAULT.draws, entries=GRADER_DEFAULT.entries, arrays=GRADER_DEFAULT.arrays)


@pytest.mark.parametrize("exercise, seed", [("attention", 166299), ("feedforward", 229651), ("feedforward", 83),
                                            ("mlm_head", 17), ("embeddings", 224)])
def test_the_reference_passes_the_gradcheck_on_seeds_that_drew_a_layernorm_over_two_features(exercise, seed):
    # These seeds drew a LayerNorm over 2 features, whose output is +-1 up to eps = 1e-12: its
    # gradient is of eps's size and finite differences read rounding, so right work lost points.
    results = _gradcheck(exercise, seed)
    assert all(r.passed for r in results), [(r.name, r.message) for r in results if not r.passed]


def test_no_case_normalizes_fewer_than_three_features():
    widths = {"attention": lambda c: c.args[0].shape[-1], "feedforward": lambda c: c.args[0].shape[-1],
              "mlm_head": lambda c: c.args[1]["LayerNorm.weight"].shape[0],
              "embeddings": lambda c: c.args[3]["LayerNorm.weight"].shape[0]}
    builders = {"attention": cases_nn.attention_cases, "feedforward": cases_nn.feedforward_cases,
                "mlm_head": cases_nn.mlm_cases,
                "embeddings": lambda rng, draws: cases_nn.embeddings_cases(rng, draws, for_gradients=True)}
    for exercise, builder in builders.items():
        drawn = {widths[exercise](case) for seed in range(300) for case in builder(np.random.default_rng(seed), 8)}
        assert min(drawn) >= 3, (exercise, sorted(drawn))


# --- 2. the reference reached through a dict of the library ------------------------------------------
BYPASS = """
import numpy as np
from tinyalbert.nn.activations import ACTIVATIONS, DERIVATIVES, activation_forward

def gelu_new(x):
    return activation_forward(x, "gelu_new")[0]

def gelu(x):
    return ACTIVATIONS["gelu"](x)

def gelu_new_derivative(x):
    return DERIVATIVES["gelu_new"](x)

def gelu_derivative(x):
    return DERIVATIVES["gelu"](x)
"""


def test_a_reference_reached_through_a_library_dict_scores_nothing():
    checks = graded("activations", BYPASS)
    for name, result in checks.items():
        assert result.score == 0, (name, result.score)
        assert "called tinyalbert's reference" in result.note, (name, result.note)
    # The grader's own reference calls run in the grader's process, untouched by the tripwires.
    x = np.linspace(-3, 3, 7)
    assert np.all(np.isfinite(resolve("gelu_new")(x))) and resolve("gelu_new")(x)[3] == 0.0
    full = graded("activations", exercise_file(BY_NAME["activations"], cut=False))
    assert all(c.score == c.max_score for c in full.values())


# --- 3. blank work earns no gradcheck points ---------------------------------------------------------
ZEROS_LINEAR = """
import numpy as np

def linear_forward(inputs, weight, bias):
    return np.zeros((*inputs.shape[:-1], weight.shape[0])), (inputs, weight, bias is not None)

def linear_backward(d_output, cache):
    inputs, weight, has_bias = cache
    return np.zeros_like(inputs), {"weight": np.zeros_like(weight), "bias": np.zeros(weight.shape[0]) if has_bias else None}
"""
ZEROS_ATTENTION = """
import numpy as np

def attention_forward(hidden, weights, mask_bias, head_mask, *, num_heads, **settings):
    batch, seq, _ = hidden.shape
    return np.zeros_like(hidden), np.zeros((batch, num_heads, seq, seq)), (hidden, weights)

def attention_backward(d_output, cache):
    hidden, weights = cache
    return np.zeros_like(hidden), {key: np.zeros_like(value) for key, value in weights.items()}
"""
ZEROS_ACTIVATIONS = "import numpy as np\n" + "".join(
    f"\ndef {name}(x):\n    return np.zeros_like(x)\n" for name in BY_NAME["activations"].functions)


def test_forward_and_backward_of_zeros_score_nothing():
    for exercise, source in (("linear", ZEROS_LINEAR), ("attention", ZEROS_ATTENTION), ("activations", ZEROS_ACTIVATIONS)):
        checks = graded(exercise, source)
        assert sum(c.score for c in checks.values()) == 0, {n: c.score for n, c in checks.items()}
    message = failures(graded("linear", ZEROS_LINEAR)["gradcheck"])[0]
    assert "your `linear_forward` does not change with `inputs`" in message and "earns none" in message, message


def test_blank_work_as_a_selftest_mutant_loses_every_aimed_check():
    # The self-test's mutant of the reference solution: zeros out of both functions, consistent
    # with each other, so only the rule for a forward that ignores its input stops the gradcheck.
    from tinyalbert.grading.mutants import MUTANTS
    from tinyalbert.grading.selftest import check_mutant

    blank = next(mutant for mutant in MUTANTS if mutant.name.startswith("blank work"))
    finding = check_mutant(blank, 0, {"linear.py": LINEAR})
    assert finding.ok and finding.score == 0, finding


def test_the_gradcheck_rule_keeps_right_work_and_fails_a_wrong_backward():
    backward_of_zeros = edited(LINEAR, '    return d_inputs, {"weight": d_weight, "bias": d_bias}',
                               '    return 0 * d_inputs, {"weight": 0 * d_weight, "bias": None if d_bias is None else 0 * d_bias}')
    checks = graded("linear", backward_of_zeros)
    assert checks["forward"].score == checks["forward"].max_score
    assert checks["backward"].score == 0 and checks["gradcheck"].score == 0
    checks = graded("linear", LINEAR)
    assert all(c.score == c.max_score for c in checks.values())


# --- 4. the in-place check is decided in the grader --------------------------------------------------
IN_PLACE_AND_PATCHED = """
import numpy
numpy.array_equal = lambda *args, **kwargs: True  # what decided "unchanged" inside the student's process
numpy.isclose = lambda a, b, **kwargs: numpy.ones(numpy.shape(a), dtype=bool)
try:
    import tinyalbert.grading.worker as _worker
    _worker.arguments_changed = lambda *args, **kwargs: ""
except Exception:
    pass
"""


def test_a_forward_that_changes_its_input_fails_whatever_it_patches():
    source = edited(LAYERNORM, "centered = inputs - xp.mean(inputs, axis=-1, keepdims=True)",
                    "inputs -= xp.mean(inputs, axis=-1, keepdims=True)\n    centered = inputs.copy()") + IN_PLACE_AND_PATCHED
    checks = graded("layernorm", source)
    assert checks["forward"].score == 0
    # The forward check alone penalizes the change: the backward agrees with this forward.
    assert checks["gradcheck"].score == checks["gradcheck"].max_score
    assert checks["backward"].score == checks["backward"].max_score
    assert "changed its argument `inputs` in place" in failures(checks["forward"])[0]


# --- 5. `check` in a notebook sees what `grade` sees -------------------------------------------------
class ArrayLike:
    def __init__(self, array):
        self.array = array

    def __array__(self, dtype=None, copy=None):
        return self.array


def test_check_passes_results_through_the_codec_and_survives_any_exception(capsys):
    reference_forward = resolve("linear_forward")

    def array_like_forward(inputs, weight, bias):
        output, cache = reference_forward(inputs, weight, bias)
        return ArrayLike(output), cache

    assert check("linear_forward", array_like_forward) is True  # `grade` reads it as the array it gives

    def raises_base_exception(inputs, weight, bias):
        raise BaseException("boom")

    assert check("linear_forward", raises_base_exception) is False
    assert "BaseException: boom" in capsys.readouterr().out

    def interrupted(inputs, weight, bias):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # the person at the keyboard, not the student's code
        check("linear_forward", interrupted)


# --- 6. messages that name the real problem ----------------------------------------------------------
def test_float32_work_is_told_that_the_grader_works_in_float64(capsys):
    forward_in_float32 = edited(LINEAR, "return xp.reshape(outputs, (*inputs.shape[:-1], weight.shape[0])),",
                                "return xp.reshape(outputs, (*inputs.shape[:-1], weight.shape[0])).astype('float32'),")
    message = failures(graded("linear", forward_in_float32)["gradcheck"])[0]
    assert "your forward's output is float32; the grader works in float64" in message, message

    def layernorm_forward(inputs, weight, bias, eps):
        inputs, weight, bias = (a.astype(np.float32) for a in (inputs, weight, bias))
        centered = inputs - inputs.mean(-1, keepdims=True)
        return centered / np.sqrt((centered ** 2).mean(-1, keepdims=True) + eps) * weight + bias, None

    assert check("layernorm_forward", layernorm_forward) is False
    assert "is float32; the grader works in float64 (keep the dtype of the inputs" in capsys.readouterr().out


def test_a_missing_key_is_named_with_the_keys_that_are_there(capsys):
    reference_backward = resolve("layernorm_backward")

    def layernorm_backward(d_output, cache):
        d_inputs, grads = reference_backward(d_output, cache)
        return d_inputs, {"weight": grads["weight"], "b": grads["bias"]}

    assert check("layernorm_backward", layernorm_backward) is False
    printed = capsys.readouterr().out
    assert "the result has no entry at [1, 'bias']: its entry [1] is a dict with keys ['b', 'weight']" in printed, printed


def test_a_perturbation_moves_its_entry_whatever_the_memory_order():
    """The finite differences of `grading.check` perturb the grader's own copy: an array in
    Fortran order (a transpose) must move too, not a temporary copy of it."""
    from tinyalbert.grading.worker import perturbed

    for array in (np.zeros((3, 2)), np.asfortranarray(np.zeros((3, 2))), np.zeros((2, 3)).T):
        moved = perturbed({"args": [array], "kwargs": {}}, [["args", 0], 3, 0.5])["args"][0]
        assert moved[np.unravel_index(3, moved.shape)] == 0.5 and moved.sum() == 0.5, (array.flags, moved)
        assert array.sum() == 0  # the original is left as it was


# --- 7. head pruning (an extra exercise): exact arrays, and what pruning means ------------------------
def pruning_solution() -> str:
    return exercise_file(BY_NAME["head_pruning"], cut=False)


def test_head_pruning_is_an_extra_that_grades_the_reference_at_full_marks_and_the_stub_at_none():
    from tinyalbert.grading.exercises import select

    exercise = BY_NAME["head_pruning"]
    assert exercise.extra and exercise not in select() and exercise in select(["head_pruning"])
    assert exercise.functions == ("prune_attention_heads",) and {c.name for c in exercise.checks} == {"arrays", "masked_attention"}
    checks = graded("head_pruning", pruning_solution())
    assert all(c.score == c.max_score for c in checks.values()), {n: failures(c)[:1] for n, c in checks.items()}
    names = [case.name for case in checks["arrays"].cases]
    for edge in ("nothing to prune", "the first head", "the last head", "one head left", "head_size 1",
                 "with head 1 pruned before (already gone"):
        assert any(edge in name for name in names), (edge, names)
    stub = graded("head_pruning", exercise_file(BY_NAME["head_pruning"], cut=True))
    assert all(c.score == 0 for c in stub.values())


def test_pruning_is_masking_on_every_seed_for_the_reference():
    # The property the masked_attention check holds students to must hold for the reference itself,
    # within the forward tolerances, on every draw (several heads, head_size 1, hidden 3, ...).
    exercise = BY_NAME["head_pruning"]
    namespace = reference_namespace(exercise.functions)
    for seed in range(25):
        for item in exercise.checks:
            results = run_check(item, InProcess(namespace), InProcess(namespace), check_rng(seed, exercise.name, item.name),
                                draws=8, entries=1)
            assert all(r.passed for r in results), (seed, [(r.name, r.message) for r in results if not r.passed])


def test_pruned_arrays_must_be_exact_and_only_the_cut_ones_are_returned():
    # A rounding-sized change computes the same layer (masked_attention keeps its points), but
    # slicing computes nothing: the arrays are held to tolerance 0.
    nudged = edited(pruning_solution(), '    pruned["dense.weight"] = xp.take(attention["dense.weight"], index, axis=1)\n',
                    '    pruned["dense.weight"] = xp.take(attention["dense.weight"], index, axis=1) * (1 + 1e-13)\n')
    checks = graded("head_pruning", nudged)
    assert checks["arrays"].score == 0 and checks["masked_attention"].score == checks["masked_attention"].max_score
    assert "result['dense.weight']" in failures(checks["arrays"])[0] and "(allowed 0.0e+00)" in failures(checks["arrays"])[0]
    # Every array of the layer returned, the unchanged ones too: the keys are part of the answer.
    everything = edited(pruning_solution(), "    return pruned\n", "    return {**attention, **pruned}\n")
    checks = graded("head_pruning", everything)
    assert checks["arrays"].score == 0 and checks["masked_attention"].score == checks["masked_attention"].max_score
    message = failures(checks["arrays"])[0]
    assert "keys ['LayerNorm.bias', 'LayerNorm.weight', 'dense.bias'] that it should not return" in message, message
    assert "return only the arrays that pruning cuts" in message


def test_an_empty_result_earns_nothing_even_where_no_head_is_cut():
    # Missing arrays must not be taken from the layer given: a layer with nothing cut would pass.
    for body in ("    return {}\n", "    return {1: attention['query.weight']}\n"):
        empty = edited(pruning_solution(), "    return pruned\n", body)
        checks = graded("head_pruning", empty)
        assert all(c.score == 0 for c in checks.values()), {n: (c.score, failures(c)[:1]) for n, c in checks.items()}
    assert "return all seven arrays that pruning cuts" in failures(checks["masked_attention"])[0]


def test_a_result_in_another_dtype_is_said_so_without_a_hint_about_heads():
    float32 = edited(pruning_solution(), "    return pruned\n",
                     "    return {key: xp.astype(value, xp.float32) for key, value in pruned.items()}\n")
    message = failures(graded("head_pruning", float32)["arrays"])[0]
    assert "float32" in message and "should be row" not in message and "yours is none of" not in message, message


def test_a_wrong_row_is_named_by_the_head_it_should_come_from():
    # Heads numbered as the arrays are now, not as in the unpruned layer: case "head 2 of 4 after
    # head 0 was pruned before" cuts head 3's rows and keeps head 2's.
    numbering = edited(pruning_solution(), "for head in kept_after for i in range(head_size)]",
                       "for head in kept_after for i in range(head_size)]\n"
                       "    positions = [p for p in range(len(kept_before) * head_size) if p // head_size not in pruning]")
    checks = graded("head_pruning", numbering)
    case = next(c for c in checks["arrays"].cases if c.name.startswith("head 2 of 4 after head 0"))
    assert not case.passed
    assert ("row 3 of your `query.weight` should be row 0 of head 3 (heads numbered as in the unpruned layer), which is "
            "row 6 of the `query.weight` you were given (heads [0] are gone from it already); yours is its row 3 "
            "(row 0 of head 2)") in case.message, case.message
    assert checks["masked_attention"].score < checks["masked_attention"].max_score


def test_masked_attention_says_whether_the_kept_heads_attend_as_before():
    def swapped(key):  # the rows (or columns) of the first two heads kept, exchanged in one array only
        return edited(pruning_solution(), "    return pruned\n",
                      f"    block = {'pruned[%r]' % key}\n"
                      f"    axis = 1 if {key!r} == 'dense.weight' else 0\n"
                      "    if block.shape[axis] >= 2 * head_size:\n"
                      "        order = list(range(block.shape[axis]))\n"
                      "        order[:2 * head_size] = order[head_size:2 * head_size] + order[:head_size]\n"
                      f"        pruned[{key!r}] = xp.take(block, xp.asarray(order), axis=axis)\n"
                      "    return pruned\n")

    query = graded("head_pruning", swapped("query.weight"))["masked_attention"]
    message = failures(query)[0]
    assert message.startswith("your pruned layer does not compute what the layer given does"), message
    assert "The attention probabilities of head(s)" in message and "query or key rows" in message
    value = graded("head_pruning", swapped("value.weight"))["masked_attention"]
    message = failures(value)[0]
    assert "Every kept head attends as before: the value rows" in message, message
    for checks in (query, value):
        assert 0 < checks.score < checks.max_score  # the one-head cases have nothing to swap


def test_each_pruning_mutant_loses_points_and_a_reordered_layer_only_on_the_exact_check():
    from tinyalbert.grading.mutants import MUTANTS
    from tinyalbert.grading.selftest import check_mutant

    mutants = [mutant for mutant in MUTANTS if mutant.exercise == "head_pruning"]
    assert len(mutants) >= 6
    for mutant in mutants:
        finding = check_mutant(mutant, 0, {"head_pruning.py": pruning_solution()})
        assert finding.ok and finding.score < finding.max_score, finding
    # The same layer with its heads in another order: full marks on masked_attention (the finding is
    # ok only so), points lost on the exact check alone.
    reordered = next(mutant for mutant in mutants if mutant.aimed == ("arrays",))
    assert 2 <= check_mutant(reordered, 0, {"head_pruning.py": pruning_solution()}).score < 5


# --- 8. long inputs in windows (an extra exercise) -------------------------------------------------------
def test_long_windows_is_an_extra_with_full_marks_for_the_reference_none_for_the_stub_and_its_bugs_caught():
    """window_starts against a hand count of run_qa's windows, and sentence_tags on windows that
    tinyalbert's encoder cut: each planted bug of the exercise loses the points it aims at."""
    from tinyalbert.grading.exercises import select
    from tinyalbert.grading.mutants import MUTANTS
    from tinyalbert.task_data import window_starts

    exercise = BY_NAME["long_windows"]
    assert exercise.extra and exercise not in select() and exercise in select(["long_windows"])
    assert window_starts(30, 8, 3) == [0, 5, 10, 15, 20, 25] and window_starts(5, 5, 2) == [0]  # by hand
    solution = exercise_file(exercise, cut=False)
    checks = graded("long_windows", solution)
    assert all(c.score == c.max_score for c in checks.values()), {n: failures(c)[:1] for n, c in checks.items()}
    assert all(c.score == 0 for c in graded("long_windows", exercise_file(exercise, cut=True)).values())
    mutants = [mutant for mutant in MUTANTS if mutant.exercise == "long_windows"]
    assert len(mutants) >= 5
    for mutant in mutants:
        text = solution
        for old, new in mutant.edits:
            text = text.replace(old, new)
        assert text != solution, mutant.name
        scored = graded("long_windows", text)
        assert all(scored[name].score < scored[name].max_score for name in mutant.aimed), mutant.name
