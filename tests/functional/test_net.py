import pytest
import torch
import torch.nn as nn

from spikestep import functional, layer


def _net():
    return nn.Sequential(
        layer.SynapseFilter(tau=2.0),
        nn.Sequential(layer.Delay(2), layer.VotingLayer(1)),
        nn.ReLU(),
    )


def test_reset_net_resets_nested_memory_modules():
    net = _net()
    net(torch.ones(3))
    functional.reset_net(net)
    assert net[0].out_i == 0.0
    assert net[1][0].queue is None


def test_detach_net_cuts_every_nested_memory():
    net = _net()
    net(torch.ones(3, requires_grad=True))
    net(torch.ones(3, requires_grad=True))
    functional.detach_net(net)
    assert not net[0].out_i.requires_grad
    assert all(not t.requires_grad for t in net[1][0].queue)


def test_set_step_mode_reaches_nested_step_modules():
    net = _net()
    functional.set_step_mode(net, "m")
    assert net[0].step_mode == "m"
    assert net[1][0].step_mode == "m"
    assert net[1][1].step_mode == "m"


def test_set_step_mode_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="step_mode"):
        functional.set_step_mode(_net(), "q")


@pytest.mark.parametrize("helper", [functional.reset_net, functional.detach_net])
def test_net_helpers_reject_non_modules(helper):
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        helper([1, 2])


@pytest.mark.parametrize("mode", ["s", "m"])
def test_set_step_mode_leaves_fixed_mode_containers_and_their_children_alone(mode):
    inner = layer.SynapseFilter(tau=2.0)
    net = nn.Sequential(layer.MultiStepContainer(inner), layer.Delay(1))
    functional.set_step_mode(net, mode)
    assert net[0].step_mode == "m"
    assert inner.step_mode == "s"
    assert net[1].step_mode == mode


def test_set_step_mode_refuses_a_leaf_that_cannot_run_in_that_mode():
    from spikestep.base import MemoryModule, SingleStepModule

    class OnlySingle(MemoryModule, SingleStepModule):
        pass

    with pytest.raises(ValueError, match="OnlySingle"):
        functional.set_step_mode(nn.Sequential(OnlySingle()), "m")
