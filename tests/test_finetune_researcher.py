"""`python -m tinyalbert.finetune` as someone used to Transformers' example scripts (run_glue.py,
run_ner.py, run_qa.py) uses it: files as others write them (spaces after commas, JSON arrays, TSV,
semicolons, an unclosed quote, GLUE's unlabelled test splits, SQuAD v2.0), tag sets that mix
schemes, the optimizer's decay groups against the Trainer's, and runs that repeat and resume."""
import json
import warnings

import numpy as np
import pytest

from tinyalbert import finetune
from tinyalbert import finetune_loop
from tinyalbert.finetune_loop import tags_outside_the_scheme
from tinyalbert.task_data import label_list, read_task_file

ANIMALS, FRUITS = ["dog", "cat", "horse", "cow"], ["apple", "pear", "plum", "grape"]


def run(capsys, task, train, validation, out, *extra):
    """finetune.main on tinyalbert-mini with tiny settings: (exit status, error lines, summary or None)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the new head's "newly initialized" warning
        status = finetune.main(["--task", task, "--model", "tinyalbert-mini", "--train", str(train),
                                "--validation", str(validation), "--out", str(out), "--batch-size", "4",
                                "--max-seq-length", "16", "--lr", "3e-4", "--epochs", "2", "--quiet", *extra])
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    summary = json.loads(captured.out.splitlines()[-1]) if status == 0 else None
    return status, errors, summary


def write_pairs(path, rows: int = 12, seed: int = 0):
    """GLUE's MRPC columns, sentence1,sentence2,label, the label 1 where the first text names an animal."""
    rng = np.random.default_rng(seed)
    lines = ["sentence1,sentence2,label"]
    for index in range(rows):
        animal = index % 2 == 1
        word = str(rng.choice(ANIMALS if animal else FRUITS))
        lines.append(f"the {word} is here,a {rng.choice(ANIMALS)} sleeps,{int(animal)}")
    path.write_text("\n".join(lines) + "\n")
    return path


