"""``numba_jit.wide_vectors()``: the function that calls it is compiled with LLVM's preference for
512-bit vectors, its results unchanged; Python callers see a no-op."""

import types

import pytest

pytest.importorskip("numba")

import numpy as np
import torch

from spikestep._runtime import numba_jit
from spikestep.ops.delayed_linear import numba_kernel as dl_kernel


def _axpy_wide(a, x, y):  # type: ignore[no-untyped-def]
    numba_jit.wide_vectors()
    for i in range(x.shape[0]):
        y[i] = a * x[i] + y[i]


def _axpy(a, x, y):  # type: ignore[no-untyped-def]
    for i in range(x.shape[0]):
        y[i] = a * x[i] + y[i]


def _llvm(kernel: object) -> str:
    return "\n".join(kernel._compiled.inspect_llvm().values())  # type: ignore[attr-defined]


def _run(fn, *args, tag=""):  # type: ignore[no-untyped-def]
    # Each variant under its own tag: numba's disk cache files compiled code by the function's name.
    kernel = numba_jit.kernel(fn, tag=tag)
    kernel(*args)
    return kernel


@pytest.fixture(autouse=True)
def _fresh_cache(tmp_path, monkeypatch):
    # Compiled here, not loaded from an earlier run's cache: numba shows no LLVM for cached code.
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))


def test_wide_vectors_marks_the_function_that_calls_it_and_only_that_one():
    x = np.arange(100, dtype=np.float32)
    wide = _run(_axpy_wide, np.float32(2), x, np.ones(100, np.float32))
    plain = _run(_axpy, np.float32(2), x, np.ones(100, np.float32))
    assert numba_jit.WIDE_VECTORS_ATTRIBUTE in _llvm(wide)
    assert numba_jit.WIDE_VECTORS_ATTRIBUTE not in _llvm(plain)


def test_wide_vectors_is_a_no_op_for_python_callers():
    y = np.ones(4, np.float32)
    _axpy_wide(np.float32(2), np.arange(4, dtype=np.float32), y)
    assert y.tolist() == [1.0, 3.0, 5.0, 7.0]


def _without_wide_vectors(fn):  # type: ignore[no-untyped-def]
    """``fn`` with ``numba_jit.wide_vectors`` read as a jitable that does nothing."""
    shim = types.ModuleType("narrow_numba_jit")
    shim.wide_vectors = numba_jit.register_jitable(lambda: None)
    return types.FunctionType(fn.__code__, {**fn.__globals__, "numba_jit": shim}, fn.__name__)


def test_the_delayed_linear_kernels_give_the_same_bits_at_either_vector_width():
    # The forward gather and the parameters' dot products, which ask for wide vectors, against the
    # same source compiled without them, for 2 taps and 1, on non-binary inputs (the products round).
    torch.manual_seed(0)
    d, t, n, i, o = 3, 16, 41, 37, 45
    weight, delay = torch.randn(o, i), torch.rand(o, i) * d
    held, x = torch.randn(d, n, i), torch.randn(t, n, i)
    gy = np.random.default_rng(0).standard_normal((o, t * n)).astype(np.float32)
    kernels = {
        (name, width): numba_jit.kernel(fn, tag=width)
        for name in ("_gather", "_sums")
        for width, fn in (
            ("wide", getattr(dl_kernel, name)),
            ("plain", _without_wide_vectors(getattr(dl_kernel, name))),
        )
    }
    for kernel in ("linear", "round"):
        p = dl_kernel.prepare(held, x, weight, delay, kernel)
        results = {}
        for (name, width), compiled in kernels.items():
            if name == "_gather":
                out = (np.empty((t * n, o), np.float32),)
                compiled(p.xn, p.offsets, p.a0, p.a1, -n, p.two, *out, 0, o)
            else:
                out = (np.empty((o, i)), np.empty((o, i)) if p.two else np.zeros((1, 1)))
                compiled(gy, 0, t * n, p.xn, p.offsets, n, p.two, *out, 0, i)
            results[name, width] = out
        for name in ("_gather", "_sums"):
            for wide, plain in zip(results[name, "wide"], results[name, "plain"]):
                np.testing.assert_array_equal(wide, plain)
    for (_, width), compiled in kernels.items():
        assert (numba_jit.WIDE_VECTORS_ATTRIBUTE in _llvm(compiled)) is (width == "wide")
