"""What a fine-tuning run is asked to do: `FinetuneArguments`, the options of `python -m
tinyalbert.finetune` as one dataclass, each checked when it is made (a mistake fails before any
file is read, with the option's name and value), and the column, id-name, separator and layout
rules they follow.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from .qa_answers import MAX_ANSWER_LENGTH, NULL_SCORE_DIFF_THRESHOLD
from .task_data import DEFAULT_COLUMNS, TASKS, check_layout, default_doc_stride
from .train.arguments import as_int, as_number

# What text classification can learn from the command line (`--problem-type`), in the words of
# AlbertConfig.problem_type.
PROBLEM_TYPES = ("single_label_classification", "multi_label_classification", "regression")
# What an evaluation without training (eval_only) refuses, each with the reason. The messages name
# the command line's options (`option_name`): the fields are those options, dashes for underscores.
NOT_WITH_EVAL_ONLY = {"train": "--train is not read; leave it out",
                      "resume": "--resume continues a training run",
                      "ignore_mismatched_sizes": "--ignore-mismatched-sizes would put a new, untrained classifier "
                                                 "in place of its own",
                      "stop_after": "--stop-after counts epochs, and there are none"}
# The settings of training alone, which an evaluation without training has no use for.
TRAINING_ONLY = ("epochs", "lr", "warmup_ratio", "weight_decay", "clip_norm")
# The fields of FinetuneArguments that name a column of the data files (`text_column`, ...), each
# with its task and the field of a record it is read into (task_data.DEFAULT_COLUMNS).
COLUMN_FIELDS = {f"{field}_column": (task, field) for task, fields in DEFAULT_COLUMNS.items() for field in fields}


@dataclass
class FinetuneArguments:
    task: str
    model: str  # eval_only: the fine-tuned model to evaluate, its labels and problem type from its config.json
    train: str | None  # None only with eval_only
    validation: str | None  # picks the best epoch; may be None with eval_only, where test is given
    out: str
    test: str | None = None  # scored with the best epoch's model once training is done (or with eval_only's model)
    epochs: int = 3
    batch_size: int = 16
    lr: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    max_seq_length: int = 128
    doc_stride: int | None = None  # QA and tagging: pieces shared by neighbouring windows; None: default_doc_stride
    max_answer_length: int = MAX_ANSWER_LENGTH  # question answering: the longest answer evaluated, in tokens
    # Question answering: SQuAD v2.0, questions without an answer read and "" predicted (run_qa.py's
    # --version_2_with_negative), when the null score beats the best span's by more than the threshold.
    version_2_with_negative: bool = False
    null_score_diff_threshold: float = NULL_SCORE_DIFF_THRESHOLD
    problem_type: str | None = None  # text classification: a PROBLEM_TYPES; None: from the labels (problem_type_of)
    label_separator: str | None = None  # text classification: split each label text on it (multi-label)
    # The columns the fields are read from (COLUMN_FIELDS); None: the field's own name (DEFAULT_COLUMNS),
    # set in __post_init__ for the task's columns, so that state.json records the columns a run read.
    text_column: str | None = None  # text classification
    text_pair_column: str | None = None  # text classification; text_pair may be missing, another name may not
    label_column: str | None = None  # text classification
    tokens_column: str | None = None  # token classification
    tags_column: str | None = None  # token classification
    tag_names: list[str] | None = None  # token classification: the name of each tag id, for integer tags
    label_names: list[str] | None = None  # text classification: the name of each class id, for integer labels
    layout: str | None = None  # multiple choice: "swag" or "race"; None: question, choices, answer
    seed: int = 0
    backend: str = "numpy"
    resume: bool = False
    eval_only: bool = False  # evaluate model (fine-tuned) on validation and/or test, without training
    ignore_mismatched_sizes: bool = False  # a new head where --model's has another number of labels
    mpi_timeout: float = 600.0  # under mpiexec: seconds a collective may wait before the job stops
    stop_after: int | None = None  # epochs to run in this session (then --resume continues)

    def __post_init__(self):
        """ValueError naming the first field that cannot work; numbers become Python ints and
        floats (NumPy's pass). The command line holds its options to the same limits
        (`checked_field`)."""
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(map(repr, TASKS))}, got {self.task!r}")
        check_run_files(self)
        if self.backend not in ("numpy", "cupy"):
            raise ValueError(f"backend must be 'numpy' or 'cupy', got {self.backend!r}")
        if self.problem_type is not None and self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"problem_type must be one of {', '.join(map(repr, PROBLEM_TYPES))} or None, "
                             f"got {self.problem_type!r}")
        if self.problem_type is not None and self.task != "text-classification":
            raise ValueError(f"problem_type is for text-classification only; {self.task} has none to choose")
        if self.label_separator is not None:
            check_label_separator(self.task, self.label_separator, self.problem_type)
        for name, column in checked_columns(self.task, {name: getattr(self, name) for name in COLUMN_FIELDS}).items():
            setattr(self, name, column)
        for name in ID_NAMES:
            if getattr(self, name) is not None:
                setattr(self, name, checked_id_names(name, self.task, getattr(self, name), self.problem_type))
        if self.layout is not None:
            check_layout(self.task, self.layout)
        for name in (*INTEGER_MINIMUMS, *NUMBER_LIMITS):
            if not (name in ("stop_after", "doc_stride") and getattr(self, name) is None):  # None: unset
                setattr(self, name, checked_field(name, getattr(self, name)))
        check_version_2_options(self)
        if self.doc_stride is None:  # resolved here, so that state.json records the stride a run used
            self.doc_stride = default_doc_stride(self.max_seq_length)
            if self.task == "token-classification":  # fewer than the max_seq_length - 2 pieces of a window
                self.doc_stride = min(self.doc_stride, max(1, self.max_seq_length - 3))


def option_name(field: str) -> str:
    """The command-line option of a field: "stop_after" -> "--stop-after"."""
    return "--" + field.replace("_", "-")


def check_run_files(args: FinetuneArguments) -> None:
    """A fine-tuning run needs a train and a validation file (the one that picks the best epoch);
    an evaluation without training (`eval_only`) needs a validation or a test file, and refuses
    what only training reads (NOT_WITH_EVAL_ONLY)."""
    if not args.eval_only:
        for name, what in (("train", "the file to train on"), ("validation", "the file that picks the best epoch")):
            if getattr(args, name) is None:
                raise ValueError(f"{option_name(name)} is needed to fine-tune ({what}); --eval-only evaluates a "
                                 "fine-tuned --model without training")
        return
    for name, reason in NOT_WITH_EVAL_ONLY.items():
        if getattr(args, name) not in (None, False):
            raise ValueError(f"--eval-only evaluates --model as it is, without training: {reason}")
    # The optimizer's settings, given other than their defaults (a default given explicitly cannot be
    # told from one left out): said once, not refused, so that a run's command line can be reused.
    ignored = [name for name in TRAINING_ONLY if getattr(args, name) != FinetuneArguments.__dataclass_fields__[name].default]
    if ignored:
        verb = "is" if len(ignored) == 1 else "are"
        warnings.warn(f"--eval-only trains nothing: {', '.join(map(option_name, ignored))} {verb} ignored",
                      stacklevel=3)
    if args.validation is None and args.test is None:
        raise ValueError("--eval-only needs a --validation or a --test file to evaluate --model on")


def check_version_2_options(args: FinetuneArguments) -> None:
    """version_2_with_negative is question answering's (SQuAD v2.0), and null_score_diff_threshold,
    which decides when its answer is "", means nothing without it."""
    if args.version_2_with_negative and args.task != "question-answering":
        raise ValueError(f"--version-2-with-negative is for question-answering only (SQuAD v2.0's questions without "
                         f"an answer); {args.task} has no answers to abstain from")
    if args.null_score_diff_threshold != NULL_SCORE_DIFF_THRESHOLD and not args.version_2_with_negative:
        raise ValueError(f"--null-score-diff-threshold {args.null_score_diff_threshold} decides when a question gets "
                         "no answer, which only --version-2-with-negative allows (SQuAD v2.0)")


# The limits of the numeric fields. lr 0 would train nothing; clip_norm 0 turns clipping off.
INTEGER_MINIMUMS = {"epochs": 1, "batch_size": 1, "max_seq_length": 1, "seed": 0, "stop_after": 1, "doc_stride": 1,
                    "max_answer_length": 1}
NUMBER_LIMITS = {"lr": "a finite number > 0", "mpi_timeout": "a finite number > 0",
                 "weight_decay": "a finite number >= 0", "clip_norm": "a finite number >= 0",
                 "warmup_ratio": "a number in [0, 1]", "null_score_diff_threshold": "a finite number"}


def checked_field(name: str, value):
    """`value` for the numeric field `name` of FinetuneArguments as a Python int or float (NumPy's
    pass), or ValueError naming the field and what it must be. nan and inf are refused."""
    if name in INTEGER_MINIMUMS:
        value, minimum = as_int(name, value), INTEGER_MINIMUMS[name]
        if value < minimum:
            raise ValueError(f"{name} must be {'a positive integer' if minimum else 'an integer >= 0'}, got {value}")
        return value
    value, wanted = as_number(name, value), NUMBER_LIMITS[name]
    fits = {"a finite number > 0": value > 0, "a finite number >= 0": value >= 0,
            "a number in [0, 1]": 0 <= value <= 1, "a finite number": True}[wanted]
    if not (fits and math.isfinite(value)):
        raise ValueError(f"{name} must be {wanted}, got {value}")
    return value


def check_label_separator(task: str, separator, problem_type: str | None) -> None:
    """--label-separator splits label texts into the classes of a multi-label example: a
    non-empty text, for text classification, and no other problem type may be asked for."""
    if task != "text-classification":
        raise ValueError(f"label_separator is for text-classification only; {task} has no multi-label labels")
    if not isinstance(separator, str) or not separator:
        raise ValueError(f"label_separator must be a non-empty text, got {separator!r}")
    if problem_type not in (None, "multi_label_classification"):
        raise ValueError(f"label_separator splits labels into lists, for multi_label_classification; "
                         f"problem_type {problem_type} has one label per example")


def checked_columns(task: str, given: dict) -> dict:
    """The column fields of FinetuneArguments (`given`: {"text_column": "sentence1", ...}, None where
    unset) with the unset ones of `task` set to their field's own name ("text"), and the others
    left None; refused: a column named for another task's field, a name that is no text, and one
    column named for two fields (a text would be its own label)."""
    resolved = {}
    for name, (owner, field) in COLUMN_FIELDS.items():
        column = given[name]
        if column is not None and owner != task:
            mine = [other for other, (task_of, _) in COLUMN_FIELDS.items() if task_of == task]
            reads = f"names its columns with {' and '.join(mine)}" if mine else "reads fixed fields"
            reads += " (--layout swag or race reads SWAG's or RACE's)" if task == "multiple-choice" else ""
            raise ValueError(f"{name} is for {owner} only; {task} {reads}")
        if column is not None and not (isinstance(column, str) and column.strip()):
            raise ValueError(f"{name} must be a column name (a non-empty text), got {column!r}")
        resolved[name] = DEFAULT_COLUMNS[task][field] if column is None and owner == task else column
    for name, column in resolved.items():
        twice = [other for other, named in resolved.items() if column is not None and named == column]
        if len(twice) > 1:
            raise ValueError(f"{' and '.join(twice)} both name the column {column!r}; each field needs its own")
    return resolved


def columns_of(args: FinetuneArguments) -> dict:
    """{field: column} for the fields of the task's records, as `read_task_file` takes them."""
    return {field: getattr(args, name) for name, (task, field) in COLUMN_FIELDS.items() if task == args.task}


# The fields of FinetuneArguments that name the ids of a file's integer labels or tags, in order
# (the ClassLabel names of a `datasets` column: GLUE's label, CoNLL's ner_tags), each with its
# task and what it names.
ID_NAMES = {"tag_names": ("token-classification", "tag"), "label_names": ("text-classification", "class")}


def checked_id_names(field: str, task: str, names, problem_type: str | None = None) -> list[str]:
    """--tag-names or --label-names (`field`, ID_NAMES), the name of each id in order: for its
    task only, at least two, each a non-empty text, none twice (two ids of one name would be one
    class the model learns twice). --label-names names the classes of a classification: a
    regression (`problem_type`) has none."""
    owner, kind = ID_NAMES[field]
    if task != owner:
        raise ValueError(f"{field} is for {owner} only; {task} has no {kind} ids to name")
    if problem_type == "regression":
        raise ValueError(f"{field} names the classes of a classification; problem_type regression has none (its "
                         "labels are numbers, learned as they are)")
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) and name.strip() for name in names):
        raise ValueError(f"{field} must be a list of {kind} names (non-empty texts), got {names!r}")
    repeated = sorted({name for name in names if list(names).count(name) > 1})
    if repeated:
        raise ValueError(f"{field} names {', '.join(map(repr, repeated))} more than once; each id needs a name "
                         "of its own")
    if len(names) < 2:
        raise ValueError(f"{field} must name at least 2 {kind}{'es' if kind == 'class' else 's'}, "
                         f"got {list(names)!r}")
    return list(names)  # a list, as state.json gives it back, so that --resume compares like with like
