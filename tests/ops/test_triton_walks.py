"""The Triton kernels (CUDA) compute what the pure-PyTorch walks compute, values and gradients.

They run on a CUDA device, or on the CPU under Triton's interpreter (``TRITON_INTERPRET=1``, which this
module sets when there is no GPU, as in CI); without Triton the module is skipped.
"""

import importlib.util
import os

import pytest
import torch

# Without a GPU, the kernels run under Triton's CPU interpreter (slow, but every kernel line executes):
# CI runs them that way. Set before the kernels are first loaded.
if not torch.cuda.is_available() and importlib.util.find_spec("triton") is not None:
    os.environ.setdefault("TRITON_INTERPRET", "1")

from spikestep import neuron, ops, surrogate
from spikestep._runtime import triton_jit as _triton
from spikestep.functional import synapse_filter_multi_step as synapse_filter_walk
from spikestep.functional.neuron import neuron_multi_step

if torch.cuda.is_available() and _triton.available():
    DEVICE = torch.device("cuda")
elif _triton.interpreting() and _triton.available():
    DEVICE = torch.device("cpu")
else:
    pytest.skip("needs Triton and a CUDA device (or TRITON_INTERPRET=1)", allow_module_level=True)

SURROGATES = [surrogate.ATan(), surrogate.Sigmoid(alpha=3.0), surrogate.PiecewiseQuadratic()]
# (inv_tau, decay_input, v_reset): IF, LIF with and without decay_input, hard and soft reset.
CHARGES = [(None, True, 0.0), (0.5, True, 0.0), (0.4, False, None), (0.3, True, None), (0.45, False, -0.1)]


def _inputs(T=9, shape=(3, 70), seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, *shape, generator=g, dtype=dtype) * 0.6 + 0.45
    v0 = torch.rand(*shape, generator=g, dtype=dtype) * 0.5
    return x.to(DEVICE), v0.to(DEVICE)


def _walk(backend, x, v0, inv_tau, learnable, **kwargs):
    x = x.clone().requires_grad_(True)
    v0 = v0.clone().requires_grad_(True)
    k = torch.tensor(inv_tau, dtype=x.dtype, device=x.device, requires_grad=True) if learnable else inv_tau
    s, v = neuron_multi_step(x, v0, inv_tau=k, backend=backend, **kwargs)
    weights = torch.linspace(-1, 1, s.numel(), dtype=x.dtype, device=x.device).reshape(s.shape)
    loss = (s * weights).sum() + (v * 0.3).sum()
    wrt = [x, v0, k] if learnable else [x, v0]
    return (s, v, *torch.autograd.grad(loss, wrt))


@pytest.mark.parametrize("sg", SURROGATES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize(("inv_tau", "decay_input", "v_reset"), CHARGES)
@pytest.mark.parametrize("detach_reset", [False, True])
@pytest.mark.parametrize("store_v_seq", [False, True])
def test_triton_neuron_walk_matches_the_torch_walk(
    sg, inv_tau, decay_input, v_reset, detach_reset, store_v_seq
):
    x, v0 = _inputs()
    kwargs = dict(
        decay_input=decay_input, v_reset=v_reset, surrogate_function=sg, detach_reset=detach_reset,
        store_v_seq=store_v_seq,
    )  # fmt: skip
    for learnable in [False, True] if inv_tau is not None else [False]:
        expected = _walk("torch", x, v0, inv_tau, learnable, **kwargs)
        got = _walk("triton", x, v0, inv_tau, learnable, **kwargs)
        for g, e in zip(got, expected, strict=True):
            torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)


