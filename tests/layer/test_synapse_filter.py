import math

import pytest
import torch
from copy_checks import assert_copies_continue_like_the_original
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import sequences_and_splits
from torch.func import functional_call

from spikestep import functional, layer


def reference_synapse(x_seq, tau, i0=None):
    """The specification's recurrence, elementwise, in plain Python floats over time."""
    flat = x_seq.double().reshape(x_seq.shape[0], -1).tolist()
    current = [0.0] * len(flat[0]) if i0 is None else i0.double().flatten().tolist()
    out = []
    for row in flat:
        current = [i - (1.0 - x) * i / tau + x for i, x in zip(current, row)]
        out.append(current)
    return torch.tensor(out, dtype=torch.float64).reshape(x_seq.shape)


def run_steps(syn, x_seq):
    """``x_seq`` through ``syn`` in its step mode: one call in ``'m'``, one call per step in ``'s'``."""
    return syn(x_seq) if syn.step_mode == "m" else torch.stack([syn(xt) for xt in x_seq])


def spikes(*shape, p=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g) < p).float()


@pytest.mark.parametrize("step_mode", ["s", "m"])
@pytest.mark.parametrize("learnable", [False, True])
def test_synapse_filter_matches_the_reference_on_spikes(step_mode, learnable):
    x = spikes(20, 3, 4)
    syn = layer.SynapseFilter(tau=5.0, learnable=learnable, step_mode=step_mode)
    y = syn(x) if step_mode == "m" else torch.stack([syn(xt) for xt in x])
    torch.testing.assert_close(y.double(), reference_synapse(x, 5.0), rtol=1e-6, atol=1e-6)


def test_synapse_filter_matches_the_reference_on_real_valued_input():
    x = torch.rand(15, 6, dtype=torch.float64) * 2 - 0.5
    syn = layer.SynapseFilter(tau=3.0, step_mode="m")
    torch.testing.assert_close(syn(x), reference_synapse(x, 3.0))


def test_state_starts_at_zero_with_the_input_shape_dtype_and_device():
    syn = layer.SynapseFilter(tau=2.0)
    assert syn.out_i == 0.0
    y = syn(torch.ones(2, 3, dtype=torch.float64))
    assert syn.out_i.shape == (2, 3) and syn.out_i.dtype == torch.float64
    assert torch.equal(y, torch.ones(2, 3, dtype=torch.float64))


def test_without_input_the_current_decays_by_one_over_tau_per_step():
    syn = layer.SynapseFilter(tau=4.0, step_mode="m")
    y = syn(torch.tensor([[1.0], [0.0], [0.0]])).flatten()
    torch.testing.assert_close(y, torch.tensor([1.0, 0.75, 0.5625]))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_synapse_filter_keeps_the_input_dtype(dtype, step_mode):
    x = spikes(12, 5).to(dtype)
    syn = layer.SynapseFilter(tau=3.0, learnable=True, step_mode=step_mode)
    y = syn(x) if step_mode == "m" else torch.stack([syn(xt) for xt in x])
    assert y.dtype == dtype
    tol = {torch.float16: 1e-2, torch.bfloat16: 5e-2}.get(dtype, 1e-5)
    torch.testing.assert_close(y.double(), reference_synapse(x, 3.0), rtol=tol, atol=tol)


def test_learnable_filter_holds_one_parameter_w_equal_to_minus_log_tau_minus_one():
    syn = layer.SynapseFilter(tau=10.0, learnable=True)
    params = dict(syn.named_parameters())
    assert list(params) == ["w"]
    assert params["w"].item() == pytest.approx(-math.log(9.0))
    assert torch.sigmoid(params["w"]).item() == pytest.approx(0.1)


def test_repr_shows_a_clean_current_tau_learnable_and_step_mode():
    assert repr(layer.SynapseFilter(tau=100.0, learnable=True, step_mode="m")) == (
        "SynapseFilter(tau=100.0, learnable=True, step_mode=m)"
    )
    assert "tau=2.5, learnable=False, step_mode=s" in repr(layer.SynapseFilter(tau=2.5))


