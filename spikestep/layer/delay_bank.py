"""DelayBank: several delayed copies of a sequence side by side, a window over the recent past."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .. import functional as F
from .._checks import as_compute_dtype
from ..base import MemoryModule


class DelayBank(MemoryModule):
    """Concatenate delayed copies of the input on the last dimension: a tapped delay line.

    .. math::
        y[t] = \\big[x[t - d_0], x[t - d_1], \\dots, x[t - d_{K-1}]\\big]

    ``[T, B, ..., C] -> [T, B, ..., K*C]`` in multi-step mode, ``[B, ..., C] -> [B, ..., K*C]`` in
    single-step mode, tap-major (the copy delayed by ``d_0`` first). A ``Linear`` after it sees, at each
    step, the last inputs at the chosen lags: a temporal convolution whose memory is the bank's last
    ``D = max(d)`` inputs (zeros before the sequence starts). Taps ``0, r, 2r, ...`` give a dilated window;
    stacking banks with growing ``r`` grows the window geometrically.

    One operation (:func:`~spikestep.functional.delay_bank_with_state`): the held inputs and the chunk are
    joined once and each output element is written once. The memory ``queue`` holds the last ``D``
    inputs (its own copy, ``D`` steps), so chunks of a sequence fed one after the other equal the sequence
    fed whole; ``functional.reset_net`` starts a new sequence. A single step costs a copy of the ``D``
    held steps (use :class:`Delay` for O(1) single steps).

    Args:
        delays: the lags ``d_k``, distinct ints ``>= 0``.
        step_mode: ``'m'`` (default) or ``'s'``.

    Example::

        >>> import torch
        >>> from spikestep.layer import DelayBank
        >>> bank = DelayBank([0, 1, 2])
        >>> bank(torch.tensor([[1.0], [2.0], [3.0]]).unsqueeze(1)).squeeze(1)
        tensor([[1., 0., 0.],
                [2., 1., 0.],
                [3., 2., 1.]])
    """

    def __init__(self, delays: Sequence[int], step_mode: str = "m") -> None:
        super().__init__()
        delays = [F.check_delay_steps(d) for d in delays]
        if not delays:
            raise ValueError("DelayBank needs at least one delay (e.g. [0] for the input itself)")
        if any(isinstance(d, torch.Tensor) for d in delays):
            raise TypeError("DelayBank delays must be ints (one lag per tap, shared by every channel)")
        if len(set(delays)) != len(delays):
            raise ValueError(f"DelayBank delays must be distinct, got {delays}")
        self._delays = delays
        self.step_mode = step_mode
        self.register_memory("queue", None)

    @property
    def delays(self) -> list[int]:
        return list(self._delays)

    @property
    def max_delay(self) -> int:
        return max(self._delays)

    def extra_repr(self) -> str:
        return f"delays={self._delays}, step_mode={self.step_mode}"

    def _held(self, x_seq: torch.Tensor) -> torch.Tensor:
        shape = torch.Size((self.max_delay, *x_seq.shape[1:]))
        if self.queue is None:
            self.queue = x_seq.new_zeros(shape)
        return self._state_like("queue", self.queue, shape, x_seq)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        x_seq = as_compute_dtype(x_seq, "DelayBank", layout="[T, B, ..., C] with time first")
        if x_seq.dim() < 2:
            raise ValueError(
                f"DelayBank expects a sequence [T, B, ..., C] with time first, got shape {list(x_seq.shape)}"
            )
        y, self.queue = F.delay_bank_with_state(x_seq, self._held(x_seq), self._delays)
        return y

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        x = as_compute_dtype(x, "DelayBank", layout="[B, ..., C]")
        if x.dim() < 1:
            raise ValueError("DelayBank expects one step [B, ..., C], got a 0-d tensor")
        x_seq = x.unsqueeze(0)
        y, self.queue = F.delay_bank_with_state(x_seq, self._held(x_seq), self._delays)
        return y.squeeze(0)
