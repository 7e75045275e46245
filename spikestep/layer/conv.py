"""Conv1d and Conv2d: torch convolutions that know their step mode."""

from __future__ import annotations

import torch.nn as nn

from ._fold import _FoldTime

_Size = int | tuple[int, ...]


class Conv1d(_FoldTime, nn.Conv1d):
    """``torch.nn.Conv1d`` in either step mode.

    Shapes: ``'s'``: ``[B, C, L]`` (exactly ``torch.nn.Conv1d``); ``'m'``: ``[T, B, C, L] ->
    [T, B, C_out, L_out]``, time folded into the batch. Takes ``torch.nn.Conv1d``'s arguments plus
    ``step_mode``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> conv = layer.Conv1d(2, 4, kernel_size=3, padding=1, step_mode="m")
        >>> conv(torch.rand(5, 8, 2, 10)).shape
        torch.Size([5, 8, 4, 10])
    """

    _seq_layout = "[T, B, C, L]"
    _seq_min_dim = _seq_max_dim = 4

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _Size,
        stride: _Size = 1,
        padding: _Size | str = 0,
        dilation: _Size = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        step_mode: str = "s",
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device=device,
            dtype=dtype,
        )
        self.step_mode = step_mode


class Conv2d(_FoldTime, nn.Conv2d):
    """``torch.nn.Conv2d`` in either step mode.

    Shapes: ``'s'``: ``[B, C, H, W]`` (exactly ``torch.nn.Conv2d``); ``'m'``: ``[T, B, C, H, W] ->
    [T, B, C_out, H_out, W_out]``, time folded into the batch. Takes ``torch.nn.Conv2d``'s arguments plus
    ``step_mode``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> conv = layer.Conv2d(1, 4, kernel_size=3, padding=1, step_mode="m")
        >>> conv(torch.rand(5, 2, 1, 8, 8)).shape
        torch.Size([5, 2, 4, 8, 8])
    """

    _seq_layout = "[T, B, C, H, W]"
    _seq_min_dim = _seq_max_dim = 5

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: _Size,
        stride: _Size = 1,
        padding: _Size | str = 0,
        dilation: _Size = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        step_mode: str = "s",
        device: object = None,
        dtype: object = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device=device,
            dtype=dtype,
        )
        self.step_mode = step_mode
