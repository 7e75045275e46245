"""layer.DelayedLinear: the stream (chunks == whole == single steps, forward and gradients), its held
inputs (reset, detach, no aliasing, D steps of storage), the DCLS training helpers, and bad arguments."""

import itertools

import pytest
import torch
from backends import CPU_BACKENDS
from copy_checks import assert_copies_continue_like_the_original
from hypothesis import given
from hypothesis import strategies as st
from strategies import chunk_sizes

from spikestep import functional, layer, ops
from spikestep._runtime import numba_jit
from spikestep.ops.delayed_linear import reference_walk

KERNELS = ["gauss", "linear", "round"]


def make(
    kernel="gauss", d=4, i=3, o=2, step_mode="m", dtype=torch.float64, seed=0, bias=True, backend="auto"
):
    torch.manual_seed(seed)
    return layer.DelayedLinear(
        i, o, d, bias=bias, sigma=1.3, kernel=kernel, backend=backend, step_mode=step_mode, dtype=dtype
    )


def reference(m, x_seq):
    """The plain reference over ``[T, ..., I]`` from zeros, with the layer's parameters."""
    t, step = x_seq.shape[0], x_seq.shape[1:]
    x3 = x_seq.reshape(t, -1, step[-1])
    held = x3.new_zeros((m.max_delay, *x3.shape[1:]))
    y = reference_walk(held, x3, m.weight, m.delay, m.sigma, m.kernel)
    if m.bias is not None:
        y = y + m.bias
    return y.reshape(t, *step[:-1], m.out_features)


def run_steps(m, x_seq):
    """``x_seq`` through ``m`` in its step mode: one call in ``'m'``, one call per step in ``'s'``."""
    return m(x_seq) if m.step_mode == "m" else torch.stack([m(xt) for xt in x_seq])


