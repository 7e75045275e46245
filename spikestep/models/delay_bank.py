"""DelayBank: several delayed copies of a sequence side by side, a window over the recent past."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from ..base import MultiStepModule
from ..layer import Delay


class DelayBank(nn.Module, MultiStepModule):
    """Concatenate delayed copies of the input on the last dimension: a tapped delay line.

    .. math::
        y[t] = \\big[x[t - d_0], x[t - d_1], \\dots, x[t - d_{K-1}]\\big]

    ``[T, B, ..., C] -> [T, B, ..., K*C]``, tap-major (the copy delayed by ``d_0`` first). A ``Linear``
    after it sees, at each step, the last inputs at the chosen lags: a temporal convolution whose memory
    lives in :class:`~spikestep.layer.Delay` layers (zeros before the sequence starts). Taps ``0, r, 2r,
    ...`` give a dilated window; stacking banks with growing ``r`` grows the window geometrically.

    Each tap is a :class:`~spikestep.layer.Delay` holding its last inputs, so chunks of a sequence fed one
    after the other equal the sequence fed whole; ``functional.reset_net`` starts a new sequence.
    Multi-step only.

    Args:
        delays: the lags ``d_k``, distinct ints ``>= 0``.

    Example::

        >>> import torch
        >>> from spikestep.models import DelayBank
        >>> bank = DelayBank([0, 1, 2])
        >>> bank(torch.tensor([[1.0], [2.0], [3.0]]).unsqueeze(1)).squeeze(1)
        tensor([[1., 0., 0.],
                [2., 1., 0.],
                [3., 2., 1.]])
    """

    def __init__(self, delays: Sequence[int]) -> None:
        super().__init__()
        delays = list(delays)
        if not delays:
            raise ValueError("DelayBank needs at least one delay (e.g. [0] for the input itself)")
        if len(set(delays)) != len(delays):
            raise ValueError(f"DelayBank delays must be distinct, got {delays}")
        self.taps = nn.ModuleList(Delay(d, step_mode="m") for d in delays)
        self.step_mode = "m"

    @property
    def delays(self) -> list[int]:
        return [tap.delay_steps for tap in self.taps]

    def extra_repr(self) -> str:
        return f"delays={self.delays}"

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 2:
            raise ValueError(
                f"DelayBank expects a sequence [T, B, ..., C] with time first, got "
                f"{getattr(x_seq, 'shape', type(x_seq).__name__)}"
            )
        return torch.cat([tap(x_seq) for tap in self.taps], dim=-1)
