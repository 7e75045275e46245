"""Bad and unusual inputs: each row of ``docs/bad-inputs.md`` that no other test checks is checked here.

Every bad input gets a ``ValueError`` or ``TypeError`` whose message says what was wrong and how to fix it
(the one documented exception: a compiled backend forced where it cannot run is a ``RuntimeError`` that
says to use ``'auto'``), or a documented behaviour, checked here value for value.
"""

import copy
import math

import pytest
import torch
import torch.nn as nn

from spikestep import encoding, functional, layer, neuron, ops, surrogate
from spikestep._runtime import numba_jit, triton_jit

STEP_MODES = ["s", "m"]

# Stateful modules, as (factory, one step's shape [B, ...]).
STATEFUL = {
    "IFNode": lambda: neuron.IFNode(),
    "LIFNode": lambda: neuron.LIFNode(tau=2.0),
    "PLIFNode": lambda: neuron.ParametricLIFNode(init_tau=2.0),
    "SynapseFilter": lambda: layer.SynapseFilter(tau=2.0),
    "SynapseFilter_learnable": lambda: layer.SynapseFilter(tau=2.0, learnable=True),
    "Delay": lambda: layer.Delay(2),
    "Dropout": lambda: layer.Dropout(0.5),
}


def _drive(t=6, shape=(2, 3), seed=0, dtype=torch.float32):
    """Multiples of 1/4 in [-0.5, 1.5]: exact in every floating dtype."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(-2, 7, (t, *shape), generator=g).double() / 4).to(dtype)


def _feed(module, x_seq, step_mode, seed=0):
    """``x_seq`` through ``module`` in ``step_mode`` (a fixed seed: Dropout's mask is the same each time)."""
    torch.manual_seed(seed)
    module.step_mode = step_mode
    if step_mode == "m":
        return module(x_seq)
    return torch.stack([module(x) for x in x_seq])


def _step_for(module):
    """One step's shape: [B, C, L] for the 1-d convolutions and pools, else [B, 3]."""
    return (2, 3, 2) if isinstance(module, (nn.Conv1d, nn.MaxPool1d, nn.AdaptiveAvgPool1d)) else (2, 3)


def _memories(module):
    return {name: value for name, value in module.named_memories() if isinstance(value, torch.Tensor)}


# --------------------------------------------------------------------------------------- non-tensors


@pytest.mark.parametrize(
    "make",
    [*STATEFUL.values(), lambda: layer.Linear(2, 2), lambda: layer.VotingLayer(1), lambda: layer.Flatten()],
)
@pytest.mark.parametrize("step_mode", STEP_MODES)
@pytest.mark.parametrize("bad", [[1.0, 0.0], 1.5, None])
def test_a_non_tensor_input_is_a_type_error_that_says_how_to_convert_it(make, step_mode, bad):
    module = make()
    module.step_mode = step_mode
    with pytest.raises(
        TypeError, match=r"expects a torch\.Tensor .*got .*convert it first, e\.g\. torch\.as_tensor"
    ):
        module(bad)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: encoding.PoissonEncoder()([0.5]),
            r"poisson_step expects a torch\.Tensor with values in \[0, 1\]",
        ),
        (
            lambda: encoding.LatencyEncoder(3)([0.5]),
            r"latency_times expects a torch\.Tensor with values in \[0, 1\]",
        ),
        (
            lambda: layer.MultiStepContainer(neuron.IFNode())([0.5]),
            r"MultiStepContainer expects a torch\.Tensor",
        ),
        (lambda: layer.SeqToANNContainer(nn.Identity())([0.5]), r"SeqToANNContainer expects a torch\.Tensor"),
        (
            lambda: surrogate.ATan()([0.5]),
            r"a surrogate spike function expects a torch\.Tensor.*torch\.as_tensor",
        ),
        (lambda: surrogate.ATan(spiking=False)(0.5), r"ATan expects a torch\.Tensor"),
        (lambda: surrogate.heaviside(0.5), r"heaviside expects a torch\.Tensor"),
        (lambda: surrogate.sigmoid_derivative(0.5, 4.0), r"Sigmoid\.derivative expects a torch\.Tensor"),
        (lambda: surrogate.ATan()(torch.zeros(2, dtype=torch.complex64)), r"expects a real tensor"),
        (lambda: neuron.IFNode()(torch.zeros(2, dtype=torch.complex64)), r"expects real spikes or values"),
    ],
)
def test_encoders_containers_and_surrogates_refuse_non_tensors_and_complex_tensors(call, match):
    with pytest.raises(TypeError, match=match):
        call()


