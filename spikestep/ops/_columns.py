"""One value per column: a per-channel or scalar tensor spread over the ``N`` columns of a ``[T, N]`` walk.

The numba kernels want a contiguous ``[N]`` array; spreading it with numpy keeps that copy off torch's
OpenMP team, whose wake-up on a busy machine costs a scheduler time slice per operation (measured: 3 ms
for a 100,000-element ``fill_`` while other processes held the cores). The torch walk broadcasts a view.
"""

from __future__ import annotations

import math

import torch

try:
    import numpy as np
except ImportError:  # numba needs numpy; without it the numba backend is never chosen
    np = None  # type: ignore[assignment]


def per_column(t: torch.Tensor, step: torch.Size, backend: str) -> torch.Tensor:
    """``t`` (broadcasting against ``step``, one step's shape) as ``[N]`` values, ``N = prod(step)``."""
    if t.shape == step and t.is_contiguous():
        return t.reshape(-1)
    if backend == "numba":
        if t.numel() == 1:  # np.full is the cheapest spread (a broadcast view costs more to set up)
            return torch.from_numpy(np.full(columns(step), t.item(), dtype=t.detach().numpy().dtype))
        spread = np.broadcast_to(t.detach().numpy(), tuple(step)).copy()
        return torch.from_numpy(spread).reshape(-1)
    if backend == "torch":
        return t.expand(step).reshape(-1)  # a view where the strides allow it
    return t.expand(step).contiguous().reshape(-1)


def one_value_row(grad: torch.Tensor, n: int, dtype: torch.dtype, backend: str) -> torch.Tensor:
    """A gradient that is one value everywhere (the gradient of ``s.sum()``: all strides 0) as ``[N]``."""
    first = grad.reshape(-1)[:1].to(dtype)
    if backend == "numba":
        return torch.from_numpy(np.full(n, first.item(), dtype=first.numpy().dtype))
    if backend == "torch":
        return first.expand(n)
    return first.expand(n).contiguous()


def columns(step: torch.Size) -> int:
    return math.prod(step)
