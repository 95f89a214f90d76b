"""Reading and encoding the data of the four fine-tuning tasks.

Files (every problem is a ValueError naming the file, the line or record, and the field):
- text-classification: CSV with a header, or JSON lines (`.jsonl`, `.json`); fields `text`, optional
  `text_pair`, `label` (a class name or number; for a regression, a number such as 3.8; for a
  multi-label classification, a JSON list of class names, or a text split on a separator that the
  caller names: `problem_type_of_labels`).
- token-classification: JSONL; fields `tokens` (a list of at least one word) and `tags` (one
  tag per word, BIO tags such as `B-PER`, `I-PER`, `O` for the entity F1; or integer tag ids,
  as `datasets` writes CoNLL's `ner_tags`, read as their names when the caller has them).
  Labels that are integer class ids, as `datasets` writes GLUE's (MRPC's 0 and 1), are read as
  their names when the caller has them, as tags are.
  The fields of these two tasks may come from columns of other names (`DEFAULT_COLUMNS`): GLUE's
  `sentence1`, `sentence2`, `label`; CoNLL's `tokens`, `ner_tags`.
- question-answering: SQuAD v1.1 JSON (`data` -> `paragraphs` -> `context`, `qas` -> `id`,
  `question`, `answers` -> `text`, `answer_start`); SQuAD v2.0's too when the caller asks for
  its questions without an answer (`"answers": []`, `is_impossible` true: `read_squad`).
- multiple-choice: JSONL; fields `question`, `choices` (a list of texts, as many in every record
  of a file), `answer` (the index of the right choice as a JSON integer, or its text). Or, when
  the caller names its layout (`MULTIPLE_CHOICE_LAYOUTS`), SWAG's columns (CSV or JSONL: `sent1`,
  `sent2`, `ending0` to `ending3`, `label`) or RACE's (JSONL: `article`, `question`, `options`,
  `answer` letter). Every layout becomes the same example: a first segment (the question, SWAG's
  `sent1`, RACE's article), the second segment of each choice (the choice, SWAG's `sent2` and
  ending, RACE's question with the option: `race_second_segment`) and the right choice's index.

Encoded examples are dicts of Python ints and lists; `collate` pads a batch into the NumPy
arrays the models take, with the tokenizer's padding id and a zero attention mask. A question
whose context is longer than the window becomes several features, one per overlapping window,
and so does a tagged sentence longer than the window.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
import string
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .jsonfile import parse_json
from .train.text import collector_paused, read_utf8

TASKS = ("text-classification", "token-classification", "question-answering", "multiple-choice")
IGNORE_INDEX = -100
MAX_QUESTION_TOKENS = 64
DOC_STRIDE = 128  # run_qa.py's default overlap of a question's context windows
# Examples per call of the tokenizer in `encode_examples`: one call for a whole file would hold
# every text's pieces, as strings, at once (gigabytes for MNLI's 393k pairs); a call per text
# would pay SentencePiece's cost per call for each one.
ENCODING_CHUNK = 1000
# A label that is a number, as a CSV reader that infers column types (pandas, `datasets`) reads
# one: digits with an optional sign, decimal point and exponent. (Python's float() would take
# "1_000", "nan" and "infinity" too.) INTEGER: a number written without a point or an exponent.
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
INTEGER = re.compile(r"[+-]?\d+")
# What a label of -1 is in files the `datasets` library writes: GLUE's test splits (and SWAG's) have
# no labels, and mark each example so. A file that is scored needs its labels.
UNLABELLED = ("-1 marks an unlabelled example, as in the test splits of GLUE from the datasets library; a file "
              "that is scored needs its labels: python -m tinyalbert.predict labels texts")
# The column each field of a record is read from unless the caller names another (the options
# --text-column, --text-pair-column, --label-column, --tokens-column and --tags-column of
# `python -m tinyalbert.finetune`): the tasks whose files come in many layouts. Question answering
# reads SQuAD's layout, multiple choice its three fields.
DEFAULT_COLUMNS = {"text-classification": {"text": "text", "text_pair": "text_pair", "label": "label"},
                   "token-classification": {"tokens": "tokens", "tags": "tags"}}
# The columns of well-known datasets, by the field each would be read into. A file without the
# column looked for, whose records have one of these layouts, gets an error that says which
# options read it: a hint, never a guess (a file is read only as the caller says). GLUE's pairs
# as run_glue.py's task_to_keys names them, the pairs before the single `sentence`; CoNLL-2003's,
# WNUT-17's and WikiANN's entity tags as `datasets` writes them.
KNOWN_LAYOUTS = {
    "text-classification": [{"text": "sentence1", "text_pair": "sentence2"},  # MRPC, RTE, STS-B, WNLI
                            {"text": "question1", "text_pair": "question2"},  # QQP
                            {"text": "premise", "text_pair": "hypothesis"},  # MNLI
                            {"text": "question", "text_pair": "sentence"},  # QNLI
                            {"text": "sentence"}],  # SST-2, CoLA
    "token-classification": [{"tags": "ner_tags"}],
}
# The layouts of multiple-choice files read besides tinyalbert's own (MULTIPLE_CHOICE_FIELDS), by
# the name the caller gives (--layout), with the columns each reads. They differ from it in shape,
# not only in names, so no column option could read them. SWAG as `datasets` writes it and as the
# SWAG csv has it (Transformers' run_swag.py reads these columns): a context, the start of the
# second sentence and four endings, each a column, and the index of the right ending. RACE as
# `datasets` writes it: an article, a question, a list of options and the right option's letter.
SWAG_ENDINGS = tuple(f"ending{index}" for index in range(4))  # run_swag.py's ending_names
MULTIPLE_CHOICE_FIELDS = ("question", "choices", "answer")
MULTIPLE_CHOICE_LAYOUTS = {"swag": ("sent1", "sent2", *SWAG_ENDINGS, "label"),
                           "race": ("article", "question", "options", "answer")}
CHOICE_NOUNS = {None: "choices", "swag": "endings", "race": "options"}  # what each layout calls them
# How a pair longer than max_length is cut. tinyalbert's own layout cuts only the choice: a question
# is short, and one that leaves no room for a choice is an error. SWAG and RACE cut the longer
# segment first, a piece at a time, as run_swag.py's truncation=True does: RACE's article, hundreds
# of pieces, is what gets cut (from its end), while its question and option stay whole.
LAYOUT_TRUNCATION = {None: "only_second", "swag": "longest_first", "race": "longest_first"}


def _check_file(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return path


def _read_text(path: Path) -> str:
    """The file's text without a byte-order mark (Excel writes one into its UTF-8 CSV files)."""
    return read_utf8(path, what="the file", otherwise="").removeprefix("\ufeff")


def read_records(path) -> list[tuple[int, dict]]:
    """The records of a `.csv` (with a header row) or a `.jsonl` or `.json` file of JSON lines, as
    (line number, dict) pairs, so that a problem can be pointed at. A CSV row must have as many
    cells as the header: a text with an unquoted comma would otherwise spill into the label. A
    `.json` file that is one JSON document (an array of records, as `json.dump` writes a list) is
    refused with what to write instead: its records have no lines to be pointed at by."""
    path = _check_file(path)
    if path.suffix.lower() == ".csv":
        return _csv_records(path)
    if path.suffix.lower() not in (".jsonl", ".json"):
        tsv = " (a .tsv file: save it as .csv, pandas' to_csv writes one)" if path.suffix.lower() == ".tsv" else ""
        raise ValueError(f"{path}: expected a .csv file, or a .jsonl or .json file of JSON lines{tsv}")
    text = _read_text(path)
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = parse_json(line, f"{path}, line {number}")
        except ValueError:
            if not records:
                _refuse_one_json_document(path, text)
            raise
        if not isinstance(record, dict):
            if not records and isinstance(record, list):
                _refuse_one_json_document(path, text)
            raise ValueError(f"{path}, line {number}: expected a JSON object per line")
        records.append((number, record))
    return records


