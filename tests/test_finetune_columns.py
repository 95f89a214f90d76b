"""`python -m tinyalbert.finetune` on files whose columns have other names than its own: GLUE's
(sentence1, sentence2, integer label), CoNLL's from `datasets` (tokens, integer ner_tags); the
options that name them and their ids, the hints of the error for a file read without them, and
--resume keeping them."""
import csv
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import tinyalbert as ta
from tinyalbert import finetune
from tinyalbert.finetune_args import FinetuneArguments
from tinyalbert.finetune_loop import problem_type_of
from tinyalbert.task_data import label_list, read_task_file

FRUITS, ANIMALS = ["apple", "banana", "cherry"], ["dog", "cat", "horse"]
# CoNLL-2003's ner_tags as `datasets` names them (the ClassLabel of the column)
CONLL_TAG_NAMES = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
MRPC_LABEL_NAMES = ["not_equivalent", "equivalent"]  # GLUE's MRPC labels as `datasets` names them


def write_glue_pairs(path, rows=16):
    """An MRPC-like CSV: sentence1, sentence2, label (1 when both sentences are of one kind) and
    GLUE's idx, a column that is read by nobody."""
    rng = np.random.default_rng(0)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sentence1", "sentence2", "label", "idx"])
        for index in range(rows):
            first, second = (FRUITS if rng.random() < 0.5 else ANIMALS), (FRUITS if rng.random() < 0.5 else ANIMALS)
            writer.writerow([" ".join(rng.choice(first, size=3)), " ".join(rng.choice(second, size=3)),
                             int(first is second), index])
    return path


def write_conll(path, rows=12):
    """A CoNLL-2003-like JSONL as `datasets` writes it: id, tokens, integer pos_tags and ner_tags
    (B-PER, 1, for a fruit, as if it were a name; O, 0, for the rest)."""
    rng = np.random.default_rng(1)
    with open(path, "w") as handle:
        for index in range(rows):
            tokens = [str(word) for word in rng.choice(FRUITS + ANIMALS, size=4)]
            handle.write(json.dumps({"id": str(index), "tokens": tokens, "pos_tags": [21] * len(tokens),
                                     "ner_tags": [1 if token in FRUITS else 0 for token in tokens]}) + "\n")
    return path


