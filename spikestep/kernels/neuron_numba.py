"""Numba kernels of the fused neuron walk: blocks of neurons spread over threads, time walked inside.

Same recurrence as :mod:`spikestep.functional.neuron`, written for scalars, with the same operation
order as the torch expressions there so float32 results agree to the rounding (the tests hold both paths
to it). One ``torch.autograd.Function``:

* forward: for each block of neurons, walk ``t = 0..T-1`` keeping the block's membrane in a local
  buffer; write the spikes (and the membranes if asked). Nothing else is saved: the backward recomputes
  ``H`` for its block. Saving ``H`` instead (one more ``[T, N]`` written and read back) measured no
  faster for forward+backward (the walk is bound by memory traffic, not arithmetic) and costs memory.
* backward: per block, recompute ``H[0..T-1]`` into a ``[T, block]`` buffer, then walk ``t``
  backwards: ``dH = dV * (dV/dH + dV/dS * sigma') + g_S * sigma'``, ``dX = dH * dH/dX``,
  ``dV[t-1] = dH * dH/dV`` and, for a learnable ``1/tau``, ``sum_t dH * dH/d(1/tau)`` per neuron (summed
  over neurons in float64 afterwards).

The surrogate derivative ``sigma'`` is evaluated in the kernel for the built-in surrogates (chosen by
``kernel_id`` + alpha); anything else runs the pure-PyTorch walk (:mod:`.neuron_torch`).

Constants reach the kernels in a typed array ``p`` (the input's dtype), never as Python float literals:
numba would type those as float64 and promote float32 arithmetic.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from . import _numba

# Neurons walked together. Each step touches one piece of ``block`` neurons in every [T, N] array; long
# pieces let the hardware prefetcher stream them (it stops at each piece's end). That mattered more in
# measurements than keeping the backward's [T, block] buffer of H in L2: 2 MiB of it (T=64: 8192 neurons)
# ran faster than 256 KiB (1024 neurons).
_BUFFER_BYTES = 1 << 21
_MIN_BLOCK, _MAX_BLOCK = 256, 8192


def _block(n_steps: int, itemsize: int) -> int:
    block = _BUFFER_BYTES // max(1, n_steps * itemsize)
    return max(_MIN_BLOCK, min(_MAX_BLOCK, block // 64 * 64))


# Slots of the typed constant array ``p``.
_K, _A, _B, _VR, _VTH, _ONE, _ZERO, _C1, _C2 = range(9)
# Charge kinds.
_IF, _LIF_DECAY_INPUT, _LIF = 0, 1, 2
# How the gradient of the membrane arrives: none, for the last step only, for every step (store_v_seq).
_GV_NONE, _GV_LAST, _GV_SEQ = 0, 1, 2


def _charge(x: Any, v: Any, k: Any, vr: Any, kind: int) -> Any:
    # Same expressions, same order as functional.neuron.neuron_charge.
    if kind == _IF:
        return v + x
    if kind == _LIF_DECAY_INPUT:
        return v + (x - (v - vr)) * k
    return v - (v - vr) * k + x


def _reset(h: Any, fired: bool, vr: Any, vth: Any, hard: bool) -> Any:
    # h * (1 - s) + s * v_reset and h - s * v_threshold with s in {0, 1}, as selects (they vectorise).
    after = vr if hard else h - vth
    return after if fired else h


def _surrogate_grad(h: Any, vth: Any, one: Any, zero: Any, c1: Any, c2: Any, sid: int) -> Any:
    """``sigma'(h - vth)``; the same expressions, in the same order, as the surrogates' ``derivative()``.
    ``sid`` is the same for a whole walk, so the branch is taken out of the loops that call this.
    ``np.true_divide``, not ``/``: numba checks ``/`` for a zero divisor (Python's ZeroDivisionError), a
    branch that keeps the loop from vectorising; the quotient is the same IEEE division."""
    if sid == 0:  # ATan: (alpha / 2) / (1 + ((h - vth) * pi / 2 * alpha)^2)
        y = (h - vth) * c2
        return np.true_divide(c1, one + y * y)
    if sid == 1:  # Sigmoid: s = sigmoid(alpha (h - vth)); (1 - s) * s * alpha
        s = np.true_divide(one, one + np.exp(-((h - vth) * c1)))
        return (one - s) * s * c1
    g = c1 - abs(h - vth) * c2  # PiecewiseQuadratic: max(0, alpha - alpha^2 |h - vth|)
    return g if g > zero else zero


def _grad_h(h: Any, d: Any, g_s: Any, sg: Any, vr: Any, vth: Any, one: Any, zero: Any, hard_f: Any,
            attach_f: Any) -> Any:  # fmt: skip
    """``dL/dH[t]`` from ``d = dL/dV[t]``, ``g_s = dL/dS[t]`` and ``sg = sigma'``, as neuron_torch does.

    Hard reset: ``dV/dH = 1 - S``, ``dV/dS = v_reset - H``; soft: ``dV/dH = 1``, ``dV/dS = -v_th``; the
    ``dV/dS`` term only without detach_reset. The choices are made with the 0/1 factors ``hard_f`` and
    ``attach_f`` instead of branches, so the loop vectorises; ``a * 1 + b * 0`` rounds to ``a`` exactly
    (finite values), so the result is the same as neuron_torch's.
    """
    keep = one if h - vth < zero else zero  # 1 - S
    coef = keep * hard_f + (one - hard_f)
    dv_ds = (vr - h) * hard_f + (-vth) * (one - hard_f)
    coef = coef + dv_ds * sg * attach_f
    return d * coef + g_s * sg


_charge = _numba.jitable(_charge)
_reset = _numba.jitable(_reset)
_surrogate_grad = _numba.jitable(_surrogate_grad)
_grad_h = _numba.jitable(_grad_h)


def _forward(x, v0, p, kind, hard, store_v_seq, s_out, v_out, block, start, stop):
    n_steps = x.shape[0]
    # Constants in scalars, not re-read from p in the loop: that keeps the inner loop vectorisable.
    k, vr, vth, one, zero = p[_K], p[_VR], p[_VTH], p[_ONE], p[_ZERO]
    for lo in range(start, stop, block):
        hi = min(lo + block, stop)
        v = v0[lo:hi].copy()
        for t in range(n_steps):
            xt = x[t, lo:hi]  # row views: contiguous, cheaper than 2-d indexing in the inner loop
            st = s_out[t, lo:hi]
            for i in range(hi - lo):
                h = _charge(xt[i], v[i], k, vr, kind)
                fired = h - vth >= zero
                st[i] = one if fired else zero
                v[i] = _reset(h, fired, vr, vth, hard)
            if store_v_seq:
                v_out[t, lo:hi] = v
        if not store_v_seq:
            v_out[0, lo:hi] = v


def _make_backward(sid: int) -> Any:
    """The backward kernel for surrogate ``sid``. numba compiles a closure's variables as constants, so
    each surrogate gets straight-line inner loops that vectorise (a branch on ``sid`` inside the loop,
    read at run time, made the backward 2x slower); numba's disk cache keys on them too."""

    def _backward(
        x, v0, p, kind, hard, detach_reset, grad_s, gs_per_step, grad_v, gv_mode, need_k,
        grad_x, grad_v0, grad_k_acc, block, start, stop,
    ):  # fmt: skip
        n_steps = x.shape[0]
        k, a, b, vr, vth, one, zero = p[_K], p[_A], p[_B], p[_VR], p[_VTH], p[_ONE], p[_ZERO]
        c1, c2 = p[_C1], p[_C2]
        hard_f = one if hard else zero
        attach_f = zero if detach_reset else one
        x_f = one if kind == _LIF_DECAY_INPUT else zero
        for lo in range(start, stop, block):
            hi = min(lo + block, stop)
            width = hi - lo
            # Fresh buffers per block, not one per task: numba's fresh allocations let LLVM prove that
            # they alias nothing, so the loops vectorise without run-time checks (reused ones were 2x
            # slower).
            h_buf = np.empty((n_steps, width), dtype=x.dtype)
            v = v0[lo:hi].copy()
            # Recompute the block's H (the forward again) so the reverse walk can read it back.
            for t in range(n_steps):
                xt = x[t, lo:hi]
                ht = h_buf[t]
                for i in range(width):
                    h = _charge(xt[i], v[i], k, vr, kind)
                    ht[i] = h
                    v[i] = _reset(h, h - vth >= zero, vr, vth, hard)
            dv = grad_v[0, lo:hi].copy() if gv_mode == _GV_LAST else np.zeros(width, dtype=x.dtype)
            acc = np.zeros(width, dtype=np.float64)
            v_prev = np.empty(width, dtype=x.dtype)
            for t in range(n_steps - 1, -1, -1):
                ht = h_buf[t]
                gxt = grad_x[t, lo:hi]
                if gv_mode == _GV_SEQ:
                    gvt = grad_v[t, lo:hi]
                    for i in range(width):
                        dv[i] += gvt[i]
                gst = grad_s[t if gs_per_step else 0, lo:hi]
                if not need_k:
                    for i in range(width):
                        sg = _surrogate_grad(ht[i], vth, one, zero, c1, c2, sid)
                        gh = _grad_h(ht[i], dv[i], gst[i], sg, vr, vth, one, zero, hard_f, attach_f)
                        gxt[i] = gh * b
                        dv[i] = gh * a
                    continue
                # Learnable 1/tau: also sum_t dH[t] * dH[t]/d(1/tau) per neuron, with dH/d(1/tau) =
                # X - (V[t-1] - V_reset) with decay_input, V_reset - V[t-1] without (the same as
                # 0 * X - (V[t-1] - V_reset) for finite X). V[t-1] is the carried-in membrane, or the
                # reset of H[t-1], still in the buffer.
                if t > 0:
                    hp = h_buf[t - 1]
                    for i in range(width):
                        v_prev[i] = _reset(hp[i], hp[i] - vth >= zero, vr, vth, hard)
                else:
                    v_prev[:] = v0[lo:hi]
                xt = x[t, lo:hi]
                for i in range(width):
                    sg = _surrogate_grad(ht[i], vth, one, zero, c1, c2, sid)
                    gh = _grad_h(ht[i], dv[i], gst[i], sg, vr, vth, one, zero, hard_f, attach_f)
                    gxt[i] = gh * b
                    dv[i] = gh * a
                    acc[i] += gh * (xt[i] * x_f - (v_prev[i] - vr))
            grad_v0[lo:hi] = dv
            if need_k:
                grad_k_acc[lo:hi] = acc

    return _backward


# Serial kernels over a range of neurons; _run_parallel spreads ranges over threads (the kernels release
# the GIL). Compiling them without numba's parallel=True halves the compile time (seconds, paid on the
# first call of a fresh install and in CI), and waking threads only for big walks avoids the launch cost.
_forward_kernel = _numba.kernel(_forward)
_backward_kernels = tuple(_numba.kernel(_make_backward(sid)) for sid in range(3))


def _run_parallel(kernel: Any, args: tuple[Any, ...], n_steps: int, n: int, block: int) -> None:
    """``kernel(*args, block, start, stop)`` over ``[0, n)``, spread over torch's threads by
    ``_numba.run_chunks`` (one thread for small walks). Chunks are cut at cache lines, not at whole
    blocks: with few blocks per thread, whole blocks would leave one thread with much more work."""
    _numba.run_chunks(lambda lo, hi: kernel(*args, block, lo, hi), n, work_per_item=n_steps, align=64)


def _kernel_surrogate(surrogate_function: Any) -> tuple[int, float] | None:
    """``(kernel id, alpha)`` of a built-in spiking surrogate the kernel can evaluate, else None."""
    from ..surrogate import ATan, PiecewiseQuadratic, Sigmoid, SurrogateFunction

    for sid, cls in enumerate((ATan, Sigmoid, PiecewiseQuadratic)):
        kind = type(surrogate_function)
        if (
            isinstance(surrogate_function, cls)
            and kind.kernel_id == sid
            and kind.derivative is cls.derivative
            and kind.forward is SurrogateFunction.forward
            and surrogate_function.spiking
        ):
            return sid, surrogate_function.alpha
    return None


def unsupported_reason(
    x_seq: torch.Tensor, v0: torch.Tensor, inv_tau: Any, surrogate_function: Any
) -> str | None:
    """Why the numba kernel cannot run this call, or None when it can."""
    if not _numba.available():
        return _numba.unavailable_reason()
    for t in (x_seq, v0, inv_tau):
        if isinstance(t, torch.Tensor) and not _numba.supports(t):
            return f"it only runs float32/float64 CPU tensors, got {t.dtype} on {t.device}"
    if _kernel_surrogate(surrogate_function) is None:
        return (
            f"its kernel only knows the built-in spiking surrogates (ATan, Sigmoid, PiecewiseQuadratic), got "
            f"{type(surrogate_function).__name__}"
        )
    return None


def _constants(dtype: np.dtype, inv_tau: float | None, k_is_tensor: bool, decay_input: bool,
               v_threshold: float, v_reset: float | None, sid: int, alpha: float) -> np.ndarray:  # fmt: skip
    # Each constant rounded to the dtype the way torch rounds the matching Python scalar.
    t = dtype.type
    p = np.zeros(9, dtype=dtype)
    if inv_tau is None:
        p[_K], p[_A], p[_B] = 0, 1, 1
    else:
        p[_K] = t(inv_tau)
        # torch computes 1 - k in the tensor's dtype for a learnable k, in double for a Python float.
        p[_A] = t(1) - t(inv_tau) if k_is_tensor else t(1.0 - inv_tau)
        p[_B] = p[_K] if decay_input else 1
    p[_VR] = 0.0 if v_reset is None else v_reset
    p[_VTH], p[_ONE], p[_ZERO] = v_threshold, 1, 0
    if sid == 0:
        p[_C1], p[_C2] = alpha / 2.0, math.pi / 2.0 * alpha
    elif sid == 1:
        p[_C1] = alpha
    else:
        p[_C1], p[_C2] = alpha, alpha * alpha
    return p


def _as_2d(t: torch.Tensor, n_steps: int) -> torch.Tensor:
    return t.detach().contiguous().reshape(n_steps, -1)


class _NeuronWalkNumba(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        x_seq: torch.Tensor,
        v0: torch.Tensor,
        k_tensor: torch.Tensor | None,
        cfg: tuple[Any, ...],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        p, kind, hard, _, _, store_v_seq = cfg
        n_steps = x_seq.shape[0]
        x2 = _as_2d(x_seq, n_steps)
        n = x2.shape[1]
        v2 = v0.detach().contiguous().reshape(-1)
        s2 = torch.empty_like(x2)
        vout2 = torch.empty((n_steps if store_v_seq else 1, n), dtype=x2.dtype)
        args = (x2.numpy(), v2.numpy(), p, kind, hard, store_v_seq, s2.numpy(), vout2.numpy())
        _run_parallel(_forward_kernel, args, n_steps, n, _block(n_steps, x2.element_size()))
        ctx.save_for_backward(x_seq, v0, k_tensor)
        ctx.cfg = cfg
        ctx.set_materialize_grads(False)
        s_seq = s2.reshape(x_seq.shape)
        v_out = vout2.reshape(x_seq.shape) if store_v_seq else vout2.reshape(v0.shape)
        return s_seq, v_out

    @staticmethod
    def backward(ctx: Any, grad_s: torch.Tensor | None, grad_v: torch.Tensor | None) -> tuple[Any, ...]:
        x_seq, v0, k_tensor = ctx.saved_tensors
        p, kind, hard, sid, detach_reset, store_v_seq = ctx.cfg
        n_steps = x_seq.shape[0]
        x2 = _as_2d(x_seq, n_steps)
        n = x2.shape[1]
        v2 = v0.detach().contiguous().reshape(-1)
        np_dtype = x2.numpy().dtype
        dummy = np.zeros((1, 1), dtype=np_dtype)
        # The spikes' gradient as [T, N], or as one row [1, N] that serves every step when it is one value
        # broadcast everywhere (the gradient of s.sum() or s.mean(), or none at all): no [T, N] copy.
        gs_per_step = grad_s is not None and not grad_is_one_value(grad_s)
        if gs_per_step:
            gs = _as_2d(grad_s.to(x2.dtype), n_steps).numpy()
        else:
            value = 0.0 if grad_s is None else grad_s[(0,) * grad_s.dim()].item()
            gs = np.full((1, n), value, dtype=np_dtype)
        if grad_v is None:
            gv, gv_mode = dummy, _GV_NONE
        else:
            gv = grad_v.detach().to(x2.dtype).contiguous().reshape(-1 if store_v_seq else 1, n).numpy()
            gv_mode = _GV_SEQ if store_v_seq else _GV_LAST
        need_k = k_tensor is not None and ctx.needs_input_grad[2]
        grad_x = torch.empty_like(x2)
        grad_v0 = torch.empty_like(v2)
        acc = torch.empty(n if need_k else 1, dtype=torch.float64)
        args = (
            x2.numpy(), v2.numpy(), p, kind, hard, detach_reset, gs, gs_per_step, gv, gv_mode,
            need_k, grad_x.numpy(), grad_v0.numpy(), acc.numpy(),
        )  # fmt: skip
        _run_parallel(_backward_kernels[sid], args, n_steps, n, _block(n_steps, x2.element_size()))
        grad_k = acc.sum().to(k_tensor.dtype).reshape(k_tensor.shape) if need_k else None
        return (
            grad_x.reshape(x_seq.shape) if ctx.needs_input_grad[0] else None,
            grad_v0.reshape(v0.shape) if ctx.needs_input_grad[1] else None,
            grad_k,
            None,
        )


def walk_config(
    x_seq: torch.Tensor,
    inv_tau: float | torch.Tensor | None,
    decay_input: bool,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: Any,
) -> tuple[np.ndarray, int, int, torch.Tensor | None]:
    """What the compiled walks (numba here, Triton in :mod:`.neuron_triton`) need of a call:
    ``(p, kind, surrogate id, the learnable 1/tau or None)``. A learnable 1/tau is read once per call."""
    sid, alpha = _kernel_surrogate(surrogate_function)
    k_tensor = inv_tau if isinstance(inv_tau, torch.Tensor) else None
    k_value = None if inv_tau is None else float(inv_tau.detach() if k_tensor is not None else inv_tau)
    kind = _IF if inv_tau is None else (_LIF_DECAY_INPUT if decay_input else _LIF)
    dtype = np.dtype(np.float32) if x_seq.dtype == torch.float32 else np.dtype(np.float64)
    p = _constants(dtype, k_value, k_tensor is not None, decay_input, v_threshold, v_reset, sid, alpha)
    return p, kind, sid, k_tensor


def grad_is_one_value(grad: torch.Tensor | None) -> bool:
    """Whether ``grad`` is one value broadcast everywhere (the gradient of ``s.sum()`` or ``s.mean()``):
    the walks then read one row for every step instead of a ``[T, N]`` copy."""
    return grad is not None and grad.numel() > 0 and all(st == 0 for st in grad.stride())


def neuron_walk_numba(
    x_seq: torch.Tensor,
    v0: torch.Tensor,
    inv_tau: float | torch.Tensor | None,
    decay_input: bool,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: Any,
    detach_reset: bool,
    store_v_seq: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fused multi-step neuron on the numba kernels (same contract as ``neuron_walk_torch``).

    Call only when :func:`unsupported_reason` returns None.
    """
    p, kind, sid, k_tensor = walk_config(
        x_seq, inv_tau, decay_input, v_threshold, v_reset, surrogate_function
    )
    cfg = (p, kind, v_reset is not None, sid, detach_reset, store_v_seq)
    return _NeuronWalkNumba.apply(x_seq, v0, k_tensor, cfg)
