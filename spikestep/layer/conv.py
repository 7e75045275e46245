"""Conv1d and Conv2d: torch convolutions that know their step mode."""

from __future__ import annotations

import torch
import torch.nn as nn

from . import _args
from ._fold import _FoldTime

_Size = int | tuple[int, ...]


class _Conv(_FoldTime):
    """What both convolutions share: the checked constructor, and the step a call takes."""

    _spatial: int = 1

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
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias = self._checked(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, device, dtype
        )
        with _args.allocating(type(self).__name__):
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

    def _checked(
        self, in_channels: object, out_channels: object, kernel_size: object, stride: object, padding: object,
        dilation: object, groups: object, bias: object, device: object, dtype: object,
    ) -> tuple:  # fmt: skip
        owner, n = type(self).__name__, self._spatial
        in_channels = _args.count(in_channels, "in_channels", owner)
        out_channels = _args.count(out_channels, "out_channels", owner)
        kernel_size = _args.sizes(kernel_size, n, "kernel_size", owner)
        stride = _args.sizes(stride, n, "stride", owner)
        if not isinstance(padding, str):  # torch checks 'same' and 'valid' itself
            padding = _args.sizes(padding, n, "padding", owner, minimum=0)
        dilation = _args.sizes(dilation, n, "dilation", owner)
        groups = _args.count(groups, "groups", owner)
        bias = _args.flag(bias, "bias", owner)
        _args.factory(device, dtype, owner)
        return in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias

    def _check_step_shape(self, step: torch.Size) -> None:
        owner, n = type(self).__name__, self._spatial
        _args.rank(step, (n + 1, n + 2), self._step_layout, owner)
        _args.matches(step[-n - 1], self.in_channels, "channels", step, owner)
        for size, k, d, p in zip(step[-n:], self.kernel_size, self.dilation, self._padding_pairs()):
            reach = d * (k - 1) + 1
            if size == 0 or size + sum(p) < reach:
                raise ValueError(
                    f"{owner}: the input's size {tuple(step[-n:])} is smaller than the kernel's reach "
                    f"{reach} (kernel_size {self.kernel_size}, dilation {self.dilation}) even with the padding "
                    f"{self.padding}; give a larger input, or a smaller kernel or dilation"
                )
            if self.padding_mode == "reflect" and max(p) >= size:
                raise ValueError(
                    f"{owner}: padding_mode='reflect' needs a padding smaller than the input's size, got padding "
                    f"{self.padding} for size {tuple(step[-n:])}; give a larger input, a smaller padding or "
                    f"padding_mode='zeros'"
                )
            if self.padding_mode == "circular" and max(p) > size:
                raise ValueError(
                    f"{owner}: padding_mode='circular' needs a padding at most the input's size, got padding "
                    f"{self.padding} for size {tuple(step[-n:])}; give a larger input, a smaller padding or "
                    f"padding_mode='zeros'"
                )

    def _padding_pairs(self) -> list[tuple[int, int]]:
        """(left, right) padding per spatial dimension."""
        n = self._spatial
        if self.padding == "valid":
            return [(0, 0)] * n
        if self.padding == "same":
            return [
                (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                for k, d in zip(self.kernel_size, self.dilation)
            ]
        return [(p, p) for p in _args.each(self.padding, n)]


class Conv1d(_Conv, nn.Conv1d):
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
    _step_layout = "[B, C, L] (or [C, L])"
    _seq_min_dim = _seq_max_dim = 4
    _spatial = 1


class Conv2d(_Conv, nn.Conv2d):
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
    _step_layout = "[B, C, H, W] (or [C, H, W])"
    _seq_min_dim = _seq_max_dim = 5
    _spatial = 2
