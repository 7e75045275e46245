"""The neuron walk in pure PyTorch (any device and dtype): the pieces of :mod:`.math` on ``[N]`` slices.

Arrays are ``[T, N]``; ``v0``, ``a``, ``b``, ``c`` are ``[N]``; ``p`` holds the constants as 0-d tensors
of the compute dtype, in the slots of :mod:`.math` (``VTH``, ``VR``, ``ONE``, ``ZERO``, ``C1``, ``C2``). The forward saves nothing; the
backward recomputes ``H`` (one more walk forward) and then walks back once.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..._runtime import elementwise
from . import math as neuron_math

_charge = neuron_math.charge
_fires = neuron_math.fires
_reset = elementwise.for_torch(neuron_math.reset)
_grad_h = elementwise.for_torch(neuron_math.grad_h)


def forward(
    x: torch.Tensor,
    v0: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    p: tuple[torch.Tensor, ...],
    hard: bool,
    store_v_seq: bool,
    h_out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(S [T, N], V [T, N] if store_v_seq else [N])``; ``H`` is written to ``h_out`` when given."""
    vth, vr, zero = p[neuron_math.VTH], p[neuron_math.VR], p[neuron_math.ZERO]
    s_seq = torch.empty_like(x)
    v_seq = torch.empty_like(x) if store_v_seq else None
    v = v0
    for t in range(x.shape[0]):
        h = _charge(x[t], v, a, b, c)
        fired = _fires(h, vth, zero)
        s_seq[t] = fired
        if h_out is not None:
            h_out[t] = h
        v = _reset(h, fired, vr, vth, hard)
        if v_seq is not None:
            v_seq[t] = v
    return s_seq, (v_seq if v_seq is not None else v.clone())


def backward(
    grad_s: torch.Tensor | None,
    grad_v: torch.Tensor | None,
    x: torch.Tensor,
    v0: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    p: tuple[torch.Tensor, ...],
    hard: bool,
    detach_reset: bool,
    store_v_seq: bool,
    need_coef: bool,
    surrogate_gradient: Callable[..., torch.Tensor],
) -> tuple[torch.Tensor, ...]:
    """``(grad_x [T, N], grad_v0 [N], grad_a, grad_b, grad_c)``; the last three ``[N]`` in float64, or
    None without ``need_coef``. ``grad_s`` is ``[T, N]`` or None; ``grad_v`` is ``[T, N]``
    (store_v_seq), ``[N]`` or None."""
    vth, vr, one, zero = p[neuron_math.VTH], p[neuron_math.VR], p[neuron_math.ONE], p[neuron_math.ZERO]
    c1, c2 = p[neuron_math.C1], p[neuron_math.C2]
    hard_f = one if hard else zero
    attach_f = zero if detach_reset else one
    h_seq = torch.empty_like(x)
    forward(x, v0, a, b, c, p, hard, False, h_out=h_seq)
    grad_x = torch.empty_like(x)
    dv = torch.zeros_like(v0) if (grad_v is None or store_v_seq) else grad_v.clone()
    sums = [torch.zeros_like(v0, dtype=torch.float64) for _ in range(3)] if need_coef else None
    for t in range(x.shape[0] - 1, -1, -1):
        h = h_seq[t]
        fired = _fires(h, vth, zero)
        if grad_v is not None and store_v_seq:
            dv = dv + grad_v[t]
        sg = surrogate_gradient(h - vth, one, c1, c2)
        g_s = grad_s[t] if grad_s is not None else zero
        gh = _grad_h(h, fired, dv, g_s, sg, vr, vth, one, zero, hard_f, attach_f)
        torch.mul(gh, b, out=grad_x[t])
        if sums is not None:
            if t > 0:
                h_prev = h_seq[t - 1]
                v_prev = _reset(h_prev, _fires(h_prev, vth, zero), vr, vth, hard)
            else:
                v_prev = v0
            sums[0] += gh * v_prev
            sums[1] += gh * x[t]
            sums[2] += gh
        dv = gh * a
    if sums is None:
        return grad_x, dv, None, None, None
    return grad_x, dv, *sums
