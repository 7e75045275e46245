"""The pure-PyTorch fused walk of the neuron recurrence (any device, dtype and surrogate).

One ``torch.autograd.Function``: the forward walks ``T`` once with the functional step functions (no
autograd graph), copying each step's ``S`` (and, when a gradient may be asked for, ``H``) into
preallocated ``[T, ...]`` tensors; the backward is one reverse walk:

.. math::
    \\delta H[t] = \\delta V[t] \\left(\\frac{\\partial V}{\\partial H} + \\frac{\\partial V}{\\partial S} \\sigma'[t]\\right)
                 + g_S[t]\\, \\sigma'[t], \\qquad \\delta V[t-1] = \\delta H[t]\\, \\frac{\\partial H}{\\partial V}

(``sigma'`` the surrogate gradient at ``H - V_th``; the ``dV/dS`` term is dropped under
``detach_reset``); ``delta X[t] = delta H[t] dH/dX``, and a learnable ``1/tau`` collects
``sum_t delta H[t] dH/d(1/tau)``. Each step works on ``[B, ...]`` slices with ``out=`` buffers, which stay
in cache. Where the numba kernel applies (:mod:`.neuron_numba`) it is several times faster; this walk is
the fallback for GPUs, float16/bfloat16 and custom surrogates.
"""

from __future__ import annotations

from typing import Any

import torch

from ..functional.neuron import InvTau, Surrogate, neuron_charge, neuron_fire, neuron_reset


def surrogate_gradient(surrogate_function: Surrogate, z: torch.Tensor) -> torch.Tensor:
    """``d surrogate_function(z) / d z`` elementwise: the closed form of a built-in, autograd otherwise.

    Custom surrogates must be elementwise (as every spike function is): the gradient of the sum of the
    outputs is then the derivative at each entry.
    """
    closed_form = getattr(surrogate_function, "surrogate_grad", None)
    if callable(closed_form):
        return closed_form(z)
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        out = surrogate_function(z)
        if not out.requires_grad:
            return torch.zeros_like(z)
        (grad,) = torch.autograd.grad(out, z, torch.ones_like(out), allow_unused=True)
    return torch.zeros_like(z) if grad is None else grad


