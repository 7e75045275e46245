"""The checked entry point over ``[T, N, I]`` and the argument checks the layer shares."""

from __future__ import annotations

import torch

from .._checks import check_real, check_tensors
from .._dispatch import check_backend
from .math import KERNELS, MIN_SIGMA
from .op import walk

_OWNER = "delayed_linear"


def check_kernel(kernel: object, owner: str = _OWNER) -> str:
    """``kernel`` if it is one of :data:`KERNELS` (``'gauss'``, ``'linear'``, ``'round'``), else a
    ``ValueError`` that lists them."""
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise ValueError(
            f"{owner}: kernel must be one of {list(KERNELS)} ('gauss': a Gaussian of width sigma over the "
            f"lags, 'linear': 2 taps, 'round': 1 tap at the rounded delay), got {kernel!r}"
        )
    return kernel


def check_sigma(sigma: object, owner: str = _OWNER) -> float:
    """``sigma`` as a float if it is a finite real number ``>= MIN_SIGMA`` (0.25 time steps)."""
    return check_real(
        sigma,
        owner,
        "sigma",
        MIN_SIGMA,
        type_note=" (time steps)",
        value_note=" (time steps; a narrower Gaussian rounds to zero)",
        fix="; for two taps use linear interpolation (kernel 'linear', or sigma=0 in LearnableDelay)",
    )


def _check(held: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, delay: torch.Tensor) -> None:
    tensors = {"held": held, "x": x, "weight": weight, "delay": delay}
    check_tensors(_OWNER, tensors, "cast spikes to the weights' dtype first")
    if x.dim() != 3 or held.dim() != 3:
        raise ValueError(
            f"{_OWNER}: x must be [T, N, I] and held [D, N, I], got shapes {tuple(x.shape)} and {tuple(held.shape)}"
        )
    if weight.dim() != 2 or delay.shape != weight.shape:
        raise ValueError(
            f"{_OWNER}: weight and delay must both be [O, I], got shapes {tuple(weight.shape)} and "
            f"{tuple(delay.shape)}"
        )
    if held.shape[1:] != x.shape[1:] or x.shape[2] != weight.shape[1]:
        raise ValueError(
            f"{_OWNER}: held {tuple(held.shape)}, x {tuple(x.shape)} and weight {tuple(weight.shape)} do not "
            f"fit: held [D, N, I], x [T, N, I], weight [O, I]"
        )


def delayed_linear_walk(
    held: torch.Tensor,
    x: torch.Tensor,
    weight: torch.Tensor,
    delay: torch.Tensor,
    sigma: float = 1.0,
    kernel: str = "gauss",
    backend: str = "auto",
) -> torch.Tensor:
    """``y [T, N, O]``: ``y[t, n, j] = sum_i sum_k w_ij g_k(d_ij) x[t - k, n, i]`` for ``x [T, N, I]``,
    with ``x[t - k]`` taken from ``held [D, N, I]`` (the last ``D = max_delay`` inputs before ``x``,
    oldest first; zeros at the start of a sequence) before the start. ``weight`` and ``delay`` are
    ``[O, I]``, every delay in ``[0, D]`` (else ``ValueError``); ``kernel`` and ``sigma`` as
    :mod:`.math` says. Gradients flow to all four tensors. ``backend`` (``'auto'``, ``'numba'``,
    ``'triton'``, ``'torch'``) overrides ``ops.use_backend``.

    Example::

        >>> import torch
        >>> from spikestep.ops.delayed_linear import delayed_linear_walk
        >>> x = torch.tensor([1.0, 0.0, 0.0, 0.0]).reshape(4, 1, 1)
        >>> y = delayed_linear_walk(torch.zeros(3, 1, 1), x, torch.ones(1, 1), torch.full((1, 1), 1.5), kernel="linear")
        >>> y.flatten()
        tensor([0.0000, 0.5000, 0.5000, 0.0000])
    """
    _check(held, x, weight, delay)
    kernel = check_kernel(kernel)
    sigma = check_sigma(sigma)
    check_backend(backend, _OWNER)
    return walk(held.contiguous(), x.contiguous(), weight, delay, sigma, kernel, backend)


__all__ = ["check_kernel", "check_sigma", "delayed_linear_walk"]
