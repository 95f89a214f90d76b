"""The usual scores of the fine-tuning tasks, in plain Python.

- classification: accuracy and macro-F1 (the unweighted mean of the per-class F1);
- multi-label classification (a row of 0/1 per example, one per label: multi-hot): micro-F1 (of
  every example-label decision pooled), macro-F1 over the labels and subset accuracy (the share
  of examples whose every label is right), as sklearn.metrics computes them on such rows;
- regression: Pearson and Spearman correlation (as GLUE scores STS-B, with scipy.stats'
  `pearsonr` and `spearmanr`) and the mean squared error;
- BIO (or BIOES) tagging: entity-level precision, recall and F1 (an entity counts only when its
  type and both of its ends are right), as the `seqeval` package computes them in its default mode;
- SQuAD v1.1: exact match and token F1 after the official answer normalization, each the
  maximum over the reference answers, then averaged, in percent.
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
    """Share of positions where prediction == reference."""
    _check_lengths(predictions, references)
    return sum(p == r for p, r in zip(predictions, references)) / len(references)


def _f1(true_positives: int, predicted: int, actual: int) -> float:
    if true_positives == 0:
        return 0.0
    precision, recall = true_positives / predicted, true_positives / actual
    return 2 * precision * recall / (precision + recall)


def macro_f1(predictions, references) -> float:
    """Mean over the classes seen in either list of each class's F1 (0 for a class never hit)."""
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


def pearson(xs, ys) -> float:
    """Pearson's correlation coefficient: the covariance of the two lists over the product of
    their standard deviations, in [-1, 1]. nan when either list is constant (its deviation is 0),
    as scipy.stats.pearsonr returns then: no line fits, so no correlation is defined."""
    _check_lengths(xs, ys)
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    dx, dy = [x - mean_x for x in xs], [y - mean_y for y in ys]
    spread = math.sqrt(sum(d * d for d in dx) * sum(d * d for d in dy))
    if spread == 0:
        return math.nan
    # Rounding can carry a perfect correlation a hair past 1; scipy clips it back too.
    return max(-1.0, min(1.0, sum(a * b for a, b in zip(dx, dy)) / spread))


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
    measures how monotonic the relation is, whatever its shape (scipy.stats.spearmanr)."""
    _check_lengths(xs, ys)
    return pearson(average_ranks(xs), average_ranks(ys))


def regression_scores(predictions, references) -> dict:
    """{"pearson", "spearmanr", "mse"}: the keys of GLUE's STS-B metric, and run_glue.py's mse."""
    return {"pearson": pearson(predictions, references), "spearmanr": spearman(predictions, references),
            "mse": mean_squared_error(predictions, references)}


def bio_entities(tags) -> set:
    """The entities of one tag sequence as (type, first, last) triples.

    `B-X` opens an X entity; `I-X` continues one of type X and, after anything else (an `O`, a
    different type), opens a new one, as seqeval's default (lenient) mode reads it. So does
    `E-X`, which also ends the entity, and `S-X` is an entity of one tag (the BIOES scheme). A
    tag without a type (`B`) has the type `_`, as in seqeval.
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
    """Entity-level precision, recall and F1 (micro-averaged over all entities)."""
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


def normalize_answer(text: str) -> str:
    """SQuAD's normalization: lower case, drop punctuation and the articles a/an/the, and
    collapse whitespace."""
    text = "".join(character for character in text.lower() if character not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def squad_exact_match(prediction: str, answer: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(answer))


def squad_f1(prediction: str, answer: str) -> float:
    """F1 over the bags of normalized words of the prediction and the answer."""
    predicted_words, answer_words = normalize_answer(prediction).split(), normalize_answer(answer).split()
    common = sum((Counter(predicted_words) & Counter(answer_words)).values())
    return _f1(common, len(predicted_words), len(answer_words))


def squad_scores(predictions: dict, references: dict) -> dict:
    """predictions {id: text}, references {id: [answer texts]} -> {"exact_match", "f1"} in percent."""
    missing = sorted(set(references) - set(predictions))
    if missing:
        raise ValueError(f"no prediction for {len(missing)} question(s), e.g. {missing[0]!r}")
    exact = sum(max(squad_exact_match(predictions[key], answer) for answer in answers)
                for key, answers in references.items())
    f1 = sum(max(squad_f1(predictions[key], answer) for answer in answers) for key, answers in references.items())
    return {"exact_match": 100.0 * exact / len(references), "f1": 100.0 * f1 / len(references)}
