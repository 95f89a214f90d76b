"""Scoring a model already fine-tuned, without training: `python -m tinyalbert.finetune
--eval-only`. The model's labels and problem type are its config.json's; the validation and/or
test file is read and checked as a fine-tuning run reads its own (`tinyalbert.finetune_loop`),
and each file's metrics and per-example predictions are written as a run's test file's are.
"""
from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

from .cli import UsageError, check_backend_available, directory_path_problem
from .finetune_args import ID_NAMES, FinetuneArguments
from .finetune_loop import (BEST, STATE_FILE, check_evaluation_examples, check_positions, encode_split,
                            evaluate_in_phase, prediction_records, read_split, saved_checkpoint, shown_metrics,
                            write_line, write_results)
from .train.distributed import warnings_from_first_process

# The options that make a run's features from its examples: scored with others, a run's best/
# gets other metrics than the run's (other windows, other cuts).
FEATURE_OPTIONS = {"max_seq_length": "--max-seq-length", "doc_stride": "--doc-stride"}
# The options of question answering that decide whether a question may get no answer (SQuAD v2.0),
# and so the answers and their scores.
ANSWER_OPTIONS = {"version_2_with_negative": "--version-2-with-negative",
                  "null_score_diff_threshold": "--null-score-diff-threshold"}


def evaluate_fine_tuned(args: FinetuneArguments, progress=True) -> dict:
    """Score a model already fine-tuned (--model) on the validation and/or test file without
    training: its labels and problem type are its config.json's (`fine_tuned_labels`,
    `fine_tuned_problem_type`), every file is checked against them before the model runs, and
    OUT/{split}_results.json and OUT/{split}_predictions.jsonl are written for each file, as a
    run's test file is. Returns {"validation": metrics or None, "test": metrics or None,
    "seconds": ..., "main_process": ...}. Under mpiexec every process evaluates, and the first
    writes the files. With `progress`, the first process shows each file's reading, encoding and
    evaluation as phases on standard error, as a fine-tuning run does."""
    from .config import AlbertConfig
    from .tokenizer import AlbertTokenizer
    from .train.distributed import init_ranks

    check_backend_available(args.backend)
    out = Path(args.out)
    problem = directory_path_problem(out)
    if problem:
        raise UsageError(f"--out {problem}; choose another --out")
    ranks = init_ranks(args.backend, args.mpi_timeout)
    is_main = ranks is None or ranks.is_main
    started = time.perf_counter()
    config = AlbertConfig.from_pretrained(args.model)
    check_fine_tuned_for_task(args, config)
    tokenizer = AlbertTokenizer.from_pretrained(args.model)
    check_positions(args, args.model)
    if is_main:
        warn_of_other_features(args)
    stream = sys.stderr if progress and is_main else None
    with warnings_from_first_process(is_main):  # every process reads the same files
        splits = {split: read_split(args, getattr(args, split), stream) for split in ("validation", "test")
                  if getattr(args, split) is not None}
        problem_type = fine_tuned_problem_type(args, config, next(iter(splits.values())))
        model = load_fine_tuned_model(args, problem_type, is_main)
        labels = fine_tuned_labels(args, config, problem_type)
        because = fine_tuned_problem_type_reason(args, config)
        encoded = {}
        for split, examples in splits.items():  # every file checked before the model runs on any
            path = getattr(args, split)
            check_evaluation_examples(args, path, split, examples, labels, problem_type, because,
                                      f"the id2label of --model {args.model}")
            encoded[split] = encode_split(args, path, examples, tokenizer, labels, stream)
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
    results = {"validation": None, "test": None}
    for split, examples in splits.items():
        metrics, predictions = evaluate_in_phase(args, split, model, examples, encoded[split], labels,
                                                 tokenizer.pad_token_id, stream)
        results[split] = metrics
        if is_main:
            write_results(out, split, metrics, prediction_records(args.task, examples, predictions, labels))
        write_line(stream, f"{split}: {shown_metrics(metrics)}")
    return {**results, "seconds": time.perf_counter() - started, "main_process": is_main}


def check_fine_tuned_for_task(args: FinetuneArguments, config) -> None:
    """A model saved from another class than the task's (config.json's `architectures`: a
    pretrained AlbertForPreTraining, a model fine-tuned for another task) has no head of the
    task to evaluate. A config without `architectures` is left to `load_fine_tuned_model`."""
    from .task_models import TASK_CLASSES

    wanted = TASK_CLASSES[args.task].__name__
    if config.architectures and wanted not in config.architectures:
        raise UsageError(f"--model {args.model} is an {', '.join(config.architectures)} (its config.json "
                         f"architectures), not the {wanted} that --task {args.task} evaluates: fine-tune it for "
                         "the task first (without --eval-only)")


