"""The networks that ``spikestep train`` trains, built from spikestep's layers and neurons.

All run in multi-step mode: input ``[T, B, ...]``, output class scores ``[B, num_classes]`` in ``[0, 1]``.
"""

from ..layer import DelayBank
from .digits import DigitsNet
from .learned_delay_bank import LearnedDelayBank
from .mnist1d import DelayNet
from .readout import READOUTS, Readout

__all__ = ["READOUTS", "DelayBank", "DelayNet", "DigitsNet", "LearnedDelayBank", "Readout"]
