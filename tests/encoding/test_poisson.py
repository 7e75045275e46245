import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from spikestep import encoding
from spikestep.base import StepModule


def test_firing_rate_over_many_steps_is_close_to_the_input():
    x = torch.tensor([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
    g = torch.Generator().manual_seed(0)
    rate = encoding.poisson(x, T=4000, generator=g).mean(0)
    # 4000 Bernoulli draws: standard error <= 0.008, so 0.03 is ~4 sigma.
    torch.testing.assert_close(rate, x, atol=0.03, rtol=0)


def test_zero_never_spikes_and_one_always_spikes():
    s = encoding.poisson(torch.tensor([0.0, 1.0]), T=2000)
    assert s[:, 0].sum() == 0 and s[:, 1].sum() == 2000


def test_module_rate_over_single_steps_is_close_to_the_input():
    enc = encoding.PoissonEncoder(generator=torch.Generator().manual_seed(1))
    x = torch.tensor([[0.2, 0.7]])
    rate = torch.stack([enc(x) for _ in range(3000)]).mean(0)
    torch.testing.assert_close(rate, x, atol=0.03, rtol=0)


def test_poisson_returns_t_steps_of_the_input_shape_in_its_dtype():
    s = encoding.poisson(torch.rand(2, 3, dtype=torch.float64), T=7)
    assert s.shape == (7, 2, 3) and s.dtype == torch.float64
    assert set(s.unique().tolist()) <= {0.0, 1.0}


def test_integer_input_gives_spikes_in_the_default_float_dtype():
    s = encoding.poisson_step(torch.tensor([0, 1, 1]))
    assert s.dtype == torch.get_default_dtype()
    assert s.tolist() == [0.0, 1.0, 1.0]


def test_multi_step_module_takes_an_already_repeated_sequence():
    enc = encoding.PoissonEncoder(step_mode="m")
    assert isinstance(enc, StepModule)
    assert enc(torch.rand(2, 3).expand(5, 2, 3)).shape == (5, 2, 3)


def test_the_same_generator_seed_gives_the_same_spikes():
    x = torch.rand(4, 10)
    a = encoding.poisson(x, 6, generator=torch.Generator().manual_seed(3))
    b = encoding.poisson(x, 6, generator=torch.Generator().manual_seed(3))
    c = encoding.poisson(x, 6, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_module_with_a_seeded_generator_is_reproducible():
    x = torch.rand(4, 10)
    runs = []
    for _ in range(2):
        enc = encoding.PoissonEncoder(generator=torch.Generator().manual_seed(5))
        runs.append(torch.stack([enc(x) for _ in range(3)]))
    assert torch.equal(*runs)


@given(low=st.floats(-10, -1e-6), high=st.floats(1 + 1e-6, 10))
def test_values_outside_zero_to_one_are_rejected_with_the_range_seen(low, high):
    x = torch.tensor([low, 0.5, high], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"\[0, 1\].*got values in " + re.escape(f"[{low:g}, {high:g}]")):
        encoding.poisson_step(x)


def test_nan_is_rejected():
    with pytest.raises(ValueError, match="NaN"):
        encoding.poisson(torch.tensor([0.5, float("nan")]), T=3)


def test_module_rejects_values_outside_zero_to_one():
    with pytest.raises(ValueError, match=r"expects values in \[0, 1\]"):
        encoding.PoissonEncoder()(torch.tensor([1.5]))


@pytest.mark.parametrize(
    ("T", "error"), [(0, ValueError), (-2, ValueError), (2.0, TypeError), (True, TypeError)]
)
def test_invalid_number_of_steps_is_rejected(T, error):
    with pytest.raises(error, match="T must be an int >= 1"):
        encoding.poisson(torch.rand(3), T)


def test_a_non_tensor_input_is_rejected():
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        encoding.poisson_step([0.5])


def test_a_generator_that_is_not_a_generator_is_rejected():
    with pytest.raises(TypeError, match=r"torch\.Generator"):
        encoding.PoissonEncoder(generator=0)


def test_invalid_step_mode_is_rejected():
    with pytest.raises(ValueError, match="step_mode"):
        encoding.PoissonEncoder(step_mode="x")
