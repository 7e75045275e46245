"""Real-valued delays as kernels over integer taps: ``y[t] = sum_k g[k] x[t - k]``, ``g`` centred on ``d``."""

from __future__ import annotations

import torch

from ..ops.delayed_linear.math import gauss_taps
from ..ops.delayed_linear.schedule import sigma_schedule

__all__ = ["delay_kernel", "learnable_delay_with_state", "sigma_schedule"]


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
    ``y[t, ..., c] = sum_k g[c, k] z[D + t - k, ..., c]``. For ``sigma > 0`` that is ``D + 1``
    multiply-adds of slices of ``z``; for ``sigma = 0`` only two taps are non-zero and the output is
    two gathers, ``(1 - f) z[t - n] + f z[t - n - 1]`` with ``n = floor(d)``, ``f = d - n``: apart from
    joining and keeping the ``D`` held steps, its cost does not grow with ``D``. Returns ``(y_seq, new_held)``; ``new_held`` is a new tensor of ``D`` steps.
    """
    d_max, t = held.shape[0], x_seq.shape[0]
    joined = torch.cat((held, x_seq)) if d_max else x_seq
    new_held = joined[t:].clone() if t < d_max else x_seq[t - d_max :].clone()
    d = delay.to(x_seq.dtype).clamp(0.0, float(d_max))
    if d_max == 0 or t == 0:
        return x_seq.clone(), new_held
    if sigma == 0.0:
        whole = d.detach().floor().clamp(max=d_max - 1)
        frac = d - whole
        steps = torch.arange(d_max, d_max + t, device=x_seq.device).reshape((t,) + (1,) * (x_seq.dim() - 1))
        index = (steps - whole.long()).expand(x_seq.shape)
        return (1.0 - frac) * joined.gather(0, index) + frac * joined.gather(0, index - 1), new_held
    return _TapSum.apply(joined, delay_kernel(d, d_max, sigma), t), new_held


class _TapSum(torch.autograd.Function):
    """``y = sum_k kernel[:, k] * z[D - k : D - k + T]`` with its own backward: one multiply-add per tap
    each way, accumulated into one gradient buffer (autograd of the slices would make a zero-filled
    ``z``-sized tensor per tap; a depthwise ``conv1d``'s CPU backward is slower still)."""

    @staticmethod
    def forward(ctx, joined: torch.Tensor, kernel: torch.Tensor, t: int) -> torch.Tensor:  # type: ignore[override]
        d_max = kernel.shape[-1] - 1
        y = joined[d_max : d_max + t] * kernel[:, 0]
        for k in range(1, d_max + 1):
            y.addcmul_(joined[d_max - k : d_max - k + t], kernel[:, k])
        ctx.save_for_backward(joined, kernel)
        ctx.t = t
        return y

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:  # type: ignore[override]
        joined, kernel = ctx.saved_tensors
        t, d_max = ctx.t, kernel.shape[-1] - 1
        grad_joined = grad_kernel = None
        if ctx.needs_input_grad[0]:
            grad_joined = torch.zeros_like(joined)
            for k in range(d_max + 1):
                grad_joined[d_max - k : d_max - k + t].addcmul_(grad_y, kernel[:, k])
        if ctx.needs_input_grad[1]:
            lanes = grad_y.reshape(-1, grad_y.shape[-1])
            grad_kernel = torch.stack(
                [
                    (joined[d_max - k : d_max - k + t].reshape(-1, grad_y.shape[-1]) * lanes).sum(0)
                    for k in range(d_max + 1)
                ],
                dim=-1,
            )
        return grad_joined, grad_kernel, None