def test_repr_follows_the_learned_tau():
    syn = layer.SynapseFilter(tau=2.0, learnable=True)
    with torch.no_grad():
        syn.w.fill_(-math.log(4.0))
    assert "tau=5.0" in repr(syn)


@pytest.mark.parametrize("tau", [1.0, 0.5, -3.0])
def test_tau_not_above_one_is_a_value_error(tau):
    with pytest.raises(ValueError, match="SynapseFilter: tau must be > 1"):
        layer.SynapseFilter(tau=tau)


@pytest.mark.parametrize("tau", [float("inf"), float("nan")])
def test_tau_that_is_not_finite_is_a_value_error(tau):
    with pytest.raises(ValueError, match="tau must be finite"):
        layer.SynapseFilter(tau=tau)


@pytest.mark.parametrize("tau", ["10", None, True, torch.tensor([2, 3])])
def test_tau_that_is_not_a_number_is_a_type_error(tau):
    with pytest.raises(TypeError, match="tau must be a real number"):
        layer.SynapseFilter(tau=tau)


def test_learnable_must_be_a_bool():
    with pytest.raises(TypeError, match="learnable must be True or False"):
        layer.SynapseFilter(learnable="yes")


def test_bad_step_mode_is_a_value_error():
    with pytest.raises(ValueError, match="step_mode"):
        layer.SynapseFilter(step_mode="multi")


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_input_of_a_new_shape_without_reset_asks_for_reset_net(step_mode):
    syn = layer.SynapseFilter(step_mode=step_mode)
    syn(torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"functional\.reset_net"):
        syn(torch.ones(2, 4))
    syn.reset()
    assert syn(torch.ones(2, 4)).shape == (2, 4)


# --- gradients -------------------------------------------------------------------------------------


def _run_in_chunks(syn, x, sizes):
    return torch.cat([syn(chunk) for chunk in x.split(sizes)])


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_gradcheck_fixed_tau_through_input_and_carried_state(step_mode):
    x = torch.rand(7, 2, 3, dtype=torch.float64, requires_grad=True)
    i0 = torch.rand(2, 3, dtype=torch.float64, requires_grad=True)

    def run(x, i0):
        syn = layer.SynapseFilter(tau=3.0, step_mode="m")
        syn.out_i = i0
        if step_mode == "m":
            return _run_in_chunks(syn, x, [3, 4])
        syn.step_mode = "s"
        return torch.stack([syn(xt) for xt in x])

    assert torch.autograd.gradcheck(run, (x, i0))


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_gradcheck_learnable_tau_through_input_w_and_carried_state(step_mode):
    syn = layer.SynapseFilter(tau=4.0, learnable=True, step_mode=step_mode).double()
    x = torch.rand(6, 2, 2, dtype=torch.float64, requires_grad=True)
    i0 = torch.rand(2, 2, dtype=torch.float64, requires_grad=True)
    w = syn.w.detach().clone().requires_grad_(True)

    def run(x, i0, w):
        syn.reset()
        syn.out_i = i0
        if step_mode == "m":
            return torch.cat([functional_call(syn, {"w": w}, (c,)) for c in x.split([1, 2, 3])])
        return torch.stack([functional_call(syn, {"w": w}, (xt,)) for xt in x])

    assert torch.autograd.gradcheck(run, (x, i0, w))


def test_gradient_flows_across_chunks_until_detach():
    x = torch.rand(6, 3, requires_grad=True)
    syn = layer.SynapseFilter(tau=2.0, step_mode="m")
    syn(x[:3])
    syn(x[3:]).sum().backward()
    assert (x.grad[:3] != 0).all()

    x.grad = None
    syn.reset()
    syn(x[:3])
    functional.detach_net(syn)
    syn(x[3:]).sum().backward()
    assert (x.grad[:3] == 0).all()


