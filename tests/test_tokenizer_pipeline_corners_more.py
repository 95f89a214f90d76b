"""More corners of the tokenizer and the pipelines, side by side with transformers 4.53.3.

- Characters of pieces (`piece_spans`, which gives token classification its `start` and `end`
  with `stride` or pre-split words): against `AlbertTokenizerFast`'s offsets, converted from the
  same spiece.model, on texts with "\\r\\n", `[MASK]` (which eats the whitespace on its left),
  added tokens that eat whitespace, and characters that compose.
- Token classification around `[MASK]` and "\\r\\n": against Transformers' pipeline with the
  fast tokenizer, on random weights (test_task_pipelines.py's checkpoints).
- The tokenizer's warnings about its options (a lone `max_length`, `verbose=False`): against
  the slow `AlbertTokenizer`'s warnings and log lines.
"""
import logging
import warnings

import pytest

from tinyalbert.task_pipelines import piece_spans
from tinyalbert.tokenizer import AddedToken, AlbertTokenizer

try:
    from test_task_pipelines import assert_same
    from test_token_classification_words import both, directory, fast_tokenizer  # noqa: F401 (a fixture)
except pytest.skip.Exception:  # torch or transformers missing: the comparisons skip
    assert_same = both = directory = fast_tokenizer = None

pytestmark = pytest.mark.reference


def _transformers():
    import transformers

    return transformers


@pytest.fixture(scope="module")
def tokenizer_dir(directory):
    """The checkpoint's tokenizer files (spiece.model and configs written by transformers)."""
    return directory


def _offsets(fast, text):
    encoded = fast(text, return_offsets_mapping=True, add_special_tokens=False)
    return encoded["input_ids"], [tuple(pair) for pair in encoded["offset_mapping"]]


def _assert_spans_match_fast(ours, fast, texts):
    for text in texts:
        fast_ids, fast_offsets = _offsets(fast, text)
        pieces = ours.tokenize(text)
        assert ours.convert_tokens_to_ids(pieces) == fast_ids, f"the premise: same pieces for {text!r}"
        assert piece_spans(text, pieces, ours) == fast_offsets, text


# --- piece characters -----------------------------------------------------------------------------


def test_a_word_after_crlf_starts_at_the_carriage_return_as_in_the_fast_tokenizer(tokenizer_dir):
    """"\\r\\n" is one grapheme, which the fast tokenizer's normaliser turns into one space on
    the "\\r"; a word after it starts there (it started at the "\\n")."""
    ours, fast = AlbertTokenizer.from_pretrained(tokenizer_dir), fast_tokenizer(tokenizer_dir)
    _assert_spans_match_fast(ours, fast, [
        "the old\r\nman", "the\r\n\r\nold man", "old\n\rman", "old\r man", "\r\nthe old", "the \r\n old",
        "the old\r\n\u2603 man",  # a lone "▁" (before an unknown piece) is the "\r"
    ])
    pieces = ours.tokenize("the old\r\nman")
    assert piece_spans("the old\r\nman", pieces, ours)[-1] == (7, 12)  # by hand: "\r\nman" from the "\r"


def test_mask_takes_the_whitespace_on_its_left_as_in_the_fast_tokenizer(tokenizer_dir):
    """`[MASK]` eats the whitespace on its left (lstrip), and the fast tokenizer counts that
    whitespace as its own: "the [MASK]" has the mask at 3..10, not 4..10."""
    ours, fast = AlbertTokenizer.from_pretrained(tokenizer_dir), fast_tokenizer(tokenizer_dir)
    _assert_spans_match_fast(ours, fast, [
        "the [MASK] man", "the  [MASK]  man", "the[MASK] man", "  [MASK] man", "[MASK]", "the old [MASK]",
        "the\t[MASK]", "old [MASK][MASK] man", "old [MASK] [MASK]", "the old\r\n[MASK] man",
    ])
    assert piece_spans("the [MASK] man", ours.tokenize("the [MASK] man"), ours)[1] == (3, 10)


