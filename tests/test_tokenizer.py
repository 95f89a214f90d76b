"""tinyalbert's AlbertTokenizer against transformers 4.53.3's slow AlbertTokenizer.

Every property test builds the same inputs for both and asks for identical outputs. The
tokenizers run on SentencePiece models trained here (lower-cased, and cased with accents) and
on the real albert-base-v2 vocabulary when the shared fixture is present.
"""
import pickle
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tinyalbert.tokenizer import AlbertTokenizer, train_sentencepiece
from tokenizer_strategies import trained_models, training_corpus, texts, transformers  # noqa: F401 (fixtures)

# The tokenizer fixtures are built once and cached, so hypothesis re-using them across examples is fine.
property_settings = settings(
    suppress_health_check=list(settings.default.suppress_health_check) + [HealthCheck.function_scoped_fixture],
)

# name -> (which SentencePiece model, tokenizer options)
VARIANTS = {
    "trained-lower": ("trained-lower", {}),
    "trained-cased": ("trained-cased", {"do_lower_case": False, "keep_accents": True}),
    "base-v2": ("albert-base-v2", {}),
    "base-v2-keep-accents": ("albert-base-v2", {"keep_accents": True}),
    "base-v2-cased": ("albert-base-v2", {"do_lower_case": False}),
    "base-v2-keep-space": ("albert-base-v2", {"remove_space": False}),
}
_TOKENIZER_CACHE = {}


def _model_file(model_name, trained_models, request) -> Path:
    if model_name == "albert-base-v2":
        return request.getfixturevalue("albert_base_v2_tokenizer_dir") / "spiece.model"
    return trained_models[model_name]


@pytest.fixture(params=list(VARIANTS))
def tokenizers(request, trained_models, transformers):
    """(tinyalbert tokenizer, transformers slow tokenizer) built from the same model and options."""
    model_name, options = VARIANTS[request.param]
    model_file = _model_file(model_name, trained_models, request)
    key = (str(model_file), request.param)
    if key not in _TOKENIZER_CACHE:
        ours = AlbertTokenizer(model_file, model_max_length=512, **options)
        reference = transformers.AlbertTokenizer(str(model_file), model_max_length=512, **options)
        _TOKENIZER_CACHE[key] = (ours, reference)
    return _TOKENIZER_CACHE[key]


@pytest.fixture
def base_v2(albert_base_v2_tokenizer_dir):
    return AlbertTokenizer.from_pretrained(albert_base_v2_tokenizer_dir)


def _as_dict(encoding) -> dict:
    return {key: value for key, value in encoding.items()}


# ---------------------------------------------------------------------------------------- parity


@pytest.mark.reference
@property_settings
@given(text=texts())
@example(text="9,9 1,000 a9, x, ²,")
@example(text="１， 9，x 7﹐")  # full-width commas: SentencePiece normalises them into ","
@example(text="Hello [MASK] world a  [MASK]b x[CLS]y [SEP] q")
@example(text="ΟΔΟΣ ⅀ <PAD> <Unk> [mask]")
@example(text="naïve ``quoted'' ｆｕｌｌ　ｗｉｄｔｈ １，０００ 日本語 😀")
@example(text="")
@example(text="a\x85[MASK] b")  # NEL: whitespace to Python, kept by SentencePiece; [MASK] must eat it
def test_single_text_matches_transformers(tokenizers, text):
    ours, reference = tokenizers
    assert ours.tokenize(text) == reference.tokenize(text)
    expected = reference(text, return_special_tokens_mask=True)
    got = ours(text, return_special_tokens_mask=True)
    assert _as_dict(got) == _as_dict(expected)
    assert ours.encode(text) == reference.encode(text)
    for skip in (False, True):
        assert ours.decode(got["input_ids"], skip_special_tokens=skip) == reference.decode(
            expected["input_ids"], skip_special_tokens=skip
        )


