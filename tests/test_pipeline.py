"""`tinyalbert.pipeline("fill-mask")` against transformers 4.53.3's fill-mask pipeline.

Both pipelines load the same directory: random weights saved by transformers' `save_pretrained`
and a real SentencePiece vocabulary (a small one trained here, and albert-base-v2's when the
shared fixture is present). The reference runs with transformers' slow `AlbertTokenizer`, the
tokenizer tinyalbert reproduces (the fast one, which `tokenizer=<dir>` would load, splits some
texts differently, e.g. `"[MASK]."`).
"""
import logging
import random
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import tinyalbert  # noqa: E402
from tinyalbert.pipelines import FillMaskPipeline, MissingMaskError, TextTooLongError  # noqa: E402

# Scores: both sides run the forward pass in float32 with different summation orders, so logits
# differ by a few float32 ulps of their size (logits reach ~10 with initializer_range=0.5) and a
# softmax probability by ~1e-6 relative; 1e-4 relative (+1e-8 absolute for the tiny ones) leaves
# room for that and still catches a wrong logit, a wrong softmax axis or a missing bias.
SCORE_RTOL, SCORE_ATOL = 1e-4, 1e-8

# A larger initializer_range than ALBERT's 0.02 spreads the logits, so the top predictions of a
# random model are separated by far more than SCORE_RTOL and their order is well defined.
TINY_CONFIG = dict(embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                   intermediate_size=37, max_position_embeddings=64, initializer_range=0.5)
MAX_POSITIONS = TINY_CONFIG["max_position_embeddings"]

WORDS = ("the cat dog sat ran on in a park house tree big small red blue green old new man woman child "
         "book table river city paris london france england capital is was and of to with near over").split()


def training_sentences(count: int = 400, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12))) + rng.choice([".", "!", ""])
            for _ in range(count)]


def train_vocabulary(directory: Path) -> Path:
    """A small ALBERT-style SentencePiece model (pad 0, unk 1, [CLS] [SEP] [MASK] = 2 3 4)."""
    try:
        from tinyalbert.tokenizer import train_sentencepiece
    except ImportError:
        train_sentencepiece = None
    directory.mkdir(parents=True, exist_ok=True)
    if train_sentencepiece is not None:
        return train_sentencepiece(training_sentences(), directory / "spiece", 120, seed=0, hard_vocab_limit=False)
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(s.lower() for s in training_sentences()), model_prefix=str(directory / "spiece"),
        vocab_size=120, pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        hard_vocab_limit=False, minloglevel=2,
    )
    return directory / "spiece.model"


def make_checkpoint(directory: Path, vocab_file: Path, seed: int = 0, **config_overrides) -> Path:
    """Random AlbertForMaskedLM weights and the tokenizer files, both written by transformers."""
    tokenizer = transformers.AlbertTokenizer(str(vocab_file))
    config = transformers.AlbertConfig(vocab_size=len(tokenizer), **{**TINY_CONFIG, **config_overrides})
    torch.manual_seed(seed)
    transformers.AlbertForMaskedLM(config).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def reference_pipeline(directory: Path):
    return transformers.pipeline("fill-mask", model=str(directory), framework="pt",
                                 tokenizer=transformers.AlbertTokenizer.from_pretrained(str(directory)))


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("fill-mask-trained")
    return make_checkpoint(root / "model", train_vocabulary(root / "vocab"), seed=0)


@pytest.fixture(scope="module")
def base_v2_dir(tmp_path_factory):
    from conftest import ALBERT_BASE_V2_SPIECE

    if not ALBERT_BASE_V2_SPIECE.exists():
        pytest.skip("shared albert-base-v2 tokenizer fixture not present")
    return make_checkpoint(tmp_path_factory.mktemp("fill-mask-base-v2"), ALBERT_BASE_V2_SPIECE, seed=1)


@pytest.fixture(scope="module", params=["trained", "base-v2"])
def pipelines(request):
    """(ours, transformers') on one checkpoint, with the texts to try on its vocabulary."""
    directory = request.getfixturevalue("trained_dir" if request.param == "trained" else "base_v2_dir")
    return tinyalbert.pipeline("fill-mask", model=str(directory)), reference_pipeline(directory)


