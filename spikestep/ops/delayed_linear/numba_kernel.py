"""The sparse kernels (``'linear'``: 2 taps, ``'round'``: 1 tap) as numba kernels: the cost grows with the
taps, not with ``max_delay``.

Layout: each input channel's held inputs and new inputs form one row ``xn[i]`` of ``(D+T) * N`` values,
time-major (``xn[i, s * N + n]`` is step ``s`` of sample ``n``, the ``D`` held steps first). The input
of synapse ``(j, i)`` at lag ``k`` for all ``T * N`` outputs is then the contiguous slice of ``xn[i]``
starting at ``(D - k) * N``, and each synapse is one multiply-add of ``T * N`` values into the output
row ``j``, the two taps of ``'linear'`` in one pass.

Both maps onto rows are one gather (:func:`_gather`): ``out[r] = sum_s a0[r, s] src[s, off[r, s]:]
(+ a1[r, s] src[s, off[r, s] + shift:])``, the sources in order. The forward gathers each output row from
the input rows (``shift = -N``: tap 1 is one step older). The input's gradient gathers each input row
from the output-gradient rows ``gyp[j]``, zero-padded so that a tap outside the ``T`` steps reads zeros
(``shift = +N``): ``gx[i, p] = sum_j a0[j, i] gy[j, p - o] + a1[j, i] gy[j, p - o + N]``, the products
that adding each synapse's share into ``gx`` makes, added in the same order. The parameters' gradients
come from the dot products of ``gy[j]`` with the input at each tap (``s0``, ``s1``; :func:`_sums`),
from which ``math.sparse_param_grads`` makes the weight's and delay's gradients.

Speed (2 shared cores, AVX-512, float32, T=100, B=32, 256 -> 256, D=25): the kernels wait on the
caches more than on the arithmetic (compiled with fused multiply-adds for a trial, the forward was no
faster), so the loops are shaped to move less data. The gather and the dot products ask for 512-bit
vectors (``numba_jit.wide_vectors()``; LLVM would use 256 bits on this CPU): 16 float32 per instruction
instead of 8, the same results, in 29% (gather) and 14% (dot products) less time on one thread, and
the 2-tap forward+backward 3.74-4.79x -> 5.34-5.83x faster than ``Dcls1d`` (``bench --delays``).

* the gather keeps a block of ``_ROWS`` destination rows by ``_CHUNK`` columns in L2 and adds
  ``_FUSE`` sources per pass over it: one load and store of the block per ``_FUSE`` synapses (the 1-tap
  forward: 26 -> 22 ms on one thread). The finished block goes straight into the ``[T, N, O]`` (or
  ``[T, N, I]``) result, ``_ROWS`` float32 (whole cache lines) per column, instead of into rows that a
  second pass transposes;
* a dot product cannot be vectorised as one running sum without reassociating additions: it is summed
  in ``_LANES`` partial sums (each the sum of every ``_LANES``-th product) that live in memory, and each
  load and store of a partial sum adds ``_GROUP`` products (a fixed pairwise tree) instead of one (the
  2-tap sums: 74 -> 57 ms on one thread). ``_IBLOCK`` input rows share a pass over each output-gradient
  row. The lanes add up in float64 at the end.

The layout changes of the inputs and of the output's gradient are blocked transposes run by the same
threads, not torch copies: torch's OpenMP team costs a scheduler slice per operation when other
processes hold the cores, and so do the few small operations on ``[O, I]`` (the taps and the
parameters' gradients), which run in numpy.
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

_CHUNK = 2048  # columns per gather block
_ROWS = 32  # destination rows per gather block (a multiple of 16): _ROWS x _CHUNK float32 (256 KiB) in L2
_PAD = 16  # a block row's stride is _CHUNK + _PAD values, so that its rows do not share one L1 set
_FUSE = 4  # sources added per pass over a block
_LANES = 32  # partial sums per dot product
_GROUP = 8  # products added to a partial sum per load and store of it (the tree in _sums is written out)
_IBLOCK = 32  # input rows per pass over an output-gradient row in the dot products (a multiple of _ROWS)
_TILE = 32  # rows and columns per transpose tile


@numba_jit.jitable
def _gather(src, off, a0, a1, shift, two, out, lo, hi):  # type: ignore[no-untyped-def]
    """``out[c, r] = sum_s a0[r, s] src[s, off[r, s] + c] (+ a1[r, s] src[s, off[r, s] + shift + c])``
    for the rows ``r`` in ``[lo, hi)`` and every column ``c`` of ``out`` (the transposed layout): the
    sources ``s`` added in order to zero, one at a time."""
    numba_jit.wide_vectors()
    n_cols = out.shape[0]
    n_src = src.shape[0]
    fused = n_src - n_src % _FUSE
    block = np.empty((min(_ROWS, hi - lo), _CHUNK + _PAD), src.dtype)
    for c0 in range(0, n_cols, _CHUNK):
        n = min(_CHUNK, n_cols - c0)
        for r0 in range(lo, hi, _ROWS):
            r1 = min(r0 + _ROWS, hi)
            for r in range(r1 - r0):
                y = block[r, :n]
                for c in range(n):
                    y[c] = 0
            for s in range(0, fused, _FUSE):
                ra, rb, rc, rd = src[s], src[s + 1], src[s + 2], src[s + 3]
                for r in range(r0, r1):
                    y = block[r - r0, :n]
                    oa, ob = off[r, s] + c0, off[r, s + 1] + c0
                    oc, od = off[r, s + 2] + c0, off[r, s + 3] + c0
                    xa, xb = ra[oa : oa + n], rb[ob : ob + n]
                    xc, xd = rc[oc : oc + n], rd[od : od + n]
                    ba, bb, bc, bd = a0[r, s], a0[r, s + 1], a0[r, s + 2], a0[r, s + 3]
                    if two:
                        oa, ob, oc, od = oa + shift, ob + shift, oc + shift, od + shift
                        ua, ub = ra[oa : oa + n], rb[ob : ob + n]
                        uc, ud = rc[oc : oc + n], rd[od : od + n]
                        ea, eb, ec, ed = a1[r, s], a1[r, s + 1], a1[r, s + 2], a1[r, s + 3]
                        for c in range(n):
                            t = y[c] + (ba * xa[c] + ea * ua[c])
                            t = t + (bb * xb[c] + eb * ub[c])
                            t = t + (bc * xc[c] + ec * uc[c])
                            y[c] = t + (bd * xd[c] + ed * ud[c])
                    else:
                        for c in range(n):
                            t = y[c] + ba * xa[c]
                            t = t + bb * xb[c]
                            t = t + bc * xc[c]
                            y[c] = t + bd * xd[c]
            for s in range(fused, n_src):
                row = src[s]
                for r in range(r0, r1):
                    y = block[r - r0, :n]
                    o = off[r, s] + c0
                    x0 = row[o : o + n]
                    b0 = a0[r, s]
                    if two:
                        x1 = row[o + shift : o + shift + n]
                        b1 = a1[r, s]
                        for c in range(n):
                            y[c] += b0 * x0[c] + b1 * x1[c]
                    else:
                        for c in range(n):
                            y[c] += b0 * x0[c]
            # The block into out[c0:c0 + n, r0:r1], in _TILE x _TILE tiles (both sides in L1).
            for t0 in range(0, n, _TILE):
                t1 = min(t0 + _TILE, n)
                for q0 in range(0, r1 - r0, _TILE):
                    q1 = min(q0 + _TILE, r1 - r0)
                    for c in range(t0, t1):
                        to = out[c0 + c, r0 + q0 : r0 + q1]
                        for r in range(q1 - q0):
                            to[r] = block[q0 + r, c]


@numba_jit.jitable
def _sums(gyp, p, n_cols, xn, off, n_batch, two, s0, s1, lo, hi):  # type: ignore[no-untyped-def]
    """``s0[j, i] = gy[j] . xn[i, off[j, i]:]`` and ``s1[j, i] = gy[j] . xn[i, off[j, i] - N:]`` (over
    ``n_cols = T * N`` values, ``gy[j] = gyp[j, p:p + n_cols]``) for the input rows ``i`` in ``[lo, hi)``."""
    numba_jit.wide_vectors()
    n_out = gyp.shape[0]
    lanes = _LANES
    step = lanes * _GROUP
    grouped = n_cols - n_cols % step
    laned = n_cols - n_cols % lanes
    # Fresh arrays: LLVM knows they alias nothing.
    acc0 = np.zeros(lanes, gyp.dtype)
    acc1 = np.zeros(lanes, gyp.dtype)
    for i0 in range(lo, hi, _IBLOCK):
        i1 = min(i0 + _IBLOCK, hi)
        for j in range(n_out):
            gy = gyp[j][p : p + n_cols]
            for i in range(i0, i1):
                row = xn[i]
                o = off[j, i]
                x0 = row[o : o + n_cols]
                x1 = row[o - n_batch : o - n_batch + n_cols] if two else x0
                for k in range(lanes):
                    acc0[k] = 0
                    acc1[k] = 0
                for c in range(0, grouped, step):
                    g, u, v = gy[c : c + step], x0[c : c + step], x1[c : c + step]
                    for k in range(lanes):
                        # Lane k's products of this step, rows 0..7 of the step, as a pairwise tree.
                        k1, k2, k3 = lanes + k, 2 * lanes + k, 3 * lanes + k
                        k4, k5, k6, k7 = 4 * lanes + k, 5 * lanes + k, 6 * lanes + k, 7 * lanes + k
                        acc0[k] += ((g[k] * u[k] + g[k1] * u[k1]) + (g[k2] * u[k2] + g[k3] * u[k3])) + (
                            (g[k4] * u[k4] + g[k5] * u[k5]) + (g[k6] * u[k6] + g[k7] * u[k7])
                        )
                        if two:
                            acc1[k] += ((g[k] * v[k] + g[k1] * v[k1]) + (g[k2] * v[k2] + g[k3] * v[k3])) + (
                                (g[k4] * v[k4] + g[k5] * v[k5]) + (g[k6] * v[k6] + g[k7] * v[k7])
                            )
                for c in range(grouped, laned, lanes):
                    g, u, v = gy[c : c + lanes], x0[c : c + lanes], x1[c : c + lanes]
                    for k in range(lanes):
                        acc0[k] += g[k] * u[k]
                        if two:
                            acc1[k] += g[k] * v[k]
                # The lanes fold in halves (vector adds) down to 8, which add up in float64.
                half = lanes // 2
                while half >= 8:
                    for k in range(half):
                        acc0[k] += acc0[k + half]
                        acc1[k] += acc1[k + half]
                    half //= 2
                t0 = 0.0
                t1 = 0.0
                for k in range(2 * half):
                    t0 += acc0[k]
                    t1 += acc1[k]
                for c in range(laned, n_cols):
                    t0 += gy[c] * x0[c]
                    t1 += gy[c] * x1[c]
                s0[j, i] = t0
                if two:
                    s1[j, i] = t1


@numba_jit.jitable
def _transpose(src, dst, lo, hi):  # type: ignore[no-untyped-def]
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


def _rows_walk(held, x, xn, lo, hi):  # type: ignore[no-untyped-def]
    # xn[i] = the held inputs' then the new inputs' column i, for the rows i in [lo, hi).
    d = held.shape[0]
    _transpose(held, xn[:, :d], lo, hi)
    _transpose(x, xn[:, d:], lo, hi)


def _padded_rows_walk(grad_y, gyp, p, lo, hi):  # type: ignore[no-untyped-def]
    # gyp[j] = p zeros, grad_y's column j, zeros to the end, for the rows j in [lo, hi).
    n_cols = grad_y.shape[0]
    for j in range(lo, hi):
        row = gyp[j]
        for c in range(p):
            row[c] = 0
        for c in range(p + n_cols, row.shape[0]):
            row[c] = 0
    _transpose(grad_y, gyp[:, p : p + n_cols], lo, hi)


def _forward_walk(xn, off, a0, a1, n_batch, two, y, lo, hi):  # type: ignore[no-untyped-def]
    # y[t * N + n, j] for the outputs j in [lo, hi).
    _gather(xn, off, a0, a1, -n_batch, two, y, lo, hi)


def _backward_walk(gyp, p, n_cols, xn, off, off_t, b0, b1, n_batch, two, need_x, need_p, gx, s0, s1, lo, hi):  # type: ignore[no-untyped-def]
    # For the input rows i in [lo, hi): the input's gradient gx[q, i] (q from the first position needed)
    # gathered from the padded output-gradient rows (off_t, b0, b1: [I, O]), then the dot products
    # s0[j, i], s1[j, i].
    if need_x:
        _gather(gyp, off_t, b0, b1, n_batch, two, gx, lo, hi)
    if need_p:
        _sums(gyp, p, n_cols, xn, off, n_batch, two, s0, s1, lo, hi)


_rows_kernel = numba_jit.kernel(_rows_walk)
_padded_rows_kernel = numba_jit.kernel(_padded_rows_walk)
# depends_on: wide_vectors is compiled into these two, so an edit to numba_jit must refresh their cache.
_forward_kernel = numba_jit.kernel(_forward_walk, depends_on=(numba_jit,))
_backward_kernel = numba_jit.kernel(_backward_walk, depends_on=(numba_jit,))


def _np(t: torch.Tensor) -> Any:
    return t.detach().numpy()


def _empty_lines(shape: tuple[int, int], dtype: Any) -> Any:
    """``np.empty(shape, dtype)`` that starts on a cache line (64 bytes): numpy's own start 16 bytes into
    one, and then every other 32-byte load of a row crosses two lines (the forward measured 9% slower)."""
    count = shape[0] * shape[1]
    spare = np.empty(count + 64, dtype)
    first = (-spare.ctypes.data % 64) // spare.itemsize
    return spare[first : first + count].reshape(shape)


def delays_in_range(delay: torch.Tensor, max_delay: int) -> bool:
    """True when ``delay`` is a CPU float32/float64 tensor whose values all lie in ``[0, max_delay]``,
    found by numpy's ``min`` and ``max`` on one thread (torch's two reductions cost a scheduler slice each
    when other processes hold the cores); False otherwise, also where numpy is missing or the tensor
    is empty, and then ``math.check_delays`` has the last word."""
    if np is None or delay.device.type != "cpu" or delay.dtype not in (torch.float32, torch.float64):
        return False
    d = _np(delay)
    return bool(d.size and d.min() >= 0 and d.max() <= max_delay)  # NaN fails both comparisons


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
    xn = _empty_lines((i, (d + t) * n), _np(x).dtype)
    held2, x2 = _np(held).reshape(d * n, i), _np(x).reshape(t * n, i)
    numba_jit.run_chunks(lambda lo, hi: _rows_kernel(held2, x2, xn, lo, hi), i, (d + t) * n, _TILE)
    lag, c0, c1 = dl_math.sparse_taps(_np(weight), _np(delay), kernel, d)
    offsets = ((d - lag) * n).astype(np.int64)
    return Prepared(xn, offsets, c0, c0 if c1 is None else c1, c1 is not None, d, t, n)


def forward(p: Prepared, n_out: int) -> torch.Tensor:
    """``y [T, N, O]``."""
    t, n, i = p.t, p.n, p.xn.shape[0]
    y = torch.empty((t, n, n_out), dtype=torch.from_numpy(p.xn[:0, :0]).dtype)
    y2 = _np(y).reshape(t * n, n_out)
    work = i * t * n * (2 if p.two else 1)
    numba_jit.run_chunks(
        lambda lo, hi: _forward_kernel(p.xn, p.offsets, p.a0, p.a1, n, p.two, y2, lo, hi), n_out, work, _ROWS
    )
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
    # The input's gradient from position `cut` of the rows on (the held inputs' part, below d * n, only
    # when it is needed); the output-gradient rows get `pad` zeros in front so that every tap's read of
    # them from there on falls inside the row, and d + 1 steps of zeros behind.
    cut = 0 if need_held else d * n
    pad = d * n - cut
    width = pad + (d + t + 1) * n if need_inputs else t * n
    gyp = _empty_lines((o, width), dtype)
    gy2 = _np(grad_y).reshape(t * n, o)
    numba_jit.run_chunks(lambda lo, hi: _padded_rows_kernel(gy2, gyp, pad, lo, hi), o, width, _TILE)
    if need_inputs:
        grad_rows = torch.empty(((d + t) * n - cut, i), dtype=torch_dtype)
        gx = _np(grad_rows)
        off_t = np.ascontiguousarray((cut + pad - p.offsets).T)
        a0_t = np.ascontiguousarray(p.a0.T)
        a1_t = np.ascontiguousarray(p.a1.T) if p.two else a0_t
    else:
        gx = np.empty((1, 1), dtype=dtype)
        off_t, a0_t, a1_t = p.offsets, p.a0, p.a1
    s0 = np.empty((o, i) if need_params else (1, 1))
    s1 = np.empty((o, i) if need_params and p.two else (1, 1))
    args = (gyp, pad, t * n, p.xn, p.offsets, off_t, a0_t, a1_t, n, p.two)
    args += (need_inputs, need_params, gx, s0, s1)
    work = o * t * n * (2 if p.two else 1) * (int(need_inputs) + int(need_params))
    numba_jit.run_chunks(lambda lo, hi: _backward_kernel(*args, lo, hi), i, work, align=_IBLOCK)
    grad_held = grad_x = grad_weight = grad_delay = None
    if need_held:  # a copy: outputs of an operator must not share storage
        grad_held = torch.from_numpy(gx[: d * n].copy()).view(d, n, i)
    if need_x:
        grad_x = grad_rows[d * n - cut :].view(t, n, i)
    if need_params:
        gw, gd = dl_math.sparse_param_grads(s0, s1 if p.two else None, _np(weight), _np(delay), kernel, d)
        grad_weight = torch.from_numpy(np.asarray(gw, dtype=dtype))
        grad_delay = torch.from_numpy(np.asarray(gd, dtype=dtype))
    return grad_held, grad_x, grad_weight, grad_delay
