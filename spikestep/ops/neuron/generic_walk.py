"""The fused walk for any neuron: a charge and a surrogate given as PyTorch callables.

Neurons whose charge is affine and whose surrogate has a ``gradient`` in the elementwise dialect run the
registered operator (:mod:`.op`) on every backend. Anything else (a non-linear charge, a surrogate given
as a plain function) runs here, in PyTorch, still as one walk each way: the forward keeps no autograd
graph (it stores the membranes), and the backward walks back once, asking autograd for one step's
vector-Jacobian product at a time. The reset is the textbook ``H (1 - S) + V_reset S`` (or
``H - V_th S``), correct for smooth (``spiking=False``) surrogates too; non-finite values follow
:mod:`.math` (a membrane at ``+inf`` fires and resets to ``V_reset``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Charge = Callable[..., torch.Tensor]
Surrogate = Callable[[torch.Tensor], torch.Tensor]


def _step(charge, params, x, v, v_threshold, v_reset, surrogate_function, detach_reset):  # type: ignore[no-untyped-def]
    h = charge(x, v, *params)
    s = surrogate_function(h - v_threshold)
    s_reset = s.detach() if detach_reset else s
    if v_reset is None:
        return s, h - s_reset * v_threshold
    # A membrane at +inf fires and resets like any other (as in .math, where the reset is a selection):
    # where S = 1 the kept part H (1 - S) is 0, not inf * 0 = NaN. Finite H is left alone, gradients too.
    h = torch.where(torch.isposinf(h) & (s_reset.detach() == 1), torch.zeros_like(h), h)
    return s, h * (1.0 - s_reset) + s_reset * v_reset


class _GenericWalk(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x_seq: torch.Tensor, v0: torch.Tensor, config: tuple[Any, ...], *params: torch.Tensor
    ):  # type: ignore[override]
        charge, v_threshold, v_reset, surrogate_function, detach_reset, store_v_seq = config
        s_seq = torch.empty_like(x_seq)
        v_seq = torch.empty_like(x_seq)
        v = v0
        with torch.no_grad():
            for t in range(x_seq.shape[0]):
                s, v = _step(
                    charge, params, x_seq[t], v, v_threshold, v_reset, surrogate_function, detach_reset
                )
                s_seq[t] = s
                v_seq[t] = v
        ctx.save_for_backward(x_seq, v0, v_seq, *params)
        ctx.config = config
        ctx.set_materialize_grads(False)
        return s_seq, (v_seq.clone() if store_v_seq else v_seq[-1].clone())

    @staticmethod
    def backward(ctx: Any, grad_s: torch.Tensor | None, grad_v: torch.Tensor | None):  # type: ignore[override]
        x_seq, v0, v_seq, *params = ctx.saved_tensors
        charge, v_threshold, v_reset, surrogate_function, detach_reset, store_v_seq = ctx.config
        grad_x = torch.zeros_like(x_seq)
        dv = grad_v.clone() if (grad_v is not None and not store_v_seq) else torch.zeros_like(v0)
        param_grads = [torch.zeros_like(p) for p in params]
        for t in range(x_seq.shape[0] - 1, -1, -1):
            if grad_v is not None and store_v_seq:
                dv = dv + grad_v[t]
            with torch.enable_grad():
                x = x_seq[t].detach().requires_grad_(True)
                v_prev = (v0 if t == 0 else v_seq[t - 1]).detach().requires_grad_(True)
                leaves = [p.detach().requires_grad_(True) for p in params]
                s, v = _step(
                    charge, leaves, x, v_prev, v_threshold, v_reset, surrogate_function, detach_reset
                )
                outputs, grads = [v], [dv]
                if grad_s is not None and s.requires_grad:
                    outputs.append(s)
                    grads.append(grad_s[t])
                found = torch.autograd.grad(outputs, [x, v_prev, *leaves], grads, allow_unused=True)
            grad_x[t] = 0.0 if found[0] is None else found[0]
            dv = torch.zeros_like(dv) if found[1] is None else found[1]
            for i, g in enumerate(found[2:]):
                if g is not None:
                    param_grads[i] += g
        return grad_x, dv, None, *param_grads


def generic_walk(
    x_seq: torch.Tensor,
    v0: torch.Tensor,
    charge: Charge,
    params: tuple[torch.Tensor, ...],
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: Surrogate,
    detach_reset: bool,
    store_v_seq: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(S [T, ...], V)`` for ``H = charge(X, V, *params)``; gradients reach ``x_seq``, ``v0`` and
    ``params``. ``V`` is ``[T, ...]`` with ``store_v_seq``, else the last membrane."""
    config = (charge, v_threshold, v_reset, surrogate_function, detach_reset, store_v_seq)
    return _GenericWalk.apply(x_seq, v0, config, *params)
