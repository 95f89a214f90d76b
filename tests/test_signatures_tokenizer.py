"""The tokenizer and the pipelines called as Transformers 4.53.3's are called.

Signatures are read from both libraries at run time (`inspect.signature`), and the calls are made
on both: the slow `AlbertTokenizer` on a SentencePiece model trained here (test_pipeline.py's),
and Transformers' pipelines on random weights written by its own `save_pretrained`
(test_task_pipelines.py's checkpoints). Where tinyalbert refuses what Transformers reads
differently or drops without a word, the test says what Transformers does.

Also here: the characters of pieces (`piece_spans`) stay linear in a long run of combining
marks, and read the added tokens through the tokenizer's public `added_tokens_decoder`, so that
Transformers' own slow tokenizer works with them too.
"""
import inspect
import types
import warnings

import pytest

import tinyalbert
from tinyalbert import task_pipelines
from tinyalbert.task_pipelines import normalized_characters, piece_spans
from tinyalbert.tokenizer import AlbertTokenizer

try:
    from test_task_pipelines import assert_same, both, checkpoint, vocabulary  # noqa: F401 (a fixture)
    from test_token_classification_words import fast_tokenizer
except pytest.skip.Exception:  # torch or transformers missing: every test here skips
    assert_same = both = checkpoint = vocabulary = fast_tokenizer = None

pytestmark = pytest.mark.reference

TEXT, PAIR = "the old man sat in the park near the river.", "london is a big city"
MASKED = "the old man sat in the [MASK]."
QUESTION, CONTEXT = "where did the man sit?", "the old man sat in the park near the river . london is a big city"


@pytest.fixture(scope="module")
def transformers():
    module = pytest.importorskip("transformers")
    verbosity = module.logging.get_verbosity()
    module.logging.set_verbosity_error()  # its "Ignoring args" and truncation log lines are expected here
    yield module
    module.logging.set_verbosity(verbosity)


@pytest.fixture(scope="module")
def tokenizers(vocabulary, transformers):
    """(tinyalbert's, transformers') slow tokenizers on the same trained spiece.model."""
    return AlbertTokenizer(vocabulary), transformers.AlbertTokenizer(str(vocabulary))


