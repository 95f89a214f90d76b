"""`python -m tinyalbert.predict` run as a user runs it: a fresh interpreter per call.

Output is checked against the in-process pipeline (itself checked against transformers in
test_pipeline.py); each mistake a user can make must end with one `error:` line and exit 2.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import tinyalbert  # noqa: E402
from test_pipeline import MAX_POSITIONS, make_checkpoint, train_vocabulary  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
# Scores printed by another process running the same code on the same inputs; only the last
# digits of float64 printing could differ.
SCORE_RTOL = 1e-9
# Scores of the same text run alone and inside a padded batch: BLAS may split matrices of other
# shapes differently (how depends on the CPU's vector width), so float32 sums round differently.
BATCHED_SCORE_RTOL = 1e-5


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict-cli")
    return make_checkpoint(root / "model", train_vocabulary(root / "vocab"), seed=3)


@pytest.fixture(scope="module")
def fill_mask(model_dir):
    return tinyalbert.pipeline("fill-mask", model=model_dir)


def predict(*args, stdin=None, env=None, prefix_code=None):
    """Run the command; returns (exit status, stdout, stderr). Arguments and standard input may be
    bytes, for input that is not UTF-8."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1", **(env or {})}
    args = [arg if isinstance(arg, bytes) else str(arg) for arg in args]
    if prefix_code is None:
        command = [sys.executable, "-m", "tinyalbert.predict", *args]
    else:
        command = [sys.executable, "-c", prefix_code + "; import sys; from tinyalbert.predict import main; "
                   "sys.exit(main(sys.argv[1:]))", *args]
    done = subprocess.run(command, input=stdin.encode() if isinstance(stdin, str) else stdin, capture_output=True,
                          cwd=REPO_ROOT, env=environment, timeout=120)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def assert_user_error(result, *fragments):
    code, stdout, stderr = result
    assert code == 2, (code, stdout, stderr)
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert stdout == ""


def assert_json_equal(line_objects, expected):
    """Same structure and values; scores equal up to float printing."""
    assert len(line_objects) == len(expected)
    for got, want in zip(line_objects, expected):
        assert set(got) == {"text", "predictions"} and got["text"] == want["text"]
        flat_got = _flatten(got["predictions"])
        flat_want = _flatten(want["predictions"])
        assert [(p["token"], p["token_str"], p["sequence"]) for p in flat_got] == \
               [(p["token"], p["token_str"], p["sequence"]) for p in flat_want]
        assert [p["score"] for p in flat_got] == pytest.approx([p["score"] for p in flat_want], rel=SCORE_RTOL)
        assert _shape(got["predictions"]) == _shape(want["predictions"])


def _flatten(predictions):
    return [p for row in predictions for p in (row if isinstance(row, list) else [row])]


def _shape(predictions):
    return [len(row) if isinstance(row, list) else "dict" for row in predictions]


TEXTS = ["The capital of France is [MASK].", "the [MASK] sat on the [MASK].", "a [MASK]"]


def test_json_lines_equal_the_pipeline(model_dir, fill_mask):
    code, stdout, stderr = predict(*TEXTS, "--model", model_dir, "--json", "--top-k", "3")
    assert code == 0, stderr
    objects = [json.loads(line) for line in stdout.splitlines()]
    expected = fill_mask(TEXTS, top_k=3)
    assert_json_equal(objects, [{"text": t, "predictions": p} for t, p in zip(TEXTS, expected)])


def test_json_one_text_with_targets(model_dir, fill_mask):
    code, stdout, stderr = predict(TEXTS[0], "--model", model_dir, "--json", "--targets", "▁the", "cat", "dog")
    assert code == 0, stderr
    (line,) = stdout.splitlines()
    assert_json_equal([json.loads(line)],
                      [{"text": TEXTS[0], "predictions": fill_mask(TEXTS[0], targets=["▁the", "cat", "dog"])}])
    # The replaced targets are reported as warnings, not errors.
    assert "warning: The specified target token `cat` does not exist in the model vocabulary." in stderr
    assert "Traceback" not in stderr


