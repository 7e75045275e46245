"""Triton kernels of the fused neuron walk (imported only through ``_triton.load``: it imports Triton).

One program per ``BLOCK`` neurons keeps their membrane in registers and walks time inside, like the numba
kernels (:mod:`.neuron_numba`, whose scalar code these repeat, expression for expression, in the order of
the PyTorch walk). Flags are ``tl.constexpr``: each combination compiles to straight-line code.

Slots of the constant array ``p`` (the input's dtype, on its device), as ``neuron_numba._constants``
lays them out: 0 ``k`` (1/tau), 1 ``a`` (dH/dV), 2 ``b`` (dH/dX), 3 ``v_reset``, 4 ``v_threshold``,
7 ``c1`` and 8 ``c2`` (the surrogate's constants); 5 and 6 (one, zero) are for numba only.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._triton import interpreting

try:
    from triton.language.extra import libdevice  # Triton >= 3.0
except ImportError:  # pragma: no cover - older Triton
    libdevice = tl.extra.cuda.libdevice

# libdevice's exp is the expf of PyTorch's CUDA kernels; Triton's CPU interpreter (tests without a GPU)
# has no libdevice, and its tl.exp is numpy's.
_INTERPRETING = tl.constexpr(interpreting())


@triton.jit
def _exp(x):
    if _INTERPRETING:
        y = tl.exp(x)
    else:
        y = libdevice.exp(x)
    return y


# KIND (charge: 0 IF, 1 LIF with decay_input, 2 LIF without) and GV_MODE (the membrane's gradient: 0 none,
# 1 last step only, 2 every step) take neuron_numba's values.


@triton.jit
def _charge(x, v, k, vr, KIND: tl.constexpr):
    if KIND == 0:
        h = v + x
    elif KIND == 1:
        h = v + (x - (v - vr)) * k
    else:
        h = v - (v - vr) * k + x
    return h


@triton.jit
def _reset(h, fired, vr, vth, HARD: tl.constexpr):
    if HARD:
        after = tl.zeros_like(h) + vr
    else:
        after = h - vth
    return tl.where(fired, after, h)


@triton.jit
def _div(a, b):
    """IEEE division: ``div_rn`` for float32 (Triton's ``/`` is approximate there); float64's ``/`` is."""
    if a.dtype == tl.float32:
        q = tl.math.div_rn(a, b)
    else:
        q = a / b
    return q


@triton.jit
def _surrogate_grad(z, c1, c2, SID: tl.constexpr):
    """``sigma'(z)`` at ``z = h - v_threshold``: ATan, Sigmoid, PiecewiseQuadratic by ``SID``."""
    if SID == 0:  # (alpha / 2) / (1 + (z * pi / 2 * alpha)^2)
        y = z * c2
        g = _div(tl.zeros_like(z) + c1, y * y + 1.0)
    elif SID == 1:  # s = sigmoid(alpha z); (1 - s) * s * alpha
        s = _div(tl.zeros_like(z) + 1.0, _exp(-(z * c1)) + 1.0)
        g = (1.0 - s) * s * c1
    else:  # max(0, alpha - alpha^2 |z|)
        g = tl.maximum(c1 - tl.abs(z) * c2, 0.0)
    return g


@triton.jit
def neuron_forward(
    x_ptr, v0_ptr, p_ptr, s_ptr, h_ptr, v_ptr, n_steps, n,
    KIND: tl.constexpr, HARD: tl.constexpr, SAVE_H: tl.constexpr, STORE_V_SEQ: tl.constexpr,
    BLOCK: tl.constexpr,
):  # fmt: skip
    cols = tl.cast(tl.program_id(0), tl.int64) * BLOCK + tl.arange(0, BLOCK)
    n64 = tl.cast(n, tl.int64)  # row offsets t * n pass 2**31 for big walks
    mask = cols < n
    k = tl.load(p_ptr + 0)
    vr = tl.load(p_ptr + 3)
    vth = tl.load(p_ptr + 4)
    v = tl.load(v0_ptr + cols, mask=mask, other=0.0)
    for t in range(n_steps):
        offs = t * n64 + cols
        x = tl.load(x_ptr + offs, mask=mask, other=0.0)
        h = _charge(x, v, k, vr, KIND)
        fired = h - vth >= 0.0
        tl.store(s_ptr + offs, tl.where(fired, 1.0, 0.0).to(h.dtype), mask=mask)
        if SAVE_H:
            tl.store(h_ptr + offs, h, mask=mask)
        v = _reset(h, fired, vr, vth, HARD)
        if STORE_V_SEQ:
            tl.store(v_ptr + offs, v, mask=mask)
    if not STORE_V_SEQ:
        tl.store(v_ptr + cols, v, mask=mask)


@triton.jit
def neuron_backward(
    h_ptr, x_ptr, v0_ptr, p_ptr, gs_ptr, gv_ptr, gx_ptr, gv0_ptr, acc_ptr, n_steps, n,
    KIND: tl.constexpr, HARD: tl.constexpr, DETACH: tl.constexpr, SID: tl.constexpr,
    GS_PER_STEP: tl.constexpr, GV_MODE: tl.constexpr, NEED_K: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """One reverse walk over the saved ``H``: ``dH = dV * coef + g_S * sigma'``, ``dX = dH * b``,
    ``dV[t-1] = dH * a``; ``coef = dV/dH + dV/dS * sigma'`` (hard reset: ``1 - S`` and ``v_reset - H``;
    soft: ``1`` and ``-v_threshold``; the ``dV/dS`` term dropped under detach_reset). With ``NEED_K``,
    ``sum_t dH * dH/d(1/tau)`` per neuron in float64, written to ``acc``."""
    cols = tl.cast(tl.program_id(0), tl.int64) * BLOCK + tl.arange(0, BLOCK)
    n64 = tl.cast(n, tl.int64)  # row offsets t * n pass 2**31 for big walks
    mask = cols < n
    a = tl.load(p_ptr + 1)
    b = tl.load(p_ptr + 2)
    vr = tl.load(p_ptr + 3)
    vth = tl.load(p_ptr + 4)
    c1 = tl.load(p_ptr + 7)
    c2 = tl.load(p_ptr + 8)
    v0 = tl.load(v0_ptr + cols, mask=mask, other=0.0)
    h = tl.load(h_ptr + (n_steps - 1) * n64 + cols, mask=mask, other=0.0)
    if GV_MODE == 1:
        dv = tl.load(gv_ptr + cols, mask=mask, other=0.0)
    else:
        dv = tl.zeros_like(v0)
    if not GS_PER_STEP:
        gs_row = tl.load(gs_ptr + cols, mask=mask, other=0.0)
    acc = tl.zeros((BLOCK,), dtype=tl.float64)
    for i in range(n_steps):
        t = n_steps - 1 - i
        offs = t * n64 + cols
        if GV_MODE == 2:
            dv += tl.load(gv_ptr + offs, mask=mask, other=0.0)
        if GS_PER_STEP:
            gs = tl.load(gs_ptr + offs, mask=mask, other=0.0)
        else:
            gs = gs_row
        sg = _surrogate_grad(h - vth, c1, c2, SID)
        if HARD:
            coef = tl.where(h - vth >= 0.0, 0.0, 1.0).to(h.dtype)  # 1 - S
            if not DETACH:
                coef += (vr - h) * sg
        else:
            coef = tl.zeros_like(h) + 1.0
            if not DETACH:
                coef = sg * (-vth) + 1.0
        gh = dv * coef + gs * sg
        tl.store(gx_ptr + offs, gh * b, mask=mask)
        # H[t-1]: the next step of this reverse walk, and V[t-1] = its reset (the carried-in V at t = 0).
        h_prev = tl.load(h_ptr + offs - n64, mask=mask & (t > 0), other=0.0)
        if NEED_K:
            v_prev = tl.where(t > 0, _reset(h_prev, h_prev - vth >= 0.0, vr, vth, HARD), v0)
            if KIND == 1:  # dH/d(1/tau) = X - (V[t-1] - V_reset)
                x = tl.load(x_ptr + offs, mask=mask, other=0.0)
                dk = x - (v_prev - vr)
            else:  # dH/d(1/tau) = V_reset - V[t-1]
                dk = vr - v_prev
            acc += (gh * dk).to(tl.float64)
        dv = gh * a
        h = h_prev
    tl.store(gv0_ptr + cols, dv, mask=mask)
    if NEED_K:
        tl.store(acc_ptr + cols, acc, mask=mask)
