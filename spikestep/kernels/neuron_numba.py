"""Numba kernel of the fused neuron walk (placeholder until the numba kernel lands: never selected)."""

from __future__ import annotations

from typing import Any

import torch


def unsupported_reason(
    x_seq: torch.Tensor, v0: torch.Tensor, inv_tau: Any, surrogate_function: Any
) -> str | None:
    """Why the numba kernel cannot run this call, or None when it can."""
    return "the numba neuron kernel is not built yet"


def neuron_walk_numba(*args: Any) -> tuple[torch.Tensor, torch.Tensor]:
    raise NotImplementedError("the numba neuron kernel is not built yet")


def numba_unavailable_reason() -> str | None:
    return "the numba neuron kernel is not built yet"