def run_finetune(task, train, out, *extra, quiet=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the new head's "newly initialized" warning
        return finetune.main(["--task", task, "--model", "tinyalbert-mini", "--train", str(train),
                              "--validation", str(train), "--out", str(out), "--batch-size", "4",
                              "--max-seq-length", "24", "--lr", "3e-4", *(["--quiet"] if quiet else []), *extra])


def finetune_error(capsys, task, train, tmp_path, *extra) -> str:
    """The one `error:` line of a run that must stop with status 2."""
    status = run_finetune(task, train, tmp_path / "refused", *extra)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert status == 2 and len(lines) == 1, lines
    return lines[0]


def saved_args(out) -> dict:
    return json.loads((out / "checkpoint" / "state.json").read_text())["args"]


# --- end to end: GLUE and CoNLL files, read as they are ---------------------------------------------
def test_a_glue_pair_file_trains_with_its_columns_named_and_resumes_only_with_them(tmp_path, capsys):
    train = write_glue_pairs(tmp_path / "mrpc.csv")
    columns = ["--text-column", "sentence1", "--text-pair-column", "sentence2"]
    assert run_finetune("text-classification", train, tmp_path / "out", *columns, "--epochs", "2",
                        "--stop-after", "1") == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["best"]["epoch"] == 1
    recorded = saved_args(tmp_path / "out")
    assert {name: recorded[name] for name in ("text_column", "text_pair_column", "label_column")} == {
        "text_column": "sentence1", "text_pair_column": "sentence2", "label_column": "label"}
    assert recorded["tokens_column"] is None and recorded["tags_column"] is None  # another task's
    # --resume refuses other columns (other examples: the steps the checkpoint is part of would change) ...
    line = finetune_error(capsys, "text-classification", train, tmp_path, "--text-column", "sentence2",
                          "--text-pair-column", "sentence1", "--out", str(tmp_path / "out"), "--epochs", "2",
                          "--resume")
    assert "--resume: text_column is 'sentence2' but the checkpoint was made with 'sentence1'" in line, line
    line = finetune_error(capsys, "text-classification", train, tmp_path, "--text-column", "sentence1",
                          "--out", str(tmp_path / "out"), "--epochs", "2", "--resume")  # the pair's column left out
    assert "text_pair_column is 'text_pair' but the checkpoint was made with 'sentence2'" in line, line
    # ... and continues with the same ones.
    assert run_finetune("text-classification", train, tmp_path / "out", *columns, "--epochs", "2", "--resume") == 0
    history = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [entry["epoch"] for entry in history] == [1, 2] and "macro_f1" in history[1]


def test_the_pair_columns_are_read_as_the_two_texts(tmp_path):
    train = write_glue_pairs(tmp_path / "mrpc.csv", rows=2)
    rows = list(csv.DictReader(train.open()))
    examples = read_task_file("text-classification", train, columns={"text": "sentence1", "text_pair": "sentence2"})
    assert [(e["text"], e["text_pair"], e["label"]) for e in examples] == [
        (row["sentence1"], row["sentence2"], row["label"]) for row in rows]
    scores = tmp_path / "sts.jsonl"  # an STS-B-like file: the score under a name of its own
    scores.write_text('{"sentence1": "a", "sentence2": "b", "score": 3.8}\n')
    example, = read_task_file("text-classification", scores, None, {"text": "sentence1", "text_pair": "sentence2",
                                                                     "label": "score"})
    assert (example["text"], example["text_pair"], example["label"]) == ("a", "b", "3.8")


def test_a_conll_file_of_tag_ids_trains_with_their_names_and_entity_scores(tmp_path, capsys):
    train = write_conll(tmp_path / "conll.jsonl")
    assert run_finetune("token-classification", train, tmp_path / "out", "--tags-column", "ner_tags",
                        "--tag-names", ",".join(CONLL_TAG_NAMES), "--epochs", "1") == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["best_by"] == "f1" and {"precision", "recall", "f1", "accuracy"} <= summary["best"].keys()
    config = json.loads((tmp_path / "out" / "best" / "config.json").read_text())
    # Every name, in the dataset's order (ids 2 to 8 occur in no record): the model's ids are the file's.
    assert config["id2label"] == {str(i): name for i, name in enumerate(CONLL_TAG_NAMES)}
    recorded = saved_args(tmp_path / "out")
    assert (recorded["tokens_column"], recorded["tags_column"], recorded["tag_names"]) == (
        "tokens", "ner_tags", CONLL_TAG_NAMES)
    assert recorded["text_column"] is None


def test_tag_ids_without_names_are_scored_by_accuracy_with_a_note_saying_how_to_name_them(tmp_path, capsys):
    train = write_conll(tmp_path / "conll.jsonl")
    assert run_finetune("token-classification", train, tmp_path / "out", "--tags-column", "ner_tags",
                        "--epochs", "1", quiet=False) == 0
    captured = capsys.readouterr()
    notes = [line for line in captured.err.splitlines() if "integer ids" in line]
    assert len(notes) == 1 and "--tag-names" in notes[0] and "tag accuracy" in notes[0], captured.err
    summary = json.loads(captured.out.splitlines()[-1])
    assert summary["best_by"] == "accuracy" and "f1" not in summary["best"]
    config = json.loads((tmp_path / "out" / "best" / "config.json").read_text())
    assert config["id2label"] == {"0": "0", "1": "1"}


def test_a_glue_file_of_label_ids_trains_with_their_names_and_resumes_only_with_them(tmp_path, capsys):
    train = write_glue_pairs(tmp_path / "mrpc.csv")  # label 0 or 1, as datasets writes MRPC's
    options = ["--text-column", "sentence1", "--text-pair-column", "sentence2",
               "--label-names", ",".join(MRPC_LABEL_NAMES)]
    assert run_finetune("text-classification", train, tmp_path / "out", *options, "--epochs", "2",
                        "--stop-after", "1") == 0
    capsys.readouterr()
    assert saved_args(tmp_path / "out")["label_names"] == MRPC_LABEL_NAMES
    # --resume refuses other names, or none (the classifier's rows are the classes of the names) ...
    for names, shown in ((["--label-names", "equivalent,not_equivalent"], "['equivalent', 'not_equivalent']"),
                         ([], "None")):
        line = finetune_error(capsys, "text-classification", train, tmp_path, *options[:4], *names,
                              "--out", str(tmp_path / "out"), "--epochs", "2", "--resume")
        assert f"--resume: label_names is {shown} but the checkpoint was made with {MRPC_LABEL_NAMES}" in line, line
    # ... and continues with the same ones.
    assert run_finetune("text-classification", train, tmp_path / "out", *options, "--epochs", "2", "--resume") == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["best_by"] == "accuracy" and "macro_f1" in summary["best"]
    config = json.loads((tmp_path / "out" / "best" / "config.json").read_text())
    assert config["id2label"] == {"0": "not_equivalent", "1": "equivalent"}
    assert config["label2id"] == {"not_equivalent": 0, "equivalent": 1}
    assert config["problem_type"] == "single_label_classification"
    answers = ta.pipeline("text-classification", model=str(tmp_path / "out" / "best"))(
        [{"text": "apple cherry banana", "text_pair": "dog cat horse"}, "dog horse cat"])
    assert {answer["label"] for answer in answers} <= set(MRPC_LABEL_NAMES), answers


def test_label_ids_without_names_get_a_note_saying_how_to_name_them(tmp_path, capsys):
    train = write_glue_pairs(tmp_path / "mrpc.csv")
    options = ["--text-column", "sentence1", "--text-pair-column", "sentence2", "--epochs", "1"]
    assert run_finetune("text-classification", train, tmp_path / "out", *options, quiet=False) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "integer ids" in line]
    assert len(notes) == 1 and "--label-names" in notes[0] and "(0, 1)" in notes[0], notes
    assert run_finetune("text-classification", train, tmp_path / "named", *options, "--label-names",
                        ",".join(MRPC_LABEL_NAMES), quiet=False) == 0
    assert "integer ids" not in capsys.readouterr().err


