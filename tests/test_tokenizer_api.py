"""The tokenizer API around the ids, against transformers 4.53.3's slow AlbertTokenizer.

Added and special tokens, the ``encode_plus`` family, ``pad``, pre-split words, overflow with
``stride``; then the clean errors (text that is not valid Unicode, a vocabulary that does not
match the model). Each tokenizer pair is built fresh where a test changes it.
"""
import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tinyalbert.tokenizer import AddedToken, AlbertTokenizer, check_vocab_matches, train_sentencepiece
from tokenizer_strategies import ADDED_TOKEN_POOL, WORDS, texts, trained_models, transformers  # noqa: F401

property_settings = settings(
    suppress_health_check=list(settings.default.suppress_health_check) + [HealthCheck.function_scoped_fixture],
)
VARIANTS = {
    "trained-lower": ("trained-lower", {}),
    "trained-cased": ("trained-cased", {"do_lower_case": False, "keep_accents": True}),
    "base-v2": ("albert-base-v2", {}),
}


def _pair_maker(variant, request, trained_models, transformers):
    """A function that builds a (tinyalbert, transformers) pair from the same model and options."""
    model_name, options = VARIANTS[variant]
    if model_name == "albert-base-v2":
        model_file = request.getfixturevalue("albert_base_v2_tokenizer_dir") / "spiece.model"
    else:
        model_file = trained_models[model_name]

    def make(fresh: bool = True):
        if fresh or variant not in _CACHE:
            _CACHE[variant] = (AlbertTokenizer(model_file, model_max_length=512, **options),
                               transformers.AlbertTokenizer(str(model_file), model_max_length=512, **options))
        return _CACHE[variant]
    return make


@pytest.fixture(params=list(VARIANTS))
def make_pair(request, trained_models, transformers):
    return _pair_maker(request.param, request, trained_models, transformers)


@pytest.fixture(params=["trained-lower", "trained-cased"])
def make_small_pair(request, trained_models, transformers):
    """Pairs on the small trained vocabularies, for tests that build a fresh pair per example."""
    return _pair_maker(request.param, request, trained_models, transformers)


_CACHE = {}  # unchanged pairs, for the tests that only read them


def _as_dict(encoding) -> dict:
    return {key: value.tolist() if hasattr(value, "tolist") else value for key, value in encoding.items()}


