"""One definition of an elementwise function, run by every backend.

What varies between models (a surrogate's derivative, for example) is written once, as a plain Python
function of its arguments that uses only arithmetic operators, comparisons and the few names below.
Each backend gives those names its own meaning:

============  ==========================  ============================  ================================
name          torch (tensors)             numba (scalars in a kernel)   Triton (blocks in a kernel)
============  ==========================  ============================  ================================
``div``       ``torch.true_divide``       ``np.true_divide``            IEEE ``div_rn`` (float32)
``exp``       ``torch.exp``               ``math.exp``                  libdevice ``exp``
``absolute``  ``torch.abs``               ``abs``                       ``tl.abs``
``where``     ``torch.where``             ``a if cond else b``          ``tl.where``
============  ==========================  ============================  ================================

The function is then used as it is (torch), compiled into the numba kernels, or compiled into the Triton
kernels, by :func:`rebind`-ing those names. Constants reach it as arguments (``one`` included), never as
float literals: numba types a literal as float64 and would promote float32 arithmetic, and Triton's ``/``
is an approximate division. So the three backends do the same IEEE operations in the same order.

Example::

    >>> import torch
    >>> from spikestep._runtime import elementwise
    >>> def halve_positive(x, one):
    ...     return where(x > one - one, div(x, one + one), one - one)
    >>> f = elementwise.for_torch(halve_positive)
    >>> f(torch.tensor([-1.0, 3.0]), torch.tensor(1.0))
    tensor([0.0000, 1.5000])
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import torch

NAMES = ("div", "exp", "absolute", "where")


def rebind(
    fn: Callable[..., Any], namespace: dict[str, Any], qualname: str | None = None
) -> Callable[..., Any]:
    """A copy of ``fn`` (same code) whose global names in ``namespace`` take the values given there."""
    globals_ = dict(fn.__globals__)
    globals_.update(namespace)
    copy = types.FunctionType(fn.__code__, globals_, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__annotations__ = dict(fn.__annotations__)  # Triton reads ``tl.constexpr`` parameters from them
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__qualname__ = qualname or fn.__qualname__
    copy.__module__ = fn.__module__
    copy.__doc__ = fn.__doc__
    return copy


TORCH_NAMESPACE: dict[str, Any] = {
    "div": torch.true_divide,
    "exp": torch.exp,
    "absolute": torch.abs,
    "where": torch.where,
}


def for_torch(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` on tensors (pass its constants as 0-d tensors of the compute dtype, see :func:`constants`)."""
    return rebind(fn, TORCH_NAMESPACE)


def constants(values: tuple[float, ...], like: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``values`` as 0-d tensors of ``like``'s dtype and device: each rounded once to the compute dtype,
    as the compiled kernels receive them, and combined with tensors by tensor-tensor operations (a Python
    number would give ``float / tensor``, which torch computes as a reciprocal times the number)."""
    return tuple(torch.tensor(v, dtype=like.dtype, device=like.device) for v in values)
