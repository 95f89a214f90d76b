"""Checks of what must hold rather than of exact values: n-gram masking and SOP pairs draw
random numbers, and a correct implementation may draw them in another order than ours; a pruned
attention layer must compute what the unpruned one computes with those heads masked.

- Per-call properties are searched with hypothesis (derandomized: the same inputs every run), so a
  failure is reported as the *smallest* failing input hypothesis finds. Without hypothesis
  installed, the same properties run on seeded random inputs and the shortest failing one is shown.
- Statistics (80/10/10, span lengths, swap rate) are measured over many seeded calls and held to
  tolerances of about four standard deviations of the measured proportion.
- Head pruning: the reference `attention_forward` on the student's pruned weights against the
  same on the weights given, with `head_mask` 0 on the pruned heads (outputs within the forward
  tolerances of `compare.py`); and, for the exact check of the arrays, a hint that names the
  head a wrong row or column should have come from.
"""
from __future__ import annotations

import threading

import numpy as np

from .cases_data import CLS, MASK, PAD, SEP, VOCAB, example_tokens, sop_document, special_ids, word_starts
from .cases_nn import mask_bias, normal
from .checks import CaseResult, with_shapes
from .compare import compare_arrays, compare_exactly, describe_shape

IGNORE = -100
HYPOTHESIS_LOCK = threading.Lock()  # hypothesis keeps global state: one search at a time (selftest runs threads)


def search(student, properties, draw_input, describe, rng, examples: int):
    """Run each property over inputs; returns CaseResults (one per property).

    properties: name -> fn(input, outcome) -> None or a message. `draw_input(source)` builds an
    input from a hypothesis `data` object or from a NumPy generator.
    """
    memo = {}

    def outcome_of(example):
        key = describe(example)
        if key not in memo:
            memo[key] = student(example)
        return memo[key]

    results = []
    for name, prop in properties.items():
        failure = _hypothesis_search(prop, outcome_of, draw_input, describe, examples)
        if failure is NotImplemented:
            failure = _seeded_search(prop, outcome_of, draw_input, describe, rng, examples)
        results.append(CaseResult(name, failure is None, failure or ""))
    return results


