"""Learnable delays in pure PyTorch (any device and dtype): gathers for the two taps, a tap loop for the
Gaussian, each with its own backward.

Arrays: ``x [T, N, C]``, ``held [D, N, C]`` (``D >= 1``, oldest first), the output ``y [T, N, K, C]``.
The sparse form takes ``k0, a0, a1 [K, C]`` (:func:`~.math.sparse_taps`): two ``gather`` calls from the
joined inputs, seen ``K`` times without a copy, whatever ``D``. The dense form takes the taps
``[K, C, D + 1]`` (:func:`~.math.dense_taps`): one multiply-add of ``[T, N, K, C]`` per lag each way,
accumulated into one buffer (autograd of the slices would make a ``z``-sized tensor per lag).
"""

from __future__ import annotations

import torch

from .math import sparse_delay_grad, two_taps


def _wide(x: torch.Tensor, held: torch.Tensor, taps: tuple[int, int]) -> torch.Tensor:
    """``cat(held, x)`` as ``[D + T, N, K, C]`` (a view of one ``[D + T, N, C]`` copy)."""
    joined = torch.cat((held, x))
    return joined.unsqueeze(-2).expand(*joined.shape[:-1], *taps)


def _index(k0: torch.Tensor, d: int, t: int, n: int) -> torch.Tensor:
    """``[T, N, K, C]``: where tap 0 of each output reads ``z``, ``D + t - k0``."""
    steps = torch.arange(d, d + t, device=k0.device).view(t, 1, 1, 1)
    return (steps - k0).expand(t, n, *k0.shape)


def forward_sparse(
    x: torch.Tensor, held: torch.Tensor, k0: torch.Tensor, a0: torch.Tensor, a1: torch.Tensor
) -> torch.Tensor:
    d, (t, n, _) = held.shape[0], x.shape
    wide = _wide(x, held, k0.shape)
    index = _index(k0, d, t, n)
    return two_taps(wide.gather(0, index), wide.gather(0, index - 1), a0, a1)


def backward_sparse(
    grad_y: torch.Tensor,
    x: torch.Tensor,
    held: torch.Tensor,
    k0: torch.Tensor,
    a0: torch.Tensor,
    a1: torch.Tensor,
    delay: torch.Tensor,
    need_inputs: bool,
    need_delay: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """``(grad_x, grad_held, grad_delay)``, None where not needed: ``grad_delay [K, C]`` (``delay``'s
    dtype) from ``sum_{t, n} dL/dy (z1 - z0)``, summed in float64 (:func:`~.math.sparse_delay_grad`)."""
    d, (t, n, _) = held.shape[0], x.shape
    index = _index(k0, d, t, n)
    grad_x = grad_held = grad_delay = None
    if need_inputs:
        grad_wide = grad_y.new_zeros((d + t, *grad_y.shape[1:]))
        grad_wide.scatter_add_(0, index, grad_y * a0)
        grad_wide.scatter_add_(0, index - 1, grad_y * a1)
        grad_held, grad_x = grad_wide[:d].sum(-2), grad_wide[d:].sum(-2)
    if need_delay:
        wide = _wide(x, held, k0.shape)
        dot = (grad_y * (wide.gather(0, index - 1) - wide.gather(0, index))).sum((0, 1), dtype=torch.float64)
        grad_delay = sparse_delay_grad(dot, delay, d).to(delay.dtype)
    return grad_x, grad_held, grad_delay


def forward_dense(x: torch.Tensor, held: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    d, t = held.shape[0], x.shape[0]
    z = torch.cat((held, x)).unsqueeze(-2)
    y = z[d : d + t] * taps[..., 0]
    for j in range(1, d + 1):
        y.addcmul_(z[d - j : d - j + t], taps[..., j])
    return y


def backward_dense(
    grad_y: torch.Tensor,
    x: torch.Tensor,
    held: torch.Tensor,
    taps: torch.Tensor,
    need_inputs: bool,
    need_delay: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """``(grad_x, grad_held, grad_taps)``: ``grad_taps [K, C, D + 1]`` (float64) is
    ``sum_{t, n} dL/dy[t] z[D + t - j]`` by lag ``j``; None where not needed."""
    d, t = held.shape[0], x.shape[0]
    z = torch.cat((held, x))
    grad_x = torch.zeros_like(x) if need_inputs else None
    grad_held = torch.zeros_like(held) if need_inputs else None
    per_lag = []
    for j in range(d + 1):
        if grad_x is not None and grad_held is not None:
            # Lag j: y[s] reads z[D + s - j], so x[s'] gets gy[s' + j] and held[D - j + s] gets gy[s].
            spread = (
                grad_y[:, :, 0] * taps[0, :, j] if taps.shape[0] == 1 else (grad_y * taps[..., j]).sum(-2)
            )
            if j < t:
                grad_x[: t - j].add_(spread[j:])
            if j > 0:
                grad_held[d - j : min(d, d - j + t)].add_(spread[: min(j, t)])
        if need_delay:
            window = z[d - j : d - j + t]
            per_lag.append((window.unsqueeze(-2) * grad_y).sum((0, 1), dtype=torch.float64))
    grad_taps = torch.stack(per_lag, -1) if need_delay else None
    return grad_x, grad_held, grad_taps