def assert_same_predictions(ours, reference):
    """Same nesting, same Python types, same tokens, strings and sequences, scores within tolerance.

    Two candidates whose scores agree within the tolerance may come in either order.
    """
    assert type(ours) is type(reference) is list, (type(ours), type(reference))
    assert len(ours) == len(reference)
    if reference and isinstance(reference[0], list):
        for ours_row, reference_row in zip(ours, reference):
            assert_same_predictions(ours_row, reference_row)
        return
    by_token = {item["token"]: item for item in reference}
    for rank, (mine, theirs) in enumerate(zip(ours, reference)):
        assert set(mine) == {"score", "token", "token_str", "sequence"}
        assert type(mine["score"]) is float and type(mine["token"]) is int
        assert type(mine["token_str"]) is str and type(mine["sequence"]) is str
        assert mine["score"] == pytest.approx(theirs["score"], rel=SCORE_RTOL, abs=SCORE_ATOL), f"rank {rank}"
        if mine["token"] != theirs["token"]:  # only a near-tie may swap places
            assert mine["token"] in by_token, f"rank {rank}: token {mine['token']} not among {list(by_token)}"
            theirs = by_token[mine["token"]]
            assert mine["score"] == pytest.approx(theirs["score"], rel=SCORE_RTOL, abs=SCORE_ATOL)
        assert mine["token_str"] == theirs["token_str"]
        assert mine["sequence"] == theirs["sequence"]


class LogCapture(logging.Handler):
    def __init__(self, logger_name):
        super().__init__(logging.WARNING)
        self.logger = logging.getLogger(logger_name)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())

    def __enter__(self):
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)


# --- parity -------------------------------------------------------------------------------------
ONE_MASK = ["The capital of France is [MASK].", "the cat sat on the [MASK]", "[MASK] dog ran in the park!"]
SEVERAL_MASKS = ["the [MASK] sat on the [MASK].", "[MASK] [MASK] is the capital of [MASK]"]


@pytest.mark.parametrize("text", ONE_MASK)
def test_one_mask_matches_transformers(pipelines, text):
    ours, reference = pipelines
    result = ours(text)
    assert len(result) == 5 and isinstance(result[0], dict)
    assert_same_predictions(result, reference(text))


@pytest.mark.parametrize("text", SEVERAL_MASKS)
def test_several_masks_give_a_list_per_mask(pipelines, text):
    ours, reference = pipelines
    result = ours(text, top_k=3)
    assert len(result) == text.count("[MASK]") and all(len(row) == 3 for row in result)
    assert_same_predictions(result, reference(text, top_k=3))


def test_batches_of_mixed_lengths_match_one_by_one_reference(pipelines):
    """Padded batches (two of them, texts reordered by length) give each text its own result."""
    ours, reference = pipelines
    texts = [ONE_MASK[0], SEVERAL_MASKS[0], "a [MASK]", ONE_MASK[2] + " the red house by the river", ONE_MASK[1]]
    ours.batch_size = 2
    try:
        result = ours(texts)
    finally:
        ours.batch_size = 8
    assert len(result) == len(texts)
    assert_same_predictions(result, reference(texts))


def test_generator_input_and_call_batch_size_match_transformers(pipelines):
    """A generator gives an iterator of results, one per text (Transformers streams them); a
    call's batch_size changes the batches, not the results."""
    ours, reference = pipelines
    texts = [ONE_MASK[0], SEVERAL_MASKS[0], "a [MASK]", ONE_MASK[1], ONE_MASK[2]]
    streamed = ours((text for text in texts), batch_size=2)
    assert not isinstance(streamed, list)
    expected = list(reference((text for text in texts), batch_size=2))
    assert len(expected) == len(texts)
    assert_same_predictions(list(streamed), expected)
    assert_same_predictions(ours(texts, batch_size=3), reference(texts))
    assert ours.batch_size == 8
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        ours(texts, batch_size=0)


def test_list_of_one_text_is_unwrapped_like_transformers(pipelines):
    ours, reference = pipelines
    expected = reference([ONE_MASK[0]])
    assert isinstance(expected[0], dict)  # transformers returns the single result, not a list of one
    assert_same_predictions(ours([ONE_MASK[0]]), expected)
    assert ours([]) == []


def test_top_k_zero_gives_empty_lists_as_transformers(pipelines):
    ours, reference = pipelines
    for inputs in (ONE_MASK[0], SEVERAL_MASKS[0], ONE_MASK[:2]):
        expected = reference(inputs, top_k=0)
        assert ours(inputs, top_k=0) == expected, inputs


@pytest.mark.parametrize("top_k", [1, 2, 12])
def test_top_k_matches_transformers(pipelines, top_k):
    ours, reference = pipelines
    result = ours(ONE_MASK[1], top_k=top_k)
    assert len(result) == top_k
    assert_same_predictions(result, reference(ONE_MASK[1], top_k=top_k))