@pytest.mark.reference
@property_settings
@given(first=texts(), second=texts())
@example(first="[MASK] 1,5", second="  [SEP][MASK]  x  ")
def test_pair_matches_transformers(tokenizers, first, second):
    ours, reference = tokenizers
    expected = reference(first, second, return_special_tokens_mask=True)
    got = ours(first, second, return_special_tokens_mask=True)
    assert _as_dict(got) == _as_dict(expected)
    assert got["token_type_ids"].count(1) == len(ours.encode(second, add_special_tokens=False)) + 1
    for skip in (False, True):
        assert ours.decode(got["input_ids"], skip_special_tokens=skip) == reference.decode(
            expected["input_ids"], skip_special_tokens=skip
        )


@pytest.mark.reference
@property_settings
@given(
    batch=st.lists(st.tuples(texts(max_fragments=10), texts(max_fragments=10)), min_size=1, max_size=5),
    use_pairs=st.booleans(),
    padding=st.sampled_from([False, True, "longest", "max_length", "do_not_pad"]),
    truncation=st.sampled_from([None, False, True, "longest_first", "only_first", "only_second", "do_not_truncate"]),
    max_length=st.one_of(st.none(), st.integers(0, 40)),
    pad_to_multiple_of=st.sampled_from([None, None, 4]),
    add_special_tokens=st.booleans(),
    padding_side=st.sampled_from(["right", "left"]),
    truncation_side=st.sampled_from(["right", "left"]),
)
def test_padded_truncated_batch_matches_transformers(
    tokenizers, batch, use_pairs, padding, truncation, max_length, pad_to_multiple_of, add_special_tokens,
    padding_side, truncation_side,
):
    ours, reference = tokenizers
    firsts = [first for first, _ in batch]
    seconds = [second for _, second in batch] if use_pairs else None
    options = dict(padding=padding, truncation=truncation, max_length=max_length,
                   pad_to_multiple_of=pad_to_multiple_of, add_special_tokens=add_special_tokens,
                   return_special_tokens_mask=True)
    for tokenizer in (ours, reference):
        tokenizer.padding_side, tokenizer.truncation_side = padding_side, truncation_side
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "max_length is ignored when padding=True ..."
            try:
                expected = reference(firsts, seconds, **options)
            except ValueError:
                with pytest.raises(ValueError):
                    ours(firsts, seconds, **options)
                return
            try:
                got = ours(firsts, seconds, **options)
            except ValueError as error:
                # Raised where the reference cannot truncate to max_length and returns longer sequences.
                assert "cannot truncate" in str(error)
                assert max_length and any(len(ids) > max_length for ids in expected["input_ids"])
                return
    finally:
        for tokenizer in (ours, reference):
            tokenizer.padding_side = tokenizer.truncation_side = "right"
    assert _as_dict(got) == _as_dict(expected)
    assert ours.batch_decode(got["input_ids"]) == reference.batch_decode(expected["input_ids"])
    assert ours.batch_decode(got["input_ids"], skip_special_tokens=True) == reference.batch_decode(
        expected["input_ids"], skip_special_tokens=True
    )


@pytest.mark.reference
@property_settings
@given(
    n_first=st.integers(0, 14),
    n_second=st.integers(0, 14),
    max_length=st.integers(3, 24),
    truncation=st.sampled_from(["longest_first", "only_first", "only_second"]),
    truncation_side=st.sampled_from(["right", "left"]),
)
def test_pair_truncation_lengths_match_transformers(tokenizers, n_first, n_second, max_length, truncation,
                                                    truncation_side):
    """Every split of the tokens to remove between the two sequences, on texts of known length."""
    ours, reference = tokenizers
    first, second = " ".join(f"a{i % 10}" for i in range(n_first)), " ".join(f"b{i % 10}" for i in range(n_second))
    for tokenizer in (ours, reference):
        tokenizer.truncation_side = truncation_side
    try:
        expected = reference(first, second, truncation=truncation, max_length=max_length)
        if len(expected["input_ids"]) > max_length:  # the reference could not truncate
            with pytest.raises(ValueError, match="cannot truncate"):
                ours(first, second, truncation=truncation, max_length=max_length)
        else:
            assert _as_dict(ours(first, second, truncation=truncation, max_length=max_length)) == _as_dict(expected)
    finally:
        for tokenizer in (ours, reference):
            tokenizer.truncation_side = "right"


