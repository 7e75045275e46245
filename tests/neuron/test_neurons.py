"""IFNode, LIFNode and ParametricLIFNode against references written here, independently of the library."""

import math

import pytest
import torch
from copy_checks import assert_copies_continue_like_the_original
from hypothesis import given, settings
from strategies import sequences_and_splits

from spikestep import functional, neuron, ops, surrogate
from spikestep._runtime import numba_jit as _numba

needs_numba = pytest.mark.skipif(not _numba.available(), reason="numba is not usable here")
BACKENDS = ["torch", pytest.param("numba", marks=needs_numba)]

# (name, factory(**kwargs), kind, tau) with kind "if" or "lif"; PLIF starts at init_tau.
NODES = [
    ("IF", lambda **kw: neuron.IFNode(**kw), "if", None),
    ("LIF", lambda tau=3.0, **kw: neuron.LIFNode(tau=tau, **kw), "lif", 3.0),
    ("PLIF", lambda tau=3.0, **kw: neuron.ParametricLIFNode(init_tau=tau, **kw), "lif", 3.0),
]
NODE_IDS = [n[0] for n in NODES]


def reference(x_seq, kind, tau=None, decay_input=True, v_threshold=1.0, v_reset=0.0):
    """The issue's equations in plain Python floats, one neuron and one step at a time."""
    flat = x_seq.double().reshape(x_seq.shape[0], -1).tolist()
    vr = 0.0 if v_reset is None else v_reset
    v = [vr] * len(flat[0])
    spikes, membranes = [], []
    for row in flat:
        s_row, v_row = [], []
        for x, v_old in zip(row, v):
            if kind == "if":
                h = v_old + x
            elif decay_input:
                h = v_old + (x - (v_old - vr)) / tau
            else:
                h = v_old - (v_old - vr) / tau + x
            s = 1.0 if h >= v_threshold else 0.0
            v_row.append(h * (1 - s) + v_reset * s if v_reset is not None else h - v_threshold * s)
            s_row.append(s)
        v = v_row
        spikes.append(s_row)
        membranes.append(v_row)
    shape = x_seq.shape
    return (
        torch.tensor(spikes, dtype=torch.float64).reshape(shape),
        torch.tensor(membranes, dtype=torch.float64).reshape(shape),
    )


def reference_autograd(x_seq, v, kind, inv_tau, decay_input, v_threshold, v_reset, detach_reset, alpha=2.0):
    """The same equations step by step in torch ops (written here), autograd through every step."""
    vr = 0.0 if v_reset is None else v_reset
    spikes = []
    for x in x_seq:
        if kind == "if":
            h = v + x
        elif decay_input:
            h = v + (x - (v - vr)) * inv_tau
        else:
            h = v - (v - vr) * inv_tau + x
        s = surrogate.atan(h - v_threshold, alpha)
        s_reset = s.detach() if detach_reset else s
        v = h * (1 - s_reset) + v_reset * s_reset if v_reset is not None else h - v_threshold * s_reset
        spikes.append(s)
    return torch.stack(spikes), v


def inputs(t=12, shape=(3, 5), dtype=torch.float64, seed=0, scale=2.6):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(t, *shape, generator=g, dtype=torch.float64) * scale - 0.2).to(dtype)


def run(node, x_seq):
    if node.step_mode == "m":
        return node(x_seq)
    return torch.stack([node(x) for x in x_seq])


@pytest.mark.parametrize(("name", "make", "kind", "tau"), NODES, ids=NODE_IDS)
@pytest.mark.parametrize("v_reset", [0.0, None, -0.3])
@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_spikes_and_membrane_match_the_plain_python_reference(
    name, make, kind, tau, v_reset, decay_input, step_mode
):
    if kind == "if" and not decay_input:
        pytest.skip("IF has no decay_input")
    kwargs = {} if kind == "if" else {"decay_input": decay_input}
    node = make(v_reset=v_reset, step_mode=step_mode, store_v_seq=True, **kwargs).double()
    x = inputs()
    s = run(node, x)
    s_ref, v_ref = reference(x, kind, None if kind == "if" else node.tau, decay_input, 1.0, v_reset)
    assert 0 < s.mean() < 1
    torch.testing.assert_close(s, s_ref, rtol=0, atol=0)
    torch.testing.assert_close(node.v, v_ref[-1], rtol=1e-12, atol=1e-12)
    if step_mode == "m":
        torch.testing.assert_close(node.v_seq, v_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("name", "make", "kind", "tau"), NODES, ids=NODE_IDS)
