"""`python -m tinyalbert.pretrain`: pretrain an ALBERT (MLM + sentence-order prediction) from text.

The corpus is a text file (or a directory of `.txt` files): one sentence or paragraph per
line, a blank line between documents. Progress goes to standard error; checkpoints to
OUT/checkpoint, the loss curve to OUT/loss_curve.png, the trained model and tokenizer to
OUT/final. See `tinyalbert.train.trainer` for what each step does.

Training from scratch, the MLM output bias starts at the log frequencies of the pieces of the
corpus (`--output-bias-init log-frequency`): without it a small model collapses early (every
position gets the same final-layer vector, printed as `cos`) and at lr 1e-3 stays collapsed.
Masks are drawn anew every epoch (`--masking dynamic`), and short documents are joined so
examples fill the sequence (`--pack-documents`).

Exit status: 0 done (or stopped at --stop-at / --max-minutes, checkpointed); 1 the loss
became inf or nan (the last good checkpoint stays); 2 a usage error (missing or empty corpus,
bad option, an --out that cannot be written, an unreadable checkpoint, a full disk), reported
on one `error:` line naming the file; 130 interrupted with Ctrl-C, 143 stopped by SIGTERM
(both checkpointed).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli import OneLineErrorParser, UsageError, int_at_least, print_error, show_warning_on_one_line

EXIT_DIVERGED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130  # 128 + the signal number, as shells report it

# Written as it is shown (RawDescriptionHelpFormatter keeps the lines): 80 columns at most.
EXAMPLES = """\
examples:
  # a vocabulary of 8000 pieces trained on the corpus, then 2000 steps of mini
  python -m tinyalbert.pretrain --corpus corpus.txt --config mini \\
      --vocab-size 8000 --out runs/mini --steps 2000
  # the same on a GPU, continuing an interrupted run
  python -m tinyalbert.pretrain --out runs/mini --backend cupy --resume
  # albert-base-v2's shape with albert-base-v2's vocabulary
  python -m tinyalbert.pretrain --corpus texts/ --config base \\
      --tokenizer path/to/albert-base-v2 --out runs/base

