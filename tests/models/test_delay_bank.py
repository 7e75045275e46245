import pytest
import torch

from spikestep import functional
from spikestep.models import DelayBank


def test_delay_bank_concatenates_delayed_copies_tap_major():
    x = torch.randn(6, 2, 3)
    y = DelayBank([0, 2])(x)
    expected_late = torch.cat([torch.zeros(2, 2, 3), x[:-2]])
    assert y.shape == (6, 2, 6)
    assert torch.equal(y[..., :3], x) and torch.equal(y[..., 3:], expected_late)


def test_delay_bank_in_chunks_equals_whole_sequence():
    x = torch.randn(9, 2, 3)
    bank = DelayBank([0, 1, 4])
    whole = bank(x)
    functional.reset_net(bank)
    chunked = torch.cat([bank(x[:2]), bank(x[2:5]), bank(x[5:])])
    assert torch.equal(whole, chunked)


def test_delay_bank_reset_forgets_the_previous_sequence():
    bank = DelayBank([0, 3])
    bank(torch.ones(5, 1, 1))
    functional.reset_net(bank)
    assert torch.equal(bank(torch.ones(3, 1, 1))[:, 0, 1], torch.zeros(3))


@pytest.mark.parametrize("delays", [[], [1, 1]])
def test_delay_bank_rejects_empty_or_repeated_delays(delays):
    with pytest.raises(ValueError):
        DelayBank(delays)


def test_delay_bank_rejects_input_without_time_dimension():
    with pytest.raises(ValueError, match="time first"):
        DelayBank([0])(torch.ones(3))