def test_whole_words_keeps_the_best_word_starts_with_their_full_vocabulary_scores(model_dir, fill_mask):
    code, stdout, stderr = predict(*TEXTS, "--model", model_dir, "--json", "--top-k", "4", "--whole-words")
    assert code == 0 and "Traceback" not in stderr, stderr
    got = [_flatten(json.loads(line)["predictions"]) for line in stdout.splitlines()]
    vocab_size = len(fill_mask.tokenizer)
    pieces = fill_mask.tokenizer.convert_ids_to_tokens(list(range(vocab_size)))
    expected = []
    for text in TEXTS:  # every piece ranked, then the word starts kept: the first four per mask (alone, not batched)
        ranked = fill_mask(text, top_k=vocab_size)
        for row in ranked if isinstance(ranked[0], list) else [ranked]:
            words = [p for p in row if pieces[p["token"]].startswith("\u2581") and p["token_str"][:1].isalnum()]
            expected.append(words[:4])
    expected_per_text = [expected[0], expected[1] + expected[2], expected[3]]  # the second text has two masks
    for got_text, want_text in zip(got, expected_per_text):
        assert [p["token"] for p in got_text] == [p["token"] for p in want_text]
        assert [p["score"] for p in got_text] == pytest.approx([p["score"] for p in want_text], rel=BATCHED_SCORE_RTOL)
    assert all(p["token_str"] for text in got for p in text)  # never the bare word start ''
    assert_user_error(predict(TEXTS[0], "--model", model_dir, "--whole-words", "--targets", "cat"),
                      "--whole-words", "--targets")


def test_table_shows_every_prediction_aligned(model_dir, fill_mask):
    code, stdout, stderr = predict(TEXTS[0], TEXTS[1], "--model", model_dir, "--top-k", "2")
    assert code == 0, stderr
    lines = stdout.rstrip("\n").splitlines()
    header, rule, rows = lines[0], lines[1], lines[2:]
    assert header.split() == ["text", "mask", "rank", "token", "score", "sequence"]
    assert set(rule.replace(" ", "")) == {"-"}
    first, second = fill_mask([TEXTS[0], TEXTS[1]], top_k=2)
    expected = [(1, rank, p) for rank, p in enumerate(first, 1)]
    expected += [(mask, rank, p) for mask, row in enumerate(second, 1) for rank, p in enumerate(row, 1)]
    assert len(rows) == len(expected)
    sequence_column = header.index("sequence")
    score_end = header.index("score") + len("score")
    for row, (mask, rank, prediction) in zip(rows, expected):
        assert row[sequence_column:] == prediction["sequence"]  # the columns line up with the header
        cells = row[:sequence_column].split()
        token = prediction["token_str"] or repr(prediction["token_str"])  # an empty piece is shown as ''
        assert cells[-4:] == [str(mask), str(rank), token, f"{prediction['score']:.4f}"]
        assert row[score_end - 6 : score_end] == f"{prediction['score']:.4f}"
    assert rows[0].startswith(TEXTS[0]) and rows[2].startswith(TEXTS[1])
    assert rows[1].startswith(" ")  # the text is written on its first row only


def test_texts_from_standard_input(model_dir, fill_mask):
    code, stdout, stderr = predict("--model", model_dir, "--json", stdin=f"{TEXTS[0]}\n\n{TEXTS[2]}\n")
    assert code == 0, stderr
    objects = [json.loads(line) for line in stdout.splitlines()]
    expected = fill_mask([TEXTS[0], TEXTS[2]])
    assert_json_equal(objects, [{"text": TEXTS[0], "predictions": expected[0]},
                                {"text": TEXTS[2], "predictions": expected[1]}])


def test_truncate_lets_a_long_text_through(model_dir, fill_mask):
    text = "the [MASK] sat on " + "the big red house " * 30
    code, stdout, stderr = predict(text, "--model", model_dir, "--json", "--truncate", "--top-k", "2")
    assert code == 0, stderr
    assert_json_equal([json.loads(stdout)], [{"text": text, "predictions": fill_mask(text, top_k=2, truncation=True)}])


def test_help_describes_every_option():
    code, stdout, _ = predict("--help")
    assert code == 0
    for option in ("--model", "--top-k", "--targets", "--whole-words", "--json", "--backend", "--dtype", "--truncate"):
        assert option in stdout
    assert "examples:" in stdout and 'python -m tinyalbert.predict "The capital of France is [MASK]."' in stdout


