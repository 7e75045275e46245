"""BatchNorm1d and BatchNorm2d that know their step mode."""

from __future__ import annotations

import torch
import torch.nn as nn

from . import _args
from ._fold import _FoldTime


class _BatchNorm(_FoldTime):
    """The checks both batch norms share."""

    _mixed_dtype_ok = True  # float16/bfloat16 inputs to float32 parameters: torch computes them
    _step_ranks: tuple[int, ...] = (2, 3)
    _step_layout = "[B, C] or [B, C, L]"

    def _checked(
        self, num_features: object, eps: object, momentum: object, affine: object,
        track_running_stats: object, device: object, dtype: object,
    ) -> tuple:  # fmt: skip
        owner = type(self).__name__
        num_features = _args.count(num_features, "num_features", owner)
        eps = _args.non_negative_real(eps, "eps", owner)
        momentum = _args.momentum(momentum, owner)
        affine = _args.flag(affine, "affine", owner)
        track_running_stats = _args.flag(track_running_stats, "track_running_stats", owner)
        _args.factory(device, dtype, owner)
        return num_features, eps, momentum, affine, track_running_stats

    def _check_step_shape(self, step: torch.Size) -> None:
        owner = type(self).__name__
        _args.rank(step, self._step_ranks, self._step_layout, owner)
        _args.matches(step[1], self.num_features, "channels", step, owner)


class BatchNorm1d(_BatchNorm, nn.BatchNorm1d):
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
        num_features, eps, momentum, affine, track_running_stats = self._checked(
            num_features, eps, momentum, affine, track_running_stats, device, dtype
        )
        with _args.allocating(type(self).__name__):
            super().__init__(
                num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype
            )
        self.step_mode = step_mode


class BatchNorm2d(_BatchNorm, nn.BatchNorm2d):
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
    _step_ranks = (4,)
    _step_layout = "[B, C, H, W]"

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
        num_features, eps, momentum, affine, track_running_stats = self._checked(
            num_features, eps, momentum, affine, track_running_stats, device, dtype
        )
        with _args.allocating(type(self).__name__):
            super().__init__(
                num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype
            )
        self.step_mode = step_mode
