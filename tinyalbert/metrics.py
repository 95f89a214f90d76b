"""The usual scores of the fine-tuning tasks, in plain Python.

- classification: accuracy and macro-F1 (the unweighted mean of the per-class F1);
- multi-label classification (a row of 0/1 per example, one per label: multi-hot): micro-F1 (of
  every example-label decision pooled), macro-F1 over the labels and subset accuracy (the share
  of examples whose every label is right), as sklearn.metrics computes them on such rows;
- regression: Pearson and Spearman correlation (as GLUE scores STS-B, with scipy.stats'
  `pearsonr` and `spearmanr`; nan where they are undefined) and the mean squared error;
- BIO (or BIOES) tagging: entity-level precision, recall and F1 (an entity counts only when its
  type and both of its ends are right), as the `seqeval` package computes them in its default mode;
- SQuAD v1.1: exact match and token F1 after the official answer normalization, each the
  maximum over the reference answers, then averaged, in percent;
- SQuAD v2.0: the same with its questions without an answer, where only "" is right, and the
  scores of the questions with and without an answer apart, as its official script reports them.
"""
from __future__ import annotations

import math
import re
import string
from collections import Counter


def _check_lengths(predictions, references, what: str = "predictions") -> None:
    if len(predictions) != len(references) or not references:
        raise ValueError(f"need as many {what} as references (>0), got {len(predictions)} and {len(references)}")


def accuracy(predictions, references) -> float:
    """Share of positions where prediction == reference (sklearn's accuracy_score; on the tags of
    token classification, seqeval's accuracy_score, run_ner.py's overall_accuracy)."""
    _check_lengths(predictions, references)
    return sum(p == r for p, r in zip(predictions, references)) / len(references)


def _f1(true_positives: int, predicted: int, actual: int) -> float:
    if true_positives == 0:
        return 0.0
    precision, recall = true_positives / predicted, true_positives / actual
    return 2 * precision * recall / (precision + recall)


def macro_f1(predictions, references) -> float:
    """Mean over the classes seen in either list of each class's F1 (0 for a class never hit):
    sklearn's f1_score(average="macro"), which averages over the same classes (a class of the
    model that neither list holds is left out) and counts 0 where precision or recall is
    undefined (its zero_division default, without the warning)."""
    _check_lengths(predictions, references)
    classes = sorted(set(references) | set(predictions), key=str)
    scores = []
    for label in classes:
        hits = sum(p == r == label for p, r in zip(predictions, references))
        scores.append(_f1(hits, sum(p == label for p in predictions), sum(r == label for r in references)))
    return sum(scores) / len(scores)


def _check_rows(predictions, references) -> None:
    """Multi-hot rows: as many of each, and one cell per label in every row."""
    _check_lengths(predictions, references)
    widths = {len(row) for row in (*predictions, *references)}
    if len(widths) != 1 or 0 in widths:
        raise ValueError(f"every row needs one 0 or 1 per label (1 label or more), got rows of {sorted(widths)} cells")


def micro_f1(predictions, references) -> float:
    """F1 of every (example, label) cell of the multi-hot rows pooled: the true positives,
    predicted positives and actual positives are counted over all cells at once, so a frequent
    label weighs more than a rare one. sklearn's f1_score(average="micro"), the score
    run_classification.py reports for multi-label classification; 0 when no cell is both
    predicted and true."""
    _check_rows(predictions, references)
    cells = [(p, r) for row_p, row_r in zip(predictions, references) for p, r in zip(row_p, row_r)]
    return _f1(sum(1 for p, r in cells if p and r), sum(1 for p, _ in cells if p), sum(1 for _, r in cells if r))


def multi_label_macro_f1(predictions, references) -> float:
    """Mean over the labels (the columns of the multi-hot rows) of each label's F1, so a rare
    label weighs as much as a frequent one. A label neither true nor predicted for any example
    counts 0, as in sklearn's f1_score(average="macro") (its zero_division default)."""
    _check_rows(predictions, references)
    scores = []
    for column_p, column_r in zip(zip(*predictions), zip(*references)):
        hits = sum(1 for p, r in zip(column_p, column_r) if p and r)
        scores.append(_f1(hits, sum(1 for p in column_p if p), sum(1 for r in column_r if r)))
    return sum(scores) / len(scores)


