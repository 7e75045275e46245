"""export -> nir.write -> nir.read -> load: the same spikes, for networks with every node spikestep maps."""

import pytest
import torch
from exact_nets import quantized, spikes
from torch import nn

from spikestep import functional, layer, neuron
from spikestep.nir import GraphNet, Scale, export, load

nir = pytest.importorskip("nir.ir", reason="the nir package is not installed (pip install 'spikestep[nir]')")


def _through_a_file(net: nn.Module, x: torch.Tensor, tmp_path, step_mode: str) -> nn.Module:
    path = tmp_path / "net.nir"
    import nir as nir_package

    nir_package.write(path, export(net, x))
    return load(nir_package.read(path), step_mode=step_mode)


def _run(net: nn.Module, x: torch.Tensor, step_mode: str) -> torch.Tensor:
    functional.reset_net(net)
    return net(x) if step_mode == "m" else torch.stack([net(x_t) for x_t in x])


def _conv2d_net() -> nn.Module:
    return quantized(
        nn.Sequential(
            layer.Conv2d(2, 4, 3, padding=1),
            neuron.IFNode(v_threshold=0.75, v_reset=-0.25),
            layer.AvgPool2d(2),
            layer.Conv2d(4, 4, 3, stride=2, padding="valid", bias=False),
            neuron.LIFNode(tau=3.0, decay_input=False, v_reset=0.0),
            layer.AvgPool2d(2, padding=1, divisor_override=1),  # SumPool2d
            layer.Flatten(),
            layer.Linear(4 * 2 * 2, 10),
            neuron.ParametricLIFNode(init_tau=2.5, v_threshold=0.5),
            layer.Linear(10, 6, bias=False),
            neuron.LIFNode(tau=2.0, v_threshold=0.5),
            Scale(torch.linspace(0.5, 3.0, 6)),
            layer.Delay(2),
        )
    )


def _conv1d_net() -> nn.Module:
    return quantized(
        nn.Sequential(
            layer.Conv1d(3, 4, 3, padding="same", dilation=2),
            neuron.LIFNode(tau=torch.tensor([[2.0], [3.0], [4.0], [5.0]]), v_threshold=0.5),  # per channel
            layer.Flatten(),
            layer.Linear(4 * 8, 5),
            neuron.IFNode(v_threshold=0.5),
        )
    )


@pytest.mark.parametrize("step_mode", ["m", "s"])
def test_a_conv2d_network_with_every_2d_node_loads_with_the_same_spikes(tmp_path, step_mode):
    net = _conv2d_net()
    functional.set_step_mode(net, step_mode)
    x = spikes(12, 3, 2, 12, 12)
    loaded = _through_a_file(net, x if step_mode == "m" else x[0], tmp_path, step_mode)
    expected = _run(net, x, step_mode)
    assert 0 < int((expected != 0).sum()) < expected.numel()  # the last layer fires, not everywhere
    torch.testing.assert_close(_run(loaded, x, step_mode), expected, rtol=0, atol=0)


@pytest.mark.parametrize("step_mode", ["m", "s"])
def test_a_conv1d_network_with_per_channel_tau_loads_with_the_same_spikes(tmp_path, step_mode):
    net = _conv1d_net()
    functional.set_step_mode(net, step_mode)
    x = spikes(12, 3, 3, 8)
    loaded = _through_a_file(net, x if step_mode == "m" else x[0], tmp_path, step_mode)
    expected = _run(net, x, step_mode)
    assert 0 < int(expected.sum()) < expected.numel()
    torch.testing.assert_close(_run(loaded, x, step_mode), expected, rtol=0, atol=0)
    assert isinstance(loaded[1].tau, torch.Tensor)


def test_the_loaded_network_is_made_of_spikestep_modules_in_the_step_mode_asked_for(tmp_path):
    net = _conv2d_net()
    functional.set_step_mode(net, "m")
    loaded = _through_a_file(net, spikes(4, 3, 2, 12, 12), tmp_path, "m")
    kinds = [type(m) for m in loaded]
    assert kinds == [
        layer.Conv2d,
        neuron.IFNode,
        layer.AvgPool2d,
        layer.Conv2d,
        neuron.LIFNode,
        layer.AvgPool2d,
        layer.Flatten,
        layer.Linear,
        neuron.LIFNode,
        layer.Linear,
        neuron.LIFNode,
        Scale,
        layer.Delay,
    ]
    assert {m.step_mode for m in loaded} == {"m"}
    assert loaded[5].divisor_override == 1 and loaded[9].bias is None and loaded[12].delay_steps == 2


