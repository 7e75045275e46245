"""Learnable delays as Triton kernels (this module imports Triton: load it through ``triton_jit.load``).

One program per ``BLOCK`` columns walks all time steps. Arrays: ``x [T, N*C]``, ``held [D, N*C]``
(``D >= 1``), ``y`` and its gradient ``[T, N*K*C]``; an output column ``j`` is sample ``j // KC``, tap
and channel ``q = j % KC`` (``KC = K*C``), channel ``q % C``. ``z[s]`` (``s`` counted from the first held
step) is read from ``held`` for ``s < D`` and from ``x`` after, by two masked loads: nothing is joined.

* forward: a program per block of output columns; sparse (``sigma = 0``): two loads and
  :func:`~.math.two_taps` per step; dense: ``D + 1`` multiply-adds per step.
* the inputs' gradient: a program per block of input columns ``i = n C + c`` walks ``s`` over the
  ``D + T`` joined steps and gathers, for each tap ``k``, the output gradients that read ``z[s]`` (no
  scatter, no atomics).
* the delay's (sparse) or the taps' (dense) gradient: a program per block of output columns sums over
  time in float64 into one value per column (and lag); the sum over samples is a torch ``sum``.
"""

from __future__ import annotations

import torch
import triton.language as tl

from ..._runtime import triton_dialect, triton_jit
from . import math as ld_math

_BLOCK = 256


def _z(x_ptr, held_ptr, s, d, nc, col, mask):  # type: ignore[no-untyped-def]
    # z[s] of the input column `col`: held[s] for s < D, x[s - D] after (s is a block of indices).
    in_x = s >= d
    zx = tl.load(x_ptr + (s - d) * nc + col, mask=mask & in_x, other=0.0)
    zh = tl.load(held_ptr + s * nc + col, mask=mask & (s >= 0) & (s < d), other=0.0)
    return tl.where(in_x, zx, zh)


