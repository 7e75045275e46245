"""The synapse filter, as pure functions: one step, and a whole sequence in one fused walk.

.. math::
    I[t] = I[t-1] - (1 - x[t]) \\frac{I[t-1]}{\\tau} + x[t]

Without an input spike (``x = 0``) the current decays by ``1/tau`` per step; with one (``x = 1``) it rises
by one and does not decay. The recurrence is defined once, in :mod:`spikestep.ops.synapse_filter.math`;
the single step applies it once and the multi-step walk (``spikestep.ops.synapse_filter``) over time.
"""

from __future__ import annotations

import torch

from .._checks import compute_dtype
from ..ops import synapse_filter as _op

InvTau = float | torch.Tensor


def _as_tensor(inv_tau: InvTau, like: torch.Tensor) -> torch.Tensor:
    if isinstance(inv_tau, torch.Tensor):
        return inv_tau.to(like.dtype)
    return torch.tensor(float(inv_tau), dtype=like.dtype, device=like.device)


def _floating(x: torch.Tensor, state: torch.Tensor, inv_tau: InvTau) -> tuple[torch.Tensor, torch.Tensor]:
    """Bool and integer spikes (and state) in the floating dtype of ``inv_tau``, else torch's default:
    they then give exactly what the same values as floats give."""
    dtype = compute_dtype(x, inv_tau)
    x = x if x.is_floating_point() else x.to(dtype)
    if isinstance(state, torch.Tensor) and not state.is_floating_point():
        state = state.to(x.dtype)
    return x, state


def synapse_filter_step(x: torch.Tensor, state: torch.Tensor, inv_tau: InvTau) -> torch.Tensor:
    """One step: ``I = state - (1 - x) * state * inv_tau + x``. Shapes: ``x`` and ``state`` ``[B, ...]``.

    ``inv_tau`` is ``1/tau``: a float, or a tensor that broadcasts against ``x``'s trailing dimensions
    (one value, one per channel, or one per element; ``sigmoid(w)`` of a learnable filter carries
    gradients).

    Example::

        >>> import torch
        >>> from spikestep.functional import synapse_filter_step
        >>> synapse_filter_step(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 2.0]), 0.5)
        tensor([1., 3.])
    """
    x, state = _floating(x, state, inv_tau)
    return _op.math.step(x, state, _as_tensor(inv_tau, x))


def synapse_filter_multi_step(
    x_seq: torch.Tensor, state: torch.Tensor, inv_tau: InvTau, backend: str = "auto"
) -> torch.Tensor:
    """All steps of a sequence: ``x_seq`` ``[T, B, ...]``, ``state`` ``[B, ...]`` (the current before
    ``x_seq[0]``); returns the currents ``[T, B, ...]``, whose last entry is the state to carry on. Bool
    and integer spikes are computed in the floating dtype of ``inv_tau``, else torch's default.

    Equal to ``T`` calls of :func:`synapse_filter_step`, but fused: one walk over time forward and one
    backward (the registered operator ``torch.ops.spikestep.synapse_filter``), with no per-step autograd
    graph. Gradients flow to ``x_seq``, to ``state`` and to a tensor ``inv_tau``. The backend is chosen
    by ``spikestep.ops`` (``backend`` or ``ops.use_backend`` force one).

    Example::

        >>> import torch
        >>> from spikestep.functional import synapse_filter_multi_step
        >>> synapse_filter_multi_step(torch.tensor([[1.0], [0.0], [0.0]]), torch.zeros(1), 0.5).flatten()
        tensor([1.0000, 0.5000, 0.2500])
    """
    x_seq, state = _floating(x_seq, state, inv_tau)
    return _op.synapse_filter_walk(x_seq, state, _as_tensor(inv_tau, x_seq), backend)
