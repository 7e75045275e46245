import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from spikestep import encoding, functional


@pytest.mark.parametrize(
    ("x", "T", "expected"),
    [
        ([1.0, 0.75, 0.5, 0.25, 0.0], 5, [0, 1, 2, 3, 4]),
        ([1.0, 0.9, 0.0], 11, [0, 1, 10]),
        ([0.3, 1.0], 1, [0, 0]),
    ],
)
def test_linear_spike_times_are_t_minus_one_times_one_minus_x(x, T, expected):
    assert encoding.latency_times(torch.tensor(x), T).tolist() == expected


def test_log_spike_times_follow_t_minus_one_minus_log_of_alpha_x_plus_one():
    # T = 5: alpha = e^4 - 1 = 53.6; x = 0.5 -> 4 - ln(27.8) = 0.68 -> 1; x = 0.05 -> 4 - ln(3.68) = 2.70 -> 3
    x = torch.tensor([1.0, 0.5, 0.05, 0.0])
    assert encoding.latency_times(x, 5, "log").tolist() == [0, 1, 3, 4]


def test_log_coding_stays_finite_for_a_long_window():
    x = torch.tensor([1.0, 0.5, 0.0], dtype=torch.float64)
    # alpha = e^1999 - 1 overflows float64; the times must not.
    assert encoding.latency_times(x, 2000, "log").tolist() == [0, 1, 1999]


@given(x=st.lists(st.floats(0, 1), min_size=1, max_size=8), T=st.integers(1, 20))
def test_every_element_spikes_exactly_once_and_larger_values_no_later(x, T):
    xt = torch.tensor(x, dtype=torch.float64)
    for enc_function in encoding.ENC_FUNCTIONS:
        s = encoding.latency(xt, T, enc_function)
        assert s.shape == (T, len(x))
        assert (s.sum(0) == 1).all()
        t_f = s.argmax(0)
        order = xt.argsort()
        assert (t_f[order].diff() <= 0).all()


def test_latency_step_is_one_slice_of_latency():
    x = torch.rand(3, 4)
    s = encoding.latency(x, 6, "log")
    for t in range(6):
        torch.testing.assert_close(encoding.latency_step(x, t, 6, "log"), s[t])


def test_single_step_module_emits_one_step_per_call_and_wraps_after_t():
    enc = encoding.LatencyEncoder(T=3)
    x = torch.tensor([1.0, 0.5, 0.0])
    steps = [enc(x) for _ in range(4)]
    torch.testing.assert_close(torch.stack(steps[:3]), torch.eye(3))
    torch.testing.assert_close(steps[3], steps[0])


def test_single_steps_equal_the_multi_step_module():
    x = torch.rand(2, 5)
    multi = encoding.LatencyEncoder(T=4, enc_function="log", step_mode="m")(x)
    single = encoding.LatencyEncoder(T=4, enc_function="log")
    assert multi.shape == (4, 2, 5)
    torch.testing.assert_close(torch.stack([single(x) for _ in range(4)]), multi)


def test_reset_restarts_the_step_counter():
    enc = encoding.LatencyEncoder(T=4)
    x = torch.tensor([1.0])
    enc(x), enc(x)
    assert enc.t == 2
    functional.reset_net(enc)
    assert enc.t == 0 and enc(x).item() == 1.0


def test_spikes_come_in_the_input_dtype():
    assert encoding.latency(torch.rand(3, dtype=torch.float64), 4).dtype == torch.float64


def test_values_outside_zero_to_one_are_rejected_with_the_range_seen():
    with pytest.raises(ValueError, match=r"got values in \[-0.5, 1.5\]"):
        encoding.LatencyEncoder(T=4)(torch.tensor([-0.5, 1.5]))


@pytest.mark.parametrize(("T", "error"), [(0, ValueError), (3.5, TypeError), (None, TypeError)])
def test_invalid_t_is_rejected(T, error):
    with pytest.raises(error, match="T must be an int >= 1"):
        encoding.LatencyEncoder(T)


def test_unknown_enc_function_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match=r"enc_function must be one of \['linear', 'log'\], got 'exp'"):
        encoding.LatencyEncoder(4, enc_function="exp")


@pytest.mark.parametrize("t", [-1, 4, 1.0])
def test_latency_step_rejects_a_step_outside_the_window(t):
    with pytest.raises(ValueError, match=r"t must be an int in \[0, T-1\]"):
        encoding.latency_step(torch.rand(2), t, 4)