def _refuse_one_json_document(path: Path, text: str) -> None:
    """A file whose first line is no JSON object of its own, but whose whole text is one JSON
    document (an array of records, or an indented object): ValueError saying it is not JSON lines
    and what writes them. Returns when the text is no JSON document either (a line's own error
    then says where it breaks)."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return
    what = "a JSON array of records" if isinstance(document, list) else "one JSON document"
    raise ValueError(f"{path}: {what}, not JSON lines; write one JSON object per line (the datasets library's "
                     "to_json, pandas' to_json(orient='records', lines=True), or json.dumps of each record)")


def _csv_records(path: Path) -> list[tuple[int, dict]]:
    """The rows of a CSV file under its header's names. Empty columns at the end of the header and
    empty cells past its last name (a spreadsheet's export often has them) are left out, and so is
    a first column without a name: the row index that pandas' `to_csv` writes (the SWAG csv has one)."""
    # skipinitialspace: a file written with ", " between cells reads as one written with ",", and
    # a quoted cell after such a space is still read as quoted.
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    header = [name.strip() for name in next(reader, [])]  # "label " names the column label
    while header and not header[-1]:
        header.pop()
    if not header:
        raise ValueError(f"{path}: empty CSV file (it needs a header row such as text,label)")
    separator = next((mark for mark in (";", "\t", "|") if len(header) == 1 and mark in header[0]), None)
    if separator:  # a spreadsheet saved with another separator, as some locales do
        raise ValueError(f"{path}: the header is the one column {header[0]!r}; the columns of a CSV file are "
                         f"separated by commas, and this file's seem to be separated by {separator!r}: save it "
                         "with commas")
    skipped = 1 if len(header) > 1 and not header[0].strip() else 0  # pandas' index column
    if not all(name.strip() for name in header[skipped:]):  # its cells would be read under no name, and lost
        raise ValueError(f"{path}: column {[name.strip() for name in header].index('', skipped) + 1} of the header "
                         "has no name")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"{path}: the header names {', '.join(map(repr, repeated))} more than once")
    records, lines = [], None
    for first_line, row in _rows_with_first_lines(reader):
        if not row:  # a blank line
            continue
        cells = len(row)
        while cells > len(header) and not row[cells - 1].strip():  # empty cells past the header's end
            cells -= 1
        if cells != len(header):
            where = f"line {reader.line_num}"
            quote = " (a text with a comma must be in double quotes)" if cells > len(header) else ""
            if first_line != reader.line_num:  # a quoted cell ran across line ends: most often a quote left open
                where = f"lines {first_line} to {reader.line_num} (one row)"
                quote = f" (is a double quote on line {first_line} left unclosed?)"
            raise ValueError(f"{path}, {where}: {cells} cell{'' if cells == 1 else 's'} but the header "
                             f"has {len(header)}{quote}")
        if first_line != reader.line_num:  # a quoted cell holds line ends, or a quote was left open
            lines = lines or io.StringIO(text, newline="").readlines()  # split once, as the reader counts lines
            if _odd_quotes(lines[first_line - 1:reader.line_num]):
                raise ValueError(f"{path}, line {first_line}: a double quote is left unclosed, and the cell it opens "
                                 f"runs on to line {reader.line_num}: close it, or write a quote inside a cell as \"\"")
        records.append((reader.line_num, dict(zip(header[skipped:], row[skipped:]))))  # line_num: the row's last line
    return records


def _odd_quotes(lines: list[str]) -> bool:
    """Whether the lines of one CSV row hold an odd number of double quotes. A row's quoted cells
    hold theirs in pairs (`""` inside one too), so an odd count is a quote left open: the reader
    ran on past its line end, to the next quote or the end of the file, reading the lines between
    as the cell's text."""
    return sum(line.count('"') for line in lines) % 2 == 1


def _rows_with_first_lines(reader):
    """(the line a row starts on, the row) for each row of a csv.reader: a quoted cell may hold
    line ends, and then `reader.line_num`, the row's last line, is not where the row starts."""
    while True:
        first_line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        yield first_line, row


def _field(record: dict, name: str, where: str):
    if name not in record:
        raise ValueError(f"{where}: missing field {name!r} (the record has {sorted(record)})")
    if record[name] is None:
        raise ValueError(f"{where}: field {name!r} is null")
    return record[name]


def column_option(field: str) -> str:
    """The command-line option that names the column of `field`: --text-pair-column for text_pair."""
    return f"--{field.replace('_', '-')}-column"


def missing_column_hint(task: str, field: str, record: dict, columns: dict) -> str:
    """What to pass for a record that has no column for `field` under its name in `columns`: the
    options that read the first known layout the record has and that names a column for `field`
    (KNOWN_LAYOUTS), else the option for `field` alone."""
    for layout in KNOWN_LAYOUTS.get(task, []):
        if field in layout and all(name in record for name in layout.values()):
            return "pass " + " ".join(f"{column_option(known)} {name}" for known, name in layout.items()
                                      if columns[known] != name)
    return f"pass {column_option(field)} with the column that holds the {field.replace('_', ' ')}"


def _column(record: dict, task: str, field: str, columns: dict, where: str):
    """The value of `field` from its column (`columns[field]`); a record without that column is an
    error that lists the record's columns and says which option to pass (`missing_column_hint`)."""
    name = columns[field]
    if name not in record:
        has = f"columns {', '.join(record)}" if record else "no columns"
        raise ValueError(f"{where}: missing column {name!r} (the record has {has}): "
                         f"{missing_column_hint(task, field, record, columns)}")
    return _field(record, name, where)


def _text(record: dict, name: str, where: str) -> str:
    return _as_text(_field(record, name, where), name, where)


def _as_text(value, name: str, where: str) -> str:
    """The value of field `name`, checked to be a text."""
    if not isinstance(value, str):
        raise ValueError(f"{where}: field {name!r} must be a text (a string), got {json.dumps(value)}")
    return value


def _as_texts(values, name: str, where: str, integers: bool = False) -> list[str]:
    """The list `values` of field `name`, checked to hold texts (`integers`: or integers), as strings."""
    if not isinstance(values, list):
        raise ValueError(f"{where}: field {name!r} must be a list, got {type(values).__name__}")
    for index, value in enumerate(values):
        if not (isinstance(value, str) or integers and _is_integer(value)):
            kind = "a text or an integer" if integers else "a text"
            raise ValueError(f"{where}: {name}[{index}] must be {kind}, got {json.dumps(value)}")
    return [str(value) for value in values]


def _is_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _named_tags(tags, name: str, tag_names: list[str], where: str) -> list[str]:
    """Tag ids read as their names, `tag_names[id]`: a tag column of integers, as `datasets` writes
    a ClassLabel column such as CoNLL's ner_tags, whose names live in the dataset, not the file."""
    if not isinstance(tags, list):
        raise ValueError(f"{where}: field {name!r} must be a list, got {type(tags).__name__}")
    for index, tag in enumerate(tags):
        if not (_is_integer(tag) and 0 <= tag < len(tag_names)):
            raise ValueError(f"{where}: {name}[{index}] must be a tag id, an integer from 0 to {len(tag_names) - 1} "
                             f"(--tag-names names {len(tag_names)} tags), got {json.dumps(tag)}")
    return [tag_names[tag] for tag in tags]


def _named_label(label: str | list[str], name: str, label_names: list[str], where: str) -> str | list[str]:
    """A text-classification label of class ids read as their names, `label_names[id]`: a label
    column of integers, as `datasets` writes a ClassLabel column such as GLUE's (MRPC's 0 and 1),
    whose names live in the dataset, not the file. `label`: the value of column `name` as
    `_class_label` gives it, the id as text ("1": a CSV cell or a JSON integer), or the ids of a
    multi-label example as a list. Only ids are read, never names: a label would be ambiguous
    where the names are numbers themselves (star ratings named 1 to 5 are ids 0 to 4), and a
    file of names is read as it is, without names given."""
    if isinstance(label, list):
        return [_named_class(one, label_names, f"{name}[{index}]", where) for index, one in enumerate(label)]
    return _named_class(label, label_names, name, where)


