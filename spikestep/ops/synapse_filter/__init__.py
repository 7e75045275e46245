"""The synapse filter operator: ``I[t] = I[t-1] - (1 - x[t]) I[t-1] / tau + x[t]`` over a sequence.

One home for everything about it: the recurrence's pieces (:mod:`.math`), the plain reference
(:mod:`.reference`), the pure-PyTorch walk (:mod:`.torch_walk`), the numba kernels (:mod:`.numba_kernel`),
the Triton kernels (:mod:`.triton_kernel`) and the registered PyTorch operator (:mod:`.op`).
:func:`synapse_filter_walk` is the entry point the functional core calls.
"""

from __future__ import annotations

import torch

from . import math
from .op import synapse_filter, walk
from .reference import reference_walk


def _fusable(x_seq: torch.Tensor, state: torch.Tensor, k: torch.Tensor) -> bool:
    """The walk covers floating ``x`` with ``state`` and ``k`` of its dtype and device that broadcast
    to one step of ``x``; anything else runs the reference loop, with its semantics."""
    if not x_seq.is_floating_point() or x_seq.dim() < 1 or x_seq.shape[0] == 0:
        return False
    step_shape = x_seq.shape[1:]
    for t in (state, k):
        if t.dtype != x_seq.dtype or t.device != x_seq.device:
            return False
        if t.shape != step_shape:  # the common case skips broadcast_shapes, slow for small tensors
            try:
                if torch.broadcast_shapes(t.shape, step_shape) != step_shape:
                    return False
            except RuntimeError:
                return False
    return True


def synapse_filter_walk(
    x_seq: torch.Tensor, state: torch.Tensor, k: torch.Tensor, backend: str = "auto"
) -> torch.Tensor:
    """``I [T, ...]`` for ``x_seq [T, ...]``, ``state`` (``I[-1]``, broadcasts to ``[...]``) and
    ``k = 1/tau`` (a tensor that broadcasts to ``[...]``: one value, one per channel or one per element;
    gradients flow to it). ``backend`` (``'auto'``, ``'numba'``, ``'triton'``, ``'torch'``) overrides
    ``ops.use_backend``.

    Example::

        >>> import torch
        >>> from spikestep.ops.synapse_filter import synapse_filter_walk
        >>> synapse_filter_walk(torch.tensor([[1.0], [0.0], [0.0]]), torch.zeros(1), torch.tensor(0.5)).flatten()
        tensor([1.0000, 0.5000, 0.2500])
    """
    if not _fusable(x_seq, state, k):
        return reference_walk(x_seq, state, k)
    x = x_seq.contiguous()
    if state.shape != x.shape[1:]:
        state = state.expand(x.shape[1:])  # autograd sums the gradient back to the state's own shape
    return walk(x, state.contiguous(), k, backend)


__all__ = ["math", "reference_walk", "synapse_filter", "synapse_filter_walk"]
