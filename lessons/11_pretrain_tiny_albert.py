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
# - compare fill-mask answers before and after training;
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
# position starts from vectors with parts in common, such as the one token-type embedding they all get.

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
# falls toward that line (the short CI run ends above it). With the log-frequency bias the vectors
# stay distinct from the start (the last losses of both runs are printed against the line below
# the plot). Each loss point is the loss of one batch of 16, so the curves are noisy: the
# log-frequency run can even start below the line. How far and how long the default init
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
# Read the answers above with the held-out numbers: the frequent words come first, then
# the right *kind* of word for the slot (a continent after "in", a language after "speak"), then the
# facts themselves. Where the run stands on that path depends on the setting: the short CI run
# stops early, `LESSONS_FULL=1` goes further, though not to the facts (section 6). The last probe
# names no country, so any currency is right there.
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
# examples), started Wed Dec 2 16:13 UTC 2026 on a shared 2-core Intel Xeon virtual machine (NumPy,
# one BLAS thread, other processes competing for the cores): 16 min 15 s of wall-clock time, 4.1 min of
# CPU time. What it printed:
#
# ```
# zero bias (default init)   cosine at init 0.201, highest 0.915, last 0.239; last loss 4.144
# log-frequency bias         cosine at init 0.201, highest 0.223, last 0.090; last loss 3.746
# frequency-only line: 4.777; last losses: {'zero bias (default init)': 4.144, 'log-frequency bias': 3.746}
# 2000 steps of 16 x 48 tokens in 800 s (400 ms per step)
# held-out before: mlm_accuracy 0.134, sop_accuracy 0.425, mlm_loss 4.041
# held-out after:  mlm_accuracy 0.801, sop_accuracy 1.000, mlm_loss 1.053
# always answering the most frequent target ('.') would score 0.134
# the capital of france is [MASK] .   after: [('europe', 0.369), ('africa', 0.12), ('lisbon', 0.077)]
# people in japan speak [MASK] .      after: [('bangkok', 0.061), ('beijing', 0.058), ('addis', 0.055)]
# kenya is a country in [MASK] .      after: [('europe', 0.557), ('africa', 0.152), ('asia', 0.059)]
# the capital of peru is [MASK] .     after: [('europe', 0.223), ('lisbon', 0.09), ('africa', 0.065)]
# they pay with the [MASK] .          after: [('birr', 0.051), ('beijing', 0.049), ('.', 0.045)]
# held-out loss: ours 0.920040, transformers 0.920040
# ```
#
# Within 100 steps the default init collapsed (highest cosine 0.915) and had recovered by the end of
# the run at this learning rate; the log-frequency init never collapsed and ended with the lower loss.
# After 2,000 steps the held-out masked-token accuracy is 0.801 and sentence order is solved, yet the
# fill-mask probes show what that number is made of: the template words of the corpus are predicted,
# the *kind* of word a slot wants is clear for one probe only (continents after "a country in"):
# the capital probes get continents first, "speak" gets cities, the currency probe (which names no
# country) spreads over a currency, a city and a full stop, and the facts are not learnt
# ("kenya is a country in" puts europe first and africa second). The probes are single sentences,
# shorter than the training pairs, which may make them harder still. Each fact occurs in only
# three documents and is masked in few of their copies, with masks fixed for the whole run:
# memorizing facts needs many more steps, or fresh masks each time an example is drawn (dynamic
# masking: lesson 9's `BatchIterator(remask=...)`, the project trainer's default), than this run had.

# %% [markdown]
# ## Exercises
#
# `check` has the call of the course autograder (`tinyalbert.grading.check(name, function)`); once
# that module is installed, import it instead.