def subset_accuracy(predictions, references) -> float:
    """Share of examples whose predicted labels are exactly their true ones, every label right
    (sklearn's accuracy_score on multi-hot rows)."""
    _check_rows(predictions, references)
    return accuracy([list(row) for row in predictions], [list(row) for row in references])


def multi_label_scores(predictions, references) -> dict:
    """{"micro_f1", "macro_f1", "subset_accuracy"} of multi-hot rows (lists of 0 and 1)."""
    return {"micro_f1": micro_f1(predictions, references),
            "macro_f1": multi_label_macro_f1(predictions, references),
            "subset_accuracy": subset_accuracy(predictions, references)}


def mean_squared_error(predictions, references) -> float:
    """Mean of (prediction - reference) ** 2, the MSE that run_glue.py reports for a regression."""
    _check_lengths(predictions, references)
    return sum((p - r) ** 2 for p, r in zip(predictions, references)) / len(references)


def _has_nan(values) -> bool:
    return any(math.isnan(value) for value in values)


def _is_constant(values) -> bool:
    return all(value == values[0] for value in values)


def _unit_deviations(values) -> list[float]:
    """The deviations of (not all equal) values from their mean, scaled to a vector of length 1.
    They are first divided by the largest of them, as scipy.stats.pearsonr does, so that squaring
    tiny or huge deviations neither underflows to 0 nor overflows to inf."""
    mean = sum(values) / len(values)
    deviations = [value - mean for value in values]
    largest = max(abs(deviation) for deviation in deviations)
    scaled = [deviation / largest for deviation in deviations]
    length = math.sqrt(sum(value * value for value in scaled))
    return [value / length for value in scaled]


def pearson(xs, ys) -> float:
    """Pearson's correlation coefficient: the covariance of the two lists over the product of
    their standard deviations, in [-1, 1], as scipy.stats.pearsonr computes it.

    nan, as scipy returns then, when either list is constant (no line fits, so no correlation is
    defined), when a value is nan (a model whose outputs went nan correlates with nothing) or
    when an infinite value leaves no finite deviation. A constant list is one whose values are
    all equal, tested as such: its mean can be a rounding away from them ([0.1, 0.1, 0.1] has
    the mean 0.10000000000000002), and those rounding errors must not be read as a correlation.
    One pair alone is constant, so nan too (scipy.stats.pearsonr raises an error there).
    """
    _check_lengths(xs, ys)
    if _has_nan(xs) or _has_nan(ys) or _is_constant(xs) or _is_constant(ys):
        return math.nan
    correlation = sum(a * b for a, b in zip(_unit_deviations(xs), _unit_deviations(ys)))
    if math.isnan(correlation):  # an infinite value: min and max below would turn nan into 1.0
        return math.nan
    # Rounding can carry a perfect correlation a hair past 1; scipy clips it back too.
    return max(-1.0, min(1.0, correlation))


def average_ranks(values) -> list[float]:
    """The rank of each value, 1 for the smallest; tied values share the mean of the ranks they
    span (scipy.stats.rankdata's "average" method): [10, 20, 20, 30] -> [1, 2.5, 2.5, 4]."""
    order = sorted(range(len(values)), key=lambda index: values[index])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start  # order[start:end + 1] hold one value
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1  # the mean of the ranks start + 1 .. end + 1
        start = end + 1
    return ranks


def spearman(xs, ys) -> float:
    """Spearman's rank correlation: Pearson's correlation of the two lists' average ranks, so it
    measures how monotonic the relation is, whatever its shape (scipy.stats.spearmanr). nan when
    either list is constant or holds a nan (which has no rank), as scipy returns then."""
    _check_lengths(xs, ys)
    if _has_nan(xs) or _has_nan(ys):
        return math.nan
    return pearson(average_ranks(xs), average_ranks(ys))


def regression_scores(predictions, references) -> dict:
    """{"pearson", "spearmanr", "mse"}: the keys of GLUE's STS-B metric, and run_glue.py's mse."""
    return {"pearson": pearson(predictions, references), "spearmanr": spearman(predictions, references),
            "mse": mean_squared_error(predictions, references)}


