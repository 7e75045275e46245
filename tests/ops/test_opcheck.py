"""``torch.library.opcheck`` on every registered operator: schema, autograd registration, fake (meta)
implementation and AOT dispatch with dynamic shapes, on realistic inputs.

Covered: ``spikestep::synapse_filter`` and ``spikestep::neuron_walk`` (with inputs that require
gradients, so opcheck also runs their registered backward), and their backward operators called
directly. Each on float32 and float64, with one shared or one per-channel ``k`` / coefficients ``a, b, c``
(broadcasting against one step ``[B, C]``), on the CPU with backends torch and numba, and on CUDA with
torch and Triton where a GPU is visible.
"""

from __future__ import annotations

import pytest
import torch

from spikestep import surrogate  # importing spikestep registers the torch.ops.spikestep operators
from spikestep._runtime import numba_jit as _numba
from spikestep._runtime import triton_jit as _triton

OPS = torch.ops.spikestep
T, B, C = 5, 2, 3

needs_numba = pytest.mark.skipif(not _numba.available(), reason="numba is not usable here")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
needs_triton = pytest.mark.skipif(
    not (torch.cuda.is_available() and _triton.available()), reason="needs Triton and a CUDA device"
)
# (device, backend): every backend on the device it runs on.
PLACES = [
    pytest.param("cpu", "torch", id="cpu-torch"),
    pytest.param("cpu", "numba", id="cpu-numba", marks=needs_numba),
    pytest.param("cuda", "torch", id="cuda-torch", marks=needs_cuda),
    pytest.param("cuda", "triton", id="cuda-triton", marks=needs_triton),
]
DTYPES = [pytest.param(torch.float32, id="f32"), pytest.param(torch.float64, id="f64")]
# One value shared by all neurons (0-d) or one per channel ([C], broadcast against one step [B, C]).
SHAPES = [pytest.param((), id="scalar"), pytest.param((C,), id="per-channel")]


def _check(op, args) -> None:
    """opcheck's default tests, each required to pass (opcheck raises on the first failure)."""
    result = torch.library.opcheck(op, args)
    assert set(result.values()) == {"SUCCESS"}, result


def _surrogate_form() -> tuple[str, float, float]:
    return surrogate.kernel_form(surrogate.ATan())