# ------------------------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize(
    "make",
    [
        *STATEFUL.values(),
        lambda: layer.Linear(3, 2),
        lambda: layer.MaxPool1d(1),
        lambda: layer.VotingLayer(3),
    ],
)
@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.int32, torch.int64], ids=str)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_bool_and_integer_spikes_are_computed_and_returned_in_the_modules_floating_dtype(
    make, dtype, step_mode
):
    module = make()
    x = (_drive(shape=_step_for(module)) > 0.5).to(dtype)
    got = _feed(copy.deepcopy(module), x, step_mode)
    assert got.dtype == torch.float32
    assert torch.equal(got, _feed(copy.deepcopy(module), x.float(), step_mode))


@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_integer_spikes_meet_float64_parameters_in_float64(step_mode):
    x = (_drive() > 0.5).to(torch.uint8)
    for module in (layer.Linear(3, 2).double(), layer.SynapseFilter(2.0, learnable=True).double()):
        assert _feed(module, x, step_mode).dtype == torch.float64


@pytest.mark.parametrize(
    "make", [*STATEFUL.values(), lambda: layer.MaxPool1d(1), lambda: layer.VotingLayer(3)]
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_float16_and_bfloat16_inputs_are_computed_and_returned_in_their_own_dtype(make, dtype, step_mode):
    x = _drive(shape=_step_for(make()), dtype=dtype)
    got = _feed(make(), x, step_mode)
    assert got.dtype == dtype
    reference = _feed(make(), x.double(), step_mode)
    torch.testing.assert_close(got.double(), reference, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_a_layer_with_parameters_refuses_an_input_of_another_floating_dtype_naming_both_fixes(step_mode):
    fc = layer.Linear(3, 2, step_mode=step_mode)
    x = _drive(dtype=torch.float16)
    with pytest.raises(
        TypeError,
        match=r"Linear computes in its parameters' dtype torch\.float32, but the input is torch\.float16; "
        r"convert one to the other \(x\.to\(torch\.float32\) or layer\.to\(torch\.float16\)\)",
    ):
        fc(x if step_mode == "m" else x[0])
    assert fc.to(torch.float16)(x if step_mode == "m" else x[0]).dtype == torch.float16


def test_batch_norm_computes_float16_and_bfloat16_inputs_with_float32_statistics():
    bn = layer.BatchNorm1d(3, step_mode="m").eval()
    for dtype in (torch.float16, torch.bfloat16):
        assert bn(_drive(dtype=dtype)).dtype == dtype
    with pytest.raises(TypeError, match=r"BatchNorm1d computes in its parameters' dtype torch\.float32"):
        bn(_drive(dtype=torch.float64))


@pytest.mark.parametrize("setting", ["v_threshold", "v_reset"])
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_a_threshold_or_reset_beyond_the_range_of_float16_is_refused_at_a_float16_call(setting, step_mode):
    kwargs = {"v_threshold": 1e30} if setting == "v_threshold" else {"v_reset": -1e30}
    node = neuron.LIFNode(tau=2.0, step_mode=step_mode, **kwargs)
    x = _drive(dtype=torch.float16)
    with pytest.raises(
        ValueError,
        match=rf"LIFNode: {setting} = -?1e\+30 does not fit in torch\.float16 \(largest 65504\), the dtype "
        rf"this call computes in; give a {setting} within its range, or feed inputs of a wider floating dtype",
    ):
        node(x if step_mode == "m" else x[0])
    node(x.float() if step_mode == "m" else x[0].float())  # float32 holds 1e30


# ------------------------------------------------------------------------------------ empty T and batch


@pytest.mark.parametrize("name", STATEFUL)
def test_an_empty_chunk_gives_an_empty_output_and_changes_nothing(name):
    x = _drive()
    whole = _feed(STATEFUL[name](), x, "m")
    module = STATEFUL[name]()
    module.step_mode = "m"
    torch.manual_seed(0)
    empty = module(x[:0])
    assert empty.shape == (0, 2, 3) and empty.dtype == torch.float32
    rest = torch.cat([module(x[:2]), module(x[2:2]), module(x[2:])])
    torch.testing.assert_close(rest, whole, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("make", "step", "out"),
    [
        (lambda: layer.Linear(3, 4), (2, 3), (2, 4)),
        (lambda: layer.Conv1d(2, 4, 3), (2, 2, 5), (2, 4, 3)),
        (lambda: layer.MaxPool1d(2), (2, 2, 6), (2, 2, 3)),
        (lambda: layer.Flatten(), (2, 2, 3), (2, 6)),
        (lambda: layer.VotingLayer(3), (2, 6), (2, 2)),
    ],
)
def test_an_empty_sequence_through_a_stateless_layer_is_empty_of_the_output_shape(make, step, out):
    m = make()
    m.step_mode = "m"
    assert m(torch.zeros(0, *step)).shape == (0, *out)


def test_a_multi_step_container_refuses_an_empty_sequence_as_its_output_shape_is_unknown():
    with pytest.raises(
        ValueError, match=r"x_seq has no time steps \(shape \(0, 2\)\): the modules never run.*skip empty"
    ):
        layer.MultiStepContainer(neuron.IFNode())(torch.zeros(0, 2))


@pytest.mark.parametrize(
    "make",
    [
        *STATEFUL.values(),
        lambda: layer.Linear(3, 2),
        lambda: layer.Conv1d(3, 2, 1),
        lambda: layer.MaxPool1d(1),
        lambda: layer.AdaptiveAvgPool1d(1),
        lambda: layer.BatchNorm1d(3),
        lambda: layer.VotingLayer(3),
        lambda: layer.Flatten(),
    ],
)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_an_empty_batch_gives_an_empty_batch(make, step_mode):
    module = make()
    x = (
        torch.zeros(4, 0, 3, 2)
        if isinstance(module, (nn.Conv1d, nn.MaxPool1d, nn.AdaptiveAvgPool1d))
        else None
    )
    x = torch.zeros(4, 0, 3) if x is None else x
    y = _feed(module, x, step_mode)
    assert y.shape[:2] == (4, 0) and y.numel() == 0


# ------------------------------------------------------------------------------------------ layouts


LAYOUTS = {
    "transposed": lambda x: x.transpose(-1, -2).contiguous().transpose(-1, -2),
    "sliced": lambda x: x.repeat_interleave(2, dim=-1)[..., ::2],
    "expanded": lambda x: x[..., :1].expand(x.shape),
}


@pytest.mark.parametrize(
    "make",
    [
        *STATEFUL.values(),
        lambda: layer.Linear(3, 2),
        lambda: layer.Conv1d(2, 2, 2),
        lambda: layer.VotingLayer(3),
    ],
)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_non_contiguous_and_expanded_inputs_give_what_a_contiguous_copy_gives(make, layout, step_mode):
    module = make()
    x = LAYOUTS[layout](_drive(shape=(2, 2, 3)) if isinstance(module, nn.Conv1d) else _drive())
    assert not x.is_contiguous()
    got = _feed(copy.deepcopy(module), x, step_mode)
    expected = _feed(copy.deepcopy(module), x.contiguous(), step_mode)
    if isinstance(module, (nn.Linear, nn.Conv1d)):  # torch's matmul may take another kernel: float32 rounding
        torch.testing.assert_close(got, expected)
    else:  # spikestep's own walks: the same values, bit for bit
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


# ------------------------------------------------------------------------------- mid-stream changes


@pytest.mark.parametrize("name", STATEFUL)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_a_dtype_change_mid_stream_goes_on_from_the_state_converted_to_the_new_dtype(name, step_mode):
    """float32, then float64 without reset_net: the held state is converted (rounded, when the new dtype is
    narrower) and the sequence goes on in the new dtype, as from that state."""
    x = _drive()
    module = STATEFUL[name]()
    _feed(module, x[:3], step_mode, seed=0)
    converted = copy.deepcopy(module)
    for memory, value in _memories(converted).items():
        setattr(converted, memory, value.double())
    got = _feed(module, x[3:].double(), step_mode, seed=1)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, _feed(converted, x[3:].double(), step_mode, seed=1), rtol=0, atol=0)


@pytest.mark.parametrize("name", STATEFUL)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_a_device_change_mid_stream_is_refused_naming_net_to_and_reset_net(name, step_mode):
    """Checked on the CPU with the meta device (the check compares devices, whatever they are)."""
    module = STATEFUL[name]()
    x = _drive()
    _feed(module, x[:3], step_mode)
    x_meta = x[3:].to("meta")
    with pytest.raises(
        ValueError,
        match=r"the input is on meta, but the module holds its state '\w+' on cpu from earlier calls\. Move the "
        r"network with net\.to\(device\) \(which moves the state too\).*or call "
        r"spikestep\.functional\.reset_net\(net\)",
    ):
        _feed(module, x_meta, step_mode)


# A learned tau's check reads the values of w, which a meta tensor does not have: those are left to the CUDA
# test below.
@pytest.mark.parametrize("name", [n for n in STATEFUL if n not in ("PLIFNode", "SynapseFilter_learnable")])
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_moving_the_network_with_to_moves_its_state_and_the_sequence_goes_on(name, step_mode):
    module = STATEFUL[name]()
    x = _drive()
    _feed(module, x[:3], step_mode)
    module.to("meta")
    assert all(value.device.type == "meta" for value in _memories(module).values())
    assert _feed(module, x[3:].to("meta"), step_mode).device.type == "meta"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", STATEFUL)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_a_cuda_input_after_cpu_steps_is_refused_and_to_cuda_goes_on(name, step_mode):
    module = STATEFUL[name]()
    x = _drive()
    _feed(module, x[:3], step_mode)
    with pytest.raises(ValueError, match=r"the input is on cuda:0, but the module holds its state .* on cpu"):
        _feed(module, x[3:].cuda(), step_mode)
    module.cuda()
    assert _feed(module, x[3:].cuda(), step_mode).is_cuda


@pytest.mark.parametrize("name", STATEFUL)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_a_shape_change_without_reset_net_is_refused_naming_reset_net(name, step_mode):
    module = STATEFUL[name]()
    _feed(module, _drive(shape=(2, 3)), step_mode)
    with pytest.raises(
        ValueError,
        match=r"the input implies a state '\w+' of shape .*, but the module holds one of shape .* from earlier "
        r"calls\. Call spikestep\.functional\.reset_net\(net\) \(or module\.reset\(\)\) before feeding inputs "
        r"of a new shape\.",
    ):
        _feed(module, _drive(shape=(2, 4)), step_mode)
    functional.reset_net(module)
    assert _feed(module, _drive(shape=(2, 4)), step_mode).shape == (6, 2, 4)


@pytest.mark.parametrize("name", STATEFUL)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_reusing_the_input_buffer_and_changing_outputs_in_place_never_change_what_comes_next(name, step_mode):
    x = _drive(t=8)
    expected = _feed(STATEFUL[name](), x, step_mode)
    module = STATEFUL[name]()
    module.step_mode = step_mode
    torch.manual_seed(0)
    chunk = 2 if step_mode == "m" else 1
    buf = torch.empty_like(x[:chunk] if step_mode == "m" else x[0])
    outputs = []
    for i in range(0, len(x), chunk):
        buf.copy_(x[i : i + chunk] if step_mode == "m" else x[i])
        y = module(buf)
        outputs.append(y.detach().clone())
        if y.data_ptr() != buf.data_ptr():
            y.detach().mul_(0)  # the caller changes the output in place ...
        buf.fill_(math.nan)  # ... and scribbles over its input buffer
    got = torch.cat(outputs) if step_mode == "m" else torch.stack(outputs)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------- tau


@pytest.mark.parametrize(
    "make",
    [
        lambda tau: neuron.LIFNode(tau=tau),
        lambda tau: neuron.ParametricLIFNode(init_tau=tau),
        lambda tau: layer.SynapseFilter(tau=tau),
        lambda tau: layer.SynapseFilter(tau=tau, learnable=True),
    ],
)
@pytest.mark.parametrize(
    ("tau", "match"),
    [
        (1.0, r"tau must be > 1 \(time steps\), got 1\.0: the state .* keeps a fraction 1 - 1/tau of itself"),
        (0.5, r"tau must be > 1 \(time steps\), got 0\.5"),
        (-2.0, r"tau must be > 1 \(time steps\), got -2\.0"),
        (math.nan, r"tau must be finite, got nan"),
        (math.inf, r"tau must be finite, got inf"),
        (1 + 1e-9, r"1/(init_)?tau (= sigmoid\(w\) )?rounds to exactly 1 in torch\.float32"),
        (torch.tensor([2.0, 0.5]), r"every (init_)?tau must be > 1 \(time steps\), got a minimum of 0\.5"),
        (torch.tensor([2.0, math.nan]), r"every (init_)?tau must be finite"),
        (torch.tensor([2, 3]), r"must be a real number or a floating tensor"),
    ],
)
def test_a_tau_at_most_one_not_finite_or_whose_inverse_rounds_to_one_is_refused(make, tau, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make(tau)


@pytest.mark.parametrize(
    "make", [lambda: neuron.LIFNode(tau=1.0001), lambda: layer.SynapseFilter(tau=1.0001)], ids=["LIF", "SF"]
)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_a_tau_whose_inverse_rounds_to_one_in_float16_is_refused_at_a_float16_call(make, step_mode):
    module = make()
    x = _drive(dtype=torch.float16)
    with pytest.raises(
        ValueError,
        match=r"1/tau rounds to exactly 1 in torch\.float16.*Give a tau of at least 1\.000976562.*or feed this "
        r"module inputs of a wider floating dtype",
    ):
        _feed(module, x, step_mode)


@pytest.mark.parametrize(
    "make",
    [
        lambda: neuron.LIFNode(tau=torch.tensor([2.0, 3.0, 4.0, 5.0])),
        lambda: neuron.ParametricLIFNode(init_tau=torch.tensor([2.0, 3.0, 4.0, 5.0])),
        lambda: layer.SynapseFilter(tau=torch.tensor([2.0, 3.0, 4.0, 5.0])),
    ],
)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_a_per_channel_tau_that_does_not_fit_the_input_is_refused_saying_what_fits(make, step_mode):
    with pytest.raises(
        ValueError,
        match=r"tau of shape \[4\] does not fit one step of the input, of shape \[2, 3\]: give one value per "
        r"channel of the last dimension \(\[3\]\), one per element \(\[2, 3\]\), or a float",
    ):
        _feed(make(), _drive(), step_mode)


# ---------------------------------------------------------------------------------- reset, threshold


@pytest.mark.parametrize(
    "change",
    [
        lambda: neuron.IFNode(v_threshold=1.0, v_reset=1.0),
        lambda: neuron.LIFNode(v_threshold=0.0, v_reset=0.5),
        lambda: setattr(neuron.IFNode(), "v_threshold", -0.5),
        lambda: setattr(neuron.IFNode(), "v_reset", 2.0),
    ],
)
def test_a_v_reset_at_or_above_the_threshold_is_refused_in_the_constructor_and_by_assignment(change):
    with pytest.raises(
        ValueError,
        match=r"v_reset \(.*\) must be below v_threshold \(.*\), or None for a soft reset; a neuron reset at or "
        r"above its threshold fires at every step\. To move both, set them in an order",
    ):
        change()


# --------------------------------------------------------------------------------------- backends


@pytest.mark.skipif(not numba_jit.available(), reason="numba is not importable")
def test_a_forced_numba_backend_refuses_float16_naming_auto():
    node = neuron.IFNode(step_mode="m", backend="numba")
    with pytest.raises(
        RuntimeError,
        match=r"backend 'numba' was forced, but it only runs float32/float64 CPU tensors, got torch\.float16 on "
        r"cpu; use backend 'auto' to fall back to the torch path",
    ):
        node(_drive(dtype=torch.float16))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
@pytest.mark.parametrize(
    "make",
    [lambda: neuron.LIFNode(step_mode="m"), lambda: layer.SynapseFilter(step_mode="m")],
    ids=["LIF", "SF"],
)
def test_use_backend_triton_without_cuda_refuses_the_call_naming_auto(make):
    if triton_jit.interpreting():
        pytest.skip(
            "TRITON_INTERPRET=1 (set by tests/backends.py): Triton runs CPU tensors in its interpreter"
        )
    with (
        ops.use_backend("triton"),
        pytest.raises(RuntimeError, match=r"backend 'triton' was forced, but .*'auto'"),
    ):
        make()(_drive())


def test_a_backend_that_is_not_one_of_the_four_is_refused():
    with pytest.raises(ValueError, match=r"backend must be one of \['auto', 'numba', 'triton', 'torch'\]"):
        neuron.IFNode(backend="cuda")


# ------------------------------------------------------------------------------- constructor numbers


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda: neuron.IFNode(v_threshold=torch.tensor(1.0)),
            TypeError,
            r"IFNode: v_threshold must be a real number, got Tensor",
        ),
        (
            lambda: neuron.IFNode(v_threshold=math.inf),
            ValueError,
            r"IFNode: v_threshold must be finite, got inf",
        ),
        (
            lambda: neuron.LIFNode(decay_input=1),
            TypeError,
            r"LIFNode: decay_input must be True or False, got int 1",
        ),
        (
            lambda: layer.Delay(True),
            TypeError,
            r"delay_steps must be an int >= 0 \(a number of time steps\) or an integer tensor \(one per channel\), got bool",
        ),
        (
            lambda: layer.Delay(-1),
            ValueError,
            r"delay_steps must be >= 0 \(a layer cannot see the future\), got -1",
        ),
        (
            lambda: layer.Dropout(math.nan),
            ValueError,
            r"Dropout: p \(the probability of zeroing an element\) must be in \[0, 1\)",
        ),
        (
            lambda: layer.VotingLayer(0),
            ValueError,
            r"voting_size must be a positive int \(neurons per class\), got 0",
        ),
        (lambda: encoding.LatencyEncoder(0), ValueError, r"LatencyEncoder: T must be an int >= 1"),
        (lambda: surrogate.ATan(alpha=-1.0), ValueError, r"ATan: alpha must be a finite number > 0"),
        (
            lambda: layer.SynapseFilter(learnable=1),
            TypeError,
            r"SynapseFilter: learnable must be True or False",
        ),
    ],
)
def test_a_constructor_refuses_wrong_types_non_finite_and_out_of_range_numbers(make, error, match):
    with pytest.raises(error, match=match):
        make()


