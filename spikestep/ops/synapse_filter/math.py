"""The synapse filter recurrence, written once.

.. math::
    I[t] = I[t-1] - (1 - x[t]) \\, k \\, I[t-1] + x[t], \\qquad k = 1/\\tau

as ``I[t] = a[t] I[t-1] + x[t]`` with the per-step factor ``a[t] = 1 - (1 - x[t]) k``. Its derivatives:
``dI[t]/dI[t-1] = a[t]``, ``dI[t]/dx[t] = 1 + k I[t-1]``, ``dI[t]/dk = (x[t] - 1) I[t-1]``.

Non-finite values follow this formula in IEEE arithmetic, the same on every backend and in the single
step: a NaN input or current makes every later current NaN; an input of ``+inf`` (``a = +inf``) gives
``+inf`` on a positive current and NaN on a zero or negative one (``inf * 0``, ``inf - inf``), an input of
``-inf`` gives ``-inf`` on a positive current and NaN otherwise; an infinite current stays infinite under
0/1 spikes (``a > 0``).

Each piece takes ``one`` (1 in the compute dtype) instead of a literal, so the same function serves torch
tensors (``one=1.0``), numba scalars (a typed 1) and Triton blocks; every backend and the single step
call these.
"""

from __future__ import annotations

from ..._runtime import numba_jit


@numba_jit.jitable
def decay(x, k, one):  # type: ignore[no-untyped-def]
    """``a[t] = dI[t]/dI[t-1] = 1 - (1 - x[t]) k``."""
    return one - (one - x) * k


@numba_jit.jitable
def advance(x, a, prev):  # type: ignore[no-untyped-def]
    """``I[t] = a[t] I[t-1] + x[t]``."""
    return a * prev + x


@numba_jit.jitable
def input_gain(prev, k, one):  # type: ignore[no-untyped-def]
    """``dI[t]/dx[t] = 1 + k I[t-1]``."""
    return one + k * prev


@numba_jit.jitable
def inv_tau_gain(x, prev, one):  # type: ignore[no-untyped-def]
    """``dI[t]/dk = (x[t] - 1) I[t-1]``."""
    return (x - one) * prev


def step(x, state, k):  # type: ignore[no-untyped-def]
    """One step on tensors: ``I = a I[-1] + x``; differentiable in every argument."""
    return advance(x, decay(x, k, 1.0), state)
