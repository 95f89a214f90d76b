"""Corners of the tokenizer and pipeline API found by the tokenizer audit, against transformers
4.53.3's slow ``AlbertTokenizer`` (and its pipelines) where tinyalbert matches it.

Each test is about one finding: a second positional argument to ``tokenize``,
``model_input_names``, the per-call ``split_special_tokens`` and ``truncation_side``,
``prepare_for_model`` on empty ids, the keyword arguments of ``decode`` and ``batch_decode``,
``text_target`` without text, the ``BatchEncoding`` methods that need a fast tokenizer, and the
small ones (``convert_tokens_to_ids(None)``, ``top_k=0``, the type of token-classification scores).
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinyalbert
from tinyalbert.tokenizer import AlbertTokenizer, BatchEncoding

VOCAB_FILE = Path(tinyalbert.__file__).parent / "data" / "tinyalbert-mini" / "spiece.model"
TEXT, PAIR = "Paris is the [MASK] of France.", "It is big."
NO_TYPE_IDS = ["input_ids", "attention_mask"]


@pytest.fixture(scope="module")
def transformers():
    """transformers 4.53.3, the reference; the tests that take it carry ``@pytest.mark.reference``."""
    module = pytest.importorskip("transformers")
    verbosity = module.logging.get_verbosity()
    module.logging.set_verbosity_error()  # its "keyword arguments not recognized" lines are expected here
    yield module
    module.logging.set_verbosity(verbosity)  # later modules compare Transformers' warnings with ours


def _pair(transformers, **options):
    """(tinyalbert, transformers) tokenizers on the bundled vocabulary, with the same options."""
    return (AlbertTokenizer(VOCAB_FILE, **options),
            transformers.AlbertTokenizer(vocab_file=str(VOCAB_FILE), **options))


def _plain(encoding) -> dict:
    return {key: value.tolist() if hasattr(value, "tolist") else value for key, value in encoding.items()}


# -- 1. tokenize(text, text_pair) -------------------------------------------------------------------
@pytest.mark.reference
def test_tokenize_refuses_a_second_positional_argument(transformers):
    """A fast tokenizer's ``tokenize(text, pair)`` used to read the pair as split_special_tokens."""
    ours, reference = _pair(transformers)
    with pytest.raises(TypeError, match="positional argument"):
        reference.tokenize(TEXT, PAIR)
    with pytest.raises(TypeError, match="positional argument"):
        ours.tokenize(TEXT, PAIR)
    for split in (False, True):
        assert ours.tokenize(TEXT, split_special_tokens=split) == reference.tokenize(TEXT, split_special_tokens=split)


# -- 2. model_input_names -----------------------------------------------------------------------------
def _outputs(tokenizer) -> list[dict]:
    """What a tokenizer returns for the calls that decide token_type_ids and attention_mask."""
    single = tokenizer(TEXT)
    batch = tokenizer([TEXT, "a b"], [PAIR, "c"], padding=True)
    return [_plain(single), _plain(batch), _plain(tokenizer.encode_plus(TEXT, PAIR)),
            _plain(tokenizer.prepare_for_model([5, 6], [7])),
            _plain(tokenizer(TEXT, return_token_type_ids=True, return_attention_mask=False)),
            _plain(tokenizer.pad([{"input_ids": [2, 5, 3]}, {"input_ids": [2, 3]}])),
            _plain(tokenizer.pad({"input_ids": [[2, 5, 3], [2, 3]]}, return_attention_mask=True))]


@pytest.mark.reference
def test_model_input_names_decide_the_returned_fields(transformers):
    ours, reference = _pair(transformers, model_input_names=NO_TYPE_IDS)
    assert ours.model_input_names == reference.model_input_names == NO_TYPE_IDS
    ours_outputs, reference_outputs = _outputs(ours), _outputs(reference)
    assert ours_outputs == reference_outputs
    assert "token_type_ids" not in ours_outputs[0] and "attention_mask" in ours_outputs[0]
    only_ids, reference_only_ids = _pair(transformers, model_input_names=["input_ids"])
    assert _outputs(only_ids) == _outputs(reference_only_ids)
    # Set on an instance, as Transformers allows.
    ours, reference = _pair(transformers)
    ours.model_input_names = reference.model_input_names = NO_TYPE_IDS
    assert _outputs(ours) == _outputs(reference)


