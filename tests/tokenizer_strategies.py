"""Hypothesis strategies, a training corpus and the shared fixtures of the tokenizer tests.

The fragments are the inputs where ALBERT's preprocessing has rules of its own: whitespace runs,
accents, the ```` `` ```` / ``''`` quotes, digits followed by commas, full-width forms (NFKD turns
them into ASCII), characters outside the vocabulary, and special tokens written into the text.
"""
import random

import pytest
from hypothesis import strategies as st

WORDS = ["the", "The", "model", "ALBERT", "shares", "layers", "across", "depth", "it's", "don't", "Hello",
         "world", "token", "pieces", "a", "I", "e-mail", "U.S.", "co-op", "reading", "unbelievable"]
ACCENTED = ["café", "naïve", "résumé", "Ångström", "Zürich", "São", "Paulo", "façade", "crème", "brûlée",
            "ΟΔΟΣ", "Σοφία", "İstanbul", "straße", "Dvořák", "ﬁne"]
NUMBERS = ["1,000", "3.14", "9,", "12,345,678", "2,5", ",5", "1,", "42", "0.5%", "$1,200.50", "²,", "٣,", "①,",
           "１，", "9，", "7﹐"]
QUOTES = ["``", "''", "`", "'", '"', "“", "”", "‘", "’", "«", "»"]
PUNCTUATION = [".", ",", "!", "?", ";", ":", "(", ")", "-", "–", "—", "...", "/", "&", "#", "£", "€", "%"]
NON_LATIN = ["日本語", "中文", "한국어", "Привет", "مرحبا", "😀", "👍🏽", "🇫🇷", "☃", "∑", "⅀", "ℌ", "µ"]
FULL_WIDTH = ["ＡＢＣ", "ｆｕｌｌ", "１，０００", "（ｘ）", "［ＭＡＳＫ］", "Ｔｅｓｔ"]
SPECIAL_IN_TEXT = ["[MASK]", "[CLS]", "[SEP]", "<pad>", "<unk>", "<PAD>", "<Unk>", "[mask]", "[MASK"]
WHITESPACE = [" ", "  ", "\t", "\n", " \n ", "\u3000", "\xa0", "\u2009", "\r\n", "\x85", "\x1c"]

_fragment = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(ACCENTED),
    st.sampled_from(NUMBERS),
    st.sampled_from(QUOTES),
    st.sampled_from(PUNCTUATION),
    st.sampled_from(NON_LATIN),
    st.sampled_from(FULL_WIDTH),
    st.sampled_from(SPECIAL_IN_TEXT),
    st.sampled_from(WHITESPACE),
    st.text(max_size=4),  # anything at all, surrogates excluded
)


# Tokens to add: new words, pieces already in the vocabulary, special tokens, tokens that overlap
# ("<x>" inside "<x>y"), that differ only in case, and that hold accents, digits and commas.
ADDED_TOKEN_POOL = ["<ent>", "<ENT>", "NEWword", "new", "newer", "hello", "the", "▁the", "[MASK]", "[CLS]", "<pad>",
                    "<x>", "<x>y", "x>", "ÉCOLE", "café", "9,", "☃☃", "<unk>", "s", "-"]


@st.composite
def texts(draw, max_fragments: int = 14, extra_fragments=()) -> str:
    """A string of fragments, glued together directly or with whitespace."""
    fragment = _fragment
    if extra_fragments:
        fragment = st.one_of(_fragment, st.sampled_from(list(extra_fragments)),
                             st.sampled_from([f.upper() for f in extra_fragments]))
    fragments = draw(st.lists(fragment, max_size=max_fragments))
    glues = draw(st.lists(st.sampled_from(["", " ", " ", "  ", "\t", "\n"]), min_size=len(fragments),
                          max_size=len(fragments)))
    return "".join(glue + fragment for glue, fragment in zip(glues, fragments))


def training_corpus(n_sentences: int = 400, seed: int = 0) -> list[str]:
    """A deterministic corpus that holds every kind of fragment above, so each gets pieces of its own."""
    rng = random.Random(seed)
    pools = [WORDS] * 6 + [ACCENTED, NUMBERS, QUOTES, PUNCTUATION, NON_LATIN, FULL_WIDTH]
    sentences = []
    for _ in range(n_sentences):
        n_words = rng.randint(4, 14)
        words = [rng.choice(rng.choice(pools)) for _ in range(n_words)]
        words.append(f"{rng.randint(0, 99_999):,}")
        rng.shuffle(words)
        sentences.append(" ".join(words) + rng.choice([".", "!", "?", ""]))
    return sentences


@pytest.fixture(scope="session")
def transformers():
    """transformers 4.53.3, the reference; a test that takes it skips without it (and carries
    `@pytest.mark.reference`, the suite's mark for comparisons with transformers)."""
    return pytest.importorskip("transformers")


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory):
    """Two small vocabularies trained on the generated corpus: lower-cased, and cased with accents."""
    from tinyalbert.tokenizer import train_sentencepiece

    out_dir = tmp_path_factory.mktemp("spm")
    corpus = training_corpus()
    return {
        "trained-lower": train_sentencepiece(corpus, out_dir / "lower", 400, seed=0),
        "trained-cased": train_sentencepiece(corpus, out_dir / "cased", 400, seed=0, do_lower_case=False,
                                             keep_accents=True),
    }
