"""Question answering's answers from a model's span scores, as Transformers' run_qa.py picks
them (`utils_qa.postprocess_qa_predictions`) for the fine-tuning evaluation.

A question over a long context is several features, one per window (`task_data.encode_question`).
Each feature's start and end logits (seq,) propose spans: the `N_BEST_SIZE` highest starts paired
with the `N_BEST_SIZE` highest ends, kept when both lie in that window's context, the end is not
before the start and the span is at most `MAX_ANSWER_LENGTH` tokens. The span of highest start
logit + end logit across all the question's windows is the answer, read back from the context as
whole words (the slow tokenizer has no character offsets; a feature maps its pieces to words).

SQuAD v2.0 (run_qa.py's --version_2_with_negative) lets the model abstain: `answer_or_abstain`
compares the best span with the question's null score, [CLS]'s start + end logit, and answers ""
when the null score wins.

The inference pipeline (`task_pipelines.QuestionAnsweringPipeline`) scores spans as Transformers'
pipeline does instead: probabilities, not logits. Its `handle_impossible_answer` makes the same
choice for a context of one window (a window's softmax keeps the order of its start + end logits);
over several windows the two can differ, since each window's probabilities have their own
normalizer.
"""
from __future__ import annotations

import math

import numpy as np

# run_qa.py's defaults: candidates per feature, and the longest answer, in tokens.
N_BEST_SIZE, MAX_ANSWER_LENGTH = 20, 30
# run_qa.py's default null_score_diff_threshold: by how much the null score must beat the best
# span's score for the answer to be "" (SQuAD v2.0).
NULL_SCORE_DIFF_THRESHOLD = 0.0


def span_candidates(start_logits, end_logits, context_start: int, context_length: int, max_answer_length: int,
                    n_best_size: int = N_BEST_SIZE) -> list[tuple[float, int, int]]:
    """(score, start, end) of the answers one feature proposes, as run_qa.py's post-processing
    (utils_qa.postprocess_qa_predictions) finds them: each of the `n_best_size` highest start
    logits paired with each of the `n_best_size` highest end logits (both (seq,), over the
    feature's tokens), kept when both lie in its context, the tokens [context_start,
    context_start + context_length), the end is not before the start and the span has at most
    `max_answer_length` tokens. The score is start logit + end logit."""
    starts = np.argsort(start_logits)[-1:-n_best_size - 1:-1]
    ends = np.argsort(end_logits)[-1:-n_best_size - 1:-1]
    context_end = context_start + context_length
    return [(float(start_logits[s] + end_logits[e]), int(s), int(e)) for s in starts for e in ends
            if context_start <= s <= e < context_end and e - s + 1 <= max_answer_length]


def span_text(feature: dict, context: str, start: int, end: int) -> str:
    """The context's text for the tokens start..end of `feature`: from the first character of
    the start token's word to the last of the end token's word (answers are whole words)."""
    first_word = feature["piece_words"][start - feature["context_start"]]
    last_word = feature["piece_words"][end - feature["context_start"]]
    return context[feature["word_spans"][first_word][0]:feature["word_spans"][last_word][1]]


def best_span(context: str, features: list[dict], logits: list[tuple], max_answer_length: int,
              n_best_size: int = N_BEST_SIZE) -> tuple[str, float, float] | None:
    """(text, start logit, end logit) of the candidate of highest score (`span_candidates`)
    across all the features of one question (its context's windows) and their (start_logits,
    end_logits), the first one on a tie; None when no feature proposes one."""
    best, best_score = None, -math.inf
    for feature, (start_logits, end_logits) in zip(features, logits):
        for score, start, end in span_candidates(start_logits, end_logits, feature["context_start"],
                                                 len(feature["piece_words"]), max_answer_length, n_best_size):
            if score > best_score:
                best_score = score
                best = (span_text(feature, context, start, end), float(start_logits[start]), float(end_logits[end]))
    return best


def best_answer(context: str, features: list[dict], logits: list[tuple], max_answer_length: int,
                n_best_size: int = N_BEST_SIZE) -> str:
    """The answer to one question from all its features (its context's windows) and their
    (start_logits, end_logits): the candidate of highest score across them (`best_span`), as
    text; "" when no feature proposes one (run_qa.py writes the placeholder "empty" then; either
    scores 0 against a SQuAD answer)."""
    span = best_span(context, features, logits, max_answer_length, n_best_size)
    return "" if span is None else span[0]


def null_score(logits: list[tuple]) -> float:
    """The score of "no answer" for one question: the least, over its features, of the start
    logit + end logit at [CLS] (position 0). The least, as utils_qa's min_null_prediction takes
    it: every window must agree that the answer is not there."""
    return min(float(start_logits[0] + end_logits[0]) for start_logits, end_logits in logits)


def answer_or_abstain(context: str, features: list[dict], logits: list[tuple], max_answer_length: int,
                      null_score_diff_threshold: float = NULL_SCORE_DIFF_THRESHOLD,
                      n_best_size: int = N_BEST_SIZE) -> str:
    """The answer to one SQuAD v2.0 question, "" for none, as run_qa.py --version_2_with_negative
    picks it (utils_qa.postprocess_qa_predictions): the best span across the features
    (`best_span`, the same as without abstaining) unless the question's `null_score` beats it by
    more than the threshold, that is when null score - start logit - end logit of the best span >
    `null_score_diff_threshold` (strictly: on a tie the span is kept).

    utils_qa also keeps the null answer among its n-best list of candidates, but the answer it
    picks is always the best non-null one or "", as here. A question for which no feature
    proposes a span gets "": there is nothing else to say (utils_qa writes its placeholder
    "empty" there unless the null score is above the threshold)."""
    span = best_span(context, features, logits, max_answer_length, n_best_size)
    if span is None:
        return ""
    text, start_logit, end_logit = span
    return "" if null_score(logits) - start_logit - end_logit > null_score_diff_threshold else text


def squad_predictions(examples: list[dict], features: list[dict], logits: list[tuple], max_answer_length: int,
                      version_2_with_negative: bool = False,
                      null_score_diff_threshold: float = NULL_SCORE_DIFF_THRESHOLD) -> dict:
    """{question id: answer text}, one answer per question whatever its number of features:
    each question's features (those with its id) are gathered and `best_answer` picks across
    them; with `version_2_with_negative` (SQuAD v2.0), `answer_or_abstain`, which may answer ""."""
    features_of = {example["id"]: [] for example in examples}
    for index, feature in enumerate(features):
        features_of[feature["id"]].append(index)
    answers = {}
    for example in examples:
        own_features = [features[i] for i in features_of[example["id"]]]
        own_logits = [logits[i] for i in features_of[example["id"]]]
        if version_2_with_negative:
            answers[example["id"]] = answer_or_abstain(example["context"], own_features, own_logits,
                                                       max_answer_length, null_score_diff_threshold)
        else:
            answers[example["id"]] = best_answer(example["context"], own_features, own_logits, max_answer_length)
    return answers
