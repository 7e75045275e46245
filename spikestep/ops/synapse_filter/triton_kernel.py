"""The synapse filter walk as Triton kernels (this module imports Triton: load it through
``triton_jit.load``). One program per ``BLOCK`` columns walks all ``T`` steps with the current in
registers, calling the recurrence's pieces of :mod:`.math` (compiled in by ``triton_dialect.jit``).
"""

from __future__ import annotations

import torch
import triton.language as tl

from ..._runtime import triton_dialect, triton_jit
from . import math as sf_math

# Columns and warps per program.
BLOCK = 512
WARPS = 4


def _forward(x_ptr, state_ptr, k_ptr, out_ptr, n_steps, n, BLOCK: tl.constexpr):  # type: ignore[no-untyped-def]
    cols = tl.cast(tl.program_id(0), tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < n
    n64 = tl.cast(n, tl.int64)  # row offsets t * n pass 2**31 for big walks
    k = tl.load(k_ptr + cols, mask=mask, other=0.0)
    current = tl.load(state_ptr + cols, mask=mask, other=0.0)
    for t in range(n_steps):
        offs = t * n64 + cols
        x = tl.load(x_ptr + offs, mask=mask, other=0.0)
        current = advance(x, decay(x, k, 1.0), current)  # noqa: F821 - bound below
        tl.store(out_ptr + offs, current, mask=mask)


def _backward(
    grad_ptr, x_ptr, out_ptr, state_ptr, k_ptr, grad_x_ptr, grad_state_ptr, gk_ptr, n_steps, n,
    NEED_K: tl.constexpr, BLOCK: tl.constexpr,
):  # type: ignore[no-untyped-def]  # fmt: skip
    cols = tl.cast(tl.program_id(0), tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = cols < n
    n64 = tl.cast(n, tl.int64)
    k = tl.load(k_ptr + cols, mask=mask, other=0.0)
    state = tl.load(state_ptr + cols, mask=mask, other=0.0)
    g = tl.load(grad_ptr + (n_steps - 1) * n64 + cols, mask=mask, other=0.0)
    gk = tl.zeros((BLOCK,), dtype=tl.float64)
    for i in range(n_steps):
        t = n_steps - 1 - i
        offs = t * n64 + cols
        x = tl.load(x_ptr + offs, mask=mask, other=0.0)
        prev = state
        grad_in = tl.zeros_like(state)
        if t > 0:
            prev = tl.load(out_ptr + offs - n64, mask=mask, other=0.0)
            grad_in = tl.load(grad_ptr + offs - n64, mask=mask, other=0.0)
        if NEED_K:
            gk += (g * inv_tau_gain(x, prev, 1.0)).to(tl.float64)  # noqa: F821
        tl.store(grad_x_ptr + offs, g * input_gain(prev, k, 1.0), mask=mask)  # noqa: F821
        g = grad_in + decay(x, k, 1.0) * g  # noqa: F821
    tl.store(grad_state_ptr + cols, g, mask=mask)
    if NEED_K:
        tl.store(gk_ptr + cols, gk, mask=mask)


_PIECES = {
    name: triton_dialect.jit(getattr(sf_math, name))
    for name in ("advance", "decay", "input_gain", "inv_tau_gain")
}
_forward_kernel = triton_dialect.jit(_forward, _PIECES)
_backward_kernel = triton_dialect.jit(_backward, _PIECES)


def _grid(n: int) -> tuple[int]:
    return (max(1, -(-n // BLOCK)),)


def forward(x: torch.Tensor, state: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    n_steps, n = x.shape
    out = torch.empty_like(x)
    _forward_kernel[_grid(n)](x, state, k, out, n_steps, n, BLOCK=BLOCK, num_warps=WARPS, **triton_jit.LAUNCH)
    return out


def backward(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    out: torch.Tensor,
    state: torch.Tensor,
    k: torch.Tensor,
    need_k: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    n_steps, n = x.shape
    grad_x = torch.empty_like(x)
    grad_state = torch.empty_like(state)
    gk = torch.empty(n if need_k else 1, dtype=torch.float64, device=x.device)
    _backward_kernel[_grid(n)](
        grad_out, x, out, state, k, grad_x, grad_state, gk, n_steps, n,
        NEED_K=need_k, BLOCK=BLOCK, num_warps=WARPS, **triton_jit.LAUNCH,
    )  # fmt: skip
    return grad_x, grad_state, (gk if need_k else None)