@pytest.mark.reference
def test_model_input_names_are_saved_and_loaded(tmp_path, transformers):
    ours, reference = _pair(transformers, model_input_names=NO_TYPE_IDS)
    reference.save_pretrained(tmp_path / "reference")
    ours.save_pretrained(tmp_path / "ours")
    for saved in ("reference", "ours"):
        config = json.loads((tmp_path / saved / "tokenizer_config.json").read_text())
        assert config["model_input_names"] == NO_TYPE_IDS, saved
        loaded = AlbertTokenizer.from_pretrained(tmp_path / saved)
        loaded_reference = transformers.AlbertTokenizer.from_pretrained(tmp_path / saved)
        assert _outputs(loaded) == _outputs(loaded_reference), saved
    # A tokenizer with the default names saves none, as Transformers.
    AlbertTokenizer(VOCAB_FILE).save_pretrained(tmp_path / "default")
    assert "model_input_names" not in json.loads((tmp_path / "default" / "tokenizer_config.json").read_text())
    assert AlbertTokenizer.from_pretrained(VOCAB_FILE.parent, model_input_names=NO_TYPE_IDS).model_input_names \
        == NO_TYPE_IDS


def test_model_input_names_must_start_with_input_ids(tmp_path):
    with pytest.raises(ValueError, match="must start with 'input_ids'"):
        AlbertTokenizer(VOCAB_FILE, model_input_names=["attention_mask", "input_ids"])
    with pytest.raises(ValueError, match="list of str"):
        AlbertTokenizer(VOCAB_FILE, model_input_names="input_ids")
    AlbertTokenizer(VOCAB_FILE).save_pretrained(tmp_path)
    config_file = tmp_path / "tokenizer_config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "model_input_names": "input_ids"}))
    with pytest.raises(ValueError, match="tokenizer_config.json: model_input_names"):
        AlbertTokenizer.from_pretrained(tmp_path)


# -- 3. split_special_tokens per call on a batch ------------------------------------------------------
def test_split_special_tokens_per_call_is_honoured_for_batches_and_documented():
    """The reference drops a call's split_special_tokens for batches (a bug not copied); the
    difference is listed with the others in the class docstring."""
    tokenizer = AlbertTokenizer(VOCAB_FILE)
    texts = ["a [MASK] b", TEXT]
    for split in (False, True):
        batch = tokenizer(texts, split_special_tokens=split)["input_ids"]
        assert batch == [tokenizer(text, split_special_tokens=split)["input_ids"] for text in texts]
    assert tokenizer(texts, split_special_tokens=True)["input_ids"] != tokenizer(texts)["input_ids"]
    differences = AlbertTokenizer.__doc__.split("Differences from the reference")[1]
    assert "split_special_tokens" in differences and "batch" in differences


# -- 4. truncation_side per call ----------------------------------------------------------------------
@pytest.mark.reference
def test_truncation_side_per_call_is_refused_and_the_attribute_works(transformers):
    ours, reference = _pair(transformers)
    for call in (lambda t: t(TEXT, max_length=5, truncation=True, truncation_side="left"),
                 lambda t: t.encode_plus(TEXT, max_length=5, truncation=True, truncation_side="left"),
                 lambda t: t.batch_encode_plus([TEXT], max_length=5, truncation=True, truncation_side="left"),
                 lambda t: t.prepare_for_model([5, 6, 7, 8], max_length=4, truncation=True, truncation_side="left")):
        with pytest.raises(TypeError, match=r"tokenizer\.truncation_side = 'left'"):
            call(ours)
    with pytest.raises(TypeError) as error:
        ours(TEXT, bogus=1)
    assert "bogus" in str(error.value) and "truncation_side" not in str(error.value)
    ours.truncation_side = reference.truncation_side = "left"
    assert _plain(ours(TEXT, max_length=5, truncation=True)) == _plain(reference(TEXT, max_length=5, truncation=True))