def test_label_names_keep_their_order_and_the_names_no_example_has(tmp_path, capsys):
    train = tmp_path / "mnli.jsonl"  # MNLI's ids, with no contradiction (2) among them
    train.write_text("".join(json.dumps({"premise": f"{a} {b}", "hypothesis": f"{b} {a}", "label": int(a in FRUITS)})
                             + "\n" for a in FRUITS + ANIMALS for b in ANIMALS))
    names = ["entailment", "neutral", "contradiction"]
    assert run_finetune("text-classification", train, tmp_path / "out", "--text-column", "premise",
                        "--text-pair-column", "hypothesis", "--label-names", ",".join(names), "--epochs", "1") == 0
    config = json.loads((tmp_path / "out" / "best" / "config.json").read_text())
    assert config["id2label"] == {"0": "entailment", "1": "neutral", "2": "contradiction"}  # not sorted


def test_label_ids_are_read_as_their_names_in_csv_jsonl_and_multi_label_lists(tmp_path):
    train = write_glue_pairs(tmp_path / "mrpc.csv", rows=4)
    columns = {"text": "sentence1", "text_pair": "sentence2"}
    rows = list(csv.DictReader(train.open()))
    examples = read_task_file("text-classification", train, None, columns, None, MRPC_LABEL_NAMES)
    assert [example["label"] for example in examples] == [MRPC_LABEL_NAMES[int(row["label"])] for row in rows]
    tagged = tmp_path / "topics.jsonl"  # multi-label: a list of ids, each read as its name
    tagged.write_text('{"text": "a", "label": [0, 2]}\n{"text": "b", "label": []}\n')
    examples = read_task_file("text-classification", tagged, label_names=["sports", "politics", "arts"])
    assert [example["label"] for example in examples] == [["sports", "arts"], []]
    tagged = tmp_path / "topics.csv"  # and a CSV cell split on --label-separator
    tagged.write_text("text,label\na,1|0\n")
    example, = read_task_file("text-classification", tagged, "|", label_names=["sports", "politics"])
    assert example["label"] == ["politics", "sports"]


