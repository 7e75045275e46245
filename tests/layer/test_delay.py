import pytest
import torch
from copy_checks import assert_copies_continue_like_the_original
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import sequences_and_splits
from torch.utils._python_dispatch import TorchDispatchMode

from spikestep import functional, layer


def reference_delay(x_seq, d):
    """``y[t] = x[t - d]`` with zeros before the start, one step at a time."""
    return torch.stack(
        [x_seq[t - d] if t - d >= 0 else torch.zeros_like(x_seq[0]) for t in range(len(x_seq))]
    )


def test_the_specifications_worked_example_comes_out_exactly():
    delay_layer = layer.Delay(delay_steps=1, step_mode="m")
    x = torch.tensor([[0.2510, 0.7246], [0.5303, 0.3160], [0.2531, 0.5961], [0.0, 0.0], [0.0, 0.0]])
    x.requires_grad = True
    y = delay_layer(x)
    expected_y = torch.tensor([[0.0, 0.0], [0.2510, 0.7246], [0.5303, 0.3160], [0.2531, 0.5961], [0.0, 0.0]])
    assert torch.equal(y, expected_y)
    y.sum().backward()
    assert torch.equal(x.grad, torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]))


@pytest.mark.parametrize("d", [0, 1, 4, 12])
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_delay_matches_the_reference(d, step_mode):
    x = torch.rand(10, 2, 3)
    delay = layer.Delay(d, step_mode=step_mode)
    y = delay(x) if step_mode == "m" else torch.stack([delay(xt) for xt in x])
    assert torch.equal(y, reference_delay(x, d))


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_zero_delay_is_the_identity(step_mode):
    x = torch.rand(4, 3)
    delay = layer.Delay(0, step_mode=step_mode)
    assert torch.equal(delay(x), x)


def test_delay_steps_can_be_set_while_the_layer_holds_no_inputs():
    delay = layer.Delay(3, step_mode="m")
    delay.delay_steps = 1
    assert torch.equal(delay(torch.tensor([1.0, 2.0, 3.0])), torch.tensor([0.0, 1.0, 2.0]))
    delay.reset()
    delay.delay_steps = 2
    assert torch.equal(delay(torch.tensor([1.0, 2.0, 3.0])), torch.tensor([0.0, 0.0, 1.0]))


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_changing_delay_steps_while_inputs_are_held_asks_for_reset(step_mode):
    delay = layer.Delay(2, step_mode=step_mode)
    delay(torch.ones(1, 3) if step_mode == "m" else torch.ones(3))
    delay.delay_steps = 2  # the same value: nothing changes
    with pytest.raises(ValueError, match=r"cannot change to 3 now; call reset\(\)"):
        delay.delay_steps = 3
    assert delay.delay_steps == 2


@pytest.mark.parametrize(
    ("bad", "error"), [(1.5, TypeError), ("3", TypeError), (True, TypeError), (-1, ValueError)]
)
def test_delay_steps_assignment_is_checked_like_the_constructor(bad, error):
    delay = layer.Delay(3)
    with pytest.raises(error, match="delay_steps must be"):
        delay.delay_steps = bad
    assert delay.delay_steps == 3


@pytest.mark.parametrize("bad", [1.5, "3", True, None, [2]])
def test_delay_steps_that_is_not_an_int_is_a_type_error(bad):
    with pytest.raises(TypeError, match="delay_steps must be an int >= 0"):
        layer.Delay(bad)


