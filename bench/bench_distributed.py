"""Training throughput with 1 and with N data-parallel processes, on the same global batches.

    python bench/bench_distributed.py                      # one process, the whole batch
    mpiexec -n 2 python bench/bench_distributed.py         # two processes, half each

Each process uses one BLAS thread, so N processes use N cores. Prints tokens per second (the
non-padding tokens of the global batch, per second of wall time) and the share of the step the
gradient all-reduce took, from rank 0.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from tinyalbert import AlbertConfig, AlbertForPreTraining
from tinyalbert.train.distributed import allreduce_sum, data_parallel_loss_and_grads, flatten, init_ranks
from tinyalbert.train.optim import AdamW


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=16, help="global batch (sequences)")
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    config = AlbertConfig(vocab_size=8000, embedding_size=128, hidden_size=256, num_hidden_layers=4,
                          num_attention_heads=4, intermediate_size=1024, max_position_embeddings=args.seq,
                          hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, classifier_dropout_prob=0.0)
    model = AlbertForPreTraining(config)
    optimizer = AdamW()
    ranks = init_ranks(model.xp)
    rng = np.random.default_rng(0)
    batch = {
        "input_ids": rng.integers(5, config.vocab_size, size=(args.batch, args.seq)),
        "attention_mask": np.ones((args.batch, args.seq), dtype=np.int64),
        "token_type_ids": np.zeros((args.batch, args.seq), dtype=np.int64),
        "labels": np.where(rng.random((args.batch, args.seq)) < 0.15, rng.integers(5, config.vocab_size, size=(args.batch, args.seq)), -100),
        "sentence_order_label": rng.integers(0, 2, size=args.batch),
    }
    times, reduce_times = [], []
    for step in range(args.steps + 1):  # the first step warms up and is not timed
        start = time.perf_counter()
        if ranks is None:
            loss, grads = model.loss_and_grads(batch["input_ids"], batch["labels"], batch["sentence_order_label"],
                                               attention_mask=batch["attention_mask"],
                                               token_type_ids=batch["token_type_ids"])
        else:
            loss, grads = data_parallel_loss_and_grads(model, batch, ranks)
        model.params = optimizer.step(model.params, grads, 1e-4)
        if step:
            times.append(time.perf_counter() - start)
    if ranks is not None:  # time the all-reduce alone on a gradient-sized buffer
        flat = flatten(grads)
        for _ in range(args.steps):
            start = time.perf_counter()
            allreduce_sum(flat, ranks)
            reduce_times.append(time.perf_counter() - start)
    if ranks is None or ranks.is_main:
        size = 1 if ranks is None else ranks.size
        step_seconds = float(np.median(times))
        tokens = args.batch * args.seq
        line = (f"processes {size}: {step_seconds * 1e3:.0f} ms/step, {tokens / step_seconds:,.0f} tokens/s, "
                f"gradient {sum(g.size for g in grads.values()) * 4 / 1e6:.1f} MB")
        if reduce_times:
            line += f", all-reduce {np.median(reduce_times) * 1e3:.1f} ms ({np.median(reduce_times) / step_seconds:.1%} of the step)"
        print(line)


if __name__ == "__main__":
    main()
