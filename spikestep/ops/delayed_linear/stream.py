"""The delayed linear map over a stream: ``[T, ..., I]`` sequences, and the held inputs carried between
calls (the functional form the layer ``spikestep.layer.DelayedLinear`` calls).

The last ``D = max_delay`` inputs are all the state there is: each call takes them (``held``, oldest
first; zeros at the start of a sequence) with the new inputs, and hands back the last ``D`` inputs for
the next call, so a sequence fed in chunks of any length (single steps included) gives what the whole
sequence gives, forward and backward.
"""

from __future__ import annotations

import math

import torch

from ..._runtime.held_inputs import last_steps
from .checked import delayed_linear_walk


def delayed_linear(
    x_seq: torch.Tensor,
    weight: torch.Tensor,
    delay: torch.Tensor,
    held: torch.Tensor,
    sigma: float = 1.0,
    kernel: str = "gauss",
    bias: torch.Tensor | None = None,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """One call over a chunk: ``(y_seq, next held)``.

    .. math::
        y_j[t] = \\sum_i \\sum_{k=0}^{D} w_{ij} \\, g_k(d_{ij}) \\, x_i[t - k] + b_j

    Shapes: ``x_seq [T, ..., I]`` (any batch dimensions), ``held [D, ..., I]`` (the ``D`` inputs before
    ``x_seq``, oldest first), ``weight`` and ``delay [O, I]``, ``bias [O]`` or None; ``y_seq [T, ..., O]``
    and the next held ``[D, ..., I]``. All floating, of one dtype and device. The kernel ``g`` is
    ``'gauss'`` (width ``sigma``), ``'linear'`` or ``'round'`` (see
    :mod:`spikestep.ops.delayed_linear.math`).

    Example::

        >>> import torch
        >>> from spikestep.ops.delayed_linear.stream import delayed_linear
        >>> w, d = torch.ones(1, 1), torch.full((1, 1), 2.0)
        >>> y, held = delayed_linear(torch.tensor([[1.0], [0.0]]), w, d, torch.zeros(2, 1), kernel="round")
        >>> y.flatten(), held.flatten()
        (tensor([0., 0.]), tensor([1., 0.]))
        >>> delayed_linear(torch.tensor([[0.0]]), w, d, held, kernel="round")[0].flatten()  # carries on
        tensor([1.])
    """
    if x_seq.dim() < 2 or held.dim() != x_seq.dim() or held.shape[1:] != x_seq.shape[1:]:
        raise ValueError(
            f"delayed_linear: x_seq must be [T, ..., I] and held [D, ..., I] with the same [..., I], got "
            f"shapes {tuple(x_seq.shape)} and {tuple(held.shape)}"
        )
    t, d, step = x_seq.shape[0], held.shape[0], x_seq.shape[1:]
    n = math.prod(step[:-1])
    y = delayed_linear_walk(
        held.reshape(d, n, step[-1]), x_seq.reshape(t, n, step[-1]), weight, delay, sigma, kernel, backend
    )
    if bias is not None:
        y = y + bias
    return y.reshape(t, *step[:-1], weight.shape[0]), last_steps(held, x_seq)