# --- errors -------------------------------------------------------------------------------------
def test_text_without_mask(model_dir):
    assert_user_error(predict(TEXTS[0], "no mask here", "--model", model_dir), "no [MASK]", "'no mask here'")
    assert "capitals" not in predict("no mask here", "--model", model_dir)[2]


def test_a_mask_token_in_other_case_is_named(model_dir):
    """The slow tokenizer matches special tokens exactly: "[mask]" is text, as Transformers'
    AlbertTokenizer splits it into pieces, so the text has no mask; the error says why."""
    from transformers import AlbertTokenizer
    reference = AlbertTokenizer.from_pretrained(model_dir)
    assert reference.mask_token_id not in reference("a [mask] here")["input_ids"]
    assert_user_error(predict("a [mask] here", "--model", model_dir), "no [MASK]",
                      "the '[mask]' of the text is not it: write it in capitals")


def test_text_too_long_names_the_limit_and_truncate(model_dir):
    text = "the [MASK] sat on " + "the big red house " * 30
    assert_user_error(predict(text, "--model", model_dir), f"at most {MAX_POSITIONS}", "--truncate")
    # A mask that --truncate cuts away is named as the reason.
    assert_user_error(predict("the big red house " * 30 + "[MASK]", "--model", model_dir, "--truncate"),
                      "no [MASK] left", "--truncate")


@pytest.mark.parametrize("value", ["0", "-2", "three", "1.5"])
def test_invalid_top_k(model_dir, value):
    assert_user_error(predict(TEXTS[0], "--model", model_dir, "--top-k", value), "--top-k", "positive integer")


def test_unknown_model_says_where_it_looked(tmp_path):
    cache = tmp_path / "hf-cache"
    result = predict(TEXTS[0], "--model", "albert-xxlarge-v1", env={"HF_HUB_CACHE": str(cache)})
    assert_user_error(result, "albert-xxlarge-v1", str(cache / "models--albert--albert-xxlarge-v1"),
                      "HF_HUB_OFFLINE", "download albert/albert-xxlarge-v1")
    assert_user_error(predict(TEXTS[0], "--model", tmp_path / "missing"), str(tmp_path / "missing"))


def test_missing_bundled_default_model(tmp_path):
    """With no --model the bundled tinyalbert-mini is used; when it is absent the user is told
    where it was expected and how to choose another model."""
    empty = tmp_path / "no-bundled-models"
    result = predict(TEXTS[0], prefix_code=f"import tinyalbert.hub as hub; hub.BUNDLED_DIR = hub.Path({str(empty)!r})")
    assert_user_error(result, "tinyalbert-mini", str(empty / "tinyalbert-mini"), "--model")


def test_cupy_backend_without_a_gpu(model_dir):
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            pytest.skip("a CUDA GPU is present")
    except Exception:
        pass
    assert_user_error(predict(TEXTS[0], "--model", model_dir, "--backend", "cupy"), "--backend cupy", "--backend numpy")


def test_no_texts_and_empty_standard_input(model_dir):
    assert_user_error(predict("--model", model_dir, stdin="\n  \n"), "no texts")
    assert_user_error(predict("--model", model_dir, "--backend", "jax"), "--backend", "invalid choice")