def test_a_learnt_plif_time_constant_loads_as_a_fixed_lif_time_constant(tmp_path):
    plif = neuron.ParametricLIFNode(init_tau=2.0, step_mode="m")
    with torch.no_grad():
        plif.w.add_(0.3)
    net = nn.Sequential(layer.Linear(2, 2, step_mode="m"), plif)
    loaded = _through_a_file(net, torch.rand(3, 1, 2), tmp_path, "m")
    assert type(loaded[1]) is neuron.LIFNode
    assert loaded[1].tau == pytest.approx(plif.tau, rel=1e-12)


def test_per_channel_delays_load_as_one_delay_layer_with_a_tensor(tmp_path):
    try:
        delay = layer.Delay(torch.tensor([0, 1, 2]), step_mode="m")
    except TypeError as error:
        pytest.skip(f"this spikestep's layer.Delay takes one int only ({error})")
    net = nn.Sequential(layer.Linear(3, 3, step_mode="m"), delay)
    x = torch.rand(6, 2, 3)
    loaded = _through_a_file(quantized(net), x, tmp_path, "m")
    assert loaded[1].delay_steps.tolist() == [0, 1, 2]
    torch.testing.assert_close(_run(loaded, x, "m"), _run(net, x, "m"), rtol=0, atol=0)


class _Branching(nn.Module):
    """Two paths summed into one neuron, and a skip connection around a delay."""

    def __init__(self):
        super().__init__()
        self.a = layer.Linear(4, 3)
        self.b = nn.Sequential(layer.Linear(4, 3, bias=False), Scale(torch.tensor([1.0, 0.5, 2.0])))
        self.lif = neuron.LIFNode(tau=2.0, v_threshold=0.5)
        self.delay = layer.Delay(1)

    def forward(self, x):
        spikes = self.lif(self.a(x) + self.b(x))
        return self.delay(spikes) + spikes


@pytest.mark.parametrize("step_mode", ["m", "s"])
def test_a_branching_network_traced_by_fx_loads_as_a_graph_net_with_the_same_spikes(tmp_path, step_mode):
    net = quantized(_Branching())
    functional.set_step_mode(net, step_mode)
    x = spikes(10, 2, 4)
    loaded = _through_a_file(net, x if step_mode == "m" else x[0], tmp_path, step_mode)
    assert isinstance(loaded, GraphNet)
    expected = _run(net, x, step_mode)
    assert expected.sum() > 0
    torch.testing.assert_close(_run(loaded, x, step_mode), expected, rtol=0, atol=0)


def test_a_loaded_graph_net_exports_back_to_the_same_graph(tmp_path):
    net = quantized(_Branching())
    functional.set_step_mode(net, "m")
    x = spikes(10, 2, 4)
    once = _through_a_file(net, x, tmp_path, "m")
    twice = _through_a_file(once, x, tmp_path, "m")
    assert sorted(export(once, x).edges) == sorted(export(twice, x).edges)
    torch.testing.assert_close(_run(twice, x, "m"), _run(net, x, "m"), rtol=0, atol=0)


def test_a_network_in_a_seq_to_ann_container_exports_its_plain_torch_layers(tmp_path):
    net = nn.Sequential(
        layer.SeqToANNContainer(nn.Conv2d(1, 2, 3), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(2 * 3 * 3, 4)),
        neuron.LIFNode(tau=2.0, step_mode="m", v_threshold=0.5),
    )
    x = spikes(6, 2, 1, 8, 8)
    loaded = _through_a_file(quantized(net), x, tmp_path, "m")
    expected = _run(net, x, "m")
    assert expected.sum() > 0
    torch.testing.assert_close(_run(loaded, x, "m"), expected, rtol=0, atol=0)
