"""`python -m tinyalbert.finetune --task multiple-choice` on SWAG's and RACE's files, read with
--layout swag and --layout race as they are written: the segments each choice becomes (and their
token types and truncation, as Transformers' run_swag.py makes them), the errors that name a file,
a line and a value, the hints for a file read without its layout, and --resume keeping it."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest

import tinyalbert
from test_finetune_columns import finetune_error, run_finetune, saved_args
from tinyalbert import AlbertTokenizer
from tinyalbert.finetune_args import FinetuneArguments
from tinyalbert.task_data import encode_examples, race_second_segment, read_task_file

FRUITS, ANIMALS = ["apple", "banana", "cherry", "plum"], ["dog", "cat", "horse", "cow"]
# The SWAG csv's header: a first column without a name (pandas' row index), then SWAG's columns.
SWAG_HEADER = ["", "video-id", "fold-ind", "startphrase", "sent1", "sent2", "gold-source",
               "ending0", "ending1", "ending2", "ending3", "label"]
SWAG_ROW = ["0", "lsmdc1052_Harry_Potter-94857", "18313", "Students lower their eyes nervously. She",
            "Students lower their eyes nervously.", "She", "gold", "pats her shoulder, then saunters toward someone.",
            "turns with two students.", "walks slowly towards someone.", "wheels around as her dog thunders out.", "2"]
SWAG_SECONDS = ["She pats her shoulder, then saunters toward someone.", "She turns with two students.",
                "She walks slowly towards someone.", "She wheels around as her dog thunders out."]
RACE_RECORD = {"example_id": "high1.txt", "article": "Tom was tired. He went to the park to rest.",
               "answer": "B", "question": "Tom went to the park to _ .", "options": ["run", "rest", "eat", "swim"]}


def write_swag_csv(path, rows: list[list[str]] | None = None):
    """The SWAG csv as its repository has it (`rows`: its data rows; default: one real-looking row)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SWAG_HEADER)
        writer.writerows(rows if rows is not None else [SWAG_ROW])
    return path


def write_jsonl(path, records: list[dict]):
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def swag_fruit_rows(count=12) -> list[list[str]]:
    """SWAG rows that can be learnt: the right ending is the one fruit among three animals."""
    rng = np.random.default_rng(0)
    rows = []
    for index in range(count):
        label = int(rng.integers(4))
        endings = [str(word) for word in rng.choice(ANIMALS, size=4)]
        endings[label] = str(rng.choice(FRUITS))
        rows.append([str(index), f"video-{index}", str(index), "She eats a", "She is hungry.", "She eats a", "gold",
                     *endings, str(label)])
    return rows


def race_fruit_records(count=12) -> list[dict]:
    """RACE records that can be learnt: the right option is the fruit the article names; half the
    questions have a blank, half do not."""
    rng = np.random.default_rng(1)
    records = []
    for index in range(count):
        fruit, answer = str(rng.choice(FRUITS)), int(rng.integers(4))
        options = [str(word) for word in rng.choice(ANIMALS, size=4)]
        options[answer] = fruit
        question = "Tom ate a _ ." if index % 2 else "What did Tom eat?"
        records.append({"example_id": f"m{index}.txt", "article": f"Tom was hungry, so he ate a {fruit}.",
                        "answer": "ABCD"[answer], "question": question, "options": options})
    return records


@pytest.fixture(scope="module")
def tokenizer():
    return AlbertTokenizer.from_pretrained("tinyalbert-mini")


# --- end to end: the command line on SWAG and RACE files -------------------------------------------
def test_a_swag_csv_trains_with_layout_swag_and_resumes_only_with_it(tmp_path, capsys):
    train = write_swag_csv(tmp_path / "swag.csv", swag_fruit_rows())
    out = tmp_path / "out"
    assert run_finetune("multiple-choice", train, out, "--layout", "swag", "--epochs", "2", "--stop-after", "1") == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["best_by"] == "accuracy" and summary["best"]["epoch"] == 1
    assert saved_args(out)["layout"] == "swag"
    line = finetune_error(capsys, "multiple-choice", train, tmp_path, "--out", str(out), "--epochs", "2", "--resume")
    assert "--resume: layout is None but the checkpoint was made with 'swag'" in line, line
    assert run_finetune("multiple-choice", train, out, "--layout", "swag", "--epochs", "2", "--resume") == 0
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [entry["epoch"] for entry in history] == [1, 2] and "accuracy" in history[1]


