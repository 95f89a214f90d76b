"""What data-parallel pretraining costs in communication, ALBERT against BERT of the same width.

    python bench/scaling_estimate.py

Per step each GPU computes on its own batch, then a ring all-reduce moves 2 (N-1)/N times the
gradient bytes through every GPU's link. ALBERT's compute is that of the unshared model (every
layer still runs), but its gradient is only as large as its shared parameters. This prints, for
each model and N, the gradient bytes, the all-reduce time from link bandwidth, the compute time
from the FLOP count, and the share of the step spent communicating (no overlap assumed).

The hardware numbers are assumptions, written here once: change them for another machine.
"""
from __future__ import annotations

from tinyalbert import AlbertConfig
from tinyalbert.models import AlbertForPreTraining

TOKENS_PER_GPU = 16 * 512  # sequences x length per GPU per step
SUSTAINED_FLOPS = 400e12  # bf16 on one H100 at ~40% of its 989 TFLOP/s dense peak
GRADIENT_BYTES_PER_VALUE = 4  # float32 gradients (mixed precision keeps fp32 master grads)
GPUS_PER_NODE = 8
NVLINK_BUS_BANDWIDTH = 360e9  # bytes/s, NCCL all-reduce bus bandwidth inside one 8-GPU node
NETWORK_BUS_BANDWIDTH = 45e9  # bytes/s per GPU across nodes (one 400 Gb/s link per GPU)


def albert(name: str) -> AlbertConfig:
    return AlbertConfig.preset(name)


def unshared(name: str) -> AlbertConfig:
    """BERT of the same shape: E = H and one parameter group per layer."""
    config = AlbertConfig.preset(name)
    return AlbertConfig.preset(name, embedding_size=config.hidden_size, num_hidden_groups=config.num_hidden_layers)


def parameter_count(config: AlbertConfig) -> int:
    total = 0
    for shape in AlbertForPreTraining.parameter_shapes(config).values():
        size = 1
        for extent in shape:
            size *= extent
        total += size
    return total


def flops_per_token(config: AlbertConfig, seq: int = 512) -> float:
    """Training FLOPs per token: 6 per weight that a token passes through (forward 2, backward 4),
    counting each shared layer once per use, plus the attention score and context products."""
    hidden, inner = config.hidden_size, config.intermediate_size
    per_layer = 4 * hidden * hidden + 2 * hidden * inner  # Q, K, V, output; FFN in and out
    weights = config.num_hidden_layers * per_layer + config.embedding_size * hidden  # + E -> H
    weights += config.embedding_size * config.vocab_size + hidden * config.embedding_size  # MLM head
    attention = config.num_hidden_layers * 2 * 2 * seq * hidden  # QK^T and PV
    return 6 * weights + 3 * attention


def allreduce_seconds(num_bytes: float, gpus: int) -> float:
    """Ring all-reduce: each GPU sends and receives 2 (N-1)/N of the buffer at the slowest link."""
    bandwidth = NVLINK_BUS_BANDWIDTH if gpus <= GPUS_PER_NODE else NETWORK_BUS_BANDWIDTH
    return 2 * (gpus - 1) / gpus * num_bytes / bandwidth


def rows():
    for preset in ("albert-base-v2", "albert-xxlarge-v2"):
        for label, config in ((preset, albert(preset)), (f"BERT, {preset}'s shape", unshared(preset))):
            params = parameter_count(config)
            compute = flops_per_token(config) * TOKENS_PER_GPU / SUSTAINED_FLOPS
            grad_bytes = params * GRADIENT_BYTES_PER_VALUE
            for gpus in (8, 16, 32, 64):
                communicate = allreduce_seconds(grad_bytes, gpus)
                yield label, params, grad_bytes, gpus, compute, communicate


def main() -> None:
    print(f"per GPU: {TOKENS_PER_GPU} tokens/step at {SUSTAINED_FLOPS / 1e12:.0f} TFLOP/s; all-reduce bus bandwidth "
          f"{NVLINK_BUS_BANDWIDTH / 1e9:.0f} GB/s in a node of {GPUS_PER_NODE}, {NETWORK_BUS_BANDWIDTH / 1e9:.0f} GB/s across")
    print()
    print("| model | parameters | gradient MB | GPUs | compute ms | all-reduce ms | communication share |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, params, grad_bytes, gpus, compute, communicate in rows():
        share = communicate / (compute + communicate)
        print(f"| {label} | {params / 1e6:,.1f}M | {grad_bytes / 1e6:,.0f} | {gpus} | {compute * 1e3:,.1f} | "
              f"{communicate * 1e3:,.1f} | {share:.0%} |")


if __name__ == "__main__":
    main()
