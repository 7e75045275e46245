"""The delayed linear operator's Triton kernels (the sparse kernels ``'linear'`` and ``'round'``): forward
and every gradient (held inputs, inputs, weights, delays) against the dense torch path, the numba kernels
and the plain reference, in float32 and float64.

They run on a CUDA device, or on the CPU under Triton's interpreter (``TRITON_INTERPRET=1``, which
``backends`` sets when there is no GPU, as in CI; slow, so the shapes are small); without Triton the
module is skipped. The comparisons are made on the CPU.
"""

import pytest
import torch
from backends import TRITON_DEVICE, needs_numba

from spikestep import layer, ops
from spikestep._runtime import triton_jit
from spikestep.ops.delayed_linear import delayed_linear_walk, reference_walk
from spikestep.ops.delayed_linear import op as dl_op

if TRITON_DEVICE is None:
    pytest.skip("needs Triton and a CUDA device (or TRITON_INTERPRET=1)", allow_module_level=True)

SPARSE = ["linear", "round"]
DTYPES = [pytest.param(torch.float32, id="f32"), pytest.param(torch.float64, id="f64")]
# (D, T, N, I, O): a chunk after held inputs, fewer steps than the max delay, no delay at all.
SHAPES = [
    pytest.param((5, 7, 3, 4, 6), id="chunk-with-held"),
    pytest.param((6, 3, 2, 5, 3), id="T-below-D"),
    pytest.param((0, 4, 2, 3, 2), id="D-0"),
]
NAMES = ("y", "held", "x", "weight", "delay")


def _case(d, t, n, i, o, dtype=torch.float64, seed=0, delays="between"):
    """``held, x, weight, delay`` on the CPU: delays away from whole and half steps (``'between'``), on
    whole steps (``'whole'``, 0 and ``D`` included) or on half steps (``'half'``, where ``'round'`` rounds
    halves to even)."""
    g = torch.Generator().manual_seed(seed)
    held = torch.randn(d, n, i, generator=g, dtype=torch.float64)
    x = torch.randn(t, n, i, generator=g, dtype=torch.float64)
    w = torch.randn(o, i, generator=g, dtype=torch.float64)
    whole = torch.randint(0, max(d, 1), (o, i), generator=g).to(torch.float64)
    if delays == "whole":
        delay = torch.randint(0, d + 1, (o, i), generator=g).to(torch.float64)
    elif delays == "half":
        delay = (whole + 0.5).clamp(max=d)
    else:
        delay = (whole + 0.1 + 0.3 * torch.rand(o, i, generator=g, dtype=torch.float64)).clamp(max=d)
    return [t.to(dtype) for t in (held, x, w, delay)]


def _run(case, kernel, backend, device, grad_y, needs=(True, True, True, True)):
    """``[y, grad_held, grad_x, grad_weight, grad_delay]`` on the CPU (None for a gradient not asked
    for) of ``delayed_linear_walk`` on ``device``."""
    tensors = [t.to(device).requires_grad_(need) for t, need in zip(case, needs)]
    y = delayed_linear_walk(*tensors, 1.0, kernel, backend)
    wanted = [t for t in tensors if t.requires_grad]
    grads = iter(torch.autograd.grad(y, wanted, grad_y.to(device), materialize_grads=True))
    return [y.detach().cpu()] + [next(grads).cpu() if need else None for need in needs]


def _grad_y(case, seed=1):
    _, x, w, _ = case
    g = torch.Generator().manual_seed(seed)
    return torch.randn(x.shape[0], x.shape[1], w.shape[0], generator=g, dtype=torch.float64).to(x.dtype)


def _assert_all_close(got, want, tol, scale=False):
    for name, g, w in zip(NAMES, got, want, strict=True):
        atol = tol * max(w.abs().max().item(), 1.0) if scale and w.numel() else tol
        torch.testing.assert_close(g, w, rtol=tol, atol=atol, msg=name)


