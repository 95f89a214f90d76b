"""Where the time of one tinyalbert training step goes: cProfile, by function, self time.

    python bench/profile_step.py                     # fine-tuning step, albert-base-v2 shape, 8 x 128, 1 thread
    python bench/profile_step.py --step pretrain     # the MLM + SOP step of bench_train.py
    python bench/profile_step.py --threads 2 --top 30

The steps are those of `bench_finetune.py` (forward, loss, backward, clipping, AdamW) and
`bench_train.py` (forward and backward of MLM + SOP). One warm-up step, then `--steps` steps under
the profiler; the report gives each function's self time per step, and the share of the linear
layers (`linear_forward` / `linear_backward`, which are one BLAS matrix product each, plus a bias):
what is left beside them is all that code changes outside the BLAS can win.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

from machine import describe_cpu

REPO_ROOT = Path(__file__).resolve().parents[1]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def finetune_step(batch: int, seq: int):
    """The step of bench_finetune.py: sequence classification, clipping, AdamW."""
    import numpy as np

    import tinyalbert as ta
    from bench_finetune import PRESET, VOCAB_SIZE, random_batch
    from tinyalbert.train.optim import AdamW, clip_grad_global_norm

    config = ta.AlbertConfig.preset(PRESET, vocab_size=VOCAB_SIZE)
    model = ta.AlbertForSequenceClassification(config, seed=0).train(rng=np.random.default_rng(0))
    optimizer = AdamW(weight_decay=0.01)
    input_ids, attention_mask, labels = random_batch(batch, seq)

    def step():
        _, grads = model.loss_and_grads(input_ids, labels, attention_mask=attention_mask)
        grads, _ = clip_grad_global_norm(grads, 1.0)
        model.params = optimizer.step(model.params, grads, lr=2e-5)

    return step


def pretrain_step(batch: int, seq: int):
    """The step of bench_train.py: forward and backward of MLM + SOP."""
    import numpy as np

    import tinyalbert as ta
    from bench_train import PRESET, VOCAB_SIZE, random_batch

    model = ta.AlbertForPreTraining(ta.AlbertConfig.preset(PRESET, vocab_size=VOCAB_SIZE), seed=0)
    model.train(rng=np.random.default_rng(0))
    input_ids, labels, sentence_order_label, attention_mask, token_type_ids = random_batch(batch, seq)

    def step():
        model.loss_and_grads(input_ids, labels, sentence_order_label, attention_mask=attention_mask,
                             token_type_ids=token_type_ids)

    return step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", choices=("finetune", "pretrain"), default="finetune")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    if any(os.environ.get(variable) != str(args.threads) for variable in THREAD_VARIABLES):
        # BLAS reads its thread count when NumPy is imported: start again with the variables set
        env = dict(os.environ, **{variable: str(args.threads) for variable in THREAD_VARIABLES})
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    sys.path.insert(0, str(REPO_ROOT))
    step = (finetune_step if args.step == "finetune" else pretrain_step)(args.batch, args.seq)
    step()  # warm-up: first-touch allocations, the optimizer's moments
    profiler = cProfile.Profile()
    load_before = os.getloadavg()[0]
    start_cpu = time.process_time()
    profiler.enable()
    for _ in range(args.steps):
        step()
    profiler.disable()
    cpu_per_step = (time.process_time() - start_cpu) / args.steps
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (calls, calls, self time, total time, callers)
    rows = sorted(((self_time / args.steps, calls / args.steps, f"{Path(file).name}:{name}")
                   for (file, _, name), (_, calls, self_time, _, _) in stats.items()), reverse=True)
    total = sum(row[0] for row in rows)
    linear = sum(self_time for self_time, _, where in rows if where in ("linear.py:linear_forward",
                                                                        "linear.py:linear_backward"))
    print(f"{args.step} step, batch {args.batch} x {args.seq}, {args.threads} thread(s), {describe_cpu()}, "
          f"load {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"per step: {total:.3f} s profiled (wall), {cpu_per_step:.3f} s CPU; linear layers {linear:.3f} s "
          f"({100 * linear / total:.0f}%), everything else {total - linear:.3f} s")
    print(f"{'self s/step':>11}  {'calls':>6}  function")
    for self_time, calls, where in rows[:args.top]:
        print(f"{self_time:11.4f}  {calls:6.0f}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