def test_top_k_given_at_construction(trained_dir):
    fill_mask = tinyalbert.pipeline("fill-mask", model=trained_dir, top_k=2)
    assert len(fill_mask(ONE_MASK[0])) == 2
    assert len(fill_mask(ONE_MASK[0], top_k=4)) == 4


def test_top_k_none_keeps_the_default_as_in_transformers(trained_dir):
    """Transformers reads pipeline(top_k=None), and a call's top_k=None, as not given: 5 predictions."""
    reference = transformers.pipeline("fill-mask", model=str(trained_dir), framework="pt", top_k=None,
                                      tokenizer=transformers.AlbertTokenizer.from_pretrained(str(trained_dir)))
    ours = tinyalbert.pipeline("fill-mask", model=trained_dir, top_k=None)
    expected = reference(ONE_MASK[1])
    assert len(expected) == 5
    assert_same_predictions(ours(ONE_MASK[1]), expected)
    assert_same_predictions(ours(ONE_MASK[1], top_k=None), reference(ONE_MASK[1], top_k=None))


def test_targets_match_transformers_with_the_same_warnings(pipelines):
    """Vocabulary pieces are used as given; plain words and a multi-piece word are replaced by
    their first piece, with transformers' warning; a duplicate counts once; top_k is capped."""
    ours, reference = pipelines
    vocab = ours.tokenizer.get_vocab()
    pieces = [piece for piece in ("▁the", "▁cat", "▁paris", "▁dog") if piece in vocab]
    targets = pieces + ["cat", "parisdogcat", "The"]
    with LogCapture("transformers.pipelines.fill_mask") as theirs_log:
        expected = reference(ONE_MASK[0], targets=targets, top_k=10)
    with LogCapture("tinyalbert.pipelines") as ours_log:
        result = ours(ONE_MASK[0], targets=targets, top_k=10)
    assert_same_predictions(result, expected)
    assert len(result) == len({ours.tokenizer.tokenize(t)[0] if t not in vocab else t for t in targets})
    assert ours_log.messages == theirs_log.messages
    assert any("parisdogcat" in message and "Replacing with" in message for message in ours_log.messages)
    # A single target string, as transformers accepts it.
    assert_same_predictions(ours(SEVERAL_MASKS[0], targets="cat"), reference(SEVERAL_MASKS[0], targets="cat"))


def test_target_with_no_piece_is_dropped_and_none_left_raises(trained_dir):
    ours = tinyalbert.pipeline("fill-mask", model=trained_dir)
    reference = reference_pipeline(trained_dir)
    with LogCapture("transformers.pipelines.fill_mask") as theirs_log:
        expected = reference(ONE_MASK[1], targets=["", "▁the"])
    with LogCapture("tinyalbert.pipelines") as ours_log:
        result = ours(ONE_MASK[1], targets=["", "▁the"])
    assert_same_predictions(result, expected)
    assert ours_log.messages == theirs_log.messages and "ignoring it" in ours_log.messages[0]
    with pytest.raises(ValueError, match="At least one target must be provided"):
        ours(ONE_MASK[1], targets=[" "])


def test_truncation_matches_transformers(trained_dir):
    ours = tinyalbert.pipeline("fill-mask", model=trained_dir, truncation=True)
    reference = reference_pipeline(trained_dir)
    text = "the [MASK] sat on " + "the big red house " * 30
    expected = reference(text, tokenizer_kwargs={"truncation": True, "max_length": MAX_POSITIONS})
    assert_same_predictions(ours(text), expected)



def test_tokenizer_kwargs_cut_texts_as_in_transformers(trained_dir):
    """Transformers' per-call `tokenizer_kwargs`: a shorter max_length than the model's positions."""
    fill_mask = tinyalbert.pipeline("fill-mask", model=trained_dir)
    reference = reference_pipeline(trained_dir)
    texts = ["the [MASK] sat on " + "the big red house " * 30, "a [MASK] ran in the park"]
    options = {"truncation": True, "max_length": 12}
    expected = [reference(text, tokenizer_kwargs=options) for text in texts]
    assert len(expected[0][0]["sequence"].split()) <= 10  # cut: 12 tokens, [CLS] and [SEP] among them
    for ours, theirs in zip(fill_mask(texts, tokenizer_kwargs=options), expected):
        assert_same_predictions(ours, theirs)
    with pytest.raises(MissingMaskError, match="after truncation to 12 tokens"):
        fill_mask("the big red house " * 5 + "[MASK]", tokenizer_kwargs=options)
    with pytest.raises(TextTooLongError):  # truncation off: max_length alone cuts nothing, as in Transformers
        fill_mask(texts[0], tokenizer_kwargs={"max_length": 12})
    with pytest.raises(ValueError, match=r"tokenizer_kwargs 'truncation' and 'max_length', got \['padding'\]"):
        fill_mask(texts[1], tokenizer_kwargs={"padding": True})
    with pytest.raises(ValueError, match="disagree"):
        fill_mask(texts[1], truncation=False, tokenizer_kwargs=options)
    with pytest.raises(ValueError, match="max_length must be an int of at least 3"):
        fill_mask(texts[1], tokenizer_kwargs={"truncation": True, "max_length": 2})


