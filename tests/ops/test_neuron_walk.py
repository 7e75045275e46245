"""The fused neuron walks (torch and numba) against the per-step loop, against each other, and gradcheck."""

import pytest
import torch

from spikestep import surrogate
from spikestep._runtime import numba_jit as _numba
from spikestep.functional.neuron import neuron_charge, neuron_multi_step, neuron_multi_step_loop

needs_numba = pytest.mark.skipif(not _numba.available(), reason="numba is not usable here")
BACKENDS = ["torch", pytest.param("numba", marks=needs_numba)]
SURROGATES = [surrogate.ATan(), surrogate.Sigmoid(), surrogate.PiecewiseQuadratic(alpha=0.7)]
# (inv_tau, decay_input): IF, LIF with and without decay_input, and a learnable 1/tau (a tensor).
CHARGES = [(None, True), (0.4, True), (0.4, False), ("learnable", True), ("learnable", False)]
CHARGE_IDS = ["IF", "LIF", "LIF-no-decay-input", "PLIF", "PLIF-no-decay-input"]


def sample(t=9, shape=(3, 700), dtype=torch.float32, seed=0):
    """Inputs that make neurons fire now and then, and a carried-in state."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(t, *shape, generator=g, dtype=torch.float64) * 2.4 - 0.3
    return x.to(dtype), (torch.rand(shape, generator=g, dtype=torch.float64) * 0.5).to(dtype)


def leaves(x, v0, inv_tau):
    x = x.clone().requires_grad_(True)
    v0 = v0.clone().requires_grad_(True)
    w = torch.tensor(-0.3, dtype=x.dtype, requires_grad=True) if inv_tau == "learnable" else None
    return x, v0, w


def outputs_and_grads(fn, x, v0, inv_tau, store_v_seq, seed=1):
    x, v0, w = leaves(x, v0, inv_tau)
    k = torch.sigmoid(w) if w is not None else inv_tau
    s, v = fn(x, v0, k)
    if not store_v_seq:
        v = v[-1] if v.dim() == x.dim() else v
    g = torch.Generator().manual_seed(seed)
    loss = (s * torch.randn(s.shape, generator=g, dtype=s.dtype)).sum()
    loss = loss + (v * torch.randn(v.shape, generator=g, dtype=v.dtype)).sum()
    grads = torch.autograd.grad(loss, [x, v0] + ([w] if w is not None else []))
    return [s, v, *grads]


def fused(backend, decay_input, v_reset, sf, detach_reset, store_v_seq):
    return lambda x, v0, k: neuron_multi_step(
        x, v0, k, decay_input, 1.0, v_reset, sf, detach_reset, store_v_seq, backend=backend
    )


def loop(decay_input, v_reset, sf, detach_reset):
    return lambda x, v0, k: neuron_multi_step_loop(x, v0, k, decay_input, 1.0, v_reset, sf, detach_reset)


def assert_close_to_scale(a, b, rtol):
    """Equal to ``rtol`` relative to the tensor's scale (gradients near zero differ in absolute terms)."""
    torch.testing.assert_close(a, b, rtol=rtol, atol=rtol * float(b.detach().abs().max().clamp_min(1e-30)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("inv_tau", "decay_input"), CHARGES, ids=CHARGE_IDS)
@pytest.mark.parametrize("v_reset", [0.0, None])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_fused_walk_equals_the_per_step_loop_in_float32(backend, inv_tau, decay_input, v_reset, detach_reset):
    x, v0 = sample(t=7, shape=(2, 300))
    sf = surrogate.ATan()
    got = outputs_and_grads(
        fused(backend, decay_input, v_reset, sf, detach_reset, False), x, v0, inv_tau, False
    )
    ref = outputs_and_grads(loop(decay_input, v_reset, sf, detach_reset), x, v0, inv_tau, False)
    assert 0 < got[0].mean() < 1
    torch.testing.assert_close(got[0], ref[0], rtol=0, atol=0)
    for a, b in zip(got[1:], ref[1:]):
        assert_close_to_scale(a, b, 1e-5)


RESETS = [(0.0, False), (-0.2, True), (None, False), (None, True)]  # (v_reset, detach_reset)
# Every surrogate with every charge; the reset settings rotate through them (each one is met 3-4 times).
AGREEMENT = [
    (sf, *charge, *RESETS[i % len(RESETS)])
    for i, (sf, charge) in enumerate((sf, charge) for sf in SURROGATES for charge in CHARGES)
]
AGREEMENT_IDS = [
    f"{type(case[0]).__name__}-{CHARGE_IDS[i % len(CHARGES)]}-reset{case[3]}-detach{case[4]}"
    for i, case in enumerate(AGREEMENT)
]


@needs_numba
@pytest.mark.parametrize(
    ("sf", "inv_tau", "decay_input", "v_reset", "detach_reset"), AGREEMENT, ids=AGREEMENT_IDS
)
def test_numba_and_torch_walks_agree_in_float32(sf, inv_tau, decay_input, v_reset, detach_reset):
    x, v0 = sample(t=5, shape=(4500,))  # the kernel's blocks of 4096, the last one partial
    store = not detach_reset  # the membrane sequence's gradient too, in half of the cases
    runs = [
        outputs_and_grads(fused(b, decay_input, v_reset, sf, detach_reset, store), x, v0, inv_tau, store)
        for b in ("torch", "numba")
    ]
    # Forward: same operations in the same order, so the same bits.
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    # Gradients: the same bits with ATan/PiecewiseQuadratic; Sigmoid's exp differs by an ulp between libm
    # and torch, which the reverse walk carries along.
    for a, b in zip(runs[0][2:], runs[1][2:]):
        assert_close_to_scale(b, a, 1e-6)


GRADCHECK_CONFIGS = [
    (None, True, 0.0, False),
    (0.4, True, None, True),
    ("learnable", True, 0.0, False),
    ("learnable", False, None, False),
]
GRADCHECK_IDS = ["IF-hard", "LIF-soft-detach", "PLIF-hard", "PLIF-no-decay-input-soft"]


def gradcheck_walk(x, v0, w, inv_tau, decay_input, v_reset, detach_reset, sf, store_v_seq, backend):
    def fn(x, v0, *w):
        k = torch.sigmoid(w[0]) if w else inv_tau
        return neuron_multi_step(
            x, v0, k, decay_input, 1.0, v_reset, sf, detach_reset, store_v_seq, backend=backend
        )

    args = (x, v0, *([w] if w is not None else []))
    return torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("inv_tau", "decay_input", "v_reset"), [c[:3] for c in GRADCHECK_CONFIGS], ids=GRADCHECK_IDS
)
@pytest.mark.parametrize("store_v_seq", [False, True])
def test_gradcheck_of_the_torch_walk_with_a_smooth_surrogate(inv_tau, decay_input, v_reset, store_v_seq):
    # spiking=False fires sigmoid(alpha (H - V_th)) instead of spikes: the forward is smooth and the
    # surrogate gradient is its true derivative, so finite differences check every term of the backward.
    # (Not detach_reset, which drops a term of the true derivative on purpose.)
    x, v0 = sample(5, (3,), torch.float64)
    x, v0, w = leaves(x, v0, inv_tau)
    sf = surrogate.Sigmoid(alpha=2.0, spiking=False)
    assert gradcheck_walk(x, v0, w, inv_tau, decay_input, v_reset, False, sf, store_v_seq, "torch")


