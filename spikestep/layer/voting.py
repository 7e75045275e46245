"""VotingLayer: read a population code out as one score per class."""

from __future__ import annotations

import numbers

import torch
import torch.nn as nn

from .._checks import as_compute_dtype
from ..base import StepModule


class VotingLayer(nn.Module, StepModule):
    """Average each run of ``voting_size`` consecutive values on the last dimension.

    ``[..., C * v] -> [..., C]``: ``y[..., c] = mean(x[..., c*v : (c+1)*v])``. With ``v`` neurons voting
    for each of ``C`` classes, ``y`` is each class's share of the votes. Stateless; the same in both step
    modes (in multi-step mode, ``[T, B, C*v] -> [T, B, C]``, time folded into the batch).

    Args:
        voting_size: ``v``, a positive int: how many neurons vote for each class.
        step_mode: ``'s'`` or ``'m'``.

    A last dimension that is not a multiple of ``v`` raises ``ValueError`` (nothing is silently dropped).
    Floating inputs keep their dtype; bool and integer spikes are averaged in torch's default float dtype.

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> layer.VotingLayer(voting_size=2)(torch.tensor([[1.0, 0.0, 1.0, 1.0]]))
        tensor([[0.5000, 1.0000]])
    """

    def __init__(self, voting_size: int = 10, step_mode: str = "s") -> None:
        super().__init__()
        self.voting_size = voting_size
        self.step_mode = step_mode

    @property
    def voting_size(self) -> int:
        """``v``, neurons per class: a positive int, checked on every assignment."""
        state = self.__dict__
        return (
            state["_voting_size"] if "_voting_size" in state else state["voting_size"]
        )  # pickled before it was checked

    @voting_size.setter
    def voting_size(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"voting_size must be a positive int, got {type(value).__name__} {value!r}")
        if value < 1:
            raise ValueError(f"voting_size must be a positive int (neurons per class), got {value}")
        self._voting_size = int(value)

    def extra_repr(self) -> str:
        return f"voting_size={self.voting_size}, step_mode={self.step_mode}"

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        # Bool and integer votes are averaged in torch's default float dtype (mean needs a floating one).
        x = as_compute_dtype(x, "VotingLayer", layout="[..., C * voting_size]")
        if x.dim() < 1:
            raise ValueError("VotingLayer expects an input [..., C * voting_size], got a 0-d tensor")
        n = x.shape[-1]
        if n % self.voting_size != 0:
            raise ValueError(
                f"VotingLayer: the last dimension ({n}) must be a multiple of voting_size "
                f"({self.voting_size}); {n} % {self.voting_size} = {n % self.voting_size}"
            )
        return x.unflatten(-1, (n // self.voting_size, self.voting_size)).mean(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Averaging over the last dimension is the same whatever the leading dims are, so multi-step mode
        # needs no fold: [T, B, C*v] is handled in one call either way.
        return self.single_step_forward(x)
