"""One meaning for NaN and infinities (``spikestep/ops/neuron/math.py``, ``ops/synapse_filter/math.py``), the
same on every backend (torch, numba, Triton) and in both step modes.

Neurons: NaN propagates (a NaN membrane stays NaN and never fires); +inf fires and resets (hard reset to
``v_reset``; soft reset: ``inf - v_threshold = inf``, so it fires at every step); -inf never fires. The
synapse filter follows its formula ``I = (1 - (1 - x) k) I[-1] + x`` in IEEE arithmetic.

The Triton kernels run on a CUDA device, or on the CPU under Triton's interpreter (``TRITON_INTERPRET=1``,
set here as ``tests/ops/test_triton_walks.py`` sets it, before the kernels are first loaded).
"""

import math

import pytest
import torch
from backends import BACKENDS, TRITON_DEVICE

from spikestep import layer, neuron, surrogate

NAN, INF = math.nan, math.inf

STEP_MODES = ["s", "m"]
# Triton's interpreter computes in numpy, which warns about the NaN that inf * 0 makes on purpose here.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

NODES = {
    "IF": lambda **kw: neuron.IFNode(**kw),
    "LIF": lambda **kw: neuron.LIFNode(tau=2.0, **kw),
    "PLIF": lambda **kw: neuron.ParametricLIFNode(init_tau=2.0, **kw),
}

# Columns: NaN at step 0; +inf at step 0; -inf at step 0; +inf at step 2 after a finite start; a finite
# neuron next to them. Every other input is finite and below the threshold on its own.
X = torch.tensor(
    [
        [NAN, INF, -INF, 0.25, 0.5],
        [0.25, 0.25, 0.25, 0.25, 0.75],
        [0.5, 0.5, 0.5, INF, 0.25],
        [0.25, 0.25, 0.25, 0.25, 0.5],
    ]
).unsqueeze(1)  # [T, B=1, 5]


def _device(backend):
    return TRITON_DEVICE if backend == "triton" else torch.device("cpu")


def _run_node(name, backend, step_mode, v_reset, store_v_seq=True):
    node = NODES[name](step_mode=step_mode, v_reset=v_reset, backend=backend, store_v_seq=store_v_seq)
    node = node.to(_device(backend))
    x = X.to(_device(backend))
    if step_mode == "m":
        s = node(x)
        return s.cpu(), node.v_seq.cpu()
    spikes, membranes = [], []
    for xt in x:
        spikes.append(node(xt))
        membranes.append(node.v)
    return torch.stack(spikes).cpu(), torch.stack(membranes).detach().cpu()


def _same(a, b):
    torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", NODES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_hard_reset_nan_propagates_without_firing_inf_fires_and_resets_minus_inf_never_fires(
    name, backend, step_mode
):
    s, v = _run_node(name, backend, step_mode, v_reset=-0.5)
    s, v = s[:, 0], v[:, 0]
    assert torch.equal(s[:, 0], torch.zeros(4)) and v[:, 0].isnan().all()  # NaN: silent, NaN for good
    assert s[0, 1] == 1 and v[0, 1] == -0.5  # +inf: fires, resets to v_reset ...
    assert v[1:, 1].isfinite().all()  # ... and carries on from there
    assert torch.equal(s[:, 2], torch.zeros(4)) and torch.equal(v[:, 2], torch.full((4,), -INF))
    assert s[2, 3] == 1 and v[2, 3] == -0.5 and v[3, 3].isfinite()  # +inf later on: the same