# -- 5. prepare_for_model on empty ids ----------------------------------------------------------------
@pytest.mark.reference
def test_prepare_for_model_takes_empty_ids(transformers):
    ours, reference = _pair(transformers)
    blank_ids = ours.convert_tokens_to_ids(ours.tokenize("   "))
    assert blank_ids == []
    for ids, pair_ids in (([], None), ([5], []), ([], []), ([], [6, 7])):
        assert _plain(ours.prepare_for_model(ids, pair_ids)) == _plain(reference.prepare_for_model(ids, pair_ids))
    assert ours.prepare_for_model(np.array([], dtype=np.int64))["input_ids"] == [ours.cls_token_id, ours.sep_token_id]
    # encode_plus still refuses an empty list, as the reference does: there it is no text at all.
    with pytest.raises(ValueError):
        reference.encode_plus([])
    with pytest.raises(TypeError, match="text must be"):
        ours.encode_plus([])


# -- 6. decode and batch_decode keyword arguments -----------------------------------------------------
@pytest.mark.reference
def test_batch_decode_and_decode_take_the_reference_keywords(transformers):
    ours, reference = _pair(transformers)
    for tokenizer in (ours, reference):
        tokenizer.add_tokens(["<ent>", "<rel>"])  # added tokens decode apart, where the spacing option shows
    rows = [ours("a <ent> <rel> b [MASK] c")["input_ids"], ours("<ent> x")["input_ids"]]
    for spaces in (True, False):
        assert ours.batch_decode(rows, spaces_between_special_tokens=spaces) == \
            reference.batch_decode(rows, spaces_between_special_tokens=spaces)
        assert ours.batch_decode(np.array(rows[:1]), skip_special_tokens=True, spaces_between_special_tokens=spaces) \
            == reference.batch_decode(np.array(rows[:1]), skip_special_tokens=True,
                                      spaces_between_special_tokens=spaces)
    assert reference.batch_decode(rows, spaces_between_special_tokens=False) != reference.batch_decode(rows)
    for use_source in (True, False):
        assert ours.decode(rows[0], use_source_tokenizer=use_source) == \
            reference.decode(rows[0], use_source_tokenizer=use_source)
        assert ours.batch_decode(rows, use_source_tokenizer=use_source) == \
            reference.batch_decode(rows, use_source_tokenizer=use_source)


# -- 7. text_target without text ----------------------------------------------------------------------
def test_text_target_without_text_gets_the_explanation():
    tokenizer = AlbertTokenizer(VOCAB_FILE)
    with pytest.raises(TypeError, match="ALBERT has none"):
        tokenizer(text_target="hello")
    with pytest.raises(TypeError, match="ALBERT has none"):
        tokenizer(text_pair_target="hello")
    with pytest.raises(TypeError, match="text must be a str, got NoneType"):
        tokenizer()


@pytest.mark.reference
def test_text_target_none_is_no_target(transformers):
    ours, reference = _pair(transformers)
    assert _plain(ours(TEXT, text_target=None)) == _plain(reference(TEXT, text_target=None)) == _plain(ours(TEXT))
    with pytest.raises(ValueError, match="specify either"):
        reference()


# -- 8. BatchEncoding methods that need a fast tokenizer ----------------------------------------------
FAST_ONLY_CALLS = {"tokens": (), "sequence_ids": (), "words": (), "word_ids": (), "token_to_sequence": (1,),
                   "token_to_word": (1,), "word_to_tokens": (0,), "token_to_chars": (1,), "char_to_token": (0,),
                   "word_to_chars": (0,), "char_to_word": (0,)}


