"""ParametricLIFNode's learnable-tau gradient with a non-zero (or soft) reset, against a plain autograd loop.

The loop is written here from the neuron's equations, independently of the library's walks: every
backend must give the gradients autograd gives through it, for ``w`` (``1/tau = sigmoid(w)``) and for the
input, with ``v_reset = -0.3`` (the charge leaks towards it and the reset sets it) and with a soft reset.
"""

import pytest
import torch

from spikestep import neuron, ops, surrogate
from spikestep._runtime import numba_jit

BACKENDS = [
    "torch",
    pytest.param(
        "numba", marks=pytest.mark.skipif(not numba_jit.available(), reason="numba is not usable here")
    ),
]
V_THRESHOLD = 1.0
C = 5


def plif_loop(x_seq, w, decay_input, v_reset, v_threshold=V_THRESHOLD):
    """The PLIF equations, one step at a time in plain torch ops, autograd through every step.

    ``k = sigmoid(w)``; charge ``H = V + (X - (V - V_reset)) k`` (decay_input) or
    ``H = V - (V - V_reset) k + X``; fire ``S = surrogate(H - V_th)`` with ATan (Heaviside forward,
    arctangent backward); reset ``V = H (1 - S) + V_reset S`` (hard), ``V = H - V_th S`` (soft, where
    ``V_reset`` reads as 0 in the charge). Returns the spikes ``[T, ...]`` and the last membrane.
    """
    spike = surrogate.ATan()
    k = torch.sigmoid(w)
    vr = 0.0 if v_reset is None else v_reset
    v = torch.full_like(x_seq[0], vr)
    spikes = []
    for x in x_seq:
        h = v + (x - (v - vr)) * k if decay_input else v - (v - vr) * k + x
        s = spike(h - v_threshold)
        v = h * (1 - s) + v_reset * s if v_reset is not None else h - v_threshold * s
        spikes.append(s)
    return torch.stack(spikes), v


def sample(seed, decay_input=True, t=20, batch=3):
    """Inputs that make every channel fire now and then (a scaled input charges by less), and upstream
    gradients for the spikes and the last membrane."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(t, batch, C, generator=g, dtype=torch.float64) * (3.6 if decay_input else 1.5) - 0.3
    upstream_s = torch.randn(t, batch, C, generator=g, dtype=torch.float64)
    upstream_v = torch.randn(batch, C, generator=g, dtype=torch.float64)
    return x, upstream_s, upstream_v


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("v_reset", [-0.3, None], ids=["hard_reset_-0.3", "soft_reset"])
@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize(
    "init_tau",
    [3.0, torch.tensor([1.5, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)],
    ids=["shared_tau", "per_channel_tau"],
)
def test_plif_w_and_input_gradients_equal_the_autograd_loop(backend, v_reset, decay_input, init_tau):
    node = neuron.ParametricLIFNode(
        init_tau=init_tau, decay_input=decay_input, v_reset=v_reset, step_mode="m"
    ).double()
    assert node.w.shape == (() if isinstance(init_tau, float) else (C,))
    x, upstream_s, upstream_v = sample(seed=7, decay_input=decay_input)

    x_node = x.clone().requires_grad_(True)
    with ops.use_backend(backend):
        assert node.backend_for(x_node) == backend  # the backend asked for is the one that runs
        s = node(x_node)
        loss = (s * upstream_s).sum() + (node.v * upstream_v).sum()
        loss.backward()

    w_ref = node.w.detach().clone().requires_grad_(True)
    x_ref = x.clone().requires_grad_(True)
    s_ref, v_ref = plif_loop(x_ref, w_ref, decay_input, v_reset)
    ((s_ref * upstream_s).sum() + (v_ref * upstream_v).sum()).backward()

    rate = s_ref.detach().mean((0, 1))
    assert ((rate > 0.05) & (rate < 0.8)).all()  # every channel fires and resets, not at every step
    torch.testing.assert_close(s, s_ref, rtol=0, atol=0)
    torch.testing.assert_close(node.v, v_ref, rtol=1e-9, atol=1e-9)
    assert node.w.grad.shape == node.w.shape
    assert w_ref.grad.abs().min() > 1e-3  # a gradient worth comparing, for every channel
    torch.testing.assert_close(node.w.grad, w_ref.grad, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(x_node.grad, x_ref.grad, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_v_reset_moves_the_w_gradient_by_far_more_than_the_tolerance(backend):
    """``v_reset`` enters the ``w`` gradient (through the leak towards it and through the reset): a walk
    that treated it as 0 there would be off by far more than the 1e-9 the test above allows."""
    x, upstream_s, upstream_v = sample(seed=11)
    grads = []
    for v_reset in (0.0, -0.3):
        node = neuron.ParametricLIFNode(init_tau=2.0, v_reset=v_reset, step_mode="m").double()
        with ops.use_backend(backend):
            s = node(x)
            ((s * upstream_s).sum() + (node.v * upstream_v).sum()).backward()
        w = node.w.detach().clone().requires_grad_(True)
        s_ref, v_ref = plif_loop(x, w, True, v_reset)
        ((s_ref * upstream_s).sum() + (v_ref * upstream_v).sum()).backward()
        torch.testing.assert_close(node.w.grad, w.grad, rtol=1e-9, atol=1e-9)
        grads.append(w.grad.item())
    assert abs(grads[0] - grads[1]) > 1e-3