# --------------------------------------------------------------------- the layers that extend torch's


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: layer.Linear(-1, 3), ValueError, r"Linear: in_features must be an int >= 1"),
        (lambda: layer.Linear(True, 3), TypeError, r"Linear: in_features must be an int >= 1, got bool True"),
        (lambda: layer.Linear(2.5, 3), TypeError, r"Linear: in_features must be an int >= 1, got float"),
        (
            lambda: layer.Linear(2**62, 2),
            ValueError,
            r"Linear: its parameters for these sizes cannot be allocated",
        ),
        (
            lambda: layer.Linear(2, 3, device="bogus"),
            ValueError,
            r"Linear: device 'bogus' cannot be used here",
        ),
        (lambda: layer.Linear(2, 3, dtype=torch.int64), TypeError, r"dtype must be a floating dtype"),
        (lambda: layer.Conv2d(1, 2, 0), ValueError, r"Conv2d: kernel_size must be an int >= 1"),
        (lambda: layer.Conv2d(1, 2, 3, stride=0), ValueError, r"Conv2d: stride must be an int >= 1"),
        (lambda: layer.Conv2d(1, 2, 3, padding=-1), ValueError, r"Conv2d: padding must be an int >= 0"),
        (lambda: layer.Conv2d(1, 2, (3, 3, 3)), ValueError, r"Conv2d: kernel_size must be an int or 2 ints"),
        (lambda: layer.Conv1d(3, 2, 1, groups=2), ValueError, r"in_channels must be divisible by groups"),
        (lambda: layer.BatchNorm1d(0), ValueError, r"BatchNorm1d: num_features must be an int >= 1"),
        (lambda: layer.BatchNorm1d(3, eps=math.nan), ValueError, r"eps must be a finite number >= 0"),
        (lambda: layer.BatchNorm1d(3, momentum=5), ValueError, r"momentum must be in \[0, 1\] or None"),
        (
            lambda: layer.BatchNorm2d(3, affine=torch.tensor([1, 2])),
            TypeError,
            r"affine must be True or False",
        ),
        (lambda: layer.MaxPool2d(0), ValueError, r"MaxPool2d: kernel_size must be an int >= 1"),
        (
            lambda: layer.MaxPool2d(2, padding=2),
            ValueError,
            r"padding \(2\) must be at most half the kernel_size",
        ),
        (lambda: layer.AvgPool2d(2, divisor_override=0), ValueError, r"divisor_override must be an int >= 1"),
        (lambda: layer.AdaptiveAvgPool2d(-1), ValueError, r"output_size must be an int >= 1"),
        (lambda: layer.AdaptiveAvgPool1d(1.5), TypeError, r"output_size must be an int >= 1"),
        (lambda: layer.Flatten(1.5), TypeError, r"Flatten: start_dim must be an int \(a dimension\)"),
    ],
)
def test_a_layer_that_extends_torchs_refuses_bad_arguments_in_its_constructor(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    ("make", "step", "match"),
    [
        (
            lambda: layer.Linear(2, 3),
            (3, 4),
            r"Linear: the input has 4 features in its last dimension .*expects 2",
        ),
        (lambda: layer.Conv2d(2, 3, 3), (1, 3, 5, 5), r"Conv2d: the input has 3 channels .*expects 2"),
        (
            lambda: layer.Conv2d(2, 3, 3),
            (1, 2, 2, 2),
            r"Conv2d: the input's size \(2, 2\) is smaller than the kernel",
        ),
        (
            lambda: layer.Conv1d(1, 1, 3, padding=2, padding_mode="reflect"),
            (1, 1, 2),
            r"padding_mode='reflect' needs a padding smaller than the input's size, got padding \(2,\) for size "
            r"\(2,\)",
        ),
        (lambda: layer.BatchNorm1d(3), (2, 4), r"BatchNorm1d: the input has 4 channels .*expects 3"),
        (lambda: layer.MaxPool2d(3), (1, 2, 2, 2), r"MaxPool2d: the input's size \(2, 2\) is too small"),
        (
            lambda: layer.AdaptiveAvgPool1d(2),
            (2, 0, 4),
            r"AdaptiveAvgPool1d expects .* no empty dimension other",
        ),
        (
            lambda: layer.Flatten(),
            (3,),
            r"Flatten: start_dim=1 and end_dim=-1 must both be dimensions of one step",
        ),
        (lambda: layer.Flatten(2, 1), (3, 4, 5), r"Flatten: start_dim=2 comes after end_dim=1"),
    ],
)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_an_input_that_does_not_fit_a_layer_is_refused_before_torch_sees_it(make, step, match, step_mode):
    module = make()
    module.step_mode = step_mode
    x = torch.zeros(step)
    with pytest.raises(ValueError, match=match):
        module(x.unsqueeze(0) if step_mode == "m" else x)


