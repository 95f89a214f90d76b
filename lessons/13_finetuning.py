# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 13: Fine-tuning: task heads, their losses and their gradients
#
# After this lesson you will be able to
#
# - put a task head on the pretrained body and say which weights are new;
# - compute the four heads in a few lines of NumPy: sequence classification (on the pooled [CLS]
#   vector), token classification (on every position), question answering (a start and an end
#   score per position) and multiple choice (one score per choice);
# - derive the gradient of each fine-tuning loss with respect to the logits (cross-entropy, mean
#   squared error, binary cross-entropy with logits, and the span loss of question answering with
#   its clamp-and-ignore rule) and check it by finite differences;
# - split a context longer than the model's positions into overlapping windows, label each one, and
#   pick one answer across them, as Transformers' `run_qa.py` does; tag a long sentence through the
#   same windows, each word taking its tag from the window that sees the most around it;
# - see where each head's gradient enters the body, and check the whole model's gradient against
#   torch autograd;
# - fine-tune `tinyalbert-mini` on a small task and measure what pretraining buys on words the task
#   never showed it.
#
# Lessons 7 and 8 wrote the backward pass of the body; a head adds one linear layer and a loss on
# top, so this lesson is mostly about the last two links of the chain. `LESSONS_FULL=1` trains
# longer and over more seeds. For real data sets, the same loop with
# evaluation, checkpoints and progress is `python -m tinyalbert.finetune` (`docs/finetuning.md`).

# %%
import os
import tempfile
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np

from tinyalbert import (
    AlbertConfig, AlbertForMultipleChoice, AlbertForQuestionAnswering, AlbertForSequenceClassification,
    AlbertForTokenClassification, AlbertTokenizer, gradcheck,
)
from tinyalbert.nn import heads, losses
from tinyalbert.train import optim

FULL = os.environ.get("LESSONS_FULL") == "1"
STEPS = {"pretrained": 150 if FULL else 60, "from scratch": 300 if FULL else 160}  # fine-tuning steps (section 7)
SEEDS = (0, 1, 2) if FULL else (0,)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. A head on a pretrained body
#
# `from_pretrained` with a task class reads the body from the checkpoint and starts the head from
# random numbers (normal, standard deviation `initializer_range`, zero bias), as Transformers does,
# and says so. The pooler (dense + tanh on the [CLS] vector) is not new: pretraining trained it
# for sentence-order prediction, and sequence classification and multiple choice read it again.

# %%
tokenizer = AlbertTokenizer.from_pretrained("tinyalbert-mini")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    classifier = AlbertForSequenceClassification.from_pretrained("tinyalbert-mini", num_labels=3)
print(caught[0].message)
new = [name for name in classifier.params if not name.startswith("albert.")]
print("new:", {name: classifier.params[name].shape for name in new})
print(f"pretrained: {sum(v.size for n, v in classifier.params.items() if n.startswith('albert.')):,} parameters, "
      f"new: {sum(classifier.params[n].size for n in new):,}")
print(f"new weights: standard deviation {classifier.params['classifier.weight'].std():.4f} "
      f"(initializer_range {classifier.config.initializer_range}), bias all zero")
assert new == ["classifier.weight", "classifier.bias"]
assert np.all(classifier.params["classifier.bias"] == 0)

# %% [markdown]
# ## 2. The four heads, by hand
#
# Every head is a linear layer $z = x W^\top + b$ on some of the body's final hidden states
# $h$ `(batch, seq, H)`:
#
# | class | reads | logits |
# | --- | --- | --- |
# | `AlbertForSequenceClassification` | pooled [CLS]: $p = \tanh(h_{\cdot,0} W_p^\top + b_p)$ | `(batch, num_labels)` |
# | `AlbertForTokenClassification` | every position $h_{\cdot,t}$ | `(batch, seq, num_labels)` |
# | `AlbertForQuestionAnswering` | every position, 2 outputs: start, end | two `(batch, seq)` |
# | `AlbertForMultipleChoice` | pooled [CLS] of each (question, choice) pair, 1 output | `(batch, choices)` |
#
# Multiple choice runs each choice through the body as its own sequence: the batch of
# `(batch, choices, seq)` ids becomes `batch * choices` sequences, row $b \cdot \text{choices} + c$
# holding question $b$ with choice $c$, and the single scores are folded back into
# `(batch, choices)` in that order, so a softmax over the choices picks one. The backward unfolds
# $\partial L/\partial \text{scores}$ the same way, into `(batch * choices, 1)`. (In training, dropout comes
# before the linear layer of every head but question answering's; here the models are in eval
# mode, where it does nothing.)

# %%
def my_pooler(hidden, params):
    return np.tanh(hidden[:, 0] @ params["albert.pooler.weight"].T + params["albert.pooler.bias"])


def my_head(features, params, prefix):
    return features @ params[prefix + "weight"].T + params[prefix + "bias"]


texts = ["a dog is a kind of animal.", "paris is the capital of france."]
batch = tokenizer(texts, padding=True, return_tensors="np")
inputs = dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # each new head is announced as above
    models = {cls.__name__: cls.from_pretrained("tinyalbert-mini", num_labels=4)
              for cls in (AlbertForSequenceClassification, AlbertForTokenClassification)}
    models["AlbertForQuestionAnswering"] = AlbertForQuestionAnswering.from_pretrained("tinyalbert-mini")
    models["AlbertForMultipleChoice"] = AlbertForMultipleChoice.from_pretrained("tinyalbert-mini")

sequence = models["AlbertForSequenceClassification"]
hidden = sequence(**inputs, output_hidden_states=True).hidden_states[-1]  # (batch, seq, H)
ours = my_head(my_pooler(hidden, sequence.params), sequence.params, "classifier.")
np.testing.assert_allclose(ours, sequence(**inputs).logits, rtol=1e-4, atol=1e-5)

token = models["AlbertForTokenClassification"]  # the same pretrained body, so the same hidden states
np.testing.assert_allclose(my_head(hidden, token.params, "classifier."), token(**inputs).logits, rtol=1e-4, atol=1e-5)

qa = models["AlbertForQuestionAnswering"]
both_scores = my_head(hidden, qa.params, "qa_outputs.")  # (batch, seq, 2)
out = qa(**inputs)
np.testing.assert_allclose(both_scores[..., 0], out.start_logits, rtol=1e-4, atol=1e-5)
np.testing.assert_allclose(both_scores[..., 1], out.end_logits, rtol=1e-4, atol=1e-5)

choice = models["AlbertForMultipleChoice"]
questions = ["a dog is a kind of", "bread is a kind of"]
options = ["animal.", "city.", "food."]
pairs = tokenizer([q for q in questions for _ in options], options * len(questions), padding=True, return_tensors="np")
choice_ids, choice_mask, choice_types = (pairs[name].reshape(len(questions), len(options), -1)  # (2 questions, 3 choices, seq)
                                         for name in ("input_ids", "attention_mask", "token_type_ids"))
choice_out = choice(input_ids=choice_ids, attention_mask=choice_mask, token_type_ids=choice_types,
                    output_hidden_states=True)
flat_hidden = choice_out.hidden_states[-1]  # (2 * 3 sequences, seq, H); row b * 3 + c: question b, choice c
scores = my_head(my_pooler(flat_hidden, choice.params), choice.params, "classifier.").reshape(2, 3)
np.testing.assert_allclose(scores, choice_out.logits, rtol=1e-4, atol=1e-5)
print("logit shapes:", tuple(ours.shape), tuple(token(**inputs).logits.shape), tuple(out.start_logits.shape),
      tuple(choice_out.logits.shape), "- all four heads by hand == tinyalbert")

