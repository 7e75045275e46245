"""Real-valued delays as kernels over integer taps: ``y[t] = sum_k g[k] x[t - k]``, ``g`` centred on ``d``."""

from __future__ import annotations

import torch

from .._runtime.held_inputs import last_steps
from ..ops.delayed_linear.math import gauss_taps
from ..ops.delayed_linear.schedule import sigma_schedule
from ..ops.learnable_delay import learnable_delay_walk

__all__ = ["delay_kernel", "learnable_delay_taps_with_state", "learnable_delay_with_state", "sigma_schedule"]


def delay_kernel(delay: torch.Tensor, max_delay: int, sigma: float) -> torch.Tensor:
    """The kernel over taps ``k = 0..max_delay`` that delays by ``delay`` (real, clamped to the range).

    .. math::
        g[k] = \\frac{\\exp(-(k - d)^2 / 2\\sigma^2)}{\\sum_j \\exp(-(j - d)^2 / 2\\sigma^2)}
        \\quad (\\sigma > 0), \\qquad g[k] = \\max(0, 1 - |k - d|) \\quad (\\sigma = 0)

    A Gaussian bump at ``d`` normalised to sum 1 (the DCLS-delays kernel, defined once in
    :mod:`spikestep.ops.delayed_linear.math`, normalised as ``dcls`` does), or, for ``sigma = 0``, linear
    interpolation between the two integer shifts around ``d`` (two non-zero taps, exact for an integer
    ``d``). ``delay`` has any shape; the result is ``[*delay.shape, max_delay + 1]``.

    Example::

        >>> import torch
        >>> from spikestep.functional import delay_kernel
        >>> delay_kernel(torch.tensor([1.25]), 3, sigma=0.0)
        tensor([[0.0000, 0.7500, 0.2500, 0.0000]])
    """
    d = delay.clamp(0.0, float(max_delay))
    if sigma == 0.0:
        taps = torch.arange(max_delay + 1, dtype=delay.dtype, device=delay.device)
        return (1.0 - (taps - d.unsqueeze(-1)).abs()).clamp_min(0.0)
    return gauss_taps(d, sigma, max_delay)[0]  # the one Gaussian, DelayedLinear's (and dcls's)


def learnable_delay_with_state(
    x_seq: torch.Tensor, held: torch.Tensor, delay: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """One multi-step call of per-channel real-valued delays that carries the last ``D`` inputs.

    ``x_seq`` is ``[T, ..., C]``, ``held`` ``[D, ..., C]`` (oldest first, ``D = max_delay``), ``delay``
    ``[C]``. With ``z`` the held inputs followed by the chunk and ``g`` the :func:`delay_kernel`,
    ``y[t, ..., c] = sum_k g[c, k] z[D + t - k, ..., c]``. One call of the fused operator
    ``torch.ops.spikestep.learnable_delay`` (:mod:`spikestep.ops.learnable_delay`; numba, Triton or
    torch, chosen by ``ops.use_backend``): for ``sigma > 0`` that is ``D + 1`` multiply-adds per element;
    for ``sigma = 0`` only two taps are non-zero, ``(1 - f) z[t - n] + f z[t - n - 1]`` with
    ``n = floor(d)``, ``f = d - n``: apart from joining and keeping the ``D`` held steps, its cost does not
    grow with ``D``. Returns ``(y_seq, new_held)``; ``new_held`` is a new tensor of ``D`` steps.

    Example::

        >>> import torch
        >>> from spikestep.functional import learnable_delay_with_state
        >>> y, held = learnable_delay_with_state(torch.tensor([[1.0], [0.0]]), torch.zeros(2, 1), torch.tensor([1.5]), 0.0)
        >>> y.flatten(), held.flatten()
        (tensor([0.0000, 0.5000]), tensor([1., 0.]))
    """
    y = learnable_delay_walk(x_seq, held, _per_channel(delay, x_seq).to(x_seq.dtype).unsqueeze(0), sigma)
    return y.squeeze(-2), last_steps(held, x_seq)


def learnable_delay_taps_with_state(
    x_seq: torch.Tensor, held: torch.Tensor, delay: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """A tapped delay line whose ``K`` taps have their own real-valued delay per channel.

    ``y[t, ..., k C + c] = sum_j g[k, c, j] z[D + t - j, ..., c]``: ``x_seq`` ``[T, ..., C]``, ``held``
    ``[D, ..., C]`` (oldest first), ``delay`` ``[K, C]``, ``g`` the :func:`delay_kernel` of each delay. The
    output ``[T, ..., K*C]`` is tap-major, like :func:`delay_taps_with_state`'s (its integer form), and
    is one call of ``torch.ops.spikestep.learnable_delay`` (no copy of the input per tap). Returns
    ``(y_seq, new_held)``; ``new_held`` is a new tensor of ``D`` steps of ``C`` channels (not ``K*C``).

    Example::

        >>> import torch
        >>> from spikestep.functional import learnable_delay_taps_with_state
        >>> x = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
        >>> y, _ = learnable_delay_taps_with_state(x, torch.zeros(1, 2), torch.tensor([[0.0, 0.0], [1.0, 0.5]]), 0.0)
        >>> y
        tensor([[1., 2., 0., 1.],
                [0., 0., 1., 1.]])
    """
    if not isinstance(delay, torch.Tensor) or delay.dim() != 2:
        raise ValueError(
            f"learnable_delay_taps_with_state: delay must be a tensor [K, C] (K taps of each channel), got "
            f"{tuple(delay.shape) if isinstance(delay, torch.Tensor) else type(delay).__name__}"
        )
    y = learnable_delay_walk(x_seq, held, delay.to(x_seq.dtype), sigma)
    return y.flatten(-2), last_steps(held, x_seq)


def _per_channel(delay: torch.Tensor, x_seq: torch.Tensor) -> torch.Tensor:
    """``delay`` as ``[C]`` (one value for every channel is spread)."""
    if not isinstance(delay, torch.Tensor) or not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 2:
        raise TypeError(
            "learnable_delay_with_state: x_seq must be a tensor [T, ..., C] and delay a tensor [C], got "
            f"{type(x_seq).__name__} and {type(delay).__name__}"
        )
    channels = x_seq.shape[-1]
    if delay.shape == (channels,):
        return delay
    if delay.numel() == 1:
        return delay.reshape(1).expand(channels)
    raise ValueError(
        f"learnable_delay_with_state: delay must be [C] (one delay per channel, C = {channels}), got shape "
        f"{tuple(delay.shape)}"
    )