def run_chunks(m, x_seq, sizes):
    m.step_mode = "m"
    return torch.cat([m(c) for c in x_seq.split(sizes)])


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_a_sequence_with_extra_batch_dims_equals_the_reference(kernel, backend):
    m = make(kernel, backend=backend)
    x = torch.rand(9, 2, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(m(x), reference(m, x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel", KERNELS)
def test_single_steps_take_a_batch_and_give_a_batch(kernel):
    m = make(kernel, step_mode="s")
    assert m(torch.rand(5, 3, dtype=torch.float64)).shape == (5, 2)
    m.reset()
    assert m(torch.rand(3, dtype=torch.float64)).shape == (2,)


@given(
    data=st.data(),
    kernel=st.sampled_from(KERNELS),
    d=st.integers(0, 6),
    t=st.integers(1, 12),
    backend=st.sampled_from(["torch", "numba"] if numba_jit.available() else ["torch"]),
)
def test_chunks_equal_whole_equal_single_steps(data, kernel, d, t, backend):
    m = make(kernel, d=d, backend=backend, seed=data.draw(st.integers(0, 100)))
    g = torch.Generator().manual_seed(data.draw(st.integers(0, 2**16)))
    x = (torch.rand(t, 2, 3, generator=g, dtype=torch.float64) < 0.5).double()
    sizes = data.draw(chunk_sizes(t))
    whole = m(x)
    m.reset()
    chunked = run_chunks(m, x, sizes)
    m.reset()
    m.step_mode = "s"
    steps = run_steps(m, x)
    torch.testing.assert_close(whole, reference(m, x), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(steps, whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_gradients_through_chunks_and_single_steps_equal_the_whole_sequences(kernel, backend):
    x = torch.rand(10, 2, 3, dtype=torch.float64)
    grad_y = torch.randn(10, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def grads(feed):
        m = make(kernel, backend=backend)
        xg = x.clone().requires_grad_(True)
        (feed(m, xg) * grad_y).sum().backward()
        return [xg.grad, m.weight.grad, m.delay.grad, m.bias.grad]

    whole = grads(lambda m, xg: m(xg))
    chunked = grads(lambda m, xg: run_chunks(m, xg, [3, 1, 0, 6]))
    steps = grads(lambda m, xg: (setattr(m, "step_mode", "s"), run_steps(m, xg))[1])
    for got in (chunked, steps):
        for name, a, b in zip(("x", "weight", "delay", "bias"), got, whole):
            torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11, msg=name)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("kernel", KERNELS)
def test_gradcheck_through_chunks_and_single_steps_for_inputs_weights_and_delays(kernel, backend):
    m = make(kernel, d=3, backend=backend)
    with torch.no_grad():  # away from whole and half steps, where 'linear' and 'round' are not smooth
        m.delay.copy_(torch.tensor([[0.2, 1.3, 2.6], [2.8, 0.7, 1.15]], dtype=torch.float64))
    x = torch.rand(6, 2, 3, dtype=torch.float64, requires_grad=True)

    def run(x, weight, delay):
        def call(inp):  # the layer with these tensors as its weight and delay
            return torch.func.functional_call(m, {"weight": weight, "delay": delay}, (inp,))

        m.reset()
        m.step_mode = "m"
        y = [call(x[:2])]
        m.step_mode = "s"
        y.extend(call(xt).unsqueeze(0) for xt in x[2:4])
        m.step_mode = "m"
        y.append(call(x[4:]))
        return torch.cat(y)

    weight = m.weight.detach().clone().requires_grad_(True)
    delay = m.delay.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(run, (x, weight, delay))


def test_detach_net_cuts_the_held_inputs_from_the_graph():
    x = torch.rand(6, 1, 3, dtype=torch.float64, requires_grad=True)
    m = make("round")
    with torch.no_grad():
        m.delay.fill_(2.0)
    m(x[:3])
    functional.detach_net(m)
    m(x[3:]).sum().backward()
    assert torch.equal(x.grad[:3], torch.zeros(3, 1, 3)) and x.grad[3].abs().sum() > 0
    x.grad = None
    m.reset()
    m(x[:3])
    m(x[3:]).sum().backward()
    assert x.grad[1:3].abs().sum() > 0  # without the cut, the held inputs pass the gradient back


def test_reset_net_clears_the_held_inputs():
    m = make("linear")
    x = torch.rand(5, 2, 3, dtype=torch.float64)
    first = m(x)
    m(x)
    functional.reset_net(m)
    assert m.held is None
    torch.testing.assert_close(m(x), first, rtol=0, atol=0)


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_an_input_of_a_new_shape_without_reset_asks_for_reset_net(step_mode):
    m = make("round", step_mode=step_mode)
    m(torch.rand(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"functional\.reset_net"):
        m(torch.rand(3, 5, 3, dtype=torch.float64))


# --- streams that never lie: aliasing, storage, copies, spike dtypes ---------------------------------


def _calls(x_seq, step_mode, chunk=2):
    return list(x_seq.split(chunk)) if step_mode == "m" else list(x_seq)


def _storage(t):
    return t.untyped_storage().data_ptr()


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_the_held_inputs_share_no_storage_with_an_input_or_an_output(kernel, step_mode):
    m = make(kernel, d=3, step_mode=step_mode)
    for x in _calls(torch.rand(9, 2, 3, dtype=torch.float64), step_mode, chunk=4):
        y = m(x)
        assert _storage(m.held) not in {_storage(x), _storage(y)}


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("modes", ["s", "m", "sm", "ms"])
def test_the_held_inputs_are_exactly_the_last_d_steps_of_storage_after_any_call_and_detach_net(d, modes):
    m = make("linear", d=d, step_mode=modes[0], dtype=torch.float32)
    x_seq = torch.rand(60, 4, 3, requires_grad=True)
    calls = [("m", x_seq[:50]), ("m", x_seq[50:52])] if modes[0] == "m" else [("s", x) for x in x_seq[:4]]
    if len(modes) == 2:
        calls += [(modes[1], x_seq[52:55] if modes[1] == "m" else x_seq[52])]
    for mode, x in calls:
        m.step_mode = mode
        m(x)
        for _ in range(2):
            assert m.held.untyped_storage().nbytes() == d * 4 * 3 * 4
            functional.detach_net(m)


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_reusing_one_input_buffer_and_scribbling_on_outputs_changes_nothing_later(step_mode):
    x_seq = torch.rand(8, 2, 3, dtype=torch.float64)
    m = make("linear", step_mode=step_mode)
    expected = reference(m, x_seq)
    calls = _calls(x_seq, step_mode)
    buf, got = torch.empty_like(calls[0]), []
    for x in calls:
        buf.copy_(x)
        y = m(buf)
        got.append(y.detach().clone())
        buf.fill_(float("nan"))
        y.detach().fill_(float("nan"))
    got = torch.cat(got) if step_mode == "m" else torch.stack(got)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(("head_mode", "rest_mode"), [("m", "s"), ("s", "m"), ("m", "m")])
def test_deepcopy_and_pickle_continue_exactly_as_the_original(kernel, head_mode, rest_mode):
    x = torch.rand(9, 2, 3, dtype=torch.float64)
    m = make(kernel, step_mode=head_mode)
    run_steps(m, x[:4].clone().requires_grad_(True))  # held inputs are part of the graph when copied
    m.step_mode = rest_mode
    upstream = torch.randn(5, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    out = assert_copies_continue_like_the_original(m, run_steps, x[4:], upstream)
    torch.testing.assert_close(out, reference(m, x)[4:], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.int64], ids=str)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_bool_and_integer_spikes_are_computed_in_the_parameters_dtype(dtype, step_mode):
    x = torch.randint(0, 2, (6, 2, 3), generator=torch.Generator().manual_seed(0)).to(dtype)
    m = make("linear", step_mode=step_mode, dtype=torch.float64)
    got = run_steps(m, x)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, reference(m, x.double()), rtol=1e-12, atol=1e-12)


def test_a_floating_input_of_another_dtype_than_the_parameters_is_a_type_error():
    with pytest.raises(TypeError, match="computes in its parameters' dtype"):
        make("linear", dtype=torch.float64)(torch.rand(3, 2, 3))


# --- the DCLS training recipe --------------------------------------------------------------------------


def test_anneal_sigma_narrows_from_half_the_max_delay_to_one_half_over_the_first_quarter():
    m = layer.DelayedLinear(4, 4, max_delay=20)
    assert m.sigma == 10.0
    widths = [m.anneal_sigma(epoch / 40) for epoch in range(40)]
    assert widths[0] == 10.0 and widths[10] == pytest.approx(0.5) and widths[-1] == 0.5
    assert all(a > b for a, b in itertools.pairwise(widths[:11]))


def test_round_delays_makes_whole_delays_and_the_one_tap_kernel():
    m = make("gauss", d=4)
    m.round_delays()
    assert m.kernel == "round" and torch.equal(m.delay, m.delay.round())
    assert bool(((m.delay >= 0) & (m.delay <= 4)).all())


def test_an_optimiser_step_past_the_range_is_refused_until_clamp_delays():
    m = make("linear", d=4)
    with torch.no_grad():
        m.delay[0, 0] = 4.5
    x = torch.rand(3, 2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="clamp_delays"):
        m(x)
    m.clamp_delays()
    assert m.delay[0, 0] == 4.0 and m(x).shape == (3, 2, 2)


def test_the_delays_can_have_their_own_learning_rate():
    m = make("gauss", d=4)
    before = m.delay.detach().clone(), m.weight.detach().clone()
    opt = torch.optim.SGD([{"params": [m.weight, m.bias]}, {"params": [m.delay], "lr": 0.0}], lr=0.1)
    m(torch.rand(5, 2, 3, dtype=torch.float64)).sum().backward()
    opt.step()
    assert torch.equal(m.delay, before[0]) and not torch.equal(m.weight, before[1])


def test_training_moves_a_delay_to_the_lag_that_fits_the_target():
    torch.manual_seed(0)
    m = layer.DelayedLinear(1, 1, max_delay=10, bias=False, step_mode="m", dtype=torch.float64)
    with torch.no_grad():
        m.weight.fill_(1.0)
        m.delay.fill_(2.0)
    x = (torch.rand(60, 8, 1, dtype=torch.float64) < 0.3).double()
    target = torch.cat((torch.zeros(6, 8, 1, dtype=torch.float64), x[:-6]))  # x six steps late
    opt = torch.optim.Adam([{"params": [m.weight]}, {"params": [m.delay], "lr": 0.3}], lr=0.01)
    for epoch in range(60):
        m.anneal_sigma(epoch / 60)
        functional.reset_net(m)
        opt.zero_grad()
        ((m(x) - target) ** 2).mean().backward()
        opt.step()
        m.clamp_delays()
    m.round_delays()
    assert m.delay.item() == 6.0


# --- bad arguments ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_delay": -1}, ValueError, "max_delay must be an int >= 0"),
        ({"max_delay": 2.5}, TypeError, "max_delay must be an int"),
        ({"in_features": 0}, ValueError, "in_features must be an int >= 1"),
        ({"sigma": 0.0}, ValueError, r"sigma must be a finite number >= 0.25.*kernel 'linear'"),
        ({"sigma": 0.1}, ValueError, r"a narrower Gaussian rounds to zero"),
        ({"sigma": float("nan")}, ValueError, "sigma must be a finite number >= 0.25"),
        ({"kernel": "box"}, ValueError, "kernel must be one of"),
        ({"backend": "gpu"}, ValueError, "backend must be one of"),
        ({"step_mode": "x"}, ValueError, "step_mode must be one of"),
        ({"bias": 1}, TypeError, "bias must be True or False"),
    ],
)
def test_bad_constructor_arguments_are_refused_with_a_clear_message(kwargs, error, match):
    args = {"in_features": 3, "out_features": 2, "max_delay": 4, **kwargs}
    with pytest.raises(error, match=match):
        layer.DelayedLinear(**args)


@pytest.mark.parametrize(
    ("step_mode", "shape", "match"),
    [("m", (5, 2, 4), "the layer expects 3"), ("m", (5,), r"\[T, B, \.\.\., in_features\]"),
     ("s", (2, 4), "the layer expects 3"), ("s", (), r"one step \[B, \.\.\., in_features\]")],
)  # fmt: skip
def test_an_input_of_the_wrong_shape_is_a_value_error(step_mode, shape, match):
    m = make("linear", step_mode=step_mode)
    with pytest.raises(ValueError, match=match):
        m(torch.rand(shape, dtype=torch.float64))


@pytest.mark.parametrize("bad", [[1.0, 0.0, 1.0], None])
def test_a_non_tensor_input_is_a_type_error_naming_the_layer(bad):
    with pytest.raises(TypeError, match=r"DelayedLinear expects a torch\.Tensor"):
        make("linear", step_mode="s")(bad)


def test_settings_are_checked_on_assignment_too():
    m = make("gauss")
    with pytest.raises(ValueError, match="sigma must be"):
        m.sigma = -1.0
    with pytest.raises(ValueError, match="kernel must be one of"):
        m.kernel = "triangle"
    with pytest.raises(AttributeError):
        m.max_delay = 3
    assert m.sigma == 1.3 and m.kernel == "gauss" and "max_delay=4" in repr(m)


def test_the_sparse_kernels_run_on_the_backend_the_layer_asks_for():
    m = make("round", backend="torch")
    x = torch.rand(4, 2, 3, dtype=torch.float64)
    with ops.use_backend("numba"):  # the layer's own choice wins over the context's
        torch.testing.assert_close(m(x), reference(m, x), rtol=1e-12, atol=1e-12)
