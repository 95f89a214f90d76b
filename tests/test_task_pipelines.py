"""The task pipelines against transformers 4.53.3's, on the same checkpoints.

Each checkpoint is random weights written by transformers' `save_pretrained` with a SentencePiece
vocabulary trained in the test (test_pipeline.py's), and transformers' pipeline runs with the
slow `AlbertTokenizer`, the one tinyalbert reproduces. Both sides run in float64, so scores agree
to rounding; 1e-5 (the agreed tolerance) is then a wide margin that still catches a wrong softmax
axis, mask or span rule. With the slow tokenizer transformers refuses the word-level aggregations
(first/average/max); those are checked by running transformers' own aggregation code on its own
token scores, with words delimited by SentencePiece's `▁` marker as tinyalbert delimits them.
"""
import warnings
from collections import Counter

import numpy as np
import pytest

import tinyalbert

try:
    from test_pipeline import train_vocabulary
except pytest.skip.Exception:  # torch or transformers missing: every test here skips
    train_vocabulary = None

pytestmark = pytest.mark.reference  # every test compares with transformers' pipelines

TOLERANCE = 1e-5
CONFIG = dict(embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
              max_position_embeddings=128, initializer_range=0.5, classifier_dropout_prob=0.0)
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
TEXTS = ["the old man sat in the park near the river.", "london is a big city", "a red book on the table!"]


def _needs_reference():
    if train_vocabulary is None:
        pytest.skip("torch and transformers are needed for the comparison")
    import torch
    import transformers

    return torch, transformers


@pytest.fixture(scope="module")
def vocabulary(tmp_path_factory):
    _needs_reference()
    return train_vocabulary(tmp_path_factory.mktemp("task-vocab"))


def checkpoint(directory, vocabulary, class_name, seed=0, **config):
    torch, transformers = _needs_reference()
    tokenizer = transformers.AlbertTokenizer(str(vocabulary))
    torch.manual_seed(seed)
    model_config = transformers.AlbertConfig(vocab_size=len(tokenizer), **{**CONFIG, **config})
    getattr(transformers, class_name)(model_config).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def both(task, directory, **options):
    torch, transformers = _needs_reference()
    model_class = {"text-classification": transformers.AlbertForSequenceClassification,
                   "token-classification": transformers.AlbertForTokenClassification,
                   "question-answering": transformers.AlbertForQuestionAnswering,
                   "feature-extraction": transformers.AlbertModel}[task]
    reference = transformers.pipeline(task, model=model_class.from_pretrained(directory, torch_dtype=torch.float64),
                                      tokenizer=transformers.AlbertTokenizer.from_pretrained(directory), **options)
    return tinyalbert.pipeline(task, model=str(directory), dtype="float64", **options), reference


def assert_same(ours, theirs, where="output"):
    """Same structure, same strings and ints, numbers within TOLERANCE."""
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), f"{where}: {ours} != {theirs}"
        for index, (mine, reference) in enumerate(zip(ours, theirs)):
            assert_same(mine, reference, f"{where}[{index}]")
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and set(ours) == set(theirs), f"{where}: keys {set(ours)} != {set(theirs)}"
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, (float, np.floating)):
        assert abs(float(ours) - float(theirs)) <= TOLERANCE, f"{where}: {ours} != {theirs}"
    else:
        assert ours == theirs, f"{where}: {ours!r} != {theirs!r}"


@pytest.mark.parametrize("labels, problem_type", [(3, None), (1, None), (4, "multi_label_classification"),
                                                  (1, "regression")])
def test_text_classification_matches_transformers(tmp_path, vocabulary, labels, problem_type):
    id2label = {i: f"topic_{i}" for i in range(labels)}
    directory = checkpoint(tmp_path, vocabulary, "AlbertForSequenceClassification", id2label=id2label,
                           problem_type=problem_type)
    ours, theirs = both("text-classification", directory)
    for call in (dict(), dict(top_k=None), dict(top_k=2), dict(function_to_apply="sigmoid")):
        assert_same(ours(TEXTS[0], **call), theirs(TEXTS[0], **call), f"one text {call}")
        assert_same(ours(TEXTS, **call), theirs(TEXTS, **call), f"a list {call}")
    pair = {"text": TEXTS[1], "text_pair": TEXTS[2]}
    assert_same(ours(pair), theirs(pair), "a pair")


