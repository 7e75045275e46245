"""LearnedDelayBank: a tapped delay line whose taps are learned, one set per channel."""

from __future__ import annotations

import torch
import torch.nn as nn

from ..base import MultiStepModule
from ..layer import LearnableDelay


class LearnedDelayBank(nn.Module, MultiStepModule):
    """``K`` delayed copies of each channel, each delay learned: ``[T, B, ..., C] -> [T, B, ..., K*C]``.

    .. math::
        y[t, k C + c] = \\sum_j g_{kc}[j]\\, x_c[t - j], \\qquad g_{kc} = \\mathrm{delay\\_kernel}(d_{kc}, D, \\sigma)

    The learnable counterpart of :class:`~spikestep.layer.DelayBank` (tap-major, the same output layout):
    a :class:`~spikestep.layer.LearnableDelay` over the input repeated ``K`` times. Its delays ``d_{kc}``
    start at ``init`` (``[K]`` lags shared by every channel, e.g. a DelayBank's taps) or uniformly in
    ``[0, D]``; :meth:`to_fixed` returns the integer form of the rounded delays (per-channel
    :class:`~spikestep.layer.Delay`: the same outputs once :meth:`round_and_freeze` has snapped the delays
    to integers and stopped learning them; train the weights on for a while after it, and rounding costs
    nothing). The memory holds the ``K`` repeated copies of the last ``D`` inputs. Multi-step.

    Example::

        >>> import torch
        >>> bank = LearnedDelayBank(2, taps=3, max_delay=4, init=[0, 1, 2], sigma=0.0)
        >>> bank(torch.rand(5, 1, 2)).shape
        torch.Size([5, 1, 6])
    """

    def __init__(
        self,
        channels: int,
        taps: int,
        max_delay: int,
        init: list[float] | str = "uniform",
        sigma: float | None = None,
    ) -> None:
        super().__init__()
        if isinstance(taps, bool) or not isinstance(taps, int) or taps < 1:
            raise ValueError(f"LearnedDelayBank: taps must be an int >= 1, got {taps!r}")
        self.taps, self.channels = taps, channels
        if isinstance(init, str):
            start: str | torch.Tensor = init
        else:
            lags = torch.as_tensor(init, dtype=torch.get_default_dtype())
            if lags.shape != (taps,):
                raise ValueError(
                    f"LearnedDelayBank: init must give one lag per tap ({taps}), got {list(lags.shape)}"
                )
            start = lags.repeat_interleave(channels)
        self.delays = LearnableDelay(taps * channels, max_delay, init=start, sigma=sigma, step_mode="m")
        self.step_mode = "m"

    @property
    def sigma(self) -> float:
        return self.delays.sigma

    @sigma.setter
    def sigma(self, value: float) -> None:
        self.delays.sigma = value

    def clamp_delays(self) -> None:
        """Put the delays back into ``[0, max_delay]`` (after each optimiser step)."""
        self.delays.clamp_delays()

    def round_and_freeze(self) -> None:
        """Round the delays to integers (half to even) and stop learning them."""
        with torch.no_grad():
            self.delays.delay.copy_(self.delays.delay.clamp(0, self.delays.max_delay).round())
        self.delays.delay.requires_grad_(False)
        self.delays.sigma = 0.0

    def to_fixed(self) -> nn.Module:
        """The integer form: the input repeated ``K`` times, then a per-channel ``Delay`` of the rounded delays
        (exactly this bank after :meth:`round_and_freeze`)."""
        return _Repeated(self.taps, self.delays.to_delay())

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 2:
            raise ValueError("LearnedDelayBank expects a sequence [T, B, ..., C] with time first")
        return self.delays(x_seq.repeat((1,) * (x_seq.dim() - 1) + (self.taps,)))


class _Repeated(nn.Module):
    def __init__(self, taps: int, inner: nn.Module) -> None:
        super().__init__()
        self.taps, self.inner = taps, inner

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.inner(x_seq.repeat((1,) * (x_seq.dim() - 1) + (self.taps,)))