def run_options_of(model) -> tuple[Path, dict] | None:
    """(state.json, the options) of the fine-tuning run whose best/ model `model` is (OUT/best
    beside OUT/checkpoint/state.json); None for any other model, whose features nothing records."""
    model = Path(model)
    state = saved_checkpoint(model.parent) / STATE_FILE
    if model.name != BEST or not state.is_file():
        return None
    try:
        options = json.loads(state.read_text(encoding="utf-8"))["args"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged state.json is --resume's to report, not a reason to refuse scoring
    return (state, options) if isinstance(options, dict) else None


def warn_of_other_features(args: FinetuneArguments) -> None:
    """Warn when a run's best/ is scored with another --max-seq-length or --doc-stride than the run
    used (its state.json): its examples would make other features than the run's, so other
    metrics than the run's validation scores. (Transformers' scripts record neither; the
    default 128 is theirs too, but a run of 256 scored at 128 is not what the run measured.)
    A SQuAD v2.0 run's answer options are compared too (`warn_of_other_answers`)."""
    run = run_options_of(args.model)
    if run is None:
        return
    state, options = run
    windowed = args.task in ("question-answering", "token-classification")  # the others have no stride
    for name, flag in FEATURE_OPTIONS.items():
        ran_with = options.get(name)
        if (name == "max_seq_length" or windowed) and isinstance(ran_with, int) and ran_with != getattr(args, name):
            warnings.warn(f"{flag} {getattr(args, name)}, but the run that made --model {args.model} used "
                          f"{flag} {ran_with} ({state}): its features, and so its scores, differ from the "
                          f"run's; pass {flag} {ran_with} to score as the run did", UserWarning, stacklevel=2)
    if args.task == "question-answering" and options.get("version_2_with_negative") is True:
        warn_of_other_answers(args, state, options)


def warn_of_other_answers(args: FinetuneArguments, state: Path, options: dict) -> None:
    """Warn when a run trained with --version-2-with-negative (SQuAD v2.0) has its best/ scored
    without it, or with another --null-score-diff-threshold: its questions would get other answers
    (never "", without it) and other scores than the run's."""
    for name, flag in ANSWER_OPTIONS.items():
        ran_with, given = options.get(name), getattr(args, name)
        if ran_with is None or ran_with == given:
            continue
        used = flag if isinstance(ran_with, bool) else f"{flag} {ran_with}"
        now = (f"without {flag}" if given is False else "with " + flag if given is True else f"{flag} {given}")
        warnings.warn(f"scored {now}, but the run that made --model {args.model} used {used} ({state}): its "
                      f"answers, and so its scores, differ from the run's; pass {used} to score as the run did",
                      UserWarning, stacklevel=3)
        return  # the threshold means nothing without the option


def fine_tuned_problem_type(args: FinetuneArguments, config, examples: list[dict]) -> str | None:
    """The problem type a text-classification model is evaluated as (None for the other tasks):
    the one its config.json records, as fine-tuning saves it; for a model saved without one,
    --problem-type, else what Transformers' loss would take it for (a regression for one
    output, a multi-label classification for a file of label lists, else single-label). A
    --problem-type other than the recorded one is an error, and so is a head whose number of
    outputs does not fit the problem type."""
    if args.task != "text-classification":
        return None
    saved = config.problem_type
    if saved is not None and args.problem_type not in (None, saved):
        raise UsageError(f"--problem-type {args.problem_type}, but --model {args.model} was fine-tuned as a {saved} "
                         "(its config.json problem_type): leave out --problem-type")
    multi_label = isinstance(examples[0]["label"], list)
    problem_type = saved or args.problem_type or ("regression" if config.num_labels == 1 else
                                                  "multi_label_classification" if multi_label else
                                                  "single_label_classification")
    if (problem_type == "regression") != (config.num_labels == 1):
        raise UsageError(f"--model {args.model} has {config.num_labels} output(s), which does not fit a "
                         f"{problem_type} (a regression has 1, a classification one per class)")
    return problem_type


def fine_tuned_problem_type_reason(args: FinetuneArguments, config) -> str:
    """What made a fine-tuned model's problem type (`fine_tuned_problem_type`), for an error about
    a label of the other kind: its config.json, --problem-type, or a guess from the model's outputs
    and the file's first label."""
    if config.problem_type is not None:
        return f"the config.json of --model {args.model} makes the problem"
    if args.problem_type is not None:
        return "--problem-type is"
    return (f"--model {args.model} records no problem type, and its {config.num_labels} output(s) and the file's "
            "first label make the problem")


def fine_tuned_labels(args: FinetuneArguments, config, problem_type: str | None) -> list[str] | None:
    """The labels of a fine-tuned model, in the order of its outputs (config.json's id2label),
    for text classification that is not a regression and for token classification (None for
    the others). --label-names or --tag-names, when given, must be exactly these."""
    if not (args.task == "token-classification" or problem_type in ("single_label_classification",
                                                                    "multi_label_classification")):
        return None
    labels = [str(config.id2label[index]) for index in range(len(config.id2label))]
    for name in ID_NAMES:
        given = getattr(args, name)
        if given is not None and given != labels:
            raise UsageError(f"{name} {','.join(given)} are not the labels of --model {args.model} "
                             f"({','.join(labels)}, its config.json id2label in order); give them in that order, "
                             "or leave the option out for a file of label names")
    return labels


def load_fine_tuned_model(args: FinetuneArguments, problem_type: str | None, is_main: bool):
    """The task model of --model in eval mode, as `problem_type` (text classification). A model
    without the task's head (weights that loading would initialize afresh) is an error, not an
    evaluation of random weights."""
    from .task_models import TASK_CLASSES

    model_class = TASK_CLASSES[args.task]
    overrides = {} if problem_type is None else {"problem_type": problem_type}
    with warnings_from_first_process(is_main):
        warnings.filterwarnings("ignore", message="Some weights were not in")  # the error below says more
        model, info = model_class.from_pretrained(args.model, backend=args.backend, output_loading_info=True,
                                                  **overrides)
    if info["missing_keys"]:
        raise UsageError(f"--model {args.model} has no trained {model_class.__name__} head to evaluate: "
                         f"{', '.join(info['missing_keys'][:4])} not in its weights; fine-tune it for --task "
                         f"{args.task} first (without --eval-only)")
    return model.eval()