def test_named_label_ids_make_a_classification_whatever_the_names_look_like(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("text,label\na,0\nb,1\n")
    given = dict(task="text-classification", model="m", train=str(train), validation=str(train), out="o")
    args = FinetuneArguments(label_names=["0.5", "1.5"], **given)  # names that would be a regression's targets
    examples = read_task_file("text-classification", train, label_names=args.label_names)
    assert [example["label"] for example in examples] == ["0.5", "1.5"]
    assert problem_type_of(args, examples) == "single_label_classification"
    args = FinetuneArguments(label_names=("no", "yes"), **given)
    assert (args.label_names, args.tag_names) == (["no", "yes"], None)  # a list, as state.json holds it
    with pytest.raises(ValueError, match="label_names must be a list"):
        FinetuneArguments(label_names="no,yes", **given)


@pytest.mark.parametrize("label, expected", [
    ("2", 'label must be a class id, an integer from 0 to 1 (--label-names names 2 classes), got "2"'),
    ("-1", 'got "-1"'),
    ("equivalent", 'got "equivalent" (a name: with --label-names the file holds ids'),
    ("0.5", 'got "0.5" (a number with a point is a regression\'s target, which has no classes to name)'),
])
def test_bad_label_ids_are_refused_with_their_file_line_and_value(tmp_path, capsys, label, expected):
    train = tmp_path / "mrpc.csv"
    train.write_text(f"sentence1,sentence2,label\na,b,0\nc,d,{label}\n")
    line = finetune_error(capsys, "text-classification", train, tmp_path, "--text-column", "sentence1",
                          "--text-pair-column", "sentence2", "--label-names", ",".join(MRPC_LABEL_NAMES))
    assert "mrpc.csv, line 3: " in line and expected in line, line


def test_bad_label_ids_are_named_by_their_column_and_place_in_a_list(tmp_path, capsys):
    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "a", "topics": [0, 1]}\n{"text": "b", "topics": [1, 3]}\n')
    line = finetune_error(capsys, "text-classification", train, tmp_path, "--label-column", "topics",
                          "--label-names", "sports,politics")
    assert "train.jsonl, line 2: topics[1] must be a class id, an integer from 0 to 1" in line and "got \"3\"" in line


def test_tag_ids_are_ordered_as_numbers():
    examples = [{"tags": [str(tag) for tag in range(12)]}]
    assert label_list("token-classification", examples) == [str(tag) for tag in range(12)]  # not "0", "1", "10"


def test_class_ids_are_ordered_as_numbers(tmp_path):
    """Twelve integer classes: the model's id of each is the file's ("10" after "9"), as run_glue
    sorts an integer label column, also for multi-label lists; names stay in text order."""
    examples = [{"label": str(label)} for label in (11, 2, 10, 0, 1, 3, 4, 5, 6, 7, 8, 9)]
    assert label_list("text-classification", examples) == [str(label) for label in range(12)]
    assert label_list("text-classification", [{"label": ["10", "9"]}, {"label": ["1"]}]) == ["1", "9", "10"]
    assert label_list("text-classification", [{"label": "b10"}, {"label": "b9"}]) == ["b10", "b9"]
    train = tmp_path / "train.csv"
    train.write_text("text,label\n" + "".join(f"text {label},{label}\n" for label in (10, 2, 0, 1)))
    assert label_list("text-classification", read_task_file("text-classification", train)) == ["0", "1", "2", "10"]


