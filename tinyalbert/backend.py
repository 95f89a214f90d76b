"""Which array library runs the math, and the few operations the Array API standard lacks.

Every function in `tinyalbert.nn` asks its inputs for their namespace (`array_namespace(x)`)
instead of importing NumPy, so the same code runs on NumPy (CPU), CuPy (GPU) and
`array_api_strict` (the test that proves nothing NumPy-only slipped in).

The standard (2025.12) has no `erf` and no scatter-add. Each is solved once here: a generic
version written in standard calls, plus a fast path for the libraries that have one. Tests
check that the two agree. (The third gap, `logsumexp`, is computed where it is needed, in
`nn.losses.cross_entropy_forward`, from the same exponentials as the softmax.)
"""
from __future__ import annotations

import importlib
import math
from types import ModuleType

import numpy as np

FLOAT_DTYPES = ("float32", "float64", "float16")


def array_namespace(*arrays) -> ModuleType:
    """The Array API namespace shared by `arrays` (NumPy, CuPy, array_api_strict, ...)."""
    namespaces = set()
    for array in arrays:
        if array is None:
            continue
        get_namespace = getattr(array, "__array_namespace__", None)
        if get_namespace is not None:
            namespaces.add(get_namespace())
        elif type(array).__module__.startswith("cupy"):
            # CuPy's main namespace follows the standard closely but its arrays do not (yet)
            # announce it through __array_namespace__.
            namespaces.add(importlib.import_module("cupy"))
        else:
            raise TypeError(f"{type(array).__name__} is not an Array API array")
    if len(namespaces) != 1:
        raise TypeError(f"expected arrays from one library, got {sorted(ns.__name__ for ns in namespaces)}")
    return namespaces.pop()


def get_backend(backend: str | ModuleType = "numpy") -> ModuleType:
    """Resolve `"numpy"`, `"cupy"` or an Array API namespace module to the namespace itself."""
    if not isinstance(backend, str):
        return backend
    if backend == "numpy":
        return np
    if backend == "cupy":
        try:
            cupy = importlib.import_module("cupy")
            cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # ImportError, or CUDA present but no usable device
            raise RuntimeError(
                f"backend 'cupy' needs CuPy and a CUDA GPU ({type(error).__name__}: {error}); "
                "install CuPy for your CUDA version (e.g. `pip install cupy-cuda12x`, or cupy-cuda13x) or use backend='numpy'"
            ) from None
        if not hasattr(cupy, "permute_dims"):  # the Array API names the code calls came with CuPy 14
            raise RuntimeError(f"backend 'cupy' needs CuPy 14 or later, found {cupy.__version__}: "
                               "`pip install -U cupy-cuda12x` (or cupy-cuda13x)")
        return cupy
    if backend in ("array_api_strict", "array-api-strict"):
        return importlib.import_module("array_api_strict")
    raise ValueError(f"unknown backend {backend!r}: use 'numpy', 'cupy' or an Array API namespace module")


def backend_for_device(device, current: ModuleType) -> ModuleType:
    """The namespace whose arrays live on `device`: "cpu" (NumPy, or `current` when that is
    another CPU library), "cuda" or "cuda:N" (CuPy), an int N or a torch.device of those."""
    name = f"cuda:{device}" if isinstance(device, int) and not isinstance(device, bool) else str(device)
    kind, _, index = name.partition(":")
    if name == "cpu":
        return np if getattr(current, "__name__", "") == "cupy" else current
    if kind == "cuda" and (index == "" or index.isdigit()):
        cupy = get_backend("cupy")
        current_device = cupy.cuda.Device().id
        if index and int(index) != current_device:
            # CuPy computes on one current device per thread; moving it for one model would
            # silently move every other CuPy array's work too.
            raise ValueError(f"device {name!r}: CuPy works on the current CUDA device, cuda:{current_device}; "
                             f"make cuda:{index} current first with cupy.cuda.Device({index}).use()")
        return cupy
    raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'")


# Transformers' device_map strategies; on one device (all tinyalbert uses) they all mean "the GPU if there is one".
AUTO_DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")