# %% [markdown]
# The heads are new, so these logits mean nothing yet: which choice the untrained multiple-choice
# head prefers is chance. When Transformers is installed, the sequence-classification logits of
# the same checkpoint are compared with it.

# %%
for question, question_scores in zip(questions, choice_out.logits):
    print(f"untrained multiple-choice head: {question!r} -> {options[int(np.argmax(question_scores))]!r}")
try:
    import torch
    import transformers
except ImportError:
    torch = None

if torch is None:
    print("SKIPPED: torch and transformers are not installed (pip install torch transformers) - "
          "the comparisons with Transformers did not run.")
else:
    with tempfile.TemporaryDirectory() as directory:
        sequence.save_pretrained(directory)
        reference = transformers.AlbertForSequenceClassification.from_pretrained(directory).eval()
    with torch.no_grad():
        theirs = reference(**{name: torch.tensor(value) for name, value in inputs.items()}).logits.numpy()
    print(f"largest difference from Transformers: {np.abs(theirs - sequence(**inputs).logits).max():.1e}")
    np.testing.assert_allclose(sequence(**inputs).logits, theirs, rtol=1e-4, atol=1e-5)

# %% [markdown]
# ## 3. The losses, and their gradient with respect to the logits
#
# `AlbertForSequenceClassification` picks its loss from `config.problem_type`; when that is not set,
# it decides on the first batch, as Transformers does: `num_labels == 1` means **regression** (mean
# squared error), integer labels mean **single-label** classification (cross-entropy), anything else
# **multi-label** (binary cross-entropy with logits, one yes/no per label). Token classification
# and multiple choice use cross-entropy, question answering a pair of them (section 4). (Transformers
# reads only int32 and int64 labels as class ids; tinyalbert reads any integer type so.)
#
# With $N$ counted rows (cross-entropy; labels of -100 are not counted) or $N$ entries (the other
# two), and $s$ the sigmoid:
#
# | loss | $L$ | $\partial L / \partial z$ |
# | --- | --- | --- |
# | cross-entropy | $\frac{1}{N}\sum_r -\log \mathrm{softmax}(z_r)_{y_r}$ | $\frac{1}{N}(\mathrm{softmax}(z_r) - \mathrm{onehot}(y_r))$, 0 on ignored rows |
# | mean squared error | $\frac{1}{N}\sum (z - y)^2$ | $\frac{2}{N}(z - y)$ |
# | BCE with logits | $\frac{1}{N}\sum \big(\log(1 + e^{z}) - y z\big)$ | $\frac{1}{N}(s(z) - y)$ |
#
# Lesson 7 (section 6) derived the cross-entropy row. BCE is usually written
# $-[y \log s(z) + (1-y) \log(1 - s(z))]$; with $s(z) = 1/(1 + e^{-z})$,
# $\log s(z) = z - \log(1 + e^{z})$ and $\log(1 - s(z)) = -\log(1 + e^{z})$, which gives the
# table's $\log(1 + e^{z}) - yz$. The BCE forward is computed as
# $\max(z, 0) - zy + \log(1 + e^{-|z|})$: the same value, but $e^{z}$ never overflows. The
# gradient below, `1 / (1 + np.exp(-z))`, does overflow for $z$ below about $-709$: NumPy warns,
# and $1/\infty = 0$ is still the right sigmoid; the library's backward splits by the sign of $z$
# so that nothing overflows.

# %%
def my_cross_entropy_grad(logits, labels, ignore=-100):
    counted = labels != ignore
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    probs = shifted / shifted.sum(-1, keepdims=True)
    onehot = np.eye(logits.shape[-1])[np.where(counted, labels, 0)]
    return (probs - onehot) * counted[:, None] / counted.sum()


def my_mse_grad(predictions, targets):
    return 2 * (predictions - targets) / predictions.size


def my_bce_with_logits(logits, targets):
    return np.mean(np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits))))


def my_bce_grad(logits, targets):
    return (1 / (1 + np.exp(-logits)) - targets) / logits.size


z = rng.standard_normal((6, 4))
class_ids = np.array([0, 3, -100, 1, 2, -100])
values = rng.standard_normal((6, 4))
multi_hot = (rng.random((6, 4)) < 0.4).astype(np.float64)
loss_cases = {  # name: (library forward, its backward, our gradient, targets)
    "cross-entropy": (losses.cross_entropy_forward, losses.cross_entropy_backward, my_cross_entropy_grad, class_ids),
    "mean squared error": (losses.mse_forward, losses.mse_backward, my_mse_grad, values),
    "BCE with logits": (losses.bce_with_logits_forward, losses.bce_with_logits_backward, my_bce_grad, multi_hot),
}
for name, (forward, backward, my_grad, targets) in loss_cases.items():
    loss, cache = forward(z, targets)
    library_grad, _ = backward(1.0, cache)
    np.testing.assert_allclose(my_grad(z, targets), library_grad, rtol=1e-12, atol=1e-15)
    gradcheck.check_gradients(lambda v: float(forward(v["z"], targets)[0]), {"z": z.copy()}, {"z": library_grad})
    print(f"{name:19s} loss {float(loss):.4f}: our gradient == tinyalbert.nn.losses == finite differences")
np.testing.assert_allclose(my_bce_with_logits(z, multi_hot), losses.bce_with_logits_forward(z, multi_hot)[0], rtol=1e-12)

# %% [markdown]
# How hard does each loss push? For one logit and a target of 1 (for cross-entropy: two classes
# whose logits differ by $z$, which is the same as BCE on $z$), plot the loss and its gradient. The
# squared error keeps pushing in proportion to the error, and pushes *down* once $z$ passes the
# target; the log-losses push at most 1, and fade as the answer becomes confidently right.

# %%
grid = np.linspace(-6, 6, 241)
curves = {
    "mean squared error": ([(g - 1) ** 2 for g in grid], 2 * (grid - 1)),
    "BCE with logits / 2-class CE": ([my_bce_with_logits(np.array([g]), np.array([1.0])) for g in grid],
                                     1 / (1 + np.exp(-grid)) - 1),  # s(z) - y for one entry
}
two_class = np.stack([np.zeros_like(grid), grid], axis=1)
ce_values = [float(losses.cross_entropy_forward(row[None], np.array([1]))[0]) for row in two_class]
np.testing.assert_allclose(ce_values, curves["BCE with logits / 2-class CE"][0], rtol=1e-12)
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
for name, (loss_values, grad_values) in curves.items():
    left.plot(grid, loss_values, label=name)
    right.plot(grid, grad_values, label=name)
