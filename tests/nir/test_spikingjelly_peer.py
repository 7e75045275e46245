"""Graphs go both ways between spikestep and SpikingJelly 2.0 (export_to_nir / import_from_nir) with the
same spikes. Weights sit on a grid of 1/8 and time constants are powers of two, so both frameworks compute
every membrane exactly and the spikes can be compared bit for bit."""

import pytest
import torch
from exact_nets import quantized, spikes
from torch import nn

from spikestep import functional, layer, neuron
from spikestep.nir import export, load

nir = pytest.importorskip("nir.ir", reason="the nir package is not installed (pip install 'spikestep[nir]')")
nir_exchange = pytest.importorskip(
    "spikingjelly.activation_based.nir_exchange",
    reason="SpikingJelly 2.0's NIR exchange is not importable (pip install --no-deps spikingjelly==2.0.0 nirtorch)",
)
sj_functional = pytest.importorskip("spikingjelly.activation_based.functional")
sj_layer = pytest.importorskip("spikingjelly.activation_based.layer")
sj_neuron = pytest.importorskip("spikingjelly.activation_based.neuron")


def _through_a_file(graph, tmp_path):
    import nir as nir_package

    nir_package.write(tmp_path / "peer.nir", graph)
    return nir_package.read(tmp_path / "peer.nir")


def _sj_conv2d_net() -> nn.Module:
    net = nn.Sequential(
        sj_layer.Conv2d(2, 4, 3, padding=1),
        sj_neuron.IFNode(v_threshold=0.75, v_reset=-0.25),
        sj_layer.AvgPool2d(2),
        sj_layer.Flatten(),
        sj_layer.Linear(4 * 4 * 4, 10),
        sj_neuron.LIFNode(tau=2.0, v_threshold=0.5),
        sj_layer.Linear(10, 8, bias=False),
        sj_neuron.LIFNode(tau=4.0, decay_input=False, v_reset=-0.5, v_threshold=0.5),
        sj_layer.Linear(8, 5),
        sj_neuron.ParametricLIFNode(init_tau=2.0, v_threshold=0.5),
    )
    sj_functional.set_step_mode(net, "m")
    return quantized(net)


def _sj_conv1d_net() -> nn.Module:
    net = nn.Sequential(
        sj_layer.Conv1d(3, 4, 3, padding=1, stride=1),
        sj_neuron.LIFNode(tau=2.0, v_threshold=0.5),
        sj_layer.Flatten(),
        sj_layer.Linear(4 * 8, 5),
        sj_neuron.IFNode(v_threshold=0.5),
    )
    sj_functional.set_step_mode(net, "m")
    return quantized(net)


@pytest.mark.parametrize(("make", "shape"), [(_sj_conv2d_net, (2, 8, 8)), (_sj_conv1d_net, (3, 8))])
@pytest.mark.parametrize("step_mode", ["m", "s"])
def test_a_spikingjelly_export_loads_into_spikestep_with_the_same_spikes(tmp_path, make, shape, step_mode):
    sj_net = make()
    x = spikes(16, 3, *shape)
    graph = _through_a_file(nir_exchange.export_to_nir(sj_net, x), tmp_path)
    sj_functional.reset_net(sj_net)
    with torch.no_grad():
        expected = sj_net(x)
    assert 0 < int(expected.sum()) < expected.numel()
    ours = load(graph, step_mode=step_mode)
    with torch.no_grad():
        got = ours(x) if step_mode == "m" else torch.stack([ours(x_t) for x_t in x])
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def _ss_net() -> nn.Module:
    net = nn.Sequential(
        layer.Conv2d(2, 4, 3, padding=1),
        neuron.IFNode(v_threshold=0.75, v_reset=-0.25),
        layer.AvgPool2d(2),
        layer.Conv2d(4, 4, 3, padding=1, bias=False),
        neuron.LIFNode(tau=2.0, v_threshold=0.5),
        layer.Flatten(),
        layer.Linear(4 * 4 * 4, 10),
        neuron.LIFNode(tau=4.0, decay_input=False, v_reset=-0.5, v_threshold=0.5),
        layer.Linear(10, 5, bias=False),
        neuron.ParametricLIFNode(init_tau=2.0, v_threshold=0.5),
    )
    functional.set_step_mode(net, "m")
    return quantized(net)


def test_a_spikestep_export_loads_into_spikingjelly_with_the_same_spikes(tmp_path):
    net = _ss_net()
    x = spikes(16, 3, 2, 8, 8)
    graph = _through_a_file(export(net, x), tmp_path)
    functional.reset_net(net)
    with torch.no_grad():
        expected = net(x)
    assert 0 < int(expected.sum()) < expected.numel()
    sj_net = nir_exchange.import_from_nir(graph, step_mode="m")
    with torch.no_grad():
        got, _ = sj_net(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_a_spikingjelly_cuba_lif_is_refused_on_load_saying_why():
    net = nn.Sequential(sj_layer.Linear(3, 3), sj_neuron.CUBALIFNode(c_decay=0.5, v_decay=0.5))
    sj_functional.set_step_mode(net, "m")
    graph = nir_exchange.export_to_nir(net, torch.rand(4, 2, 3))
    with pytest.raises(ValueError, match=r"CubaLIF.*SynapseFilter"):
        load(graph)
