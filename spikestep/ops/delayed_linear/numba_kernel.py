"""The sparse kernels (``'linear'``: 2 taps, ``'round'``: 1 tap) as numba kernels: the cost grows with the
taps, not with ``max_delay``.

Layout: each input channel's held inputs and new inputs form one row ``xn[i]`` of ``(D+T) * N`` values,
time-major (``xn[i, s * N + n]`` is step ``s`` of sample ``n``, the ``D`` held steps first). The input
of synapse ``(j, i)`` at lag ``k`` for all ``T * N`` outputs is then the contiguous slice of ``xn[i]``
starting at ``(D - k) * N``, and each synapse is one multiply-add of ``T * N`` values (a saxpy) into
the output row ``yn[j]`` (``[O, T * N]``), the two taps of ``'linear'`` fused into one pass. The backward
walks the same slices: the input's gradient ``gxn[i] += c * gyn[j]`` and, for the parameters, the dot
products of ``gyn[j]`` with the input at each tap (``s0``, ``s1``), from which
``math.sparse_param_grads`` makes the weight's and delay's gradients.

Cache use (2 shared cores, AVX-512, float32, T=100, B=32, 256 -> 256, D=25: about 10x fewer operations
than the dense kernel with 2 taps): the forward takes the outputs in blocks of ``_ROWS`` rows and
``_CHUNK`` columns (the block stays in L1 while every input row's window passes through); the backward
takes ``_IBLOCK`` input rows at a time, so that each output-gradient row is read from memory once per
block and then from cache. The layout changes (``[T, N, I]`` <-> rows) are blocked transposes run by
the same threads, not torch copies: torch's OpenMP team costs a scheduler slice per operation when other
processes hold the cores, and so do the few small operations on ``[O, I]`` (the taps and the parameters'
gradients), which run in numpy.

Dot products cannot be vectorised as one running sum without reassociating additions (fastmath is off,
see ``numba_jit``): they are summed in ``_LANES`` partial sums (each the sum of every ``_LANES``-th
product, in order), added up in float64 at the end.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from ..._runtime import numba_jit
from . import math as dl_math

try:
    import numpy as np
except ImportError:  # numba needs numpy: without it only the torch walk runs
    np = None  # type: ignore[assignment]

_CHUNK = 2048  # output columns per forward block: with _ROWS rows, 128 KiB of float32 outputs in L2
_ROWS = 16
_IBLOCK = 8  # input rows per backward block
_LANES = 64  # partial sums per dot product
_TILE = 32  # rows and columns per transpose tile


def _forward_walk(xn, off, a0, a1, n_batch, two, yn, lo, hi):  # type: ignore[no-untyped-def]
    # yn[j, c] = sum_i a0[j, i] xn[i, off[j, i] + c] (+ a1[j, i] xn[i, off[j, i] - N + c]), i in order.
    n_cols = yn.shape[1]
    n_in = xn.shape[0]
    for c0 in range(0, n_cols, _CHUNK):
        n = min(_CHUNK, n_cols - c0)
        for j0 in range(lo, hi, _ROWS):
            j1 = min(j0 + _ROWS, hi)
            for j in range(j0, j1):
                y = yn[j, c0 : c0 + n]
                for c in range(n):
                    y[c] = 0
            for i in range(n_in):
                row = xn[i]
                for j in range(j0, j1):
                    y = yn[j, c0 : c0 + n]
                    o = int(off[j, i]) + c0
                    x0 = row[o : o + n]
                    b0 = a0[j, i]
                    if two:
                        x1 = row[o - n_batch : o - n_batch + n]
                        b1 = a1[j, i]
                        for c in range(n):
                            y[c] += b0 * x0[c] + b1 * x1[c]
                    else:
                        for c in range(n):
                            y[c] += b0 * x0[c]


def _backward_walk(gyn, xn, off, a0, a1, n_batch, two, need_x, need_p, cut, gxn, s0, s1, lo, hi):  # type: ignore[no-untyped-def]
    # Input rows [lo, hi), _IBLOCK at a time (each output-gradient row gyn[j] is read from memory once
    # per block, then from cache): gxn[i] from position `cut` on (the held inputs' part, below it, is
    # skipped when their gradient is not needed) and the dot products s0[j, i], s1[j, i].
    # Each synapse runs over all T * N columns in one go: measured, blocks of columns (which would keep
    # every row in L1) lost more to the per-block start-up than they saved.
    n_out, n_cols = gyn.shape
    rows = n_cols // _LANES
    full = rows * _LANES
    # Fresh arrays: LLVM knows they alias nothing and keeps them in registers through the lane loops.
    # 2-d, so that those loops index without slicing.
    acc0 = np.zeros((1, _LANES), gyn.dtype)
    acc1 = np.zeros((1, _LANES), gyn.dtype)
    if need_x:
        for i in range(lo, hi):
            gx = gxn[i]
            for c in range(gx.shape[0]):
                gx[c] = 0
    for i0 in range(lo, hi, _IBLOCK):
        i1 = min(i0 + _IBLOCK, hi)
        for j in range(n_out):
            gy = gyn[j]
            g2 = gy[:full].reshape((rows, _LANES))
            for i in range(i0, i1):
                row = xn[i]
                o = int(off[j, i])
                if need_p:
                    # s0 = gy . row[o:], s1 = gy . row[o - N:], in _LANES partial sums, one pass.
                    p0 = row[o : o + full].reshape((rows, _LANES))
                    for k in range(_LANES):
                        acc0[0, k] = 0
                        acc1[0, k] = 0
                    if two:
                        p1 = row[o - n_batch : o - n_batch + full].reshape((rows, _LANES))
                        for r in range(rows):
                            for k in range(_LANES):
                                g = g2[r, k]
                                acc0[0, k] += g * p0[r, k]
                                acc1[0, k] += g * p1[r, k]
                    else:
                        for r in range(rows):
                            for k in range(_LANES):
                                acc0[0, k] += g2[r, k] * p0[r, k]
                    # The lanes fold in halves (vector adds) down to 8, which add up in float64: a
                    # chain of _LANES scalar additions would cost a good part of the products' time.
                    half = _LANES // 2
                    while half >= 8:
                        for k in range(half):
                            acc0[0, k] += acc0[0, k + half]
                            acc1[0, k] += acc1[0, k + half]
                        half //= 2
                    t0 = 0.0
                    t1 = 0.0
                    for k in range(2 * half):
                        t0 += acc0[0, k]
                        t1 += acc1[0, k]
                    for c in range(full, n_cols):
                        t0 += gy[c] * row[o + c]
                        if two:
                            t1 += gy[c] * row[o - n_batch + c]
                    s0[j, i] = t0
                    if two:
                        s1[j, i] = t1
                if not need_x:
                    continue
                gx = gxn[i]
                b0 = a0[j, i]
                if two:
                    # Tap 1 (lag + 1) adds b1 gy[c] into gx[o - N + c], tap 0 b0 gy[c] into gx[o + c]:
                    # gx[o - N:o] gets tap 1 alone, gx[o:o + n - N] both in one pass, the last N tap 0
                    # alone. Positions below `cut` are skipped.
                    b1 = a1[j, i]
                    both = n_cols - n_batch
                    skip = min(max(cut - (o - n_batch), 0), n_batch)
                    head = gx[o - n_batch + skip : o]
                    gh = gy[skip:n_batch]
                    for c in range(n_batch - skip):
                        head[c] += b1 * gh[c]
                    skip = min(max(cut - o, 0), both)
                    mid = gx[o + skip : o + both]
                    ga = gy[skip:both]
                    gb = gy[n_batch + skip : n_cols]
                    for c in range(both - skip):
                        mid[c] += b0 * ga[c] + b1 * gb[c]
                    skip = min(max(cut - (o + both), 0), n_batch)
                    tail = gx[o + both + skip : o + n_cols]
                    gt = gy[both + skip : n_cols]
                    for c in range(n_batch - skip):
                        tail[c] += b0 * gt[c]
                else:
                    skip = min(max(cut - o, 0), n_cols)
                    g = gx[o + skip : o + n_cols]
                    gs = gy[skip:n_cols]
                    for c in range(n_cols - skip):
                        g[c] += b0 * gs[c]


def _transpose_walk(src, dst, lo, hi):  # type: ignore[no-untyped-def]
    # dst[r, c] = src[c, r] for the rows r in [lo, hi) of dst, in _TILE x _TILE tiles (both sides of a
    # tile stay in L1): measured 1.7x faster than torch's .t().contiguous() on one thread.
    n_cols = dst.shape[1]
    for r0 in range(lo, hi, _TILE):
        r1 = min(r0 + _TILE, hi)
        for c0 in range(0, n_cols, _TILE):
            c1 = min(c0 + _TILE, n_cols)
            for r in range(r0, r1):
                to = dst[r, c0:c1]
                column = src[c0:c1, r]
                for c in range(c1 - c0):
                    to[c] = column[c]


_forward_kernel = numba_jit.kernel(_forward_walk)
_backward_kernel = numba_jit.kernel(_backward_walk)
_transpose_kernel = numba_jit.kernel(_transpose_walk)


def _np(t: torch.Tensor) -> Any:
    return t.detach().numpy()


def _transpose_into(src: Any, dst: Any) -> None:
    """``dst[:] = src.T`` (2-d numpy arrays or views), on the kernels' threads."""
    numba_jit.run_chunks(
        lambda lo, hi: _transpose_kernel(src, dst, lo, hi), dst.shape[0], src.shape[0], _TILE
    )


