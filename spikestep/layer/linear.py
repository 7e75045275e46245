"""Linear: ``torch.nn.Linear`` that knows its step mode."""

from __future__ import annotations

import torch
import torch.nn as nn

from . import _args
from ._fold import _FoldTime


class Linear(_FoldTime, nn.Linear):
    """``y = x W^T + b`` on the last dimension, in either step mode.

    Shapes: ``'s'``: ``[B, ..., in_features] -> [B, ..., out_features]`` (exactly ``torch.nn.Linear``);
    ``'m'``: ``[T, B, ..., in_features] -> [T, B, ..., out_features]`` with time folded into the batch.
    Takes ``torch.nn.Linear``'s arguments plus ``step_mode``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> fc = layer.Linear(4, 3, step_mode="m")
        >>> fc(torch.rand(5, 2, 4)).shape
        torch.Size([5, 2, 3])
    """

    _seq_layout = "[T, B, ..., in_features]"
    _seq_min_dim = 3

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        step_mode: str = "s",
        device: object = None,
        dtype: object = None,
    ) -> None:
        owner = type(self).__name__
        in_features = _args.count(in_features, "in_features", owner)
        out_features = _args.count(out_features, "out_features", owner)
        bias = _args.flag(bias, "bias", owner)
        _args.factory(device, dtype, owner)
        with _args.allocating(owner):
            super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        self.step_mode = step_mode

    def _check_step_shape(self, step: torch.Size) -> None:
        owner = type(self).__name__
        if len(step) == 0:
            raise ValueError(f"{owner} expects one step [B, ..., in_features], got a 0-d tensor")
        _args.matches(step[-1], self.in_features, "features in its last dimension", step, owner)
