"""SQuAD v2.0 in `python -m tinyalbert.finetune --task question-answering --version-2-with-negative`,
as Transformers 4.53.3's run_qa.py --version_2_with_negative does it: questions without an answer
read (`"answers": []`, `is_impossible`), every window of theirs labelled [CLS], the answer "" when
the least [CLS] score over a question's windows beats the best span's by more than
--null-score-diff-threshold (utils_qa.postprocess_qa_predictions), and the official v2.0 scores.
Expected values are worked out by hand from those definitions."""
import json
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from tinyalbert import finetune

CONTEXT = "The red apple fell from the tall tree in the garden."
ANSWERED = {"id": "q1", "question": "What fell?", "answers": [{"text": "red apple", "answer_start": 4}],
            "is_impossible": False}
# As the official train-v2.0.json writes a question without an answer.
UNANSWERABLE = {"id": "q2", "question": "Who ate it?", "answers": [], "is_impossible": True,
                "plausible_answers": [{"text": "red apple", "answer_start": 4}]}


def write_squad(path, qas, context: str = CONTEXT):
    path.write_text(json.dumps({"version": "v2.0", "data": [{"title": "t", "paragraphs": [
        {"context": context, "qas": qas}]}]}))
    return path


@pytest.fixture(scope="module")
def tokenizer():
    from tinyalbert.tokenizer import AlbertTokenizer

    return AlbertTokenizer.from_pretrained("tinyalbert-mini")


# --- reading -------------------------------------------------------------------------------------
@pytest.mark.parametrize("unanswerable", [UNANSWERABLE, {"id": "q2", "question": "Who ate it?", "answers": []}])
def test_a_v2_file_is_read_with_the_option_its_unanswerable_questions_with_no_answers(tmp_path, unanswerable):
    from tinyalbert.task_data import read_task_file

    path = write_squad(tmp_path / "dev-v2.0.json", [ANSWERED, unanswerable])
    examples = read_task_file("question-answering", path, version_2_with_negative=True)
    assert examples == [{"id": "q1", "question": "What fell?", "context": CONTEXT,
                         "answers": [{"text": "red apple", "answer_start": 4}]},
                        {"id": "q2", "question": "Who ate it?", "context": CONTEXT, "answers": []}]


def test_without_the_option_a_v2_question_is_refused_naming_the_option(tmp_path):
    from tinyalbert.task_data import read_squad

    path = write_squad(tmp_path / "dev-v2.0.json", [ANSWERED, UNANSWERABLE])
    with pytest.raises(ValueError, match="question 'q2': no answer.*--version-2-with-negative"):
        read_squad(path)


@pytest.mark.parametrize("question, expected", [
    ({**UNANSWERABLE, "answers": [{"text": "red apple", "answer_start": 4}]}, "is_impossible true, but answers is not"),
    ({**ANSWERED, "answers": []}, "is_impossible false, but answers is empty"),
    ({**ANSWERED, "is_impossible": "no"}, 'is_impossible must be true or false, got "no"'),
    ({**UNANSWERABLE, "answers": {"text": []}}, "is_impossible true, but answers is not"),
    ({**ANSWERED, "answers": {"text": ["red apple"]}}, r"answers must be a list, \[\] for a question without"),
])
def test_answers_and_is_impossible_that_disagree_are_refused(tmp_path, question, expected):
    from tinyalbert.task_data import read_squad

    path = write_squad(tmp_path / "dev-v2.0.json", [question])
    with pytest.raises(ValueError, match=expected):
        read_squad(path, version_2_with_negative=True)


def test_the_options_belong_to_question_answering_and_to_each_other():
    from tinyalbert.finetune_args import FinetuneArguments

    given = dict(model="m", train="t", validation="v", out="o")
    with pytest.raises(ValueError, match="--version-2-with-negative is for question-answering only"):
        FinetuneArguments(task="text-classification", version_2_with_negative=True, **given)
    with pytest.raises(ValueError, match="--null-score-diff-threshold 1.0 .* only --version-2-with-negative"):
        FinetuneArguments(task="question-answering", null_score_diff_threshold=1, **given)
    with pytest.raises(ValueError, match="null_score_diff_threshold must be a finite number, got nan"):
        FinetuneArguments(task="question-answering", version_2_with_negative=True, null_score_diff_threshold=float("nan"),
                          **given)
    args = FinetuneArguments(task="question-answering", version_2_with_negative=True,
                             null_score_diff_threshold=np.float32(-1.5), **given)
    assert args.null_score_diff_threshold == -1.5 and type(args.null_score_diff_threshold) is float
    parsed = finetune.build_parser().parse_args(["--task", "question-answering", "--model", "m", "--out", "o",
                                                 "--version-2-with-negative", "--null-score-diff-threshold", "-2"])
    assert parsed.version_2_with_negative is True and parsed.null_score_diff_threshold == -2.0


