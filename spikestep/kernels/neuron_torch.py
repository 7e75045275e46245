"""The pure-PyTorch fused walk of the neuron recurrence (any device, dtype and surrogate).

One ``torch.autograd.Function``: the forward walks ``T`` once with the functional step functions (no
autograd graph), saving ``H`` and ``S``; the backward is one reverse walk. Per step it needs

.. math::
    \\delta H[t] = \\delta V[t] \\left(\\frac{\\partial V}{\\partial H} + \\frac{\\partial V}{\\partial S} \\sigma'[t]\\right)
                 + g_S[t]\\, \\sigma'[t], \\qquad \\delta V[t-1] = \\delta H[t]\\, \\frac{\\partial H}{\\partial V}

(``sigma'`` the surrogate gradient at ``H - V_th``; the ``dV/dS`` term is dropped under
``detach_reset``), a first-order linear recurrence whose coefficients are computed for all ``t`` at once,
so the reverse loop is two tensor ops per step. Gradients of the input, of the carried-in membrane and
of a learnable ``1/tau`` follow from ``delta H`` in one vectorised step each.
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
        v = v0
        hs, ss, vs = [], [], []
        for x in x_seq:
            h = neuron_charge(x, v, k, decay_input, v_reset)
            s = neuron_fire(h, v_threshold, surrogate_function)
            v = neuron_reset(h, s, v_threshold, v_reset)
            hs.append(h)
            ss.append(s)
            if store_v_seq:
                vs.append(v)
        s_seq = torch.stack(ss)
        v_out = torch.stack(vs) if store_v_seq else v.clone()
        ctx.save_for_backward(x_seq, v0, k_tensor, torch.stack(hs), s_seq)
        ctx.cfg = (k_float, decay_input, v_threshold, v_reset, surrogate_function, detach_reset, store_v_seq)
        ctx.set_materialize_grads(False)
        return s_seq, v_out

    @staticmethod
    def backward(ctx: Any, grad_s: torch.Tensor | None, grad_v: torch.Tensor | None) -> tuple[Any, ...]:
        x_seq, v0, k_tensor, h_seq, s_seq = ctx.saved_tensors
        k_float, decay_input, v_threshold, v_reset, surrogate_function, detach_reset, store_v_seq = ctx.cfg
        k = k_tensor if k_tensor is not None else k_float
        sg = surrogate_gradient(surrogate_function, h_seq - v_threshold)
        if v_reset is None:  # soft reset: dV/dH = 1, dV/dS = -v_th
            coef = sg * (-v_threshold) + 1.0 if not detach_reset else torch.ones_like(h_seq)
        else:  # hard reset: dV/dH = 1 - S, dV/dS = v_reset - H
            coef = 1.0 - s_seq
            if not detach_reset:
                coef = coef + (v_reset - h_seq) * sg
        forced = grad_s * sg if grad_s is not None else torch.zeros_like(h_seq)
        dh_dv = 1.0 if k is None else 1.0 - k  # the membrane's own decay, dH[t]/dV[t-1]

        grad_h = torch.empty_like(h_seq)
        dv = torch.zeros_like(v0)
        if grad_v is not None and not store_v_seq:
            dv = grad_v.clone()
        for t in range(h_seq.shape[0] - 1, -1, -1):
            if grad_v is not None and store_v_seq:
                dv = dv + grad_v[t]
            # dv * coef + forced as two roundings (addcmul may fuse them), as the numba kernel does.
            torch.mul(dv, coef[t], out=grad_h[t])
            grad_h[t] += forced[t]
            dv = grad_h[t] * dh_dv

        grad_x = grad_v0 = grad_k = None
        if ctx.needs_input_grad[0]:
            grad_x = grad_h if (k is None or not decay_input) else grad_h * k
        if ctx.needs_input_grad[1]:
            grad_v0 = dv
        if ctx.needs_input_grad[2]:
            vr = 0.0 if v_reset is None else v_reset
            v_after = neuron_reset(h_seq, s_seq, v_threshold, v_reset)
            v_prev = torch.cat([v0.unsqueeze(0), v_after[:-1]])
            dh_dk = x_seq - (v_prev - vr) if decay_input else vr - v_prev
            grad_k = (grad_h * dh_dk).sum(dtype=torch.float64).to(k_tensor.dtype).reshape(k_tensor.shape)
        return grad_x, grad_v0, grad_k, None, None, None, None, None, None, None


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
