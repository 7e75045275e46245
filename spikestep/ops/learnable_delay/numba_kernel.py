"""Learnable delays as numba kernels: blocks of channels of one sample spread over threads, time walked inside.

Arrays are the numpy views of contiguous tensors: ``x [T, N, C]``, ``held [D, N, C]`` (``D >= 1``), the
output ``y [T, N, K, C]``. The work items are (sample ``n``, block of up to ``_CBLOCK`` channels); each
copies its held inputs and new inputs into one buffer ``z [(D + T) * w]`` (time-major, ``w`` channels a
row: the join, in the cache of the thread that reads it), then walks time:

* sparse (``sigma = 0``): per output two loads from ``z`` at the offsets ``(D + t - k0) w + c`` and one
  row before (:func:`~.math.two_taps`), so the cost does not grow with ``D`` (but for the join). The
  backward adds the output's gradient into a gradient buffer at the same two places and sums
  ``dL/dy (z1 - z0)`` per ``(k, c)`` for the delay. A chunk shorter than ``D`` (a single step) reads
  the held inputs where they are instead of joining them, and adds into the gradients directly: its
  cost does not grow with ``D`` at all (but for the held inputs' gradient, ``D`` steps to write).
* dense (``sigma > 0``): ``D + 1`` multiply-adds of whole rows of ``w`` channels per output row (the taps
  laid out ``[K, D + 1, C]``, channels last, so the rows vectorise); the backward does the same into the
  gradient buffer and sums ``dL/dy[t] z[D + t - j]`` per lag for the taps' gradient.

The delay's gradient is summed in float64; the taps' gradient over one item's steps in the input's dtype
(one vector width for the fused loop), then in float64; one array per chunk of items (returned by the
kernel), added up in order afterwards.
"""

from __future__ import annotations

from typing import Any

import torch

from ..._runtime import numba_jit
from . import math as ld_math
from .math import in_range, two_taps

try:
    import numpy as np
except ImportError:  # numba needs numpy: without it only the torch walk runs
    np = None  # type: ignore[assignment]

# Channels per work item (an argument of the kernels, read at each call): the item's buffer holds
# (D + T) rows of them; the rows a step reads (the last D + 1) stay in L1/L2 while time walks on.
_CBLOCK = 256


@numba_jit.jitable
def _join(held, x, n, c0, c1):  # type: ignore[no-untyped-def]
    """``z [(D + T) * w]``: ``held[:, n, c0:c1]`` then ``x[:, n, c0:c1]``, row after row (a fresh array:
    LLVM then knows it aliases nothing)."""
    d, n_steps, w = held.shape[0], x.shape[0], c1 - c0
    z = np.empty((d + n_steps) * w, x.dtype)
    for s in range(d):
        src, dst = held[s, n, c0:c1], z[s * w : (s + 1) * w]
        for c in range(w):
            dst[c] = src[c]
    for s in range(n_steps):
        src, dst = x[s, n, c0:c1], z[(d + s) * w : (d + s + 1) * w]
        for c in range(w):
            dst[c] = src[c]
    return z


@numba_jit.jitable
def _split(gz, grad_held, grad_x, n, c0, c1):  # type: ignore[no-untyped-def]
    """The gradient buffer back into ``grad_held[:, n, c0:c1]`` and ``grad_x[:, n, c0:c1]``."""
    d, n_steps, w = grad_held.shape[0], grad_x.shape[0], c1 - c0
    for s in range(d):
        src, dst = gz[s * w : (s + 1) * w], grad_held[s, n, c0:c1]
        for c in range(w):
            dst[c] = src[c]
    for s in range(n_steps):
        src, dst = gz[(d + s) * w : (d + s + 1) * w], grad_x[s, n, c0:c1]
        for c in range(w):
            dst[c] = src[c]


@numba_jit.jitable
def _offsets(k0, d, w, c0, c1):  # type: ignore[no-untyped-def]
    """``(D - k0[c]) w + c``: where tap 0 of channel ``c`` reads ``z`` at step 0 (tap 1: ``w`` before)."""
    off = np.empty(w, np.int64)
    for c in range(w):
        off[c] = (d - int(k0[c0 + c])) * w + c
    return off


