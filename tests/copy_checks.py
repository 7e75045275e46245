"""Checks shared by the copy tests (importable because pytest puts tests/ on sys.path).

A module that has run some steps is deep-copied and pickled; the ORIGINAL and each COPY are then fed the
same next inputs and must give bit-identical outputs and memories, with equal (but not shared) parameters.
"""

import copy
import pickle

import torch

from spikestep.base import MemoryModule


def memories(module):
    """Every memory of ``module`` and its submodules, by ``'<submodule>.<memory>'``."""
    return {
        f"{prefix}.{name}": value
        for prefix, m in module.named_modules()
        if isinstance(m, MemoryModule)
        for name, value in m.named_memories()
    }


def tensors_in(value):
    """The tensors of a memory value (a tensor, or a list/tuple of them; none otherwise)."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in tensors_in(v)]
    return []


def assert_bitwise_equal(actual, expected, where="output"):
    """Same type, dtype, shape, device and bits (tensors, lists/tuples of them, plain values)."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor), f"{where}: {type(actual).__name__} is not a tensor"
        assert (actual.dtype, actual.shape, actual.device) == (
            expected.dtype,
            expected.shape,
            expected.device,
        ), where
        assert torch.equal(actual.detach(), expected.detach()), f"{where}: values differ"
    elif isinstance(expected, (list, tuple)):
        assert type(actual) is type(expected) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_bitwise_equal(a, e, f"{where}[{i}]")
    else:
        assert type(actual) is type(expected) and actual == expected, f"{where}: {actual!r} != {expected!r}"


def assert_same_memories(twin, original):
    mine, theirs = memories(twin), memories(original)
    assert mine.keys() == theirs.keys()
    for name, value in theirs.items():
        assert_bitwise_equal(mine[name], value, f"memory {name}")


def assert_same_parameters(twin, original):
    """Equal parameters and buffers, held in storage of their own (training one does not move the other)."""
    for kind in ("named_parameters", "named_buffers"):
        mine, theirs = dict(getattr(twin, kind)()), dict(getattr(original, kind)())
        assert mine.keys() == theirs.keys(), kind
        for name, value in theirs.items():
            assert_bitwise_equal(mine[name], value, f"{kind[6:-1]} {name}")
            assert type(mine[name]) is type(value) and mine[name].requires_grad == value.requires_grad, name
            assert mine[name].untyped_storage().data_ptr() != value.untyped_storage().data_ptr(), name


def copies(module):
    """A deep copy and a pickle round trip of ``module``."""
    return {"deepcopy": copy.deepcopy(module), "pickle": pickle.loads(pickle.dumps(module))}


def assert_copies_continue_like_the_original(module, feed, rest, upstream=None):
    """Copy ``module`` (which has run some steps), then run ``feed(m, rest)`` on the original and on each
    copy: outputs, memories and parameters bit-identical. Returns the original's output.

    The memories are compared before the copies run (copies hold the values, detached, while the
    original keeps its graph) and after. The deep copy runs before the original and the pickled copy
    after it, so state shared with the original (one updated in place) shows in either order.

    With ``upstream`` (a tensor shaped like the output), the original's memories are detached after the
    copies are made and ``(out * upstream).sum()`` is backpropagated through each: the gradients of the
    parameters and of ``rest`` must be bit-identical too.
    """
    graph_before = {k: [t.requires_grad for t in tensors_in(v)] for k, v in memories(module).items()}
    twins = copies(module)
    for name, twin in twins.items():
        assert type(twin) is type(module) and repr(twin) == repr(module), name
        assert_same_parameters(twin, module)
        assert_same_memories(twin, module)
        for key, value in memories(twin).items():
            assert all(not t.requires_grad and t.grad_fn is None for t in tensors_in(value)), (name, key)
    # copying leaves the original's memories (and their graph) as they were
    assert {k: [t.requires_grad for t in tensors_in(v)] for k, v in memories(module).items()} == graph_before

    def run(m):
        if upstream is None:
            return feed(m, rest), None
        x = rest.detach().clone().requires_grad_(True)
        out = feed(m, x)
        if out.requires_grad:  # not when the output is all held state (a delay longer than ``rest``)
            (out * upstream).sum().backward()
        return out, x.grad

    if upstream is not None:
        for m in module.modules():
            if isinstance(m, MemoryModule):
                m.detach()
    outputs = {"deepcopy": run(twins["deepcopy"])}
    expected, expected_grad = run(module)
    outputs["pickle"] = run(twins["pickle"])
    for name, twin in twins.items():
        out, grad = outputs[name]
        assert_bitwise_equal(out, expected, f"{name} output")
        assert_same_memories(twin, module)
        assert_same_parameters(twin, module)
        if upstream is not None:
            assert_bitwise_equal(grad, expected_grad, f"{name} input gradient")
            for (p_name, p), (_, q) in zip(twin.named_parameters(), module.named_parameters()):
                assert (q.grad is not None) == expected.requires_grad, p_name
                assert_bitwise_equal(p.grad, q.grad, f"{name} gradient of {p_name}")
    return expected