def device_of_map(device_map):
    """The one device a Transformers `device_map` names, for `backend_for_device`: "cpu", "cuda",
    "cuda:N", N, a torch.device, "auto" (the GPU when CuPy finds one, else the CPU) or a dict whose
    values all name one device (`{"": 0}`). A model here lives whole on one device, so a map that
    spreads it over several is refused rather than silently gathered."""
    if isinstance(device_map, dict):
        devices = {str(device) for device in device_map.values()}
        if len(devices) != 1:
            raise ValueError(f"device_map {device_map!r} spreads the model over {sorted(devices)}: "
                             "a tinyalbert model lives whole on one device")
        device_map = next(iter(device_map.values()))
    if device_map in AUTO_DEVICE_MAPS:
        try:
            get_backend("cupy")
        except RuntimeError:
            return "cpu"
        return "cuda"
    return device_map


def _dtype_key(dtype) -> str:
    """"float16" from "float16", np.float16, np.dtype("float16"), torch.float16, array_api_strict.float32, ..."""
    if isinstance(dtype, str):
        name = dtype
    elif isinstance(getattr(dtype, "name", None), str):  # np.dtype("float16")
        name = dtype.name
    elif isinstance(getattr(dtype, "__name__", None), str):  # the scalar type np.float16
        name = dtype.__name__
    else:  # torch.float16, array_api_strict.float32: the name after the library's
        name = str(dtype)
    return name.rsplit(".", 1)[-1]


def names_a_device(value) -> bool:
    """Whether `value` is a device ("cpu", "cuda:0", an int, a torch.device) rather than a dtype,
    for calls that take either in any order, as torch's `.to()` does."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (str, int)):
        return _dtype_key(str(value)) not in FLOAT_DTYPES
    return type(value).__name__ == "device"  # torch.device, without importing torch


def get_dtype(xp: ModuleType, dtype) -> object:
    """`"float32"` (or a dtype object of NumPy, CuPy, torch or an Array API library) to the
    namespace's floating dtype."""
    name = _dtype_key(dtype)
    if name not in FLOAT_DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r}: use one of {', '.join(FLOAT_DTYPES)}")
    if not hasattr(xp, name):
        raise ValueError(f"dtype {name!r} is not offered by {getattr(xp, '__name__', xp)}")
    return getattr(xp, name)


def dtype_name(xp: ModuleType, dtype) -> str:
    """The name (`"float32"`, ...) of a floating dtype of namespace `xp`, as config.json writes it."""
    for name in FLOAT_DTYPES:
        if hasattr(xp, name) and dtype == getattr(xp, name):
            return name
    raise ValueError(f"unsupported dtype {dtype!r}: use one of {', '.join(FLOAT_DTYPES)}")


def is_float16(x) -> bool:
    """Whether `x` holds float16, a dtype outside the Array API standard (array_api_strict has none)."""
    xp = array_namespace(x)
    return hasattr(xp, "float16") and x.dtype == xp.float16


def is_torch_tensor(value) -> bool:
    """Whether `value` is a torch tensor, without importing torch."""
    return callable(getattr(value, "detach", None)) and type(value).__module__.split(".")[0] == "torch"


def to_numpy(array) -> np.ndarray:
    """Copy any backend's array (or a torch tensor, detached) to a NumPy array on the host."""
    if isinstance(array, np.ndarray):
        return array
    if is_torch_tensor(array):  # one that requires grad, or lives on a GPU, has no plain __array__
        array = array.detach().cpu()
        if str(array.dtype) == "torch.bfloat16":  # NumPy has no bfloat16; float32 holds every value
            array = array.float()
        return array.numpy()
    if hasattr(array, "get"):  # CuPy
        return array.get()
    if hasattr(array, "__dlpack__"):
        try:
            return np.from_dlpack(array)
        except Exception:  # array_api_strict on a non-CPU device, or a read-only buffer
            pass
    return np.asarray(array)


def asarray(xp: ModuleType, value, dtype=None):
    """`value` (NumPy, CuPy, list, other Array API array) as an array of namespace `xp`."""
    if value is None:
        return None
    if is_torch_tensor(value):  # a tensor from a Transformers model: detached, copied to the host
        value = to_numpy(value)
    if xp is np and hasattr(value, "__array_namespace__") and not isinstance(value, (np.ndarray, np.generic)):
        value = to_numpy(value)  # a CuPy array refuses np.asarray (no silent copies off the GPU): copy it here
    if xp is np or getattr(xp, "__name__", "") == "cupy":
        return xp.asarray(value, dtype=dtype)
    if getattr(value, "__array_namespace__", None) is not None and value.__array_namespace__() is xp:
        return value if dtype is None else xp.astype(value, dtype)
    return xp.asarray(to_numpy(value) if hasattr(value, "__array_namespace__") else np.asarray(value), dtype=dtype)


