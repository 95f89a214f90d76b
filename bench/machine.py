"""Which CPU a benchmark ran on, in one line for its report.

A hosted machine keeps its name when the hardware behind it changes: the same commit can then
run at another speed, so every CPU result says which processor, vector extensions and BLAS it
measured.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path

# The vector extensions that decide the speed of float32 matrix products (and of NumPy's loops).
VECTOR_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile")


def cpu_model() -> str:
    """Model name, family and model numbers, and the VECTOR_FLAGS present (Linux), else platform's name."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return platform.processor() or platform.machine()
    fields = {}
    for line in cpuinfo.read_text().splitlines():
        if not line.strip():
            break  # the first processor says it for all of them
        name, _, value = line.partition(":")
        fields[name.strip()] = value.strip()
    flags = set(fields.get("flags", "").split())
    present = " ".join(flag for flag in VECTOR_FLAGS if flag in flags) or "no AVX2"
    return (f"{fields.get('model name', platform.machine())} (family {fields.get('cpu family', '?')} "
            f"model {fields.get('model', '?')}, {present})")


def numpy_blas() -> str:
    """The BLAS library NumPy was built with, and its version."""
    import numpy as np

    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas['version']}"
    except (KeyError, TypeError, ValueError):
        return "unknown BLAS"


def forced_kernels() -> str:
    """", OpenBLAS kernels forced to NAME" where the environment sets OPENBLAS_CORETYPE, else "".
    The variable overrides OpenBLAS's own choice of kernels: the project's CPU machine sets it to
    Haswell (AVX2) on an AVX-512 processor, where it halves the speed of float32 products."""
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return f", OpenBLAS kernels forced to {forced} (OPENBLAS_CORETYPE)" if forced else ""


def describe_cpu() -> str:
    """E.g. 'Intel(R) Xeon(R) Processor (family 6 model 167, avx2 avx512f ...), 2 cores, NumPy 2.4.6 with
    scipy-openblas 0.3.31'."""
    import numpy as np

    return f"{cpu_model()}, {os.cpu_count()} cores, NumPy {np.__version__} with {numpy_blas()}{forced_kernels()}"


if __name__ == "__main__":
    print(describe_cpu())
