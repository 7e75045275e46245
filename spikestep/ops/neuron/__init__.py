"""The neuron operator: charge ``H = a V + b X + c``, fire, reset, over a whole sequence.

One home for everything about it: the recurrence's pieces and gradient (:mod:`.math`), the plain
reference (:mod:`.reference`), the pure-PyTorch walk (:mod:`.torch_walk`), the numba kernels
(:mod:`.numba_kernel`), the Triton kernels (:mod:`.triton_kernel`) and the registered PyTorch operators
(:mod:`.op`). A neuron whose charge is affine (IF, LIF, PLIF, or a new one) runs here on every backend;
:mod:`.generic_walk` runs any other charge or surrogate, fused, in PyTorch.
"""

from __future__ import annotations

from . import math
from .op import neuron_walk, neuron_walk_backward, walk
from .reference import reference_step, reference_walk

__all__ = ["math", "neuron_walk", "neuron_walk_backward", "reference_step", "reference_walk", "walk"]
