"""`python -m tinyalbert.predict`: fill in the `[MASK]` of texts from the command line.

Loads an ALBERT masked-language model, runs the fill-mask pipeline on the texts given as
arguments (or, when there are none, on standard input, one text per line) and prints the top
predictions as a table, or as JSON lines with `--json`.

Mistakes a user can make (no `[MASK]`, a text too long, an unknown model, a broken config.json,
weights that are NaN, no GPU for `cupy`, a bad `--top-k`) end with one line `error: ...` on
standard error and exit status 2; warnings come before it as `warning: ...` lines.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import warnings

from .cli import OneLineErrorParser, UsageError, int_at_least, print_error

EXIT_USAGE = 2
MAX_TEXT_COLUMN = 40  # wider texts are shortened in the table (the sequence column shows them whole)

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
    parser.add_argument("--top-k", type=positive_int, default=5, metavar="K",
                        help="how many predictions to show for each mask (default: %(default)s)")
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
                             "predictions has the structure of Transformers' fill-mask pipeline output")
    parser.add_argument("--backend", choices=("numpy", "cupy"), default="numpy",
                        help="array library running the model: numpy (CPU) or cupy (CUDA GPU) (default: %(default)s)")
    parser.add_argument("--dtype", choices=("float32", "float16", "float64"), default="float32",
                        help="floating-point type of the weights and activations (default: %(default)s)")
    parser.add_argument("--truncate", action="store_true",
                        help="cut texts longer than the model's positions instead of stopping with an error")
    parser.add_argument("--batch-size", type=positive_int, default=8, metavar="N",
                        help="texts per forward pass (default: %(default)s)")
    task = parser.add_argument_group("other tasks (output: one JSON object per text)")
    task.add_argument("--task", default="fill-mask", choices=("fill-mask",) + TASKS,
                      help="the pipeline to run, with a model fine-tuned for it (default: %(default)s)")
    task.add_argument("--context", metavar="TEXT", help="question-answering: the text the answers come from; "
                      "the TEXTs are the questions")
    task.add_argument("--aggregation-strategy", default="simple", choices=("none", "simple", "first", "average", "max"),
                      help="token-classification: how pieces become entities (default: %(default)s)")
    return parser


TASKS = ("text-classification", "token-classification", "question-answering")


def run_task(args, texts: list[str], stdout) -> int:
    """A task pipeline on the texts, one JSON line {"text", "predictions"} per text."""
    from .pipelines import pipeline

    options = {"aggregation_strategy": args.aggregation_strategy} if args.task == "token-classification" else {}
    if args.task == "question-answering" and not args.context:
        raise UsageError("--task question-answering needs --context TEXT (the TEXTs are the questions)")
    try:
        task_pipeline = pipeline(args.task, model=args.model, backend=args.backend, dtype=args.dtype, **options)
    except FileNotFoundError as error:
        raise UsageError(str(error)) from None
    for text in texts:
        output = task_pipeline(question=text, context=args.context) if args.task == "question-answering" \
            else task_pipeline(text)
        stdout.write(json.dumps({"text": text, "predictions": output}, ensure_ascii=False) + "\n")
    stdout.flush()
    return 0


def whole_word_pieces(tokenizer) -> list[str]:
    """The vocabulary pieces that begin a word with a letter or digit: "▁book", "▁1990", not "▁",
    "s", "▁(" or ".". A small model often ranks the bare word start "▁" first (the masked word then
    needs two pieces), which says nothing to a reader asking for a word."""
    from .tokenizer.text import SPIECE_UNDERLINE

    return [piece for piece in tokenizer.get_vocab() if piece.startswith(SPIECE_UNDERLINE) and piece[1:2].isalnum()]


def read_texts(arguments: list[str], stdin) -> list[str]:
    """The texts given as arguments, else the non-blank lines of `stdin`."""
    if arguments:
        return list(arguments)
    if stdin is None:
        raise UsageError("no texts given and no standard input to read them from (see --help)")
    if stdin.isatty():
        print("reading texts from standard input, one per line; end with Ctrl-D", file=sys.stderr)
    texts = [line.rstrip("\r\n") for line in stdin]
    texts = [text for text in texts if text.strip()]
    if not texts:
        raise UsageError("no texts given: pass them as arguments or one per line on standard input (see --help)")
    return texts


def load_pipeline(args):
    """The fill-mask pipeline, with each failure turned into a UsageError a user can act on."""
    from .backend import get_backend
    from .hub import DEFAULT_MODEL
    from .pipelines import pipeline
    from .weights import nonfinite_tensors

    if args.backend == "cupy":
        try:
            get_backend("cupy")
        except RuntimeError as error:
            cause = error.__context__  # the ImportError or CUDA error behind it
            reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(error)
            raise UsageError(f"--backend cupy needs CuPy and a CUDA GPU ({' '.join(reason.split())}); "
                             "install CuPy (pip install cupy-cuda12x) or use --backend numpy") from None
    try:
        fill_mask = pipeline("fill-mask", model=args.model, top_k=args.top_k, backend=args.backend,
                             dtype=args.dtype, batch_size=args.batch_size, truncation=args.truncate)
    except FileNotFoundError as error:
        message = str(error)
        if args.model == DEFAULT_MODEL:
            message += "; choose a model with --model DIR_OR_NAME (e.g. --model albert/albert-base-v2)"
        raise UsageError(message) from None
    broken = nonfinite_tensors(fill_mask.model.params)
    if broken:
        raise UsageError(f"model {args.model} has NaN or infinite weights in {len(broken)} tensor(s) "
                         f"({', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''}); its predictions would "
                         "be meaningless: use another checkpoint")
    return fill_mask


def check_scores(texts: list[str], outputs: list, dtype: str) -> None:
    """Refuse to print scores that are not numbers (a float16 overflow, say): JSON has no NaN."""
    for text, output in zip(texts, outputs):
        for predictions in predictions_per_mask(output):
            if not all(math.isfinite(prediction["score"]) for prediction in predictions):
                hint = "; try --dtype float32" if dtype == "float16" else ""
                raise UsageError(f"the model gave scores that are not numbers (NaN or inf) for text "
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


def run(argv: list[str] | None = None, stdin=None, stdout=None) -> int:
    """Parse `argv`, predict, print; returns the exit status. Raises UsageError for a user's mistake."""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    args = build_parser().parse_args(argv)
    texts = read_texts(args.texts, stdin)
    if args.task != "fill-mask":
        return run_task(args, texts, stdout)
    fill_mask = load_pipeline(args)
    from .pipelines import MissingMaskError, TextTooLongError

    try:
        targets = whole_word_pieces(fill_mask.tokenizer) if args.whole_words else args.targets
        outputs = fill_mask(texts, targets=targets)
    except MissingMaskError as error:
        if error.truncated_to:
            raise UsageError(f"no {error.mask_token} left in text {shorten(error.text, 60)!r} after --truncate "
                             f"cut it to {error.truncated_to} tokens: put {error.mask_token} nearer the start") from None
        raise UsageError(f"no {error.mask_token} in text {shorten(error.text, 60)!r}: "
                         f"put {error.mask_token} where a token should be predicted") from None
    except TextTooLongError as error:
        raise UsageError(f"text {shorten(error.text, 60)!r} is {error.length} tokens long, but the model takes "
                         f"at most {error.limit}; pass --truncate to cut it") from None
    if len(texts) == 1:  # the pipeline unwraps a batch of one
        outputs = [outputs]
    check_scores(texts, outputs, args.dtype)
    if args.json:
        for text, output in zip(texts, outputs):
            stdout.write(json.dumps({"text": text, "predictions": output}, ensure_ascii=False, allow_nan=False) + "\n")
    else:
        stdout.write(format_table(texts, outputs) + "\n")
    stdout.flush()
    return 0


def show_warning_on_one_line(message, category, filename, lineno, file=None, line=None):
    """`warnings.showwarning` for a command line: `warning: ...`, without file and source line."""
    print_error(message, prefix="warning")


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
