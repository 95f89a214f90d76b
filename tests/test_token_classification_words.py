"""Token classification of pre-split words (`is_split_into_words`, `delimiter`) and of long texts
in overlapping windows (`stride`), against transformers 4.53.3's pipeline.

Transformers offers both only with a fast tokenizer, so the reference here is its pipeline with
`AlbertTokenizerFast` converted (offline) from the same spiece.model as tinyalbert's slow
tokenizer, on random AlbertForTokenClassification weights (test_task_pipelines.py's checkpoints).
The words are plain lower-case ASCII that both tokenizers cut into the same pieces. Both sides
run in float64; scores agree within test_task_pipelines.TOLERANCE.

Where tinyalbert keeps its own word rule (a word is a `▁` piece and the pieces after it), the
expected output is transformers' own code run on its fast pieces with that rule in place of its
guess from spaces.
"""
import warnings

import numpy as np
import pytest

import tinyalbert
from tinyalbert.task_pipelines import piece_spans

try:
    from test_task_pipelines import TAGS, _needs_reference, assert_same, checkpoint, train_vocabulary
except pytest.skip.Exception:  # torch or transformers missing: every test here skips
    TAGS = train_vocabulary = None

pytestmark = [pytest.mark.reference,  # every test compares with transformers' pipeline
              # Transformers' word guess for a tokenizer without word boundaries (ALBERT's fast one)
              pytest.mark.filterwarnings("ignore:Tokenizer does not support real words:UserWarning")]

# Words both tokenizers cut alike, each one `▁` piece with or without pieces after it ("many" is
# "▁man" "y"), so that transformers' word guess and tinyalbert's marker rule agree on them.
WORDS = "the older man sat in many parks near the bigger river and the redder books of london".split()
LONG_TEXT = " ".join(WORDS + "the old man sat in the park near the tables and the city is big".split())
WINDOW = 16  # model_max_length for the stride tests: 14 pieces and [CLS] [SEP] per window
STRATEGIES = ["none", "simple", "first", "average", "max"]


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    _needs_reference()
    vocabulary = train_vocabulary(tmp_path_factory.mktemp("words-vocab"))
    # Seed 6 tags these words with several labels (B- and I- of both types, and O), so grouping
    # and the choice between overlapping entities have something to decide.
    return checkpoint(tmp_path_factory.mktemp("words"), vocabulary, "AlbertForTokenClassification", seed=6,
                      id2label=dict(enumerate(TAGS)))


def fast_tokenizer(directory, **options):
    _, transformers = _needs_reference()
    try:
        return transformers.AlbertTokenizerFast.from_pretrained(directory, **options)
    except (ImportError, ValueError) as error:  # the conversion needs sentencepiece and protobuf
        pytest.skip(f"cannot convert spiece.model to a fast tokenizer here: {error}")


def both(directory, model_max_length=None, **options):
    """tinyalbert's pipeline and transformers' with the fast tokenizer, on the same checkpoint."""
    torch, transformers = _needs_reference()
    limit = {} if model_max_length is None else {"model_max_length": model_max_length}
    model = transformers.AlbertForTokenClassification.from_pretrained(directory, torch_dtype=torch.float64)
    theirs = transformers.pipeline("token-classification", model=model, tokenizer=fast_tokenizer(directory, **limit),
                                   **options)
    ours = tinyalbert.pipeline("token-classification", model=str(directory), dtype="float64", **options)
    if model_max_length is not None:
        ours.tokenizer.model_max_length = model_max_length
    return ours, theirs


