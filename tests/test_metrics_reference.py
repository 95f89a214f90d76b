"""The fine-tuning metrics (tinyalbert/metrics.py) against the references Transformers' example
scripts score with, on random inputs and on their corners:

- token classification: `seqeval` in its default mode, as run_ner.py reads it through
  `evaluate`'s "seqeval" (overall_precision, overall_recall, overall_f1, overall_accuracy);
- text classification and multi-label: sklearn.metrics (f1_score, accuracy_score);
- regression: scipy.stats.pearsonr and spearmanr, sklearn's mean_squared_error;
- question answering: SQuAD v1.1's official evaluation script, copied below as it is published.

Where tinyalbert differs on purpose (tags that are not BIO/BIOES, one pair of regression values,
questions without answers) the tests say so and pin what tinyalbert does.
"""
import math
import re
import string
import warnings
from collections import Counter

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from scipy import stats
from seqeval.metrics import accuracy_score as seqeval_accuracy
from seqeval.metrics import classification_report
from seqeval.metrics.sequence_labeling import get_entities
from sklearn import metrics as sk

from tinyalbert.metrics import (accuracy, bio_entities, entity_scores, macro_f1, mean_squared_error,
                                multi_label_scores, pearson, regression_scores, spearman, squad_scores)


def quietly(function, *args, **kwargs):
    """Call a reference without its warnings (undefined precision, constant input, ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


# --- token classification: seqeval ------------------------------------------------------------------
def seqeval_overall(predictions, references) -> dict:
    """What `evaluate.load("seqeval").compute(predictions=..., references=...)` returns overall:
    its _compute takes classification_report(output_dict=True)'s "micro avg" and accuracy_score."""
    report = quietly(classification_report, y_true=references, y_pred=predictions, output_dict=True)
    micro = report["micro avg"]
    scores = {"precision": micro["precision"], "recall": micro["recall"], "f1": micro["f1-score"]}
    if any(references):  # seqeval's accuracy of no tag divides 0 by 0
        scores["accuracy"] = seqeval_accuracy(references, predictions)
    return scores


# Well-formed BIO and BIOES tags, two types, a type with a hyphen, bare prefixes and `O-X`:
# every ill-formed sequence of them (I-X after O, I-X after B-Y, B-X I-Y, E-X alone, ...) comes up.
TAGS = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC",
        "B-X-Y", "I-X-Y", "B", "I", "E", "S", "O-PER"]
tags = st.sampled_from(TAGS)
# A reference tag and its prediction, often the same so that entities are found right too.
tag_pairs = st.tuples(tags, tags, st.booleans()).map(lambda pair: (pair[0], pair[0] if pair[2] else pair[1]))
sentences = st.lists(st.lists(tag_pairs, max_size=10), min_size=1, max_size=5)


@given(st.lists(tags, max_size=12))
@example(["I-PER", "I-PER", "O", "I-PER"])  # I-X after O opens an entity
@example(["B-PER", "I-LOC", "E-LOC", "E-LOC"])  # B-X I-Y: two entities; E after E opens one
@example(["B", "I", "O", "S", "E"])  # no type: type "_"
def test_entities_are_seqevals(sequence):
    assert bio_entities(sequence) == set(quietly(get_entities, sequence))


@given(sentences)
@example([[("O", "O"), ("O", "O")]])  # no entity anywhere: seqeval gives 0, 0, 0 (and warns)
@example([[("B-PER", "O")]])  # none predicted: precision 0
@example([[("O", "B-PER")], [("O", "I-LOC")]])  # none true: recall 0
@example([[]])
def test_entity_scores_are_run_ners_overall_scores(pairs):
    references = [[reference for reference, _ in sentence] for sentence in pairs]
    predictions = [[predicted for _, predicted in sentence] for sentence in pairs]
    expected = seqeval_overall(predictions, references)
    ours = entity_scores(predictions, references)
    for name in ("precision", "recall", "f1"):
        assert ours[name] == pytest.approx(expected[name], abs=1e-12), name
    flat_predictions = [tag for sentence in predictions for tag in sentence]
    if flat_predictions:
        flat_references = [tag for sentence in references for tag in sentence]
        assert accuracy(flat_predictions, flat_references) == pytest.approx(expected["accuracy"])