@pytest.mark.parametrize("v_reset", [0.0, None])
@pytest.mark.parametrize("detach_reset", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_a_per_step_autograd_reference(name, make, kind, tau, v_reset, detach_reset, backend):
    decay_input = name != "PLIF"  # PLIF runs without decay_input to cover the other charge
    kwargs = {} if kind == "if" else {"decay_input": decay_input}
    node = make(v_reset=v_reset, detach_reset=detach_reset, step_mode="m", backend=backend, **kwargs).double()
    x = inputs().requires_grad_(True)
    upstream = torch.randn(x.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    (node(x) * upstream).sum().backward()

    w = node.w.detach().clone().requires_grad_(True) if name == "PLIF" else None
    inv_tau = torch.sigmoid(w) if w is not None else (None if tau is None else 1.0 / tau)
    x_ref = x.detach().clone().requires_grad_(True)
    v0 = torch.full(x.shape[1:], 0.0 if v_reset is None else v_reset, dtype=torch.float64)
    s_ref, _ = reference_autograd(x_ref, v0, kind, inv_tau, decay_input, 1.0, v_reset, detach_reset)
    (s_ref * upstream).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-10, atol=1e-12)
    if w is not None:
        torch.testing.assert_close(node.w.grad, w.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("name", "make", "kind", "tau"), NODES, ids=NODE_IDS)
@settings(max_examples=15)
@given(data=sequences_and_splits(max_t=16, max_dim=4, dtype=torch.float64))
def test_chunks_equal_whole_equal_single_steps_with_gradients(name, make, kind, tau, data):
    x, chunks = data
    x = x * 2.6

    def outputs(step_mode, pieces):
        node = make(step_mode=step_mode, v_reset=None if name == "IF" else 0.0).double()
        xr = x.clone().requires_grad_(True)
        if step_mode == "s":
            s = torch.stack([node(xt) for xt in xr])
        else:
            s = torch.cat([node(p) for p in torch.split(xr, pieces)])
        upstream = torch.linspace(-1, 1, s.numel(), dtype=torch.float64).reshape(s.shape)
        ((s * upstream).sum() + node.v.sum()).backward()
        grads = [xr.grad] + [p.grad for p in node.parameters()]
        return [s, node.v, *grads]

    whole = outputs("m", [x.shape[0]])
    for other in (outputs("m", chunks), outputs("s", None)):
        for a, b in zip(whole, other):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_flows_into_the_carried_in_membrane(backend):
    node = neuron.LIFNode(tau=2.0, step_mode="m", backend=backend).double()
    x = inputs()
    node(x[:5])
    v_carried = node.v.detach().clone().requires_grad_(True)
    node.v = v_carried
    node(x[5:]).sum().backward()
    v_ref = v_carried.detach().clone().requires_grad_(True)
    s_ref, _ = reference_autograd(x[5:], v_ref, "lif", 0.5, True, 1.0, 0.0, False)
    s_ref.sum().backward()
    assert v_carried.grad.abs().sum() > 0
    torch.testing.assert_close(v_carried.grad, v_ref.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("name", "make", "kind", "tau"), NODES, ids=NODE_IDS)
def test_membrane_starts_at_v_reset_or_zero_under_soft_reset(name, make, kind, tau):
    assert make(v_reset=-0.5).v == -0.5
    assert make(v_reset=None).v == 0.0


@pytest.mark.parametrize(("name", "make", "kind", "tau"), NODES, ids=NODE_IDS)
def test_reset_restores_the_membrane_and_clears_v_seq(name, make, kind, tau):
    node = make(step_mode="m", store_v_seq=True, v_reset=-0.1)
    node(torch.rand(4, 2, 3))
    assert node.v.shape == (2, 3) and node.v_seq.shape == (4, 2, 3)
    functional.reset_net(node)
    assert node.v == -0.1 and node.v_seq is None


@pytest.mark.parametrize(("name", "make", "kind", "tau"), NODES, ids=NODE_IDS)
@pytest.mark.parametrize("step_mode", ["s", "m"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("per_channel", [False, True], ids=["shared_tau", "per_channel_tau"])
def test_deepcopy_and_pickle_continue_exactly_as_the_original(
    name, make, kind, tau, step_mode, backend, per_channel
):
    if per_channel and kind == "if":
        pytest.skip("IF has no tau")
    kwargs = {"tau": torch.tensor([1.5, 2.0, 3.0, 4.0, 6.0])} if per_channel else {}
    node = make(
        v_reset=-0.3, surrogate_function=surrogate.ATan(alpha=3.0), step_mode=step_mode, backend=backend,
        store_v_seq=step_mode == "m", **kwargs,
    ).double()  # fmt: skip
    if name == "PLIF":
        with torch.no_grad():
            node.w.add_(torch.linspace(-0.4, 0.3, node.w.numel()).reshape(node.w.shape))  # a trained tau
    x = inputs(t=14)
    run(node, x[:6].clone().requires_grad_(True))  # the membrane is part of the graph when copied
    assert node.v.requires_grad
    upstream = torch.randn(x[6:].shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    s = assert_copies_continue_like_the_original(node, run, x[6:], upstream)
    if per_channel:  # the reference runs one channel (last dimension) at a time
        taus = node.tau.tolist()
        s_ref = torch.stack(
            [reference(x[..., c], kind, t, True, 1.0, -0.3)[0] for c, t in enumerate(taus)], -1
        )
    else:
        s_ref, _ = reference(x, kind, None if kind == "if" else node.tau, True, 1.0, -0.3)
    assert 0 < s.mean() < 1
    assert torch.equal(s, s_ref[6:])


def test_v_seq_is_only_kept_when_asked():
    node = neuron.IFNode(step_mode="m")
    node(torch.rand(4, 3))
    assert node.v_seq is None


def test_a_new_input_shape_without_reset_raises_the_reset_net_error():
    node = neuron.LIFNode(step_mode="m")
    node(torch.rand(4, 2, 3))
    with pytest.raises(ValueError, match="reset_net"):
        node(torch.rand(4, 5, 3))


def test_empty_sequence_gives_no_spikes_and_keeps_the_membrane():
    node = neuron.IFNode(step_mode="m")
    node(torch.full((1, 3), 0.5))
    assert node(torch.empty(0, 3)).shape == (0, 3)
    torch.testing.assert_close(node.v, torch.full((3,), 0.5))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_spikes_and_membrane_keep_the_input_dtype(dtype):
    node = neuron.ParametricLIFNode(step_mode="m").to(dtype)
    s = node(inputs(dtype=dtype))
    assert s.dtype == dtype and node.v.dtype == dtype


def test_plif_holds_one_learnable_w_with_sigmoid_w_equal_to_one_over_tau():
    node = neuron.ParametricLIFNode(init_tau=4.0)
    assert [n for n, _ in node.named_parameters()] == ["w"]
    assert node.w.item() == pytest.approx(-math.log(3.0))
    assert torch.sigmoid(node.w).item() == pytest.approx(0.25)
    assert node.tau == pytest.approx(4.0)


def test_lif_and_if_have_no_parameters_and_memories_are_not_in_the_state_dict():
    for node in (neuron.IFNode(), neuron.LIFNode()):
        assert list(node.parameters()) == []
        node(torch.rand(3))
        assert "v" not in node.state_dict()


def test_constructor_arguments_follow_spikingjelly_order():
    atan = surrogate.ATan()
    lif = neuron.LIFNode(3.0, False, 0.5, None, atan, True, "m")
    assert (lif.tau, lif.decay_input, lif.v_threshold, lif.v_reset) == (3.0, False, 0.5, None)
    assert (lif.surrogate_function is atan, lif.detach_reset, lif.step_mode) == (True, True, "m")
    plif = neuron.ParametricLIFNode(3.0, False, 0.5, None, atan, True, "m")
    assert (plif.decay_input, plif.v_threshold, plif.detach_reset, plif.step_mode) == (False, 0.5, True, "m")
    if_node = neuron.IFNode(0.5, None, atan, True, "m")
    assert (if_node.v_threshold, if_node.v_reset, if_node.detach_reset) == (0.5, None, True)


def test_default_surrogate_is_atan_with_alpha_two():
    sf = neuron.LIFNode().surrogate_function
    assert isinstance(sf, surrogate.ATan) and sf.alpha == 2.0


def test_repr_shows_the_neuron_settings():
    assert "tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0, detach_reset=False, step_mode=s" in repr(
        neuron.LIFNode()
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tau": 1.0}, ValueError, "tau must be > 1"),
        ({"tau": 0.5}, ValueError, "tau must be > 1"),
        ({"tau": "2"}, TypeError, "tau must be a real number"),
        ({"tau": float("nan")}, ValueError, "tau must be finite"),
        ({"v_threshold": None}, TypeError, "v_threshold must be a real number"),
        ({"v_reset": 1.0}, ValueError, "v_reset .* must be below v_threshold"),
        ({"v_reset": 2.0, "v_threshold": 1.5}, ValueError, "must be below v_threshold"),
        ({"v_reset": "0"}, TypeError, "v_reset must be a real number"),
        ({"surrogate_function": "atan"}, TypeError, "surrogate_function must be callable"),
        ({"detach_reset": 1}, TypeError, "detach_reset must be True or False"),
        ({"decay_input": "yes"}, TypeError, "decay_input must be True or False"),
        ({"store_v_seq": None}, TypeError, "store_v_seq must be True or False"),
        ({"step_mode": "x"}, ValueError, "step_mode must be one of"),
        ({"backend": "cupy"}, ValueError, "backend must be one of"),
    ],
)
def test_invalid_arguments_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        neuron.LIFNode(**kwargs)


def test_plif_checks_init_tau():
    with pytest.raises(ValueError, match="init_tau must be > 1"):
        neuron.ParametricLIFNode(init_tau=1.0)


def test_lif_tau_can_be_set_and_is_checked():
    node = neuron.LIFNode()
    node.tau = 5.0
    assert node.tau == 5.0
    with pytest.raises(ValueError, match="tau must be > 1"):
        node.tau = 0.9


def test_multi_step_rejects_input_without_a_time_dimension():
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        neuron.IFNode(step_mode="m")(torch.tensor(1.0))


def test_a_custom_surrogate_runs_the_torch_walk_and_matches_the_reference():
    class Custom(torch.nn.Module):  # not a built-in: the numba kernel cannot evaluate it
        def forward(self, x):
            return surrogate.atan(x, 2.0)

    node = neuron.LIFNode(tau=2.0, surrogate_function=Custom(), step_mode="m").double()
    x = inputs().requires_grad_(True)
    node(x).sum().backward()
    x_ref = x.detach().clone().requires_grad_(True)
    s_ref, _ = reference_autograd(
        x_ref, torch.zeros(3, 5, dtype=torch.float64), "lif", 0.5, True, 1.0, 0.0, False
    )
    s_ref.sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-10, atol=1e-12)


@needs_numba
def test_forcing_numba_with_a_custom_surrogate_raises_and_says_why():
    node = neuron.IFNode(surrogate_function=lambda x: surrogate.atan(x), step_mode="m", backend="numba")
    with pytest.raises(RuntimeError, match="gradient definition"):
        node(torch.rand(3, 2))
    with ops.use_backend("numba"), pytest.raises(RuntimeError, match="gradient definition"):
        neuron.IFNode(surrogate_function=lambda x: surrogate.atan(x), step_mode="m")(torch.rand(3, 2))


def test_numba_backend_is_refused_at_construction_when_numba_is_disabled(monkeypatch):
    monkeypatch.setenv(_numba.DISABLE_ENV, "1")
    with pytest.raises(ValueError, match="backend='numba' is not usable here"):
        neuron.LIFNode(backend="numba")
    node = neuron.LIFNode(step_mode="m")  # 'auto' still works, on the torch walk
    s_ref, _ = reference(inputs(), "lif", 2.0)
    torch.testing.assert_close(node.double()(inputs()), s_ref)
