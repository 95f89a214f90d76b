"""backend.py: the namespace and dtype helpers, and the stand-ins for what the Array API lacks
(erf, scatter-add), each generic version checked against a library's fast one."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyalbert.backend import (
    array_namespace, asarray, backend_for_device, dtype_name, erf_generic, get_backend, get_dtype, names_a_device,
    scatter_add_rows, scatter_add_rows_generic, to_numpy,
)

seeds = st.integers(0, 2**32 - 1)


def test_erf_generic_matches_math_erf():
    points = np.concatenate([np.linspace(-7.0, 7.0, 2001), [0.0, 1e-300, -1e-12, 2.9999999, 3.0, 3.0000001, 40.0]])
    expected = np.array([math.erf(x) for x in points])
    assert np.max(np.abs(erf_generic(points) - expected)) <= 2e-15  # a few units in the last place
    # float32: a few units in the last place
    assert np.max(np.abs(erf_generic(points.astype(np.float32)) - expected)) <= 1e-6


@given(seed=seeds, num_rows=st.integers(1, 9), count=st.integers(0, 30), dim=st.integers(1, 4))
def test_scatter_add_rows_matches_add_at(seed, num_rows, count, dim):
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, num_rows, size=count)  # with repeats
    updates = rng.normal(size=(count, dim))
    expected = np.zeros((num_rows, dim))
    np.add.at(expected, indices, updates)
    np.testing.assert_allclose(scatter_add_rows_generic(num_rows, indices, updates), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scatter_add_rows(num_rows, indices, updates), expected, rtol=1e-12, atol=1e-12)


def test_scatter_add_rows_generic_beyond_one_chunk():
    """More rows than one chunk of the one-hot product, and under array_api_strict."""
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(0)
    indices = rng.integers(0, 5000, size=300)
    indices[:50] = 4999
    updates = rng.normal(size=(300, 2))
    expected = np.zeros((5000, 2))
    np.add.at(expected, indices, updates)
    result = scatter_add_rows_generic(5000, xps.asarray(indices), xps.asarray(updates))
    np.testing.assert_allclose(np.asarray(result), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["float32", "float64", "float16"])
def test_dtype_names_round_trip(name):
    assert dtype_name(np, get_dtype(np, name)) == name
    assert get_dtype(np, "torch." + name) == getattr(np, name)  # as config.json files of torch write it
    xps = pytest.importorskip("array_api_strict")
    if name == "float16":  # not in the standard
        with pytest.raises(ValueError, match="float16"):
            get_dtype(xps, name)
    else:
        assert dtype_name(xps, get_dtype(xps, name)) == name
        assert get_dtype(xps, getattr(xps, name)) == getattr(xps, name)  # the library's own dtype object


@pytest.mark.parametrize("name", ["float32", "float64", "float16"])
def test_dtype_objects_of_each_library_are_read_by_their_name(name):
    torch = pytest.importorskip("torch")
    for dtype in (getattr(np, name), np.dtype(name), getattr(torch, name)):  # np.float16 is a type, not a dtype
        assert get_dtype(np, dtype) == getattr(np, name)
        assert not names_a_device(dtype)
    assert not names_a_device(name)


def test_devices_are_told_from_dtypes_and_cpu_keeps_a_cpu_library():
    torch = pytest.importorskip("torch")
    for device in ("cpu", "cuda", "cuda:1", 0, torch.device("cpu"), torch.device("cuda:0"), "mps"):
        assert names_a_device(device)
    assert not names_a_device(True)
    assert backend_for_device("cpu", np) is np and backend_for_device(torch.device("cpu"), np) is np
    xps = pytest.importorskip("array_api_strict")
    assert backend_for_device("cpu", xps) is xps
    for bad in ("mps", "cuda:x", "gpu"):
        with pytest.raises(ValueError, match="unknown device"):
            backend_for_device(bad, np)


def test_unsupported_dtypes_and_backends_are_named():
    with pytest.raises(ValueError, match="int32"):
        get_dtype(np, "int32")
    with pytest.raises(ValueError, match="int64"):
        dtype_name(np, np.int64)
    with pytest.raises(ValueError, match="tensorflow"):
        get_backend("tensorflow")


def test_namespace_of_mixed_or_foreign_arrays_is_refused():
    assert array_namespace(np.zeros(2), None) is np
    with pytest.raises(TypeError, match="list"):
        array_namespace([1.0, 2.0])
    xps = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="one library"):
        array_namespace(np.zeros(2), xps.zeros(2))
    moved = asarray(xps, np.arange(3.0))
    assert array_namespace(moved) is xps
    np.testing.assert_array_equal(to_numpy(moved), np.arange(3.0))


def test_a_numpy_model_takes_arrays_that_refuse_implicit_host_copies():
    """CuPy arrays refuse np.asarray; array_api_strict arrays on its second device refuse it the
    same way. Before, load_state_dict of a GPU model's state, a constructor given its params and a
    call with its input ids all failed with TypeError in np.asarray."""
    import tinyalbert

    xps = pytest.importorskip("array_api_strict")
    device = xps.Device("device1")
    config = tinyalbert.AlbertConfig(vocab_size=20, embedding_size=4, hidden_size=8, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=8)
    source = tinyalbert.AlbertForMaskedLM(config)
    on_device = {name: xps.asarray(np.asarray(value), device=device) for name, value in source.params.items()}
    ids = np.array([[2, 5, 7, 3]])
    expected = np.asarray(source(input_ids=ids).logits)

    target = tinyalbert.AlbertForMaskedLM(config, params=on_device)
    np.testing.assert_array_equal(np.asarray(target(input_ids=xps.asarray(ids, device=device)).logits), expected)
    reloaded = tinyalbert.AlbertForMaskedLM(config)
    reloaded.load_state_dict({name: xps.asarray(np.asarray(value), device=device)
                              for name, value in source.state_dict().items()})
    np.testing.assert_array_equal(np.asarray(reloaded(input_ids=ids).logits), expected)


def test_a_cupy_without_the_array_api_names_is_refused_with_the_version_needed(monkeypatch):
    """CuPy 13 has no permute_dims (nor matrix_transpose, concat, ...): the first linear layer
    failed with AttributeError; now the backend names the version it needs."""
    import sys
    import types

    fake = types.ModuleType("cupy")
    fake.__version__ = "13.6.0"
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 1))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(RuntimeError, match="needs CuPy 14 or later, found 13.6.0"):
        get_backend("cupy")