# --- training labels ---------------------------------------------------------------------------
def test_every_window_of_an_unanswerable_question_is_labelled_cls(tokenizer):
    from tinyalbert.task_data import collate, encode_examples

    long_context = " ".join(["the red apple fell from the tree"] * 6)  # the plausible answer in every window
    examples = [{"id": "q2", "question": "Who ate it?", "context": long_context, "answers": []}]
    features = encode_examples("question-answering", examples, tokenizer, 24, None, doc_stride=4)
    assert len(features) > 3
    assert [(f["start_position"], f["end_position"]) for f in features] == [(0, 0)] * len(features)
    batch = collate("question-answering", features, tokenizer.pad_token_id)
    assert batch["start_positions"].tolist() == batch["end_positions"].tolist() == [0] * len(features)


# --- choosing between a span and no answer -------------------------------------------------------
def features_and_logits(tokenizer, context: str, max_length: int, doc_stride: int, spans: list, nulls: list):
    """The features of one question over `context`, with logits 0 but for [CLS] (start and end
    logit each half of `nulls[k]` in window k) and, in window k, `spans[k]` = (first context
    piece, last context piece, start logit, end logit), or None."""
    from tinyalbert.task_data import encode_question

    example = {"id": "q", "question": "Who?", "context": context, "answers": []}
    features = encode_question(example, tokenizer, max_length, doc_stride)
    assert len(features) == len(spans) == len(nulls)
    logits = []
    for feature, span, null in zip(features, spans, nulls):
        start_logits, end_logits = np.zeros(len(feature["input_ids"])), np.zeros(len(feature["input_ids"]))
        start_logits[0] = end_logits[0] = null / 2
        if span is not None:
            first, last, start_logit, end_logit = span
            start_logits[feature["context_start"] + first] = start_logit
            end_logits[feature["context_start"] + last] = end_logit
        logits.append((start_logits, end_logits))
    return example, features, logits


@pytest.mark.parametrize("null, threshold, expected", [
    (10.0, 0.0, ""),  # the null score 10 beats the span's 5 + 3 = 8
    (6.0, 0.0, "two three"),  # 6 < 8: the span
    (8.0, 0.0, "two three"),  # a tie keeps the span: null - span > threshold, strictly
    (10.0, 2.0, "two three"),  # 10 - 8 = 2, not more than the threshold 2
    (10.0, 1.5, ""),
    (7.0, -1.5, ""),  # a threshold below 0 abstains more often: 7 - 8 = -1 > -1.5
    (7.0, -0.5, "two three"),
])
def test_the_answer_is_empty_when_the_null_score_beats_the_best_span_by_more_than_the_threshold(
        tokenizer, null, threshold, expected):
    from tinyalbert.qa_answers import answer_or_abstain

    context = "one two three four"
    _, features, logits = features_and_logits(tokenizer, context, 32, 8, [(1, 2, 5.0, 3.0)], [null])
    assert answer_or_abstain(context, features, logits, 30, threshold) == expected


def test_the_null_score_is_the_least_over_the_windows(tokenizer):
    """Window 0 says "no answer" loudly (null 20), window 2 not (null 1): the null score is 1,
    below the span's 4 + 4 in window 1, so the span is the answer (the first window's null alone
    would abstain). With a null score of 10 in every window, v2.0 abstains and v1.1 answers."""
    from tinyalbert.qa_answers import answer_or_abstain, null_score, squad_predictions

    context = "one two three four five six seven eight ten eleven twelve"  # a piece a word
    # [CLS] who ? [SEP] + 5 pieces + [SEP] at 10: windows of pieces 0-4, 3-7 and 6-10 (2 shared)
    example, features, logits = features_and_logits(tokenizer, context, 10, 2, [None, (1, 2, 4.0, 4.0), None],
                                                     [20.0, 12.0, 1.0])
    assert [feature["piece_words"] for feature in features] == [[0, 1, 2, 3, 4], [3, 4, 5, 6, 7], [6, 7, 8, 9, 10]]
    assert null_score(logits) == 1.0
    assert answer_or_abstain(context, features, logits, 30) == "five six"
    for start_logits, end_logits in logits:
        start_logits[0] = end_logits[0] = 5.0
    assert squad_predictions([example], features, logits, 30, version_2_with_negative=True) == {"q": ""}
    assert squad_predictions([example], features, logits, 30) == {"q": "five six"}


