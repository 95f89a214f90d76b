"""Hypothesis strategies and a training corpus for the tokenizer tests.

The fragments are the inputs where ALBERT's preprocessing has rules of its own: whitespace runs,
accents, the ```` `` ```` / ``''`` quotes, digits followed by commas, full-width forms (NFKD turns
them into ASCII), characters outside the vocabulary, and special tokens written into the text.
"""
import random

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


@st.composite
def texts(draw, max_fragments: int = 14) -> str:
    """A string of fragments, glued together directly or with whitespace."""
    fragments = draw(st.lists(_fragment, max_size=max_fragments))
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