def _plain(value):
    """Arrays and BatchEncodings as lists and dicts, so that both libraries' outputs compare."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "items"):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


# --- the tokenizer ----------------------------------------------------------------------------------

# Methods whose parameters tinyalbert spells out: Transformers' positional parameters must come
# in the same order, with the same defaults, so that a positional call means the same.
SPELLED_OUT = ["decode", "batch_decode", "pad", "tokenize", "convert_ids_to_tokens", "convert_tokens_to_ids",
               "convert_tokens_to_string", "build_inputs_with_special_tokens", "get_special_tokens_mask",
               "create_token_type_ids_from_sequences", "num_special_tokens_to_add", "add_tokens",
               "add_special_tokens", "save_vocabulary", "save_pretrained", "truncate_sequences", "get_vocab",
               "get_added_vocab"]
# Methods that take their options as keywords: every keyword Transformers names is accepted.
ENCODING_METHODS = ["__call__", "encode", "encode_plus", "batch_encode_plus", "prepare_for_model"]


def _positional(function) -> list[inspect.Parameter]:
    return [parameter for name, parameter in inspect.signature(function).parameters.items()
            if name != "self" and parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]


@pytest.mark.parametrize("name", SPELLED_OUT)
def test_spelled_out_methods_take_transformers_positional_parameters_in_order(transformers, name):
    reference = _positional(getattr(transformers.AlbertTokenizer, name))
    ours = _positional(getattr(AlbertTokenizer, name))
    # convert_tokens_to_string names its argument `tokens` in both; clean_up_tokenization differs only in name
    assert [p.name for p in ours[:len(reference)]] == [p.name for p in reference], name
    assert [p.default for p in ours[:len(reference)]] == [p.default for p in reference], name


def test_truncate_sequences_matches_transformers(tokenizers):
    """Transformers' public `truncate_sequences` (was missing): the same cut and overflow, on
    either side, with a stride; where the sequences are too short, a ValueError where
    Transformers logs an error and leaves them uncut (or empties a pair)."""
    ours, theirs = tokenizers
    ids, compared, refused = [11, 12, 13, 14], 0, 0
    for strategy in ("longest_first", "only_first", "only_second", "do_not_truncate"):
        for side in ("right", "left"):
            ours.truncation_side = theirs.truncation_side = side
            for pair in (None, [21, 22, 23, 24, 25], [21]):
                for count in (0, 1, 2, 3, 4, 9):
                    for stride in (0, 1, 3):
                        expected = theirs.truncate_sequences(list(ids), None if pair is None else list(pair),
                                                             num_tokens_to_remove=count,
                                                             truncation_strategy=strategy, stride=stride)
                        try:
                            got = ours.truncate_sequences(list(ids), pair, count, strategy, stride)
                        except ValueError:
                            refused += 1
                            assert expected[:2] in ((ids, pair), ([], [])), (strategy, side, pair, count, expected)
                            continue
                        assert got == expected, (strategy, side, pair, count, stride)
                        compared += 1
    ours.truncation_side = theirs.truncation_side = "right"
    assert compared > 200 and refused > 0
    enum = transformers_truncation_strategy()
    assert ours.truncate_sequences(ids, None, 1, enum) == theirs.truncate_sequences(ids, None, 1, enum)
    with pytest.raises(ValueError, match="truncation_strategy must be one of"):
        ours.truncate_sequences(ids, None, 1, "longest")


def transformers_truncation_strategy():
    from transformers.tokenization_utils_base import TruncationStrategy

    return TruncationStrategy.ONLY_FIRST


def test_vocab_files_names_match_transformers(tokenizers):
    ours, theirs = tokenizers
    assert type(ours).vocab_files_names == type(theirs).vocab_files_names == {"vocab_file": "spiece.model"}


@pytest.mark.parametrize("name", ENCODING_METHODS)
def test_encoding_methods_take_every_keyword_of_transformers_with_the_same_default(tokenizers, transformers, name):
    """Each keyword parameter of Transformers' method, passed with Transformers' default value,
    is accepted and gives what Transformers gives."""
    ours, theirs = tokenizers
    ids = theirs.convert_tokens_to_ids(theirs.tokenize(TEXT))
    first = ids if name == "prepare_for_model" else [TEXT] if name == "batch_encode_plus" else TEXT
    reference = inspect.signature(getattr(transformers.AlbertTokenizer, name)).parameters
    checked = []
    for parameter in list(reference.values())[2:]:  # after self and the text (or ids)
        if parameter.default is inspect.Parameter.empty or parameter.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        option = {parameter.name: parameter.default}
        expected = _plain(getattr(theirs, name)(first, **option))
        assert _plain(getattr(ours, name)(first, **option)) == expected, option
        checked.append(parameter.name)
    assert {"padding", "truncation", "max_length", "return_tensors"} <= set(checked)


# --- the characters of pieces -------------------------------------------------------------------------


def test_a_long_run_of_combining_marks_takes_linear_time(monkeypatch, vocabulary, tmp_path):
    """Tibetan vowel signs decompose into marks that NFKC reorders, so each one joins the run
    before it: the stretch grew mark by mark, normalised anew each time (quadratic, and NFKC's
    own sort is quadratic in CPython). Counted in characters normalised, deterministically:
    at most a fixed number per character of the text. The spans are the fast tokenizer's."""
    directory = checkpoint(tmp_path, vocabulary, "AlbertModel")
    tokenizer = AlbertTokenizer.from_pretrained(directory, keep_accents=True)
    text = "the old a" + "\u0f73" * 20_000 + " man"
    budget = {"characters": 200 * len(text)}

    def counting_normalize(form, string):
        budget["characters"] -= len(string)
        if budget["characters"] < 0:
            raise AssertionError("normalized_characters normalises more than 200 characters per character of text")
        return real_normalize(form, string)

    import unicodedata

    real_normalize = unicodedata.normalize
    monkeypatch.setattr(task_pipelines, "unicodedata", types.SimpleNamespace(normalize=counting_normalize))
    pieces = tokenizer.tokenize(text)
    spans = piece_spans(text, pieces, tokenizer)
    monkeypatch.undo()
    fast = fast_tokenizer(directory, keep_accents=True)
    encoded = fast(text, return_offsets_mapping=True, add_special_tokens=False)
    assert tokenizer.convert_tokens_to_ids(pieces) == encoded["input_ids"]
    assert spans == [tuple(pair) for pair in encoded["offset_mapping"]]


ORDINARY_TEXTS = ["the old man sat in the park.", "it's a ``quoted'' word, isn't it?", "the  old\tman\r\nsat",
                  "naïve café in são paulo", "Über straße ﬁve ①",
                  "cafe\u0301 a\u0301\u0323 \u1100\u1161\u11a8 old",
                  "ΟΔΟΣ İstanbul", "a\u200bb \x7fc"]


