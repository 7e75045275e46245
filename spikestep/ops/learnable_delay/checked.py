"""The checked entry point over ``[T, ..., C]`` sequences: arguments refused with what to fix, then the walk."""

from __future__ import annotations

import torch

from .._checks import check_real, check_tensors
from .._dispatch import check_backend
from .op import walk

_OWNER = "learnable_delay"


def check_sigma(sigma: object, owner: str = _OWNER) -> float:
    """``sigma`` as a float if it is a finite real number ``>= 0`` (0: linear interpolation)."""
    return check_real(
        sigma,
        owner,
        "sigma",
        0,
        type_note=" (0: two taps, linear interpolation; > 0: the Gaussian's width in steps)",
        value_note=" (time steps)",
    )


def _check(x: torch.Tensor, held: torch.Tensor, delay: torch.Tensor) -> None:
    check_tensors(_OWNER, {"x": x, "held": held, "delay": delay}, "cast spikes to the delays' dtype first")
    if x.dim() < 2 or held.dim() != x.dim() or held.shape[1:] != x.shape[1:]:
        raise ValueError(
            f"{_OWNER}: x must be [T, ..., C] and held [D, ..., C] with the same [..., C], got shapes "
            f"{tuple(x.shape)} and {tuple(held.shape)}"
        )
    if delay.dim() != 2 or delay.shape[1] != x.shape[-1]:
        raise ValueError(
            f"{_OWNER}: delay must be [K, C] (K delays for each of the C = {x.shape[-1]} channels), got "
            f"shape {tuple(delay.shape)}"
        )


def learnable_delay_walk(
    x: torch.Tensor, held: torch.Tensor, delay: torch.Tensor, sigma: float = 0.0, backend: str = "auto"
) -> torch.Tensor:
    """``y [T, ..., K, C]``: ``y[t, ..., k, c] = sum_j g_j(d_kc) z[D + t - j, ..., c]`` with ``z`` the
    held inputs ``held [D, ..., C]`` (oldest first; zeros at the start of a sequence) followed by
    ``x [T, ..., C]``, and ``g`` the kernel over the lags ``j = 0 .. D`` of each delay of ``delay [K, C]``
    (clamped to ``[0, D]``): a Gaussian of width ``sigma`` (normalised as ``dcls`` does), or for
    ``sigma = 0`` linear interpolation between the shifts ``floor(d)`` and ``floor(d) + 1`` (two taps,
    whatever ``D``). See :mod:`spikestep.ops.learnable_delay.math`. Gradients flow to all three tensors.
    ``backend`` (``'auto'``, ``'numba'``, ``'triton'``, ``'torch'``) overrides ``ops.use_backend``.

    Example::

        >>> import torch
        >>> from spikestep.ops.learnable_delay import learnable_delay_walk
        >>> x = torch.tensor([1.0, 0.0, 0.0, 0.0]).reshape(4, 1)
        >>> learnable_delay_walk(x, torch.zeros(2, 1), torch.tensor([[0.0], [1.5]])).squeeze(-1)
        tensor([[1.0000, 0.0000],
                [0.0000, 0.5000],
                [0.0000, 0.5000],
                [0.0000, 0.0000]])
    """
    _check(x, held, delay)
    sigma = check_sigma(sigma)
    check_backend(backend, _OWNER)
    return walk(x, held, delay, sigma, backend)


__all__ = ["check_sigma", "learnable_delay_walk"]
