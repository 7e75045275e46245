"""Pooling layers (max, average, adaptive average; 1-d and 2-d) that know their step mode."""

from __future__ import annotations

import numbers

import torch
import torch.nn as nn

from . import _args
from ._fold import _FoldTime

_Size = int | tuple[int, ...]
_OutSize = int | None | tuple[int | None, ...]


class _Pool(_FoldTime):
    """The checks the pooling layers share: ``_spatial`` dimensions, one step ``[B, C, *spatial]`` (or
    ``[C, *spatial]``, as torch takes it) with nothing empty but the batch."""

    _spatial: int = 1

    def _step_layout(self) -> str:
        return "[B, C, L] (or [C, L])" if self._spatial == 1 else "[B, C, H, W] (or [C, H, W])"

    def _check_step_shape(self, step: torch.Size) -> None:
        owner, n = type(self).__name__, self._spatial
        _args.rank(step, (n + 1, n + 2), self._step_layout(), owner)
        _args.non_batch_dims(step, len(step) - n - 1, self._step_layout(), owner)
        windows = self._windows()
        if windows is None:
            return
        for size, (k, s, p, d) in zip(step[-n:], windows):
            if _args.pooled_size(size, k, s, p, d, self.ceil_mode) < 1:
                raise ValueError(
                    f"{owner}: the input's size {tuple(step[-n:])} is too small for the pooling window "
                    f"(kernel_size {self.kernel_size}, padding {self.padding}): no window fits; give a larger "
                    f"input or a smaller kernel"
                )

    def _windows(self) -> list[tuple[int, int, int, int]] | None:
        """(kernel, stride, padding, dilation) per spatial dimension; None for adaptive pooling."""
        n = self._spatial
        dilation = getattr(self, "dilation", 1)
        return list(
            zip(_args.each(self.kernel_size, n), _args.each(self.stride, n), _args.each(self.padding, n),
                _args.each(dilation, n))
        )  # fmt: skip

    def _checked_window(
        self, kernel_size: object, stride: object, padding: object, dilation: object, ceil_mode: object
    ) -> tuple:
        """kernel_size, stride (None: the kernel's), padding (at most half the kernel, as torch requires
        at the first call), dilation, ceil_mode."""
        owner, n = type(self).__name__, self._spatial
        kernel_size = _args.sizes(kernel_size, n, "kernel_size", owner)
        stride = None if stride is None else _args.sizes(stride, n, "stride", owner)
        padding = _args.sizes(padding, n, "padding", owner, minimum=0)
        dilation = _args.sizes(dilation, n, "dilation", owner)
        for k, p in zip(_args.each(kernel_size, n), _args.each(padding, n)):
            if p > k // 2:
                raise ValueError(
                    f"{owner}: padding ({padding}) must be at most half the kernel_size ({kernel_size}), "
                    f"rounded down: a window may not lie in the padding alone; give a smaller padding or a "
                    f"larger kernel"
                )
        return kernel_size, stride, padding, dilation, _args.flag(ceil_mode, "ceil_mode", owner)


class _NoIndicesInMultiStep(_Pool):
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
    _spatial = 1

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
        kernel_size, stride, padding, dilation, ceil_mode = self._checked_window(
            kernel_size, stride, padding, dilation, ceil_mode
        )
        return_indices = _args.flag(return_indices, "return_indices", type(self).__name__)
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
    _spatial = 2

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
        kernel_size, stride, padding, dilation, ceil_mode = self._checked_window(
            kernel_size, stride, padding, dilation, ceil_mode
        )
        return_indices = _args.flag(return_indices, "return_indices", type(self).__name__)
        super().__init__(kernel_size, stride, padding, dilation, return_indices, ceil_mode)
        self.step_mode = step_mode


class AvgPool1d(_Pool, nn.AvgPool1d):
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
    _spatial = 1

    def __init__(
        self,
        kernel_size: _Size,
        stride: _Size | None = None,
        padding: _Size = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        step_mode: str = "s",
    ) -> None:
        kernel_size, stride, padding, _, ceil_mode = self._checked_window(
            kernel_size, stride, padding, 1, ceil_mode
        )
        count_include_pad = _args.flag(count_include_pad, "count_include_pad", type(self).__name__)
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.step_mode = step_mode


class AvgPool2d(_Pool, nn.AvgPool2d):
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
    _spatial = 2

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
        kernel_size, stride, padding, _, ceil_mode = self._checked_window(
            kernel_size, stride, padding, 1, ceil_mode
        )
        count_include_pad = _args.flag(count_include_pad, "count_include_pad", type(self).__name__)
        if divisor_override is not None:
            divisor_override = _args.count(divisor_override, "divisor_override", type(self).__name__)
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
        self.step_mode = step_mode


class AdaptiveAvgPool1d(_Pool, nn.AdaptiveAvgPool1d):
    """``torch.nn.AdaptiveAvgPool1d`` in either step mode: ``'s'`` ``[B, C, L]``; ``'m'`` ``[T, B, C, L]``.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> layer.AdaptiveAvgPool1d(1, step_mode="m")(torch.rand(5, 2, 3, 8)).shape
        torch.Size([5, 2, 3, 1])
    """

    _seq_layout = "[T, B, C, L]"
    _seq_min_dim = _seq_max_dim = 4
    _spatial = 1

    def __init__(self, output_size: _OutSize, step_mode: str = "s") -> None:
        super().__init__(_output_size(output_size, self._spatial, type(self).__name__))
        self.step_mode = step_mode

    def _windows(self) -> None:
        return None


class AdaptiveAvgPool2d(_Pool, nn.AdaptiveAvgPool2d):
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
    _spatial = 2

    def __init__(self, output_size: _OutSize, step_mode: str = "s") -> None:
        super().__init__(_output_size(output_size, self._spatial, type(self).__name__))
        self.step_mode = step_mode

    def _windows(self) -> None:
        return None


def _output_size(output_size: object, n: int, owner: str) -> int | tuple[int | None, ...]:
    """An int >= 1, or ``n`` of them (None: keep the input's size in that dimension)."""
    if isinstance(output_size, (tuple, list)) and len(output_size) == n:
        keep = n > 1  # None (keep the input's size) in a dimension of a 2-d pool
        return tuple(
            None if s is None and keep else _args.count(s, "output_size", owner) for s in output_size
        )
    if isinstance(output_size, numbers.Integral) and not isinstance(output_size, bool):
        return _args.count(output_size, "output_size", owner)
    wanted = "an int >= 1" + (f" or a tuple of {n} (an int >= 1 or None each)" if n > 1 else "")
    raise TypeError(
        f"{owner}: output_size must be {wanted}, got {type(output_size).__name__} {output_size!r}"
    )
