"""Triton kernels of the fused synapse filter (imported only through ``_triton.load``: it imports Triton).

One program per ``BLOCK`` columns walks all ``T`` steps with the current in registers, the same
recurrence as the numba kernels in :mod:`.synapse_filter` (see its docstring for the equations):
``a[t] = 1 - (1 - x[t]) k``, ``I[t] = a[t] I[t-1] + x[t]``; backward ``g[t] = gI[t] + a[t+1] g[t+1]``,
``gx[t] = g[t] (1 + k I[t-1])``, ``gk = sum_t g[t] (x[t] - 1) I[t-1]`` (per column, float64),
``g_state = a[0] g[0]``. ``k`` is read from a one-element tensor in the input's dtype.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def synapse_filter_forward(x_ptr, state_ptr, k_ptr, out_ptr, n_steps, n, BLOCK: tl.constexpr):
    cols = tl.cast(tl.program_id(0), tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < n
    n64 = tl.cast(n, tl.int64)  # row offsets t * n pass 2**31 for big walks
    k = tl.load(k_ptr)
    current = tl.load(state_ptr + cols, mask=mask, other=0.0)
    for t in range(n_steps):
        offs = t * n64 + cols
        x = tl.load(x_ptr + offs, mask=mask, other=0.0)
        a = 1.0 - (1.0 - x) * k
        current = a * current + x
        tl.store(out_ptr + offs, current, mask=mask)


@triton.jit
def synapse_filter_backward(
    grad_ptr, x_ptr, out_ptr, state_ptr, k_ptr, grad_x_ptr, grad_state_ptr, gk_ptr, n_steps, n,
    NEED_K: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    cols = tl.cast(tl.program_id(0), tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < n
    n64 = tl.cast(n, tl.int64)
    k = tl.load(k_ptr)
    state = tl.load(state_ptr + cols, mask=mask, other=0.0)
    g = tl.load(grad_ptr + (n_steps - 1) * n64 + cols, mask=mask, other=0.0)
    gk = tl.zeros((BLOCK,), dtype=tl.float64)
    for i in range(n_steps):
        t = n_steps - 1 - i
        offs = t * n64 + cols
        x = tl.load(x_ptr + offs, mask=mask, other=0.0)
        prev = tl.where(t > 0, tl.load(out_ptr + offs - n64, mask=mask & (t > 0), other=0.0), state)
        if NEED_K:
            gk += (g * ((x - 1.0) * prev)).to(tl.float64)
        tl.store(grad_x_ptr + offs, g * (1.0 + k * prev), mask=mask)
        a = 1.0 - (1.0 - x) * k
        grad_in = tl.load(grad_ptr + offs - n64, mask=mask & (t > 0), other=0.0)  # 0 at t = 0
        g = grad_in + a * g
    tl.store(grad_state_ptr + cols, g, mask=mask)
    if NEED_K:
        tl.store(gk_ptr + cols, gk, mask=mask)