@pytest.mark.parametrize("keep_accents", [False, True])
def test_normalized_characters_keep_their_stretches_on_ordinary_texts(vocabulary, keep_accents):
    """On ordinary texts (runs of marks far shorter than the cap) each stretch is what the
    composition rule of the docstring makes it: every character after the first joins the
    characters before it, and the character after the stretch (not whitespace) does not."""
    tokenizer = AlbertTokenizer(vocabulary, keep_accents=keep_accents)
    composes, joined = task_pipelines._composes, 0
    for text in ORDINARY_TEXTS:
        stretches = sorted({(start, end) for _, start, end in normalized_characters(text, tokenizer)})
        for start, end in stretches:
            if text[start:end + 1] in ("``", "''", "\r\n") or text[start - 1:end] in ("``", "''"):
                continue  # the doubled quote and "\r\n", read as one character by their own rule
            for stop in range(start + 1, end):
                assert composes(text[start:stop], text[stop], tokenizer), (text, start, stop)
            if end < len(text) and not text[end].isspace() and text[end:end + 2] not in ("``", "''"):
                assert not composes(text[start:end], text[end], tokenizer), (text, start, end)
        joined += sum(end - start > 1 for start, end in stretches)
    assert joined >= (3 if keep_accents else 1)  # the rule was at work: the jamo, and the kept accents


def test_piece_spans_read_added_tokens_through_the_public_api(vocabulary, transformers, tmp_path):
    """`piece_spans` asks the tokenizer for `added_tokens_decoder` (Transformers' name, with
    each token's lstrip/rstrip) rather than a private table, so Transformers' own slow tokenizer
    gives the same spans, which are the fast tokenizer's offsets."""
    directory = checkpoint(tmp_path, vocabulary, "AlbertModel")
    added = [transformers.AddedToken("<l>", lstrip=True, normalized=False),
             transformers.AddedToken("<b>", lstrip=True, rstrip=True, normalized=False)]
    ours = AlbertTokenizer.from_pretrained(directory)
    theirs = transformers.AlbertTokenizer.from_pretrained(directory)
    fast = fast_tokenizer(directory)
    for tokenizer in (ours, theirs, fast):
        tokenizer.add_tokens(added)
    for text in ["a  <l>  b", "a <b> b", "the old [MASK] man", "a<b>  b", "the old <b>"]:
        encoded = fast(text, return_offsets_mapping=True, add_special_tokens=False)
        expected = [tuple(pair) for pair in encoded["offset_mapping"]]
        assert piece_spans(text, ours.tokenize(text), ours) == expected, text
        assert piece_spans(text, theirs.tokenize(text), theirs) == expected, text


# --- the pipelines ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def directories(tmp_path_factory, vocabulary):
    """One checkpoint per task, 512 positions (Transformers' question answering reads 384)."""
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    root = tmp_path_factory.mktemp("signatures")
    made = {"fill-mask": ("AlbertForMaskedLM", {}),
            "text-classification": ("AlbertForSequenceClassification", {"num_labels": 3}),
            "token-classification": ("AlbertForTokenClassification", {"id2label": dict(enumerate(tags))}),
            "question-answering": ("AlbertForQuestionAnswering", {}),
            "feature-extraction": ("AlbertModel", {})}
    return {task: checkpoint(root / task, vocabulary, class_name, seed=3, max_position_embeddings=512, **config)
            for task, (class_name, config) in made.items()}


def _both(directories, task, **options):
    if task != "fill-mask":
        return both(task, directories[task], **options)
    import torch
    import transformers

    reference = transformers.pipeline(
        task, model=transformers.AlbertForMaskedLM.from_pretrained(directories[task], torch_dtype=torch.float64),
        tokenizer=transformers.AlbertTokenizer.from_pretrained(directories[task]), **options)
    return tinyalbert.pipeline(task, model=str(directories[task]), dtype="float64", **options), reference


def test_question_answering_reads_dicts_given_one_after_another(directories):
    """`qa(d1, d2)` is two questions, as in Transformers; the second dict was read as the
    context and then silently replaced by the first dict's, so only the first was answered."""
    ours, theirs = _both(directories, "question-answering")
    first = {"question": QUESTION, "context": CONTEXT}
    second = {"question": "what is big?", "context": CONTEXT}
    assert_same(ours(first, second), theirs(first, second), "two dicts")
    assert_same(ours(first, second, first, top_k=2), theirs(first, second, first, top_k=2), "three dicts")
    with pytest.raises(ValueError, match="must each be a"):
        ours(first, second, "a text")