@pytest.mark.reference
@pytest.mark.parametrize("method", list(FAST_ONLY_CALLS))
def test_batch_encoding_alignment_methods_need_a_fast_tokenizer(transformers, method):
    ours, reference = _pair(transformers)
    args = FAST_ONLY_CALLS[method]
    with pytest.raises(ValueError, match=rf"{method}\(\) is not available"):
        getattr(reference(TEXT), method)(*args)
    with pytest.raises(ValueError, match=rf"{method}\(\) is not available.*fast tokenizer"):
        getattr(ours(TEXT), method)(*args)
    assert isinstance(ours(TEXT), BatchEncoding)
    assert method in dir(ours(TEXT)) and method in dir(reference(TEXT))  # listed, as methods are


# -- 9. small ones ------------------------------------------------------------------------------------
@pytest.mark.reference
def test_convert_tokens_to_ids_of_none_is_none(transformers):
    ours, reference = _pair(transformers)
    assert ours.convert_tokens_to_ids(None) is None and reference.convert_tokens_to_ids(None) is None


def _random_head_dir(transformers, directory, class_name: str, labels: list[str], seed: int):
    """A random transformers `class_name` (one label per name) with the bundled vocabulary, saved."""
    torch = pytest.importorskip("torch")
    tokenizer = transformers.AlbertTokenizer(vocab_file=str(VOCAB_FILE))
    torch.manual_seed(seed)
    config = transformers.AlbertConfig(vocab_size=len(tokenizer), embedding_size=16, hidden_size=32,
                                       num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                                       max_position_embeddings=64, id2label=dict(enumerate(labels)))
    getattr(transformers, class_name)(config).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory, transformers):
    return _random_head_dir(transformers, tmp_path_factory.mktemp("classifier"), "AlbertForSequenceClassification",
                            ["a", "b", "c"], seed=0)


@pytest.mark.reference
def test_text_classification_top_k_zero_gives_no_labels(classifier_dir, transformers):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ours = tinyalbert.pipeline("text-classification", model=str(classifier_dir))
        reference = transformers.pipeline("text-classification", model=str(classifier_dir),
                                          tokenizer=transformers.AlbertTokenizer.from_pretrained(classifier_dir))
        built_ours = tinyalbert.pipeline("text-classification", model=str(classifier_dir), top_k=0)
        built_reference = transformers.pipeline("text-classification", model=str(classifier_dir), top_k=0,
                                                tokenizer=transformers.AlbertTokenizer.from_pretrained(classifier_dir))
    pair = {"text": "a b", "text_pair": "c"}
    for inputs in ("a b", ["a b", "c"], ["a b"], pair):
        assert ours(inputs, top_k=0) == reference(inputs, top_k=0), inputs
        assert built_ours(inputs) == built_reference(inputs), inputs
    assert ours("a b", top_k=0) == [] and built_ours("a b") == [[]]
    with pytest.raises(ValueError, match="top_k must be an int of at least 0"):
        ours("a b", top_k=-1)


@pytest.fixture(scope="module")
def tagger_dir(tmp_path_factory, transformers):
    return _random_head_dir(transformers, tmp_path_factory.mktemp("tagger"), "AlbertForTokenClassification",
                            ["O", "B-X", "I-X"], seed=1)


@pytest.mark.reference
def test_token_classification_scores_are_python_floats_of_the_reference_value(tagger_dir, transformers):
    ours = tinyalbert.pipeline("token-classification", model=str(tagger_dir), ignore_labels=[])
    reference = transformers.pipeline("token-classification", model=str(tagger_dir), ignore_labels=[],
                                      tokenizer=transformers.AlbertTokenizer.from_pretrained(tagger_dir))
    got, expected = ours("the red apple fell"), reference("the red apple fell")
    assert [e["word"] for e in got] == [e["word"] for e in expected]
    assert all(type(e["score"]) is float for e in got)  # the docstring says so; Transformers: numpy.float32
    np.testing.assert_allclose([e["score"] for e in got], [float(e["score"]) for e in expected], rtol=1e-5)