@pytest.mark.parametrize("kernel", SPARSE)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_triton_equals_the_dense_torch_path_and_the_reference(kernel, dtype, shape):
    case = _case(*shape, dtype=dtype)
    grad_y = _grad_y(case)
    got = _run(case, kernel, "triton", TRITON_DEVICE, grad_y)
    dense = _run(case, kernel, "torch", "cpu", grad_y)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    _assert_all_close(got, dense, tol, scale=True)
    # The reference (autograd through the kernel built from its definition) in float64.
    case64 = [t.double() for t in case]
    want = _grads_of_reference(case64, kernel, grad_y.double())
    _assert_all_close([g.double() for g in got], want, 1e-11 if dtype == torch.float64 else 1e-4, True)


def _grads_of_reference(case, kernel, grad_y):
    tensors = [t.clone().requires_grad_(True) for t in case]
    y = reference_walk(*tensors, 1.0, kernel)
    grads = torch.autograd.grad(y, tensors, grad_y, allow_unused=True, materialize_grads=True)
    return [y.detach(), *grads]


@needs_numba
@pytest.mark.parametrize("kernel", SPARSE)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("delays", ["between", "whole", "half"])
def test_triton_equals_the_numba_kernels(kernel, dtype, shape, delays):
    # Whole steps (where 'linear' takes the derivative from the right) and half steps (where 'round'
    # rounds to even): the two sparse paths must agree there too. The forward and the input's gradient
    # add the same products in the same order; the parameters' sums differ in the order of additions.
    case = _case(*shape, dtype=dtype, seed=3, delays=delays)
    grad_y = _grad_y(case, seed=4)
    got = _run(case, kernel, "triton", TRITON_DEVICE, grad_y)
    want = _run(case, kernel, "numba", "cpu", grad_y)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    _assert_all_close(got, want, tol, scale=True)


@pytest.mark.parametrize("kernel", SPARSE)
@pytest.mark.parametrize(
    "needs",
    [(True, False, False, False), (False, True, False, False), (False, False, True, True),
     (False, False, True, False), (True, True, False, False)],
    ids=["held", "x", "params", "weight", "inputs"],
)  # fmt: skip
def test_the_triton_backward_computes_each_part_alone_as_all_together_do(kernel, needs):
    case = _case(6, 4, 3, 5, 4, dtype=torch.float32, seed=5)
    grad_y = _grad_y(case, seed=6)
    alone = _run(case, kernel, "triton", TRITON_DEVICE, grad_y, needs)
    together = _run(case, kernel, "triton", TRITON_DEVICE, grad_y)
    for name, got, want, need in zip(NAMES[1:], alone[1:], together[1:], needs):
        assert (got is None) != need, name
        if need:
            assert torch.equal(got, want), name


@pytest.mark.parametrize("kernel", SPARSE)
def test_several_tiles_and_row_slices_give_what_one_gives(kernel, monkeypatch):
    # Tiny blocks and slices, so that a small case runs many programs along every grid axis, with
    # partial tiles at every edge and the parameters' sums cut into slices (added up afterwards).
    kernels = triton_jit.load("spikestep.ops.delayed_linear.triton_kernel")
    case = _case(4, 9, 3, 11, 7, dtype=torch.float64, seed=7)
    grad_y = _grad_y(case, seed=8)
    whole = _run(case, kernel, "triton", TRITON_DEVICE, grad_y)
    for name, value in [("_BLOCK_R", 8), ("_BLOCK_O", 4), ("_BLOCK_P", 8), ("_BLOCK_I", 4),
                        ("_SUM_I", 4), ("_SUM_R", 4), ("_MIN_SLICE", 5), ("_TARGET_PROGRAMS", 10**6)]:  # fmt: skip
        monkeypatch.setattr(kernels, name, value)
    assert kernels._slices(27, 2) == (4, 8)  # T * N = 27 rows: slices of 8 (a multiple of _SUM_R), 3 last
    tiled = _run(case, kernel, "triton", TRITON_DEVICE, grad_y)
    _assert_all_close(tiled, whole, 1e-12, scale=True)
    _assert_all_close(tiled, _run(case, kernel, "torch", "cpu", grad_y), 1e-12, scale=True)


