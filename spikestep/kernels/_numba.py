"""The one place that decides whether numba is usable, and how kernels are compiled and launched.

numba is optional (the ``fast`` extra). Nothing here imports it until a kernel is first needed, so
``import spikestep`` stays fast and works without it. Kernel modules (``spikestep/kernels/*.py``) use
this small API and nothing else from numba directly (``prange`` excepted)::

    from spikestep.kernels import _numba

    def _walk(x, out):  # a plain Python function; numba compiles it on first use
        for j in _numba.prange(x.shape[1]):
            ...

    _walk_kernel = _numba.kernel(_walk, parallel=True)   # lazy: nothing is compiled yet

    if _numba.available() and _numba.supports(tensor):
        with _numba.threads():                 # numba uses as many threads as torch does
            _walk_kernel(x_np, out_np)         # compiled now (or loaded from the on-disk cache)

API:
    ``available()``: numba imports and ``SPIKESTEP_DISABLE_NUMBA`` is not set to a true value. The
        environment variable is read at every call (cheap), so tests may set and unset it.
    ``supports(tensor)``: a CPU tensor of float32/float64 (the dtypes kernels are compiled for).
        float16/bfloat16 and non-CPU tensors take the pure PyTorch path.
    ``kernel(fn, parallel=False)``: a lazily compiled ``numba.njit(cache=True, ...)`` version of ``fn``;
        compiled on its first call (JIT, cached on disk, no compile step at install).
    ``threads()``: a context manager that runs numba's parallel loops on ``torch.get_num_threads()``
        threads, so numba and torch do not oversubscribe the cores between them.
    ``prange``: ``numba.prange`` inside compiled kernels (``range`` for plain Python).
    ``DISABLE_ENV``: the environment variable's name.

Traps this module helps kernels avoid:
    * numba types a Python float literal (``1.0``) as float64 and promotes float32 arithmetic with it
      to float64 (slower, and no longer float32 rounding). Kernels take typed constants as arguments
      instead, e.g. ``one = _numba.one_like(array)``.
    * fastmath is off: kernels must agree with the pure PyTorch path to float32 rounding, and
      reassociation would break that.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

DISABLE_ENV = "SPIKESTEP_DISABLE_NUMBA"

_SUPPORTED_DTYPES = (torch.float32, torch.float64)
_import_lock = threading.Lock()
_numba_module: Any = None
_import_error: BaseException | None = None


def _disabled_by_env() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def _import_numba() -> Any:
    """Import numba once; return the module or ``None`` (the error is kept in ``_import_error``)."""
    global _numba_module, _import_error
    if _numba_module is not None or _import_error is not None:
        return _numba_module
    with _import_lock:
        if _numba_module is None and _import_error is None:
            try:
                import numba  # lazy on purpose: numba is optional and slow to import

                _numba_module = numba
            except Exception as error:  # ImportError, or a broken install (llvmlite mismatch, ...)
                _import_error = error
    return _numba_module


def available() -> bool:
    """Whether compiled numba kernels may be used now.

    False when ``SPIKESTEP_DISABLE_NUMBA`` is set to a true value (``1``, ``true``, ...) or numba does not
    import. Imports numba on the first call that is not disabled.
    """
    if _disabled_by_env():
        return False
    return _import_numba() is not None


def unavailable_reason() -> str:
    """Why :func:`available` is False (an empty string when it is True), for error messages."""
    if _disabled_by_env():
        return f"numba is disabled by the environment variable {DISABLE_ENV}={os.environ[DISABLE_ENV]!r}"
    if _import_numba() is None:
        return f"numba is not importable ({_import_error!r}); install it with: pip install 'spikestep[fast]'"
    return ""


def supports(tensor: torch.Tensor) -> bool:
    """Whether compiled kernels handle this tensor: on the CPU, float32 or float64."""
    return tensor.device.type == "cpu" and tensor.dtype in _SUPPORTED_DTYPES


def one_like(array: np.ndarray) -> np.generic:
    """``1`` typed as ``array``'s dtype, to pass to a kernel instead of a float64 literal."""
    return array.dtype.type(1)


def _prange(*args: int) -> range:
    return range(*args)


def __getattr__(name: str) -> Any:
    # ``prange`` is numba's when numba imports (so compiled kernels parallelise), else ``range``.
    if name == "prange":
        numba = _import_numba()
        return numba.prange if numba is not None else _prange
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _LazyKernel:
    """``fn`` compiled by numba on its first call (once per argument types), cached on disk."""

    def __init__(self, fn: Callable[..., Any], parallel: bool) -> None:
        self._fn = fn
        self._parallel = parallel
        self._compiled: Any = None
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any) -> Any:
        if self._compiled is None:
            numba = _import_numba()
            if numba is None:
                raise RuntimeError(f"{self._fn.__name__}: {unavailable_reason()}")
            self._compiled = numba.njit(cache=True, parallel=self._parallel, fastmath=False, nogil=True)(
                self._fn
            )
        return self._compiled(*args)


def kernel(fn: Callable[..., Any], parallel: bool = False) -> Callable[..., Any]:
    """Return ``fn`` compiled lazily by ``numba.njit(cache=True, parallel=parallel)``.

    Use it as a call (``k = _numba.kernel(fn, parallel=True)``) or a decorator (``@_numba.kernel``). Call the result only when :func:`available`
    is True; inside, use ``prange`` for the loop to run in parallel (over blocks of data, never over time).
    """
    return _LazyKernel(fn, parallel)


@contextlib.contextmanager
def threads(n: int | None = None) -> Iterator[None]:
    """Run numba's parallel loops on ``n`` threads (default: ``torch.get_num_threads()``).

    numba keeps its own thread pool, sized to all cores. Matching torch's setting keeps the two from
    oversubscribing the cores (and respects a user's ``torch.set_num_threads``). The setting is local to
    the calling thread and restored on exit.
    """
    numba = _import_numba()
    if numba is None:
        raise RuntimeError(unavailable_reason())
    wanted = max(1, min(n if n is not None else torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    previous = numba.get_num_threads()
    if wanted != previous:
        numba.set_num_threads(wanted)
    try:
        yield
    finally:
        if wanted != previous:
            numba.set_num_threads(previous)
