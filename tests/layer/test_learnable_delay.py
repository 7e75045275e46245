import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from spikestep import functional, layer


def _run_steps(module, x):
    return torch.stack([module(xt) for xt in x])


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_integer_delays_with_linear_interpolation_equal_the_integer_delay_layer(step_mode):
    x, d = torch.rand(12, 3, 4), torch.tensor([0, 2, 5, 3])
    learnable = layer.LearnableDelay(4, 5, init=d.float(), sigma=0.0, step_mode=step_mode)
    exact = layer.Delay(d, step_mode=step_mode)
    run = (lambda m: m(x)) if step_mode == "m" else (lambda m: _run_steps(m, x))
    assert torch.equal(run(learnable), run(exact))


def test_a_half_step_delay_averages_the_two_neighbouring_shifts():
    x = torch.rand(10, 2, 1)
    y = layer.LearnableDelay(1, 4, init=1.5, sigma=0.0, step_mode="m")(x)
    expected = 0.5 * functional.delay(x, 1) + 0.5 * functional.delay(x, 2)
    torch.testing.assert_close(y, expected)


@given(
    sizes=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    sigma=st.sampled_from([0.0, 0.7, 3.0]),
    seed=st.integers(0, 2**16),
)
def test_chunks_equal_whole_equal_single_steps(sizes, sigma, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(sum(sizes), 2, 3, generator=g)
    init = torch.rand(3, generator=g) * 6
    make = lambda mode: layer.LearnableDelay(3, 6, init=init, sigma=sigma, step_mode=mode)  # noqa: E731
    whole = make("m")(x)
    chunked_layer = make("m")
    chunked = torch.cat([chunked_layer(c) for c in x.split(sizes)])
    steps = _run_steps(make("s"), x) if len(x) else whole
    torch.testing.assert_close(chunked, whole, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(steps, whole, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("sigma", [0.0, 1.3])
def test_gradcheck_inputs_and_delays_through_chunks(sigma):
    x = torch.rand(8, 2, 3, dtype=torch.float64, requires_grad=True)
    delays = torch.tensor([0.3, 1.6, 2.4], dtype=torch.float64, requires_grad=True)

    def run_with(x, delays):
        held = torch.zeros(3, 2, 3, dtype=torch.float64)
        y1, held = functional.learnable_delay_with_state(x[:3], held, delays, sigma)
        y2, _ = functional.learnable_delay_with_state(x[3:], held, delays, sigma)
        return torch.cat([y1, y2])

    assert torch.autograd.gradcheck(run_with, (x, delays))


def test_the_delay_gradient_moves_a_delay_towards_the_planted_one():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, 8, 1, generator=g)
    target = functional.delay(x, 7)
    module = layer.LearnableDelay(1, 12, init=3.0, step_mode="m")
    optimiser = torch.optim.Adam(module.parameters(), lr=0.3)
    for step in range(60):
        module.sigma = functional.sigma_schedule(step / 60, 12)
        functional.reset_net(module)
        loss = ((module(x) - target) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert abs(module.delay.item() - 7.0) < 0.5


def test_to_delay_rounds_to_the_integer_delay_layer():
    module = layer.LearnableDelay(3, 4, init=torch.tensor([0.4, 2.6, 4.0]), step_mode="m")
    rounded = module.to_delay()
    assert isinstance(rounded, layer.Delay) and rounded.step_mode == "m"
    assert torch.equal(rounded.delay_steps, torch.tensor([0, 3, 4]))


def test_the_memory_holds_max_delay_steps_of_its_own():
    module = layer.LearnableDelay(3, 4, step_mode="m")
    x = torch.rand(50, 2, 3)
    y = module(x)
    assert module.queue.shape == (4, 2, 3)
    assert module.queue.untyped_storage().nbytes() == 4 * 2 * 3 * 4
    ptrs = {x.untyped_storage().data_ptr(), y.untyped_storage().data_ptr()}
    assert module.queue.untyped_storage().data_ptr() not in ptrs


def test_detach_net_cuts_the_held_inputs_and_reset_net_clears_them():
    module = layer.LearnableDelay(2, 3, step_mode="m")
    module(torch.rand(5, 1, 2, requires_grad=True))
    functional.detach_net(module)
    assert not module.queue.requires_grad
    functional.reset_net(module)
    assert module.queue is None


def test_integer_spikes_give_what_the_same_values_as_floats_give():
    x = torch.randint(0, 2, (9, 2, 3), dtype=torch.uint8)
    module = layer.LearnableDelay(3, 4, step_mode="m")
    y_int = module(x)
    functional.reset_net(module)
    assert y_int.dtype == torch.float32
    assert torch.equal(y_int, module(x.float()))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"num_channels": 0, "max_delay": 3}, ValueError, "num_channels must be an int >= 1"),
        ({"num_channels": 2, "max_delay": -1}, ValueError, r">= 0"),
        ({"num_channels": 2, "max_delay": 2.5}, TypeError, "max_delay must be an int >= 0"),
        ({"num_channels": 2, "max_delay": 3, "sigma": 0.05}, ValueError, r"rounds to zero.*sigma=0"),
        ({"num_channels": 2, "max_delay": 3, "sigma": "wide"}, TypeError, r"sigma must be a real number"),
        (
            {"num_channels": 2, "max_delay": 3, "sigma": -1.0},
            ValueError,
            "sigma must be a finite number >= 0",
        ),
        ({"num_channels": 2, "max_delay": 3, "init": 4.0}, ValueError, r"must lie in \[0, max_delay=3\]"),
        ({"num_channels": 2, "max_delay": 3, "init": torch.zeros(3)}, ValueError, "one delay per channel"),
        ({"num_channels": 2, "max_delay": 3, "init": "gauss"}, ValueError, "init must be 'uniform'"),
    ],
)
def test_bad_arguments_are_refused_with_the_fix(kwargs, error, message):
    with pytest.raises(error, match=message):
        layer.LearnableDelay(**kwargs)


def test_an_input_with_the_wrong_channel_count_is_a_value_error():
    with pytest.raises(ValueError, match=r"expects the last dimension to be its 3 channels"):
        layer.LearnableDelay(3, 2, step_mode="m")(torch.rand(4, 2, 5))


def test_setting_sigma_is_checked_like_the_constructor():
    module = layer.LearnableDelay(2, 3)
    with pytest.raises(ValueError, match="sigma must be a finite number"):
        module.sigma = float("nan")
    module.sigma = 0.0  # linear interpolation
    assert module.sigma == 0.0


def test_clamp_delays_brings_delays_stepped_out_of_range_back():
    module = layer.LearnableDelay(2, 4, init=torch.tensor([0.0, 4.0]))
    with torch.no_grad():
        module.delay.add_(torch.tensor([-0.3, 0.2]))
    module.clamp_delays()
    assert module.delay.tolist() == [0.0, 4.0]