@pytest.mark.reference
@property_settings
@given(data=st.data())
def test_ids_to_text_and_special_token_helpers_match_transformers(tokenizers, data):
    ours, reference = tokenizers
    ids = data.draw(st.lists(st.integers(0, ours.vocab_size - 1), max_size=20))
    pair_ids = data.draw(st.one_of(st.none(), st.lists(st.integers(0, ours.vocab_size - 1), max_size=8)))
    tokens = reference.convert_ids_to_tokens(ids)
    assert ours.convert_ids_to_tokens(ids) == tokens
    assert ours.convert_ids_to_tokens(ids, skip_special_tokens=True) == reference.convert_ids_to_tokens(
        ids, skip_special_tokens=True
    )
    assert ours.convert_tokens_to_ids(tokens) == reference.convert_tokens_to_ids(tokens)
    assert ours.convert_tokens_to_string(tokens) == reference.convert_tokens_to_string(tokens)
    for skip in (False, True):
        assert ours.decode(ids, skip_special_tokens=skip) == reference.decode(ids, skip_special_tokens=skip)
        assert ours.decode(np.asarray(ids, dtype=np.int64), skip_special_tokens=skip) == reference.decode(
            ids, skip_special_tokens=skip
        )
    assert ours.build_inputs_with_special_tokens(ids, pair_ids) == reference.build_inputs_with_special_tokens(
        ids, pair_ids
    )
    assert ours.create_token_type_ids_from_sequences(ids, pair_ids) == (
        reference.create_token_type_ids_from_sequences(ids, pair_ids)
    )
    assert ours.get_special_tokens_mask(ids, pair_ids) == reference.get_special_tokens_mask(ids, pair_ids)
    assert ours.get_special_tokens_mask(ids, already_has_special_tokens=True) == reference.get_special_tokens_mask(
        ids, already_has_special_tokens=True
    )


@pytest.mark.reference
@pytest.mark.parametrize("padding", [True, "max_length"])
def test_pad_to_multiple_of_matches_transformers(tokenizers, padding):
    ours, reference = tokenizers
    batch = ["one", "two words", "a few more words here, 1,000 of them"]
    options = dict(padding=padding, max_length=12 if padding == "max_length" else None, pad_to_multiple_of=8)
    expected = reference(batch, **options)
    assert _as_dict(ours(batch, **options)) == _as_dict(expected)
    assert len(expected["input_ids"][0]) % 8 == 0


@pytest.mark.reference
def test_vocabulary_and_special_token_attributes_match_transformers(tokenizers):
    ours, reference = tokenizers
    assert ours.vocab_size == reference.vocab_size
    assert len(ours) == len(reference)
    assert ours.get_vocab() == reference.get_vocab()
    assert ours.all_special_tokens == reference.all_special_tokens
    assert ours.all_special_ids == reference.all_special_ids
    for role in ("bos", "eos", "unk", "sep", "pad", "cls", "mask"):
        assert getattr(ours, f"{role}_token") == getattr(reference, f"{role}_token")
        assert getattr(ours, f"{role}_token_id") == getattr(reference, f"{role}_token_id")
    assert ours.model_max_length == reference.model_max_length
    assert ours.padding_side == reference.padding_side == "right"
    assert ours.num_special_tokens_to_add(pair=True) == reference.num_special_tokens_to_add(pair=True)