def _named_class(label: str, label_names: list[str], name: str, where: str) -> str:
    """The name of one class id (`_named_label`); `name`: where it is in the record ("label",
    "label[1]"), for the error."""
    if INTEGER.fullmatch(label.strip()) and 0 <= int(label) < len(label_names):
        return label_names[int(label)]
    if label.strip() == "-1":
        why = f" ({UNLABELLED})"
    elif is_decimal_label(label):  # what would make a regression without the names
        why = " (a number with a point is a regression's target, which has no classes to name)"
    elif label in label_names:
        why = " (a name: with --label-names the file holds ids; without it, labels are read as names)"
    else:
        why = ""
    raise ValueError(f"{where}: {name} must be a class id, an integer from 0 to {len(label_names) - 1} "
                     f"(--label-names names {len(label_names)} classes), got {json.dumps(label)}{why}")


def _class_label(label, where: str, separator: str | None = None) -> str | list[str]:
    """A text-classification label: a class name or a number as text (a class number, or the
    target of a regression, such as 3.8), or the class names of a multi-label example as a list
    (`_label_names`). A JSON float keeps its point ("3.0"), so that `problem_type_of_labels`
    sees it as a decimal number. true/false, an object and NaN or Infinity are refused rather
    than turned into a class of their own. With `separator`, a label that is a text is split on
    it into a list (a CSV cell cannot hold a list). `label`: the value of the label column, not null."""
    if isinstance(label, list) or separator is not None and isinstance(label, str):
        return _label_names(label, separator, where)
    finite_float = isinstance(label, float) and math.isfinite(label)
    if not (isinstance(label, str) or _is_integer(label) or finite_float):
        raise ValueError(f"{where}: label must be a class name or number, got {json.dumps(label)} (several "
                         "labels: a list of class names, for a multi-label classification)")
    # repr of a float: "3.0", "0.001", "1e+20", all NUMBER. The spaces around a text are taken off:
    # "positive " and "positive" are one class, not two.
    label = str(label).strip()
    if not label:  # a CSV row whose label cell was left empty
        raise ValueError(f"{where}: empty label")
    return label


def _label_names(label, separator: str | None, where: str) -> list[str]:
    """The class names of a multi-label example: a JSON list of names (integers are read as
    names, as single labels are), or a text split on `separator` with the spaces around each
    name taken off ("sports | politics"). An empty list, or an empty text, is an example of no
    class, as Transformers' run_classification.py reads []. A name given twice counts once (its
    target is 1 either way); an empty name, between two separators or at the end, is refused."""
    if isinstance(label, str):
        names = [] if not label.strip() else [name.strip() for name in label.split(separator)]
        shown = f"{label!r} split on {separator!r}"
    else:
        for index, name in enumerate(label):
            if not (isinstance(name, str) or _is_integer(name)):
                raise ValueError(f"{where}: label[{index}] must be a class name, got {json.dumps(name)}")
        names, shown = [str(name) for name in label], json.dumps(label)
    if any(not name.strip() for name in names):
        raise ValueError(f"{where}: an empty class name in the label {shown}")
    return list(dict.fromkeys(names))  # the first of each name, in order


def _answer_index(answer, choices: list[str], where: str) -> int:
    """The index of the right choice: a JSON integer is an index, a string the text of a choice
    ("2" among the choices "1", "2", "4" is the second one, not the third)."""
    if isinstance(answer, str):
        if choices.count(answer) != 1:
            problem = "is not one of the choices" if answer not in choices else "is more than one of the choices"
            hint = f" (an index is a JSON integer: {answer}, not \"{answer}\")" if answer.lstrip("-").isdigit() else ""
            raise ValueError(f"{where}: answer {json.dumps(answer)} {problem}{hint}")
        return choices.index(answer)
    if not _is_integer(answer):
        raise ValueError(f"{where}: answer must be the index of the right choice (an integer) or its text, "
                         f"got {json.dumps(answer)}")
    if not 0 <= answer < len(choices):
        raise ValueError(f"{where}: answer {answer} is not the index of one of the {len(choices)} choices "
                         f"(0 to {len(choices) - 1})")
    return answer


def _layout_columns(layout: str | None) -> str:
    """The columns a multiple-choice layout reads, for a message: "sent1, sent2, ending0 to ending3, label"."""
    columns = MULTIPLE_CHOICE_LAYOUTS[layout] if layout else MULTIPLE_CHOICE_FIELDS
    shown = ", ".join(column for column in columns if column not in SWAG_ENDINGS[1:-1])  # the endings as a range
    return shown.replace(f"{SWAG_ENDINGS[0]}, ", f"{SWAG_ENDINGS[0]} to ")


def multiple_choice_layout_hint(record: dict, layout: str | None) -> str:
    """What to pass for a multiple-choice record without a column that `layout` reads (None:
    tinyalbert's own question, choices, answer): the layout whose columns the record has, else
    what `layout` reads (and, for None, what the others read). A hint, never a guess: a file is
    read only as the caller says."""
    for known in (None, *MULTIPLE_CHOICE_LAYOUTS):
        columns = MULTIPLE_CHOICE_LAYOUTS[known] if known else MULTIPLE_CHOICE_FIELDS
        if known != layout and all(column in record for column in columns):
            return "leave out --layout to read them" if known is None else f"pass --layout {known}"
    if layout is not None:
        return f"--layout {layout} reads {_layout_columns(layout)}"
    others = "; ".join(f"--layout {known} reads {_layout_columns(known)}" for known in MULTIPLE_CHOICE_LAYOUTS)
    return f"multiple choice reads {_layout_columns(None)} ({others})"


def _layout_column(record: dict, name: str, layout: str | None, where: str):
    """The value of column `name` of a multiple-choice record read as `layout`; a record without it
    is an error that lists the record's columns and says what reads them (`multiple_choice_layout_hint`)."""
    if name not in record:
        has = f"columns {', '.join(record)}" if record else "no columns"
        raise ValueError(f"{where}: missing column {name!r} (the record has {has}): "
                         f"{multiple_choice_layout_hint(record, layout)}")
    return _field(record, name, where)


def _check_choice_count(count: int, layout: str | None, where: str) -> None:
    if count < 2:
        raise ValueError(f"{where}: {count} {CHOICE_NOUNS[layout][:-1]}(s); a question needs at least 2")


def _own_choice_segments(record: dict, where: str) -> tuple[str, list[str], int]:
    """(question, choices, the right choice's index) of a record of tinyalbert's own layout."""
    choices = _as_texts(_layout_column(record, "choices", None, where), "choices", where)
    _check_choice_count(len(choices), None, where)
    answer = _answer_index(_layout_column(record, "answer", None, where), choices, where)
    return _as_text(_layout_column(record, "question", None, where), "question", where), choices, answer


def swag_segments(record: dict, where: str) -> tuple[str, list[str], int]:
    """(first segment, the second segment of each ending, the right ending's index) of a SWAG
    record, paired as Transformers' run_swag.py pairs them: the context `sent1` first, then for
    each ending `sent2`, a space and the ending ("She" and "pats her shoulder." make "She pats
    her shoulder."). `label` is a JSON integer or a CSV cell of one ("2"). `where`: for errors."""
    context = _as_text(_layout_column(record, "sent1", "swag", where), "sent1", where)
    start = _as_text(_layout_column(record, "sent2", "swag", where), "sent2", where)
    endings = [_as_text(_layout_column(record, name, "swag", where), name, where) for name in SWAG_ENDINGS]
    label = _layout_column(record, "label", "swag", where)
    if isinstance(label, str) and INTEGER.fullmatch(label.strip()):  # a CSV cell
        label = int(label)
    last = len(endings) - 1
    if not _is_integer(label):
        raise ValueError(f"{where}: label must be the index of the right ending, an integer from 0 to {last}, "
                         f"got {json.dumps(label)}")
    if not 0 <= label <= last:
        unlabelled = " (-1 marks an unlabelled example, as in SWAG's test split)" if label == -1 else ""
        raise ValueError(f"{where}: label {label} is not the index of one of the {len(endings)} endings "
                         f"(0 to {last}){unlabelled}")
    return context, [f"{start} {ending}" for ending in endings], label


