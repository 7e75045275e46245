"""The one place a backend is chosen, for every operator.

Three backends compute each operator's walk over time:

* ``"torch"``: pure PyTorch, any device and dtype, a few tensor operations per time step (vectorised over
  everything else) and a backward of its own.
* ``"numba"``: compiled CPU kernels (the ``fast`` extra) for float32/float64 CPU tensors. They walk time
  inside blocks of the other dimensions, in parallel over blocks, never over time.
* ``"triton"``: Triton kernels for float32/float64 CUDA tensors: one program per block of elements walks
  all time steps with its state in registers.

``"auto"`` (the default) takes numba for CPU tensors and Triton for CUDA tensors where it can (the
package importable, not disabled by ``SPIKESTEP_DISABLE_NUMBA=1`` / ``SPIKESTEP_DISABLE_TRITON=1``, every
tensor float32/float64 on that device, and the operator able to run the call there) and torch otherwise.
Force a backend with :func:`use_backend` (tests and benchmarks run several paths that way), or per call.

Example::

    >>> import torch
    >>> from spikestep import ops
    >>> with ops.use_backend("torch"):
    ...     ops.resolve_backend(torch.zeros(3))
    'torch'
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

import torch

from .._runtime import numba_jit, triton_jit

BACKENDS = ("auto", "numba", "triton", "torch")

_requested: contextvars.ContextVar[str] = contextvars.ContextVar("spikestep_backend", default="auto")


def check_backend(name: object, owner: str = "backend") -> str:
    """``name`` if it is one of :data:`BACKENDS`, else a ``ValueError`` that lists them."""
    if name not in BACKENDS:
        raise ValueError(f"{owner}: backend must be one of {list(BACKENDS)}, got {name!r}")
    return name  # type: ignore[return-value]


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run the multi-step walks inside the ``with`` block on backend ``name`` (``'auto'``, ``'numba'``,
    ``'triton'`` or ``'torch'``). Forcing a compiled backend where it cannot run raises ``RuntimeError``
    at the walk, saying why.

    The choice is local to the current thread/async context and restored on exit.
    """
    token = _requested.set(check_backend(name))
    try:
        yield
    finally:
        _requested.reset(token)


def requested_backend() -> str:
    """The backend asked for in the current context (``'auto'`` unless inside :func:`use_backend`)."""
    return _requested.get()


def _module(name: str):  # type: ignore[no-untyped-def]
    return numba_jit if name == "numba" else triton_jit


def resolve_backend(
    *tensors: torch.Tensor,
    backend: str | None = None,
    why_not: Callable[[str], str | None] | None = None,
) -> str:
    """The backend that will run a walk over ``tensors``: ``'numba'``, ``'triton'`` or ``'torch'``.

    ``backend`` (other than ``'auto'``) overrides the context's choice (:func:`use_backend`).
    ``why_not(name)`` is the operator's own say: why it cannot run this call on compiled backend ``name``
    (for example a surrogate its kernels do not know), or None. Under ``'auto'`` such a call falls back
    to torch; a forced backend that cannot run raises ``RuntimeError`` with the reason.
    """
    requested = backend if backend not in (None, "auto") else _requested.get()
    check_backend(requested)
    if requested == "torch":
        return "torch"
    if requested in ("numba", "triton"):
        module = _module(requested)
        if not module.available():
            raise RuntimeError(f"backend {requested!r} was forced, but {module.unavailable_reason()}")
        for t in tensors:
            if not module.supports(t):
                device = "CPU" if requested == "numba" else "CUDA"
                raise RuntimeError(
                    f"backend {requested!r} was forced, but it only runs float32/float64 {device} tensors, "
                    f"got {t.dtype} on {t.device}; use backend 'auto' to fall back to the torch path"
                )
        reason = why_not(requested) if why_not is not None else None
        if reason is not None:
            raise RuntimeError(
                f"backend {requested!r} was forced, but {reason}; use backend 'auto' or 'torch'"
            )
        return requested
    for name in ("numba", "triton"):
        module = _module(name)
        on_device = name == "numba" or all(t.device.type == "cuda" for t in tensors)
        usable = on_device and all(module.supports(t) for t in tensors) and module.available()
        if usable and (why_not is None or why_not(name) is None):
            return name
    return "torch"


__all__ = ["BACKENDS", "check_backend", "requested_backend", "resolve_backend", "use_backend"]
