"""The delayed linear map, written once: each synapse's kernel over the lags, and its derivatives.

.. math::
    y_j[t] = \\sum_i \\sum_{k=0}^{D} w_{ij} \\, g_k(d_{ij}) \\, x_i[t - k]

with ``D = max_delay``, a learnable weight ``w_ij`` and a learnable real delay ``d_ij`` in ``[0, D]``
per synapse. ``g_k(d)`` spreads the synapse over the lags ``k = 0 .. D``; three kernels:

* ``'gauss'`` (DCLS-delays, Hammouamri et al., ICLR 2024; ``dcls.Dcls1d`` version ``'gauss'``): one
  Gaussian bump of width ``sigma`` at ``d``, normalised as dcls does,

  .. math::
      e_k = \\exp\\left(-\\tfrac12 \\left(\\tfrac{k - d}{\\sigma}\\right)^2\\right), \\qquad
      g_k = \\frac{e_k}{\\sum_m e_m + 10^{-7}}, \\qquad
      \\frac{\\partial g_k}{\\partial d} = g_k \\left(v_k - \\sum_m g_m v_m\\right), \\;
      v_k = \\frac{k - d}{\\sigma^2}

  (an ``e_k`` below the dtype's ``eps^2`` counts as 0, see :func:`gauss_taps`: it keeps the kernel
  out of the subnormal numbers that slow a narrow Gaussian's convolution down 4-5x);

* ``'linear'`` (two taps, dcls version ``'v1'`` without its ``1e-7``): ``1 - f`` at ``k0`` and ``f`` at
  ``k0 + 1``, with ``k0 = min(floor(d), D - 1)`` and ``f = d - k0``; ``dg/dd = (-1, +1)`` on the two
  taps (the derivative from the right at whole ``d``). With ``D = 0`` it is the one tap at lag 0;
* ``'round'`` (one tap): ``1`` at ``round(d)`` (``torch.round``: halves to even), exact integer delays;
  its derivative in ``d`` is 0 (piecewise constant).

The operator's walks call these functions: the torch path builds the dense kernel ``[O, I, D+1]`` and
chains the kernel's gradient through :func:`gauss_param_grads` / :func:`sparse_param_grads`; the numba
path takes :func:`sparse_taps` and hands its dot products to :func:`sparse_param_grads`.
"""

from __future__ import annotations

import torch

KERNELS = ("gauss", "linear", "round")

# dcls divides by (sum + 1e-7) (ConstructKernel1d.forward_vgauss): the same guard, so both agree.
EPS = 1e-7
# The narrowest Gaussian: below it every tap but the nearest is under eps^2 (and dropped), and at a
# half-step delay all of them are (an all-zero kernel). dcls's own floor is 0.27; use 'linear' for less.
MIN_SIGMA = 0.25


def n_sparse_taps(kernel: str, max_delay: int) -> int:
    """Non-zero taps per synapse of a sparse kernel: 2 for ``'linear'`` (1 when ``max_delay`` is 0), 1
    for ``'round'``."""
    return 2 if kernel == "linear" and max_delay > 0 else 1


def _lags(n_taps: int, like: torch.Tensor) -> torch.Tensor:
    return torch.arange(n_taps, dtype=like.dtype, device=like.device)


