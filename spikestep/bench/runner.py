"""Time a list of cases over sizes, against the memory floor; print a table; write JSON."""

from __future__ import annotations

import functools
import gc
import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from .. import ops as kernels
from .cases import Case, spikes

# Numbers a row holds, in table order: (key, header, format).
_COLUMNS: list[tuple[str, str, str]] = [
    ("fused_ms", "fused ms", "{:.3f}"),
    ("fused_vs_floor", "fused/clone", "{:.2f}"),
    ("torch_ms", "torch ms", "{:.3f}"),
    ("torch_vs_floor", "torch/clone", "{:.2f}"),
    ("loop_ms", "loop ms", "{:.2f}"),
    ("loop_vs_fused", "loop/fused", "{:.1f}"),
    ("floor_ms", "clone ms", "{:.3f}"),
    ("spikingjelly_ms", "SJ ms", "{:.3f}"),
    ("spikingjelly_vs_fused", "SJ/fused", "{:.2f}"),
    ("free_ms", "free ms", "{:.3f}"),
    ("spikingjelly_vs_free", "SJ/free", "{:.2f}"),
]

_MIN_SAMPLE_S = 2e-3  # fast calls are repeated inside one sample so that the timer's grain does not matter


def _inner_count(fn: Callable[[], object], sync: Callable[[], object]) -> int:
    """Calls per sample: a call faster than 2 ms is repeated inside a sample, so the timer's grain does
    not matter and a GPU's launch latency is overlapped as a caller's loop overlaps it. Sized from a
    second, warm call (the first compiles)."""
    fn()  # warm-up: JIT compile, allocator, first-touch pages
    sync()
    start = time.perf_counter()
    fn()
    sync()
    warm = time.perf_counter() - start
    return max(1, min(1000, int(_MIN_SAMPLE_S / max(warm, 1e-9))))


def _sample_ms(fn: Callable[[], object], inner: int, sync: Callable[[], object]) -> float:
    sync()
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    sync()
    return (time.perf_counter() - t0) / inner * 1e3


