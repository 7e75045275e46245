import pytest
import torch

from spikestep import functional


def _reference_delay(x_seq, d):
    return torch.stack([x_seq[t - d] if t >= d else torch.zeros_like(x_seq[0]) for t in range(len(x_seq))])


@pytest.mark.parametrize("d", [0, 1, 3, 7, 9])
def test_delay_matches_the_definition(d):
    x = torch.rand(7, 2, 3)
    torch.testing.assert_close(functional.delay(x, d), _reference_delay(x, d))


def test_delay_gradient_reaches_only_inputs_that_reach_the_output():
    x = torch.rand(5, 2, requires_grad=True)
    functional.delay(x, 2).sum().backward()
    assert torch.equal(x.grad, torch.tensor([[1.0, 1.0]] * 3 + [[0.0, 0.0]] * 2))


@pytest.mark.parametrize("bad", [1.0, "2", True, None])
def test_delay_rejects_non_int_steps(bad):
    with pytest.raises(TypeError, match="delay_steps must be an int"):
        functional.delay(torch.rand(3), bad)


def test_delay_rejects_negative_steps():
    with pytest.raises(ValueError, match=">= 0"):
        functional.delay(torch.rand(3), -1)


def test_delay_with_state_carries_the_held_inputs():
    x = torch.arange(1.0, 6.0)
    y1, held = functional.delay_with_state(x[:2], torch.zeros(3))
    y2, held = functional.delay_with_state(x[2:], held)
    torch.testing.assert_close(torch.cat([y1, y2]), functional.delay(x, 3))
    torch.testing.assert_close(held, x[2:])


@pytest.mark.parametrize(("d", "t"), [(1, 5), (3, 3), (4, 2), (2, 0)])
def test_delay_with_state_returns_new_tensors_and_exactly_d_held_steps(d, t):
    held, x = torch.rand(d, 2, 3), torch.rand(t, 2, 3)
    y, new_held = functional.delay_with_state(x, held)
    joined = torch.cat((held, x))
    assert torch.equal(y, joined[:t]) and torch.equal(new_held, joined[t:])
    storages = [a.untyped_storage().data_ptr() for a in (y, new_held, x, held) if a.numel()]
    assert len(set(storages)) == len(storages)
    assert new_held.untyped_storage().nbytes() == d * 2 * 3 * 4


def test_per_channel_delay_with_state_equals_the_stateless_delay_in_chunks():
    x, d = torch.rand(7, 2, 3), torch.tensor([0, 3, 1])
    held = torch.zeros(3, 2, 3)
    y1, held = functional.delay_with_state(x[:2], held, d)
    y2, held = functional.delay_with_state(x[2:], held, d)
    assert torch.equal(torch.cat([y1, y2]), functional.delay(x, d))
    assert torch.equal(held, x[-3:])