def test_real_vocabulary_known_ids(base_v2):
    # Ids read off albert-base-v2's spiece.model with SentencePiece itself.
    sp = base_v2.sp_model
    assert base_v2("Hello [MASK] world")["input_ids"] == [
        2, sp.PieceToId("▁hello"), 4, sp.PieceToId("▁world"), 3]
    # The digit-comma rule: "9," is re-split so that the comma stands alone.
    assert base_v2.tokenize("9,9") == ["▁9", ",", "9"]
    assert (base_v2.pad_token_id, base_v2.unk_token_id, base_v2.cls_token_id, base_v2.sep_token_id,
            base_v2.mask_token_id) == (0, 1, 2, 3, 4)


# ---------------------------------------------------------------------------------------- arrays


def test_return_tensors_numpy_and_array_namespace(base_v2):
    batch = base_v2(["a short one", "a somewhat longer sentence here"], padding=True, return_tensors="np")
    assert isinstance(batch.input_ids, np.ndarray) and batch.input_ids.dtype == np.int64
    assert batch.input_ids.shape == batch.attention_mask.shape == batch.token_type_ids.shape
    assert batch.attention_mask.sum(axis=1).tolist() == [len(base_v2.encode(t)) for t in
                                                          ["a short one", "a somewhat longer sentence here"]]
    single = base_v2("one text", return_tensors="np")
    assert single["input_ids"].shape == (1, len(base_v2.encode("one text")))

    xp = pytest.importorskip("array_api_strict")
    strict = base_v2(["x y", "z"], ["p", "q r s"], padding="max_length", max_length=8, return_tensors=xp)
    assert strict["input_ids"].shape == (2, 8) and strict["input_ids"].dtype == xp.int64
    with pytest.raises(ValueError, match="different lengths; pass padding=True"):
        base_v2(["a", "a much longer text"], return_tensors="np")
    # A field that padding leaves alone: "pass padding=True" would send the user in a circle.
    with pytest.raises(ValueError, match="padding does not pad overflowing_tokens; leave return_tensors unset"):
        base_v2(["a b c d e f g h i j k", "a b"], truncation=True, max_length=6, stride=1, padding=True,
                return_overflowing_tokens=True, return_tensors="np")
    with pytest.raises(ValueError, match="padding does not pad labels"):
        base_v2.pad([{"input_ids": [5, 6], "labels": [0, 1]}, {"input_ids": [5], "labels": [1]}], return_tensors="np")
    with pytest.raises(ValueError, match="return_tensors"):
        base_v2("a", return_tensors="tf")
    with pytest.raises(TypeError, match="text_target is for the labels of a model with a decoder"):
        base_v2("a", text_target="b")


# ---------------------------------------------------------------------------------------- files


@pytest.mark.reference
def test_save_pretrained_loads_in_transformers_and_back(tmp_path, trained_models, transformers):
    ours = AlbertTokenizer(trained_models["trained-cased"], do_lower_case=False, keep_accents=True,
                           model_max_length=128)
    ours.save_pretrained(tmp_path / "saved")
    assert {p.name for p in (tmp_path / "saved").iterdir()} == {
        "spiece.model", "tokenizer_config.json", "special_tokens_map.json"}
    reference = transformers.AlbertTokenizer.from_pretrained(tmp_path / "saved")
    reloaded = AlbertTokenizer.from_pretrained(str(tmp_path / "saved"))
    assert reference.model_max_length == reloaded.model_max_length == 128
    assert (reloaded.do_lower_case, reloaded.keep_accents) == (False, True)
    sample = ["Café [MASK]  au lait 1,000", "x[CLS]y", "ΟΔΟΣ <PAD>"]
    expected = _as_dict(reference(sample, padding=True, return_special_tokens_mask=True))
    assert _as_dict(reloaded(sample, padding=True, return_special_tokens_mask=True)) == expected
    assert _as_dict(ours(sample, padding=True, return_special_tokens_mask=True)) == expected

    # And the other way: a directory written by transformers.
    reference.save_pretrained(tmp_path / "from_transformers")
    from_transformers = AlbertTokenizer.from_pretrained(tmp_path / "from_transformers")
    assert _as_dict(from_transformers(sample, padding=True, return_special_tokens_mask=True)) == expected
    assert ours.save_vocabulary(tmp_path, filename_prefix="x") == (str(tmp_path / "x-spiece.model"),)


