"""`python -m tinyalbert.predict`: fill in the `[MASK]` of texts from the command line.

Loads an ALBERT masked-language model, runs the fill-mask pipeline on the texts given as
arguments (or, when there are none, on standard input, one text per line) and prints the top
predictions as a table, or as JSON lines with `--json`.

With `--task`, the other pipelines run on a model fine-tuned for them, with one JSON line per text.

JSON lines (`--json`, and every `--task`) stream: standard input is read as it is needed and the
results of each batch of `--batch-size` texts are written at once, so `cat texts.txt | python -m
tinyalbert.predict --json > out.jsonl` holds one batch, not the file, and a text at line 40,000
that the model cannot take ends the run there, naming that line, with the results before it
written. While results go to a file or a pipe and standard error is a terminal, it counts the
texts done and their rate. The table waits for every text, to align its columns. A reader that
goes away (`| head`) ends the run quietly.

Mistakes a user can make (no `[MASK]`, a text too long, an unknown model, a broken config.json,
weights that are NaN, a checkpoint without the head the task needs, an option the task does not
use, no GPU for `cupy`, a bad `--top-k`) end with one line `error: ...` on standard error and
exit status 2; warnings come before it as `warning: ...` lines.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import os
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from .cli import (OneLineErrorParser, UsageError, check_backend_available, int_at_least, print_error,
                  show_warning_on_one_line)
from .train.progress import is_terminal

EXIT_USAGE = 2
MAX_TEXT_COLUMN = 40  # wider texts are shortened in the table (the sequence column shows them whole)
DEFAULT_TOP_K = 5  # fill-mask's; the other tasks' pipelines have their own defaults
TASKS = ("text-classification", "token-classification", "question-answering")
# The options that only some tasks use, and those tasks; given with another task they are refused
# rather than ignored. --top-k goes where Transformers' pipeline has a top_k.
TASK_OPTIONS = {
    "--top-k": ("fill-mask", "text-classification", "question-answering"),
    "--targets": ("fill-mask",),
    "--whole-words": ("fill-mask",),
    "--context": ("question-answering",),
    "--handle-impossible-answer": ("question-answering",),
    "--aggregation-strategy": ("token-classification",),
}
# What each model class named in a config.json's "architectures" is trained for, as a --task,
# and, for a checkpoint that names none, the task of each head module it holds.
ARCHITECTURE_TASKS = {
    "AlbertForPreTraining": "fill-mask", "AlbertForMaskedLM": "fill-mask",
    "AlbertForSequenceClassification": "text-classification",
    "AlbertForTokenClassification": "token-classification",
    "AlbertForQuestionAnswering": "question-answering",
}
# A `classifier` head is both classification tasks' (the same shape): without "architectures",
# which of the two is not known.
HEAD_TASKS = {"predictions": "fill-mask", "classifier": "text-classification or token-classification",
              "qa_outputs": "question-answering"}

EXAMPLES = """\
examples:
  python -m tinyalbert.predict "The capital of France is [MASK]."
  python -m tinyalbert.predict "Paris is the [MASK] of [MASK]." --model albert/albert-base-v2 --top-k 3
  python -m tinyalbert.predict "I love [MASK]." --targets cats dogs --json
  printf 'a [MASK] day\\nthe [MASK] sky\\n' | python -m tinyalbert.predict --model ./my-albert