def race_second_segment(question: str, option: str) -> str:
    """The second segment of one RACE option, as the RACE recipes for BERT and ALBERT build it: a
    question with a blank "_" is a sentence to complete, and the option fills the blank (every
    "_", as str.replace does); any other question is followed by a space and the option.
    ("The writer wants to _ ." and "warn us" -> "The writer wants to warn us ."; "Why?" and
    "To rest." -> "Why? To rest.")"""
    return question.replace("_", option) if "_" in question else f"{question} {option}"


def race_segments(record: dict, where: str) -> tuple[str, list[str], int]:
    """(the article, the second segment of each option, the right option's index) of a RACE record
    as `datasets` writes it: the article is the first segment, and each option's second segment is
    the question with the option (`race_second_segment`); `answer` is the right option's letter,
    "A" for the first. `where`: for errors."""
    article = _as_text(_layout_column(record, "article", "race", where), "article", where)
    question = _as_text(_layout_column(record, "question", "race", where), "question", where)
    options = _layout_column(record, "options", "race", where)
    if isinstance(options, str):  # a CSV cell
        raise ValueError(f"{where}: options must be a list of texts, got a text (a CSV cell cannot hold a list: "
                         "save RACE as JSONL, as the datasets library's to_json writes it)")
    options = _as_texts(options, "options", where)
    _check_choice_count(len(options), "race", where)
    answer, letters = _layout_column(record, "answer", "race", where), string.ascii_uppercase[:len(options)]
    if not (isinstance(answer, str) and len(answer) == 1 and answer in letters):
        raise ValueError(f"{where}: answer must be the letter of the right option, \"A\" to \"{letters[-1]}\" "
                         f"(one per option: {len(options)} options), got {json.dumps(answer)}")
    return article, [race_second_segment(question, option) for option in options], letters.index(answer)


def _multiple_choice_example(record: dict, layout: str | None, where: str) -> dict:
    """One multiple-choice example of any layout: `question`, the first segment of every pair
    (token type 0); `choices`, the second segment of each choice (type 1); `label`, the right
    choice's index; `truncation`, how a pair too long is cut (LAYOUT_TRUNCATION)."""
    if layout == "swag":
        first, seconds, label = swag_segments(record, where)
    elif layout == "race":
        first, seconds, label = race_segments(record, where)
    else:
        first, seconds, label = _own_choice_segments(record, where)
    return {"question": first, "choices": seconds, "label": label, "truncation": LAYOUT_TRUNCATION[layout]}


def check_layout(task: str, layout) -> None:
    """A layout names the dataset whose columns a multiple-choice file has (MULTIPLE_CHOICE_LAYOUTS);
    the other tasks name their columns one by one (DEFAULT_COLUMNS), or read fixed fields."""
    if task != "multiple-choice":
        reads = "names its columns with the column options" if task in DEFAULT_COLUMNS else "reads fixed fields"
        raise ValueError(f"layout is for multiple-choice only; {task} {reads}")
    if layout not in MULTIPLE_CHOICE_LAYOUTS:
        known = ", ".join(map(repr, MULTIPLE_CHOICE_LAYOUTS))
        raise ValueError(f"layout must be one of {known} or None, got {layout!r}")


def read_task_file(task: str, path, label_separator: str | None = None, columns: dict | None = None,
                   tag_names: list[str] | None = None, label_names: list[str] | None = None,
                   layout: str | None = None, version_2_with_negative: bool = False) -> list[dict]:
    """The examples of `path` for `task`, checked: dicts with the fields listed above.
    `label_separator`: text classification only, the separator a label text is split on into
    the class names of a multi-label example (`_class_label`). `columns`: the column to read a
    field from, where it is not the field's own name (`DEFAULT_COLUMNS`), such as {"text":
    "sentence1", "text_pair": "sentence2"}. `tag_names`: token classification only, the name of
    each tag id, for a file whose tags are integers; without it, integer tags are names ("3").
    `label_names`: text classification only, the same for class ids (`_named_label`).
    `layout`: multiple choice only, "swag" or "race" for a file of that dataset's columns
    (MULTIPLE_CHOICE_LAYOUTS), None for question, choices, answer (`_multiple_choice_example`).
    `version_2_with_negative`: question answering only, read SQuAD v2.0's questions without an
    answer (`read_squad`)."""
    if layout is not None:
        check_layout(task, layout)
    if task == "question-answering":
        return read_squad(path, version_2_with_negative)
    records = read_records(path)
    if not records:
        raise ValueError(f"{path}: no examples")
    columns = {**DEFAULT_COLUMNS.get(task, {}), **(columns or {})}
    examples = []
    for line, record in records:
        where = f"{path}, line {line}"
        if task == "text-classification":
            example = _text_classification_example(record, columns, label_separator, label_names, where)
        elif task == "token-classification":
            example = _tagged_words_example(record, columns, tag_names, where)
        else:
            example = _multiple_choice_example(record, layout, where)
            # a batch is (questions, choices, seq): every question of it needs as many choices
            if examples and len(example["choices"]) != len(examples[0]["choices"]):
                noun = CHOICE_NOUNS[layout]
                raise ValueError(f"{where}: {len(example['choices'])} {noun}, but line {records[0][0]} has "
                                 f"{len(examples[0]['choices'])}; every question of a file needs as many {noun}")
        examples.append({**example, "line": line})
    if task == "text-classification":
        _check_one_kind_of_label(path, examples)
        _warn_empty_texts(path, examples)
        _warn_unread_pair(path, records, columns)
    return examples


def _text_classification_example(record: dict, columns: dict, separator: str | None,
                                 label_names: list[str] | None, where: str) -> dict:
    """The text, the second text or None, and the label of one record: a label of class ids is
    read as `label_names` when given (`_named_label`). The default second-text column, text_pair,
    may be left out (a file of single texts); one named otherwise must be in every record, so
    that a misspelt name is an error rather than a run on single texts."""
    task = "text-classification"
    text = _as_text(_column(record, task, "text", columns, where), columns["text"], where)
    pair_is_optional = columns["text_pair"] == DEFAULT_COLUMNS[task]["text_pair"]
    pair = record.get(columns["text_pair"]) if pair_is_optional else _column(record, task, "text_pair", columns, where)
    pair = None if pair in (None, "") else _as_text(pair, columns["text_pair"], where)  # "": a CSV's empty cell
    label = _class_label(_column(record, task, "label", columns, where), where, separator)
    if label_names is not None:
        label = _named_label(label, columns["label"], label_names, where)
    return {"text": text, "text_pair": pair, "label": label}


def _tagged_words_example(record: dict, columns: dict, tag_names: list[str] | None, where: str) -> dict:
    """The words and their tags of one record: texts, or tag ids (integers) read as `tag_names`
    when given, else as names of their own ("3")."""
    task = "token-classification"
    tokens = _as_texts(_column(record, task, "tokens", columns, where), columns["tokens"], where)
    tags = _column(record, task, "tags", columns, where)
    if tag_names is None:
        tags = _as_texts(tags, columns["tags"], where, integers=True)
    else:
        tags = _named_tags(tags, columns["tags"], tag_names, where)
    if len(tokens) != len(tags):
        raise ValueError(f"{where}: {len(tokens)} tokens but {len(tags)} tags")
    if not tokens:  # nothing to learn from, and a batch of such records has no target
        raise ValueError(f"{where}: no tokens (every record needs at least one word)")
    return {"tokens": tokens, "tags": tags}


def _warn_unread_pair(path, records: list[tuple[int, dict]], columns: dict) -> None:
    """A file of pairs read as single texts: its text column is the first of a known pair
    (KNOWN_LAYOUTS: sentence1 of sentence1, sentence2), the second column is there, and no second
    text is read (the default text_pair, in no record). Allowed, as one may mean it, but said."""
    if any(columns["text_pair"] in record for _, record in records):
        return
    first = records[0][1]
    for layout in KNOWN_LAYOUTS["text-classification"]:
        if layout["text"] == columns["text"] and layout.get("text_pair") in first:
            warnings.warn(f"{path}: column {layout['text_pair']!r} is not read, so each example is the text of "
                          f"{columns['text']!r} alone; to read pairs of texts, pass "
                          f"{column_option('text_pair')} {layout['text_pair']}", stacklevel=3)
            return