def test_a_question_without_any_candidate_span_gets_no_answer(tokenizer):
    from tinyalbert.qa_answers import answer_or_abstain

    context = "one two three four"
    _, features, logits = features_and_logits(tokenizer, context, 32, 8, [None], [-4.0])
    start_logits, end_logits = logits[0]
    start_logits[features[0]["context_start"] + 3] = end_logits[features[0]["context_start"]] = 9.0  # end < start
    assert answer_or_abstain(context, features, logits, 30, n_best_size=1) == ""


# --- scores ------------------------------------------------------------------------------------
def test_the_v2_scores_are_the_official_scripts_worked_by_hand():
    from tinyalbert.metrics import squad_v2_scores

    references = {"q1": ["a red apple", "apple"], "q2": [], "q3": [], "q4": ["the tall tree"], "q5": ["The"]}
    predictions = {"q1": "Red apple.", "q2": "", "q3": "the tree", "q4": "tree", "q5": "", "other": "x"}
    # exact / F1 per question: q1 1 / 1 ("red apple" either way); q2 1 / 1 (the only answer is "");
    # q3 0 / 0; q4 0 / F1 of {tree} against {tall, tree} = 2 * 1 * 0.5 / 1.5 = 2/3; q5: "The"
    # normalizes to nothing, so its only answer is "" too: 1 / 1. q5 has an answer in the file, so
    # it counts among HasAns (q1, q4, q5); NoAns: q2, q3.
    scores = squad_v2_scores(predictions, references)
    assert list(scores) == ["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total",
                            "NoAns_exact", "NoAns_f1", "NoAns_total"]  # evaluate's squad_v2, in its order
    assert scores == pytest.approx({"exact": 100 * 3 / 5, "f1": 100 * (3 + 2 / 3) / 5, "total": 5,
                                    "HasAns_exact": 100 * 2 / 3, "HasAns_f1": 100 * (2 + 2 / 3) / 3, "HasAns_total": 3,
                                    "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2}, abs=1e-12)
    assert type(scores["total"]) is int


def test_v2_f1_is_1_where_both_sides_are_empty_and_v1_1_is_0():
    from tinyalbert.metrics import squad_f1, squad_v2_f1

    assert squad_v2_f1("the", "") == squad_v2_f1("", "") == 1.0  # "the" normalizes to nothing
    assert squad_f1("the", "") == 0.0
    assert squad_v2_f1("an apple", "") == squad_v2_f1("", "apple") == 0.0
    assert squad_v2_f1("the red apple", "red apples") == pytest.approx(0.5)  # as v1.1: 1 word of 2 each


def test_only_the_groups_a_file_has_are_reported_and_a_missing_prediction_is_an_error():
    from tinyalbert.metrics import squad_v2_scores

    assert squad_v2_scores({"q1": "x"}, {"q1": ["x"]}) == {"exact": 100.0, "f1": 100.0, "total": 1,
                                                         "HasAns_exact": 100.0, "HasAns_f1": 100.0, "HasAns_total": 1}
    assert squad_v2_scores({"q1": "x"}, {"q1": []}) == {"exact": 0.0, "f1": 0.0, "total": 1,
                                                      "NoAns_exact": 0.0, "NoAns_f1": 0.0, "NoAns_total": 1}
    with pytest.raises(ValueError, match="no prediction for 1 question.*'q2'"):
        squad_v2_scores({"q1": ""}, {"q1": [], "q2": []})


def test_the_evaluation_scores_a_model_that_abstains_where_it_should(tmp_path, tokenizer):
    """The command's data loading and evaluation with a model that points at "red apple" for
    "What fell?" and at [CLS] for "Who ate it?": every v2.0 score is 100."""
    from tinyalbert.finetune_args import FinetuneArguments
    from tinyalbert.finetune_loop import evaluate_with_predictions, load_data

    path = write_squad(tmp_path / "dev-v2.0.json", [ANSWERED, UNANSWERABLE, {**ANSWERED, "id": "q3"}])
    args = FinetuneArguments(task="question-answering", model="tinyalbert-mini", train=str(path),
                             validation=str(path), out=str(tmp_path / "out"), max_seq_length=32,
                             version_2_with_negative=True)
    _, _, _, examples, features = load_data(args, tokenizer)
    red, apple = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("red apple"))
    ate = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("ate"))[0]

    def oracle(input_ids, attention_mask, token_type_ids, return_dict):
        start = np.where(input_ids == red, 9.0, 0.0)
        end = np.where(input_ids == apple, 9.0, 0.0)
        asks_who_ate = (input_ids == ate).any(axis=1)
        start[:, 0] = end[:, 0] = np.where(asks_who_ate, 20.0, 1.0)
        return SimpleNamespace(start_logits=start, end_logits=end)

    scores, answers = evaluate_with_predictions("question-answering", oracle, examples, features, None, 2,
                                                tokenizer.pad_token_id, version_2_with_negative=True)
    assert answers == ["red apple", "", "red apple"]
    assert scores == {"exact": 100.0, "f1": 100.0, "total": 3, "HasAns_exact": 100.0, "HasAns_f1": 100.0,
                      "HasAns_total": 2, "NoAns_exact": 100.0, "NoAns_f1": 100.0, "NoAns_total": 1}


