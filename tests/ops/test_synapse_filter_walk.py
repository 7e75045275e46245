"""The fused SynapseFilter walk against a per-step loop of ``synapse_filter_step``, on both backends."""

import pytest
import torch
from hypothesis import given
from strategies import sequences_and_splits

from spikestep import ops
from spikestep._runtime import numba_jit as _numba
from spikestep.functional import synapse_filter_multi_step, synapse_filter_step

needs_numba = pytest.mark.skipif(not _numba.available(), reason="numba is not usable here")
BACKENDS = ["torch", pytest.param("numba", marks=needs_numba)]


def per_step(x_seq, state, inv_tau):
    """The reference: the one definition, one step at a time, autograd recording each step."""
    outputs = []
    for x in x_seq:
        state = synapse_filter_step(x, state, inv_tau)
        outputs.append(state)
    return torch.stack(outputs)


def fused(x_seq, state, inv_tau, backend):
    with ops.use_backend(backend):
        return synapse_filter_multi_step(x_seq, state, inv_tau)


def inputs(t=9, shape=(3, 700), dtype=torch.float32, seed=0):
    """Spikes plus a little real-valued noise (both parts of the recurrence matter), and a state."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(t, *shape, generator=g) < 0.3).to(dtype) + 0.1 * torch.rand(t, *shape, generator=g).to(
        dtype
    )
    return x, torch.rand(shape, generator=g).to(dtype)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("learnable", [False, True])
def test_fused_equals_per_step_in_float32_to_1e6_relative(backend, learnable):
    x, s = inputs()
    k = torch.sigmoid(torch.tensor(0.4)) if learnable else 0.3
    torch.testing.assert_close(fused(x, s, k, backend), per_step(x, s, k), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fused_equals_per_step_in_float64(backend):
    x, s = inputs(dtype=torch.float64)
    torch.testing.assert_close(fused(x, s, 0.125, backend), per_step(x, s, 0.125), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fused_gradients_equal_per_step_gradients_in_float32(backend):
    x, s = inputs()
    w = torch.tensor(0.4, requires_grad=True)
    x.requires_grad_(True)
    s.requires_grad_(True)
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    got = torch.autograd.grad(fused(x, s, torch.sigmoid(w), backend), (x, s, w), grad)
    want = torch.autograd.grad(per_step(x, s, torch.sigmoid(w)), (x, s, w), grad)
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-5 * r.abs().max().item())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("learnable", [False, True])
def test_fused_passes_gradcheck_in_float64(backend, learnable):
    x, s = inputs(t=5, shape=(2, 3), dtype=torch.float64)
    x.requires_grad_(True)
    s.requires_grad_(True)
    if learnable:
        w = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda x, s, w: fused(x, s, torch.sigmoid(w), backend), (x, s, w))
    else:
        assert torch.autograd.gradcheck(lambda x, s: fused(x, s, 0.2, backend), (x, s))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_flow_across_chunks_and_pass_gradcheck(backend):
    x, s = inputs(t=7, shape=(4,), dtype=torch.float64)
    x.requires_grad_(True)
    s.requires_grad_(True)
    w = torch.tensor(-0.2, dtype=torch.float64, requires_grad=True)

    def chunked(x, s, w):
        k = torch.sigmoid(w)
        first = fused(x[:3], s, k, backend)
        second = fused(x[3:], first[-1], k, backend)  # the state carried in from the previous chunk
        return torch.cat((first, second))

    assert torch.autograd.gradcheck(chunked, (x, s, w))
    torch.testing.assert_close(chunked(x, s, w), per_step(x, s, torch.sigmoid(w)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_detaching_the_carried_state_stops_gradients_at_the_chunk_border(backend):
    x, s = inputs(t=6, shape=(5,))
    x.requires_grad_(True)
    first = fused(x[:3], s, 0.3, backend)
    second = fused(x[3:], first[-1].detach(), 0.3, backend)
    (grad,) = torch.autograd.grad(second.sum(), x)
    assert grad[:3].abs().sum() == 0 and grad[3:].abs().sum() > 0


@given(sequences_and_splits(max_t=12, max_dim=5))
def test_chunked_calls_equal_one_whole_call(case):
    x, splits = case
    state = torch.zeros(x.shape[1:])
    whole = synapse_filter_multi_step(x, state, 0.25)
    pieces, start = [], 0
    for n in splits:
        if n:
            pieces.append(synapse_filter_multi_step(x[start : start + n], state, 0.25))
            state = pieces[-1][-1]
        start += n
    torch.testing.assert_close(torch.cat(pieces), whole)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_runs_the_torch_walk_in_its_own_dtype(dtype):
    x, s = inputs(t=6, shape=(8,), dtype=dtype)
    assert ops.resolve_backend(x) == "torch"
    x.requires_grad_(True)
    y = synapse_filter_multi_step(x, s, 0.25)
    assert y.dtype == dtype
    torch.testing.assert_close(y, per_step(x, s, 0.25))
    y.sum().backward()
    assert x.grad.dtype == dtype and torch.isfinite(x.grad).all()


def test_state_broadcasts_to_one_step_and_gets_a_reduced_gradient():
    x, _ = inputs(t=4, shape=(3, 2))
    s = torch.full((2,), 0.5, requires_grad=True)
    y = synapse_filter_multi_step(x, s, 0.25)
    torch.testing.assert_close(y, per_step(x, s.detach().expand(3, 2), 0.25))
    y.sum().backward()
    assert s.grad.shape == (2,)


def test_inputs_outside_the_fused_scope_keep_the_per_step_semantics():
    x = torch.ones(3, 2, dtype=torch.float64)
    s = torch.zeros(2, dtype=torch.float32)  # mixed dtypes promote, as one step would
    assert synapse_filter_multi_step(x, s, 0.5).dtype == torch.float64
    per_channel = torch.tensor([0.5, 0.25])  # a non-scalar inv_tau broadcasts like the step does
    torch.testing.assert_close(
        synapse_filter_multi_step(x.float(), s, per_channel), per_step(x.float(), s, per_channel)
    )


def test_an_empty_sequence_gives_an_empty_result():
    assert synapse_filter_multi_step(torch.zeros(0, 3), torch.zeros(3), 0.5).shape == (0, 3)


def test_no_per_step_graph_is_kept():
    x, s = inputs(t=8, shape=(4,))
    x.requires_grad_(True)
    y = synapse_filter_multi_step(x, s, 0.25)
    assert y.grad_fn is not None and "Stack" not in type(y.grad_fn).__name__


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_contiguous_input_gives_the_same_values_and_gradients(backend):
    x, s = inputs(t=5, shape=(6, 4))
    x_t = x.transpose(1, 2).contiguous().transpose(1, 2).requires_grad_(True)  # same values, other strides
    assert not x_t.is_contiguous()
    y = fused(x_t, s, 0.25, backend)
    torch.testing.assert_close(y, per_step(x, s, 0.25))
    (grad,) = torch.autograd.grad(y.sum(), x_t)
    x.requires_grad_(True)
    (want,) = torch.autograd.grad(per_step(x, s, 0.25).sum(), x)
    torch.testing.assert_close(grad, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_gradient_of_inv_tau_takes_inv_tau_dtype(backend):
    x, s = inputs(t=4, shape=(3,))
    k = torch.tensor(0.25, dtype=torch.float64, requires_grad=True)
    y = fused(x, s, k, backend)
    assert y.dtype == torch.float32
    (grad,) = torch.autograd.grad(y.sum(), k)
    assert grad.dtype == torch.float64
