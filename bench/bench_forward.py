"""Forward-pass speed: tinyalbert vs transformers on the albert-base-v2 shape, in one run.

    python bench/bench_forward.py                      # NumPy vs torch on the CPU
    python bench/bench_forward.py --backend cupy       # CuPy vs torch CUDA on a GPU

Both models hold the same random weights (transformers saves, tinyalbert loads) and see the same
inputs; the ratio is tinyalbert time / transformers time (below 1 means tinyalbert is faster).
"""
import argparse
import statistics
import tempfile
import time

import numpy as np
import torch
import transformers

import tinyalbert
from machine import describe_cpu


def median_seconds(run, repeats, synchronize=lambda: None):
    run()
    synchronize()  # warm-up: allocator, BLAS threads, kernel compilation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    args = parser.parse_args()

    gpu = args.backend == "cupy"
    device = "cuda" if gpu else "cpu"
    threads = torch.get_num_threads()
    config = transformers.AlbertConfig(**tinyalbert.AlbertConfig.preset("albert-base-v2").to_dict())
    config._attn_implementation = "eager"  # the implementation tinyalbert mirrors
    torch.manual_seed(0)
    reference = transformers.AlbertModel(config).eval()
    with tempfile.TemporaryDirectory() as directory:
        reference.save_pretrained(directory)
        ours = tinyalbert.AlbertModel.from_pretrained(directory, backend=args.backend, dtype=args.dtype)
    torch_dtype = getattr(torch, args.dtype)
    reference = reference.to(device=device, dtype=torch_dtype)
    xp = ours.xp
    sync_ours = (lambda: xp.cuda.Device().synchronize()) if gpu else (lambda: None)
    sync_torch = torch.cuda.synchronize if gpu else (lambda: None)

    label = torch.cuda.get_device_name() if gpu else f"CPU, {threads} torch threads: {describe_cpu()}"
    print(f"albert-base-v2 shape, seq {args.seq_len}, {args.dtype}, {label}")
    print(f"{'batch':>5} {'tinyalbert ms':>14} {'transformers ms':>16} {'ratio':>6}")
    rng = np.random.default_rng(0)
    for batch in args.batch_sizes:
        ids = rng.integers(5, config.vocab_size, size=(batch, args.seq_len))
        mask = np.ones_like(ids)
        ids_ours, mask_ours = xp.asarray(ids), xp.asarray(mask)
        ids_torch, mask_torch = torch.tensor(ids, device=device), torch.tensor(mask, device=device)
        ours_time = median_seconds(lambda: ours(input_ids=ids_ours, attention_mask=mask_ours), args.repeats, sync_ours)
        with torch.inference_mode():
            torch_time = median_seconds(lambda: reference(input_ids=ids_torch, attention_mask=mask_torch),
                                        args.repeats, sync_torch)
        print(f"{batch:>5} {ours_time * 1e3:>14.1f} {torch_time * 1e3:>16.1f} {ours_time / torch_time:>6.2f}")


if __name__ == "__main__":
    main()