def _check_one_kind_of_label(path, examples: list[dict]) -> None:
    """Every label of a file is a list (multi-label) or none is: a class name among lists is
    more likely a list whose brackets were forgotten than an example of one class, and
    `datasets` could not read such a column either."""
    first = examples[0]
    for example in examples[1:]:
        if isinstance(example["label"], list) != isinstance(first["label"], list):
            single = example if isinstance(first["label"], list) else first
            kinds = ["a list of labels", "one class"] if single is first else ["one class", "a list of labels"]
            raise ValueError(f"{path}, line {example['line']}: label {json.dumps(example['label'])} is {kinds[0]}, "
                             f"but line {first['line']}'s is {kinds[1]}; in a multi-label file every label is a "
                             f"list of class names (write {json.dumps([single['label']])}, or [] for none)")


def _warn_empty_texts(path, examples: list[dict]) -> None:
    """An empty text is encoded as [CLS] [SEP]: the model sees nothing of it, so its label is
    learned from the bias alone. Allowed, as Transformers allows it, but said."""
    lines = [example["line"] for example in examples if not example["text"].strip()]
    if lines:
        shown = ", ".join(map(str, lines[:5])) + (", ..." if len(lines) > 5 else "")
        warnings.warn(f"{path}: {len(lines)} example(s) with an empty text (line {shown}): the model sees only "
                      "[CLS] [SEP] for them; fill them in or delete them", stacklevel=3)


def read_squad(path, version_2_with_negative: bool = False) -> list[dict]:
    """SQuAD v1.1 JSON -> [{"id", "question", "context", "answers": [{"text", "answer_start"}]}].
    Every question needs a unique id and at least one answer, a non-empty text found at its
    `answer_start` in the context.

    With `version_2_with_negative` (run_qa.py's --version_2_with_negative), SQuAD v2.0's
    questions without an answer are read too, with `"answers": []`: the official files give
    them `"answers": []` and `"is_impossible": true` (and the spans a reader might wrongly pick
    in `plausible_answers`, which is not read), and a file without `is_impossible` marks them by
    the empty list alone, as the `datasets` library's squad_v2 does. An `is_impossible` that
    contradicts the answers is an error. Without it, such a question is refused, naming the option."""
    path = _check_file(path)
    document = parse_json(_read_text(path), str(path))
    try:
        questions = [(paragraph["context"], qa) for article in document["data"]
                     for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    except (KeyError, TypeError) as error:
        raise ValueError(f"{path}: not in the SQuAD v1.1 layout (data/paragraphs/qas/answers): missing {error}") from None
    if not questions:
        raise ValueError(f"{path}: no questions")
    examples, seen = [], set()
    for number, (context, qa) in enumerate(questions, start=1):
        where = f"{path}, question {number}"
        if not isinstance(qa, dict):
            raise ValueError(f"{where}: expected a JSON object, got {json.dumps(qa)[:40]}")
        identifier = _field(qa, "id", where)
        if not (isinstance(identifier, str) or _is_integer(identifier)):
            raise ValueError(f"{where}: id must be a string, got {json.dumps(identifier)}")
        where = f"{path}: question {str(identifier)!r}"
        if str(identifier) in seen:  # its answers and its score would take the place of the first one's
            raise ValueError(f"{where}: the id is used by an earlier question too; every question needs its own")
        seen.add(str(identifier))
        if not isinstance(context, str):
            raise ValueError(f"{where}: its context must be a text, got {json.dumps(context)[:40]}")
        answers = _field(qa, "answers", where)
        _check_no_answer_marks(answers, qa.get("is_impossible"), version_2_with_negative, where)
        if not isinstance(answers, list):
            wanted = "a list, [] for a question without an answer" if version_2_with_negative else "a list of one or more"
            raise ValueError(f"{where}: no answer (answers must be {wanted}, got {json.dumps(answers)[:40]})")
        examples.append({"id": str(identifier), "question": _text(qa, "question", where), "context": context,
                         "answers": [_squad_answer(answer, context, where) for answer in answers]})
    return examples


def _check_no_answer_marks(answers, is_impossible, version_2_with_negative: bool, where: str) -> None:
    """A question without an answer (SQuAD v2.0's `"answers": []`, `"is_impossible": true`) is
    refused unless `version_2_with_negative`; then its `is_impossible`, where it has one, must be
    a boolean that agrees with its answers (true with none, false with some)."""
    if is_impossible is not None and not isinstance(is_impossible, bool):
        raise ValueError(f"{where}: is_impossible must be true or false, got {json.dumps(is_impossible)[:40]}")
    if not version_2_with_negative:
        if answers == [] or is_impossible is True:
            what = "no answer" if answers == [] else "is_impossible true"
            raise ValueError(f"{where}: {what}, a SQuAD v2.0 question without an answer (is_impossible); pass "
                             "--version-2-with-negative to read such questions (the model may then answer nothing, "
                             "and is scored by SQuAD v2.0's rules), as run_qa.py's --version_2_with_negative does, "
                             "or leave them out")
        return
    if is_impossible is True and answers != []:
        raise ValueError(f"{where}: is_impossible true, but answers is not empty; a question without an answer has "
                         '"answers": [] (SQuAD v2.0 keeps the spans a reader might pick in plausible_answers)')
    if is_impossible is False and answers == []:
        raise ValueError(f"{where}: is_impossible false, but answers is empty; give the question its answers, or "
                         "set is_impossible to true")


def _squad_answer(answer, context: str, where: str) -> dict:
    if not isinstance(answer, dict):
        raise ValueError(f"{where}: an answer must be a JSON object with text and answer_start, got "
                         f"{json.dumps(answer)[:40]}")
    text, start = _text(answer, "text", where), _field(answer, "answer_start", where)
    if not text:
        raise ValueError(f"{where}: an empty answer text (SQuAD v1.1 answers are spans of the context)")
    if not _is_integer(start):
        raise ValueError(f"{where}: answer_start must be an integer, got {json.dumps(start)}")
    if start < 0 or context[start:start + len(text)] != text:
        raise ValueError(f"{where}: answer_start {start} does not point at {text!r} in the context")
    return {"text": text, "answer_start": start}


def label_number(label: str) -> float | None:
    """The value of a label that is a finite number ("4", "-0.5", "3.0", "1e-3"), else None."""
    if not NUMBER.fullmatch(label.strip()):
        return None
    value = float(label)
    return value if math.isfinite(value) else None  # "1e999" is inf


def is_decimal_label(label: str) -> bool:
    """Whether a label is a number written with a point or an exponent ("2.5", "3.0", "1e-3"):
    what makes `datasets` read a label column as floats."""
    return label_number(label) is not None and not INTEGER.fullmatch(label.strip())


def problem_type_of_labels(path, examples: list[dict]) -> str:
    """"multi_label_classification", "regression" or "single_label_classification" for the
    labels of a text-classification train file, as run_classification.py and run_glue.py decide
    from the type of the label column: multi-label when it holds lists (`read_task_file` has
    made every label of a file a list, or none); regression when it holds floats, that is,
    every label is a number and one at least is written as a decimal (3.0 or 2.5: whole numbers
    alone, such as star ratings 1 to 5, are classes). A file mixing decimal numbers and class
    names is refused: it is most likely a mistake, and `datasets` could not read it either."""
    if isinstance(examples[0]["label"], list):
        return "multi_label_classification"
    decimal = next((example for example in examples if is_decimal_label(example["label"])), None)
    if decimal is None:
        return "single_label_classification"
    for example in examples:
        if label_number(example["label"]) is None:
            raise ValueError(f"{path}, line {example['line']}: label {example['label']!r} is not a finite number, but "
                             f"line {decimal['line']}'s {decimal['label']} is, as regression labels are; make "
                             "every label a number, or pass --problem-type single_label_classification to "
                             "read them all as class names")
    return "regression"


def regression_targets(path, examples: list[dict]) -> list[float]:
    """The label of every example as the number a regression learns; a label that is no finite
    number is refused, naming its line."""
    targets = []
    for example in examples:
        value = label_number(example["label"])
        if value is None:
            raise ValueError(f"{path}, line {example['line']}: label {example['label']!r} is not a finite number (a "
                             "regression needs one for every label, such as 3 or 2.5; 1e400 is past float64)")
        targets.append(value)
    return targets


def check_label_kinds(path, examples: list[dict], problem_type: str, because: str) -> None:
    """A multi-label classification needs a list of class names for every label, the other
    problem types one label each: a file whose labels are of the other kind is refused at its
    first such line, saying `because` (what made the problem type)."""
    multi_label = problem_type == "multi_label_classification"
    for example in examples:
        if isinstance(example["label"], list) != multi_label:
            hint = ("; write a JSON list of class names such as [\"sports\", \"politics\"], or in a CSV file "
                    "pass --label-separator to split each label cell (such as 'sports|politics') into names"
                    if multi_label else "")
            raise ValueError(f"{path}, line {example['line']}: label {json.dumps(example['label'])} is "
                             f"{'one class' if multi_label else 'a list of labels'}, but {because} "
                             f"{problem_type}{hint}")


def multi_hot(names: list[str], label_ids: dict) -> list[float]:
    """The target of a multi-label example: 1.0 for each of its classes, 0.0 for the others,
    floats for the BCE-with-logits loss (as run_classification.py's multi_labels_to_ids)."""
    target = [0.0] * len(label_ids)
    for name in names:
        target[label_ids[name]] = 1.0
    return target


def class_names(label) -> list[str]:
    """The classes of a text-classification label: a multi-label example's list, or the one class."""
    return label if isinstance(label, list) else [str(label)]


def label_list(task: str, examples: list[dict]) -> list[str]:
    """The label names of a classification or tagging task, sorted, from the training examples
    (of a multi-label classification, every name that some example's list holds). Labels or tags
    that are all integers (ids without their names) are sorted as numbers, as run_glue.py and
    run_ner.py sort an integer column, so that the model's id of a label is the file's whenever
    every id occurs ("10" after "9", not after "1")."""
    if task == "text-classification":
        names = {name for example in examples for name in class_names(example["label"])}
    else:
        names = {tag for example in examples for tag in example["tags"]}
    # (int, text): "1" and "01" are the same number, and a set's order must not decide between them
    return sorted(names, key=lambda name: (int(name), name)) if all_integers(names) else sorted(names)


def all_integers(names) -> bool:
    """Whether every name is an integer written out ("3", "-1"): tag ids whose names are unknown."""
    return all(INTEGER.fullmatch(name) for name in names)


def shortest_max_length(task: str, examples: list[dict]) -> int:
    """The least --max-seq-length that holds a piece of every text: [CLS] piece [SEP], and one
    piece more and a [SEP] when an example is a pair of texts (as every question with its
    context or its choices is)."""
    if task == "token-classification":
        return 3
    if task == "text-classification" and all(example["text_pair"] is None for example in examples):
        return 3
    return 5


def _no_room_for_second_text(what: str, question_pieces: int, max_length: int) -> str:
    return (f"the question takes {question_pieces} pieces, which leaves no room for {what} in --max-seq-length "
            f"{max_length} beside [CLS] and two [SEP]: raise --max-seq-length to {question_pieces + 4} or more")


def _piece_ids(tokenizer, text: str) -> list[int]:
    return tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text))


