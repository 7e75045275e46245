import pytest
import torch

from spikestep import functional
from spikestep.layer import DelayBank
from spikestep.models import DelayNet, LearnedDelayBank


def test_a_learned_bank_started_at_integer_lags_equals_the_fixed_bank():
    x = torch.rand(12, 3, 4)
    learned = LearnedDelayBank(4, taps=3, max_delay=6, init=[0, 2, 6], sigma=0.0)
    assert torch.equal(learned(x), DelayBank([0, 2, 6])(x))


def test_round_and_freeze_then_to_fixed_gives_exactly_the_same_outputs():
    x = torch.rand(20, 2, 3)
    bank = LearnedDelayBank(3, taps=2, max_delay=5, init="uniform", sigma=1.0)
    bank.round_and_freeze()
    assert not bank.delays.delay.requires_grad and bank.sigma == 0.0
    assert torch.equal(bank.delays.delay, bank.delays.delay.round())
    assert torch.equal(bank(x), bank.to_fixed()(x))


def test_the_learned_delay_net_has_no_more_parameters_than_the_fixed_one():
    fixed = sum(p.numel() for p in DelayNet().parameters())
    learned = sum(p.numel() for p in DelayNet(hidden=63, delays="learned").parameters())
    assert (fixed, learned) == (48_164, 47_418)


def test_training_progress_narrows_the_kernel_then_rounds_and_freezes_the_delays():
    net = DelayNet(hidden=4, delays="learned")
    banks = [m for m in net.features if isinstance(m, LearnedDelayBank)]
    net.set_training_progress(0.0)
    assert [b.sigma for b in banks] == [b.delays.max_delay / 2 for b in banks]
    net.set_training_progress(0.5)
    assert all(b.sigma == 0.5 for b in banks)
    net.set_training_progress(0.8)
    assert all(not b.delays.delay.requires_grad and b.sigma == 0.0 for b in banks)


def test_the_fixed_form_of_a_trained_net_streams_exactly_like_it():
    net = DelayNet(hidden=6, delays="learned")
    with torch.no_grad():
        for bank in net.features:
            if isinstance(bank, LearnedDelayBank):
                bank.delays.delay.uniform_(0, bank.delays.max_delay)
    net.set_training_progress(0.9)
    net.eval()
    x = torch.rand(40, 3, 1)
    expected = net(x)
    fixed = net.to_fixed()
    functional.reset_net(fixed)
    chunks = [fixed.features(c) for c in x.split([7, 20, 13])]
    torch.testing.assert_close(fixed.readout(torch.cat(chunks)), expected)


def test_an_unknown_delay_kind_is_refused():
    with pytest.raises(ValueError, match="delays must be 'fixed' or 'learned'"):
        DelayNet(delays="dcls")


def test_a_learned_bank_holds_its_last_inputs_once_not_once_per_tap():
    bank = LearnedDelayBank(3, taps=4, max_delay=5, sigma=1.0)
    bank(torch.rand(30, 2, 3))
    assert bank.queue.shape == (5, 2, 3)
    fixed = bank.to_fixed()
    fixed(torch.rand(30, 2, 3))
    assert fixed.queue.shape[1:] == (2, 3)


@pytest.mark.parametrize("sigma", [0.0, 1.5])
def test_a_learned_bank_in_chunks_equals_the_whole_sequence(sigma):
    x = torch.rand(17, 2, 3)
    whole = LearnedDelayBank(3, taps=2, max_delay=6, sigma=sigma)
    chunked = LearnedDelayBank(3, taps=2, max_delay=6, sigma=sigma)
    chunked.load_state_dict(whole.state_dict())
    expected = whole(x)
    got = torch.cat([chunked(c) for c in x.split([5, 1, 11])])
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)


def test_integer_taps_give_each_tap_of_each_channel_its_own_delay_in_chunks():
    x, d = torch.rand(12, 2, 3), torch.tensor([[0, 2, 5], [4, 1, 0]])
    expected = torch.cat([functional.delay(x, d[0]), functional.delay(x, d[1])], dim=-1)
    held = torch.zeros(5, 2, 3)
    y1, held = functional.delay_taps_with_state(x[:4], held, d)
    y2, held = functional.delay_taps_with_state(x[4:], held, d)
    assert torch.equal(torch.cat([y1, y2]), expected)
    assert torch.equal(held, x[-5:])
