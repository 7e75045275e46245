"""Time a list of cases over sizes, against the memory floor; print a table; write JSON."""

from __future__ import annotations

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
]

_MIN_SAMPLE_S = 2e-3  # fast calls are repeated inside one sample so that the timer's grain does not matter


def median_ms(
    fn: Callable[[], object],
    repeats: int,
    budget_s: float = 20.0,
    synchronize: Callable[[], object] | None = None,
) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` samples, after one warm-up call.

    A call faster than 2 ms is repeated inside each sample and the sample divided. Sampling stops early
    (at least one sample) once ``budget_s`` seconds are spent, so slow baselines cost bounded time.
    ``synchronize`` (e.g. ``torch.cuda.synchronize``) is called before each clock reading, so that work
    queued on a GPU is counted.
    """
    sync = synchronize or (lambda: None)
    start = time.perf_counter()
    fn()  # warm-up: JIT compile, allocator, first-touch pages
    sync()
    first = time.perf_counter() - start
    inner = max(1, min(1000, int(_MIN_SAMPLE_S / max(first, 1e-9))))
    samples: list[float] = []
    spent = time.perf_counter() - start
    while len(samples) < max(1, repeats):
        sync()
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        elapsed = time.perf_counter() - t0
        samples.append(elapsed / inner)
        spent += elapsed
        if spent > budget_s:
            break
    return statistics.median(samples) * 1e3


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b is not None and b > 0 else None


def _synchronizer(device: torch.device) -> Callable[[], object] | None:
    return torch.cuda.synchronize if device.type == "cuda" else None


def _time_builder(
    build: Callable[..., Callable[[], object]],
    n_steps: int,
    n: int,
    dtype: torch.dtype,
    repeats: int,
    backend: str | None = None,
    device: torch.device | None = None,
) -> float:
    # CPU builders may take three arguments (the original contract); a GPU run passes the device.
    device = device or torch.device("cpu")
    fn = build(n_steps, n, dtype) if device.type == "cpu" else build(n_steps, n, dtype, device)
    if backend is not None:
        inner = fn

        def fn() -> object:
            with kernels.use_backend(backend):
                return inner()

    try:
        return median_ms(fn, repeats, synchronize=_synchronizer(device))
    finally:
        del fn
        gc.collect()


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
    ``floor_ms`` (``x.clone()`` of the same ``[T, N]`` tensor), ``spikingjelly_ms``; and the ratios
    ``fused_vs_floor``, ``torch_vs_floor``, ``loop_vs_fused``. A time not measured is ``None``.
    ``backends`` lists the fused paths to time (``'auto'`` fills ``fused_ms``, ``'torch'`` ``torch_ms``,
    ``'numba'`` forces numba into ``fused_ms``). ``progress`` is called with each row when it is done.
    ``device``: where the tensors live (``'cuda'`` times the GPU walks, synchronising before each clock
    reading).
    """
    device = torch.device(device)
    sync = _synchronizer(device)
    rows: list[dict[str, Any]] = []
    for n_steps, n in sizes:
        sample = spikes(n_steps, n, dtype).to(device)
        for case in cases:
            # The floor is timed again for each row, right before it: at large N the cost of fresh pages
            # for a new [T, N] tensor depends on the allocator's state, which drifts during a run.
            floor_ms = median_ms(lambda s=sample: s.clone(), repeats, synchronize=sync)
            gc.collect()
            row: dict[str, Any] = {"case": case.name, "T": n_steps, "N": n, "backend": None}
            row.update(dict.fromkeys((key for key, _, _ in _COLUMNS), None), floor_ms=floor_ms)
            for backend in backends:
                key = "torch_ms" if backend == "torch" else "fused_ms"
                row[key] = _time_builder(case.fused, n_steps, n, dtype, repeats, backend, device)
                if key == "fused_ms":
                    row["backend"] = kernels.resolve_backend(
                        torch.empty(0, dtype=dtype, device=device),
                        backend=backend if backend != "auto" else None,
                    )
            if loop and case.loop is not None:
                row["loop_ms"] = _time_builder(case.loop, n_steps, n, dtype, loop_repeats, device=device)
            if spikingjelly and case.spikingjelly is not None:
                row["spikingjelly_ms"] = _time_builder(
                    case.spikingjelly, n_steps, n, dtype, repeats, device=device
                )
            row["fused_vs_floor"] = _ratio(row.get("fused_ms"), floor_ms)
            row["torch_vs_floor"] = _ratio(row.get("torch_ms"), floor_ms)
            row["loop_vs_fused"] = _ratio(row.get("loop_ms"), row.get("fused_ms") or row.get("torch_ms"))
            rows.append(row)
            if progress is not None:
                progress(row)
        del sample
        gc.collect()
    return rows


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