def piece_ids_of_texts(tokenizer, texts: list[str]) -> list[list[int]]:
    """The piece ids of each text, no [CLS] or [SEP], from one call of the tokenizer: what
    `_piece_ids` gives text by text, but SentencePiece is called once for them all, where a call
    per word would cost more than the word's own encoding (a SQuAD file has millions of words)."""
    if not texts:
        return []
    return tokenizer(list(texts), add_special_tokens=False, return_token_type_ids=False,
                     return_attention_mask=False, verbose=False)["input_ids"]


def encode_examples(task: str, examples: list[dict], tokenizer, max_length: int, label_ids: dict | None,
                    doc_stride: int | None = None, on_progress=None) -> list[dict]:
    """Token ids (with [CLS]/[SEP]), token types and training targets for every example; for
    question answering, for every window of every context (`encode_question`: one feature or
    more per question, in the questions' order; `doc_stride` None: `default_doc_stride`), and for
    token classification for every window of every sentence (`encode_tagged_words`; `sentence`:
    the example's index).
    Text classification with `label_ids` None is a regression: each target is the label's number
    (a float; checked beforehand by `regression_targets`); a multi-label example's target is
    its `multi_hot` list of floats.

    The examples are encoded ENCODING_CHUNK at a time, each chunk's texts (or words) in one call
    of the tokenizer, and `on_progress(count)`, when given, is called after each chunk with the
    number of examples it held (a progress bar's step). A SQuAD context is cut into words and
    pieces once (`encode_context`), however many questions it has."""
    features = []
    doc_stride = default_doc_stride(max_length) if doc_stride is None else doc_stride
    contexts = {}  # question answering: each context's EncodedContext, shared by its questions
    with collector_paused():
        for begin in range(0, len(examples), ENCODING_CHUNK):
            chunk = examples[begin:begin + ENCODING_CHUNK]
            if task == "text-classification":
                features += _encode_texts(chunk, tokenizer, max_length, label_ids)
            elif task == "multiple-choice":
                features += _encode_choice_examples(chunk, tokenizer, max_length)
            elif task == "token-classification":
                features += _encode_sentences(chunk, begin, tokenizer, max_length, label_ids, doc_stride)
            else:
                features += _encode_questions(chunk, contexts, tokenizer, max_length, doc_stride)
            if on_progress is not None:
                on_progress(len(chunk))
    return features


def _encode_texts(examples: list[dict], tokenizer, max_length: int, label_ids: dict | None) -> list[dict]:
    """The features of text-classification examples (`encode_examples`), in one tokenizer call."""
    pairs = [(e["text"], e["text_pair"]) if e["text_pair"] is not None else e["text"] for e in examples]
    # token_type_ids asked for: a tokenizer whose model_input_names leave them out would not give them
    encoded = tokenizer(pairs, truncation=True, max_length=max_length, return_token_type_ids=True,
                        return_attention_mask=False)
    if label_ids is None:
        targets = [label_number(str(e["label"])) for e in examples]
    else:
        targets = [multi_hot(e["label"], label_ids) if isinstance(e["label"], list) else label_ids[str(e["label"])]
                   for e in examples]
    return [{"input_ids": ids, "token_type_ids": types, "label": target}
            for ids, types, target in zip(encoded["input_ids"], encoded["token_type_ids"], targets)]


def _encode_choice_examples(examples: list[dict], tokenizer, max_length: int) -> list[dict]:
    """`encode_choices` of each multiple-choice example, the pairs of them all in one tokenizer
    call (a call per example took 18 times as long). Examples cut in different ways, or a pair
    that cannot be cut (a question too long for its choice), go one at a time: `encode_choices`
    names the example."""
    truncations = {example.get("truncation", LAYOUT_TRUNCATION[None]) for example in examples}  # a file's: one
    encoded = None
    if len(truncations) == 1:
        pairs = [(example["question"], choice) for example in examples for choice in example["choices"]]
        try:
            encoded = tokenizer(pairs, truncation=truncations.pop(), max_length=max_length, return_token_type_ids=True,
                                return_attention_mask=False)
        except ValueError:  # only_second cannot cut a question
            encoded = None
    if encoded is None:
        return [encode_choices(example, tokenizer, max_length) for example in examples]
    features, start = [], 0
    for example in examples:
        stop = start + len(example["choices"])
        features.append({"input_ids": encoded["input_ids"][start:stop],
                         "token_type_ids": encoded["token_type_ids"][start:stop], "label": example["label"]})
        start = stop
    return features


