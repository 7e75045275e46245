import copy
import pickle

import pytest
import torch
from copy_checks import assert_copies_continue_like_the_original

from spikestep.base import MemoryModule


class Accumulator(MemoryModule):
    """Sums its inputs over time; a minimal stateful module for testing the runtime."""

    def __init__(self):
        super().__init__()
        self.register_memory("total", 0.0)
        self.register_memory("history", [])

    def single_step_forward(self, x):
        self.total = self.total + x
        self.history.append(1)
        return self.total


def test_memory_reads_and_writes_like_an_attribute():
    m = Accumulator()
    assert m.total == 0.0
    m.total = torch.ones(2)
    assert torch.equal(m.total, torch.ones(2))
    assert "total" in dict(m.named_memories())


def test_reset_restores_a_fresh_copy_of_the_reset_value():
    m = Accumulator()
    m(torch.ones(2))
    m(torch.ones(2))
    m.reset()
    assert m.total == 0.0
    assert m.history == []
    m(torch.ones(2))
    # the list reset value itself must not have been mutated by the calls before reset
    assert m._memories_rv["history"] == []


def test_memories_are_not_parameters_nor_in_the_state_dict():
    m = Accumulator()
    m(torch.ones(2))
    assert list(m.parameters()) == []
    assert m.state_dict() == {}


def test_detach_cuts_tensor_memories_from_the_graph():
    m = Accumulator()
    x = torch.ones(2, requires_grad=True)
    m(x)
    assert m.total.requires_grad
    m.detach()
    assert not m.total.requires_grad
    assert m.total.grad_fn is None


def test_default_multi_step_runs_single_steps_over_dim_0_and_stacks():
    m = Accumulator()
    m.step_mode = "m"
    y = m(torch.ones(4, 3))
    assert torch.equal(y, torch.arange(1.0, 5.0).unsqueeze(1).expand(4, 3))


def test_memories_and_named_memories_agree():
    m = Accumulator()
    assert list(m.memories()) == [v for _, v in m.named_memories()]
    assert [k for k, _ in m.named_memories()] == ["total", "history"]


def test_registering_a_memory_twice_is_refused():
    m = Accumulator()
    with pytest.raises(ValueError, match="already has a memory"):
        m.register_memory("total", 1.0)


def test_registering_a_memory_over_an_attribute_is_refused():
    m = Accumulator()
    with pytest.raises(ValueError, match="already has an attribute"):
        m.register_memory("forward", 0.0)


def _run(m, x_seq):
    return m(x_seq) if m.step_mode == "m" else torch.stack([m(x) for x in x_seq])


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_deepcopy_and_pickle_continue_exactly_as_the_original(step_mode):
    m = Accumulator()
    m.step_mode = step_mode
    x = torch.arange(12.0).reshape(6, 2)
    _run(m, x[:2].clone().requires_grad_(True))
    out = assert_copies_continue_like_the_original(m, _run, x[2:], torch.ones(4, 2))
    assert torch.equal(out, x.cumsum(0)[2:])
    assert m.history == [1] * 6


def test_copies_update_their_memories_independently_of_the_original():
    m = Accumulator()
    m(torch.ones(2))
    for c in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        c(torch.ones(2))
        assert torch.equal(m.total, torch.ones(2)) and m.history == [1]
        assert torch.equal(c.total, torch.full((2,), 2.0)) and c.history == [1, 1]
        m(torch.ones(2))
        assert c.history == [1, 1] and torch.equal(c.total, torch.full((2,), 2.0))
        m.reset()
        m(torch.ones(2))


def test_pickle_round_trip_keeps_memories_and_step_mode():
    m = Accumulator()
    m.step_mode = "m"
    m(torch.ones(3, 2))
    c = pickle.loads(pickle.dumps(m))
    assert c.step_mode == "m"
    assert torch.equal(c.total, m.total) and c.history == m.history
    c.reset()
    assert c.total == 0.0 and c.history == []
    assert torch.equal(m.total, torch.full((2,), 3.0)) and m.history == [1, 1, 1]


def test_to_dtype_casts_tensor_memories():
    m = Accumulator()
    m(torch.ones(2))
    m.double()
    assert m.total.dtype == torch.float64


def test_dir_lists_memories():
    assert "total" in dir(Accumulator())


def test_deleting_a_memory_removes_it():
    m = Accumulator()
    del m.total
    assert "total" not in dict(m.named_memories())


def test_deepcopy_works_while_a_memory_is_part_of_the_graph():
    m = Accumulator()
    m(torch.ones(2, requires_grad=True) * 2)
    c = copy.deepcopy(m)
    assert torch.equal(c.total, m.total.detach())
    assert not c.total.requires_grad


def test_default_multi_step_given_a_non_tensor_is_a_type_error_naming_the_module():
    acc = Accumulator()
    acc.step_mode = "m"
    with pytest.raises(TypeError, match=r"Accumulator in multi-step mode expects a tensor \[T, \.\.\.\]"):
        acc([1.0, 2.0])
    with pytest.raises(ValueError, match="got a 0-d tensor"):
        acc(torch.tensor(1.0))
