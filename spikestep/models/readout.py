"""Readouts: turn the output layer's spikes into one score per class."""

from __future__ import annotations

import torch
import torch.nn as nn

from ..base import MultiStepModule
from ..layer import SynapseFilter, VotingLayer

READOUTS = ("voting", "synapse")


class Readout(nn.Module, MultiStepModule):
    """Class scores in ``[0, 1]`` from a population of output spikes ``[T, B, C * v]`` -> ``[B, C]``.

    - ``'voting'``: each class's share of votes (:class:`~spikestep.layer.VotingLayer`) averaged over
      time: the firing rate of its ``v`` neurons.
      :math:`s_c = \\frac{1}{T v} \\sum_t \\sum_{i \\in c} S_i[t]`.
    - ``'synapse'``: the spikes drive a :class:`~spikestep.layer.SynapseFilter` current, whose value at the
      last step is voted: recent spikes count fully, older ones fade with ``tau``. Divided by ``T`` (the
      current of a neuron that fires at every step) to stay in ``[0, 1]``.

    Example::

        >>> import torch
        >>> from spikestep.models import Readout
        >>> spikes = torch.tensor([[[1.0, 1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0, 1.0]]])  # T=2, B=1, C*v=4
        >>> Readout(voting_size=2)(spikes)
        tensor([[0.7500, 0.2500]])
    """

    def __init__(self, voting_size: int, kind: str = "voting", tau: float = 10.0) -> None:
        super().__init__()
        if kind not in READOUTS:
            raise ValueError(f"readout kind must be one of {list(READOUTS)}, got {kind!r}")
        self.kind = kind
        self.vote = VotingLayer(voting_size, step_mode="m")
        self.synapse = SynapseFilter(tau, step_mode="m") if kind == "synapse" else None
        self.step_mode = "m"

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        if self.synapse is None:
            return self.vote(spikes).mean(0)
        current = self.synapse(spikes)
        return self.vote(current[-1]) / spikes.shape[0]
