"""`python -m tinyalbert.finetune`: fine-tune an ALBERT on a labelled task.

Tasks and files (see `tinyalbert.task_data` for the fields):
  text-classification    CSV or JSON lines (.jsonl, .json): text [, text_pair], label (a class, a number for a regression,
                         or a list of classes for a multi-label classification); columns of other
                         names with --text-column, --text-pair-column, --label-column; integer
                         class ids (GLUE's labels) named with --label-names
  token-classification   JSONL: tokens, tags (BIO tags for the entity F1; other tags: tag accuracy;
                         integer tag ids named with --tag-names); --tokens-column, --tags-column
  question-answering     SQuAD v1.1 JSON; SQuAD v2.0's, with its questions without an answer,
                         with --version-2-with-negative
  multiple-choice        JSONL: question, choices, answer; SWAG's columns (CSV or JSONL: sent1, sent2,
                         ending0 to ending3, label) with --layout swag, RACE's (JSONL: article,
                         question, options, answer letter) with --layout race

Text classification is a regression (one output, mean squared error) when the train file's
labels are numbers and some have a decimal point (3.8, 4.0), and a multi-label classification
(one sigmoid per class, binary cross-entropy) when they are lists of class names (JSONL:
["sports", "politics"], [] for none; CSV: a cell split on --label-separator), as Transformers'
run_glue.py and run_classification.py decide from the type of the label column; --problem-type
chooses instead.

A question whose context does not fit --max-seq-length is split into overlapping windows
(--doc-stride pieces shared by neighbours), one training feature each, labelled with the answer's
span or [CLS] when the answer is not wholly inside; the evaluation scores every window and keeps
the best span across them, one answer per question. With --version-2-with-negative (SQuAD v2.0,
as run_qa.py's --version_2_with_negative) a question without an answer labels every window
[CLS], and the answer is "" when [CLS]'s score beats the best span's.

Each epoch ends with an evaluation on --validation (accuracy and macro-F1; for a regression
Pearson and Spearman correlation and mean squared error; for a multi-label classification
micro-F1, macro-F1 over the classes and subset accuracy; entity precision,
recall and F1 and tag accuracy, or tag accuracy alone for tags that are not BIO; SQuAD exact
match and F1, SQuAD v2.0's exact and F1 over all questions and over those with and without an
answer; accuracy), and the validation loss but for question answering, as Transformers' Trainer
reports eval_loss; OUT/metrics.jsonl holds them, one line per epoch, and OUT/curves.png draws
them beside the training loss (with matplotlib installed). The best epoch's model and tokenizer
go to OUT/best (loadable by Transformers too), the last epoch's to OUT/checkpoint, from which --resume continues. With
--test FILE (a file of the same kind as --train), the best epoch's model is scored on it once the
last epoch is done: OUT/test_results.json holds the metrics, OUT/test_predictions.jsonl each
example's prediction beside its reference. The last line printed is a JSON summary: the best
epoch's metrics, the metric that chose it, and the test file's metrics.

--eval-only scores a model already fine-tuned (--model, with its config.json's labels and
problem type) on --validation and/or --test without training, into OUT/validation_results.json,
OUT/validation_predictions.jsonl and the test files; --train is not read.

Exit status: 0 done; 1 the loss became inf or nan; 2 a usage error (a missing or malformed
file, a bad option), reported on one `error:` line; 130 interrupted with Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import sys

from .cli import OneLineErrorParser, UsageError, print_error, show_warning_on_one_line

EXIT_DIVERGED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
TASKS = ("text-classification", "token-classification", "question-answering", "multiple-choice")

EXAMPLES = """\
examples:
  python -m tinyalbert.finetune --task text-classification --model tinyalbert-mini \\
      --train train.csv --validation dev.csv --out runs/topics --epochs 3 --lr 1e-4
  python -m tinyalbert.finetune --task text-classification --model tinyalbert-mini \\
      --train sts-train.csv --validation sts-dev.csv --out runs/similarity   # labels 0.0 to 5.0: a regression
  python -m tinyalbert.finetune --task text-classification --model tinyalbert-mini \\
      --train tags.csv --validation tags-dev.csv --out runs/tags --label-separator "|"   # sports|politics
  python -m tinyalbert.finetune --task text-classification --model tinyalbert-mini \\
      --train mrpc-train.csv --validation mrpc-dev.csv --out runs/mrpc \\
      --text-column sentence1 --text-pair-column sentence2 \\
      --label-names not_equivalent,equivalent   # GLUE's columns: sentence1,sentence2,label (0 or 1)
  python -m tinyalbert.finetune --task token-classification --model tinyalbert-mini \\
      --train conll-train.jsonl --validation conll-dev.jsonl --out runs/ner --tags-column ner_tags \\
      --tag-names O,B-PER,I-PER,B-ORG,I-ORG,B-LOC,I-LOC,B-MISC,I-MISC   # CoNLL-2003 from datasets
  python -m tinyalbert.finetune --task multiple-choice --model tinyalbert-mini \\
      --train swag-train.csv --validation swag-val.csv --out runs/swag --layout swag   # SWAG's csv
  python -m tinyalbert.finetune --task multiple-choice --model path/to/albert-base-v2 \\
      --train race-train.jsonl --validation race-dev.jsonl --out runs/race --layout race \\
      --max-seq-length 512   # RACE from datasets: dataset["train"].to_json("race-train.jsonl")
  python -m tinyalbert.finetune --task question-answering --model path/to/albert-base-v2 \\
      --train train-v1.1.json --validation dev-v1.1.json --out runs/squad --batch-size 8 \\
      --max-seq-length 384 --doc-stride 128
  python -m tinyalbert.finetune --task question-answering --model path/to/albert-base-v2 \\
      --train train-v2.0.json --validation dev-v2.0.json --out runs/squad2 --batch-size 8 \\
      --max-seq-length 384 --doc-stride 128 --version-2-with-negative   # SQuAD v2.0
  python -m tinyalbert.finetune ... --out runs/topics --resume     # continue after the last epoch
  python -m tinyalbert.finetune --task text-classification --model tinyalbert-mini \\
      --train train.csv --validation dev.csv --test test.csv --out runs/topics   # + OUT/test_results.json
  python -m tinyalbert.finetune --task text-classification --model runs/topics/best --eval-only \\
      --test test.csv --out runs/topics-test   # score a fine-tuned model, no training
  mpiexec -n 2 python -m tinyalbert.finetune ...   # two processes, each with its block of every batch
