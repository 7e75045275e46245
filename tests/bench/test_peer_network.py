"""The MNIST-1D network from SpikingJelly 2.0 parts (the benchmark's peer) is DelayNet: same parameters,
same outputs and gradients on the same weights; and its training step runs (no timing assertions: the
machine is shared). Tests that need SpikingJelly skip where it is not installed."""

import argparse
import sys

import pytest
import torch

from spikestep import functional
from spikestep.bench import cli, peer_network, train_step
from spikestep.models import DelayNet

needs_spikingjelly = pytest.mark.skipif(
    not peer_network.spikingjelly_available(),
    reason=f"{peer_network.spikingjelly_unavailable_reason()}",
)


def _n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@needs_spikingjelly
@pytest.mark.parametrize(
    "kwargs", [{}, {"hidden": 8, "taps": 1}, {"hidden": 16, "taps": 3, "dilations": (1, 3), "voting_size": 4}]
)
def test_same_parameters_as_delaynet(kwargs):
    ours, peer = DelayNet(**kwargs), peer_network.spikingjelly_delaynet(**kwargs)
    assert _n_params(peer) == _n_params(ours)
    assert {k: v.shape for k, v in peer.state_dict().items()} == {
        k: v.shape for k, v in ours.state_dict().items()
    }
    if not kwargs:
        assert _n_params(peer) == 48164  # hidden 64, 5 taps, dilations 1, 2, 4, 10 classes x 10 voters


@needs_spikingjelly
def test_built_from_spikingjelly_parts_in_multi_step_mode():
    from spikingjelly.activation_based import layer, neuron, surrogate

    peer = peer_network.spikingjelly_delaynet()
    kinds = [type(m) for m in peer.features]
    assert kinds[:4] == [peer_network.ConcatDelays, layer.Linear, layer.BatchNorm1d, neuron.LIFNode]
    assert kinds[-3:] == [layer.Dropout, layer.Linear, neuron.LIFNode]
    assert [tap.delay_steps for tap in peer.features[8].taps] == [0, 4, 8, 12, 16]
    assert all(isinstance(tap, layer.Delay) for tap in peer.features[0].taps)
    assert isinstance(peer.readout.vote, layer.VotingLayer)
    lifs = [m for m in peer.modules() if isinstance(m, neuron.LIFNode)]
    assert len(lifs) == 4
    for lif in lifs:
        assert lif.step_mode == "m" and lif.tau == 1.5 and lif.v_reset == 0.0 and lif.v_threshold == 1.0
        assert isinstance(lif.surrogate_function, surrogate.ATan) and lif.surrogate_function.alpha == 2.0
    assert all(m.step_mode == "m" for m in peer.modules() if hasattr(m, "step_mode"))


def _twins(seed: int = 0, calibrate: torch.Tensor | None = None) -> tuple[torch.nn.Module, torch.nn.Module]:
    """DelayNet and the SpikingJelly network with the same weights; the output layer's weights are
    scaled up so that the output neurons fire (at initialisation they hardly do, and equal zeros would
    prove little). ``calibrate``: an input whose batch statistics become BatchNorm's running ones (for
    eval mode, where the initial ones, mean 0 and variance 1, would leave the deeper layers silent)."""
    torch.manual_seed(seed)
    ours = DelayNet()
    with torch.no_grad():
        ours.features[13].weight.mul_(8.0)
        if calibrate is not None:
            norms = [m for m in ours.modules() if isinstance(m, torch.nn.BatchNorm1d)]
            for norm in norms:
                norm.momentum = None  # a cumulative average: after one batch, that batch's statistics
            ours(calibrate)
            for norm in norms:
                norm.momentum = 0.1
    peer = peer_network.spikingjelly_delaynet()
    peer.load_state_dict(ours.state_dict())
    return ours, peer


