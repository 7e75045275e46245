"""ParametricLIFNode: the leaky integrate-and-fire neuron that learns its time constant."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn

from .._checks import check_inv_tau_below_one, check_tau_tensor
from ..functional.neuron import InvTau
from .base_node import BaseNode


class ParametricLIFNode(BaseNode):
    """LIF neuron with a learnable time constant (PLIF, Fang et al. 2021).

    Same recurrence as :class:`~spikestep.neuron.LIFNode` with ``1/tau = sigmoid(w)``: one parameter
    ``w``, initialised to ``-log(init_tau - 1)``: shared by all the neurons of the layer for a float
    ``init_tau``, or one per channel (per element) for a tensor ``init_tau`` that broadcasts against the
    trailing feature dimensions. The sigmoid keeps
    ``tau > 1`` whatever the optimiser does; ``w`` gets its gradient from the fused backward as well.

    Args:
        init_tau: initial time constant, ``> 1``.
        decay_input, others: as :class:`~spikestep.neuron.LIFNode` (SpikingJelly's order).

    Shapes: ``'s'``: ``[B, ...] -> [B, ...]``; ``'m'``: ``[T, B, ...] -> [T, B, ...]``.

    Example::

        >>> import torch
        >>> from spikestep import neuron
        >>> node = neuron.ParametricLIFNode(init_tau=2.0, step_mode="m")
        >>> node(torch.full((4, 1), 1.5)).sum().backward()
        >>> round(node.tau, 6), node.w.grad is not None
        (2.0, True)
    """

    def __init__(
        self,
        init_tau: float = 2.0,
        decay_input: bool = True,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: Any = None,
        detach_reset: bool = False,
        step_mode: str = "s",
        backend: str = "auto",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, backend, store_v_seq
        )
        init_tau = check_tau_tensor(init_tau, "init_tau", type(self).__name__)
        self.decay_input = decay_input  # checked on assignment (BaseNode.__setattr__)
        w = _w_of(init_tau)
        # 1/tau = sigmoid(w) in float32, the default compute dtype (each forward checks its own dtype).
        check_inv_tau_below_one(torch.sigmoid(w), torch.float32, "init_tau", type(self).__name__)
        self.w = nn.Parameter(w)

    @property
    def tau(self) -> float | torch.Tensor:
        """The time constant now, ``1 / sigmoid(w)``: a float for a shared ``w``, else a tensor. Setting
        it (a float, or a tensor of ``w``'s shape or one that broadcasts to it) moves ``w`` in place."""
        with torch.no_grad():
            tau = 1.0 / torch.sigmoid(self.w.detach().double())
        return float(tau) if tau.dim() == 0 else tau

    @tau.setter
    def tau(self, value: float | torch.Tensor) -> None:
        owner = type(self).__name__
        value = check_tau_tensor(value, "tau", owner)
        w = _w_of(value, self.w.dtype).to(self.w.dtype)
        check_inv_tau_below_one(torch.sigmoid(w), torch.float32, "tau", owner)
        try:
            w = w.expand_as(self.w)
        except RuntimeError:
            raise ValueError(
                f"{owner}: a tau of shape {list(w.shape)} does not fit the learnable w of shape "
                f"{list(self.w.shape)}; give a float or a tensor of that shape"
            ) from None
        with torch.no_grad():
            self.w.copy_(w)

    def _inv_tau(self) -> InvTau:
        return torch.sigmoid(self.w)

    def _tau_source(self) -> torch.Tensor:
        return self.w

    def _tau_is_learned(self) -> bool:
        return True

    def _decay_input(self) -> bool:
        return self.decay_input

    def _per_channel_name(self) -> str:
        return "tau"

    def extra_repr(self) -> str:
        tau = self.tau
        tau = float(f"{tau:.6g}") if isinstance(tau, float) else f"tensor of shape {list(tau.shape)}"
        return f"tau={tau}, decay_input={self.decay_input}, " + super().extra_repr()


def _w_of(tau: float | torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``w = -log(tau - 1)``, the parameter whose sigmoid is ``1/tau`` (a float tau gives ``dtype``,
    torch's default if None)."""
    if isinstance(tau, torch.Tensor):
        return -torch.log(tau - 1.0)
    return torch.tensor(-math.log(tau - 1.0), dtype=dtype)
