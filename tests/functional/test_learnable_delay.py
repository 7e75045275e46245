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


@pytest.mark.parametrize("bad", [-0.1, float("nan")])
def test_the_sigma_schedule_refuses_a_negative_or_nan_progress(bad):
    with pytest.raises(ValueError, match=r"progress must be a finite number >= 0"):
        functional.sigma_schedule(bad, 10)
