"""Fast implementations of the functional core's multi-step walks, and the one place a backend is chosen.

Three backends compute the same walks:

* ``"torch"``: pure PyTorch, any device and dtype. One fused ``torch.autograd.Function`` per walk, with
  a few tensor operations per time step (vectorised over everything else) and its own backward.
* ``"numba"``: compiled CPU kernels (the ``fast`` extra), for float32/float64 tensors on the CPU. They walk
  time inside blocks of the other dimensions, in parallel over blocks, never over time.
* ``"triton"``: Triton kernels for float32/float64 CUDA tensors (Triton comes with PyTorch's CUDA
  builds): one program per block of elements walks all time steps with its state in registers.

``"auto"`` (the default) takes numba for CPU tensors and Triton for CUDA tensors where it can (the
package importable, not disabled by ``SPIKESTEP_DISABLE_NUMBA=1`` / ``SPIKESTEP_DISABLE_TRITON=1``, every
tensor float32/float64 on that device) and torch otherwise: float16/bfloat16 take the torch path,
computing in their own dtype like the per-step loop does. Force a backend with :func:`use_backend`
(tests and benchmarks run several paths that way).

Example::

    >>> import torch
    >>> from spikestep import kernels
    >>> with kernels.use_backend("torch"):
    ...     kernels.resolve_backend(torch.zeros(3))
    'torch'
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch

from . import _numba, _triton

BACKENDS = ("auto", "numba", "triton", "torch")

_requested: contextvars.ContextVar[str] = contextvars.ContextVar("spikestep_kernel_backend", default="auto")


def _check_backend(name: object) -> str:
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    return name  # type: ignore[return-value]


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run the multi-step walks inside the ``with`` block on backend ``name`` (``'auto'``, ``'numba'`` or
    ``'torch'``). Forcing ``'numba'`` where it cannot run raises ``RuntimeError`` at the walk, with why.

    The choice is local to the current thread/async context and restored on exit.
    """
    token = _requested.set(_check_backend(name))
    try:
        yield
    finally:
        _requested.reset(token)


def requested_backend() -> str:
    """The backend asked for in the current context (``'auto'`` unless inside :func:`use_backend`)."""
    return _requested.get()


def resolve_backend(*tensors: torch.Tensor, backend: str | None = None) -> str:
    """The backend that will run a walk over ``tensors``: ``'numba'``, ``'triton'`` or ``'torch'``.

    ``backend`` overrides the context's choice (see :func:`use_backend`).
    """
    requested = _check_backend(backend) if backend is not None else _requested.get()
    if requested == "torch":
        return "torch"
    if requested in ("numba", "triton"):
        module, device_words = (_numba, "CPU") if requested == "numba" else (_triton, "CUDA")
        if not module.available():
            raise RuntimeError(f"backend {requested!r} was forced, but {module.unavailable_reason()}")
        unsupported = [t for t in tensors if not module.supports(t)]
        if unsupported:
            t = unsupported[0]
            raise RuntimeError(
                f"backend {requested!r} was forced, but it only runs float32/float64 {device_words} tensors, got "
                f"{t.dtype} on {t.device}; use backend 'auto' to fall back to the torch path"
            )
        return requested
    if all(_numba.supports(t) for t in tensors) and _numba.available():
        return "numba"
    if all(t.device.type == "cuda" and _triton.supports(t) for t in tensors) and _triton.available():
        return "triton"
    return "torch"


__all__ = ["BACKENDS", "requested_backend", "resolve_backend", "use_backend"]