def test_an_entity_does_not_run_across_sentences():
    # seqeval flattens the sentences with an O after each one: I-PER opens a new entity.
    predictions, references = [["B-PER"], ["I-PER"]], [["B-PER"], ["I-PER"]]
    assert entity_scores(predictions, references) == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0})
    assert seqeval_overall(predictions, references)["precision"] == 1.0
    assert entity_scores([["B-PER", "I-PER"]], [["B-PER", "O"]])["f1"] == 0.0


def test_a_tag_outside_bio_is_outside_every_entity_unlike_seqeval():
    """Documented difference: seqeval reads any tag's first character as its prefix."""
    assert bio_entities(["PER", "O"]) == set()
    assert quietly(get_entities, ["PER", "O"]) == [("ER", 0, 0)]
    # A lowercase o after B-PER opens an entity of type "_" in seqeval, closed by B-LOC.
    assert bio_entities(["B-PER", "o", "B-LOC"]) == {("PER", 0, 0), ("LOC", 2, 2)}
    assert quietly(get_entities, ["B-PER", "o", "B-LOC"]) == [("PER", 0, 0), ("_", 1, 1), ("LOC", 2, 2)]


# --- text classification and multi-label: sklearn ---------------------------------------------------
label_pairs = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=30)


@given(label_pairs)
@example([(0, 0), (1, 1), (2, 0)])  # class 2 never predicted
@example([(0, 3), (0, 0)])  # class 3 never true
@example([(4, 4)])
def test_macro_f1_and_accuracy_are_sklearns(pairs):
    predictions, references = [p for p, _ in pairs], [r for _, r in pairs]
    assert macro_f1(predictions, references) == pytest.approx(
        quietly(sk.f1_score, references, predictions, average="macro"), abs=1e-12)
    assert accuracy(predictions, references) == pytest.approx(sk.accuracy_score(references, predictions))


def test_macro_f1_averages_over_the_classes_either_list_holds():
    # A model of 4 classes; class 3 is in neither list. sklearn's default leaves it out; naming it
    # in labels= would count it 0 and give 0.75 rather than 1.
    predictions = references = [0, 1, 2]
    assert macro_f1(predictions, references) == 1.0 == sk.f1_score(references, predictions, average="macro")
    assert quietly(sk.f1_score, references, predictions, average="macro", labels=[0, 1, 2, 3]) == 0.75


@st.composite
def multi_hot_pairs(draw):
    """(predictions, references): rows of 0/1 cells, 2 labels or more (sklearn reads one column
    as a binary target, not a multi-label one), all-zero rows and columns included."""
    width = draw(st.integers(2, 5))
    rows = st.lists(st.integers(0, 1), min_size=width, max_size=width)
    height = draw(st.integers(1, 12))
    return (draw(st.lists(rows, min_size=height, max_size=height)),
            draw(st.lists(rows, min_size=height, max_size=height)))


@given(multi_hot_pairs())
@example(([[0, 0], [0, 0]], [[0, 0], [0, 0]]))  # no label anywhere: all 0 but subset accuracy 1
@example(([[1, 0], [0, 0]], [[1, 0], [0, 0]]))  # label 1 never true nor predicted: counts 0
@example(([[0, 0, 0]], [[1, 0, 1]]))
def test_multi_label_scores_are_sklearns(pair):
    predictions, references = pair
    true, predicted = np.array(references), np.array(predictions)
    expected = {"micro_f1": quietly(sk.f1_score, true, predicted, average="micro"),
                "macro_f1": quietly(sk.f1_score, true, predicted, average="macro"),
                "subset_accuracy": sk.accuracy_score(true, predicted)}
    assert multi_label_scores(predictions, references) == pytest.approx(expected, abs=1e-12)


# --- regression: scipy.stats ------------------------------------------------------------------------
values = st.one_of(st.integers(-5, 5), st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False))


