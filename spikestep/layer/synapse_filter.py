"""SynapseFilter: a spike-driven current with exponential decay."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .. import functional as F
from .._checks import (
    as_compute_dtype,
    check_bool,
    check_broadcasts_to_step,
    check_inv_tau_below_one,
    check_tau_tensor,
    inv_tau_check_key,
)
from ..base import MemoryModule


class SynapseFilter(MemoryModule):
    """A synapse whose output current jumps with each input spike and decays between them.

    .. math::
        I[t] = I[t-1] - (1 - x[t]) \\frac{I[t-1]}{\\tau} + x[t], \\qquad I[-1] = 0

    The discrete form of ``tau dI/dt = -I`` with ``I += 1`` at each spike. Read as a leaky integrator with
    no threshold, its current counts recent spikes, which makes it a smooth read-out for the last layer.

    Args:
        tau: time constant in steps, ``> 1``: a float, or a tensor that broadcasts against the trailing
            feature dimensions (``[C]`` against ``[..., C]``: one per channel; or one per element). With
            ``learnable=True`` it is the initial value.
        learnable: learn the time constant. The module then holds a parameter ``w = -log(tau - 1)`` (of
            ``tau``'s shape) and uses ``1/tau = sigmoid(w)``, which keeps ``tau > 1`` whatever the
            optimiser does.
        step_mode: ``'s'``: input ``[B, ...]`` per call; ``'m'``: input ``[T, B, ...]`` per call.

    The current (memory ``out_i``) takes the input's shape, dtype and device on the first call and carries
    over between calls until :meth:`reset` (or ``functional.reset_net``); a later input in another floating
    dtype converts it, one of another shape or on another device is a ``ValueError`` that names the fix. Multi-step mode over ``[T, ...]``
    equals ``T`` single steps; a sequence fed in chunks equals the sequence fed whole. ``out_i`` is the
    module's own copy of the last current (one step), never the tensor it returned: changing the output
    in place (``y.mul_(0)``, an in-place dropout after the filter) does not change the next step.

    Spikes may be bool, integer or floating. Floating inputs are computed in their own dtype; bool and
    integer ones in the module's (``w``'s or the tau tensor's dtype, else torch's default), so they give
    exactly what the same values as floats give. The output has that compute dtype, in both modes.
    NaN and infinite inputs follow the formula (see :mod:`spikestep.ops.synapse_filter.math`).

    Example::

        >>> import torch
        >>> from spikestep import layer
        >>> syn = layer.SynapseFilter(tau=2.0, step_mode="m")
        >>> syn(torch.tensor([[1.0], [0.0], [1.0], [0.0]])).flatten()
        tensor([1.0000, 0.5000, 1.5000, 0.7500])
    """

    def __init__(
        self, tau: float | torch.Tensor = 100.0, learnable: bool = False, step_mode: str = "s"
    ) -> None:
        super().__init__()
        tau = check_tau_tensor(tau, "tau", _OWNER)
        learnable = check_bool(learnable, "learnable", _OWNER)
        self.step_mode = step_mode
        self.__dict__["_learnable"] = learnable
        self.register_buffer("_tau_tensor", None, persistent=False)
        self._tau: float | None = None
        if learnable:
            w = _w_of(tau)
            # 1/tau = sigmoid(w) in float32, the default compute dtype (each call checks its own dtype).
            check_inv_tau_below_one(torch.sigmoid(w), torch.float32, "tau", _OWNER)
            self.w = nn.Parameter(w)
        else:
            self._set_fixed(tau)
        self.register_memory("out_i", 0.0)

    @property
    def learnable(self) -> bool:
        """Whether the time constant is learned (fixed at construction)."""
        state = self.__dict__
        return (
            state["_learnable"] if "_learnable" in state else state["learnable"]
        )  # pickled before it was checked

    @learnable.setter
    def learnable(self, value: bool) -> None:
        value = check_bool(value, "learnable", _OWNER)
        if value != self.learnable:
            raise ValueError(
                f"{_OWNER}: learnable is fixed at construction (a learnable filter holds a parameter w that "
                f"an optimiser may already hold); build a new SynapseFilter(tau=..., learnable={value})"
            )

    def _set_fixed(self, tau: float | torch.Tensor) -> None:
        check_inv_tau_below_one(1.0 / tau, torch.float32, "tau", _OWNER)
        if isinstance(tau, torch.Tensor):
            self._tau_tensor, self._tau = tau, None
        else:
            self._tau_tensor, self._tau = None, tau

    @property
    def tau(self) -> float | torch.Tensor:
        """The time constant now (``1 / sigmoid(w)`` when learnable): a float, or a tensor when it was
        given per channel or per element."""
        if self.learnable:
            with torch.no_grad():
                tau = 1.0 / torch.sigmoid(self.w.detach().double())
            return float(tau) if tau.dim() == 0 else tau
        return self._tau_tensor if self._tau_tensor is not None else self._tau

    @tau.setter
    def tau(self, value: float | torch.Tensor) -> None:
        value = check_tau_tensor(value, "tau", _OWNER)
        if self.learnable:
            w = _w_of(value, self.w.dtype).to(self.w.dtype)
            check_inv_tau_below_one(torch.sigmoid(w), torch.float32, "tau", _OWNER)
            with torch.no_grad():
                self.w.copy_(w.expand_as(self.w) if self.w.dim() else w)
        else:
            self._set_fixed(value)

    @property
    def inv_tau(self) -> F.synapse_filter.InvTau:
        """``1/tau``: a float, a tensor (per channel or element), or ``sigmoid(w)`` (which carries
        gradients) when learnable."""
        if self.learnable:
            return torch.sigmoid(self.w)
        return 1.0 / self._tau_source()

    def _tau_source(self) -> float | torch.Tensor:
        """What ``1/tau`` is computed from: ``w``, the tau tensor or the float (read straight from
        nn.Module's dicts: this runs at every step)."""
        if self.learnable:
            return self._parameters["w"]
        tau_tensor = self._buffers["_tau_tensor"]
        return tau_tensor if tau_tensor is not None else self._tau

    def extra_repr(self) -> str:
        tau = self.tau
        tau = float(f"{tau:.6g}") if isinstance(tau, float) else f"tensor of shape {list(tau.shape)}"
        return f"tau={tau}, learnable={self.learnable}, step_mode={self.step_mode}"

    def _floating(self, x: object, layout: str) -> torch.Tensor:
        """``x`` in the compute dtype: its own when floating, else ``w``'s or the tau tensor's, else torch's
        default (bool and integer spikes then give exactly what the same values as floats give)."""
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            return x
        return as_compute_dtype(x, _OWNER, *self.parameters(), *self.buffers(), layout=layout)

    def _state_for(self, shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
        if not isinstance(self.out_i, torch.Tensor):
            return torch.full(shape, float(self.out_i), dtype=like.dtype, device=like.device)
        return self._state_like("out_i", self.out_i, shape, like)

    def _checked_inv_tau(self, step: torch.Size, dtype: torch.dtype) -> F.synapse_filter.InvTau:
        source, learnable = self._tau_source(), self.learnable
        inv_tau = torch.sigmoid(source) if learnable else 1.0 / source
        if isinstance(inv_tau, torch.Tensor):
            check_broadcasts_to_step(inv_tau.shape, step, "tau", _OWNER)
        # 1/tau in the dtype of this call may round to 1 where float32 did not (float16), or a learned w may
        # have grown: checked again whenever the source or the dtype changes. Not while compiling: a
        # data-dependent check would break the graph (construction and assignment checked float32).
        if not torch.compiler.is_compiling():
            key = inv_tau_check_key(source, dtype)
            if key is None or self.__dict__.get("_inv_tau_checked") != key:
                check_inv_tau_below_one(inv_tau, dtype, "tau", _OWNER, learned=learnable, at_call=True)
                self.__dict__["_inv_tau_checked"] = key
        return inv_tau

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._floating(x, "[B, ...]")
        inv_tau = self._checked_inv_tau(x.shape, x.dtype)
        out = F.synapse_filter_step(x, self._state_for(x.shape, x), inv_tau)
        # The current is both the output and the memory: the module keeps its own copy, so an in-place
        # change of the output (y.mul_(0), an in-place dropout) cannot reach the next step.
        self.out_i = out.clone()
        return out

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        x_seq = self._floating(x_seq, "[T, B, ...] with time first")
        if x_seq.dim() < 1:
            raise ValueError(
                "SynapseFilter in multi-step mode expects [T, ...] with time first, got a 0-d tensor"
            )
        if x_seq.shape[0] == 0:
            self._state_for(x_seq.shape[1:], x_seq)  # the shape check still applies
            return x_seq.clone()
        inv_tau = self._checked_inv_tau(x_seq.shape[1:], x_seq.dtype)
        out = F.synapse_filter_multi_step(x_seq, self._state_for(x_seq.shape[1:], x_seq), inv_tau)
        self.out_i = out[-1].clone()  # one step of its own, not a view that keeps all of out alive
        return out


_OWNER = "SynapseFilter"


def _w_of(tau: float | torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``w = -log(tau - 1)``, the parameter whose sigmoid is ``1/tau`` (a float tau gives ``dtype``,
    torch's default if None)."""
    if isinstance(tau, torch.Tensor):
        return -torch.log(tau - 1.0)
    return torch.tensor(-math.log(tau - 1.0), dtype=dtype)