# --- the command -------------------------------------------------------------------------------
V2_KEYS = {"exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total", "NoAns_exact", "NoAns_f1",
           "NoAns_total"}


def run(capsys, *options):
    """finetune.main: (exit status, error lines, the JSON summary or None)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the new head's "newly initialized" warning
        status = finetune.main(["--task", "question-answering", "--batch-size", "4", "--max-seq-length", "24",
                                "--lr", "3e-4", "--quiet", *options])
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    return status, errors, (json.loads(captured.out.splitlines()[-1]) if status == 0 else None)


def v2_files(tmp_path):
    qas = [ANSWERED, UNANSWERABLE, {**ANSWERED, "id": "q3", "question": "Which apple fell?"},
           {**UNANSWERABLE, "id": "q4", "question": "Who planted it?"}]
    return write_squad(tmp_path / "train-v2.0.json", qas), write_squad(tmp_path / "dev-v2.0.json", qas[:2])


def test_a_tiny_v2_run_reports_the_v2_scores_and_its_best_model_scores_them_again(tmp_path, capsys):
    train, dev = v2_files(tmp_path)
    out = tmp_path / "out"
    status, errors, summary = run(capsys, "--model", "tinyalbert-mini", "--train", str(train), "--validation", str(dev),
                                  "--test", str(dev), "--out", str(out), "--epochs", "1", "--version-2-with-negative")
    assert status == 0, errors
    assert summary["best_by"] == "f1" and set(summary["best"]) == V2_KEYS | {"epoch", "step"}
    assert summary["best"]["total"] == 2 and summary["best"]["HasAns_total"] == summary["best"]["NoAns_total"] == 1
    [line] = (out / "metrics.jsonl").read_text().splitlines()
    assert json.loads(line) == summary["best"]
    test_results = json.loads((out / "test_results.json").read_text())
    assert set(test_results) == V2_KEYS and test_results == summary["test"]
    records = [json.loads(line) for line in (out / "test_predictions.jsonl").read_text().splitlines()]
    assert [(record["id"], record["reference"]) for record in records] == [("q1", ["red apple"]), ("q2", [])]
    # Each question's exact match by the official rule, from the predictions file: NoAns is right iff "".
    assert test_results["NoAns_exact"] == (100.0 if records[1]["prediction"] == "" else 0.0)
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["args"]["version_2_with_negative"] is True and state["args"]["null_score_diff_threshold"] == 0.0

    evaluated = tmp_path / "eval"
    status, errors, scored = run(capsys, "--model", str(out / "best"), "--eval-only", "--validation", str(dev),
                                 "--out", str(evaluated), "--version-2-with-negative")
    assert status == 0, errors
    best = {key: value for key, value in summary["best"].items() if key not in ("epoch", "step")}
    assert scored["validation"] == pytest.approx(best, abs=1e-9)
    assert json.loads((evaluated / "validation_results.json").read_text()) == scored["validation"]

    # Scored without the option, the v2.0 file is refused, naming it; so is its run's best/.
    status, errors, _ = run(capsys, "--model", str(out / "best"), "--eval-only", "--validation", str(dev),
                            "--out", str(evaluated))
    assert status == 2 and "question 'q2': no answer" in errors[0] and "--version-2-with-negative" in errors[0]


def test_eval_only_warns_when_a_v2_runs_best_model_is_scored_as_v1_1(tmp_path, capsys):
    train, _ = v2_files(tmp_path)
    out = tmp_path / "out"
    assert run(capsys, "--model", "tinyalbert-mini", "--train", str(train), "--validation", str(train),
               "--out", str(out), "--epochs", "1", "--version-2-with-negative")[0] == 0
    answered = write_squad(tmp_path / "dev-v1.1.json", [ANSWERED])
    with pytest.warns(UserWarning, match="without --version-2-with-negative, but the run that made --model"):
        status = finetune.main(["--task", "question-answering", "--model", str(out / "best"), "--eval-only",
                                "--validation", str(answered), "--out", str(tmp_path / "eval"),
                                "--max-seq-length", "24", "--quiet"])
    assert status == 0
    assert set(json.loads(capsys.readouterr().out.splitlines()[-1])["validation"]) == {"exact_match", "f1"}
    with pytest.warns(UserWarning, match="--null-score-diff-threshold 1.5, but the run that made --model .* used "
                                         "--null-score-diff-threshold 0.0"):
        status = finetune.main(["--task", "question-answering", "--model", str(out / "best"), "--eval-only",
                                "--validation", str(train), "--out", str(tmp_path / "eval"), "--max-seq-length", "24",
                                "--quiet", "--version-2-with-negative", "--null-score-diff-threshold", "1.5"])
    assert status == 0


def test_the_curves_plot_the_v2_scores_not_the_question_counts(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from tinyalbert.finetune_loop import plot_curves
    from tinyalbert.train import history

    figures = []
    monkeypatch.setattr(history, "save_figure", lambda figure, path: figures.append(figure))
    scores = {"exact": 50.0, "f1": 60.0, "total": 4, "HasAns_exact": 50.0, "HasAns_f1": 70.0, "HasAns_total": 2,
              "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2}
    state = {"losses": [[1, 2.0], [2, 1.5]],
             "history": [{"epoch": 1, "step": 1, **scores}, {"epoch": 2, "step": 2, **scores}]}
    assert plot_curves(state, "f1", tmp_path / "curves.png")
    metric_axes = figures[0].axes[1]
    assert [line.get_label() for line in metric_axes.get_lines()] == [
        "exact", "f1 (picks the best epoch)", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1"]
    assert metric_axes.get_ylabel() == "score (%)"


@pytest.mark.parametrize("resumed_with, expected", [
    ([], "version_2_with_negative is False but the checkpoint was made with True"),
    (["--version-2-with-negative", "--null-score-diff-threshold", "1"],
     "null_score_diff_threshold is 1.0 but the checkpoint was made with 0.0"),
])
def test_resuming_with_other_v2_options_is_refused(tmp_path, capsys, resumed_with, expected):
    train, dev = v2_files(tmp_path)
    answered = write_squad(tmp_path / "train-v1.1.json", [ANSWERED, {**ANSWERED, "id": "q3"}])
    common = ["--model", "tinyalbert-mini", "--train", str(answered), "--validation", str(answered),
              "--out", str(tmp_path / "out"), "--epochs", "2"]
    # A file every question of which has an answer: readable with or without the option, so that
    # the refusal is --resume's own.
    assert run(capsys, *common, "--stop-after", "1", "--version-2-with-negative")[0] == 0
    status, errors, _ = run(capsys, *common, "--resume", *resumed_with)
    assert status == 2 and expected in errors[0], errors
    assert run(capsys, *common, "--resume", "--version-2-with-negative")[0] == 0  # the same options go on


# --- the pipeline ------------------------------------------------------------------------------
def test_the_pipelines_handle_impossible_answer_agrees_on_a_context_of_one_window(tokenizer):
    """The pipeline compares [CLS]'s p(start) * p(end) with the best span's, the evaluation start +
    end logits: within one window the softmax keeps their order, so both abstain on the same
    questions (the pipeline given the evaluation's longest answer, 30)."""
    import tinyalbert as ta
    from tinyalbert.finetune_loop import predict_features
    from tinyalbert.qa_answers import answer_or_abstain
    from tinyalbert.task_data import encode_question

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the new head's "newly initialized" warning
        model = ta.AlbertForQuestionAnswering.from_pretrained("tinyalbert-mini").eval()
    pipe = ta.pipeline("question-answering", model=model, tokenizer=tokenizer, handle_impossible_answer=True,
                       max_answer_len=30)
    features = encode_question({"id": "q", "question": "What fell?", "context": CONTEXT, "answers": []},
                               tokenizer, 128, 60)
    assert len(features) == 1
    answers = []
    for seed in range(30):  # heads drawn at random: some abstain, most answer
        rng = np.random.default_rng(seed)
        model.params["qa_outputs.weight"] = (0.5 * rng.normal(size=(2, model.config.hidden_size))).astype(np.float32)
        logits = predict_features("question-answering", model, features, 1, tokenizer.pad_token_id)
        ours = answer_or_abstain(CONTEXT, features, logits, 30)
        assert pipe(question="What fell?", context=CONTEXT)["answer"] == ours, seed
        answers.append(ours)
    assert "" in answers and len(set(answers)) > 2
