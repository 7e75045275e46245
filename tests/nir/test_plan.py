"""spikestep.nir.plan: which modules become NIR nodes, and the edges (needs no nir)."""

import pytest
from torch import nn

from spikestep import layer, neuron
from spikestep.nir import GraphNet, Scale
from spikestep.nir.plan import plan_of


def test_a_sequential_is_a_chain_named_after_its_children():
    plan = plan_of(nn.Sequential(layer.Linear(2, 3), nn.Sequential(neuron.IFNode(), layer.Delay(1))))
    assert list(plan.units) == ["0", "1_0", "1_1"]
    assert plan.edges == [("input", "0"), ("0", "1_0"), ("1_0", "1_1"), ("1_1", "output")]


def test_identity_and_dropout_in_eval_mode_pass_their_input_on():
    net = nn.Sequential(
        layer.Linear(2, 3), nn.Identity(), layer.Dropout(0.5), nn.Dropout(0.1), neuron.IFNode()
    )
    plan = plan_of(net.eval())
    assert plan.edges == [("input", "0"), ("0", "4"), ("4", "output")]


def test_dropout_in_training_mode_is_refused_naming_eval():
    with pytest.raises(ValueError, match=r"net.eval\(\)"):
        plan_of(nn.Sequential(layer.Linear(2, 3), layer.Dropout(0.5)))


def test_a_traced_forward_that_adds_outputs_gives_edges_into_one_node():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = layer.Linear(3, 3)
            self.lif = neuron.LIFNode()

        def forward(self, x):
            return self.lif(self.fc(x) + x)

    plan = plan_of(Residual())
    assert sorted(plan.edges) == sorted([("input", "fc"), ("fc", "lif"), ("input", "lif"), ("lif", "output")])


def test_a_traced_operation_other_than_a_sum_is_refused_naming_it():
    class Doubles(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = layer.Linear(3, 3)

        def forward(self, x):
            return self.fc(x) * 2

    with pytest.raises(ValueError, match=r"Doubles.*mul.*Scale|Doubles.*mul"):
        plan_of(Doubles())


def test_a_forward_fx_cannot_trace_is_refused_naming_sequential_and_graph_net():
    class Branches(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = layer.Linear(3, 3)

        def forward(self, x):
            return self.fc(x) if x.sum() > 0 else x

    with pytest.raises(ValueError, match="GraphNet"):
        plan_of(Branches())


def test_a_module_used_twice_is_refused():
    lif = neuron.LIFNode()
    with pytest.raises(ValueError, match="called once"):
        plan_of(nn.Sequential(lif, layer.Linear(2, 2), lif))


def test_the_same_output_reaching_a_node_twice_is_refused_naming_scale():
    net = GraphNet(
        {"a": nn.Sequential(nn.Identity()), "b": layer.Linear(2, 2)},
        [("input", "a"), ("input", "b"), ("a", "b"), ("b", "output")],
    )
    with pytest.raises(ValueError, match=r"twice.*Scale"):
        plan_of(net)


def test_a_graph_net_gives_its_own_nodes_and_edges():
    edges = [("input", "a"), ("input", "s"), ("a", "output"), ("s", "output")]
    plan = plan_of(GraphNet({"a": layer.Linear(2, 2), "s": Scale(2.0)}, edges))
    assert sorted(plan.edges) == sorted(edges)


def test_a_network_with_nothing_to_export_is_refused():
    with pytest.raises(ValueError, match="no module"):
        plan_of(nn.Sequential(nn.Identity()))


def test_children_of_a_single_step_container_are_marked():
    plan = plan_of(nn.Sequential(layer.SeqToANNContainer(nn.Linear(2, 2)), neuron.IFNode(step_mode="m")))
    assert [u.single_steps for u in plan.units.values()] == [True, False]
