"""BaseNode: what every spiking neuron shares (threshold, reset, surrogate, membrane, step modes)."""

from __future__ import annotations

from typing import Any

import torch

from .._checks import check_bool, check_real
from ..base import MemoryModule
from ..functional.neuron import BACKENDS, InvTau, neuron_multi_step, neuron_step


class BaseNode(MemoryModule):
    """Base class of the neurons: charge (subclass), fire ``S = surrogate(H - v_threshold)``, reset.

    The recurrence itself lives in :mod:`spikestep.functional.neuron`; a node owns its parameters and the
    membrane memory ``v`` and picks the path: :func:`~spikestep.functional.neuron.neuron_step` per call in
    single-step mode, the fused :func:`~spikestep.functional.neuron.neuron_multi_step` in multi-step mode.

    Args:
        v_threshold: firing threshold.
        v_reset: hard reset value, ``< v_threshold`` (a neuron reset at or above its threshold would fire
            at every step); ``None`` = soft reset, ``V = H - v_threshold * S``.
        surrogate_function: spike function, Heaviside forward and smooth backward; ``None`` =
            ``surrogate.ATan()``. Any elementwise callable works; the built-ins also run in the compiled kernels.
        detach_reset: reset with ``S.detach()`` (gradients reach ``H`` through the spike only).
        step_mode: ``'s'``: input ``[B, ...]`` per call; ``'m'``: input ``[T, B, ...]`` per call.
        backend: multi-step path: ``'auto'`` (as :func:`spikestep.kernels.use_backend` says, by default
            the compiled kernel where it applies: numba on the CPU, Triton on CUDA; else pure PyTorch),
            ``'torch'``, ``'numba'`` or ``'triton'`` (these two raise ``RuntimeError`` at the call where
            they cannot run: the other device, float16, a custom surrogate).
        store_v_seq: in multi-step mode, keep the membrane after each step in ``v_seq`` ``[T, B, ...]``.

    Memories: ``v`` (starts at ``v_reset``, or 0 under soft reset, and takes the input's shape, dtype and
    device on the first call) and ``v_seq`` (``None`` unless ``store_v_seq``).
    """

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: Any = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        backend: str = "auto",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        v_threshold = check_real(v_threshold, "v_threshold", owner)
        if v_reset is not None:
            v_reset = check_real(v_reset, "v_reset", owner)
            if v_reset >= v_threshold:
                raise ValueError(
                    f"{owner}: v_reset ({v_reset}) must be below v_threshold ({v_threshold}), or None for a "
                    f"soft reset; a neuron reset at or above its threshold fires at every step"
                )
        if surrogate_function is None:
            from ..surrogate import ATan

            surrogate_function = ATan()
        if not callable(surrogate_function):
            raise TypeError(
                f"{owner}: surrogate_function must be callable (e.g. spikestep.surrogate.ATan()), got "
                f"{type(surrogate_function).__name__}"
            )
        if backend not in BACKENDS:
            raise ValueError(f"{owner}: backend must be one of {list(BACKENDS)}, got {backend!r}")
        if backend in ("numba", "triton"):
            from ..kernels import _numba, _triton

            reason = (_numba if backend == "numba" else _triton).unavailable_reason()
            if reason:
                raise ValueError(
                    f"{owner}: backend={backend!r} is not usable here ({reason}); use 'auto' or 'torch'"
                )
        self.v_threshold = v_threshold
        self.v_reset = v_reset
        self.surrogate_function = surrogate_function
        self.detach_reset = check_bool(detach_reset, "detach_reset", owner)
        self.step_mode = step_mode
        self.backend = backend
        self.store_v_seq = check_bool(store_v_seq, "store_v_seq", owner)
        self.register_memory("v", 0.0 if v_reset is None else v_reset)
        self.register_memory("v_seq", None)

    # What a subclass decides: the charge. ``None`` = IF (H = V + X).
    def _inv_tau(self) -> InvTau:
        return None

    def _decay_input(self) -> bool:
        return True

    def _membrane(self, shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
        if not isinstance(self.v, torch.Tensor):
            return torch.full(shape, float(self.v), dtype=like.dtype, device=like.device)
        self._check_state_shape("v", self.v, shape)
        return self.v

    def _recurrence(self) -> dict[str, Any]:
        return {
            "inv_tau": self._inv_tau(),
            "decay_input": self._decay_input(),
            "v_threshold": self.v_threshold,
            "v_reset": self.v_reset,
            "surrogate_function": self.surrogate_function,
            "detach_reset": self.detach_reset,
        }

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__} expects a torch.Tensor, got {type(x).__name__}")
        s, self.v = neuron_step(x, self._membrane(x.shape, x), **self._recurrence())
        return s

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 1:
            raise ValueError(
                f"{type(self).__name__} in multi-step mode expects a tensor [T, B, ...] with time first, got "
                f"{type(x_seq).__name__}"
            )
        v0 = self._membrane(x_seq.shape[1:], x_seq)
        if x_seq.shape[0] == 0:
            if self.store_v_seq:
                self.v_seq = x_seq.new_empty(x_seq.shape)
            return x_seq.new_empty(x_seq.shape)
        s_seq, v_out = neuron_multi_step(
            x_seq, v0, **self._recurrence(), store_v_seq=self.store_v_seq, backend=self.backend
        )
        if self.store_v_seq:
            self.v_seq = v_out
            self.v = v_out[-1]
        else:
            self.v = v_out
        return s_seq

    def extra_repr(self) -> str:
        return (
            f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, detach_reset={self.detach_reset}, "
            f"step_mode={self.step_mode}, backend={self.backend}"
        )
