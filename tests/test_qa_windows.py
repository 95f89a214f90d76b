"""Question answering in `python -m tinyalbert.finetune` over contexts longer than the window:
each question becomes overlapping features (--doc-stride pieces shared by neighbours), each
labelled with the answer's span or [CLS]; the evaluation scores every feature of a question and
keeps the best span across them, one answer per question, as Transformers' run_qa.py does."""
import json
import warnings

import numpy as np
import pytest

from tinyalbert import finetune

WORDS = ["long", "ago", "a", "quiet", "village", "stood", "beside", "river", "where", "farmers", "grew",
         "wheat", "barley", "and", "famously", "sweet", "plums", "every", "summer", "1666"]
QUESTION = "What fell?"


def long_context(rng, words: int, answer: str = "red apple") -> tuple[str, int]:
    """A context of `words` filler words with `answer` somewhere in its second half; its offset."""
    filler = [str(word) for word in rng.choice(WORDS, size=words)]
    at = int(rng.integers(words // 2, words))
    before = " ".join(filler[:at]) + " the "
    return before + answer + " fell, " + " ".join(filler[at:]) + ".", len(before)


@pytest.fixture(scope="module")
def tokenizer():
    from tinyalbert.tokenizer import AlbertTokenizer

    return AlbertTokenizer.from_pretrained("tinyalbert-mini")


def question(context: str, start: int, answer: str = "red apple", identifier: str = "q1") -> dict:
    return {"id": identifier, "question": QUESTION, "context": context,
            "answers": [{"text": answer, "answer_start": start}]}


@pytest.mark.parametrize("max_length, doc_stride", [(24, 6), (32, 12), (40, 1)])
def test_a_long_context_becomes_overlapping_windows_labelled_where_the_answer_is_whole(tokenizer, max_length,
                                                                                     doc_stride):
    from tinyalbert.task_data import encode_question

    rng = np.random.default_rng(max_length)
    context, start = long_context(rng, 60)
    example = question(context, start)
    features = encode_question(example, tokenizer, max_length, doc_stride)
    assert len(features) > 2
    head = len(tokenizer.tokenize(QUESTION)) + 2  # [CLS] question [SEP]
    windows = [feature["input_ids"][head:-1] for feature in features]
    for feature, window, following in zip(features, windows, windows[1:]):
        assert len(feature["input_ids"]) == max_length  # every window but the last is full
        assert window[-doc_stride:] == following[:doc_stride]  # neighbours share doc_stride pieces
    pieces = [piece for word in context.split() for piece in tokenizer.tokenize(word)]
    assert tokenizer.convert_tokens_to_ids(pieces) == windows[0] + [i for w in windows[1:] for i in w[doc_stride:]]
    answer = tokenizer.tokenize("red apple")
    labelled = 0
    for feature, window in zip(features, windows):
        start_position, end_position = feature["start_position"], feature["end_position"]
        ids = feature["input_ids"]
        holds_answer = any(tokenizer.convert_ids_to_tokens(window[i:i + len(answer)]) == answer
                           for i in range(len(window)))
        if holds_answer:
            labelled += 1
            assert tokenizer.convert_ids_to_tokens(ids[start_position:end_position + 1]) == answer
        else:  # not in this window, or cut by its edge: [CLS]
            assert (start_position, end_position) == (0, 0)
        assert feature["id"] == "q1" and feature["token_type_ids"] == [0] * head + [1] * (len(ids) - head)
    assert labelled >= 1


def test_an_answer_cut_by_a_windows_edge_points_at_cls_in_that_window(tokenizer):
    from tinyalbert.task_data import encode_question

    context = " ".join(["word"] * 20) + " the red apple fell"
    assert len(tokenizer.tokenize(context)) == 24  # one piece a word: "red apple" is pieces 21 and 22
    head = len(tokenizer.tokenize(QUESTION)) + 2
    features = encode_question(question(context, context.index("red")), tokenizer, head + 10 + 1, doc_stride=4)
    # Windows of 10 pieces stepping by 10 - 4: pieces 0-9, 6-15, 12-21 (the answer's first piece,
    # not its last: cut by the edge) and 18-23, the last, which holds it at 21 - 18 and 22 - 18.
    spans = [(feature["start_position"], feature["end_position"]) for feature in features]
    assert spans == [(0, 0), (0, 0), (0, 0), (head + 3, head + 4)]
    assert [feature["piece_words"][0] for feature in features] == [0, 6, 12, 18]


def test_the_evaluation_picks_the_answer_from_the_window_that_holds_it(tokenizer):
    # No model: logits that favour a span of the second window over a weaker one in the first.
    from tinyalbert.qa_answers import squad_predictions
    from tinyalbert.task_data import encode_question

    rng = np.random.default_rng(0)
    context, start = long_context(rng, 40)
    features = encode_question(question(context, start), tokenizer, 32, 8)
    other = encode_question(question("The red apple fell.", 4, identifier="q2"), tokenizer, 32, 8)
    assert len(features) >= 2 and len(other) == 1
    labelled = [i for i, feature in enumerate(features) if feature["start_position"]]
    assert labelled and labelled[0] >= 1  # the answer lies past the first window
    logits = []
    for index, feature in enumerate(features):
        start_logits, end_logits = np.zeros(len(feature["input_ids"])), np.zeros(len(feature["input_ids"]))
        start_logits[0] = end_logits[0] = 50.0  # [CLS] is never an answer
        start_logits[1] = end_logits[1] = 40.0  # nor is the question
        if index == 0:  # a plausible span in the first window, weaker than the answer's
            start_logits[feature["context_start"]] = end_logits[feature["context_start"] + 1] = 3.0
        if index == labelled[0]:
            start_logits[feature["start_position"]] = end_logits[feature["end_position"]] = 4.0
            end_logits[feature["start_position"]] = 3.9  # a span ending before its start is not one
            start_logits[feature["end_position"]] = 3.9
        logits.append((start_logits, end_logits))
    logits.append((np.zeros(len(other[0]["input_ids"])), np.zeros(len(other[0]["input_ids"]))))
    examples = [question(context, start), question("The red apple fell.", 4, identifier="q2")]
    answers = squad_predictions(examples, features + other, logits, max_answer_length=30)
    assert list(answers) == ["q1", "q2"]  # one answer per question, in the file's order
    assert answers["q1"] == "red apple"
    assert answers["q2"] in "The red apple fell."


def test_the_best_span_respects_max_answer_length_and_n_best(tokenizer):
    from tinyalbert.qa_answers import best_answer, span_candidates
    from tinyalbert.task_data import encode_question

    context = "one two three four five six seven"
    [feature] = encode_question(question(context, 4, "two"), tokenizer, 32, 8)
    seq, first = len(feature["input_ids"]), feature["context_start"]
    start_logits, end_logits = np.zeros(seq), np.zeros(seq)
    start_logits[first], end_logits[first + 6] = 5.0, 5.0  # "one ... seven": 7 tokens
    end_logits[first + 1] = 4.0  # "one two": 2 tokens
    assert best_answer(context, [feature], [(start_logits, end_logits)], max_answer_length=30) == context
    assert best_answer(context, [feature], [(start_logits, end_logits)], max_answer_length=2) == "one two"
    # Only the n_best highest start and end logits are paired, as run_qa.py's post-processing does.
    candidates = span_candidates(start_logits, end_logits, first, len(feature["piece_words"]), 30, n_best_size=1)
    assert candidates == [(10.0, first, first + 6)]
    # No valid span among the candidates: the empty answer (run_qa.py writes "empty"; both score 0).
    start_logits[:] = end_logits[:] = -1.0
    start_logits[0] = end_logits[0] = 9.0
    assert span_candidates(start_logits, end_logits, first, len(feature["piece_words"]), 30, n_best_size=1) == []
    assert best_answer(context, [feature], [(start_logits, end_logits)], 30, n_best_size=1) == ""


def run(tmp_path, *extra, train=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the new head's "newly initialized" warning
        return finetune.main(["--task", "question-answering", "--model", "tinyalbert-mini", "--train", str(train),
                              "--validation", str(train), "--out", str(tmp_path / "out"), "--batch-size", "8",
                              "--lr", "3e-4", *extra])


def write_long_squad(path, questions: int = 6, words: int = 50):
    rng = np.random.default_rng(1)
    paragraphs = []
    for number in range(questions):
        context, start = long_context(rng, words)
        paragraphs.append({"context": context, "qas": [{"id": f"q{number}", "question": QUESTION,
                                                        "answers": [{"text": "red apple", "answer_start": start}]}]})
    path.write_text(json.dumps({"data": [{"paragraphs": paragraphs}]}))
    return path


def test_the_command_trains_and_evaluates_on_every_window(tmp_path, capsys):
    train = write_long_squad(tmp_path / "squad.json")
    assert run(tmp_path, "--epochs", "1", "--max-seq-length", "32", "--doc-stride", "8", train=train) == 0
    captured = capsys.readouterr()
    line = next(line for line in captured.err.splitlines() if "training features from" in line)
    features = int(line.split("question answering: ")[1].split()[0])
    assert features > 6 and "from 6 questions" in line and "--doc-stride 8" in line, line
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert set(summary["best"]) >= {"exact_match", "f1"}
    state = json.loads((tmp_path / "out" / "checkpoint" / "state.json").read_text())
    assert state["step"] == -(-features // 8)  # one step per batch of features, not of questions
    assert state["args"]["doc_stride"] == 8 and state["args"]["max_answer_length"] == 30


def test_the_evaluation_answers_from_past_the_first_window(tmp_path, tokenizer):
    # The command's own data loading and evaluation, with a model that points at "red" and "apple"
    # wherever they are: every answer lies past the first window, and is found only by scoring all.
    from types import SimpleNamespace

    from tinyalbert.finetune_args import FinetuneArguments
    from tinyalbert.finetune_loop import evaluate, load_data

    train = write_long_squad(tmp_path / "squad.json", questions=4, words=60)
    args = FinetuneArguments(task="question-answering", model="tinyalbert-mini", train=str(train),
                             validation=str(train), out=str(tmp_path / "out"), max_seq_length=32)
    _, _, train_features, examples, features = load_data(args, tokenizer)
    assert len(train_features) > len(examples) == 4
    red, apple = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("red apple"))

    def oracle(input_ids, attention_mask, token_type_ids, return_dict):
        return SimpleNamespace(start_logits=np.where(input_ids == red, 9.0, 0.0),
                               end_logits=np.where(input_ids == apple, 9.0, 0.0))

    scores = evaluate("question-answering", oracle, examples, features, None, 3, tokenizer.pad_token_id)
    assert scores == {"exact_match": 100.0, "f1": 100.0}


def test_the_default_doc_stride_is_run_qas_capped_to_fit_the_window_and_the_longest_question():
    from tinyalbert.finetune_args import FinetuneArguments

    given = dict(task="question-answering", model="m", train="t.json", validation="v.json", out="o")
    assert FinetuneArguments(**given, max_seq_length=384).doc_stride == 128
    # --max-seq-length 128: 128 would leave no room, and a question of 64 pieces leaves 61
    assert FinetuneArguments(**given).doc_stride == 60
    assert FinetuneArguments(**given, max_seq_length=48).doc_stride == 24  # no default fits a 64-piece question
    assert FinetuneArguments(**given, max_seq_length=384, doc_stride=100).doc_stride == 100
    for field, value in (("doc_stride", 0), ("doc_stride", -3), ("max_answer_length", 0)):
        with pytest.raises(ValueError, match=f"{field} must be a positive integer"):
            FinetuneArguments(**given, **{field: value})


@pytest.mark.parametrize("options, expected", [
    (["--doc-stride", "0"], ["--doc-stride", "positive integer"]),
    (["--max-answer-length", "0"], ["--max-answer-length", "positive integer"]),
    (["--max-seq-length", "24", "--doc-stride", "18"],  # "What fell?" takes 3 pieces: 18 left per window
     ["question 'q0'", "leaves 18", "--doc-stride 18", "pass --doc-stride 17 or less", "raise --max-seq-length to 25 or more"]),
])
def test_a_doc_stride_that_cannot_work_is_refused_with_what_to_change(tmp_path, capsys, options, expected):
    train = write_long_squad(tmp_path / "squad.json", questions=2)
    assert run(tmp_path, "--quiet", *options, train=train) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("error:") and all(part in line for part in expected), line


def test_a_context_that_fits_one_window_needs_no_stride_smaller_than_the_room(tokenizer):
    """A stride only matters when the window has to step: a short context is one feature whatever
    --doc-stride says (as Transformers' tokenizers truncate only what does not fit)."""
    from tinyalbert.task_data import encode_question

    context = "the red apple fell"
    head = len(tokenizer.tokenize(QUESTION)) + 2
    room = 16 - head - 1
    features = encode_question(question(context, context.index("red")), tokenizer, 16, doc_stride=room + 5)
    assert len(features) == 1 and len(tokenizer.tokenize(context)) <= room
    assert tokenizer.convert_ids_to_tokens(
        features[0]["input_ids"][features[0]["start_position"]:features[0]["end_position"] + 1]) == ["▁red", "▁apple"]


def test_resuming_with_another_doc_stride_is_refused(tmp_path, capsys):
    train = write_long_squad(tmp_path / "squad.json", questions=2, words=30)
    common = ["--quiet", "--epochs", "2", "--max-seq-length", "32"]
    assert run(tmp_path, *common, "--doc-stride", "8", "--stop-after", "1", train=train) == 0
    assert run(tmp_path, *common, "--doc-stride", "4", "--resume", train=train) == 2
    assert "doc_stride is 4 but the checkpoint was made with 8" in capsys.readouterr().err
    # A checkpoint from before windows (no doc_stride in its arguments) trained other steps.
    state_file = tmp_path / "out" / "checkpoint" / "state.json"
    state = json.loads(state_file.read_text())
    del state["args"]["doc_stride"]
    state_file.write_text(json.dumps(state))
    assert run(tmp_path, *common, "--doc-stride", "8", "--resume", train=train) == 2
    assert "kept only the first window of each context" in capsys.readouterr().err


@pytest.mark.reference
def test_features_and_labels_match_run_qa_with_a_fast_tokenizer(albert_base_v2_tokenizer_dir):
    """run_qa.py's prepare_train_features (Transformers' examples), on the fast tokenizer converted
    from the same spiece.model, against `encode_question` on tinyalbert's slow one."""
    from transformers import AlbertTokenizerFast

    from tinyalbert.task_data import encode_question
    from tinyalbert.tokenizer import AlbertTokenizer

    fast = AlbertTokenizerFast.from_pretrained(albert_base_v2_tokenizer_dir)
    slow = AlbertTokenizer.from_pretrained(albert_base_v2_tokenizer_dir)
    rng = np.random.default_rng(3)
    for trial in range(12):
        context, start = long_context(rng, int(rng.integers(5, 70)))
        max_length, doc_stride = int(rng.choice([24, 32, 48])), int(rng.choice([1, 4, 8, 12]))
        ours = encode_question(question(context, start), slow, max_length, doc_stride)
        theirs = run_qa_train_features(fast, QUESTION, context, start, "red apple", max_length, doc_stride)
        assert [f["input_ids"] for f in ours] == theirs["input_ids"], trial
        assert [(f["start_position"], f["end_position"]) for f in ours] == theirs["positions"], trial


def run_qa_train_features(tokenizer, question_text, context, start_char, answer, max_length, doc_stride):
    """The labelling of run_qa.py's prepare_train_features for one question (pad_on_right)."""
    encoded = tokenizer(question_text.lstrip(), context, truncation="only_second", max_length=max_length,
                        stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True)
    end_char, positions = start_char + len(answer), []
    for i, offsets in enumerate(encoded["offset_mapping"]):
        input_ids, sequence_ids = encoded["input_ids"][i], encoded.sequence_ids(i)
        cls_index = input_ids.index(tokenizer.cls_token_id)
        token_start_index = 0
        while sequence_ids[token_start_index] != 1:
            token_start_index += 1
        token_end_index = len(input_ids) - 1
        while sequence_ids[token_end_index] != 1:
            token_end_index -= 1
        if not (offsets[token_start_index][0] <= start_char and offsets[token_end_index][1] >= end_char):
            positions.append((cls_index, cls_index))
            continue
        while token_start_index < len(offsets) and offsets[token_start_index][0] <= start_char:
            token_start_index += 1
        while offsets[token_end_index][1] >= end_char:
            token_end_index -= 1
        positions.append((token_start_index - 1, token_end_index + 1))
    return {"input_ids": encoded["input_ids"], "positions": positions}


def test_the_default_doc_stride_fits_the_longest_question(tokenizer):
    """A question cut to MAX_QUESTION_TOKENS pieces, over a context longer than one window, at the
    default --max-seq-length: the default stride leaves the windows room to move on."""
    from tinyalbert.task_data import MAX_QUESTION_TOKENS, default_doc_stride, encode_question

    long_question = " ".join(["what"] * (MAX_QUESTION_TOKENS + 5))
    context = " ".join(["word"] * 150) + " the red apple fell"
    example = {**question(context, context.index("red")), "question": long_question}
    features = encode_question(example, tokenizer, 128, default_doc_stride(128))
    assert len(features) > 1 and max(f["end_position"] for f in features) > 0