def test_triton_neuron_walk_passes_gradcheck_in_float64():
    x, v0 = _inputs(T=5, shape=(2, 6), dtype=torch.float64)
    x, v0 = x.requires_grad_(True), v0.requires_grad_(True)
    k = torch.tensor(0.4, dtype=torch.float64, device=DEVICE, requires_grad=True)

    def f(x, v0, k):
        # Spikes are piecewise constant, so finite differences see no dV/dS: check the membranes with the
        # reset detached (the surrogate term is checked against the torch walk above).
        _, v = neuron_multi_step(x, v0, inv_tau=k, detach_reset=True, store_v_seq=True, backend="triton")
        return v

    assert torch.autograd.gradcheck(f, (x, v0, k), eps=1e-6, atol=1e-5)


def test_auto_takes_triton_for_cuda_float_tensors_only():
    if DEVICE.type != "cuda":
        pytest.skip("auto picks Triton for CUDA tensors only")
    assert ops.resolve_backend(torch.zeros(2, device="cuda")) == "triton"
    assert ops.resolve_backend(torch.zeros(2, device="cuda", dtype=torch.float16)) == "torch"
    with pytest.raises(RuntimeError, match="CUDA tensors"):
        ops.resolve_backend(torch.zeros(2), backend="triton")


def test_neuron_module_runs_triton_chunks_like_one_walk():
    x, _ = _inputs(T=12)
    whole = neuron.ParametricLIFNode(step_mode="m", backend="triton").to(DEVICE)
    chunked = neuron.ParametricLIFNode(step_mode="m", backend="triton").to(DEVICE)
    torch.testing.assert_close(torch.cat([chunked(c) for c in x.chunk(3)]), whole(x))


