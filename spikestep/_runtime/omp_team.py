"""Run work on torch's own OpenMP threads, so compiled kernels share the cores with torch instead of
fighting for them. On by default where torch runs on an OpenMP runtime that can be found;
``SPIKESTEP_OMP_TEAM=0`` hands the work to spikestep's own thread pool instead.

Measured on 2 cores with torch 2.13.0 (one-off scripts, interleaved rounds in one process, the switch
flipped per call, 2026-11-28): one training step of the MNIST-1D network took 44.4 / 33.8 ms on the team against 47.5 /
36.4 ms on the pool in two runs (its neurons 9.6 / 7.7 ms against 12.6 / 10.4 ms, measured against the
same step without neurons); a LIF forward+backward at T=64, N=8192 took 3.15 against 3.59 ms and a
SynapseFilter one 2.6 against 3.5 ms; at N=1e5 LIF took 16.87 ms on both and SynapseFilter 13.67
against 15.03 ms; a ``Linear`` then LIF (T=64, batch 100, 1000 features) took 184.6 / 182.4 ms on the
team against 196.2 / 182.5 ms on the pool, three such pairs 717.6 / 682.8 against 701.9 / 716.2 ms. An
earlier measurement (Linear then LIF: 55 ms on the team against 51 ms on the pool) had kept it off by
default. On a machine that other processes keep busy, spikestep's thread policy lowers torch's thread
count, and a walk given one thread runs on the calling thread, on neither the team nor the pool.

Why: after each parallel torch operation, the OpenMP runtime that torch uses (GNU libgomp on Linux)
keeps its worker threads spinning for a few milliseconds, waiting for the next parallel region. A kernel
started on threads of our own in that window (every neuron's walk comes right after a ``Linear``, and a
backward right after autograd's own ops) competes with the spinners for the same cores. Measured on a
2-core machine, the numba walks of a LIF neuron ran 1.8x slower that way than on a quiet machine. Handing
the work to the OpenMP runtime itself, as one parallel region, puts it on the very threads that spin:
they start at once and nothing is oversubscribed.

How: ``GOMP_parallel(fn, data, n_threads, flags)`` of the runtime torch has loaded, called through
ctypes (which releases the GIL), with ``fn`` a ctypes callback. Each team thread takes the GIL only to
pick its next chunk and call the kernel, which releases the GIL again (kernels are compiled ``nogil``).
The runtime is found only where torch says its parallel backend is OpenMP and the library exports
``GOMP_parallel`` (libgomp, and LLVM's libomp through its GNU entry points); anywhere else
:func:`team` returns None and callers use their own threads.

Example::

    >>> from spikestep._runtime import omp_team as _omp_team
    >>> t = _omp_team.found()  # None where torch does not run on an OpenMP runtime that can be found
    >>> seen = []
    >>> if t is not None:
    ...     t.run(lambda: seen.append(1), n_threads=1)
    ... else:
    ...     seen.append(1)
    >>> seen
    [1]
"""

from __future__ import annotations

import ctypes
import itertools
import os
import threading
from collections.abc import Callable
from typing import Any

import torch

# On by default; ``SPIKESTEP_OMP_TEAM=0`` (or false/no/off) turns it off (read per call).
ENV = "SPIKESTEP_OMP_TEAM"
_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_lock = threading.Lock()
_import_pid = os.getpid()
_searched = False
_team: _Team | None = None


class _Team:
    """Torch's OpenMP runtime, ready to run Python work on its threads (see the module docstring)."""

    def __init__(self, gomp_parallel: Any) -> None:
        self._gomp_parallel = gomp_parallel
        self._jobs: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count(1)  # next() on a count is atomic under the GIL
        self._callback = _CALLBACK(self._enter)  # kept referenced: the runtime holds its address

    def _enter(self, data: int | None) -> None:
        # Runs on every team thread, the caller's included, holding the GIL (ctypes takes it).
        self._jobs[data or 0]()

    def run(self, work: Callable[[], None], n_threads: int) -> None:
        """Call ``work()`` once on each of ``n_threads`` team threads (the calling thread is one of them)
        and return when all have returned. ``work`` must catch its own exceptions: one that escapes a team
        thread is printed by ctypes and lost."""
        job_id = next(self._ids)
        self._jobs[job_id] = work
        try:
            self._gomp_parallel(self._callback, job_id, n_threads, 0)
        finally:
            del self._jobs[job_id]


def _loaded_libraries() -> list[str]:
    try:
        with open("/proc/self/maps") as maps:
            return [line.split(maxsplit=5)[-1].strip() for line in maps if "/" in line]
    except OSError:  # not Linux: no list of what is loaded
        return []


def _torch_openmp_library() -> str | None:
    """Path of the OpenMP runtime loaded in this process, preferring the one inside torch's folder."""
    names = ("libgomp", "libomp", "libiomp")
    candidates = sorted(
        {p for p in _loaded_libraries() if os.path.basename(p).startswith(names)},
        key=lambda p: not p.startswith(os.path.dirname(torch.__file__)),
    )
    return candidates[0] if candidates else None


def _find() -> _Team | None:
    if "ATen parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    path = _torch_openmp_library()
    if path is None:
        return None
    try:
        gomp_parallel = ctypes.CDLL(path).GOMP_parallel  # already loaded: this only finds the symbol
    except (OSError, AttributeError):
        return None
    gomp_parallel.argtypes = [_CALLBACK, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    gomp_parallel.restype = None
    return _Team(gomp_parallel)


def enabled() -> bool:
    """Whether the team may be used: yes unless ``SPIKESTEP_OMP_TEAM`` is set to 0/false/no/off."""
    return os.environ.get(ENV, "").strip().lower() not in ("0", "false", "no", "off")


def team() -> _Team | None:
    """Torch's OpenMP team when :func:`enabled` and usable, else None (see the module docstring).

    None in a forked child too: GNU OpenMP's threads do not survive ``fork``, and a child that starts a
    parallel region after its parent has used them can hang.
    """
    if not enabled() or os.getpid() != _import_pid:
        return None
    return found()


def found() -> _Team | None:
    """Torch's OpenMP team where this process can reach it, whether or not it is :func:`enabled`."""
    global _searched, _team
    if not _searched:
        with _lock:
            if not _searched:
                _team = _find()
                _searched = True
    return _team