# --- properties --------------------------------------------------------------------------------------


@given(data=sequences_and_splits(dtype=torch.float64), tau=st.floats(1.01, 500.0), learnable=st.booleans())
def test_chunks_equal_whole_equal_single_steps(data, tau, learnable):
    x, sizes = data
    whole_filter = layer.SynapseFilter(tau, learnable, step_mode="m").double()
    whole = whole_filter(x)
    chunked = _run_in_chunks(layer.SynapseFilter(tau, learnable, step_mode="m").double(), x, sizes)
    single = layer.SynapseFilter(tau, learnable, step_mode="s").double()
    steps = torch.stack([single(xt) for xt in x])
    torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(steps, whole, rtol=1e-12, atol=1e-12)
    # a learnable tau is stored as w = -log(tau - 1) in float32: compare against the tau it really holds
    torch.testing.assert_close(whole, reference_synapse(x, whole_filter.tau), rtol=1e-9, atol=1e-9)


@given(data=sequences_and_splits(dtype=torch.float64), tau=st.floats(1.01, 50.0))
def test_reset_gives_back_the_first_calls_output(data, tau):
    x, _ = data
    syn = layer.SynapseFilter(tau, step_mode="m").double()
    first = syn(x)
    syn(x)
    functional.reset_net(syn)
    torch.testing.assert_close(syn(x), first, rtol=0, atol=0)