Models are found as a local directory, the bundled tinyalbert-mini, or a Hub name in the
local Hugging Face cache (downloaded with huggingface_hub when it is installed and
HF_HUB_OFFLINE is not set).
"""

positive_int = int_at_least(1)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="python -m tinyalbert.predict",
        description="Predict the tokens hidden behind [MASK] in each text with an ALBERT masked-language model.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("texts", nargs="*", metavar="TEXT",
                        help="texts holding one or more [MASK]; with none, texts are read from standard "
                             "input, one per line (blank lines skipped)")
    parser.add_argument("--model", default="tinyalbert-mini", metavar="DIR_OR_NAME",
                        help="a model directory (config.json, model.safetensors, spiece.model), a Hub name "
                             "such as albert/albert-base-v2, or the bundled tinyalbert-mini (default: %(default)s)")
    parser.add_argument("--revision", default="main", metavar="REV",
                        help="for a Hub name: the branch, tag or commit hash to load (default: %(default)s)")
    parser.add_argument("--subfolder", default="", metavar="PATH",
                        help="the folder inside --model's directory or Hub repository that holds the model files, "
                             "as from_pretrained(subfolder=...) takes it")
    parser.add_argument("--top-k", type=positive_int, metavar="K",
                        help=f"how many predictions to show for each mask (default: {DEFAULT_TOP_K}); with "
                             "text-classification, the K best labels, with question-answering the K best answers")
    candidates = parser.add_mutually_exclusive_group()
    candidates.add_argument("--targets", nargs="+", metavar="WORD",
                            help="score only these candidates; a word that is not one vocabulary piece is "
                                 "replaced by its first piece, with a warning")
    candidates.add_argument("--whole-words", action="store_true",
                            help="show only pieces that start a word with a letter or digit (\"book\"; not the "
                                 "bare word start '', a word's end such as \"s\", or punctuation); scores stay "
                                 "probabilities over the whole vocabulary")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per text, {\"text\": ..., \"predictions\": ...}, where "
                             "predictions has the structure of Transformers' fill-mask pipeline output; written "
                             "a batch at a time as standard input is read")
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                        help="array library running the model: numpy (CPU) or cupy (CUDA GPU) (default: %(default)s)")
    parser.add_argument("--dtype", choices=("float32", "float16", "float64"), default="float32",
                        help="floating-point type of the weights and activations (default: %(default)s)")
    parser.add_argument("--truncate", action="store_true",
                        help="cut texts longer than the model's positions instead of stopping with an error "
                             "(question-answering: cut a long question; a long --context is always read in windows; "
                             "token-classification: cut a long text, which is otherwise tagged in overlapping "
                             "windows unless --aggregation-strategy is none)")
    parser.add_argument("--batch-size", type=positive_int, default=8, metavar="N",
                        help="fill-mask: texts per forward pass (default: %(default)s); the other tasks' pipelines "
                             "take it and run one text at a time, as Transformers' do by default")
    task = parser.add_argument_group("other tasks (output: one JSON object per text)")
    task.add_argument("--task", default="fill-mask", choices=("fill-mask",) + TASKS,
                      help="the pipeline to run, with a model fine-tuned for it (default: %(default)s)")
    task.add_argument("--context", metavar="TEXT", help="question-answering: the text the answers come from; "
                      "the TEXTs are the questions")
    task.add_argument("--handle-impossible-answer", action="store_true",
                      help="question-answering: answer \"\" (no answer) where the model scores [CLS] above every "
                           "span, for a model fine-tuned on SQuAD v2.0 (finetune --version-2-with-negative)")
    task.add_argument("--aggregation-strategy", choices=("none", "simple", "first", "average", "max"),
                      help="token-classification: how pieces become entities (default: simple)")
    return parser


def given_options(args) -> list[str]:
    """The task-specific options (TASK_OPTIONS) the user gave."""
    values = {"--top-k": args.top_k, "--targets": args.targets, "--whole-words": args.whole_words or None,
              "--context": args.context, "--handle-impossible-answer": args.handle_impossible_answer or None,
              "--aggregation-strategy": args.aggregation_strategy}
    return [option for option, value in values.items() if value is not None]


def check_options_fit_task(args) -> None:
    """Refuse an option the chosen task would ignore, and a question-answering without --context."""
    for option in given_options(args):
        if args.task not in TASK_OPTIONS[option]:
            tasks = " or ".join(f"--task {task}" for task in TASK_OPTIONS[option])
            raise UsageError(f"{option} does not apply to --task {args.task}; it is for {tasks}: leave it out")
    if args.task == "question-answering" and not args.context:
        raise UsageError("--task question-answering needs --context TEXT (the TEXTs are the questions)")


def question_limit(model, tokenizer) -> int:
    """The most pieces a question may have in the question-answering pipeline: its max_question_len
    (64), and few enough to leave a window of doc_stride context pieces beside it ([CLS] and two
    [SEP]s take 3), with the pipeline's default window."""
    from .task_pipelines import qa_window

    max_seq_len, doc_stride = qa_window(model, tokenizer)
    return max(0, min(64, max_seq_len - 3 - doc_stride))


