"""Discrete steps <-> NIR's continuous time: the parameters of a neuron or delay for a time step ``dt``.

NIR writes its neurons as ODEs in seconds. Integrated by forward Euler with step ``dt`` they are exactly
spikestep's discrete neurons, with the same conventions as SpikingJelly 2.0's ``export_to_nir`` and
``import_from_nir``:

.. math::
    \\text{IF:} \\quad \\dot v = R I \\ \\Rightarrow \\ v[t] = v[t-1] + dt\\,R\\,x[t]
    \\quad = \\ H = V + X \\iff R = 1/dt

    \\text{LIF:} \\quad \\tau \\dot v = (v_{leak} - v) + R I \\ \\Rightarrow \\
    v[t] = v[t-1] + \\frac{dt}{\\tau}\\big(v_{leak} - v[t-1] + R\\,x[t]\\big)

which is ``LIFNode(tau=k)`` for ``tau = k dt`` and ``v_leak = v_reset``: with ``decay_input=True``
(``H = V + (X - (V - V_reset))/k``) ``R = 1``; with ``decay_input=False`` (``H = V - (V - V_reset)/k + X``)
``R = k``. A ``Delay`` of ``d`` steps is NIR's ``y(t) = x(t - tau_d)`` with ``tau_d = d dt``.

The functions here take floats or numpy arrays (elementwise).

Example::

    >>> from spikestep.nir import conventions
    >>> conventions.lif_to_nir(tau_steps=2.0, decay_input=False, dt=1e-3)
    (0.002, 2.0)
    >>> conventions.lif_from_nir(tau=0.002, r=2.0, dt=1e-3)
    (2.0, False)
    >>> conventions.if_r(dt=1e-4), conventions.delay_steps_from_nir(0.003, dt=1e-3)
    (10000.0, 3)
"""

from __future__ import annotations

import math
import numbers
from typing import Any

# Relative tolerance for "equal" when a parameter comes back from seconds (SpikingJelly's, np.isclose).
RTOL = 1e-6


def check_dt(dt: object, owner: str) -> float:
    """``dt`` as a positive finite float, else ``TypeError``/``ValueError``."""
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real):
        raise TypeError(f"{owner}: dt (the time step in seconds) must be a positive float, got {dt!r}")
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0.0):
        raise ValueError(f"{owner}: dt (the time step in seconds) must be positive and finite, got {dt}")
    return dt


def if_r(dt: float) -> float:
    """``R`` of NIR's ``IF`` for spikestep's ``IFNode`` (``H = V + X``): ``1/dt``."""
    return 1.0 / dt


def lif_to_nir(tau_steps: Any, decay_input: bool, dt: float) -> tuple[Any, Any]:
    """``(tau, r)`` of NIR's ``LIF`` for ``LIFNode(tau=tau_steps, decay_input=...)``: ``tau = tau_steps dt``;
    ``r = 1`` with ``decay_input``, else ``r = tau_steps``."""
    return tau_steps * dt, (tau_steps * 0 + 1.0 if decay_input else tau_steps * 1.0)


def lif_from_nir(tau: float, r: float, dt: float) -> tuple[float, bool]:
    """``(tau_steps, decay_input)`` of ``LIFNode`` for one NIR ``LIF`` neuron; ``ValueError`` when ``r`` is
    neither ``1`` nor ``tau/dt`` (no spikestep neuron scales its input otherwise)."""
    tau_steps = snap(tau / dt)
    if math.isclose(r, 1.0, rel_tol=RTOL):
        return tau_steps, True
    if math.isclose(r, tau_steps, rel_tol=RTOL):
        return tau_steps, False
    raise ValueError(
        f"r = {r} is neither 1 (decay_input=True) nor tau/dt = {tau_steps} (decay_input=False), the only "
        f"input scalings of spikestep's LIFNode for dt = {dt}"
    )


def delay_to_nir(steps: Any, dt: float) -> Any:
    """NIR's delay in seconds for ``d`` steps: ``d dt``."""
    return steps * dt


def delay_steps_from_nir(seconds: float, dt: float) -> int:
    """The whole number of steps ``seconds/dt``; ``ValueError`` when it is not one (or negative)."""
    steps = seconds / dt
    nearest = round(steps)
    if nearest < 0 or not math.isclose(steps, nearest, rel_tol=RTOL, abs_tol=RTOL):
        raise ValueError(
            f"a delay of {seconds} s is {steps} steps of dt = {dt}, not a whole number >= 0: load with the dt "
            f"the graph was exported with"
        )
    return int(nearest)


def snap(value: float) -> float:
    """``value`` rounded to 9 decimals when that moves it by at most a few float64 ulps: ``tau dt / dt``
    comes back as the ``tau`` that went in (``2.0``, not ``1.9999999999999998``)."""
    rounded = round(value, 9)
    return rounded if math.isclose(value, rounded, rel_tol=1e-12, abs_tol=0.0) else value