def _sparse_forward(held, x, k0, a0, a1, y, cb, lo, hi):  # type: ignore[no-untyped-def]
    d, n_steps = held.shape[0], x.shape[0]
    n_taps, n_ch = k0.shape
    n_blocks = (n_ch + cb - 1) // cb
    for item in range(lo, hi):
        n, c0 = item // n_blocks, (item % n_blocks) * cb
        c1 = min(c0 + cb, n_ch)
        w = c1 - c0
        if n_steps < d:  # a short chunk (a single step): read in place, joining would copy all D steps
            for k in range(n_taps):
                b0, b1 = a0[k, c0:c1], a1[k, c0:c1]
                for t in range(n_steps):
                    out = y[t, n, k, c0:c1]
                    for c in range(w):  # tap 0 reads z[s], tap 1 z[s - 1]: held[s] below D, x[s - D] after
                        s, ch = d + t - int(k0[k, c0 + c]), c0 + c
                        z0 = x[s - d, n, ch] if s >= d else held[s, n, ch]
                        z1 = x[s - 1 - d, n, ch] if s >= d + 1 else held[s - 1, n, ch]
                        out[c] = two_taps(z0, z1, b0[c], b1[c])
            continue
        z = _join(held, x, n, c0, c1)
        for k in range(n_taps):
            off = _offsets(k0[k], d, w, c0, c1)
            b0, b1 = a0[k, c0:c1], a1[k, c0:c1]
            for t in range(n_steps):
                out = y[t, n, k, c0:c1]
                base = t * w
                for c in range(w):
                    i = base + off[c]
                    out[c] = two_taps(z[i], z[i - w], b0[c], b1[c])


def _sparse_backward(
    grad_y, held, x, k0, a0, a1, delay, need_inputs, need_delay, grad_held, grad_x, cb, lo, hi
):  # type: ignore[no-untyped-def]
    d, n_steps = held.shape[0], x.shape[0]
    n_taps, n_ch = k0.shape
    n_blocks = (n_ch + cb - 1) // cb
    dot = np.zeros((n_taps, n_ch) if need_delay else (1, 1), np.float64)
    for item in range(lo, hi):
        n, c0 = item // n_blocks, (item % n_blocks) * cb
        c1 = min(c0 + cb, n_ch)
        w = c1 - c0
        if n_steps < d:  # a short chunk: in place, as the forward (the same additions in the same order)
            if need_inputs:
                for s in range(d):
                    grad_held[s, n, c0:c1] = 0
                for s in range(n_steps):
                    grad_x[s, n, c0:c1] = 0
            for k in range(n_taps):
                b0, b1, acc = a0[k, c0:c1], a1[k, c0:c1], dot[k, c0:c1]
                for t in range(n_steps):
                    g = grad_y[t, n, k, c0:c1]
                    for c in range(w):  # helpers for the two places would not be inlined: 10x slower
                        s, ch, gc = d + t - int(k0[k, c0 + c]), c0 + c, g[c]
                        if need_inputs:
                            if s >= d:
                                grad_x[s - d, n, ch] += b0[c] * gc
                            else:
                                grad_held[s, n, ch] += b0[c] * gc
                            if s >= d + 1:
                                grad_x[s - 1 - d, n, ch] += b1[c] * gc
                            else:
                                grad_held[s - 1, n, ch] += b1[c] * gc
                        if need_delay:
                            z0 = x[s - d, n, ch] if s >= d else held[s, n, ch]
                            z1 = x[s - 1 - d, n, ch] if s >= d + 1 else held[s - 1, n, ch]
                            acc[c] += gc * (z1 - z0)
            continue
        z = _join(held, x, n, c0, c1) if need_delay else np.empty(0, x.dtype)
        gz = np.zeros((d + n_steps) * w if need_inputs else 0, x.dtype)
        for k in range(n_taps):
            off = _offsets(k0[k], d, w, c0, c1)
            b0, b1 = a0[k, c0:c1], a1[k, c0:c1]
            acc = dot[k, c0:c1]
            for t in range(n_steps):
                g = grad_y[t, n, k, c0:c1]
                base = t * w
                if need_inputs and need_delay:
                    for c in range(w):
                        i, gc = base + off[c], g[c]
                        gz[i] += b0[c] * gc
                        gz[i - w] += b1[c] * gc
                        acc[c] += gc * (z[i - w] - z[i])
                elif need_inputs:
                    for c in range(w):
                        i = base + off[c]
                        gz[i] += b0[c] * g[c]
                        gz[i - w] += b1[c] * g[c]
                elif need_delay:
                    for c in range(w):
                        i = base + off[c]
                        acc[c] += g[c] * (z[i - w] - z[i])
        if need_inputs:
            _split(gz, grad_held, grad_x, n, c0, c1)
    if need_delay:  # no gradient for a delay out of range (it was clamped); a sum of masked parts
        for k in range(n_taps):
            for c in range(n_ch):
                if not in_range(delay[k, c], d):
                    dot[k, c] = 0
    return dot


