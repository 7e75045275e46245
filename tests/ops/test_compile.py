"""``torch.compile`` of a multi-step network that holds every stateful module: one graph, no graph break,
and the compiled network computes what the eager one computes (outputs, parameter gradients, carried
memories), chunk after chunk and after ``functional.reset_net``.

Each check runs in a fresh Python process (``python -c SCRIPT``): the graph-break count must hold for the
very first call of a process, before anything (numba's lazy import, the kernels' first compilation, a
cached surrogate form) has been warmed up by an eager call, and Dynamo's caches must not leak between
tests. The script prints one JSON line that the tests read.

The network (all in step mode ``'m'``): LatencyEncoder -> Conv2d -> BatchNorm2d -> IFNode -> Flatten ->
Linear -> LIFNode -> Delay -> SynapseFilter (fixed, one tau per channel) -> Linear -> ParametricLIFNode
(one learnable tau per channel, soft reset) -> SynapseFilter (learnable tau) -> VotingLayer; the IF layer
keeps its membrane sequence (``store_v_seq``). Thresholds are set so that every
neuron layer fires now and then (a network that never spikes would compare trivially). The latency
encoder is deterministic, so eager and compiled runs see the same spikes.

The correctness comparison over chunks uses the ``aot_eager`` backend (it traces forward and backward
exactly as inductor does, without generating C++); the default inductor backend compiles the network
with ``fullgraph=True`` once, forward and backward, which takes about 40 s with a cold cache on two CPU
cores (a few seconds once its on-disk cache is warm).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from spikestep._runtime import numba_jit as _numba

SCRIPT = textwrap.dedent(
    """
    import copy
    import json
    import sys

    import torch
    import torch.nn as nn

    from spikestep import encoding, functional, layer, neuron
    from spikestep._runtime import numba_jit

    mode, device = sys.argv[1], torch.device(sys.argv[2])
    T, B = 4, 2


    def make_net():
        torch.manual_seed(0)
        net = nn.Sequential(
            encoding.LatencyEncoder(T=T),
            layer.Conv2d(1, 3, kernel_size=3, padding=1),
            layer.BatchNorm2d(3),
            neuron.IFNode(v_threshold=0.5, store_v_seq=True),
            layer.Flatten(),
            layer.Linear(3 * 4 * 4, 8),
            neuron.LIFNode(tau=2.0, v_threshold=0.05, detach_reset=True),
            layer.Delay(1),
            layer.SynapseFilter(tau=torch.linspace(2.0, 4.0, 8)),
            layer.Linear(8, 8),
            neuron.ParametricLIFNode(init_tau=torch.linspace(1.5, 4.0, 8), v_threshold=0.1, v_reset=None),
            layer.SynapseFilter(tau=2.0, learnable=True),
            layer.VotingLayer(2),
        )
        functional.set_step_mode(net, "m")
        return net.to(device)


    def images(n, dtype):
        g = torch.Generator().manual_seed(1)
        return [torch.rand(B, 1, 4, 4, generator=g, dtype=dtype).to(device) for _ in range(n)]


    def explain(net, x):
        counters = torch._dynamo.utils.counters
        counters.clear()
        e = torch._dynamo.explain(net)(x)
        # explain's own list can miss breaks inside nested calls; Dynamo's counters name each one.
        reasons = {str(r.reason).splitlines()[0] for r in e.break_reasons}
        reasons |= {str(reason).splitlines()[0] for reason in counters["graph_break"]}
        return {"graphs": e.graph_count, "breaks": e.graph_break_count, "reasons": sorted(reasons)}


    def memories(net):
        '''Every tensor memory and buffer (membranes, currents, held delay inputs, BN statistics).'''
        out = {}
        for name, module in net.named_modules():
            for key, value in getattr(module, "_memories", {}).items():
                if isinstance(value, torch.Tensor):
                    out[f"{name}.{key}"] = value.detach()
        out.update({k: v.detach() for k, v in net.named_buffers() if v.is_floating_point()})
        return out


    def run(model, module, chunks):
        '''The chunks one after another (state carried between them), one backward through all.'''
        outputs, loss = [], 0
        for x in chunks:
            y = model(x)
            outputs.append(y.detach())
            loss = loss + (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype, device=y.device).view(y.shape)).sum()
        loss.backward()
        grads = {n: p.grad.detach().clone() for n, p in module.named_parameters()}
        module.zero_grad(set_to_none=True)
        return outputs, grads, memories(module)


    def max_diff(a, b):
        if isinstance(a, dict):
            assert a.keys() == b.keys(), (sorted(a), sorted(b))
            a, b = list(a.values()), list(b.values())
        assert len(a) == len(b)
        return max(((x - y).abs().max().item() for x, y in zip(a, b)), default=0.0)


    def compare(backend, dtype, n_chunks):
        '''Compiled (fullgraph) against eager, over n_chunks chunks and again after reset_net.'''
        torch._dynamo.reset()
        eager = make_net().to(dtype)
        compiled = copy.deepcopy(eager)
        model = torch.compile(compiled, fullgraph=True, backend=backend)
        xs = images(n_chunks + 1, dtype)
        result = {"params_with_grad": 0}
        for phase, chunks in (("chunks", xs[:n_chunks]), ("after_reset", xs[n_chunks:])):
            if phase == "after_reset":
                functional.reset_net(eager)
                functional.reset_net(compiled)
            out_c, grads_c, mem_c = run(model, compiled, chunks)
            out_e, grads_e, mem_e = run(eager, eager, chunks)
            result[phase] = {
                "out": max_diff(out_c, out_e),
                "grads": max_diff(grads_c, grads_e),
                "memories": max_diff(mem_c, mem_e),
                "n_memories": len(mem_e),
                "output_sum": sum(float(o.abs().sum()) for o in out_e),
                "zero_grads": sorted(n for n, g in grads_e.items() if not bool(g.any())),
            }
            result["params_with_grad"] = len(grads_e)
        return result


    result = {"numba_available": numba_jit.available()}
    if mode == "explain":
        # The very first call of this process is the one explained: nothing has run eagerly before it.
        net = make_net()
        x0, x1 = images(2, torch.float32)
        result["first_call"] = explain(net, x0)
        result["carried_state"] = explain(net, x1)  # memories are tensors now: the second chunk's graph
        result["node_backend"] = net[6].backend_for(torch.zeros(T, B, 8))
    try:  # a failed compile is reported as such, and the explanations above still reach the tests
        if mode == "explain":
            result["aot_eager"] = compare("aot_eager", torch.float64, n_chunks=3)
        else:
            result[mode] = compare(mode, torch.float64, n_chunks=1)
    except Exception as error:
        result["error"] = f"{type(error).__name__}: {error}"[:4000]
    print(json.dumps(result))
    """
)


def _run(mode: str, device: str = "cpu", timeout: int = 300) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, device], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        pytest.fail(f"the script failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def explained() -> dict:
    """One fresh process: Dynamo's explanation of the first and second call, then the aot_eager
    comparison over 3 chunks and after reset_net."""
    return _run("explain")


def _assert_matches_eager(result: dict, backend: str, n_params: int = 10) -> None:
    assert "error" not in result, (
        f"torch.compile(fullgraph=True, backend={backend!r}) failed: {result['error']}"
    )
    comparison = result[backend]
    assert comparison["params_with_grad"] == n_params
    for phase in ("chunks", "after_reset"):
        got = comparison[phase]
        assert got["output_sum"] > 0, f"{phase}: the network never spiked; the comparison would be trivial"
        assert got["zero_grads"] == [], f"{phase}: parameters with an all-zero gradient: {got['zero_grads']}"
        assert got["n_memories"] == 10, got  # v (3) and v_seq, currents (2), delay line, BN stats (2), tau
        for what in ("out", "grads", "memories"):
            assert got[what] <= 1e-10, f"{phase}: compiled and eager {what} differ by {got[what]}"


def test_first_call_of_a_fresh_process_compiles_to_one_graph_without_breaks(explained):
    assert explained["first_call"] == {"graphs": 1, "breaks": 0, "reasons": []}


def test_second_chunk_with_carried_state_compiles_to_one_graph_without_breaks(explained):
    assert explained["carried_state"] == {"graphs": 1, "breaks": 0, "reasons": []}


@pytest.mark.skipif(not _numba.available(), reason="numba is not usable here")
def test_the_explained_network_ran_the_numba_kernels(explained):
    assert explained["numba_available"]
    assert explained["node_backend"] == "numba"


def test_compiled_fullgraph_matches_eager_over_chunks_and_after_reset(explained):
    _assert_matches_eager(explained, "aot_eager")


def test_inductor_fullgraph_compiles_and_matches_eager():
    """The default backend, once: forward and backward of one chunk (and one after reset_net)."""
    _assert_matches_eager(_run("inductor", timeout=600), "inductor")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_inductor_fullgraph_on_cuda_matches_eager():
    _assert_matches_eager(_run("inductor", device="cuda", timeout=600), "inductor")
