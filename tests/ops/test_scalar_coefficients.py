"""One coefficient for every column reaches the numba kernels as a scalar (a kernel version of its own that
reads no coefficient row): it gives the same bits as the same value spread over the columns, and the
modules with a scalar time constant take that version."""

import pytest
import torch

from spikestep import layer, neuron, ops, surrogate
from spikestep._runtime import numba_jit
from spikestep.functional.neuron import neuron_walk_coefficients
from spikestep.functional.synapse_filter import synapse_filter_multi_step
from spikestep.ops.neuron import numba_kernel as neuron_kernel
from spikestep.ops.synapse_filter import numba_kernel as filter_kernel

pytestmark = pytest.mark.skipif(not numba_jit.available(), reason="numba is not usable here")

T, B, C = 7, 3, 300


def _sample(seed, dtype=torch.float32, shape=(T, B, C)):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=g, dtype=torch.float64) * 2.4 - 0.3).to(dtype)
    v0 = (torch.rand(shape[1:], generator=g, dtype=torch.float64) * 0.5).to(dtype)
    weights = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
    return x, v0, weights


def _walk_and_grads(x, v0, coefficients, weights, hard):
    x = x.clone().requires_grad_(True)
    v0 = v0.clone().requires_grad_(True)
    s, v = neuron_walk_coefficients(
        x, v0, coefficients, 1.0, 0.0 if hard else None, surrogate.ATan(), False, True, backend="numba"
    )
    loss = (s * weights).sum() + (v * weights).sum()
    grads = torch.autograd.grad(loss, [x, v0, *(t for t in coefficients if t.requires_grad)])
    return s, v, grads


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("hard", [True, False], ids=["hard-reset", "soft-reset"])
@pytest.mark.parametrize("learnable", [False, True], ids=["fixed", "learnable"])
def test_scalar_coefficients_give_the_bits_of_the_same_values_spread_over_the_columns(dtype, hard, learnable):
    x, v0, weights = _sample(0, dtype)
    values = (0.625, 0.375, 0.0625)
    scalars = tuple(torch.tensor(v, dtype=dtype, requires_grad=learnable) for v in values)
    spread = tuple(torch.full((B, C), v, dtype=dtype, requires_grad=learnable) for v in values)
    s1, v1, g1 = _walk_and_grads(x, v0, scalars, weights, hard)
    s2, v2, g2 = _walk_and_grads(x, v0, spread, weights, hard)
    assert torch.equal(s1, s2) and torch.equal(v1, v2)
    assert torch.equal(g1[0], g2[0]) and torch.equal(g1[1], g2[1])  # the input's and the state's
    for scalar_grad, column_grads in zip(g1[2:], g2[2:]):  # one sum against per-column sums summed
        torch.testing.assert_close(scalar_grad, column_grads.sum(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_scalar_filter_constant_gives_the_bits_of_the_same_value_spread_over_the_columns(dtype):
    x, state, weights = _sample(1, dtype)
    x = (x > 0.7).to(dtype)
    results = []
    for k in (torch.tensor(0.3, dtype=dtype), torch.full((B, C), 0.3, dtype=dtype)):
        xs, st = x.clone().requires_grad_(True), state.clone().requires_grad_(True)
        k = k.clone().requires_grad_(True)
        out = synapse_filter_multi_step(xs, st, k, backend="numba")
        grads = torch.autograd.grad((out * weights).sum(), [xs, st, k])
        results.append((out, *grads))
    (o1, gx1, gs1, gk1), (o2, gx2, gs2, gk2) = results
    assert torch.equal(o1, o2) and torch.equal(gx1, gx2) and torch.equal(gs1, gs2)
    torch.testing.assert_close(gk1, gk2.sum(), rtol=1e-5, atol=1e-6)


def _recorded_kinds(monkeypatch, module, name):
    kinds = []
    original = getattr(module, name)

    def recording(*args):
        chosen = original(*args)
        kinds.append(tuple(type(c).__name__ for c in (chosen if isinstance(chosen, tuple) else (chosen,))))
        return chosen

    monkeypatch.setattr(module, name, recording)
    return kinds


@pytest.mark.parametrize(
    "make",
    [lambda: neuron.LIFNode(tau=2.0, step_mode="m", backend="numba"),
     lambda: neuron.IFNode(step_mode="m", backend="numba"),
     lambda: neuron.ParametricLIFNode(init_tau=2.0, step_mode="m", backend="numba")],
    ids=["LIF", "IF", "PLIF"],
)  # fmt: skip
def test_neurons_with_one_time_constant_run_the_scalar_kernels(monkeypatch, make):
    kinds = _recorded_kinds(monkeypatch, neuron_kernel, "_coefficients")
    x = torch.rand(T, B, C, requires_grad=True)
    make()(x).sum().backward()
    assert kinds == [("float32",) * 3] * 2  # forward and backward


def test_a_neuron_with_one_time_constant_per_channel_runs_the_column_kernels(monkeypatch):
    kinds = _recorded_kinds(monkeypatch, neuron_kernel, "_coefficients")
    lif = neuron.LIFNode(tau=torch.linspace(1.5, 4.0, C), step_mode="m", backend="numba")
    lif(torch.rand(T, B, C))
    assert kinds == [("ndarray",) * 3]


def test_a_synapse_filter_with_one_time_constant_runs_the_scalar_kernels(monkeypatch):
    kinds = _recorded_kinds(monkeypatch, filter_kernel, "_per_column")
    with ops.use_backend("numba"):
        layer.SynapseFilter(tau=4.0, learnable=True, step_mode="m")(torch.rand(T, B, C)).sum().backward()
    assert kinds == [("float32",)] * 2