@pytest.mark.parametrize(
    ("make", "step", "match"),
    [
        (lambda: layer.Linear(2, 3), (), r"Linear expects one step \[B, \.\.\., in_features\], got a 0-d"),
        (lambda: layer.Conv2d(2, 3, 3), (2, 5), r"Conv2d expects one step \[B, C, H, W\] \(or \[C, H, W\]\)"),
        (lambda: layer.BatchNorm2d(3), (2, 3, 4), r"BatchNorm2d expects one step \[B, C, H, W\] \(4-d\)"),
    ],
)
def test_a_single_step_of_the_wrong_rank_is_refused_naming_the_layout(make, step, match):
    """(In multi-step mode the rank is checked first: tests/layer/test_stateless.py.)"""
    with pytest.raises(ValueError, match=match):
        make()(torch.zeros(step))


@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_a_layer_refuses_an_input_on_another_device_than_its_parameters(step_mode):
    fc = layer.Linear(3, 2, step_mode=step_mode)
    with pytest.raises(
        ValueError, match=r"Linear: the input is on meta, the layer's parameters on cpu; move one"
    ):
        fc(torch.zeros(2, 2, 3, device="meta") if step_mode == "m" else torch.zeros(2, 3, device="meta"))


def test_flatten_with_negative_dims_in_multi_step_mode_counts_them_on_one_step():
    flat = layer.Flatten(-2, step_mode="m")
    x = torch.rand(3, 4, 5)
    assert flat(x).shape == (3, 20)
    with pytest.raises(ValueError, match=r"must both be dimensions of one step"):
        flat(torch.rand(3, 4))  # a step [4] has no dimension -2: the time dimension is never flattened


