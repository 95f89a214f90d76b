"""Carry a pretraining run from one short GPU lease to the next.

What comes back from a lease is at most 8 files of 16 MiB (64 MiB together), and what goes to the
next one is at most 64 MiB with the repository. A checkpoint of the H = 512 model holds its float32
weights (22.5 MB) and two float32 AdamW moments (45 MB): too much. `pack` keeps the weights as they
are and stores each moment rounded to bfloat16 (float32's exponent, 7 of its 23 mantissa bits: a
relative error of at most 2**-8), which halves the moments; then it cuts the whole into parts of PART_MIB.
`unpack` joins the parts and rebuilds OUT/checkpoint with float32 moments, so that
`python -m tinyalbert.pretrain --out OUT --resume` goes on from the saved step, with the same data
position and generators. The one difference from an exact resume is that rounding of the moments.

    python bench/carry_run.py pack RUN_DIR PARTS_DIR     # writes PARTS_DIR/run.tar.00, .01, ...
    python bench/carry_run.py unpack PARTS_DIR RUN_DIR   # RUN_DIR/checkpoint (and its tokenizer, curve)
"""
from __future__ import annotations

import argparse
import io
import sys
import tarfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save, save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tinyalbert.train.checkpoints import CHECKPOINT_DIR, OPTIMIZER_FILE  # noqa: E402

PART_MIB = 15  # under the 16 MiB a file may take on its way back
PART_PREFIX = "run.tar."
ROUNDED_FILE = "optimizer.bfloat16.safetensors"
# Besides the checkpoint, the run's files a resumed run or a reader of the results wants.
RUN_FILES = ("tokenizer", "eval_results.json", "loss_curve.png")


def to_bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """float32 -> the upper 16 bits of the nearest bfloat16 (round half to even), as uint16."""
    if not np.isfinite(values).all():
        raise ValueError("a moment holds inf or nan: this run cannot be carried")
    # Finite float32 bits are at most 0xFF7FFFFF, so adding half a unit cannot overflow uint32.
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    nearest = (bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) >> 16
    return nearest.astype(np.uint16)


def from_bfloat16_bits(bits: np.ndarray) -> np.ndarray:
    """uint16 bfloat16 bits -> float32 (exact: bfloat16 is float32 with the low 16 bits zero)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def pack(run: Path, parts_dir: Path, part_bytes: int = PART_MIB * 2**20) -> list[Path]:
    """RUN/checkpoint (moments rounded to bfloat16) and RUN_FILES, as a tar cut into parts."""
    checkpoint = run / CHECKPOINT_DIR
    if not (checkpoint / OPTIMIZER_FILE).is_file():
        raise FileNotFoundError(f"{checkpoint} holds no {OPTIMIZER_FILE}: nothing to carry")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for file in sorted(checkpoint.iterdir()):
            if file.name != OPTIMIZER_FILE:
                tar.add(file, arcname=f"{CHECKPOINT_DIR}/{file.name}")
        moments = {name: to_bfloat16_bits(value) for name, value in load_file(str(checkpoint / OPTIMIZER_FILE)).items()}
        rounded = save(moments)
        info = tarfile.TarInfo(f"{CHECKPOINT_DIR}/{ROUNDED_FILE}")
        info.size = len(rounded)
        tar.addfile(info, io.BytesIO(rounded))
        for name in RUN_FILES:
            if (run / name).exists():
                tar.add(run / name, arcname=name)
    parts_dir.mkdir(parents=True, exist_ok=True)
    for old in parts_dir.glob(PART_PREFIX + "*"):
        old.unlink()
    data = archive.getbuffer()
    parts = []
    for index, start in enumerate(range(0, len(data), part_bytes)):
        parts.append(parts_dir / f"{PART_PREFIX}{index:02d}")
        parts[-1].write_bytes(data[start:start + part_bytes])
    return parts


def unpack(parts_dir: Path, run: Path) -> Path:
    """Join PARTS_DIR/run.tar.NN into RUN (which must not hold a checkpoint yet); float32 moments."""
    parts = sorted(parts_dir.glob(PART_PREFIX + "[0-9][0-9]"))
    if not parts:
        raise FileNotFoundError(f"no {PART_PREFIX}NN parts in {parts_dir}")
    numbers = [int(part.name[len(PART_PREFIX):]) for part in parts]
    if numbers != list(range(len(parts))):
        raise FileNotFoundError(f"parts missing in {parts_dir}: found {', '.join(p.name for p in parts)}")
    if (run / CHECKPOINT_DIR).exists():
        raise FileExistsError(f"{run / CHECKPOINT_DIR} exists: unpack into a new run directory")
    archive = io.BytesIO(b"".join(part.read_bytes() for part in parts))
    run.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=archive, mode="r") as tar:
            tar.extractall(run, filter="data")
    except tarfile.TarError as error:
        raise ValueError(f"the parts in {parts_dir} do not make a whole archive: {error}") from None
    checkpoint = run / CHECKPOINT_DIR
    rounded = load_file(str(checkpoint / ROUNDED_FILE))
    save_file({name: from_bfloat16_bits(bits) for name, bits in rounded.items()}, str(checkpoint / OPTIMIZER_FILE))
    (checkpoint / ROUNDED_FILE).unlink()
    return checkpoint


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="RUN_DIR/checkpoint -> PARTS_DIR/run.tar.NN")
    packing.add_argument("run", type=Path)
    packing.add_argument("parts", type=Path)
    packing.add_argument("--part-mib", type=int, default=PART_MIB)
    unpacking = commands.add_parser("unpack", help="PARTS_DIR/run.tar.NN -> RUN_DIR/checkpoint")
    unpacking.add_argument("parts", type=Path)
    unpacking.add_argument("run", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "pack":
            parts = pack(args.run, args.parts, args.part_mib * 2**20)
            print(f"{len(parts)} parts, {sum(p.stat().st_size for p in parts) / 1e6:.1f} MB: "
                  + " ".join(str(p) for p in parts))
        else:
            print(f"unpacked into {unpack(args.parts, args.run)}")
    except (OSError, ValueError) as error:
        print(f"carry_run.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