def test_broken_model_directory(tmp_path, model_dir):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("model.safetensors", "spiece.model", "tokenizer_config.json", "special_tokens_map.json"):
        (broken / name).write_bytes((model_dir / name).read_bytes())
    (broken / "config.json").write_text("{not json")
    assert_user_error(predict(TEXTS[0], "--model", broken), "config.json", "not valid JSON")
    (broken / "config.json").write_text((model_dir / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(b"\x00" * 10)
    assert_user_error(predict(TEXTS[0], "--model", broken), "model.safetensors")


def copy_model(source, destination):
    destination.mkdir(parents=True)
    for file in source.iterdir():
        (destination / file.name).write_bytes(file.read_bytes())
    return destination


@pytest.mark.parametrize("contents, field", [
    ("[1, 2]", "JSON object"),
    ('{"id2label": ["neg", "pos"], "vocab_size": 40}', "id2label"),
    ('{"hidden_size": "16"}', "hidden_size"),
])

def test_bad_config_json_is_one_error_line_naming_file_and_field(tmp_path, model_dir, contents, field):
    broken = copy_model(model_dir, tmp_path / "broken")
    values = json.loads((model_dir / "config.json").read_text())
    patch = json.loads(contents)
    (broken / "config.json").write_text(json.dumps({**values, **patch} if isinstance(patch, dict) else patch))
    assert_user_error(predict(TEXTS[0], "--model", broken), str(broken / "config.json"), field)


def test_nan_weights_warn_then_refuse_with_one_error(tmp_path, model_dir):
    from safetensors.numpy import load_file, save_file

    broken = copy_model(model_dir, tmp_path / "nan")
    tensors = load_file(str(broken / "model.safetensors"))
    tensors["predictions.dense.weight"][0, 0] = float("nan")
    save_file(tensors, str(broken / "model.safetensors"), metadata={"format": "pt"})
    for extra in ([], ["--json"]):
        code, stdout, stderr = predict(TEXTS[0], "--model", broken, *extra)
        lines = stderr.strip().splitlines()
        assert code == 2 and stdout == "" and "Traceback" not in stderr, stderr
        assert lines[0].startswith("warning: ") and "predictions.dense.weight" in lines[0], stderr
        assert lines[-1].startswith("error: ") and "NaN" in lines[-1] and len(lines) == 2, stderr


def test_json_output_is_strict_json_and_float16_overflow_is_refused(model_dir, tmp_path):
    code, stdout, stderr = predict(*TEXTS, "--model", model_dir, "--json")
    for line in stdout.splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    # Weights that overflow float16 give inf logits: an error, not "NaN" in the output.
    from safetensors.numpy import load_file, save_file

    huge = copy_model(model_dir, tmp_path / "huge")
    tensors = load_file(str(huge / "model.safetensors"))
    tensors["predictions.bias"] = tensors["predictions.bias"] * 0 + 60000.0
    tensors["predictions.dense.bias"] = tensors["predictions.dense.bias"] * 0 + 60000.0
    save_file(tensors, str(huge / "model.safetensors"), metadata={"format": "pt"})
    code, stdout, stderr = predict(TEXTS[0], "--model", huge, "--json", "--dtype", "float16")
    assert code in (0, 2) and "Traceback" not in stderr, stderr
    if code == 0:
        for line in stdout.splitlines():
            json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    else:
        assert_user_error((code, stdout, stderr), "not numbers", "float32")


def test_local_folder_named_like_the_bundled_model_warns(tmp_path, model_dir):
    shadow = copy_model(model_dir, tmp_path / "tinyalbert-mini")
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "tinyalbert.predict", TEXTS[0], "--json"], capture_output=True,
                          text=True, cwd=tmp_path, env=environment, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("warning: ") and str(shadow) in done.stderr and "bundled" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("flag", ["return_dict", "output_hidden_states", "output_attentions"])
def test_output_flags_in_config_json_do_not_change_predictions(tmp_path, model_dir, fill_mask, flag):
    # A config may ask for tuples or extra outputs by default; predict must give the same answer.
    changed = copy_model(model_dir, tmp_path / flag)
    values = json.loads((model_dir / "config.json").read_text())
    (changed / "config.json").write_text(json.dumps({**values, flag: flag != "return_dict"}))
    code, stdout, stderr = predict(TEXTS[0], "--model", changed, "--json", "--top-k", "3")
    assert code == 0, stderr
    expected = fill_mask(TEXTS[0], top_k=3)
    assert_json_equal([json.loads(stdout)], [{"text": TEXTS[0], "predictions": expected}])


def test_config_vocab_size_smaller_than_the_tokenizer_is_an_error_at_load(tmp_path, model_dir):
    smaller = copy_model(model_dir, tmp_path / "smaller")
    values = json.loads((model_dir / "config.json").read_text())
    (smaller / "config.json").write_text(json.dumps({**values, "vocab_size": 10}))
    # The weights no longer fit the config either; both are reported before any text is encoded.
    assert_user_error(predict("[MASK]", "--model", smaller), "word_embeddings.weight",
                      ", 16), but the config asks for (10, 16)")
    from tinyalbert import AlbertConfig, AlbertForMaskedLM, AlbertTokenizer

    tokenizer = AlbertTokenizer.from_pretrained(model_dir)
    model = AlbertForMaskedLM(AlbertConfig(**{**values, "vocab_size": 10}))
    with pytest.raises(ValueError, match=r"tokenizer and the model disagree.*vocab_size=10"):
        tinyalbert.pipeline("fill-mask", model=model, tokenizer=tokenizer)



def test_pickled_weights_that_would_run_code_are_one_error(tmp_path, model_dir):
    import pickle
    import zipfile

    class RunsCommand:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'ran'}",)

    evil = copy_model(model_dir, tmp_path / "evil")
    (evil / "model.safetensors").unlink()
    with zipfile.ZipFile(evil / "pytorch_model.bin", "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": RunsCommand()}, protocol=2))
    assert_user_error(predict(TEXTS[0], "--model", evil), "pytorch_model.bin asks to run", "system")
    assert not (tmp_path / "ran").exists()


