"""The delayed linear operator: every kernel on every CPU backend against the plain reference and against
``dcls.Dcls1d`` (forward and gradients), gradcheck, the registered operator, and refused arguments (the
Triton kernels: ``test_delayed_linear_triton.py``)."""

import pytest
import torch
from backends import CPU_BACKENDS, needs_numba

from spikestep.ops.delayed_linear import delayed_linear_walk, math, reference_walk, sigma_schedule

KERNELS = ["gauss", "linear", "round"]


def _case(d=5, t=7, n=3, i=4, o=6, dtype=torch.float64, seed=0, integer_delays=False):
    """``held, x, weight, delay``: delays drawn away from whole and half steps (where 'linear' and
    'round' have kinks and jumps), or whole steps."""
    g = torch.Generator().manual_seed(seed)
    held = torch.randn(d, n, i, generator=g, dtype=dtype)
    x = torch.randn(t, n, i, generator=g, dtype=dtype)
    w = torch.randn(o, i, generator=g, dtype=dtype)
    if integer_delays:
        delay = torch.randint(0, d + 1, (o, i), generator=g).to(dtype)
    else:
        whole = torch.randint(0, max(d, 1), (o, i), generator=g)
        delay = (
            (whole + 0.1 + 0.3 * torch.rand(o, i, generator=g, dtype=torch.float64)).clamp(max=d).to(dtype)
        )
    return held, x, w, delay


