"""Pooling layers (max, average, adaptive average; 1-d and 2-d) that know their step mode."""

from __future__ import annotations

import torch.nn as nn

from ._fold import _FoldTime

_Size = int | tuple[int, ...]
_OutSize = int | None | tuple[int | None, ...]


class _NoIndicesInMultiStep(_FoldTime):
    def _check_sequence(self, x: object) -> None:
        super()._check_sequence(x)
        # (output, indices) cannot be unfolded back to [T, B, ...] as one tensor.
        if self.return_indices:
            raise ValueError(
                f"{type(self).__name__}: return_indices=True is only supported in single-step mode; in "
                f"multi-step mode call functional.seq_to_ann_forward yourself or use step_mode='s'"
            )


class MaxPool1d(_NoIndicesInMultiStep, nn.MaxPool1d):
    """``torch.nn.MaxPool1d`` in either step mode: ``'s'`` ``[B, C, L]``; ``'m'`` ``[T, B, C, L]``.

    Takes ``torch.nn.MaxPool1d``'s arguments plus ``step_mode``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> layer.MaxPool1d(2, step_mode="m")(torch.rand(5, 2, 3, 8)).shape
        torch.Size([5, 2, 3, 4])
    """

    _seq_layout = "[T, B, C, L]"
    _seq_min_dim = _seq_max_dim = 4

    def __init__(
        self,
        kernel_size: _Size,
        stride: _Size | None = None,
        padding: _Size = 0,
        dilation: _Size = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
        step_mode: str = "s",
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation, return_indices, ceil_mode)
        self.step_mode = step_mode


class MaxPool2d(_NoIndicesInMultiStep, nn.MaxPool2d):
    """``torch.nn.MaxPool2d`` in either step mode: ``'s'`` ``[B, C, H, W]``; ``'m'`` ``[T, B, C, H, W]``.

    Takes ``torch.nn.MaxPool2d``'s arguments plus ``step_mode``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> layer.MaxPool2d(2, step_mode="m")(torch.rand(5, 2, 3, 8, 8)).shape
        torch.Size([5, 2, 3, 4, 4])
    """

    _seq_layout = "[T, B, C, H, W]"
    _seq_min_dim = _seq_max_dim = 5

    def __init__(
        self,
        kernel_size: _Size,
        stride: _Size | None = None,
        padding: _Size = 0,
        dilation: _Size = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
        step_mode: str = "s",
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation, return_indices, ceil_mode)
        self.step_mode = step_mode


class AvgPool1d(_FoldTime, nn.AvgPool1d):
    """``torch.nn.AvgPool1d`` in either step mode: ``'s'`` ``[B, C, L]``; ``'m'`` ``[T, B, C, L]``.

    Takes ``torch.nn.AvgPool1d``'s arguments plus ``step_mode``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> layer.AvgPool1d(2, step_mode="m")(torch.rand(5, 2, 3, 8)).shape
        torch.Size([5, 2, 3, 4])
    """

    _seq_layout = "[T, B, C, L]"
    _seq_min_dim = _seq_max_dim = 4

    def __init__(
        self,
        kernel_size: _Size,
        stride: _Size | None = None,
        padding: _Size = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        step_mode: str = "s",
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.step_mode = step_mode


class AvgPool2d(_FoldTime, nn.AvgPool2d):
    """``torch.nn.AvgPool2d`` in either step mode: ``'s'`` ``[B, C, H, W]``; ``'m'`` ``[T, B, C, H, W]``.

    Takes ``torch.nn.AvgPool2d``'s arguments plus ``step_mode``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> layer.AvgPool2d(2, step_mode="m")(torch.rand(5, 2, 3, 8, 8)).shape
        torch.Size([5, 2, 3, 4, 4])
    """

    _seq_layout = "[T, B, C, H, W]"
    _seq_min_dim = _seq_max_dim = 5

    def __init__(
        self,
        kernel_size: _Size,
        stride: _Size | None = None,
        padding: _Size = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
        step_mode: str = "s",
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
        self.step_mode = step_mode


class AdaptiveAvgPool1d(_FoldTime, nn.AdaptiveAvgPool1d):
    """``torch.nn.AdaptiveAvgPool1d`` in either step mode: ``'s'`` ``[B, C, L]``; ``'m'`` ``[T, B, C, L]``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> layer.AdaptiveAvgPool1d(1, step_mode="m")(torch.rand(5, 2, 3, 8)).shape
        torch.Size([5, 2, 3, 1])
    """

    _seq_layout = "[T, B, C, L]"
    _seq_min_dim = _seq_max_dim = 4

    def __init__(self, output_size: _OutSize, step_mode: str = "s") -> None:
        super().__init__(output_size)
        self.step_mode = step_mode


class AdaptiveAvgPool2d(_FoldTime, nn.AdaptiveAvgPool2d):
    """``torch.nn.AdaptiveAvgPool2d`` in either step mode: ``'s'`` ``[B, C, H, W]``; ``'m'``
    ``[T, B, C, H, W]``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> layer.AdaptiveAvgPool2d((1, 1), step_mode="m")(torch.rand(5, 2, 3, 8, 8)).shape
        torch.Size([5, 2, 3, 1, 1])
    """

    _seq_layout = "[T, B, C, H, W]"
    _seq_min_dim = _seq_max_dim = 5

    def __init__(self, output_size: _OutSize, step_mode: str = "s") -> None:
        super().__init__(output_size)
        self.step_mode = step_mode
