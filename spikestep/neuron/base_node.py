"""BaseNode: what every spiking neuron shares (threshold, reset, surrogate, membrane, step modes)."""

from __future__ import annotations

from typing import Any

import torch

from .. import surrogate as _surrogate
from .._checks import (
    as_compute_dtype,
    check_bool,
    check_broadcasts_to_step,
    check_inv_tau_below_one,
    check_real,
    check_tensor,
    inv_tau_check_key,
)
from ..base import MemoryModule
from ..functional.neuron import (
    Coefficients,
    InvTau,
    charge_coefficients,
    compute_dtype,
    neuron_walk_coefficients,
)
from ..ops import check_backend, requested_backend, resolve_backend
from ..ops.neuron.generic_walk import generic_walk


class BaseNode(MemoryModule):
    """Base class of the neurons: charge (subclass), fire ``S = surrogate(H - v_threshold)``, reset.

    A new neuron decides its charge only. An affine charge ``H = a V + b X + c`` (per-channel ``a``,
    ``b``, ``c`` allowed) is one method, :meth:`charge_coefficients`, and runs fused on every backend::

        class LeakyTowardsRest(BaseNode):
            def charge_coefficients(self, dtype, device):
                k = torch.tensor(0.1, dtype=dtype, device=device)
                return 1 - k, k, k * -0.2   # H = (1 - k) V + k X - 0.2 k

    Any other charge overrides :meth:`charge` (and :meth:`charge_parameters`, the tensors it learns)
    and runs fused on the generic PyTorch walk; :meth:`backend_for` says which path a call takes.

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
        backend: multi-step path: ``'auto'`` (as :func:`spikestep.ops.use_backend` says, by default
            the compiled kernel where it applies: numba on the CPU, Triton on CUDA; else pure PyTorch),
            ``'torch'``, ``'numba'`` or ``'triton'`` (these two raise ``RuntimeError`` at the call where
            they cannot run: the other device, float16, a custom surrogate).
        store_v_seq: in multi-step mode, keep the membrane after each step in ``v_seq`` ``[T, B, ...]``.

    Memories: ``v`` (starts at ``v_reset``, or 0 under soft reset, and takes the input's shape, dtype and
    device on the first call; a later input in another floating dtype converts it, one of another shape or
    on another device is a ``ValueError`` until ``functional.reset_net`` or ``net.to(device)``) and ``v_seq``
    (``None`` unless ``store_v_seq``). Both are new tensors of the
    node's own (``v`` one step, ``v_seq`` the steps of the last call), never the input or the spikes it
    returned: reusing an input buffer or changing the spikes in place does not change the next step.

    Inputs may be bool, integer or floating spikes (or currents). Floating inputs are computed in their own
    dtype (float16 and bfloat16 on the torch walk); bool and integer ones in the node's floating dtype
    (its parameters' or buffers', else torch's default), so they give exactly what the same values as
    floats give. Spikes and membranes come out in that compute dtype, in both step modes. NaN, +inf and
    -inf follow one rule on every backend (:mod:`spikestep.ops.neuron.math`): NaN propagates and never
    fires, +inf fires and resets, -inf never fires.

    Every setting above can be assigned later (``node.v_threshold = 0.5``) and is checked as the
    constructor checks it, ``v_reset < v_threshold`` included; ``reset()`` then brings ``v`` back to the
    new ``v_reset``.
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
        # Each setting goes through __setattr__, which checks it: the constructor and a later assignment
        # (node.v_reset = ..., node.backend = ...) accept and refuse the same values.
        self.v_threshold = v_threshold
        self.v_reset = v_reset
        self.surrogate_function = surrogate_function
        self.detach_reset = detach_reset
        self.step_mode = step_mode
        self.backend = backend
        self.store_v_seq = store_v_seq
        self.register_memory("v", self._v_rest())
        self.register_memory("v_seq", None)

    # The settings, checked on every assignment (see _checked_setting).
    _SETTINGS = frozenset(
        (
            "v_threshold",
            "v_reset",
            "surrogate_function",
            "detach_reset",
            "store_v_seq",
            "backend",
            "decay_input",
        )
    )

    def __setattr__(self, name: str, value: Any) -> None:
        if name in BaseNode._SETTINGS:
            value = self._checked_setting(name, value)
            if name == "surrogate_function" and not isinstance(value, torch.nn.Module):
                # nn.Module refuses to replace a registered submodule (the default ATan) by a plain function.
                self.__dict__.get("_modules", {}).pop(name, None)
        super().__setattr__(name, value)
        if name == "v_reset" and "v" in self.__dict__.get("_memories_rv", {}):
            self._memories_rv["v"] = self._v_rest()  # reset() brings the membrane back to the new rest

    def _v_rest(self) -> float:
        return 0.0 if self.v_reset is None else self.v_reset

    def _checked_setting(self, name: str, value: Any) -> Any:
        owner = type(self).__name__
        if name == "v_threshold":
            value = check_real(value, "v_threshold", owner)
            self._check_reset_below_threshold(self.__dict__.get("v_reset"), value)
        elif name == "v_reset":
            if value is not None:
                value = check_real(value, "v_reset", owner)
            self._check_reset_below_threshold(value, self.__dict__.get("v_threshold"))
        elif name == "surrogate_function":
            if value is None:
                from ..surrogate import ATan

                value = ATan()
            if not callable(value):
                raise TypeError(
                    f"{owner}: surrogate_function must be callable (e.g. spikestep.surrogate.ATan()), got "
                    f"{type(value).__name__}"
                )
        elif name == "backend":
            value = _check_node_backend(value, owner)
        else:  # detach_reset, store_v_seq, decay_input
            value = check_bool(value, name, owner)
        return value

    def _check_reset_below_threshold(self, v_reset: float | None, v_threshold: float | None) -> None:
        if v_reset is None or v_threshold is None or v_reset < v_threshold:
            return
        raise ValueError(
            f"{type(self).__name__}: v_reset ({v_reset}) must be below v_threshold ({v_threshold}), or None for "
            f"a soft reset; a neuron reset at or above its threshold fires at every step. To move both, set "
            f"them in an order that keeps v_reset < v_threshold in between (lower v_reset first when lowering "
            f"the threshold below it)"
        )

    # What a subclass decides: the charge. IF by default (H = V + X).
    def _inv_tau(self) -> InvTau:
        return None

    def _decay_input(self) -> bool:
        return True

    def charge_coefficients(self, dtype: torch.dtype, device: torch.device) -> Coefficients:
        """``(a, b, c)`` of the affine charge ``H = a V + b X + c``: tensors of ``dtype`` on ``device``
        that broadcast against one step's input (one value, one per channel, or one per element)."""
        inv_tau = self._inv_tau()
        if inv_tau is not None:
            self._check_inv_tau(inv_tau, dtype)
        return charge_coefficients(inv_tau, self._decay_input(), self.v_reset, dtype, device)

    def _tau_source(self) -> object:
        """What ``1/tau`` is computed from (a float, the tau tensor, the parameter ``w``): the forward's
        check that ``1/tau`` stays below 1 runs again only when it (or the compute dtype) changes."""
        return None

    def _check_inv_tau(self, inv_tau: float | torch.Tensor, dtype: torch.dtype) -> None:
        if torch.compiler.is_compiling():
            return  # a data-dependent check would break the graph; construction and assignment checked it
        key = inv_tau_check_key(self._tau_source(), dtype)
        if key is not None and self.__dict__.get("_inv_tau_checked") == key:
            return
        check_inv_tau_below_one(
            inv_tau,
            dtype,
            self._per_channel_name(),
            type(self).__name__,
            learned=self._tau_is_learned(),
            at_call=True,
        )
        self.__dict__["_inv_tau_checked"] = key

    def _tau_is_learned(self) -> bool:
        return False

    def charge(self, x: torch.Tensor, v: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        """A non-affine charge ``H = f(X, V)``: override this (and :meth:`charge_parameters`) instead of
        :meth:`charge_coefficients`; it then runs on the generic fused walk."""
        raise NotImplementedError

    def charge_parameters(self) -> tuple[torch.Tensor, ...]:
        """The tensors :meth:`charge` reads that should receive gradients (passed to it as ``*params``)."""
        return ()

    def _per_channel_name(self) -> str:
        """How error messages name what sets the charge coefficients (``'tau'`` for LIF neurons)."""
        return "the charge coefficients"

    def _has_custom_charge(self) -> bool:
        return type(self).charge is not BaseNode.charge

    def _compute_dtype(self, x: torch.Tensor) -> torch.dtype:
        return compute_dtype(x, *self.parameters(), *self.buffers())

    def backend_for(self, x_seq: torch.Tensor) -> str:
        """Which path a multi-step call on ``x_seq`` takes: ``'numba'``, ``'triton'``, ``'torch'``, or
        ``'torch (generic walk: ...)'`` with the reason when the charge or surrogate is not one the
        operator reads."""
        reason = self._generic_reason()
        if reason is not None:
            self._refuse_forced_backend(reason)
            return f"torch (generic walk: {reason})"
        dtype = self._compute_dtype(x_seq)
        return resolve_backend(x_seq.to(dtype), backend=self.backend)

    def _generic_reason(self) -> str | None:
        """Why this neuron runs the generic walk (a non-affine charge, a surrogate without a gradient
        definition), or None when the operator runs it."""
        if self._has_custom_charge():
            return "a non-affine charge"
        if _surrogate.kernel_form(self.surrogate_function) is None:
            return f"the surrogate {type(self.surrogate_function).__name__} has no gradient definition"
        return None

    def _refuse_forced_backend(self, reason: str) -> None:
        forced = self.backend if self.backend != "auto" else requested_backend()
        if forced in ("numba", "triton"):
            raise RuntimeError(
                f"{type(self).__name__}: backend {forced!r} was forced, but this neuron runs on the generic "
                f"PyTorch walk ({reason}); use backend 'auto' or 'torch'"
            )

    def _membrane(self, shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
        self._check_settings_fit(like.dtype)
        if not isinstance(self.v, torch.Tensor):
            return torch.full(shape, float(self.v), dtype=like.dtype, device=like.device)
        return self._state_like("v", self.v, shape, like)

    def _check_settings_fit(self, dtype: torch.dtype) -> None:
        """``v_threshold`` and ``v_reset`` in the range of the dtype a call computes in (``1e30`` is finite
        in float32, not in float16, where the membrane would start or reset at an infinity)."""
        if torch.compiler.is_compiling():
            return  # construction and assignment checked the values; the dtype is the graph's
        largest = torch.finfo(dtype).max
        for name in ("v_threshold", "v_reset"):
            value = self.__dict__.get(name)
            if value is not None and abs(value) > largest:
                raise ValueError(
                    f"{type(self).__name__}: {name} = {value} does not fit in {dtype} (largest {largest:g}), "
                    f"the dtype this call computes in; give a {name} within its range, or feed inputs of a "
                    f"wider floating dtype (float32, float64)"
                )

    def _walk(self, x_seq: torch.Tensor, store_v_seq: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if not x_seq.is_floating_point():
            x_seq = as_compute_dtype(x_seq, type(self).__name__, *self.parameters(), *self.buffers())
        v0 = self._membrane(x_seq.shape[1:], x_seq)
        if self._has_custom_charge():
            self._refuse_forced_backend("a non-affine charge")
            return generic_walk(
                x_seq, v0, self.charge, self.charge_parameters(), self.v_threshold, self.v_reset,
                self.surrogate_function, self.detach_reset, store_v_seq,
            )  # fmt: skip
        coefficients = tuple(t.to(x_seq.dtype) for t in self.charge_coefficients(x_seq.dtype, x_seq.device))
        for t in coefficients:
            check_broadcasts_to_step(t.shape, x_seq.shape[1:], self._per_channel_name(), type(self).__name__)
        return neuron_walk_coefficients(
            x_seq, v0, coefficients, self.v_threshold, self.v_reset, self.surrogate_function,
            self.detach_reset, store_v_seq, self.backend,
        )  # fmt: skip

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, type(self).__name__, "[B, ...]")
        # The walk returns new tensors of one step each: the spikes and the membrane share no storage
        # with the input, with each other or with what the module held before.
        s, self.v = self._walk(x.unsqueeze(0), False)
        return s[0]

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        check_tensor(x_seq, type(self).__name__, "[T, B, ...] with time first")
        if x_seq.dim() < 1:
            raise ValueError(
                f"{type(self).__name__} in multi-step mode expects a tensor [T, B, ...] with time first, got a "
                f"0-d tensor"
            )
        if x_seq.shape[0] == 0:
            empty = x_seq.new_empty(x_seq.shape, dtype=self._compute_dtype(x_seq))
            self._membrane(x_seq.shape[1:], empty)  # the shape and device checks still apply
            if self.store_v_seq:
                self.v_seq = empty.clone()
            return empty
        s_seq, v_out = self._walk(x_seq, self.store_v_seq)
        if self.store_v_seq:
            self.v_seq = v_out
            self.v = v_out[-1].clone()
        else:
            self.v = v_out
        return s_seq

    def extra_repr(self) -> str:
        return (
            f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, detach_reset={self.detach_reset}, "
            f"step_mode={self.step_mode}, backend={self.backend}"
        )


def _check_node_backend(backend: object, owner: str) -> str:
    check_backend(backend, owner)
    if backend in ("numba", "triton"):
        from .._runtime import numba_jit, triton_jit

        reason = (numba_jit if backend == "numba" else triton_jit).unavailable_reason()
        if reason:
            raise ValueError(
                f"{owner}: backend={backend!r} is not usable here ({reason}); use 'auto' or 'torch'"
            )
    return backend  # type: ignore[return-value]
