"""spikestep needs only torch: without numpy, numba and Triton (or with numba switched off) it imports, and
every neuron and layer runs forward and backward in both step modes, on the pure-PyTorch walks.

Each case runs in a fresh interpreter: the optional packages must not be imported already, and whether
numba is usable is decided once per process.
"""

import os
import subprocess
import sys
import textwrap

# Importing any of these names fails as if the package were not installed (``import numpy`` raises
# ModuleNotFoundError, ``importlib.util.find_spec("numpy")`` answers None, as torch's own probes expect).
BLOCK_OPTIONAL_PACKAGES = textwrap.dedent(
    """
    import sys

    BLOCKED = ("numpy", "numba", "llvmlite", "triton")
    for _name in BLOCKED:
        sys.modules[_name] = None
    """
)

# Every layer and neuron, forward and backward, single-step (T calls) and multi-step (one call).
WORKLOAD = textwrap.dedent(
    """
    import math
    import sys

    import torch

    import spikestep
    from spikestep import encoding, functional, layer, models, neuron, ops, surrogate
    from spikestep._runtime import numba_jit

    torch.manual_seed(0)
    T, B = 5, 3

    # (name, module factory, one step's input shape, single steps == one multi-step call)
    CASES = [
        ("IFNode", lambda: neuron.IFNode(), (B, 6), True),
        ("IFNode soft reset", lambda: neuron.IFNode(v_reset=None, detach_reset=True), (B, 6), True),
        ("LIFNode", lambda: neuron.LIFNode(tau=2.0), (B, 6), True),
        ("LIFNode Sigmoid", lambda: neuron.LIFNode(3.0, False, surrogate_function=surrogate.Sigmoid()), (B, 6), True),
        ("LIFNode PiecewiseQuadratic", lambda: neuron.LIFNode(surrogate_function=surrogate.PiecewiseQuadratic()), (B, 6), True),
        ("LIFNode tau per channel", lambda: neuron.LIFNode(tau=torch.tensor([2.0, 3.0, 4.0, 5.0, 6.0, 7.0])), (B, 6), True),
        ("ParametricLIFNode", lambda: neuron.ParametricLIFNode(init_tau=2.0), (B, 6), True),
        ("SynapseFilter fixed", lambda: layer.SynapseFilter(tau=2.0), (B, 6), True),
        ("SynapseFilter learnable", lambda: layer.SynapseFilter(tau=3.0, learnable=True), (B, 6), True),
        ("Delay", lambda: layer.Delay(2), (B, 6), True),
        ("VotingLayer", lambda: layer.VotingLayer(3), (B, 6), True),
        ("Linear", lambda: layer.Linear(6, 4), (B, 6), True),
        ("Conv1d", lambda: layer.Conv1d(2, 3, 3, padding=1), (B, 2, 8), True),
        ("Conv2d", lambda: layer.Conv2d(2, 3, 3, padding=1), (B, 2, 6, 6), True),
        ("BatchNorm1d", lambda: layer.BatchNorm1d(4), (B, 4), False),
        ("BatchNorm2d", lambda: layer.BatchNorm2d(2), (B, 2, 4, 4), False),
        ("Flatten", lambda: layer.Flatten(), (B, 2, 3), True),
        ("MaxPool2d", lambda: layer.MaxPool2d(2), (B, 2, 4, 4), True),
        ("AvgPool2d", lambda: layer.AvgPool2d(2), (B, 2, 4, 4), True),
        ("AdaptiveAvgPool2d", lambda: layer.AdaptiveAvgPool2d(1), (B, 2, 4, 4), True),
        ("MaxPool1d", lambda: layer.MaxPool1d(2), (B, 2, 8), True),
        ("AvgPool1d", lambda: layer.AvgPool1d(2), (B, 2, 8), True),
        ("AdaptiveAvgPool1d", lambda: layer.AdaptiveAvgPool1d(2), (B, 2, 8), True),
        ("Dropout", lambda: layer.Dropout(0.5), (B, 6), False),
        ("PrintShapeModule", lambda: layer.PrintShapeModule("shape"), (B, 6), True),
    ]


    def run(make, shape, mode):
        torch.manual_seed(1)
        module = make()
        functional.set_step_mode(module, mode)
        torch.manual_seed(2)
        x = (torch.rand(T, *shape) * 2.0).requires_grad_()
        out = module(x) if mode == "m" else torch.stack([module(x_t) for x_t in x])
        weights = torch.rand(out.shape, generator=torch.Generator().manual_seed(3)) + 0.5
        (out * weights).sum().backward()
        assert torch.isfinite(out).all(), "output"
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0, "input gradient"
        for name, p in module.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
        return out.detach(), x.grad


    for name, make, shape, same in CASES:
        try:
            out_s, grad_s = run(make, shape, "s")
            out_m, grad_m = run(make, shape, "m")
            if same:
                torch.testing.assert_close(out_m, out_s)
                torch.testing.assert_close(grad_m, grad_s)
        except Exception as error:
            raise SystemExit(f"{name}: {error!r}") from error

    # The fused multi-step neuron and synapse walks ran on the torch backend.
    x = torch.rand(T, B, 6)
    assert ops.resolve_backend(x) == "torch"
    assert neuron.LIFNode(step_mode="m").backend_for(x) == "torch"
    assert not numba_jit.available()

    # Containers, encoders and the networks ``spikestep train`` trains.
    net = layer.SeqToANNContainer(torch.nn.Linear(6, 4), torch.nn.ReLU())
    multi = layer.MultiStepContainer(layer.Linear(4, 4), neuron.LIFNode())
    x = torch.rand(T, B, 6, requires_grad=True)
    multi(net(x)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0

    images = torch.rand(B, 8, 8)
    spikes = encoding.PoissonEncoder(step_mode="m")(images.unsqueeze(0).expand(T, -1, -1, -1))
    assert spikes.shape == (T, B, 8, 8) and set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert encoding.poisson(images, T).shape == (T, B, 8, 8)
    latency = encoding.LatencyEncoder(T, step_mode="m")(images)
    assert latency.shape == (T, B, 8, 8) and torch.equal(latency.sum(0), torch.ones(B, 8, 8))

    for model, inputs in (
        (models.DigitsNet(channels=4), spikes.flatten(2)),
        (models.DelayNet(hidden=8, taps=2), torch.rand(12, B, 1)),
        (models.DigitsNet(channels=4, readout="synapse"), spikes.flatten(2)),
    ):
        scores = model(inputs)
        assert scores.shape == (B, 10), scores.shape
        scores.sum().backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
        assert not missing, missing
        functional.reset_net(model)

    loaded = {name.partition(".")[0] for name, module in sys.modules.items() if module is not None}
    optional = sorted(loaded & {"numpy", "numba", "llvmlite", "triton"})
    print("imported:", ",".join(optional) or "-")
    print("ok")
    """
)


