"""Load refuses, naming the node and the reason, whatever spikestep has no exact module for."""

import numpy as np
import pytest

from spikestep import layer, neuron
from spikestep.nir import load

nir = pytest.importorskip("nir", reason="the nir package is not installed (pip install 'spikestep[nir]')")
pytest.importorskip("nir.ir", reason="the nir package is not installed (pip install 'spikestep[nir]')")

DT = 1e-4


def _graph(node, n: int = 3):
    return nir.NIRGraph(
        nodes={"input": nir.Input(np.array([n])), "node": node, "output": nir.Output(np.array([n]))},
        edges=[("input", "node"), ("node", "output")],
    )


def _lif(**changes):
    fields = dict(
        tau=np.full(3, 2 * DT), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3), v_reset=np.zeros(3)
    )
    fields.update(changes)
    return nir.LIF(**fields)


def _if(**changes):
    fields = dict(r=np.full(3, 1 / DT), v_threshold=np.ones(3), v_reset=np.zeros(3))
    fields.update(changes)
    return nir.IF(**fields)


@pytest.mark.parametrize(
    ("node", "match"),
    [
        (nir.LI(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3)), r"'node' \(LI\).*membrane without firing"),
        (nir.I(r=np.ones(3)), r"\(I\).*integrator"),
        (
            nir.CubaLIF(
                tau_syn=np.ones(3),
                tau_mem=np.ones(3),
                r=np.ones(3),
                v_leak=np.zeros(3),
                v_threshold=np.ones(3),
            ),
            r"CubaLIF.*SynapseFilter",
        ),
        (nir.CubaLI(tau_syn=np.ones(3), tau_mem=np.ones(3), r=np.ones(3), v_leak=np.zeros(3)), "CubaLI"),
        (nir.Threshold(threshold=np.ones(3)), "stateless threshold"),
        (_if(r=np.full(3, 2 / DT)), r"IF\).*r = 1/dt.*dt = 1/r"),
        (_if(v_threshold=np.array([1.0, 2.0, 1.0])), "v_threshold.*differs between neurons"),
        (_lif(r=np.array([1.0, 2.0, 1.0])), "neither 1 for every neuron"),
        (_lif(r=np.full(3, 3.0)), "neither 1 for every neuron"),
        (_lif(v_leak=np.full(3, 0.5)), "v_leak.*leaks towards v_reset"),
        (_lif(v_reset=np.array([0.0, 0.1, 0.0]), v_leak=np.array([0.0, 0.1, 0.0])), "v_reset.*differs"),
        (_lif(tau=np.full(3, 0.5 * DT)), r"tau"),
        (nir.Delay(delay=np.full(3, 1.5 * DT)), "not a whole number"),
    ],
)
def test_a_node_spikestep_has_no_exact_module_for_is_refused_naming_it_and_why(node, match):
    with pytest.raises(ValueError, match=match):
        load(_graph(node))


def test_the_decay_input_and_per_neuron_time_constants_are_read_from_r_and_tau():
    fixed = load(_graph(_lif(tau=np.full(3, 4 * DT), r=np.full(3, 4.0))))[0]
    assert (fixed.tau, fixed.decay_input) == (4.0, False)
    varied = load(_graph(_lif(tau=np.array([2.0, 3.0, 4.0]) * DT, r=np.ones(3))))[0]
    assert varied.tau.tolist() == [2.0, 3.0, 4.0] and varied.decay_input


def test_a_uniform_delay_loads_as_an_int_and_thresholds_as_floats():
    net = load(_graph(nir.Delay(delay=np.full(3, 3 * DT))))
    assert isinstance(net[0], layer.Delay) and net[0].delay_steps == 3
    node = load(_graph(_if(v_threshold=np.full(3, 0.5), v_reset=np.full(3, -0.5))))[0]
    assert type(node) is neuron.IFNode and (node.v_threshold, node.v_reset) == (0.5, -0.5)