def well_conditioned(xs) -> bool:
    """Constant, or spread enough that the rounding of the mean (numpy sums in another order than
    Python) cannot change the correlation beyond 1e-9."""
    spread, size = max(xs) - min(xs), max(abs(x) for x in xs)
    return spread == 0 or spread > 1e-6 * max(size, 1.0)


@given(st.lists(st.tuples(values, values), min_size=2, max_size=20))
@example([(0.1, 1.0), (0.1, 2.0), (0.1, 3.0)])  # constant, but its mean is not 0.1 exactly
@example([(1, 3.0), (2, 3.0)])
@example([(1, 1), (2, 2), (2, 3), (2, 3)])  # ties
def test_correlations_are_scipys(pairs):
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    assume(well_conditioned(xs) and well_conditioned(ys))
    expected_pearson = quietly(stats.pearsonr, xs, ys)[0]
    expected_spearman = quietly(stats.spearmanr, xs, ys)[0]
    assert pearson(xs, ys) == pytest.approx(expected_pearson, abs=1e-9, nan_ok=True)
    assert spearman(xs, ys) == pytest.approx(expected_spearman, abs=1e-12, nan_ok=True)
    assert mean_squared_error(xs, ys) == pytest.approx(sk.mean_squared_error(ys, xs), rel=1e-12, abs=1e-12)


@given(st.sampled_from([0.1, 0.7, 1 / 3, 1e-7, -2.2, 5]), st.integers(2, 30), st.integers(0, 1000))
def test_a_constant_prediction_has_no_correlation(value, size, seed):
    """A model that collapsed to one output: scipy says nan, whatever rounding the mean has."""
    labels = list(np.random.default_rng(seed).normal(size=size))
    assert math.isnan(quietly(stats.pearsonr, [value] * size, labels)[0])
    assert math.isnan(pearson([value] * size, labels))
    assert math.isnan(pearson(labels, [value] * size))
    assert math.isnan(spearman([value] * size, labels))
    scores = regression_scores([value] * size, labels)
    assert math.isnan(scores["pearson"]) and math.isnan(scores["spearmanr"])


@given(st.lists(st.floats(-10, 10), min_size=2, max_size=10), st.data())
def test_a_nan_value_gives_a_nan_correlation(xs, data):
    """scipy propagates nan; without care min/max clipping turns nan into a perfect 1.0."""
    ys = data.draw(st.lists(st.floats(-10, 10), min_size=len(xs), max_size=len(xs)))
    xs[data.draw(st.integers(0, len(xs) - 1))] = math.nan
    assert math.isnan(quietly(stats.pearsonr, xs, ys)[0]) and math.isnan(quietly(stats.spearmanr, xs, ys)[0])
    assert math.isnan(pearson(xs, ys)) and math.isnan(pearson(ys, xs))
    assert math.isnan(spearman(xs, ys)) and math.isnan(spearman(ys, xs))


def test_nan_and_infinite_outputs_are_no_correlation():
    nan, inf = math.nan, math.inf
    assert math.isnan(pearson([nan, 1.0, 2.0], [1.0, 2.0, 3.0]))  # was 1.0
    assert math.isnan(spearman([nan, 1.0, 2.0], [1.0, 2.0, 3.0]))  # was 1.0
    assert math.isnan(quietly(stats.pearsonr, [inf, 1.0, 2.0], [1.0, 2.0, 3.0])[0])
    assert math.isnan(pearson([inf, 1.0, 2.0], [1.0, 2.0, 3.0]))  # was 1.0
    # Ranks are defined with inf: the largest value.
    assert spearman([inf, 1.0, 2.0], [1.0, 2.0, 3.0]) == pytest.approx(stats.spearmanr([inf, 1.0, 2.0], [1, 2, 3])[0])


@pytest.mark.parametrize("scale", [1e-200, 1e-160, 1e160, 1e200])
def test_pearson_of_tiny_or_huge_values(scale):
    """Squared deviations of 1e-200 underflow to 0 and of 1e200 overflow to inf; scipy scales
    them first, and so must a correlation that does not depend on the unit."""
    xs, ys = [1.0, 0.0, 2.0, 5.0], [1.0, 2.0, 3.0, 3.5]
    expected = stats.pearsonr(xs, ys)[0]
    scaled = [x * scale for x in xs]
    assert quietly(stats.pearsonr, scaled, ys)[0] == pytest.approx(expected, abs=1e-12)
    assert pearson(scaled, ys) == pytest.approx(expected, abs=1e-12)
    assert pearson(ys, scaled) == pytest.approx(expected, abs=1e-12)


