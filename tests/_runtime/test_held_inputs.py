"""The last D inputs a delay line carries (spikestep/_runtime/held_inputs.py)."""

import pytest
import torch

from spikestep._runtime.held_inputs import last_steps


def _shares_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (
        a.numel() > 0 and b.numel() > 0 and a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
    )


@pytest.mark.parametrize("d", [0, 1, 3])
@pytest.mark.parametrize("t", [0, 1, 3, 5])
def test_last_steps_are_the_last_d_of_held_then_x_in_a_tensor_of_their_own(d, t):
    held = torch.arange(d * 2, dtype=torch.float64).reshape(d, 2)
    x = 100 + torch.arange(t * 2, dtype=torch.float64).reshape(t, 2)
    kept = last_steps(held, x)
    assert torch.equal(kept, torch.cat((held, x))[t:])
    assert kept.shape == (d, 2)
    assert not _shares_storage(kept, held) and not _shares_storage(kept, x)


def test_gradients_flow_through_the_last_steps():
    held = torch.rand(3, 2, requires_grad=True)
    x = torch.rand(2, 2, requires_grad=True)
    last_steps(held, x).sum().backward()
    assert held.grad.tolist() == [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]  # held[2], then x
    assert x.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
