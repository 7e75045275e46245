import pytest
import torch

from spikestep import functional


@pytest.mark.parametrize("sigma", [0.0, 0.5, 4.0])
def test_the_delay_kernel_sums_to_one_and_peaks_at_the_nearest_tap(sigma):
    d = torch.tensor([0.0, 2.2, 5.0, 3.9])
    kernel = functional.delay_kernel(d, 5, sigma)
    torch.testing.assert_close(kernel.sum(-1), torch.ones(4))
    if sigma <= 0.5:
        assert kernel.argmax(-1).tolist() == [0, 2, 5, 4]


def test_the_sigma_schedule_narrows_geometrically_over_the_first_quarter():
    values = [functional.sigma_schedule(p, 20) for p in (0.0, 0.125, 0.25, 0.5, 1.0)]
    assert values[0] == 10.0 and values[2:] == [0.5, 0.5, 0.5]
    assert values[1] == pytest.approx((10.0 * 0.5) ** 0.5)


def test_a_schedule_ending_at_zero_ends_in_linear_interpolation():
    assert functional.sigma_schedule(0.3, 10, final=0.0) == 0.0
    assert functional.sigma_schedule(0.1, 10, final=0.0) > 0.0


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_the_sigma_schedule_refuses_progress_outside_zero_to_one(bad):
    with pytest.raises(ValueError, match=r"progress must be the fraction of training done"):
        functional.sigma_schedule(bad, 10)
