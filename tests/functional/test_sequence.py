import pytest
import torch
import torch.nn as nn

from spikestep import functional, layer


def test_seq_to_ann_forward_equals_applying_the_module_per_step():
    torch.manual_seed(0)
    fc = nn.Linear(4, 3)
    x_seq = torch.rand(5, 2, 4)
    expected = torch.stack([fc(x) for x in x_seq])
    torch.testing.assert_close(functional.seq_to_ann_forward(x_seq, fc), expected)


def test_seq_to_ann_forward_applies_a_sequence_of_modules_in_order():
    torch.manual_seed(0)
    conv = nn.Conv1d(2, 3, 3)
    x_seq = torch.rand(4, 5, 2, 8)
    y = functional.seq_to_ann_forward(x_seq, [conv, nn.ReLU(), nn.Flatten()])
    assert y.shape == (4, 5, 18)
    torch.testing.assert_close(y[2], conv(x_seq[2]).relu().flatten(1))


def test_seq_to_ann_forward_rejects_a_sequence_without_batch_dim():
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        functional.seq_to_ann_forward(torch.rand(5), nn.Identity())


def test_seq_to_ann_forward_rejects_a_non_callable():
    with pytest.raises(TypeError, match="module or function"):
        functional.seq_to_ann_forward(torch.rand(5, 2), [nn.Identity(), 3])


def test_multi_step_forward_runs_stateful_modules_step_by_step():
    syn = layer.SynapseFilter(tau=2.0)
    y = functional.multi_step_forward(torch.ones(3, 1), [syn, nn.Identity()])
    torch.testing.assert_close(y.flatten(), torch.tensor([1.0, 2.0, 3.0]))
