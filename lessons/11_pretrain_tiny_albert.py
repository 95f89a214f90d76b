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
# # Lesson 11: Pretrain a tiny ALBERT
#
# After this lesson you will be able to
#
# - pretrain an ALBERT from scratch on your own text with the pieces of lessons 7-10: examples,
#   `loss_and_grads`, clipping, AdamW and the schedule, in one short loop;
# - follow the loss curves and measure held-out masked-token and sentence-order accuracy;
# - compare fill-mask answers before and after training, and split an accuracy into the facts and
#   the template words it is made of (exercise 1);
# - mask the examples anew at every pass, reproducibly (exercise 2);
# - recognise the trap small ALBERTs fall into early on, where every position collapses to the same
#   vector while the model predicts only word frequencies, measure it, and avoid it by starting the
#   output bias at the log frequencies of the targets.
#
# The settings are small so that this runs in minutes on a laptop CPU (the training cells print how
# long they took; `CI=true` makes them smaller still); `LESSONS_FULL=1` trains longer. For real corpora, the same loop with checkpoints,
# resuming and progress bars is `python -m tinyalbert.pretrain`.

# %%
import os
import re
import time

import matplotlib.pyplot as plt
import numpy as np

from tinyalbert import AlbertConfig, AlbertForPreTraining
from tinyalbert.train import data, masking, optim, text

CI = os.environ.get("CI") == "true"
FULL = os.environ.get("LESSONS_FULL") == "1"
COLLAPSE_STEPS = 100 if FULL else (30 if CI else 50)
TRAIN_STEPS = 2000 if FULL else (100 if CI else 400)
DUPE_FACTOR = 20 if FULL else 6  # copies of the corpus, each cut into pairs and masked anew; masks then fixed

# %% [markdown]
# ## 1. A corpus we can check the model against
#
# Facts about countries, written out in three styles of short document. Every document keeps its
# sentences in a meaningful order (a country is introduced before "its capital"; the trip ends with
# "at last"), so sentence order is learnable, and every masked fact has one right answer.

# %%
COUNTRIES = [  # country, capital, continent, language, currency
    ("france", "paris", "europe", "french", "euro"), ("germany", "berlin", "europe", "german", "euro"),
    ("spain", "madrid", "europe", "spanish", "euro"), ("italy", "rome", "europe", "italian", "euro"),
    ("portugal", "lisbon", "europe", "portuguese", "euro"), ("poland", "warsaw", "europe", "polish", "zloty"),
    ("sweden", "stockholm", "europe", "swedish", "krona"), ("norway", "oslo", "europe", "norwegian", "krone"),
    ("greece", "athens", "europe", "greek", "euro"), ("hungary", "budapest", "europe", "hungarian", "forint"),
    ("japan", "tokyo", "asia", "japanese", "yen"), ("china", "beijing", "asia", "chinese", "yuan"),
    ("india", "delhi", "asia", "hindi", "rupee"), ("thailand", "bangkok", "asia", "thai", "baht"),
    ("korea", "seoul", "asia", "korean", "won"), ("vietnam", "hanoi", "asia", "vietnamese", "dong"),
    ("egypt", "cairo", "africa", "arabic", "pound"), ("kenya", "nairobi", "africa", "swahili", "shilling"),
    ("nigeria", "abuja", "africa", "english", "naira"), ("morocco", "rabat", "africa", "arabic", "dirham"),
    ("ghana", "accra", "africa", "english", "cedi"), ("ethiopia", "addis", "africa", "amharic", "birr"),
    ("brazil", "brasilia", "america", "portuguese", "real"), ("mexico", "mexico", "america", "spanish", "peso"),
    ("peru", "lima", "america", "spanish", "sol"), ("chile", "santiago", "america", "spanish", "peso"),
    ("canada", "ottawa", "america", "english", "dollar"), ("cuba", "havana", "america", "spanish", "peso"),
    ("australia", "canberra", "oceania", "english", "dollar"), ("fiji", "suva", "oceania", "fijian", "dollar"),
]
STYLES = [
    ["{country} is a country in {continent}.", "the capital of {country} is {capital}.",
     "people in {country} speak {language}.", "they pay with the {currency}.",
     "in the end, {capital} is the city most visitors remember."],
    ["{country} lies in {continent}.", "its capital city is {capital}.", "the main language of {country} is {language}.",
     "the money used there is the {currency}.", "finally, many travellers leave {country} from {capital}."],
    ["we begin our trip in {continent}, in {country}.", "first we visit {capital}, the capital.",
     "everyone there speaks {language}.", "shops ask for the {currency}.", "at last we fly home from {capital}."],
]
documents = [[sentence.format(country=c, capital=p, continent=k, language=l, currency=m) for sentence in style]
             for c, p, k, l, m in COUNTRIES for style in STYLES]