With --resume, options left out (--corpus too) are taken from the checkpoint;
options that change what the steps compute (batch size, learning rate, seed,
...) must match it. --steps may change, but not below the checkpoint's step:
the schedule is then remade for the new total, so the learning rate moves (a
finished run starts again from the rate its new schedule gives at that step).
"""

positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def build_parser() -> argparse.ArgumentParser:
    from .train.arguments import TrainingArguments

    defaults = {field.name: field.default for field in TrainingArguments.__dataclass_fields__.values()}
    summary = __doc__.split("\n\n")[0].split(": ", 1)[1]
    parser = OneLineErrorParser(prog="python -m tinyalbert.pretrain", description=summary[0].upper() + summary[1:],
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    # Every default is None here: None means "not given", so that --resume can fill in the
    # checkpoint's value; the defaults shown are those of TrainingArguments.
    _add_data_options(parser.add_argument_group("data and model"), defaults)
    _add_optimization_options(parser.add_argument_group("optimization"), defaults)
    _add_running_options(parser.add_argument_group("running"), defaults)
    return parser


def _add_data_options(data, defaults: dict) -> None:
    from .train.arguments import MASKING_CHOICES

    data.add_argument("--corpus", metavar="FILE_OR_DIR",
                      help="text file, or directory of .txt files (hidden ones left out); blank lines separate "
                           "documents (required, except with --resume: the checkpoint's corpus)")
    data.add_argument("--out", required=True, metavar="DIR", help="output directory (checkpoint/, final/, ...)")
    data.add_argument("--config", metavar="NAME_OR_PATH",
                      help="mini, base, large, xlarge, xxlarge, an albert-*-v* preset, or a config.json "
                           "(default: mini); vocab_size is set from the tokenizer")
    data.add_argument("--init-from", metavar="DIR_OR_NAME",
                      help="continue pretraining a model: its weights, config and (unless --tokenizer is given) "
                           "tokenizer, e.g. tinyalbert-mini or a run's final/ directory; the optimizer starts fresh")
    vocabulary = data.add_mutually_exclusive_group()
    vocabulary.add_argument("--tokenizer", metavar="DIR_OR_MODEL",
                            help="an existing tokenizer directory or spiece.model")
    vocabulary.add_argument("--vocab-size", type=positive_int, metavar="N",
                            help="train a SentencePiece vocabulary of N pieces on the corpus (into OUT/tokenizer)")
    data.add_argument("--max-seq-length", type=positive_int, metavar="L",
                      help=f"tokens per example (default: {defaults['max_seq_length']})")
    data.add_argument("--masked-lm-prob", type=float, metavar="P",
                      help=f"share of tokens to predict, in (0, 1] (default: {defaults['masked_lm_prob']})")
    data.add_argument("--max-predictions-per-seq", type=positive_int, metavar="N",
                      help="cap on predicted tokens per example, at most L - 3 (default: round(P * L))")
    data.add_argument("--short-seq-prob", type=float, metavar="P",
                      help=f"share of deliberately short examples (default: {defaults['short_seq_prob']})")
    data.add_argument("--dupe-factor", type=positive_int, metavar="N",
                      help="passes over the corpus with other pair boundaries (and with --masking static, other "
                           f"masks) (default: {defaults['dupe_factor']})")
    data.add_argument("--heldout-fraction", type=float, metavar="F",
                      help=f"share of documents kept out for evaluation (default: {defaults['heldout_fraction']})")
    data.add_argument("--masking", choices=MASKING_CHOICES,
                      help=f"dynamic: fresh masks every pass over the data; static: fixed once, as the original "
                           f"(default: {defaults['masking']})")
    data.add_argument("--pack-documents", action=argparse.BooleanOptionalAction,
                      help="join short documents with the next ones so examples fill --max-seq-length "
                           f"(default: {'on' if defaults['pack_documents'] else 'off'})")


def _add_optimization_options(optimization, defaults: dict) -> None:
    from .train.arguments import OUTPUT_BIAS_CHOICES

    optimization.add_argument("--steps", type=positive_int, metavar="N",
                              help=f"optimizer steps (default: {defaults['steps']})")
    optimization.add_argument("--batch-size", type=positive_int, metavar="B",
                              help=f"examples per step (default: {defaults['batch_size']})")
    optimization.add_argument("--lr", type=float, help=f"peak learning rate (default: {defaults['lr']})")
    optimization.add_argument("--warmup-steps", type=non_negative_int, metavar="N",
                              help="steps of linear warmup, then linear decay to 0 (default: 10%% of --steps)")
    optimization.add_argument("--optimizer", choices=("adamw", "lamb"),
                              help="lamb is the ALBERT paper's, there at batch 4096 and lr 0.00176 "
                                   f"(default: {defaults['optimizer']})")
    optimization.add_argument("--weight-decay", type=float, metavar="W",
                              help=f"(default: {defaults['weight_decay']}; none on LayerNorm and biases)")
    optimization.add_argument("--clip-norm", type=float, metavar="C",
                              help=f"global gradient-norm clip, 0 for none (default: {defaults['clip_norm']})")
    optimization.add_argument("--output-bias-init", choices=OUTPUT_BIAS_CHOICES,
                              help="MLM output bias at the start: log frequencies of the corpus pieces, which "
                                   "keeps a model from scratch from collapsing, or zero "
                                   f"(default: {defaults['output_bias_init']})")
    optimization.add_argument("--seed", type=non_negative_int, metavar="N",
                              help=f"seeds everything random (default: {defaults['seed']})")


def _add_running_options(run, defaults: dict) -> None:
    run.add_argument("--backend", choices=("numpy", "cupy"),
                     help=f"numpy (CPU) or cupy (CUDA GPU) (default: {defaults['backend']})")
    run.add_argument("--save-every", type=positive_int, metavar="N",
                     help=f"checkpoint every N steps (default: {defaults['save_every']})")
    run.add_argument("--log-every", type=positive_int, metavar="N",
                     help=f"progress line, MLM/SOP metrics every N steps (default: {defaults['log_every']})")
    run.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    run.add_argument("--stop-at", type=positive_int, metavar="STEP",
                     help="stop after this step with a checkpoint (the schedule still runs to --steps)")
    run.add_argument("--max-minutes", type=float, metavar="M",
                     help="stop with a checkpoint once the steps of this session have taken M minutes (the "
                          "data preparation before them and the save after them are not counted)")
    run.add_argument("--mpi-timeout", type=float, metavar="SECONDS",
                     help="under mpiexec: how long a collective may wait for the other processes before the "
                          f"job stops with a message (default: {defaults['mpi_timeout']:g})")


def arguments_from(namespace: argparse.Namespace):
    """TrainingArguments from the parsed options; with --resume, options not given come from the checkpoint."""
    from .train.arguments import TrainingArguments, saved_arguments
    from .train.checkpoints import CHECKPOINT_DIR, STATE_FILE, checkpoint_dir, read_trainer_state

    given = {name: value for name, value in vars(namespace).items() if value is not None}
    given["resume"] = bool(namespace.resume)
    if namespace.corpus is None and not namespace.resume:
        raise UsageError("the following arguments are required: --corpus (see --help)")
    if namespace.resume:
        saved_dir = checkpoint_dir(Path(namespace.out))
        if saved_dir is None:
            raise FileNotFoundError(f"nothing to resume: {Path(namespace.out) / CHECKPOINT_DIR} has no {STATE_FILE}")
        saved = saved_arguments(read_trainer_state(saved_dir))
        # Session-only options are not inherited.
        for name in ("resume", "stop_at", "max_minutes", "backend", "out", "mpi_timeout"):
            saved.pop(name, None)
        if "tokenizer" in given or "vocab_size" in given:
            saved.pop("tokenizer", None)
            saved.pop("vocab_size", None)
        if "corpus" not in given and not Path(saved["corpus"]).exists():
            raise FileNotFoundError(f"the corpus {saved['corpus']!r} that {saved_dir} was trained on is not found "
                                    f"from {Path.cwd()}: give its path with --corpus")
        given = {**saved, **given}
    check_option_combinations(given, typed={name for name, value in vars(namespace).items() if value is not None})
    try:
        return TrainingArguments(**given)
    except ValueError as error:  # it names its fields; the user typed options: "lr ..." -> "--lr ..."
        field, _, rest = str(error).partition(" ")
        if getattr(namespace, field, None) is None:  # not an option given here (or no field at all)
            raise
        raise ValueError(f"--{field.replace('_', '-')} {rest}") from None


def check_option_combinations(given: dict, typed: set) -> None:
    """Refuse options that exclude each other, by the names typed on the command line (the same
    checks in `TrainingArguments` name its fields, for callers from Python). `given`: the run's
    options, a resumed run's checkpoint's included; `typed`: those on this command line. --tokenizer
    and --vocab-size are a mutually exclusive group of the parser."""
    if given.get("init_from") is not None:
        extra = [f"--{name.replace('_', '-')}" for name in ("config", "vocab_size") if given.get(name) is not None]
        if extra:
            raise ValueError(f"--init-from brings its own config and vocabulary: leave out {' and '.join(extra)}")
    from .train.arguments import TrainingArguments

    steps, warmup = given.get("steps", TrainingArguments.steps), given.get("warmup_steps")
    if warmup is not None and warmup > steps:
        whose = "" if "warmup_steps" in typed else " (the checkpoint's)"
        raise ValueError(f"--warmup-steps {warmup}{whose} is more than --steps {steps}: the warm-up must end by "
                         "the last step")


def interrupted_note(out: Path | None) -> str:
    """What a Ctrl-C that stopped the command at once leaves in `out`, and how to go on.

    The first Ctrl-C of the steps lets the step finish and saves (`TrainingInterrupted`); this
    is any other: while the data is prepared, a second one during the steps, one during the last
    save, the evaluation or the export of final/. What is on disk then is whatever checkpoint
    was last saved, so say which step it holds, if any.
    """
    from .train.checkpoints import CheckpointError, checkpoint_dir, read_trainer_state

    saved = checkpoint_dir(out) if out is not None and out.is_dir() else None
    if saved is None:
        return "interrupted before any checkpoint was saved: nothing to resume"
    try:
        step = read_trainer_state(saved)["step"]
    except CheckpointError:
        return f"interrupted; {saved} cannot be read back"
    return f"interrupted; {saved} holds step {step}: continue with --resume"


def main(argv=None) -> int:
    """Run the command; the exit status. Under mpiexec, a process that fails with an error takes the
    job down with it (the others would wait for it in their next collective until --mpi-timeout)."""
    from .train.distributed import exit_status_of_job

    # A usage error may be one process's alone (a file it cannot write); the other statuses are
    # reached by every process together.
    return exit_status_of_job(_main, argv, aborts=lambda code: code == EXIT_USAGE)


def _main(argv=None) -> int:
    from .train.distributed import launched_as_follower
    from .train.trainer import NonFiniteLossError, TrainingInterrupted, train

    namespace = None
    try:
        namespace = build_parser().parse_args(argv)
        summary = train(arguments_from(namespace))
    except NonFiniteLossError as error:
        if str(error):  # empty on all processes but the first, under mpiexec
            print_error(error)
        return EXIT_DIVERGED
    except TrainingInterrupted as error:
        if str(error):
            print(error, file=sys.stderr)
        return 128 + error.signum
    except KeyboardInterrupt:
        if not launched_as_follower():  # mpiexec passes Ctrl-C to every process: one says it
            print(interrupted_note(namespace and Path(namespace.out)), file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, FileNotFoundError, ValueError) as error:
        print_error(error)
        return EXIT_USAGE
    except OSError as error:  # a full disk, a vanished directory: what could not be written, not a traceback
        print_error(f"cannot write {error.filename or 'the output'}: {error.strerror or error}")
        return EXIT_USAGE
    if summary.get("eval"):
        print(heldout_summary(summary["eval"]))
    return 0


def heldout_summary(results: dict) -> str:
    """The closing line: held-out accuracies and cosine. A held-out set whose targets are all among
    the most frequent pieces (a tiny one) has no accuracy outside them, and the line says so."""
    nan = float("nan")
    uncommon = results.get("mlm_accuracy_uncommon")
    outside = ("no target outside the most frequent pieces" if uncommon is None
               else f"{uncommon:.4f} outside the most frequent pieces")
    return (f"held-out MLM accuracy {results.get('mlm_accuracy', nan):.4f} ({outside}), "
            f"SOP accuracy {results.get('sop_accuracy', nan):.4f}, "
            f"final-layer cosine {results.get('final_layer_cosine', nan):.3f}")


if __name__ == "__main__":
    import warnings

    with warnings.catch_warnings():  # as the errors: one `warning:` line each, not Python's two
        warnings.showwarning = show_warning_on_one_line
        sys.exit(main())