def _dense_forward(held, x, taps, y, cb, lo, hi):  # type: ignore[no-untyped-def]
    # taps [K, D + 1, C]: y[t, n, k, c] = sum_j taps[k, j, c] z[D + t - j, c], j in order.
    d, n_steps = held.shape[0], x.shape[0]
    n_taps, n_ch = taps.shape[0], taps.shape[2]
    n_blocks = (n_ch + cb - 1) // cb
    for item in range(lo, hi):
        n, c0 = item // n_blocks, (item % n_blocks) * cb
        c1 = min(c0 + cb, n_ch)
        w = c1 - c0
        z = _join(held, x, n, c0, c1)
        acc = np.empty(w, x.dtype)
        for k in range(n_taps):
            for t in range(n_steps):
                row, g = z[(d + t) * w : (d + t + 1) * w], taps[k, 0, c0:c1]
                for c in range(w):
                    acc[c] = g[c] * row[c]
                for j in range(1, d + 1):
                    row, g = z[(d + t - j) * w : (d + t - j + 1) * w], taps[k, j, c0:c1]
                    for c in range(w):
                        acc[c] += g[c] * row[c]
                out = y[t, n, k, c0:c1]
                for c in range(w):
                    out[c] = acc[c]


def _dense_backward(grad_y, held, x, taps, need_inputs, need_delay, grad_held, grad_x, cb, lo, hi):  # type: ignore[no-untyped-def]
    # One pass over (t, lag) rows does both: gz[D + t - j] += taps[k, j] dL/dy[t] and
    # part[j] += dL/dy[t] z[D + t - j] (the taps' gradient of this item, summed over time in the input's
    # dtype, so the loop stays one vector width; then added into the float64 sum).
    d, n_steps = held.shape[0], x.shape[0]
    n_taps, n_ch = taps.shape[0], taps.shape[2]
    n_blocks = (n_ch + cb - 1) // cb
    grad_taps = np.zeros((n_taps, d + 1, n_ch) if need_delay else (1, 1, 1), np.float64)
    part = np.empty((d + 1, cb) if need_delay else (1, 1), x.dtype)
    for item in range(lo, hi):
        n, c0 = item // n_blocks, (item % n_blocks) * cb
        c1 = min(c0 + cb, n_ch)
        w = c1 - c0
        z = _join(held, x, n, c0, c1) if need_delay else np.empty(0, x.dtype)
        gz = np.zeros((d + n_steps) * w if need_inputs else 0, x.dtype)
        for k in range(n_taps):
            if need_delay:
                for j in range(d + 1):
                    for c in range(w):
                        part[j, c] = 0
            for t in range(n_steps):
                g = grad_y[t, n, k, c0:c1]
                for j in range(d + 1):
                    s = (d + t - j) * w
                    if need_inputs and need_delay:
                        gzs, tj, row, acc = gz[s : s + w], taps[k, j, c0:c1], z[s : s + w], part[j]
                        for c in range(w):
                            gc = g[c]
                            gzs[c] += tj[c] * gc
                            acc[c] += gc * row[c]
                    elif need_inputs:
                        gzs, tj = gz[s : s + w], taps[k, j, c0:c1]
                        for c in range(w):
                            gzs[c] += tj[c] * g[c]
                    elif need_delay:
                        row, acc = z[s : s + w], part[j]
                        for c in range(w):
                            acc[c] += g[c] * row[c]
            if need_delay:
                for j in range(d + 1):
                    total, acc = grad_taps[k, j, c0:c1], part[j]
                    for c in range(w):
                        total[c] += acc[c]
        if need_inputs:
            _split(gz, grad_held, grad_x, n, c0, c1)
    return grad_taps


_sparse_forward_kernel = numba_jit.kernel(_sparse_forward, depends_on=(ld_math,))
_sparse_backward_kernel = numba_jit.kernel(_sparse_backward, depends_on=(ld_math,))
_dense_forward_kernel = numba_jit.kernel(_dense_forward, depends_on=(ld_math,))
_dense_backward_kernel = numba_jit.kernel(_dense_backward, depends_on=(ld_math,))


def _np(t: torch.Tensor) -> Any:
    return t.detach().numpy()


def _arr(t: Any) -> Any:
    """A contiguous numpy array of ``t`` (a tensor or already an array)."""
    return np.ascontiguousarray(t) if isinstance(t, np.ndarray) else _np(t.contiguous())


