"""Checks for the layers that extend torch's (Linear, Conv, BatchNorm, pooling, Flatten).

torch leaves many bad arguments to the first forward call, or fails deep inside with a ``RuntimeError``
(``Linear(-1, 3)``: "Trying to create tensor with negative dimension"; ``MaxPool2d(0)``: "stride should
not be zero" at the first call). These checks refuse them in the constructor with a ``ValueError`` or
``TypeError`` that names the layer and the argument, and check a call's input against the layer (its
rank, channels, size, dtype and device) before torch sees it.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Iterator, Sequence

import torch

from .._checks import check_bool

_INT64_MAX = 2**63 - 1


def count(value: object, name: str, owner: str, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum`` (a bool is not an int here)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int >= {minimum}, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}, got {value}")
    if value > _INT64_MAX:
        raise ValueError(f"{owner}: {name} must be below 2**63 (a size torch can hold), got {value}")
    return int(value)


def sizes(value: object, n: int, name: str, owner: str, minimum: int = 1) -> int | tuple[int, ...]:
    """An int ``>= minimum``, or ``n`` of them (one per spatial dimension) as a tuple."""
    if n > 1 and isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(
                f"{owner}: {name} must be an int or {n} ints (one per spatial dimension), got {value!r}"
            )
        return tuple(count(v, name, owner, minimum) for v in value)
    if n == 1 and isinstance(value, (tuple, list)) and len(value) == 1:
        return (count(value[0], name, owner, minimum),)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        wanted = f"an int >= {minimum}" + (f" or a tuple of {n} of them" if n > 1 else "")
        raise TypeError(f"{owner}: {name} must be {wanted}, got {type(value).__name__} {value!r}")
    return count(value, name, owner, minimum)


def each(value: int | tuple[int, ...], n: int) -> tuple[int, ...]:
    return value if isinstance(value, tuple) else (value,) * n


def non_negative_real(value: object, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number >= 0, got {type(value).__name__} {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{owner}: {name} must be a finite number >= 0, got {value}")
    return value


def momentum(value: object, owner: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{owner}: momentum must be a real number in [0, 1] or None (a cumulative average), got "
            f"{type(value).__name__} {value!r}"
        )
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}: momentum must be in [0, 1] or None (a cumulative average), got {value}")
    return value


def flag(value: object, name: str, owner: str) -> bool:
    return check_bool(value, name, owner)


def dim(value: object, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int (a dimension), got {type(value).__name__} {value!r}")
    return int(value)


def factory(device: object, dtype: object, owner: str) -> None:
    """``device`` and ``dtype`` of the layer's parameters: None, or ones this machine can make."""
    if dtype is not None:
        if not isinstance(dtype, torch.dtype):
            raise TypeError(
                f"{owner}: dtype must be a torch.dtype (e.g. torch.float32) or None, got "
                f"{type(dtype).__name__} {dtype!r}"
            )
        if not dtype.is_floating_point:
            raise TypeError(f"{owner}: dtype must be a floating dtype (of the parameters), got {dtype}")
    if device is None:
        return
    if not isinstance(device, (str, torch.device)):
        raise TypeError(
            f"{owner}: device must be a str or torch.device (e.g. 'cpu', 'cuda:0') or None, got "
            f"{type(device).__name__} {device!r}"
        )
    try:
        torch.empty(0, device=device)
    except Exception as e:  # torch says it in many ways: RuntimeError, AssertionError, NotImplementedError
        raise ValueError(
            f"{owner}: device {device!r} cannot be used here ({type(e).__name__}: {e})"
        ) from None


@contextlib.contextmanager
def allocating(owner: str) -> Iterator[None]:
    """Around torch's constructor, once the sizes are checked: sizes too large to allocate are the
    arguments' fault, said as a ``ValueError``."""
    try:
        yield
    except RuntimeError as e:
        text = str(e)
        if "allocate" in text or "overflow" in text:
            raise ValueError(
                f"{owner}: its parameters for these sizes cannot be allocated ({text.splitlines()[0]}); give "
                f"smaller sizes"
            ) from None
        raise


# ------------------------------------------------------------------------------------------ the input


def rank(step: Sequence[int], ranks: tuple[int, ...], layout: str, owner: str) -> None:
    if len(step) not in ranks:
        wanted = " or ".join(f"{r}-d" for r in ranks)
        raise ValueError(f"{owner} expects one step {layout} ({wanted}), got shape {tuple(step)}")


def non_batch_dims(step: Sequence[int], first: int, layout: str, owner: str) -> None:
    """Every dimension from ``first`` on holds something (an empty batch is fine)."""
    if any(s == 0 for s in step[first:]):
        raise ValueError(
            f"{owner} expects one step {layout} with no empty dimension other than the batch, got shape "
            f"{tuple(step)}"
        )


def matches(value: int, expected: int, what: str, step: Sequence[int], owner: str) -> None:
    if value != expected:
        raise ValueError(
            f"{owner}: the input has {value} {what} (shape {tuple(step)}), the layer expects {expected}"
        )


def pooled_size(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """The output length of a pooling window over ``size`` elements, as torch computes it."""
    out = (size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1  # the last window must start inside the input or its left padding
    return out


def same_device_and_dtype(
    x: torch.Tensor, params: Sequence[torch.Tensor], owner: str, mixed_ok: bool
) -> None:
    """The input on the parameters' device and in their dtype (``mixed_ok``: float16/bfloat16 inputs to
    float32 parameters, which torch's batch norm computes)."""
    floating = [t for t in params if t.is_floating_point()]
    if not floating:
        return
    p = floating[0]
    if x.device != p.device:
        raise ValueError(
            f"{owner}: the input is on {x.device}, the layer's parameters on {p.device}; move one to the "
            f"other (layer.to({str(x.device)!r}) or x.to({str(p.device)!r}))"
        )
    if x.dtype == p.dtype or (mixed_ok and p.dtype == torch.float32 and x.dtype in _HALF):
        return
    raise TypeError(
        f"{owner} computes in its parameters' dtype {p.dtype}, but the input is {x.dtype}; convert one to the "
        f"other (x.to({p.dtype}) or layer.to({x.dtype}))"
    )


_HALF = (torch.float16, torch.bfloat16)
