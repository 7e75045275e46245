"""The targets table: which rows it measures, how each ratio and verdict is computed, and the CLI flag."""

import time

import torch

from spikestep.bench import cases, cli, peer_table
from spikestep.bench.peer_table import Target


def _rows(device):
    return {(t.case, t.n_steps, t.n, t.measure): t.target for t in peer_table.targets(device)}


def test_the_cpu_table_holds_the_issue_rows_with_their_targets():
    rows = _rows("cpu")
    assert rows[("SynapseFilter fwd+bwd", 64, 100_000, "peer")] == 20.0
    assert rows[("SynapseFilter fwd+bwd", 64, 1_000_000, "peer")] == 25.0
    assert rows[("SynapseFilter fwd+bwd", 256, 1_000, "peer")] == 15.0
    assert rows[("LIF fwd+bwd", 64, 100_000, "peer")] == 10.0
    assert rows[("SynapseFilter fwd", 64, 1_000_000, "floor")] == 1.5
    assert rows[("SynapseFilter fwd+bwd", 64, 1_000_000, "floor")] == 3.5


def test_the_gpu_table_asks_every_walk_within_4x_of_a_copy_at_1e6():
    rows = _rows("cuda")
    for case in ("SynapseFilter fwd+bwd", "LIF fwd+bwd", "PLIF fwd+bwd"):
        for n_steps in (64, 256):
            assert rows[(case, n_steps, 1_000_000, "floor")] == 4.0
    assert rows[("LIF fwd+bwd", 64, 100_000, "peer")] is None  # reported, no target against SJ on a GPU


def _busy(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _case(peer_seconds):
    def fused(n_steps, n, dtype, device=None):
        return lambda: None

    def peer(n_steps, n, dtype, device=None):
        return lambda: _busy(peer_seconds)

    return cases.Case("fake fwd+bwd", fused=fused, spikingjelly=peer)


def test_a_peer_row_is_met_when_the_peer_is_slower_by_the_target(monkeypatch):
    monkeypatch.setattr(peer_table, "default_cases", lambda: [_case(0.003)])
    monkeypatch.setattr(
        peer_table,
        "_CPU",
        (
            Target("fast", "fake fwd+bwd", 2, 8, "peer", 2.0),
            Target("too far", "fake fwd+bwd", 2, 8, "peer", 1e9),
        ),
    )
    fast, too_far = peer_table.measure("cpu", repeats=1, train_step=False)
    assert fast["ratio"] > 2.0 and fast["met"] is True
    assert too_far["ratio"] == fast["ratio"] and too_far["met"] is False  # one measurement serves both


def test_a_floor_row_compares_with_the_clone_and_is_met_below_the_target(monkeypatch):
    monkeypatch.setattr(peer_table, "default_cases", lambda: [_case(0.0)])
    monkeypatch.setattr(peer_table, "_CPU", (Target("floor", "fake fwd+bwd", 2, 8, "floor", 1e9),))
    (row,) = peer_table.measure("cpu", repeats=1, train_step=False)
    assert row["ratio"] == row["spikestep_ms"] / row["other_ms"] and row["met"] is True


def test_a_row_without_spikingjelly_has_no_verdict(monkeypatch):
    case = cases.Case("fake fwd+bwd", fused=lambda n_steps, n, dtype, device=None: lambda: None)
    monkeypatch.setattr(peer_table, "default_cases", lambda: [case])
    monkeypatch.setattr(peer_table, "_CPU", (Target("peer", "fake fwd+bwd", 2, 8, "peer", 2.0),))
    (row,) = peer_table.measure("cpu", repeats=1, train_step=False)
    assert row["ratio"] is None and row["met"] is None
    assert "| peer | 2 | 8 |" in peer_table.format_rows([row]) and row["other_ms"] is None


def test_the_peers_flag_prints_the_table(monkeypatch, capsys):
    monkeypatch.setattr(peer_table, "default_cases", lambda: [_case(0.002)])
    monkeypatch.setattr(peer_table, "_CPU", (Target("fake vs SJ", "fake fwd+bwd", 2, 8, "peer", 1.5),))
    monkeypatch.setattr(peer_table, "_train_step_row", lambda repeats, peer_step=None: {**vars(peer_table._CPU[0]),
        "label": "training step", "backend": None, "spikestep_ms": 1.0, "other_ms": 3.0, "ratio": 3.0,
        "met": False, "target": 5.0})  # fmt: skip
    assert cli.main(["--peers", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "| fake vs SJ | 2 | 8 |" in out and "| >= 1.5x | yes |" in out
    assert "| training step |" in out and "| 3.00x | >= 5x | no |" in out


def test_targets_accept_a_device_object():
    assert peer_table.targets(torch.device("cpu")) == peer_table.targets("cpu")


def test_a_training_step_already_timed_in_the_run_is_reused(monkeypatch):
    from spikestep.bench import train_step

    def refuse(*args, **kwargs):
        raise AssertionError("timed again")

    monkeypatch.setattr(train_step, "peer_against_spikestep", refuse)
    monkeypatch.setattr(peer_table, "_CPU", ())
    step = {"spikestep_ms": 40.0, "spikingjelly_ms": 110.0, "ratio": 2.75, "ratio_with_free_neurons": 3.9}
    (row,) = peer_table.measure("cpu", repeats=1, peer_step=step)
    assert row["ratio"] == 2.75 and row["met"] is False and row["ceiling_with_free_neurons"] == 3.9


def test_a_peer_row_with_a_free_floor_reports_the_ceiling_beside_spikingjelly(monkeypatch):
    # The runner's timing of `free` is tested in test_bench; here only how the table carries it on.
    timed = {
        "backend": "numba",
        "fused_ms": 1.0,
        "floor_ms": 0.5,
        "spikingjelly_ms": 8.0,
        "spikingjelly_vs_free": 2.5,
    }
    monkeypatch.setattr(peer_table, "run", lambda *args, **kwargs: [dict(timed)])
    monkeypatch.setattr(peer_table, "default_cases", lambda: [_case(0.0)])
    monkeypatch.setattr(peer_table, "_CPU", (Target("peer", "fake fwd+bwd", 2, 8, "peer", 1e9),))
    (row,) = peer_table.measure("cpu", repeats=3, train_step=False)
    assert row["ceiling_with_free_neurons"] == 2.5
    assert "neurons that cost nothing: at most" in peer_table.format_rows([row])