def _encode_sentences(examples: list[dict], first_index: int, tokenizer, max_length: int, label_ids: dict | None,
                      doc_stride: int) -> list[dict]:
    """The windows of tagged sentences (`encode_tagged_words`), the words of them all tokenized in
    one call; `sentence`: the index of each window's sentence, counted from `first_index`."""
    word_pieces = iter(piece_ids_of_texts(tokenizer, [word for e in examples for word in e["tokens"]]))
    features = []
    for index, e in enumerate(examples, start=first_index):
        own_pieces = [next(word_pieces) for _ in e["tokens"]]
        try:
            sentence = encode_tagged_words(e["tokens"], e["tags"], tokenizer, max_length, label_ids, doc_stride,
                                           word_pieces=own_pieces)
        except ValueError as error:
            raise ValueError(f"line {e['line']}: {error}") from None
        features += [{**feature, "sentence": index} for feature in sentence]
    return features


def _encode_questions(examples: list[dict], contexts: dict, tokenizer, max_length: int, doc_stride: int) -> list[dict]:
    """The windows of SQuAD questions (`encode_question`): their questions tokenized in one call,
    and so are the words of the contexts not in `contexts` yet (context text -> EncodedContext),
    which are added to it."""
    new = list(dict.fromkeys(e["context"] for e in examples if e["context"] not in contexts))
    words = [context_words(context) for context in new]
    word_pieces = iter(piece_ids_of_texts(tokenizer, [context[start:end] for context, spans in zip(new, words)
                                                      for start, end in spans]))
    for context, spans in zip(new, words):
        contexts[context] = EncodedContext(spans, *join_word_pieces([next(word_pieces) for _ in spans],
                                                                    tokenizer.unk_token_id))
    questions = piece_ids_of_texts(tokenizer, [e["question"] for e in examples])
    return [feature for e, question in zip(examples, questions)
            for feature in encode_question(e, tokenizer, max_length, doc_stride, question_pieces=question,
                                           context=contexts[e["context"]])]


def encode_choices(example: dict, tokenizer, max_length: int) -> dict:
    """[CLS] first [SEP] second [SEP] for each choice of a multiple-choice example, token types 0
    then 1: `input_ids` and `token_type_ids` are lists (choices, seq), `label` the right choice.
    A pair longer than `max_length` is cut as `example["truncation"]` says (LAYOUT_TRUNCATION;
    "only_second", the choice alone, where it is not given): tinyalbert's own layout cuts the
    choice and refuses a question that leaves it no room; SWAG and RACE cut the longer segment."""
    truncation = example.get("truncation", LAYOUT_TRUNCATION[None])
    try:
        encoded = tokenizer([(example["question"], choice) for choice in example["choices"]],
                            truncation=truncation, max_length=max_length, return_token_type_ids=True)
    except ValueError:  # only_second cannot cut the question: it alone is too long
        pieces = len(_piece_ids(tokenizer, example["question"]))
        problem = _no_room_for_second_text("a choice", pieces, max_length)
        raise ValueError(f"line {example['line']}: {problem}") from None
    return {"input_ids": encoded["input_ids"], "token_type_ids": encoded["token_type_ids"], "label": example["label"]}


def word_piece_ids(words: list[str], tokenizer) -> tuple[list[int], list[int]]:
    """(pieces, piece_words): the piece ids of the words, each word tokenized on its own (a word
    with no piece, such as a lone control character, becomes `<unk>`, so that it can still be
    tagged or answered), and the index of the word each piece belongs to."""
    return join_word_pieces([_piece_ids(tokenizer, word) for word in words], tokenizer.unk_token_id)


def join_word_pieces(word_pieces: list[list[int]], unk_token_id: int) -> tuple[list[int], list[int]]:
    """(pieces, piece_words) of words whose piece ids are `word_pieces`, one list per word, as
    `word_piece_ids` gives them: a word of no piece becomes `unk_token_id`."""
    pieces, piece_words = [], []
    for index, own in enumerate(word_pieces):
        own = own or [unk_token_id]
        pieces += own
        piece_words += [index] * len(own)
    return pieces, piece_words


def encode_tagged_words(words, tags, tokenizer, max_length: int, label_ids: dict | None,
                        doc_stride: int, word_pieces: list[list[int]] | None = None) -> list[dict]:
    """The features of one tagged sentence: [CLS] window [SEP] for each window of its pieces
    (`window_starts`: windows of `max_length` - 2 pieces, neighbours sharing `doc_stride`; one
    window when the sentence fits), so that no word is cut off. A word's tag goes on its first
    piece, -100 on its other pieces, on [CLS] and [SEP], and on the pieces a window holds of a word
    that started in the window before. `word_pieces`: the piece ids of each word, when the caller
    has tokenized them already (`encode_examples` does, the words of many sentences in one call).

    Besides the model's inputs and `labels`, a feature lists for each word whose first piece it
    holds: `first_pieces`, that piece's position; `word_ids`, the word's index in the sentence;
    `context`, how many of the window's pieces lie on the word's shorter side. A word in two
    windows takes its tag from the one where `context` is larger, the one that sees more around it
    (the rule BERT's SQuAD code uses for its overlapping windows). A window that holds no word's
    first piece (inside a word longer than the window) is left out: it has nothing to learn or tell."""
    unknown = [tag for tag in tags if label_ids is not None and tag not in label_ids]
    if unknown:
        raise ValueError(f"tag {unknown[0]!r} does not occur in the training file (known: {sorted(label_ids)})")
    if word_pieces is None:
        pieces, piece_words = word_piece_ids(words, tokenizer)
    else:
        pieces, piece_words = join_word_pieces(word_pieces, tokenizer.unk_token_id)
    width = max_length - 2  # [CLS] window [SEP]
    if len(pieces) > width and doc_stride >= width:  # the windows would never move on
        smaller = f"pass --doc-stride {width - 1} or less, or " if width > 1 else ""
        raise ValueError(f"the sentence takes {len(pieces)} pieces, more than the {width} of a window "
                         f"(--max-seq-length {max_length}); --doc-stride {doc_stride}, the pieces a window shares with "
                         f"the one before, must be fewer: {smaller}raise --max-seq-length")
    features = []
    for first in window_starts(len(pieces), width, doc_stride):
        window = range(first, min(first + width, len(pieces)))
        labels, first_pieces, word_ids, context = [IGNORE_INDEX], [], [], []
        for offset, piece in enumerate(window):
            word = piece_words[piece]
            if piece > 0 and piece_words[piece - 1] == word:  # not the word's first piece
                labels.append(IGNORE_INDEX)
                continue
            first_pieces.append(offset + 1)  # after [CLS]
            word_ids.append(word)
            context.append(min(offset, len(window) - 1 - offset))
            labels.append(label_ids[tags[word]] if label_ids is not None else IGNORE_INDEX)
        if not first_pieces:
            continue
        ids = [tokenizer.cls_token_id] + pieces[first:first + width] + [tokenizer.sep_token_id]
        features.append({"input_ids": ids, "token_type_ids": [0] * len(ids), "labels": labels + [IGNORE_INDEX],
                         "first_pieces": first_pieces, "word_ids": word_ids, "context": context})
    return features


# What separates the words of a SQuAD context: SQuAD's preprocessing splits on these five
# characters only (a no-break space stays inside its word), and so do Transformers' slow QA
# pipeline and `tinyalbert.task_pipelines`, so that training and answering see the same words.
SQUAD_WHITESPACE = (" ", "\t", "\r", "\n", "\u202f")