def _hypothesis_search(prop, outcome_of, draw_input, describe, examples):
    try:
        from hypothesis import HealthCheck, Phase, given, settings, strategies
    except ImportError:
        return NotImplemented
    smallest = {}

    @settings(derandomize=True, max_examples=examples, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
    @given(strategies.data())
    def holds(data):
        example = draw_input(data)
        problem = prop(example, outcome_of(example))
        if problem:
            smallest["text"] = f"smallest failing input found: {describe(example)}\n{problem}"
            raise AssertionError(problem)

    try:
        with HYPOTHESIS_LOCK:
            holds()
    except AssertionError:
        return smallest.get("text", "property failed")
    except Exception as error:  # hypothesis' own errors (e.g. flaky): report, do not crash
        return smallest.get("text", f"property failed ({type(error).__name__})")
    return None


class _Draws:
    """The subset of hypothesis' `data.draw(integers/booleans/sampled_from)` used by draw_input."""

    def __init__(self, rng):
        self.rng = rng


def _seeded_search(prop, outcome_of, draw_input, describe, rng, examples):
    failures = []
    for _ in range(examples):
        example = draw_input(_Draws(rng))
        problem = prop(example, outcome_of(example))
        if problem:
            failures.append((len(describe(example)), describe(example), problem))
    if not failures:
        return None
    _, text, problem = min(failures)
    return f"smallest failing input found: {text}\n{problem}"


def draw_int(source, low, high):
    if isinstance(source, _Draws):
        return int(source.rng.integers(low, high + 1))
    from hypothesis import strategies

    return source.draw(strategies.integers(low, high))


def draw_choice(source, options):
    return options[draw_int(source, 0, len(options) - 1)]


# --- n-gram masking --------------------------------------------------------------------------------
def draw_masking_input(source):
    length = draw_int(source, 3, 24)
    ids = [CLS] + [draw_int(source, 5, VOCAB - 1) for _ in range(length - 2)] + [SEP]
    if draw_int(source, 0, 3) == 0:
        ids[draw_int(source, 1, length - 2)] = draw_choice(source, [PAD, MASK, SEP])
    return (tuple(ids), draw_choice(source, [0.15, 0.3, 0.6]), draw_choice(source, [1, 2, 3]),
            draw_int(source, 0, 1) == 1, draw_int(source, 0, 1000))


def describe_masking(example):
    ids, prob, ngram, whole_words, seed = example
    starts = "given" if whole_words else None
    return f"token_ids={list(ids)}, masked_lm_prob={prob}, max_ngram={ngram}, is_word_start={starts}, seed={seed}"


def _masking_call(student, example):
    from .codec import Rng

    from tinyalbert.train.masking import Masking

    ids, prob, ngram, whole_words, seed = example
    masking = Masking(masked_lm_prob=prob, max_predictions_per_seq=20, max_ngram=ngram,
                      is_word_start=word_starts(np.random.default_rng(7)) if whole_words else None)
    return student.call("mask_tokens", [np.array(ids, dtype=np.int64), special_ids(), VOCAB, Rng(seed), masking])


def _masked_arrays(example, outcome):
    """(ids, masked, labels) or a message when the call failed or returned the wrong shapes."""
    if not outcome.ok:
        return outcome.error
    ids = np.array(example[0])
    arrays = _two_arrays(outcome.value)
    if isinstance(arrays, str):
        return arrays
    masked, labels = arrays
    if masked.shape != ids.shape or labels.shape != ids.shape:
        return f"expected two arrays of shape {ids.shape}, got {masked.shape} and {labels.shape}"
    return ids, masked, labels


def _two_arrays(value):
    """mask_tokens' result as (masked, labels) arrays, or a message saying what it was instead."""
    if isinstance(value, (tuple, list)) and len(value) != 2:
        return f"mask_tokens returned {len(value)} values, expected 2: (masked_ids, labels)"
    try:
        masked, labels = (np.asarray(v) for v in value)
    except (TypeError, ValueError):
        return f"mask_tokens returned {type(value).__name__}, expected 2 arrays: (masked_ids, labels)"
    return masked, labels


def masking_properties():
    from tinyalbert.train.masking import group_into_words, num_tokens_to_predict

    def checked(fn):
        def prop(example, outcome):
            arrays = _masked_arrays(example, outcome)
            return arrays if isinstance(arrays, str) else fn(example, *arrays)
        return prop

    def labels_hold_originals(example, ids, masked, labels):
        chosen = labels != IGNORE
        if np.any(labels[chosen] != ids[chosen]):
            i = int(np.flatnonzero(chosen & (labels != ids))[0])
            return f"labels[{i}] = {labels[i]}, but the original token there is {ids[i]}"
        unchanged = ~chosen & (masked != ids)
        if unchanged.any():
            i = int(np.flatnonzero(unchanged)[0])
            return f"position {i} has no label but its token changed from {ids[i]} to {masked[i]}"
        return None

    def specials_never_chosen(example, ids, masked, labels):
        special = np.isin(ids, [CLS, SEP, PAD, MASK]) & (labels != IGNORE)
        return f"special token {ids[special][0]} at position {int(np.flatnonzero(special)[0])} was chosen" if special.any() else None

    def budget(example, ids, masked, labels):
        wanted = num_tokens_to_predict(len(ids), example[1], 20)
        chosen = int(np.sum(labels != IGNORE))
        maskable = int(np.sum(~np.isin(ids, [CLS, SEP, PAD, MASK])))
        if chosen > wanted:
            return f"{chosen} positions chosen, more than round(length * masked_lm_prob) = {wanted}"
        if maskable and chosen == 0:
            return "no position chosen"
        return None

    def whole_words(example, ids, masked, labels):
        if not example[3]:
            return None
        for word in group_into_words(ids, special_ids(), word_starts(np.random.default_rng(7))):
            chosen = labels[word] != IGNORE
            if chosen.any() and not chosen.all():
                return f"word at positions {word} only partly chosen: {chosen.astype(int).tolist()}"
        return None

    return {"labels hold the original ids; other tokens unchanged": checked(labels_hold_originals),
            "[CLS], [SEP], padding and [MASK] are never chosen": checked(specials_never_chosen),
            "at least one, at most round(length * masked_lm_prob) positions": checked(budget),
            "whole words are chosen together": checked(whole_words)}


def run_masking_properties(student, reference, cases, rng, examples=None):
    examples = examples or cases[0]
    return search(lambda example: _masking_call(student, example), masking_properties(), draw_masking_input,
                  describe_masking, rng, examples)


def masking_statistics(runner, seeds, length=128):
    """Share of [MASK] / unchanged / random among chosen tokens, chosen/wanted, and share of
    chosen tokens inside runs of 2 or more adjacent chosen positions (n-grams)."""
    from tinyalbert.train.masking import Masking

    from .codec import Rng

    counts = {"mask": 0, "same": 0, "random": 0, "chosen": 0, "wanted": 0, "in_runs": 0}
    for seed in seeds:
        ids = example_tokens(np.random.default_rng(seed), length, vocab=1000)
        outcome = runner.call("mask_tokens", [ids, special_ids(), 1000, Rng(seed), Masking(max_predictions_per_seq=40)])
        if not outcome.ok:
            return outcome.error
        arrays = _two_arrays(outcome.value)
        if isinstance(arrays, str):
            return arrays
        masked, labels = arrays
        chosen = labels != IGNORE
        counts["chosen"] += int(chosen.sum())
        counts["wanted"] += min(40, max(1, round(len(ids) * 0.15)))
        counts["mask"] += int(np.sum(masked[chosen] == MASK))
        counts["same"] += int(np.sum(masked[chosen] == ids[chosen]))
        neighbours = np.concatenate([[False], chosen[:-1]]) | np.concatenate([chosen[1:], [False]])
        counts["in_runs"] += int(np.sum(chosen & neighbours))
    total = max(1, counts["chosen"])
    counts["random"] = total - counts["mask"] - counts["same"]
    return {"mask": counts["mask"] / total, "same": counts["same"] / total, "random": counts["random"] / total,
            "chosen": counts["chosen"] / max(1, counts["wanted"]), "in_runs": counts["in_runs"] / total}


def run_masking_statistics(student, reference, cases, rng):
    seeds = [int(s) for s in rng.integers(0, 2**31, size=cases[0])]
    got = masking_statistics(student, seeds)
    if isinstance(got, str):
        return [CaseResult("mask_tokens runs", False, got)]
    expected = masking_statistics(reference, seeds)
    rows = [("80% of chosen tokens become [MASK]", "mask", 0.8, 0.05),
            ("10% of chosen tokens are left unchanged", "same", 0.1, 0.04),
            ("10% of chosen tokens become a random id", "random", 0.1, 0.04),
            ("round(0.15 * length) tokens chosen per sequence", "chosen", expected["chosen"], 0.05),
            ("n-gram spans: share of chosen tokens next to another chosen one", "in_runs", expected["in_runs"], 0.12)]
    results = []
    for name, key, target, tolerance in rows:
        ok = abs(got[key] - target) <= tolerance
        message = "" if ok else f"measured {got[key]:.3f} over {len(seeds)} sequences, expected {target:.3f} +- {tolerance}"
        results.append(CaseResult(name, ok, message))
    return results


# --- SOP pairs --------------------------------------------------------------------------------------
def draw_sop_input(source):
    sentences = draw_int(source, 1, 8)
    seed = draw_int(source, 0, 1000)
    return (sentences, draw_int(source, 2, 24), draw_choice(source, [0.0, 0.1, 0.5]), seed)


def describe_sop(example):
    sentences, max_tokens, short, seed = example
    document = sop_document(np.random.default_rng(seed), sentences)
    return f"document={document}, max_num_tokens={max_tokens}, short_seq_prob={short}, seed={seed}"


def _sop_call(runner, example):
    from .codec import Rng

    sentences, max_tokens, short, seed = example
    return runner.call("create_segment_pairs", [sop_document(np.random.default_rng(seed), sentences), max_tokens, short, Rng(seed)])


def _pairs(outcome):
    if not outcome.ok:
        return outcome.error
    try:
        return [(list(map(int, a)), list(map(int, b)), int(label)) for a, b, label in outcome.value]
    except (TypeError, ValueError):
        return "create_segment_pairs must return a list of (tokens_a, tokens_b, label)"


def sop_properties():
    def checked(fn):
        def prop(example, outcome):
            pairs = _pairs(outcome)
            return pairs if isinstance(pairs, str) else fn(example, pairs)
        return prop

    def shapes(example, pairs):
        for number, (a, b, label) in enumerate(pairs):
            if not a or not b or len(a) + len(b) > example[1] or label not in (0, 1):
                return (f"pair {number}: |A| = {len(a)}, |B| = {len(b)}, label {label}; "
                        f"need both non-empty, |A| + |B| <= {example[1]}, label 0 or 1")
        return None

    def order(example, pairs):
        for number, (a, b, label) in enumerate(pairs):
            for name, segment in (("A", a), ("B", b)):
                if segment and np.any(np.diff(segment) != 1):
                    return f"pair {number}: segment {name} = {segment} is not a run of consecutive document tokens"
            if a and b and (label == 0) != (a[-1] < b[0]):
                where = "before" if a[-1] < b[0] else "after"
                return f"pair {number}: label {label} but A = {a} comes {where} B = {b} in the document"
        return None

    return {"A and B non-empty, together at most max_num_tokens, label 0/1": checked(shapes),
            "A, B are runs of the document; label 1 exactly when B came first": checked(order)}


def run_sop_properties(student, reference, cases, rng):
    return search(lambda example: _sop_call(student, example), sop_properties(), draw_sop_input, describe_sop, rng, cases[0])


def sop_statistics(runner, seeds):
    labels, tokens = [], 0
    for seed in seeds:
        outcome = _sop_call(runner, (12, 16, 0.1, seed))
        pairs = _pairs(outcome)
        if isinstance(pairs, str):
            return pairs
        labels += [label for _, _, label in pairs]
        tokens += sum(len(a) + len(b) for a, b, _ in pairs)
    return {"swapped": float(np.mean(labels)) if labels else 0.0, "tokens": tokens / max(1, len(seeds))}


def run_sop_statistics(student, reference, cases, rng):
    seeds = [int(s) for s in rng.integers(0, 2**31, size=cases[0])]
    got = sop_statistics(student, seeds)
    if isinstance(got, str):
        return [CaseResult("create_segment_pairs runs", False, got)]
    expected = sop_statistics(reference, seeds)
    rows = [("half of the pairs swapped (label 1)", "swapped", 0.5, 0.12),
            ("tokens kept per document as in the reference", "tokens", expected["tokens"], 0.15 * expected["tokens"])]
    results = []
    for name, key, target, tol in rows:
        ok = abs(got[key] - target) <= tol
        message = "" if ok else f"measured {got[key]:.3f} over {len(seeds)} documents, expected {target:.3f} +- {tol:.3f}"
        results.append(CaseResult(name, ok, message))
    return results


# --- head pruning -----------------------------------------------------------------------------------
class ReferenceFailed(RuntimeError):
    """The reference itself failed on a case: a fault of the grader, never scored against a student."""


PRUNED = ("query.weight", "query.bias", "key.weight", "key.bias", "value.weight", "value.bias", "dense.weight")


def kept_heads(case):
    """(heads in the arrays given, heads left after pruning, heads cut now), numbered as in the
    unpruned layer, for a case of `prune_attention_heads(attention, pruned_before, pruning, num_heads, head_size)`."""
    _, before, pruning, num_heads, _ = case.args
    gone, cut = set(before), set(pruning)
    kept_before = [head for head in range(num_heads) if head not in gone]
    return kept_before, [head for head in kept_before if head not in cut], [head for head in kept_before if head in cut]


def _lines_of(key: str, array) -> tuple:
    """(axis, word) of the heads' blocks in `key`: rows of query/key/value, columns of dense."""
    if key == "dense.weight":
        return 1, "column"
    return 0, "entry" if np.ndim(array) == 1 else "row"


def pruning_hint(got: dict, case) -> str:
    """What is wrong with the first array of `got` that is not the reference's, in terms of heads:
    "" when nothing more can be said than the comparison's message."""
    attention, before, _, _, head_size = case.args
    kept_before, kept_after, cut = kept_heads(case)
    for key in PRUNED:
        have, given = got.get(key), attention[key]
        if not isinstance(have, np.ndarray) or have.ndim != given.ndim or have.dtype != given.dtype:
            continue  # (another dtype: the comparison's message says so; rows would not match exactly)
        axis, line = _lines_of(key, given)
        want = np.take(given, [kept_before.index(head) * head_size + i for head in kept_after for i in range(head_size)],
                       axis=axis)
        if have.shape == given.shape and want.shape != given.shape:
            return f"`{key}` came back the shape it was given, {given.shape}: the {line}s of heads {cut} must go"
        other = 1 - axis
        if given.ndim == 2 and have.shape[other] != given.shape[other]:
            kept, lines = ("rows", "columns") if axis == 0 else ("columns", "rows")
            return (f"`{key}` has {have.shape[other]} {lines}, but all {given.shape[other]} stay (one per hidden "
                    f"feature): the heads are blocks of {head_size} {kept} (axis {axis})")
        if have.shape != want.shape:
            return (f"`{key}` must have {want.shape[axis]} {line}s: heads {kept_after} kept, {head_size} each (cut now: "
                    f"{cut or 'none'}; gone before: {sorted(set(before)) or 'none'}); yours has {have.shape[axis]}")
        wrong = np.flatnonzero(np.any(np.moveaxis(have != want, axis, 0).reshape(have.shape[axis], -1), axis=1))
        if wrong.size == 0:
            continue
        position = int(wrong[0])
        head, offset = kept_after[position // head_size], position % head_size
        source = kept_before.index(head) * head_size + offset
        mine = np.take(have, position, axis=axis)
        found = [j for j in range(given.shape[axis]) if np.array_equal(np.take(given, j, axis=axis), mine)]
        yours = (f"yours is its {line} {found[0]} ({line} {found[0] % head_size} of head {kept_before[found[0] // head_size]})"
                 if found else f"yours is none of its {line}s")
        gone = f" (heads {sorted(set(before))} are gone from it already)" if before else ""
        return (f"{line} {position} of your `{key}` should be {line} {offset} of head {head} (heads numbered as in "
                f"the unpruned layer), which is {line} {source} of the `{key}` you were given{gone}; {yours}")
    return ""


def compare_pruned(expected, got, case):
    """The value check of `prune_attention_heads`: exactly the reference's arrays and keys, and a
    hint naming heads."""
    problem = compare_exactly(expected, got, "result")
    if problem is None or not isinstance(got, dict):
        return problem
    if any(key not in expected for key in got):
        hint = ("return only the arrays that pruning cuts (the query, key and value weights and biases, dense.weight): "
                "the caller stores every array returned, and keeps the others as they are")
    else:
        hint = pruning_hint(got, case)
    return problem + (f"\n{hint}" if hint else "")


def _pruned_attention(student, reference, case, rng) -> str | None:
    from tinyalbert.nn.attention import attention_forward

    attention, _, _, _, head_size = case.args
    kept_before, kept_after, cut = kept_heads(case)
    batch, seq = 2, 3  # drawn first: the same input whatever the student's function returns
    inputs, mask = normal(rng, batch, seq, attention["dense.weight"].shape[0]), mask_bias([seq, seq - 1], seq)
    expected = reference.call("prune_attention_heads", case.args)
    if not expected.ok:
        raise ReferenceFailed(f"the reference failed on {case.name}: {expected.error}")
    got = student.call("prune_attention_heads", case.args)
    if not got.ok:
        return got.error
    if not isinstance(got.value, dict):
        return f"expected a dict of arrays (keyed `query.weight`, ...), got {describe_shape(got.value)}"
    missing = [key for key in PRUNED if key not in got.value]
    if missing:  # else the arrays given would stand in for them, and a layer of nothing cut would pass
        return (f"the result has no {', '.join(f'`{key}`' for key in missing)}: return all seven arrays that "
                f"pruning cuts ({', '.join(PRUNED)}), even when no head is cut")
    # The layer as the model keeps it: each array returned replaces the one of its name (`params.update`).
    want, have = {**attention, **expected.value}, {**attention, **got.value}
    for key in want:  # a key of no array of the layer's is not read by the layer (the exact check names it)
        array = have[key]
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
            return f"`{key}`: expected an array, got {describe_shape(array)}"
        if array.shape != want[key].shape:
            how = "as you returned it" if key in got.value else "you did not return it: it stays as it was given"
            return (f"the pruned layer's `{key}` has shape {array.shape} ({how}), but with heads {kept_after} kept, "
                    f"{head_size} {_lines_of(key, array)[1]}s each, it must have shape {want[key].shape}")
    options = {"position_embedding_type": "absolute", "max_positions": seq, "layer_norm_eps": 1e-12}
    head_mask = np.array([0.0 if head in cut else 1.0 for head in kept_before]).reshape(1, -1, 1, 1)
    masked, masked_probs, _ = attention_forward(inputs, attention, mask, head_mask, num_heads=len(kept_before), **options)
    pruned, pruned_probs, _ = attention_forward(inputs, {k: np.asarray(have[k], dtype=np.float64) for k in want},
                                                mask, None, num_heads=len(kept_after), **options)
    problem = compare_arrays(masked, pruned, "output")
    if problem is None:
        return None
    differ = [head for position, head in enumerate(kept_after)
              if compare_arrays(masked_probs[:, kept_before.index(head)], pruned_probs[:, position], "probs")]
    why = (f"The attention probabilities of head(s) {differ} differ already: their query or key rows (or biases) are "
           "not those heads'" if differ else
           "Every kept head attends as before: the value rows (or biases) or the dense columns are not those heads'")
    masked_heads = f"with heads {cut} masked to 0" if cut else "(no head to cut here: it is the same layer)"
    given = f"{len(kept_before)} heads" + (f", head_mask 0 on heads {cut}" if cut else "")
    return (f"your pruned layer does not compute what the layer given does {masked_heads}: attention_forward on "
            f"your pruned weights ({len(kept_after)} heads) and on the weights given ({given}) differ on the same "
            f"input (batch {batch}, seq {seq}):\n{problem}\n{why}")


def run_pruned_attention(student, reference, cases, rng):
    """Pruning a head must change the layer's output exactly as masking it to 0 does: the dense
    bias stays, and a masked head adds nothing to the context the dense projection reads."""
    results = []
    for case in cases:
        try:
            problem = _pruned_attention(student, reference, case, rng)
        except ReferenceFailed:  # the grader's fault, not the student's: stop, as the value checks do
            raise
        except Exception as error:  # a result of the wrong kind that broke the check
            problem = f"could not check the result: {type(error).__name__}: {error}"
        results.append(CaseResult(with_shapes(case, "prune_attention_heads"), problem is None, problem or ""))
    return results
