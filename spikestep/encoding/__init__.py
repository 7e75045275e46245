"""Encoders that turn static data into spike trains.

Functional core (pure functions) and thin modules on top:

- Poisson (rate) coding: :func:`poisson_step`, :func:`poisson`, :class:`PoissonEncoder`;
- latency (time-to-first-spike) coding: :func:`latency_times`, :func:`latency`, :func:`latency_step`,
  :class:`LatencyEncoder`.
"""

from .latency import ENC_FUNCTIONS, LatencyEncoder, latency, latency_step, latency_times
from .poisson import PoissonEncoder, poisson, poisson_step

__all__ = [
    "ENC_FUNCTIONS",
    "LatencyEncoder",
    "PoissonEncoder",
    "latency",
    "latency_step",
    "latency_times",
    "poisson",
    "poisson_step",
]
