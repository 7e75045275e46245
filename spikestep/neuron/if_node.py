"""IFNode: the integrate-and-fire neuron."""

from __future__ import annotations

from typing import Any

from .base_node import BaseNode


class IFNode(BaseNode):
    """Integrate-and-fire neuron: the membrane adds up its input and never leaks.

    .. math::
        H[t] = V[t-1] + X[t], \\quad S[t] = \\Theta(H[t] - V_{th}), \\quad
        V[t] = H[t](1 - S[t]) + V_{reset} S[t] \\ \\text{(hard)} \\ \\text{or} \\ H[t] - V_{th} S[t] \\ \\text{(soft)}

    Arguments as :class:`~spikestep.neuron.BaseNode` (same names and order as SpikingJelly's ``IFNode``).
    Shapes: ``'s'``: ``[B, ...] -> [B, ...]``; ``'m'``: ``[T, B, ...] -> [T, B, ...]`` (one fused walk,
    equal to ``T`` single steps; chunks of a sequence equal the whole).

    Example::

        >>> import torch
        >>> from spikestep import neuron
        >>> node = neuron.IFNode(step_mode="m")
        >>> node(torch.full((4, 1), 0.4)).flatten()
        tensor([0., 0., 1., 0.])
        >>> node.v
        tensor([0.4000])
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
        super().__init__(
            v_threshold, v_reset, surrogate_function, detach_reset, step_mode, backend, store_v_seq
        )