def _compare(ours, peer, x, share_dropout_mask: bool) -> None:
    from spikingjelly.activation_based import functional as sj_functional

    functional.reset_net(ours)
    sj_functional.reset_net(peer)
    out_ours = ours(x)
    if share_dropout_mask:  # the two draw their masks differently: give the peer spikestep's
        peer.features[12].mask = ours.features[12].mask
    out_peer = peer(x)
    assert out_ours.abs().sum() > 0, "the output neurons never fired: the comparison would be empty"
    torch.testing.assert_close(out_peer, out_ours, rtol=0, atol=1e-5)
    weights = torch.randn_like(out_ours)
    (out_ours * weights).sum().backward()
    (out_peer * weights).sum().backward()
    for (name, p_ours), p_peer in zip(ours.named_parameters(), peer.parameters()):
        torch.testing.assert_close(p_peer.grad, p_ours.grad, rtol=1e-4, atol=1e-5, msg=name)
    if ours.training:  # BatchNorm's running statistics moved alike
        for (name, b_ours), b_peer in zip(ours.named_buffers(), peer.buffers()):
            torch.testing.assert_close(b_peer, b_ours, rtol=1e-5, atol=1e-6, msg=name)


@needs_spikingjelly
def test_same_outputs_and_gradients_as_delaynet_in_training_mode():
    ours, peer = _twins()
    _compare(ours, peer, torch.randn(40, 16, 1), share_dropout_mask=True)


@needs_spikingjelly
def test_same_outputs_and_gradients_as_delaynet_in_eval_mode():
    x = torch.randn(40, 16, 1)
    ours, peer = _twins(seed=1, calibrate=x)
    ours.eval()
    peer.eval()
    _compare(ours, peer, x, share_dropout_mask=False)


