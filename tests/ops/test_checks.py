"""The operators' shared argument checks (spikestep/ops/_checks.py)."""

import math

import pytest
import torch

from spikestep.ops._checks import check_real, check_tensors


def test_check_real_returns_a_float_and_turns_negative_zero_into_zero():
    assert check_real(2, "op", "sigma", 0.0) == 2.0
    zero = check_real(-0.0, "op", "sigma", 0.0)
    assert zero == 0.0 and math.copysign(1.0, zero) == 1.0


@pytest.mark.parametrize("value", [True, "1", None, 1j])
def test_check_real_refuses_what_is_not_a_real_number_with_the_bound(value):
    with pytest.raises(TypeError, match=r"op: sigma must be a real number >= 0\.25"):
        check_real(value, "op", "sigma", 0.25)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 0.1, 10**400])
def test_check_real_refuses_non_finite_and_out_of_range_values_with_a_value_error(value):
    with pytest.raises(ValueError, match=r"op: sigma must be a finite number >= 0\.25"):
        check_real(value, "op", "sigma", 0.25)


def test_check_real_with_above_refuses_the_bound_itself():
    with pytest.raises(ValueError, match="> 0"):
        check_real(0.0, "op", "tau", 0.0, above=True)


def test_check_tensors_names_the_argument_that_is_wrong():
    x = torch.zeros(2)
    with pytest.raises(TypeError, match=r"op: held must be a torch\.Tensor, got list"):
        check_tensors("op", {"x": x, "held": [0.0]}, "cast first")
    with pytest.raises(TypeError, match=r"op: x must be floating \(cast first\)"):
        check_tensors("op", {"x": x.long()}, "cast first")
    with pytest.raises(TypeError, match=r"op: held is torch\.float64, x is torch\.float32"):
        check_tensors("op", {"x": x, "held": x.double()}, "cast first")
    check_tensors("op", {"x": x, "held": x.clone()}, "cast first")
