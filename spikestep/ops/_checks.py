"""Argument checks the operators' checked entry points share: each error names the operator, what was
wrong and how to fix it. Only the checks that read the same in every operator live here; the shape
checks differ per operator and stay in its ``checked.py``."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import torch


def check_tensors(owner: str, tensors: Mapping[str, object], cast_hint: str, ref: str = "x") -> None:
    """Refuse arguments that are not tensors (``TypeError``), a non-floating ``tensors[ref]``
    (``TypeError``, with ``cast_hint`` as the fix) and tensors of another dtype (``TypeError``) or
    device (``ValueError``) than ``tensors[ref]``, in that order, each pass in the mapping's order."""
    checked: dict[str, torch.Tensor] = {}
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{owner}: {name} must be a torch.Tensor, got {type(t).__name__}")
        checked[name] = t
    x = checked[ref]
    if not x.is_floating_point():
        raise TypeError(f"{owner}: {ref} must be floating ({cast_hint}), got {x.dtype}")
    for name, t in checked.items():
        if t.dtype != x.dtype:
            raise TypeError(
                f"{owner}: {name} is {t.dtype}, {ref} is {x.dtype}; give every tensor one floating dtype"
            )
        if t.device != x.device:
            raise ValueError(f"{owner}: {name} is on {t.device}, {ref} on {x.device}; put them on one device")


def check_real(
    value: object,
    owner: str,
    name: str,
    minimum: float,
    *,
    above: bool = False,
    type_note: str = "",
    value_note: str = "",
    fix: str = "",
) -> float:
    """``value`` as a float if it is a real number (not a bool: a flag passed by mistake), finite and
    ``>= minimum`` (``> minimum`` with ``above``); else ``TypeError`` or ``ValueError``, both stating the bound.
    ``type_note`` follows the bound in the type error and ``value_note`` in the value error (e.g.
    ``" (time steps)"``); ``fix`` ends the value error (what to do instead)."""
    bound = f"{'>' if above else '>='} {minimum}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{owner}: {name} must be a real number {bound}{type_note}, got {type(value).__name__} {value!r}"
        )
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float: beyond any finite bound
        number = math.inf
    if not (math.isfinite(number) and (number > minimum if above else number >= minimum)):
        raise ValueError(f"{owner}: {name} must be a finite number {bound}{value_note}, got {number}{fix}")
    return number + 0.0  # -0.0 becomes 0.0
