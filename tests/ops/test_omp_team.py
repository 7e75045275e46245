"""Kernels run on torch's own OpenMP threads where they can, and on a pool of their own elsewhere."""

import multiprocessing
import os
import threading

import pytest
import torch

from spikestep import neuron
from spikestep._runtime import numba_jit as _numba
from spikestep._runtime import omp_team as _omp_team

torch_on_openmp = "ATen parallel backend: OpenMP" in torch.__config__.parallel_info()
needs_team = pytest.mark.skipif(
    not (torch_on_openmp and _omp_team.found() is not None), reason="torch runs on no OpenMP team here"
)


@pytest.fixture(autouse=True)
def _team_switched_on(monkeypatch):
    # On by default; these tests are about the team, so they ask for it even where a user switched it off.
    monkeypatch.setenv(_omp_team.ENV, "1")


@pytest.mark.skipif(
    not (torch_on_openmp and os.path.exists("/proc/self/maps")), reason="Linux + OpenMP torch"
)
def test_the_team_is_found_where_torch_runs_on_openmp_under_linux():
    assert _omp_team.team() is not None


@needs_team
def test_team_runs_the_work_once_on_each_thread_asked_for():
    seen: list[int] = []
    _omp_team.team().run(lambda: seen.append(threading.get_ident()), n_threads=2)
    assert len(seen) == 2 and len(set(seen)) == 2


@needs_team
def test_team_threads_share_out_chunks_that_cover_the_range():
    spans = _numba.run_chunks(lambda lo, hi: (lo, hi), 4096, work_per_item=1 << 12, threads=2)
    assert [lo for lo, _ in spans[1:]] == [hi for _, hi in spans[:-1]]
    assert spans[0][0] == 0 and spans[-1][1] == 4096


@needs_team
def test_an_error_in_a_chunk_on_the_team_reaches_the_caller():
    def fail_at_the_last_chunk(lo: int, hi: int) -> None:
        if hi == 4096:
            raise ValueError("chunk failed")

    with pytest.raises(ValueError, match="chunk failed"):
        _numba.run_chunks(fail_at_the_last_chunk, 4096, work_per_item=1 << 12, threads=2)


@pytest.mark.skipif(not _numba.available(), reason="numba is not usable here")
def test_the_team_and_the_fallback_pool_give_identical_neuron_walks(monkeypatch):
    torch.manual_seed(0)
    x = torch.randn(16, 20_000, requires_grad=True)

    def walk() -> tuple[torch.Tensor, torch.Tensor]:
        node = neuron.ParametricLIFNode(step_mode="m")
        s = node(x)
        (grad_x,) = torch.autograd.grad((s * torch.linspace(0, 1, 20_000)).sum(), x)
        return s, grad_x

    on_team = walk()
    monkeypatch.setattr(_omp_team, "team", lambda: None)
    on_pool = walk()
    for a, b in zip(on_team, on_pool, strict=True):
        assert torch.equal(a, b)


def _team_in_child(queue):
    queue.put(_omp_team.team() is None)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_use_the_team():
    _omp_team.team()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_team_in_child, args=(queue,))
    child.start()
    child.join(timeout=30)
    assert child.exitcode == 0 and queue.get(timeout=5) is True


@needs_team
def test_the_team_is_on_by_default(monkeypatch):
    monkeypatch.delenv(_omp_team.ENV)
    assert _omp_team.team() is not None


def test_run_chunks_hands_its_work_to_the_team_unless_switched_off(monkeypatch):
    calls: list[int] = []

    class RecordingTeam:
        def run(self, work, n_threads):
            calls.append(n_threads)
            for _ in range(n_threads):
                work()

    monkeypatch.setattr(_omp_team, "found", lambda: RecordingTeam())
    monkeypatch.delenv(_omp_team.ENV)
    spans = _numba.run_chunks(lambda lo, hi: (lo, hi), 4096, work_per_item=1 << 12, threads=2)
    assert calls == [2] and spans[0][0] == 0 and spans[-1][1] == 4096
    monkeypatch.setenv(_omp_team.ENV, "0")
    _numba.run_chunks(lambda lo, hi: (lo, hi), 4096, work_per_item=1 << 12, threads=2)
    assert calls == [2]


def test_the_switch_turns_the_team_off(monkeypatch):
    monkeypatch.setenv(_omp_team.ENV, "0")
    assert _omp_team.team() is None
    # run_chunks still runs every chunk, on the pool instead.
    seen = _numba.run_chunks(lambda lo, hi: (lo, hi), 1 << 20, work_per_item=64)
    assert seen[0][0] == 0 and seen[-1][1] == 1 << 20
