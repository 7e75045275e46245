"""The plain reference: the kernel built with autograd from its definition, one matrix product per lag.

Independent of the walks (it shares no code with :mod:`.math`): the tests hold the walks' hand-written
gradients against autograd through this, and both against ``dcls.Dcls1d``.
"""

from __future__ import annotations

import torch


def reference_kernel(
    weight: torch.Tensor, delay: torch.Tensor, sigma: float, kernel: str, max_delay: int
) -> torch.Tensor:
    """``[O, I, D+1]``: ``w g_k(d)`` by lag ``k``, as ``dcls`` builds it (``'linear'`` is its ``'v1'``
    triangle ``relu(1 - |k - d|)`` without the ``1e-7``)."""
    lags = torch.arange(max_delay + 1, dtype=delay.dtype, device=delay.device)
    diff = lags - delay.unsqueeze(-1)
    if kernel == "gauss":
        e = torch.exp(-0.5 * (diff / sigma) ** 2)
        g = e / (e.sum(-1, keepdim=True) + 1e-7)
    elif kernel == "linear":
        g = torch.relu(1 - diff.abs())
    else:
        g = (lags == torch.round(delay.detach()).unsqueeze(-1)).to(weight.dtype)
    return weight.unsqueeze(-1) * g


def reference_walk(
    held: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    delay: torch.Tensor,
    sigma: float,
    kernel: str,
) -> torch.Tensor:
    """``y [T, N, O]`` from ``held [D, N, I]`` (oldest first), ``x [T, N, I]`` and ``weight``, ``delay
    [O, I]``: ``y[t] = sum_k x[t - k] K[:, :, k]^T``, with ``x[t - k]`` taken from ``held`` before
    the start."""
    d, t = held.shape[0], x.shape[0]
    seq = torch.cat((held, x))
    k = reference_kernel(weight, delay, sigma, kernel, d)
    y = x.new_zeros((t, x.shape[1], weight.shape[0]))
    for lag in range(d + 1):
        y = y + torch.einsum("tni,oi->tno", seq[d - lag : d - lag + t], k[:, :, lag])
    return y
