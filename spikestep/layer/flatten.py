"""Flatten that flattens each sample, whatever the step mode."""

from __future__ import annotations

import torch
import torch.nn as nn

from . import _args
from ._fold import _FoldTime


class Flatten(_FoldTime, nn.Flatten):
    """``torch.nn.Flatten`` whose ``start_dim``/``end_dim`` always count on one step ``[B, ...]``.

    Shapes with the default ``start_dim=1``: ``'s'``: ``[B, C, H, W] -> [B, C*H*W]``; ``'m'``:
    ``[T, B, C, H, W] -> [T, B, C*H*W]``. In ``'m'`` mode the dims (negative ones too) are counted on one
    step and shifted by one past the time dimension, so ``'m'`` mode equals flattening every step on its
    own, for any ``start_dim``/``end_dim`` (``start_dim=0`` gives ``[T, B*C*H*W]``); no fold is needed.
    Dims that are not dims of one step, or a ``start_dim`` after ``end_dim``, are a ``ValueError`` in
    both modes. Takes ``torch.nn.Flatten``'s arguments plus ``step_mode``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> layer.Flatten(step_mode="m")(torch.rand(5, 2, 3, 4, 4)).shape
        torch.Size([5, 2, 48])
    """

    _seq_layout = "[T, B, ...]"
    _seq_min_dim = 2

    def __init__(self, start_dim: int = 1, end_dim: int = -1, step_mode: str = "s") -> None:
        owner = type(self).__name__
        super().__init__(_args.dim(start_dim, "start_dim", owner), _args.dim(end_dim, "end_dim", owner))
        self.step_mode = step_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._floating(x)
        if self.step_mode == "s":
            start, end = self._step_dims(x.shape)
            return x.flatten(start, end)
        self._check_sequence(x)
        start, end = self._step_dims(x.shape[1:])
        return x.flatten(start + 1, end + 1)

    def _step_dims(self, step: torch.Size) -> tuple[int, int]:
        """``start_dim`` and ``end_dim`` counted on one step ``[B, ...]`` (as torch counts them: a 0-d
        step has the dims of a 1-d one), from 0; a ``ValueError`` when they do not fit the step."""
        n = max(len(step), 1)
        if not (-n <= self.start_dim < n and -n <= self.end_dim < n):
            raise ValueError(
                f"Flatten: start_dim={self.start_dim} and end_dim={self.end_dim} must both be dimensions of one "
                f"step [B, ...], of shape {tuple(step)} (in [{-n}, {n - 1}])"
            )
        start, end = self.start_dim % n, self.end_dim % n
        if start > end:
            raise ValueError(
                f"Flatten: start_dim={self.start_dim} comes after end_dim={self.end_dim} on one step of shape "
                f"{tuple(step)}; give a start_dim at or before end_dim"
            )
        return start, end
