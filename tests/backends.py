"""The backends a test runs on, and how: one place for the test files of every operator.

Importing this module without a GPU sets ``TRITON_INTERPRET=1`` (when Triton is installed), so the Triton
kernels run on the CPU under Triton's interpreter: slow, but every kernel line executes, as in CI.
Import it before anything loads the kernels.
"""

import importlib.util
import os

import pytest
import torch

if not torch.cuda.is_available() and importlib.util.find_spec("triton") is not None:
    os.environ.setdefault("TRITON_INTERPRET", "1")

from spikestep._runtime import numba_jit, triton_jit

if torch.cuda.is_available() and triton_jit.available():
    TRITON_DEVICE: torch.device | None = torch.device("cuda")
elif triton_jit.interpreting() and triton_jit.available():
    TRITON_DEVICE = torch.device("cpu")
else:
    TRITON_DEVICE = None

needs_numba = pytest.mark.skipif(not numba_jit.available(), reason="numba is not usable here")
needs_triton = pytest.mark.skipif(
    TRITON_DEVICE is None, reason="needs Triton and CUDA (or TRITON_INTERPRET=1)"
)
# The fused backends on the CPU, and all three (Triton on CUDA or under the interpreter).
CPU_BACKENDS = ["torch", pytest.param("numba", marks=needs_numba)]
BACKENDS = [*CPU_BACKENDS, pytest.param("triton", marks=needs_triton)]
