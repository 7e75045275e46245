"""The synapse filter walk as numba kernels: blocks of columns spread over threads, time walked inside.

Arrays are ``[T, N]`` views of contiguous tensors; ``k`` is ``[N]`` (one ``1/tau`` per column) or, for one
time constant for every column, a scalar (:func:`_per_column`). Serial kernels over a column range
``[lo, hi)``; ``numba_jit.run_chunks`` spreads ranges over torch's threads.
"""

from __future__ import annotations

from typing import Any

import torch

from ..._runtime import numba_jit
from . import math as sf_math
from .math import advance, decay, input_gain, inv_tau_gain

columns_of, column = numba_jit.columns_of, numba_jit.column

try:
    import numpy as np
except ImportError:  # numba needs numpy: without it only the torch walk runs
    np = None  # type: ignore[assignment]

# Columns per block. Each step touches one piece of _BLOCK columns in every [T, N] array: long pieces let
# the hardware prefetcher stream them (it stops at each piece's end), while the block's carried row (32 KiB
# in float32) stays in cache.
_BLOCK = 8192


def _forward_walk(x, state, k, one, out, lo, hi):  # type: ignore[no-untyped-def]
    # Row slices indexed from 0 let LLVM drop numba's negative-index checks and vectorise the inner loop.
    # The carried row is a fresh copy, not a view of ``state``/``out``: LLVM then knows it aliases
    # nothing and vectorises without run-time overlap checks.
    n_steps = x.shape[0]
    for b0 in range(lo, hi, _BLOCK):  # a block of columns walks all T steps while its row is in cache
        b1 = min(b0 + _BLOCK, hi)
        cur = state[b0:b1].copy()
        kb = columns_of(k, b0, b1)
        for t in range(n_steps):
            x_t, out_t = x[t, b0:b1], out[t, b0:b1]
            for j in range(b1 - b0):
                cur[j] = advance(x_t[j], decay(x_t[j], column(kb, j), one), cur[j])
                out_t[j] = cur[j]


def _backward_walk(grad_out, x, out, state, k, one, need_k, grad_x, grad_state, grad_k, lo, hi):  # type: ignore[no-untyped-def]
    # g carries g[t] from step to step (it ends as a[0] g[0], the state's gradient); like the forward's
    # row, g and gk are fresh per block so the loops vectorise. gk is summed per column in float64.
    n_steps = x.shape[0]
    for b0 in range(lo, hi, _BLOCK):
        b1 = min(b0 + _BLOCK, hi)
        kb = columns_of(k, b0, b1)
        gk = np.zeros(b1 - b0, np.float64)
        g = grad_out[n_steps - 1, b0:b1].copy()
        for t in range(n_steps - 1, -1, -1):
            x_t, grad_x_t = x[t, b0:b1], grad_x[t, b0:b1]
            prev = out[t - 1, b0:b1] if t > 0 else state[b0:b1]
            if need_k:
                for j in range(b1 - b0):
                    gk[j] += g[j] * inv_tau_gain(x_t[j], prev[j], one)
            if t > 0:  # g[t-1] = gI[t-1] + a[t] g[t]
                grad_in = grad_out[t - 1, b0:b1]
                for j in range(b1 - b0):
                    g_j = g[j]
                    grad_x_t[j] = g_j * input_gain(prev[j], column(kb, j), one)
                    g[j] = grad_in[j] + decay(x_t[j], column(kb, j), one) * g_j
            else:  # t = 0: the carried-in state's gradient is a[0] g[0]
                for j in range(b1 - b0):
                    g_j = g[j]
                    grad_x_t[j] = g_j * input_gain(prev[j], column(kb, j), one)
                    g[j] = decay(x_t[j], column(kb, j), one) * g_j
        grad_state[b0:b1] = g
        if need_k:
            grad_k[b0:b1] = gk


_forward_kernel = numba_jit.kernel(_forward_walk, depends_on=(sf_math, numba_jit))
_backward_kernel = numba_jit.kernel(_backward_walk, depends_on=(sf_math, numba_jit))


def _np(t: torch.Tensor) -> Any:
    return t.detach().numpy()


def _per_column(k: torch.Tensor) -> Any:
    """``k`` as the kernels take it: the ``[N]`` array, or a scalar of its dtype when it holds one value
    (a scalar time constant), which numba compiles as a version of its own that reads no ``k`` row."""
    return _np(k).reshape(-1)[0] if k.numel() == 1 else _np(k)


def forward(x: torch.Tensor, state: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``x [T, N]``, ``state [N]``, ``k [N]`` or ``[1]`` (contiguous CPU float32/float64) -> ``I [T, N]``."""
    n_steps, n = x.shape
    out = torch.empty_like(x)
    xn, sn, kn, on = _np(x), _np(state), _per_column(k), _np(out)
    one = numba_jit.one_like(xn)
    numba_jit.run_chunks(lambda lo, hi: _forward_kernel(xn, sn, kn, one, on, lo, hi), n, n_steps)
    return out


def backward(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    out: torch.Tensor,
    state: torch.Tensor,
    k: torch.Tensor,
    need_k: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(grad_x [T, N], grad_state [N], grad_k [N] float64 or None)``."""
    n_steps, n = x.shape
    grad_x = torch.empty_like(x)
    grad_state = torch.empty_like(state)
    grad_k = torch.empty(n if need_k else 1, dtype=torch.float64)
    arrays = (_np(grad_out), _np(x), _np(out), _np(state), _per_column(k))
    one = numba_jit.one_like(arrays[1])
    gx, gs, gk = _np(grad_x), _np(grad_state), _np(grad_k)
    numba_jit.run_chunks(
        lambda lo, hi: _backward_kernel(*arrays, one, need_k, gx, gs, gk, lo, hi), n, 3 * n_steps
    )
    return grad_x, grad_state, (grad_k if need_k else None)