# --- the other tasks, and checkpoints that do not hold what a task needs ------------------------
def head_checkpoint(model_dir, destination, class_name, **config_fields):
    """A checkpoint of the head class `class_name` on model_dir's config and tokenizer (random
    weights, all of them saved: the head is there, trained or not)."""
    from tinyalbert import AlbertConfig, task_models

    config = AlbertConfig.from_pretrained(model_dir, **config_fields)
    getattr(task_models, class_name)(config, seed=1).save_pretrained(destination)
    for name in ("spiece.model", "tokenizer_config.json", "special_tokens_map.json"):
        (destination / name).write_bytes((model_dir / name).read_bytes())
    return destination


@pytest.fixture(scope="module")
def classifier_dir(model_dir, tmp_path_factory):
    return head_checkpoint(model_dir, tmp_path_factory.mktemp("classifier"), "AlbertForSequenceClassification",
                           id2label={0: "neg", 1: "pos", 2: "mixed"})


def assert_labels_equal(got, expected):
    """The same labels in the same order; scores equal up to float printing."""
    assert [item["label"] for item in got] == [item["label"] for item in expected]
    assert [item["score"] for item in got] == pytest.approx([item["score"] for item in expected], rel=SCORE_RTOL)


LONG_TEXT = "the big red house " * 30  # about 120 pieces, past the model's 64 positions


def test_a_task_whose_head_the_checkpoint_lacks_is_refused_naming_what_it_was_trained_for(model_dir, classifier_dir):
    # A masked-LM checkpoint has no classifier: it would start random and answer at random.
    assert_user_error(predict("a b c", "--model", model_dir, "--task", "text-classification"),
                      "no text-classification head", "classifier.*", "--task fill-mask", "tinyalbert.finetune")
    # A classifier has no MLM head.
    assert_user_error(predict(TEXTS[0], "--model", classifier_dir), "no fill-mask head", "predictions.*",
                      "--task text-classification")
    assert_user_error(predict("a question", "--model", classifier_dir, "--task", "question-answering",
                              "--context", "the cat sat"), "no question-answering head", "qa_outputs.*")
    # A sequence classifier's head has the shape a token classifier needs: refused by what its
    # config.json says it was trained for, not read as a tagger of every token.
    assert_user_error(predict("a b c", "--model", classifier_dir, "--task", "token-classification"),
                      "trained for text-classification", "AlbertForSequenceClassification",
                      "--task text-classification")


def test_a_classifier_head_without_architectures_names_both_classification_tasks(tmp_path, classifier_dir):
    # Without "architectures" only the head's name is left, and a `classifier` of this shape
    # serves text and token classification alike: both are named, not one at a guess.
    anonymous = copy_model(classifier_dir, tmp_path / "anonymous")
    values = json.loads((anonymous / "config.json").read_text())
    values.pop("architectures")
    (anonymous / "config.json").write_text(json.dumps(values))
    assert_user_error(predict(TEXTS[0], "--model", anonymous), "no fill-mask head",
                      "trained for text-classification or token-classification",
                      "--task text-classification or --task token-classification")


def test_weights_that_hold_none_of_the_model_are_refused(tmp_path, model_dir):
    import numpy as np
    from safetensors.numpy import save_file

    empty = copy_model(model_dir, tmp_path / "empty")
    save_file({"foo": np.zeros(3, dtype=np.float32)}, str(empty / "model.safetensors"), metadata={"format": "pt"})
    assert_user_error(predict(TEXTS[0], "--model", empty), "albert.embeddings.*", "albert.encoder.*", "meaningless")


