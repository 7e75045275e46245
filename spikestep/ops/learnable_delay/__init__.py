"""The learnable delay operator: ``K`` real-valued delays per channel, ``y[t, k, c] = sum_j g_j(d_kc) x_c[t - j]``.

One home for everything about it: the kernel over the lags, its sparse (two taps, ``sigma = 0``) and dense
(Gaussian) forms and their derivatives (:mod:`.math`), the plain reference (:mod:`.reference`), the
pure-PyTorch walk (:mod:`.torch_walk`), the numba kernels (:mod:`.numba_kernel`), the Triton kernels
(:mod:`.triton_kernel`) and the registered PyTorch operator (:mod:`.op`).
:func:`learnable_delay_walk` (:mod:`.checked`) is the checked entry point the functional core calls.
"""

from __future__ import annotations

from . import math
from .checked import check_sigma, learnable_delay_walk
from .op import learnable_delay
from .reference import reference_walk

__all__ = ["check_sigma", "learnable_delay", "learnable_delay_walk", "math", "reference_walk"]
