"""spikestep: spiking neural networks in PyTorch, one time step or a whole sequence at a time."""

from . import base, encoding, functional, layer, neuron, ops, surrogate

__version__ = "0.1.0"

__all__ = ["__version__", "base", "encoding", "functional", "layer", "neuron", "ops", "surrogate"]