def _columns(n_cols, kc, c, BLOCK: tl.constexpr):  # type: ignore[no-untyped-def]
    # The program's output columns j (int64: offsets t * n_cols + j pass 2**31 for big walks), their
    # mask, tap-and-channel q and input column n C + channel.
    j = tl.cast(tl.program_id(0), tl.int64) * BLOCK + tl.arange(0, BLOCK)
    q = j % kc
    return j, j < n_cols, q, (j // kc) * c + q % c


def _sparse_forward(
    x_ptr, held_ptr, k0_ptr, a0_ptr, a1_ptr, y_ptr, n_steps, d, n_cols, nc, kc, c, BLOCK: tl.constexpr,
):  # type: ignore[no-untyped-def]  # fmt: skip
    n_cols, nc = tl.cast(n_cols, tl.int64), tl.cast(nc, tl.int64)
    j, mask, q, col = _columns(n_cols, kc, c, BLOCK)
    k0 = tl.load(k0_ptr + q, mask=mask, other=0)
    a0 = tl.load(a0_ptr + q, mask=mask, other=0.0)
    a1 = tl.load(a1_ptr + q, mask=mask, other=0.0)
    for t in range(n_steps):
        s = d + t - k0
        z0 = _z(x_ptr, held_ptr, s, d, nc, col, mask)
        z1 = _z(x_ptr, held_ptr, s - 1, d, nc, col, mask)
        tl.store(y_ptr + t * n_cols + j, two_taps(z0, z1, a0, a1), mask=mask)  # noqa: F821 - bound below


def _dense_forward(
    x_ptr, held_ptr, taps_ptr, y_ptr, n_steps, d, n_cols, nc, kc, c, BLOCK: tl.constexpr,
):  # type: ignore[no-untyped-def]  # fmt: skip
    n_cols, nc = tl.cast(n_cols, tl.int64), tl.cast(nc, tl.int64)
    j, mask, q, col = _columns(n_cols, kc, c, BLOCK)
    for t in range(n_steps):
        acc = tl.load(taps_ptr + q * (d + 1), mask=mask, other=0.0) * _z(
            x_ptr, held_ptr, d + t + tl.zeros_like(q), d, nc, col, mask
        )
        for lag in range(1, d + 1):
            g = tl.load(taps_ptr + q * (d + 1) + lag, mask=mask, other=0.0)
            acc += g * _z(x_ptr, held_ptr, d + t - lag + tl.zeros_like(q), d, nc, col, mask)
        tl.store(y_ptr + t * n_cols + j, acc, mask=mask)


def _inputs_grad(
    grad_ptr, k0_ptr, a0_ptr, a1_ptr, taps_ptr, grad_x_ptr, grad_held_ptr, n_steps, d, n_taps, n_cols, nc, kc, c,
    DENSE: tl.constexpr, BLOCK: tl.constexpr,
):  # type: ignore[no-untyped-def]  # fmt: skip
    n_cols, nc = tl.cast(n_cols, tl.int64), tl.cast(nc, tl.int64)
    i = tl.cast(tl.program_id(0), tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = i < nc
    first = (i // c) * kc + i % c  # the output column of tap 0 of this input column
    for s in range(d + n_steps):
        row = s + tl.zeros_like(i)  # blocks, so that the masks are blocks (also under the interpreter)
        g = tl.zeros((BLOCK,), dtype=grad_x_ptr.dtype.element_ty)
        for k in range(n_taps):
            q = k * c + i % c
            col = first + k * c
            if DENSE:
                for lag in range(d + 1):  # z[s] is read by y[s - D + lag] at this lag
                    t = row - d + lag
                    live = mask & (t >= 0) & (t < n_steps)
                    gy = tl.load(grad_ptr + t * n_cols + col, mask=live, other=0.0)
                    g += tl.load(taps_ptr + q * (d + 1) + lag, mask=mask, other=0.0) * gy
            else:
                k0 = tl.load(k0_ptr + q, mask=mask, other=0)
                t0 = row - d + k0  # z[s] is tap 0 of y[t0] and tap 1 of y[t0 + 1]
                live0 = mask & (t0 >= 0) & (t0 < n_steps)
                live1 = mask & (t0 + 1 >= 0) & (t0 + 1 < n_steps)
                gy0 = tl.load(grad_ptr + t0 * n_cols + col, mask=live0, other=0.0)
                gy1 = tl.load(grad_ptr + (t0 + 1) * n_cols + col, mask=live1, other=0.0)
                a0 = tl.load(a0_ptr + q, mask=mask, other=0.0)
                a1 = tl.load(a1_ptr + q, mask=mask, other=0.0)
                g += a0 * gy0 + a1 * gy1
        tl.store(grad_x_ptr + (row - d) * nc + i, g, mask=mask & (row >= d))
        tl.store(grad_held_ptr + row * nc + i, g, mask=mask & (row < d))


def _sparse_delay_grad(
    grad_ptr, x_ptr, held_ptr, k0_ptr, dot_ptr, n_steps, d, n_cols, nc, kc, c, BLOCK: tl.constexpr,
):  # type: ignore[no-untyped-def]  # fmt: skip
    n_cols, nc = tl.cast(n_cols, tl.int64), tl.cast(nc, tl.int64)
    j, mask, q, col = _columns(n_cols, kc, c, BLOCK)
    k0 = tl.load(k0_ptr + q, mask=mask, other=0)
    acc = tl.zeros((BLOCK,), dtype=tl.float64)
    for t in range(n_steps):
        s = d + t - k0
        z0 = _z(x_ptr, held_ptr, s, d, nc, col, mask)
        z1 = _z(x_ptr, held_ptr, s - 1, d, nc, col, mask)
        gy = tl.load(grad_ptr + t * n_cols + j, mask=mask, other=0.0)
        acc += (gy * (z1 - z0)).to(tl.float64)
    tl.store(dot_ptr + j, acc, mask=mask)


def _taps_grad(
    grad_ptr, x_ptr, held_ptr, out_ptr, n_steps, d, n_cols, nc, kc, c, BLOCK: tl.constexpr,
):  # type: ignore[no-untyped-def]  # fmt: skip
    n_cols, nc = tl.cast(n_cols, tl.int64), tl.cast(nc, tl.int64)
    j, mask, q, col = _columns(n_cols, kc, c, BLOCK)
    for lag in range(d + 1):
        acc = tl.zeros((BLOCK,), dtype=tl.float64)
        for t in range(n_steps):
            z = _z(x_ptr, held_ptr, d + t - lag + tl.zeros_like(q), d, nc, col, mask)
            gy = tl.load(grad_ptr + t * n_cols + j, mask=mask, other=0.0)
            acc += (gy * z).to(tl.float64)
        tl.store(out_ptr + j * (d + 1) + lag, acc, mask=mask)


_PIECES = {"two_taps": triton_dialect.jit(ld_math.two_taps)}
_PIECES["_z"] = triton_dialect.jit(_z, _PIECES)
_PIECES["_columns"] = triton_dialect.jit(_columns, _PIECES)
_sparse_forward_kernel = triton_dialect.jit(_sparse_forward, _PIECES)
_dense_forward_kernel = triton_dialect.jit(_dense_forward, _PIECES)
_inputs_grad_kernel = triton_dialect.jit(_inputs_grad, _PIECES)
_sparse_delay_grad_kernel = triton_dialect.jit(_sparse_delay_grad, _PIECES)
_taps_grad_kernel = triton_dialect.jit(_taps_grad, _PIECES)


def _grid(n: int) -> tuple[int]:
    return (max(1, -(-n // _BLOCK)),)


def _sizes(x: torch.Tensor, held: torch.Tensor, k: int) -> tuple[int, int, int, int, int, int]:
    """``(T, D, N*K*C, N*C, K*C, C)``."""
    t, n, c = x.shape
    return t, held.shape[0], n * k * c, n * c, k * c, c


def forward_sparse(
    x: torch.Tensor, held: torch.Tensor, k0: torch.Tensor, a0: torch.Tensor, a1: torch.Tensor
) -> torch.Tensor:
    (t, n, c), k = x.shape, k0.shape[0]
    y = torch.empty((t, n, k, c), dtype=x.dtype, device=x.device)
    sizes = _sizes(x, held, k)
    taps = (k0.contiguous(), a0.contiguous(), a1.contiguous())
    _sparse_forward_kernel[_grid(sizes[2])](x, held, *taps, y, *sizes, BLOCK=_BLOCK, **triton_jit.LAUNCH)
    return y


def forward_dense(x: torch.Tensor, held: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    (t, n, c), k = x.shape, taps.shape[0]
    y = torch.empty((t, n, k, c), dtype=x.dtype, device=x.device)
    sizes = _sizes(x, held, k)
    _dense_forward_kernel[_grid(sizes[2])](
        x, held, taps.contiguous(), y, *sizes, BLOCK=_BLOCK, **triton_jit.LAUNCH
    )
    return y


def _inputs(grad_y, x, held, k0, a0, a1, taps, dense):  # type: ignore[no-untyped-def]
    k = taps.shape[0] if dense else k0.shape[0]
    grad_x, grad_held = torch.empty_like(x), torch.empty_like(held)
    t, d, n_cols, nc, kc, c = _sizes(x, held, k)
    _inputs_grad_kernel[_grid(nc)](
        grad_y, k0, a0, a1, taps, grad_x, grad_held, t, d, k, n_cols, nc, kc, c,
        DENSE=dense, BLOCK=_BLOCK, **triton_jit.LAUNCH,
    )  # fmt: skip
    return grad_x, grad_held


def backward_sparse(
    grad_y: torch.Tensor,
    x: torch.Tensor,
    held: torch.Tensor,
    k0: torch.Tensor,
    a0: torch.Tensor,
    a1: torch.Tensor,
    delay: torch.Tensor,
    need_inputs: bool,
    need_delay: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    k0, a0, a1 = k0.contiguous(), a0.contiguous(), a1.contiguous()
    grad_x = grad_held = grad_delay = None
    if need_inputs:
        grad_x, grad_held = _inputs(grad_y, x, held, k0, a0, a1, a0, False)
    if need_delay:
        sizes = _sizes(x, held, k0.shape[0])
        per_column = torch.empty(sizes[2], dtype=torch.float64, device=x.device)
        _sparse_delay_grad_kernel[_grid(sizes[2])](
            grad_y, x, held, k0, per_column, *sizes, BLOCK=_BLOCK, **triton_jit.LAUNCH
        )
        dot = per_column.view(x.shape[1], *k0.shape).sum(0)
        grad_delay = ld_math.sparse_delay_grad(dot, delay, held.shape[0]).to(delay.dtype)
    return grad_x, grad_held, grad_delay


def backward_dense(
    grad_y: torch.Tensor,
    x: torch.Tensor,
    held: torch.Tensor,
    taps: torch.Tensor,
    need_inputs: bool,
    need_delay: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    taps = taps.contiguous()
    grad_x = grad_held = grad_taps = None
    if need_inputs:
        none = taps.new_empty(1)
        grad_x, grad_held = _inputs(grad_y, x, held, none.long(), none, none, taps, True)
    if need_delay:
        sizes = _sizes(x, held, taps.shape[0])
        per_column = torch.empty(sizes[2] * taps.shape[2], dtype=torch.float64, device=x.device)
        _taps_grad_kernel[_grid(sizes[2])](
            grad_y, x, held, per_column, *sizes, BLOCK=_BLOCK, **triton_jit.LAUNCH
        )
        grad_taps = per_column.view(x.shape[1], *taps.shape).sum(0)
    return grad_x, grad_held, grad_taps
