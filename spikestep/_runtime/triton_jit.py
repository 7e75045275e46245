"""The one place that decides whether Triton is usable for the CUDA kernels.

Triton comes with PyTorch's CUDA builds; nothing here imports it until a CUDA walk first asks, so
``import spikestep`` stays fast and works on CPU-only installs. The ``@triton.jit`` kernels live in
modules that import Triton at their top (``spikestep/ops/*/triton_kernel.py``); the walks import them
through :func:`load` only once :func:`available` is True.

API:
    ``available()``: Triton imports and ``SPIKESTEP_DISABLE_TRITON`` is not set to a true value.
    ``supports(tensor)``: a CUDA tensor of float32/float64 (the dtypes the kernels are written for:
        float16/bfloat16 take the pure PyTorch walk, which computes in their own dtype like the per-step
        loop). Under ``TRITON_INTERPRET=1`` (Triton's CPU interpreter, used to test the kernels without a
        GPU) CPU tensors count too.
    ``load(name)``: the kernel module ``name`` (a full module name), imported on first use.
    ``LAUNCH``: keyword arguments of every launch: ``enable_fp_fusion=False``, so ``a * b + c`` rounds
        twice, as the separate PyTorch operations of the reference walk do (no fused multiply-add).

Traps the kernels avoid: Triton's ``/`` on float32 is an approximate division and ``tl.exp`` an
approximate exponential; the kernels use ``tl.math.div_rn`` and libdevice's ``exp``, the IEEE division
and the ``expf`` that PyTorch's own CUDA kernels use.
"""

from __future__ import annotations

import importlib
import os
import threading
from typing import Any

import torch

DISABLE_ENV = "SPIKESTEP_DISABLE_TRITON"
LAUNCH = {"enable_fp_fusion": False}

_SUPPORTED_DTYPES = (torch.float32, torch.float64)
_lock = threading.Lock()
_modules: tuple[Any, Any] | None = None
_import_error: BaseException | None = None


def _disabled_by_env() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def interpreting() -> bool:
    """Whether Triton runs kernels in its CPU interpreter (``TRITON_INTERPRET=1``), as tests do."""
    return os.environ.get("TRITON_INTERPRET", "") == "1"


def _import_triton() -> tuple[Any, Any] | None:
    global _modules, _import_error
    if _modules is not None or _import_error is not None:
        return _modules
    with _lock:
        if _modules is None and _import_error is None:
            try:
                import triton  # lazy on purpose: only CUDA walks need it
                import triton.language as tl

                _modules = (triton, tl)
            except Exception as error:  # ImportError, or a broken install
                _import_error = error
    return _modules


def available() -> bool:
    """Whether the Triton kernels may be used now (imports Triton on the first call not disabled)."""
    if _disabled_by_env():
        return False
    return _import_triton() is not None


def unavailable_reason() -> str:
    """Why :func:`available` is False (an empty string when it is True), for error messages."""
    if _disabled_by_env():
        return f"Triton is disabled by the environment variable {DISABLE_ENV}={os.environ[DISABLE_ENV]!r}"
    if _import_triton() is None:
        return f"Triton is not importable ({_import_error!r}); it comes with PyTorch's CUDA builds"
    return ""


def supports(tensor: torch.Tensor) -> bool:
    """Whether the Triton kernels handle this tensor: float32/float64 on a CUDA device."""
    on_device = tensor.device.type == "cuda" or (interpreting() and tensor.device.type == "cpu")
    return on_device and tensor.dtype in _SUPPORTED_DTYPES


def load(name: str) -> Any:
    """The kernel module ``name`` (a full module name; it imports Triton), imported on first use."""
    if not available():
        raise RuntimeError(unavailable_reason())
    return importlib.import_module(name)
