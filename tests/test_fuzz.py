"""Whatever a user puts in `config.json` or on the `predict` command line, the command ends with
exit status 0 or 2: a result, or `error:` lines a person can act on; never a traceback, never an
"unexpected" error (status 1), never output that is not JSON under `--json`.

The command runs in-process (`tinyalbert.predict.main`) on a copy of the bundled model, so that
each example costs a model load, not an interpreter start.
"""
import contextlib
import io
import json
import logging
import math
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyalbert.hub import BUNDLED_DIR
from tinyalbert.predict import main

BUNDLED = BUNDLED_DIR / "tinyalbert-mini"
BASE_CONFIG = json.loads((BUNDLED / "config.json").read_text())
TEXT = "the [MASK] is here."


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory):
    """The bundled model's files, linked into a folder whose config.json the tests rewrite."""
    folder = tmp_path_factory.mktemp("fuzzed") / "model"
    folder.mkdir()
    for file in BUNDLED.iterdir():
        (folder / file.name).symlink_to(file)
    (folder / "config.json").unlink()
    return folder


@pytest.fixture(scope="module", autouse=True)
def restore_package_logger():
    # predict.main sends the package's log records to stderr; put the logger back afterwards.
    logger = logging.getLogger("tinyalbert")
    handlers, propagate = list(logger.handlers), logger.propagate
    yield
    logger.handlers[:], logger.propagate = handlers, propagate


def run_predict(argv, stdin_text=""):
    """(exit status, stdout, stderr) of `python -m tinyalbert.predict ARGV`, in this process."""
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stderr = io.StringIO()
    saved_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin_text)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = main(list(argv))
            except SystemExit as exit:  # --help
                code = exit.code or 0
    finally:
        sys.stdin = saved_stdin
    stdout.flush()
    return code, stdout.buffer.getvalue().decode("utf-8"), stderr.getvalue()


def assert_clean_ending(code, stdout, stderr, argv):
    assert code in (0, 2), (code, argv, stderr)
    assert "Traceback" not in stderr and "unexpected" not in stderr, (argv, stderr)
    for line in stderr.strip().splitlines():
        assert line.startswith(("warning: ", "error: ", "reading texts")), (argv, stderr)
    if code == 2:
        assert stderr.strip().splitlines()[-1].startswith("error: "), (argv, stderr)
    elif "--json" in argv and "-h" not in argv and "--help" not in argv:
        for line in stdout.splitlines():
            json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in --json output: {line}"))


# Integers stay small: a config asking for thousands of layers the checkpoint lacks is valid and
# would be initialized (gigabytes), which is a slow test rather than a bug.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 16)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
FIELDS = sorted(BASE_CONFIG) + ["num_labels", "label2id", "id2label", "problem_type", "return_dict",
                                 "output_hidden_states", "dtype", "something_new"]


@st.composite
def config_contents(draw):
    """A config.json text: the bundled one with a few fields changed or removed, or any JSON at all."""
    if draw(st.integers(0, 9)) == 0:
        return json.dumps(draw(JSON_VALUES))
    values = dict(BASE_CONFIG)
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        if draw(st.booleans()) and name in values:
            del values[name]
        else:
            values[name] = draw(JSON_VALUES)
    return json.dumps(values, allow_nan=True)  # Python's json writes NaN, as some tools do


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(contents=config_contents())
def test_any_config_json_gives_a_result_or_one_clean_error(model_copy, contents):
    (model_copy / "config.json").write_text(contents)
    argv = [TEXT, "--model", str(model_copy), "--json"]
    assert_clean_ending(*run_predict(argv), argv)


ARGUMENT_WORDS = st.sampled_from([
    "--top-k", "--targets", "--json", "--backend", "--dtype", "--truncate", "--batch-size", "--model",
    "--help", "numpy", "cupy", "float16", "float64", "float32", "bfloat16", "0", "1", "3", "-1", "nan", "1e9",
    "99999999999999999999", "", " ", "[MASK]", "a [MASK] b", "[MASK] [MASK]", "no mask here", "▁the", "paris",
    "tinyalbert-mini", "/nonexistent/model", "albert/albert-base-v2", "--", "-", "--top-k=2", "--unknown",
])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(words=st.lists(ARGUMENT_WORDS | st.text(max_size=12), max_size=6),
       stdin_text=st.sampled_from(["", "a [MASK]\n", "\n\n", "no mask\n"]))