def contiguous(x):
    """`x` laid out row-major in memory (a copy only when it is a strided view).

    NumPy and CuPy hand a stacked matmul to BLAS one matrix at a time only when each matrix is
    laid out plainly; on permuted views they fall back to a loop several times slower. Other
    libraries get `x` back unchanged.
    """
    xp = array_namespace(x)
    if xp is np or getattr(xp, "__name__", "") == "cupy":
        return xp.ascontiguousarray(x)
    return x


# --- erf -------------------------------------------------------------------------------------
# Exact GELU needs erf. The generic version below is accurate to float64 rounding:
#   |x| < 3:  erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))
#             (every term positive, so no cancellation; 60 terms reach 1e-17 at |x| = 3)
#   |x| >= 3: erfc(x) from its continued fraction, 60 levels evaluated bottom-up
#             (erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))))
_ERF_SERIES_TERMS = 60
_ERFC_FRACTION_LEVELS = 60


def erf_generic(x):
    """erf(x) from standard Array API calls only. Shape of `x`, same dtype."""
    xp = array_namespace(x)
    work_dtype = xp.float64 if x.dtype == xp.float64 else xp.float32
    z = xp.abs(xp.astype(x, work_dtype))
    small = xp.minimum(z, 3.0)  # series branch, kept finite where it is not used
    term = small
    total = small
    for n in range(1, _ERF_SERIES_TERMS):
        term = term * (2.0 * small * small) / (2 * n + 1)
        total = total + term
    erf_series = (2.0 / math.sqrt(math.pi)) * xp.exp(-small * small) * total

    large = xp.maximum(z, 3.0)
    fraction = xp.zeros_like(large)
    for k in range(_ERFC_FRACTION_LEVELS, 0, -1):
        fraction = (k / 2.0) / (large + fraction)
    erfc_large = xp.exp(-large * large) / math.sqrt(math.pi) / (large + fraction)
    result = xp.where(z < 3.0, erf_series, 1.0 - erfc_large)
    return xp.astype(xp.sign(xp.astype(x, work_dtype)) * result, x.dtype)


def erf(x):
    """erf(x), elementwise, with a library fast path where one exists (SciPy, CuPy)."""
    xp = array_namespace(x)
    if xp is np:
        try:
            from scipy.special import erf as scipy_erf
        except ImportError:
            return erf_generic(x)
        return scipy_erf(x).astype(x.dtype, copy=False)
    if getattr(xp, "__name__", "") == "cupy":
        from cupyx.scipy.special import erf as cupy_erf

        return cupy_erf(x).astype(x.dtype, copy=False)  # CuPy's erf computes float16 in float64, and returns that
    return erf_generic(x)


# --- scatter-add -----------------------------------------------------------------------------
def scatter_add_rows_generic(num_rows: int, indices, updates):
    """Sum the rows of `updates` into a `(num_rows, dim)` zero table at `indices` (repeats add up).

    indices: (n,) integer; updates: (n, dim). Generic route: a one-hot `(num_rows, n)` matrix
    times `updates`, done in chunks of rows so the one-hot matrix stays small.
    """
    xp = array_namespace(updates)
    dim = updates.shape[1]
    row_ids = xp.arange(num_rows, dtype=indices.dtype)
    chunks = []
    chunk = 4096
    for start in range(0, num_rows, chunk):
        rows = row_ids[start : min(start + chunk, num_rows)]  # in-bounds stop: the standard has no clipping
        one_hot = xp.astype(rows[:, None] == indices[None, :], updates.dtype)
        chunks.append(one_hot @ updates)
    return xp.concat(chunks, axis=0) if chunks else xp.zeros((0, dim), dtype=updates.dtype)


def scatter_add_rows(num_rows: int, indices, updates):
    """Like `scatter_add_rows_generic`, through `np.add.at` / `cupyx.scatter_add` when available."""
    xp = array_namespace(updates)
    name = getattr(xp, "__name__", "")
    if xp is np or name == "cupy":
        table = xp.zeros((num_rows, updates.shape[1]), dtype=updates.dtype)
        if xp is np:
            np.add.at(table, indices, updates)
        else:
            import cupyx

            cupyx.scatter_add(table, indices, updates)
        return table
    return scatter_add_rows_generic(num_rows, indices, updates)
