"""What every neuron shares (``spikestep/neuron/base_node.py``), for IF, LIF and PLIF in both step modes:
memories that alias nothing and hold one step, any spike dtype, settings checked on every assignment,
and a ``1/tau`` that may not round to 1."""

import math

import pytest
import torch

from spikestep import functional, neuron, surrogate

NODES = {
    "IF": lambda **kw: neuron.IFNode(**kw),
    "LIF": lambda **kw: neuron.LIFNode(tau=2.0, **kw),
    "PLIF": lambda **kw: neuron.ParametricLIFNode(init_tau=2.0, **kw),
}
STEP_MODES = ["s", "m"]
INTEGER_DTYPES = [torch.bool, torch.uint8, torch.int32, torch.int64]
FLOAT_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]


def drive(t=8, shape=(2, 3), seed=0):
    """Real-valued input, multiples of 1/4 in [-0.5, 1.5]: exact in every floating dtype."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-2, 7, (t, *shape), generator=g).float() / 4


def feed(node, x_seq, chunk=3):
    """``x_seq`` through ``node``: chunks of ``chunk`` steps in ``'m'``, one step per call in ``'s'``."""
    if node.step_mode == "m":
        return torch.cat([node(x_seq[i : i + chunk]) for i in range(0, len(x_seq), chunk)])
    return torch.stack([node(x) for x in x_seq])


def tensor_memories(node):
    return {name: value for name, value in node.named_memories() if isinstance(value, torch.Tensor)}


def storages(*tensors):
    return {t.untyped_storage().data_ptr() for t in tensors}


# ----------------------------------------------------------------------------------------------- aliasing


@pytest.mark.parametrize("name", NODES)
@pytest.mark.parametrize("store_v_seq", [False, True])
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_reusing_one_input_buffer_for_every_call_gives_what_fresh_inputs_give(name, store_v_seq, step_mode):
    x_seq = drive()
    fresh = NODES[name](step_mode=step_mode, store_v_seq=store_v_seq)
    expected = feed(fresh, x_seq.clone(), chunk=2)
    reused = NODES[name](step_mode=step_mode, store_v_seq=store_v_seq)
    buf = torch.empty_like(x_seq[:2] if step_mode == "m" else x_seq[0])
    outputs = []
    for i in range(0, len(x_seq), 2 if step_mode == "m" else 1):
        buf.copy_(x_seq[i : i + 2] if step_mode == "m" else x_seq[i])
        outputs.append(reused(buf).clone())
        buf.fill_(float("nan"))  # the caller scribbles over its buffer before the next step
    got = torch.cat(outputs) if step_mode == "m" else torch.stack(outputs)
    assert torch.equal(got, expected)
    assert torch.equal(reused.v, fresh.v)


@pytest.mark.parametrize("name", NODES)
@pytest.mark.parametrize("store_v_seq", [False, True])
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_changing_the_spikes_in_place_never_changes_what_comes_next(name, store_v_seq, step_mode):
    x_seq = drive()
    expected = feed(NODES[name](step_mode=step_mode, store_v_seq=store_v_seq), x_seq)
    node = NODES[name](step_mode=step_mode, store_v_seq=store_v_seq)
    got = []
    for x in x_seq.split(3) if step_mode == "m" else x_seq:
        with torch.no_grad():
            s = node(x)
            got.append(s.clone())
            s.fill_(float("nan"))  # an in-place op after the neuron
    assert torch.equal(torch.cat(got) if step_mode == "m" else torch.stack(got), expected)


@pytest.mark.parametrize("name", NODES)
@pytest.mark.parametrize("store_v_seq", [False, True])
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_memories_share_no_storage_with_the_input_or_the_spikes(name, store_v_seq, step_mode):
    node = NODES[name](step_mode=step_mode, store_v_seq=store_v_seq)
    for x in drive(t=6).split(3) if step_mode == "m" else drive(t=3):
        s = node(x)
        memories = tensor_memories(node)
        assert memories
        for value in memories.values():
            assert not storages(value) & storages(x, s)
        if "v_seq" in memories:
            assert not storages(memories["v"]) & storages(memories["v_seq"])


# ---------------------------------------------------------------------------------------- storage sizes


@pytest.mark.parametrize("name", NODES)
@pytest.mark.parametrize("store_v_seq", [False, True])
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_the_membrane_holds_one_step_of_storage_after_any_call_and_after_detach_net(
    name, store_v_seq, step_mode
):
    node = NODES[name](step_mode=step_mode, store_v_seq=store_v_seq)
    x_seq = drive(t=40, shape=(4, 5)).requires_grad_(True)
    calls = [x_seq[:30], x_seq[30:]] if step_mode == "m" else list(x_seq[:3])
    for x in calls:
        node(x)
        for _ in range(2):
            v = node.v
            assert v.untyped_storage().nbytes() == v.numel() * v.element_size() == 4 * 5 * 4
            if store_v_seq and step_mode == "m":
                v_seq = node.v_seq
                assert v_seq.untyped_storage().nbytes() == v_seq.numel() * v_seq.element_size()
            functional.detach_net(node)


# ------------------------------------------------------------------------------------------- spike dtypes


def integer_spikes(dtype, t=9, shape=(2, 3), seed=1):
    g = torch.Generator().manual_seed(seed)
    low = {torch.bool: 0, torch.uint8: 0}.get(dtype, -2)
    high = 2 if dtype == torch.bool else 4
    return torch.randint(low, high, (t, *shape), generator=g).to(dtype)


@pytest.mark.parametrize("name", NODES)
@pytest.mark.parametrize("dtype", INTEGER_DTYPES, ids=str)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_bool_and_integer_spikes_give_exactly_what_the_same_values_as_floats_give(name, dtype, step_mode):
    x = integer_spikes(dtype)
    as_float = NODES[name](step_mode="m", v_reset=-0.5)
    expected = as_float(x.float())
    for chunk in (1, 4, len(x)):  # whole, in chunks and step by step all agree
        node = NODES[name](step_mode=step_mode, v_reset=-0.5)
        got = feed(node, x, chunk=chunk)
        assert got.dtype == torch.float32 and node.v.dtype == torch.float32
        assert torch.equal(got, expected)
        assert torch.equal(node.v, as_float.v)


@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_integer_spikes_are_computed_in_the_parameters_floating_dtype(step_mode):
    x = integer_spikes(torch.int64)
    node = neuron.ParametricLIFNode(init_tau=3.0, step_mode=step_mode).double()
    expected = neuron.ParametricLIFNode(init_tau=3.0, step_mode="m").double()(x.double())
    got = feed(node, x)
    assert got.dtype == torch.float64 and node.v.dtype == torch.float64
    assert torch.equal(got, expected)


def test_integer_spikes_with_a_float64_tau_tensor_are_computed_in_float64():
    node = neuron.LIFNode(tau=torch.full((3,), 3.0, dtype=torch.float64), step_mode="m")
    x = integer_spikes(torch.int32)
    assert node(x).dtype == torch.float64 and node.v.dtype == torch.float64


@pytest.mark.parametrize("name", NODES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_floating_spikes_are_computed_and_returned_in_their_own_dtype(name, dtype, step_mode):
    x = drive(t=4)  # tau = 2 and quarters: every membrane is exact in every floating dtype
    expected = NODES[name](step_mode="m").double()(x.double())
    node = NODES[name](step_mode=step_mode).to(dtype)
    got = feed(node, x.to(dtype))
    assert got.dtype == dtype and node.v.dtype == dtype
    assert torch.equal(got.double(), expected)
    if dtype in (torch.float16, torch.bfloat16):
        assert node.backend_for(x.to(dtype)) == "torch"


# ------------------------------------------------------------------------------------ non-tensor inputs


@pytest.mark.parametrize("name", NODES)
@pytest.mark.parametrize("step_mode", STEP_MODES)
@pytest.mark.parametrize("bad", [[1.0, 0.0], 1.0, None], ids=["list", "float", "None"])
def test_a_non_tensor_input_is_a_type_error_naming_the_neuron(name, step_mode, bad):
    node = NODES[name](step_mode=step_mode)
    with pytest.raises(TypeError, match=f"{type(node).__name__} expects a torch.Tensor"):
        node(bad)


# ------------------------------------------------------------------------- settings checked on assignment


@pytest.mark.parametrize(
    ("attribute", "value", "error", "match"),
    [
        ("v_threshold", None, TypeError, "v_threshold must be a real number"),
        ("v_threshold", float("inf"), ValueError, "v_threshold must be finite"),
        ("v_reset", "0", TypeError, "v_reset must be a real number"),
        ("v_reset", float("nan"), ValueError, "v_reset must be finite"),
        ("surrogate_function", "atan", TypeError, "surrogate_function must be callable"),
        ("detach_reset", 1, TypeError, "detach_reset must be True or False"),
        ("store_v_seq", None, TypeError, "store_v_seq must be True or False"),
        ("backend", "cupy", ValueError, "backend must be one of"),
        ("decay_input", "yes", TypeError, "decay_input must be True or False"),
        ("step_mode", "x", ValueError, "step_mode must be one of"),
        ("tau", 1.0, ValueError, "tau must be > 1"),
        ("tau", "2", TypeError, "tau must be a real number"),
    ],
)
@pytest.mark.parametrize("name", ["LIF", "PLIF"])
def test_an_assignment_is_checked_like_the_constructor_and_leaves_the_setting_alone(
    name, attribute, value, error, match
):
    node = NODES[name]()
    before = getattr(node, attribute)
    with pytest.raises(error, match=match):
        setattr(node, attribute, value)
    assert getattr(node, attribute) == before


@pytest.mark.parametrize("name", NODES)
def test_a_threshold_at_or_below_v_reset_is_refused(name):
    node = NODES[name](v_threshold=1.0, v_reset=0.0)
    for threshold in (0.0, -0.5):
        with pytest.raises(ValueError, match=r"v_reset \(0.0\) must be below v_threshold"):
            node.v_threshold = threshold
    assert node.v_threshold == 1.0


@pytest.mark.parametrize("name", NODES)
def test_a_v_reset_at_or_above_the_threshold_is_refused(name):
    node = NODES[name](v_threshold=1.0, v_reset=0.0)
    for v_reset in (1.0, 2.0):
        with pytest.raises(ValueError, match="must be below v_threshold"):
            node.v_reset = v_reset
    assert node.v_reset == 0.0


def test_thresholds_and_resets_move_together_in_an_order_that_keeps_them_apart():
    node = neuron.IFNode(v_threshold=1.0, v_reset=0.0)
    node.v_reset = -2.0
    node.v_threshold = -1.0
    node.v_reset = None  # soft reset: any threshold
    node.v_threshold = -5.0
    assert (node.v_threshold, node.v_reset) == (-5.0, None)


def test_reset_brings_the_membrane_back_to_the_v_reset_set_last():
    node = neuron.IFNode(v_reset=0.0)
    node(torch.full((2,), 0.3))
    node.v_reset = -0.5
    node.reset()
    assert node.v == -0.5
    node.v_reset = None
    node.reset()
    assert node.v == 0.0


def test_a_plain_function_can_replace_the_default_surrogate_and_a_module_can_come_back():
    node = neuron.IFNode(step_mode="m")
    node.surrogate_function = lambda h: surrogate.heaviside(h)
    assert "generic walk" in node.backend_for(torch.ones(1, 2))
    node(torch.ones(1, 2))
    node.surrogate_function = None  # like the constructor: the default ATan
    assert isinstance(node.surrogate_function, surrogate.ATan)
    assert "generic walk" not in node.backend_for(torch.ones(1, 2))


def test_assigning_a_backend_that_cannot_run_here_is_refused(monkeypatch):
    monkeypatch.setenv("SPIKESTEP_DISABLE_NUMBA", "1")
    node = neuron.LIFNode()
    with pytest.raises(ValueError, match="backend='numba' is not usable here"):
        node.backend = "numba"
    assert node.backend == "auto"


def test_plif_tau_can_be_set_and_moves_w():
    node = neuron.ParametricLIFNode(init_tau=2.0)
    node.tau = 5.0
    assert node.tau == pytest.approx(5.0)
    assert torch.sigmoid(node.w).item() == pytest.approx(0.2)


def test_plif_per_channel_tau_of_another_shape_is_refused():
    node = neuron.ParametricLIFNode(init_tau=torch.full((3,), 2.0))
    with pytest.raises(ValueError, match="does not fit the learnable w of shape"):
        node.tau = torch.full((4,), 3.0)


# ------------------------------------------------------------------------- 1/tau that rounds to 1


@pytest.mark.parametrize("tau", [1.0 + 1e-9, torch.tensor([3.0, 1.0 + 1e-9], dtype=torch.float64)])
@pytest.mark.parametrize("name", ["LIF", "PLIF"])
def test_a_tau_whose_inverse_rounds_to_one_in_float32_is_refused_at_construction_and_assignment(name, tau):
    make = neuron.LIFNode if name == "LIF" else neuron.ParametricLIFNode
    with pytest.raises(ValueError, match=r"rounds to exactly 1 in torch.float32.*at least 1.0000001"):
        make(tau)
    node = make(torch.full((2,), 2.0, dtype=torch.float64) if isinstance(tau, torch.Tensor) else 2.0)
    with pytest.raises(ValueError, match=r"rounds to exactly 1 in torch\.float32"):
        node.tau = tau


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", ["LIF", "PLIF"])
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_a_tau_whose_inverse_rounds_to_one_in_the_input_dtype_is_refused_at_the_call(name, dtype, step_mode):
    node = (neuron.LIFNode if name == "LIF" else neuron.ParametricLIFNode)(1.0002, step_mode=step_mode)
    node(torch.ones(1, 2) if step_mode == "m" else torch.ones(2))  # fine in float32
    x = torch.ones(1, 2, dtype=dtype) if step_mode == "m" else torch.ones(2, dtype=dtype)
    with pytest.raises(ValueError, match=rf"rounds to exactly 1 in {dtype}.*wider floating dtype"):
        node(x)


@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_a_learned_w_whose_sigmoid_is_one_is_refused_at_the_next_call(step_mode):
    node = neuron.ParametricLIFNode(init_tau=2.0, step_mode=step_mode)
    x = torch.ones(1, 2) if step_mode == "m" else torch.ones(2)
    node(x)
    with torch.no_grad():
        node.w.fill_(20.0)  # as an optimiser step would, in place: sigmoid(20) is 1.0 in float32
    with pytest.raises(ValueError, match=r"sigmoid\(w\) rounds to exactly 1 in torch.float32.*clamp_\(max="):
        node(x)
    with torch.no_grad():
        node.w.clamp_(max=-math.log(torch.finfo(torch.float32).eps))  # the fix the message proposes
    node(x)