def _same_outcome(ours_call, reference_call, max_length=None):
    """Both give equal results, or both raise (the reference may raise where we name the argument).

    Where the reference cannot truncate to ``max_length``, it logs an error and returns longer
    sequences; tinyalbert raises instead.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = reference_call()
        except (ValueError, TypeError):
            with pytest.raises((ValueError, TypeError)):
                ours_call()
            return None
        try:
            got = ours_call()
        except ValueError as error:
            if "cannot truncate" not in str(error):
                raise
            rows = expected["input_ids"]
            lengths = [len(ids) for ids in rows] if rows and isinstance(rows[0], list) else [len(rows)]
            assert max_length and max(lengths) > max_length, "tinyalbert refused a truncation the reference made"
            return None
    if isinstance(expected, dict) or hasattr(expected, "keys"):
        expected, got = _as_dict(expected), _as_dict(got)
    assert got == expected
    return got


# ---------------------------------------------------------------------------------------- added tokens

added_tokens_strategy = st.lists(
    st.tuples(st.sampled_from(ADDED_TOKEN_POOL), st.sampled_from(["str", "token"]), st.booleans(), st.booleans(),
              st.booleans()),
    min_size=1, max_size=5)


def _both_kinds(transformers, content, kind, lstrip, rstrip, normalized):
    if kind == "str":
        return content, content
    return (AddedToken(content, lstrip=lstrip, rstrip=rstrip, normalized=normalized),
            transformers.AddedToken(content, lstrip=lstrip, rstrip=rstrip, normalized=normalized))


@pytest.mark.reference
@property_settings
@given(to_add=added_tokens_strategy, special=st.booleans(),
       batch=st.lists(texts(max_fragments=8, extra_fragments=ADDED_TOKEN_POOL), min_size=1, max_size=3))
@example(to_add=[("<ent>", "str", False, False, False), ("<x>y", "token", True, True, True)], special=False,
         batch=["a <ENT> b<ent>c <x>y <x> NEWword"])
def test_add_tokens_matches_transformers(make_small_pair, transformers, to_add, special, batch):
    ours, reference = make_small_pair()
    pairs = [_both_kinds(transformers, *spec) for spec in to_add]
    n_new = ours.add_tokens([p[0] for p in pairs], special_tokens=special)
    assert n_new == reference.add_tokens([p[1] for p in pairs], special_tokens=special)
    assert len(ours) == len(reference) == reference.vocab_size + sum(i >= ours.vocab_size for i in
                                                                     ours.get_added_vocab().values())
    assert ours.get_vocab() == reference.get_vocab()
    assert ours.get_added_vocab() == reference.get_added_vocab()
    assert ours.all_special_tokens == reference.all_special_tokens
    assert ours.all_special_ids == reference.all_special_ids
    assert ours.additional_special_tokens == reference.additional_special_tokens
    for text in batch:
        assert ours.tokenize(text) == reference.tokenize(text)
    got = _same_outcome(lambda: ours(batch, padding=True, return_special_tokens_mask=True),
                        lambda: reference(batch, padding=True, return_special_tokens_mask=True))
    for ids in got["input_ids"]:
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == reference.decode(ids, skip_special_tokens=skip)


@pytest.mark.reference
@property_settings
@given(roles=st.dictionaries(st.sampled_from(["pad_token", "mask_token", "cls_token", "unk_token"]),
                             st.sampled_from(["<P>", "<m>", "[MASK]", "[SEP]", "<pad>", "<ent>"]), max_size=2),
       additional=st.one_of(st.none(), st.lists(st.sampled_from(["<x>", "<ent>", "[CLS]", "<y>"]), max_size=3)),
       replace=st.booleans(), text=texts(max_fragments=8, extra_fragments=["<P>", "<m>", "<x>", "<ent>", "<y>"]))
def test_add_special_tokens_matches_transformers(make_small_pair, roles, additional, replace, text):
    ours, reference = make_small_pair()
    for tokenizer in (ours, reference):
        tokenizer.add_special_tokens({"additional_special_tokens": ["<y>"]})
    request = {**roles, **({"additional_special_tokens": additional} if additional is not None else {})}
    assert ours.add_special_tokens(request, replace) == reference.add_special_tokens(request, replace)
    assert len(ours) == len(reference)
    assert ours.special_tokens_map == reference.special_tokens_map
    assert ours.all_special_ids == reference.all_special_ids
    assert ours.additional_special_tokens_ids == reference.additional_special_tokens_ids
    for role in ("pad", "mask", "cls", "unk"):
        assert getattr(ours, f"{role}_token_id") == getattr(reference, f"{role}_token_id")
    got = _same_outcome(lambda: ours(text, text, padding="max_length", max_length=40, truncation=True),
                        lambda: reference(text, text, padding="max_length", max_length=40, truncation=True))
    if got is not None:
        for skip in (False, True):
            ids = got["input_ids"]
            assert ours.decode(ids, skip_special_tokens=skip) == reference.decode(ids, skip_special_tokens=skip)


def test_new_tokens_are_appended_after_the_vocabulary(trained_models):
    tokenizer = AlbertTokenizer(trained_models["trained-lower"])
    n_pieces = tokenizer.vocab_size
    assert len(tokenizer) == n_pieces == 400
    assert tokenizer.add_tokens(["<ent>", "zyzzyva"]) == 2
    assert tokenizer.add_special_tokens({"additional_special_tokens": ["<sent>"]}) == 1
    assert len(tokenizer) == n_pieces + 3 and tokenizer.vocab_size == n_pieces
    assert tokenizer.convert_tokens_to_ids(["<ent>", "zyzzyva", "<sent>"]) == [n_pieces, n_pieces + 1, n_pieces + 2]
    ids = tokenizer("an <ent> and a zyzzyva<sent>")["input_ids"]
    assert ids.count(n_pieces) == 1 and ids[-3:] == [n_pieces + 1, n_pieces + 2, tokenizer.sep_token_id]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "an <ent> and a zyzzyva"
    # A token that is already a piece keeps its id and adds nothing.
    assert tokenizer.add_tokens(["[MASK]"]) == 0 and len(tokenizer) == n_pieces + 3


@pytest.mark.reference
def test_setting_a_special_token_keeps_text_and_id_in_sync(make_pair):
    ours, reference = make_pair()
    # A token of the vocabulary: the same as the reference's setter.
    for tokenizer in (ours, reference):
        tokenizer.pad_token = "[SEP]"
        tokenizer.mask_token_id = 7
    for role in ("pad", "mask"):
        assert getattr(ours, f"{role}_token") == getattr(reference, f"{role}_token")
        assert getattr(ours, f"{role}_token_id") == getattr(reference, f"{role}_token_id")
    assert ours.all_special_ids == reference.all_special_ids
    text = "a b [MASK] c"
    assert ours(text, padding="max_length", max_length=12) == reference(text, padding="max_length", max_length=12)
    # A new token: the reference would map it to <unk>; here it is added, as add_special_tokens does.
    n_tokens = len(ours)
    with pytest.warns(UserWarning, match="resize_token_embeddings"):
        ours.mask_token = "<m>"
    reference.add_special_tokens({"mask_token": "<m>"})
    assert ours.mask_token == "<m>" and ours.mask_token_id == n_tokens == len(ours) - 1
    assert ours.mask_token_id == reference.mask_token_id
    assert ours("a <m> b")["input_ids"] == reference("a <m> b")["input_ids"]
    assert ours("a <m> b")["input_ids"][2] == ours.mask_token_id
    with pytest.raises(ValueError, match="mask_token_id must be a token id"):
        ours.mask_token_id = len(ours)
    with pytest.raises(TypeError, match="mask_token must be a str"):
        ours.mask_token = 3


def test_added_tokens_survive_pickling(trained_models):
    tokenizer = AlbertTokenizer(trained_models["trained-lower"])
    tokenizer.add_tokens(["<ent>"])
    tokenizer.add_special_tokens({"additional_special_tokens": ["<s1>"]})
    tokenizer.pad_token = "[SEP]"
    restored = pickle.loads(pickle.dumps(tokenizer))
    text = "an <ent> here<s1> [SEP] there"
    assert restored(text, padding="max_length", max_length=24) == tokenizer(text, padding="max_length", max_length=24)
    assert (len(restored), restored.pad_token_id, restored.get_vocab()) == (len(tokenizer), tokenizer.sep_token_id,
                                                                         tokenizer.get_vocab())


@pytest.mark.reference
def test_added_tokens_survive_save_and_load_both_ways(tmp_path, trained_models, transformers):
    ours = AlbertTokenizer(trained_models["trained-lower"], model_max_length=64)
    ours.add_tokens(["NEWword", AddedToken("<e>", lstrip=True, rstrip=True)])
    ours.add_special_tokens({"additional_special_tokens": ["<s1>"], "pad_token": "<P>"})
    ours.save_pretrained(tmp_path / "ours")
    reference = transformers.AlbertTokenizer.from_pretrained(tmp_path / "ours")
    reloaded = AlbertTokenizer.from_pretrained(tmp_path / "ours")
    sample = ["a newWORD  <e>  b <s1>", "<P> x <e>"]
    expected = reference(sample, padding=True)
    assert reloaded(sample, padding=True) == expected == ours(sample, padding=True)
    assert len(reloaded) == len(reference) == len(ours) == 404
    assert reloaded.special_tokens_map == reference.special_tokens_map == ours.special_tokens_map

    reference.add_tokens(["later"])
    reference.save_pretrained(tmp_path / "reference")
    from_reference = AlbertTokenizer.from_pretrained(tmp_path / "reference")
    assert len(from_reference) == len(reference) == 405
    assert from_reference(sample + ["later"], padding=True) == reference(sample + ["later"], padding=True)


# ---------------------------------------------------------------------------------------- encode_plus family

def _sequence(draw, tokenizer, kind):
    """A text, a list of tokens or a list of ids, for encode_plus."""
    text = draw(st.lists(st.sampled_from(WORDS + ["1,000", "9,", "[MASK]"]), min_size=1, max_size=12).map(" ".join))
    if kind == "text":
        return text
    tokens = tokenizer.tokenize(text) or ["▁a"]
    return tokens if kind == "tokens" else tokenizer.convert_tokens_to_ids(tokens)


encode_options = st.fixed_dictionaries({
    "truncation": st.sampled_from([None, True, "only_first", "only_second", "longest_first"]),
    "max_length": st.one_of(st.none(), st.integers(4, 20)),
    "stride": st.integers(0, 4),
    "return_overflowing_tokens": st.booleans(),
    "return_length": st.booleans(),
    "return_special_tokens_mask": st.booleans(),
    "padding": st.sampled_from([False, True, "max_length"]),
    "pad_to_multiple_of": st.sampled_from([None, 4]),
})


@pytest.mark.reference
@property_settings
@given(data=st.data(), options=encode_options, kinds=st.tuples(st.sampled_from(["text", "tokens", "ids"]),
                                                               st.sampled_from([None, "text", "tokens", "ids"])),
       truncation_side=st.sampled_from(["right", "left"]))
def test_encode_plus_family_matches_transformers(make_pair, data, options, kinds, truncation_side):
    ours, reference = make_pair(fresh=False)
    max_length = options["max_length"] or (512 if options["truncation"] else None)
    first = _sequence(data.draw, reference, kinds[0])
    second = None if kinds[1] is None else _sequence(data.draw, reference, kinds[1])
    batch = [first if second is None else (first, second), _sequence(data.draw, reference, kinds[0])]
    calls = [lambda t: t.encode_plus(first, second, **options),
             lambda t: {"input_ids": t.encode(first, second, **options)},
             lambda t: t.batch_encode_plus(batch, **options)]
    if kinds[0] == "ids" and kinds[1] in (None, "ids"):
        calls.append(lambda t: t.prepare_for_model(first, second, **options))
    ours.truncation_side = reference.truncation_side = truncation_side
    try:
        for call in calls:
            _same_outcome(lambda: call(ours), lambda: call(reference), max_length)
    finally:
        ours.truncation_side = reference.truncation_side = "right"


@pytest.mark.reference
@property_settings
@given(words=st.lists(st.lists(st.sampled_from(WORDS + ["", "1,5", "[MASK]", "naïve", "a b"]), min_size=1,
                               max_size=6), min_size=1, max_size=3),
       pairs=st.booleans(), padding=st.sampled_from([False, True]))
def test_is_split_into_words_matches_transformers(make_pair, words, pairs, padding):
    ours, reference = make_pair(fresh=False)
    second = [list(reversed(w)) for w in words] if pairs else None
    _same_outcome(lambda: ours(words, second, is_split_into_words=True, padding=padding),
                  lambda: reference(words, second, is_split_into_words=True, padding=padding))
    _same_outcome(lambda: ours(words[0], second and second[0], is_split_into_words=True),
                  lambda: reference(words[0], second and second[0], is_split_into_words=True))


@pytest.mark.reference
@property_settings
@given(lengths=st.lists(st.integers(0, 9), min_size=1, max_size=4),
       padding=st.sampled_from([True, "longest", "max_length", False]), max_length=st.sampled_from([None, 6, 12]),
       pad_to_multiple_of=st.sampled_from([None, 4]), padding_side=st.sampled_from([None, "left", "right"]),
       as_list_of_dicts=st.booleans(), arrays=st.booleans(), return_attention_mask=st.sampled_from([None, False]))
def test_pad_matches_transformers(make_pair, lengths, padding, max_length, pad_to_multiple_of, padding_side,
                                  as_list_of_dicts, arrays, return_attention_mask):
    ours, reference = make_pair(fresh=False)
    batch = ["hello " * n for n in lengths]
    unpadded = reference(batch, return_special_tokens_mask=True)
    if arrays:
        lengths = {len(ids) for ids in unpadded["input_ids"]}
        if len(lengths) > 1:
            unpadded = reference(batch, return_special_tokens_mask=True, padding=True)
        unpadded = {key: np.asarray(values) for key, values in unpadded.items()}
    options = dict(padding=padding, max_length=max_length, pad_to_multiple_of=pad_to_multiple_of,
                   padding_side=padding_side, return_attention_mask=return_attention_mask)

    def inputs():
        fields = {key: list(values) for key, values in unpadded.items()}
        if as_list_of_dicts:
            return [{key: fields[key][i] for key in fields} for i in range(len(batch))]
        return fields

    got = _same_outcome(lambda: ours.pad(inputs(), **options), lambda: reference.pad(inputs(), **options))
    # One example, as lists (the reference cannot pad a single example given as a 1-D array).
    first = {key: list(values[0]) for key, values in _as_dict(unpadded).items()}
    single = _same_outcome(lambda: ours.pad(dict(first), **options), lambda: reference.pad(dict(first), **options))
    if arrays and got is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "max_length is ignored when padding=True ..."
            assert isinstance(ours.pad(inputs(), **options)["input_ids"], np.ndarray)
    assert single is None or isinstance(single["input_ids"], list)


@pytest.mark.reference
def test_pad_gives_torch_tensors_back_for_torch_tensors(make_pair):
    """A list of encodings holding torch tensors (a DataLoader's usual input) pads to tensors, as in
    Transformers."""
    import torch

    ours, reference = make_pair(fresh=False)
    items = [{key: torch.tensor(values) for key, values in reference(text).items()} for text in ("a b c d", "a")]
    got, expected = ours.pad(items), reference.pad(items)
    assert set(got) == set(expected)
    for key in expected:
        assert isinstance(got[key], torch.Tensor) and torch.equal(got[key], expected[key]), key
    # Float labels padded along keep their values (regression targets), as in Transformers.
    labelled = [{"input_ids": [5, 6, 7], "labels": 0.7}, {"input_ids": [5], "labels": 1.2}]
    for kind in ("np", "pt"):
        got, expected = ours.pad(labelled, return_tensors=kind), reference.pad(labelled, return_tensors=kind)
        assert str(got["labels"].dtype) == str(expected["labels"].dtype)
        np.testing.assert_allclose(np.asarray(got["labels"]), np.asarray(expected["labels"]))


@pytest.mark.reference
def test_overflow_with_stride_matches_transformers(make_pair):
    ours, reference = make_pair(fresh=False)
    text = "the model shares layers across depth and width " * 3
    for options in (dict(truncation=True, max_length=8, stride=3),
                    dict(truncation="only_second", max_length=12, stride=2),
                    dict(truncation="only_first", max_length=12, stride=0)):
        for call in (lambda t: t(text, "a second text", return_overflowing_tokens=True, **options),
                     lambda t: t([text, "short"], return_overflowing_tokens=True, return_length=True, **options)):
            got = _same_outcome(lambda: call(ours), lambda: call(reference), options["max_length"])
            assert got is None or "overflow_to_sample_mapping" not in got  # the slow tokenizer never returns it
    got = ours(text, truncation=True, max_length=8, stride=3, return_overflowing_tokens=True)
    # The overflow starts `stride` ids before the cut, so a window over the text loses no context.
    assert got["overflowing_tokens"][:3] == got["input_ids"][-4:-1]
    with pytest.raises(ValueError, match="longest_first"):
        ours(text, text, truncation="longest_first", max_length=8, return_overflowing_tokens=True)
    with pytest.raises(ValueError, match="needs max_length"):
        ours(text, return_overflowing_tokens=True)


# ---------------------------------------------------------------------------------------- clean errors

@pytest.mark.parametrize("call, argument", [
    (lambda t: t("caf\udce9"), "text"),
    (lambda t: t("fine", "bad \udc80"), "text_pair"),
    (lambda t: t(["fine", "bad \ud800 surrogate"]), r"text\[1\]"),
    (lambda t: t([["fine", "b\udcff"]], is_split_into_words=True), r"text\[0\]\[1\]"),
    (lambda t: t.tokenize("\udc80"), "text"),
    (lambda t: t.encode_plus(["▁a", "\udc80"]), r"text\[1\]"),
    (lambda t: t.add_tokens(["<ok>", "\udc80"]), r"new_tokens\[1\]"),
    (lambda t: t.add_special_tokens({"mask_token": "\udc80"}), "mask_token"),
])
def test_lone_surrogates_raise_a_clean_error_naming_the_argument(trained_models, call, argument):
    tokenizer = AlbertTokenizer(trained_models["trained-lower"])
    with pytest.raises(ValueError, match=f"{argument} is not valid Unicode.*lone surrogate.*errors='replace'"):
        call(tokenizer)


def test_malformed_batches_name_the_item(trained_models):
    tokenizer = AlbertTokenizer(trained_models["trained-lower"])
    with pytest.raises(TypeError, match=r"text\[1\] must be a str or a list of words"):
        tokenizer([["a", "b"], []], is_split_into_words=True)
    with pytest.raises(ValueError, match="must be a \\(text, text_pair\\) pair, got 3 items"):
        tokenizer.batch_encode_plus([["a", "b", "c"]])
    with pytest.raises(ValueError, match="text_pair must be a list of 2 texts, got str"):
        tokenizer(["a", "b"], "c")
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['padd'\\]"):
        tokenizer("a", padd=True)


def test_bytes_raise_a_type_error_that_says_to_decode(trained_models, tmp_path):
    tokenizer = AlbertTokenizer(trained_models["trained-lower"])
    for call in (lambda: tokenizer(b"caf\xe9"), lambda: tokenizer(["ok", b"x"]), lambda: tokenizer.tokenize(b"x")):
        with pytest.raises(TypeError, match=r"must be a str, got bytes: decode it first"):
            call()
    with pytest.raises(ValueError, match=r"training input 1 .* is not valid Unicode"):
        train_sentencepiece(["fine", "bad \udc80"], tmp_path / "m", 300)
    # Found while SentencePiece reads a generator, which would report a bare RuntimeError.
    sentences = (sentence for sentence in ["a fine sentence"] * 50 + ["bad \udc80"])
    with pytest.raises(ValueError, match=r"training sentence 50 is not valid Unicode"):
        train_sentencepiece(sentences, tmp_path / "m", 60, hard_vocab_limit=False)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café au lait\n".encode("latin-1") * 20)
    with pytest.raises(ValueError, match=r"latin1\.txt is not UTF-8 text"):
        train_sentencepiece(latin1, tmp_path / "m", 60, hard_vocab_limit=False)
    with pytest.raises(ValueError, match=r"tokens\[1\] is not valid Unicode"):
        tokenizer.convert_tokens_to_ids(["▁a", "\udc80"])
    with pytest.raises(TypeError, match=r"tokens .* must be a str, got int"):
        tokenizer.convert_tokens_to_ids(5)


def test_decode_refuses_what_is_not_token_ids(trained_models):
    tokenizer = AlbertTokenizer(trained_models["trained-lower"])
    assert tokenizer.decode(np.asarray([5, 6], dtype=np.int32)) == tokenizer.decode([5, 6])
    for bad in (np.asarray([0.2, 0.8]), [[5, 6]], [5, True], "5 6"):
        with pytest.raises(TypeError, match="must be an int or a flat list/array of ints"):
            tokenizer.decode(bad)
    with pytest.raises(IndexError, match="outside the vocabulary"):
        tokenizer.decode([400])


@pytest.mark.parametrize("field, value, message", [
    ("do_lower_case", "false", "do_lower_case must be a JSON true/false"),
    ("padding_side", 1, "padding_side must be a JSON string"),
    ("model_max_length", "512", "model_max_length must be a whole number"),
    ("added_tokens_decoder", [], "added_tokens_decoder must be an object"),
    ("added_tokens_decoder", {"x": {"content": "<e>"}}, "added_tokens_decoder has the id 'x'"),
    ("added_tokens_decoder", {"5": 7}, r"added_tokens_decoder\[5\] must be a str or an AddedToken"),
])
def test_bad_tokenizer_config_names_the_file_and_field(tmp_path, trained_models, field, value, message):
    AlbertTokenizer(trained_models["trained-lower"]).save_pretrained(tmp_path)
    config_file = tmp_path / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config[field] = value
    config_file.write_text(json.dumps(config))
    with pytest.raises((ValueError, TypeError), match=f"tokenizer_config.json.*{message}"):
        AlbertTokenizer.from_pretrained(tmp_path)
    config_file.write_text("[1, 2]")
    with pytest.raises(ValueError, match="tokenizer_config.json must hold a JSON object"):
        AlbertTokenizer.from_pretrained(tmp_path)


def test_check_vocab_matches_names_both_sizes_and_files(trained_models):
    tokenizer = AlbertTokenizer(trained_models["trained-lower"])
    check_vocab_matches(tokenizer, {"vocab_size": 400})
    with pytest.raises(ValueError, match=r"(?s)lower\.model.*400 tokens.*ckpt/config\.json.*vocab_size=300"):
        check_vocab_matches(tokenizer, {"vocab_size": 300}, config_file="ckpt/config.json")
    with pytest.raises(ValueError, match="vocab_size=500"):
        check_vocab_matches(tokenizer, {"vocab_size": 500})
    check_vocab_matches(tokenizer, {"vocab_size": 500}, allow_larger_embedding=True)
    tokenizer.add_tokens(["<new>"])
    with pytest.raises(ValueError, match=r"401 tokens \(400 SentencePiece pieces \+ 1 added\).*resize_token_emb"):
        check_vocab_matches(tokenizer, {"vocab_size": 400})
    with pytest.raises(ValueError, match="no integer vocab_size"):
        check_vocab_matches(tokenizer, {"vocab_size": "401"})


def test_check_vocab_matches_reads_a_config_object(trained_models):
    config = pytest.importorskip("tinyalbert.config").AlbertConfig(vocab_size=400)
    check_vocab_matches(AlbertTokenizer(trained_models["trained-lower"]), config)


def test_return_tensors_pt_gives_the_tensors_transformers_gives(make_small_pair, transformers):
    """One tokenizer can feed both models side by side: "pt" gives torch tensors, as Transformers' does."""
    import torch

    ours, reference = make_small_pair()
    texts, pairs = ["the cat sat", "a dog"], ["on a mat", "ran"]
    for args, options in ((("the cat sat",), {}), ((texts, pairs), {"padding": True})):
        expected = reference(*args, return_tensors="pt", **options)
        got = ours(*args, return_tensors="pt", **options)
        assert set(got.keys()) == set(expected.keys())
        for key in expected:
            assert isinstance(got[key], torch.Tensor) and got[key].dtype == expected[key].dtype == torch.int64
            assert torch.equal(got[key], expected[key]), key
    assert set(got.data) == set(expected.data) and type(got.data) is dict
    moved = got.to(torch.device("meta"))  # the idiom tokenizer(...).to(model.device)
    assert moved is got and all(tensor.device.type == "meta" for tensor in moved.values())
    as_numpy = ours("the cat", return_tensors="np")
    assert isinstance(as_numpy.to("cpu")["input_ids"], np.ndarray)  # NumPy stays as it is
    with pytest.raises(ValueError, match="None, 'np', 'pt' or an array namespace"):
        ours("the cat", return_tensors="tf")


def test_sp_model_kwargs_sample_segmentations_as_transformers_does(trained_models, transformers, tmp_path):
    """Subword regularization: with the same SentencePiece seed, the same sampled ids as
    Transformers, call after call, and they differ from call to call."""
    import sentencepiece as spm

    sampling = {"enable_sampling": True, "alpha": 0.5, "nbest_size": -1}
    model_file = trained_models["trained-lower"]
    ours = AlbertTokenizer(model_file, sp_model_kwargs=sampling)
    reference = transformers.AlbertTokenizer(str(model_file), sp_model_kwargs=sampling)
    batch = [" ".join(WORDS[:12]) + ", in 1990, 4,5", " ".join(WORDS[12:20]) + " [MASK] " + " ".join(WORDS[20:26])]
    spm.set_random_generator_seed(11)
    expected = [reference(batch)["input_ids"] for _ in range(6)]
    spm.set_random_generator_seed(11)
    assert [ours(batch)["input_ids"] for _ in range(6)] == expected
    assert len({str(ids) for ids in expected}) > 1, "sampling should give different segmentations"
    ours.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["sp_model_kwargs"] == sampling
    assert transformers.AlbertTokenizer.from_pretrained(tmp_path).sp_model_kwargs == sampling
    again = pickle.loads(pickle.dumps(AlbertTokenizer.from_pretrained(tmp_path)))
    assert again.sp_model_kwargs == sampling
    assert len({tuple(again.tokenize(batch[0])) for _ in range(10)}) > 1
    with pytest.raises(ValueError, match="not SentencePieceProcessor options"):
        AlbertTokenizer(model_file, sp_model_kwargs={"sampling": True})


def test_an_empty_batch_is_a_value_error_as_in_the_reference(make_small_pair):
    ours, reference = make_small_pair()
    calls = [lambda t: t([]), lambda t: t([], padding=True, return_tensors="np"), lambda t: t.batch_encode_plus([]),
             lambda t: t([], [])]
    for call in calls:
        with pytest.raises(ValueError, match="empty batch"):
            call(ours)
        with pytest.raises(ValueError):
            call(reference)
    with pytest.raises(ValueError, match="pad needs an encoding"):
        ours.pad([])
    with pytest.raises(IndexError):  # the reference's pad([]) fails by accident, reading the first input
        reference.pad([])
    # An encoding with no rows pads to itself in both.
    assert dict(ours.pad({"input_ids": []})) == dict(reference.pad({"input_ids": []})) == {"input_ids": []}
    # An empty text is not an empty batch: both encode it to the special tokens alone.
    assert ours([""])["input_ids"] == reference([""])["input_ids"] == [[ours.cls_token_id, ours.sep_token_id]]


@pytest.mark.reference
def test_no_model_max_length_means_no_limit_as_in_transformers(tmp_path, trained_models, transformers):
    """Without tokenizer_config.json (or the argument) there is no model_max_length: padding to
    max_length and truncation without max_length then do nothing, with a warning, in both."""
    import shutil

    shutil.copy(trained_models["trained-lower"], tmp_path / "spiece.model")
    long_text = "the quick brown fox " * 150
    for ours, theirs in ((AlbertTokenizer(tmp_path / "spiece.model"), transformers.AlbertTokenizer(str(tmp_path / "spiece.model"))),
                         (AlbertTokenizer.from_pretrained(tmp_path), transformers.AlbertTokenizer.from_pretrained(tmp_path))):
        assert ours.model_max_length == theirs.model_max_length == int(1e30)
        for options in (dict(padding="max_length"), dict(truncation=True), dict(padding="max_length", truncation=True)):
            with pytest.warns(UserWarning, match="no model_max_length"):
                got = ours(long_text, **options)
            assert got == theirs(long_text, **options) and len(got["input_ids"]) > 512, options
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a long text is not "too long" when there is no limit
            ours(long_text)
        assert ours("hi", padding="max_length", max_length=8) == theirs("hi", padding="max_length", max_length=8)


@pytest.mark.reference
def test_tokenizer_attributes_and_split_special_tokens_match_transformers(tmp_path, trained_models, transformers):
    ours = AlbertTokenizer(trained_models["trained-lower"], model_max_length=64)
    ours.add_special_tokens({"additional_special_tokens": [AddedToken("<e>", lstrip=True)]})
    ours.save_pretrained(tmp_path)
    ours = AlbertTokenizer.from_pretrained(tmp_path)
    theirs = transformers.AlbertTokenizer.from_pretrained(tmp_path)
    for name in ("is_fast", "name_or_path", "max_len_single_sentence", "max_len_sentences_pair", "pad_token_type_id",
                 "split_special_tokens", "vocab_file"):
        assert getattr(ours, name) == getattr(theirs, name), name
    # The roles' AddedTokens keep their flags ([MASK] strips on its left); Transformers gives an
    # additional special token read back from a file as a str, tinyalbert as the AddedToken it is.
    flags = lambda token: (token.content, token.lstrip, token.rstrip, token.special)  # noqa: E731
    assert [str(t) for t in ours.all_special_tokens_extended] == [str(t) for t in theirs.all_special_tokens_extended]
    theirs_map, ours_map = theirs.special_tokens_map_extended, ours.special_tokens_map_extended
    assert set(ours_map) == set(theirs_map) and ours_map["mask_token"].lstrip
    for role in set(theirs_map) - {"additional_special_tokens"}:
        assert flags(ours_map[role]) == flags(theirs_map[role]), role
    assert [flags(t) for t in ours_map["additional_special_tokens"]] == [("<e>", True, False, True)]
    # split_special_tokens reads special and added tokens in the text as plain text: per call, or saved.
    text = "Hi [MASK] there <e> <pad>"
    assert ours.tokenize(text, split_special_tokens=True) == theirs.tokenize(text, split_special_tokens=True)
    assert ours.tokenize(text, split_special_tokens=True) != ours.tokenize(text)
    for options in (dict(), dict(split_special_tokens=True), dict(split_special_tokens=False)):
        assert ours(text, **options) == theirs(text, **options), options
    AlbertTokenizer.from_pretrained(tmp_path, split_special_tokens=True).save_pretrained(tmp_path / "split")
    splitting = transformers.AlbertTokenizer.from_pretrained(tmp_path / "split")
    assert splitting.split_special_tokens and splitting(text) == AlbertTokenizer.from_pretrained(tmp_path / "split")(text)
    # tokenize() ignores add_special_tokens as the slow tokenizer does, but says so.
    with pytest.warns(UserWarning, match="ignores"):
        assert ours.tokenize(text, add_special_tokens=True) == theirs.tokenize(text, add_special_tokens=True)
    encoded, expected = ours("hi there"), theirs("hi there")
    assert (encoded.is_fast, encoded.encodings, encoded.n_sequences) == (expected.is_fast, expected.encodings,
                                                                         expected.n_sequences)
    np.testing.assert_array_equal(encoded.convert_to_tensors("np", prepend_batch_axis=True)["input_ids"],
                                  expected.convert_to_tensors("np", prepend_batch_axis=True)["input_ids"])
    assert AlbertTokenizer.from_pretrained(tmp_path, use_fast=False, legacy=False).name_or_path == str(tmp_path)


@pytest.mark.reference
def test_save_pretrained_files_and_options_match_transformers(tmp_path, trained_models, transformers):
    ours = AlbertTokenizer(trained_models["trained-lower"], model_max_length=64)
    theirs = transformers.AlbertTokenizer(str(trained_models["trained-lower"]), model_max_length=64)
    for tokenizer in (ours, theirs):
        tokenizer.add_tokens(["NEWword"])
    for prefix in (None, "mine"):
        got = ours.save_pretrained(tmp_path / "ours", filename_prefix=prefix)
        expected = theirs.save_pretrained(tmp_path / "theirs", filename_prefix=prefix)
        assert [Path(path).name for path in got] == [Path(path).name for path in expected]
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == sorted(p.name for p in (tmp_path / "theirs").iterdir())
    assert (json.loads((tmp_path / "ours" / "added_tokens.json").read_text())
            == json.loads((tmp_path / "theirs" / "added_tokens.json").read_text()))
    plain = AlbertTokenizer(trained_models["trained-lower"]).save_pretrained(tmp_path / "plain")
    assert not Path(plain[-1]).exists()  # nothing added: the path is returned, the file not written
    for options, fragment in ((dict(legacy_format=False), "fast tokenizer"), (dict(push_to_hub=True), "does not upload")):
        with pytest.raises(ValueError, match=fragment):
            ours.save_pretrained(tmp_path / "refused", **options)
