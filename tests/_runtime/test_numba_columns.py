"""``numba_jit.columns_of`` and ``numba_jit.column``: a per-column coefficient that is an array or one scalar,
in Python and compiled into a kernel."""

import numpy as np
import pytest

from spikestep._runtime import numba_jit

needs_numba = pytest.mark.skipif(not numba_jit.available(), reason="numba is not usable here")


def _scaled(x, k, out, lo, hi):  # type: ignore[no-untyped-def]
    kb = numba_jit.columns_of(k, lo, hi)
    for i in range(hi - lo):
        out[lo + i] = x[lo + i] * numba_jit.column(kb, i)


def test_an_array_is_sliced_and_indexed_and_a_scalar_is_passed_through_in_python():
    a = np.arange(6.0, dtype=np.float32)
    assert np.array_equal(numba_jit.columns_of(a, 2, 5), a[2:5])
    assert numba_jit.column(a[2:5], 1) == a[3]
    k = np.float32(0.5)
    assert numba_jit.columns_of(k, 2, 5) is k and numba_jit.column(k, 4) is k


@needs_numba
def test_a_kernel_compiles_a_version_for_an_array_and_one_for_a_scalar_with_the_same_results():
    kernel = numba_jit.kernel(_scaled, depends_on=(numba_jit,))
    x = np.linspace(-1.0, 1.0, 40, dtype=np.float32)
    by_array, by_scalar = np.empty_like(x), np.empty_like(x)
    kernel(x, np.full(40, 0.3, dtype=np.float32), by_array, 5, 37)
    kernel(x, np.float32(0.3), by_scalar, 5, 37)
    assert np.array_equal(by_array[5:37], by_scalar[5:37])
    assert np.array_equal(by_scalar[5:37], x[5:37] * np.float32(0.3))