print(len(documents), "documents, e.g.:", " ".join(documents[4]))

# %% [markdown]
# ### One token per word
#
# ALBERT uses SentencePiece (lesson 1), but a vocabulary learned from 90 short documents would cut
# words into odd pieces. Here every word and punctuation mark is one token, which keeps the examples
# and the fill-mask answers readable. The five special tokens come first, with ALBERT's ids.

# %%
SPECIALS = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]


def words_of(text):
    return re.findall(r"\w+|[^\w\s]", text.lower())


vocabulary = SPECIALS + sorted({word for document in documents for sentence in document for word in words_of(sentence)})
word_id = {word: i for i, word in enumerate(vocabulary)}
special = masking.SpecialIds(cls=2, sep=3, mask=4, pad=0)


def encode(text):
    return [word_id.get(word, 1) for word in words_of(text)]


def encode_batch(sentences):
    return [encode(sentence) for sentence in sentences]


def decode(ids):
    return " ".join(vocabulary[i] for i in ids if i != special.pad)


rng = np.random.default_rng(0)
heldout_documents = set(rng.choice(len(documents), size=len(documents) // 10, replace=False).tolist())
train_docs = [text.encode_documents([d], encode_batch)[0] for i, d in enumerate(documents) if i not in heldout_documents]
heldout_docs = [text.encode_documents([d], encode_batch)[0] for i, d in enumerate(documents) if i in heldout_documents]
MAX_SEQ = 48
options = dict(max_seq_length=MAX_SEQ, max_predictions_per_seq=7, short_seq_prob=0.1)
train_examples = data.create_pretraining_examples(train_docs, special, len(vocabulary), np.random.default_rng(1), dupe_factor=DUPE_FACTOR, **options)
heldout_examples = data.create_pretraining_examples(heldout_docs, special, len(vocabulary), np.random.default_rng(2), dupe_factor=4, **options)
train, heldout = data.collate(train_examples), data.collate(heldout_examples)
print(f"vocabulary {len(vocabulary)} words; {len(train_examples)} training examples, {len(heldout_examples)} held-out "
      f"(from {len(heldout_docs)} documents never trained on)")
example = train_examples[0]
print("an example:", decode(example.input_ids), "| SOP label", example.sentence_order_label)
print("its targets:", [vocabulary[t] for t in example.labels if t != -100])

# %% [markdown]
# (An input may show a real word where its target is another: lesson 9's masking replaces 10% of
# the chosen tokens by a random word and keeps 10% as they are.) The held-out documents were never
# trained on, but their facts were: each country's other two styles are in the training set, so
# held-out accuracy measures known facts in new sentences.
#
# ## 2. The model and the loop
#
# A small ALBERT: factorized embeddings ($E < H$), one shared layer used six times. One training step
# is the three lines of the loop below; everything else is bookkeeping. `token_cosine` measures how
# alike the final-layer vectors of a batch's tokens are, averaged over all pairs; section 3 shows
# why it is worth watching. At initialization it is already above 0 (printed in section 3): every
# position starts from vectors with parts in common, such as its token-type embedding, of which
# there are only two: one for every token of the first segment (`[CLS] A [SEP]`), one for every
# token of the second (`B [SEP]`).

# %%
config = AlbertConfig(vocab_size=len(vocabulary), embedding_size=64, hidden_size=128, num_hidden_layers=6,
                      num_attention_heads=4, intermediate_size=512, max_position_embeddings=MAX_SEQ,
                      pad_token_id=special.pad, bos_token_id=special.cls, eos_token_id=special.sep)
BATCH = 16
probe = {name: column[:8] for name, column in heldout.items()}  # a fixed batch to watch the representations on


def token_cosine(model, batch):
    """Mean cosine similarity between the final-layer vectors of all real tokens of `batch`
    (1.0: every position is the same vector)."""
    hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   token_type_ids=batch["token_type_ids"], output_hidden_states=True).hidden_states[-1]
    vectors = np.asarray(hidden)[batch["attention_mask"].astype(bool)]
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ vectors.T
    n = len(vectors)
    return float((similarity.sum() - n) / (n * (n - 1)))


def train_model(model, steps, lr, warmup, log_every=5, seed=3):
    optimizer, order, history = optim.AdamW(weight_decay=0.01), np.random.default_rng(seed), []
    for step in range(steps):
        index = order.choice(len(train_examples), BATCH, replace=False)
        batch = {name: column[index] for name, column in train.items()}
        loss, grads = model.loss_and_grads(batch["input_ids"], batch["labels"], batch["sentence_order_label"],
                                           attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"])
        grads, grad_norm = optim.clip_grad_global_norm(grads, 1.0)
        model.params = optimizer.step(model.params, grads, optim.linear_warmup_then_decay(step, warmup, steps, lr))
        if step % log_every == 0 or step == steps - 1:
            history.append({"step": step, "loss": float(loss), "cosine": token_cosine(model, probe)})
    return history


# %% [markdown]
# ## 3. The trap: collapse to word frequencies
#
# At initialization the logits carry no information, and the quickest way to lower the masked-LM loss
# is to predict how frequent each target word is, whatever the context. The MLM output bias
# (`predictions.bias`, one number per word) could hold exactly that, but it starts at zero and
# moves slowly: AdamW moves each parameter by about the learning rate per step (lesson 10), and the
# log frequencies it would need span several units (printed below). Meanwhile the gradient pushes
# the whole network toward one output vector that decodes to the frequency distribution, which the
# six passes of the shared layer can reach much faster: every position ends up with the same vector. Once all positions are equal, attention is
# uniform and the query and key weights get almost no gradient, so the model can stay stuck there.
#
# The loss of a model that knows only the frequencies is the entropy of the target distribution:
#
# $$H = -\sum_w f_w \log f_w, \qquad f_w = \frac{\#\{\text{targets equal to } w\}}{\#\{\text{targets}\}}.$$

# %%
targets = train["labels"][train["labels"] != -100]
counts = np.bincount(targets, minlength=len(vocabulary)).astype(np.float64)
frequencies = counts / counts.sum()
unigram_loss = -np.sum(frequencies[counts > 0] * np.log(frequencies[counts > 0]))
top = np.argsort(-counts)[:8]
print(f"frequency-only MLM loss (entropy of the targets): {unigram_loss:.3f}; uniform guessing: {np.log(len(vocabulary)):.3f}")
print("most frequent targets:", [(vocabulary[i], round(float(frequencies[i]), 3)) for i in top])
print(f"their log frequencies run from {np.log(frequencies[top[0]]):.1f} ({vocabulary[top[0]]!r}) down to "
      f"{np.log(frequencies[counts > 0].min()):.1f} (the rarest target)")

# %% [markdown]
# **The remedy.** Start the output bias at the log frequencies of the targets,
# $b_w = \log \frac{c_w + 1}{\sum_v (c_v + 1)}$ (add-one smoothing, so that no word starts at $-\infty$).
# Then the untrained model already predicts the frequencies, collapsing no longer lowers the loss
# faster than using the context does, and the gradient goes to the context from the first step. It is one line, set by hand here. The
# project's trainer does the same when it trains from scratch (`output_bias_init="log-frequency"`,
# with counts of the corpus tokens); the assert below holds our line to its function. It improves
# the odds rather than guaranteeing the outcome: at three times this learning rate, about half of
# the seeds of a small model still collapsed with it, where all collapsed without it (the seed
# tables in the project's "Pretraining and tinyalbert-mini" page).
#
# Train both from the same initialization, with the same batches, at a peak learning rate of
# $10^{-3}$ (10 warm-up steps, then a linear decay to 0 at the last step), and watch the mean cosine
# between the token vectors of a fixed held-out batch (one seed: another can collapse more or less):

# %%
def log_frequency_bias(counts):
    smoothed = counts + 1.0
    return np.log(smoothed / smoothed.sum()).astype(np.float32)


from tinyalbert.train.prepare import log_frequency_bias as library_log_frequency_bias

np.testing.assert_allclose(log_frequency_bias(counts), library_log_frequency_bias(counts), rtol=1e-6)
started = time.perf_counter()
runs = {}
for name in ("zero bias (default init)", "log-frequency bias"):
    model = AlbertForPreTraining(config, seed=0)
    if name == "log-frequency bias":
        model.params["predictions.bias"] = log_frequency_bias(counts)
    runs[name] = train_model(model, COLLAPSE_STEPS, lr=1e-3, warmup=10)
print(f"two runs of {COLLAPSE_STEPS} steps in {time.perf_counter() - started:.0f} s")
for name, history in runs.items():
    peak = max(h["cosine"] for h in history)
    print(f"{name:26s} cosine at init {history[0]['cosine']:.3f}, highest {peak:.3f}, last {history[-1]['cosine']:.3f}; last loss {history[-1]['loss']:.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
for name, history in runs.items():
    steps = [h["step"] for h in history]
    axes[0].plot(steps, [h["cosine"] for h in history], label=name)
    axes[1].plot(steps, [h["loss"] for h in history], label=name)
axes[0].set_ylabel("mean cosine between token vectors")
axes[0].set_ylim(0, 1.02)
axes[1].axhline(unigram_loss + np.log(2), color="gray", ls="--", lw=0.8, label="frequencies only (+ ln 2 for SOP)")
axes[1].set_ylabel("training loss (MLM + SOP)")
for axis in axes:
    axis.set_xlabel("step")
    axis.legend(fontsize=8)
plt.tight_layout()
plt.show()
print(f"frequency-only line: {unigram_loss + np.log(2):.3f}; last losses:",
      {name: round(history[-1]["loss"], 3) for name, history in runs.items()})
collapsed = max(h["cosine"] for h in runs["zero bias (default init)"])
remedied = max(h["cosine"] for h in runs["log-frequency bias"])
assert collapsed > 0.6 > remedied, "the default init should collapse and the log-frequency init should not"

# %% [markdown]
# The dashed line is the loss of a model that predicts only the frequencies (and guesses the sentence
# order). With the default init, the token vectors of different words and positions quickly become
# far more alike than at initialization (the highest cosine is printed above) while its loss only
# falls toward that line (the short default and CI runs can end above it). With the log-frequency
# bias the vectors stay distinct from the start (the last losses of both runs are printed against
# the line below the plot). Each loss point is the loss of one batch of 16, so the curves are
# noisy: the log-frequency run can even start below the line. How far and how long the default init
# collapses depends on the learning rate, the seed and the size of the model: exercise 3 varies
# the first two.
#
# ## 4. Pretraining, with the remedy
#
# Now the real run: the log-frequency bias, a warm-up of 10% of the steps, AdamW peaking at $10^{-3}$.
# First the fill-mask answers of the untrained model, to compare with later.

# %%
PROBES = ["the capital of france is [MASK] .", "people in japan speak [MASK] .", "kenya is a country in [MASK] .",
          "the capital of peru is [MASK] .", "they pay with the [MASK] ."]


def fill_mask(model, text, top_k=3):
    ids = [special.cls] + [special.mask if word == "[mask]" else word_id.get(word, 1)
                           for word in re.findall(r"\[mask\]|\w+|[^\w\s]", text.lower())] + [special.sep]
    logits = np.asarray(model(input_ids=np.array([ids])).prediction_logits)[0, ids.index(special.mask)]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    best = np.argsort(-probs)[:top_k]
    return [(vocabulary[i], round(float(probs[i]), 3)) for i in best]


model = AlbertForPreTraining(config, seed=0)
model.params["predictions.bias"] = log_frequency_bias(counts)
before = {text: fill_mask(model, text) for text in PROBES}


def evaluate(model, columns, batch_size=64):
    """Held-out masked-token accuracy, SOP accuracy and MLM loss (no dropout: this config has none)."""
    correct = masked = sop_correct = 0
    loss_sum = 0.0
    for start in range(0, len(columns["input_ids"]), batch_size):
        batch = {name: column[start:start + batch_size] for name, column in columns.items()}
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"])
        logits, chosen = np.asarray(out.prediction_logits), batch["labels"] != -100
        picked = logits[chosen]
        picked = picked - picked.max(-1, keepdims=True)
        log_probs = picked - np.log(np.exp(picked).sum(-1, keepdims=True))
        loss_sum -= log_probs[np.arange(len(picked)), batch["labels"][chosen]].sum()
        correct += np.sum(picked.argmax(-1) == batch["labels"][chosen])
        masked += chosen.sum()
        sop_correct += np.sum(np.asarray(out.sop_logits).argmax(-1) == batch["sentence_order_label"])
    return {"mlm_accuracy": correct / masked, "sop_accuracy": sop_correct / len(columns["input_ids"]), "mlm_loss": loss_sum / masked}


initial = evaluate(model, heldout)
started = time.perf_counter()
history = train_model(model, TRAIN_STEPS, lr=1e-3, warmup=TRAIN_STEPS // 10, log_every=10)
seconds = time.perf_counter() - started
final = evaluate(model, heldout)
frequency_accuracy = np.mean(heldout["labels"][heldout["labels"] != -100] == top[0])
print(f"{TRAIN_STEPS} steps of {BATCH} x {MAX_SEQ} tokens in {seconds:.0f} s ({seconds / TRAIN_STEPS * 1000:.0f} ms per step)")
print(f"held-out before: {({name: round(float(value), 3) for name, value in initial.items()})}")
print(f"held-out after:  {({name: round(float(value), 3) for name, value in final.items()})}")
print(f"({int(np.sum(heldout['labels'] != -100))} masked tokens, {len(heldout['input_ids'])} sentence pairs)")
print(f"always answering the most frequent target ({vocabulary[top[0]]!r}) would score {frequency_accuracy:.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
steps = [h["step"] for h in history]
axes[0].plot(steps, [h["loss"] for h in history], label="training loss (MLM + SOP)")
axes[0].axhline(unigram_loss + np.log(2), color="gray", ls="--", lw=0.8, label="frequencies only (+ ln 2 for SOP)")
axes[0].set_xlabel("step")
axes[0].set_ylabel("loss")
axes[0].legend()
names = ["mlm_accuracy", "sop_accuracy"]
axes[1].bar(np.arange(2) - 0.2, [initial[n] for n in names], 0.4, label="before")
axes[1].bar(np.arange(2) + 0.2, [final[n] for n in names], 0.4, label="after")
axes[1].hlines(frequency_accuracy, -0.45, 0.45, color="gray", ls="--", lw=0.8, label=f"always {vocabulary[top[0]]!r}")
axes[1].hlines(0.5, 0.55, 1.45, color="gray", ls=":", lw=0.8, label="coin toss")
axes[1].set_xticks(np.arange(2), ["masked-token accuracy", "sentence-order accuracy"])
axes[1].set_ylabel("accuracy")
axes[1].set_title("held-out documents")
axes[1].legend()
plt.tight_layout()
plt.show()
assert final["mlm_accuracy"] > initial["mlm_accuracy"] and final["mlm_loss"] < initial["mlm_loss"]

# %%
after = {text: fill_mask(model, text) for text in PROBES}
for text in PROBES:
    print(f"{text:40s} before: {before[text]}")
    print(f"{'':40s} after:  {after[text]}")

# %% [markdown]
# Read the answers above with the held-out numbers. An untrained model answers the most frequent
# words; training moves the answers toward the corpus's template, and the facts come last, if at
# all. Where a run stands depends on the setting: the short CI run stops early; section 6 shows
# what the longer `LESSONS_FULL=1` run answers, and why its answers follow the mask's position
# more than the sentence. The last probe names no country, so any currency is right there.
#
# ## 5. The same loss in Transformers
#
# The trained parameters are a plain dict with Transformers' names, so `save_pretrained` gives a
# checkpoint Transformers loads; its loss on a held-out batch must equal ours.

# %%
try:
    import torch
    import transformers
except ImportError:
    torch = None

if torch is None:
    print("SKIPPED: torch and transformers are not installed (pip install torch transformers) - the comparison did not run.")
else:
    import tempfile
    import warnings

    batch = {name: column[:16] for name, column in heldout.items()}
    ours = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"],
                 labels=batch["labels"], sentence_order_label=batch["sentence_order_label"]).loss
    with tempfile.TemporaryDirectory() as directory:
        model.save_pretrained(directory)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = transformers.AlbertForPreTraining.from_pretrained(directory, attn_implementation="eager").eval()
    with torch.no_grad():
        theirs = reference(**{name: torch.tensor(batch[name]) for name in ("input_ids", "attention_mask", "token_type_ids", "labels")},
                           sentence_order_label=torch.tensor(batch["sentence_order_label"])).loss.item()
    print(f"held-out loss: ours {float(ours):.6f}, transformers {theirs:.6f}")
    assert abs(float(ours) - theirs) < 1e-4

# %% [markdown]
# ## 6. Recorded result of the full setting
#
# **Recorded from a full run** (`LESSONS_FULL=1`: 100 steps per collapse run, then 2,000 steps of 16
# examples), started Sat Dec 5 00:08 UTC 2026 on the 2-core AMD EPYC virtual machine of the project's
# CI (NumPy, one BLAS thread, another process using the second core part of the time): 5 min 54 s of
# wall-clock time, 5.1 min of user CPU time. What it printed (an excerpt; the last line is exercise 1's):
#
# ```
# zero bias (default init)   cosine at init 0.201, highest 0.915, last 0.239; last loss 4.144
# log-frequency bias         cosine at init 0.201, highest 0.223, last 0.090; last loss 3.746
# frequency-only line: 4.777; last losses: {'zero bias (default init)': 4.144, 'log-frequency bias': 3.746}
# 2000 steps of 16 x 48 tokens in 312 s (156 ms per step)
# held-out before: {'mlm_accuracy': 0.134, 'sop_accuracy': 0.425, 'mlm_loss': 4.041}
# held-out after:  {'mlm_accuracy': 0.801, 'sop_accuracy': 1.0, 'mlm_loss': 1.071}
# always answering the most frequent target ('.') would score 0.134
# the capital of france is [MASK] .   after: [('europe', 0.211), ('africa', 0.091), ('america', 0.081)]
# people in japan speak [MASK] .      after: [('in', 0.471), ('.', 0.072), ('is', 0.038)]
# kenya is a country in [MASK] .      after: [('europe', 0.312), ('country', 0.189), ('africa', 0.122)]
# the capital of peru is [MASK] .     after: [('europe', 0.172), ('africa', 0.074), ('america', 0.074)]
# they pay with the [MASK] .          after: [('in', 0.997), ('with', 0.001), ('.', 0.0)]
# held-out loss: ours 1.018734, transformers 1.018734
# held-out: fact words 0.150, other words 0.949 (fact words are 19% of the targets)
# ```
#
# Within 100 steps the default init collapsed (highest cosine 0.915) and had recovered by the end of
# the run at this learning rate; the log-frequency init never collapsed and ended with the lower loss.
# After 2,000 steps the held-out masked-token accuracy is 0.801 and sentence order is solved, yet the
# fill-mask probes show what that number is made of, and exercise 1 measures it: 0.949 on the
# template words, 0.150 on the fact words (a fifth of the targets). No probe gets its fact. The
# answers follow the mask's *position* more than the words around it: the mask is the fifth word of
# "people in japan speak" and "they pay with the", and the answer is "in", the fifth word of two of
# the three styles' documents ("france is a country in", "we begin our trip in"); it is the sixth
# word of the other three probes, and the answer is a continent, the sixth word of those documents.
# A document (36 to 38 tokens) mostly fits in one pair, so nearly every pair left in order starts
# at its document's first sentence (about half the pairs are in order; both shares are printed
# below for this run's training pairs), and position alone predicts much of the template; the
# probes are single sentences, unlike any training pair, and the model falls back on position. A
# country's facts occur only in its three documents and are masked in few of their copies, with
# masks fixed for the whole run: memorizing facts needs many more steps, or fresh masks each time
# an example is drawn (dynamic masking: lesson 9's `BatchIterator(remask=...)`, the project
# trainer's default; exercises 2 and 4), than this run had.

# %%
document_lengths = [sum(len(sentence) for sentence in document) for document in train_docs + heldout_docs]
text_ids = np.where(train["labels"] != -100, train["labels"], train["input_ids"])  # the pairs before masking
first_sentences = {tuple(document[0]) for document in train_docs}
in_order = train["sentence_order_label"] == 0
starts_first = [any(tuple(row[1:1 + len(first)]) == first for first in first_sentences) for row in text_ids[in_order]]
print(f"documents of {min(document_lengths)} to {max(document_lengths)} tokens; {in_order.mean():.0%} of the "
      f"training pairs are in order, and {np.mean(starts_first):.0%} of those start at their document's first sentence")

# %% [markdown]
# ## Exercises
#
# `check` is this lesson's own (the course autograder has no exercise for it); the check itself is
# shown to accept a right answer and, with `must_reject`, to reject known wrong ones. Each exercise
# cell raises `NotImplementedError` until you write its body, and its self-check says "not attempted
# yet" until then; the cell that uses the exercise's result takes the right answer defined with the
# check (`reference_accuracy_by_kind`, `reference_mask_anew`) until yours passes, and says which.

# %%
MASKING = masking.Masking(max_predictions_per_seq=7)  # section 1's masking (options above)
FACT_WORDS = sorted({word for row in COUNTRIES for word in row})
is_fact = np.isin(np.array(vocabulary), FACT_WORDS)


def check(exercise, function):
    cases = np.random.default_rng(9)
    if exercise == "accuracy_by_kind":
        vocab = 120  # above 100, so a label of -100 used as an index reads a real word's flag
        words = np.array([3, 7, 11, 20, 42, 57, 88, 101])  # few words, each the target of several positions
        fact = np.zeros(vocab, dtype=bool)
        fact[[7, 20, 57, 101]] = True
        fact[vocab - 100] = True  # what is_fact[-100] reads: word 20, a fact word
        labels = np.where(cases.random((4, 12)) < 0.3, -100, words[cases.integers(0, len(words), (4, 12))])
        logits = cases.standard_normal((4, 12, vocab))
        right_now = cases.random((4, 12)) < 0.5  # about half the predicted positions answered right
        rows, columns = np.nonzero(right_now & (labels != -100))
        logits[rows, columns, labels[rows, columns]] = 10.0
        chosen = labels != -100
        right = logits.argmax(-1) == labels
        kind = fact[np.where(chosen, labels, 0)] & chosen
        expected = (right[kind].mean(), right[chosen & ~kind].mean())
        assert kind.sum() >= 3 and (chosen & ~kind).sum() >= 3 and all(0 < value < 1 for value in expected)
        got = function(logits, labels, fact)
        assert len(got) == 2, "return (fact_accuracy, other_accuracy)"
        np.testing.assert_allclose(np.asarray(got, dtype=float), expected, rtol=1e-6,
                                   err_msg="(fact accuracy, other accuracy) over the predicted positions (labels != -100) only")
    elif exercise == "mask_anew":
        unmasked = data.collate(data.create_pretraining_examples(train_docs[:6], special, len(vocabulary), np.random.default_rng(5),
                                                                 masked_lm_prob=0, max_seq_length=MAX_SEQ, max_predictions_per_seq=7))
        before = {name: column.copy() for name, column in unmasked.items()}
        remask = data.Remasking(special, len(vocabulary), MASKING)
        for epoch in (0, 3):
            got = function(unmasked, epoch)
            for name, column in before.items():
                np.testing.assert_array_equal(unmasked[name], column, err_msg=f"the input's {name!r} must not change")
            expected = data.remask_rows(unmasked, np.arange(len(unmasked["input_ids"])), epoch, remask)
            assert set(got) == set(expected), f"return all the columns: {sorted(expected)}"
            for name, column in expected.items():
                np.testing.assert_array_equal(np.asarray(got[name]), column,
                                              err_msg=f"{name!r} of pass {epoch}: row i masked with np.random.default_rng((epoch, i))")
    else:
        raise ValueError(f"no exercise called {exercise!r}")


def must_reject(exercise, wrong_answer):
    """The check itself is checked: it must fail on a known wrong answer."""
    try:
        check(exercise, wrong_answer)
    except AssertionError:
        return
    raise RuntimeError(f"the self-check of {exercise} accepted a wrong answer")


def kinds_counting_ignored(logits, labels, is_fact):  # a wrong answer: is_fact[-100] is read for unpredicted positions
    right, fact = logits.argmax(-1) == labels, is_fact[labels]
    return right[fact].mean(), right[~fact & (labels != -100)].mean()


def kinds_over_all_targets(logits, labels, is_fact):  # a wrong answer: both divided by every predicted position
    chosen = labels != -100
    right, fact = (logits.argmax(-1) == labels) & chosen, is_fact[np.where(chosen, labels, 0)] & chosen
    return right[fact].sum() / chosen.sum(), right[~fact].sum() / chosen.sum()


def mask_with_one_generator(unmasked, epoch):  # a wrong answer: one generator for the whole pass
    rng, masked = np.random.default_rng(epoch), {name: column.copy() for name, column in unmasked.items()}
    for row in range(len(masked["input_ids"])):
        length = int(masked["attention_mask"][row].sum())
        ids, labels = masking.mask_tokens(masked["input_ids"][row, :length], special, len(vocabulary), rng, MASKING)
        masked["input_ids"][row, :length], masked["labels"][row, :length] = ids, labels
    return masked


def mask_in_place(unmasked, epoch):  # a wrong answer: right masks, written into the caller's arrays
    for row in range(len(unmasked["input_ids"])):
        length = int(unmasked["attention_mask"][row].sum())
        ids, labels = masking.mask_tokens(unmasked["input_ids"][row, :length], special, len(vocabulary),
                                          np.random.default_rng((epoch, row)), MASKING)
        unmasked["input_ids"][row, :length], unmasked["labels"][row, :length] = ids, labels
    return unmasked


def kinds_by_word(logits, labels, is_fact):  # a wrong answer: the mean over words of each word's accuracy
    right, chosen = logits.argmax(-1) == labels, labels != -100
    per_word = {word: right[labels == word].mean() for word in np.unique(labels[chosen])}
    return (np.mean([a for word, a in per_word.items() if is_fact[word]]),
            np.mean([a for word, a in per_word.items() if not is_fact[word]]))


def reference_accuracy_by_kind(logits, labels, is_fact):  # a right answer (the library has none)
    chosen = labels != -100
    right = logits.argmax(-1) == labels
    fact = is_fact[np.where(chosen, labels, 0)] & chosen
    return float(right[fact].mean()), float(right[chosen & ~fact].mean())


def reference_mask_anew(unmasked, epoch):  # a right answer: the library's remasking of every row
    return data.remask_rows(unmasked, np.arange(len(unmasked["input_ids"])), epoch,
                            data.Remasking(special, len(vocabulary), MASKING))


# The check itself is checked: it accepts a right answer and rejects known wrong ones.
check("accuracy_by_kind", reference_accuracy_by_kind)
check("mask_anew", reference_mask_anew)
must_reject("accuracy_by_kind", kinds_counting_ignored)
must_reject("accuracy_by_kind", kinds_by_word)
must_reject("accuracy_by_kind", kinds_over_all_targets)
must_reject("mask_anew", mask_with_one_generator)
must_reject("mask_anew", mask_in_place)

# %% [markdown]
# **Exercise 1.** Section 6's full run scores 0.801 on held-out masked tokens, yet its probes miss
# the facts. Split that number: write `accuracy_by_kind(logits, labels, is_fact)`, where `logits`
# is `(batch, seq, vocab)`, `labels` is `(batch, seq)` with -100 where nothing is predicted, and
# `is_fact` is a `(vocab,)` bool array (above: True for the words of `COUNTRIES`). Return
# `(fact_accuracy, other_accuracy)`: the top-1 accuracy over the predicted positions whose target
# is a fact word, and over the other predicted positions (a kind with no predicted positions has no
# accuracy: NaN, as NumPy's mean of nothing). The cell after the self-check then splits this run's
# held-out score (with `reference_accuracy_by_kind` until yours passes).

# %%
def accuracy_by_kind(logits, labels, is_fact):
    """(batch, seq, vocab) logits, (batch, seq) labels, (vocab,) bool is_fact ->
    (fact_accuracy, other_accuracy), two floats."""
    raise NotImplementedError("write accuracy_by_kind")


# %%
try:
    check("accuracy_by_kind", accuracy_by_kind)
    print("Exercise 1: correct.")
    split_by_kind = accuracy_by_kind  # yours, from here on
except NotImplementedError:
    print("Exercise 1: not attempted yet. Write accuracy_by_kind above and run this cell again.")
    split_by_kind = reference_accuracy_by_kind  # the right answer of the check cell, until yours passes

# %%
heldout_logits = np.asarray(model(input_ids=heldout["input_ids"], attention_mask=heldout["attention_mask"],
                                  token_type_ids=heldout["token_type_ids"]).prediction_logits)
fact_accuracy, other_accuracy = split_by_kind(heldout_logits, heldout["labels"], is_fact)
fact_share = is_fact[heldout["labels"][heldout["labels"] != -100]].mean()
print(f"held-out ({split_by_kind.__name__}): fact words {fact_accuracy:.3f}, other words {other_accuracy:.3f} "
      f"(fact words are {fact_share:.0%} of the targets)")

# %% [markdown]
# **Exercise 2.** Section 4 trains on masks drawn once (`DUPE_FACTOR` copies of the corpus, each
# masked when it was made), so a fact that no copy masked is never a target. Dynamic masking draws
# fresh masks at every pass instead. Write `mask_anew(unmasked, epoch)`: `unmasked` holds columns
# as `data.collate` makes them from examples built with `masked_lm_prob=0` (plain text, labels all
# -100). Return new columns, the input left as it was, in which row `i` is masked as lesson 9
# masks one sequence, `masking.mask_tokens(ids, special, len(vocabulary), rng, MASKING)`, applied
# to the row's real tokens (where `attention_mask` is 1) with `rng = np.random.default_rng((epoch,
# i))`, and its masked ids and labels written over those tokens. Seeding with `(epoch, i)` makes a
# mask depend on the pass and the example only, so a run can be repeated exactly, and every pass
# masks every example anew. The cell after the self-check masks the training text twice (with
# `reference_mask_anew` until yours passes).

# %%
def mask_anew(unmasked, epoch):
    """A new dict with the columns of `unmasked` (same names and shapes), its rows masked for pass
    `epoch`; `unmasked` itself unchanged."""
    raise NotImplementedError("write mask_anew")


# %%
try:
    check("mask_anew", mask_anew)
    print("Exercise 2: correct.")
    fresh_masks = mask_anew  # yours, from here on
except NotImplementedError:
    print("Exercise 2: not attempted yet. Write mask_anew above and run this cell again.")
    fresh_masks = reference_mask_anew  # the right answer of the check cell, until yours passes

# %%
unmasked_train = data.collate(data.create_pretraining_examples(train_docs, special, len(vocabulary), np.random.default_rng(1),
                                                               dupe_factor=DUPE_FACTOR, masked_lm_prob=0, **options))
print(f"masked with {fresh_masks.__name__}:")
for epoch in (0, 1):
    row = fresh_masks(unmasked_train, epoch)["labels"][0]
    print(f"pass {epoch}, first example's targets:", [vocabulary[t] for t in row if t != -100])

# %% [markdown]
# **Exercise 3 (no self-check).** Rerun section 3's two runs with `train_model(model, 200,
# lr=3e-4, warmup=10)`, then with `lr=3e-3`. Call a run collapsed when its highest cosine passes
# 0.6 (the assert's line) and recovered when its last cosine is back under 0.3. At each rate: does
# the zero-bias run collapse, and recover before its learning rate has decayed to 0? Does the
# log-frequency run stay under 0.6 at 3e-3? Repeat with `AlbertForPreTraining(config, seed=1)`:
# which answers change with the seed?
#
# **Exercise 4 (no self-check).** Fixed masks against fresh ones. Copy `train_model` into a version
# that draws its batches from `fresh_masks(unmasked_train, epoch)` (your `mask_anew` once it
# passes), with `epoch` one higher after every `len(unmasked_train["input_ids"]) // BATCH` steps
# (and row indices drawn from `len(unmasked_train["input_ids"])`, not `len(train_examples)`). Train
# a model with it as section 4 does (log-frequency bias, `TRAIN_STEPS`, lr $10^{-3}$, 10% warm-up)
# and compare `split_by_kind` (your `accuracy_by_kind` once it passes) on `heldout` with section
# 4's model. Which kind of word gains from fresh masks, and which fill-mask probes change?
# `unmasked_train` is cut into pairs differently from `train`, though both come from seed 1 (with
# `masked_lm_prob=0` no random numbers are drawn for masks, so the generator reaches the next cut
# in another state); so train once more on the masks of its first pass only, fixed: is the
# difference the masks' freshness, or the other cut?
#
# Next: lesson 12 uses this loop to test the ALBERT paper's design choices at toy scale.