def test_text_classification_options_when_built_match_transformers(tmp_path, vocabulary):
    """Options given to pipeline() are the calls' defaults, and a call names its own: the nesting
    of one text's result follows the call's top_k, as in Transformers."""
    directory = checkpoint(tmp_path, vocabulary, "AlbertForSequenceClassification", id2label={0: "a", 1: "b", 2: "c"})
    long_text = " ".join(TEXTS * 20)  # more pieces than the model's 128 positions
    for options in (dict(top_k=2), dict(top_k=None), dict(function_to_apply="SIGMOID"),
                    dict(truncation=True, max_length=128), dict(return_all_scores=True), dict(return_all_scores=False)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # return_all_scores is deprecated on both sides
            ours, theirs = both("text-classification", directory, **options)
            for call in (dict(), dict(top_k=1), dict(function_to_apply="none", batch_size=2)):
                assert_same(ours(TEXTS[0], **call), theirs(TEXTS[0], **call), f"{options} {call}")
                assert_same(ours(TEXTS, **call), theirs(TEXTS, **call), f"{options} {call}, a list")
            if "truncation" in options:
                assert_same(ours(long_text), theirs(long_text), "cut to the positions")
    streamed = ours(text for text in TEXTS)
    assert not isinstance(streamed, list)
    assert_same(list(streamed), list(theirs(text for text in TEXTS)), "a generator")
    with pytest.raises(ValueError, match="function_to_apply must be"):
        ours(TEXTS[0], function_to_apply="relu")


def test_pipeline_passes_model_kwargs_and_reads_config_as_transformers_does(tmp_path, vocabulary):
    """model_kwargs reach from_pretrained; config= only chooses the model class in Transformers,
    so the saved labels stay (tinyalbert warns that it changes nothing)."""
    torch, transformers = _needs_reference()
    directory = checkpoint(tmp_path, vocabulary, "AlbertForSequenceClassification", id2label={0: "a", 1: "b"})
    names = {0: "negative", 1: "positive"}
    tokenizer = transformers.AlbertTokenizer.from_pretrained(directory)
    reference = transformers.pipeline("text-classification", model=str(directory), torch_dtype=torch.float64,
                                      tokenizer=tokenizer, model_kwargs={"id2label": dict(names)})
    ours = tinyalbert.pipeline("text-classification", model=str(directory), dtype="float64", use_fast=False,
                               framework="pt", model_kwargs={"id2label": names})
    assert_same(ours(TEXTS, top_k=None), reference(TEXTS, top_k=None), "model_kwargs")
    assert {item["label"] for item in ours(TEXTS[0], top_k=None)} == {"negative", "positive"}
    reference = transformers.pipeline("text-classification", model=str(directory), torch_dtype=torch.float64,
                                      tokenizer=tokenizer,
                                      config=transformers.AlbertConfig.from_pretrained(directory, id2label=names))
    with pytest.warns(UserWarning, match="does not change the loaded model"):
        ours = tinyalbert.pipeline("text-classification", model=str(directory), dtype="float64",
                                   config=tinyalbert.AlbertConfig.from_pretrained(directory, id2label=names))
    assert_same(ours(TEXTS, top_k=None), reference(TEXTS, top_k=None), "config")
    assert {item["label"] for item in ours(TEXTS[0], top_k=None)} == {"a", "b"}
    with pytest.raises(ValueError, match="framework='tf'"):
        tinyalbert.pipeline("text-classification", model=str(directory), framework="tf")
    built = tinyalbert.AlbertForSequenceClassification.from_pretrained(directory)
    with pytest.raises(ValueError, match="already built"):
        tinyalbert.pipeline("text-classification", model=built, tokenizer=str(directory), model_kwargs={"id2label": names})


def test_text_classification_of_a_too_long_text_says_to_truncate(tmp_path, vocabulary):
    from tinyalbert.pipelines import TextTooLongError

    directory = checkpoint(tmp_path, vocabulary, "AlbertForSequenceClassification", id2label={0: "a", 1: "b"})
    ours, theirs = both("text-classification", directory)
    text = " ".join(TEXTS * 20)  # far more pieces than the 128 positions
    with pytest.raises(RuntimeError):  # Transformers fails inside torch
        theirs(text)
    with pytest.raises(TextTooLongError, match=r"takes at most 128 \(max_position_embeddings\); pass truncation=True"):
        ours(text)
    # The tokenizer's model_max_length is 512 here: Transformers needs max_length to fit the model.
    with pytest.raises(RuntimeError):
        theirs(text, truncation=True)
    assert_same(ours(text, truncation=True), theirs(text, truncation=True, max_length=128))


@pytest.mark.parametrize("strategy", ["none", "simple"])
def test_token_classification_matches_transformers(tmp_path, vocabulary, strategy):
    directory = checkpoint(tmp_path, vocabulary, "AlbertForTokenClassification", seed=1,
                           id2label=dict(enumerate(TAGS)))
    ours, theirs = both("token-classification", directory, aggregation_strategy=strategy)
    results = ours(TEXTS)
    assert any(results), "the random model should tag something, or the comparison is empty"
    assert_same(results, theirs(TEXTS))
    assert_same(ours(TEXTS[0], aggregation_strategy="none"), theirs(TEXTS[0], aggregation_strategy="none"))
    # A text longer than the model's 128 positions is cut to them (Transformers cuts to the
    # tokenizer's 512 and fails inside torch): the tags of the first 126 pieces.
    long_text = " ".join(TEXTS * 20)
    with pytest.raises(RuntimeError):
        theirs(long_text)
    tagged = ours(long_text, ignore_labels=[])
    if strategy == "none":
        assert len(tagged) == 126
    else:
        assert tagged
    # ignore_labels per call: [] keeps O tokens too; leaving out the commonest tag as well drops some.
    commonest = Counter(entity.get("entity", entity.get("entity_group")) for result in results for entity in result)
    fewer = ["O", commonest.most_common(1)[0][0]]
    for ignore_labels in ([], fewer):
        assert_same(ours(TEXTS, ignore_labels=ignore_labels), theirs(TEXTS, ignore_labels=ignore_labels),
                    f"ignore_labels={ignore_labels}")
    assert sum(map(len, ours(TEXTS, ignore_labels=fewer))) < sum(map(len, results))


@pytest.mark.parametrize("strategy", ["first", "average", "max"])
def test_word_aggregations_follow_transformers_code(tmp_path, vocabulary, strategy):
    from transformers.pipelines.token_classification import AggregationStrategy

    directory = checkpoint(tmp_path, vocabulary, "AlbertForTokenClassification", seed=2,
                           id2label=dict(enumerate(TAGS)))
    ours, theirs = both("token-classification", directory, aggregation_strategy="simple")
    for text in TEXTS:
        model_inputs = next(iter(theirs.preprocess(text, is_split_into_words=False, delimiter=None)))
        outputs = theirs.forward(model_inputs)
        logits = outputs["logits"][0].numpy()
        scores = np.exp(logits - logits.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        pre = theirs.gather_pre_entities(text, outputs["input_ids"][0], scores, None,
                                         outputs["special_tokens_mask"][0].numpy(), AggregationStrategy.SIMPLE)
        for entity in pre:
            entity["is_subword"] = not entity["word"].startswith("\u2581")
        expected = [group for group in theirs.aggregate(pre, AggregationStrategy[strategy.upper()])
                    if group["entity_group"] != "O"]
        assert_same(ours(text, aggregation_strategy=strategy), expected, f"{strategy}: {text!r}")


def character_offsets(tokenizer, text):
    """A (start, end) per token of `text`, [CLS] and [SEP] included as (0, 0): each piece found in
    the text after the previous one, an unknown piece taken as the next character. The slow
    tokenizer gives no offsets; a caller of Transformers' pipeline brings its own like this."""
    offsets, position = [], 0
    for piece in tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"]):
        if piece in (tokenizer.cls_token, tokenizer.sep_token):
            offsets.append((0, 0))
            continue
        while position < len(text) and text[position] == " ":
            position += 1
        found = text.find(piece.lstrip("\u2581"), position) if piece != tokenizer.unk_token else -1
        start = position if found < 0 else found
        end = start + (1 if piece == tokenizer.unk_token else len(piece.lstrip("\u2581")))
        offsets.append((start, end))
        position = end
    return offsets


@pytest.mark.parametrize("strategy", ["none", "simple"])
def test_token_classification_takes_offset_mapping_as_transformers_does(tmp_path, vocabulary, strategy):
    """With the slow tokenizer, a caller's offset_mapping is the one way to get `start` and `end`;
    an unknown piece is then named by the characters it covers. For a list of texts each text
    reads its own offsets (Transformers 4.53.3 reads the first text's for all of them, so each
    text is compared with Transformers run on it alone)."""
    directory = checkpoint(tmp_path, vocabulary, "AlbertForTokenClassification", seed=1,
                           id2label=dict(enumerate(TAGS)))
    ours, theirs = both("token-classification", directory, aggregation_strategy=strategy, ignore_labels=[])
    texts = ["the old man \u2603 sat in the park", "london is a big city \u2603 near paris"]
    offsets = [character_offsets(ours.tokenizer, text) for text in texts]
    assert ours.tokenizer.unk_token_id in ours.tokenizer(texts[0])["input_ids"]  # the snowman is unknown
    for text, text_offsets in zip(texts, offsets):
        result = ours(text, offset_mapping=text_offsets)
        assert_same(result, theirs(text, offset_mapping=text_offsets), f"{text!r}")
        assert all(entity["start"] is not None and entity["end"] is not None for entity in result)
        assert_same(ours(text, offset_mapping=[text_offsets]), result, "one text's list inside a list")
    if strategy == "none":
        assert "\u2603" in [entity["word"] for entity in ours(texts[0], offset_mapping=offsets[0])]
    expected = [theirs(text, offset_mapping=text_offsets) for text, text_offsets in zip(texts, offsets)]
    assert_same(ours(texts, offset_mapping=offsets), expected, "a list of texts, each with its offsets")
    assert ours(texts, offset_mapping=offsets)[1] != ours(texts[1], offset_mapping=offsets[0])
    for bad in (offsets[0], [offsets[0]]):  # one text's offsets, or one list, for two texts
        with pytest.raises(ValueError, match="offset_mapping should have the same batch size as the input"):
            theirs(texts, offset_mapping=bad)
        with pytest.raises(ValueError, match="offset_mapping should have the same batch size as the input"):
            ours(texts, offset_mapping=bad)
    with pytest.raises(IndexError):  # too few pairs: Transformers fails on the first token past them
        theirs(texts[0], offset_mapping=offsets[0][:3])
    with pytest.raises(ValueError, match=r"offset_mapping has 3 \(start, end\) pairs, but the text has"):
        ours(texts[0], offset_mapping=offsets[0][:3])


def test_token_classification_legacy_flags_and_generators_match_transformers(tmp_path, vocabulary):
    directory = checkpoint(tmp_path, vocabulary, "AlbertForTokenClassification", seed=1, id2label=dict(enumerate(TAGS)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # grouped_entities is deprecated on both sides
        ours, theirs = both("token-classification", directory, grouped_entities=True)
        assert_same(ours(TEXTS), theirs(TEXTS), "grouped_entities=True is the simple strategy")
        assert_same(ours(TEXTS, grouped_entities=False), theirs(TEXTS, grouped_entities=False))
    streamed = ours(text for text in TEXTS)
    assert_same(list(streamed), list(theirs(text for text in TEXTS)), "a generator")


def test_question_answering_matches_transformers(tmp_path, vocabulary):
    directory = checkpoint(tmp_path, vocabulary, "AlbertForQuestionAnswering", seed=3, max_position_embeddings=384)
    ours, theirs = both("question-answering", directory)
    context = "the old  man sat in the park near the river . paris is a big city and london is a capital of england"
    for question in ("who sat in the park?", "what is paris?"):
        assert_same(ours(question=question, context=context), theirs(question=question, context=context))
        for options in (dict(top_k=3), dict(handle_impossible_answer=True), dict(max_answer_len=3),
                        dict(max_seq_len=24, doc_stride=8), dict(max_seq_len=24, doc_stride=8, top_k=4),
                        dict(max_seq_len=16, doc_stride=12),  # a stride wider than the window: refused before
                        dict(align_to_words=False)):  # no effect with the slow tokenizer, on either side
            assert_same(ours(question=question, context=context, **options),
                        theirs(question=question, context=context, **options), f"{question} {options}")
    # A top_k above the number of spans: every answer is a span of the context, none starts at
    # [CLS] (which would be read as a word of the context) or ends before it starts.
    short = "paris is big ."
    assert_same(ours(question="what?", context=short, top_k=30), theirs(question="what?", context=short, top_k=30),
                "top_k above the number of spans")
    questions = ["who sat?", "where is the river?"]
    assert_same(ours(question=questions, context=context), theirs(question=questions, context=context))
    # The other ways Transformers takes questions: a list of dicts, two texts, a generator of dicts.
    items = [{"question": question, "context": context} for question in questions]
    assert_same(ours(items), theirs(items), "a list of dicts")
    assert_same(ours(items, top_k=2, batch_size=2), theirs(items, top_k=2, batch_size=2), "a list of dicts, top_k=2")
    assert_same(ours(questions[0], context), theirs(questions[0], context), "two texts")
    streamed = ours(item for item in items)
    assert not isinstance(streamed, list)
    assert_same(list(streamed), list(theirs(item for item in items)), "a generator of dicts")
    # Counts below 1 raise, as in Transformers, instead of an empty list or a span of score 0.
    for name in ("top_k", "max_answer_len"):
        with pytest.raises(ValueError, match=f"{name} parameter should be >= 1"):
            theirs(question=questions[0], context=context, **{name: 0})
        with pytest.raises(ValueError, match=f"{name} must be a positive int, got 0"):
            ours(question=questions[0], context=context, **{name: 0})
    with pytest.raises(ValueError, match="doc_stride must be a positive int, got -8"):
        tinyalbert.pipeline("question-answering", model=str(directory), doc_stride=-8)


def test_question_answering_reads_options_given_as_none_as_transformers_does(tmp_path, vocabulary):
    """Transformers reads an option given as None as not given: the pipeline's own value, or the
    default, stays (top_k=None is one answer, not an error). A context or a question with no
    words fails in both, here with a ValueError that says so, not an empty answer."""
    directory = checkpoint(tmp_path, vocabulary, "AlbertForQuestionAnswering", seed=3, max_position_embeddings=384)
    context = "the old man sat in the park near the river . paris is a big city"
    question = "who sat in the park?"
    for built in (dict(), dict(top_k=3, max_answer_len=2), dict(top_k=None, max_answer_len=None)):
        ours, theirs = both("question-answering", directory, **built)
        for call in (dict(top_k=None), dict(max_answer_len=None, handle_impossible_answer=None),
                     dict(max_question_len=None, align_to_words=None), dict(max_seq_len=None, doc_stride=None)):
            assert_same(ours(question=question, context=context, **call),
                        theirs(question=question, context=context, **call), f"{built} {call}")
    with pytest.raises(StopIteration):
        theirs(question=question, context="   ")
    with pytest.raises(ValueError, match="the context has no words to answer from"):
        ours(question=question, context="   ")
    with pytest.raises(ValueError, match="is not valid"):
        theirs(question="  ", context=context)
    with pytest.raises(ValueError, match="the question has no words"):
        ours(question="  ", context=context)


def test_feature_extraction_matches_transformers(tmp_path, vocabulary):
    """Hidden states per token, from a masked-LM checkpoint (its base model), as nested lists or
    as the array; truncation cuts to the positions the model has."""
    directory = checkpoint(tmp_path, vocabulary, "AlbertForMaskedLM")
    ours, theirs = both("feature-extraction", directory)
    assert_same(ours(TEXTS[0]), theirs(TEXTS[0]), "one text")
    assert_same(ours(TEXTS), theirs(TEXTS), "a list")
    pieces = len(tinyalbert.AlbertTokenizer.from_pretrained(directory)(TEXTS[1])["input_ids"])
    assert np.asarray(ours(TEXTS[1])).shape == (1, pieces, CONFIG["hidden_size"])
    array = ours(TEXTS[1], return_tensors=True)
    assert isinstance(array, np.ndarray) and array.dtype == np.float64
    np.testing.assert_allclose(array, theirs(TEXTS[1], return_tensors=True).numpy(), atol=TOLERANCE)
    kept = dict(tokenize_kwargs={"truncation": True, "max_length": 6})
    assert_same(ours(TEXTS[0], **kept), theirs(TEXTS[0], **kept), "cut to 6 tokens")
    assert len(ours(TEXTS[0], **kept)[0]) == 6
    text = " ".join(TEXTS * 20)  # more pieces than the 128 positions
    with pytest.raises(ValueError, match="pass truncation=True"):
        ours(text)
    assert len(ours(text, truncation=True)[0]) == 128
    with pytest.raises(ValueError, match="truncation was given twice"):
        ours(text, truncation=True, tokenize_kwargs={"truncation": True})
    cutting = tinyalbert.pipeline("feature-extraction", model=str(directory), truncation=True, batch_size=4)
    assert len(cutting(text)[0]) == 128  # pipeline(truncation=True) reaches the task pipeline
    assert_same(list(cutting(t for t in TEXTS)), theirs(TEXTS), "a generator")


def test_pipeline_rejects_unknown_options_and_strategies(tmp_path, vocabulary):
    directory = checkpoint(tmp_path, vocabulary, "AlbertForTokenClassification", id2label=dict(enumerate(TAGS)))
    with pytest.raises(ValueError, match="aggregation_strategy must be one of"):
        tinyalbert.pipeline("token-classification", model=str(directory), aggregation_strategy="longest")
    with pytest.raises(ValueError, match="token-classification"):
        tinyalbert.pipeline("token-classification", model=str(directory), top_k=3)


@pytest.mark.parametrize("task, class_name", [("text-classification", "AlbertForSequenceClassification"),
                                              ("token-classification", "AlbertForTokenClassification"),
                                              ("question-answering", "AlbertForQuestionAnswering")])
def test_pipelines_work_when_the_config_says_return_dict_false(tmp_path, vocabulary, task, class_name):
    """A config.json may say "return_dict": false (the model then returns tuples); the pipeline
    reads named fields, so it must ask for them, and give what it gives for the default config."""
    import json

    directory = checkpoint(tmp_path / "plain", vocabulary, class_name, seed=1)
    tuples = tmp_path / "tuples"
    tuples.mkdir()
    for file in directory.iterdir():
        (tuples / file.name).write_bytes(file.read_bytes())
    config = json.loads((tuples / "config.json").read_text())
    (tuples / "config.json").write_text(json.dumps({**config, "return_dict": False}))
    inputs = dict(question="who sat?", context="the old man sat in the park") if task == "question-answering" \
        else dict(inputs="the old man sat in the park")
    expected = tinyalbert.pipeline(task, model=str(directory))(**inputs)
    assert_same(tinyalbert.pipeline(task, model=str(tuples))(**inputs), expected)


def test_training_and_answering_split_a_context_into_squads_words():
    """Fine-tuning (`context_words`) and the pipeline (`split_context`) cut a context into the
    same words as SQuAD's preprocessing: at five whitespace characters only, so a no-break space
    or a thin space stays inside its word."""
    from tinyalbert.task_data import context_words
    from tinyalbert.task_pipelines import split_context

    context = "Paris\xa0France had 10\u2009000 people\tin 1800\n c  d\u202fe "
    words, _ = split_context(context)
    assert [context[start:end] for start, end in context_words(context)] == words
    assert words == ["Paris\xa0France", "had", "10\u2009000", "people", "in", "1800", "c", "d", "e"]
    transformers = pytest.importorskip("transformers")
    squad = transformers.data.processors.squad.SquadExample("id", "q?", context, None, None, "t")
    assert squad.doc_tokens == words