@pytest.mark.reference
def test_from_pretrained_reads_the_real_config(albert_base_v2_tokenizer_dir, transformers):
    ours = AlbertTokenizer.from_pretrained(albert_base_v2_tokenizer_dir)
    reference = transformers.AlbertTokenizer.from_pretrained(albert_base_v2_tokenizer_dir)
    assert (ours.model_max_length, ours.do_lower_case, ours.keep_accents, ours.remove_space) == (
        reference.model_max_length, reference.do_lower_case, reference.keep_accents, reference.remove_space)
    text = "a  [MASK]b [SEP] c"
    assert ours(text)["input_ids"] == reference(text)["input_ids"]


def test_from_pretrained_asks_the_hub_module_for_other_names(monkeypatch, trained_models, tmp_path):
    model_dir = tmp_path / "resolved"
    AlbertTokenizer(trained_models["trained-lower"]).save_pretrained(model_dir)
    asked = []
    fake_hub = types.ModuleType("tinyalbert.hub")
    fake_hub.resolve_model_dir = lambda name, **where: asked.append((name, where)) or model_dir
    monkeypatch.setitem(sys.modules, "tinyalbert.hub", fake_hub)
    tokenizer = AlbertTokenizer.from_pretrained("some-org/some-albert", revision="v2", token="hf_x", subfolder="tok")
    assert asked == [("some-org/some-albert", {"revision": "v2", "cache_dir": None, "local_files_only": False,
                                               "token": "hf_x", "subfolder": "tok", "force_download": False})]
    assert tokenizer.vocab_size == 400


def test_pickle_round_trip(base_v2):
    restored = pickle.loads(pickle.dumps(base_v2))
    assert restored("Pickled [MASK] 1,000") == base_v2("Pickled [MASK] 1,000")