def test_negative_delay_steps_is_a_value_error():
    with pytest.raises(ValueError, match="delay_steps must be >= 0"):
        layer.Delay(-2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_delay_keeps_the_input_dtype(dtype):
    x = torch.rand(5, 3).to(dtype)
    assert layer.Delay(2, step_mode="m")(x).dtype == dtype
    assert layer.Delay(2)(x[0]).dtype == dtype


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_input_of_a_new_shape_without_reset_asks_for_reset_net(step_mode):
    delay = layer.Delay(2, step_mode=step_mode)
    delay(torch.ones(3, 2))
    with pytest.raises(ValueError, match=r"functional\.reset_net"):
        delay(torch.ones(3, 5))


class _CountOps(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def _ops_per_steady_step(d):
    delay = layer.Delay(d)
    x = torch.rand(8, 4)
    delay(x)  # the first step allocates the d held (zero) inputs
    with _CountOps() as counter:
        for _ in range(20):
            delay(x)
    return counter.count


def test_single_step_work_does_not_grow_with_the_delay():
    assert _ops_per_steady_step(1000) == _ops_per_steady_step(1)


def test_truncated_bptt_through_a_delay_cuts_the_held_inputs():
    x = torch.rand(6, 2, requires_grad=True)
    delay = layer.Delay(2, step_mode="m")
    delay(x[:3])
    functional.detach_net(delay)
    delay(x[3:]).sum().backward()
    assert torch.equal(x.grad[:3], torch.zeros(3, 2))
    assert torch.equal(x.grad[3], torch.ones(2))

    x.grad = None
    delay.reset()
    delay(x[:3])
    delay(x[3:]).sum().backward()
    assert torch.equal(x.grad[1:4], torch.ones(3, 2))


def test_single_step_and_multi_step_can_be_mixed_without_reset():
    x = torch.rand(9, 2)
    delay = layer.Delay(3)
    out = [delay(x[0]), delay(x[1])]
    delay.step_mode = "m"
    out.extend(delay(x[2:6]))
    delay.step_mode = "s"
    out.extend(delay(xt) for xt in x[6:])
    assert torch.equal(torch.stack(out), reference_delay(x, 3))


@given(data=sequences_and_splits(max_t=20, max_dim=3, spikes=False), d=st.integers(0, 25))
def test_chunks_equal_whole_equal_single_steps(data, d):
    x, sizes = data
    whole = layer.Delay(d, step_mode="m")(x)
    chunked_delay = layer.Delay(d, step_mode="m")
    chunked = torch.cat([chunked_delay(c) for c in x.split(sizes)])
    single = layer.Delay(d)
    steps = torch.stack([single(xt) for xt in x])
    expected = reference_delay(x, d)
    assert torch.equal(whole, expected)
    assert torch.equal(chunked, expected)
    assert torch.equal(steps, expected)


def run_steps(delay, x_seq):
    """``x_seq`` through ``delay`` in its step mode: one call in ``'m'``, one call per step in ``'s'``."""
    return delay(x_seq) if delay.step_mode == "m" else torch.stack([delay(xt) for xt in x_seq])


@given(data=sequences_and_splits(max_t=20, max_dim=3, spikes=False), d=st.integers(0, 6))
def test_reset_gives_back_the_first_calls_output(data, d):
    x, _ = data
    delay = layer.Delay(d, step_mode="m")
    first = delay(x)
    delay(x)
    delay.reset()
    assert torch.equal(delay(x), first)


@given(
    data=sequences_and_splits(max_t=20, max_dim=3, spikes=False),
    d=st.integers(0, 6),
    head_mode=st.sampled_from(["s", "m"]),
    rest_mode=st.sampled_from(["s", "m"]),
)
def test_deepcopy_and_pickle_continue_exactly_as_the_original(data, d, head_mode, rest_mode):
    x, sizes = data
    assume(len(x) > 1)
    cut = min(max(sizes[0], 1), len(x) - 1)
    delay = layer.Delay(d, step_mode=head_mode)
    run_steps(delay, x[:cut].clone().requires_grad_(True))  # held inputs are part of the graph when copied
    delay.step_mode = rest_mode
    rest = x[cut:]
    upstream = torch.randn(rest.shape, generator=torch.Generator().manual_seed(1))
    out = assert_copies_continue_like_the_original(delay, run_steps, rest, upstream)
    assert torch.equal(out, reference_delay(x, d)[cut:])


def test_gradcheck_through_chunks_and_single_steps():
    x = torch.rand(7, 2, dtype=torch.float64, requires_grad=True)

    def run(x):
        delay = layer.Delay(3, step_mode="m")
        y = [delay(x[:2])]
        delay.step_mode = "s"
        y.extend(delay(xt).unsqueeze(0) for xt in x[2:4])
        delay.step_mode = "m"
        y.append(delay(x[4:]))
        return torch.cat(y)

    assert torch.autograd.gradcheck(run, (x,))


# --- streams that never lie: aliasing, storage, spike dtypes ---------------------------------------------

INTEGER_DTYPES = [torch.bool, torch.uint8, torch.int32, torch.int64]
FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def _calls(x_seq, step_mode, chunk=2):
    return list(x_seq.split(chunk)) if step_mode == "m" else list(x_seq)


def _joined(outputs, step_mode):
    return torch.cat(outputs) if step_mode == "m" else torch.stack(outputs)


def _held(delay):
    queue = delay.queue
    return [] if queue is None else (list(queue) if isinstance(queue, list) else [queue])


def _storages(*tensors):
    return {t.untyped_storage().data_ptr() for t in tensors}


def test_a_reused_input_buffer_is_handed_on_as_it_was_when_given():
    delay, buf, out = layer.Delay(2), torch.zeros(2), []
    for t in range(5):
        buf.fill_(t + 1)
        out.append(delay(buf)[0].item())
    assert out == [0.0, 0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_reusing_one_input_buffer_for_every_call_gives_what_fresh_inputs_give(d, step_mode):
    x_seq = torch.rand(8, 2, 3)
    delay = layer.Delay(d, step_mode=step_mode)
    calls = _calls(x_seq, step_mode)
    buf = torch.empty_like(calls[0])
    got = []
    for x in calls:
        buf.copy_(x)
        got.append(delay(buf).clone())
        buf.fill_(float("nan"))
    assert torch.equal(_joined(got, step_mode), reference_delay(x_seq, d))


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_an_in_place_change_of_the_output_never_changes_what_comes_later(d, step_mode):
    x_seq = torch.rand(8, 2, 3)
    delay = layer.Delay(d, step_mode=step_mode)
    got = []
    for x in _calls(x_seq, step_mode):
        y = delay(x)
        got.append(y.clone())
        y.fill_(float("nan"))
    assert torch.equal(_joined(got, step_mode), reference_delay(x_seq, d))


@pytest.mark.parametrize("d", [1, 2, 5])
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_the_held_inputs_share_no_storage_with_an_input_or_an_output(d, step_mode):
    delay = layer.Delay(d, step_mode=step_mode)
    for x in _calls(torch.rand(9, 2, 3), step_mode, chunk=3):
        y = delay(x)
        assert not _storages(*_held(delay)) & _storages(x, y)


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("modes", ["s", "m", "sm", "ms"])
def test_the_held_inputs_are_exactly_the_last_d_steps_of_storage_after_any_call_and_detach_net(d, modes):
    delay = layer.Delay(d, step_mode=modes[0])
    x_seq = torch.rand(60, 4, 3, requires_grad=True)
    step_bytes = 4 * 3 * 4
    calls = [("m", x_seq[:50]), ("m", x_seq[50:52])] if modes[0] == "m" else [("s", x) for x in x_seq[:4]]
    if len(modes) == 2:
        calls += [(modes[1], x_seq[52:55] if modes[1] == "m" else x_seq[52])]
    for mode, x in calls:
        delay.step_mode = mode
        delay(x)
        for _ in range(2):
            held = _held(delay)
            total = sum({t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in held}.values())
            assert total == d * step_bytes
            functional.detach_net(delay)


def test_a_delay_of_one_keeps_one_step_of_a_long_chunk():
    delay = layer.Delay(1, step_mode="m")
    delay(torch.zeros(1000, 16, 16))
    assert delay.queue.untyped_storage().nbytes() == 16 * 16 * 4


def _integer_spikes(dtype, t=9, shape=(2, 3)):
    g = torch.Generator().manual_seed(3)
    low, high = {torch.bool: (0, 2), torch.uint8: (0, 4)}.get(dtype, (-2, 4))
    return torch.randint(low, high, (t, *shape), generator=g).to(dtype)


@pytest.mark.parametrize("dtype", INTEGER_DTYPES, ids=str)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_bool_and_integer_spikes_are_handed_on_as_the_default_float_dtype(dtype, step_mode):
    x = _integer_spikes(dtype)
    expected = reference_delay(x.float(), 2)
    for chunk in (1, 4, len(x)):
        delay = layer.Delay(2, step_mode=step_mode)
        got = _joined([delay(c) for c in _calls(x, step_mode, chunk)], step_mode)
        assert got.dtype == torch.float32
        assert torch.equal(got, expected)


@pytest.mark.parametrize("dtype", INTEGER_DTYPES + FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_a_zero_delay_follows_the_same_dtype_rule(dtype, step_mode):
    x = _integer_spikes(dtype) if dtype in INTEGER_DTYPES else torch.rand(3, 2).to(dtype)
    y = layer.Delay(0, step_mode=step_mode)(x if step_mode == "m" else x[0])
    assert y.dtype == (dtype if dtype in FLOAT_DTYPES else torch.float32)


@pytest.mark.parametrize("step_mode", ["s", "m"])
@pytest.mark.parametrize("bad", [[1.0], 1.0, None], ids=["list", "float", "None"])
def test_a_non_tensor_input_is_a_type_error_naming_the_layer(step_mode, bad):
    with pytest.raises(TypeError, match=r"Delay expects a torch\.Tensor"):
        layer.Delay(2, step_mode=step_mode)(bad)


# --- per-channel delays ---------------------------------------------------------------------------------


def reference_per_channel_delay(x_seq, d):
    """``y[t, ..., c] = x[t - d[c], ..., c]``, one channel (element) at a time."""
    d = d.expand(x_seq.shape[1:])
    y = torch.zeros_like(x_seq)
    for index in torch.cartesian_prod(*[torch.arange(n) for n in x_seq.shape[1:]]).reshape(-1, d.dim()):
        at = tuple(index.tolist())
        lag = int(d[at])
        for t in range(lag, len(x_seq)):
            y[(t, *at)] = x_seq[(t - lag, *at)]
    return y


@st.composite
def per_channel_sequences(draw):
    x, sizes = draw(sequences_and_splits(max_t=16, max_dim=3, spikes=False))
    assume(x.dim() >= 2)
    per_element = draw(st.booleans())
    shape = x.shape[1:] if per_element else x.shape[-1:]
    d = torch.tensor(draw(st.lists(st.integers(0, 7), min_size=shape.numel(), max_size=shape.numel())))
    return x, sizes, d.reshape(shape)


@given(data=per_channel_sequences())
def test_per_channel_delays_in_chunks_equal_whole_equal_single_steps(data):
    x, sizes, d = data
    expected = reference_per_channel_delay(x, d)
    whole = layer.Delay(d, step_mode="m")(x)
    chunked_delay = layer.Delay(d, step_mode="m")
    chunked = torch.cat([chunked_delay(c) for c in x.split(sizes)])
    single = layer.Delay(d)
    steps = torch.stack([single(xt) for xt in x])
    assert torch.equal(whole, expected)
    assert torch.equal(chunked, expected)
    assert torch.equal(steps, expected)


def test_per_channel_delays_mix_single_and_multi_step_calls():
    x, d = torch.rand(12, 2, 3), torch.tensor([2, 0, 5])
    delay = layer.Delay(d)
    out = [delay(x[0]), delay(x[1])]
    delay.step_mode = "m"
    out.extend(delay(x[2:7]))
    delay.step_mode = "s"
    out.extend(delay(xt) for xt in x[7:])
    assert torch.equal(torch.stack(out), reference_per_channel_delay(x, d))


def test_per_channel_single_step_work_does_not_grow_with_the_longest_delay():
    def ops(longest):
        delay = layer.Delay(torch.tensor([1, 0, longest, 2]))
        x = torch.rand(8, 4)
        delay(x)
        with _CountOps() as counter:
            for _ in range(20):
                delay(x)
        return counter.count

    assert ops(1000) == ops(3)


def test_per_channel_delays_hold_the_longest_delays_steps_and_nothing_more():
    delay = layer.Delay(torch.tensor([0, 4, 1]), step_mode="m")
    x = torch.rand(50, 2, 3)
    y = delay(x)
    assert delay.queue.shape == (4, 2, 3)
    assert delay.queue.untyped_storage().nbytes() == 4 * 2 * 3 * 4
    assert not _storages(delay.queue) & _storages(x, y)


def test_gradcheck_per_channel_delays_through_chunks_and_single_steps():
    x = torch.rand(9, 2, 3, dtype=torch.float64, requires_grad=True)

    def run(x):
        delay = layer.Delay(torch.tensor([3, 0, 1]), step_mode="m")
        y = [delay(x[:2])]
        delay.step_mode = "s"
        y.extend(delay(xt).unsqueeze(0) for xt in x[2:5])
        delay.step_mode = "m"
        y.append(delay(x[5:]))
        return torch.cat(y)

    assert torch.autograd.gradcheck(run, (x,))


def test_per_channel_delays_are_a_buffer_saved_in_the_state_dict():
    delay = layer.Delay(torch.tensor([1, 2]))
    assert torch.equal(delay.state_dict()["per_channel_delays"], torch.tensor([1, 2]))
    assert delay.max_delay == 2
    assert "per-channel [2], max 2" in repr(delay)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (torch.tensor([1.0, 2.0]), TypeError, r"round real-valued delays first"),
        (torch.tensor([True, False]), TypeError, r"integer tensor"),
        (torch.tensor([1, -1]), ValueError, r">= 0 \(a layer cannot see the future\)"),
        (torch.zeros(0, dtype=torch.long), ValueError, r"empty tensor"),
    ],
)
def test_bad_per_channel_delays_are_refused_with_the_fix(bad, error, message):
    with pytest.raises(error, match=message):
        layer.Delay(bad)


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_per_channel_delays_that_do_not_fit_the_input_are_a_value_error(step_mode):
    delay = layer.Delay(torch.tensor([1, 2, 3]), step_mode=step_mode)
    with pytest.raises(ValueError, match=r"does not fit one step of the input"):
        delay(torch.rand(4, 2) if step_mode == "s" else torch.rand(5, 4, 2))


def test_changing_per_channel_delays_while_inputs_are_held_asks_for_reset():
    delay = layer.Delay(torch.tensor([1, 2]))
    delay(torch.ones(2))
    delay.delay_steps = torch.tensor([1, 2])  # the same delays: nothing changes
    with pytest.raises(ValueError, match=r"cannot change to \[2, 2\] now; call reset\(\)"):
        delay.delay_steps = torch.tensor([2, 2])
    delay.reset()
    delay.delay_steps = 3
    assert delay.delay_steps == 3 and delay.per_channel_delays is None


def test_loading_per_channel_delays_moves_the_longest_delay_with_them():
    source, target = layer.Delay(torch.tensor([0, 1, 5])), layer.Delay(torch.tensor([0, 1, 3]))
    target.load_state_dict(source.state_dict())
    assert target.max_delay == 5 and torch.equal(target.delay_steps, torch.tensor([0, 1, 5]))
    x = torch.rand(9, 3)
    assert torch.equal(
        torch.stack([target(xt) for xt in x]), reference_per_channel_delay(x, target.delay_steps)
    )


def test_loading_other_delays_while_inputs_are_held_is_refused():
    source, target = layer.Delay(torch.tensor([2, 2])), layer.Delay(torch.tensor([1, 2]))
    target(torch.ones(2))
    with pytest.raises(RuntimeError, match=r"call reset\(\)"):
        target.load_state_dict(source.state_dict())
    assert torch.equal(target.delay_steps, torch.tensor([1, 2]))


def test_a_single_step_writes_the_ring_in_place_without_autograd():
    delay = layer.Delay(torch.tensor([3, 1]))
    delay(torch.rand(2))
    ring = delay.queue.data_ptr()
    for _ in range(5):
        delay(torch.rand(2))
    assert delay.queue.data_ptr() == ring