@given(
    data=sequences_and_splits(dtype=torch.float64),
    learnable=st.booleans(),
    step_mode=st.sampled_from(["s", "m"]),
)
def test_deepcopy_and_pickle_continue_exactly_as_the_original(data, learnable, step_mode):
    x, sizes = data
    assume(len(x) > 1)
    cut = min(max(sizes[0], 1), len(x) - 1)
    syn = layer.SynapseFilter(7.0, learnable, step_mode=step_mode).double()
    if learnable:
        with torch.no_grad():
            syn.w.add_(0.25)  # a trained tau, not the initial one: the copies must carry it
    head = x[:cut].clone().requires_grad_(True)  # the carried current is part of the graph when copied
    run_steps(syn, head)
    assert syn.out_i.requires_grad
    rest = x[cut:]
    upstream = torch.randn(rest.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = assert_copies_continue_like_the_original(syn, run_steps, rest, upstream if learnable else None)
    torch.testing.assert_close(out, reference_synapse(x, syn.tau)[cut:], rtol=1e-9, atol=1e-9)


# --- streams that never lie: aliasing, storage, spike dtypes, settings --------------------------------

FILTERS = {
    "fixed": lambda **kw: layer.SynapseFilter(tau=2.0, **kw),
    "per_channel": lambda **kw: layer.SynapseFilter(tau=torch.tensor([2.0, 4.0, 8.0]), **kw),
    "learnable": lambda **kw: layer.SynapseFilter(tau=2.0, learnable=True, **kw),
}
INTEGER_DTYPES = [torch.bool, torch.uint8, torch.int32, torch.int64]
FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def _calls(x_seq, step_mode, chunk=2):
    """The inputs of the calls that feed ``x_seq``: chunks in ``'m'``, steps in ``'s'``."""
    return list(x_seq.split(chunk)) if step_mode == "m" else list(x_seq)


def _storages(*tensors):
    return {t.untyped_storage().data_ptr() for t in tensors}


@pytest.mark.parametrize("kind", FILTERS)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_an_in_place_change_of_the_output_never_changes_the_next_step(kind, step_mode):
    x_seq = spikes(8, 2, 3)
    expected = run_steps(FILTERS[kind](step_mode="m"), x_seq).detach()
    syn = FILTERS[kind](step_mode=step_mode)
    got = []
    for x in _calls(x_seq, step_mode):
        y = syn(x).detach()  # detach shares the storage: an in-place op on it reaches the same memory
        got.append(y.clone())
        y.mul_(0)
    assert torch.equal(torch.cat(got) if step_mode == "m" else torch.stack(got), expected)


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_an_in_place_dropout_after_the_filter_does_not_reach_its_current(step_mode):
    torch.manual_seed(0)
    x_seq = spikes(8, 2, 3)
    expected = layer.SynapseFilter(tau=2.0, step_mode="m")(x_seq)
    syn = layer.SynapseFilter(tau=2.0, step_mode=step_mode)
    drop = torch.nn.Dropout(0.5, inplace=True)
    got = []
    for x in _calls(x_seq, step_mode):
        y = syn(x)
        got.append(y.clone())
        drop(y)
    assert torch.equal(torch.cat(got) if step_mode == "m" else torch.stack(got), expected)


@pytest.mark.parametrize("kind", FILTERS)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_reusing_one_input_buffer_for_every_call_gives_what_fresh_inputs_give(kind, step_mode):
    x_seq = spikes(8, 2, 3)
    expected = run_steps(FILTERS[kind](step_mode="m"), x_seq).detach()
    syn = FILTERS[kind](step_mode=step_mode)
    calls = _calls(x_seq, step_mode)
    buf = torch.empty_like(calls[0])
    got = []
    for x in calls:
        buf.copy_(x)
        got.append(syn(buf).detach().clone())
        buf.fill_(float("nan"))
    assert torch.equal(torch.cat(got) if step_mode == "m" else torch.stack(got), expected)


@pytest.mark.parametrize("kind", FILTERS)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_the_current_shares_no_storage_with_the_input_or_the_output(kind, step_mode):
    syn = FILTERS[kind](step_mode=step_mode)
    for x in _calls(spikes(6, 2, 3), step_mode, chunk=3):
        y = syn(x)
        assert not _storages(syn.out_i) & _storages(x, y)


@pytest.mark.parametrize("kind", FILTERS)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_the_current_holds_one_step_of_storage_after_any_call_and_after_detach_net(kind, step_mode):
    syn = FILTERS[kind](step_mode=step_mode)
    x_seq = spikes(50, 4, 3).requires_grad_(True)
    for x in [x_seq[:40], x_seq[40:]] if step_mode == "m" else list(x_seq[:3]):
        syn(x)
        for _ in range(2):
            assert syn.out_i.untyped_storage().nbytes() == 4 * 3 * 4
            functional.detach_net(syn)


def _integer_spikes(dtype, t=9, shape=(2, 3)):
    g = torch.Generator().manual_seed(3)
    low, high = {torch.bool: (0, 2), torch.uint8: (0, 4)}.get(dtype, (-2, 4))
    return torch.randint(low, high, (t, *shape), generator=g).to(dtype)


@pytest.mark.parametrize("kind", FILTERS)
@pytest.mark.parametrize("dtype", INTEGER_DTYPES, ids=str)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_bool_and_integer_spikes_give_exactly_what_the_same_values_as_floats_give(kind, dtype, step_mode):
    x = _integer_spikes(dtype)
    as_float = FILTERS[kind](step_mode="m")
    expected = as_float(x.float()).detach()
    for chunk in (1, 4, len(x)):
        syn = FILTERS[kind](step_mode=step_mode)
        got = torch.cat([syn(c) for c in x.split(chunk)]) if step_mode == "m" else run_steps(syn, x)
        assert got.dtype == torch.float32 and syn.out_i.dtype == torch.float32
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
        torch.testing.assert_close(syn.out_i, as_float.out_i, rtol=0, atol=0)


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_integer_spikes_are_computed_in_the_floating_dtype_of_w(step_mode):
    syn = layer.SynapseFilter(tau=3.0, learnable=True, step_mode=step_mode).double()
    x = _integer_spikes(torch.int64)
    got = run_steps(syn, x)
    assert got.dtype == torch.float64
    expected = layer.SynapseFilter(tau=3.0, learnable=True, step_mode="m").double()(x.double())
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize("kind", FILTERS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_floating_spikes_are_computed_and_returned_in_their_own_dtype(kind, dtype, step_mode):
    x = spikes(4, 2, 3)  # tau in {2, 4, 8} and four steps: every current is exact in every dtype
    expected = FILTERS[kind](step_mode="m").double()(x.double()).detach()
    syn = FILTERS[kind](step_mode=step_mode).to(dtype)
    got = run_steps(syn, x.to(dtype))
    assert got.dtype == dtype and syn.out_i.dtype == dtype
    torch.testing.assert_close(got.double(), expected, rtol=0, atol=0)


@pytest.mark.parametrize("step_mode", ["s", "m"])
@pytest.mark.parametrize("bad", [[1.0], 1.0, None], ids=["list", "float", "None"])
def test_a_non_tensor_input_is_a_type_error_naming_the_filter(step_mode, bad):
    with pytest.raises(TypeError, match=r"SynapseFilter expects a torch\.Tensor"):
        layer.SynapseFilter(step_mode=step_mode)(bad)


@pytest.mark.parametrize("learnable", [False, True])
@pytest.mark.parametrize("tau", [1.0 + 1e-9, torch.tensor([3.0, 1.0 + 1e-9], dtype=torch.float64)])
def test_a_tau_whose_inverse_rounds_to_one_in_float32_is_refused(learnable, tau):
    with pytest.raises(ValueError, match=r"rounds to exactly 1 in torch.float32.*at least 1.0000001"):
        layer.SynapseFilter(tau=tau, learnable=learnable)
    syn = layer.SynapseFilter(tau=torch.full((2,), 2.0, dtype=torch.float64), learnable=learnable)
    before = syn.tau.clone()
    with pytest.raises(ValueError, match=r"rounds to exactly 1 in torch\.float32"):
        syn.tau = tau
    torch.testing.assert_close(syn.tau, before)


@pytest.mark.parametrize("learnable", [False, True])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_a_tau_whose_inverse_rounds_to_one_in_the_input_dtype_is_refused_at_the_call(
    learnable, dtype, step_mode
):
    syn = layer.SynapseFilter(tau=1.0002, learnable=learnable, step_mode=step_mode)
    syn(torch.ones(1, 2) if step_mode == "m" else torch.ones(2))  # 1/tau < 1 in float32
    syn.reset()
    x = torch.ones(1, 2, dtype=dtype) if step_mode == "m" else torch.ones(2, dtype=dtype)
    with pytest.raises(ValueError, match=rf"rounds to exactly 1 in {dtype}.*wider floating dtype"):
        syn(x)


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_a_learned_w_whose_sigmoid_is_one_in_float32_is_refused_at_the_next_call(step_mode):
    syn = layer.SynapseFilter(tau=2.0, learnable=True, step_mode=step_mode)
    x = torch.ones(1, 2) if step_mode == "m" else torch.ones(2)
    syn(x)
    with torch.no_grad():
        syn.w.fill_(25.0)  # tau reads 1 + 1.4e-11 > 1, but sigmoid(w) is 1.0 in float32
    assert syn.tau > 1.0
    with pytest.raises(ValueError, match=r"sigmoid\(w\) rounds to exactly 1 in torch.float32.*clamp_"):
        syn(x)


def test_learnable_cannot_change_after_construction():
    syn = layer.SynapseFilter(tau=2.0)
    syn.learnable = False  # the same value: nothing to do
    with pytest.raises(ValueError, match=r"learnable is fixed at construction.*SynapseFilter\(tau=\.\.\."):
        syn.learnable = True
    with pytest.raises(TypeError, match="learnable must be True or False"):
        syn.learnable = "yes"
    assert syn.learnable is False and list(syn.parameters()) == []


def test_step_mode_assignment_is_checked():
    syn = layer.SynapseFilter()
    with pytest.raises(ValueError, match="step_mode must be one of"):
        syn.step_mode = "multi"
    assert syn.step_mode == "s"