def bio_entities(tags) -> set:
    """The entities of one tag sequence as (type, first, last) triples.

    `B-X` opens an X entity; `I-X` continues one of type X and, after anything else (an `O`, a
    different type), opens a new one, as seqeval's default (lenient, conlleval-like) mode reads
    it, and so run_ner.py's scores. So does `E-X`, which also ends the entity, and `S-X` is an
    entity of one tag (the BIOES scheme). A tag without a type (`B`) has the type `_`, as in
    seqeval; the type is everything after the first `-` (`B-X-Y` is of type `X-Y`).

    Every other tag is outside every entity: `O` (and `O-X`), and also a tag that is not BIO or
    BIOES (`X`, `b-PER`, `PER`). There tinyalbert differs from seqeval on purpose: seqeval warns
    that such a tag "seems not to be NE tag", then reads its first character as the prefix and
    the rest as the type, so that `PER` becomes an entity of type `ER` and a lowercase `o` after
    `B-X` opens an entity of type `_`.
    """
    entities, current = set(), None  # current: [type, first, last]
    for position, tag in enumerate(list(tags) + ["O"]):
        prefix, _, kind = tag.partition("-")
        kind = kind or "_"
        if prefix in ("I", "E") and current is not None and current[0] == kind:
            current[2] = position
        else:
            if current is not None:
                entities.add(tuple(current))
                current = None
            if prefix in ("B", "I", "E", "S"):
                current = [kind, position, position]
        if prefix in ("E", "S") and current is not None:  # these close their entity at once
            entities.add(tuple(current))
            current = None
    return entities


def entity_scores(predicted_sequences, reference_sequences) -> dict:
    """Entity-level precision, recall and F1, micro-averaged over all entities: seqeval's
    classification_report "micro avg", which run_ner.py reports as overall_precision,
    overall_recall and overall_f1. An entity is predicted right when the same sentence has it,
    of the same type and span, in the references. Precision is 0 when nothing is predicted as an
    entity, recall 0 when the references hold none, and F1 0 then too: seqeval's values (its
    zero_division "warn", without the warning)."""
    true_positives = predicted = actual = 0
    _check_lengths(predicted_sequences, reference_sequences, "predicted sequences")
    for predicted_tags, reference_tags in zip(predicted_sequences, reference_sequences):
        if len(predicted_tags) != len(reference_tags):
            raise ValueError(f"a sequence of {len(predicted_tags)} predicted tags against {len(reference_tags)} references")
        ours, theirs = bio_entities(predicted_tags), bio_entities(reference_tags)
        true_positives += len(ours & theirs)
        predicted, actual = predicted + len(ours), actual + len(theirs)
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / actual if actual else 0.0
    return {"precision": precision, "recall": recall, "f1": _f1(true_positives, predicted, actual)}


_PUNCTUATION = set(string.punctuation)  # ASCII only, as in SQuAD's evaluation script: "“" stays


