"""The plain reference: one autograd step after another, for the tests and for inputs no walk covers."""

from __future__ import annotations

import torch

from .math import step


def reference_walk(x_seq: torch.Tensor, state: torch.Tensor, k: torch.Tensor | float) -> torch.Tensor:
    """``I [T, ...]`` from ``x_seq [T, ...]``, ``state`` (``I[-1]``) and ``k = 1/tau``, step by step."""
    outputs = []
    for x in x_seq:
        state = step(x, state, k)
        outputs.append(state)
    if not outputs:
        return torch.empty_like(x_seq)
    return torch.stack(outputs)
