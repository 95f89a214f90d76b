"""The fine-tuning loop behind `python -m tinyalbert.finetune`: epochs of AdamW steps with
warm-up and linear decay and global-norm clipping, an evaluation after each epoch, the best
model kept, a checkpoint after each epoch to resume from.

OUT/ holds `best/` (model + tokenizer, loadable by tinyalbert and by Transformers), `checkpoint/`
(the last epoch's model, optimizer moments and `state.json`) and `metrics.jsonl` (one line per
epoch). Every step's randomness (shuffling, dropout) comes from generators seeded with
(seed, epoch), so a resumed run takes the same steps as one that was never stopped.

Under `mpiexec -n N` the batches are shared out: every process draws the same batch, keeps its
block of rows, weights its gradient by its share of the batch's targets, and one all-reduce
sums them, so the N processes take the steps of one (docs/distributed.md). The first process
alone writes OUT and shows progress; every process evaluates, and all get the same metrics.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .backend import asarray, to_numpy
from .metrics import accuracy, entity_scores, macro_f1, squad_scores
from .task_data import IGNORE_INDEX, collate, encode_examples, label_list, read_task_file
from .train.optim import AdamW, clip_grad_global_norm, linear_warmup_then_decay

MAIN_METRIC = {"text-classification": "accuracy", "token-classification": "f1",
               "question-answering": "f1", "multiple-choice": "accuracy"}
MAX_ANSWER_TOKENS = 30
CHECKPOINT, BEST, STATE_FILE, OPTIMIZER_FILE = "checkpoint", "best", "state.json", "optimizer.npz"


@dataclass
class FinetuneArguments:
    task: str
    model: str
    train: str
    validation: str
    out: str
    epochs: int = 3
    batch_size: int = 16
    lr: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    max_seq_length: int = 128
    seed: int = 0
    backend: str = "numpy"
    resume: bool = False
    stop_after: int | None = None  # epochs to run in this session (then --resume continues)


def model_class(task: str):
    from . import task_models

    return {"text-classification": task_models.AlbertForSequenceClassification,
            "token-classification": task_models.AlbertForTokenClassification,
            "question-answering": task_models.AlbertForQuestionAnswering,
            "multiple-choice": task_models.AlbertForMultipleChoice}[task]


def load_data(args: FinetuneArguments, tokenizer):
    """(labels or None, train examples, encoded train, validation examples, encoded validation)."""
    train_examples = read_task_file(args.task, args.train)
    validation_examples = read_task_file(args.task, args.validation)
    tagged = args.task in ("text-classification", "token-classification")
    labels = label_list(args.task, train_examples) if tagged else None
    label_ids = None if labels is None else {label: i for i, label in enumerate(labels)}
    if args.task == "text-classification":
        unknown = sorted({str(e["label"]) for e in validation_examples} - set(labels))
        if unknown:
            raise ValueError(f"{args.validation}: label(s) {unknown[:5]} do not occur in {args.train}")
    encoded = []
    for path, examples in ((args.train, train_examples), (args.validation, validation_examples)):
        try:
            encoded.append(encode_examples(args.task, examples, tokenizer, args.max_seq_length, label_ids))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    return labels, train_examples, encoded[0], validation_examples, encoded[1]


def model_inputs(batch: dict) -> dict:
    return {name: batch[name] for name in ("input_ids", "attention_mask", "token_type_ids")}


def best_span(start_logits, end_logits, first: int, last: int) -> tuple[int, int]:
    """The (start, end) with first <= start <= end <= last, end - start < MAX_ANSWER_TOKENS, that
    maximizes start_logit + end_logit."""
    best, best_score = (first, first), -math.inf
    for start in range(first, last + 1):
        stop = min(last, start + MAX_ANSWER_TOKENS - 1)
        ends = end_logits[start:stop + 1]
        end = start + int(np.argmax(ends))
        score = start_logits[start] + end_logits[end]
        if score > best_score:
            best, best_score = (start, end), score
    return best


def predict_batch(task: str, model, examples: list[dict], batch: dict):
    """The predictions for one batch: label ids, per-word label ids, or (start, end) spans."""
    output = model(**model_inputs(batch), return_dict=True)  # whatever config.json says
    if task == "question-answering":
        start_logits, end_logits = to_numpy(output.start_logits), to_numpy(output.end_logits)
        spans = []
        for row, example in enumerate(examples):
            first, last = example["context_start"], example["context_start"] + len(example["piece_words"]) - 1
            spans.append(best_span(start_logits[row], end_logits[row], first, max(first, last)))
        return spans
    predicted = np.argmax(to_numpy(output.logits), axis=-1)
    if task == "token-classification":
        return [[int(predicted[row, position]) for position in example["first_pieces"]]
                for row, example in enumerate(examples)]
    return [int(value) for value in predicted]


def evaluate(task: str, model, examples: list[dict], encoded: list[dict], labels, batch_size: int, pad_id: int) -> dict:
    """The task's metrics on the validation examples (model in eval mode, no dropout)."""
    predictions = []
    for begin in range(0, len(encoded), batch_size):
        chunk = encoded[begin:begin + batch_size]
        predictions += predict_batch(task, model, chunk, collate(task, chunk, pad_id))
    if task == "text-classification":
        references = [labels.index(str(example["label"])) for example in examples]
        return {"accuracy": accuracy(predictions, references), "macro_f1": macro_f1(predictions, references)}
    if task == "multiple-choice":
        return {"accuracy": accuracy(predictions, [example["label"] for example in examples])}
    if task == "token-classification":
        predicted_tags = [[labels[i] for i in row] + ["O"] * (len(e["tags"]) - len(row))
                          for row, e in zip(predictions, examples)]
        scores = entity_scores(predicted_tags, [e["tags"] for e in examples])
        flat = [tag for row in predicted_tags for tag in row]
        scores["accuracy"] = accuracy(flat, [tag for e in examples for tag in e["tags"]])
        return scores
    answers = {}
    for (start, end), example, features in zip(predictions, examples, encoded):
        words = features["piece_words"]
        if not words:
            answers[example["id"]] = ""
            continue
        first_word = words[start - features["context_start"]]
        last_word = words[end - features["context_start"]]
        spans = features["word_spans"]
        answers[example["id"]] = example["context"][spans[first_word][0]:spans[last_word][1]]
    return squad_scores(answers, {e["id"]: [a["text"] for a in e["answers"]] for e in examples})


