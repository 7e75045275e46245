"""Whole training steps of the MNIST-1D network: eager against ``torch.compile``, and quiet against a
machine that other trainings keep busy.

One step is forward, backward and Adam on ``DelayNet`` (hidden 64, 5 taps, the command's defaults) with
a batch of 128 sequences of 40 steps. ``python -m spikestep.bench --train-step`` prints the rows; the
competitors of ``--under-load`` are processes this module starts itself (``python -m
spikestep.bench.train_step --compete SECONDS``), each running the same training steps in a loop.

Example::

    >>> from spikestep.bench.train_step import make_step
    >>> step = make_step(batch=4, steps=6, hidden=8)
    >>> step()  # one forward + backward + Adam step
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
import torch.nn as nn

from .. import functional
from ..models import DelayNet

BATCH, STEPS, HIDDEN = 128, 40, 64


def make_step(
    batch: int = BATCH, steps: int = STEPS, hidden: int = HIDDEN, compiled: bool = False, seed: int = 0
) -> Callable[[], None]:
    """A zero-argument callable that runs one training step of the MNIST-1D network."""
    torch.manual_seed(seed)
    model: nn.Module = DelayNet(hidden=hidden, taps=5)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    forward = torch.compile(model) if compiled else model
    x = torch.randn(steps, batch, 1)
    y = torch.randint(0, 10, (batch,))

    def step() -> None:
        functional.reset_net(model)
        loss = nn.functional.cross_entropy(forward(x) * 10.0, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def median_ms(step: Callable[[], None], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def compiled_against_eager(repeats: int = 15) -> dict[str, float]:
    """Median step times (ms), interleaved in rounds so both see the same machine, and compile time (s)."""
    eager = make_step()
    start = time.perf_counter()
    compiled = make_step(compiled=True)
    compiled()  # compiles (forward and backward graphs)
    compile_s = time.perf_counter() - start
    rounds: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(3):
        rounds["eager"].append(median_ms(eager, max(1, repeats // 3), warmup=1))
        rounds["compiled"].append(median_ms(compiled, max(1, repeats // 3), warmup=1))
    result = {k: statistics.median(v) for k, v in rounds.items()}
    result["compile_s"] = compile_s
    return result


def _start_competitors(count: int, seconds: float) -> list[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "spikestep.bench.train_step", "--compete", str(seconds)]
    return [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(count)
    ]


def under_load(competitors: int = 2, repeats: int = 15, warmup_s: float = 3.0) -> dict[str, float]:
    """Median step time (ms) on a quiet machine, then with ``competitors`` other trainings running."""
    step = make_step()
    quiet = median_ms(step, repeats)
    procs = _start_competitors(competitors, seconds=warmup_s + 120.0)
    try:
        time.sleep(warmup_s)  # let them import, build and reach their loops
        loaded = median_ms(step, repeats, warmup=1)
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
    return {"quiet_ms": quiet, "loaded_ms": loaded, "competitors": float(competitors)}


def _compete(seconds: float) -> None:
    step = make_step(seed=1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        step()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m spikestep.bench.train_step")
    parser.add_argument("--compete", type=float, required=True, help="run training steps for this long (s)")
    _compete(parser.parse_args().compete)
