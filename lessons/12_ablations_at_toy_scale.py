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
# # Lesson 12: The ALBERT paper's ablations at toy scale
#
# After this lesson you will be able to
#
# - set up a controlled ablation: one change at a time, the same data, steps, seed and evaluation;
# - build the paper's variants from configs and parameter dicts: the embedding size $E$ with and
#   without cross-layer sharing, sharing only the feed-forward or only the attention weights (tied
#   by hand, with the gradient sum of lesson 8), and NSP against SOP;
# - compare the results with the direction of the paper's Tables 3, 4 and 5, and say where a toy
#   model does not follow it.
#
# The models are trained on the country corpus of lesson 11 with its loop (and its log-frequency
# output bias). Every number below is computed by this run, except the paper's and those of the
# recorded full runs in section 7, which say where they come from; `CI=true` trains each model for
# very few steps, `LESSONS_FULL=1` for many more.

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
STEPS = 1500 if FULL else (150 if CI else 300)
DUPE_FACTOR = 20 if FULL else 5
EMBEDDING_SIZES = [8, 16, 32, 64] if FULL else [8, 32, 64]
lesson_start = time.perf_counter()

# %% [markdown]
# ## 1. Data, model and loop (from lesson 11)

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
SPECIALS = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
words_of = lambda text: re.findall(r"\w+|[^\w\s]", text.lower())
vocabulary = SPECIALS + sorted({w for d in documents for s in d for w in words_of(s)})
word_id = {word: i for i, word in enumerate(vocabulary)}
special = masking.SpecialIds(cls=2, sep=3, mask=4, pad=0)
encode_batch = lambda sentences: [[word_id[word] for word in words_of(sentence)] for sentence in sentences]