def away_from_threshold(t, shape, inv_tau, decay_input, v_reset, margin):
    """Float64 inputs whose every H stays ``margin`` away from the threshold. Searches seeds."""
    for seed in range(500):
        x, v0 = sample(t, shape, torch.float64, seed)
        k = torch.sigmoid(torch.tensor(-0.3, dtype=torch.float64)) if inv_tau == "learnable" else inv_tau
        v, ok, fired = v0, True, False
        for xt in x:
            h = neuron_charge(xt, v, k, decay_input, v_reset)
            ok = ok and bool(((h - 1.0).abs() > margin).all())
            s = (h >= 1.0).double()
            fired = fired or bool(s.any())
            v = h * (1 - s) + s * v_reset if v_reset is not None else h - s
        if ok and fired:
            return x, v0
    raise AssertionError("no seed keeps H away from the threshold; lower the margin")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("inv_tau", "decay_input", "v_reset", "detach_reset"), GRADCHECK_CONFIGS, ids=GRADCHECK_IDS
)
@pytest.mark.parametrize("store_v_seq", [False, True])
def test_gradcheck_of_both_walks_with_spikes_away_from_the_threshold(
    backend, inv_tau, decay_input, v_reset, detach_reset, store_v_seq
):
    # With real spikes the surrogate gradient is not the derivative of the forward, except where it is
    # zero: PiecewiseQuadratic(alpha=50) vanishes for |H - V_th| >= 0.02, and every H stays 0.05 away
    # (finite differences near the threshold would flip spikes anyway). What is left, the charge, the
    # reset and the walk back over time to x, the carried state and w, must match finite differences.
    x, v0 = away_from_threshold(5, (3,), inv_tau, decay_input, v_reset, margin=0.05)
    x, v0, w = leaves(x, v0, inv_tau)
    sf = surrogate.PiecewiseQuadratic(alpha=50.0)
    assert gradcheck_walk(x, v0, w, inv_tau, decay_input, v_reset, detach_reset, sf, store_v_seq, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_sum_loss_gradient_equals_the_same_loss_with_an_explicit_upstream(backend):
    x, v0 = sample()
    results = []
    for explicit in (False, True):
        xr = x.clone().requires_grad_(True)
        s, _ = neuron_multi_step(xr, v0, 0.4, backend=backend)
        s.backward(torch.ones_like(s)) if explicit else s.sum().backward()
        results.append(xr.grad)
    torch.testing.assert_close(results[0], results[1], rtol=0, atol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_loss_on_the_membrane_alone_still_reaches_the_input(backend):
    x, v0 = sample()
    xr = x.clone().requires_grad_(True)
    _, v = neuron_multi_step(xr, v0, 0.4, backend=backend)
    v.sum().backward()
    xr_ref = x.clone().requires_grad_(True)
    _, v_ref = neuron_multi_step_loop(xr_ref, v0, 0.4)
    v_ref[-1].sum().backward()
    assert_close_to_scale(xr.grad, xr_ref.grad, 1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_without_gradients_need_no_autograd(backend):
    x, v0 = sample(t=3, shape=(4,))
    s, v = neuron_multi_step(x, v0, 0.4, backend=backend)
    assert not s.requires_grad and not v.requires_grad


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_contiguous_input_gives_the_contiguous_result(backend):
    x, v0 = sample(t=6, shape=(8, 5))
    xt = x.transpose(1, 2)
    s, v = neuron_multi_step(xt, v0.t(), 0.4, backend=backend)
    s_ref, v_ref = neuron_multi_step(xt.contiguous(), v0.t().contiguous(), 0.4, backend=backend)
    assert torch.equal(s, s_ref) and torch.equal(v, v_ref)


def test_unknown_backend_is_a_value_error():
    x, v0 = sample(t=2, shape=(2,))
    with pytest.raises(ValueError, match="backend must be one of"):
        neuron_multi_step(x, v0, backend="cuda")


@needs_numba
def test_a_walk_large_enough_to_run_in_parallel_equals_the_torch_walk():
    x, v0 = sample(t=8, shape=(20_000,))  # 160k neuron-steps: over the one-thread limit, 5 blocks
    runs = [
        outputs_and_grads(fused(b, True, 0.0, surrogate.ATan(), False, False), x, v0, "learnable", False)
        for b in ("torch", "numba")
    ]
    for a, b in zip(*runs):
        assert_close_to_scale(b, a, 1e-6)
