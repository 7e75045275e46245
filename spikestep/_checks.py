"""Argument checks shared by the layers and neurons: each says what was wrong and how to fix it."""

from __future__ import annotations

import math
import numbers


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
