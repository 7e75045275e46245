"""Argument checks shared by the layers and neurons: each says what was wrong and how to fix it."""

from __future__ import annotations

import math
import numbers

import torch


def check_real(value: object, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite, got {value}")
    return value


def check_bool(value: object, name: str, owner: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def check_tau(tau: object, name: str, owner: str) -> float:
    tau = check_real(tau, name, owner)
    if tau <= 1.0:
        raise ValueError(
            f"{owner}: {name} must be > 1 (time steps), got {tau}: the state (membrane, current) keeps a "
            f"fraction 1 - 1/tau of itself per step, which needs tau > 1 to stay positive"
        )
    return tau


def check_tau_tensor(tau: object, name: str, owner: str) -> float | torch.Tensor:
    """A time constant: a real number, or a floating tensor (one per channel or per element) whose
    every entry is finite and > 1. A tensor comes back detached, as a new tensor of its own."""
    if not isinstance(tau, torch.Tensor):
        return check_tau(tau, name, owner)
    if not tau.is_floating_point():
        raise TypeError(
            f"{owner}: {name} must be a real number or a floating tensor (one time constant per channel or "
            f"element), got a {tau.dtype} tensor"
        )
    values = tau.detach()
    if values.numel() == 0:
        raise ValueError(f"{owner}: {name} is an empty tensor; give at least one time constant")
    if not bool(torch.isfinite(values).all()):
        raise ValueError(f"{owner}: every {name} must be finite, got {values.tolist()}")
    if not bool((values > 1.0).all()):
        raise ValueError(
            f"{owner}: every {name} must be > 1 (time steps), got a minimum of {values.min().item()}: the "
            f"state keeps a fraction 1 - 1/tau of itself per step, which needs tau > 1 to stay positive"
        )
    return values.clone()


def check_broadcasts_to_step(shape: torch.Size, step: torch.Size, name: str, owner: str) -> None:
    """Refuse a per-channel parameter whose ``shape`` does not broadcast to one step's ``step`` shape
    (without widening it): ``[C]`` fits ``[..., C]``, one value per element fits ``step`` itself."""
    fits = len(shape) <= len(step) and all(
        p in (1, s) for p, s in zip(reversed(shape), reversed(step), strict=False)
    )
    if not fits:
        raise ValueError(
            f"{owner}: {name} of shape {list(shape)} does not fit one step of the input, of shape "
            f"{list(step)}: give one value per channel of the last dimension ([{step[-1] if step else 1}]), "
            f"one per element ({list(step)}), or a float"
        )