class _NeuronWalk(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        x_seq: torch.Tensor,
        v0: torch.Tensor,
        k_tensor: torch.Tensor | None,
        k_float: float | None,
        decay_input: bool,
        v_threshold: float,
        v_reset: float | None,
        surrogate_function: Surrogate,
        detach_reset: bool,
        store_v_seq: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        k = k_tensor if k_tensor is not None else k_float
        # Nothing is saved when no gradient can be asked for (inference). The membranes are kept for the
        # caller (store_v_seq) or for the gradient of a learnable 1/tau.
        needs_grad = any(ctx.needs_input_grad[:3])
        keep_v = store_v_seq or (needs_grad and k_tensor is not None)
        # Each step's results are copied into preallocated [T, ...] outputs, so the step's temporaries
        # are freed and their (cache-hot) memory reused by the next step.
        s_seq = torch.empty_like(x_seq)
        h_seq = torch.empty_like(x_seq) if needs_grad else None
        v_seq = torch.empty_like(x_seq) if keep_v else None
        v = v0
        for t, x in enumerate(x_seq):
            h = neuron_charge(x, v, k, decay_input, v_reset)
            s = neuron_fire(h, v_threshold, surrogate_function)
            v = neuron_reset(h, s, v_threshold, v_reset)
            s_seq[t] = s
            if h_seq is not None:
                h_seq[t] = h
            if v_seq is not None:
                v_seq[t] = v
        v_out = v_seq if store_v_seq else v.clone()
        if needs_grad:
            ctx.save_for_backward(x_seq, v0, k_tensor, h_seq, s_seq, v_seq)
        ctx.cfg = (k_float, decay_input, v_threshold, v_reset, surrogate_function, detach_reset, store_v_seq)
        ctx.set_materialize_grads(False)
        return s_seq, v_out

    @staticmethod
    def backward(ctx: Any, grad_s: torch.Tensor | None, grad_v: torch.Tensor | None) -> tuple[Any, ...]:
        x_seq, v0, k_tensor, h_seq, s_seq, v_seq = ctx.saved_tensors
        k_float, decay_input, v_threshold, v_reset, surrogate_function, detach_reset, store_v_seq = ctx.cfg
        k = k_tensor if k_tensor is not None else k_float
        need_k = k_tensor is not None and ctx.needs_input_grad[2]
        vr = 0.0 if v_reset is None else v_reset
        dh_dv = 1.0 if k is None else 1.0 - k  # the membrane's own decay, dH[t]/dV[t-1]
        dh_dx = k if (k is not None and decay_input) else None  # None: 1

        # One reverse pass; every step works on [B, ...] slices into preallocated buffers (out=), which
        # stay in cache, instead of [T, B, ...] temporaries.
        grad_x = torch.empty_like(h_seq)
        grad_h = torch.empty_like(v0) if dh_dx is not None else None
        dv = grad_v.clone() if (grad_v is not None and not store_v_seq) else torch.zeros_like(v0)
        coef, tmp = torch.empty_like(v0), torch.empty_like(v0)
        acc = torch.zeros_like(v0, dtype=torch.float64) if need_k else None
        for t in range(h_seq.shape[0] - 1, -1, -1):
            h, s = h_seq[t], s_seq[t]
            sg = surrogate_gradient(surrogate_function, h - v_threshold)
            if v_reset is None:  # soft reset: dV/dH = 1, dV/dS = -v_th
                if not detach_reset:
                    torch.mul(sg, -v_threshold, out=coef)
                    coef += 1.0
                else:
                    coef.fill_(1.0)
            else:  # hard reset: dV/dH = 1 - S, dV/dS = v_reset - H
                torch.neg(s, out=coef)  # -s + 1 is 1 - s exactly (IEEE a - b is a + (-b))
                coef += 1.0
                if not detach_reset:
                    torch.neg(h, out=tmp)
                    tmp += v_reset
                    tmp *= sg
                    coef += tmp
            if grad_v is not None and store_v_seq:
                dv += grad_v[t]
            gh = grad_x[t] if grad_h is None else grad_h
            # dL/dH = dL/dV * coef + dL/dS * sg, in this order (as the numba kernel rounds it).
            torch.mul(dv, coef, out=gh)
            if grad_s is not None:
                torch.mul(grad_s[t], sg, out=tmp)
                gh += tmp
            if dh_dx is not None:
                torch.mul(gh, dh_dx, out=grad_x[t])
            if need_k:
                v_prev = v0 if t == 0 else v_seq[t - 1]
                dh_dk = x_seq[t] - (v_prev - vr) if decay_input else vr - v_prev
                acc += gh * dh_dk
            torch.mul(gh, dh_dv, out=dv)

        grad_k = acc.sum().to(k_tensor.dtype).reshape(k_tensor.shape) if need_k else None
        return (
            grad_x if ctx.needs_input_grad[0] else None,
            dv if ctx.needs_input_grad[1] else None,
            grad_k,
            None, None, None, None, None, None, None,
        )  # fmt: skip


def neuron_walk_torch(
    x_seq: torch.Tensor,
    v0: torch.Tensor,
    inv_tau: InvTau,
    decay_input: bool,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: Surrogate,
    detach_reset: bool,
    store_v_seq: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fused multi-step neuron (see :func:`spikestep.functional.neuron.neuron_multi_step`): ``(s_seq, v_out)``."""
    k_tensor = inv_tau if isinstance(inv_tau, torch.Tensor) else None
    k_float = None if k_tensor is not None or inv_tau is None else float(inv_tau)
    return _NeuronWalk.apply(
        x_seq,
        v0,
        k_tensor,
        k_float,
        decay_input,
        v_threshold,
        v_reset,
        surrogate_function,
        detach_reset,
        store_v_seq,
    )