def test_added_tokens_that_eat_whitespace_take_it_in_as_in_the_fast_tokenizer(tokenizer_dir):
    """An added token with lstrip starts at the first whitespace before it, one with rstrip ends
    after the last whitespace after it, so a lone "▁" after it gets the next character."""
    ours, fast = AlbertTokenizer.from_pretrained(tokenizer_dir), fast_tokenizer(tokenizer_dir)
    transformers = _transformers()
    for tokenizer, token_class in ((ours, AddedToken), (fast, transformers.AddedToken)):
        tokenizer.add_tokens([token_class("<l>", lstrip=True, normalized=False),
                              token_class("<b>", lstrip=True, rstrip=True, normalized=False)])
    _assert_spans_match_fast(ours, fast, ["a  <l>  b", "a <b> b", "a\r\n<l> b", "a<b>  b", "the old <b>"])


def test_characters_that_compose_share_their_span(tokenizer_dir):
    """Hangul jamo compose into one syllable (SentencePiece's NFKC), which covers them all, as
    the fast tokenizer's unknown piece does; an accent kept with keep_accents joins its letter."""
    ours, fast = AlbertTokenizer.from_pretrained(tokenizer_dir), fast_tokenizer(tokenizer_dir)
    _assert_spans_match_fast(ours, fast, ["the \u1100\u1161 man", "\u1100\u1161\u11a8 old", "old\u1100\u1161"])
    # By hand: "cafe\u0301 old" is c a f e+accent, then " old"; "é" (one piece) is characters 3..5.
    keeping = AlbertTokenizer.from_pretrained(tokenizer_dir, keep_accents=True)
    text = "cafe\u0301 old"
    pieces = keeping.tokenize(text)
    assert pieces[-2:] == ["\u00e9", "\u2581old"]
    assert piece_spans(text, pieces, keeping)[-2:] == [(3, 5), (5, 9)]


# --- token classification -------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Tokenizer does not support real words:UserWarning")
@pytest.mark.parametrize("strategy", ["none", "simple", "first"])
def test_token_classification_around_mask_and_crlf_matches_transformers(directory, strategy):
    """With `stride`, `start` and `end` of `[MASK]` and of a word after "\\r\\n" are the fast
    tokenizer's; for the word strategies `[MASK]` is a word of its own, as Transformers reads it
    (it was glued to the word before, having no "▁")."""
    ours, theirs = both(directory, model_max_length=16, ignore_labels=[])
    named = {} if strategy == "none" else {"aggregation_strategy": strategy}
    texts = ["the old man [MASK] in the park near [MASK] river and the city",
             "the old man sat [MASK] the park near the river"]
    if strategy != "first":  # Transformers' word guess for "first" takes only " " for a word boundary
        texts.append("the old\r\nman sat in the park near the river and the city")
    for text in texts:
        assert_same(_unglued(ours(text, stride=3, **named)), _unglued(theirs(text, stride=3, **named)),
                    f"{text!r} {strategy}")
    split = ["the", "old", "[MASK]", "man"]
    assert_same([_unglued(result) for result in ours(split, is_split_into_words=True, **named)],
                [_unglued(result) for result in theirs(split, is_split_into_words=True, **named)],
                f"pre-split words {strategy}")


