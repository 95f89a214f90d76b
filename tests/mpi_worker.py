"""Train a tiny ALBERT for a few steps, data-parallel when started by `mpiexec -n N`, alone otherwise.

    python tests/mpi_worker.py OUT.npz --optimizer adamw --dtype float64 --steps 4
    mpiexec -n 2 python tests/mpi_worker.py OUT.npz ...

Both runs see the same global batches; rank 0 (or the single process) writes the final parameters
and the losses to OUT.npz. `--hang-rank R` makes rank R stop answering after its first step, to
show that the others give up instead of waiting forever.
"""
import argparse
import sys
import time

import numpy as np

from tinyalbert import AlbertConfig, AlbertForPreTraining
from tinyalbert.backend import to_numpy
from tinyalbert.train.distributed import (
    CollectiveTimeout, abort, data_parallel_loss_and_grads, init_ranks,
)
from tinyalbert.train.optim import LAMB, AdamW, clip_grad_global_norm


def global_batches(config, steps, batch, seq, seed=0):
    """The same batches in every process: ids, ~20% MLM targets (at least one per row), SOP labels."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        input_ids = rng.integers(5, config.vocab_size, size=(batch, seq))
        lengths = rng.integers(seq // 2, seq + 1, size=batch)
        attention_mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
        targets = (rng.random((batch, seq)) < 0.2) & (attention_mask == 1)
        targets[:, 1] = True
        labels = np.where(targets, rng.integers(5, config.vocab_size, size=(batch, seq)), -100)
        token_type_ids = (np.arange(seq)[None, :] >= lengths[:, None] // 2).astype(np.int64) * attention_mask
        yield {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
               "labels": labels, "sentence_order_label": rng.integers(0, 2, size=batch)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--optimizer", choices=["adamw", "lamb"], default="adamw")
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--hang-rank", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--backend", default="numpy", help="cupy: the gradients are summed through NCCL")
    args = parser.parse_args()

    config = AlbertConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_hidden_layers=3,
                          num_attention_heads=2, intermediate_size=24, max_position_embeddings=16,
                          hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0)
    ranks = init_ranks(args.backend, timeout_seconds=args.timeout)  # first: it picks this rank's GPU
    model = AlbertForPreTraining(config, backend=args.backend, dtype=args.dtype, seed=1)
    optimizer = (AdamW if args.optimizer == "adamw" else LAMB)(weight_decay=0.01)
    losses = []
    try:
        for step, batch in enumerate(global_batches(config, args.steps, args.batch, seq=12)):
            if ranks is not None and step == 1 and ranks.rank == args.hang_rank:
                time.sleep(3600)
            if ranks is None:
                loss, grads = model.loss_and_grads(batch["input_ids"], batch["labels"], batch["sentence_order_label"],
                                                   attention_mask=batch["attention_mask"],
                                                   token_type_ids=batch["token_type_ids"])
            else:
                loss, grads = data_parallel_loss_and_grads(model, batch, ranks)
            grads, _ = clip_grad_global_norm(grads, 1.0)
            model.params = optimizer.step(model.params, grads, 1e-2)
            losses.append(float(loss))
    except CollectiveTimeout as error:
        abort(ranks, str(error), code=3)
    if ranks is None or ranks.is_main:
        np.savez(args.out, losses=np.asarray(losses), **{name: to_numpy(v) for name, v in model.params.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
