"""Threads that behave under load: fewer threads while other work holds the cores.

Why: torch's OpenMP threads meet at a barrier after every parallel operation. When other processes hold
the cores (several trainings on one machine), a thread that reaches the barrier waits for one that the
scheduler has taken off its core, and each operation then costs a scheduler time slice instead of
microseconds: a training step of the MNIST-1D network took 51x its quiet time with two other trainings
on 2 cores. One thread per process needs no barrier, and the processes then share the cores fairly.

What: :func:`adapt`, called before heavy work (each fused walk, each training step; at most every
``INTERVAL`` seconds), reads how many tasks are runnable on the machine (``/proc/loadavg``). If the
others, together with this process's full thread count, would oversubscribe the cores (in two of the
last three readings), it runs torch on one thread; once they would not, it restores the count it found.
A count the user sets with ``torch.set_num_threads`` becomes the new full count. Where ``/proc/loadavg``
is missing (not Linux) nothing changes.

Switch: ``SPIKESTEP_ADAPT_THREADS=0`` turns it off (read at every call).

Example::

    >>> from spikestep._runtime import thread_policy
    >>> thread_policy.adapt() >= 1   # the thread count torch uses now
    True
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

import torch

ENV = "SPIKESTEP_ADAPT_THREADS"
INTERVAL = 0.05  # seconds between readings

_lock = threading.Lock()
_last_check = 0.0
_full: int | None = None  # the count to restore: the user's (or torch's default)
_ours: int | None = None  # the count this module last set
_readings: deque[bool] = deque(maxlen=3)


def enabled() -> bool:
    return os.environ.get(ENV, "").strip().lower() not in ("0", "false", "no", "off")


def _runnable_tasks() -> int | None:
    """Tasks runnable on the machine now (running or waiting for a core), or None where unknown."""
    try:
        with open("/proc/loadavg") as f:
            return int(f.read().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return None


def _own_runnable_threads() -> int | None:
    """This process's threads that are runnable now (torch's OpenMP team, spinning after an operation,
    and the numba kernels' pool included), or None where unknown: these are not other work."""
    try:
        count = 0
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
            count += stat[stat.rindex(")") + 2] == "R"
        return count
    except (OSError, IndexError, ValueError):
        return None


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def oversubscribed(runnable: int, current: int, full: int, cores: int) -> bool:
    """Whether running ``full`` threads would oversubscribe the cores, given ``runnable`` tasks now of
    which ``current`` are this process's own threads."""
    others = max(0, runnable - current)
    return others + full > cores


def adapt(now: float | None = None) -> int:
    """Lower torch's thread count to 1 under load, restore it once the load is gone (see the module
    docstring); returns the count in use. Cheap: one file read every ``INTERVAL`` seconds at most."""
    global _last_check, _full, _ours
    current = torch.get_num_threads()
    if not enabled():
        return current
    now = time.monotonic() if now is None else now
    if now - _last_check < INTERVAL:
        return current
    with _lock:
        _last_check = now
        if _ours is None or current != _ours:  # first call, or the user chose a count since
            _full = current
            _readings.clear()
        if _full is None or _full <= 1:
            _ours = current
            return current
        runnable = _runnable_tasks()
        if runnable is None:
            return current
        # Our own runnable threads, counted: torch's team spinning after an operation and the kernels'
        # pool made a quiet machine look busy to a count of ``current`` (MNIST-1D training on 2 quiet
        # cores fell to one thread: 62 s became 74-97 s).
        own = _own_runnable_threads()
        _readings.append(oversubscribed(runnable, current if own is None else own, _full, _cores()))
        if sum(_readings) >= 2:
            wanted = 1
        elif not any(_readings):
            wanted = _full
        else:  # mixed readings: keep what runs now (no flapping on a passing task)
            wanted = current
        if wanted != current:
            torch.set_num_threads(wanted)
        _ours = wanted
        return wanted


def full_count() -> int:
    """The thread count the policy restores once the load is gone (torch's count before it first
    lowered it, or the one the user set since)."""
    return _full if _full is not None else torch.get_num_threads()


def _reset_for_tests() -> None:
    global _last_check, _full, _ours
    with _lock:
        _last_check, _full, _ours = 0.0, None, None
        _readings.clear()
