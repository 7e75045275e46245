import pytest
import torch
import torch.nn as nn

from spikestep import functional, layer
from spikestep.base import StepModule


def test_seq_to_ann_container_equals_its_modules_applied_to_each_step():
    torch.manual_seed(0)
    block = layer.SeqToANNContainer(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU()).eval()
    x_seq = torch.rand(4, 2, 1, 6, 6)
    expected = torch.stack([block[2](block[1](block[0](x))) for x in x_seq])
    torch.testing.assert_close(block(x_seq), expected)


def test_seq_to_ann_container_runs_the_modules_once_on_time_folded_into_batch():
    seen = []
    block = layer.SeqToANNContainer(nn.Identity())
    block[0].register_forward_hook(lambda m, args, out: seen.append(args[0].shape))
    block(torch.rand(4, 2, 3))
    assert seen == [(8, 3)]


def test_multi_step_container_runs_stateful_modules_step_by_step():
    block = layer.MultiStepContainer(layer.SynapseFilter(tau=2.0), nn.Identity())
    y = block(torch.tensor([[1.0], [0.0], [0.0]]))
    torch.testing.assert_close(y.flatten(), torch.tensor([1.0, 0.5, 0.25]))
    assert block[0].out_i.item() == 0.25  # the memory outlives the call


def test_multi_step_container_equals_the_module_in_multi_step_mode():
    x_seq = torch.rand(5, 2, 3)
    expected = layer.SynapseFilter(tau=3.0, step_mode="m")(x_seq)
    torch.testing.assert_close(layer.MultiStepContainer(layer.SynapseFilter(tau=3.0))(x_seq), expected)


@pytest.mark.parametrize("container", [layer.SeqToANNContainer, layer.MultiStepContainer])
def test_containers_are_multi_step_only(container):
    block = container(nn.Identity())
    assert isinstance(block, StepModule) and block.step_mode == "m"
    with pytest.raises(ValueError, match=r"step_mode must be one of \['m'\]"):
        block.step_mode = "s"


@pytest.mark.parametrize("container", [layer.SeqToANNContainer, layer.MultiStepContainer])
def test_containers_refuse_a_child_switched_to_multi_step(container):
    block = container(layer.Linear(3, 2))
    functional.set_step_mode(block[0], "m")
    with pytest.raises(ValueError, match=r"feeds its modules single steps, but '0' \(Linear\)"):
        block(torch.rand(4, 2, 3))


def test_seq_to_ann_container_rejects_an_input_without_time_and_batch():
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        layer.SeqToANNContainer(nn.Identity())(torch.rand(5))


def test_multi_step_container_rejects_a_non_tensor():
    with pytest.raises(TypeError, match="time first"):
        layer.MultiStepContainer(nn.Identity())([1.0, 2.0])
