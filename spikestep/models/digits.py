"""DigitsNet: a small convolutional spiking network for the 8x8 digits."""

from __future__ import annotations

import torch
import torch.nn as nn

from .. import layer, neuron
from .readout import Readout


class DigitsNet(nn.Module):
    """Conv -> BN -> LIF -> max-pool -> dropout -> Linear -> LIF population -> readout, in multi-step mode.

    Input ``[T, B, 64]`` (the image as constant current or Poisson spikes at each step), output class
    scores ``[B, num_classes]`` in ``[0, 1]`` (see :class:`Readout`). Every layer is spikestep's:
    ``layer.Conv2d``/``BatchNorm2d``/``MaxPool2d``/``Flatten``/``Dropout``/``Linear`` fold time into the
    batch, the ``neuron.LIFNode`` layers run the fused multi-step walk.

    Args:
        channels: convolution channels.
        voting_size: output neurons per class (the population that votes).
        dropout: drop probability before the output layer (one mask per sequence).
        readout: ``'voting'`` or ``'synapse'``.
        tau: membrane time constant of the LIF neurons.
        readout_tau: time constant of the synapse readout.

    Example::

        >>> import torch
        >>> from spikestep.models import DigitsNet
        >>> DigitsNet(channels=4)(torch.rand(3, 2, 64)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        channels: int = 32,
        voting_size: int = 10,
        num_classes: int = 10,
        dropout: float = 0.3,
        readout: str = "voting",
        tau: float = 2.0,
        readout_tau: float = 10.0,
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            layer.Conv2d(1, channels, 3, padding=1, bias=False, step_mode="m"),
            layer.BatchNorm2d(channels, step_mode="m"),
            neuron.LIFNode(tau=tau, step_mode="m"),
            layer.MaxPool2d(2, step_mode="m"),
            layer.Flatten(step_mode="m"),
            layer.Dropout(dropout, step_mode="m"),
            layer.Linear(channels * 16, num_classes * voting_size, step_mode="m"),
            neuron.LIFNode(tau=tau, step_mode="m"),
        )
        self.readout = Readout(voting_size, readout, readout_tau)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        images = x_seq.unflatten(-1, (1, 8, 8))  # [T, B, 64] -> [T, B, 1, 8, 8]
        return self.readout(self.features(images))
