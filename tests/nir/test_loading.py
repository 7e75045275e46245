"""spikestep.nir.load: what it builds from a graph or a file, and the graphs it refuses."""

import numpy as np
import pytest
import torch
from torch import nn

from spikestep import functional, layer, neuron
from spikestep.nir import GraphNet, export, load

nir = pytest.importorskip("nir", reason="the nir package is not installed (pip install 'spikestep[nir]')")
pytest.importorskip("nir.ir", reason="the nir package is not installed (pip install 'spikestep[nir]')")


def _affine(n: int = 3):
    return nir.Affine(weight=np.eye(n, dtype=np.float32), bias=np.zeros(n, dtype=np.float32))


def _if(n: int = 3):
    return nir.IF(r=np.full(n, 1e4), v_threshold=np.ones(n), v_reset=np.zeros(n))


def _ends(n: int = 3):
    return {"in": nir.Input(np.array([n])), "out": nir.Output(np.array([n]))}


def test_a_chain_loads_as_a_sequential_named_after_the_nodes():
    graph = nir.NIRGraph(
        nodes={**_ends(), "fc.1": _affine(), "if": _if()},
        edges=[("in", "fc.1"), ("fc.1", "if"), ("if", "out")],
    )
    net = load(graph)
    assert isinstance(net, nn.Sequential)
    assert list(net._modules) == ["fc_1", "if"]
    assert isinstance(net[0], layer.Linear) and isinstance(net[1], neuron.IFNode)


def test_branches_load_as_a_graph_net_that_sums_what_reaches_a_node():
    graph = nir.NIRGraph(
        nodes={**_ends(), "a": _affine(), "b": _affine(), "if": _if()},
        edges=[("in", "a"), ("in", "b"), ("a", "if"), ("b", "if"), ("if", "out")],
    )
    net = load(graph, step_mode="s")
    assert isinstance(net, GraphNet)
    assert net(torch.tensor([[0.5, 0.25, 1.0]])).tolist() == [[1.0, 0.0, 1.0]]  # if(2 x)


def test_a_graph_inside_a_graph_loads_as_a_network_inside_the_network():
    inner = nir.NIRGraph(nodes={**_ends(), "fc": _affine()}, edges=[("in", "fc"), ("fc", "out")])
    graph = nir.NIRGraph(
        nodes={**_ends(), "sub": inner, "if": _if()}, edges=[("in", "sub"), ("sub", "if"), ("if", "out")]
    )
    net = load(graph)
    assert isinstance(net[0], nn.Sequential) and isinstance(net[0][0], layer.Linear)


def test_the_network_loads_from_a_file_in_the_step_mode_and_dtype_asked_for(tmp_path):
    net = nn.Sequential(layer.Linear(3, 4), neuron.LIFNode(tau=2.0))
    nir.write(tmp_path / "net.nir", export(net, torch.rand(2, 3)))
    for path in (tmp_path / "net.nir", str(tmp_path / "net.nir")):
        loaded = load(path, step_mode="m", dtype=torch.float64)
        assert {m.step_mode for m in loaded} == {"m"}
        assert loaded[0].weight.dtype == torch.float64
        assert loaded(torch.rand(5, 2, 3, dtype=torch.float64)).shape == (5, 2, 4)


def test_the_loaded_network_holds_its_state_and_reset_net_resets_it():
    graph = export(nn.Sequential(layer.Linear(3, 3), neuron.LIFNode(tau=2.0)), torch.rand(2, 3))
    net = load(graph, step_mode="s")
    x = torch.rand(6, 2, 3) * 2
    first = torch.stack([net(x_t) for x_t in x])
    assert isinstance(net[1].v, torch.Tensor)  # the membrane is the module's own, no state argument
    functional.reset_net(net)
    torch.testing.assert_close(torch.stack([net(x_t) for x_t in x]), first, rtol=0, atol=0)


def test_a_recurrent_graph_is_refused():
    graph = nir.NIRGraph(
        nodes={**_ends(), "a": _affine(), "if": _if()},
        edges=[("in", "a"), ("a", "if"), ("if", "a"), ("if", "out")],
        type_check=False,
    )
    with pytest.raises(ValueError, match="recurrent"):
        load(graph)


def test_a_graph_with_two_inputs_is_refused():
    graph = nir.NIRGraph(
        nodes={**_ends(), "in2": nir.Input(np.array([3])), "if": _if()},
        edges=[("in", "if"), ("in2", "if"), ("if", "out")],
    )
    with pytest.raises(ValueError, match="2 input nodes"):
        load(graph)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"graph_or_path": 3}, TypeError, "nir.NIRGraph or the path"),
        ({"step_mode": "x"}, ValueError, "step_mode"),
        ({"dtype": torch.int32}, TypeError, "floating torch.dtype"),
        ({"dt": -1.0}, ValueError, "dt"),
    ],
)
def test_wrong_arguments_are_refused_saying_what_to_give(kwargs, error, match):
    graph = export(neuron.IFNode(), torch.rand(2, 3))
    with pytest.raises(error, match=match):
        load(**{"graph_or_path": graph, **kwargs})