def test_truncate_works_for_every_task_and_no_task_cuts_quietly(tmp_path, model_dir, classifier_dir):
    tagger = head_checkpoint(model_dir, tmp_path / "tagger", "AlbertForTokenClassification",
                             id2label={0: "O", 1: "B-X", 2: "I-X"})
    reader = head_checkpoint(model_dir, tmp_path / "reader", "AlbertForQuestionAnswering")
    for model, task, extra in ((classifier_dir, "text-classification", []),
                               (tagger, "token-classification", ["--aggregation-strategy", "none"])):
        assert_user_error(predict(LONG_TEXT, "--model", model, "--task", task, *extra),
                          f"at most {MAX_POSITIONS}", "--truncate")
        code, stdout, stderr = predict(LONG_TEXT, "--model", model, "--task", task, "--truncate")
        assert code == 0 and "Traceback" not in stderr, stderr
        assert json.loads(stdout)["text"] == LONG_TEXT
    # Question-answering reads a long context in windows, but a question must leave room for one.
    assert_user_error(predict(LONG_TEXT, "--model", reader, "--task", "question-answering", "--context", LONG_TEXT),
                      "question", "--truncate")
    code, stdout, stderr = predict(LONG_TEXT, "--model", reader, "--task", "question-answering", "--context",
                                   LONG_TEXT, "--truncate")
    assert code == 0 and set(json.loads(stdout)["predictions"]) == {"score", "start", "end", "answer"}, stderr
    # The cut text is classified as the pipeline classifies it with truncation on.
    code, stdout, stderr = predict(LONG_TEXT, "--model", classifier_dir, "--task", "text-classification", "--truncate")
    expected = tinyalbert.pipeline("text-classification", model=classifier_dir, truncation=True)(LONG_TEXT)
    assert_labels_equal(json.loads(stdout)["predictions"], expected)


def test_handle_impossible_answer_answers_nothing_where_the_head_prefers_cls(tmp_path, model_dir):
    """A reader whose head points at [CLS]'s final hidden state (both rows along it, so [CLS]
    has the highest start and end logit): its best span is some words, but with
    --handle-impossible-answer the answer is "", as Transformers' pipeline gives it for a SQuAD
    v2.0 model that abstains. Other tasks refuse the option."""
    import numpy as np

    reader = head_checkpoint(model_dir, tmp_path / "reader", "AlbertForQuestionAnswering")
    question, context = "who ran", "the cat sat on the mat and the dog ran to the park"
    tokenizer = tinyalbert.AlbertTokenizer.from_pretrained(reader)
    model = tinyalbert.AlbertForQuestionAnswering.from_pretrained(reader)
    hidden = model.albert(**tokenizer(question, context, return_tensors="np")).last_hidden_state
    toward_cls = hidden[0, 0] / np.linalg.norm(hidden[0, 0])
    model.params["qa_outputs.weight"] = (20 * np.stack([toward_cls, toward_cls])).astype(np.float32)
    model.params["qa_outputs.bias"] = np.zeros(2, dtype=np.float32)
    model.save_pretrained(reader)
    ask = ("--model", reader, "--task", "question-answering", "--context", context)
    code, stdout, stderr = predict(question, *ask)
    assert code == 0 and json.loads(stdout)["predictions"]["answer"] != "", stderr
    code, stdout, stderr = predict(question, *ask, "--handle-impossible-answer")
    assert code == 0, stderr
    answer = json.loads(stdout)["predictions"]
    assert answer["answer"] == "" and (answer["start"], answer["end"]) == (0, 0)
    expected = tinyalbert.pipeline("question-answering", model=reader)(question=question, context=context,
                                                                         handle_impossible_answer=True)
    assert {key: answer[key] for key in ('answer', 'start', 'end')} == \
        {key: expected[key] for key in ('answer', 'start', 'end')}
    assert answer['score'] == pytest.approx(expected['score'], rel=1e-5)
    assert_user_error(predict(TEXTS[0], "--model", model_dir, "--handle-impossible-answer"),
                      "--handle-impossible-answer does not apply to --task fill-mask")