def test_fast_tokenizer_cuts_the_test_words_as_the_slow_one_does(directory):
    """The premise of the comparisons: same pieces, and piece_spans gives the fast offsets."""
    ours = tinyalbert.AlbertTokenizer.from_pretrained(directory)
    fast = fast_tokenizer(directory)
    texts = [LONG_TEXT, " ".join(WORDS), "the  old   man", "  the old", "The Old MAN", "the \u2603\u2603 sat x",
             "caf\u00e9 old", "a\tb\nc", "the ``old'' man",
             "the\u200bold man", "the \ufeffold\u200e man\x7f sat"]  # characters SentencePiece deletes
    for text in texts:
        encoded = fast(text, return_offsets_mapping=True, add_special_tokens=False)
        pieces = ours.tokenize(text)
        assert ours.convert_tokens_to_ids(pieces) == encoded["input_ids"], text
        assert piece_spans(text, pieces, ours) == [tuple(pair) for pair in encoded["offset_mapping"]], text
    assert any(len(ours.tokenize(word)) > 1 for word in WORDS), "some words should have several pieces"
    assert len(ours.tokenize(LONG_TEXT)) > 2 * (WINDOW - 2), "the long text should need three windows or more"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_split_words_match_transformers(directory, strategy):
    ours, theirs = both(directory, aggregation_strategy=strategy)
    tags = {entity["entity"] for entity in ours(WORDS, is_split_into_words=True, aggregation_strategy="none",
                                                 ignore_labels=[])[0]}
    assert len(tags) >= 3, f"the random model should give several tags, got {tags}"
    batch = [WORDS, ["a", "big", "city"], WORDS[3:9]]
    for call in (dict(), dict(ignore_labels=[]), dict(delimiter=", "), dict(delimiter="  ", ignore_labels=[])):
        one = ours(WORDS, is_split_into_words=True, **call)
        assert_same(one, theirs(WORDS, is_split_into_words=True, **call), f"one list of words {call}")
        assert len(one) == 1, "one list of words gives a list around its result, as in Transformers"
        assert_same(ours(batch, is_split_into_words=True, **call), theirs(batch, is_split_into_words=True, **call),
                    f"a list of lists {call}")
    if strategy == "none":  # start and end count in the joined words, the delimiter left out
        joined = ", ".join(WORDS)
        for entity in ours(WORDS, is_split_into_words=True, delimiter=", ", ignore_labels=[])[0]:
            assert joined[entity["start"]:entity["end"]] == entity["word"].lstrip("\u2581"), entity


@pytest.mark.parametrize("strategy", ["none", "simple"])
def test_unknown_pieces_and_any_delimiter_match_transformers_per_token(directory, strategy):
    """Without word aggregation any delimiter matches, and an unknown piece is named by its characters."""
    ours, theirs = both(directory, aggregation_strategy=strategy, ignore_labels=[])
    words = ["the", "\u2603", "old", "x", "man"]
    for delimiter in ("|", "", " ", " -- "):
        result = ours(words, is_split_into_words=True, delimiter=delimiter)
        reference = theirs(words, is_split_into_words=True, delimiter=delimiter)
        # The one difference in `word`: a group that ends in a lone "▁" piece (here "x" is "▁"
        # then an unknown piece) decodes with a space at its end in the fast tokenizer; the slow
        # one, which tinyalbert reproduces, strips it.
        for entity in reference[0]:
            entity["word"] = entity["word"].rstrip(" ") if "entity_group" in entity else entity["word"]
        assert_same(result, reference, f"delimiter {delimiter!r}")
    if strategy == "none":
        assert "\u2603" in [entity["word"] for entity in result[0]]


