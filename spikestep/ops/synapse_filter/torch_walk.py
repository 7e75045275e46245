"""The synapse filter walk in pure PyTorch (any device and dtype): one op per time step each way.

Arrays are ``[T, N]`` (``N`` = everything but time), ``state`` and ``k`` are ``[N]``.
"""

from __future__ import annotations

import torch

from .math import decay, input_gain, inv_tau_gain


def forward(x: torch.Tensor, state: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    a = decay(x, k, 1.0)
    out = torch.empty_like(x)
    prev = state
    # torch.addcmul(x, a, prev) is advance(x, a, prev) in one op that writes in place: the only op per step.
    for x_t, a_t, out_t in zip(x.unbind(0), a.unbind(0), out.unbind(0), strict=True):
        torch.addcmul(x_t, a_t, prev, out=out_t)
        prev = out_t
    return out


def backward(
    grad_out: torch.Tensor,
    x: torch.Tensor,
    out: torch.Tensor,
    state: torch.Tensor,
    k: torch.Tensor,
    need_k: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(grad_x [T, N], grad_state [N], grad_k [N] in float64 or None)``."""
    a = decay(x, k, 1.0)
    g = torch.empty_like(x)
    g_steps, a_steps, grad_steps = g.unbind(0), a.unbind(0), grad_out.unbind(0)
    g_steps[-1].copy_(grad_steps[-1])
    for t in range(x.shape[0] - 2, -1, -1):  # g[t] = gI[t] + a[t+1] g[t+1], one op per step
        torch.addcmul(grad_steps[t], a_steps[t + 1], g_steps[t + 1], out=g_steps[t])
    grad_state = a[0] * g[0]
    del a
    grad_k = None
    if need_k:  # per element, summed over time in float64
        grad_k = torch.sum(g[1:] * inv_tau_gain(x[1:], out[:-1], 1.0), dim=0, dtype=torch.float64)
        grad_k += (g[0] * inv_tau_gain(x[0], state, 1.0)).double()
    # g becomes the input's gradient in place: gx[t] = g[t] (1 + k I[t-1]).
    g[1:].mul_(input_gain(out[:-1], k, 1.0))
    g[0].mul_(input_gain(state, k, 1.0))
    return g, grad_state, grad_k