# --- files as other tools write them -------------------------------------------------------------
def test_a_csv_with_spaces_after_its_commas_reads_as_one_without(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text('text,label\nthe dog runs,animal\n"an apple, ripe",fruit\n')
    spaced = tmp_path / "spaced.csv"  # a hand-written file: ", " between cells, a space before a label
    spaced.write_text('text, label\nthe dog runs, animal \n"an apple, ripe", fruit\n')
    expected = [{"text": "the dog runs", "text_pair": None, "label": "animal", "line": 2},
                {"text": "an apple, ripe", "text_pair": None, "label": "fruit", "line": 3}]
    assert read_task_file("text-classification", plain) == expected
    assert read_task_file("text-classification", spaced) == expected  # the quoted cell after ", " too


def test_spaces_around_a_label_do_not_make_a_class_of_their_own(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "a", "label": "pos "}\n{"text": "b", "label": "pos"}\n{"text": "c", "label": " neg"}\n')
    assert label_list("text-classification", read_task_file("text-classification", path)) == ["neg", "pos"]


def test_a_glue_pair_file_trains_the_same_from_csv_and_json_lines(tmp_path, capsys):
    train_csv, dev_csv = write_pairs(tmp_path / "train.csv"), write_pairs(tmp_path / "dev.csv", 8, seed=1)
    for csv_path in (train_csv, dev_csv):  # the same records as JSON lines, in a .json file (datasets' to_json)
        with csv_path.with_suffix(".json").open("w") as handle:
            for line in csv_path.read_text().splitlines()[1:]:
                first, second, label = line.split(",")
                handle.write(json.dumps({"sentence1": first, "sentence2": second, "label": int(label)}) + "\n")
    columns = ["--text-column", "sentence1", "--text-pair-column", "sentence2"]
    summaries = [run(capsys, "text-classification", tmp_path / f"train.{kind}", tmp_path / f"dev.{kind}",
                     tmp_path / f"out-{kind}", *columns)[2] for kind in ("csv", "json")]
    assert summaries[0]["best"] == summaries[1]["best"]


@pytest.mark.parametrize("case", ["array", "indented array", "indented object"])
def test_a_json_file_that_is_one_document_is_told_to_be_json_lines(tmp_path, capsys, case):
    records = [{"text": "the dog", "label": "animal"}, {"text": "an apple", "label": "fruit"}]
    document = {"array": records, "indented array": records, "indented object": {"data": records}}[case]
    train = tmp_path / "train.json"
    train.write_text(json.dumps(document, indent=None if case == "array" else 2))
    status, errors, _ = run(capsys, "text-classification", train, train, tmp_path / "out")
    assert status == 2 and len(errors) == 1, errors
    kind = "a JSON array of records" if "array" in case else "one JSON document"
    assert f"train.json: {kind}, not JSON lines; write one JSON object per line" in errors[0]


def test_a_json_lines_file_with_a_broken_first_line_still_names_the_line(tmp_path, capsys):
    first = '{"text": "the dog", "label": "animal",'  # the object runs on past its line's end
    train = tmp_path / "train.jsonl"
    train.write_text(first + '\n{"text": "an apple", "label": "fruit"}\n')
    status, errors, _ = run(capsys, "text-classification", train, train, tmp_path / "out")
    assert status == 2 and errors == [f"error: {train}, line 1: not valid JSON (Expecting property name enclosed "
                                      f"in double quotes at column {len(first) + 1})"]


def test_a_tsv_file_is_told_to_be_saved_as_csv(tmp_path, capsys):
    train = tmp_path / "train.tsv"
    train.write_text("sentence\tlabel\nthe dog\t1\nan apple\t0\n")
    status, errors, _ = run(capsys, "text-classification", train, train, tmp_path / "out")
    assert status == 2 and len(errors) == 1
    assert "train.tsv: expected a .csv file, or a .jsonl or .json file of JSON lines (a .tsv file: save it " \
           "as .csv" in errors[0]


def test_a_csv_separated_by_semicolons_is_named_as_such(tmp_path, capsys):
    train = tmp_path / "train.csv"
    train.write_text("text;label\nthe dog;animal\nan apple;fruit\n")
    status, errors, _ = run(capsys, "text-classification", train, train, tmp_path / "out")
    assert status == 2 and len(errors) == 1
    assert "train.csv: the header is the one column 'text;label'" in errors[0]
    assert "separated by ';'" in errors[0]


def test_an_unclosed_quote_is_named_by_the_line_it_opens_on(tmp_path, capsys):
    train = tmp_path / "train.csv"
    train.write_text('text,label\nthe dog,animal\n"an apple,fruit\nthe cat,animal\nthe pear,fruit\n')
    status, errors, _ = run(capsys, "text-classification", train, train, tmp_path / "out")
    assert status == 2 and len(errors) == 1
    assert "train.csv, lines 3 to 5 (one row): 1 cell but the header has 2" in errors[0]
    assert "double quote on line 3 left unclosed" in errors[0]


@pytest.mark.parametrize("rest", ['"animal\nthe cat,animal\nthe pear,fruit\n',  # on to the end of the file
                                  '"animal\nthe cat,"animal"\nthe pear,fruit\n'])  # on to the next quote
def test_an_unclosed_quote_in_the_last_column_is_named_not_read_as_one_label(tmp_path, capsys, rest):
    """A quote left open in the label cell takes the lines after it into that cell, and the row
    still has as many cells as the header: it was read as one example of the label
    "animal\nthe cat,animal...", the examples after it lost. A quoted cell's quotes come in pairs,
    so the odd one out is named, by the line it opens on."""
    train = tmp_path / "train.csv"
    train.write_text("text,label\nthe dog,animal\nan apple," + rest)
    status, errors, _ = run(capsys, "text-classification", train, train, tmp_path / "out")
    assert status == 2 and len(errors) == 1, errors
    assert "train.csv, line 3: a double quote is left unclosed" in errors[0], errors


def test_a_quoted_text_over_several_lines_still_reads(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('text,label\n"the dog\nsaid ""woof""",animal\nan apple,fruit\n')
    assert [(record["text"], record["label"]) for record in read_task_file("text-classification", path)] == [
        ('the dog\nsaid "woof"', "animal"), ("an apple", "fruit")]


# --- GLUE's test splits, SQuAD v2.0 ---------------------------------------------------------------
@pytest.mark.parametrize("named", [False, True])
def test_a_label_of_minus_1_is_named_as_an_unlabelled_example(tmp_path, capsys, named):
    train = write_pairs(tmp_path / "train.csv")
    test = tmp_path / "test.csv"  # GLUE's test split from datasets: every label -1
    test.write_text("sentence1,sentence2,label\nthe dog is here,a cat sleeps,-1\n")
    extra = ["--label-names", "not_equivalent,equivalent"] if named else []
    status, errors, _ = run(capsys, "text-classification", train, train, tmp_path / "out", "--test", str(test),
                            "--text-column", "sentence1", "--text-pair-column", "sentence2", *extra)
    assert status == 2 and len(errors) == 1
    assert "test.csv, line 2" in errors[0] and "-1 marks an unlabelled example" in errors[0]
    assert "python -m tinyalbert.predict" in errors[0]


def write_squad(path, qas):
    context = "The red apple fell from the tall tree in the garden."
    path.write_text(json.dumps({"version": "v2.0", "data": [{"title": "t", "paragraphs": [
        {"context": context, "qas": qas}]}]}))
    return path


ANSWERED = {"id": "q1", "question": "What fell?", "answers": [{"text": "red apple", "answer_start": 4}],
            "is_impossible": False}


@pytest.mark.parametrize("unanswerable", [
    {"id": "q2", "question": "Who ate it?", "answers": [], "is_impossible": True,
     "plausible_answers": [{"text": "red apple", "answer_start": 4}]},
    {"id": "q2", "question": "Who ate it?", "answers": []},
])
def test_an_unanswerable_squad_v2_question_is_refused_naming_what_is_not_supported(tmp_path, capsys, unanswerable):
    train = write_squad(tmp_path / "train-v2.0.json", [ANSWERED, unanswerable])
    status, errors, _ = run(capsys, "question-answering", train, train, tmp_path / "out")
    assert status == 2 and len(errors) == 1
    assert "train-v2.0.json: question 'q2': no answer" in errors[0]
    assert "--version-2-with-negative" in errors[0] and "is_impossible" in errors[0]


def test_a_squad_v2_file_of_answered_questions_trains(tmp_path, capsys):
    train = write_squad(tmp_path / "train-v2.0.json", [ANSWERED, {**ANSWERED, "id": "q2"}])
    status, errors, summary = run(capsys, "question-answering", train, train, tmp_path / "out")
    assert status == 0 and set(summary["best"]) == {"epoch", "step", "exact_match", "f1"}


# --- tag sets ---------------------------------------------------------------------------------------
def test_tags_of_no_scheme_among_bio_tags_are_named():
    assert tags_outside_the_scheme(["B-LOC", "I-LOC", "O", "PER", "MISC"]) == ["PER", "MISC"]
    assert tags_outside_the_scheme(["B-PER", "E-PER", "S-LOC", "O"]) == []
    # seqeval reads these as the scheme does too: B and I of no type, O-X outside every entity
    assert tags_outside_the_scheme(["B-PER", "B", "I", "O-X", "b-PER"]) == ["b-PER"]
    assert tags_outside_the_scheme(["NOUN", "VERB", "PER"]) == []  # no scheme at all: tag accuracy alone


def test_a_train_file_mixing_bio_and_bare_tags_gets_a_warning(tmp_path):
    from tinyalbert.finetune_args import FinetuneArguments
    from tinyalbert.finetune_loop import load_data
    from tinyalbert.tokenizer import AlbertTokenizer

    train = tmp_path / "train.jsonl"
    train.write_text('{"tokens": ["John", "went", "to", "Paris"], "tags": ["B-PER", "O", "O", "LOC"]}\n'
                     '{"tokens": ["Mary", "saw", "Rome"], "tags": ["PER", "O", "B-LOC"]}\n')
    args = FinetuneArguments(task="token-classification", model="tinyalbert-mini", train=str(train),
                             validation=str(train), out=str(tmp_path / "out"), max_seq_length=16)
    with pytest.warns(UserWarning, match=r"train.jsonl: the tag\(s\) 'LOC', 'PER' are neither O nor BIO"):
        load_data(args, AlbertTokenizer.from_pretrained("tinyalbert-mini"))


# --- the optimizer, against the Trainer's own choice ----------------------------------------------
def test_the_parameters_without_weight_decay_are_the_trainers():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tinyalbert.train.optim import uses_weight_decay

    config = transformers.AlbertConfig(vocab_size=40, embedding_size=8, hidden_size=16, num_attention_heads=2,
                                       intermediate_size=24, num_hidden_layers=2)
    torch.manual_seed(0)
    for name in ("AlbertForSequenceClassification", "AlbertForTokenClassification", "AlbertForQuestionAnswering",
                 "AlbertForMultipleChoice"):
        model = getattr(transformers, name)(config)
        decayed = set(transformers.Trainer.get_decay_parameter_names(None, model))
        assert decayed, name
        for parameter, _ in model.named_parameters():
            assert uses_weight_decay(parameter) == (parameter in decayed), (name, parameter)


# --- runs that repeat, and that are interrupted in an epoch -----------------------------------------
def test_the_same_seed_gives_the_same_metrics_and_an_interrupted_epoch_is_run_again(tmp_path, capsys, monkeypatch):
    train, dev = write_pairs(tmp_path / "train.csv"), write_pairs(tmp_path / "dev.csv", 8, seed=1)
    columns = ["--text-column", "sentence1", "--text-pair-column", "sentence2", "--seed", "3"]
    for out in ("one", "two"):
        assert run(capsys, "text-classification", train, dev, tmp_path / out, *columns)[0] == 0
    one = (tmp_path / "one" / "metrics.jsonl").read_text()
    assert (tmp_path / "two" / "metrics.jsonl").read_text() == one and len(one.splitlines()) == 2

    step, steps = finetune_loop.finetune_step, []

    def interrupted_in_epoch_2(*args, **kwargs):  # Ctrl-C at the 5th of 6 steps (3 an epoch)
        steps.append(1)
        if len(steps) == 5:
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    monkeypatch.setattr(finetune_loop, "finetune_step", interrupted_in_epoch_2)
    assert run(capsys, "text-classification", train, dev, tmp_path / "three", *columns)[0] == 130
    assert len((tmp_path / "three" / "metrics.jsonl").read_text().splitlines()) == 1
    monkeypatch.setattr(finetune_loop, "finetune_step", step)
    assert run(capsys, "text-classification", train, dev, tmp_path / "three", "--resume", *columns)[0] == 0
    assert (tmp_path / "three" / "metrics.jsonl").read_text() == one
    weights = [(tmp_path / out / "checkpoint" / "model.safetensors").read_bytes() for out in ("one", "three")]
    assert weights[0] == weights[1]
