"""The benchmark runs end to end on a tiny size (no timing assertions: the machine is shared)."""

import json
import subprocess
import sys
import time

import torch

from spikestep import bench


def test_run_fills_every_column_for_a_tiny_size():
    rows = bench.run(bench.default_cases()[:3], [(3, 10)], repeats=1, loop_repeats=1)
    assert [r["case"] for r in rows] == ["SynapseFilter fwd", "SynapseFilter fwd+bwd", "Delay fwd"]
    for row in rows:
        for key in ("fused_ms", "torch_ms", "loop_ms", "floor_ms", "fused_vs_floor", "loop_vs_fused"):
            assert row[key] is not None and row[key] > 0


def test_the_default_cases_include_the_neurons():
    assert {"LIF fwd", "PLIF fwd+bwd"} <= {case.name for case in bench.default_cases()}


def test_a_custom_case_can_be_added():
    def build(n_steps, n, dtype):
        x = torch.ones(n_steps, n, dtype=dtype)
        return lambda: x * 2

    case = bench.Case("double", fused=build)
    rows = bench.run([case], [(2, 4)], repeats=1, backends=("torch",))
    assert rows[0]["case"] == "double" and rows[0]["loop_ms"] is None
    assert "double" in bench.format_table(rows)


def test_main_prints_a_table_and_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    tiny = ["--T", "2", "--N", "8", "--repeats", "1", "--cases", "delay", "--allocator", "system"]
    assert bench.main([*tiny, "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Delay fwd" in out and "clone ms" in out
    data = json.loads(path.read_text())
    assert data["rows"][0]["T"] == 2 and data["rows"][0]["N"] == 8
    assert "torch" in data["environment"]


def test_the_module_command_has_help():
    result = subprocess.run(
        [sys.executable, "-m", "spikestep.bench", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "--json" in result.stdout and "--quick" in result.stdout


def test_default_allocator_is_the_one_a_user_process_gets():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spikestep.bench",
            "--T",
            "2",
            "--N",
            "8",
            "--repeats",
            "1",
            "--cases",
            "delay",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "allocator: system" in result.stdout


def test_allocator_reuse_reruns_the_benchmark_with_memory_reuse():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spikestep.bench",
            *[
                "--T",
                "2",
                "--N",
                "8",
                "--repeats",
                "1",
                "--cases",
                "delay",
                "--no-loop",
                "--allocator",
                "reuse",
            ],
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "allocator: reuse MALLOC_MMAP_MAX_=0" in result.stdout and "Delay fwd" in result.stdout


def test_allocator_hugepages_reruns_the_benchmark_with_pytorchs_huge_page_switch():
    command = [sys.executable, "-m", "spikestep.bench", "--T", "2", "--N", "8", "--repeats", "1"]
    command += ["--cases", "delay", "--no-loop", "--allocator", "hugepages"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "allocator: hugepages THP_MEM_ALLOC_ENABLE=1" in result.stdout and "Delay fwd" in result.stdout


def test_delay_rows_time_learnable_delay_beside_delayed_linear_and_delay():
    from spikestep.bench.delay_cases import delay_rows

    rows = delay_rows(steps=6, batch=2, features=(4, 3), max_delay=3, repeats=1, dcls=False)
    times = {row["case"]: row["ms"] for row in rows}
    assert {"LearnableDelay linear fwd+bwd", "LearnableDelay gauss fwd+bwd", "Delay fwd+bwd"} <= set(times)
    assert all(ms > 0 for ms in times.values())


def test_contenders_are_sampled_in_alternating_rounds():
    from spikestep.bench.runner import interleaved_median_ms

    calls = []

    def slow(name):  # above 2 ms, so one call per sample and each call is one sample
        def fn():
            calls.append(name)
            end = time.perf_counter() + 0.003
            while time.perf_counter() < end:
                pass

        return fn

    interleaved_median_ms({"a": (slow("a"), 3), "b": (slow("b"), 3)})
    rounds = calls[4:]  # after two warm-up calls each
    assert rounds == ["a", "b", "b", "a", "a", "b"]


def test_a_contender_with_fewer_repeats_leaves_the_rounds_early():
    from spikestep.bench.runner import interleaved_median_ms

    counts = {"few": 0, "many": 0}

    def counter(name):
        def fn():
            counts[name] += 1
            end = time.perf_counter() + 0.003
            while time.perf_counter() < end:
                pass

        return fn

    interleaved_median_ms({"few": (counter("few"), 1), "many": (counter("many"), 4)})
    assert counts == {"few": 2 + 1, "many": 2 + 4}


def test_a_row_with_spikingjelly_carries_its_ratio_to_the_fused_path():
    def build(n_steps, n, dtype):
        x = torch.ones(n_steps, n, dtype=dtype)
        return lambda: x * 2

    case = bench.Case("double", fused=build, spikingjelly=build)
    (row,) = bench.run([case], [(2, 4)], repeats=1, backends=("auto",), loop=False)
    assert row["spikingjelly_vs_fused"] == row["spikingjelly_ms"] / row["fused_ms"]
    assert "SJ/fused" in bench.format_table([row])


def _recording_makers(events):
    def maker(name):
        def make():
            events.append(("build", name))
            return lambda: events.append(("call", name))

        return make

    return {"a": (maker("a"), 2), "b": (maker("b"), 2)}


def test_a_row_that_fits_builds_every_contender_before_the_rounds():
    from spikestep.bench import runner

    events = []
    runner._time_row(_recording_makers(events), tensor_bytes=8, sync=None)
    assert events[:2] == [("build", "a"), ("build", "b")]


def test_a_row_too_big_to_hold_at_once_times_its_contenders_one_after_another(monkeypatch):
    from spikestep.bench import runner

    monkeypatch.setattr(runner, "_INTERLEAVE_BYTES", 0)
    events = []
    times = runner._time_row(_recording_makers(events), tensor_bytes=8, sync=None)
    b_built = events.index(("build", "b"))
    assert set(events[:b_built]) == {("build", "a"), ("call", "a")}
    assert ("call", "a") not in events[b_built:] and set(times) == {"a", "b"}


def test_interleaved_rounds_of_nothing_time_nothing():
    from spikestep.bench.runner import interleaved_median_ms

    assert interleaved_median_ms({}) == {}


def test_a_free_floor_is_timed_beside_spikingjelly_and_gives_the_most_it_could_be_beaten_by():
    def build(n_steps, n, dtype):
        x = torch.ones(n_steps, n, dtype=dtype)
        return lambda: x * 2

    case = bench.Case("double", fused=build, spikingjelly=build, free=build)
    (row,) = bench.run([case], [(2, 4)], repeats=1, backends=("auto",), loop=False)
    assert row["spikingjelly_vs_free"] == row["spikingjelly_ms"] / row["free_ms"]
    assert "SJ/free" in bench.format_table([row])
    (alone,) = bench.run([case], [(2, 4)], repeats=1, backends=("auto",), loop=False, spikingjelly=False)
    assert alone["free_ms"] is None and alone["spikingjelly_vs_free"] is None


def test_the_free_walk_moves_what_a_walk_must_and_computes_nothing_else():
    from spikestep.bench.cases import _FreeWalk

    x = torch.rand(3, 5, requires_grad=True)
    out = _FreeWalk.apply(x)
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()  # a fresh output
    grad = torch.rand(3, 5)
    out.backward(grad)
    assert torch.equal(x.grad, grad + x.detach())  # reads the gradient and the input


def test_the_lif_forward_backward_case_has_a_free_floor():
    from spikestep.bench.cases import free_walk, neuron_cases

    lif = {case.name: case for case in neuron_cases()}["LIF fwd+bwd"]
    assert lif.free is free_walk
    free_walk(4, 10, torch.float32)()  # one call runs