def normalize_answer(text: str) -> str:
    """SQuAD's normalization (the official v1.1 and v2.0 scripts): lower case, drop punctuation
    and the articles a/an/the, and collapse whitespace (any Unicode whitespace, as str.split
    reads it)."""
    text = "".join(character for character in text.lower() if character not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def squad_exact_match(prediction: str, answer: str) -> float:
    """1.0 when the prediction and the answer are the same after `normalize_answer`, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(answer))


def squad_f1(prediction: str, answer: str) -> float:
    """F1 over the bags of normalized words of the prediction and the answer, as SQuAD v1.1's
    script computes it: 0 when they share no word, so also when both normalize to nothing (an
    answer "The" and a prediction "the" match exactly but score F1 0; v2.0's script gives 1
    there, for its empty no-answer predictions: `squad_v2_f1`)."""
    predicted_words, answer_words = normalize_answer(prediction).split(), normalize_answer(answer).split()
    common = sum((Counter(predicted_words) & Counter(answer_words)).values())
    return _f1(common, len(predicted_words), len(answer_words))


def squad_scores(predictions: dict, references: dict) -> dict:
    """predictions {id: text}, references {id: [answer texts]} -> {"exact_match", "f1"} in percent.

    SQuAD v1.1's evaluation (and `evaluate`'s "squad", which run_qa.py uses): each question
    scores the best of its answers, and the mean is over the questions of `references`
    (predictions for other ids are ignored). It differs on purpose in two places: a question
    without a prediction is an error (the script warns and scores it 0), and so is a question
    without answers (v1.1 has no unanswerable questions; a v2.0 one would need v2.0's rules).
    """
    if not references:
        raise ValueError("need the answers of one question or more, got none")
    missing = sorted(set(references) - set(predictions))
    if missing:
        raise ValueError(f"no prediction for {len(missing)} question(s), e.g. {missing[0]!r}")
    unanswerable = [key for key, answers in references.items() if not answers]
    if unanswerable:
        raise ValueError(f"{len(unanswerable)} question(s) without an answer, e.g. {unanswerable[0]!r}: "
                         "SQuAD v1.1's scores need an answer text or more per question")
    exact = sum(max(squad_exact_match(predictions[key], answer) for answer in answers)
                for key, answers in references.items())
    f1 = sum(max(squad_f1(predictions[key], answer) for answer in answers) for key, answers in references.items())
    return {"exact_match": 100.0 * exact / len(references), "f1": 100.0 * f1 / len(references)}


def squad_v2_f1(prediction: str, answer: str) -> float:
    """F1 over the bags of normalized words, as SQuAD v2.0's script computes it: where either side
    normalizes to nothing (an answer "" of a question without one, a prediction "" that abstains),
    1.0 when both do and 0.0 otherwise; elsewhere `squad_f1`'s value. (v1.1's script gives 0 when
    both are empty: `squad_f1`.)"""
    predicted_words, answer_words = normalize_answer(prediction).split(), normalize_answer(answer).split()
    if not predicted_words or not answer_words:
        return float(predicted_words == answer_words)
    return squad_f1(prediction, answer)


def _percent(scores: dict, keys: list) -> float:
    return 100.0 * sum(scores[key] for key in keys) / len(keys)


def squad_v2_scores(predictions: dict, references: dict) -> dict:
    """predictions {id: text, "" to abstain}, references {id: [answer texts], [] for a question
    without an answer} -> SQuAD v2.0's official scores, with the key names of its script and of
    `evaluate`'s "squad_v2" (which run_qa.py --version_2_with_negative reports):

    - `exact`, `f1`: the mean over all questions, in percent, of each one's best exact match and
      F1 (`squad_v2_f1`) over its answers. Answers that normalize to nothing ("the", ".") are
      left out, and a question left with none has the one answer "": only an empty prediction
      (or one that normalizes to nothing) scores 1 there, in both.
    - `total`: the number of questions;
    - `HasAns_exact`, `HasAns_f1`, `HasAns_total`: the same over the questions with answers (a
      non-empty list), present when there are some; `NoAns_...` over those without.

    Not reported: `evaluate`'s `best_exact`, `best_f1` and their thresholds, which pick the best
    cut of the questions sorted by their probability of having no answer; run_qa.py gives every
    question the probability 0, so they measure the file's order, not the model. As in
    `squad_scores`, a question without a prediction is an error (the script warns and leaves it
    out of `exact` and `f1`), and predictions for other ids are ignored.
    """
    if not references:
        raise ValueError("need the answers of one question or more, got none")
    missing = sorted(set(references) - set(predictions))
    if missing:
        raise ValueError(f"no prediction for {len(missing)} question(s), e.g. {missing[0]!r}")
    exact, f1 = {}, {}
    for key, answers in references.items():
        scored = [answer for answer in answers if normalize_answer(answer)] or [""]
        exact[key] = max(squad_exact_match(predictions[key], answer) for answer in scored)
        f1[key] = max(squad_v2_f1(predictions[key], answer) for answer in scored)
    everyone = list(references)
    scores = {"exact": _percent(exact, everyone), "f1": _percent(f1, everyone), "total": len(everyone)}
    for name, keys in (("HasAns", [key for key in everyone if references[key]]),
                       ("NoAns", [key for key in everyone if not references[key]])):
        if keys:
            scores.update({f"{name}_exact": _percent(exact, keys), f"{name}_f1": _percent(f1, keys),
                           f"{name}_total": len(keys)})
    return scores