def check_task_lengths(args, batch: list[tuple[str, str]], model, tokenizer) -> None:
    """Without --truncate, refuse a text of `batch` ((where, text) pairs) the task pipeline would
    cut (token-classification cuts quietly, text-classification fails with advice for the Python
    API), as fill-mask does."""
    from .task_pipelines import fitting_length

    if args.truncate or tagged_in_windows(args):
        return
    for where, text in batch:
        pieces = len(tokenizer.tokenize(text))
        if args.task == "question-answering":  # the context is read in windows: only the question is cut
            what, length, limit = "question", pieces, question_limit(model, tokenizer)
        else:
            what, length, limit = "text", pieces + tokenizer.num_special_tokens_to_add(), fitting_length(model, tokenizer)
        if length > limit:
            windows = " or an --aggregation-strategy other than none to tag it in windows" \
                if args.task == "token-classification" else ""
            raise UsageError(f"{where}: {what} {shorten(text, 60)!r} is {length} tokens long, but the model takes "
                             f"at most {limit}; pass --truncate to cut it{windows}")


def tagged_in_windows(args) -> bool:
    """Whether token classification reads a long text in overlapping windows (the pipeline's
    `stride`), which merging their entities needs a strategy other than "none" for."""
    return args.task == "token-classification" and not args.truncate and args.aggregation_strategy != "none"


def task_pipeline_options(args, model, tokenizer) -> dict:
    """The task pipeline's options from the command line: --aggregation-strategy, and --truncate
    in the form each pipeline takes it (--top-k goes with each call, see `run_task`)."""
    from .task_pipelines import fitting_length

    options = {}
    if args.task == "token-classification":
        options["aggregation_strategy"] = args.aggregation_strategy or "simple"
        if tagged_in_windows(args):  # neighbours share half a window (a text that fits is one window)
            options["stride"] = (fitting_length(model, tokenizer) - tokenizer.num_special_tokens_to_add()) // 2
    elif args.task == "text-classification":
        options["truncation"] = args.truncate
    elif args.truncate:  # question-answering: the question is cut to what leaves room for the context
        options["max_question_len"] = question_limit(model, tokenizer)
    return options


def run_task(args, texts: Iterator[tuple[str, str]], stdout) -> int:
    """A task pipeline on the texts ((where, text) pairs), one JSON line {"text", "predictions"}
    per text, written --batch-size texts at a time."""
    from .pipelines import pipeline

    model, tokenizer = load_model(args)
    options = task_pipeline_options(args, model, tokenizer)
    task_pipeline = pipeline(args.task, model=model, tokenizer=tokenizer, batch_size=args.batch_size, **options)
    # top_k in the call: a text-classification text then gives its K labels as one flat list.
    call_options = {} if args.top_k is None else {"top_k": args.top_k}
    if args.handle_impossible_answer:
        call_options["handle_impossible_answer"] = True

    def predict_batch(batch: list[tuple[str, str]]) -> list:
        check_task_lengths(args, batch, model, tokenizer)
        if args.task == "question-answering":
            return [task_pipeline(question=text, context=args.context, **call_options) for _, text in batch]
        return [task_pipeline(text, **call_options) for _, text in batch]

    write_json_lines(texts, predict_batch, args.batch_size, stdout, len(args.texts) or None)
    return 0


def write_json_lines(texts: Iterator[tuple[str, str]], predict_batch, batch_size: int, stdout,
                     count: int | None = None) -> None:
    """One JSON line {"text", "predictions"} per text, written and flushed `batch_size` texts at a
    time as `texts` ((where, text) pairs, `count` of them, None: not known) are read, so that a
    long input is never held whole, the results come as they are made, and an error at a later
    line leaves those before it written."""
    from .pipelines import batches

    done = 0
    with StreamProgress(batch_size, stdout, count) as progress:
        for batch in batches(texts, batch_size):
            try:
                outputs = predict_batch(batch)
            except UsageError as error:
                if done:
                    raise UsageError(f"{error}; the {done:,} texts before it were written") from None
                raise
            stdout.write("".join(json.dumps({"text": text, "predictions": output}, ensure_ascii=False,
                                            allow_nan=False) + "\n" for (_, text), output in zip(batch, outputs)))
            stdout.flush()
            done += len(batch)
            progress.update(len(batch))