@pytest.mark.parametrize("kernel", SPARSE)
def test_triton_passes_gradcheck_in_float64(kernel):
    case = [t.to(TRITON_DEVICE).requires_grad_(True) for t in _case(3, 4, 2, 3, 2)]
    assert torch.autograd.gradcheck(lambda *a: delayed_linear_walk(*a, 1.0, kernel, "triton"), case)


@pytest.mark.parametrize("kernel", SPARSE)
def test_the_layer_on_triton_in_chunks_equals_the_whole_sequence_on_the_torch_path(kernel):
    # The held inputs carry the sequence across chunks shorter than max_delay, forward and backward.
    x = torch.rand(10, 2, 5, generator=torch.Generator().manual_seed(9))
    results = {}
    for backend, chunks in (("triton", 4), ("torch", 1)):
        torch.manual_seed(0)
        fc = layer.DelayedLinear(5, 3, max_delay=4, kernel=kernel, backend=backend, step_mode="m")
        fc = fc.to(TRITON_DEVICE if backend == "triton" else "cpu")
        xx = x.to(fc.weight.device).requires_grad_(True)
        y = torch.cat([fc(c) for c in xx.chunk(chunks)])
        weights = torch.linspace(-1, 1, y.numel(), device=y.device).reshape(y.shape)
        grads = torch.autograd.grad((y * weights).sum(), [xx, fc.weight, fc.delay, fc.bias])
        results[backend] = [y.detach().cpu(), *(g.cpu() for g in grads)]
    for got, want in zip(results["triton"], results["torch"], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_the_gaussian_kernel_runs_the_dense_path_when_triton_is_forced():
    assert dl_op._path("gauss", "triton", torch.zeros(1, device=TRITON_DEVICE)) == "dense"
    assert dl_op._path("linear", "triton", torch.zeros(1, device=TRITON_DEVICE)) == "triton"
    case = _case(4, 5, 2, 3, 4, dtype=torch.float32)
    grad_y = _grad_y(case)
    with ops.use_backend("triton"):
        got = _run(case, "gauss", "auto", TRITON_DEVICE, grad_y)
    _assert_all_close(got, _run(case, "gauss", "torch", "cpu", grad_y), 1e-5, scale=True)


def test_use_backend_triton_forces_the_triton_kernels(monkeypatch):
    kernels = triton_jit.load("spikestep.ops.delayed_linear.triton_kernel")
    calls = []
    original = kernels.forward
    monkeypatch.setattr(kernels, "forward", lambda *a: calls.append(1) or original(*a))
    case = [t.to(TRITON_DEVICE) for t in _case(3, 4, 2, 3, 2, dtype=torch.float32)]
    with ops.use_backend("triton"):
        y = delayed_linear_walk(*case, kernel="linear")
    assert calls == [1]
    torch.testing.assert_close(y.cpu(), delayed_linear_walk(*(t.cpu() for t in case), 1.0, "linear", "torch"))


def test_forcing_triton_on_float16_is_the_documented_runtime_error():
    case = [t.half().to(TRITON_DEVICE) for t in _case(3, 4, 2, 3, 2)]
    with pytest.raises(RuntimeError, match="backend 'triton' was forced"):
        delayed_linear_walk(*case, kernel="linear", backend="triton")


@pytest.mark.parametrize("kernel", SPARSE)
def test_the_registered_operator_passes_opcheck_on_triton(kernel):
    case = _case(3, 4, 2, 3, 2, dtype=torch.float32)
    held, x, w, delay = (t.to(TRITON_DEVICE).requires_grad_(True) for t in case)
    result = torch.library.opcheck(
        torch.ops.spikestep.delayed_linear, (held, x, w, delay, 0.8, kernel, "triton")
    )
    assert set(result.values()) == {"SUCCESS"}, result