@needs_spikingjelly
def test_the_peer_training_step_runs_and_learns():
    step = train_step.make_step(batch=16, steps=12, hidden=8, peer="spikingjelly")
    step()  # builds and runs; parameters are private to the closure, so train a twin by hand below
    from spikingjelly.activation_based import functional as sj_functional

    torch.manual_seed(0)
    net = peer_network.spikingjelly_delaynet(hidden=16, dropout=0.0)
    x, y = torch.randn(20, 32, 1), torch.randint(0, 10, (32,))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        sj_functional.reset_net(net)
        loss = torch.nn.functional.cross_entropy(net(x) * 10.0, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert min(losses[-3:]) < losses[0]


@needs_spikingjelly
def test_peer_against_spikestep_reports_both_and_the_ratio():
    r = train_step.peer_against_spikestep(repeats=1, warmup=0)
    assert r["spikestep_ms"] > 0 and r["spikingjelly_ms"] > 0
    assert r["ratio"] == pytest.approx(r["spikingjelly_ms"] / r["spikestep_ms"])
    assert r["ratio_q1"] <= r["ratio_q3"]
    assert r["spikingjelly_one_thread_ms"] > 0 and r["spikingjelly_threads"] >= r["spikestep_threads"] >= 1


@needs_spikingjelly
def test_under_load_times_the_peer_too():
    r = train_step.under_load(competitors=0, repeats=1, warmup_s=0.0, peers=True)
    for key in ("quiet_ms", "loaded_ms", "sj_quiet_ms", "sj_loaded_ms", "sj_loaded_one_thread_ms"):
        assert r[key] > 0, key
    assert "sj_quiet_ms" not in train_step.under_load(competitors=0, repeats=1, warmup_s=0.0, peers=False)


def test_a_pinned_step_runs_on_that_many_threads_and_restores_the_count():
    seen = []
    before = torch.get_num_threads()
    train_step._with_threads(lambda: seen.append(torch.get_num_threads()), 1)()
    assert seen == [1] and torch.get_num_threads() == before


def test_unknown_peer_is_refused():
    with pytest.raises(ValueError, match="peer must be one of"):
        train_step.make_step(peer="snntorch")


def test_without_spikingjelly_the_error_says_how_to_install(monkeypatch):
    for name in [m for m in sys.modules if m == "spikingjelly" or m.startswith("spikingjelly.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "spikingjelly", None)  # imports of it fail as if not installed
    assert not peer_network.spikingjelly_available()
    assert "spikestep[peers]" in peer_network.spikingjelly_unavailable_reason()
    with pytest.raises(ModuleNotFoundError, match=r"needs SpikingJelly.*--no-deps"):
        peer_network.spikingjelly_delaynet()
    with pytest.raises(ModuleNotFoundError):
        train_step.make_step(batch=2, steps=3, hidden=4, peer="spikingjelly")


@pytest.mark.parametrize("installed", [True, False])
def test_the_command_prints_the_peer_rows_only_when_spikingjelly_is_installed(monkeypatch, capsys, installed):
    monkeypatch.setattr(peer_network, "spikingjelly_available", lambda: installed)
    monkeypatch.setattr(
        train_step,
        "compiled_against_eager",
        lambda repeats: {"eager": 40.0, "compiled": 32.0, "compile_s": 20.0},
    )
    monkeypatch.setattr(
        train_step,
        "peer_against_spikestep",
        lambda repeats: {
            "spikestep_ms": 40.0,
            "spikingjelly_ms": 120.0,
            "ratio": 3.0,
            "ratio_q1": 2.8,
            "ratio_q3": 3.2,
            "spikestep_threads": 1.0,
            "spikingjelly_threads": 2.0,
            "spikingjelly_one_thread_ms": 100.0,
            "ratio_one_thread": 2.5,
            "spikestep_without_neurons_ms": 30.0,
            "spikingjelly_without_neurons_ms": 35.0,
            "ratio_with_free_neurons": 4.0,
        },
    )
    loaded = {"quiet_ms": 40.0, "loaded_ms": 100.0, "competitors": 2.0}
    peer_loaded = {"sj_quiet_ms": 120.0, "sj_loaded_ms": 900.0, "sj_loaded_one_thread_ms": 350.0}
    monkeypatch.setattr(
        train_step, "under_load", lambda repeats, peers: {**loaded, **(peer_loaded if peers else {})}
    )
    extra = cli._train_step_rows(argparse.Namespace(train_step=True, under_load=True, repeats=1))
    out = capsys.readouterr().out
    assert "eager 40.0 ms, torch.compile 32.0 ms" in out
    assert "training step under load: quiet 40.0 ms" in out
    if installed:
        assert "SpikingJelly 2.0 network (same architecture and weights, eager): 120.0 ms" in out
        assert "SJ / spikestep 3.00x" in out and "SJ on 1 thread 100.0 ms, 2.50x" in out
        assert "pass-through (what the rest costs): spikestep 30.0 ms, SJ 35.0 ms" in out
        assert "at most SJ / spikestep 4.00x" in out
        assert (
            "SpikingJelly 2.0 network under load: quiet 120.0 ms, with the same 2 trainings 900.0 ms" in out
        )
        assert "9.00x loaded" in out and "350.0 ms loaded" in out
        assert extra["train_step_peer"]["ratio"] == 3.0
    else:
        assert "SpikingJelly" not in out and "train_step_peer" not in extra


def test_without_neurons_replaces_every_neuron_by_a_pass_through():
    from spikestep.neuron import BaseNode

    net = DelayNet(hidden=8, taps=3)
    count = sum(isinstance(m, BaseNode) for m in net.modules())
    train_step._without_neurons(net, (BaseNode,))
    assert count > 0 and not any(isinstance(m, BaseNode) for m in net.modules())
    assert sum(isinstance(m, train_step._PassThrough) for m in net.modules()) == count
    assert net(torch.rand(6, 2, 1)).shape == (2, 10)


def test_a_step_without_neurons_runs():
    train_step.make_step(batch=4, steps=6, hidden=8, neurons=False)()


@needs_spikingjelly
def test_without_neurons_replaces_every_spikingjelly_neuron_too():
    net = peer_network.spikingjelly_delaynet(hidden=8, taps=5)
    types = train_step._neuron_types("spikingjelly")
    count = sum(isinstance(m, types) for m in net.modules())
    train_step._without_neurons(net, types)
    assert count == 4 and not any(isinstance(m, types) for m in net.modules())
    assert sum(isinstance(m, train_step._PassThrough) for m in net.modules()) == count


@needs_spikingjelly
def test_peer_against_spikestep_times_both_networks_without_neurons():
    r = train_step.peer_against_spikestep(repeats=1, warmup=0, one_thread=False)
    assert r["spikestep_without_neurons_ms"] > 0 and r["spikingjelly_without_neurons_ms"] > 0
    assert r["ratio_with_free_neurons"] == pytest.approx(
        r["spikingjelly_ms"] / r["spikestep_without_neurons_ms"]
    )