left.set(xlabel="logit z (target 1)", ylabel="loss", ylim=(0, 8), title="loss")
right.set(xlabel="logit z (target 1)", ylabel="dL/dz", ylim=(-3, 3), title="gradient")
right.axhline(0, color="gray", linewidth=0.5)
left.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Question answering: two cross-entropies, and answers that were cut off
#
# A question-answering example names the answer's first and last token, `start_positions` and
# `end_positions`. The loss is the mean of two cross-entropies over the positions, one for the start
# scores and one for the end scores. When a long context is truncated, the answer may lie beyond
# the last kept token; Transformers clamps every position into $[0, \text{seq}]$ and ignores the
# value seq itself: a start (or end) that was cut off adds nothing to its cross-entropy, while the
# other end of the same answer still counts if it was kept. A negative position counts as 0 (the
# [CLS] token, which is also where SQuAD 2.0's "no answer" points). Here seq is the padded length
# of the batch, so the softmax also runs over padding positions, and a position in a shorter
# example's padding counts: Transformers does not mask them, and neither does tinyalbert.
#
# With $s_r, e_r$ the clamped positions and $C_s$, $C_e$ the rows where they are below seq:
#
# $$L = \frac{1}{2}\Big(\frac{1}{|C_s|}\sum_{r \in C_s} -\log \mathrm{softmax}(z^{s}_r)_{s_r}
#     + \frac{1}{|C_e|}\sum_{r \in C_e} -\log \mathrm{softmax}(z^{e}_r)_{e_r}\Big),\qquad
# \frac{\partial L}{\partial z^{s}_r} = \frac{[r \in C_s]}{2\,|C_s|}\big(\mathrm{softmax}(z^{s}_r) - \mathrm{onehot}(s_r)\big)$$
#
# and the same for the end. Start and end are averaged separately, each over its own count. (If
# every start of a batch was cut off, $|C_s| = 0$ and the start term is 0/0 = nan, as in torch.)

# %%
def my_span_positions(positions, seq):
    """Clamped into [0, seq]; seq marks "ignore"."""
    clamped = np.clip(positions, 0, seq)
    return np.where(clamped == seq, -100, clamped)


seq = 7
start_logits, end_logits = rng.standard_normal((4, seq)), rng.standard_normal((4, seq))
start_positions, end_positions = np.array([1, 3, 12, -2]), np.array([2, 5, 12, 0])  # the third was cut off
starts, ends = my_span_positions(start_positions, seq), my_span_positions(end_positions, seq)
print("start positions", start_positions, "->", starts, "  end positions", end_positions, "->", ends)
d_start = my_cross_entropy_grad(start_logits, starts) / 2
d_end = my_cross_entropy_grad(end_logits, ends) / 2
assert np.all(d_start[2] == 0) and np.all(d_end[2] == 0)  # both ends cut off: this answer teaches nothing


def span_loss(values):
    """The library's loss: clamp to [0, seq], ignore seq, mean of the two cross-entropies."""
    start = losses.cross_entropy_forward(values["start"], np.clip(start_positions, 0, seq), ignore_index=seq)[0]
    end = losses.cross_entropy_forward(values["end"], np.clip(end_positions, 0, seq), ignore_index=seq)[0]
    return float((start + end) / 2)


gradcheck.check_gradients(span_loss, {"start": start_logits.copy(), "end": end_logits.copy()},
                          {"start": d_start, "end": d_end})
print("span-loss gradient by hand == finite differences")

# %% [markdown]
# ## 5. Question answering over long contexts: overlapping windows
#
# A question-answering input is `[CLS] question [SEP] context [SEP]`, and `tinyalbert-mini` has
# 128 positions (`max_position_embeddings`, printed below): a question of $q$ pieces leaves
# $W = 128 - q - 3$ for the context. Many SQuAD paragraphs are longer. Truncated, a context keeps
# its first $W$ pieces, and an answer past them teaches the model nothing (section 4: its positions
# are past the end, and ignored) or, labelled [CLS] as run_qa labels a window without the answer,
# teaches it that the question has no answer; at evaluation the model never sees the rest. Here
# is a handwritten paragraph with six questions on it.

# %%
from tinyalbert.qa_answers import MAX_ANSWER_LENGTH, N_BEST_SIZE, best_answer, span_candidates, span_text
from tinyalbert.task_data import (
    DOC_STRIDE, answer_pieces, context_words, default_doc_stride, encode_question, window_starts,
)

QA_CONTEXT = (
    "Long ago a quiet village stood beside a wide river. The farmers who lived there grew wheat and barley "
    "on the low fields, and every summer they sold sweet plums at the market in the town across the water. "
    "The oldest house in the village belonged to a miller named Tomas who had built a wooden mill where the "
    "river bends to the east. Each morning his daughter rowed a small boat to the far bank to fetch fresh bread. "
    "One winter the river froze so hard that the children walked across the ice to school, and the miller "
    "could not turn his wheel for six weeks in a row. When spring came the ice broke with a sound like thunder, "
    "and the water rose higher than anyone could remember. It carried away the old stone bridge in a single "
    "night. The daughter of the miller saved a flock of sheep by leading them up the hill behind the church. "
    "The next year the people built a new bridge of oak wood that was wider and stronger than the first, and "
    "they named it after the girl who had saved the sheep. Her name was Anna and the bridge still carries her "
    "name today.")
QA_ANSWERS = {"What did the farmers grow?": "wheat and barley", "Who built the mill?": "Tomas",
              "How long could the miller not turn his wheel?": "six weeks",
              "What did the water carry away?": "the old stone bridge",
              "What was the new bridge made of?": "oak wood", "What was the girl called?": "Anna"}
qa_examples = [{"id": f"q{number}", "question": question_text, "context": QA_CONTEXT,
                "answers": [{"text": answer, "answer_start": QA_CONTEXT.index(answer)}]}
               for number, (question_text, answer) in enumerate(QA_ANSWERS.items())]
assert all(QA_CONTEXT.count(answer) == 1 for answer in QA_ANSWERS.values())

MAX_LENGTH = tokenizer.model_max_length  # 128 positions
assert MAX_LENGTH == models["AlbertForQuestionAnswering"].config.max_position_embeddings
words = context_words(QA_CONTEXT)  # (first, end) characters of each whitespace-separated word
word_pieces = [tokenizer.tokenize(QA_CONTEXT[first:end]) for first, end in words]
context_pieces = [piece for pieces_of_word in word_pieces for piece in pieces_of_word]
piece_words = [index for index, pieces_of_word in enumerate(word_pieces) for _ in pieces_of_word]
print(f"the context: {len(words)} words, {len(context_pieces)} pieces; {MAX_LENGTH} positions")
assert len(qa_examples) == 6
past_first = 0
for example in qa_examples:
    room = MAX_LENGTH - len(tokenizer.tokenize(example["question"])) - 3  # W
    first, last = answer_pieces(example["answers"][0], words, piece_words)  # the answer's pieces in the context
    past_first += last >= room
    print(f"  {example['question']:46s} W = {room}, answer {example['answers'][0]['text']!r:22s} at pieces "
          f"{first}-{last}{'  past the first window' if last >= room else ''}")
print(f"{past_first} of {len(qa_examples)} answers end past the first W pieces: truncated, the model never sees them")
assert past_first > len(qa_examples) / 2

# %% [markdown]
# Transformers' `run_qa.py` (and `python -m tinyalbert.finetune`) splits such a context into
# overlapping windows, each its own *feature* `[CLS] question [SEP] window [SEP]`. Neighbours share
# $S$ pieces, the `--doc-stride` (the overlap, not the step); window $k$ starts at $k(W - S)$, and
# the last is the first that reaches the end of the context (it may be shorter). A context of
# $L > W$ pieces therefore needs
#
# $$n = 1 + \Big\lceil \frac{L - W}{W - S} \Big\rceil$$
#
# windows, and one when $L \le W$. run_qa's default $S$, 128, would leave no new
# piece in a window of 128 positions: `default_doc_stride` takes less at short lengths (half,
# and under the room of the longest question; `docs/finetuning.md`), printed below for 128.