def test_a_long_text_is_tagged_in_windows_unless_the_strategy_is_none(tmp_path, model_dir):
    """Token classification reads a text longer than the model in overlapping windows of half a
    window's stride, as the pipeline's `stride` does; its entities reach past the first window.
    With --aggregation-strategy none there is nothing to merge windows with: an error that names
    both ways out."""
    tagger = head_checkpoint(model_dir, tmp_path / "tagger", "AlbertForTokenClassification",
                             id2label={0: "O", 1: "B-X", 2: "I-X"})
    code, stdout, stderr = predict(LONG_TEXT, "--model", tagger, "--task", "token-classification")
    assert code == 0, stderr
    tokenizer = tinyalbert.AlbertTokenizer.from_pretrained(tagger)
    width = MAX_POSITIONS - 2
    assert len(tokenizer.tokenize(LONG_TEXT)) > width  # more than one window
    expected = tinyalbert.pipeline("token-classification", model=tagger, aggregation_strategy="simple",
                                   stride=width // 2)(LONG_TEXT)
    predictions = json.loads(stdout)["predictions"]
    assert [(entity["word"], entity["start"]) for entity in predictions] == [
        (entity["word"], entity["start"]) for entity in expected]
    assert max(entity["end"] for entity in predictions) > len(tokenizer.convert_tokens_to_string(
        tokenizer.tokenize(LONG_TEXT)[:width]))  # tagged past the first window
    assert_user_error(predict(LONG_TEXT, "--model", tagger, "--task", "token-classification",
                              "--aggregation-strategy", "none"), "--truncate", "--aggregation-strategy other than none")


@pytest.mark.parametrize("task, option", [
    ("text-classification", ["--targets", "cat"]),
    ("text-classification", ["--whole-words"]),
    ("token-classification", ["--top-k", "2"]),
    ("fill-mask", ["--context", "the cat sat"]),
    ("fill-mask", ["--aggregation-strategy", "first"]),
])
def test_options_the_task_does_not_use_are_refused(classifier_dir, task, option):
    assert_user_error(predict("a [MASK]", "--model", classifier_dir, "--task", task, *option),
                      f"{option[0]} does not apply to --task {task}")


def test_top_k_gives_the_k_best_labels_of_a_text(classifier_dir):
    code, stdout, stderr = predict("a b c", "--model", classifier_dir, "--task", "text-classification", "--top-k", "2")
    assert code == 0, stderr
    scores = tinyalbert.pipeline("text-classification", model=classifier_dir)("a b c", top_k=None)
    best_two = sorted(scores, key=lambda item: -item["score"])[:2]
    assert_labels_equal(json.loads(stdout)["predictions"], best_two)


def test_weights_that_do_not_fit_config_json_get_advice_for_the_command_line(tmp_path, model_dir):
    changed = copy_model(model_dir, tmp_path / "changed")
    values = json.loads((model_dir / "config.json").read_text())
    (changed / "config.json").write_text(json.dumps({**values, "embedding_size": 8}))
    code, stdout, stderr = predict(TEXTS[0], "--model", changed)
    assert_user_error((code, stdout, stderr), "word_embeddings.weight", "config.json", "--model")
    assert "from_pretrained" not in stderr and "ignore_mismatched_sizes" not in stderr


def test_a_training_runs_folder_points_to_the_model_inside(tmp_path, model_dir):
    run = tmp_path / "run"
    copy_model(model_dir, run / "final")
    copy_model(model_dir, run / "checkpoint")
    assert_user_error(predict(TEXTS[0], "--model", run), f"--model {run / 'final'}")


def test_a_spiece_model_that_is_a_directory_is_named_as_one(tmp_path, model_dir):
    broken = copy_model(model_dir, tmp_path / "broken")
    (broken / "spiece.model").unlink()
    (broken / "spiece.model").mkdir()
    assert_user_error(predict(TEXTS[0], "--model", broken), str(broken / "spiece.model"), "is a directory")


def test_a_pad_token_id_outside_the_vocabulary_is_refused(tmp_path, model_dir):
    changed = copy_model(model_dir, tmp_path / "pad")
    values = json.loads((model_dir / "config.json").read_text())
    (changed / "config.json").write_text(json.dumps({**values, "pad_token_id": 99999}))
    assert_user_error(predict(TEXTS[0], "--model", changed), "pad_token_id 99999", str(changed / "config.json"))


def test_input_that_is_not_utf8_is_named_by_its_line_or_argument(model_dir):
    stdin = TEXTS[0].encode() + b"\n\nthe \xff [MASK]\n"
    assert_user_error(predict("--model", model_dir, stdin=stdin), "line 3 of standard input", "not UTF-8", "0xff")
    assert_user_error(predict(TEXTS[0], b"the \xfe [MASK]", "--model", model_dir), "TEXT argument 2", "0xfe")


def test_revision_picks_a_branch_of_a_cached_hub_model(model_dir, tmp_path):
    """--revision, as from_pretrained's revision: the command could load only a Hub name's main."""
    import shutil

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf-cache" / "models--org--albert"
    shutil.copytree(model_dir, repo / "snapshots" / commit)
    shutil.copytree(model_dir, repo / "snapshots" / commit[::-1])  # another commit: main is not implied
    (repo / "refs").mkdir()
    (repo / "refs" / "v2").write_text(commit)
    env = {"HF_HUB_CACHE": str(tmp_path / "hf-cache")}
    status, out, err = predict(TEXTS[0], "--model", "org/albert", "--revision", "v2", env=env)
    assert status == 0 and "[MASK]" in out, err
    assert_user_error(predict(TEXTS[0], "--model", "org/albert", env=env), "has no refs/main")
    # A cached copy without its config: a warning says how to complete it, and the error names the
    # cache's folder, not only the Hub name.
    (repo / "snapshots" / commit / "config.json").unlink()
    status, out, err = predict(TEXTS[0], "--model", "org/albert", "--revision", "v2", env=env)
    warning, error = err.strip().splitlines()
    assert status == 2 and out == "" and "Traceback" not in err
    assert warning.startswith("warning: the cached copy of org/albert") and "lacks config.json" in warning
    assert error == (f"error: no config.json in org/albert ({repo / 'snapshots' / commit}): --model needs a model "
                     "directory (config.json, model.safetensors, spiece.model)")


def test_subfolder_names_the_folder_that_holds_the_model(tmp_path, model_dir):
    """--subfolder is from_pretrained's subfolder: a repository or directory keeping its model one
    folder down predicts as that folder itself does; a folder that is not there is one error line."""
    copy_model(model_dir, tmp_path / "repository" / "fill-mask")
    inner = predict(TEXTS[0], "--model", tmp_path / "repository", "--subfolder", "fill-mask", "--json")
    direct = predict(TEXTS[0], "--model", tmp_path / "repository" / "fill-mask", "--json")
    assert inner[0] == 0 and inner[1] == direct[1], inner[2]
    assert_user_error(predict(TEXTS[0], "--model", tmp_path / "repository", "--subfolder", "other"),
                      "has no folder 'other'")


class Terminal(__import__("io").StringIO):
    """Standard error as a terminal: the progress bar is drawn only there."""

    def isatty(self):
        return True


@pytest.mark.parametrize("task", ["fill-mask", "text-classification"])
def test_many_texts_show_progress_on_a_terminal_only_and_predict_the_same(monkeypatch, model_dir, classifier_dir,
                                                                          task):
    """More than one batch of texts draws a bar of texts done on a terminal's standard error; a
    log or a pipe gets none, and the predictions do not depend on it."""
    import io

    from tinyalbert import predict as predict_module

    texts = [f"the [MASK] number {number}" for number in range(11)]
    model = model_dir if task == "fill-mask" else classifier_dir
    argv = [*texts, "--model", str(model), "--task", task, "--batch-size", "4"] + (["--json"] * (task == "fill-mask"))
    outputs = {}
    for name, stderr in (("terminal", Terminal()), ("log", io.StringIO())):
        monkeypatch.setattr("sys.stderr", stderr)
        stdout = io.StringIO()
        assert predict_module.run(argv, stdout=stdout) == 0
        outputs[name] = (stdout.getvalue(), stderr.getvalue())
    assert outputs["terminal"][0] == outputs["log"][0] and len(outputs["log"][0].splitlines()) == 11
    assert "11/11" in outputs["terminal"][1] and "text" in outputs["terminal"][1]
    assert "11/11" not in outputs["log"][1]
