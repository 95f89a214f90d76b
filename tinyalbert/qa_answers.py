"""Question answering's answers from a model's span scores, as Transformers' run_qa.py picks
them (`utils_qa.postprocess_qa_predictions`) for the fine-tuning evaluation.

A question over a long context is several features, one per window (`task_data.encode_question`).
Each feature's start and end logits (seq,) propose spans: the `N_BEST_SIZE` highest starts paired
with the `N_BEST_SIZE` highest ends, kept when both lie in that window's context, the end is not
before the start and the span is at most `MAX_ANSWER_LENGTH` tokens. The span of highest start
logit + end logit across all the question's windows is the answer, read back from the context as
whole words (the slow tokenizer has no character offsets; a feature maps its pieces to words).

The inference pipeline (`task_pipelines.QuestionAnsweringPipeline`) scores spans as Transformers'
pipeline does instead: probabilities, not logits.
"""
from __future__ import annotations

import math

import numpy as np

# run_qa.py's defaults: candidates per feature, and the longest answer, in tokens.
N_BEST_SIZE, MAX_ANSWER_LENGTH = 20, 30


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


def best_answer(context: str, features: list[dict], logits: list[tuple], max_answer_length: int,
                n_best_size: int = N_BEST_SIZE) -> str:
    """The answer to one question from all its features (its context's windows) and their
    (start_logits, end_logits): the candidate of highest score across them (`span_candidates`;
    the first one on a tie), as text; "" when no feature proposes one (run_qa.py writes the
    placeholder "empty" then; either scores 0 against a SQuAD answer)."""
    answer, best_score = "", -math.inf
    for feature, (start_logits, end_logits) in zip(features, logits):
        for score, start, end in span_candidates(start_logits, end_logits, feature["context_start"],
                                                 len(feature["piece_words"]), max_answer_length, n_best_size):
            if score > best_score:
                answer, best_score = span_text(feature, context, start, end), score
    return answer


def squad_predictions(examples: list[dict], features: list[dict], logits: list[tuple], max_answer_length: int) -> dict:
    """{question id: answer text}, one answer per question whatever its number of features:
    each question's features (those with its id) are gathered and `best_answer` picks across them."""
    features_of = {example["id"]: [] for example in examples}
    for index, feature in enumerate(features):
        features_of[feature["id"]].append(index)
    return {example["id"]: best_answer(example["context"], [features[i] for i in features_of[example["id"]]],
                                       [logits[i] for i in features_of[example["id"]]], max_answer_length)
            for example in examples}