def test_any_predict_arguments_give_a_result_or_one_clean_error(monkeypatch, words, stdin_text):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a Hub name must not reach for the network
    code, stdout, stderr = run_predict(words, stdin_text)
    assert_clean_ending(code, stdout, stderr, words)
    if code == 0 and "--json" in words and "--help" not in words:
        scores = [p["score"] for line in stdout.splitlines() for p in _flat(json.loads(line)["predictions"])]
        assert all(math.isfinite(score) and 0 <= score <= 1 for score in scores)


def _flat(predictions):
    return [p for row in predictions for p in (row if isinstance(row, list) else [row])]


# --- python -m tinyalbert.pretrain ------------------------------------------------------------------
PRETRAIN_WORDS = st.sampled_from([
    "--steps", "--batch-size", "--lr", "--clip-norm", "--max-minutes", "--warmup-steps", "--max-seq-length",
    "--masked-lm-prob", "--heldout-fraction", "--optimizer", "--masking", "--output-bias-init", "--backend",
    "--vocab-size", "--config", "--resume", "--seed", "--log-every", "--save-every", "--mpi-timeout", "--help",
    "0", "1", "2", "3", "-1", "nan", "inf", "-inf", "0.5", "1e9", "lamb", "adamw", "static", "dynamic", "zero",
    "cupy", "numpy", "base", "mini", "/nonexistent/config.json", "", "--unknown", "--",
])


@pytest.fixture(scope="module")
def pretrain_workspace(tmp_path_factory):
    """A small corpus, its tokenizer and a tiny config.json, as in tests/test_trainer.py."""
    from test_trainer import TINY_CONFIG, write_corpus

    from tinyalbert.tokenizer import AlbertTokenizer, train_sentencepiece

    root = tmp_path_factory.mktemp("fuzzed_pretrain")
    corpus = write_corpus(root / "corpus.txt")
    AlbertTokenizer(train_sentencepiece(corpus, root / "tok" / "spiece", 64, seed=0, hard_vocab_limit=False)
                    ).save_pretrained(root / "tok")
    (root / "config.json").write_text(json.dumps(TINY_CONFIG))
    return root


def run_pretrain(argv):
    """(exit status, stderr) of `python -m tinyalbert.pretrain ARGV`, in this process."""
    from tinyalbert.pretrain import main as pretrain_main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = pretrain_main(list(argv))
        except SystemExit as exit:  # --help
            code = exit.code or 0
    return code, stderr.getvalue()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
@given(words=st.lists(PRETRAIN_WORDS | st.text(max_size=8), max_size=6))
def test_any_pretrain_arguments_give_a_result_or_one_clean_error(pretrain_workspace, tmp_path_factory, words):
    """A working tiny run, then whatever is drawn after it on the command line (the last value of
    an option wins): exit 0, or 2 with an `error:` line; never a traceback."""
    root = pretrain_workspace
    out = tmp_path_factory.mktemp("out") / "run"
    argv = ["--corpus", str(root / "corpus.txt"), "--tokenizer", str(root / "tok"), "--config",
            str(root / "config.json"), "--out", str(out), "--steps", "2", "--batch-size", "4",
            "--max-seq-length", "24", "--log-every", "1", *words]
    if any(word in ("base", "mini") for word in words):  # real model shapes: valid, but slow to train
        argv += ["--config", str(root / "config.json")]
    if "--steps" in words or "--max-minutes" in words:
        argv += ["--stop-at", "3"]  # a drawn step count may be large: stop early, checkpointed
    code, stderr = run_pretrain(argv)
    assert code in (0, 2), (argv, stderr)
    assert "Traceback" not in stderr, (argv, stderr)
    if code == 2:
        assert "error: " in stderr.strip().splitlines()[-1], (argv, stderr)