def counted_targets(task: str, batch: dict) -> int:
    """How many targets the batch's loss is a mean over: its labelled rows, or tokens for token
    classification (-100: not counted). A question-answering example always has its start and
    end inside the sequence (position 0 when truncation cut the answer off), so it counts once."""
    if task == "question-answering":
        return len(batch["start_positions"])
    return int(np.count_nonzero(np.asarray(batch["labels"]) != IGNORE_INDEX))


def data_parallel_loss_and_grads(model, task: str, batch: dict, ranks):
    """Loss and gradients of the whole `batch`, computed by all processes together.

    Each process takes its block of rows (`np.array_split`: any batch size, the last batch of an
    epoch too) and weights its mean loss by its share of the batch's targets, n_r / n, so that
    the sum over processes is the mean over the whole batch; one all-reduce of one flat buffer
    adds the weighted gradients and losses. A process whose rows hold no target adds zeros
    (its mean would be 0 / 0). Returns (loss, grads), the same on every process.
    """
    from .train import distributed

    rows = np.array_split(np.arange(len(batch["input_ids"])), ranks.size)[ranks.rank]
    local = {name: value[rows] for name, value in batch.items()}
    total, mine = counted_targets(task, batch), counted_targets(task, local)
    if total == 0:
        return float("nan"), None  # as in one process: a mean over no target
    xp, shapes = model.xp, model.state_dict()
    if mine:
        loss, grads = model.loss_and_grads(**local)
        grads = {name: grads[name] * (mine / total) for name in shapes}  # every process in one key order
        loss = float(loss) * mine / total
    else:
        grads, loss = {name: xp.zeros_like(value) for name, value in shapes.items()}, 0.0
    loss, grads = distributed.allreduce_loss_and_grads(loss, grads, ranks)
    return float(loss), grads