# --- the error for a file read without its columns: what to pass ----------------------------------
GLUE_HINTS = {  # header, first row, (what the error line must say)
    "MRPC": ("sentence1,sentence2,label", "a b,c d,1",
             ["train.csv, line 2", "missing column 'text'", "the record has columns sentence1, sentence2, label",
              "pass --text-column sentence1 --text-pair-column sentence2"]),
    "QNLI": ("idx,question,sentence,label", "0,what?,a b,entailment",
             ["missing column 'text'", "pass --text-column question --text-pair-column sentence"]),
    "MNLI": ("premise,hypothesis,label", "a,b,neutral", ["pass --text-column premise --text-pair-column hypothesis"]),
    "SST-2": ("sentence,label,idx", "a b,1,0", ["pass --text-column sentence"]),
    "no known layout": ("review,stars", "great,5",
                        ["missing column 'text'", "columns review, stars", "pass --text-column with the column"]),
    "label of another name": ("text,score", "a,1", ["missing column 'label'", "pass --label-column"]),
}


@pytest.mark.parametrize("case", GLUE_HINTS)
def test_a_file_of_other_columns_gets_the_options_that_read_it(tmp_path, capsys, case):
    header, row, expected = GLUE_HINTS[case]
    train = tmp_path / "train.csv"
    train.write_text(f"{header}\n{row}\n{row}\n")
    line = finetune_error(capsys, "text-classification", train, tmp_path)
    for part in expected:
        assert part in line, line
    if case == "SST-2":
        assert "--text-pair-column" not in line  # a hint for what the file has, not a guess at a pair


def test_a_hint_leaves_out_the_options_already_right(tmp_path, capsys):
    train = tmp_path / "train.csv"
    train.write_text("sentence1,sentence2,label\na,b,1\n")
    line = finetune_error(capsys, "text-classification", train, tmp_path, "--text-column", "sentence 1",
                          "--text-pair-column", "sentence2")  # a misspelt name of the first column
    assert "missing column 'sentence 1'" in line and line.endswith("pass --text-column sentence1"), line
    train.write_text("first sentence,label\na,1\n")
    line = finetune_error(capsys, "text-classification", train, tmp_path)
    assert "the record has columns first sentence, label" in line, line


def test_a_conll_file_read_as_tags_is_told_its_tag_column(tmp_path, capsys):
    train = write_conll(tmp_path / "conll.jsonl")
    line = finetune_error(capsys, "token-classification", train, tmp_path)
    assert "conll.jsonl, line 1: missing column 'tags'" in line, line
    assert "the record has columns id, tokens, pos_tags, ner_tags" in line and "pass --tags-column ner_tags" in line
    train.write_text('{"words": ["a"], "tags": ["O"]}\n')
    line = finetune_error(capsys, "token-classification", train, tmp_path)
    assert "missing column 'tokens'" in line and "pass --tokens-column with the column" in line, line


def test_a_named_pair_column_must_be_in_every_record(tmp_path, capsys):
    # The default text_pair may be left out (single texts); a misspelt name must not make them so.
    train = tmp_path / "train.jsonl"
    train.write_text('{"sentence1": "a", "sentence2": "b", "label": 1}\n{"sentence1": "c", "label": 0}\n')
    line = finetune_error(capsys, "text-classification", train, tmp_path, "--text-column", "sentence1",
                          "--text-pair-column", "sentence2")
    assert "train.jsonl, line 2: missing column 'sentence2'" in line and "--text-pair-column" in line, line


