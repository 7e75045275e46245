"""DelayNet: a spiking network whose memory over time comes from delay lines, for MNIST-1D."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn as nn

from .. import functional, layer, neuron
from ..layer import DelayBank
from .learned_delay_bank import LearnedDelayBank
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
        in_channels: values per time step of the input.
        delays: ``'fixed'`` (:class:`~spikestep.layer.DelayBank`, taps ``0, r, 2r, ...``) or ``'learned'``
            (:class:`LearnedDelayBank` started at those taps, see :meth:`set_training_progress`).

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
        tau: float = 1.5,
        readout_tau: float = 10.0,
        in_channels: int = 1,
        delays: str = "fixed",
    ) -> None:
        super().__init__()
        if taps < 1:
            raise ValueError(f"taps must be >= 1 (1 = no delays), got {taps}")
        if delays not in ("fixed", "learned"):
            raise ValueError(f"delays must be 'fixed' or 'learned', got {delays!r}")
        self.delays = delays
        blocks: list[nn.Module] = []
        width = in_channels
        for r in dilations:
            lags = [k * r for k in range(taps)]
            bank = (
                DelayBank(lags) if delays == "fixed" else LearnedDelayBank(width, taps, max(lags), init=lags)
            )
            blocks += [
                bank,
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

    def set_training_progress(self, progress: float, round_at: float = 0.8) -> None:
        """The learned delays' recipe, called once per epoch with ``progress = epoch / epochs``: the kernel
        narrows on :func:`~spikestep.functional.sigma_schedule` (from half the window to 0.5 steps over
        the first quarter), and at ``round_at`` the delays are rounded to integers and frozen, so the
        weights train on with the delays the streaming form uses. Does nothing for fixed delays."""
        for bank in self.features:
            if not isinstance(bank, LearnedDelayBank) or not bank.delays.delay.requires_grad:
                continue
            if progress >= round_at:
                bank.round_and_freeze()
            else:
                bank.sigma = functional.sigma_schedule(progress, bank.delays.max_delay)

    def clamp_delays(self) -> None:
        """Put learned delays back into their range (after each optimiser step); nothing for fixed delays."""
        for bank in self.features:
            if isinstance(bank, LearnedDelayBank):
                bank.clamp_delays()

    def to_fixed(self) -> DelayNet:
        """A copy whose learned delay banks are the integer form of their rounded delays (per-channel
        ``Delay``; the same network once ``set_training_progress`` has rounded and frozen them)."""
        fixed = copy.deepcopy(self)
        for i, bank in enumerate(fixed.features):
            if isinstance(bank, LearnedDelayBank):
                fixed.features[i] = bank.to_fixed()
        return fixed

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x_seq))
