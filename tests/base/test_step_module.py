import pytest
import torch.nn as nn

from spikestep.base import MemoryModule, MultiStepModule, SingleStepModule, StepModule


class Both(nn.Module, StepModule):
    pass


class OnlySingle(nn.Module, SingleStepModule):
    pass


class OnlyMulti(nn.Module, MultiStepModule):
    pass


class MultiMemory(MemoryModule, MultiStepModule):
    pass


def test_step_mode_defaults_to_single_step():
    assert Both().step_mode == "s"


def test_step_mode_accepts_both_supported_modes():
    m = Both()
    m.step_mode = "m"
    assert m.step_mode == "m"
    m.step_mode = "s"
    assert m.step_mode == "s"


@pytest.mark.parametrize("bad", ["x", "multi", "", "S"])
def test_unknown_step_mode_is_a_value_error_naming_the_choices(bad):
    with pytest.raises(ValueError, match=r"\['s', 'm'\]"):
        Both().step_mode = bad


def test_non_string_step_mode_is_a_type_error():
    with pytest.raises(TypeError, match="step_mode must be a str"):
        Both().step_mode = 1


def test_single_step_module_refuses_multi_step():
    with pytest.raises(ValueError, match="OnlySingle"):
        OnlySingle().step_mode = "m"


def test_multi_step_module_refuses_single_step():
    with pytest.raises(ValueError, match=r"\['m'\]"):
        OnlyMulti().step_mode = "s"


def test_multi_step_memory_module_starts_in_its_only_mode():
    assert MultiMemory().step_mode == "m"
