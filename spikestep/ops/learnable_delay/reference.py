"""The plain reference: the kernel built with autograd from its definition, one multiply-add per lag.

Independent of the walks (it shares no code with :mod:`.math`): the tests hold the walks' hand-written
gradients against autograd through this.
"""

from __future__ import annotations

import torch


def reference_kernel(delay: torch.Tensor, max_delay: int, sigma: float) -> torch.Tensor:
    """``[..., D + 1]``: each delay's kernel over the lags, from its definition: the Gaussian of width
    ``sigma`` normalised as ``dcls`` does (``sigma > 0``), or the triangle ``relu(1 - |j - d|)``
    (``sigma = 0``), at the delay clamped to ``[0, D]``."""
    d = delay.clamp(0.0, float(max_delay))
    lags = torch.arange(max_delay + 1, dtype=d.dtype, device=d.device)
    diff = lags - d.unsqueeze(-1)
    if sigma > 0.0:
        e = torch.exp(-0.5 * (diff / sigma) ** 2)
        return e / (e.sum(-1, keepdim=True) + 1e-7)
    return torch.relu(1.0 - diff.abs())


def reference_walk(x: torch.Tensor, held: torch.Tensor, delay: torch.Tensor, sigma: float) -> torch.Tensor:
    """``y [T, ..., K, C]`` from ``x [T, ..., C]``, ``held [D, ..., C]`` (oldest first) and
    ``delay [K, C]``: ``y[t, ..., k, c] = sum_j g_j(d_kc) z[D + t - j, ..., c]`` with
    ``z = cat(held, x)``; ``y = x`` for every ``k`` when ``D = 0``."""
    d_max, t = held.shape[0], x.shape[0]
    wide = (*x.shape[:-1], *delay.shape)
    if d_max == 0:
        return x.unsqueeze(-2).expand(wide) * 1.0
    z = torch.cat((held, x)).unsqueeze(-2)
    g = reference_kernel(delay, d_max, sigma)
    y = x.new_zeros(wide)
    for lag in range(d_max + 1):
        y = y + z[d_max - lag : d_max - lag + t] * g[..., lag]
    return y
