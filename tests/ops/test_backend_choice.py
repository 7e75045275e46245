"""Choosing the backend in one place, and falling back when numba cannot run."""

import itertools
import multiprocessing
import os

import pytest
import torch

from spikestep import ops
from spikestep._runtime import numba_jit as _numba
from spikestep._runtime import omp_team as _omp_team
from spikestep.functional import synapse_filter_multi_step


def test_disabling_numba_by_environment_falls_back_to_torch(monkeypatch):
    monkeypatch.setenv(_numba.DISABLE_ENV, "1")
    assert not _numba.available()
    assert ops.resolve_backend(torch.zeros(3)) == "torch"
    assert "SPIKESTEP_DISABLE_NUMBA" in _numba.unavailable_reason()
    y = synapse_filter_multi_step(torch.ones(3, 2), torch.zeros(2), 0.5)
    torch.testing.assert_close(y[:, 0], torch.tensor([1.0, 2.0, 3.0]))


def test_forcing_numba_while_disabled_says_why(monkeypatch):
    monkeypatch.setenv(_numba.DISABLE_ENV, "1")
    with ops.use_backend("numba"), pytest.raises(RuntimeError, match="SPIKESTEP_DISABLE_NUMBA"):
        synapse_filter_multi_step(torch.ones(3, 2), torch.zeros(2), 0.5)


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_falsy_environment_values_leave_numba_on(monkeypatch, value):
    monkeypatch.setenv(_numba.DISABLE_ENV, value)
    assert not _numba._disabled_by_env()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int32])
def test_auto_takes_torch_for_dtypes_numba_does_not_compile(dtype):
    assert ops.resolve_backend(torch.zeros(3, dtype=dtype)) == "torch"


@pytest.mark.skipif(not _numba.available(), reason="numba is not usable here")
def test_auto_takes_numba_for_float_cpu_tensors_and_forcing_unsupported_dtypes_fails():
    assert ops.resolve_backend(torch.zeros(3), torch.zeros(2, dtype=torch.float64)) == "numba"
    with pytest.raises(RuntimeError, match="float16"):
        ops.resolve_backend(torch.zeros(3, dtype=torch.float16), backend="numba")


def test_use_backend_restores_the_previous_choice_and_rejects_unknown_names():
    with ops.use_backend("torch"):
        assert ops.requested_backend() == "torch"
    assert ops.requested_backend() == "auto"
    with pytest.raises(ValueError, match="backend must be one of"), ops.use_backend("cuda"):
        pass


def test_run_chunks_covers_the_range_once_in_order():
    spans = _numba.run_chunks(lambda lo, hi: (lo, hi), 1000, work_per_item=10_000, align=64, threads=3)
    assert spans[0][0] == 0 and spans[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert len(spans) >= 3 and all(lo % 64 == 0 for lo, _ in spans)


def test_run_chunks_keeps_small_work_on_one_thread():
    assert _numba.run_chunks(lambda lo, hi: (lo, hi), 100, work_per_item=1) == [(0, 100)]


@pytest.mark.skipif(not _numba.available(), reason="numba is not usable here")
def test_threads_follows_torch_and_restores_numba_setting():
    numba = _numba._import_numba()
    before = numba.get_num_threads()
    with _numba.threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


def _chunks_in_child(queue):
    queue.put(_numba.run_chunks(lambda lo, hi: hi - lo, 1 << 12, work_per_item=1 << 12, threads=2))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("parent_threads", ["pool", "torch's OpenMP team where there is one"])
def test_run_chunks_works_in_a_forked_child_after_the_parent_ran_chunks(monkeypatch, parent_threads):
    if parent_threads == "pool":
        monkeypatch.setattr(_omp_team, "team", lambda: None)
    _numba.run_chunks(lambda lo, hi: None, 1 << 12, work_per_item=1 << 12, threads=2)
    monkeypatch.undo()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_chunks_in_child, args=(queue,))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0 and sum(queue.get(timeout=5)) == 1 << 12


def test_forcing_triton_on_cpu_tensors_says_why(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(RuntimeError, match="backend 'triton' was forced, but"):
        ops.resolve_backend(torch.zeros(3), backend="triton")


def test_auto_never_takes_triton_for_cpu_tensors():
    assert ops.resolve_backend(torch.zeros(3)) in ("numba", "torch")