class Prepared(NamedTuple):
    """What the forward and the backward both take: the rows (``[I, (D+T) * N]``), each synapse's first
    tap's offset into its row (``(D - lag) * N``), the taps' coefficients (``a1`` is ``a0`` when there
    is one tap: never read), and the sizes. The eager path keeps it from the forward for the backward
    instead of the inputs (the same size)."""

    xn: Any
    offsets: Any
    a0: Any
    a1: Any
    two: bool
    d: int
    t: int
    n: int


def prepare(
    held: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, delay: torch.Tensor, kernel: str
) -> Prepared:
    """The rows and the taps for contiguous CPU float32/float64 ``held [D, N, I]``, ``x [T, N, I]`` and a
    sparse ``kernel``."""
    d, (t, n, i) = held.shape[0], x.shape
    xn = np.empty((i, (d + t) * n), dtype=_np(x).dtype)
    if d:
        _transpose_into(_np(held).reshape(d * n, i), xn[:, : d * n])
    _transpose_into(_np(x).reshape(t * n, i), xn[:, d * n :])
    lag, c0, c1 = dl_math.sparse_taps(_np(weight), _np(delay), kernel, d)
    offsets = ((d - lag) * n).astype(np.int64)
    return Prepared(xn, offsets, c0, c0 if c1 is None else c1, c1 is not None, d, t, n)


