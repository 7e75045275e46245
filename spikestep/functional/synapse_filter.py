"""The synapse filter recurrence, written once.

.. math::
    I[t] = I[t-1] - (1 - x[t]) \\frac{I[t-1]}{\\tau} + x[t]

Without an input spike (``x = 0``) the current decays by ``1/tau`` per step; with one (``x = 1``) it
rises by one and does not decay. Equivalently ``I[t] = a[t] I[t-1] + x[t]`` with the per-step factor
``a[t] = 1 - (1 - x[t]) / tau``, the form the fused multi-step walk uses.

The recurrence's pieces (``a[t]`` and ``I[t] = a[t] I[t-1] + x[t]``) are defined once, next to the
compiled kernels that also call them (``spikestep.kernels.synapse_filter``); the single step below is
those pieces applied to one step, and the fused multi-step walk applies them over time.
"""

from __future__ import annotations

import torch

from ..kernels.synapse_filter import _advance, _decay, synapse_filter_walk

InvTau = float | torch.Tensor


def synapse_filter_step(x: torch.Tensor, state: torch.Tensor, inv_tau: InvTau) -> torch.Tensor:
    """One step: ``I = state - (1 - x) * state * inv_tau + x``. Shapes: ``x`` and ``state`` ``[B, ...]``.

    ``inv_tau`` is ``1/tau``: a float, or a 0-d tensor (``sigmoid(w)`` of a learnable filter) through
    which gradients flow.

    Example::

        >>> import torch
        >>> from spikestep.functional import synapse_filter_step
        >>> synapse_filter_step(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 2.0]), 0.5)
        tensor([1., 3.])
    """
    return _advance(x, _decay(x, inv_tau, 1.0), state)


def synapse_filter_multi_step(x_seq: torch.Tensor, state: torch.Tensor, inv_tau: InvTau) -> torch.Tensor:
    """All steps of a sequence: ``x_seq`` ``[T, B, ...]``, ``state`` ``[B, ...]`` (the current before
    ``x_seq[0]``); returns the currents ``[T, B, ...]``, whose last entry is the state to carry on.

    Equal to ``T`` calls of :func:`synapse_filter_step`, but fused: one walk over time forward and one
    backward (``spikestep.kernels.synapse_filter``), with no per-step autograd graph. Gradients flow to
    ``x_seq``, to ``state`` (so across chunks, unless the caller detaches) and to a tensor ``inv_tau``.
    The backend (compiled numba kernel on the CPU, or pure PyTorch) is chosen by ``spikestep.kernels``;
    force one with ``spikestep.kernels.use_backend``.

    Example::

        >>> import torch
        >>> from spikestep.functional import synapse_filter_multi_step
        >>> synapse_filter_multi_step(torch.tensor([[1.0], [0.0], [0.0]]), torch.zeros(1), 0.5).flatten()
        tensor([1.0000, 0.5000, 0.2500])
    """
    return synapse_filter_walk(x_seq, state, inv_tau)
