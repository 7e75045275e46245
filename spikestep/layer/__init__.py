"""Layers: stateful and step-aware modules built on :mod:`spikestep.base`."""

from .delay import Delay
from .print_shape import PrintShapeModule
from .synapse_filter import SynapseFilter
from .voting import VotingLayer

__all__ = ["Delay", "PrintShapeModule", "SynapseFilter", "VotingLayer"]
