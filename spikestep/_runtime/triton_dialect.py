"""The meaning of :mod:`.elementwise`'s names inside Triton kernels (this module imports Triton).

Imported only through ``triton_jit.load``. IEEE operations, as PyTorch's own CUDA kernels compute them:
``div`` is ``div_rn`` for float32 (Triton's ``/`` is an approximate division there) and ``exp`` is
libdevice's ``exp`` (``expf``); under Triton's CPU interpreter, which has no libdevice, numpy's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import triton
import triton.language as tl

from . import elementwise
from .triton_jit import interpreting

try:
    from triton.language.extra import libdevice  # Triton >= 3.0
except ImportError:  # pragma: no cover - older Triton
    libdevice = tl.extra.cuda.libdevice

_INTERPRETING = tl.constexpr(interpreting())


@triton.jit
def div(a, b):
    # Both as blocks of one shape (div_rn does not broadcast a scalar).
    a2 = a + tl.zeros_like(b)
    b2 = b + tl.zeros_like(a)
    if a2.dtype == tl.float32:
        q = tl.math.div_rn(a2, b2)
    else:
        q = a2 / b2
    return q


@triton.jit
def exp(x):
    if _INTERPRETING:
        y = tl.exp(x)
    else:
        y = libdevice.exp(x)
    return y


@triton.jit
def absolute(x):
    return tl.abs(x)


@triton.jit
def where(cond, a, b):
    return tl.where(cond, a, b)


NAMESPACE: dict[str, Any] = {"div": div, "exp": exp, "absolute": absolute, "where": where, "tl": tl}

_compiled: dict[tuple[Callable[..., Any], str], Any] = {}


def jit(fn: Callable[..., Any], namespace: dict[str, Any] | None = None, tag: str = "") -> Any:
    """``triton.jit`` of ``fn`` with the dialect's names (and ``namespace``) bound; made once per
    ``(fn, tag)``."""
    key = (fn, tag)
    if key not in _compiled:
        names = dict(NAMESPACE)
        names.update(namespace or {})
        qualname = f"{fn.__qualname__}__{tag}" if tag else fn.__qualname__
        _compiled[key] = triton.jit(elementwise.rebind(fn, names, qualname))
    return _compiled[key]