class StreamProgress:
    """Texts done, and their rate, on standard error while results stream into a file or a pipe
    (on a terminal the results themselves show progress). Quiet for one batch or fewer, and when
    standard error is not a terminal (a log stays clean)."""

    def __init__(self, batch_size: int, stdout, count: int | None = None, stream=None):
        self.stream, self.count = sys.stderr if stream is None else stream, count
        self.shown = is_terminal(self.stream) and not is_terminal(stdout)
        self.batch_size, self.done, self.bar = batch_size, 0, None

    def __enter__(self) -> StreamProgress:
        return self

    def update(self, count: int) -> None:
        self.done += count
        if self.bar is None and self.shown and self.done > self.batch_size:  # the second batch: a long input
            self.bar = texts_progress(self.count, 0, self.stream, initial=self.done)
        elif self.bar is not None:
            self.bar.update(count)

    def __exit__(self, *exc_info) -> bool:
        if self.bar is not None:
            self.bar.close()
        return False


def texts_progress(count: int | None, batch_size: int, stream=None, initial: int = 0):
    """A tqdm bar on standard error over `count` texts (None: not known, a count and a rate), drawn
    only for more than one batch and on a terminal (a log file or a pipe stays clean), and cleared
    when done."""
    from tqdm import tqdm

    stream = sys.stderr if stream is None else stream
    shown = (count is None or count > batch_size) and is_terminal(stream)
    return tqdm(total=count, initial=initial, unit=" texts", file=stream, disable=not shown, leave=False,
                dynamic_ncols=True, mininterval=0, miniters=1)  # each update is a batch: slow enough to draw them all


def whole_word_pieces(tokenizer) -> list[str]:
    """The vocabulary pieces that begin a word with a letter or digit: "▁book", "▁1990", not "▁",
    "s", "▁(" or ".". A small model often ranks the bare word start "▁" first (the masked word then
    needs two pieces), which says nothing to a reader asking for a word."""
    from .tokenizer.text import SPIECE_UNDERLINE

    return [piece for piece in tokenizer.get_vocab() if piece.startswith(SPIECE_UNDERLINE) and piece[1:2].isalnum()]


def read_texts(arguments: list[str], stdin) -> Iterator[tuple[str, str]]:
    """The texts given as arguments, else the non-blank lines of `stdin`, as (where, text) pairs,
    where names the argument or line ("line 40000 of standard input") for an error about it. Each
    must be UTF-8. Lines are read as they are needed; an input with no text at all is refused now."""
    if arguments:
        for number, text in enumerate(arguments, start=1):
            check_utf8(text, f"TEXT argument {number}")
        return iter([(f"TEXT argument {number}", text) for number, text in enumerate(arguments, start=1)])
    if stdin is None:
        raise UsageError("no texts given and no standard input to read them from (see --help)")
    if stdin.isatty():
        print("reading texts from standard input, one per line; end with Ctrl-D", file=sys.stderr)
    texts = ((f"line {number} of standard input", line.rstrip("\r\n")) for number, line in stdin_lines(stdin))
    texts = ((where, text) for where, text in texts if text.strip())
    first = next(texts, None)
    if first is None:
        raise UsageError("no texts given: pass them as arguments or one per line on standard input (see --help)")
    return itertools.chain([first], texts)


def stdin_lines(stdin) -> Iterator[tuple[int, str]]:
    """The lines of standard input as UTF-8 text, with their numbers, as they are read; read as
    bytes where possible so that a line that is not UTF-8 can be named by its number."""
    raw = getattr(stdin, "buffer", None)
    for number, line in enumerate(stdin if raw is None else raw, start=1):
        where = f"line {number} of standard input"
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as error:
                raise UsageError(not_utf8_message(where, line[error.start], error.start + 1)) from None
        check_utf8(line, where)
        yield number, line