@pytest.mark.filterwarnings("ignore:Tokenizer does not support real words:UserWarning")
@pytest.mark.parametrize("strategy", ["first", "average", "max"])
def test_an_unknown_piece_inside_a_word_is_a_word_of_its_own_as_in_transformers(directory, strategy):
    """A piece SentencePiece does not know ("\u2603\u2603" right after "old") is `<unk>`, and
    Transformers' pipeline makes every `<unk>` token a word (`is_subword` False), whatever is
    before it: for the word strategies "old" and "\u2603\u2603" are two words."""
    ours, theirs = both(directory, model_max_length=16, ignore_labels=[])
    text = "the old\u2603\u2603 man sat in the park"
    pieces = ours.tokenizer.tokenize(text)
    assert ours.tokenizer.convert_tokens_to_ids(pieces)[2] == ours.tokenizer.unk_token_id, pieces  # the premise
    assert [entity["is_subword"] for entity in ours.pre_entities(text)][:4] == [False, False, False, False]
    assert_same(ours(text, stride=3, aggregation_strategy=strategy),
                theirs(text, stride=3, aggregation_strategy=strategy), f"{text!r} {strategy}")


def _unglued(entities):
    """`entities` with the spaces taken out of a group's `word` that holds `[MASK]`: the slow
    tokenizer, which tinyalbert reproduces, decodes "▁sat [MASK] ▁the" as "sat[MASK]the", the
    fast one as "sat[MASK] the"."""
    return [{**entity, "word": entity["word"].replace(" ", "")} if "[MASK]" in entity["word"] else entity
            for entity in entities]


# --- tokenizer warnings -----------------------------------------------------------------------------