@pytest.mark.reference
@pytest.mark.parametrize("task", ["text-classification", "token-classification", "feature-extraction"])
def test_pipelines_run_with_a_tokenizer_that_leaves_out_token_type_ids(tmp_path, classifier_dir, tagger_dir,
                                                                       transformers, task):
    """Such a tokenizer returns no token_type_ids; the model then takes its default (zeros), as in
    Transformers, where the pipelines used to fail with KeyError: 'token_type_ids'."""
    import shutil

    directory = tmp_path / "model"
    shutil.copytree(tagger_dir if task == "token-classification" else classifier_dir, directory)
    tokenizer = transformers.AlbertTokenizer.from_pretrained(directory, model_input_names=["input_ids", "attention_mask"])
    tokenizer.save_pretrained(directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ours = tinyalbert.pipeline(task, model=str(directory))
    reference = transformers.pipeline(task, model=str(directory),
                                      tokenizer=transformers.AlbertTokenizer.from_pretrained(directory))
    got, expected = ours("the red apple fell"), reference("the red apple fell")
    if task == "feature-extraction":
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    else:
        key = "label" if task == "text-classification" else "entity"
        assert [e[key] for e in got] == [e[key] for e in expected]
        np.testing.assert_allclose([e["score"] for e in got], [float(e["score"]) for e in expected], rtol=1e-4)


def test_fine_tuning_asks_for_token_type_ids_whatever_model_input_names_say():
    from tinyalbert.task_data import encode_examples

    tokenizer = tinyalbert.AlbertTokenizer(vocab_file=VOCAB_FILE, model_input_names=["input_ids", "attention_mask"])
    examples = [{"text": "the red apple", "text_pair": "fell", "label": "x"}]
    encoded = encode_examples("text-classification", examples, tokenizer, 16, {"x": 0})
    assert encoded[0]["token_type_ids"][-2:] == [1, 1]  # "fell" [SEP]: the second text's type
    choice = [{"question": "what fell", "choices": ["apple", "tree"], "label": 0, "line": 1}]
    assert len(encode_examples("multiple-choice", choice, tokenizer, 16, None)[0]["token_type_ids"]) == 2


def test_an_unknown_option_error_lists_split_special_tokens_where_it_is_one():
    tokenizer = AlbertTokenizer(vocab_file=VOCAB_FILE)
    with pytest.raises(TypeError, match=r"\['padd'\]; the options are \[.*'split_special_tokens'\]"):
        tokenizer("a b", padd=True)
    with pytest.raises(TypeError, match="unexpected keyword") as caught:
        tokenizer.prepare_for_model([5, 6], padd=True)
    assert "split_special_tokens" not in str(caught.value)  # ids: nothing left to split


class _RecordingSentencePiece:
    """The tokenizer's SentencePiece model, noting what each `encode` call was given."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def encode(self, texts, **options):
        self.calls.append(texts)
        return self.model.encode(texts, **options)

    def __getattr__(self, name):
        return getattr(self.model, name)


@pytest.mark.reference
def test_a_few_texts_skip_sentencepieces_batched_call_and_many_take_it(transformers):
    """SentencePiece's batched encode starts a thread pool, some 50-80 us, where one word takes
    3 us: `tokenize(word)` over a file's words ran at a seventh of the reference's speed. A few
    texts go one by one, many in one call, and the pieces are the reference's either way."""
    ours, theirs = _pair(transformers)
    ours.sp_model = recording = _RecordingSentencePiece(ours.sp_model)
    words = [f"word{number}, and 1,000 more" for number in range(200)]
    assert ours.tokenize(words[0]) == theirs.tokenize(words[0])
    assert recording.calls == [ours.preprocess_text(words[0])]  # a str, not a list of one
    recording.calls.clear()
    assert ours(words[:3])["input_ids"] == theirs(words[:3])["input_ids"]
    assert all(isinstance(call, str) for call in recording.calls) and len(recording.calls) == 3
    recording.calls.clear()
    assert ours(words)["input_ids"] == theirs(words)["input_ids"]
    assert len(recording.calls) == 1 and len(recording.calls[0]) == len(words)
