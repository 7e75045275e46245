"""Layers: stateful and step-aware modules built on :mod:`spikestep.base`."""

from .batch_norm import BatchNorm1d, BatchNorm2d
from .container import MultiStepContainer, SeqToANNContainer
from .conv import Conv1d, Conv2d
from .delay import Delay
from .delay_bank import DelayBank
from .delayed_linear import DelayedLinear
from .dropout import Dropout
from .flatten import Flatten
from .learnable_delay import LearnableDelay
from .linear import Linear
from .pooling import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from .print_shape import PrintShapeModule
from .synapse_filter import SynapseFilter
from .voting import VotingLayer

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "Delay",
    "DelayBank",
    "DelayedLinear",
    "Dropout",
    "Flatten",
    "LearnableDelay",
    "Linear",
    "MaxPool1d",
    "MaxPool2d",
    "MultiStepContainer",
    "PrintShapeModule",
    "SeqToANNContainer",
    "SynapseFilter",
    "VotingLayer",
]
