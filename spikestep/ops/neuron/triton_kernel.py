"""The neuron walk as Triton kernels (this module imports Triton: load it through ``triton_jit.load``).

One program per ``BLOCK`` neurons walks all ``T`` steps with the membrane in registers, calling the
pieces of :mod:`.math` and the surrogate's gradient (its one definition), compiled in by
``triton_dialect.jit``; a backward kernel is made per surrogate. The forward can keep ``H`` for the
backward (``h_out``), as SpikingJelly's kernels keep it; given none, the backward recomputes it. ``p``
holds ``(v_threshold, v_reset, 1, 0, c1, c2)`` in the compute dtype, on the device, in the slots that
:mod:`.math` names. Arrays are contiguous (the op layer makes them so).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import triton.language as tl

from ..._runtime import exact_cache, triton_dialect, triton_jit
from . import math as neuron_math

# Columns per program and warps per program. SAVES_H: the op layer hands forward an ``h_out`` to keep
# for backward when a gradient will be asked for: one [T, N] pass less than recomputing H (LIF: 6
# passes instead of 7; PLIF, whose backward also reads X: 7 instead of 8), on a memory-bound GPU about a
# seventh of the old time.
BLOCK = 512
WARPS = 4
SAVES_H = True
# The constants' slots, from .math (Triton reads globals as tl.constexpr).
VTH, VR, ONE, ZERO, C1, C2 = (
    tl.constexpr(getattr(neuron_math, n)) for n in ("VTH", "VR", "ONE", "ZERO", "C1", "C2")
)


def _forward(
    x_ptr, v0_ptr, a_ptr, b_ptr, c_ptr, p_ptr, s_ptr, v_ptr, h_ptr, n_steps, n,
    HARD: tl.constexpr, STORE_V_SEQ: tl.constexpr, STORE_H: tl.constexpr, BLOCK: tl.constexpr,
):  # type: ignore[no-untyped-def]  # fmt: skip
    cols = tl.cast(tl.program_id(0), tl.int64) * BLOCK + tl.arange(0, BLOCK)
    n64 = tl.cast(n, tl.int64)  # row offsets t * n pass 2**31 for big walks
    end = n_steps * n64
    mask = cols < n
    vth = tl.load(p_ptr + VTH)
    vr = tl.load(p_ptr + VR)
    a = tl.load(a_ptr + cols, mask=mask, other=0.0)
    b = tl.load(b_ptr + cols, mask=mask, other=0.0)
    c = tl.load(c_ptr + cols, mask=mask, other=0.0)
    v = tl.load(v0_ptr + cols, mask=mask, other=0.0)
    x_next = tl.load(x_ptr + cols, mask=mask & (cols < end), other=0.0)  # nothing to read when T = 0
    for t in range(n_steps):
        offs = t * n64 + cols
        x = x_next
        # The next row is asked for before this step's work, so its latency overlaps that work.
        x_next = tl.load(x_ptr + offs + n64, mask=mask & (offs + n64 < end), other=0.0)
        h = charge(x, v, a, b, c)  # noqa: F821 - the pieces of .math, bound below
        fired = fires(h, vth, 0.0)  # noqa: F821
        tl.store(s_ptr + offs, tl.where(fired, 1.0, 0.0).to(h.dtype), mask=mask)
        if STORE_H:
            tl.store(h_ptr + offs, h, mask=mask)
        v = reset(h, fired, vr, vth, HARD)  # noqa: F821
        if STORE_V_SEQ:
            tl.store(v_ptr + offs, v, mask=mask)
    if not STORE_V_SEQ:
        tl.store(v_ptr + cols, v, mask=mask)


def _backward(
    x_ptr, v0_ptr, a_ptr, b_ptr, c_ptr, p_ptr, gs_ptr, gv_ptr, h_ptr, gx_ptr, gv0_ptr, ga_ptr, gb_ptr,
    gc_ptr, n_steps, n, HARD: tl.constexpr, DETACH: tl.constexpr, GS_PER_STEP: tl.constexpr,
    GV_MODE: tl.constexpr, NEED_COEF: tl.constexpr, SAVED_H: tl.constexpr, BLOCK: tl.constexpr,
):  # type: ignore[no-untyped-def]  # fmt: skip
    """Walks back reading ``H[t]`` from ``h_ptr`` and writing ``dX`` row by row. ``SAVED_H``: the forward
    stored ``H`` there; else a walk forward first writes it (``h_ptr`` is then ``gx``, whose rows each
    program owns and overwrites with ``dX`` once read). Each row's loads are issued one step ahead."""
    cols = tl.cast(tl.program_id(0), tl.int64) * BLOCK + tl.arange(0, BLOCK)
    n64 = tl.cast(n, tl.int64)
    end = n_steps * n64
    mask = cols < n
    vth = tl.load(p_ptr + VTH)
    vr = tl.load(p_ptr + VR)
    one = tl.load(p_ptr + ONE)  # typed constants: the dialect's functions take no float literals
    zero = tl.load(p_ptr + ZERO)
    c1 = tl.load(p_ptr + C1)
    c2 = tl.load(p_ptr + C2)
    a = tl.load(a_ptr + cols, mask=mask, other=0.0)
    b = tl.load(b_ptr + cols, mask=mask, other=0.0)
    c = tl.load(c_ptr + cols, mask=mask, other=0.0)
    v0 = tl.load(v0_ptr + cols, mask=mask, other=0.0)
    if not SAVED_H:
        v = v0
        x_next = tl.load(x_ptr + cols, mask=mask & (cols < end), other=0.0)
        for t in range(n_steps):
            offs = t * n64 + cols
            x = x_next
            x_next = tl.load(x_ptr + offs + n64, mask=mask & (offs + n64 < end), other=0.0)
            h = charge(x, v, a, b, c)  # noqa: F821
            tl.store(h_ptr + offs, h, mask=mask)
            v = reset(h, fires(h, vth, 0.0), vr, vth, HARD)  # noqa: F821
    if GV_MODE == 1:
        dv = tl.load(gv_ptr + cols, mask=mask, other=0.0)
    else:
        dv = tl.zeros_like(v0)
    if HARD:
        hard_f = one
    else:
        hard_f = zero
    if DETACH:
        attach_f = zero
    else:
        attach_f = one
    sa = tl.zeros((BLOCK,), dtype=tl.float64)
    sb = tl.zeros((BLOCK,), dtype=tl.float64)
    sc = tl.zeros((BLOCK,), dtype=tl.float64)
    last = (n_steps - 1) * n64 + cols
    in_walk = mask & (last >= 0)  # T = 0: no rows to read
    h = tl.load(h_ptr + last, mask=in_walk, other=0.0)
    if GS_PER_STEP:
        gs = tl.load(gs_ptr + last, mask=in_walk, other=0.0)
    else:
        gs = tl.load(gs_ptr + cols, mask=mask, other=0.0)
    if GV_MODE == 2:
        gv = tl.load(gv_ptr + last, mask=in_walk, other=0.0)
    if NEED_COEF:
        x = tl.load(x_ptr + last, mask=in_walk, other=0.0)
    for i in range(n_steps):
        t = n_steps - 1 - i
        offs = t * n64 + cols
        earlier = mask & (offs >= n64)  # t > 0, as a block (the interpreter masks with blocks only)
        h_prev = tl.load(h_ptr + offs - n64, mask=earlier, other=0.0)
        if GS_PER_STEP:
            gs_prev = tl.load(gs_ptr + offs - n64, mask=earlier, other=0.0)
        if GV_MODE == 2:
            gv_prev = tl.load(gv_ptr + offs - n64, mask=earlier, other=0.0)
            dv += gv
        if NEED_COEF:
            x_prev = tl.load(x_ptr + offs - n64, mask=earlier, other=0.0)
        sg = surrogate_gradient(h - vth, one, c1, c2)  # noqa: F821 - bound per surrogate
        gh = grad_h(h, fires(h, vth, zero), dv, gs, sg, vr, vth, one, zero, hard_f, attach_f)  # noqa: F821
        tl.store(gx_ptr + offs, gh * b, mask=mask)
        if NEED_COEF:
            v_prev = v0
            if t > 0:
                v_prev = reset(h_prev, fires(h_prev, vth, 0.0), vr, vth, HARD)  # noqa: F821
            sa += (gh * v_prev).to(tl.float64)
            sb += (gh * x).to(tl.float64)
            sc += gh.to(tl.float64)
            x = x_prev
        dv = gh * a
        h = h_prev
        if GS_PER_STEP:
            gs = gs_prev
        if GV_MODE == 2:
            gv = gv_prev
    tl.store(gv0_ptr + cols, dv, mask=mask)
    if NEED_COEF:
        tl.store(ga_ptr + cols, sa, mask=mask)
        tl.store(gb_ptr + cols, sb, mask=mask)
        tl.store(gc_ptr + cols, sc, mask=mask)


