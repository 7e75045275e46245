"""On a CUDA device the layers, neurons and networks give what they give on the CPU.

CUDA tensors take the Triton kernels where Triton is installed and the pure-PyTorch walks otherwise (the
numba kernels are CPU-only), so these tests are the only check that those kernels, the memories' device
moves and a training step work on a real GPU. They
are skipped where no GPU is visible (CI); run them on one with ``python -m pytest tests/test_cuda.py``.
"""

import copy

import pytest
import torch

from spikestep import functional, layer, models, neuron
from spikestep._runtime import triton_jit
from spikestep.models import DelayNet, DigitsNet
from spikestep.ops.delayed_linear import delayed_linear_walk
from spikestep.ops.delayed_linear import op as delayed_linear_op

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

CUDA = torch.device("cuda")


def _run_on(device: torch.device, make, x: torch.Tensor, chunks: int = 1):
    """Seeded module from ``make()``, run on ``device`` over ``x`` in ``chunks`` calls; returns the
    output and the gradients of a weighted sum (to the input and to every parameter), on the CPU."""
    torch.manual_seed(0)
    module = make().to(device)
    x = x.to(device).requires_grad_(True)
    out = torch.cat([module(piece) for piece in x.chunk(chunks)])
    weights = torch.linspace(-1, 1, out.numel(), device=device).reshape(out.shape)
    params = list(module.parameters())
    grads = torch.autograd.grad((out * weights).sum(), [x, *params])
    return out.detach().cpu(), [g.cpu() for g in grads]


def _assert_same_on_cpu_and_cuda(make, x, chunks=1, atol=1e-5):
    out_cpu, grads_cpu = _run_on(torch.device("cpu"), make, x, chunks)
    out_cuda, grads_cuda = _run_on(CUDA, make, x, chunks)
    torch.testing.assert_close(out_cuda, out_cpu, rtol=1e-5, atol=atol)
    for g_cuda, g_cpu in zip(grads_cuda, grads_cpu, strict=True):
        torch.testing.assert_close(g_cuda, g_cpu, rtol=1e-4, atol=atol)


