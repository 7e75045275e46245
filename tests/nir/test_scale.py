"""spikestep.nir.Scale: y = x * s, per element, in both step modes (needs no nir)."""

import pytest
import torch

from spikestep import functional
from spikestep.nir import Scale


def test_scale_multiplies_each_channel_in_both_step_modes():
    s = torch.tensor([1.0, -2.0, 0.5])
    x = torch.rand(4, 2, 3)
    single = Scale(s)
    multi = Scale(s, step_mode="m")
    torch.testing.assert_close(multi(x), x * s, rtol=0, atol=0)
    torch.testing.assert_close(torch.stack([single(x_t) for x_t in x]), x * s, rtol=0, atol=0)


def test_scale_keeps_a_floating_inputs_dtype_and_casts_spikes():
    scale = Scale(torch.tensor([2.0, 3.0]))
    assert scale(torch.ones(1, 2, dtype=torch.float64)).dtype == torch.float64
    assert scale(torch.ones(1, 2, dtype=torch.bool)).tolist() == [[2.0, 3.0]]


def test_a_scale_that_does_not_fit_the_step_is_a_value_error():
    with pytest.raises(ValueError, match="scale of shape"):
        Scale(torch.ones(3))(torch.ones(2, 4))


def test_a_scale_that_is_not_floating_is_a_type_error():
    with pytest.raises(TypeError, match="floating"):
        Scale(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="float"):
        Scale("2")


def test_scale_is_a_buffer_saved_and_moved_with_the_network():
    scale = Scale(torch.tensor([1.0, 2.0]))
    assert list(scale.state_dict()) == ["scale"]
    assert list(scale.parameters()) == []
    functional.set_step_mode(scale, "m")
    assert scale.step_mode == "m"