def test_question_answering_refuses_a_context_given_twice(directories):
    """Transformers keeps the dict's context and drops `context=` without a word; here that is
    a ValueError."""
    ours, theirs = _both(directories, "question-answering")
    item = {"question": QUESTION, "context": CONTEXT}
    assert_same(theirs(item, context="london is a big city"), theirs(item), "Transformers drops context=")
    with pytest.raises(ValueError, match="not both"):
        ours(item, context="london is a big city")
    with pytest.raises(ValueError, match="not both"):
        ours(QUESTION, CONTEXT, context=CONTEXT)


@pytest.mark.parametrize("name", ["X", "data"])
def test_question_answering_takes_the_deprecated_x_and_data(directories, name):
    ours, theirs = _both(directories, "question-answering")
    for inputs in ({"question": QUESTION, "context": CONTEXT}, [{"question": QUESTION, "context": CONTEXT}] * 2):
        with pytest.warns(FutureWarning, match=f"{name}"):
            expected = theirs(**{name: inputs})
        with pytest.warns(FutureWarning, match=f"{name}= is deprecated"):
            assert_same(ours(**{name: inputs}), expected, name)


def test_question_answering_takes_topk_and_padding_as_transformers_does(directories, transformers):
    """`topk` is the deprecated `top_k`; `padding` changes nothing with the slow tokenizer (each
    window is padded to max_seq_len). Both at the call and when built."""
    ours, theirs = _both(directories, "question-answering")
    with pytest.warns(UserWarning, match="topk"):
        expected = theirs(question=QUESTION, context=CONTEXT, topk=3)
    with pytest.warns(UserWarning, match="topk is deprecated"):
        assert_same(ours(question=QUESTION, context=CONTEXT, topk=3), expected, "topk")
    for padding in (True, "longest", "max_length", False, transformers.utils.PaddingStrategy.DO_NOT_PAD):
        assert_same(ours(question=QUESTION, context=CONTEXT, padding=padding),
                    theirs(question=QUESTION, context=CONTEXT, padding=padding), f"padding={padding}")
    with pytest.raises(ValueError, match="padding must be"):
        ours(question=QUESTION, context=CONTEXT, padding="left")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ours, theirs = _both(directories, "question-answering", padding="longest", topk=2)
    assert_same(ours(question=QUESTION, context=CONTEXT), theirs(question=QUESTION, context=CONTEXT), "built")


CALLS = {"fill-mask": (MASKED, {"top_k": 2}), "text-classification": (TEXT, {}),
         "token-classification": (TEXT, {}), "question-answering": (None, {"question": QUESTION, "context": CONTEXT}),
         "feature-extraction": (TEXT, {})}


@pytest.mark.parametrize("task", list(CALLS))
def test_every_pipeline_takes_num_workers_as_transformers_does(directories, task):
    """Transformers' pipelines take `num_workers` (its DataLoader's processes) at every call and
    when built; here it is checked and changes nothing. It was refused, by text classification
    with the tokenizer's list of options."""
    inputs, options = CALLS[task]
    arguments = () if inputs is None else (inputs,)
    ours, theirs = _both(directories, task, num_workers=0)
    expected = theirs(*arguments, num_workers=0, **options)
    assert_same(_plain(ours(*arguments, num_workers=0, **options)), _plain(expected), task)
    with pytest.raises(ValueError, match="num_workers must be an int of at least 0"):
        ours(*arguments, num_workers=-1, **options)


def test_pipeline_options_are_keywords_as_in_transformers(directories, transformers):
    """Transformers' fill-mask and token-classification calls take no option by position
    (TypeError), nor does its feature extraction (it ignores one, with a log line; it was read
    here as `tokenize_kwargs` and failed with "'str' object is not a mapping"). `pipeline()`'s
    third positional parameter is Transformers' `config`, here `tokenizer` was: refused."""
    for task, option in (("fill-mask", 2), ("token-classification", "simple")):
        ours, theirs = _both(directories, task)
        with pytest.raises(TypeError, match="positional argument"):
            theirs(CALLS[task][0], option)
        with pytest.raises(TypeError, match="positional argument"):
            ours(CALLS[task][0], option)
    ours, theirs = _both(directories, "feature-extraction")
    assert _plain(theirs(TEXT, {"truncation": True})) == _plain(theirs(TEXT))
    with pytest.raises(TypeError, match="positional argument"):
        ours(TEXT, {"truncation": True})
    assert list(inspect.signature(transformers.pipeline).parameters)[:3] == ["task", "model", "config"]
    tokenizer = AlbertTokenizer.from_pretrained(directories["fill-mask"])
    with pytest.raises(TypeError, match="positional argument"):
        tinyalbert.pipeline("fill-mask", str(directories["fill-mask"]), tokenizer)
