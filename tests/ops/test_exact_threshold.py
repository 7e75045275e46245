"""A membrane that lands exactly on the threshold fires (``H - V_th >= 0``), on every backend, in single- and
multi-step mode, in float32 and float64. The inputs are dyadic, so every H below is exact in both dtypes.

The Triton kernels run on CUDA, or on the CPU under Triton's interpreter (``TRITON_INTERPRET=1``, set here
when there is no GPU, as ``test_triton_walks.py`` does).
"""

import pytest
import torch
from backends import BACKENDS, TRITON_DEVICE

from spikestep import neuron, ops, surrogate
from spikestep.functional.neuron import neuron_multi_step, neuron_step

DTYPES = [torch.float32, torch.float64]


def device_of(backend):
    return TRITON_DEVICE if backend == "triton" else torch.device("cpu")


# name: (make the neuron, inputs [T] or [T, C], expected spikes, expected membranes)
CASES = {
    # 0.5 + 0.5 = 1.0 = V_th exactly, twice.
    "IF": (lambda **kw: neuron.IFNode(**kw), [0.5, 0.5, 0.25, 0.75], [0, 1, 0, 1], [0.5, 0.0, 0.25, 0.0]),
    # Reset to -0.5: -0.5 + 0.75 + 0.75 = 1.0.
    "IF-negative-reset": (
        lambda **kw: neuron.IFNode(v_reset=-0.5, **kw),
        [0.75, 0.75, 0.5, 1.0],
        [0, 1, 0, 1],
        [0.25, -0.5, 0.0, -0.5],
    ),
    # V_th = 0.5: 0.25 + 0.25.
    "IF-threshold-0.5": (
        lambda **kw: neuron.IFNode(v_threshold=0.5, **kw),
        [0.25, 0.25, 0.125, 0.375],
        [0, 1, 0, 1],
        [0.25, 0.0, 0.125, 0.0],
    ),
    # Soft reset: 1.25 fires and keeps 0.25; 0.25 + 0.75 = 1.0 fires and keeps 0.
    "IF-soft": (
        lambda **kw: neuron.IFNode(v_reset=None, **kw),
        [1.25, 0.75, 0.5, 0.5],
        [1, 1, 0, 1],
        [0.25, 0.0, 0.5, 0.0],
    ),
    # tau = 2, decay_input: H = V/2 + X/2: 2.0 -> 1.0; 1.0 -> 0.5; 0.25 + 0.75 = 1.0.
    "LIF": (lambda **kw: neuron.LIFNode(tau=2.0, **kw), [2.0, 1.0, 1.5], [1, 0, 1], [0.0, 0.5, 0.0]),
    # tau = 2, no decay_input: H = V/2 + X: 1.0; 0.5; 0.25 + 0.75 = 1.0.
    "LIF-no-decay-input": (
        lambda **kw: neuron.LIFNode(tau=2.0, decay_input=False, **kw),
        [1.0, 0.5, 0.75],
        [1, 0, 1],
        [0.0, 0.5, 0.0],
    ),
    # tau = 2, soft reset: 2.5 -> 1.25 fires and keeps 0.25; 0.125 + 0.875 = 1.0 fires and keeps 0.
    "LIF-soft": (
        lambda **kw: neuron.LIFNode(tau=2.0, v_reset=None, **kw),
        [2.5, 1.75, 1.0],
        [1, 1, 0],
        [0.25, 0.0, 0.5],
    ),
    # Per channel: tau = 2 and tau = 4 (H = 3/4 V + X/4), each landing on 1.0 twice.
    "LIF-per-channel": (
        lambda **kw: neuron.LIFNode(tau=torch.tensor([2.0, 4.0]), **kw),
        [[2.0, 4.0], [1.0, 2.0], [1.5, 2.5]],
        [[1, 1], [0, 0], [1, 1]],
        [[0.0, 0.0], [0.5, 0.5], [0.0, 0.0]],
    ),
    # PLIF with init_tau = 2: sigmoid(-log(1)) = 1/2 exactly.
    "PLIF": (
        lambda **kw: neuron.ParametricLIFNode(init_tau=2.0, **kw),
        [2.0, 1.0, 1.5],
        [1, 0, 1],
        [0.0, 0.5, 0.0],
    ),
}


def case(name, dtype, backend):
    make, x, spikes, membranes = CASES[name]
    x = torch.tensor(x, dtype=dtype)
    x = x.unsqueeze(-1) if x.dim() == 1 else x.unsqueeze(1)  # [T, 1] or [T, 1, C]
    expected = torch.tensor(spikes, dtype=dtype).reshape(x.shape)
    expected_v = torch.tensor(membranes, dtype=dtype).reshape(x.shape)
    return make, x.to(device_of(backend)), expected, expected_v


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(CASES))
def test_multi_step_fires_on_the_threshold(name, backend, dtype):
    make, x, expected, expected_v = case(name, dtype, backend)
    node = make(step_mode="m", backend=backend, store_v_seq=True).to(device=x.device, dtype=dtype)
    assert node.backend_for(x) == backend
    with torch.no_grad():
        s = node(x)
    assert s.dtype == dtype
    assert s.cpu().tolist() == expected.tolist()
    assert node.v_seq.cpu().tolist() == expected_v.tolist()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(CASES))
def test_single_steps_fire_on_the_threshold(name, backend, dtype):
    make, x, expected, expected_v = case(name, dtype, backend)
    node = make(step_mode="s", backend=backend).to(device=x.device, dtype=dtype)
    with torch.no_grad(), ops.use_backend(backend):
        spikes, membranes = [], []
        for x_t in x:
            spikes.append(node(x_t))
            membranes.append(node.v)
    assert torch.stack(spikes).cpu().tolist() == expected.tolist()
    assert torch.stack(membranes).cpu().tolist() == expected_v.tolist()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("backend", BACKENDS)
def test_functional_walk_and_step_fire_on_the_threshold(backend, dtype):
    x = torch.tensor([0.5, 0.5, 0.25, 0.75], dtype=dtype, device=device_of(backend)).reshape(4, 1)
    s, _ = neuron_multi_step(x, 0.0, backend=backend)
    assert s.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]
    v = torch.zeros(1, dtype=dtype, device=x.device)
    steps = []
    for x_t in x:
        s_t, v = neuron_step(x_t, v, backend=backend)
        steps.append(s_t.item())
    assert steps == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", ["IF", "IF-soft", "LIF", "LIF-per-channel"])
def test_the_generic_walk_fires_on_the_threshold_too(name, dtype):
    # A surrogate given as a plain function runs the generic PyTorch walk: same firing rule.
    make, x, expected, expected_v = case(name, dtype, "torch")
    node = make(step_mode="m", store_v_seq=True, surrogate_function=lambda h: surrogate.atan(h))
    node = node.to(dtype)
    assert node.backend_for(x).startswith("torch (generic walk")
    with torch.no_grad():
        assert node(x).tolist() == expected.tolist()
    assert node.v_seq.tolist() == expected_v.tolist()