def context_words(context: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the words of `context`, split at SQUAD_WHITESPACE."""
    spans, start = [], None
    for position, character in enumerate(context + " "):
        if character in SQUAD_WHITESPACE:
            if start is not None:
                spans.append((start, position))
                start = None
        elif start is None:
            start = position
    return spans


def default_doc_stride(max_length: int) -> int:
    """--doc-stride when none is given: run_qa.py's 128, or half of `max_length` when that is
    less than 256, so that the overlap leaves room for new pieces in each window (128 would
    leave none in a window of 128, tinyalbert-mini's positions); and, where `max_length` allows,
    fewer pieces than the longest question (MAX_QUESTION_TOKENS) leaves a window, so that the
    default fits every question: 60 at 128."""
    stride = max(1, min(DOC_STRIDE, max_length // 2))
    worst_room = max_length - MAX_QUESTION_TOKENS - 3  # [CLS] question [SEP] ... [SEP]
    return min(stride, worst_room - 1) if worst_room > 1 else stride


def window_starts(length: int, width: int, doc_stride: int) -> list[int]:
    """The first piece of each window over `length` context pieces: windows of `width` pieces,
    each sharing its first `doc_stride` pieces with the end of the one before, as the overflowing
    windows of Transformers' tokenizers (`stride=doc_stride`, run_qa.py) do. The last window
    reaches the last piece; one window (at 0) when the context fits, or is empty."""
    starts = [0]
    while starts[-1] + width < length:
        starts.append(starts[-1] + width - doc_stride)
    return starts


def answer_pieces(answer: dict, words: list[tuple[int, int]], piece_words: list[int]) -> tuple[int, int] | None:
    """(first, last) index, among all the context's pieces, of the pieces of the words the answer
    covers: the first piece of the word where it starts, the last of the word where it ends (the
    slow tokenizer has no offsets: answers are whole words, as in Transformers' SQuAD features).
    None for an answer of whitespace after the last word, which no word holds."""
    first_char, last_char = answer["answer_start"], answer["answer_start"] + len(answer["text"]) - 1
    first_word = next((i for i, (start, end) in enumerate(words) if end > first_char), None)
    last_word = next((i for i, (start, end) in enumerate(words) if end > last_char), None)
    if first_word is None or last_word is None:
        return None
    return piece_words.index(first_word), len(piece_words) - 1 - piece_words[::-1].index(last_word)


def _question_room_problem(example: dict, question_pieces: int, max_length: int, doc_stride: int,
                           context_pieces: int) -> str | None:
    """Why [CLS] question [SEP] window [SEP] cannot step through this question's context, or None:
    a window needs room for at least one piece (the question alone may be too long), and, when the
    context needs more than one window, more pieces than the `doc_stride` it shares with the window
    before, else it would never move on (a context that fits needs no stepping, as in Transformers)."""
    room = max_length - question_pieces - 3
    if room < 1:
        return f"question {example['id']!r}: " + _no_room_for_second_text("its context", question_pieces, max_length)
    if context_pieces > room and doc_stride >= room:
        smaller = f"pass --doc-stride {room - 1} or less, or " if room > 1 else ""
        return (f"question {example['id']!r} takes {question_pieces} pieces, which leaves {room} for each window of "
                f"its context ({context_pieces} pieces) in --max-seq-length {max_length}; --doc-stride {doc_stride}, "
                f"the pieces a window shares with the one before, must be fewer: {smaller}raise --max-seq-length to "
                f"{question_pieces + doc_stride + 4} or more")
    return None


class EncodedContext(NamedTuple):
    """A SQuAD context cut into words and pieces (`encode_context`), once for all its questions."""
    word_spans: list[tuple[int, int]]  # (start, end) characters of each word (`context_words`)
    pieces: list[int]  # the piece ids of the whole context, word after word
    piece_words: list[int]  # the index of the word each piece belongs to


def encode_context(context: str, tokenizer) -> EncodedContext:
    """The words of `context` (split at SQUAD_WHITESPACE) and their pieces (`word_piece_ids`)."""
    words = context_words(context)
    return EncodedContext(words, *word_piece_ids([context[start:end] for start, end in words], tokenizer))


def encode_question(example: dict, tokenizer, max_length: int, doc_stride: int,
                    question_pieces: list[int] | None = None, context: EncodedContext | None = None) -> list[dict]:
    """The features of one question: [CLS] question [SEP] window [SEP] for each window of its
    context (`window_starts`: windows of the room left beside the question, `doc_stride` pieces
    shared between neighbours), each with the answer's token span, or [CLS] (position 0) when
    the answer is not wholly inside that window or the question has none (`"answers": []`, SQuAD
    v2.0), as run_qa.py labels its features.

    The slow tokenizer has no character offsets, so the context is split into whitespace words
    (whose offsets are known) and each word into pieces; a piece maps back to its word. A feature
    keeps `piece_words` (the word index of each of its context pieces), `word_spans` (the
    context's words, shared by the features of every question on that context) and the
    question's `id`, so that the evaluation can gather the features of a question and read an
    answer back from any of them. `question_pieces` (the question's piece ids) and `context`
    (`encode_context` of its context) are computed here unless the caller has them already
    (`encode_examples` tokenizes many questions at once, and each context once).
    """
    if question_pieces is None:
        question_pieces = _piece_ids(tokenizer, example["question"])
    question = question_pieces[:MAX_QUESTION_TOKENS]
    words, pieces, piece_words = encode_context(example["context"], tokenizer) if context is None else context
    problem = _question_room_problem(example, len(question), max_length, doc_stride, len(pieces))
    if problem:
        raise ValueError(problem)
    # A question without an answer (SQuAD v2.0) points every window at [CLS], as run_qa.py labels it.
    answer = answer_pieces(example["answers"][0], words, piece_words) if example["answers"] else None
    head = [tokenizer.cls_token_id] + question + [tokenizer.sep_token_id]
    width, context_start = max_length - len(head) - 1, len(head)
    features = []
    for first in window_starts(len(pieces), width, doc_stride):
        window = pieces[first:first + width]
        ids = head + window + [tokenizer.sep_token_id]
        start_position = end_position = 0  # [CLS]: the answer is not (wholly) in this window
        if answer is not None and first <= answer[0] and answer[1] < first + len(window):
            start_position, end_position = context_start + answer[0] - first, context_start + answer[1] - first
        features.append({"input_ids": ids, "token_type_ids": [0] * context_start + [1] * (len(window) + 1),
                         "start_position": start_position, "end_position": end_position,
                         "context_start": context_start, "piece_words": piece_words[first:first + len(window)],
                         "word_spans": words, "id": example["id"]})
    return features


def _pad(rows: list[list[int]], value: int, length: int) -> np.ndarray:
    return np.array([row + [value] * (length - len(row)) for row in rows], dtype=np.int64)


def collate(task: str, batch: list[dict], pad_token_id: int) -> dict:
    """Padded NumPy arrays for the model's `loss_and_grads` / forward keyword arguments."""
    if task == "multiple-choice":
        rows = [ids for example in batch for ids in example["input_ids"]]
        types = [t for example in batch for t in example["token_type_ids"]]
        length, choices = max(map(len, rows)), len(batch[0]["input_ids"])
        if any(len(example["input_ids"]) != choices for example in batch):
            raise ValueError("every question of a batch must have the same number of choices")
        shape = (len(batch), choices, length)
        return {"input_ids": _pad(rows, pad_token_id, length).reshape(shape),
                "attention_mask": _pad([[1] * len(r) for r in rows], 0, length).reshape(shape),
                "token_type_ids": _pad(types, 0, length).reshape(shape),
                "labels": np.array([example["label"] for example in batch], dtype=np.int64)}
    rows = [example["input_ids"] for example in batch]
    length = max(map(len, rows))
    arrays = {"input_ids": _pad(rows, pad_token_id, length),
              "attention_mask": _pad([[1] * len(r) for r in rows], 0, length),
              "token_type_ids": _pad([example["token_type_ids"] for example in batch], 0, length)}
    if task == "text-classification":  # class ids; a regression's numbers or multi-hot rows in float32,
        dtype = np.float32 if isinstance(batch[0]["label"], (float, list)) else np.int64  # as Transformers' collators
        arrays["labels"] = np.array([example["label"] for example in batch], dtype=dtype)
    elif task == "token-classification":
        arrays["labels"] = _pad([example["labels"] for example in batch], IGNORE_INDEX, length)
    else:
        arrays["start_positions"] = np.array([example["start_position"] for example in batch], dtype=np.int64)
        arrays["end_positions"] = np.array([example["end_position"] for example in batch], dtype=np.int64)
    return arrays
