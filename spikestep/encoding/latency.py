"""Latency (time-to-first-spike) coding: each element spikes once, earlier for larger values.

Linear: :math:`t_f = \\mathrm{round}((T-1)(1-x))`. Log: :math:`t_f = \\mathrm{round}(T-1-\\ln(\\alpha x + 1))`
with :math:`\\alpha = e^{T-1} - 1`, so ``x = 1`` spikes at step 0 and ``x = 0`` at step ``T-1`` in both;
the log curve sends small values to late steps sooner. ``round`` is ``torch.round`` (ties to even).
"""

from __future__ import annotations

import math
import numbers

import torch

from ..base import MemoryModule
from ._checks import check_num_steps, check_unit_interval, spike_dtype

ENC_FUNCTIONS = ("linear", "log")


def _check_enc_function(enc_function: object, owner: str) -> str:
    if enc_function not in ENC_FUNCTIONS:
        raise ValueError(f"{owner}: enc_function must be one of {list(ENC_FUNCTIONS)}, got {enc_function!r}")
    return str(enc_function)


def latency_times(x: torch.Tensor, T: int, enc_function: str = "linear") -> torch.Tensor:
    """The step ``t_f`` in ``[0, T-1]`` at which each element of ``x`` (values in ``[0, 1]``) spikes.

    Returns a ``torch.long`` tensor of ``x``'s shape.

    Example::

        >>> import torch
        >>> from spikestep import encoding
        >>> encoding.latency_times(torch.tensor([1.0, 0.75, 0.5, 0.0]), T=5)
        tensor([0, 1, 2, 4])
        >>> encoding.latency_times(torch.tensor([1.0, 0.1, 0.0]), T=5, enc_function="log")
        tensor([0, 2, 4])
    """
    T = check_num_steps(T, "latency_times")
    enc_function = _check_enc_function(enc_function, "latency_times")
    x = check_unit_interval(x, "latency_times")
    # float64 so that values on a step boundary round the same on every device.
    x64 = x.detach().to(torch.float64)
    last = float(T - 1)
    if enc_function == "linear":
        t = last * (1.0 - x64)
    elif T == 1:
        t = torch.zeros_like(x64)
    else:
        # ln(alpha x + 1) as logaddexp(ln alpha + ln x, 0): alpha = e^(T-1) - 1 overflows float64 for
        # T > 710, its log does not. ln(0) = -inf gives ln(1) = 0 for x = 0.
        log_alpha = last + math.log(-math.expm1(-last))
        t = last - torch.logaddexp(log_alpha + torch.log(x64), torch.zeros_like(x64))
    return t.round().clamp_(0, last).long()


def latency(x: torch.Tensor, T: int, enc_function: str = "linear") -> torch.Tensor:
    """All ``T`` steps of latency coding of a static input: ``x`` ``[B, ...]`` -> spikes ``[T, B, ...]``.

    ``s[t] = 1[t == t_f(x)]``: every element spikes exactly once (see :func:`latency_times`).

    Example::

        >>> import torch
        >>> from spikestep import encoding
        >>> encoding.latency(torch.tensor([1.0, 0.5, 0.0]), T=3)
        tensor([[1., 0., 0.],
                [0., 1., 0.],
                [0., 0., 1.]])
    """
    t_f = latency_times(x, T, enc_function)
    steps = torch.arange(T, device=t_f.device).view(T, *([1] * t_f.dim()))
    return (steps == t_f).to(spike_dtype(x))


def latency_step(x: torch.Tensor, t: int, T: int, enc_function: str = "linear") -> torch.Tensor:
    """Step ``t`` (in ``[0, T-1]``) of latency coding: ``s = 1[t == t_f(x)]``, shape of ``x``.

    Example::

        >>> import torch
        >>> from spikestep import encoding
        >>> encoding.latency_step(torch.tensor([1.0, 0.5, 0.0]), t=1, T=3)
        tensor([0., 1., 0.])
    """
    T = check_num_steps(T, "latency_step")
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or not 0 <= t < T:
        raise ValueError(f"latency_step: t must be an int in [0, T-1] = [0, {T - 1}], got {t!r}")
    return (latency_times(x, T, enc_function) == t).to(spike_dtype(x))


class LatencyEncoder(MemoryModule):
    """Latency encoder: each element of a static input spikes once in ``T`` steps, earlier when larger.

    Args:
        T: number of steps of one encoding, an ``int >= 1``.
        enc_function: ``'linear'`` (``t_f = round((T-1)(1-x))``) or ``'log'`` (see the module docstring).
        step_mode: ``'s'``: each call takes the static input ``x`` ``[B, ...]`` and returns the next step's
            spikes ``[B, ...]``; the step counter (memory ``t``) wraps to 0 after ``T`` calls, so the code
            repeats with period ``T``; :meth:`reset` restarts it. Pass the same ``x`` at every step (it is
            re-read, not cached). ``'m'``: takes the static input ``x`` ``[B, ...]`` and returns all ``T``
            steps ``[T, B, ...]``; the counter is neither used nor changed.

    ``x`` must lie in ``[0, 1]`` (``ValueError`` otherwise). ``T`` single-step calls stacked equal one
    multi-step call.

    Example::

        >>> import torch
        >>> from spikestep import encoding
        >>> enc = encoding.LatencyEncoder(T=3)
        >>> x = torch.tensor([1.0, 0.5, 0.0])
        >>> enc(x), enc(x), enc(x)
        (tensor([1., 0., 0.]), tensor([0., 1., 0.]), tensor([0., 0., 1.]))
    """

    def __init__(self, T: int, enc_function: str = "linear", step_mode: str = "s") -> None:
        super().__init__()
        self.T = check_num_steps(T, "LatencyEncoder")
        self.enc_function = _check_enc_function(enc_function, "LatencyEncoder")
        self.step_mode = step_mode
        self.register_memory("t", 0)

    def extra_repr(self) -> str:
        return f"T={self.T}, enc_function={self.enc_function!r}, step_mode={self.step_mode}"

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        out = latency_step(x, self.t, self.T, self.enc_function)
        self.t = (self.t + 1) % self.T
        return out

    def multi_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return latency(x, self.T, self.enc_function)