# %%
def check(exercise, function):
    cases = np.random.default_rng(9)
    if exercise == "log_frequency_bias":
        counts = cases.integers(0, 50, size=20).astype(float)
        got = np.asarray(function(counts), dtype=np.float64)
        smoothed = counts + 1
        np.testing.assert_allclose(got, np.log(smoothed / smoothed.sum()), rtol=1e-6)
        np.testing.assert_allclose(np.exp(got).sum(), 1.0, rtol=1e-5, err_msg="exp(bias) must sum to 1")
    elif exercise == "token_cosine":
        vectors = cases.standard_normal((1, 5, 4))
        mask = np.array([[1, 1, 1, 1, 0]])
        unit = vectors[0, :4] / np.linalg.norm(vectors[0, :4], axis=1, keepdims=True)
        pairs = unit @ unit.T
        expected = (pairs.sum() - 4) / 12
        np.testing.assert_allclose(function(vectors, mask), expected, rtol=1e-10)
        same = np.repeat(vectors[:, :1], 5, axis=1)
        np.testing.assert_allclose(function(same, mask), 1.0, rtol=1e-10, err_msg="identical vectors give cosine 1")
        two = cases.standard_normal((2, 5, 4))  # two sequences of 4 and 2 real tokens
        lengths = np.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]])
        unit = two[lengths.astype(bool)] / np.linalg.norm(two[lengths.astype(bool)], axis=1, keepdims=True)
        np.testing.assert_allclose(function(two, lengths), ((unit @ unit.T).sum() - 6) / 30, rtol=1e-10,
                                   err_msg="all pairs of real tokens of the batch, across sequences too")
    else:
        raise ValueError(f"no exercise called {exercise!r}")
    print(f"{exercise}: correct")


def must_reject(exercise, wrong_answer):
    """The check itself is checked: it must fail on a known wrong answer."""
    try:
        check(exercise, wrong_answer)
    except AssertionError:
        return
    raise RuntimeError(f"the self-check of {exercise} accepted a wrong answer")


must_reject('log_frequency_bias', lambda counts: np.log(np.asarray(counts, dtype=float) + 1))
def cosine_with_self_pairs(hidden, attention_mask):  # a wrong answer: each vector's cosine with itself counts too
    vectors = hidden[attention_mask.astype(bool)]
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return float(np.mean(vectors @ vectors.T))


must_reject('token_cosine', cosine_with_self_pairs)


def cosine_per_sequence(hidden, attention_mask):  # a wrong answer: a mean per sequence, then their mean
    return float(np.mean([mean_token_cosine_of_one(h, m) for h, m in zip(hidden, attention_mask)]))


def mean_token_cosine_of_one(vectors, mask):
    vectors = vectors[mask.astype(bool)]
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return ((vectors @ vectors.T).sum() - len(vectors)) / (len(vectors) * (len(vectors) - 1))


must_reject('token_cosine', cosine_per_sequence)


# %% [markdown]
# **Exercise 1.** Write `log_frequency_bias(counts)`: the add-one-smoothed log frequencies of
# section 3.

# %%
def log_frequency_bias(counts):
    smoothed = np.asarray(counts, dtype=np.float64) + 1  # answer: replace with your own
    return np.log(smoothed / smoothed.sum())


check("log_frequency_bias", log_frequency_bias)

# %% [markdown]
# **Exercise 2.** Write the collapse signal: given final-layer vectors `(batch, seq, hidden)` and the
# attention mask `(batch, seq)`, the mean cosine similarity over all pairs of distinct real tokens
# of the batch (a pair may take its two tokens from different sequences).

# %%
def mean_token_cosine(hidden, attention_mask):
    vectors = hidden[attention_mask.astype(bool)]  # answer: replace with your own
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    n = len(vectors)
    return ((vectors @ vectors.T).sum() - n) / (n * (n - 1))


check("token_cosine", mean_token_cosine)

# %% [markdown]
# **Exercise 3 (no self-check).** Rerun section 3's two runs with `train_model(model, 200,
# lr=3e-4, warmup=10)`, then with `lr=3e-3`. Call a run collapsed when its highest cosine passes
# 0.6 (the assert's line) and recovered when its last cosine is back under 0.3. At each rate: does
# the zero-bias run collapse, and recover before its learning rate has decayed to 0? Does the
# log-frequency run stay under 0.6 at 3e-3? Repeat with `AlbertForPreTraining(config, seed=1)`:
# which answers change with the seed?
#
# Next: lesson 12 uses this loop to test the ALBERT paper's design choices at toy scale.