# %%
def my_window_starts(length, width, stride):
    step = width - stride
    count = 1 + max(0, -(-(length - width) // step))  # 1 + ceil((L - W) / (W - S)); one window if L <= W
    return [k * step for k in range(count)]


example = qa_examples[3]  # what did the water carry away?
question_pieces = tokenizer.tokenize(example["question"])
width, stride = MAX_LENGTH - len(question_pieces) - 3, default_doc_stride(MAX_LENGTH)
window_firsts = my_window_starts(len(context_pieces), width, stride)
assert DOC_STRIDE == 128
print(f"W = {width}, S = default_doc_stride({MAX_LENGTH}) = {stride} (run_qa's default: {DOC_STRIDE}): "
      f"windows start at pieces {window_firsts}")
assert window_firsts == window_starts(len(context_pieces), width, stride)
for length, window_width, overlap in [(118, 118, 60), (119, 118, 60), (0, 10, 3), (50, 10, 1), (50, 10, 9), (1000, 117, 116)]:
    assert my_window_starts(length, window_width, overlap) == window_starts(length, window_width, overlap)

# %% [markdown]
# The windows of this question over the context's pieces, the shared pieces hatched, and the
# answer in red: every piece is in some window, and the answer is whole in more than one.

# %%
answer_first, answer_last = answer_pieces(example["answers"][0], words, piece_words)
holders = [k for k, first in enumerate(window_firsts) if first <= answer_first and answer_last < first + width]
assert len(holders) > 1 and answer_first < window_firsts[3] <= answer_last  # whole in two windows, cut by window 3
fig, ax = plt.subplots(figsize=(9, 2.6))
for k, first in enumerate(window_firsts):
    end = min(first + width, len(context_pieces))
    ax.barh(k, end - first, left=first, color="tab:blue", alpha=0.35)
    if k:
        ax.barh(k, stride, left=first, fill=False, hatch="///", edgecolor="tab:blue", linewidth=0,
                label="shared with the window before" if k == 1 else None)
    whole = first <= answer_first and answer_last < end
    cut = not whole and answer_first < end and answer_last >= first
    ax.text(end + 2, k, "answer whole" if whole else "answer cut" if cut else "no answer", va="center", fontsize=8)
ax.axvspan(answer_first, answer_last + 1, color="tab:red", alpha=0.5, label=repr(example["answers"][0]["text"]))
ax.set_yticks(range(len(window_firsts)), [f"window {k}" for k in range(len(window_firsts))])
ax.invert_yaxis()
ax.set(xlim=(0, len(context_pieces) + 45), xlabel="context piece",
       title=f"{len(window_firsts)} windows of W = {width} pieces, S = {stride} shared")
ax.legend(loc="lower left", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# **Labels.** run_qa labels each feature on its own: the answer's first and last piece, counted in
# the feature's tokens (after `[CLS] question [SEP]`), when the answer lies wholly inside the
# window; [CLS] (0, 0) for both when it does not, whether it is elsewhere or cut by the window's
# edge. Start and end are labelled together, never one without the other. `encode_question` builds
# the features of one question; decoding each labelled span gives the answer back.

# %%
features = encode_question(example, tokenizer, MAX_LENGTH, stride)
context_start = len(question_pieces) + 2  # [CLS] question [SEP]
assert len(features) == len(window_firsts)
for k, (feature, first) in enumerate(zip(features, window_firsts)):
    window = context_pieces[first:first + width]
    assert tokenizer.convert_ids_to_tokens(feature["input_ids"][context_start:-1]) == window
    whole = first <= answer_first and answer_last < first + len(window)
    expected = (context_start + answer_first - first, context_start + answer_last - first) if whole else (0, 0)
    label = (feature["start_position"], feature["end_position"])
    assert label == expected, (k, label, expected)
    shown = tokenizer.decode(feature["input_ids"][label[0]:label[1] + 1]) if whole else "[CLS]"
    if whole:
        assert shown == example["answers"][0]["text"].lower()
    print(f"window {k}: pieces {first:3d}-{first + len(window) - 1:3d}, {len(feature['input_ids'])} tokens, "
          f"label {label} -> {shown!r}")

# %% [markdown]
# When Transformers is installed, its fast tokenizer, converted from the same `spiece.model`
# (offline), makes the overflowing windows, and run_qa's `prepare_train_features` (condensed below)
# labels them from character offsets: the same features, token for token, and the same labels, for
# all six questions.

# %%
def run_qa_features(fast, example, max_length, doc_stride):
    """The features and labels of run_qa.py's prepare_train_features for one question, unpadded."""
    encoded = fast(example["question"].lstrip(), example["context"], truncation="only_second", max_length=max_length,
                   stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True)
    answer_start = example["answers"][0]["answer_start"]
    answer_end = answer_start + len(example["answers"][0]["text"])
    labels = []
    for row, offsets in enumerate(encoded["offset_mapping"]):
        in_context = [i for i, kind in enumerate(encoded.sequence_ids(row)) if kind == 1]
        if not (offsets[in_context[0]][0] <= answer_start and offsets[in_context[-1]][1] >= answer_end):
            labels.append((0, 0))  # not wholly in this window: [CLS]
            continue
        labels.append((max(i for i in in_context if offsets[i][0] <= answer_start),
                       min(i for i in in_context if offsets[i][1] >= answer_end)))
    return encoded["input_ids"], labels


def fast_tokenizer_or_none():
    """run_qa needs the fast tokenizer (its character offsets); converting it from spiece.model
    needs protobuf, which a plain `pip install transformers` may lack."""
    from tinyalbert.hub import resolve_model_dir

    try:
        return transformers.AlbertTokenizerFast.from_pretrained(resolve_model_dir("tinyalbert-mini"))
    except ImportError as error:
        print(f"SKIPPED: the fast tokenizer could not be converted ({error}) - pip install protobuf")
        return None


fast = None if torch is None else fast_tokenizer_or_none()
if torch is None:
    print("SKIPPED: transformers is not installed - run_qa's features were not compared.")
elif fast is not None:
    feature_count = 0
    for each in qa_examples:
        ours = encode_question(each, tokenizer, MAX_LENGTH, stride)
        their_ids, their_labels = run_qa_features(fast, each, MAX_LENGTH, stride)
        assert [feature["input_ids"] for feature in ours] == their_ids, each["question"]
        assert [(feature["start_position"], feature["end_position"]) for feature in ours] == their_labels
        feature_count += len(ours)
    print(f"{feature_count} features from {len(qa_examples)} questions: the same token ids and labels as run_qa's")

# %% [markdown]
# **One answer across the windows.** At evaluation every feature gives start scores $z^s$ and end
# scores $z^e$. A span from token $i$ to token $j$ scores $z^s_i + z^e_j$, and run_qa's
# post-processing keeps the best over the spans that
#
# - lie in the window's context (not [CLS], the question or the last [SEP]), $i \le j$, and have at
#   most `max_answer_length` pieces, $j - i + 1 \le 30$;
# - pair one of the 20 highest starts with one of the 20 highest ends (`n_best_size`);
#
# then the best over all the question's features, read back from the context as whole words.
# The scores are raw logits, not log-probabilities, so windows are compared as they are, without
# each one's softmax. Below, hand-made scores on the four features: [CLS] scores highest everywhere
# (an untrained head may well do that); window 0 holds a weaker span; window 1 holds the answer,
# and around it a start after it and an end before it that score more but pair only backwards;
# window 2 holds a span that scores more than the answer but is too long. In plain NumPy, as a
# matrix of every start against every end, then `span_candidates` and `best_answer`:

# %%
def my_best_span(start_logits, end_logits, context_start, context_length, max_answer_length, n_best=20):
    """(score, i, j) of the best span of one feature, or None."""
    scores = start_logits[:, None] + end_logits[None, :]  # (start i, end j)
    i, j = np.indices(scores.shape)
    valid = (context_start <= i) & (i <= j) & (j < context_start + context_length) & (j - i + 1 <= max_answer_length)
    valid &= np.isin(i, np.argsort(start_logits)[-n_best:]) & np.isin(j, np.argsort(end_logits)[-n_best:])
    if not valid.any():
        return None
    best = np.argmax(np.where(valid, scores, -np.inf))
    return float(scores.flat[best]), *map(int, np.unravel_index(best, scores.shape))


noise = np.random.default_rng(13)
qa_logits = []
for k, feature in enumerate(features):
    start_logits, end_logits = noise.normal(0, 1, (2, len(feature["input_ids"])))
    start_logits[0] = end_logits[0] = 9.0  # [CLS]: never a candidate
    if k == 0:  # a weaker span
        start_logits[context_start + 10], end_logits[context_start + 12] = 4.5, 4.5
    if k == 1:  # the answer, and around it a higher start after it and a higher end before it
        start_logits[feature["start_position"]], end_logits[feature["end_position"]] = 6.0, 6.0
        end_logits[feature["start_position"] - 2], start_logits[feature["end_position"] + 2] = 7.0, 7.0
    if k == 2:  # a span longer than 30 pieces
        start_logits[context_start + 1], end_logits[context_start + 1 + MAX_ANSWER_LENGTH] = 6.5, 6.5
    qa_logits.append((start_logits, end_logits))

assert (N_BEST_SIZE, MAX_ANSWER_LENGTH, len(features)) == (20, 30, 4)
for k, (feature, (start_logits, end_logits)) in enumerate(zip(features, qa_logits)):
    mine = my_best_span(start_logits, end_logits, context_start, len(feature["piece_words"]), MAX_ANSWER_LENGTH)
    theirs = max(span_candidates(start_logits, end_logits, context_start, len(feature["piece_words"]),
                                 MAX_ANSWER_LENGTH), default=None)
    assert mine == theirs, (k, mine, theirs)
    print(f"window {k}: best span {mine[1:]} scores {mine[0]:5.2f}: {span_text(feature, QA_CONTEXT, *mine[1:])!r}")
winner = max(range(len(features)), key=lambda k: my_best_span(*qa_logits[k], context_start,
                                                             len(features[k]["piece_words"]), MAX_ANSWER_LENGTH)[0])
answer = best_answer(QA_CONTEXT, features, qa_logits, MAX_ANSWER_LENGTH)
first_window_only = best_answer(QA_CONTEXT, features[:1], qa_logits[:1], MAX_ANSWER_LENGTH)
print(f"best across the windows: window {winner}, {answer!r}; from the first window alone: {first_window_only!r}")
assert winner == 1 and answer == example["answers"][0]["text"] and first_window_only != answer
unlimited = my_best_span(*qa_logits[2], context_start, len(features[2]["piece_words"]), max_answer_length=MAX_LENGTH)
print(f"without max_answer_length, window 2 would win: {unlimited[0]:.2f} for {unlimited[2] - unlimited[1] + 1} pieces")
assert unlimited[0] > my_best_span(*qa_logits[1], context_start, len(features[1]["piece_words"]), MAX_ANSWER_LENGTH)[0]

# %% [markdown]
# **Tagging a long sentence** takes the same windows: `[CLS] window [SEP]`, $W = 128 - 2$ pieces
# each, neighbours sharing `--doc-stride` pieces, so that no word is cut off (`run_ner.py` cuts
# the sentence, and its last words are neither learnt nor scored). A word's tag sits on its first
# piece; a word whose first piece two windows hold is trained in both, and at evaluation it takes
# the tag of the window that sees more around it. BERT's rule for its SQuAD windows measures that
# as the pieces on the word's shorter side: a piece at offset $o$ of a window of $n$ pieces has
# context $\min(o,\ n - 1 - o)$. Here with a small window, so that a sentence of 40 words needs
# several:

# %%
from tinyalbert.finetune_loop import sentence_tags
from tinyalbert.task_data import encode_tagged_words

tag_ids = {"O": 0, "B-LOC": 1}
tag_words = ["we", "walked"] + ["far"] * 36 + ["to", "paris"]
word_tags = ["O"] * 39 + ["B-LOC"]
tag_window, tag_stride = 16, 6  # max_length 16: 14 pieces a window
windows = encode_tagged_words(tag_words, word_tags, tokenizer, tag_window, tag_ids, tag_stride)
for window in windows:
    print(f"pieces {len(window['input_ids']) - 2:2d}, words {window['word_ids'][0]:2d}-{window['word_ids'][-1]:2d}, "
          f"context {window['context']}")
assert sorted({word for window in windows for word in window["word_ids"]}) == list(range(len(tag_words)))


def my_max_context_tags(windows, predicted, names, word_count):
    """Each word's tag from the window where it has the most pieces on its shorter side (the first such window)."""
    best = [(-1, None)] * word_count
    for window, row in zip(windows, predicted):
        pieces = len(window["input_ids"]) - 2
        for position, word, tag_id in zip(window["first_pieces"], window["word_ids"], row):
            offset = position - 1  # after [CLS]
            context = min(offset, pieces - 1 - offset)
            if context > best[word][0]:
                best[word] = (context, names[tag_id])
    return [tag for _, tag in best]


# Made-up predictions: every window "predicts" its own number as the tag, so the tag a word gets
# says which window it listened to.
window_names = [str(k) for k in range(len(windows))]
made_up = [[k] * len(window["word_ids"]) for k, window in enumerate(windows)]
chosen = my_max_context_tags(windows, made_up, window_names, len(tag_words))
features_of_sentence = [{**window, "sentence": 0} for window in windows]
assert chosen == sentence_tags([{"tags": word_tags}], features_of_sentence, made_up, window_names)[0]
print("the window each word's tag comes from:", "".join(chosen))

# %% [markdown]
# In a course, `window_starts` and `sentence_tags` are the extra exercise `long_windows` of the
# autograder (`python -m tinyalbert.grading stubs DIR --exercise long_windows`).

# %% [markdown]
# ## 6. Where the gradient enters the body
#
# The classification layer's backward is lesson 7's linear backward:
# $\partial L/\partial x = \partial L/\partial z\, W$. For sequence classification $x$ is the pooled
# vector, and the pooler read only the [CLS] position, so $\partial L/\partial h$ is zero at every
# other position of the last layer: one vector carries the whole signal into the body (which then
# spreads it to every position through attention). Token classification puts a gradient on every
# position that has a label. Below, the size of $\partial L/\partial h_t$ per position, for one
# sentence, by hand; then the library's `pooler_backward` gives the same. The heights of the two
# kinds of bar are not comparable: the sequence loss is a mean over one counted row, the token loss
# a mean over every labelled token, so each token's share is divided by their number. (Question
# answering puts a gradient on every position, padding included, since its softmax runs over all
# of them; multiple choice puts one on the [CLS] of each choice's sequence.)

# %%
ids = tokenizer(texts[:1], return_tensors="np")["input_ids"]
hidden = sequence(input_ids=ids, output_hidden_states=True).hidden_states[-1]
params = sequence.params
pooled = my_pooler(hidden, params)
d_logits = my_cross_entropy_grad(my_head(pooled, params, "classifier."), np.array([1]))
d_pooled = d_logits @ params["classifier.weight"]
d_cls = (d_pooled * (1 - pooled**2)) @ params["albert.pooler.weight"]  # tanh' = 1 - tanh^2
d_hidden_sequence = np.zeros_like(hidden)
d_hidden_sequence[:, 0] = d_cls

_, pooler_cache = heads.pooler_forward(hidden, {"weight": params["albert.pooler.weight"], "bias": params["albert.pooler.bias"]})
library_d_hidden, _ = heads.pooler_backward(d_pooled, pooler_cache)
np.testing.assert_allclose(d_hidden_sequence, library_d_hidden, rtol=1e-5, atol=1e-9)

word_labels = rng.integers(0, 4, size=ids.shape)
word_labels[:, [0, -1]] = -100  # no label on [CLS] and [SEP]
token_logits = my_head(hidden, token.params, "classifier.")
d_token_logits = my_cross_entropy_grad(token_logits[0], word_labels[0])
d_hidden_token = d_token_logits @ token.params["classifier.weight"]

pieces = tokenizer.convert_ids_to_tokens(ids[0])
fig, ax = plt.subplots(figsize=(9, 3))
positions = np.arange(len(pieces))
ax.bar(positions - 0.2, np.linalg.norm(d_hidden_sequence[0], axis=-1), width=0.4, label="sequence classification")
ax.bar(positions + 0.2, np.linalg.norm(d_hidden_token, axis=-1), width=0.4, label="token classification")
ax.set_xticks(positions, pieces, rotation=45)
ax.set(ylabel="|dL/dh| at the last layer", title="where the head's gradient enters the body")
ax.legend()
plt.tight_layout()
plt.show()
assert np.count_nonzero(np.linalg.norm(d_hidden_sequence[0], axis=-1)) == 1
assert np.count_nonzero(np.linalg.norm(d_hidden_token, axis=-1)) == int(np.sum(word_labels != -100))

# %% [markdown]
# From there on the body's backward is lesson 8's. Each task class has `loss_and_grads`, which runs
# the head's forward with caches and the hand-written backward through head and body. On a small
# random model in float64, every parameter's gradient, for each of the four heads, is compared
# with torch autograd through Transformers (the test suite checks the same in
# `tests/test_finetune_grads.py`, over many random configurations).

# %%
small = AlbertConfig(vocab_size=40, embedding_size=6, hidden_size=8, num_hidden_layers=3, num_attention_heads=2,
                     intermediate_size=12, max_position_embeddings=16, num_labels=2, classifier_dropout_prob=0.0)
ids = rng.integers(5, 40, size=(2, 7))
mask = np.array([[1] * 7, [1] * 5 + [0] * 2])
tasks = {  # class: its label arguments
    AlbertForSequenceClassification: dict(labels=np.array([1, 0])),
    AlbertForTokenClassification: dict(labels=np.where(mask == 1, rng.integers(0, 2, size=(2, 7)), -100)),
    AlbertForQuestionAnswering: dict(start_positions=np.array([1, 9]), end_positions=np.array([3, 9])),
    AlbertForMultipleChoice: dict(labels=np.array([1])),
}
for cls, task_labels in tasks.items():
    model = cls(small, dtype="float64", seed=1)
    task_ids, task_mask = (ids[None], mask[None]) if cls is AlbertForMultipleChoice else (ids, mask)
    loss, grads = model.loss_and_grads(input_ids=task_ids, attention_mask=task_mask, **task_labels)
    if torch is None:
        print(f"{cls.__name__}: loss {float(loss):.6f} (SKIPPED: the autograd comparison needs torch and transformers)")
        continue
    with tempfile.TemporaryDirectory() as directory:
        model.save_pretrained(directory)
        reference = getattr(transformers, cls.__name__).from_pretrained(
            directory, torch_dtype=torch.float64, attn_implementation="eager").eval()
    out = reference(input_ids=torch.tensor(task_ids), attention_mask=torch.tensor(task_mask),
                    **{name: torch.tensor(value) for name, value in task_labels.items()})
    out.loss.backward()
    theirs = {name: parameter.grad for name, parameter in reference.named_parameters()}
    worst = max(np.abs(grads[name] - (0 if theirs[name] is None else theirs[name].numpy())).max()
                / max(np.abs(grads[name]).max(), 1e-3) for name in theirs)
    print(f"{cls.__name__:33s} loss {float(loss):.6f} (torch {out.loss.item():.6f}), "
          f"largest relative gradient difference {worst:.1e}")
    assert abs(float(loss) - out.loss.item()) < 1e-10 and worst < 1e-8

# %% [markdown]
# ## 7. Fine-tuning, and what pretraining buys
#
# A small task: is a sentence about an animal or about food? Five sentence templates, filled in
# with animal and food words. The words are split in two: the training sentences use some, the test
# sentences *only the others*. A model that learns only from the training sentences has never seen
# a test word; it can answer them only with what it knew before. So we fine-tune twice, with the
# same loop, training sentences and settings: `tinyalbert-mini` (pretrained on WordNet's definitions, which say a lot
# about dogs and bread) and a model of the same shape started from random numbers. The one from
# scratch gets more steps, all it needs to fit its training sentences: more is in its favour.

# %%
ANIMALS = ("dog cat horse cow sheep goat pig rabbit mouse rat fox wolf bear lion tiger deer monkey elephant "
           "snake frog duck chicken owl eagle whale").split()
FOODS = ("bread cheese apple banana rice soup cake butter milk egg meat potato tomato onion carrot pie candy "
         "sugar salt honey coffee tea wine beer sandwich").split()
TEMPLATES = ["i saw a {} yesterday.", "the {} was on the table.", "she wrote a poem about the {}.",
             "there is a {} in the picture.", "he talked about the {} all day."]


def one_piece(word):
    return tokenizer.tokenize(word) == ["\u2581" + word]  # one vocabulary piece, so no word gives away a suffix


animals, foods = [w for w in ANIMALS if one_piece(w)], [w for w in FOODS if one_piece(w)]
split = np.random.default_rng(0)
animals, foods = list(split.permutation(animals)), list(split.permutation(foods))
train_words = (animals[: len(animals) * 3 // 5], foods[: len(foods) * 3 // 5])
test_words = (animals[len(animals) * 3 // 5:], foods[len(foods) * 3 // 5:])


def sentences(words):
    return [(template.format(word), label) for label, group in enumerate(words) for word in group
            for template in TEMPLATES]


train, test = sentences(train_words), sentences(test_words)
assert not set(sum(train_words, [])) & set(sum(test_words, []))
print(f"{len(train)} training sentences from {sum(map(len, train_words))} words, "
      f"{len(test)} test sentences from {sum(map(len, test_words))} other words, e.g. {test[0]}")


def encode(rows):
    batch = tokenizer([text for text, _ in rows], padding=True, return_tensors="np")
    return dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]), np.array([l for _, l in rows])


def accuracy(model, rows):
    model_inputs, labels = encode(rows)
    return float(np.mean(model(**model_inputs).logits.argmax(-1) == labels))


def finetune(model, steps, seed, lr=1e-4, batch_size=16, warmup=10):
    """AdamW, clipping, linear warm-up then decay, dropout on: lesson 11's loop with a task loss."""
    optimizer, draw = optim.AdamW(weight_decay=0.01), np.random.default_rng(seed)
    model.train(rng=np.random.default_rng(seed))
    curve = []
    for step in range(steps):
        model_inputs, labels = encode([train[i] for i in draw.choice(len(train), batch_size, replace=False)])
        loss, grads = model.loss_and_grads(labels=labels, **model_inputs)
        grads, _ = optim.clip_grad_global_norm(grads, 1.0)
        model.params = optimizer.step(model.params, grads, optim.linear_warmup_then_decay(step, warmup, steps, lr))
        curve.append(float(loss))
    return model.eval(), curve


results, curves = {"pretrained": [], "from scratch": []}, {}
unseen_ids = tokenizer.convert_tokens_to_ids(["\u2581" + word for word in sum(test_words, [])])
WORDS = "albert.embeddings.word_embeddings.weight"
clock = time.perf_counter()
for seed in SEEDS:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the new head
        pretrained = AlbertForSequenceClassification.from_pretrained("tinyalbert-mini", num_labels=2, seed=seed)
    scratch = AlbertForSequenceClassification(pretrained.config, seed=seed)
    unseen_before = scratch.params[WORDS][unseen_ids].copy()
    for name, model in (("pretrained", pretrained), ("from scratch", scratch)):
        model, curves[name] = finetune(model, STEPS[name], seed)
        results[name].append((accuracy(model, train), accuracy(model, test)))
print(f"{len(SEEDS)} seed(s), {STEPS['pretrained']} + {STEPS['from scratch']} steps of 16 "
      f"in {time.perf_counter() - clock:.0f} s")
for name, scores in results.items():
    train_accuracy, test_accuracy = np.mean(scores, axis=0)
    print(f"{name:13s} accuracy on training sentences {train_accuracy:.2f}, on sentences with unseen words "
          f"{test_accuracy:.2f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, curve in curves.items():
    ax.plot(np.convolve(curve, np.ones(5) / 5, mode="valid"), label=name)
ax.set(xlabel="step", ylabel="training loss (5-step mean)", title=f"fine-tuning, seed {SEEDS[-1]}")
ax.legend()
plt.tight_layout()
plt.show()
first_below = {}
for name, curve in curves.items():
    below = np.flatnonzero(np.convolve(curve, np.ones(5) / 5, mode="valid") < 0.5)
    first_below[name] = below[0] + 4 if below.size else len(curve)
    print(f"{name:13s} 5-step mean loss first below 0.5 at step {first_below[name]} (ln 2 = {np.log(2):.2f} is a coin's)")
assert first_below["pretrained"] < first_below["from scratch"], first_below

# %% [markdown]
# Both models train on the same sentences (the one from scratch on more batches of them), and both
# learn them, the pretrained one in far fewer steps (printed below the curves). On the sentences with words
# they have never seen, only the pretrained one does clearly better than a coin. From the model from
# scratch nothing better than chance can be expected: an embedding row gets a gradient only when its word is in the batch,
# so the rows of the test words never got one. AdamW's moments for them stay zero, and all that
# touched them was weight decay, which shrinks every entry by the same factor. They are as random as
# they started, and so is the model's view of those words. The pretrained rows were random once
# too; pretraining on text that mentions those words is what moved them. That gap, not the training
# accuracy, is what pretraining is for.

# %%
ratio = scratch.params[WORDS][unseen_ids] / unseen_before
decay = np.prod([1 - 0.01 * optim.linear_warmup_then_decay(step, 10, STEPS["from scratch"], 1e-4)
                 for step in range(STEPS["from scratch"])])  # (1 - lr_t * weight_decay) at every step
print(f"test-word embedding rows, after / before fine-tuning from scratch: {ratio.mean():.6f} "
      f"(spread {ratio.max() - ratio.min():.0e}, float32 rounding); weight decay alone: {decay:.6f}")
np.testing.assert_allclose(ratio, decay, rtol=1e-4)
pretrained_test = np.mean([test_accuracy for _, test_accuracy in results["pretrained"]])
scratch_test = np.mean([test_accuracy for _, test_accuracy in results["from scratch"]])
assert min(accuracy_on_train for runs in results.values() for accuracy_on_train, _ in runs) >= 0.9, results
assert pretrained_test >= 0.65 and pretrained_test - scratch_test >= 0.15, (pretrained_test, scratch_test)
assert scratch_test <= 0.7, scratch_test  # chance is 0.5, give or take sqrt(0.25 / len(unseen_ids)) (0.11 for 20 words)

# %% [markdown]
# A few test sentences, with the pretrained model's answer and its probability:

# %%
shown = test[::12][:8]
model_inputs, labels = encode(shown)
logits = pretrained(**model_inputs).logits
probabilities = np.exp(logits - logits.max(-1, keepdims=True))
probabilities /= probabilities.sum(-1, keepdims=True)
for (text, label), row in zip(shown, probabilities):
    answer = int(np.argmax(row))
    verdict = "right" if answer == label else "wrong"
    print(f"{['animal', 'food'][answer]:6s} {row[answer]:.2f}  {text:35s} ({verdict})")

# %% [markdown]
# ## Exercises
#
# The `check` function is this lesson's own (the course autograder's `tinyalbert.grading.check`
# holds other, whole functions: see the end of this section) and checks an answer against the
# library on random cases; the check itself is shown to accept the library's answer and to reject
# known wrong ones. Each exercise cell raises `NotImplementedError` until you write its body, and
# its self-check says "not attempted yet" until then.

# %%
def check(exercise, function):
    cases = np.random.default_rng(13)
    if exercise == "bce_with_logits_grad":
        for shape in ((5, 3), (2, 4, 6)):
            logits = 4 * cases.standard_normal(shape)
            targets = (cases.random(shape) < 0.5).astype(np.float64)
            expected, _ = losses.bce_with_logits_backward(1.0, losses.bce_with_logits_forward(logits, targets)[1])
            got = np.asarray(function(logits, targets))
            assert got.shape == expected.shape, f"shape {got.shape}, expected {expected.shape}"
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)
    elif exercise == "span_loss_grads":
        for seq, batch in ((6, 5), (9, 4)):
            start, end = cases.standard_normal((batch, seq)), cases.standard_normal((batch, seq))
            start_positions = cases.integers(-2, seq + 3, size=batch)
            end_positions = cases.integers(-2, seq + 3, size=batch)
            start_positions[0] = end_positions[0] = seq + 1  # one answer is always cut off
            start_positions[1], end_positions[1] = 1, 2  # and one always counts
            start_positions[2], end_positions[2] = seq + 2, 0  # and one counts for its end only
            start_positions[3], end_positions[3] = -1, -2  # and one points before the start: 0
            def loss(values):
                first = losses.cross_entropy_forward(values["start"], np.clip(start_positions, 0, seq), ignore_index=seq)
                last = losses.cross_entropy_forward(values["end"], np.clip(end_positions, 0, seq), ignore_index=seq)
                return float((first[0] + last[0]) / 2)
            d_start, d_end = function(start, end, start_positions, end_positions)
            gradcheck.check_gradients(loss, {"start": start, "end": end},
                                      {"start": np.asarray(d_start), "end": np.asarray(d_end)})
    else:
        raise ValueError(f"no exercise called {exercise!r}")


def must_reject(exercise, wrong_answer):
    """The check itself is checked: it must fail on a known wrong answer."""
    try:
        check(exercise, wrong_answer)
    except AssertionError:
        return
    raise RuntimeError(f"the self-check of {exercise} accepted a wrong answer")


def library_span_loss_grads(start_logits, end_logits, start_positions, end_positions):
    """A right answer from the library: `question_answering_forward` (tinyalbert.nn.finetuning) takes
    one cross-entropy of the start scores and one of the end scores, positions clamped to [0, seq]
    and seq ignored, and its backward sends d_loss = 1/2 into each `cross_entropy_backward`."""
    seq = start_logits.shape[1]
    grads = []
    for logits, positions in ((start_logits, start_positions), (end_logits, end_positions)):
        _, cache = losses.cross_entropy_forward(logits, np.clip(positions, 0, seq), ignore_index=seq)
        grads.append(losses.cross_entropy_backward(0.5, cache)[0])
    return tuple(grads)


# The check itself is checked: it accepts the library's answers and rejects known wrong ones.
check("bce_with_logits_grad",
      lambda z, y: losses.bce_with_logits_backward(1.0, losses.bce_with_logits_forward(z, y)[1])[0])
check("span_loss_grads", library_span_loss_grads)
must_reject("bce_with_logits_grad", lambda z, y: 1 / (1 + np.exp(-z)) - y)  # the 1/N forgotten
must_reject("span_loss_grads",  # the cut-off answers not ignored
            lambda s, e, sp, ep: (my_cross_entropy_grad(s, np.clip(sp, 0, s.shape[1] - 1)) / 2,
                                  my_cross_entropy_grad(e, np.clip(ep, 0, e.shape[1] - 1)) / 2))


def span_grads_over_one_count(start, end, start_positions, end_positions):
    """Wrong: one mean over the start and end targets together, not one mean for each."""
    seq = start.shape[1]
    both = my_cross_entropy_grad(np.concatenate([start, end]),
                                 np.concatenate([my_span_positions(start_positions, seq),
                                                 my_span_positions(end_positions, seq)]))
    return both[: len(start)], both[len(start):]


must_reject("span_loss_grads", span_grads_over_one_count)
must_reject("span_loss_grads",  # negative positions ignored instead of counted as 0
            lambda s, e, sp, ep: (my_cross_entropy_grad(s, np.where(sp < 0, -100, my_span_positions(sp, s.shape[1]))) / 2,
                                  my_cross_entropy_grad(e, np.where(ep < 0, -100, my_span_positions(ep, e.shape[1]))) / 2))
must_reject("span_loss_grads",  # never clamped: a negative position indexes from the end
            lambda s, e, sp, ep: (my_cross_entropy_grad(s, np.where(sp >= s.shape[1], -100, sp)) / 2,
                                  my_cross_entropy_grad(e, np.where(ep >= e.shape[1], -100, ep)) / 2))

# %% [markdown]
# **Exercise 1.** Write the gradient of the mean binary cross-entropy with logits with respect to
# the logits, for any shape (section 3), without looking at the table: start from
# $\log(1 + e^{z}) - yz$ and differentiate.

# %%
def bce_with_logits_grad(logits, targets):
    """logits, targets: float arrays of one shape. Returns dL/dlogits, of that shape, for L the
    mean over every entry."""
    raise NotImplementedError("write bce_with_logits_grad")


# %%
try:
    check("bce_with_logits_grad", bce_with_logits_grad)
    print("Exercise 1: correct.")
except NotImplementedError:
    print("Exercise 1: not attempted yet. Write bce_with_logits_grad above and run this cell again.")

# %% [markdown]
# **Exercise 2.** Write the gradient of question answering's span loss with respect to the start and
# the end scores `(batch, seq)`, given raw positions that may be negative or past the end
# (section 4). Return `(d_start, d_end)`.

# %%
def span_loss_grads(start_logits, end_logits, start_positions, end_positions):
    """start_logits, end_logits: (batch, seq); start_positions, end_positions: (batch,) ints.
    Returns (d_start, d_end), each (batch, seq): the gradients of section 4's loss L."""
    raise NotImplementedError("write span_loss_grads")


# %%
try:
    check("span_loss_grads", span_loss_grads)
    print("Exercise 2: correct.")
except NotImplementedError:
    print("Exercise 2: not attempted yet. Write span_loss_grads above and run this cell again.")

# %% [markdown]
# **In a course.** The autograder has these losses as the extra exercise `task_losses`:
# `mse_forward/backward` and `bce_with_logits_forward/backward` with tinyalbert's signatures and
# caches (`python -m tinyalbert.grading stubs DIR --exercise task_losses`). `tinyalbert.grading.check`
# runs its checks on one function here: on the library's BCE backward, and on a copy that forgets
# to divide by the number of entries, which it must catch. Given only a backward, it takes the
# exercise's other functions from the library, and its report says so. The FAIL lines below are
# the expected result for the wrong copy.

# %%
import tinyalbert.grading as grading


def bce_backward_without_the_mean(d_loss, cache):
    d_logits, grads = losses.bce_with_logits_backward(d_loss, cache)
    return d_logits * cache[0].size, grads


print("-- the library's backward (must PASS):")
assert grading.check("bce_with_logits_backward", losses.bce_with_logits_backward)
print("-- a copy without the mean (must FAIL):")
assert not grading.check("bce_with_logits_backward", bce_backward_without_the_mean)

# %% [markdown]
# **Exercise 3 (no self-check).** In section 7, freeze the body: train only the pooler and the
# classifier (give the optimizer only those parameters and their gradients). How close does that
# "probe" of the pretrained representations come to full fine-tuning on the unseen words, and how
# does the model from scratch fare when frozen? `optimizer.step` returns only the parameters it was
# given, so merge them back: `model.params = {**model.params, **optimizer.step(chosen, chosen_grads, lr)}`,
# and clip only `chosen_grads`.
#
# **Exercise 4 (no self-check).** Multi-label the task: give each sentence the labels "animal",
# "food" and "on the table" (the template that says so), as floats. Which loss does
# `AlbertForSequenceClassification` choose now, and why does a softmax over the three labels no
# longer fit? Start from `from_pretrained("tinyalbert-mini", num_labels=3)`, not from a config a
# model has already trained with: the first batch writes the problem type it inferred into the
# config (`config.problem_type`). Count a label as predicted when its logit is above 0, not by argmax.
#
# **Exercise 5 (no self-check).** In section 5, count the features of the six questions for every
# `--doc-stride` $S$ from 1 to $W - 1$, and plot them with the steps of one epoch at `--batch-size 16`
# ($\lceil \text{features} / 16 \rceil$). Why does the count hardly move for small $S$ and shoot up as $S$
# nears $W$? With the default $S$, window 3 cuts the answer "the old stone bridge" and is labelled
# [CLS]: what does that feature teach the model about a half-seen answer, and what would it teach
# instead if it were labelled with the answer's kept end (and the other end ignored, as section 4's
# clamp does)?
#
# Next: lesson 14 splits the batches of training over several processes.
