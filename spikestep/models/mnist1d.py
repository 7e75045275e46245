"""DelayNet: a spiking network whose memory over time comes from delay lines, for MNIST-1D."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from .. import layer, neuron
from ..layer import DelayBank
from .readout import Readout


class DelayNet(nn.Module):
    """Stacked blocks ``DelayBank -> Linear -> BatchNorm -> LIF``, then an LIF population and a readout.

    Input ``[T, B, 1]``: one value of the sequence per time step; output class scores ``[B, num_classes]``
    in ``[0, 1]`` (see :class:`Readout`). Block ``i`` sees its input at lags ``0, r_i, 2 r_i, ...,
    (taps - 1) r_i`` (a :class:`DelayBank` with dilation ``r_i``), so with dilations ``1, 2, 4`` and 5 taps
    the last block's neurons see ``1 + 4 (1 + 2 + 4) = 29`` steps of the input: the memory a digit drawn
    over time needs, held in :class:`~spikestep.layer.Delay` layers, not in recurrent weights. The readout
    averages over time, which makes the score independent of where in the sequence the digit lies.

    With ``taps=1`` every bank is the identity: the same network without delays, a feed-forward baseline
    whose only memory is the LIF membranes (and the readout).

    Args:
        hidden: neurons per hidden block.
        taps: delayed copies per bank (``1`` = no delays).
        dilations: one per block: the spacing of that block's taps.
        voting_size: output neurons per class.
        dropout: drop probability before the output layer (one mask per sequence).
        readout: ``'voting'`` or ``'synapse'``.
        tau: membrane time constant of the LIF neurons.
        readout_tau: time constant of the synapse readout.

    Example::

        >>> import torch
        >>> from spikestep.models import DelayNet
        >>> DelayNet(hidden=8)(torch.rand(40, 2, 1)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        hidden: int = 64,
        taps: int = 5,
        dilations: Sequence[int] = (1, 2, 4),
        voting_size: int = 10,
        num_classes: int = 10,
        dropout: float = 0.1,
        readout: str = "voting",
        tau: float = 2.0,
        readout_tau: float = 10.0,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        if taps < 1:
            raise ValueError(f"taps must be >= 1 (1 = no delays), got {taps}")
        blocks: list[nn.Module] = []
        width = in_channels
        for r in dilations:
            blocks += [
                DelayBank([k * r for k in range(taps)]),
                layer.Linear(width * taps, hidden, bias=False, step_mode="m"),
                layer.BatchNorm1d(hidden, step_mode="m"),
                neuron.LIFNode(tau=tau, step_mode="m"),
            ]
            width = hidden
        blocks += [
            layer.Dropout(dropout, step_mode="m"),
            layer.Linear(width, num_classes * voting_size, step_mode="m"),
            neuron.LIFNode(tau=tau, step_mode="m"),
        ]
        self.features = nn.Sequential(*blocks)
        self.readout = Readout(voting_size, readout, readout_tau)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x_seq))