def test_a_race_jsonl_trains_with_layout_race(tmp_path, capsys):
    train = write_jsonl(tmp_path / "race.jsonl", race_fruit_records())
    assert run_finetune("multiple-choice", train, tmp_path / "out", "--layout", "race", "--epochs", "1") == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["best_by"] == "accuracy" and 0 <= summary["best"]["accuracy"] <= 1
    assert saved_args(tmp_path / "out")["layout"] == "race"
    assert (tmp_path / "out" / "best" / "model.safetensors").is_file()


# --- the segments of each choice ------------------------------------------------------------------
def test_swag_pairs_sent1_with_sent2_and_each_ending_as_run_swag_does(tmp_path):
    example, = read_task_file("multiple-choice", write_swag_csv(tmp_path / "swag.csv"), layout="swag")
    assert (example["question"], example["choices"], example["label"]) == (
        "Students lower their eyes nervously.", SWAG_SECONDS, 2)
    assert example["line"] == 2  # the csv's header is line 1
    record = dict(zip(SWAG_HEADER[1:], SWAG_ROW[1:]), label=2)  # as datasets' to_json writes it: label an integer
    example, = read_task_file("multiple-choice", write_jsonl(tmp_path / "swag.jsonl", [record]), layout="swag")
    assert (example["question"], example["choices"], example["label"]) == (
        "Students lower their eyes nervously.", SWAG_SECONDS, 2)


def test_race_pairs_the_article_with_the_question_and_each_option(tmp_path):
    no_blank = {**RACE_RECORD, "question": "Why did Tom go to the park?", "answer": "D"}
    first, second = read_task_file("multiple-choice", write_jsonl(tmp_path / "race.jsonl", [RACE_RECORD, no_blank]),
                                   layout="race")
    assert first["question"] == second["question"] == RACE_RECORD["article"]
    assert first["choices"] == ["Tom went to the park to run .", "Tom went to the park to rest .",
                                "Tom went to the park to eat .", "Tom went to the park to swim ."]
    assert second["choices"] == ["Why did Tom go to the park? run", "Why did Tom go to the park? rest",
                                 "Why did Tom go to the park? eat", "Why did Tom go to the park? swim"]
    assert (first["label"], second["label"]) == (1, 3)


def test_a_race_option_fills_every_blank_of_its_question():
    assert race_second_segment("_ is older than _ .", "Tom") == "Tom is older than Tom ."
    assert race_second_segment("The best title is _", "A Day Off") == "The best title is A Day Off"
    assert race_second_segment("Which is true?", "Tom ran.") == "Which is true? Tom ran."


def test_the_own_layout_reads_as_before(tmp_path):
    path = write_jsonl(tmp_path / "own.jsonl", [{"question": "which is a fruit?", "choices": ["dog", "fig"],
                                                 "answer": 1}])
    example, = read_task_file("multiple-choice", path)
    assert (example["question"], example["choices"], example["label"]) == ("which is a fruit?", ["dog", "fig"], 1)
    assert example["truncation"] == "only_second"  # the choice alone is cut, as ever


# --- encoding: token types and truncation as run_swag.py's tokenizer call ---------------------------
def test_the_first_segment_has_token_type_0_and_the_second_1(tmp_path, tokenizer):
    example, = read_task_file("multiple-choice", write_swag_csv(tmp_path / "swag.csv"), layout="swag")
    encoded, = encode_examples("multiple-choice", [example], tokenizer, 64, None)
    assert encoded["label"] == 2 and len(encoded["input_ids"]) == 4
    first = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(example["question"]))
    for ids, types, second_text in zip(encoded["input_ids"], encoded["token_type_ids"], SWAG_SECONDS):
        second = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(second_text))
        assert ids == [tokenizer.cls_token_id, *first, tokenizer.sep_token_id, *second, tokenizer.sep_token_id]
        assert types == [0] * (len(first) + 2) + [1] * (len(second) + 1)


def test_a_long_race_article_is_cut_from_its_end_and_the_question_kept(tmp_path, tokenizer):
    long = {**RACE_RECORD, "article": " ".join(["Tom walked to the old park near the river and sat down."] * 20)}
    example, = read_task_file("multiple-choice", write_jsonl(tmp_path / "race.jsonl", [long]), layout="race")
    encoded, = encode_examples("multiple-choice", [example], tokenizer, 48, None)
    article = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(long["article"]))
    for ids, types, second_text in zip(encoded["input_ids"], encoded["token_type_ids"], example["choices"]):
        second = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(second_text))
        kept = 48 - 3 - len(second)  # the article loses pieces from its end until the pair fits
        assert ids == [tokenizer.cls_token_id, *article[:kept], tokenizer.sep_token_id, *second,
                       tokenizer.sep_token_id]
        assert types.count(1) == len(second) + 1