def median_ms(
    fn: Callable[[], object],
    repeats: int,
    budget_s: float = 20.0,
    synchronize: Callable[[], object] | None = None,
) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` samples, after two warm-up calls.

    A call faster than 2 ms (as the second warm-up call took) is repeated inside each sample and the
    sample divided. Sampling stops early (at least one sample) once ``budget_s`` seconds are spent, so
    slow baselines cost bounded time. ``synchronize`` (e.g. ``torch.cuda.synchronize``) is called before
    each clock reading, so that work queued on a GPU is counted.
    """
    return interleaved_median_ms({"fn": (fn, repeats)}, budget_s, synchronize)["fn"]


def interleaved_median_ms(
    contenders: dict[str, tuple[Callable[[], object], int]],
    budget_s: float = 20.0,
    synchronize: Callable[[], object] | None = None,
) -> dict[str, float]:
    """Median ms of each ``name: (fn, repeats)``, sampled in rounds of one sample each (the order
    reversed every other round), so that all contenders see the same machine and none always runs
    first. A contender leaves the rounds after its ``repeats`` samples or once its samples have taken
    ``budget_s`` seconds (at least one sample; its two warm-up calls come on top). Samples are sized as
    in :func:`median_ms`.

    Example::

        >>> from spikestep.bench.runner import interleaved_median_ms
        >>> times = interleaved_median_ms({"a": (lambda: None, 3), "b": (lambda: sum(range(99)), 3)})
        >>> sorted(times)
        ['a', 'b']
    """
    if not contenders:
        return {}
    sync = synchronize or (lambda: None)
    inner = {name: _inner_count(fn, sync) for name, (fn, _) in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    spent = dict.fromkeys(contenders, 0.0)
    names = list(contenders)
    for round_index in range(max(max(1, r) for _, r in contenders.values())):
        for name in names if round_index % 2 == 0 else names[::-1]:
            fn, repeats = contenders[name]
            taken = samples[name]
            if taken and (len(taken) >= repeats or spent[name] > budget_s):
                continue
            ms = _sample_ms(fn, inner[name], sync)
            taken.append(ms)
            spent[name] += ms * inner[name] / 1e3
    return {name: statistics.median(taken) for name, taken in samples.items()}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b is not None and b > 0 else None


def _synchronizer(device: torch.device) -> Callable[[], object] | None:
    return torch.cuda.synchronize if device.type == "cuda" else None


def _contender(
    build: Callable[..., Callable[[], object]],
    n_steps: int,
    n: int,
    dtype: torch.dtype,
    backend: str | None,
    device: torch.device,
) -> Callable[[], object]:
    # CPU builders may take three arguments (the original contract); a GPU run passes the device.
    fn = build(n_steps, n, dtype) if device.type == "cpu" else build(n_steps, n, dtype, device)
    if backend is None:
        return fn

    def with_backend() -> object:
        with kernels.use_backend(backend):
            return fn()

    return with_backend


def run(
    cases: Sequence[Case],
    sizes: Iterable[tuple[int, int]],
    dtype: torch.dtype = torch.float32,
    repeats: int = 7,
    loop_repeats: int = 2,
    backends: Sequence[str] = ("auto", "torch"),
    loop: bool = True,
    spikingjelly: bool = True,
    progress: Callable[[dict[str, Any]], None] | None = None,
    device: torch.device | str = "cpu",
) -> list[dict[str, Any]]:
    """Time every case at every ``(T, N)`` size; return one dict per (case, size).

    Each row has ``case``, ``T``, ``N``, ``backend`` (what ``'auto'`` resolved to), and the times in ms:
    ``fused_ms`` (backend ``'auto'``), ``torch_ms`` (the pure PyTorch path), ``loop_ms`` (per-step loop),
    ``floor_ms`` (``x.clone()`` of the same ``[T, N]`` tensor), ``spikingjelly_ms``, ``free_ms`` (the
    case's ``free`` builder, timed with SpikingJelly); and the ratios ``fused_vs_floor``,
    ``torch_vs_floor``, ``loop_vs_fused``, ``spikingjelly_vs_fused`` (above 1: spikestep is faster) and
    ``spikingjelly_vs_free`` (the most any implementation could be faster than SpikingJelly). A time not
    measured is ``None``.
    ``backends`` lists the fused paths to time (``'auto'`` fills ``fused_ms``, ``'torch'`` ``torch_ms``,
    ``'numba'`` forces numba into ``fused_ms``). The contenders of a row (the floor, each backend, the
    loop and SpikingJelly) are timed in interleaved rounds (:func:`interleaved_median_ms`), so their
    ratios come from the same minutes of the machine; a row whose tensors would hold more than 4 GiB at
    once times them one after another instead. ``progress`` is called with each row when it is
    done. ``device``: where the tensors live (``'cuda'`` times the GPU walks, synchronising before each
    clock reading).
    """
    device = torch.device(device)
    sync = _synchronizer(device)
    rows: list[dict[str, Any]] = []
    for n_steps, n in sizes:
        sample = spikes(n_steps, n, dtype).to(device)
        for case in cases:
            row: dict[str, Any] = {"case": case.name, "T": n_steps, "N": n, "backend": None}
            row.update(dict.fromkeys((key for key, _, _ in _COLUMNS), None))
            # Each contender as (a maker of its call, samples): built only when timed.
            contenders: dict[str, tuple[Callable[[], Callable[[], object]], int]] = {
                "floor_ms": (lambda s=sample: lambda: s.clone(), repeats)
            }
            for backend in backends:
                key = "torch_ms" if backend == "torch" else "fused_ms"
                contenders[key] = (
                    functools.partial(_contender, case.fused, n_steps, n, dtype, backend, device),
                    repeats,
                )
                if key == "fused_ms":
                    row["backend"] = kernels.resolve_backend(
                        torch.empty(0, dtype=dtype, device=device),
                        backend=backend if backend != "auto" else None,
                    )
            if loop and case.loop is not None:
                contenders["loop_ms"] = (
                    functools.partial(_contender, case.loop, n_steps, n, dtype, None, device),
                    loop_repeats,
                )
            if spikingjelly and case.spikingjelly is not None:
                contenders["spikingjelly_ms"] = (
                    functools.partial(_contender, case.spikingjelly, n_steps, n, dtype, None, device),
                    repeats,
                )
                if case.free is not None:  # the floor, beside SpikingJelly: how far it could be beaten
                    contenders["free_ms"] = (
                        functools.partial(_contender, case.free, n_steps, n, dtype, None, device),
                        repeats,
                    )
            try:
                row.update(_time_row(contenders, n_steps * n * sample.element_size(), sync))
            finally:
                del contenders
                gc.collect()
            row["fused_vs_floor"] = _ratio(row.get("fused_ms"), row["floor_ms"])
            row["torch_vs_floor"] = _ratio(row.get("torch_ms"), row["floor_ms"])
            row["loop_vs_fused"] = _ratio(row.get("loop_ms"), row.get("fused_ms") or row.get("torch_ms"))
            row["spikingjelly_vs_fused"] = _ratio(
                row.get("spikingjelly_ms"), row.get("fused_ms") or row.get("torch_ms")
            )
            row["spikingjelly_vs_free"] = _ratio(row.get("spikingjelly_ms"), row.get("free_ms"))
            rows.append(row)
            if progress is not None:
                progress(row)
        del sample
        gc.collect()
    return rows


# Above this many bytes of [T, N] tensors held at once (each contender holds about two: its input and
# the gradient it feeds back), a row's contenders are built and timed one after another instead of in
# interleaved rounds, so that the default sizes (T=256, N=1e6: 1 GB a tensor) fit a laptop's memory.
_INTERLEAVE_BYTES = 4 << 30


def _time_row(
    makers: dict[str, tuple[Callable[[], Callable[[], object]], int]],
    tensor_bytes: int,
    sync: Callable[[], object] | None,
) -> dict[str, float]:
    """Median ms of each contender, ``name: (make, repeats)`` with ``make()`` building its call."""
    if tensor_bytes * 2 * len(makers) <= _INTERLEAVE_BYTES:
        built = {name: (make(), repeats) for name, (make, repeats) in makers.items()}
        try:
            return interleaved_median_ms(built, synchronize=sync)
        finally:
            del built
    times = {}
    for name, (make, repeats) in makers.items():
        fn = make()
        times[name] = median_ms(fn, repeats, synchronize=sync)
        del fn
        gc.collect()
    return times


def format_n(n: int) -> str:
    """``100000`` -> ``'1e5'`` (powers of ten), else the number."""
    exponent = math.log10(n) if n > 0 else 0.5
    return f"1e{round(exponent)}" if exponent == round(exponent) and n >= 1000 else str(n)


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a fixed-width text table; columns nobody measured are left out."""
    columns = [c for c in _COLUMNS if any(row.get(c[0]) is not None for row in rows)]
    header = ["case", "T", "N", "backend", *(c[1] for c in columns)]
    lines = [header]
    for row in rows:
        cells = [row["case"], str(row["T"]), format_n(row["N"]), str(row.get("backend") or "-")]
        for key, _, fmt in columns:
            value = row.get(key)
            cells.append(fmt.format(value) if value is not None else "-")
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths)))
        for line in lines
    ]
    text.insert(1, "-" * len(text[0]))
    return "\n".join(text)
