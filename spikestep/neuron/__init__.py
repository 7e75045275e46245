"""Spiking neurons: stateful modules that charge, fire and reset.

``IFNode``, ``LIFNode`` and ``ParametricLIFNode`` take SpikingJelly's constructor arguments in the same
order, so code ports by changing the import. The recurrence is :mod:`spikestep.functional.neuron`.
"""

from .base_node import BaseNode
from .if_node import IFNode
from .lif_node import LIFNode
from .parametric_lif_node import ParametricLIFNode

__all__ = ["BaseNode", "IFNode", "LIFNode", "ParametricLIFNode"]