def _items(x: torch.Tensor) -> int:
    return x.shape[1] * -(-x.shape[2] // _CBLOCK)


def _run(kernel_call, x: torch.Tensor, work_per_item: int) -> list[Any]:  # type: ignore[no-untyped-def]
    return numba_jit.run_chunks(kernel_call, _items(x), work_per_item, align=1)


def _total(parts: list[Any]) -> Any:
    """The chunks' float64 sums added up in order (one chunk: itself, without numpy's list conversion)."""
    return parts[0] if len(parts) == 1 else np.sum(parts, axis=0)


def _grads_out(x: torch.Tensor, held: torch.Tensor, need_inputs: bool) -> tuple[Any, ...]:
    """``(grad_x, grad_held)`` tensors to fill (None when not needed) and their numpy views for the kernel
    (empty arrays when not needed)."""
    if need_inputs:
        grad_x, grad_held = torch.empty_like(x), torch.empty_like(held)
        return grad_x, grad_held, _np(grad_held), _np(grad_x)
    unused = np.empty((0, 1, 1), _np(x).dtype)
    return None, None, unused, unused


def forward_sparse(x: torch.Tensor, held: torch.Tensor, k0: Any, a0: Any, a1: Any) -> torch.Tensor:
    """``y [T, N, K, C]`` for contiguous CPU float32/float64 ``x [T, N, C]``, ``held [D, N, C]`` and the
    taps ``k0, a0, a1 [K, C]`` (numpy arrays or tensors; ``k0`` whole numbers, as floats or ints)."""
    (t, n, c), k = x.shape, k0.shape[0]
    y = torch.empty((t, n, k, c), dtype=x.dtype)
    args = (_np(held), _np(x), _arr(k0), _arr(a0), _arr(a1), _np(y))
    _run(lambda lo, hi: _sparse_forward_kernel(*args, _CBLOCK, lo, hi), x, 2 * t * k * min(c, _CBLOCK))
    return y


def backward_sparse(
    grad_y: torch.Tensor,
    x: torch.Tensor,
    held: torch.Tensor,
    k0: Any,
    a0: Any,
    a1: Any,
    delay: torch.Tensor,
    need_inputs: bool,
    need_delay: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """``(grad_x, grad_held, grad_delay [K, C])``, None where not needed: the delay's gradient itself
    (:func:`~.math.sparse_delay_grad`, the range applied in the kernel), in ``delay``'s dtype."""
    (t, _, c), k = x.shape, k0.shape[0]
    grad_x, grad_held, *outs = _grads_out(x, held, need_inputs)
    args = (_np(grad_y), _np(held), _np(x), _arr(k0), _arr(a0), _arr(a1), _arr(delay))
    parts = _run(
        lambda lo, hi: _sparse_backward_kernel(*args, need_inputs, need_delay, *outs, _CBLOCK, lo, hi),
        x,
        2 * t * k * min(c, _CBLOCK),
    )
    grad_delay = torch.from_numpy(_total(parts)).to(delay.dtype) if need_delay else None
    return grad_x, grad_held, grad_delay


def _channels_last(taps: torch.Tensor) -> Any:
    """The taps ``[K, C, D + 1]`` as the kernels read them, ``[K, D + 1, C]``."""
    return _np(taps.transpose(1, 2).contiguous())


def forward_dense(x: torch.Tensor, held: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """``y [T, N, K, C]`` for the taps ``[K, C, D + 1]``."""
    (t, n, c), (k, _, lags) = x.shape, taps.shape
    y = torch.empty((t, n, k, c), dtype=x.dtype)
    args = (_np(held), _np(x), _channels_last(taps), _np(y))
    _run(lambda lo, hi: _dense_forward_kernel(*args, _CBLOCK, lo, hi), x, t * k * lags * min(c, _CBLOCK))
    return y


def backward_dense(
    grad_y: torch.Tensor,
    x: torch.Tensor,
    held: torch.Tensor,
    taps: torch.Tensor,
    need_inputs: bool,
    need_delay: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """``(grad_x, grad_held, grad_taps [K, C, D + 1] float64)``, None where not needed."""
    (t, _, c), (k, _, lags) = x.shape, taps.shape
    grad_x, grad_held, *outs = _grads_out(x, held, need_inputs)
    args = (_np(grad_y), _np(held), _np(x), _channels_last(taps))
    work = t * k * lags * min(c, _CBLOCK) * (int(need_inputs) + int(need_delay))
    parts = _run(
        lambda lo, hi: _dense_backward_kernel(*args, need_inputs, need_delay, *outs, _CBLOCK, lo, hi), x, work
    )
    grad_taps = torch.from_numpy(_total(parts)).transpose(1, 2) if need_delay else None
    return grad_x, grad_held, grad_taps