@pytest.mark.parametrize("learnable", [False, True])
@pytest.mark.parametrize("chunks", [1, 3])
def test_synapse_filter_multi_step_on_cuda_matches_the_cpu(learnable, chunks):
    x = (torch.rand(48, 4, 300, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    _assert_same_on_cpu_and_cuda(
        lambda: layer.SynapseFilter(tau=5.0, learnable=learnable, step_mode="m"), x, chunks
    )


def test_synapse_filter_single_steps_on_cuda_match_multi_step():
    x = torch.rand(20, 3, 50, device=CUDA)
    multi = layer.SynapseFilter(tau=3.0, step_mode="m").to(CUDA)
    single = layer.SynapseFilter(tau=3.0, step_mode="s").to(CUDA)
    stacked = torch.stack([single(x_t) for x_t in x])
    torch.testing.assert_close(stacked, multi(x))


@pytest.mark.parametrize("chunks", [1, 4])
def test_delay_on_cuda_matches_the_cpu(chunks):
    x = torch.randn(24, 2, 5, generator=torch.Generator().manual_seed(2))
    _assert_same_on_cpu_and_cuda(lambda: layer.Delay(3, step_mode="m"), x, chunks)


NEURONS = {
    "IF": lambda: neuron.IFNode(step_mode="m"),
    "LIF": lambda: neuron.LIFNode(tau=2.0, step_mode="m"),
    "LIF soft reset, no decay_input": lambda: neuron.LIFNode(
        tau=3.0, decay_input=False, v_reset=None, step_mode="m"
    ),
    "PLIF detach_reset": lambda: neuron.ParametricLIFNode(init_tau=2.0, detach_reset=True, step_mode="m"),
}


@pytest.mark.parametrize("name", NEURONS)
@pytest.mark.parametrize("chunks", [1, 2])
def test_neurons_on_cuda_match_the_cpu(name, chunks):
    # Inputs kept a margin away from the threshold, so a last-bit difference cannot flip a spike.
    x = torch.randn(32, 4, 256, generator=torch.Generator().manual_seed(3)) * 0.6 + 0.4
    _assert_same_on_cpu_and_cuda(NEURONS[name], x, chunks)


def test_neuron_membrane_sequence_and_state_stay_on_cuda():
    node = neuron.LIFNode(step_mode="m", store_v_seq=True).to(CUDA)
    s = node(torch.rand(10, 2, 7, device=CUDA) * 2)
    assert s.device.type == "cuda" and node.v_seq.device.type == "cuda" and node.v.device.type == "cuda"
    functional.reset_net(node)
    copied = copy.deepcopy(node)
    assert copied.v_reset == node.v_reset


def test_moving_a_network_with_memories_between_cpu_and_cuda_moves_the_memories():
    net = DelayNet(hidden=8, taps=3)
    net(torch.rand(12, 2, 1))
    net.to(CUDA)
    out = net(torch.rand(5, 2, 1, device=CUDA))  # carried memories must already be on the GPU
    assert out.device.type == "cuda"
    net.cpu()
    assert net(torch.rand(5, 2, 1)).device.type == "cpu"


def test_a_few_training_steps_on_cuda_lower_the_loss():
    torch.manual_seed(0)
    net = DigitsNet(channels=8, voting_size=4).to(CUDA)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    x = torch.rand(6, 32, 64, device=CUDA)
    labels = torch.randint(0, 10, (32,), device=CUDA)
    losses = []
    for _ in range(15):
        functional.reset_net(net)
        loss = torch.nn.functional.mse_loss(net(x), torch.nn.functional.one_hot(labels, 10).float())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# --- delays: per channel, banks, learned ----------------------------------------------------------------


@pytest.mark.parametrize("chunks", [1, 4])
@pytest.mark.parametrize(
    "make",
    [
        lambda: layer.Delay(torch.tensor([0, 3, 1, 7]), step_mode="m"),
        lambda: layer.DelayBank([0, 2, 5]),
        lambda: layer.LearnableDelay(4, 6, init=torch.tensor([0.5, 2.0, 3.7, 6.0]), sigma=0.0, step_mode="m"),
        lambda: layer.LearnableDelay(4, 6, init=torch.tensor([0.5, 2.0, 3.7, 6.0]), sigma=1.5, step_mode="m"),
        lambda: models.LearnedDelayBank(4, taps=3, max_delay=6, sigma=1.0),
    ],
    ids=[
        "Delay-per-channel",
        "DelayBank",
        "LearnableDelay-linear",
        "LearnableDelay-gauss",
        "LearnedDelayBank",
    ],
)
def test_delays_on_cuda_match_the_cpu(make, chunks):
    x = torch.rand(24, 3, 4, generator=torch.Generator().manual_seed(2))
    _assert_same_on_cpu_and_cuda(make, x, chunks)


def test_per_channel_delay_single_steps_on_cuda_match_multi_step():
    d = torch.tensor([0, 3, 1, 7])
    x = torch.rand(20, 3, 4, device=CUDA)
    single = layer.Delay(d).to(CUDA)
    stacked = torch.stack([single(x_t) for x_t in x])
    assert torch.equal(stacked, layer.Delay(d, step_mode="m").to(CUDA)(x))


@pytest.fixture
def no_tf32():
    """cuDNN's convolutions use TF32 (10-bit mantissas) by default: DelayedLinear's dense CUDA path is a
    convolution, so it follows that setting; compare in full float32."""
    before = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32 = before


@pytest.mark.parametrize("kernel", ["gauss", "linear", "round"])
@pytest.mark.parametrize("chunks", [1, 3])
def test_delayed_linear_on_cuda_matches_the_cpu(kernel, chunks, no_tf32):
    x = torch.rand(18, 2, 6, generator=torch.Generator().manual_seed(3))
    _assert_same_on_cpu_and_cuda(
        lambda: layer.DelayedLinear(6, 5, max_delay=4, kernel=kernel, step_mode="m"), x, chunks, atol=1e-4
    )


# --- DelayedLinear's Triton kernels (the sparse kernels 'linear' and 'round') ----------------------------


def _delayed_linear_case(dtype, d=7, t=30, n=5, i=40, o=37, seed=11):
    """``held, x, weight, delay`` on the CPU, big enough for several programs along every grid axis."""
    g = torch.Generator().manual_seed(seed)
    held = torch.randn(d, n, i, generator=g, dtype=torch.float64)
    x = torch.randn(t, n, i, generator=g, dtype=torch.float64)
    w = torch.randn(o, i, generator=g, dtype=torch.float64)
    delay = torch.rand(o, i, generator=g, dtype=torch.float64) * d
    return [v.to(dtype) for v in (held, x, w, delay)]


def _skip_without_triton():
    if not triton_jit.available():
        pytest.skip(triton_jit.unavailable_reason())


def _delayed_linear_grads(case, kernel, backend, device, grad_y):
    tensors = [v.to(device).requires_grad_(True) for v in case]
    y = delayed_linear_walk(*tensors, 1.0, kernel, backend)
    grads = torch.autograd.grad(y, tensors, grad_y.to(device))
    return [y.detach().cpu(), *(g.cpu() for g in grads)]


@pytest.mark.parametrize("kernel", ["linear", "round"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("d", [7, 40], ids=["T-above-D", "T-below-D"])
def test_delayed_linear_triton_kernels_on_cuda_match_the_cpu(kernel, dtype, d):
    _skip_without_triton()
    case = _delayed_linear_case(dtype, d=d)
    grad_y = torch.randn(30, 5, 37, generator=torch.Generator().manual_seed(12), dtype=dtype)
    got = _delayed_linear_grads(case, kernel, "triton", CUDA, grad_y)
    want = _delayed_linear_grads(case, kernel, "torch", torch.device("cpu"), grad_y)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    for name, g, w in zip(("y", "held", "x", "weight", "delay"), got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=tol, atol=tol * max(w.abs().max().item(), 1.0), msg=name)


def test_delayed_linear_auto_takes_triton_on_cuda_for_the_sparse_kernels_only():
    _skip_without_triton()
    t = torch.zeros(2, device=CUDA)
    assert delayed_linear_op._path("linear", "auto", t) == "triton"
    assert delayed_linear_op._path("round", "auto", t) == "triton"
    assert delayed_linear_op._path("gauss", "auto", t) == "dense"  # the Gaussian kernel: cuDNN's convolution
    assert delayed_linear_op._path("linear", "auto", t.half()) == "dense"
    assert delayed_linear_op._path("linear", "torch", t) == "dense"


@pytest.mark.parametrize("kernel", ["linear", "round"])
def test_delayed_linear_registered_operator_passes_opcheck_on_cuda_triton(kernel):
    _skip_without_triton()
    held, x, w, delay = (
        v.to(CUDA).requires_grad_(True) for v in _delayed_linear_case(torch.float32, d=3, t=4, n=2, i=3, o=2)
    )
    result = torch.library.opcheck(
        torch.ops.spikestep.delayed_linear, (held, x, w, delay, 0.8, kernel, "triton")
    )
    assert set(result.values()) == {"SUCCESS"}, result