def check_utf8(text: str, where: str) -> None:
    """Refuse text that came from bytes that are not UTF-8 (Python keeps them as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        byte = ord(text[error.start]) - 0xDC00  # surrogateescape keeps byte b as U+DC00 + b
        raise UsageError(not_utf8_message(where, byte, error.start + 1)) from None


def not_utf8_message(where: str, byte: int, column: int) -> str:
    return (f"{where} is not UTF-8 text (byte {byte:#04x} at character {column}): convert it to UTF-8 "
            "(e.g. iconv -f latin1 -t utf-8) or leave that text out")


def find_model_directory(name: str, revision: str = "main", subfolder: str = ""):
    """The directory of --model NAME (at --revision REV, for a Hub name; its folder SUBFOLDER),
    with a config.json and a spiece.model file in it."""
    from .hub import DEFAULT_MODEL, resolve_model_dir

    try:
        directory = resolve_model_dir(name, revision, subfolder=subfolder)
    except FileNotFoundError as error:
        message = str(error)
        if name == DEFAULT_MODEL:
            message += "; choose a model with --model DIR_OR_NAME (e.g. --model albert/albert-base-v2)"
        raise UsageError(message) from None
    if not (directory / "config.json").is_file():
        raise UsageError(no_config_message(name, directory))
    if (directory / "spiece.model").is_dir():
        raise UsageError(f"{directory / 'spiece.model'} is a directory, not a SentencePiece model file: --model "
                         "needs the tokenizer's spiece.model file in the model directory")
    return directory


def no_config_message(name: str, directory) -> str:
    """No config.json in --model's directory; a training run's folder (pretrain's OUT, finetune's)
    holds its models one level down, in final/ or best/ and checkpoint/: point at them."""
    from .hub import models_inside

    inner = models_inside(directory)
    if not inner:
        # A Hub name stands for a folder of the cache: name that folder too.
        where = name if Path(name).expanduser().resolve() == Path(directory).resolve() else f"{name} ({directory})"
        return (f"no config.json in {where}: --model needs a model directory (config.json, model.safetensors, "
                "spiece.model)")
    models = " and ".join(str(Path(name) / folder) for folder in inner)
    return (f"no config.json in {name}, which looks like a training run's folder: its models are in {models}; "
            f"pass --model {Path(name) / inner[0]}")


def load_model(args):
    """The model for --task (its head class) and its tokenizer. Refused, as one UsageError a user
    can act on: weights the checkpoint lacks (they would start random), weights that do not fit
    config.json, a pad_token_id outside the vocabulary (the model refuses it), NaN or infinite weights."""
    from .models import AlbertForMaskedLM
    from .task_pipelines import task_model_class
    from .tokenizer import AlbertTokenizer
    from .weights import MismatchedShapeError, nonfinite_tensors

    check_backend_available(args.backend)
    directory = find_model_directory(args.model, args.revision, args.subfolder)
    model_class = AlbertForMaskedLM if args.task == "fill-mask" else task_model_class(args.task)
    # The loading warnings wait for the check of missing weights, which are refused by name: such a
    # checkpoint gets one error line, not also warnings about what it lacks or holds instead.
    with warnings.catch_warnings(record=True) as loading_warnings:
        warnings.simplefilter("always")
        try:
            model, loading = model_class.from_pretrained(directory, backend=args.backend, dtype=args.dtype,
                                                         output_loading_info=True)
        except MismatchedShapeError as error:  # its advice, ignore_mismatched_sizes=True, is for Python callers
            raise UsageError(f"{directory}: tensor {error.name!r} has shape {error.found}, but the config asks for "
                             f"{error.wanted}: put back the config.json saved with these weights, or choose another "
                             "--model") from None
        except ValueError as error:
            raise UsageError(str(error)) from None
    if loading["missing_keys"]:
        raise UsageError(missing_weights_message(args, model, loading))
    for caught in loading_warnings:  # the checkpoint holds the whole model: what loading had to say
        warnings.warn(caught.message, caught.category, stacklevel=2)
    trained = trained_for(model.config, [])
    if trained is not None and trained != args.task:  # a head of the right shape, trained for another job
        raise UsageError(f"model {args.model} was trained for {trained} (its config.json names "
                         f"{', '.join(model.config.architectures)}): its weights would be read as a {args.task} "
                         f"head and the predictions be meaningless; run it with --task {trained}")
    broken = nonfinite_tensors(model.params)
    if broken:
        raise UsageError(f"model {args.model} has NaN or infinite weights in {len(broken)} tensor(s) "
                         f"({', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''}); its predictions would "
                         "be meaningless: use another checkpoint")
    return model, AlbertTokenizer.from_pretrained(directory)


def weight_groups(names: list[str]) -> list[str]:
    """Parameter names as the modules holding them: "predictions.*", "albert.pooler.*"."""
    return sorted({".".join(name.split(".")[:2 if name.startswith("albert.") else 1]) + ".*" for name in names})


def trained_for(config, unused_names: list[str]) -> str | None:
    """The --task a checkpoint looks trained for ("A or B" when its head serves two): the one of the
    model class its config.json names, else the one of a head it holds that this task's model
    does not use."""
    for architecture in config.architectures or []:
        if architecture in ARCHITECTURE_TASKS:
            return ARCHITECTURE_TASKS[architecture]
    heads = [HEAD_TASKS[name.split(".")[0]] for name in unused_names if name.split(".")[0] in HEAD_TASKS]
    return heads[0] if heads else None


def missing_weights_message(args, model, loading: dict) -> str:
    """Why predictions from this checkpoint would be meaningless: the weights it lacks (the model's
    body, or the head --task needs) would start random. Says what the checkpoint looks trained for."""
    missing = loading["missing_keys"]
    in_body = ("albert.embeddings.", "albert.encoder.")
    body = [name for name in missing if name.startswith(in_body)]
    if body:
        whole_body = [name for name in model.state_dict() if name.startswith(in_body)]
        return (f"model {args.model} lacks {len(body)} of the {len(whole_body)} weight tensors of its body "
                f"({', '.join(weight_groups(body))}): initialized at random, its predictions would be meaningless; "
                "use a complete checkpoint")
    message = (f"model {args.model} has no {args.task} head: its checkpoint lacks {', '.join(weight_groups(missing))}, "
               "which would start at random and make the predictions meaningless")
    trained = trained_for(model.config, loading["unexpected_keys"])
    if trained is not None and trained != args.task:
        tasks = " or ".join(f"--task {task}" for task in trained.split(" or "))
        message += f"; it looks trained for {trained}: run it with {tasks}, or"
    else:
        message += ";"
    if args.task == "fill-mask":
        return message + " choose a pretrained model with --model (e.g. tinyalbert-mini)"
    return message + f" fine-tune it for {args.task} first (python -m tinyalbert.finetune --task {args.task} ...)"


def check_scores(batch: list[tuple[str, str]], outputs: list, dtype: str) -> None:
    """Refuse to print scores that are not numbers (a float16 overflow, say): JSON has no NaN.
    `batch`: the texts as (where, text) pairs, `outputs` their predictions."""
    for (where, text), output in zip(batch, outputs):
        for predictions in predictions_per_mask(output):
            if not all(math.isfinite(prediction["score"]) for prediction in predictions):
                hint = "; try --dtype float32" if dtype == "float16" else ""
                raise UsageError(f"{where}: the model gave scores that are not numbers (NaN or inf) for text "
                                 f"{shorten(text, 60)!r}{hint}")


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def predictions_per_mask(predictions) -> list[list[dict]]:
    """The pipeline output for one text as a list per mask (one text with one mask gives a flat list)."""
    return [predictions] if predictions and isinstance(predictions[0], dict) else list(predictions)


def format_table(texts: list[str], outputs: list) -> str:
    """An aligned table: text, (mask,) rank, token, score, sequence; the text on its first row only."""
    several_masks = any(len(predictions_per_mask(output)) > 1 for output in outputs)
    header = ["text"] + (["mask"] if several_masks else []) + ["rank", "token", "score", "sequence"]
    rows = []
    for text, output in zip(texts, outputs):
        first = True
        for mask_index, predictions in enumerate(predictions_per_mask(output), start=1):
            for rank, prediction in enumerate(predictions, start=1):
                token = prediction["token_str"] or repr(prediction["token_str"])
                row = [shorten(text, MAX_TEXT_COLUMN) if first else ""]
                row += [str(mask_index)] if several_masks else []
                row += [str(rank), token, f"{prediction['score']:.4f}", prediction["sequence"]]
                rows.append(row)
                first = False
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
    numeric = {header.index(name) for name in ("mask", "rank", "score") if name in header}

    def line(cells):
        padded = [cell.rjust(width) if i in numeric else cell.ljust(width)
                  for i, (cell, width) in enumerate(zip(cells, widths))]
        padded[-1] = cells[-1]  # no trailing spaces after the last column
        return "  ".join(padded)

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(row) for row in rows])


def other_case_hint(text: str, mask_token: str) -> str:
    """A hint for a mask token written in another case ("[mask]"): the tokenizer matches its
    special tokens exactly, so "[mask]" is text to it, split into pieces like any other."""
    written = re.search(re.escape(mask_token), text, flags=re.IGNORECASE)
    return f" (the {written.group()!r} of the text is not it: write it in capitals)" if written else ""


def run(argv: list[str] | None = None, stdin=None, stdout=None) -> int:
    """Parse `argv`, predict, print; returns the exit status. Raises UsageError for a user's mistake."""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    args = build_parser().parse_args(argv)
    check_options_fit_task(args)
    texts = read_texts(args.texts, stdin)
    if args.task != "fill-mask":
        return run_task(args, texts, stdout)
    from .pipelines import batches, pipeline

    model, tokenizer = load_model(args)
    # The targets are the pipeline's own: looked up (and warned about) once, not for every batch.
    targets = whole_word_pieces(tokenizer) if args.whole_words else args.targets
    fill_mask = pipeline("fill-mask", model=model, tokenizer=tokenizer, top_k=args.top_k or DEFAULT_TOP_K,
                         batch_size=args.batch_size, truncation=args.truncate, targets=targets)

    def predict_batch(batch: list[tuple[str, str]]) -> list:
        outputs = fill_masks(fill_mask, batch)
        check_scores(batch, outputs, args.dtype)
        return outputs

    if args.json:
        write_json_lines(texts, predict_batch, args.batch_size, stdout, len(args.texts) or None)
        return 0
    # The table is aligned over all its rows: it is printed once every text is done.
    texts = list(texts)
    with texts_progress(len(texts), args.batch_size) as bar:
        outputs = []
        for batch in batches(iter(texts), args.batch_size):  # one batch at a time, for the progress bar
            outputs += predict_batch(batch)
            bar.update(len(batch))
    stdout.write(format_table([text for _, text in texts], outputs) + "\n")
    stdout.flush()
    return 0


