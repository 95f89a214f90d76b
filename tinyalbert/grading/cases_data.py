"""Cases for the checks without gradients: text preprocessing, n-gram masking inputs, SOP
documents and optimizer steps. Same convention as `cases_nn`: builders take `(rng, draws)`."""
from __future__ import annotations

import numpy as np

from .cases_nn import Case, normal

# --- text ----------------------------------------------------------------------------------------
TEXTS = [
    ("collapse whitespace", "  Hello \t  World\n again ", dict(remove_space=True, keep_accents=False, do_lower_case=True)),
    ("keep the spaces when remove_space=False", " a  b ", dict(remove_space=False, keep_accents=False, do_lower_case=True)),
    ("two backticks and two quotes become \"", "``quoted''", dict(remove_space=True, keep_accents=False, do_lower_case=False)),
    ("drop accents (NFKD, combining marks)", "Café naïve Ångström", dict(remove_space=True, keep_accents=False, do_lower_case=True)),
    ("keep accents when asked", "Café", dict(remove_space=True, keep_accents=True, do_lower_case=True)),
    ("no lower-casing when do_lower_case=False", "MiXeD Case", dict(remove_space=True, keep_accents=False, do_lower_case=False)),
    ("compatibility forms (NFKD): ligature and superscript", "ﬁne x²", dict(remove_space=True, keep_accents=False, do_lower_case=True)),
]


def preprocess_cases(rng, draws):
    cases = [Case(name, [text], flags) for name, text, flags in TEXTS]
    letters = list("abcAB éü  `'")
    for i in range(draws):
        text = "".join(rng.choice(letters, size=int(rng.integers(1, 16))))
        flags = dict(remove_space=bool(rng.random() < 0.5), keep_accents=bool(rng.random() < 0.5), do_lower_case=bool(rng.random() < 0.5))
        cases.append(Case(f"random draw {i + 1}: {text!r}", [text], flags))
    return cases


def split_digit_comma_cases(rng, draws):
    pieces = ["\u25819,", "9,", "\u25811999,", "12,", "\u2581123456,"]
    pieces += [("\u2581" if rng.random() < 0.5 else "") + str(int(rng.integers(0, 10 ** int(rng.integers(1, 6))))) + ","
               for _ in range(draws)]
    return [Case(f"piece {piece!r}", [piece]) for piece in pieces]


def digit_comma_cases(rng, draws):
    texts = [["paid 9, then 10"], ["in 1999, we met", "no digits here, ok"], ["a9,b and 10,000,"], ["plain text"]]
    words = ["7,", "the", "42,", "x", "3", "1,000", ",", "ok,"]
    texts += [[" ".join(rng.choice(words, size=int(rng.integers(1, 7))))] for _ in range(draws)]
    return [Case(f"texts {batch!r}", [batch]) for batch in texts]


# --- long inputs in windows (fine-tuning) ----------------------------------------------------------
def window_cases(rng, draws):
    """(length, width, doc_stride) of `window_starts`: what fits one window, what fits it exactly,
    one piece more, no overlap, the widest overlap, an empty context; then random draws."""
    fixed = [(0, 5, 2), (5, 5, 2), (6, 5, 2), (10, 5, 0), (11, 4, 3), (30, 8, 3), (7, 1, 0), (128, 60, 20)]
    drawn = []
    for _ in range(draws):
        width = int(rng.integers(1, 20))
        drawn.append((int(rng.integers(0, 80)), width, int(rng.integers(0, width))))
    return [Case(f"length {length}, width {width}, doc_stride {stride}", [length, width, stride])
            for length, width, stride in fixed + drawn]


class PieceCounter:
    """A tokenizer stand-in for the tagged windows: word "w3" is three pieces."""

    cls_token_id, sep_token_id, unk_token_id = 2, 3, 1  # as in ALBERT vocabularies

    def tokenize(self, text):
        return ["piece"] * int(text[1:])

    def convert_tokens_to_ids(self, tokens):
        return [5] * len(tokens)


def tagged_window_cases(rng, draws):
    """(examples, features, predictions, labels) of `sentence_tags`: sentences of words of one to
    three pieces, cut into windows by tinyalbert's `encode_tagged_words` (a small max_length, so
    that most words are in two windows), and a random label id predicted at each word of each
    window, so that which window a word's tag comes from shows in the answer."""
    from tinyalbert.task_data import encode_tagged_words

    labels = ["O", "B-X", "I-X", "B-Y"]
    cases = []
    for index in range(draws + 4):
        examples, features = [], []
        for sentence in range(int(rng.integers(1, 4))):
            words = [f"w{int(rng.integers(1, 4))}" for _ in range(int(rng.integers(1, 30)))]
            max_length = int(rng.integers(5, 14))
            stride = int(rng.integers(1, max_length - 2))
            for feature in encode_tagged_words(words, ["O"] * len(words), PieceCounter(), max_length, None, stride):
                features.append({**feature, "sentence": sentence})
            examples.append({"tokens": words, "tags": ["O"] * len(words)})
        predictions = [[int(rng.integers(0, len(labels))) for _ in feature["word_ids"]] for feature in features]
        cases.append(Case(f"draw {index + 1}: {len(examples)} sentence(s), {len(features)} window(s)",
                          [examples, features, predictions, labels]))
    return cases