def test_import_pulls_in_neither_torch_nor_transformers():
    code = ("import sys, tinyalbert.tokenizer; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


# ---------------------------------------------------------------------------------------- errors


def test_missing_model_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "spiece.model"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        AlbertTokenizer(missing)
    with pytest.raises(FileNotFoundError, match="spiece.model"):
        AlbertTokenizer.from_pretrained(tmp_path)


def test_corrupt_model_file_names_the_path(tmp_path):
    corrupt = tmp_path / "broken.model"
    corrupt.write_bytes(b"this is not a protobuf" * 10)
    with pytest.raises(ValueError, match="broken.model"):
        AlbertTokenizer(corrupt)


@pytest.mark.parametrize("bad_call", [
    lambda t: t(123),
    lambda t: t(None),
    lambda t: t(["fine", 5]),
    lambda t: t("fine", text_pair=7.5),
    lambda t: t([("fine", 3)]),
    lambda t: t.tokenize(b"bytes"),
])
def test_non_string_input_raises_type_error(trained_models, bad_call):
    tokenizer = AlbertTokenizer(trained_models["trained-lower"])
    with pytest.raises(TypeError, match=r"must be a str.*got (int|NoneType|float|bytes)"):
        bad_call(tokenizer)


@pytest.mark.reference
def test_pair_truncation_that_cannot_fit_raises(tokenizers):
    ours, reference = tokenizers
    short, long = "a", "the model shares layers across depth " * 3
    # The reference logs an error and hands back a sequence longer than max_length.
    untruncated = reference(short, long, truncation="only_first", max_length=6)["input_ids"]
    assert len(untruncated) > 6
    with pytest.raises(ValueError, match="first sequence has only"):
        ours(short, long, truncation="only_first", max_length=6)
    with pytest.raises(ValueError, match="second sequence has only"):
        ours(long, short, truncation="only_second", max_length=6)
    with pytest.raises(ValueError, match="room for the 3 special tokens"):
        ours(short, long, truncation="longest_first", max_length=2)
    with pytest.raises(ValueError, match="needs a text_pair"):
        ours(long, truncation="only_second", max_length=6)
    assert len(reference(long, truncation="only_second", max_length=6)["input_ids"]) > 6
    # What can fit is cut exactly as the reference cuts it.
    fitting = ours(short, long, truncation="only_second", max_length=6)["input_ids"]
    assert fitting == reference(short, long, truncation="only_second", max_length=6)["input_ids"]
    assert len(fitting) == 6


def test_too_long_text_warns_unless_truncated(trained_models):
    tokenizer = AlbertTokenizer(trained_models["trained-lower"], model_max_length=16)
    long_text = "the model shares layers across depth " * 10
    with pytest.warns(UserWarning, match="longer than model_max_length=16"):
        ids = tokenizer(long_text)["input_ids"]
    assert len(ids) > 16
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(tokenizer(long_text, truncation=True)["input_ids"]) == 16
        assert len(tokenizer("short")["input_ids"]) < 16


@pytest.mark.reference
def test_strategy_names(trained_models, transformers):
    tokenizer = AlbertTokenizer(trained_models["trained-lower"])
    from transformers.utils import PaddingStrategy
    from transformers.tokenization_utils_base import TruncationStrategy

    by_enum = tokenizer(["a b c", "a"], padding=PaddingStrategy.MAX_LENGTH,
                        truncation=TruncationStrategy.LONGEST_FIRST, max_length=3)
    assert by_enum == tokenizer(["a b c", "a"], padding="max_length", truncation="longest_first", max_length=3)
    with pytest.raises(ValueError, match="padding must be"):
        tokenizer("a", padding="everywhere")
    with pytest.raises(ValueError, match="truncation must be"):
        tokenizer("a", truncation="middle_out")


# ---------------------------------------------------------------------------------------- training


def test_train_sentencepiece_uses_the_albert_flags(tmp_path):
    sentencepiece_model_pb2 = pytest.importorskip("sentencepiece.sentencepiece_model_pb2")
    corpus = training_corpus(300, seed=1)
    start = time.perf_counter()
    model_file = train_sentencepiece(corpus, tmp_path / "albert", 350, seed=0)
    elapsed = time.perf_counter() - start
    assert model_file == tmp_path / "albert.model" and model_file.is_file()
    assert elapsed < 10, f"training a 350-piece model took {elapsed:.1f} s"

    tokenizer = AlbertTokenizer(model_file)
    sp = tokenizer.sp_model
    assert [sp.IdToPiece(i) for i in range(5)] == ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    assert (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id()) == (0, 1, -1, -1)
    assert [sp.IsControl(i) for i in (2, 3, 4)] == [True, True, True]
    model_proto = sentencepiece_model_pb2.ModelProto.FromString(sp.serialized_model_proto())
    user_defined = [p.piece for p in model_proto.pieces if p.type == p.USER_DEFINED]
    assert user_defined == ["(", ")", '"', "-", ".", "–", "£", "€"]
    # Trained on lower-cased, accent-free text: no piece holds an upper-case letter or an accent.
    pieces = [sp.IdToPiece(i) for i in range(sp.GetPieceSize())]
    assert not any(piece != piece.lower() for piece in pieces[5:])
    assert "é" not in "".join(pieces)


def test_train_sentencepiece_reads_files_and_rejects_missing_ones(tmp_path):
    corpus_file = tmp_path / "corpus.txt"
    corpus_file.write_text("\n".join(training_corpus(300, seed=2)), encoding="utf-8")
    from_str = train_sentencepiece(str(corpus_file), tmp_path / "a", 300, seed=0)
    from_list = train_sentencepiece([corpus_file], tmp_path / "b", 300, seed=0)
    pieces = [AlbertTokenizer(path).get_vocab() for path in (from_str, from_list)]
    assert pieces[0] == pieces[1] and len(pieces[0]) == 300
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        train_sentencepiece(tmp_path / "missing.txt", tmp_path / "c", 300)
    with pytest.raises(TypeError, match="got int"):
        train_sentencepiece(["a sentence", 3], tmp_path / "d", 300)
