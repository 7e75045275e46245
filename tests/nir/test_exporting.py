"""spikestep.nir.export: the graph it gives, and what it leaves alone."""

import numpy as np
import pytest
import torch
from torch import nn

from spikestep import functional, layer, neuron
from spikestep.nir import export

nir = pytest.importorskip("nir", reason="the nir package is not installed (pip install 'spikestep[nir]')")
pytest.importorskip("nir.ir", reason="the nir package is not installed (pip install 'spikestep[nir]')")


def _net(step_mode: str) -> nn.Module:
    net = nn.Sequential(
        layer.Flatten(), layer.Linear(12, 5), nn.Sequential(neuron.LIFNode(tau=2.0), layer.Delay(1))
    )
    functional.set_step_mode(net, step_mode)
    return net


@pytest.mark.parametrize(("step_mode", "x"), [("m", torch.rand(7, 2, 3, 4)), ("s", torch.rand(2, 3, 4))])
def test_the_graph_has_one_node_per_module_and_sample_shapes_without_time_or_batch(step_mode, x):
    graph = export(_net(step_mode), x)
    assert list(graph.nodes) == ["input", "0", "1", "2_0", "2_1", "output"]
    assert [type(graph.nodes[n]).__name__ for n in ("0", "1", "2_0", "2_1")] == [
        "Flatten",
        "Affine",
        "LIF",
        "Delay",
    ]
    assert graph.edges == [("input", "0"), ("0", "1"), ("1", "2_0"), ("2_0", "2_1"), ("2_1", "output")]
    assert graph.nodes["input"].input_type["input"].tolist() == [3, 4]
    assert graph.nodes["output"].output_type["output"].tolist() == [5]
    assert graph.nodes["2_0"].tau.shape == (5,)


def test_time_constants_and_delays_are_in_seconds_of_dt():
    net = nn.Sequential(
        layer.Linear(2, 2), neuron.LIFNode(tau=4.0, decay_input=False), layer.Delay(3), neuron.IFNode()
    )
    graph = export(net, torch.rand(1, 2), dt=1e-3)
    np.testing.assert_allclose(graph.nodes["1"].tau, 4e-3, rtol=1e-15)
    np.testing.assert_array_equal(graph.nodes["1"].r, 4.0)
    np.testing.assert_allclose(graph.nodes["2"].delay, 3e-3, rtol=1e-15)
    np.testing.assert_allclose(graph.nodes["3"].r, 1e3, rtol=1e-15)


def test_export_leaves_the_networks_memories_and_statistics_as_they_were():
    net = _net("m")
    x = torch.rand(7, 2, 3, 4) * 3
    reference = _net("m")
    reference.load_state_dict(net.state_dict())
    net(x[:3])
    reference(x[:3])
    export(net, torch.rand(5, 9, 3, 4))  # another batch size: run on a copy
    torch.testing.assert_close(net(x[3:]), reference(x[3:]), rtol=0, atol=0)


def test_a_leaf_module_exports_as_a_one_node_graph():
    graph = export(neuron.IFNode(), torch.rand(2, 3))
    assert graph.edges == [("input", "ifnode"), ("ifnode", "output")]


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("not a net", torch.rand(2, 3)), TypeError, "torch.nn.Module"),
        ((neuron.IFNode(), [1.0, 2.0]), TypeError, "example_input"),
        ((neuron.IFNode(), torch.rand(2, 3), 0.0), ValueError, "dt"),
    ],
)
def test_wrong_arguments_are_refused_saying_what_to_give(args, error, match):
    with pytest.raises(error, match=match):
        export(*args)