def gauss_taps(delay: torch.Tensor, sigma: float, max_delay: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(g, v)``, both ``[..., D+1]``: the normalised Gaussian ``g_k`` of each delay and
    ``v_k = (k - d) / sigma^2`` (for the derivative)."""
    diff = _lags(max_delay + 1, delay) - delay.unsqueeze(-1)
    u = diff / sigma
    e = torch.exp(-0.5 * u * u)
    # Taps below eps^2 (float32: 1.4e-14; the peak is near 1) are dropped: far below the dtype's
    # rounding, and a narrow Gaussian (sigma 0.5 at the end of the DCLS schedule) otherwise leaves a tap
    # or two per synapse in float32's subnormal range, where the convolution ran 5x slower (measured;
    # Dcls1d keeps them and pays that).
    e = torch.where(e >= torch.finfo(e.dtype).eps ** 2, e, 0.0)
    g = e / (e.sum(-1, keepdim=True) + EPS)
    return g, diff / (sigma * sigma)


# The sparse kernels' pieces below take torch tensors or numpy arrays alike (only operators and methods
# both have: ``//``, ``.clip``, ``.round``), so the numba path computes its taps from these same lines
# in numpy, single-threaded (torch's OpenMP team costs a scheduler slice per small operation when other
# processes hold the cores; see ``spikestep/_runtime/thread_policy.py``). Lags come back as floats.


def linear_taps(delay, max_delay):  # type: ignore[no-untyped-def]
    """``(k0, f)``: the first tap's lag ``min(floor(d), D - 1)`` (a float) and the second tap's share
    ``f = d - k0``."""
    k0 = (delay // 1).clip(0, max(max_delay - 1, 0))
    return k0, delay - k0


def round_taps(delay, max_delay):  # type: ignore[no-untyped-def]
    """The one tap's lag (a float): ``round(d)``, halves to even."""
    return delay.round().clip(0, max_delay)


def dense_kernel(
    weight: torch.Tensor, delay: torch.Tensor, sigma: float, kernel: str, max_delay: int
) -> torch.Tensor:
    """``w_ij g_k(d_ij)`` as a dense ``[O, I, D+1]`` tensor (lag ``k`` last)."""
    if kernel == "gauss":
        return weight.unsqueeze(-1) * gauss_taps(delay, sigma, max_delay)[0]
    out = weight.new_zeros((*weight.shape, max_delay + 1))
    lag, c0, c1 = sparse_taps(weight, delay, kernel, max_delay)
    index = lag.long().unsqueeze(-1)
    out.scatter_(-1, index, c0.unsqueeze(-1))
    if c1 is not None:
        out.scatter_(-1, index + 1, c1.unsqueeze(-1))
    return out


def sparse_taps(weight, delay, kernel, max_delay):  # type: ignore[no-untyped-def]
    """``(lag, c0, c1)`` of a sparse kernel (tensors or arrays ``[O, I]``): the first tap's lag (a
    float), its coefficient ``w g`` and the second tap's (at ``lag + 1``; None for one tap)."""
    if kernel == "round":
        return round_taps(delay, max_delay), weight, None
    if n_sparse_taps(kernel, max_delay) == 1:  # 'linear' with max_delay 0: the one lag 0
        return delay * 0, weight, None
    k0, f = linear_taps(delay, max_delay)
    return k0, weight * (1 - f), weight * f


def gauss_param_grads(
    grad_kernel: torch.Tensor, weight: torch.Tensor, delay: torch.Tensor, sigma: float, max_delay: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(grad_weight, grad_delay)`` from the dense kernel's gradient ``[O, I, D+1]`` (Gaussian kernel):
    ``dL/dw = sum_k G_k g_k``, ``dL/dd = w (sum_k G_k g_k v_k - dL/dw sum_m g_m v_m)``."""
    g, v = gauss_taps(delay, sigma, max_delay)
    gg = grad_kernel * g
    grad_weight = gg.sum(-1)
    grad_delay = weight * ((gg * v).sum(-1) - grad_weight * (g * v).sum(-1))
    return grad_weight, grad_delay


def sparse_param_grads(s0, s1, weight, delay, kernel, max_delay):  # type: ignore[no-untyped-def]
    """``(grad_weight, grad_delay)`` of a sparse kernel from ``s0``, ``s1``: the loss's gradient with
    respect to the kernel at the first and second tap (the dot product of the output's gradient with
    the input at that lag). Linear: ``dL/dw = (1 - f) s0 + f s1``, ``dL/dd = w (s1 - s0)``; round and
    one tap: ``dL/dw = s0``, ``dL/dd = 0``. Tensors or arrays."""
    if s1 is None:
        return s0, delay * 0
    f = linear_taps(delay, max_delay)[1]
    return s0 + f * (s1 - s0), weight * (s1 - s0)


def check_delays(delay: torch.Tensor, max_delay: int, owner: str) -> None:
    """Refuse delays that are not finite or lie outside ``[0, max_delay]`` (``ValueError``)."""
    if delay.numel() == 0:
        return
    d = delay.detach()
    low, high = float(d.min()), float(d.max())
    if not (low >= 0.0 and high <= max_delay):  # NaN fails both comparisons
        raise ValueError(
            f"{owner}: every delay must be a finite number in [0, max_delay] = [0, {max_delay}] time steps, "
            f"got values from {low} to {high}. An optimiser step can push them out: call "
            f"layer.clamp_delays() after each step (the DCLS recipe clamps its positions the same way)"
        )