class _Logged(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _reference_messages(call):
    """The result of `call()` and what Transformers said meanwhile: warnings and log lines."""
    from transformers.utils import logging as transformers_logging

    handler, logger = _Logged(), transformers_logging.get_logger()  # the library's root logger
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call()
    finally:
        logger.removeHandler(handler)
    said = [str(warning.message) for warning in caught] + handler.messages
    # Transformers logs this on every pair cut by longest_first, asked for overflow or not; tinyalbert
    # refuses return_overflowing_tokens there instead (see encoding.check_options).
    return result, [message for message in said if not message.startswith("Be aware, overflowing tokens")]


def _our_messages(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [str(warning.message) for warning in caught]


def test_a_lone_max_length_truncates_with_a_warning_as_in_transformers(tokenizer_dir):
    """`max_length` without `truncation` (and padding off) truncates "longest_first"; Transformers
    says so ("Truncation was not explicitly activated"), and so does tinyalbert now, unless
    `verbose=False`."""
    transformers = _transformers()
    text, pair = "the old man sat in the park near the river", "and the city is big"
    for args in ((text,), (text, pair), ([text, "a b"],)):
        reference = transformers.AlbertTokenizer.from_pretrained(tokenizer_dir)  # it warns once per tokenizer
        expected, said = _reference_messages(lambda: dict(reference(*args, max_length=7)))
        assert any("Truncation was not explicitly activated" in message for message in said), said
        ours = AlbertTokenizer.from_pretrained(tokenizer_dir)
        result, our_said = _our_messages(lambda: dict(ours(*args, max_length=7)))
        assert result == expected
        assert len(our_said) == 1 and "max_length=7 without truncation" in our_said[0], our_said
        for quiet in (reference, ours):
            call = lambda: dict(quiet(*args, max_length=7, verbose=False))  # noqa: E731
            assert (_reference_messages if quiet is reference else _our_messages)(call) == (expected, [])
    ours = AlbertTokenizer.from_pretrained(tokenizer_dir)
    for explicit in (dict(truncation=True), dict(truncation=False), dict(padding="max_length")):
        assert _our_messages(lambda: ours(text, max_length=7, **explicit))[1] == [], explicit


def test_pad_says_a_lone_max_length_does_nothing_rather_than_that_it_truncates(tokenizer_dir):
    """pad() never cuts: with padding=False a max_length leaves the rows as they are, as
    Transformers' pad leaves them, and the warning says that, not "truncating"."""
    transformers = _transformers()
    reference = transformers.AlbertTokenizer.from_pretrained(tokenizer_dir)
    ours = AlbertTokenizer.from_pretrained(tokenizer_dir)
    texts = ["the old man sat in the park", "a b"]
    expected = dict(reference.pad(dict(reference(texts)), padding=False, max_length=3))
    result, said = _our_messages(lambda: dict(ours.pad(dict(ours(texts)), padding=False, max_length=3)))
    assert result == expected and len(result["input_ids"][0]) > 3  # nothing cut
    assert len(said) == 1 and "max_length=3 does nothing with padding=False: pad never cuts" in said[0], said
    assert "truncating" not in said[0]


def test_verbose_false_silences_the_option_and_length_warnings_as_in_transformers(tokenizer_dir):
    transformers = _transformers()
    text = "the old man sat in the park near the river"
    calls = [dict(padding=True, max_length=5),  # max_length ignored
             dict()]  # longer than model_max_length
    for options in calls:
        reference = transformers.AlbertTokenizer.from_pretrained(tokenizer_dir, model_max_length=6)
        ours = AlbertTokenizer.from_pretrained(tokenizer_dir, model_max_length=6)
        expected, said = _reference_messages(lambda: dict(reference(text, **options)))
        result, our_said = _our_messages(lambda: dict(ours(text, **options)))
        assert result == expected and len(said) == 1 and len(our_said) == 1, (options, said, our_said)
        reference = transformers.AlbertTokenizer.from_pretrained(tokenizer_dir, model_max_length=6)
        assert _reference_messages(lambda: dict(reference(text, verbose=False, **options))) == (expected, [])
        assert _our_messages(lambda: dict(ours(text, verbose=False, **options))) == (expected, [])
    # pad() takes verbose too, as in Transformers.
    encoded = ours(["a", "the old man"])
    assert _our_messages(lambda: ours.pad(encoded, max_length=9, verbose=False))[1] == []
    assert len(_our_messages(lambda: ours.pad(encoded, max_length=9))[1]) == 1


def test_the_option_and_length_warnings_point_at_the_callers_line(tokenizer_dir):
    """Each tokenizer method that warns of its options names the line that called it, however
    deep inside the tokenizer the warning is raised (`encode` goes through `encode_plus`, `pad`
    and `prepare_for_model` do not): Python's `stacklevel` counted from the caller."""
    ours = AlbertTokenizer.from_pretrained(tokenizer_dir, model_max_length=6)
    text = "the old man sat in the park near the river"
    encoded = ours(["a", "the old man"])
    calls = {"__call__": lambda: ours(text, max_length=4), "encode": lambda: ours.encode(text, max_length=4),
             "encode_plus": lambda: ours.encode_plus(text, max_length=4),
             "batch_encode_plus": lambda: ours.batch_encode_plus([text], max_length=4),
             "prepare_for_model": lambda: ours.prepare_for_model([5, 6, 7, 8, 9], max_length=4),
             "pad": lambda: ours.pad(encoded, max_length=9),  # max_length ignored with padding=True
             "too long": lambda: ours.encode(text)}  # longer than model_max_length
    for name, call in calls.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert [warning.filename for warning in caught] == [__file__], (name, [(w.filename, w.lineno) for w in caught])


def test_a_blank_text_padded_to_max_length_is_padded_where_transformers_returns_it_empty(tokenizer_dir):
    """A deliberate difference: Transformers' slow tokenizer leaves a single encoding with no ids
    unpadded (its `pad` returns an empty input as it is), whatever `padding` asks; tinyalbert pads
    it like any other, as Transformers does for the same text inside a batch."""
    transformers = _transformers()
    reference = transformers.AlbertTokenizer.from_pretrained(tokenizer_dir)
    ours = AlbertTokenizer.from_pretrained(tokenizer_dir)
    options = dict(add_special_tokens=False, padding="max_length", max_length=4, truncation=True)
    assert reference("   ", **options)["input_ids"] == []
    assert ours("   ", **options)["input_ids"] == [ours.pad_token_id] * 4
    assert ours("   ", **options)["attention_mask"] == [0] * 4
    assert dict(ours(["   ", "the"], **options)) == dict(reference(["   ", "the"], **options))