# --- pretraining data ----------------------------------------------------------------------------
VOCAB = 60
PAD, CLS, SEP, MASK = 0, 2, 3, 4


def special_ids():
    from tinyalbert.train.masking import SpecialIds

    return SpecialIds(cls=CLS, sep=SEP, mask=MASK, pad=PAD)


def word_starts(rng, vocab=VOCAB):
    """A (vocab,) bool mask: about a third of the ids continue a word."""
    starts = rng.random(vocab) < 0.65
    starts[[PAD, CLS, SEP, MASK]] = True
    return starts


def example_tokens(rng, length, vocab=VOCAB):
    """[CLS] A [SEP] B [SEP] with ids drawn from the non-special part of the vocabulary."""
    body = rng.integers(5, vocab, size=max(2, length - 3))
    cut = int(rng.integers(1, len(body)))
    return np.array([CLS, *body[:cut], SEP, *body[cut:], SEP], dtype=np.int64)


def group_into_words_cases(rng, draws):
    starts = word_starts(rng)
    cases = [
        Case("every token a word (is_word_start=None)", [example_tokens(rng, 9), special_ids(), None]),
        Case("word pieces join the word before them", [example_tokens(rng, 12), special_ids(), starts]),
        Case("a continuation piece right after [SEP] starts a word",
             [np.array([CLS, 5, SEP, int(np.flatnonzero(~starts)[0]), 6, SEP]), special_ids(), starts]),
        Case("padding and [MASK] are not maskable", [np.array([CLS, 7, MASK, 8, SEP, PAD, PAD]), special_ids(), None]),
    ]
    for i in range(draws):
        cases.append(Case(f"random draw {i + 1}", [example_tokens(rng, int(rng.integers(4, 20))), special_ids(),
                                                   starts if rng.random() < 0.5 else None]))
    return cases


def sop_document(rng, sentences, vocab_start=5):
    """A document whose token ids are its token positions (+ vocab_start), so order can be checked."""
    lengths = rng.integers(1, 8, size=sentences)
    document, next_id = [], vocab_start
    for length in lengths:
        document.append(list(range(next_id, next_id + int(length))))
        next_id += int(length)
    return document


# --- optimizers ----------------------------------------------------------------------------------
def optimizer_params(rng, names):
    shapes = {"dense.weight": (3, 4), "word_embeddings.weight": (5, 2), "dense.bias": (3,),
              "LayerNorm.weight": (4,), "LayerNorm.bias": (4,), "full_layer_layer_norm.weight": (4,)}
    params = {f"layer.{name}": normal(rng, *shapes[name]) for name in names}
    grads = {name: normal(rng, *value.shape, scale=0.1) for name, value in params.items()}
    return params, grads


def optimizer_cases(rng, draws, names, default_eps):
    def case(name, steps, weight_decay=0.01, lr=1e-2, betas=(0.9, 0.999), eps=default_eps, zero=False):
        params, _ = optimizer_params(rng, names)
        if zero:
            params = {k: np.zeros_like(v) for k, v in params.items()}
        sequence = []
        for _ in range(steps):  # the grader passes the same params each step: each step is checked on its own
            sequence.append((params, optimizer_params(rng, names)[1], lr))
        return Case(name, sequence, {"init": {"betas": betas, "eps": eps, "weight_decay": weight_decay}})

    cases = [case("one step, weight_decay 0.01", 1), case("three steps (bias correction at t = 1, 2, 3)", 3),
             case("no weight decay, betas (0.8, 0.99)", 2, weight_decay=0.0, betas=(0.8, 0.99)),
             case("all-zero parameters", 1, zero=True)]
    cases += [case(f"random draw {i + 1}", int(rng.integers(1, 4)), weight_decay=float(rng.uniform(0, 0.1)),
                   lr=float(10 ** rng.uniform(-4, -1))) for i in range(draws)]
    return cases


DECAYED = ("dense.weight", "word_embeddings.weight")
NOT_DECAYED = ("dense.bias", "LayerNorm.weight", "LayerNorm.bias", "full_layer_layer_norm.weight")


def adamw_update_cases(rng, draws):
    return optimizer_cases(rng, draws, DECAYED, 1e-8)


def adamw_no_decay_cases(rng, draws):
    return optimizer_cases(rng, draws, NOT_DECAYED, 1e-8)


def lamb_update_cases(rng, draws):
    return optimizer_cases(rng, draws, DECAYED, 1e-6)


def lamb_no_decay_cases(rng, draws):
    return optimizer_cases(rng, draws, NOT_DECAYED, 1e-6)