def test_targets_and_tokenizer_kwargs_given_to_the_pipeline_are_the_calls_defaults(trained_dir):
    options = dict(targets=["park", "house", "dog"], tokenizer_kwargs={"truncation": True, "max_length": 12})
    ours = tinyalbert.pipeline("fill-mask", model=trained_dir, **options)
    reference = transformers.pipeline("fill-mask", model=str(trained_dir), framework="pt", **options,
                                      tokenizer=transformers.AlbertTokenizer.from_pretrained(str(trained_dir)))
    text = "the [MASK] sat on " + "the big red house " * 30
    assert len(ours(text)) == 3  # the targets only
    assert_same_predictions(ours(text), reference(text))
    assert_same_predictions(ours(text, targets=["tree"]), reference(text, targets=["tree"]))  # a call overrides
    with pytest.raises(ValueError, match="fill-mask takes no option"):
        tinyalbert.pipeline("fill-mask", model=trained_dir, aggregation_strategy="simple")
    with pytest.raises(ValueError, match="tokenizer_kwargs 'truncation' and 'max_length'"):
        tinyalbert.pipeline("fill-mask", model=trained_dir, tokenizer_kwargs={"padding": True})

def test_float64_matches_and_float16_stays_close(trained_dir):
    reference = reference_pipeline(trained_dir)
    expected = reference(ONE_MASK[0])
    assert_same_predictions(tinyalbert.pipeline("fill-mask", model=trained_dir, dtype="float64")(ONE_MASK[0]), expected)
    # float16 keeps ~3 significant digits through the network: compare the probability of the
    # reference's top token, not the ranking (which a 1% error may reorder).
    half = tinyalbert.pipeline("fill-mask", model=trained_dir, dtype="float16")
    top = expected[0]
    (scored,) = half(ONE_MASK[0], targets=[half.tokenizer.convert_ids_to_tokens(top["token"])])
    assert scored["token"] == top["token"]
    assert scored["score"] == pytest.approx(top["score"], rel=0.1)


def test_array_api_strict_backend_matches_numpy(trained_dir):
    pytest.importorskip("array_api_strict")
    strict = tinyalbert.pipeline("fill-mask", model=trained_dir, backend="array_api_strict")
    expected = tinyalbert.pipeline("fill-mask", model=trained_dir)(SEVERAL_MASKS + ONE_MASK)
    assert_same_predictions(strict(SEVERAL_MASKS + ONE_MASK), expected)


# --- construction -------------------------------------------------------------------------------
def test_built_model_and_tokenizer_objects(trained_dir):
    from tinyalbert.models import AlbertForMaskedLM

    model = AlbertForMaskedLM.from_pretrained(trained_dir)
    tokenizer = tinyalbert.AlbertTokenizer.from_pretrained(trained_dir)
    from_objects = tinyalbert.pipeline("fill-mask", model=model, tokenizer=tokenizer)
    from_tokenizer_path = tinyalbert.pipeline("fill-mask", model=model, tokenizer=str(trained_dir))
    assert isinstance(from_objects, FillMaskPipeline)
    expected = tinyalbert.pipeline("fill-mask", model=trained_dir)(ONE_MASK[0])
    assert from_objects(ONE_MASK[0]) == expected == from_tokenizer_path(ONE_MASK[0])
    with pytest.raises(ValueError, match="tokenizer="):
        tinyalbert.pipeline("fill-mask", model=model)


