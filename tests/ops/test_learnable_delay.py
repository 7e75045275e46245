"""The learnable delay operator: every backend (torch, numba, Triton under the interpreter) against the plain
reference (forward and the gradients of the inputs, the held inputs and the delays; two taps and the
Gaussian; float64 and float32), the edge cases (``D = 0``, fewer steps than ``D``, no step, non-contiguous
inputs, delays out of range or NaN), gradcheck, ``opcheck``, ``torch.compile``, the functional forms the
layers call, and refused arguments."""

import pytest
import torch
from backends import BACKENDS, CPU_BACKENDS, TRITON_DEVICE, needs_numba, needs_triton

from spikestep import functional, ops
from spikestep.ops.learnable_delay import learnable_delay_walk, reference_walk

# 0: two taps (linear interpolation); a narrow and a wide Gaussian.
SIGMAS = [
    pytest.param(0.0, id="linear"),
    pytest.param(0.7, id="gauss-narrow"),
    pytest.param(2.5, id="gauss-wide"),
]
# (T, D, K): a chunk after held inputs, fewer steps than D, one step of delay, no delay, several taps.
SHAPES = [
    pytest.param((7, 5, 1), id="T7-D5-K1"),
    pytest.param((3, 5, 2), id="T-below-D"),
    pytest.param((6, 1, 3), id="D1-K3"),
    pytest.param((4, 0, 2), id="D0"),
]
NAMES = ("y", "x", "held", "delay")


def _device(backend):
    return TRITON_DEVICE if backend == "triton" else torch.device("cpu")


