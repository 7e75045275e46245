"""BatchNorm1d and BatchNorm2d that know their step mode."""

from __future__ import annotations

import torch.nn as nn

from ._fold import _FoldTime


class BatchNorm1d(_FoldTime, nn.BatchNorm1d):
    """``torch.nn.BatchNorm1d`` in either step mode.

    Shapes: ``'s'``: ``[B, C]`` or ``[B, C, L]`` (exactly ``torch.nn.BatchNorm1d``); ``'m'``: ``[T, B, C]``
    or ``[T, B, C, L]``. In ``'m'`` mode time is folded into the batch, so in training the statistics are
    taken over all ``T*B`` samples of the sequence (as SpikingJelly does), not per step; in eval mode the
    running statistics make both modes equal step by step. Takes ``torch.nn.BatchNorm1d``'s arguments plus
    ``step_mode``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> bn = layer.BatchNorm1d(3, step_mode="m")
        >>> bn(torch.rand(5, 2, 3)).shape
        torch.Size([5, 2, 3])
    """

    _seq_layout = "[T, B, C] or [T, B, C, L]"
    _seq_min_dim, _seq_max_dim = 3, 4

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        step_mode: str = "s",
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.step_mode = step_mode


class BatchNorm2d(_FoldTime, nn.BatchNorm2d):
    """``torch.nn.BatchNorm2d`` in either step mode.

    Shapes: ``'s'``: ``[B, C, H, W]``; ``'m'``: ``[T, B, C, H, W]``. In ``'m'`` mode time is folded into
    the batch, so in training the statistics are taken over all ``T*B`` samples (as SpikingJelly does).
    Takes ``torch.nn.BatchNorm2d``'s arguments plus ``step_mode``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> bn = layer.BatchNorm2d(3, step_mode="m")
        >>> bn(torch.rand(5, 2, 3, 4, 4)).shape
        torch.Size([5, 2, 3, 4, 4])
    """

    _seq_layout = "[T, B, C, H, W]"
    _seq_min_dim = _seq_max_dim = 5

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        step_mode: str = "s",
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.step_mode = step_mode
