"""Share networks through NIR, the Neuromorphic Intermediate Representation (``pip install "spikestep[nir]"``).

:func:`export` writes a spikestep network as a ``nir.NIRGraph`` (``nir.write(path, graph)`` saves it);
:func:`load` builds a spikestep network from one (or from its file). Both are exact: a module NIR cannot
express, or a node spikestep has no exact module for, is a ``ValueError`` that names it and says why,
never an approximation. ``import spikestep`` never imports ``nir``; this package imports it at the first
call, and says how to install it when it is missing.

Time: NIR's neurons are ODEs in seconds; spikestep's run in steps of ``dt`` seconds (argument of both
functions, ``1e-4`` by default as in SpikingJelly 2.0, whose ``export_to_nir`` and ``import_from_nir`` use
the same mapping, so graphs go both ways between the two with the same spikes). Forward Euler with step
``dt`` turns each ODE into the discrete neuron (:mod:`spikestep.nir.conventions`):

.. math::
    \\text{IF:}\\ \\dot v = R I,\\ R = \\frac{1}{dt}
    \\ \\Rightarrow\\ H[t] = V[t-1] + X[t]

    \\text{LIF:}\\ \\tau \\dot v = (v_{leak} - v) + R I,\\ \\tau = k\\,dt,\\ v_{leak} = V_{reset}
    \\ \\Rightarrow\\ H[t] = V[t-1] + \\frac{R\\,X[t] - (V[t-1] - V_{reset})}{k}

with ``R = 1`` for ``decay_input=True`` and ``R = k`` for ``decay_input=False``; a neuron fires when
``H >= v_threshold`` and is then set to ``v_reset`` (NIR writes ``v > v_threshold``; spikestep and
SpikingJelly fire at equality too). A ``Delay`` of ``d`` steps is NIR's ``y(t) = x(t - d dt)``.

=================  ==============================================  ===========================================
NIR node           spikestep module                                mapping (both directions)
=================  ==============================================  ===========================================
Affine / Linear    ``layer.Linear`` (bias / no bias)               ``W``, ``b`` as they are; vectors only
Conv1d / Conv2d    ``layer.Conv1d`` / ``layer.Conv2d``             zero padding (int or ``'same'``/``'valid'``),
                                                                   groups; no bias exports as zeros
AvgPool2d          ``layer.AvgPool2d``                             no ``ceil_mode``, padding counted
SumPool2d          ``layer.AvgPool2d(divisor_override=1)``         the window's sum
Flatten            ``layer.Flatten``                               NIR's dims = spikestep's - 1 (no batch)
Scale              ``spikestep.nir.Scale``                         ``y = x * s``, per element
Delay              ``layer.Delay``                                 ``delay = d dt``; per-element ``d`` loads
                                                                   as ``Delay(tensor)``
IF                 ``neuron.IFNode`` (hard reset)                  ``r = 1/dt``
LIF                ``neuron.LIFNode`` (hard reset);                ``tau = k dt``, ``r = 1`` or ``k``,
                   ``ParametricLIFNode`` exports its tau now       ``v_leak = v_reset``; per-element ``tau``
NIRGraph           ``nn.Sequential`` (a chain) or ``GraphNet``     edges into a node are summed
=================  ==============================================  ===========================================

Refused, with the reason: ``LI``, ``I``, ``CubaLI``, ``CubaLIF`` and ``Threshold`` on load (spikestep has
no neuron that outputs its membrane, and :class:`~spikestep.layer.SynapseFilter`'s decay is gated by the
spikes, so it is not CubaLIF's synapse); on export a soft reset (``v_reset=None``), a ``SynapseFilter``, a
neuron subclass, a surrogate whose forward is not a spike, max pooling, batch norm, and dropout in training
mode. Thresholds and resets that differ between the neurons of one node do not load (one value per layer
in spikestep). The surrogate gradient is not part of NIR: a loaded neuron has spikestep's default one.

Networks export from an ``nn.Sequential`` (containers included), a :class:`GraphNet`, or a module whose
``forward`` only calls submodules and adds their outputs (read with ``torch.fx``; any other operation is
refused, naming it).

Example::

    >>> from spikestep import nir as ss_nir
    >>> ss_nir.conventions.lif_to_nir(tau_steps=2.0, decay_input=True, dt=1e-4)  # (tau in s, r)
    (0.0002, 1.0)

and with ``nir`` installed::

    import nir, torch
    from spikestep import functional, layer, neuron, nir as ss_nir

    net = torch.nn.Sequential(layer.Linear(4, 3), neuron.LIFNode(tau=2.0), layer.Delay(2))
    functional.set_step_mode(net, "m")
    nir.write("net.nir", ss_nir.export(net, torch.rand(8, 1, 4)))
    twin = ss_nir.load("net.nir", step_mode="m")
"""

from . import conventions
from .exporting import export
from .graph_net import GraphNet
from .loading import load
from .scale import Scale

__all__ = ["GraphNet", "Scale", "conventions", "export", "load"]