def write_checkpoint(out: Path, model, tokenizer, optimizer: AdamW, state: dict) -> None:
    """Model, tokenizer, optimizer moments and trainer state; written to a temporary folder then
    renamed, so that an interruption never leaves half a checkpoint."""
    final, partial = out / CHECKPOINT, out / (CHECKPOINT + ".partial")
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    moments = {key: to_numpy(value) for key, value in optimizer.state_dict().items() if key != "step"}
    np.savez(partial / OPTIMIZER_FILE, step=np.array(optimizer.step_count), **moments)
    (partial / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    if final.exists():
        old = out / (CHECKPOINT + ".old")
        final.rename(old)
        partial.rename(final)
        for file in old.iterdir():
            file.unlink()
        old.rmdir()
    else:
        partial.rename(final)


def read_checkpoint_state(out: Path, args: FinetuneArguments) -> dict:
    """The trainer state of OUT/checkpoint, after checking it was made with the same settings."""
    directory = out / CHECKPOINT
    if not (directory / STATE_FILE).is_file():
        raise FileNotFoundError(f"nothing to resume: {directory} has no {STATE_FILE}")
    state = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    saved = state["args"]
    for name in ("task", "train", "epochs", "batch_size", "lr", "warmup_ratio", "weight_decay", "clip_norm",
                 "max_seq_length", "seed"):
        if saved[name] != getattr(args, name):
            raise ValueError(f"--resume: {name} is {getattr(args, name)!r} but the checkpoint was made with {saved[name]!r}")
    return state


def read_optimizer(out: Path, optimizer: AdamW, xp) -> None:
    with np.load(out / CHECKPOINT / OPTIMIZER_FILE) as arrays:
        optimizer.load_state_dict({key: (int(arrays[key]) if key == "step" else asarray(xp, arrays[key]))
                                   for key in arrays.files})


def finetune(args: FinetuneArguments, progress=True) -> dict:
    """Run the whole fine-tuning; returns {"best": metrics, "history": [...], "seconds": ...,
    "main_process": False on every process of an mpiexec job but the first}.
    With `progress`, a progress line goes to standard error: redrawn in place on a terminal,
    a line about every tenth of an epoch into a file or a notebook."""
    from .tokenizer import AlbertTokenizer
    from .train.distributed import barrier, init_ranks
    from .train.progress import Progress

    ranks = init_ranks(args.backend)  # None unless under mpiexec -n N > 1
    is_main = ranks is None or ranks.is_main  # the first process alone writes OUT and shows progress
    out = Path(args.out)
    tokenizer = AlbertTokenizer.from_pretrained(args.model)
    labels, _, train_encoded, validation_examples, validation_encoded = load_data(args, tokenizer)
    overrides = {} if labels is None else {"id2label": {i: label for i, label in enumerate(labels)}}
    if args.task == "question-answering":
        overrides["id2label"] = {0: "LABEL_0", 1: "LABEL_1"}
    state = {"epoch": 0, "step": 0, "best": None, "history": [], "args": dataclasses.asdict(args)}
    if args.resume:
        state = {**read_checkpoint_state(out, args), "args": dataclasses.asdict(args)}
    source = out / CHECKPOINT if args.resume else args.model
    model = model_class(args.task).from_pretrained(source, backend=args.backend, seed=args.seed, **overrides)
    optimizer = AdamW(weight_decay=args.weight_decay)
    if args.resume:
        read_optimizer(out, optimizer, model.xp)
    steps_per_epoch = math.ceil(len(train_encoded) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    warmup_steps = int(args.warmup_ratio * total_steps)
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
    main_metric, started = MAIN_METRIC[args.task], time.perf_counter()
    pad_id = tokenizer.pad_token_id
    last_epoch = args.epochs if args.stop_after is None else min(args.epochs, state["epoch"] + args.stop_after)
    bar = Progress(total_steps, state["step"]) if progress and is_main else None
    shown_every = 1 if bar is None or bar.interactive else max(1, steps_per_epoch // 10)  # a log stays readable
    for epoch in range(state["epoch"], last_epoch):
        order = np.random.default_rng([args.seed, epoch]).permutation(len(train_encoded))
        model.train(rng=np.random.default_rng([args.seed, epoch, 1] + ([] if ranks is None else [ranks.rank])))
        for index in range(steps_per_epoch):
            chunk = [train_encoded[i] for i in order[index * args.batch_size:(index + 1) * args.batch_size]]
            batch = collate(args.task, chunk, pad_id)
            if ranks is None:
                loss, grads = model.loss_and_grads(**batch)
            else:
                loss, grads = data_parallel_loss_and_grads(model, args.task, batch, ranks)
            loss = float(loss)
            if not math.isfinite(loss):
                raise FloatingPointError(f"the loss became {loss} at step {state['step'] + 1}; try a lower --lr")
            if args.clip_norm > 0:
                grads, _ = clip_grad_global_norm(grads, args.clip_norm)
            lr = linear_warmup_then_decay(state["step"], warmup_steps, total_steps, args.lr)
            model.params = optimizer.step(model.params, grads, lr)
            state["step"] += 1
            if bar is not None and ((index + 1) % shown_every == 0 or index + 1 == steps_per_epoch):
                bar.update(state["step"], {"loss": loss, "lr": lr})
        model.eval()
        metrics = evaluate(args.task, model, validation_examples, validation_encoded, labels, args.batch_size, pad_id)
        metrics = {"epoch": epoch + 1, "step": state["step"], **metrics}
        state["history"].append(metrics)
        is_best = state["best"] is None or metrics[main_metric] > state["best"][main_metric]
        if is_best:
            state["best"] = metrics
        state["epoch"] = epoch + 1
        if is_main:
            with (out / "metrics.jsonl").open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(metrics) + "\n")
            if is_best:
                model.save_pretrained(out / BEST)
                tokenizer.save_pretrained(out / BEST)
            write_checkpoint(out, model, tokenizer, optimizer, state)
        if ranks is not None:  # no process runs ahead of a checkpoint it could be asked to resume from
            barrier(ranks, "waiting for the first process to write the checkpoint")
        if bar is not None:
            shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
            bar.write(f"epoch {epoch + 1}/{args.epochs}: {shown}")
    if bar is not None:
        bar.close()
    return {"best": state["best"], "history": state["history"], "seconds": time.perf_counter() - started,
            "main_process": is_main}