def test_one_pair_has_no_correlation_where_scipy_refuses_it():
    """Documented difference: pearsonr raises for fewer than 2 values; one pair is constant."""
    with pytest.raises(ValueError):
        stats.pearsonr([1.0], [2.0])
    assert math.isnan(pearson([1.0], [2.0]))
    assert math.isnan(quietly(stats.spearmanr, [1.0], [2.0])[0]) and math.isnan(spearman([1.0], [2.0]))


# --- question answering: SQuAD v1.1's evaluation script ---------------------------------------------
# From https://rajpurkar.github.io/SQuAD-explorer/ (evaluate-v1.1.py), unchanged but for style.
def official_normalize_answer(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def official_f1_score(prediction, ground_truth):
    prediction_tokens = official_normalize_answer(prediction).split()
    ground_truth_tokens = official_normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def official_exact_match_score(prediction, ground_truth):
    return official_normalize_answer(prediction) == official_normalize_answer(ground_truth)


def official_evaluate(answers, predictions):
    """answers {id: [texts]} (the script walks the dataset's qas), predictions {id: text}."""
    f1 = exact_match = total = 0
    for key, ground_truths in answers.items():
        total += 1
        prediction = predictions[key]
        exact_match += max(official_exact_match_score(prediction, truth) for truth in ground_truths)
        f1 += max(official_f1_score(prediction, truth) for truth in ground_truths)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


WORDS = ["the", "The", "a", "An", "an", "THE", "Paris", "paris", "café", "Straße", "1,000", "U.S.",
         "cat's", "“quoted”", "—", "...", "(", ")", "theatre", "another", "A.", "$5", "日本", "Ⅳ", "İstanbul"]
SEPARATORS = ["", " ", "  ", "\t", "\n", "\u00a0", "\u2009", "\u3000", "\u2028", "-", ",", "."]
texts = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=6).map(
    lambda parts: "".join(word + separator for word, separator in parts))


@st.composite
def squad_questions(draw):
    """(predictions, references): a few questions of 1 to 3 answers, each prediction one of its
    answers respelled, or another text."""
    predictions, references = {}, {}
    for key in range(draw(st.integers(1, 5))):
        answers = draw(st.lists(texts, min_size=1, max_size=3))
        prediction = draw(st.one_of(texts, st.sampled_from(answers)))
        if draw(st.booleans()):  # the same words, in capitals, with an article or punctuation around
            before, after = draw(st.sampled_from(["", " ", "the ", "."])), draw(st.sampled_from(["", ".", " a"]))
            prediction = before + prediction.upper() + after
        predictions[f"q{key}"], references[f"q{key}"] = prediction, answers
    return predictions, references


@given(squad_questions())
@example(({"q": "the Eiffel\u00a0Tower."}, {"q": ["Eiffel Tower", "the tower"]}))
@example(({"q": "the"}, {"q": ["The"]}))  # both normalize to nothing: exact match 1, F1 0 (v1.1)
@example(({"q": "Paris, France"}, {"q": ["France", "Paris"]}))  # the best of the answers
def test_squad_scores_are_the_official_v1_1_scores(pair):
    predictions, references = pair
    assert squad_scores(predictions, references) == pytest.approx(official_evaluate(references, predictions), abs=1e-9)


def test_a_question_without_answers_is_refused_clearly():
    """SQuAD v1.1 has no unanswerable question; v2.0's rules (gold "" matches a "" prediction)
    are another metric, so an empty answer list is an error rather than a v1.1 score."""
    with pytest.raises(ValueError, match="without an answer.*'q2'"):
        squad_scores({"q1": "Paris", "q2": ""}, {"q1": ["Paris"], "q2": []})
    with pytest.raises(ValueError, match="one question or more"):
        squad_scores({}, {})
