"""The delayed linear operator: ``y_j[t] = sum_i w_ij x_i[t - d_ij]`` with learnable real delays.

One home for everything about it: the kernels over the lags and their derivatives (:mod:`.math`), the
plain reference (:mod:`.reference`), the dense pure-PyTorch path (:mod:`.torch_walk`), the sparse
kernels' (``'linear'``, ``'round'``) numba kernels for the CPU (:mod:`.numba_kernel`) and Triton kernels
for CUDA (:mod:`.triton_kernel`, loaded on first use; the Gaussian kernel runs the dense path on CUDA
too), the registered PyTorch operator that picks among them (:mod:`.op`), the stateful functional form
over ``[T, ..., I]`` sequences (:mod:`.stream`) and the DCLS width schedule (:mod:`.schedule`).
:func:`delayed_linear_walk` (:mod:`.checked`) is the checked entry point over ``[T, N, I]``,
:func:`.stream.delayed_linear` the stateful one over ``[T, ..., I]`` that the layer calls.
"""

from __future__ import annotations

from . import math
from .checked import check_kernel, check_sigma, delayed_linear_walk
from .math import KERNELS
from .op import delayed_linear
from .reference import reference_walk
from .schedule import initial_sigma, sigma_schedule
from .stream import delayed_linear as delayed_linear_stream

__all__ = [
    "KERNELS",
    "check_kernel",
    "check_sigma",
    "delayed_linear",
    "delayed_linear_stream",
    "delayed_linear_walk",
    "initial_sigma",
    "math",
    "reference_walk",
    "sigma_schedule",
]
