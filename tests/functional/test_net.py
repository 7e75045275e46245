import pytest
import torch
import torch.nn as nn
from copy_checks import assert_copies_continue_like_the_original

from spikestep import functional, layer, neuron


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


def _spiking_net(step_mode):
    """Several memory modules and parameters in a row: linear, learnable filter, PLIF, delay, per-channel
    fixed filter, soft-reset LIF, linear, IF."""
    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Linear(4, 6),
        layer.SynapseFilter(tau=3.0, learnable=True),
        neuron.ParametricLIFNode(init_tau=torch.linspace(1.5, 4.0, 6), v_reset=-0.2, store_v_seq=True),
        layer.Delay(2),
        layer.SynapseFilter(tau=torch.linspace(2.0, 5.0, 6)),
        neuron.LIFNode(tau=2.0, v_reset=None, decay_input=False),
        layer.Linear(6, 3),
        neuron.IFNode(v_threshold=0.5),
    ).double()
    functional.set_step_mode(net, step_mode)
    return net


def _run(net, x_seq):
    return net(x_seq) if net[0].step_mode == "m" else torch.stack([net(xt) for xt in x_seq])


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_a_network_deepcopied_or_pickled_continues_exactly_as_the_original(step_mode):
    net = _spiking_net(step_mode)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(16, 3, 4, generator=g, dtype=torch.float64) * 3
    with torch.no_grad():
        net[1].w.sub_(0.3)  # trained values, not the initial ones: the copies must carry them
    _run(net, x[:7].clone().requires_grad_(True))  # every memory is part of the graph when copied
    assert net[2].v.requires_grad and net[4].out_i.requires_grad
    upstream = torch.randn(16 - 7, 3, 3, generator=g, dtype=torch.float64)
    out = assert_copies_continue_like_the_original(net, _run, x[7:], upstream)
    assert 0 < out.mean() < 1  # the last layer fires, and not always
    # the copies continue the sequence the original started: a fresh network on all of x agrees
    fresh = _spiking_net(step_mode)
    fresh.load_state_dict(net.state_dict())
    assert torch.equal(_run(fresh, x)[7:], out)
