"""The sparse kernels (``'linear'``: 2 taps, ``'round'``: 1 tap) as Triton kernels (this module imports
Triton: load it through ``triton_jit.load``). The cost grows with the taps, not with ``max_delay``.

.. math::
    y_j[t] = \\sum_i a^0_{ij} \\, x_i[t - k_{ij}] + a^1_{ij} \\, x_i[t - k_{ij} - 1]

with the first tap's lag ``k_ij`` and the coefficients ``a0 = w (1 - f)``, ``a1 = w f`` (``'linear'``)
or ``a0 = w`` alone (``'round'``, and ``'linear'`` with ``max_delay`` 0), from
:func:`.math.sparse_taps`; ``x_i[t - k]`` comes from the held inputs before the chunk.

Layout, as the numba kernels have it: each input channel's held inputs and new inputs form one row
``xn[i]`` of ``(D+T) * N`` values, time-major (``xn[i, s * N + n]`` is step ``s`` of sample ``n``, the
``D`` held steps first), so the input of synapse ``(j, i)`` at lag ``k`` for all ``T * N`` outputs is
the contiguous slice of ``xn[i]`` from the offset ``(D - k) * N``, and a block of output rows reads
each synapse's input in one coalesced run. Three kernels, all in gather form (each program owns its
outputs: no atomics, a result does not depend on the launch order):

* forward: one program per ``[BLOCK_R rows (t, n), BLOCK_O outputs j]`` tile of ``y [T * N, O]`` sums
  over the input channels ``i`` in order (in the inputs' dtype, ``a0 x0 + a1 x1`` per channel, as the
  numba kernel adds them);
* the input's gradient: one program per ``[BLOCK_P positions (s, n), BLOCK_I channels i]`` tile of the
  rows' gradient sums over the outputs ``j`` in order,
  ``gx_i[p] = sum_j a0_ij gy_j[p - off_ij] + a1_ij gy_j[p - off_ij + N]`` (each term where that output
  row exists): the held inputs' part and the new inputs' part each into a tensor of its own, each
  computed only when asked for;
* the parameters' sums: one program per output ``j``, ``BLOCK_I`` input channels and one slice of the
  ``T * N`` rows reduces ``s0_ij = sum_r gy_j[r] xn_i[off_ij + r]`` and
  ``s1_ij = sum_r gy_j[r] xn_i[off_ij - N + r]`` (the loss's gradient at each tap), each product added
  in float64. When ``O * I`` alone gives too few programs to fill the GPU, the rows are cut into slices
  whose partial sums (float64, ``[S, O, I]``) torch adds afterwards; :func:`.math.sparse_param_grads`
  turns ``s0``, ``s1`` into the weight's and the delay's gradients, as for the numba path.

Untimed: written without a GPU to measure on (tested under Triton's interpreter, and on CUDA by
``tests/test_cuda.py`` where one is visible); the block sizes below are reasonable first choices.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import triton
import triton.language as tl

from ..._runtime import triton_jit
from . import math as dl_math

_BLOCK_R = 64  # forward: output rows (t, n) per program
_BLOCK_O = 32  # forward: output channels per program
_BLOCK_P = 64  # input gradient: positions (s, n) per program
_BLOCK_I = 32  # input gradient: input channels per program
_SUM_I = 16  # parameter sums: input channels per program
_SUM_R = 128  # parameter sums: rows per step of the reduction
_TARGET_PROGRAMS = 1024  # parameter sums: cut the rows into slices until about this many programs
_MIN_SLICE = 1024  # parameter sums: ... but no slice shorter than this many rows


@triton.jit
def _forward(
    xn_ptr, off_ptr, a0_ptr, a1_ptr, y_ptr, n_rows, n_out, n_in, row_len, n_batch,
    TWO: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_O: tl.constexpr,
):  # type: ignore[no-untyped-def]  # fmt: skip
    """``y[r, j] = sum_i a0[i, j] xn[i, off[i, j] + r] (+ a1[i, j] xn[i, off[i, j] - N + r])``; the taps
    ``off``, ``a0``, ``a1`` transposed to ``[I, O]`` (a program reads ``BLOCK_O`` of them in a row)."""
    rows = tl.cast(tl.program_id(0), tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.program_id(1) * BLOCK_O + tl.arange(0, BLOCK_O)
    row_mask = rows < n_rows
    col_mask = cols < n_out
    mask = row_mask[:, None] & col_mask[None, :]
    n64 = tl.cast(n_batch, tl.int64)
    len64 = tl.cast(row_len, tl.int64)
    acc = tl.zeros((BLOCK_R, BLOCK_O), dtype=y_ptr.dtype.element_ty)
    for i in range(n_in):
        taps = i * n_out + cols
        off = tl.load(off_ptr + taps, mask=col_mask, other=0)
        b0 = tl.load(a0_ptr + taps, mask=col_mask, other=0.0)
        src = xn_ptr + i * len64 + off[None, :] + rows[:, None]
        x0 = tl.load(src, mask=mask, other=0.0)
        if TWO:
            b1 = tl.load(a1_ptr + taps, mask=col_mask, other=0.0)
            x1 = tl.load(src - n64, mask=mask, other=0.0)
            acc += b0[None, :] * x0 + b1[None, :] * x1
        else:
            acc += b0[None, :] * x0
    tl.store(y_ptr + rows[:, None] * n_out + cols[None, :], acc, mask=mask)


@triton.jit
def _grad_inputs(
    gyn_ptr, off_ptr, a0_ptr, a1_ptr, gx_ptr, p_lo, p_hi, n_rows, n_out, n_in, n_batch,
    TWO: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_I: tl.constexpr,
):  # type: ignore[no-untyped-def]  # fmt: skip
    """``gx[p - p_lo, i] = sum_j a0[j, i] gy[j, p - off[j, i]] (+ a1[j, i] gy[j, p - off[j, i] + N])`` for
    the row positions ``p`` in ``[p_lo, p_hi)``, each term where its output row ``0 <= r < T * N``;
    ``gy`` is ``[O, T * N]``, ``gx`` ``[p_hi - p_lo, I]``, the taps ``[O, I]``."""
    pos = p_lo + tl.cast(tl.program_id(0), tl.int64) * BLOCK_P + tl.arange(0, BLOCK_P)
    ins = tl.program_id(1) * BLOCK_I + tl.arange(0, BLOCK_I)
    in_mask = ins < n_in
    mask = (pos < p_hi)[:, None] & in_mask[None, :]
    n64 = tl.cast(n_batch, tl.int64)
    rows64 = tl.cast(n_rows, tl.int64)
    acc = tl.zeros((BLOCK_P, BLOCK_I), dtype=gx_ptr.dtype.element_ty)
    for j in range(n_out):
        taps = j * n_in + ins
        off = tl.load(off_ptr + taps, mask=in_mask, other=0)
        b0 = tl.load(a0_ptr + taps, mask=in_mask, other=0.0)
        r0 = pos[:, None] - off[None, :]  # the output row that tap 0 of synapse (j, i) took p into
        g_row = gyn_ptr + j * rows64
        g0 = tl.load(g_row + r0, mask=mask & (r0 >= 0) & (r0 < rows64), other=0.0)
        if TWO:
            b1 = tl.load(a1_ptr + taps, mask=in_mask, other=0.0)
            r1 = r0 + n64  # tap 1 (one lag more) took p into the row N further on
            g1 = tl.load(g_row + r1, mask=mask & (r1 >= 0) & (r1 < rows64), other=0.0)
            acc += b0[None, :] * g0 + b1[None, :] * g1
        else:
            acc += b0[None, :] * g0
    tl.store(gx_ptr + (pos - p_lo)[:, None] * n_in + ins[None, :], acc, mask=mask)


@triton.jit
def _param_sums(
    gyn_ptr, xn_ptr, off_ptr, s0_ptr, s1_ptr, n_rows, n_out, n_in, row_len, n_batch, slice_rows,
    TWO: tl.constexpr, BLOCK_I: tl.constexpr, BLOCK_R: tl.constexpr,
):  # type: ignore[no-untyped-def]  # fmt: skip
    """``s0[s, j, i] = sum_r gy[j, r] xn[i, off[j, i] + r]`` (and ``s1`` at ``off - N``) over the rows
    ``r`` of slice ``s`` (``slice_rows`` each), every product added in float64."""
    j = tl.program_id(0)
    ins = tl.program_id(1) * BLOCK_I + tl.arange(0, BLOCK_I)
    piece = tl.program_id(2)
    in_mask = ins < n_in
    n64 = tl.cast(n_batch, tl.int64)
    rows64 = tl.cast(n_rows, tl.int64)
    len64 = tl.cast(row_len, tl.int64)
    taps = j * n_in + ins
    off = tl.load(off_ptr + taps, mask=in_mask, other=0)
    src = xn_ptr + ins[:, None] * len64 + off[:, None]
    g_row = gyn_ptr + j * rows64
    r_lo = tl.cast(piece, tl.int64) * slice_rows
    r_hi = tl.minimum(r_lo + slice_rows, rows64)
    acc0 = tl.zeros((BLOCK_I, BLOCK_R), dtype=tl.float64)
    acc1 = tl.zeros((BLOCK_I, BLOCK_R), dtype=tl.float64)
    for k in range(0, slice_rows, BLOCK_R):
        rows = r_lo + k + tl.arange(0, BLOCK_R)
        row_mask = rows < r_hi
        g = tl.load(g_row + rows, mask=row_mask, other=0.0)
        mask = in_mask[:, None] & row_mask[None, :]
        x0 = tl.load(src + rows[None, :], mask=mask, other=0.0)
        acc0 += (g[None, :] * x0).to(tl.float64)
        if TWO:
            x1 = tl.load(src + rows[None, :] - n64, mask=mask, other=0.0)
            acc1 += (g[None, :] * x1).to(tl.float64)
    out = tl.cast(piece, tl.int64) * n_out * n_in + taps
    tl.store(s0_ptr + out, tl.sum(acc0, axis=1), mask=in_mask)
    if TWO:
        tl.store(s1_ptr + out, tl.sum(acc1, axis=1), mask=in_mask)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


class Prepared(NamedTuple):
    """What the forward and the backward both take (the same fields as the numba path's): the rows
    ``xn [I, (D+T) * N]``, each synapse's first tap's offset into its row ``(D - lag) * N`` (int64,
    ``[O, I]``), the taps' coefficients ``[O, I]`` (``a1`` is ``a0`` when there is one tap: never read),
    and the sizes. The eager path keeps it from the forward for the backward instead of the inputs."""

    xn: torch.Tensor
    offsets: torch.Tensor
    a0: torch.Tensor
    a1: torch.Tensor
    two: bool
    d: int
    t: int
    n: int


def prepare(
    held: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, delay: torch.Tensor, kernel: str
) -> Prepared:
    """The rows and the taps for contiguous float32/float64 ``held [D, N, I]``, ``x [T, N, I]`` (on
    CUDA, or on the CPU under Triton's interpreter) and a sparse ``kernel``."""
    d, (t, n, i) = held.shape[0], x.shape
    xn = x.new_empty((i, (d + t) * n))
    if d:
        xn[:, : d * n].copy_(held.reshape(d * n, i).t())
    xn[:, d * n :].copy_(x.reshape(t * n, i).t())
    lag, c0, c1 = dl_math.sparse_taps(weight.detach(), delay.detach(), kernel, d)
    offsets = ((d - lag.to(torch.int64)) * n).contiguous()  # in integers: (D - lag) * N may pass 2**24
    a0 = c0.contiguous()
    a1 = a0 if c1 is None else c1.contiguous()
    return Prepared(xn, offsets, a0, a1, c1 is not None, d, t, n)


def forward(p: Prepared, n_out: int) -> torch.Tensor:
    """``y [T, N, O]``."""
    n_rows, n_in = p.t * p.n, p.xn.shape[0]
    y = p.xn.new_empty((p.t, p.n, n_out))
    if y.numel() == 0:
        return y
    if n_in == 0:
        return y.zero_()
    grid = (_cdiv(n_rows, _BLOCK_R), _cdiv(n_out, _BLOCK_O))
    _forward[grid](
        p.xn, p.offsets.t().contiguous(), p.a0.t().contiguous(), p.a1.t().contiguous(), y,
        n_rows, n_out, n_in, p.xn.shape[1], p.n,
        TWO=p.two, BLOCK_R=_BLOCK_R, BLOCK_O=_BLOCK_O, **triton_jit.LAUNCH,
    )  # fmt: skip
    return y


def _slices(n_rows: int, programs: int) -> tuple[int, int]:
    """``(count, rows each)``: the rows cut into slices (multiples of ``_SUM_R`` rows) until the
    parameter sums run about ``_TARGET_PROGRAMS`` programs, none shorter than ``_MIN_SLICE`` rows."""
    count = max(1, min(_cdiv(_TARGET_PROGRAMS, max(programs, 1)), n_rows // _MIN_SLICE))
    each = max(_cdiv(_cdiv(n_rows, count), _SUM_R), 1) * _SUM_R
    return _cdiv(n_rows, each), each


def _grad_inputs_between(gyn: torch.Tensor, p: Prepared, lo: int, hi: int) -> torch.Tensor:
    """The rows' gradient ``[hi - lo, I]`` at the positions ``[lo, hi)`` from ``gyn [O, T * N]`` (one
    launch for the held inputs' part, one for the new inputs': two tensors that share no storage)."""
    n_out, n_in = gyn.shape[0], p.xn.shape[0]
    gx = p.xn.new_empty((hi - lo, n_in))
    if gx.numel():
        grid = (_cdiv(hi - lo, _BLOCK_P), _cdiv(n_in, _BLOCK_I))
        _grad_inputs[grid](
            gyn, p.offsets, p.a0, p.a1, gx, lo, hi, gyn.shape[1], n_out, n_in, p.n,
            TWO=p.two, BLOCK_P=_BLOCK_P, BLOCK_I=_BLOCK_I, **triton_jit.LAUNCH,
        )  # fmt: skip
    return gx


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
    d, t, n, n_in, n_out = p.d, p.t, p.n, p.xn.shape[0], weight.shape[0]
    n_rows, row_len = t * n, p.xn.shape[1]
    gyn = grad_y.reshape(n_rows, n_out).t().contiguous()  # [O, T * N]: each output's gradient in a row
    grad_held = grad_x = grad_weight = grad_delay = None
    if need_held:
        grad_held = _grad_inputs_between(gyn, p, 0, d * n).view(d, n, n_in)
    if need_x:
        grad_x = _grad_inputs_between(gyn, p, d * n, row_len).view(t, n, n_in)
    if need_params:
        weight, delay = weight.detach(), delay.detach()
        count, each = _slices(n_rows, n_out * _cdiv(n_in, _SUM_I))
        s0 = torch.empty((count, n_out, n_in), dtype=torch.float64, device=weight.device)
        s1 = torch.empty_like(s0) if p.two else s0  # s0 stands in when there is one tap: never written
        if s0.numel():
            _param_sums[(n_out, _cdiv(n_in, _SUM_I), count)](
                gyn, p.xn, p.offsets, s0, s1, n_rows, n_out, n_in, row_len, n, each,
                TWO=p.two, BLOCK_I=_SUM_I, BLOCK_R=_SUM_R, **triton_jit.LAUNCH,
            )  # fmt: skip
        sum0 = s0.sum(0)
        sum1 = s1.sum(0) if p.two else None
        gw, gd = dl_math.sparse_param_grads(sum0, sum1, weight, delay, kernel, d)
        grad_weight, grad_delay = gw.to(weight.dtype), gd.to(weight.dtype)
    return grad_held, grad_x, grad_weight, grad_delay
