"""One fine-tuning step of sequence classification, tinyalbert against transformers + torch.

    python bench/bench_finetune.py                  # albert-base-v2 shape, batch 8 x 128, 1 thread
    python bench/bench_finetune.py --threads 2 --rounds 3

A step is everything a fine-tuning loop does per batch: forward, loss (cross-entropy over 2
labels), backward, global-norm clipping at 1.0 and an AdamW update (tinyalbert: `loss_and_grads`,
`clip_grad_global_norm`, `AdamW.step`; torch: `loss.backward()`, `clip_grad_norm_`,
`torch.optim.AdamW.step`). Both models have albert-base-v2's shape and random weights, in
float32, in training mode (classifier dropout 0.1). Each side runs in its own subprocess with
the same thread count, one warm-up step then `--repeats` timed steps; the two alternate for
`--rounds` rounds so that a change in the machine's load hits both, and the ratio is that of the
medians of all timed steps. CPU seconds (`time.process_time`) are reported beside wall-clock
seconds: on a shared machine the wall clock also counts the time other jobs held the core.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import describe_cpu

REPO_ROOT = Path(__file__).resolve().parents[1]
PRESET, VOCAB_SIZE, NUM_LABELS = "albert-base-v2", 30000, 2
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def random_batch(batch: int, seq: int):
    import numpy as np

    rng = np.random.default_rng(0)
    input_ids = rng.integers(5, VOCAB_SIZE, size=(batch, seq))
    input_ids[:, 0] = 2  # [CLS]
    return input_ids, np.ones((batch, seq), dtype=np.int64), rng.integers(0, NUM_LABELS, size=batch)


def timed(step, repeats: int) -> dict:
    """Wall-clock and CPU seconds (this process, all its threads) of each timed step."""
    step()  # warm-up: first-touch allocations, the optimizer's moment buffers
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"times": wall, "cpu_times": cpu}


def tinyalbert_worker(args) -> dict:
    import numpy as np

    sys.path.insert(0, str(REPO_ROOT))
    import tinyalbert as ta
    from tinyalbert.train.optim import AdamW, clip_grad_global_norm

    config = ta.AlbertConfig.preset(PRESET, vocab_size=VOCAB_SIZE)
    model = ta.AlbertForSequenceClassification(config, seed=0).train(rng=np.random.default_rng(0))
    optimizer = AdamW(weight_decay=0.01)
    input_ids, attention_mask, labels = random_batch(args.batch, args.seq)

    def step():
        loss, grads = model.loss_and_grads(input_ids, labels, attention_mask=attention_mask)
        grads, _ = clip_grad_global_norm(grads, 1.0)
        model.params = optimizer.step(model.params, grads, lr=2e-5)

    return {**timed(step, args.repeats), "numpy": np.__version__}


def torch_worker(args) -> dict:
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sys.path.insert(0, str(REPO_ROOT))
    from tinyalbert import AlbertConfig

    values = AlbertConfig.preset(PRESET, vocab_size=VOCAB_SIZE).to_dict()
    values = {key: value for key, value in values.items() if key not in ("architectures", "model_type")}
    model = transformers.AlbertForSequenceClassification(
        transformers.AlbertConfig(**values, attn_implementation="eager")).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    input_ids, attention_mask, labels = (torch.tensor(array) for array in random_batch(args.batch, args.seq))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return {**timed(step, args.repeats), "torch": torch.__version__, "threads": torch.get_num_threads()}


def run_worker(name: str, args) -> dict:
    env = dict(os.environ, **{variable: str(args.threads) for variable in THREAD_VARIABLES})
    command = [sys.executable, __file__, "--worker", name, "--batch", str(args.batch), "--seq", str(args.seq),
               "--repeats", str(args.repeats), "--threads", str(args.threads)]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{name} worker failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker", choices=("tinyalbert", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker = tinyalbert_worker if args.worker == "tinyalbert" else torch_worker
        print(json.dumps(worker(args)))
        return 0
    times = {"tinyalbert": [], "torch": []}
    cpu_times = {"tinyalbert": [], "torch": []}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name in times:
            result = run_worker(name, args)
            times[name] += result["times"]
            cpu_times[name] += result["cpu_times"]
        load.append(os.getloadavg()[0])
    print(f"{PRESET} sequence classification, batch {args.batch} x {args.seq}, float32, {args.threads} thread(s), "
          f"{describe_cpu()}, load {load[0]:.1f} -> {load[-1]:.1f}")
    for label, measured in (("wall", times), ("cpu", cpu_times)):
        medians = {name: statistics.median(values) for name, values in measured.items()}
        for name, values in measured.items():
            print(f"  {label:4s} {name:10s} median {medians[name]:.2f} s/step, best {min(values):.2f} "
                  f"(steps: {', '.join(f'{t:.2f}' for t in values)})")
        print(f"  {label:4s} ratio tinyalbert / torch: {medians['tinyalbert'] / medians['torch']:.2f} (median), "
              f"{min(measured['tinyalbert']) / min(measured['torch']):.2f} (best)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