def test_a_pair_file_read_as_single_texts_is_warned_about(tmp_path):
    train = write_glue_pairs(tmp_path / "mrpc.csv", rows=2)
    with pytest.warns(UserWarning, match=r"mrpc.csv: column 'sentence2' is not read.*pass --text-pair-column sentence2"):
        examples = read_task_file("text-classification", train, columns={"text": "sentence1"})
    assert all(example["text_pair"] is None for example in examples)


def test_bad_tag_ids_are_refused_with_their_line_and_field(tmp_path, capsys):
    train = tmp_path / "train.jsonl"
    train.write_text('{"tokens": ["a", "b"], "ner_tags": [0, 1]}\n{"tokens": ["a", "b"], "ner_tags": [0, 9]}\n')
    line = finetune_error(capsys, "token-classification", train, tmp_path, "--tags-column", "ner_tags",
                          "--tag-names", ",".join(CONLL_TAG_NAMES))
    assert "train.jsonl, line 2: ner_tags[1] must be a tag id, an integer from 0 to 8" in line and "got 9" in line
    train.write_text('{"tokens": ["a"], "ner_tags": ["B-PER"]}\n')
    line = finetune_error(capsys, "token-classification", train, tmp_path, "--tags-column", "ner_tags",
                          "--tag-names", "O,B-PER")
    assert "line 1: ner_tags[0] must be a tag id" in line and 'got "B-PER"' in line, line


@pytest.mark.parametrize("task, options, message", [
    ("token-classification", ["--text-column", "sentence"],
     "text_column is for text-classification only; token-classification names its columns with tokens_column "
     "and tags_column"),
    ("question-answering", ["--tags-column", "ner_tags"], "question-answering reads fixed fields"),
    ("text-classification", ["--text-column", "sentence", "--label-column", "sentence"],
     "text_column and label_column both name the column 'sentence'"),
    ("text-classification", ["--text-column", "label"], "text_column and label_column both name the column 'label'"),
    ("text-classification", ["--label-column", " "], "label_column must be a column name"),
    ("text-classification", ["--tag-names", "O,B-PER"], "tag_names is for token-classification only"),
    ("token-classification", ["--tag-names", "O,B-PER,O"], "tag_names names 'O' more than once"),
    ("token-classification", ["--tag-names", "O,,B-PER"], "tag_names must be a list of tag names"),
    ("token-classification", ["--tag-names", "O"], "tag_names must name at least 2 tags"),
    ("token-classification", ["--label-names", "a,b"], "label_names is for text-classification only; "
                                                        "token-classification has no class ids to name"),
    ("text-classification", ["--label-names", "no,yes,no"], "label_names names 'no' more than once"),
    ("text-classification", ["--label-names", "no, ,yes"], "label_names must be a list of class names"),
    ("text-classification", ["--label-names", "yes"], "label_names must name at least 2 classes"),
    ("text-classification", ["--label-names", "low,high", "--problem-type", "regression"],
     "label_names names the classes of a classification; problem_type regression has none"),
])
def test_column_options_are_checked_before_anything_is_read(tmp_path, capsys, task, options, message):
    line = finetune_error(capsys, task, tmp_path / "absent.csv", tmp_path, *options)
    assert message in line, line


def test_finetune_arguments_resolve_the_columns_of_their_task():
    given = dict(model="m", train="t.csv", validation="v.csv", out="o")
    args = FinetuneArguments(task="text-classification", text_column="sentence1", **given)
    assert (args.text_column, args.text_pair_column, args.label_column) == ("sentence1", "text_pair", "label")
    assert (args.tokens_column, args.tags_column, args.tag_names) == (None, None, None)
    args = FinetuneArguments(task="token-classification", tag_names=("O", "B-PER"), **given)
    assert (args.tokens_column, args.tags_column, args.tag_names) == ("tokens", "tags", ["O", "B-PER"])
    with pytest.raises(ValueError, match="tag_names must be a list"):
        FinetuneArguments(task="token-classification", tag_names="O,B-PER", **given)