@pytest.mark.parametrize("name", NODES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_soft_reset_inf_fires_at_every_later_step(name, backend, step_mode):
    s, v = _run_node(name, backend, step_mode, v_reset=None)
    s, v = s[:, 0], v[:, 0]
    assert torch.equal(s[:, 0], torch.zeros(4)) and v[:, 0].isnan().all()
    assert torch.equal(s[:, 1], torch.ones(4)) and torch.equal(v[:, 1], torch.full((4,), INF))
    assert torch.equal(s[:, 2], torch.zeros(4)) and torch.equal(v[:, 2], torch.full((4,), -INF))
    assert torch.equal(s[2:, 3], torch.ones(2)) and torch.equal(v[2:, 3], torch.full((2,), INF))


@pytest.mark.parametrize("name", NODES)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("step_mode", STEP_MODES)
@pytest.mark.parametrize("v_reset", [0.0, -0.5, None])
def test_every_backend_and_step_mode_gives_the_torch_walks_values_bit_for_bit(
    name, backend, step_mode, v_reset
):
    expected = _run_node(name, "torch", "m", v_reset)
    got = _run_node(name, backend, step_mode, v_reset)
    _same(got[0], expected[0])
    _same(got[1], expected[1])


@pytest.mark.parametrize("v_reset", [0.0, -0.5, None])
@pytest.mark.parametrize("step_mode", STEP_MODES)
def test_the_generic_walk_gives_the_operators_non_finite_values(v_reset, step_mode):
    expected = _run_node("LIF", "torch", "m", v_reset)
    node = neuron.LIFNode(
        tau=2.0, v_reset=v_reset, surrogate_function=lambda h: surrogate.heaviside(h), step_mode=step_mode
    )
    assert "generic walk" in node.backend_for(X)
    if step_mode == "m":
        node.store_v_seq = True
        s, v = node(X), node.v_seq
    else:
        s, v = [], []
        for xt in X:
            s.append(node(xt))
            v.append(node.v)
        s, v = torch.stack(s), torch.stack(v)
    _same(s, expected[0])
    _same(v, expected[1])


# ------------------------------------------------------------------------------------------ synapse filter

# Columns: NaN; +inf on a zero current (inf * 0: NaN); +inf on a positive current (+inf, kept by 0/1
# spikes); -inf on a positive current (-inf); -inf on a zero current (NaN); a finite current.
X_SYN = torch.tensor(
    [
        [NAN, 0.0, 1.0, 1.0, 0.0, 1.0],
        [0.0, INF, INF, -INF, -INF, 0.0],
        [1.0, 0.0, 0.0, 0.0, 1.0, 1.0],
        [0.0, 1.0, 0.0, 1.0, 0.0, 0.0],
    ]
)


def _formula(x_seq, inv_tau):
    """``a = 1 - (1 - x) k``, ``I = a I[-1] + x`` in Python floats (IEEE arithmetic), from ``I = 0``."""
    current = [0.0] * x_seq.shape[1]
    rows = []
    for row in x_seq.tolist():
        current = [(1.0 - (1.0 - x) * inv_tau) * i + x for i, x in zip(current, row)]
        rows.append(current)
    return torch.tensor(rows)


def test_the_synapse_filter_formula_gives_nan_and_infinities_where_expected():
    i = _formula(X_SYN, 0.5)
    assert i[:, 0].isnan().all()
    assert i[1, 1].isnan() and i[1:, 1].isnan().all()
    assert torch.equal(i[1:, 2], torch.full((3,), INF))
    assert torch.equal(i[1:, 3], torch.full((3,), -INF))
    assert i[1:, 4].isnan().all()
    assert i[:, 5].isfinite().all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("step_mode", STEP_MODES)
@pytest.mark.parametrize("learnable", [False, True])
def test_the_synapse_filter_follows_its_formula_on_every_backend_and_in_both_step_modes(
    backend, step_mode, learnable
):
    from spikestep import ops

    device = _device(backend)
    syn = layer.SynapseFilter(tau=2.0, learnable=learnable, step_mode=step_mode).to(device)
    x = X_SYN.to(device)
    with ops.use_backend(backend), torch.no_grad():
        got = syn(x) if step_mode == "m" else torch.stack([syn(xt) for xt in x])
    _same(got.cpu(), _formula(X_SYN, 0.5))
