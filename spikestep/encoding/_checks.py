"""Argument checks shared by the encoders."""

from __future__ import annotations

import numbers

import torch


def check_num_steps(T: object, owner: str) -> int:
    """Return ``T`` if it is an ``int >= 1``; raise ``TypeError``/``ValueError`` otherwise."""
    if isinstance(T, bool) or not isinstance(T, numbers.Integral):
        raise TypeError(
            f"{owner}: T must be an int >= 1 (a number of time steps), got {type(T).__name__} {T!r}"
        )
    if T < 1:
        raise ValueError(f"{owner}: T must be an int >= 1 (a number of time steps), got {T}")
    return int(T)


def check_unit_interval(x: object, owner: str) -> torch.Tensor:
    """Return ``x`` if it is a real tensor with every value in ``[0, 1]``; else raise with the range seen."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{owner} expects a torch.Tensor with values in [0, 1], got {type(x).__name__}")
    if x.is_complex():
        raise TypeError(f"{owner} expects real values in [0, 1], got a {x.dtype} tensor")
    if x.numel() == 0:
        return x
    in_range = ((x >= 0) & (x <= 1)).all()  # NaN fails both comparisons, so it is caught too
    if torch.compiler.is_compiling():
        # A compiled graph cannot branch on the data (that would break the graph): the check runs as an
        # assertion inside the graph instead, a RuntimeError at run time for a value outside [0, 1].
        torch._assert_async(in_range, f"{owner} expects values in [0, 1]")
        return x
    # One reduction (one device sync).
    if not bool(in_range):
        values = x.detach().double()
        nan = bool(values.isnan().any())
        finite = values[~values.isnan()]
        seen = (
            f"values in [{finite.min().item():g}, {finite.max().item():g}]"
            if finite.numel()
            else "no numbers"
        )
        raise ValueError(
            f"{owner} expects values in [0, 1] (one firing probability or intensity per element), got {seen}"
            f"{' and NaN' if nan else ''}. Scale the input first, e.g. x = (x - x.min()) / (x.max() - x.min())."
        )
    return x


def spike_dtype(x: torch.Tensor) -> torch.dtype:
    """Spikes come out in ``x``'s dtype when it is floating point, else in the default float dtype."""
    return x.dtype if x.is_floating_point() else torch.get_default_dtype()
