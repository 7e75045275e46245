"""Flatten that flattens each sample, whatever the step mode."""

from __future__ import annotations

import torch
import torch.nn as nn

from ._fold import _FoldTime


class Flatten(_FoldTime, nn.Flatten):
    """``torch.nn.Flatten`` whose ``start_dim``/``end_dim`` always count on one step ``[B, ...]``.

    Shapes with the default ``start_dim=1``: ``'s'``: ``[B, C, H, W] -> [B, C*H*W]``; ``'m'``:
    ``[T, B, C, H, W] -> [T, B, C*H*W]``. In ``'m'`` mode non-negative dims are shifted by one past the
    time dimension, so ``'m'`` mode equals flattening every step on its own, for any ``start_dim``/
    ``end_dim`` (``start_dim=0`` gives ``[T, B*C*H*W]``); no fold is needed. Takes ``torch.nn.Flatten``'s
    arguments plus ``step_mode``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> layer.Flatten(step_mode="m")(torch.rand(5, 2, 3, 4, 4)).shape
        torch.Size([5, 2, 48])
    """

    _seq_layout = "[T, B, ...]"
    _seq_min_dim = 2

    def __init__(self, start_dim: int = 1, end_dim: int = -1, step_mode: str = "s") -> None:
        super().__init__(start_dim, end_dim)
        self.step_mode = step_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._floating(x)
        if self.step_mode == "s":
            return x.flatten(self.start_dim, self.end_dim)
        self._check_sequence(x)
        start = self.start_dim + 1 if self.start_dim >= 0 else self.start_dim
        end = self.end_dim + 1 if self.end_dim >= 0 else self.end_dim
        return x.flatten(start, end)
