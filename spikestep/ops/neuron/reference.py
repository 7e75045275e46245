"""The plain reference: the spec's recurrence, one autograd step after another (tests use it)."""

from __future__ import annotations

from collections.abc import Callable

import torch


def reference_step(
    x: torch.Tensor,
    v: torch.Tensor,
    a: torch.Tensor | float,
    b: torch.Tensor | float,
    c: torch.Tensor | float,
    v_threshold: float,
    v_reset: float | None,
    surrogate_function: Callable[[torch.Tensor], torch.Tensor],
    detach_reset: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(S, V)`` of one step, written as the textbook formulas (reset as ``H (1 - S) + V_reset S``)."""
    h = a * v + b * x + c
    s = surrogate_function(h - v_threshold)
    s_reset = s.detach() if detach_reset else s
    if v_reset is None:
        return s, h - s_reset * v_threshold
    return s, h * (1.0 - s_reset) + s_reset * v_reset


def reference_walk(
    x_seq: torch.Tensor, v: torch.Tensor, *args: object, **kwargs: object
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(S [T, ...], V [T, ...])`` by :func:`reference_step` over time, autograd through all."""
    spikes, membranes = [], []
    for x in x_seq:
        s, v = reference_step(x, v, *args, **kwargs)  # type: ignore[arg-type]
        spikes.append(s)
        membranes.append(v)
    return torch.stack(spikes), torch.stack(membranes)