def _grads(fn, tensors, grad_y):
    tensors = [t.detach().clone().requires_grad_(True) for t in tensors]
    y = fn(*tensors)
    grads = torch.autograd.grad(y, tensors, grad_y, allow_unused=True, materialize_grads=True)
    return y.detach(), grads


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_forward_and_gradients_equal_autograd_through_the_reference_in_float64(kernel, backend):
    case = _case()
    grad_y = torch.randn(7, 3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y, grads = _grads(lambda *a: delayed_linear_walk(*a, 1.3, kernel, backend), case, grad_y)
    y_ref, grads_ref = _grads(lambda *a: reference_walk(*a, 1.3, kernel), case, grad_y)
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    for name, got, want in zip(("held", "x", "weight", "delay"), grads, grads_ref):
        torch.testing.assert_close(got, want, rtol=1e-11, atol=1e-11, msg=name)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_float32_agrees_with_float64_to_float32_rounding(kernel, backend):
    case = _case(d=9, t=20, n=4, i=33, o=17, seed=2)
    y32 = delayed_linear_walk(*(t.float() for t in case), 2.0, kernel, backend)
    y64 = delayed_linear_walk(*case, 2.0, kernel, backend)
    torch.testing.assert_close(y32.double(), y64, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_gradcheck_in_float64_for_inputs_weights_and_delays(kernel, backend):
    case = [t.requires_grad_(True) for t in _case(d=3, t=4, n=2, i=3, o=2)]
    assert torch.autograd.gradcheck(lambda *a: delayed_linear_walk(*a, 0.9, kernel, backend), case)


@needs_numba
@pytest.mark.parametrize("kernel", ["linear", "round"])
def test_the_numba_kernel_equals_the_dense_torch_path_in_float32_at_a_larger_size(kernel):
    case = [t.float() for t in _case(d=25, t=40, n=8, i=70, o=30, seed=3)]
    grad_y = torch.randn(40, 8, 30, generator=torch.Generator().manual_seed(4))
    numba_y, numba_g = _grads(lambda *a: delayed_linear_walk(*a, 1.0, kernel, "numba"), case, grad_y)
    torch_y, torch_g = _grads(lambda *a: delayed_linear_walk(*a, 1.0, kernel, "torch"), case, grad_y)
    torch.testing.assert_close(numba_y, torch_y, rtol=1e-5, atol=1e-5)
    for name, got, want in zip(("held", "x", "weight", "delay"), numba_g, torch_g):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * want.abs().max().item(), msg=name)


@needs_numba
@pytest.mark.parametrize("kernel", ["linear", "round"])
@pytest.mark.parametrize("wanted", ["inputs", "parameters"])
def test_the_numba_backward_computes_either_half_alone_as_both_together_do(kernel, wanted):
    held, x, w, delay = (t.float() for t in _case(d=6, t=30, n=4, i=9, o=5, seed=7))
    grad_y = torch.randn(30, 4, 5, generator=torch.Generator().manual_seed(8))
    needs = {"inputs": (True, True, False, False), "parameters": (False, False, True, True)}[wanted]
    tensors = [t.clone().requires_grad_(need) for t, need in zip((held, x, w, delay), needs)]
    alone = torch.autograd.grad(
        delayed_linear_walk(*tensors, 1.0, kernel, "numba"), [t for t in tensors if t.requires_grad], grad_y
    )
    both = _grads(lambda *a: delayed_linear_walk(*a, 1.0, kernel, "numba"), (held, x, w, delay), grad_y)[1]
    for got, want in zip(alone, [g for g, need in zip(both, needs) if need]):
        assert torch.equal(got, want)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_a_max_delay_of_zero_is_a_linear_map_for_every_kernel(backend):
    held, x, w, _ = _case(d=0)
    delay = torch.zeros_like(w)
    want = torch.einsum("tni,oi->tno", x, w)
    for kernel in ("linear", "round"):
        torch.testing.assert_close(delayed_linear_walk(held, x, w, delay, 1.0, kernel, backend), want)
    gauss = delayed_linear_walk(held, x, w, delay, 1.0, "gauss", backend)
    torch.testing.assert_close(gauss, want / (1 + math.EPS))  # dcls's normalisation guard


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_round_delays_shift_each_input_by_whole_steps_exactly(backend):
    x = torch.arange(1.0, 9.0).reshape(8, 1, 1).repeat(1, 1, 2)  # two inputs, both 1..8
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    delay = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    y = delayed_linear_walk(torch.zeros(4, 1, 2), x, w, delay, kernel="round", backend=backend)
    assert torch.equal(y[:, 0, 0], torch.tensor([0.0, 0.0, 1, 2, 3, 4, 5, 6]))
    assert torch.equal(y[:, 0, 1], torch.tensor([0.0, 0.0, 0, 1, 2, 3, 4, 5]))


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_empty_steps_or_samples_give_empty_outputs(kernel, backend):
    held, _, w, delay = _case(d=2)
    for x in (torch.zeros(0, 3, 4, dtype=torch.float64), torch.zeros(5, 0, 4, dtype=torch.float64)):
        y = delayed_linear_walk(held[:, : x.shape[1]], x, w, delay, 1.0, kernel, backend)
        assert y.shape == (x.shape[0], x.shape[1], 6)


def test_the_sigma_schedule_goes_from_half_the_max_delay_to_one_half_in_a_quarter_of_training():
    assert sigma_schedule(0.0, 30) == 15.0
    assert sigma_schedule(0.25, 30) == pytest.approx(0.5)
    assert sigma_schedule(0.9, 30) == 0.5
    mid = sigma_schedule(0.125, 30)
    assert mid == pytest.approx((15.0 * 0.5) ** 0.5)  # geometric: halfway in log-width


# --- against dcls.Dcls1d (the DCLS-delays reference package; skipped where it is not installed) ---------


def _dcls_pair(kernel, d=6, t=12, b=3, i=5, o=4, seed=0, integer_delays=False):
    """A Dcls1d and the same synapses for delayed_linear_walk: ``P = (D - d) - K // 2`` (dcls's tap
    ``c`` takes ``x[t - D + c]`` on an input padded with ``D`` zeros on the left), ``SIG = sigma - 0.27``."""
    modules = pytest.importorskip("DCLS.construct.modules")
    k = d + 1
    version = {"gauss": "gauss", "linear": "v1", "round": "v1"}[kernel]
    m = modules.Dcls1d(i, o, kernel_count=1, dilated_kernel_size=k, bias=False, version=version).double()
    _, x, w, delay = _case(d=d, t=t, n=b, i=i, o=o, seed=seed, integer_delays=integer_delays)
    sigma = 1.7
    with torch.no_grad():
        m.weight.copy_(w.unsqueeze(-1))
        m.P.copy_(((d - delay) - k // 2).reshape(1, o, i, 1))
        if m.SIG is not None:
            m.SIG.fill_(sigma - 0.27)
    return m, x, w, delay, sigma


def _dcls_forward(m, x, d):
    """Dcls1d on ``x [T, B, I]`` as DCLS-delays runs it: ``[B, I, T]``, ``D`` zeros on the left."""
    return m(torch.nn.functional.pad(x.permute(1, 2, 0), (d, 0))).permute(2, 0, 1)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_forward_and_gradients_agree_with_dcls_Dcls1d(kernel, backend):
    d = 6
    m, x, w, delay, sigma = _dcls_pair(kernel, d=d, integer_delays=kernel == "round")
    grad_y = torch.randn(12, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    x_ref = x.clone().requires_grad_(True)
    y_ref = _dcls_forward(m, x_ref, d)
    y_ref.backward(grad_y)
    ours = [t.clone().requires_grad_(True) for t in (x, w, delay)]
    held = torch.zeros(d, 3, 5, dtype=torch.float64)
    y = delayed_linear_walk(held, *ours, sigma, kernel, backend)
    y.backward(grad_y)
    # dcls divides its 'v1' triangle by (sum + 1e-7): the linear and round kernels differ by that much.
    tol = 1e-12 if kernel == "gauss" else 1e-6
    torch.testing.assert_close(y, y_ref, rtol=tol, atol=tol)
    torch.testing.assert_close(ours[0].grad, x_ref.grad, rtol=tol, atol=tol)
    torch.testing.assert_close(ours[1].grad, m.weight.grad.squeeze(-1), rtol=tol, atol=tol)
    if kernel != "round":  # dcls's v1 has a (one-sided) position gradient at whole steps; round has none
        torch.testing.assert_close(ours[2].grad, -m.P.grad.reshape(4, 5), rtol=tol, atol=tol)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_the_gaussian_kernel_agrees_with_dcls_in_float32_at_the_dcls_delays_scale(backend):
    d = 25
    m, x, w, delay, sigma = _dcls_pair("gauss", d=d, t=30, b=4, i=20, o=10, seed=6)
    m, x, w, delay = m.float(), x.float(), w.float(), delay.float()
    y = delayed_linear_walk(torch.zeros(d, 4, 20), x, w, delay, sigma, "gauss", backend)
    torch.testing.assert_close(y, _dcls_forward(m, x, d), rtol=1e-5, atol=1e-5)


# --- the registered operator -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_the_registered_operator_passes_opcheck(kernel, backend):
    held, x, w, delay = (t.float().requires_grad_(True) for t in _case(d=3, t=4, n=2, i=3, o=2))
    result = torch.library.opcheck(
        torch.ops.spikestep.delayed_linear, (held, x, w, delay, 0.8, kernel, backend)
    )
    assert set(result.values()) == {"SUCCESS"}, result


# --- refused arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-0.5, 5.01, float("nan"), float("inf")])
def test_delays_outside_zero_to_max_delay_are_a_value_error_that_names_clamp_delays(bad):
    held, x, w, delay = _case(d=5)
    delay[1, 2] = bad
    with pytest.raises(ValueError, match=r"\[0, max_delay\] = \[0, 5\].*clamp_delays"):
        delayed_linear_walk(held, x, w, delay)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda c: (c[0], c[1][0], c[2], c[3]), ValueError, r"x must be \[T, N, I\]"),
        (lambda c: (c[0][:, :2], c[1], c[2], c[3]), ValueError, "do not fit"),
        (lambda c: (c[0], c[1], c[2][:, :3], c[3]), ValueError, "weight and delay must both be"),
        (lambda c: (c[0], c[1], c[2], c[3].float()), TypeError, "one floating dtype"),
        (lambda c: (c[0], c[1].long(), c[2], c[3]), TypeError, "x must be floating"),
        (lambda c: (c[0], c[1].tolist(), c[2], c[3]), TypeError, "x must be a torch.Tensor"),
    ],
)
def test_tensors_of_the_wrong_shape_dtype_or_type_are_refused(change, error, match):
    with pytest.raises(error, match=match):
        delayed_linear_walk(*change(_case()))


@pytest.mark.parametrize(("kwargs", "error"), [({"kernel": "box"}, ValueError), ({"sigma": 0.0}, ValueError),
                                                ({"sigma": -1.0}, ValueError), ({"sigma": "1"}, TypeError),
                                                ({"backend": "cuda"}, ValueError)])  # fmt: skip
def test_a_bad_kernel_sigma_or_backend_is_refused(kwargs, error):
    with pytest.raises(error):
        delayed_linear_walk(*_case(), **kwargs)


@needs_numba
def test_forcing_numba_on_float16_is_the_documented_runtime_error():
    with pytest.raises(RuntimeError, match="was forced"):
        delayed_linear_walk(*(t.half() for t in _case()), kernel="linear", backend="numba")


def test_torch_compile_traces_the_operator_without_a_graph_break():
    held, x, w, delay = (t.float().requires_grad_(True) for t in _case(d=3, t=5, n=2, i=4, o=3))
    grad_y = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(9))
    compiled = torch.compile(lambda *a: delayed_linear_walk(*a, 1.0, "linear"), fullgraph=True)
    y, grads = _grads(compiled, (held, x, w, delay), grad_y)
    y_eager, grads_eager = _grads(
        lambda *a: delayed_linear_walk(*a, 1.0, "linear"), (held, x, w, delay), grad_y
    )
    torch.testing.assert_close(y, y_eager)
    for got, want in zip(grads, grads_eager):
        torch.testing.assert_close(got, want)
