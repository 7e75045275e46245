import pytest
import torch

from spikestep import functional
from spikestep.layer import DelayBank


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


def _reference_bank(x, delays):
    return torch.cat([functional.delay(x, d) for d in delays], dim=-1)


def test_delay_bank_single_steps_equal_the_whole_sequence():
    x, delays = torch.rand(9, 2, 3), [0, 1, 4]
    bank = DelayBank(delays, step_mode="s")
    steps = torch.stack([bank(xt) for xt in x])
    assert torch.equal(steps, _reference_bank(x, delays))


def test_delay_bank_holds_only_its_longest_delay_and_shares_no_storage():
    bank, x = DelayBank([0, 3]), torch.rand(100, 2, 5)
    y = bank(x)
    assert bank.queue.untyped_storage().nbytes() == 3 * 2 * 5 * 4
    held = bank.queue.untyped_storage().data_ptr()
    assert held not in {x.untyped_storage().data_ptr(), y.untyped_storage().data_ptr()}


def test_delay_bank_computes_integer_spikes_in_the_default_float_dtype():
    x = torch.randint(0, 2, (6, 2, 3), dtype=torch.uint8)
    y = DelayBank([0, 2])(x)
    assert y.dtype == torch.get_default_dtype()
    assert torch.equal(y, _reference_bank(x.float(), [0, 2]))


def test_delay_bank_gradcheck_through_chunks():
    x = torch.rand(7, 1, 2, dtype=torch.float64, requires_grad=True)

    def run(x):
        bank = DelayBank([0, 1, 3])
        return torch.cat([bank(x[:2]), bank(x[2:3]), bank(x[3:])])

    assert torch.autograd.gradcheck(run, (x,))
