import pytest
import torch

from spikestep import functional
from spikestep.models import DelayBank, DelayNet, DigitsNet, Readout


def test_voting_readout_is_the_firing_rate_of_each_population():
    spikes = torch.zeros(4, 1, 6)
    spikes[:, 0, 0] = 1.0  # class 0: one of its 2 neurons fires at every step
    spikes[0, 0, 4] = 1.0  # class 2: one spike in 4 steps
    assert torch.allclose(Readout(2)(spikes), torch.tensor([[0.5, 0.0, 0.125]]))


def test_synapse_readout_weights_recent_spikes_more():
    early, late = torch.zeros(6, 1, 2), torch.zeros(6, 1, 2)
    early[0, 0, 0] = 1.0
    late[5, 0, 0] = 1.0
    readout = Readout(1, "synapse", tau=2.0)
    score_early = readout(early)[0, 0]
    functional.reset_net(readout)
    score_late = readout(late)[0, 0]
    assert score_late == pytest.approx(1 / 6) and score_early < score_late


def test_readout_rejects_unknown_kind():
    with pytest.raises(ValueError, match="readout kind"):
        Readout(2, "max")


@pytest.mark.parametrize("readout", ["voting", "synapse"])
def test_digits_net_gives_scores_in_unit_range_and_trainable_gradients(readout):
    net = DigitsNet(channels=4, voting_size=3, readout=readout)
    scores = net(torch.rand(4, 5, 64))
    assert (
        scores.shape == (5, 10) and 0.0 <= float(scores.detach().min()) <= float(scores.detach().max()) <= 1.0
    )
    scores.sum().backward()
    assert net.features[0].weight.grad is not None


def test_delay_net_output_at_a_step_ignores_later_inputs():
    torch.manual_seed(0)
    net = DelayNet(hidden=8, taps=3).eval()
    x = torch.randn(12, 2, 1)
    changed = x.clone()
    changed[8:] += 5.0
    a = net.features(x)
    functional.reset_net(net)
    b = net.features(changed)
    assert torch.equal(a[:8], b[:8])


def test_delay_net_with_one_tap_has_no_delays():
    net = DelayNet(hidden=8, taps=1)
    banks = [m for m in net.modules() if isinstance(m, DelayBank)]
    assert len(banks) == 3 and all(bank.delays == [0] for bank in banks)


def test_delay_net_window_grows_with_the_dilations():
    net = DelayNet(hidden=8, taps=5, dilations=(1, 2, 4))
    banks = [m for m in net.modules() if isinstance(m, DelayBank)]
    assert [bank.delays[-1] for bank in banks] == [4, 8, 16]


def test_delay_net_rejects_zero_taps():
    with pytest.raises(ValueError, match="taps"):
        DelayNet(taps=0)
