"""LearnedDelayBank: a tapped delay line whose taps are learned, one set per channel."""

from __future__ import annotations

import torch
import torch.nn as nn

from .. import functional as F
from .._checks import as_compute_dtype
from ..base import MemoryModule
from ..layer import LearnableDelay


def _held(module: MemoryModule, x_seq: torch.Tensor, max_delay: int) -> torch.Tensor:
    """The module's last ``max_delay`` inputs ``[D, ..., C]`` (zeros at the start), checked against ``x_seq``."""
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 2:
        raise ValueError(f"{type(module).__name__} expects a sequence [T, B, ..., C] with time first")
    shape = torch.Size((max_delay, *x_seq.shape[1:]))
    if module.queue is None:
        module.queue = x_seq.new_zeros(shape)
    return module._state_like("queue", module.queue, shape, x_seq)


class LearnedDelayBank(MemoryModule):
    """``K`` delayed copies of each channel, each delay learned: ``[T, B, ..., C] -> [T, B, ..., K*C]``.

    .. math::
        y[t, k C + c] = \\sum_j g_{kc}[j]\\, x_c[t - j], \\qquad g_{kc} = \\mathrm{delay\\_kernel}(d_{kc}, D, \\sigma)

    The learnable counterpart of :class:`~spikestep.layer.DelayBank` (tap-major, the same output layout):
    the delays and kernel of a :class:`~spikestep.layer.LearnableDelay` of ``K*C`` channels over the input
    repeated ``K`` times, computed as one call of the fused operator without repeating the input
    (:func:`~spikestep.functional.learnable_delay_taps_with_state`). The memory ``queue`` holds the last ``D`` inputs once (``[D, ..., C]``). Its delays ``d_{kc}``
    start at ``init`` (``[K]`` lags shared by every channel, e.g. a DelayBank's taps) or uniformly in
    ``[0, D]``; :meth:`to_fixed` returns the integer form of the rounded delays (per-channel
    :class:`~spikestep.layer.Delay`: the same outputs once :meth:`round_and_freeze` has snapped the delays
    to integers and stopped learning them; train the weights on for a while after it, and rounding costs
    nothing). Multi-step.

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
        # Holds the parameters and the kernel's width; its own memory stays unused (the bank keeps one copy).
        self.delays = LearnableDelay(taps * channels, max_delay, init=start, sigma=sigma, step_mode="m")
        self.step_mode = "m"
        self.register_memory("queue", None)

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
        """The integer form: each tap of each channel delayed by its rounded delay (one gather, the last
        ``D`` inputs held once); exactly this bank after :meth:`round_and_freeze`."""
        rounded = self.delays.delay.detach().clamp(0, self.delays.max_delay).round().long()
        return IntegerDelayTaps(rounded.reshape(self.taps, self.channels))

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        x_seq = as_compute_dtype(x_seq, "LearnedDelayBank", self.delays.delay, layout="[T, B, ..., C]")
        held = _held(self, x_seq, self.delays.max_delay)
        if x_seq.shape[-1] != self.channels:
            raise ValueError(
                f"LearnedDelayBank({self.channels}, ...) expects {self.channels} channels last, got {list(x_seq.shape)}"
            )
        delay = self.delays.delay.view(self.taps, self.channels)  # tap-major: d[k C + c] is d[k, c]
        y, self.queue = F.learnable_delay_taps_with_state(x_seq, held, delay, self.sigma)
        return y


class IntegerDelayTaps(MemoryModule):
    """``y[t, k C + c] = x_c[t - d[k, c]]``: a tapped delay line with integer delays per tap and channel,
    ``[T, B, ..., C] -> [T, B, ..., K*C]`` (:func:`~spikestep.functional.delay_taps_with_state`), holding the
    last ``max(d)`` inputs once. Multi-step. The streaming form of a trained :class:`LearnedDelayBank`.
    """

    def __init__(self, delay_steps: torch.Tensor) -> None:
        super().__init__()
        delay_steps = F.check_delay_steps(delay_steps)
        if not isinstance(delay_steps, torch.Tensor) or delay_steps.dim() != 2:
            raise ValueError("IntegerDelayTaps: delay_steps must be an integer tensor [K, C]")
        self.register_buffer("delay_steps", delay_steps)
        self.step_mode = "m"
        self.register_memory("queue", None)

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        x_seq = as_compute_dtype(x_seq, "IntegerDelayTaps", layout="[T, B, ..., C]")
        held = _held(self, x_seq, int(self.delay_steps.max()))
        y, self.queue = F.delay_taps_with_state(x_seq, held, self.delay_steps)
        return y
