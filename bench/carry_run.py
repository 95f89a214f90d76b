"""Carry a pretraining run from one short GPU lease to the next.

What comes back from a lease is at most 8 files of 16 MiB (64 MiB together), and what goes to the
next one is at most 64 MiB with the repository. A checkpoint of the H = 512 model holds its float32
weights (22.5 MB) and two float32 AdamW moments (45 MB): too much. `pack` keeps the weights as they
are and stores each moment rounded to bfloat16 (float32's exponent, 7 of its 23 mantissa bits: a
relative error of at most 2**-8), which halves the moments; then it cuts the whole into parts of just
under 16 MiB, named after the archive's digest and their count (run-DIGEST.tar.01of03, ...).
`unpack` checks that it has every part of one archive, joins them, checks the digest and
rebuilds OUT/checkpoint with float32 moments, so that
`python -m tinyalbert.pretrain --out OUT --resume` goes on from the saved step, with the same data
position and generators. The one difference from an exact resume is that rounding of the moments.

    python bench/carry_run.py pack RUN_DIR PARTS_DIR     # writes PARTS_DIR/run-DIGEST.tar.NNofMM
    python bench/carry_run.py unpack PARTS_DIR RUN_DIR   # RUN_DIR/checkpoint (and its tokenizer, curve)
"""
from __future__ import annotations

import argparse
import hashlib
import io
import re
import sys
import tarfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save, save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tinyalbert.train.checkpoints import CHECKPOINT_DIR, OPTIMIZER_FILE  # noqa: E402

PART_BYTES = 16 * 2**20 - 2**16  # just under the 16 MiB a file may take on its way back
DIGEST_CHARS = 12  # of the archive's sha256, in every part's name
PART_NAME = re.compile(r"run-([0-9a-f]{%d})\.tar\.(\d{2})of(\d{2})" % DIGEST_CHARS)
ROUNDED_FILE = "optimizer.bfloat16.safetensors"
# Besides the checkpoint, the run's files a resumed run needs (its tokenizer) or a reader wants.
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


def pack(run: Path, parts_dir: Path, part_bytes: int = PART_BYTES) -> list[Path]:
    """RUN/checkpoint (moments rounded to bfloat16) and RUN_FILES, as a tar cut into parts; any
    parts of an earlier archive in PARTS_DIR are removed."""
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
    earlier = [file for file in parts_dir.iterdir() if PART_NAME.fullmatch(file.name)]
    data = archive.getbuffer()
    digest = hashlib.sha256(data).hexdigest()[:DIGEST_CHARS]
    starts = range(0, len(data), part_bytes)
    if len(starts) > 99:
        raise ValueError(f"{len(data)} bytes make more than 99 parts of {part_bytes}")
    parts = []
    for index, start in enumerate(starts, 1):
        parts.append(parts_dir / f"run-{digest}.tar.{index:02d}of{len(starts):02d}")
        parts[-1].write_bytes(data[start:start + part_bytes])
    for file in earlier:  # only now: stopped in between, the folder still holds one whole archive
        if file not in parts:
            file.unlink()
    return parts


def joined_parts(parts_dir: Path) -> bytes:
    """The archive the parts in PARTS_DIR make: all parts of one archive, its digest checked."""
    found = {}
    for file in sorted(parts_dir.iterdir()) if parts_dir.is_dir() else []:
        match = PART_NAME.fullmatch(file.name)
        if match:
            found.setdefault(match.group(1), []).append((int(match.group(2)), int(match.group(3)), file))
    if not found:
        raise FileNotFoundError(f"no run-DIGEST.tar.NNofMM parts in {parts_dir}")
    if len(found) > 1:
        raise ValueError(f"parts of {len(found)} archives in {parts_dir} ({', '.join(sorted(found))}): "
                         "keep only those of the run to resume")
    (digest, parts), = found.items()
    count = parts[0][1]
    if sorted(index for index, _, _ in parts) != list(range(1, count + 1)) or {total for _, total, _ in parts} != {count}:
        raise FileNotFoundError(f"parts missing in {parts_dir}: found {', '.join(file.name for _, _, file in parts)}")
    data = b"".join(file.read_bytes() for _, _, file in sorted(parts, key=lambda part: part[0]))
    if hashlib.sha256(data).hexdigest()[:DIGEST_CHARS] != digest:
        raise ValueError(f"the parts in {parts_dir} do not join into the archive they name (digest {digest}): "
                         "a part is damaged or was cut short")
    return data


def unpack(parts_dir: Path, run: Path) -> Path:
    """Join the parts in PARTS_DIR into RUN (which must not hold a checkpoint yet); float32 moments."""
    if (run / CHECKPOINT_DIR).exists():
        raise FileExistsError(f"{run / CHECKPOINT_DIR} exists: unpack into a new run directory")
    archive = io.BytesIO(joined_parts(parts_dir))
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
    packing = commands.add_parser("pack", help="RUN_DIR/checkpoint -> PARTS_DIR/run-DIGEST.tar.NNofMM")
    packing.add_argument("run", type=Path)
    packing.add_argument("parts", type=Path)
    unpacking = commands.add_parser("unpack", help="PARTS_DIR/run-DIGEST.tar.NNofMM -> RUN_DIR/checkpoint")
    unpacking.add_argument("parts", type=Path)
    unpacking.add_argument("run", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "pack":
            parts = pack(args.run, args.parts)
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