@pytest.mark.reference
def test_the_encoding_is_run_swags_tokenizer_call(tmp_path, tokenizer):
    """run_swag.py: tokenizer(first_sentences, second_sentences, truncation=True, max_length=L),
    with Transformers' slow AlbertTokenizer on the same vocabulary."""
    import transformers

    reference = transformers.AlbertTokenizer(str(Path(tinyalbert.__file__).parent / "data" / "tinyalbert-mini" /
                                                 "spiece.model"))
    long = {**RACE_RECORD, "article": " ".join(["Tom walked to the old park near the river."] * 12)}
    examples = (read_task_file("multiple-choice", write_swag_csv(tmp_path / "swag.csv"), layout="swag")
                + read_task_file("multiple-choice", write_jsonl(tmp_path / "race.jsonl", [long]), layout="race"))
    for max_length in (12, 20, 64):
        for example, encoded in zip(examples, encode_examples("multiple-choice", examples, tokenizer, max_length, None)):
            expected = reference([example["question"]] * len(example["choices"]), example["choices"], truncation=True,
                                 max_length=max_length)
            assert encoded["input_ids"] == expected["input_ids"]
            assert encoded["token_type_ids"] == expected["token_type_ids"]


# --- errors: the file, the line and the value -----------------------------------------------------
SWAG_BAD_LABELS = {  # the label cell, what the error must say
    "past the endings": ("4", ["line 2", "label 4 is not the index of one of the 4 endings (0 to 3)"]),
    "negative": ("-1", ["label -1", "unlabelled", "test split"]),
    "a decimal": ("2.0", ["label must be the index of the right ending, an integer from 0 to 3", '"2.0"']),
    "a letter": ("C", ["an integer from 0 to 3", '"C"']),
}


@pytest.mark.parametrize("case", SWAG_BAD_LABELS)
def test_a_bad_swag_label_is_refused_with_its_line_and_value(tmp_path, case):
    label, expected = SWAG_BAD_LABELS[case]
    path = write_swag_csv(tmp_path / "swag.csv", [SWAG_ROW[:-1] + [label]])
    with pytest.raises(ValueError) as error:
        read_task_file("multiple-choice", path, layout="swag")
    assert str(error.value).startswith(f"{path}, line 2: "), error.value
    for part in expected:
        assert part in str(error.value), error.value


def test_a_swag_jsonl_label_must_be_an_integer(tmp_path):
    record = dict(zip(SWAG_HEADER[1:], SWAG_ROW[1:]))
    for label, shown in ((True, "true"), (1.0, "1.0"), ("", '""')):
        path = write_jsonl(tmp_path / "swag.jsonl", [{**record, "label": 0}, {**record, "label": label}])
        with pytest.raises(ValueError, match=f"swag.jsonl, line 2: label must be the index .* got {shown}"):
            read_task_file("multiple-choice", path, layout="swag")


def test_a_missing_ending_column_is_named(tmp_path):
    path = tmp_path / "swag.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SWAG_HEADER[:-2] + ["label"])  # no ending3
        writer.writerow(SWAG_ROW[:-2] + ["1"])
    with pytest.raises(ValueError) as error:
        read_task_file("multiple-choice", path, layout="swag")
    message = str(error.value)
    assert message.startswith(f"{path}, line 2: missing column 'ending3' (the record has columns video-id,"), message
    assert message.endswith("--layout swag reads sent1, sent2, ending0 to ending3, label"), message


RACE_BAD = {  # what is changed in a good record, what the error must say
    "a letter past the options": ({"answer": "E"}, ['answer must be the letter of the right option, "A" to "D"',
                                                    'got "E"']),
    "a small letter": ({"answer": "b"}, ['"A" to "D"', 'got "b"']),
    "an index": ({"answer": 1}, ['"A" to "D"', "got 1"]),
    "a letter past three options": ({"options": ["a", "b", "c"], "answer": "D"}, ['"A" to "C"', 'got "D"']),
    "one option": ({"options": ["a"], "answer": "A"}, ["1 option(s); a question needs at least 2"]),
    "an option that is no text": ({"options": ["a", 2, "c", "d"]}, ["options[1] must be a text, got 2"]),
    "options in one text": ({"options": "['a', 'b', 'c', 'd']"}, ["options must be a list of texts", "JSONL"]),
    "no article": ({"article": None}, ["field 'article' is null"]),
}