def _run(code: str, tmp_path, **env_changes: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for key in ("SPIKESTEP_DISABLE_NUMBA", "SPIKESTEP_DISABLE_TRITON", *env_changes):
        env.pop(key, None)
    env.update({k: v for k, v in env_changes.items() if v is not None})
    # Outside the repository, so that the installed package is what runs.
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


def test_the_blocker_blocks(tmp_path):
    code = BLOCK_OPTIONAL_PACKAGES + textwrap.dedent(
        """
        for name in BLOCKED:
            try:
                __import__(name)
            except ModuleNotFoundError:
                continue
            raise SystemExit(f"{name} imported")
        print("blocked")
        """
    )
    assert _run(code, tmp_path).stdout.strip() == "blocked"


def test_everything_runs_without_numpy_numba_or_triton(tmp_path):
    result = _run(BLOCK_OPTIONAL_PACKAGES + WORKLOAD, tmp_path)
    lines = result.stdout.splitlines()
    assert lines[-2:] == ["imported: -", "ok"], result.stdout[-2000:]


def test_every_module_imports_without_numpy_numba_or_triton(tmp_path):
    # Only the Triton kernel modules need Triton (they are imported for CUDA tensors alone); the
    # ``__main__`` modules would run their commands.
    code = BLOCK_OPTIONAL_PACKAGES + textwrap.dedent(
        """
        import importlib
        import pkgutil

        import spikestep

        names = [m.name for m in pkgutil.walk_packages(spikestep.__path__, "spikestep.")]
        skipped = [n for n in names if n.endswith(("__main__", "triton_kernel", "triton_dialect"))]
        for name in names:
            if name not in skipped:
                importlib.import_module(name)
        print(len(names) - len(skipped), "modules")
        """
    )
    count = int(_run(code, tmp_path).stdout.split()[0])
    assert count > 50


def test_numba_unavailable_says_why_and_forcing_it_fails(tmp_path):
    code = BLOCK_OPTIONAL_PACKAGES + textwrap.dedent(
        """
        import torch

        from spikestep import layer, neuron, ops
        from spikestep._runtime import numba_jit

        assert "not importable" in numba_jit.unavailable_reason(), numba_jit.unavailable_reason()
        try:
            neuron.LIFNode(backend="numba")
        except ValueError as error:
            assert "numba" in str(error), error
        else:
            raise SystemExit("LIFNode(backend='numba') was accepted")
        with ops.use_backend("numba"):
            try:
                layer.SynapseFilter(2.0, step_mode="m")(torch.rand(4, 3))
            except RuntimeError as error:
                assert "not importable" in str(error), error
            else:
                raise SystemExit("a forced numba backend ran without numba")
        print("ok")
        """
    )
    assert _run(code, tmp_path).stdout.strip() == "ok"


def test_everything_runs_with_numba_disabled_by_the_environment(tmp_path):
    # numpy (and numba, where installed) may import; spikestep must neither import numba nor use it.
    code = WORKLOAD + textwrap.dedent(
        """
        assert "numba" not in sys.modules, "spikestep imported numba although SPIKESTEP_DISABLE_NUMBA=1"
        assert "SPIKESTEP_DISABLE_NUMBA" in numba_jit.unavailable_reason()
        """
    )
    result = _run(code, tmp_path, SPIKESTEP_DISABLE_NUMBA="1")
    assert "ok" in result.stdout.splitlines()


def test_the_workload_fails_when_something_is_wrong(tmp_path):
    # The workload's checks can fail: a layer whose backward gives no input gradient is caught.
    broken = WORKLOAD.replace(
        '("Linear", lambda: layer.Linear(6, 4), (B, 6), True),',
        '("Linear", lambda: torch.nn.Sequential(layer.Linear(6, 4), torch.nn.Hardtanh(-9.0, -8.0)), (B, 6), True),',
    )
    assert broken != WORKLOAD
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_OPTIONAL_PACKAGES + broken],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode != 0
    assert "Linear" in result.stderr and "input gradient" in result.stderr, result.stderr[-2000:]