def test_seq_to_ann_container_refuses_modules_that_do_not_keep_the_batch():
    with pytest.raises(
        ValueError, match=r"they must keep the batch dimension first .*not Flatten\(start_dim=0\)"
    ):
        layer.SeqToANNContainer(layer.Flatten(0))(torch.zeros(3, 2, 4))


def test_a_surrogate_derivative_of_integer_input_is_computed_in_the_default_float_dtype():
    x = torch.tensor([-1, 0, 1])
    got = surrogate.piecewise_quadratic_derivative(x, 1.0)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, surrogate.piecewise_quadratic_derivative(x.float(), 1.0))


def test_print_shape_module_passes_anything_through_and_prints_its_type(capsys):
    anything = [1.0, 0.0]
    assert layer.PrintShapeModule("here")(anything) is anything
    assert capsys.readouterr().out == "here list\n"


# ------------------------------------------------------------------------------------- command line


@pytest.mark.parametrize(
    ("option", "value", "line"),
    [
        ("--epochs", "0", "argument --epochs: must be a whole number >= 1, got 0"),
        ("--lr", "nan", "argument --lr: must be a finite number > 0, got 'nan'"),
        ("--dropout", "1", "argument --dropout: must be a number in [0, 1), got '1'"),
        (
            "--tau",
            "1",
            "argument --tau: must be a finite number > 1 (time steps), got '1': the state keeps a fraction "
            "1 - 1/tau of itself per step",
        ),
    ],
)
def test_the_command_line_refuses_a_bad_number_with_exit_code_2_and_one_error_line(
    option, value, line, tmp_path, capsys
):
    from spikestep.cli import main

    assert main(["train", "--out", str(tmp_path), option, value]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"spikestep train: error: {line}"
    assert not any(tmp_path.iterdir())  # nothing ran