def _inputs(device, dtype, coef_shape, seed=0):
    """``x [T, B, C]`` that makes neurons fire now and then, a carried-in state ``[B, C]`` and a generator
    for the coefficients."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(T, B, C, generator=g, dtype=torch.float64) * 2.4 - 0.3
    state = torch.rand(B, C, generator=g, dtype=torch.float64) * 0.5
    return x.to(device, dtype), state.to(device, dtype), g


def _coefficient(value, coef_shape, g, device, dtype, requires_grad):
    """``value`` (plus a little spread per channel), of shape ``coef_shape``."""
    t = value + 0.05 * torch.rand(coef_shape, generator=g, dtype=torch.float64)
    return t.to(device, dtype).requires_grad_(requires_grad)


# ---------------------------------------------------------------------------------------------------
# spikestep::synapse_filter and its backward
# ---------------------------------------------------------------------------------------------------


def _synapse_filter_args(device, backend, dtype, k_shape, requires_grad, learnable_k):
    x, state, g = _inputs(device, dtype, k_shape)
    x = (x > 0.9).to(dtype) + 0.1 * x  # spikes plus a little real-valued input: both terms matter
    k = _coefficient(0.3, k_shape, g, device, dtype, requires_grad and learnable_k)
    return x.requires_grad_(requires_grad), state.requires_grad_(requires_grad), k, backend


@pytest.mark.parametrize(("device", "backend"), PLACES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k_shape", SHAPES)
@pytest.mark.parametrize(
    ("requires_grad", "learnable_k"),
    [(True, True), (True, False), (False, False)],
    ids=["grad-learnable-k", "grad-fixed-k", "no-grad"],
)
def test_opcheck_synapse_filter(device, backend, dtype, k_shape, requires_grad, learnable_k):
    args = _synapse_filter_args(device, backend, dtype, k_shape, requires_grad, learnable_k)
    _check(OPS.synapse_filter.default, args)


@pytest.mark.parametrize(("device", "backend"), PLACES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k_shape", SHAPES)
@pytest.mark.parametrize("need_k", [True, False], ids=["need-k", "no-k"])
def test_opcheck_synapse_filter_backward(device, backend, dtype, k_shape, need_k):
    x, state, k, _ = _synapse_filter_args(device, backend, dtype, k_shape, False, False)
    out = OPS.synapse_filter(x, state, k, backend)
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    args = (grad_out.to(device, dtype), x, out, state, k, need_k, backend)
    _check(OPS.synapse_filter_backward.default, args)


# ---------------------------------------------------------------------------------------------------
# spikestep::neuron_walk and its backward
# ---------------------------------------------------------------------------------------------------

# (v_threshold, v_reset, hard_reset, detach_reset): hard reset to 0, hard reset below 0, soft reset.
RESETS = [
    pytest.param((1.0, 0.0, True, False), id="hard"),
    pytest.param((0.8, -0.1, True, True), id="hard-detach-reset"),
    pytest.param((1.0, 0.0, False, False), id="soft"),
    pytest.param((0.9, 0.0, False, True), id="soft-detach-reset"),
]


def _neuron_args(device, backend, dtype, coef_shape, reset, store_v_seq, requires_grad, learnable):
    """Arguments of ``neuron_walk`` for a LIF charge ``H = (1 - k) V + k X + k V_reset`` with ``k = 1/tau``
    (one per channel or shared), learnable (as a PLIF neuron's) or fixed."""
    v_threshold, v_reset, hard_reset, detach_reset = reset
    x, v0, g = _inputs(device, dtype, coef_shape)
    k = _coefficient(0.4, coef_shape, g, device, dtype, False)
    coef_grad = requires_grad and learnable
    a = (1 - k).detach().requires_grad_(coef_grad)
    b = k.detach().clone().requires_grad_(coef_grad)
    c = (k * v_reset).detach().requires_grad_(coef_grad)
    name, c1, c2 = _surrogate_form()
    return (
        x.requires_grad_(requires_grad), v0.requires_grad_(requires_grad), a, b, c, v_threshold, v_reset,
        hard_reset, name, c1, c2, detach_reset, store_v_seq, backend,
    )  # fmt: skip


@pytest.mark.parametrize(("device", "backend"), PLACES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("coef_shape", SHAPES)
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("store_v_seq", [True, False], ids=["v-seq", "v-last"])
def test_opcheck_neuron_walk_with_gradients(device, backend, dtype, coef_shape, reset, store_v_seq):
    # Learnable coefficients where they are one per channel (a PLIF layer), fixed where shared (LIF).
    learnable = coef_shape != ()
    args = _neuron_args(device, backend, dtype, coef_shape, reset, store_v_seq, True, learnable)
    _check(OPS.neuron_walk.default, args)


@pytest.mark.parametrize(("device", "backend"), PLACES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("store_v_seq", [True, False], ids=["v-seq", "v-last"])
def test_opcheck_neuron_walk_without_gradients(device, backend, dtype, store_v_seq):
    args = _neuron_args(device, backend, dtype, (C,), RESETS[0].values[0], store_v_seq, False, False)
    _check(OPS.neuron_walk.default, args)


# grad_s: a dense [T, B, C] gradient, or one value broadcast everywhere (the gradient of s.sum(), which
# the kernels read as one row); grad_v: dense, or None (the loss does not read the membrane).
GRADS = [
    pytest.param(("dense", "dense"), id="dense-s-dense-v"),
    pytest.param(("one-row", None), id="one-row-s-no-v"),
    pytest.param((None, "dense"), id="no-s-dense-v"),
]


# (coefficient shape, reset): a LIF layer (shared, fixed 1/tau) with a hard reset, and a PLIF layer (one
# learnable 1/tau per channel, so the backward also returns the coefficients' gradients) with a soft one.
LAYERS = [
    pytest.param(((), RESETS[0].values[0]), id="scalar-hard"),
    pytest.param(((C,), RESETS[3].values[0]), id="per-channel-soft-detach-reset"),
]


@pytest.mark.parametrize(("device", "backend"), PLACES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("store_v_seq", [True, False], ids=["v-seq", "v-last"])
@pytest.mark.parametrize("grads", GRADS)
def test_opcheck_neuron_walk_backward(device, backend, dtype, layer, store_v_seq, grads):
    coef_shape, reset = layer
    forward_args = _neuron_args(device, backend, dtype, coef_shape, reset, store_v_seq, False, False)
    x, v0, a, b, c, *config = forward_args
    s, v = OPS.neuron_walk(*forward_args)
    g = torch.Generator().manual_seed(2)
    kind_s, kind_v = grads
    grad_s = grad_v = None
    if kind_s == "dense":
        grad_s = torch.randn(s.shape, generator=g, dtype=torch.float64).to(device, dtype)
    elif kind_s == "one-row":
        grad_s = torch.ones((), dtype=dtype, device=device).expand(s.shape)
    if kind_v == "dense":
        grad_v = torch.randn(v.shape, generator=g, dtype=torch.float64).to(device, dtype)
    (v_threshold, v_reset, hard_reset, name, c1, c2, detach_reset, store, backend_) = config
    need_coef = coef_shape != ()
    args = (
        grad_s, grad_v, x, v0, a, b, c, v_threshold, v_reset, hard_reset, name, c1, c2, detach_reset, store,
        need_coef, backend_,
    )  # fmt: skip
    _check(OPS.neuron_walk_backward.default, args)


def test_every_spikestep_operator_is_covered():
    """A new operator in the ``spikestep`` namespace needs its opcheck here too."""
    registered = {name for name in dir(OPS) if not name.startswith("_")}
    registered = {n for n in registered if isinstance(getattr(OPS, n), torch._ops.OpOverloadPacket)}
    assert registered == {
        "synapse_filter",
        "synapse_filter_backward",
        "neuron_walk",
        "neuron_walk_backward",
        # opcheck'd (with its autograd, hence its backward) in tests/ops/test_delayed_linear.py
        "delayed_linear",
        "delayed_linear_backward",
        # opcheck'd (forward with its autograd, and the backward directly; every backend, f32 and f64) in
        # tests/ops/test_learnable_delay.py
        "learnable_delay",
        "learnable_delay_backward",
    }
