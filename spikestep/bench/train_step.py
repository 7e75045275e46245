"""Whole training steps of the MNIST-1D network: eager against ``torch.compile``, spikestep against the
same network built from SpikingJelly 2.0 parts, and quiet against a machine that other trainings keep busy.

One step is forward, backward and Adam on ``DelayNet`` (hidden 64, 5 taps, the command's defaults) with
a batch of 128 sequences of 40 steps. ``python -m spikestep.bench --train-step`` prints the rows; the
competitors of ``--under-load`` are processes this module starts itself (``python -m
spikestep.bench.train_step --compete SECONDS``), each running spikestep's training steps in a loop.

The SpikingJelly network (``peer="spikingjelly"``, :mod:`spikestep.bench.peer_network`; SpikingJelly is
optional) starts from the same weights and trains on the same batch. Both are timed in one process, in
alternating rounds, so that both see the same machine. Each runs with the torch thread count its users
get: spikestep's thread policy (``spikestep/_runtime/thread_policy.py``) may lower the count while other
work holds the cores; SpikingJelly has no such policy, so its steps run with the count the policy would
restore (torch's own, or the one you set), not with the one the policy set for spikestep.

Example::

    >>> from spikestep.bench.train_step import make_step
    >>> step = make_step(batch=4, steps=6, hidden=8)
    >>> step()  # one forward + backward + Adam step
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
import torch.nn as nn

from .. import functional
from .._runtime import thread_policy
from ..models import DelayNet
from ..neuron import BaseNode
from . import peer_network

BATCH, STEPS, HIDDEN = 128, 40, 64
PEERS = ("spikestep", "spikingjelly")


def unadapted_threads() -> int:
    """torch's thread count as a process without spikestep's thread policy has it: the count the policy
    restores once the machine is quiet (torch's default, or the one the user set).

    Example::

        >>> from spikestep.bench.train_step import unadapted_threads
        >>> unadapted_threads() >= 1
        True
    """
    return thread_policy.full_count()


def _with_threads(step: Callable[[], None], threads: int | Callable[[], int]) -> Callable[[], None]:
    """``step`` run with exactly ``threads`` torch threads (an int, or a callable read at each call); the
    count found is restored afterwards, so spikestep's thread policy sees the count it left."""

    def pinned() -> None:
        wanted = threads() if callable(threads) else threads
        found = torch.get_num_threads()
        if wanted == found:
            step()
            return
        torch.set_num_threads(wanted)
        try:
            step()
        finally:
            torch.set_num_threads(found)

    return pinned


class _PassThrough(nn.Module):
    """Hands its input on unchanged, in either step mode: a neuron's stand-in when timing what the rest
    of a network costs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _neuron_types(peer: str) -> tuple[type, ...]:
    if peer == "spikingjelly":
        return (importlib.import_module("spikingjelly.activation_based.neuron").BaseNode,)
    return (BaseNode,)


def _without_neurons(model: nn.Module, types: tuple[type, ...]) -> None:
    """Replace every neuron of ``model`` (a module of one of ``types``) by :class:`_PassThrough`."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, types):
                setattr(parent, name, _PassThrough())


def make_step(
    batch: int = BATCH,
    steps: int = STEPS,
    hidden: int = HIDDEN,
    compiled: bool = False,
    seed: int = 0,
    peer: str = "spikestep",
    threads: int | None = None,
    neurons: bool = True,
) -> Callable[[], None]:
    """A zero-argument callable that runs one training step of the MNIST-1D network.

    Args:
        peer: whose network: ``'spikestep'`` (``DelayNet``) or ``'spikingjelly'`` (the same architecture
            from SpikingJelly 2.0 parts, :func:`~spikestep.bench.peer_network.spikingjelly_delaynet`,
            loaded with the weights ``DelayNet`` gets from ``seed``; the same batch too). Raises
            ``ModuleNotFoundError`` when SpikingJelly is not installed.
        threads: ``None``: the thread count the peer's users get (spikestep: whatever its thread policy
            leaves; SpikingJelly: :func:`unadapted_threads`, read at each step); an int: exactly that
            many torch threads during each step.
        neurons: False replaces every neuron by a module that hands its input on: the step then
            costs what the rest of the network (matrix products, batch norm, delays, Adam) costs, a
            floor under the whole step that no neuron kernel can go below.

    Example (SpikingJelly's step where it is installed)::

        >>> from spikestep.bench.peer_network import spikingjelly_available
        >>> from spikestep.bench.train_step import make_step
        >>> if spikingjelly_available():
        ...     make_step(batch=4, steps=6, hidden=8, peer="spikingjelly")()
    """
    if peer not in PEERS:
        raise ValueError(f"peer must be one of {list(PEERS)}, got {peer!r}")
    torch.manual_seed(seed)
    model: nn.Module = DelayNet(hidden=hidden, taps=5)
    x = torch.randn(steps, batch, 1)
    y = torch.randint(0, 10, (batch,))
    reset: Callable[[nn.Module], None] = functional.reset_net
    if peer == "spikingjelly":
        sj_model = peer_network.spikingjelly_delaynet(hidden=hidden, taps=5)
        sj_model.load_state_dict(model.state_dict())
        model = sj_model
        reset = importlib.import_module("spikingjelly.activation_based.functional").reset_net
    if not neurons:
        _without_neurons(model, _neuron_types(peer))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    forward = torch.compile(model) if compiled else model

    def step() -> None:
        reset(model)
        loss = nn.functional.cross_entropy(forward(x) * 10.0, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    if threads is not None:
        return _with_threads(step, threads)
    if peer == "spikingjelly":
        return _with_threads(step, unadapted_threads)
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


def interleaved_ms(
    steps: dict[str, Callable[[], None]], repeats: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Time each of ``steps`` ``repeats`` times (ms), in rounds of one call each, the order reversed every
    other round: all see the same machine, and none always runs first. Returns every sample, by name.

    Example::

        >>> from spikestep.bench.train_step import interleaved_ms
        >>> samples = interleaved_ms({"a": lambda: None, "b": lambda: None}, repeats=3)
        >>> {name: len(times) for name, times in samples.items()}
        {'a': 3, 'b': 3}
    """
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            steps[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            steps[name]()
            samples[name].append((time.perf_counter() - start) * 1e3)
    return samples


def _quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def peer_against_spikestep(
    repeats: int = 15, warmup: int = 2, one_thread: bool = True, floors: bool = True
) -> dict[str, float]:
    """One training step of spikestep's ``DelayNet`` and of the same network from SpikingJelly 2.0 parts
    (:func:`make_step`, eager both), timed alternately in one process.

    Returns the median ms of each, ``spikestep_ms`` and ``spikingjelly_ms`` (SpikingJelly on the thread
    count its users get, ``spikingjelly_threads``); ``ratio`` = SpikingJelly / spikestep (above 1:
    spikestep is faster) and the quartiles ``ratio_q1``, ``ratio_q3`` of the per-round ratios (how much
    the machine's noise moves it); ``spikestep_threads``, the median thread count spikestep's thread
    policy had chosen after its steps (below ``spikingjelly_threads``: the machine was busy). With
    ``one_thread``, also ``spikingjelly_one_thread_ms`` and ``ratio_one_thread``: SpikingJelly's step on
    one thread, which on a busy machine separates the cost of its code from that of its threads waiting
    for cores. With ``floors``, also both networks with every neuron replaced by a pass-through
    (``make_step(neurons=False)``) in the same rounds: ``spikestep_without_neurons_ms``,
    ``spikingjelly_without_neurons_ms``, and ``ratio_with_free_neurons`` = SpikingJelly's whole step over
    spikestep's step without neurons, the most that faster neurons alone could bring the ratio to.
    Raises ``ModuleNotFoundError`` when SpikingJelly is not installed."""
    spikestep_step = make_step()
    threads_after: list[int] = []

    def spikestep_and_threads() -> None:
        spikestep_step()
        threads_after.append(torch.get_num_threads())

    steps = {"spikestep": spikestep_and_threads, "spikingjelly": make_step(peer="spikingjelly")}
    if one_thread:
        steps["spikingjelly_one_thread"] = make_step(peer="spikingjelly", threads=1)
    if floors:
        steps["spikestep_without_neurons"] = make_step(neurons=False)
        steps["spikingjelly_without_neurons"] = make_step(peer="spikingjelly", neurons=False)
    samples = interleaved_ms(steps, repeats, warmup)
    ss, sj = statistics.median(samples["spikestep"]), statistics.median(samples["spikingjelly"])
    q1, q3 = _quartiles([b / a for a, b in zip(samples["spikestep"], samples["spikingjelly"])])
    result = {
        "spikestep_ms": ss,
        "spikingjelly_ms": sj,
        "ratio": sj / ss,
        "ratio_q1": q1,
        "ratio_q3": q3,
        "spikestep_threads": float(statistics.median(threads_after[warmup:] or threads_after)),
        "spikingjelly_threads": float(unadapted_threads()),
        "repeats": float(repeats),
    }
    if one_thread:
        sj1 = statistics.median(samples["spikingjelly_one_thread"])
        result["spikingjelly_one_thread_ms"] = sj1
        result["ratio_one_thread"] = sj1 / ss
    if floors:
        bare = statistics.median(samples["spikestep_without_neurons"])
        result["spikestep_without_neurons_ms"] = bare
        result["spikingjelly_without_neurons_ms"] = statistics.median(samples["spikingjelly_without_neurons"])
        result["ratio_with_free_neurons"] = sj / bare
    return result


def under_load(
    competitors: int = 2, repeats: int = 15, warmup_s: float = 3.0, peers: bool | None = None
) -> dict[str, float]:
    """Median step times (ms) on a quiet machine, then with ``competitors`` other trainings (spikestep's,
    in processes of their own) running on the same cores.

    ``quiet_ms``, ``loaded_ms``: spikestep. With ``peers`` (default: when SpikingJelly is installed),
    also the SpikingJelly network of :func:`peer_against_spikestep`, timed alternately with spikestep's
    step under the same competitors: ``sj_quiet_ms``, ``sj_loaded_ms`` with the thread count its users
    get (:func:`unadapted_threads`), and ``sj_loaded_one_thread_ms`` with ``torch.set_num_threads(1)``,
    what a SpikingJelly user who knows the cure for a busy machine would set."""
    if peers is None:
        peers = peer_network.spikingjelly_available()
    steps = {"spikestep": make_step()}
    if peers:
        steps["spikingjelly"] = make_step(peer="spikingjelly")
    quiet = interleaved_ms(steps, repeats, warmup=2)
    if peers:
        steps["spikingjelly_one_thread"] = make_step(peer="spikingjelly", threads=1)
    # Long enough for the slowest case seen (50x the quiet time per step); they are killed when done.
    quiet_s = sum(statistics.median(v) for v in quiet.values()) / 1e3 * (2.0 if peers else 1.0)
    seconds = warmup_s + min(1800.0, max(120.0, 50.0 * (repeats + 1) * quiet_s))
    procs = _start_competitors(competitors, seconds=seconds)
    try:
        time.sleep(warmup_s)  # let them import, build and reach their loops
        loaded = interleaved_ms(steps, repeats, warmup=1)
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
    result = {
        "quiet_ms": statistics.median(quiet["spikestep"]),
        "loaded_ms": statistics.median(loaded["spikestep"]),
        "competitors": float(competitors),
    }
    if peers:
        result["sj_quiet_ms"] = statistics.median(quiet["spikingjelly"])
        result["sj_loaded_ms"] = statistics.median(loaded["spikingjelly"])
        result["sj_loaded_one_thread_ms"] = statistics.median(loaded["spikingjelly_one_thread"])
    return result


def _compete(seconds: float) -> None:
    step = make_step(seed=1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        step()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m spikestep.bench.train_step")
    parser.add_argument("--compete", type=float, required=True, help="run training steps for this long (s)")
    _compete(parser.parse_args().compete)