_PIECES = {
    name: triton_dialect.jit(getattr(neuron_math, name)) for name in ("charge", "fires", "reset", "grad_h")
}
_forward_kernel = triton_dialect.jit(_forward, _PIECES)


def _backward_kernel(gradient: Callable[..., Any], tag: str) -> Any:
    names = dict(_PIECES, surrogate_gradient=triton_dialect.jit(gradient))
    return triton_dialect.jit(_backward, names, tag=tag)


def _grid(n: int) -> tuple[int]:
    return (max(1, -(-n // BLOCK)),)


_constants = exact_cache.ExactCache(limit=64)


def _p(x: torch.Tensor, values: tuple[float, ...]) -> torch.Tensor:
    """The constants as a tensor on ``x``'s device, kept per (values, dtype, device), ``-0.0`` apart
    from ``0.0``: a fresh one is a host-to-device copy at every call. The kernels only read it."""
    return _constants.get(
        (values, x.dtype, x.device), lambda: torch.tensor(values, dtype=x.dtype).to(x.device)
    )


def forward(x, v0, a, b, c, p_values, hard, store_v_seq, h_out=None):  # type: ignore[no-untyped-def]
    """``(S, V)``; ``H`` is also written to ``h_out`` when given (for :func:`backward`'s ``h_seq``)."""
    n_steps, n = x.shape
    s = torch.empty_like(x)
    v_out = torch.empty((n_steps if store_v_seq else 1, n), dtype=x.dtype, device=x.device)
    _forward_kernel[_grid(n)](
        x, v0, a, b, c, _p(x, p_values), s, v_out, s if h_out is None else h_out, n_steps, n,
        HARD=hard, STORE_V_SEQ=store_v_seq, STORE_H=h_out is not None, BLOCK=BLOCK, num_warps=WARPS,
        **triton_jit.LAUNCH,
    )  # fmt: skip
    return s, (v_out if store_v_seq else v_out[0])


def backward(
    grad_s, grad_v, x, v0, a, b, c, p_values, hard, detach_reset, store_v_seq, need_coef, gradient, tag,
    h_seq=None,
):  # type: ignore[no-untyped-def]  # fmt: skip
    """``h_seq``: the ``H`` a :func:`forward` with ``h_out`` wrote, read instead of recomputed."""
    n_steps, n = x.shape
    gs_per_step = grad_s is not None and grad_s.dim() == 2
    gs = torch.zeros(n, dtype=x.dtype, device=x.device) if grad_s is None else grad_s.contiguous()
    if grad_v is None:
        gv, gv_mode = gs, 0  # gs stands in: never read
    else:
        gv, gv_mode = grad_v.contiguous(), (2 if store_v_seq else 1)
    grad_x = torch.empty_like(x)
    grad_v0 = torch.empty_like(v0)
    sums = [torch.empty(n if need_coef else 1, dtype=torch.float64, device=x.device) for _ in range(3)]
    _backward_kernel(gradient, tag)[_grid(n)](
        x, v0, a, b, c, _p(x, p_values), gs, gv, grad_x if h_seq is None else h_seq, grad_x, grad_v0,
        *sums, n_steps, n, HARD=hard, DETACH=detach_reset, GS_PER_STEP=gs_per_step, GV_MODE=gv_mode,
        NEED_COEF=need_coef, SAVED_H=h_seq is not None, BLOCK=BLOCK, num_warps=WARPS, **triton_jit.LAUNCH,
    )  # fmt: skip
    if not need_coef:
        return grad_x, grad_v0, None, None, None
    return grad_x, grad_v0, *sums