def forward(p: Prepared, n_out: int) -> torch.Tensor:
    """``y [T, N, O]``."""
    t, n, i = p.t, p.n, p.xn.shape[0]
    yn = np.empty((n_out, t * n), dtype=p.xn.dtype)
    work = i * t * n * (2 if p.two else 1)
    numba_jit.run_chunks(
        lambda lo, hi: _forward_kernel(p.xn, p.offsets, p.a0, p.a1, n, p.two, yn, lo, hi),
        n_out,
        work,
        align=_ROWS,
    )
    y = torch.empty((t, n, n_out), dtype=torch.from_numpy(p.xn[:0, :0]).dtype)
    _transpose_into(yn, _np(y).reshape(t * n, n_out))
    return y


def backward(
    grad_y: torch.Tensor,
    p: Prepared,
    weight: torch.Tensor,
    delay: torch.Tensor,
    kernel: str,
    need_held: bool,
    need_x: bool,
    need_params: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """``(grad_held, grad_x, grad_weight, grad_delay)`` (None where not needed) for a contiguous
    ``grad_y [T, N, O]``."""
    d, t, n, i, o = p.d, p.t, p.n, p.xn.shape[0], weight.shape[0]
    dtype = p.xn.dtype
    torch_dtype = weight.dtype
    need_inputs = need_held or need_x
    gyn = np.empty((o, t * n), dtype=dtype)
    _transpose_into(_np(grad_y).reshape(t * n, o), gyn)
    gxn = np.empty((i, (d + t) * n) if need_inputs else (1, 1), dtype=dtype)
    s0 = np.empty((o, i) if need_params else (1, 1))
    s1 = np.empty((o, i) if need_params and p.two else (1, 1))
    cut = 0 if need_held else d * n  # the held inputs' part of each row: skipped unless needed
    work = o * t * n * (2 if p.two else 1) * (int(need_inputs) + int(need_params))
    numba_jit.run_chunks(
        lambda lo, hi: _backward_kernel(
            gyn, p.xn, p.offsets, p.a0, p.a1, n, p.two, need_inputs, need_params, cut, gxn, s0, s1, lo, hi
        ),
        i,
        work,
        align=_IBLOCK,
    )
    grad_held = grad_x = grad_weight = grad_delay = None
    if need_held:
        grad_held = torch.zeros((d, n, i), dtype=torch_dtype)
        if d:
            _transpose_into(gxn[:, : d * n], _np(grad_held).reshape(d * n, i))
    if need_x:
        grad_x = torch.empty((t, n, i), dtype=torch_dtype)
        _transpose_into(gxn[:, d * n :], _np(grad_x).reshape(t * n, i))
    if need_params:
        gw, gd = dl_math.sparse_param_grads(s0, s1 if p.two else None, _np(weight), _np(delay), kernel, d)
        grad_weight = torch.from_numpy(np.asarray(gw, dtype=dtype))
        grad_delay = torch.from_numpy(np.asarray(gd, dtype=dtype))
    return grad_held, grad_x, grad_weight, grad_delay