def test_a_checkpoint_from_before_the_column_options_resumes_with_the_default_columns_only(tmp_path, capsys):
    train = tmp_path / "topics.csv"
    train.write_text("text,label\n" + "".join(f"{word} {word},{kind}\n" for kind, words in
                                               (("fruit", FRUITS), ("animal", ANIMALS)) for word in words))
    out = tmp_path / "out"
    assert run_finetune("text-classification", train, out, "--epochs", "2", "--stop-after", "1") == 0
    state_path = out / "checkpoint" / "state.json"
    state = json.loads(state_path.read_text())
    for name in ("text_column", "text_pair_column", "label_column", "tokens_column", "tags_column", "tag_names",
                 "label_names"):
        del state["args"][name]  # as a checkpoint saved before they were recorded
    state_path.write_text(json.dumps(state))
    line = finetune_error(capsys, "text-classification", train, tmp_path, "--text-column", "sentence",
                          "--out", str(out), "--epochs", "2", "--resume")
    assert "text_column is 'sentence' but the checkpoint was made with 'text'" in line, line
    line = finetune_error(capsys, "text-classification", train, tmp_path, "--label-names", "fruit,animal",
                          "--out", str(out), "--epochs", "2", "--resume")
    assert "label_names is ['fruit', 'animal'] but the checkpoint was made with None" in line, line
    assert run_finetune("text-classification", train, out, "--epochs", "2", "--resume") == 0


# --- label order, and the notes about integer labels ----------------------------------------------
def test_a_checkpoint_whose_classifier_rows_are_other_labels_is_not_resumed(tmp_path, capsys):
    """Each classifier row is a label: a checkpoint whose id2label is in another order than the
    labels read from the train file now (an older version sorted integer tags as text) is refused,
    not renamed row by row."""
    train = write_conll(tmp_path / "conll.jsonl")
    common = ["--tags-column", "ner_tags", "--epochs", "2"]
    assert run_finetune("token-classification", train, tmp_path / "out", *common, "--stop-after", "1") == 0
    config_file = tmp_path / "out" / "checkpoint" / "config.json"
    config = json.loads(config_file.read_text())
    assert config["id2label"] == {"0": "0", "1": "1"}
    config["id2label"], config["label2id"] = {"0": "1", "1": "0"}, {"1": 0, "0": 1}
    config_file.write_text(json.dumps(config))
    capsys.readouterr()
    assert run_finetune("token-classification", train, tmp_path / "out", *common, "--resume") == 2
    assert "classifier's rows are the labels ['1', '0'], but the train file's read now are ['0', '1']" in \
        capsys.readouterr().err


def test_integer_tags_of_the_same_number_are_ordered_whatever_the_hash_seed(tmp_path):
    tags = ["01", "1", "2", "02", "-0", "0"]
    assert label_list("token-classification", [{"tags": tags}]) == ["-0", "0", "01", "1", "02", "2"]
    script = ("from tinyalbert.task_data import label_list; "
              f"print(label_list('token-classification', [{{'tags': {tags!r}}}]))")
    orders = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(4)}
    assert len(orders) == 1, orders


def test_the_notes_suggest_names_only_for_ids_counted_from_zero():
    from tinyalbert.finetune_loop import class_ids_note, tags_note

    assert "--label-names" in class_ids_note(["0", "1"]) and "(0, 1)" in class_ids_note(["0", "1"])
    assert class_ids_note(["1", "2", "3", "4", "5"]) is None  # ratings: classes of their own, nothing to name
    assert "--tag-names" in tags_note(["0", "1", "2", "3"]) and "(0, 1, 2, ...)" in tags_note(["0", "1", "2", "3"])
    assert "--tag-names" not in tags_note(["-1", "1"])
