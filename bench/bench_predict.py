"""Cold start of one prediction: `python -m tinyalbert.predict` against transformers' fill-mask pipeline.

Each run is a fresh interpreter doing everything a user waits for: import, load the checkpoint
and tokenizer, predict one masked sentence, print. Both load the same albert-base-v2-shaped
checkpoint (random weights written by transformers' `save_pretrained`, with the real
albert-base-v2 tokenizer files) from a temporary directory, which is deleted afterwards.

The reference uses transformers' slow `AlbertTokenizer`, the one tinyalbert reproduces, so both
sides compute the same thing; `--fast-tokenizer` adds the plain `pipeline(model=dir)` route,
which converts spiece.model to a fast tokenizer at every load.

    python bench/bench_predict.py            # median of 3 runs each (interleaved), after a warm-up run
    python bench/bench_predict.py --runs 5 --fast-tokenizer
    python bench/bench_predict.py --threads 1  # one BLAS/OpenMP thread on both sides
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TOKENIZER_FIXTURE = REPO_ROOT.parent / "shared" / "fixtures" / "albert-base-v2-tokenizer"
TEXT = "The capital of France is [MASK]."

# The same steps on both sides, timed inside the process: (import, load, predict).
TINYALBERT_STEPS = """
import json, sys, time
t0 = time.perf_counter()
from tinyalbert.pipelines import pipeline
t1 = time.perf_counter()
fill_mask = pipeline("fill-mask", model=sys.argv[1])
t2 = time.perf_counter()
result = fill_mask(sys.argv[2])
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "predict": t3 - t2, "tokens": [p["token"] for p in result]}))
"""
TRANSFORMERS_STEPS = """
import json, sys, time
t0 = time.perf_counter()
from transformers import AlbertTokenizer, pipeline
t1 = time.perf_counter()
fill_mask = pipeline("fill-mask", model=sys.argv[1], tokenizer=AlbertTokenizer.from_pretrained(sys.argv[1]),
                     framework="pt")
t2 = time.perf_counter()
result = fill_mask(sys.argv[2])
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "predict": t3 - t2, "tokens": [p["token"] for p in result]}))
"""
TRANSFORMERS_FAST_TOKENIZER = """
import json, sys
from transformers import pipeline
result = pipeline("fill-mask", model=sys.argv[1], framework="pt")(sys.argv[2])
print(json.dumps([p["token"] for p in result]))
"""


def build_checkpoint(directory: Path) -> Path:
    """albert-base-v2's shape (12 x 768, E=128, V=30000), random weights, real tokenizer files."""
    import torch
    from transformers import AlbertConfig, AlbertForMaskedLM

    if not (TOKENIZER_FIXTURE / "spiece.model").is_file():
        sys.exit(f"the albert-base-v2 tokenizer files are needed at {TOKENIZER_FIXTURE}")
    config = AlbertConfig(vocab_size=30000, embedding_size=128, hidden_size=768, num_hidden_layers=12,
                          num_attention_heads=12, intermediate_size=3072, hidden_act="gelu_new",
                          hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    AlbertForMaskedLM(config).save_pretrained(directory)
    for name in ("spiece.model", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(TOKENIZER_FIXTURE / name, directory / name)
    return directory


def wall_time(command: list[str], env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} ... failed:\n{done.stderr}")
    return elapsed, done.stdout


def interleaved_wall_times(commands: dict, env: dict, runs: int) -> tuple[dict, dict]:
    """Wall times of each command, run in turn (A, B, A, B, ...) so that a change in the load of
    the machine hits every command alike; one untimed warm-up run each (page cache, .pyc files)."""
    outputs = {name: wall_time(command, env)[1] for name, command in commands.items()}
    times = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            elapsed, outputs[name] = wall_time(command, env)
            times[name].append(elapsed)
    return times, outputs


def median_steps(code: str, model_dir: Path, env: dict, runs: int) -> dict:
    samples = [json.loads(wall_time([sys.executable, "-c", code, str(model_dir), TEXT], env)[1]) for _ in range(runs)]
    return {key: statistics.median(s[key] for s in samples) for key in ("import", "load", "predict")} | {
        "tokens": samples[0]["tokens"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per command (default: 3)")
    parser.add_argument("--fast-tokenizer", action="store_true",
                        help="also time transformers' pipeline(model=dir), which builds a fast tokenizer")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS/OpenMP threads for both sides (OPENBLAS/OMP/MKL_NUM_THREADS); default: the libraries' own")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if args.threads is not None:
        env.update({name: str(args.threads) for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp:
        model_dir = build_checkpoint(Path(tmp) / "albert-base-v2-random")
        commands = {
            "tinyalbert": [sys.executable, "-m", "tinyalbert.predict", TEXT, "--model", str(model_dir), "--json"],
            "transformers": [sys.executable, "-c", TRANSFORMERS_STEPS, str(model_dir), TEXT],
        }
        if args.fast_tokenizer:
            commands["transformers-fast"] = [sys.executable, "-c", TRANSFORMERS_FAST_TOKENIZER, str(model_dir), TEXT]
        times, outputs = interleaved_wall_times(commands, env, args.runs)
        steps = {"tinyalbert": median_steps(TINYALBERT_STEPS, model_dir, env, args.runs),
                 "transformers": median_steps(TRANSFORMERS_STEPS, model_dir, env, args.runs)}
    load_after = os.getloadavg()[0]

    labels = {
        "tinyalbert": "`python -m tinyalbert.predict`",
        "transformers": "transformers fill-mask pipeline (slow AlbertTokenizer)",
        "transformers-fast": "transformers fill-mask pipeline (`tokenizer` from the directory: fast)",
    }
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load_before:.1f} before and "
          f"{load_after:.1f} after; threads {args.threads or 'default'}; text {TEXT!r}; median of {args.runs} runs\n")
    print("| command | wall time (s), median | runs (s) |")
    print("| --- | --- | --- |")
    for name, values in times.items():
        print(f"| {labels[name]} | {medians[name]:.2f} | {', '.join(f'{t:.2f}' for t in values)} |")
    print(f"\nratio tinyalbert / transformers: {medians['tinyalbert'] / medians['transformers']:.2f}")
    ours_tokens = [p["token"] for p in json.loads(outputs["tinyalbert"])["predictions"]]
    theirs_tokens = json.loads(outputs["transformers"])["tokens"]
    print("same top-5 tokens:", ours_tokens == theirs_tokens, ours_tokens, theirs_tokens)
    print("\n| steps inside the process (s), median | import | load | predict |")
    print("| --- | --- | --- | --- |")
    for name, step in steps.items():
        print(f"| {name} | {step['import']:.3f} | {step['load']:.3f} | {step['predict']:.3f} |")


if __name__ == "__main__":
    main()
