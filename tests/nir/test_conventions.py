"""spikestep.nir.conventions: steps <-> NIR's seconds (needs no nir)."""

import math

import pytest

from spikestep.nir import conventions


@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("tau_steps", [1.5, 2.0, 3.0, 100.0])
@pytest.mark.parametrize("dt", [1e-4, 1e-3, 0.5])
def test_lif_parameters_come_back_as_they_went_out(tau_steps, decay_input, dt):
    tau, r = conventions.lif_to_nir(tau_steps, decay_input, dt)
    assert conventions.lif_from_nir(tau, r, dt) == (tau_steps, decay_input)


def test_lif_time_constant_is_steps_times_dt_and_r_is_one_or_tau():
    assert conventions.lif_to_nir(4.0, True, 1e-3) == (0.004, 1.0)
    assert conventions.lif_to_nir(4.0, False, 1e-3) == (0.004, 4.0)


def test_lif_r_that_is_neither_one_nor_tau_over_dt_is_refused():
    with pytest.raises(ValueError, match="neither 1"):
        conventions.lif_from_nir(0.004, 2.0, 1e-3)


def test_if_r_is_one_over_dt():
    assert conventions.if_r(1e-4) == pytest.approx(1e4, rel=0, abs=0)


def test_delay_is_steps_times_dt_and_comes_back_as_a_whole_number():
    assert conventions.delay_steps_from_nir(conventions.delay_to_nir(7, 1e-4), 1e-4) == 7
    with pytest.raises(ValueError, match="not a whole number"):
        conventions.delay_steps_from_nir(2.5e-4, 1e-4)
    with pytest.raises(ValueError, match="not a whole number"):
        conventions.delay_steps_from_nir(-1e-4, 1e-4)


def test_snap_removes_float64_noise_only():
    assert conventions.snap(2.0 * 3e-4 / 3e-4) == 2.0
    assert conventions.snap(1.9999999999999998) == 2.0
    assert conventions.snap(2.0001) == 2.0001
    assert conventions.snap(math.pi) == math.pi


@pytest.mark.parametrize(
    ("dt", "error"),
    [(0.0, ValueError), (-1e-4, ValueError), (math.inf, ValueError), ("1e-4", TypeError), (True, TypeError)],
)
def test_a_dt_that_is_not_a_positive_finite_number_is_refused(dt, error):
    with pytest.raises(error, match="dt"):
        conventions.check_dt(dt, "export")
