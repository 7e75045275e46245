"""Operators: the fused walks over time, one package per operator, and the one dispatcher.

Each operator package (:mod:`.synapse_filter`, :mod:`.neuron`) holds its math once (``math.py``), a plain
reference (``reference.py``), the pure-PyTorch walk (``torch_walk.py``), the numba kernel
(``numba_kernel.py``), the Triton kernel (``triton_kernel.py``) and its registration as a PyTorch operator
(``op.py``: ``torch.library.custom_op`` with a fake implementation and an autograd formula, so
``torch.compile`` sees one operator). :mod:`._dispatch` chooses the backend for all of them.

Operators depend only on ``spikestep._runtime`` (and the surrogates' definitions); the functional core
and the modules call them, never the other way round.
"""

from ._dispatch import BACKENDS, check_backend, requested_backend, resolve_backend, use_backend

__all__ = ["BACKENDS", "check_backend", "requested_backend", "resolve_backend", "use_backend"]