"""

def _checked(name: str):
    """An argparse `type` for the numeric field `name` of FinetuneArguments, held to that class's
    own limits, so that the command line and callers from Python share one set of them."""
    from .finetune_args import INTEGER_MINIMUMS, checked_field

    def parse(text: str):
        try:
            value = int(text) if name in INTEGER_MINIMUMS else float(text)
        except ValueError:
            value = text  # checked_field says what it must be
        try:
            return checked_field(name, value)
        except ValueError as error:  # argparse puts "argument --name:" before it
            raise argparse.ArgumentTypeError(str(error).removeprefix(f"{name} ")) from None

    return parse


def _names(text: str) -> list[str]:
    """An argparse `type` for a comma-separated list of names, the spaces around each taken off
    (FinetuneArguments checks what is left)."""
    return [name.strip() for name in text.split(",")]


def build_parser() -> argparse.ArgumentParser:
    from .finetune_args import PROBLEM_TYPES, FinetuneArguments
    from .task_data import MULTIPLE_CHOICE_LAYOUTS

    defaults = {f.name: f.default for f in FinetuneArguments.__dataclass_fields__.values()}
    parser = OneLineErrorParser(prog="python -m tinyalbert.finetune", description=__doc__.split("\n\n")[0],
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", required=True, choices=TASKS)
    parser.add_argument("--model", required=True, metavar="DIR_OR_NAME",
                        help="a model directory with spiece.model, a Hub name in the cache, or tinyalbert-mini")
    parser.add_argument("--train", metavar="FILE", help="the file to fine-tune on (required, except with --eval-only)")
    parser.add_argument("--validation", metavar="FILE", help="scored after each epoch to pick the best one "
                        "(required, except with --eval-only)")
    parser.add_argument("--test", metavar="FILE", help="a file of the same kind, scored once with the best epoch's "
                        "model after the last epoch (or with --model, with --eval-only): OUT/test_results.json, "
                        "OUT/test_predictions.jsonl")
    parser.add_argument("--eval-only", action="store_true",
                        help="no training: score --model, a fine-tuned model (its config.json's labels and problem "
                             "type), on --validation and/or --test, into OUT/validation_results.json, "
                             "OUT/test_results.json and their *_predictions.jsonl")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output directory (best/, checkpoint/, metrics.jsonl, curves.png; the *_results.json "
                             "and *_predictions.jsonl of --test and --eval-only)")
    parser.add_argument("--epochs", type=_checked("epochs"), default=defaults["epochs"], metavar="N",
                        help="passes over --train, each ended by an evaluation on --validation (default: %(default)s)")
    parser.add_argument("--batch-size", type=_checked("batch_size"), default=defaults["batch_size"], metavar="B",
                        help="examples per optimizer step (default: %(default)s)")
    parser.add_argument("--lr", type=_checked("lr"), default=defaults["lr"], help="peak learning rate (default: %(default)s)")
    parser.add_argument("--warmup-ratio", type=_checked("warmup_ratio"), default=defaults["warmup_ratio"], metavar="F",
                        help="share of the steps spent warming up, then linear decay to 0 (default: %(default)s)")
    parser.add_argument("--weight-decay", type=_checked("weight_decay"), default=defaults["weight_decay"], metavar="W",
                        help="AdamW's decoupled decay, none on LayerNorm and biases (default: %(default)s)")
    parser.add_argument("--clip-norm", type=_checked("clip_norm"), default=defaults["clip_norm"], metavar="C",
                        help="global gradient-norm clip, 0 for none (default: %(default)s)")
    parser.add_argument("--max-seq-length", type=_checked("max_seq_length"), default=defaults["max_seq_length"], metavar="L",
                        help="tokens per sequence, [CLS] and [SEP] included (default: %(default)s); question answering "
                             "splits a longer context, and token classification a longer sentence, into overlapping "
                             "windows of this length, one feature each")
    parser.add_argument("--doc-stride", type=_checked("doc_stride"), metavar="S",
                        help="question answering: how many context pieces neighbouring windows share, fewer than the "
                             "room a window leaves beside the question; token classification: the same for the "
                             "windows a sentence longer than --max-seq-length is split into (default: 128, as "
                             "Transformers' run_qa.py, or half of --max-seq-length when that is shorter than 256, and "
                             "fewer than a 64-piece question leaves: 60 at 128)")
    parser.add_argument("--max-answer-length", type=_checked("max_answer_length"), default=defaults["max_answer_length"],
                        metavar="N", help="question answering: the longest answer the evaluation picks, in tokens; "
                        "the best-scoring span across all windows of a context wins (default: %(default)s)")
    parser.add_argument("--version-2-with-negative", action="store_true",
                        help="question-answering: SQuAD v2.0, whose questions without an answer (\"answers\": [], "
                             "is_impossible true) are read, trained to point at [CLS] and answered \"\" when the "
                             "null score ([CLS]'s start + end logit, the least over a context's windows) beats the "
                             "best span's score by more than --null-score-diff-threshold; scored by the official "
                             "v2.0 script's exact, f1 (which picks the best epoch) and their HasAns_ and NoAns_ "
                             "parts, as run_qa.py's --version_2_with_negative does. Without it, such a question is "
                             "an error")
    parser.add_argument("--null-score-diff-threshold", type=_checked("null_score_diff_threshold"),
                        default=defaults["null_score_diff_threshold"], metavar="T",
                        help="with --version-2-with-negative: the answer is \"\" when null score - best span's score "
                             "> T; a higher T answers more often (default: %(default)s, as run_qa.py)")
    parser.add_argument("--problem-type", choices=PROBLEM_TYPES,
                        help="text-classification: regression (one output trained with mean squared error, scored "
                             "by Pearson and Spearman correlation and MSE, the best epoch by Pearson), "
                             "single_label_classification (each label a class) or multi_label_classification "
                             "(each label a list of classes, one sigmoid each, scored by micro-F1, which picks the "
                             "best epoch, macro-F1 and subset accuracy); default: multi-label when the labels of "
                             "--train are lists, regression when every one is a number and one at least has a "
                             "point or an exponent (2.5, 4.0), else single-label")
    parser.add_argument("--label-separator", metavar="SEP",
                        help="text-classification: split each label text on SEP into the classes of a multi-label "
                             "example ('sports|politics' with --label-separator '|'; the spaces around each class "
                             "are taken off; an empty cell has no class), for a CSV file, whose cells cannot hold "
                             "a JSON list; implies multi_label_classification")
    parser.add_argument("--text-column", metavar="NAME",
                        help="text-classification: the column of the text (default: text; GLUE's MRPC, RTE and "
                             "STS-B: sentence1, SST-2 and CoLA: sentence, QNLI: question)")
    parser.add_argument("--text-pair-column", metavar="NAME",
                        help="text-classification: the column of the second text of a pair (default: text_pair, "
                             "which may be left out of a record; a column of another name must be in every record; "
                             "GLUE's MRPC, RTE and STS-B: sentence2, QNLI: sentence)")
    parser.add_argument("--label-column", metavar="NAME", help="text-classification: the column of the label "
                        "(default: label)")
    parser.add_argument("--tokens-column", metavar="NAME", help="token-classification: the column of the list of "
                        "words (default: tokens)")
    parser.add_argument("--tags-column", metavar="NAME", help="token-classification: the column of the list of tags, "
                        "one per word (default: tags; CoNLL-2003 from the datasets library: ner_tags)")
    parser.add_argument("--tag-names", type=_names, metavar="NAME,NAME,...",
                        help="token-classification: the name of each tag id, in order, for a file whose tags are "
                             "integers (the datasets library writes its ClassLabel columns so, CoNLL-2003's "
                             "ner_tags: O,B-PER,I-PER,B-ORG,I-ORG,B-LOC,I-LOC,B-MISC,I-MISC); the names become the "
                             "model's labels, and BIO names give entity scores. Without it, integer tags are "
                             "names of their own (\"3\"), scored by tag accuracy alone")
    parser.add_argument("--label-names", type=_names, metavar="NAME,NAME,...",
                        help="text-classification: the name of each class id, in order, for a file whose labels "
                             "are integers (the datasets library writes GLUE's so, MRPC's: "
                             "not_equivalent,equivalent; SST-2's: negative,positive); the names become the "
                             "model's labels, in this order, and the pipeline answers them. Each label must then "
                             "be an id (multi-label: a list of ids); not for a regression. Without it, integer "
                             "labels are names of their own (\"1\")")
    parser.add_argument("--layout", choices=tuple(MULTIPLE_CHOICE_LAYOUTS),
                        help="multiple-choice: read the columns of a SWAG or RACE file. swag: sent1, sent2, "
                             "ending0 to ending3, label (the right ending's index), CSV or JSONL; each choice is "
                             "the pair sent1 and 'sent2 ending', as Transformers' run_swag.py makes it. race: "
                             "article, question, options (a list), answer (a letter, A for the first option), "
                             "JSONL; each choice is the pair article and question with the option (in the "
                             "question's blank '_' if it has one). A pair too long loses pieces from its longer "
                             "segment first (RACE: the article's end). Default: question, choices, answer")
    parser.add_argument("--seed", type=_checked("seed"), default=defaults["seed"],
                        help="seeds the shuffling, the dropout and a new head's weights (default: %(default)s)")
    parser.add_argument("--backend", choices=("numpy", "cupy"), default=defaults["backend"])
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint (same options and train file; "
                        "the model and tokenizer come from the checkpoint)")
    parser.add_argument("--ignore-mismatched-sizes", action="store_true",
                        help="start a new classifier when --model's was fine-tuned for another number of labels")
    parser.add_argument("--mpi-timeout", type=_checked("mpi_timeout"), default=defaults["mpi_timeout"], metavar="SECONDS",
                        help="under mpiexec: how long a process waits for the others in one collective before the "
                             "job stops with a message (default: %(default)g)")
    parser.add_argument("--stop-after", type=_checked("stop_after"), metavar="N",
                        help="run only N epochs in this session (checkpointed; --resume continues)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines (the final summary is still printed)")
    return parser


def main(argv=None) -> int:
    """Run the command; the exit status. Under mpiexec, a process that fails takes the job down
    with it (the others would wait for it in their next collective until the timeout)."""
    from .train.distributed import exit_status_of_job

    # A diverged loss is the same on every process: each one stops by itself.
    return exit_status_of_job(_main, argv, aborts=lambda code: code not in (0, EXIT_DIVERGED))


def _main(argv=None) -> int:
    from .finetune_args import FinetuneArguments
    from .finetune_loop import finetune
    from .train.distributed import launched_as_follower

    namespace = None
    try:
        parser = build_parser()
        namespace = parser.parse_args(argv)
        missing = [option for option in ("--train", "--validation") if getattr(namespace, option[2:]) is None]
        if missing and not namespace.eval_only:
            parser.error(f"the following arguments are required: {', '.join(missing)} (or --eval-only, to "
                         "evaluate a fine-tuned --model without training)")
        options = {name: value for name, value in vars(namespace).items() if name != "quiet"}
        summary = finetune(FinetuneArguments(**options), progress=not namespace.quiet)
    except FloatingPointError as error:
        if str(error):  # empty on all processes but the first, under mpiexec
            print_error(error)
        return EXIT_DIVERGED
    except KeyboardInterrupt:
        trained = namespace is not None and not namespace.eval_only
        if not launched_as_follower():  # mpiexec passes Ctrl-C to every process: one says it
            print("interrupted" + (" (the last finished epoch is in OUT/checkpoint)" if trained else ""),
                  file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, FileNotFoundError, ValueError, UnicodeDecodeError) as error:
        print_error(error)
        return EXIT_USAGE
    if summary["main_process"]:
        print(json.dumps(summary_line(summary, namespace)))
    return 0


def summary_line(summary: dict, namespace) -> dict:
    """The JSON summary printed last: the best epoch's metrics and the metric that chose it, and
    the test file's metrics (null while epochs are left); with --eval-only, the metrics of each
    file evaluated."""
    if namespace.eval_only:
        scored = {split: summary[split] for split in ("validation", "test") if getattr(namespace, split) is not None}
        return {**scored, "seconds": round(summary["seconds"], 1)}
    result = {"best": summary["best"], "best_by": summary["best_by"]}
    if namespace.test is not None:
        result["test"] = summary["test"]
    return {**result, "seconds": round(summary["seconds"], 1)}


if __name__ == "__main__":
    import warnings

    with warnings.catch_warnings():  # as the errors: one `warning:` line each, not Python's two
        warnings.showwarning = show_warning_on_one_line
        sys.exit(main())
