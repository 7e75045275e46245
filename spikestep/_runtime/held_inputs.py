"""The one definition of what a delay line carries between calls: its last ``D`` inputs."""

from __future__ import annotations

import torch


def last_steps(held: torch.Tensor, x_seq: torch.Tensor) -> torch.Tensor:
    """The last ``D`` inputs once ``x_seq`` ``[T, ...]`` has followed ``held`` ``[D, ...]`` (oldest first):
    a new tensor of exactly ``D`` steps that shares no storage with either, so a module that keeps it
    holds ``D`` steps, not a view of a whole chunk, and a caller's later in-place change of its input never
    reaches it. Gradients flow through.

    Example::

        >>> import torch
        >>> from spikestep._runtime.held_inputs import last_steps
        >>> last_steps(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0])).tolist()
        [2.0, 3.0, 4.0]
        >>> last_steps(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0, 5.0])).tolist()
        [4.0, 5.0]
    """
    d, t = held.shape[0], x_seq.shape[0]
    if t < d:
        return torch.cat((held[t:], x_seq))
    return x_seq[t - d :].clone()
