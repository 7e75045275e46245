"""Per-channel learnable delays, written once: the kernel over the lags, its two forms, and its derivatives.

.. math::
    y[t, n, k, c] = \\sum_{j=0}^{D} g_j(d_{kc}) \\, z[D + t - j, n, c], \\qquad
    z = \\mathrm{cat}(\\mathit{held}, x)

for ``x [T, N, C]``, ``held [D, N, C]`` (the ``D = max_delay`` inputs before ``x``, oldest first) and
``K`` real delays per channel ``d [K, C]``, each clamped to ``[0, D]`` (outside that range the delay's
gradient is 0, as ``torch.clamp``'s is). ``g`` is the DCLS-delays Gaussian of width ``sigma`` for
``sigma > 0`` (:func:`~spikestep.ops.delayed_linear.math.gauss_taps`: the one definition, shared with
``DelayedLinear`` and normalised as ``dcls`` does) and linear interpolation for ``sigma = 0``:

* ``sigma = 0``, two taps (:func:`~spikestep.ops.delayed_linear.math.linear_taps`): with
  ``k0 = min(floor(d), D - 1)`` and ``f = d - k0``,
  ``y = (1 - f) z[D + t - k0] + f z[D + t - k0 - 1]`` (exact for an integer ``d``), and
  ``dy/dd = z[D + t - k0 - 1] - z[D + t - k0]`` (from the right at whole ``d``). The cost does not
  grow with ``D``.
* ``sigma > 0``, ``D + 1`` taps: ``y`` is the dense sum above, and the delay's gradient comes from the
  taps' gradient ``G_j = dL/dg_j`` through the Gaussian,
  ``dL/dd = sum_j G_j g_j (v_j - sum_m g_m v_m)``, ``v_j = (j - d) / sigma^2``
  (:func:`~spikestep.ops.delayed_linear.math.gauss_param_grads` with weight 1).

``D = 0`` is the identity (``y = x`` for every ``k``, whatever ``sigma``; the delay's gradient is 0). A
NaN delay touches its own column only, and is never an index out of range: the two taps read lag 0 with
NaN coefficients (NaN outputs); the Gaussian drops every tap that is not ``>= eps^2``, so its kernel is
all zeros (zero outputs).

The walks call these functions: they take the taps from :func:`sparse_taps` / :func:`dense_taps` and hand
what they sum back to :func:`sparse_delay_grad` / :func:`dense_delay_grad`; :func:`two_taps` is the one
multiply-add of the sparse form, compiled into the numba and Triton kernels.
"""

from __future__ import annotations

import torch

from ..._runtime import numba_jit
from ..delayed_linear.math import gauss_param_grads, gauss_taps, linear_taps


@numba_jit.jitable
def two_taps(z0, z1, a0, a1):  # type: ignore[no-untyped-def]
    """``y = a0 z0 + a1 z1``: the sparse form's output, ``a0 = 1 - f`` at lag ``k0``, ``a1 = f`` at ``k0 + 1``."""
    return a0 * z0 + a1 * z1


# The sparse form's pieces below take torch tensors (``xp=torch``) or numpy arrays (``xp=numpy``) alike, as
# delayed_linear's ``linear_taps`` does: the numba path computes its taps in numpy, a few microseconds
# against a few torch operations' dispatch each (which a single step would feel).


def clamped(delay, max_delay):  # type: ignore[no-untyped-def]
    """The delays the kernel uses: ``delay`` clamped to ``[0, max_delay]`` (NaN stays NaN)."""
    return delay.clip(0.0, float(max_delay))


@numba_jit.jitable
def in_range(delay, max_delay):  # type: ignore[no-untyped-def]
    """Where the delay's gradient passes: ``0 <= delay <= max_delay`` (``torch.clamp``'s rule); tensors,
    arrays, or one value in a numba kernel."""
    return (delay >= 0.0) & (delay <= max_delay)


def sparse_taps(delay, max_delay, xp=torch):  # type: ignore[no-untyped-def]
    """``(k0, a0, a1)`` for ``sigma = 0`` and ``max_delay >= 1``, each of ``delay``'s shape and dtype: the
    first tap's lag ``k0`` (a float in ``[0, D - 1]``; 0 for a NaN delay, whose coefficients are NaN) and
    the coefficients ``a0 = 1 - f``, ``a1 = f``."""
    d = clamped(delay, max_delay)
    k0 = linear_taps(d, max_delay)[0]
    k0 = xp.where(k0 == k0, k0, 0.0)  # NaN -> lag 0: the coefficients stay NaN, the index in range
    f = d - k0
    return k0, 1.0 - f, f


def dense_taps(delay: torch.Tensor, max_delay: int, sigma: float) -> torch.Tensor:
    """``g [..., D + 1]`` for ``sigma > 0``: the Gaussian over the lags of each (clamped) delay of
    ``delay [...]``, lag ``j`` last."""
    return gauss_taps(clamped(delay, max_delay), sigma, max_delay)[0]


def sparse_delay_grad(dot: torch.Tensor, delay: torch.Tensor, max_delay: int) -> torch.Tensor:
    """The delay's gradient for ``sigma = 0`` from ``dot = sum_{t, n} dL/dy (z[lag k0 + 1] - z[lag k0])``:
    ``dot`` where the delay is in range (:func:`in_range`), else 0 (the numba kernels apply
    :func:`in_range` themselves)."""
    return torch.where(in_range(delay, max_delay), dot, 0.0)


def dense_delay_grad(
    grad_taps: torch.Tensor, delay: torch.Tensor, max_delay: int, sigma: float
) -> torch.Tensor:
    """The delay's gradient for ``sigma > 0`` from the taps' gradient ``grad_taps [..., D + 1]``
    (``dL/dg_j``, any dtype; returned in ``delay``'s): the chain rule through the Gaussian."""
    d = clamped(delay, max_delay).to(grad_taps.dtype)
    _, grad = gauss_param_grads(grad_taps, d.new_ones(()), d, sigma, max_delay)
    return torch.where(in_range(delay, max_delay), grad.to(delay.dtype), 0.0)


__all__ = [
    "clamped",
    "dense_delay_grad",
    "dense_taps",
    "in_range",
    "sparse_delay_grad",
    "sparse_taps",
    "two_taps",
]
