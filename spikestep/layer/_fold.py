"""The one fold that makes a stateless torch layer step-aware: time folded into the batch."""

from __future__ import annotations

import torch

from .. import functional as F
from .._checks import as_compute_dtype
from ..base import StepModule
from . import _args


class _FoldTime(StepModule):
    """Mixin placed *before* a torch layer: ``class Conv2d(_FoldTime, nn.Conv2d)``.

    Inputs may be bool, integer or floating spikes: bool and integer ones are cast to the layer's floating
    dtype (its parameters', else torch's default) first, floating ones keep their dtype, in both modes.

    In ``'s'`` mode ``forward`` is the torch layer's. In ``'m'`` mode it checks that the input has the time
    dimension and runs ``functional.seq_to_ann_forward``: ``[T, B, ...] -> [T*B, ...] -> layer ->
    [T, B, ...]``, one call for all steps. Subclasses set ``_seq_layout`` (what an ``'m'`` input looks
    like, for error messages) and the range of input dimensions ``'m'`` mode accepts.
    """

    _seq_layout: str = "[T, B, ...]"
    _seq_min_dim: int = 2
    _seq_max_dim: int | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._floating(x)
        if self.step_mode == "s":
            self._check_step(x, x.shape)
            return super().forward(x)
        self._check_sequence(x)
        self._check_step(x, x.shape[1:])
        return F.seq_to_ann_forward(x, self._layer_forward)

    # float16/bfloat16 inputs to float32 parameters: torch's batch norm computes them, Linear and Conv do not.
    _mixed_dtype_ok = False

    def _check_step(self, x: torch.Tensor, step: torch.Size) -> None:
        """Refuse what torch would refuse deep inside (a ``RuntimeError``): an input on another device or
        in another dtype than the parameters, and (:meth:`_check_step_shape`) a step ``[B, ...]`` of a
        shape the layer cannot take."""
        params = (*self.parameters(recurse=False), *self.buffers(recurse=False))  # type: ignore[attr-defined]
        _args.same_device_and_dtype(x, params, type(self).__name__, self._mixed_dtype_ok)
        self._check_step_shape(step)

    def _check_step_shape(self, step: torch.Size) -> None:
        """One step's shape ``[B, ...]`` against the layer (its rank, channels, size): subclasses."""

    def _floating(self, x: object) -> torch.Tensor:
        """``x`` (else ``TypeError``) with bool and integer spikes cast to the layer's floating dtype (its
        parameters', else torch's default); floating inputs pass through in their own dtype."""
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            return x
        params = (*self.parameters(recurse=False), *self.buffers(recurse=False))  # type: ignore[attr-defined]
        return as_compute_dtype(x, type(self).__name__, *params, layout=self._layout_in_mode())

    def _layout_in_mode(self) -> str:
        return self._seq_layout if self.step_mode == "m" else "(one time step)"

    def _layer_forward(self, x: torch.Tensor) -> torch.Tensor:
        # The torch layer's forward as a bound method: torch.compile cannot inspect ``super().forward``
        # passed as a value (seq_to_ann_forward's isinstance/callable checks would break the graph).
        return super().forward(x)

    def _check_sequence(self, x: object) -> None:
        name = type(self).__name__
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} expects a torch.Tensor, got {type(x).__name__}")
        lo, hi = self._seq_min_dim, self._seq_max_dim
        if x.dim() < lo or (hi is not None and x.dim() > hi):
            if hi is None:
                wanted = f"at least {lo}-d"
            elif lo == hi:
                wanted = f"{lo}-d"
            else:
                wanted = f"{lo}-d to {hi}-d"
            raise ValueError(
                f"{name} in multi-step mode expects {self._seq_layout} ({wanted}, time first), got shape "
                f"{tuple(x.shape)} ({x.dim()}-d). If this input is a single time step, use step_mode='s' "
                f"(or functional.set_step_mode(net, 's'))."
            )

    def extra_repr(self) -> str:
        inner = super().extra_repr()
        return f"{inner}, step_mode={self.step_mode}" if inner else f"step_mode={self.step_mode}"