def expected_with_marker_words(theirs, words, delimiter, strategy):
    """Transformers' own pipeline steps on its fast pieces, with tinyalbert's word rule (a piece
    starts a word when it starts with `▁`) in place of its guess from the characters around it."""
    from transformers.pipelines.token_classification import AggregationStrategy

    model_inputs = next(iter(theirs.preprocess(words, is_split_into_words=True, delimiter=delimiter)))
    outputs = theirs.forward(model_inputs)
    logits = outputs["logits"][0].numpy()
    scores = np.exp(logits - logits.max(-1, keepdims=True))
    scores /= scores.sum(-1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Tokenizer does not support real words"
        pre = theirs.gather_pre_entities(outputs["sentence"], outputs["input_ids"][0], scores,
                                         outputs["offset_mapping"][0], outputs["special_tokens_mask"][0].numpy(),
                                         AggregationStrategy[strategy.upper()], word_ids=outputs["word_ids"],
                                         word_to_chars_map=outputs["word_to_chars_map"])
    for entity in pre:
        entity["is_subword"] = not theirs.tokenizer.convert_ids_to_tokens(
            int(outputs["input_ids"][0][entity["index"]])).startswith("\u2581")
    return [group for group in theirs.aggregate(pre, AggregationStrategy[strategy.upper()])
            if group["entity_group"] != "O"]


@pytest.mark.parametrize("strategy", ["first", "average", "max"])
def test_word_aggregation_keeps_marker_words_where_transformers_guesses(directory, strategy):
    """With ALBERT's fast tokenizer Transformers guesses words from spaces: a lone `▁` piece
    ("cities" is "▁" "c" "i" ...) becomes a word of its own, and after a delimiter with no
    space every word joins the one before. tinyalbert's words are the `▁`-marked ones."""
    ours, theirs = both(directory, aggregation_strategy=strategy)
    words = ["cities", "sitting", "the", "older", "man", "in", "many", "parks"]
    differs = False
    for delimiter in (" ", "|", ""):
        expected = expected_with_marker_words(theirs, words, delimiter, strategy)
        assert_same(ours(words, is_split_into_words=True, delimiter=delimiter), [expected], f"delimiter {delimiter!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            reference = theirs(words, is_split_into_words=True, delimiter=delimiter)
        differs = differs or [group["word"] for group in reference[0]] != [group["word"] for group in expected]
    assert differs, "Transformers' word guess should differ here, or docs/parity.md overstates the difference"


@pytest.mark.parametrize("strategy", ["simple", "first", "average", "max"])
def test_stride_windows_match_transformers(directory, strategy):
    ours, theirs = both(directory, model_max_length=WINDOW, aggregation_strategy=strategy)
    cut = ours(LONG_TEXT, ignore_labels=[])  # no stride: the first window only, without characters
    assert cut[-1]["end"] is None
    for stride in (0, 1, 4, 7, WINDOW - 3):
        for call in (dict(), dict(ignore_labels=[])):
            result = ours(LONG_TEXT, stride=stride, **call)
            assert_same(result, theirs(LONG_TEXT, stride=stride, **call), f"stride={stride} {call}")
        assert result[-1]["end"] == len(LONG_TEXT), "the windows should reach the end of the text"
    words = LONG_TEXT.split()
    assert_same(ours(words, is_split_into_words=True), theirs(words, is_split_into_words=True), "words cut")
    assert_same(ours(words, is_split_into_words=True, stride=5, ignore_labels=[]),
                theirs(words, is_split_into_words=True, stride=5, ignore_labels=[]), "words in windows")
    assert_same(ours([LONG_TEXT, "the old man"], stride=4), theirs([LONG_TEXT, "the old man"], stride=4), "a list")
    # Given to pipeline(), stride is every call's.
    ours_built, theirs_built = both(directory, model_max_length=WINDOW, aggregation_strategy=strategy, stride=4)
    assert_same(ours_built(LONG_TEXT), theirs_built(LONG_TEXT), "stride given to pipeline()")


def test_stride_with_a_default_none_strategy_runs_as_in_transformers(directory):
    """Transformers refuses stride only beside aggregation_strategy="none" named in the same call
    (or pipeline()); a pipeline built with stride alone tags tokens window by window, the
    overlapping ones merged, each with its index in its window."""
    ours, theirs = both(directory, model_max_length=WINDOW, stride=4)
    result = ours(LONG_TEXT, ignore_labels=[])
    assert_same(result, theirs(LONG_TEXT, ignore_labels=[]))
    assert len(result) == len(tinyalbert.AlbertTokenizer.from_pretrained(directory).tokenize(LONG_TEXT))
    built_none, _ = both(directory, model_max_length=WINDOW, aggregation_strategy="none")
    assert_same(built_none(LONG_TEXT, stride=4, ignore_labels=[]), result, "stride per call, none built in")


def test_split_options_given_to_pipeline_are_the_calls_defaults(directory):
    """A difference: Transformers' calls read is_split_into_words=False unless they name it, so
    its pipeline-level option changes nothing; here it is the calls' default. A generator of
    word lists gives an iterator of results (Transformers' list check uses up the generator)."""
    ours, theirs = both(directory, aggregation_strategy="simple")
    built = tinyalbert.pipeline("token-classification", model=str(directory), dtype="float64",
                                aggregation_strategy="simple", is_split_into_words=True, delimiter=", ")
    expected = theirs([WORDS, WORDS[:4]], is_split_into_words=True, delimiter=", ")
    assert_same(built([WORDS, WORDS[:4]]), expected, "built with the options")
    assert_same(built(WORDS, delimiter=" "), theirs(WORDS, is_split_into_words=True), "a call's delimiter wins")
    streamed = ours((words for words in [WORDS, WORDS[:4]]), is_split_into_words=True, delimiter=", ")
    assert not isinstance(streamed, list)
    assert_same(list(streamed), expected, "a generator of word lists")
    assert_same(built(["the old man"], is_split_into_words=False), ours(["the old man"]), "a call may turn it off")


def slow_reference(directory, **options):
    """Transformers' pipeline with the slow tokenizer, the one tinyalbert reproduces."""
    torch, transformers = _needs_reference()
    model = transformers.AlbertForTokenClassification.from_pretrained(directory, torch_dtype=torch.float64)
    tokenizer = transformers.AlbertTokenizer.from_pretrained(directory, model_max_length=WINDOW)
    return transformers.pipeline("token-classification", model=model, tokenizer=tokenizer, **options)


def test_stride_errors_match_transformers(directory):
    ours, theirs = both(directory, model_max_length=WINDOW, aggregation_strategy="simple")
    with pytest.raises(ValueError, match="fast tokenizer"):  # why tinyalbert finds the characters itself
        slow_reference(directory, aggregation_strategy="simple")(LONG_TEXT, stride=4)
    for stride in (WINDOW, WINDOW + 5):
        with pytest.raises(ValueError, match="`stride` must be less than `tokenizer.model_max_length`"):
            theirs(LONG_TEXT, stride=stride)
        with pytest.raises(ValueError, match="`stride` must be less than `tokenizer.model_max_length`"):
            ours(LONG_TEXT, stride=stride)
    # Below model_max_length but not below a window's 14 pieces: Transformers' tokenizer fails
    # (a ValueError, or a Rust panic at exactly 14); here a ValueError before any work.
    for stride in (WINDOW - 2, WINDOW - 1):
        with pytest.raises(BaseException):
            theirs(LONG_TEXT, stride=stride)
        with pytest.raises(ValueError, match="pieces a window holds"):
            ours(LONG_TEXT, stride=stride)
    for call in (dict(aggregation_strategy="none"), dict(grouped_entities=False)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # grouped_entities is deprecated
            with pytest.raises(ValueError, match="`stride` was"):
                theirs(LONG_TEXT, stride=2, **call)
            with pytest.raises(ValueError, match="`stride` was"):
                ours(LONG_TEXT, stride=2, **call)
    with pytest.raises(ValueError, match="`stride` was"):
        tinyalbert.pipeline("token-classification", model=str(directory), stride=2, aggregation_strategy="none")
    for stride in (-1, True, 2.0):
        with pytest.raises(ValueError, match="stride must be an int"):
            ours(LONG_TEXT, stride=stride)
    with pytest.raises(ValueError, match="offset_mapping cannot be combined"):
        ours("the old man", stride=2, offset_mapping=[(0, 0), (0, 3), (3, 7), (7, 11), (0, 0)])


def test_split_words_errors_match_transformers(directory):
    ours, theirs = both(directory)
    with pytest.raises(ValueError, match="fast tokenizer"):  # why tinyalbert finds the characters itself
        slow_reference(directory)(WORDS, is_split_into_words=True)
    for inputs in ("the old man", tuple(WORDS), (WORDS, WORDS)):
        with pytest.raises(ValueError, match="is_split_into_words=True"):
            theirs(inputs, is_split_into_words=True)
        with pytest.raises(ValueError, match="is_split_into_words=True"):
            ours(inputs, is_split_into_words=True)
    with pytest.raises(ValueError):
        theirs([], is_split_into_words=True)
    with pytest.raises(ValueError, match="is_split_into_words=True"):
        ours([], is_split_into_words=True)
    with pytest.raises(TypeError):  # Transformers fails joining the words
        theirs([WORDS, "the"], is_split_into_words=True)
    for inputs in ([WORDS, "the"], [["the", 3]]):
        with pytest.raises(ValueError, match="is_split_into_words=True"):
            ours(inputs, is_split_into_words=True)
    with pytest.raises(ValueError, match="is_split_into_words=False"):
        theirs([WORDS])
    with pytest.raises(ValueError, match="is_split_into_words=True"):  # the error says how
        ours([WORDS])
    with pytest.raises(ValueError, match="delimiter must be a str"):
        ours(WORDS, is_split_into_words=True, delimiter=3)
    with pytest.raises(ValueError, match="offset_mapping cannot be combined"):
        ours(WORDS[:2], is_split_into_words=True, offset_mapping=[(0, 0), (0, 3), (4, 9), (0, 0)])
    assert_same(ours([[], WORDS[:3]], is_split_into_words=True), theirs([[], WORDS[:3]], is_split_into_words=True))