@pytest.mark.parametrize("learnable", [False, True])
def test_triton_synapse_filter_walk_matches_the_torch_walk(learnable):
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(17, 3, 90, generator=g) < 0.3).float().to(DEVICE)
    state = torch.rand(3, 90, generator=g).to(DEVICE)
    results = {}
    for backend in ("torch", "triton"):
        xx, ss = x.clone().requires_grad_(True), state.clone().requires_grad_(True)
        k = torch.tensor(0.2, device=DEVICE, requires_grad=True) if learnable else 0.2
        out = synapse_filter_walk(xx, ss, k, backend=backend)
        loss = (out * torch.linspace(-1, 1, out.numel(), device=DEVICE).reshape(out.shape)).sum()
        results[backend] = (out, *torch.autograd.grad(loss, [xx, ss, *([k] if learnable else [])]))
    for got, expected in zip(results["triton"], results["torch"], strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_triton_synapse_filter_walk_passes_gradcheck_in_float64():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(6, 5, generator=g, dtype=torch.float64).to(DEVICE).requires_grad_(True)
    state = torch.rand(5, generator=g, dtype=torch.float64).to(DEVICE).requires_grad_(True)
    k = torch.tensor(0.3, dtype=torch.float64, device=DEVICE, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, s, k: synapse_filter_walk(x, s, k, backend="triton"), (x, state, k)
    )


@pytest.mark.skipif(
    DEVICE.type != "cuda" or torch.cuda.get_device_properties(0).total_memory < 60 * 2**30,
    reason="needs a GPU with 60 GiB",
)
def test_triton_walks_index_past_two_to_the_31_elements():
    n = 2**30 + 2**29  # T * n = 3 * 2**30 elements: row offsets need 64 bits
    x = torch.zeros(2, n, device=DEVICE)
    x[:, -3:] = torch.tensor([0.6, 0.7, 0.8], device=DEVICE)
    with torch.no_grad():
        s, v = neuron_multi_step(x, torch.zeros(n, device=DEVICE), inv_tau=None, backend="triton")
        assert s[1, -3:].tolist() == [1.0, 1.0, 1.0] and s[0, -3:].tolist() == [0.0, 0.0, 0.0]
        del s, v
        out = synapse_filter_walk(x, torch.zeros(n, device=DEVICE), 0.5, backend="triton")
    torch.testing.assert_close(
        out[1, -3:], torch.tensor([0.8 * 0.6 + 0.6, 0.85 * 0.7 + 0.7, 0.9 * 0.8 + 0.8], device=DEVICE)
    )


@pytest.mark.parametrize("learnable", [False, True])
def test_triton_backward_from_the_kept_h_equals_the_operator_that_recomputes_it(learnable):
    # Eager calls keep the forward's H for the backward; the registered operator (what torch.compile
    # sees) recomputes it. Both must give the very same numbers.
    from spikestep.ops.neuron import neuron_walk, walk

    x, v0 = _inputs(T=11, shape=(600,), seed=3)
    name, c1, c2 = surrogate.kernel_form(surrogate.ATan())

    def run(fn):
        xs = x.clone().requires_grad_(True)
        k = torch.tensor(0.35, device=DEVICE, requires_grad=learnable)
        a, b, c = 1 - k, k, k * 0.0
        s, v = fn(xs, v0, a, b, c, 1.0, 0.0, True, name, c1, c2, False, True, "triton")
        weights = torch.linspace(-1, 1, s.numel(), device=DEVICE).reshape(s.shape)
        loss = (s * weights).sum() + (v * 0.3).sum()
        return (s, v, *torch.autograd.grad(loss, [xs, k] if learnable else [xs]))

    for got, expected in zip(run(walk), run(neuron_walk), strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_triton_eager_backward_reads_the_h_its_forward_kept(monkeypatch):
    kernel = _triton.load("spikestep.ops.neuron.triton_kernel")
    seen = []
    original = kernel.backward

    def spy(*args, **kwargs):
        seen.append(kwargs.get("h_seq"))
        return original(*args, **kwargs)

    monkeypatch.setattr(kernel, "backward", spy)
    x, v0 = _inputs(T=4, shape=(50,))
    x.requires_grad_(True)
    s, _ = neuron_multi_step(x, v0, inv_tau=0.5, backend="triton")
    s.sum().backward()
    assert len(seen) == 1 and seen[0] is not None and seen[0].shape == (4, 50)


def test_triton_kept_h_goes_through_saved_tensor_hooks():
    # Saved like the inputs, the kept H is freed after the backward and offloading hooks see it.
    x, v0 = _inputs(T=4, shape=(50,))
    x.requires_grad_(True)
    packed = []

    def pack(t):
        packed.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        neuron_multi_step(x, v0, inv_tau=0.5, backend="triton")
    assert any(t.shape == (4, 50) and t.data_ptr() != x.data_ptr() for t in packed)


def test_triton_neuron_walk_reads_a_strided_input_as_its_values():
    x, v0 = _inputs(T=6, shape=(5,))
    strided = x.t().contiguous().t()  # the same values, transposed memory
    assert not strided.is_contiguous()
    for learnable in [False, True]:
        expected = _walk("torch", x, v0, 0.5, learnable)
        got = _walk("triton", strided, v0, 0.5, learnable)
        for g, e in zip(got, expected, strict=True):
            torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)


def test_triton_neuron_operator_walks_zero_steps():
    from spikestep.ops.neuron import neuron_walk

    name, c1, c2 = surrogate.kernel_form(surrogate.ATan())
    x = torch.zeros(0, 2, 7, device=DEVICE, requires_grad=True)
    v0 = torch.rand(2, 7, device=DEVICE, requires_grad=True)
    k = torch.tensor(0.5, device=DEVICE)
    s, v = neuron_walk(x, v0, 1 - k, k, k * 0, 1.0, 0.0, True, name, c1, c2, False, False, "triton")
    v.sum().backward()
    assert s.shape == (0, 2, 7) and torch.equal(v, v0) and torch.equal(v0.grad, torch.ones_like(v0))


def test_triton_constants_tell_negative_zero_from_zero():
    kernel = _triton.load("spikestep.ops.neuron.triton_kernel")
    x = torch.zeros(1, device=DEVICE)
    plus = kernel._p(x, (1.0, 0.0, 1.0, 0.0, 2.0, 0.0))
    minus = kernel._p(x, (1.0, -0.0, 1.0, 0.0, 2.0, 0.0))
    assert not torch.signbit(plus[1]) and torch.signbit(minus[1])
