"""The spiking neuron recurrence, written once: charge, fire, reset, and the pieces of its gradient.

For every step ``t`` (``V[-1]`` the carried-in membrane):

.. math::
    H[t] &= a V[t-1] + b X[t] + c \\qquad \\text{(the charge, affine, per-element } a, b, c) \\\\
    S[t] &= \\Theta(H[t] - V_{th}) \\qquad \\text{(surrogate gradient } \\sigma'(H[t] - V_{th})) \\\\
    V[t] &= V_{reset} \\text{ where } S[t] = 1 \\text{ (hard reset)}, \\quad H[t] - V_{th} \\text{ (soft)},
            \\quad H[t] \\text{ elsewhere}

IF is ``a = b = 1, c = 0``; LIF with ``k = 1/tau`` is ``a = 1 - k`` and ``b = k`` (``decay_input``) or
``b = 1``, ``c = k V_reset``. The reset is a selection, not ``H (1 - S) + V_{reset} S``: a membrane at
``+inf`` fires and resets like any other (``inf * 0`` would give NaN).

Non-finite values have one meaning, the same on every backend (torch, numba, Triton) and in both step
modes (a single step is a walk of length one):

- **NaN propagates.** ``NaN >= V_th`` is false, so a NaN membrane never fires; it is not reset either,
  and ``a NaN + ...`` keeps it NaN at every later step (until ``reset()``). A NaN input makes the
  membrane NaN from that step on.
- **+inf fires and resets.** ``H = +inf`` fires. Hard reset: ``V = V_reset``, and the neuron carries on
  from there. Soft reset: ``V = H - V_th = +inf``, so it fires at every later step.
- **-inf never fires.** ``H = -inf`` stays below the threshold and is kept: the membrane stays ``-inf``
  (and silent) until an input of ``+inf`` meets it (``-inf + inf`` is NaN).

Everything else follows IEEE arithmetic on the formulas above. The generic walk (:mod:`.generic_walk`, for charges and surrogates the operator
cannot read) gives the same values.

Gradient, walking back from ``t = T - 1`` (``dV`` the gradient reaching ``V[t]``, ``g_S`` that reaching
``S[t]``):

.. math::
    dH = dV \\left(\\frac{\\partial V}{\\partial H} + \\frac{\\partial V}{\\partial S} \\sigma'\\right) + g_S \\sigma'

with ``dV/dH = 1 - S`` and ``dV/dS = V_reset - H`` (hard reset) or ``1`` and ``-V_th`` (soft), the
``dV/dS`` term dropped under ``detach_reset``; then ``dX = b dH``, ``dV[t-1] = a dH``, and the
coefficients collect ``da += dH V[t-1]``, ``db += dH X[t]``, ``dc += dH``.

The scalar pieces below take ``one``/``zero`` (typed constants) instead of literals, so the numba and
Triton kernels compile these very functions; the torch walk calls them on tensors.
"""

from __future__ import annotations

from ..._runtime import numba_jit

# The constants every backend reads, by these slots (numba and Triton get them as one array ``p`` in the
# compute dtype; the torch walk as a tuple of 0-d tensors).
VTH, VR, ONE, ZERO, C1, C2 = range(6)


def constant_values(v_threshold: float, v_reset: float, c1: float, c2: float) -> tuple[float, ...]:
    """The constants in slot order: threshold, reset value, 1, 0 and the surrogate's ``(c1, c2)``."""
    values = [0.0] * 6
    values[VTH], values[VR], values[ONE], values[ZERO], values[C1], values[C2] = (
        v_threshold,
        v_reset,
        1.0,
        0.0,
        c1,
        c2,
    )
    return tuple(values)


# The dialect's ``where`` (spikestep._runtime.elementwise) as numba compiles these pieces; the torch walk
# and the Triton kernels rebind the name to their own.
where = numba_jit.scalar_where


@numba_jit.jitable
def charge(x, v, a, b, c):  # type: ignore[no-untyped-def]
    """``H = a V + b X + c``."""
    return a * v + b * x + c


@numba_jit.jitable
def fires(h, vth, zero):  # type: ignore[no-untyped-def]
    """``H - V_th >= 0``: the spike (a boolean)."""
    return h - vth >= zero


@numba_jit.jitable
def reset(h, fired, vr, vth, hard):  # type: ignore[no-untyped-def]
    """``V`` after the spike decision: ``V_reset`` (hard) or ``H - V_th`` (soft) where fired, else ``H``."""
    after = vr if hard else h - vth
    return where(fired, after, h)


@numba_jit.jitable
def grad_h(h, fired, dv, g_s, sg, vr, vth, one, zero, hard_f, attach_f):  # type: ignore[no-untyped-def]
    """``dH`` from ``dV``, ``g_S`` and ``sg = sigma'``. The reset kind and ``detach_reset`` enter as
    0/1 factors (``hard_f``, ``attach_f``), not branches, so the kernels' loops vectorise."""
    keep = where(fired, zero, one)  # 1 - S
    dv_dh = keep * hard_f + (one - hard_f)
    dv_ds = (vr - h) * hard_f + (-vth) * (one - hard_f)
    return dv * (dv_dh + dv_ds * sg * attach_f) + g_s * sg