rng = np.random.default_rng(0)
heldout_ids = set(rng.choice(len(documents), size=len(documents) // 10, replace=False).tolist())
encoded = text.encode_documents(documents, encode_batch)  # document i: country i // 3, style i % 3
train_ids = [i for i in range(len(documents)) if i not in heldout_ids]
MAX_SEQ, BATCH = 48, 16

# %% [markdown]
# Table 5 compares SOP with BERT's NSP, so we need both kinds of pairs, and they should differ in
# nothing but the task. Both are made here from the *same* segment pairs of lesson 9. Where SOP
# swaps a pair (label 1), NSP keeps A and gives it a random B instead (label 1 too). A random B must
# not give itself away by its form, or the model learns the form instead of anything about topic:
# cut off mid-sentence, its last token would tell; shorter or longer than a true B, its length would
# (with a random B of whole sentences of another document, as many as fit in the true B's length,
# a rule on the pair's length alone does well on this corpus's held-out NSP pairs: printed below).
# So the random B is the same stretch of another country's document written in the same style: the
# same length and the same template, only the facts differ. A training pair takes it from a training
# document: from a held-out one, the NSP model alone would train on held-out text (the masked tokens
# of B), which would favour it on the held-out pairs. The pairs left in order (label 0) are
# the same in both sets, with the same masks, and both sets come in the same order; so a difference
# between an SOP and an NSP model comes from what label 1 means, not from a different draw of
# examples.

# %%
MASKING = masking.Masking(max_predictions_per_seq=7)
flat = [[token for sentence in document for token in sentence] for document in encoded]


def same_stretch_elsewhere(index, a, b, rng, sources):
    """The tokens that follow A in a random same-style document of another country, drawn from the
    document ids `sources`: B's positions there (the styles' templates put one word in every slot,
    so the documents line up)."""
    tokens = flat[index]
    starts = [i for i in range(len(tokens) - len(a) - len(b) + 1) if tokens[i:i + len(a) + len(b)] == a + b]
    assert starts, "A and B are consecutive tokens of their document"
    others = [i for i in sources if i % len(STYLES) == index % len(STYLES) and i != index]
    start = starts[0] + len(a)
    return flat[others[int(rng.integers(len(others)))]][start:start + len(b)]


def sop_and_nsp_examples(document_ids, dupe_factor, seed, b_sources):
    """Two labellings of one draw of segment pairs from the documents `document_ids`:
    (SOP columns, NSP columns), row for row. NSP's random Bs come from the documents `b_sources`."""
    rng = np.random.default_rng(seed)
    sop, nsp = [], []
    for _ in range(dupe_factor):
        for index in document_ids:
            for a, b, swapped in data.create_segment_pairs(encoded[index], MAX_SEQ - 3, 0.1, rng):
                if swapped:
                    a, b = b, a  # back in document order
                nsp_b = same_stretch_elsewhere(index, a, b, rng, b_sources) if swapped else b
                mask_seed = int(rng.integers(2**32))  # one seed for both: an in-order pair gets the same mask twice
                sop_pair = (b, a) if swapped else (a, b)
                for examples, (first, second) in ((sop, sop_pair), (nsp, (a, nsp_b))):
                    examples.append(data.build_example(first, second, int(swapped), special, len(vocabulary),
                                                       np.random.default_rng(mask_seed), max_seq_length=MAX_SEQ,
                                                       masking=MASKING))
    order = rng.permutation(len(sop))
    return data.collate([sop[i] for i in order]), data.collate([nsp[i] for i in order])


sop_train, nsp_train = sop_and_nsp_examples(train_ids, DUPE_FACTOR, seed=1, b_sources=train_ids)
sop_heldout, nsp_heldout = sop_and_nsp_examples(sorted(heldout_ids), 10, seed=2, b_sources=range(len(documents)))
in_order = sop_train["sentence_order_label"] == 0
assert all(np.array_equal(sop_train[name][in_order], nsp_train[name][in_order]) for name in sop_train)
print(f"{len(sop_train['input_ids'])} training and {len(sop_heldout['input_ids'])} held-out pairs "
      f"({in_order.mean():.0%} of them in order, the same in both sets); {STEPS} steps of {BATCH} per model, "
      f"{STEPS * BATCH / len(sop_train['input_ids']):.1f} passes over the training pairs")


def best_length_rule(columns):
    """Accuracy of the best rule "label 1 when the pair is shorter (or longer) than L": how much
    the length alone gives away."""
    lengths, labels = columns["attention_mask"].sum(axis=1), columns["sentence_order_label"]
    return max(max(np.mean((lengths < cut) == labels), np.mean((lengths >= cut) == labels)) for cut in np.unique(lengths))


print(f"the best rule on length alone: {best_length_rule(nsp_train):.3f} on the training NSP pairs, "
      f"{best_length_rule(nsp_heldout):.3f} on the held-out ones")


def whole_sentences_nsp(document_ids, dupe_factor, seed):
    """NSP pairs whose random B is the kind this lesson avoids: whole sentences of another of the
    documents `document_ids`, from a random sentence on, as many as fit in the true B's length
    (at least one). An earlier version of this lesson made its NSP pairs so."""
    rng = np.random.default_rng(seed)
    examples = []
    for _ in range(dupe_factor):
        for position, index in enumerate(document_ids):
            for a, b, swapped in data.create_segment_pairs(encoded[index], MAX_SEQ - 3, 0.1, rng):
                if swapped:
                    a, b = b, a  # back in document order
                    other = encoded[document_ids[(position + int(rng.integers(1, len(document_ids)))) % len(document_ids)]]
                    sentences = other[int(rng.integers(len(other))):]
                    random_b = list(sentences[0])
                    for sentence in sentences[1:]:
                        if len(random_b) + len(sentence) > len(b):
                            break
                        random_b += sentence
                    a, b = data.truncate_pair(a, random_b, MAX_SEQ - 3, rng)
                mask_seed = int(rng.integers(2**32))
                examples.append(data.build_example(a, b, int(swapped), special, len(vocabulary), np.random.default_rng(mask_seed),
                                                   max_seq_length=MAX_SEQ, masking=MASKING))
    return data.collate(examples)


print(f"the same rule with a random B of whole sentences of another document: "
      f"{best_length_rule(whole_sentences_nsp(sorted(heldout_ids), 10, seed=2)):.3f} on held-out NSP pairs")
targets = sop_train["labels"][sop_train["labels"] != -100]
counts = np.bincount(targets, minlength=len(vocabulary)) + 1.0
LOG_FREQUENCY_BIAS = np.log(counts / counts.sum()).astype(np.float32)
# What a model that learned nothing scores: always the most frequent target, always the more common pair label.
heldout_targets = sop_heldout["labels"][sop_heldout["labels"] != -100]
BASELINE = {"mlm_accuracy": float(np.mean(heldout_targets == np.argmax(counts))),
            "sop_accuracy": float(max(np.mean(sop_heldout["sentence_order_label"]), 1 - np.mean(sop_heldout["sentence_order_label"]))),
            "nsp_accuracy": float(max(np.mean(nsp_heldout["sentence_order_label"]), 1 - np.mean(nsp_heldout["sentence_order_label"])))}
in_order_targets = sop_heldout["labels"][(sop_heldout["labels"] != -100) & (sop_heldout["sentence_order_label"] == 0)[:, None]]
# The standard error of an accuracy near 1/2 on n items is at most sqrt(1/4n): two rows closer than
# about twice that are within the noise of this small held-out set. The masked-token accuracy on
# the in-order pairs counts fewer tokens, so its noise is larger. The rule takes the items to be
# independent, and they are not: the held-out pairs are 10 cuts of the same few documents, which
# share their sentences and words, so the real noise is larger than printed. A gap inside it is
# noise; a gap just beyond it is a hint, not a finding.
NOISE = {"mlm_accuracy": 2 * np.sqrt(0.25 / len(heldout_targets)),
         "mlm_in_order": 2 * np.sqrt(0.25 / len(in_order_targets)),
         "sop_accuracy": 2 * np.sqrt(0.25 / len(sop_heldout["input_ids"])),
         "nsp_accuracy": 2 * np.sqrt(0.25 / len(nsp_heldout["input_ids"]))}
print(f"held-out: {len(heldout_targets)} masked tokens ({len(in_order_targets)} of them in the in-order pairs) "
      f"and {len(sop_heldout['input_ids'])} pairs from {len(heldout_ids)} documents")
print("what learning nothing scores:", {name: round(value, 3) for name, value in BASELINE.items()},
      f"(always {vocabulary[int(np.argmax(counts))]!r}; always the more common pair label)")
print("differences within noise (about two standard errors):", {name: round(float(v), 4) for name, v in NOISE.items()})


def make_config(embedding_size, groups):
    return AlbertConfig(vocab_size=len(vocabulary), embedding_size=embedding_size, hidden_size=64, num_hidden_layers=4,
                        num_hidden_groups=groups, num_attention_heads=4, intermediate_size=128,
                        max_position_embeddings=MAX_SEQ, pad_token_id=0, bos_token_id=2, eos_token_id=3)


def evaluate(model, columns):
    """Masked-token accuracy on all pairs and on the in-order ones (B follows A: the pairs that SOP
    and NSP training both show), and the accuracy of the pair task the columns are labelled for."""
    out = model(input_ids=columns["input_ids"], attention_mask=columns["attention_mask"], token_type_ids=columns["token_type_ids"])
    right = np.asarray(out.prediction_logits).argmax(-1) == columns["labels"]
    chosen = columns["labels"] != -100
    in_order = chosen & (columns["sentence_order_label"] == 0)[:, None]
    pair = np.mean(np.asarray(out.sop_logits).argmax(-1) == columns["sentence_order_label"])
    return float(right[chosen].mean()), float(right[in_order].mean()), float(pair)


def label_1_shares(model, sop_columns, nsp_columns):
    """How often the pair head answers label 1 ("B does not follow A") on the in-order pairs, on the
    swapped ones (SOP's label 1) and on those with a random B (NSP's label 1)."""
    shares = {}
    for kind, columns, label in (("in-order", sop_columns, 0), ("swapped", sop_columns, 1), ("random-B", nsp_columns, 1)):
        rows = columns["sentence_order_label"] == label
        out = model(input_ids=columns["input_ids"][rows], attention_mask=columns["attention_mask"][rows],
                    token_type_ids=columns["token_type_ids"][rows])
        shares[kind] = float(np.mean(np.asarray(out.sop_logits).argmax(-1) == 1))
    return shares


def train_and_evaluate(config, train_columns, tied=(), seed=0, lr=1e-3):
    """Train from scratch; `tied`: parameter-name parts whose weights all layer groups share (see section 2).
    Returns a dict of results."""
    model = AlbertForPreTraining(config, seed=seed)
    model.params["predictions.bias"] = LOG_FREQUENCY_BIAS.copy()
    tie_groups = tie_layers(model.params, tied)
    optimizer, order = optim.AdamW(weight_decay=0.01), np.random.default_rng(seed + 10)
    started = time.perf_counter()
    for step in range(STEPS):
        index = order.choice(len(train_columns["input_ids"]), BATCH, replace=False)
        batch = {name: column[index] for name, column in train_columns.items()}
        loss, grads = model.loss_and_grads(batch["input_ids"], batch["labels"], batch["sentence_order_label"],
                                           attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"])
        grads = clip_counting_tied_once(sum_tied_gradients(grads, tie_groups), tie_groups, 1.0)
        model.params = optimizer.step(model.params, grads, optim.linear_warmup_then_decay(step, STEPS // 10, STEPS, lr))
    for names in tie_groups:  # identical weights and identical gradients stay identical under AdamW
        assert all(np.array_equal(model.params[names[0]], model.params[n]) for n in names[1:])
    mlm, mlm_in_order, sop = evaluate(model, sop_heldout)
    _, _, nsp = evaluate(model, nsp_heldout)
    tied_copies = sum(model.params[n].size for names in tie_groups for n in names[1:])
    return {"parameters": model.num_parameters() - tied_copies, "mlm_accuracy": mlm, "mlm_in_order": mlm_in_order,
            "sop_accuracy": sop, "nsp_accuracy": nsp, "label_1_shares": label_1_shares(model, sop_heldout, nsp_heldout),
            "seconds": time.perf_counter() - started}


# %% [markdown]
# ## 2. Tying weights by hand
#
# `num_hidden_groups` chooses between "all layers share one set of weights" (1) and "no sharing"
# (= `num_hidden_layers`). The paper also tries sharing only the feed-forward block or only the
# attention block. The library has no switch for that, and it needs none: take the non-shared model,
# make chosen weights of every layer group equal, and keep them equal. Lesson 8 showed what a shared
# weight's gradient is: the sum over every place it is used. So at each step, replace the gradient of
# each tied copy by the sum over the copies. AdamW then gives every copy the same update (same
# weights, same gradient, same moments), and the copies stay equal, which the loop asserts. The
# gradient clipping counts each tied tensor once, as the all-shared model has it once: counting
# every copy would clip the tied models harder, a second difference between the arms.

# %%
GROUP = re.compile(r"albert_layer_groups\.(\d+)\.")


def tie_layers(params, tied_parts):
    """Make the weights whose names contain one of `tied_parts` equal across layer groups (group 0's
    values); return the tied name lists, e.g. [[group0.ffn.weight, group1.ffn.weight, ...], ...]."""
    groups = {}
    for name in params:
        if GROUP.search(name) and any(part in name for part in tied_parts):
            groups.setdefault(GROUP.sub("albert_layer_groups.*.", name), []).append(name)
    for names in groups.values():
        for name in names[1:]:
            params[name] = params[names[0]].copy()
    return list(groups.values())


def sum_tied_gradients(grads, tie_groups):
    for names in tie_groups:
        total = sum(grads[name] for name in names)
        for name in names:
            grads[name] = total
    return grads


def clip_counting_tied_once(grads, tie_groups, max_norm):
    """Global-norm clipping with each tied tensor counted once, as the all-shared model counts its
    one shared tensor; counting every copy would clip the tied models harder."""
    copies = {name for names in tie_groups for name in names[1:]}
    clipped, _ = optim.clip_grad_global_norm({n: g for n, g in grads.items() if n not in copies}, max_norm)
    for names in tie_groups:
        for name in names[1:]:
            clipped[name] = clipped[names[0]]
    return clipped


FFN_PARTS = ("ffn.", "ffn_output.", "full_layer_layer_norm.")
ATTENTION_PARTS = (".attention.",)
demo = AlbertForPreTraining(make_config(32, groups=4), seed=0)
demo_groups = tie_layers(demo.params, FFN_PARTS)
print(f"shared-FFN: {len(demo_groups)} tensors tied across {len(demo_groups[0])} groups, e.g. {demo_groups[0][0]}")

# %% [markdown]
# ## 3. Embedding size E, with and without sharing (the paper's Table 3)
#
# In the paper, with no sharing a larger $E$ is better (it only costs parameters); with all layers
# shared, $E = 128$ is the best and larger $E$ does worse. We train 4-layer, $H = 64$ models with
# each $E$, all layers shared (1 group) or none (4 groups), and report held-out masked-token and
# sentence-order accuracy.

# %%
results = {}
for sharing, groups in (("all-shared", 1), ("not-shared", 4)):
    for embedding_size in EMBEDDING_SIZES:
        results[f"E={embedding_size} {sharing}"] = train_and_evaluate(make_config(embedding_size, groups), sop_train)
        r = results[f"E={embedding_size} {sharing}"]
        print(f"E={embedding_size:3d} {sharing:10s} params {r['parameters']:7,d}  MLM {r['mlm_accuracy']:.3f}  SOP {r['sop_accuracy']:.3f}  ({r['seconds']:.0f} s)")


def table(rows):
    lines = ["| model | parameters | MLM accuracy | ... on in-order pairs | SOP accuracy | NSP accuracy |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {name} | {r['parameters']:,} | {r['mlm_accuracy']:.3f} | {r['mlm_in_order']:.3f} | {r['sop_accuracy']:.3f} "
              f"| {r['nsp_accuracy']:.3f} |" for name, r in rows]
    lines += [f"| learning nothing | | {BASELINE['mlm_accuracy']:.3f} | | {BASELINE['sop_accuracy']:.3f} | {BASELINE['nsp_accuracy']:.3f} |"]
    print("\n".join(lines))


table([(name, results[name]) for name in results])

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
for sharing, marker in (("all-shared", "o"), ("not-shared", "s")):
    axes[0].plot(EMBEDDING_SIZES, [results[f"E={e} {sharing}"]["mlm_accuracy"] for e in EMBEDDING_SIZES], marker=marker, label=sharing)
    axes[1].plot(EMBEDDING_SIZES, [results[f"E={e} {sharing}"]["parameters"] for e in EMBEDDING_SIZES], marker=marker, label=sharing)
axes[0].axhline(BASELINE["mlm_accuracy"], color="gray", ls="--", lw=0.8, label=f"always {vocabulary[int(np.argmax(counts))]!r}")
axes[0].set_ylabel("held-out masked-token accuracy")
axes[1].set_ylabel("parameters")
for axis in axes:
    axis.set_xscale("log", base=2)
    axis.set_xlabel("embedding size E")
    axis.legend()
plt.suptitle("Table 3 at toy scale: embedding size")
plt.tight_layout()
plt.show()


def direction(values, noise):
    """'rises', 'falls' or 'is not monotonic' along a sequence of numbers, and whether every step is
    larger than `noise`."""
    steps = np.diff(values)
    trend = "rises" if np.all(steps > 0) else "falls" if np.all(steps < 0) else "is not monotonic"
    return trend + ("" if np.all(np.abs(steps) > noise) else " (some steps within the noise)")


for sharing in ("not-shared", "all-shared"):
    print(f"{sharing}: MLM accuracy {direction([results[f'E={e} {sharing}']['mlm_accuracy'] for e in EMBEDDING_SIZES], NOISE['mlm_accuracy'])} with E")

# %% [markdown]
# The parameter column is the model's own count. Transformers, given the same configurations, must
# count the same (its `num_parameters()` counts a shared layer once, like ours):

# %%
try:
    import transformers
except ImportError:
    transformers = None

if transformers is None:
    print("SKIPPED: transformers is not installed (pip install transformers) - the comparison did not run.")
else:
    for sharing, groups in (("all-shared", 1), ("not-shared", 4)):
        for embedding_size in EMBEDDING_SIZES:
            values = {k: v for k, v in make_config(embedding_size, groups).to_dict().items()
                      if k not in ("architectures", "label2id", "id2label", "model_type")}
            theirs = transformers.AlbertForPreTraining(transformers.AlbertConfig(**values)).num_parameters()
            assert theirs == results[f"E={embedding_size} {sharing}"]["parameters"], (sharing, embedding_size, theirs)
    print(f"transformers counts the same parameters for all {2 * len(EMBEDDING_SIZES)} models of the table")


# %% [markdown]
# ## 4. What to share (the paper's Table 4)
#
# With $E$ fixed, four ways to share across the 4 layers: everything (ALBERT), nothing (BERT-like),
# only the feed-forward weights, only the attention weights. The paper's Table 4 has two rows of
# ALBERT-base (average downstream score). With $E = H = 768$: not-shared 82.3, shared-attention 81.6,
# all-shared 79.8, shared-FFN 79.5: sharing attention costs little and sharing the feed-forward block
# the most. With $E = 128$, closer to our $E < H$: shared-attention 81.7, not-shared 81.6,
# shared-FFN 80.2, all-shared 80.1: all-shared last, by a little, with by far the fewest parameters.

# %%
E_SHARING = 32 if 32 in EMBEDDING_SIZES else EMBEDDING_SIZES[-1]
sharing_runs = {
    "all-shared": results[f"E={E_SHARING} all-shared"],
    "shared-FFN": train_and_evaluate(make_config(E_SHARING, groups=4), sop_train, tied=FFN_PARTS),
    "shared-attention": train_and_evaluate(make_config(E_SHARING, groups=4), sop_train, tied=ATTENTION_PARTS),
    "not-shared": results[f"E={E_SHARING} not-shared"],
}
table([(f"E={E_SHARING} {name}", r) for name, r in sharing_runs.items()])

fig, axis = plt.subplots(figsize=(6.5, 3.3))
names = list(sharing_runs)
axis.bar(names, [sharing_runs[n]["mlm_accuracy"] for n in names], color=["C1", "C2", "C3", "C0"])
for i, n in enumerate(names):
    axis.text(i, sharing_runs[n]["mlm_accuracy"], f"{sharing_runs[n]['parameters']:,} params", ha="center", va="bottom", fontsize=8)
axis.axhline(BASELINE["mlm_accuracy"], color="gray", ls="--", lw=0.8, label=f"always {vocabulary[int(np.argmax(counts))]!r}")
axis.legend(fontsize=8)
axis.set_ylabel("held-out masked-token accuracy")
axis.set_title(f"Table 4 at toy scale (E={E_SHARING}, 4 layers)")
plt.tight_layout()
plt.show()


def ranking(runs, metric):
    """Names from best to worst; '≈' where two neighbours are within the noise, '>' where they are not."""
    names = sorted(runs, key=lambda n: -runs[n][metric])
    text = names[0]
    for better, worse in zip(names, names[1:]):
        text += (" > " if runs[better][metric] - runs[worse][metric] > NOISE[metric] else " ≈ ") + worse
    return text


print("ranking by MLM accuracy:", ranking(sharing_runs, "mlm_accuracy"))
print("paper, Table 4, E=768: not-shared > shared-attention > all-shared > shared-FFN")
print("paper, Table 4, E=128: shared-attention > not-shared > shared-FFN > all-shared")

# %% [markdown]
# ## 5. NSP or SOP (the paper's Table 5)
#
# Train the same model on NSP pairs instead of SOP pairs, and evaluate both models on *both* tasks.
# The paper's finding (ALBERT-base): the NSP model solves NSP (90.5%) but is at chance on SOP (52.0%),
# while the SOP model does NSP reasonably well (78.9%) besides SOP (86.5%). The paper's reading: NSP
# is learnt mostly from a change of topic between the segments, which says nothing about order;
# SOP's two segments always share a topic, so it has to learn coherence, which also reveals most
# random pairs. The masked-token accuracy of the two models is compared on the in-order pairs,
# the only kind both were trained on (a swapped pair is new to the NSP model).

# %%
pair_runs = {"trained with SOP": results[f"E={E_SHARING} all-shared"],
             "trained with NSP": train_and_evaluate(make_config(E_SHARING, groups=1), nsp_train)}
table(list(pair_runs.items()))
fig, axis = plt.subplots(figsize=(6.5, 3.3))
metrics = ["mlm_in_order", "nsp_accuracy", "sop_accuracy"]
for offset, name in ((-0.2, "trained with SOP"), (0.2, "trained with NSP")):
    axis.bar(np.arange(3) + offset, [pair_runs[name][m] for m in metrics], 0.4, label=name)
for position, metric in enumerate(("mlm_accuracy", "nsp_accuracy", "sop_accuracy")):  # learning nothing
    axis.hlines(BASELINE[metric], position - 0.45, position + 0.45, color="gray", ls="--", lw=0.8,
                label="learning nothing" if position == 0 else None)
axis.set_xticks(np.arange(3), ["masked tokens (in-order pairs)", "NSP task", "SOP task"])
axis.set_ylabel("held-out accuracy")
axis.set_title("Table 5 at toy scale")
axis.legend()
plt.tight_layout()
plt.show()
sop_model, nsp_model = pair_runs["trained with SOP"], pair_runs["trained with NSP"]
print(f"NSP model on the SOP task: {nsp_model['sop_accuracy']:.3f}; SOP model on the NSP task: {sop_model['nsp_accuracy']:.3f}")
for name, run in pair_runs.items():
    print(f"{name}: answers label 1 (B does not follow A) on " +
          ", ".join(f"{share:.0%} of the {kind} pairs" for kind, share in run["label_1_shares"].items()))
gap = nsp_model["mlm_in_order"] - sop_model["mlm_in_order"]
print(f"masked tokens of the in-order pairs, NSP model minus SOP model: {gap:+.4f}, "
      f"{'beyond' if abs(gap) > NOISE['mlm_in_order'] else 'within'} the noise ({NOISE['mlm_in_order']:.4f})")
print(f"lesson run time: {time.perf_counter() - lesson_start:.0f} s ({'CI' if CI else 'FULL' if FULL else 'default'} setting)")

# %% [markdown]
# ## 6. Reading the results honestly
#
# Print-outs above state, for this run, whether accuracy rises with $E$, how the sharing variants
# rank and how each pair-task model does on the other task. Before you trust a difference between two
# rows, remember what a toy run is:
#
# - **One seed, few steps, a small held-out set.** In the CI setting every model trains for 150
#   steps (section 1 prints how many passes over the training pairs that is) and is scored on the
#   few held-out documents of section 1; the noise printed there (about two standard errors) is
#   about ten points for the pair tasks, and the rankings mark neighbours closer than that with
#   "≈". Rerun with another `seed` in `train_and_evaluate` and see which differences survive. The
#   cell below counts, for each metric, the models that score within the noise of learning
#   nothing: where that is most of them, as it can be in the CI setting, the tables show that the
#   code runs but not how the variants compare on that metric, and section 7's recorded full run is
#   the one to read.
# - **A small vocabulary.** The paper's $E$ matters because ALBERT's vocabulary is large (its size is
#   printed below), so $V \times E$ is a big share of a model. Here $V$ is small, yet $E$ is still a
#   real part of the model: besides the word table, the position and type tables, the projection
#   into $H$ and the masked-token head all scale with it (their share is printed below), and $E$ is
#   a bottleneck at both ends: the head maps $H$ down to $E$ and decodes through the tied
#   $E$-wide word table. That is one reason accuracy can rise steeply with $E$ here, as it does in
#   the recorded full run (section 7); section 3 prints what it does in this run.
# - **A templated corpus.** The documents follow three fixed orders, so even a model that has learned
#   little can often tell the sentence order from where the first sentence's words are. NSP is the
#   opposite case: its random B is the same stretch of another country's document in the same
#   style (section 1), so only the facts tell it from the true B (is Lisbon the capital of Kenya?),
#   and these short runs learn few facts (lesson 11). In the paper's corpus a random B usually
#   changes the topic, which is far easier to see.
# - **The two pair tasks share a label.** Label 1 means "B does not follow A" in both: a random B for
#   NSP, a swapped pair for SOP. Where the first sentence of a document is easy to recognise (here it
#   is the only one that names the continent), a swapped pair, whose B usually begins with that
#   sentence, *also* looks like "B does not follow A", so an NSP model could score above chance on
#   SOP. The paper's corpus (books and Wikipedia) gives far fewer such cues.
# - **MLM accuracy is not the paper's metric.** The paper averages downstream tasks (SQuAD, MNLI,
#   SST-2, RACE) after fine-tuning; our proxy is held-out masked-token accuracy.

# %%
all_shared = results[f"E={E_SHARING} all-shared"]["parameters"]
embedding_share = len(vocabulary) * E_SHARING / all_shared
per_unit_of_e = (AlbertForPreTraining(make_config(E_SHARING + 1, groups=1), seed=0).num_parameters()
                 - AlbertForPreTraining(make_config(E_SHARING, groups=1), seed=0).num_parameters())
models = list(results.values()) + [sharing_runs["shared-FFN"], sharing_runs["shared-attention"], pair_runs["trained with NSP"]]
for metric in ("mlm_accuracy", "sop_accuracy", "nsp_accuracy"):
    idle = sum(abs(run[metric] - BASELINE[metric]) <= NOISE[metric] for run in models)
    print(f"{metric}: {idle} of the {len(models)} models are within the noise of learning nothing")
print(f"V = {len(vocabulary)}: the word embeddings are {embedding_share:.1%} of the all-shared E={E_SHARING} model; "
      f"everything that scales with E ({per_unit_of_e} parameters per unit of E) is {per_unit_of_e * E_SHARING / all_shared:.1%}")
base = AlbertConfig.preset("albert-base-v2")
base_parameters = AlbertForPreTraining.parameter_shapes(base)
base_total = sum(int(np.prod(shape)) for shape in base_parameters.values())
print(f"albert-base-v2: V = {base.vocab_size:,}, E = {base.embedding_size}: the word embeddings are "
      f"{base.vocab_size * base.embedding_size / base_total:.1%} of its {base_total:,} parameters")

# %% [markdown]
# ## 7. Recorded result of the full setting
#
# `LESSONS_FULL=1` trains every model much longer (see `STEPS` at the top). The table below was recorded
# from such a run; it is written here because the CI setting is too small to show it.
#
# **Recorded from a full run** (`LESSONS_FULL=1`: 1,500 steps of 16 examples per model), started
# Sun Dec  6 04:38:08 UTC 2026 on a 2-core AMD EPYC virtual machine (NumPy, one BLAS thread, other
# processes using the cores part of the time): 5 min 28 s of wall-clock time, 4.1 min of user CPU
# time. Every random draw is seeded, so a rerun can differ only through the floating-point details
# of the BLAS library: the rows of the SOP-trained models are, to the last digit, those of an
# earlier full run (started Sat Dec  5 00:40:44 UTC 2026) whose NSP training pairs could take their
# random B from a held-out document (section 1), which changes the NSP row only. Held-out: 541
# masked tokens and 93 pairs from 9 documents, drawn once (the in-order pairs identical in both
# sets; the others swapped for SOP, given another country's B for NSP); differences below about 0.043 (masked tokens), 0.0625 (the 256
# masked tokens of the in-order pairs) or 0.10 (pair tasks) are within the noise (section 1 prints
# them: the held-out set is the same in every setting).
#
# Embedding size E (Table 3):
#
# | model | parameters | MLM accuracy | ... on in-order pairs | SOP accuracy | NSP accuracy |
# | --- | ---: | ---: | ---: | ---: | ---: |
# | E=8 all-shared | 40,703 | 0.272 | 0.305 | 0.978 | 0.473 |
# | E=16 all-shared | 43,423 | 0.410 | 0.473 | 0.989 | 0.473 |
# | E=32 all-shared | 48,863 | 0.617 | 0.754 | 0.978 | 0.484 |
# | E=64 all-shared | 59,743 | 0.699 | 0.781 | 1.000 | 0.473 |
# | E=8 not-shared | 141,119 | 0.316 | 0.352 | 1.000 | 0.473 |
# | E=16 not-shared | 143,839 | 0.488 | 0.531 | 1.000 | 0.473 |
# | E=32 not-shared | 149,279 | 0.712 | 0.781 | 1.000 | 0.473 |
# | E=64 not-shared | 160,159 | 0.778 | 0.801 | 1.000 | 0.473 |
# | learning nothing | | 0.133 | | 0.527 | 0.527 |
#
# What to share, E=32 (Table 4):
#
# | model | parameters | MLM accuracy | ... on in-order pairs | SOP accuracy | NSP accuracy |
# | --- | ---: | ---: | ---: | ---: | ---: |
# | E=32 all-shared | 48,863 | 0.617 | 0.754 | 0.978 | 0.484 |
# | E=32 shared-FFN | 99,167 | 0.719 | 0.777 | 1.000 | 0.473 |
# | E=32 shared-attention | 98,975 | 0.660 | 0.750 | 0.989 | 0.473 |
# | E=32 not-shared | 149,279 | 0.712 | 0.781 | 1.000 | 0.473 |
#
# NSP or SOP, E=32 all-shared (Table 5):
#
# | model | parameters | MLM accuracy | ... on in-order pairs | SOP accuracy | NSP accuracy |
# | --- | ---: | ---: | ---: | ---: | ---: |
# | trained with SOP | 48,863 | 0.617 | 0.754 | 0.978 | 0.484 |
# | trained with NSP | 48,863 | 0.421 | 0.805 | 0.312 | 0.527 |
#
# What that run printed besides the tables:
#
# ```
# 1716 training and 93 held-out pairs (48% of them in order, the same in both sets); 1500 steps of 16 per model, 14.0 passes over the training pairs
# the best rule on length alone: 0.520 on the training NSP pairs, 0.548 on the held-out ones
# the same rule with a random B of whole sentences of another document: 0.892 on held-out NSP pairs
# not-shared: MLM accuracy rises with E
# all-shared: MLM accuracy rises with E
# ranking by MLM accuracy: shared-FFN ≈ not-shared > shared-attention ≈ all-shared
# NSP model on the SOP task: 0.312; SOP model on the NSP task: 0.484
# trained with SOP: answers label 1 (B does not follow A) on 0% of the in-order pairs, 96% of the swapped pairs, 2% of the random-B pairs
# trained with NSP: answers label 1 (B does not follow A) on 86% of the in-order pairs, 47% of the swapped pairs, 88% of the random-B pairs
# masked tokens of the in-order pairs, NSP model minus SOP model: +0.0508, within the noise (0.0625)
# lesson run time: 327 s (FULL setting)
# nsp_accuracy: 11 of the 11 models are within the noise of learning nothing
# V = 157: the word embeddings are 10.3% of the all-shared E=32 model; everything that scales with E (340 parameters per unit of E) is 22.3%
# ```
#
# How that run compares with the paper:
#
# - **Table 3 (E).** Without sharing, accuracy rises with $E$, as in the paper. With all layers shared
#   it rises too, all the way to $E = H$: the paper's best shared model had $E$ well below $H$, and at
#   this scale there is no sign of that (section 6 says why $E$ weighs more here). Each shared model
#   is below the non-shared model of the same $E$, by 0.04 (at the edge of the noise, $E = 8$) to
#   0.10, with about a third of the parameters, which is the paper's trade.
# - **Table 4 (what to share).** Sharing the feed-forward block (0.719) costs nothing against sharing
#   nothing (0.712); sharing the attention (0.660) or everything (0.617) costs 0.05 to 0.10, beyond
#   the noise, and those two are within it of each other. So here the attention weights are the ones
#   that want to differ between layers. In both of the paper's rows it is the other way round:
#   sharing the attention cost little (at $E = 128$ it even came first) and sharing the
#   feed-forward block cost more (at $E = 768$ the most). Only the $E = 128$ row agrees that sharing
#   everything comes last. A toy corpus and one seed decide little between such close rows
#   (section 6).
# - **Table 5 (NSP or SOP).** Unlike the paper's, neither model solves NSP: the NSP model scores
#   0.527 on the task it was trained on, no more than always answering the more common label, and
#   the SOP model 0.484, taking 98% of the random Bs for continuations. Here a random B differs from
#   the true one only in its facts (section 6), and these models have learnt few facts; the paper's
#   NSP model could see a change of topic. A random B of the other kind gives itself away by its
#   form: with whole sentences of another document, the best length rule alone scores 0.892 on the
#   held-out pairs (printed in section 1), and in an earlier full run of this lesson (started Fri
#   Dec  4 23:54:55 UTC 2026), whose NSP pairs were made that way, the NSP model scored the same
#   0.892 on those held-out pairs. The paper's NSP model is at chance on SOP (52.0%); ours is below
#   chance (0.312 against the 0.527 of learning nothing, beyond the noise). That is not sentence
#   order learnt backwards: having learnt no NSP, it answers "B does not follow A" for most pairs,
#   the in-order ones included (86%: each one an SOP error), and for fewer of the swapped pairs
#   (47%), a kind of pair it never saw. On the in-order pairs, the same
#   examples with the same masks for both, the NSP model scores 0.805 against 0.754: 13 more of the
#   256 masked tokens, a gap of 0.051, within the noise for that many tokens (0.0625). So this run
#   cannot say that the NSP model knows the words better (more seeds would tell). Over all pairs it
#   scores less (0.421): it never saw a swapped pair in training.
#
# ## Exercises
#
# `check` compares an answer with the lesson's own count on several models (the course autograder
# has no exercise for this one); the check itself is shown to accept a right answer and to reject
# known wrong ones. The exercise cell raises `NotImplementedError` until you write its body, and
# its self-check says "not attempted yet" until then.

# %%
def check(exercise, function):
    if exercise == "tied_parameter_count":
        for embedding_size, parts, num_groups in ((16, FFN_PARTS, 4), (32, ATTENTION_PARTS, 4),
                                                  (8, FFN_PARTS + ATTENTION_PARTS, 4), (16, FFN_PARTS, 2)):
            model = AlbertForPreTraining(make_config(embedding_size, groups=num_groups), seed=0)
            groups = tie_layers(model.params, parts)
            expected = model.num_parameters() - sum(model.params[n].size for names in groups for n in names[1:])
            got = function(model.params, parts)
            assert got == expected, f"E={embedding_size}, {num_groups} groups, tied {parts}: got {got}, expected {expected}"
        all_shared = AlbertForPreTraining(make_config(16, groups=1), seed=0).num_parameters()
        assert function(AlbertForPreTraining(make_config(16, groups=4), seed=0).params, FFN_PARTS + ATTENTION_PARTS) == all_shared, \
            "tying every layer weight must give the all-shared count"
    else:
        raise ValueError(f"no exercise called {exercise!r}")


def must_reject(exercise, wrong_answer):
    """The check itself is checked: it must fail on a known wrong answer."""
    try:
        check(exercise, wrong_answer)
    except AssertionError:
        return
    raise RuntimeError(f"the self-check of {exercise} accepted a wrong answer")


def reference_tied_parameter_count(params, tied_parts):  # a right answer (the library has none)
    seen, total = set(), 0
    for name, value in params.items():
        key = GROUP.sub("albert_layer_groups.*.", name) if any(p in name for p in tied_parts) else name
        if key not in seen:
            seen.add(key)
            total += value.size
    return total


# The check itself is checked: it accepts a right answer and rejects known wrong ones.
check("tied_parameter_count", reference_tied_parameter_count)
must_reject('tied_parameter_count', lambda params, parts: sum(value.size for value in params.values()))
must_reject('tied_parameter_count',  # four groups taken for granted: three copies of group 0's tied weights
            lambda params, parts: sum(v.size for v in params.values())
            - 3 * sum(v.size for n, v in params.items() if "albert_layer_groups.0." in n and any(p in n for p in parts)))


# %% [markdown]
# **Exercise 1.** Count the parameters of a non-shared model once some of its layer weights are tied
# across groups (each tied tensor counted once). Tying everything must give the all-shared count.

# %%
def tied_parameter_count(params, tied_parts):
    """params: a non-shared model's parameter dict, its weights already tied by `tie_layers(params,
    tied_parts)` (a weight is tied when its name contains one of the strings `tied_parts`). Returns
    the number of parameters, an int, with each tied tensor counted once."""
    raise NotImplementedError("write tied_parameter_count")


# %%
try:
    check("tied_parameter_count", tied_parameter_count)
    print("Exercise 1: correct.")
except NotImplementedError:
    print("Exercise 1: not attempted yet. Write tied_parameter_count above and run this cell again.")

# %% [markdown]
# **Exercise 2 (no self-check).** Run the Table 3 loop of section 3 with `seed=0, 1, 2` in
# `train_and_evaluate` and plot the mean and the spread of the masked-token accuracy against $E$.
# Which differences of the table are larger than the spread? (The seed changes the initial weights
# and the order of the batches; the masks, pairs and held-out documents stay the same, so the real
# spread is larger still.)
#
# **Exercise 3 (no self-check).** Make the SOP task harder: add a fourth style whose five sentences
# are shuffled for each country with a seeded generator (so order carries no signal there). The
# held-out split of section 1 then changes too, so every number moves: compare the SOP accuracy of
# both models of section 5 on the new style's held-out pairs (about 0.5 is expected) and on the
# others. (The new style's documents do not line up slot for slot, so its NSP pairs mean little.)
#
# Next: lesson 13 puts task heads on the pretrained body and fine-tunes it.
