"""LIFNode: the leaky integrate-and-fire neuron with a fixed time constant."""

from __future__ import annotations

from typing import Any

import torch

from .._checks import check_inv_tau_below_one, check_tau_tensor
from ..functional.neuron import InvTau
from .base_node import BaseNode


class LIFNode(BaseNode):
    """Leaky integrate-and-fire neuron: the membrane leaks towards ``v_reset`` with time constant ``tau``.

    .. math::
        H[t] = V[t-1] + \\frac{X[t] - (V[t-1] - V_{reset})}{\\tau} \\ \\text{(decay\\_input)}, \\qquad
        H[t] = V[t-1] - \\frac{V[t-1] - V_{reset}}{\\tau} + X[t] \\ \\text{(otherwise)}

    then fire and reset as :class:`~spikestep.neuron.IFNode` (``V_reset`` reads as 0 under soft reset).

    Args:
        tau: membrane time constant in steps, ``> 1``: a float, or a tensor that broadcasts against the
            trailing feature dimensions (``[C]`` against ``[..., C]``: one per channel; or one per element).
        decay_input: whether the input is scaled by ``1/tau`` too.
        others: as :class:`~spikestep.neuron.BaseNode`, in SpikingJelly's order
            ``(tau, decay_input, v_threshold, v_reset, surrogate_function, detach_reset, step_mode, backend,
            store_v_seq)``.

    Shapes: ``'s'``: ``[B, ...] -> [B, ...]``; ``'m'``: ``[T, B, ...] -> [T, B, ...]`` (one fused walk).

    Example::

        >>> import torch
        >>> from spikestep import neuron
        >>> node = neuron.LIFNode(tau=2.0, step_mode="m", store_v_seq=True)
        >>> node(torch.full((4, 1), 1.5)).flatten()
        tensor([0., 1., 0., 1.])
        >>> node.v_seq.flatten()
        tensor([0.7500, 0.0000, 0.7500, 0.0000])
    """

    def __init__(
        self,
        tau: float = 2.0,
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
        self.register_buffer("_tau_tensor", None, persistent=False)
        self.tau = tau
        self.decay_input = decay_input  # checked on assignment (BaseNode.__setattr__)

    @property
    def tau(self) -> float | torch.Tensor:
        """The time constant: a float, or a tensor (per channel or per element)."""
        return self._tau_tensor if self._tau_tensor is not None else self._tau

    @tau.setter
    def tau(self, value: float | torch.Tensor) -> None:
        value = check_tau_tensor(value, "tau", type(self).__name__)
        # 1/tau in float32, the default compute dtype (each forward checks the dtype it computes in).
        check_inv_tau_below_one(1.0 / value, torch.float32, "tau", type(self).__name__)
        if isinstance(value, torch.Tensor):
            self._tau_tensor = value
            self._tau = None
        else:
            self._tau_tensor = None
            self._tau = value

    def _inv_tau(self) -> InvTau:
        return 1.0 / self._tau_source()

    def _tau_source(self) -> float | torch.Tensor:
        tau_tensor = self._buffers["_tau_tensor"]  # straight from nn.Module's dict: this runs at every step
        return tau_tensor if tau_tensor is not None else self._tau

    def _decay_input(self) -> bool:
        return self.decay_input

    def _per_channel_name(self) -> str:
        return "tau"

    def extra_repr(self) -> str:
        tau = self.tau if self._tau_tensor is None else f"tensor of shape {list(self._tau_tensor.shape)}"
        return f"tau={tau}, decay_input={self.decay_input}, " + super().extra_repr()