def test_unknown_task_and_bad_top_k(trained_dir):
    with pytest.raises(ValueError, match="unknown task 'text-generation'"):
        tinyalbert.pipeline("text-generation", model=trained_dir)
    fill_mask = tinyalbert.pipeline("fill-mask", model=trained_dir)
    for bad in (-3, 2.5, "5", True):
        with pytest.raises(ValueError, match="top_k must be an int of at least 0"):
            fill_mask(ONE_MASK[0], top_k=bad)
    with pytest.raises(TypeError, match=r"inputs\[1\] must be a str"):
        fill_mask([ONE_MASK[0], 3])


def test_unknown_model_names_the_places_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="models--nobody--nothing"):
        tinyalbert.pipeline("fill-mask", model="nobody/nothing")


def test_default_model_is_the_bundled_one(tmp_path, monkeypatch):
    from tinyalbert import hub

    monkeypatch.setattr(hub, "BUNDLED_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="bundled model 'tinyalbert-mini' is not installed"):
        tinyalbert.pipeline("fill-mask")


# --- errors -------------------------------------------------------------------------------------
def test_text_without_mask_raises_naming_it(trained_dir):
    fill_mask = tinyalbert.pipeline("fill-mask", model=trained_dir)
    reference = reference_pipeline(trained_dir)
    with pytest.raises(transformers.pipelines.PipelineException) as reference_error:
        reference("no mask in here")
    with pytest.raises(MissingMaskError) as error:
        fill_mask([ONE_MASK[0], "no mask in here"])
    assert isinstance(error.value, ValueError)
    assert str(reference_error.value) in str(error.value)  # "No mask_token ([MASK]) found on the input"
    assert "'no mask in here'" in str(error.value)


def test_too_long_text_raises_unless_truncated(trained_dir):
    fill_mask = tinyalbert.pipeline("fill-mask", model=trained_dir)
    text = "the [MASK] sat on " + "the big red house " * 30
    with pytest.raises(TextTooLongError, match=rf"takes at most {MAX_POSITIONS}.*truncation=True") as error:
        fill_mask(text)
    assert error.value.length > MAX_POSITIONS and error.value.limit == MAX_POSITIONS
    assert len(fill_mask(text, truncation=True)) == 5
    # A mask that truncation cuts off is reported as such.
    with pytest.raises(MissingMaskError, match=f"after truncation to {MAX_POSITIONS} tokens"):
        fill_mask("the big red house " * 30 + "[MASK]", truncation=True)
    with pytest.raises(MissingMaskError) as error:  # a short text was not cut: no mention of truncation
        fill_mask("the big red house", truncation=True)
    assert "truncation" not in str(error.value)


def test_pipeline_module_imports_neither_torch_nor_transformers():
    import subprocess
    import sys

    code = ("import sys, tinyalbert.pipelines, tinyalbert.predict, tinyalbert.hub; "
            "print(sorted(m for m in ('torch', 'transformers', 'huggingface_hub') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(tinyalbert.__file__).parents[1])
    assert out.stdout.strip() == "[]"


def test_reference_helpers_can_fail():
    """The comparison used above rejects a different token, score or sequence."""
    good = [{"score": 0.5, "token": 7, "token_str": "a", "sequence": "x a"},
            {"score": 0.25, "token": 8, "token_str": "b", "sequence": "x b"}]
    for change in ({"score": 0.51}, {"token": 9}, {"sequence": "x  a"}, {"token_str": "A"}):
        bad = [dict(good[0], **change), good[1]]
        with pytest.raises(AssertionError):
            assert_same_predictions(bad, good)
    with pytest.raises(AssertionError):
        assert_same_predictions([good], good)
    swapped_tie = [dict(good[1], score=0.5), good[0]]
    assert_same_predictions(swapped_tie, [good[0], dict(good[1], score=0.5)])


def test_the_vocabulary_decoder_runs_at_the_mask_positions_only(monkeypatch):
    """Fill-mask needs the logits of the masked rows alone; the MLM head ran at every position of
    every text (an eighth of a call's time). Its scores stay Transformers' (the tests above)."""
    from tinyalbert.nn import pretraining

    rows_decoded = []
    head = pretraining.mlm_head_forward

    def recording_head(sequence_output, *args, **kwargs):
        rows_decoded.append(int(np.prod(sequence_output.shape[:-1])))
        return head(sequence_output, *args, **kwargs)

    monkeypatch.setattr(pretraining, "mlm_head_forward", recording_head)
    fill = tinyalbert.pipeline("fill-mask", model="tinyalbert-mini", batch_size=2)
    fill(["The [MASK] sat on the mat.", "A [MASK] is a [MASK] of a long text with many words in it."])
    assert sum(rows_decoded) == 3