def fill_masks(fill_mask, batch: list[tuple[str, str]]) -> list:
    """The fill-mask pipeline's result for each text of `batch` ((where, text) pairs); a text it
    cannot take is one UsageError naming where it was."""
    from .pipelines import MissingMaskError, TextTooLongError

    texts = [text for _, text in batch]
    try:
        outputs = fill_mask(texts)
    except (MissingMaskError, TextTooLongError) as error:
        where = next(where for where, text in batch if text == error.text)
        if isinstance(error, TextTooLongError):
            raise UsageError(f"{where}: text {shorten(error.text, 60)!r} is {error.length} tokens long, but the model "
                             f"takes at most {error.limit}; pass --truncate to cut it") from None
        if error.truncated_to:
            raise UsageError(f"{where}: no {error.mask_token} left in text {shorten(error.text, 60)!r} after "
                             f"--truncate cut it to {error.truncated_to} tokens: put {error.mask_token} nearer "
                             "the start") from None
        raise UsageError(f"{where}: no {error.mask_token} in text {shorten(error.text, 60)!r}: put {error.mask_token} "
                         f"where a token should be predicted{other_case_hint(error.text, error.mask_token)}") from None
    return [outputs] if len(texts) == 1 else outputs  # a list of one text comes unwrapped


def main(argv: list[str] | None = None) -> int:
    # The pipeline reports replaced targets through logging; show them as plain warnings.
    package_logger = logging.getLogger("tinyalbert")
    if not any(getattr(h, "name", None) == "tinyalbert.predict" for h in package_logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name("tinyalbert.predict")
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        package_logger.addHandler(handler)
        package_logger.propagate = False
    if (sys.stdout.encoding or "").lower().replace("-", "") != "utf8":
        sys.stdout.reconfigure(errors="backslashreplace")  # pieces like "▁" must not crash a non-UTF-8 terminal
    # Warnings (weights initialized afresh, NaN weights, a shadowed bundled model) as one line each.
    with warnings.catch_warnings():
        warnings.showwarning = show_warning_on_one_line
        # NumPy's overflow notes say nothing a user can act on; scores that are not numbers are refused.
        warnings.filterwarnings("ignore", category=RuntimeWarning, message=".*(overflow|invalid value)")
        return run_reporting_errors(argv)


def run_reporting_errors(argv: list[str] | None) -> int:
    """`run`, with every failure turned into one `error:` line and an exit status."""
    try:
        return run(argv)
    except UsageError as error:  # on one line even when it quotes a text holding line breaks
        print_error(error)
        return EXIT_USAGE
    except (ValueError, OSError, RuntimeError) as error:  # e.g. a corrupt checkpoint or tokenizer file
        if isinstance(error, BrokenPipeError):  # `... | head` closed the output early
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        print_error(error)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug rather than a mistake of the user: still one line, unless asked
        if os.environ.get("TINYALBERT_TRACEBACK"):
            raise
        print(f"error: unexpected {type(error).__name__}: {' '.join(str(error).split())} "
              "(set TINYALBERT_TRACEBACK=1 to see where it happened)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