def _case(t=7, d=5, k=1, batch=(2, 3), c=4, dtype=torch.float64, seed=0, whole=False):
    """``x [T, *batch, C]``, ``held [D, *batch, C]``, ``delay [K, C]``: delays away from whole steps (where
    the two-tap kernel has kinks), or on whole steps (0 and D included)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(t, *batch, c, generator=g, dtype=torch.float64)
    held = torch.randn(d, *batch, c, generator=g, dtype=torch.float64)
    if whole:
        delay = torch.randint(0, d + 1, (k, c), generator=g).to(torch.float64)
    else:
        lag = torch.randint(0, max(d, 1), (k, c), generator=g)
        delay = (lag + 0.1 + 0.8 * torch.rand(k, c, generator=g, dtype=torch.float64)).clamp(max=d)
    return [v.to(dtype) for v in (x, held, delay)]


def _grad_y(case, seed=1):
    x, _, delay = case
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*x.shape[:-1], *delay.shape, generator=g, dtype=torch.float64).to(x.dtype)


CPU = torch.device("cpu")


def _run(fn, case, grad_y, device=CPU, needs=(True, True, True)):
    """``[y, grad_x, grad_held, grad_delay]`` on the CPU (None for a gradient not asked for)."""
    tensors = [v.to(device).requires_grad_(need) for v, need in zip(case, needs)]
    y = fn(*tensors)
    wanted = [v for v in tensors if v.requires_grad]
    grads = iter(torch.autograd.grad(y, wanted, grad_y.to(device), materialize_grads=True))
    return [y.detach().cpu()] + [next(grads).cpu() if need else None for need in needs]


def _walk(sigma, backend):
    return lambda x, held, delay: learnable_delay_walk(x, held, delay, sigma, backend)


def _reference(sigma):
    return lambda x, held, delay: reference_walk(x, held, delay, sigma)


def _assert_close(got, want, tol):
    for name, g, w in zip(NAMES, got, want, strict=True):
        if w is None:
            assert g is None, name
            continue
        atol = tol * max(w.abs().max().item(), 1.0) if w.numel() else tol
        torch.testing.assert_close(g, w, rtol=tol, atol=atol, msg=name)


# --- every backend against the reference ---------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_and_gradients_equal_autograd_through_the_reference_in_float64(backend, sigma, shape):
    t, d, k = shape
    case = _case(t, d, k)
    grad_y = _grad_y(case)
    got = _run(_walk(sigma, backend), case, grad_y, _device(backend))
    want = _run(_reference(sigma), case, grad_y)
    if d == 0:  # the identity (the reference's Gaussian would divide by 1 + 1e-7): the delay has no say
        want[0], want[3] = case[0].unsqueeze(-2).expand(want[0].shape), torch.zeros_like(case[2])
        want[1] = grad_y.sum(-2)
    _assert_close(got, want, 1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sigma", SIGMAS)
def test_float32_agrees_with_the_float64_reference_to_float32_rounding(backend, sigma):
    small = backend == "triton"  # the interpreter is slow
    shape = dict(t=9, d=6, k=2, batch=(3,), c=5) if small else dict(t=30, d=9, k=3, batch=(4, 2), c=33)
    case = _case(**shape, seed=2)
    grad_y = _grad_y(case, seed=3)
    got = _run(_walk(sigma, backend), [v.float() for v in case], grad_y.float(), _device(backend))
    want = _run(_reference(sigma), case, grad_y)
    _assert_close([None if g is None else g.double() for g in got], want, 2e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sigma", SIGMAS)
def test_non_contiguous_inputs_give_what_contiguous_ones_give(backend, sigma):
    x, held, delay = _case(6, 4, 2, batch=(3,), c=5, seed=4)
    grad_y = _grad_y((x, held, delay), seed=5)
    # Channels and batch swapped in memory, every other step of a longer held tensor, delays stored [C, K].
    x_nc = x.transpose(1, 2).contiguous().transpose(1, 2)
    held_nc = torch.repeat_interleave(held, 2, dim=0)[::2]
    delay_nc = delay.t().contiguous().t()
    assert not (x_nc.is_contiguous() or held_nc.is_contiguous() or delay_nc.is_contiguous())
    device = _device(backend)

    def call(x, held, delay):
        if device.type != "cpu":  # the layouts above, made again on the device
            x, held, delay = x.transpose(1, 2).contiguous().transpose(1, 2), held, delay.t().contiguous().t()
        return learnable_delay_walk(x, held, delay, sigma, backend)

    got = _run(call, [x_nc, held_nc, delay_nc], grad_y, device)
    want = _run(_walk(sigma, "torch"), [x, held, delay], grad_y)
    _assert_close(got, want, 1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_whole_step_delays_are_exact_shifts_on_every_backend(backend):
    # sigma = 0 at whole steps (0 and D included) is the integer delay line, bit for bit.
    x, held, delay = _case(8, 5, 3, batch=(2,), c=6, seed=6, whole=True)
    device = _device(backend)
    y = learnable_delay_walk(x.to(device), held.to(device), delay.to(device), 0.0, backend).cpu()
    want, _ = functional.delay_taps_with_state(x, held, delay.long())
    assert torch.equal(y.flatten(-2), want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize(
    "needs",
    [(True, False, False), (False, True, False), (False, False, True), (True, True, False)],
    ids=["x", "held", "delay", "inputs"],
)
def test_the_backward_computes_each_part_alone_as_all_together_do(backend, sigma, needs):
    for t in (5, 2):  # a chunk of at least D steps, and a shorter one (read in place by the numba kernels)
        case = _case(t, 4, 2, batch=(2,), c=3, seed=7)
        grad_y = _grad_y(case, seed=8)
        device = _device(backend)
        alone = _run(_walk(sigma, backend), case, grad_y, device, needs)
        together = _run(_walk(sigma, backend), case, grad_y, device)
        for name, got, want, need in zip(NAMES[1:], alone[1:], together[1:], needs):
            assert (got is None) != need, name
            if need:
                assert torch.equal(got, want), name


@needs_numba
@pytest.mark.parametrize("sigma", SIGMAS)
def test_the_numba_kernels_equal_the_torch_walk_over_several_channel_blocks(sigma, monkeypatch):
    from spikestep.ops.learnable_delay import numba_kernel

    case = [v.float() for v in _case(12, 7, 3, batch=(5,), c=70, seed=9)]
    grad_y = _grad_y(case, seed=10)
    want = _run(_walk(sigma, "torch"), case, grad_y)
    monkeypatch.setattr(numba_kernel, "_CBLOCK", 16)  # 5 blocks a sample, the last partial
    got = _run(_walk(sigma, "numba"), case, grad_y)
    _assert_close(got, want, 1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sigma", SIGMAS)
def test_gradcheck_in_float64_for_inputs_held_inputs_and_delays(backend, sigma):
    device = _device(backend)
    shape = dict(batch=(1,), c=2) if backend == "triton" else dict(batch=(2,), c=2)  # the interpreter is slow
    for t in (4, 2) if backend != "triton" else (4,):  # at least D = 3 steps, and fewer
        case = [v.to(device).requires_grad_(True) for v in _case(t, 3, 2, **shape, seed=11)]
        assert torch.autograd.gradcheck(_walk(sigma, backend), case)


# --- edge cases ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sigma", SIGMAS)
def test_no_step_gives_an_empty_output_and_zero_gradients(backend, sigma):
    x, held, delay = _case(0, 3, 2)
    device = _device(backend)
    x, held, delay = (v.to(device).requires_grad_(True) for v in (x, held, delay))
    y = learnable_delay_walk(x, held, delay, sigma, backend)
    assert y.shape == (0, 2, 3, 2, 4)
    grads = torch.autograd.grad(y.sum(), (x, held, delay), materialize_grads=True)
    assert all(not g.any() for g in grads)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sigma", SIGMAS)
def test_delays_out_of_range_are_clamped_and_their_gradient_is_zero(backend, sigma):
    x, held, delay = _case(6, 4, 1, batch=(2,), c=4, seed=12)
    delay[0, 0], delay[0, 3] = -0.7, 5.5
    grad_y = _grad_y((x, held, delay), seed=13)
    device = _device(backend)
    got = _run(_walk(sigma, backend), (x, held, delay), grad_y, device)
    clamped = _run(_walk(sigma, backend), (x, held, delay.clamp(0, 4)), grad_y, device)
    assert torch.equal(got[0], clamped[0])
    assert got[3][0, 0] == 0 and got[3][0, 3] == 0 and torch.equal(got[3][0, 1:3], clamped[3][0, 1:3])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sigma", SIGMAS)
def test_a_nan_delay_touches_its_own_channel_only(backend, sigma):
    # Two taps: NaN coefficients, so NaN outputs (read at lag 0, never out of range). The Gaussian drops
    # every tap that is not >= eps^2 (gauss_taps), so a NaN delay's kernel is all zeros: silence.
    x, held, delay = _case(5, 3, 1, batch=(2,), c=3, seed=14)
    delay[0, 1] = float("nan")
    device = _device(backend)
    y = learnable_delay_walk(x.to(device), held.to(device), delay.to(device), sigma, backend).cpu()
    assert y[..., 1].isnan().all() if sigma == 0.0 else not y[..., 1].any()
    assert not y[..., [0, 2]].isnan().any()


# --- the registered operator ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize(
    "dtype", [pytest.param(torch.float32, id="f32"), pytest.param(torch.float64, id="f64")]
)
def test_the_registered_operator_passes_opcheck(backend, sigma, dtype):
    x, held, delay = (
        v.to(_device(backend)).requires_grad_(True) for v in _case(4, 3, 2, batch=(2,), c=3, dtype=dtype)
    )
    result = torch.library.opcheck(torch.ops.spikestep.learnable_delay, (x, held, delay, sigma, backend))
    assert set(result.values()) == {"SUCCESS"}, result


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("need_delay", [True, False], ids=["need-delay", "no-delay"])
def test_the_backward_operator_passes_opcheck(backend, need_delay):
    x, held, delay = _case(4, 3, 2, batch=(2,), c=3, dtype=torch.float32)
    grad_y = _grad_y((x, held, delay))
    for sigma in (0.0, 1.2):
        args = (grad_y, x, held, delay, sigma, True, True, need_delay, backend)
        result = torch.library.opcheck(torch.ops.spikestep.learnable_delay_backward, args)
        assert set(result.values()) == {"SUCCESS"}, result


@pytest.mark.parametrize("sigma", SIGMAS)
def test_torch_compile_fullgraph_traces_the_operator_and_matches_eager(sigma):
    # aot_eager traces forward and backward as inductor does (one graph each, the operator inside).
    torch._dynamo.reset()
    case = [v.float() for v in _case(5, 3, 2, batch=(2,), c=4, seed=15)]
    grad_y = _grad_y(case, seed=16)

    def chunked(x, held, delay):  # two chunks, the held inputs carried: the layer's use
        y1, held = functional.learnable_delay_taps_with_state(x[:2], held, delay, sigma)
        y2, held = functional.learnable_delay_taps_with_state(x[2:], held, delay, sigma)
        return torch.cat((y1, y2)) + held.sum()

    compiled = torch.compile(chunked, fullgraph=True, backend="aot_eager")
    got = _run(compiled, case, grad_y.flatten(-2))
    want = _run(chunked, case, grad_y.flatten(-2))
    _assert_close(got, want, 1e-6)


def test_inductor_compiles_the_layers_fullgraph_and_matches_eager():
    # The default backend, once: LearnableDelay (Gaussian) then LearnedDelayBank (two taps), two chunks
    # with the held inputs carried in the modules' memories, forward and backward.
    from spikestep import layer
    from spikestep.models import LearnedDelayBank

    torch._dynamo.reset()

    def make():
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            layer.LearnableDelay(4, 5, sigma=1.5, step_mode="m"),
            LearnedDelayBank(4, taps=2, max_delay=3, sigma=0.0),
        )
        return net

    x = torch.rand(6, 2, 4, generator=torch.Generator().manual_seed(21))
    results = []
    for compile_it in (True, False):
        net = make()
        run = torch.compile(net, fullgraph=True) if compile_it else net
        xx = x.clone().requires_grad_(True)
        y = torch.cat([run(c) for c in xx.split([4, 2])])
        weights = torch.linspace(-1, 1, y.numel()).reshape(y.shape)
        grads = torch.autograd.grad((y * weights).sum(), [xx, *net.parameters()])
        results.append([y.detach(), *grads, net[0].queue.detach(), net[1].queue.detach()])
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


# --- the functional forms ------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", SIGMAS)
def test_the_tapped_form_is_each_tap_as_its_own_per_channel_delay(sigma):
    x, held, delay = _case(6, 4, 3, batch=(2,), c=5, seed=17)
    y, new_held = functional.learnable_delay_taps_with_state(x, held, delay, sigma)
    for k in range(3):
        y_k, held_k = functional.learnable_delay_with_state(x, held, delay[k], sigma)
        torch.testing.assert_close(y[..., k * 5 : (k + 1) * 5], y_k, rtol=0, atol=0)
        assert torch.equal(held_k, new_held)


@pytest.mark.parametrize("t", [0, 2, 4, 9])
def test_the_new_held_inputs_are_the_last_d_steps_in_a_tensor_of_their_own(t):
    x, held, delay = _case(t, 4, 1, batch=(2,), c=3, seed=18)
    y, new_held = functional.learnable_delay_with_state(x, held, delay[0], 0.0)
    assert torch.equal(new_held, torch.cat((held, x))[-4:])
    storages = {v.untyped_storage().data_ptr() for v in (x, held, delay, y) if v.numel()}
    assert new_held.untyped_storage().data_ptr() not in storages
    assert new_held.untyped_storage().nbytes() == new_held.numel() * new_held.element_size()


def test_a_float32_delay_on_float64_inputs_is_cast_as_before():
    x, held, delay = _case(5, 3, 1, batch=(2,), c=3, seed=19)
    d32 = delay[0].float().requires_grad_(True)
    y, _ = functional.learnable_delay_with_state(x, held, d32, 0.8)
    assert y.dtype == torch.float64
    y.sum().backward()
    assert d32.grad.dtype == torch.float32


def test_float16_falls_back_to_the_torch_walk_under_auto():
    case = _case(6, 3, 2, batch=(2,), c=3, seed=20)
    for sigma in (0.0, 1.0):
        y16 = learnable_delay_walk(*(v.half() for v in case), sigma)
        torch.testing.assert_close(y16.double(), reference_walk(*case, sigma), rtol=1e-2, atol=1e-2)


@needs_numba
def test_forcing_numba_on_float16_is_the_documented_runtime_error():
    with pytest.raises(RuntimeError, match="backend 'numba' was forced"):
        learnable_delay_walk(*(v.half() for v in _case()), 0.0, "numba")


@needs_triton
def test_use_backend_triton_runs_the_triton_kernels(monkeypatch):
    from spikestep._runtime import triton_jit

    kernels = triton_jit.load("spikestep.ops.learnable_delay.triton_kernel")
    calls = []
    original = kernels.forward_sparse
    monkeypatch.setattr(kernels, "forward_sparse", lambda *a: calls.append(1) or original(*a))
    case = [v.float().to(TRITON_DEVICE) for v in _case(4, 3, 1)]
    with ops.use_backend("triton"):
        learnable_delay_walk(*case, 0.0)
    assert calls == [1]


# --- refused arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda c: (c[0][:, 0, 0, 0], c[1][:, 0, 0, 0], c[2]), ValueError, r"x must be \[T, \.\.\., C\]"),
        (lambda c: (c[0], c[1][:, :1], c[2]), ValueError, r"held \[D, \.\.\., C\] with the same"),
        (lambda c: (c[0], c[1], c[2][0]), ValueError, r"delay must be \[K, C\]"),
        (lambda c: (c[0], c[1], c[2][:, :2]), ValueError, r"delay must be \[K, C\]"),
        (lambda c: (c[0], c[1], c[2].float()), TypeError, "one floating dtype"),
        (lambda c: (c[0].long(), c[1], c[2]), TypeError, "x must be floating"),
        (lambda c: (c[0], c[1].tolist(), c[2]), TypeError, "held must be a torch.Tensor"),
    ],
)
def test_tensors_of_the_wrong_shape_dtype_or_type_are_refused(change, error, match):
    with pytest.raises(error, match=match):
        learnable_delay_walk(*change(_case(k=2)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sigma": -1.0}, ValueError, "sigma must be a finite number >= 0"),
        ({"sigma": float("nan")}, ValueError, "sigma must be a finite number >= 0"),
        ({"sigma": "wide"}, TypeError, "sigma must be a real number"),
        ({"backend": "cuda"}, ValueError, "backend must be one of"),
    ],
)
def test_a_bad_sigma_or_backend_is_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        learnable_delay_walk(*_case(), **kwargs)


def test_the_functional_forms_refuse_delays_of_the_wrong_shape():
    x, held, delay = _case(k=2)
    with pytest.raises(ValueError, match=r"delay must be \[C\]"):
        functional.learnable_delay_with_state(x, held, delay, 0.0)
    with pytest.raises(ValueError, match=r"delay must be a tensor \[K, C\]"):
        functional.learnable_delay_taps_with_state(x, held, delay[0], 0.0)
