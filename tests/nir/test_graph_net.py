"""spikestep.nir.GraphNet: modules wired as a DAG, each fed the sum of its predecessors (needs no nir)."""

import pytest
import torch

from spikestep import functional, layer, neuron
from spikestep.nir import GraphNet


def _branching():
    torch.manual_seed(0)
    nodes = {
        "a": layer.Linear(3, 4),
        "b": layer.Linear(3, 4),
        "lif": neuron.LIFNode(tau=2.0),
        "d": layer.Delay(1),
    }
    edges = [
        ("input", "a"),
        ("input", "b"),
        ("a", "lif"),
        ("b", "lif"),
        ("lif", "d"),
        ("d", "output"),
        ("lif", "output"),
    ]
    return GraphNet(nodes, edges)


def test_each_node_gets_the_sum_of_what_reaches_it():
    net = _branching()
    x = torch.rand(2, 3)
    lif = neuron.LIFNode(tau=2.0)
    spikes = lif(net.nodes["a"](x) + net.nodes["b"](x))
    torch.testing.assert_close(net(x), spikes, rtol=0, atol=0)  # + the delay's first output, 0


def test_multi_step_equals_single_steps_and_reset_net_restarts():
    net = _branching()
    x = torch.rand(6, 2, 3) * 2
    steps = torch.stack([net(x_t) for x_t in x])
    functional.reset_net(net)
    functional.set_step_mode(net, "m")
    torch.testing.assert_close(net(x), steps, rtol=0, atol=0)
    functional.reset_net(net)
    torch.testing.assert_close(net(x), steps, rtol=0, atol=0)


def test_nodes_run_after_the_nodes_that_feed_them_whatever_the_edge_order():
    net = GraphNet(
        {"b": layer.Linear(2, 2), "a": layer.Linear(2, 2)}, [("a", "b"), ("input", "a"), ("b", "output")]
    )
    assert net.order == ("a", "b")
    assert net.predecessors("output") == ("b",)


def test_a_cycle_is_a_value_error():
    with pytest.raises(ValueError, match="cycle"):
        GraphNet(
            {"a": layer.Linear(2, 2), "b": layer.Linear(2, 2)},
            [("input", "a"), ("a", "b"), ("b", "a"), ("b", "output")],
        )


@pytest.mark.parametrize(
    ("nodes", "edges", "error", "match"),
    [
        ({"a.b": layer.Linear(2, 2)}, [("input", "a.b"), ("a.b", "output")], ValueError, "without '.'"),
        ({"input": layer.Linear(2, 2)}, [("input", "output")], ValueError, "other than"),
        ({"a": "not a module"}, [("input", "a"), ("a", "output")], TypeError, "torch.nn.Module"),
        ({"a": layer.Linear(2, 2)}, [("input", "a")], ValueError, "receive no edge"),
        ({"a": layer.Linear(2, 2)}, [("input", "a"), ("x", "output")], ValueError, "neither a node"),
        ({"a": layer.Linear(2, 2)}, [("input", "a"), ("a",)], TypeError, "pair"),
    ],
)
def test_bad_nodes_and_edges_are_refused_saying_what_is_wrong(nodes, edges, error, match):
    with pytest.raises(error, match=match):
        GraphNet(nodes, edges)