@pytest.mark.parametrize("case", RACE_BAD)
def test_a_bad_race_record_is_refused_with_its_line_and_value(tmp_path, case):
    change, expected = RACE_BAD[case]
    path = write_jsonl(tmp_path / "race.jsonl", [RACE_RECORD, {**RACE_RECORD, **change}])
    with pytest.raises(ValueError) as error:
        read_task_file("multiple-choice", path, layout="race")
    assert str(error.value).startswith(f"{path}, line 2: "), error.value
    for part in expected:
        assert part in str(error.value), error.value


def test_options_of_another_number_than_the_first_records_are_refused(tmp_path, capsys):
    three = {**RACE_RECORD, "options": ["run", "rest", "eat"]}
    path = write_jsonl(tmp_path / "race.jsonl", [RACE_RECORD, RACE_RECORD, three])
    line = finetune_error(capsys, "multiple-choice", path, tmp_path, "--layout", "race")
    assert "race.jsonl, line 3: 3 options, but line 1 has 4; every question of a file needs as many options" in line


# --- a file read without its layout, and --layout where it does not belong --------------------------
def test_a_swag_or_race_file_read_without_its_layout_gets_the_option_that_reads_it(tmp_path, capsys):
    line = finetune_error(capsys, "multiple-choice", write_swag_csv(tmp_path / "swag.csv"), tmp_path)
    assert "swag.csv, line 2: missing column 'choices'" in line and line.endswith("pass --layout swag"), line
    assert "the record has columns video-id, fold-ind, startphrase, sent1" in line, line  # not the unnamed index
    race = write_jsonl(tmp_path / "race.jsonl", [RACE_RECORD])
    line = finetune_error(capsys, "multiple-choice", race, tmp_path)
    assert "race.jsonl, line 1: missing column 'choices'" in line and line.endswith("pass --layout race"), line
    line = finetune_error(capsys, "multiple-choice", race, tmp_path, "--layout", "swag")
    assert "missing column 'sent1'" in line and line.endswith("pass --layout race"), line
    own = write_jsonl(tmp_path / "own.jsonl", [{"question": "q", "choices": ["a", "b"], "answer": 0}])
    line = finetune_error(capsys, "multiple-choice", own, tmp_path, "--layout", "race")
    assert "missing column 'article'" in line and line.endswith("leave out --layout to read them"), line
    other = write_jsonl(tmp_path / "other.jsonl", [{"prompt": "q", "answers": ["a", "b"]}])
    line = finetune_error(capsys, "multiple-choice", other, tmp_path)
    assert "multiple choice reads question, choices, answer (--layout swag reads sent1, sent2, ending0 to " \
           "ending3, label; --layout race reads article, question, options, answer)" in line, line


@pytest.mark.parametrize("task, options, message", [
    ("text-classification", ["--layout", "swag"],
     "layout is for multiple-choice only; text-classification names its columns with the column options"),
    ("question-answering", ["--layout", "race"], "layout is for multiple-choice only; question-answering reads"),
    ("multiple-choice", ["--layout", "hellaswag"], "argument --layout: invalid choice: 'hellaswag'"),
    ("multiple-choice", ["--text-column", "sent1"], "multiple-choice reads fixed fields (--layout swag or race"),
])
def test_layout_is_checked_before_anything_is_read(tmp_path, capsys, task, options, message):
    line = finetune_error(capsys, task, tmp_path / "absent.jsonl", tmp_path, *options)
    assert message in line, line


def test_finetune_arguments_and_read_task_file_check_the_layout(tmp_path):
    given = dict(model="m", train="t.jsonl", validation="v.jsonl", out="o")
    assert FinetuneArguments(task="multiple-choice", layout="race", **given).layout == "race"
    assert FinetuneArguments(task="multiple-choice", **given).layout is None
    with pytest.raises(ValueError, match="layout must be one of 'swag', 'race' or None, got 'RACE'"):
        FinetuneArguments(task="multiple-choice", layout="RACE", **given)
    with pytest.raises(ValueError, match="layout is for multiple-choice only"):
        read_task_file("token-classification", write_jsonl(tmp_path / "t.jsonl", [RACE_RECORD]), layout="race")


def test_a_csv_of_any_task_leaves_out_pandas_unnamed_index_column(tmp_path):
    path = tmp_path / "pandas.csv"
    path.write_text(",text,label\n0,apple fig,fruit\n1,dog cat,animal\n")
    examples = read_task_file("text-classification", path)
    assert [(e["text"], e["label"]) for e in examples] == [("apple fig", "fruit"), ("dog cat", "animal")]
    path.write_text("text,,label\napple,0,fruit\n")  # a nameless column elsewhere is still refused
    with pytest.raises(ValueError, match="column 2 of the header has no name"):
        read_task_file("text-classification", path)
