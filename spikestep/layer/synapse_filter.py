"""SynapseFilter: a spike-driven current with exponential decay."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .. import functional as F
from .._checks import check_bool, check_broadcasts_to_step, check_tau_tensor
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
    over between calls until :meth:`reset` (or ``functional.reset_net``). Multi-step mode over ``[T, ...]``
    equals ``T`` single steps; a sequence fed in chunks equals the sequence fed whole.

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
        tau = check_tau_tensor(tau, "tau", "SynapseFilter")
        learnable = check_bool(learnable, "learnable", "SynapseFilter")
        self.step_mode = step_mode
        self.learnable = learnable
        self.register_buffer("_tau_tensor", None, persistent=False)
        self._tau: float | None = None
        if learnable:
            w = (
                -torch.log(tau - 1.0)
                if isinstance(tau, torch.Tensor)
                else torch.as_tensor(-math.log(tau - 1.0))
            )
            self.w = nn.Parameter(w)
        else:
            self._set_fixed(tau)
        self.register_memory("out_i", 0.0)

    def _set_fixed(self, tau: float | torch.Tensor) -> None:
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
        value = check_tau_tensor(value, "tau", "SynapseFilter")
        if self.learnable:
            with torch.no_grad():
                w = -torch.log(value - 1.0) if isinstance(value, torch.Tensor) else -math.log(value - 1.0)
                self.w.copy_(torch.as_tensor(w).expand_as(self.w) if self.w.dim() else torch.as_tensor(w))
        else:
            self._set_fixed(value)

    @property
    def inv_tau(self) -> F.synapse_filter.InvTau:
        """``1/tau``: a float, a tensor (per channel or element), or ``sigmoid(w)`` (which carries
        gradients) when learnable."""
        if self.learnable:
            return torch.sigmoid(self.w)
        return 1.0 / (self._tau_tensor if self._tau_tensor is not None else self._tau)

    def extra_repr(self) -> str:
        tau = self.tau
        tau = float(f"{tau:.6g}") if isinstance(tau, float) else f"tensor of shape {list(tau.shape)}"
        return f"tau={tau}, learnable={self.learnable}, step_mode={self.step_mode}"

    def _state_for(self, shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
        if not isinstance(self.out_i, torch.Tensor):
            return torch.full(shape, float(self.out_i), dtype=like.dtype, device=like.device)
        self._check_state_shape("out_i", self.out_i, shape)
        return self.out_i

    def _checked_inv_tau(self, step: torch.Size) -> F.synapse_filter.InvTau:
        inv_tau = self.inv_tau
        if isinstance(inv_tau, torch.Tensor):
            check_broadcasts_to_step(inv_tau.shape, step, "tau", "SynapseFilter")
        return inv_tau

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        inv_tau = self._checked_inv_tau(x.shape)
        self.out_i = F.synapse_filter_step(x, self._state_for(x.shape, x), inv_tau)
        return self.out_i

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if x_seq.dim() < 1:
            raise ValueError("SynapseFilter in multi-step mode expects [T, ...] with time first")
        if x_seq.shape[0] == 0:
            return x_seq.clone()
        inv_tau = self._checked_inv_tau(x_seq.shape[1:])
        out = F.synapse_filter_multi_step(x_seq, self._state_for(x_seq.shape[1:], x_seq), inv_tau)
        self.out_i = out[-1]
        return out
