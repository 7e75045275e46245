"""``spikestep train --nproc N``: N gloo processes train the network one process would, and write once.

The equality test runs this file as a script (``python tests/cli/test_distributed.py OUT``): the workers
that ``_distributed.spawn`` starts must import the function they run, which a test module collected by
pytest's importlib mode does not offer them.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from spikestep import functional
from spikestep.cli import _distributed, main
from spikestep.cli._common import CLIError
from spikestep.models import DigitsNet

K_STEPS, T, BATCH = 5, 4, 7  # a batch of 7 splits unevenly: 3 samples on rank 0, 4 on rank 1
# Ten seconds of starting up per process (torch, spikestep, the data) on CI's 2 cores, then training.
TIMEOUT = 300


def _take_steps(out: str) -> int:
    """K_STEPS Adam steps of a small DigitsNet (float64, no dropout, batch norm) on BATCH-sample batches,
    as one process or as this process's rank; rank 0 saves the world size and the parameters to ``out``."""
    with _distributed.joined() as world:
        torch.manual_seed(0)
        model = DigitsNet(channels=4, dropout=0.0).double()
        net = world.wrap(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        generator = torch.Generator().manual_seed(1)
        x = 2 * torch.rand(50, 64, generator=generator, dtype=torch.float64)
        y = torch.randint(10, (50,), generator=generator)
        for _ in range(K_STEPS):
            batch = torch.randperm(len(y), generator=generator)[:BATCH]
            x_seq, ix = world.shard(x[batch].expand(T, BATCH, 64), batch)
            loss = torch.nn.functional.cross_entropy(net(x_seq) * 10, y[ix])
            optimizer.zero_grad()
            world.scaled(loss, len(ix), len(batch)).backward()
            optimizer.step()
            functional.reset_net(model)
        if world.writes:
            torch.save({"size": world.size, "state": model.state_dict()}, out)
    return 0


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=TIMEOUT)


def test_two_gloo_processes_end_with_the_parameters_of_one_process_on_the_same_batches(tmp_path):
    done = _run(__file__, str(tmp_path / "two.pt"))
    assert done.returncode == 0, done.stderr
    _take_steps(str(tmp_path / "one.pt"))
    two, one = (torch.load(tmp_path / name, weights_only=True) for name in ("two.pt", "one.pt"))
    assert (two["size"], one["size"]) == (2, 1)
    assert one["state"].keys() == two["state"].keys()
    for key, value in one["state"].items():
        torch.testing.assert_close(two["state"][key], value, rtol=0, atol=1e-6, msg=key)
    assert one["state"]["features.1.num_batches_tracked"] == K_STEPS  # the batch norm trained


def test_train_with_nproc_2_runs_end_to_end_and_prints_and_writes_once(tmp_path):
    out = tmp_path / "run"
    argv = ["--nproc", "2", "--epochs", "1", "--T", "2", "--hidden", "4", "--no-progress", "--out", str(out)]
    done = _run("-m", "spikestep", "train", *argv)
    assert done.returncode == 0, done.stderr
    assert "2 processes (gloo)" in done.stdout
    assert done.stdout.count("epoch   1/1") == 1 and done.stdout.count("test accuracy") == 1
    for name in ("checkpoint.pt", "accuracy.png", "raster.png", "firing_rates.png"):
        assert done.stdout.count(f"wrote {out / name}") == 1 and (out / name).is_file()
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)
    assert len(checkpoint["rng"]["torch_ranks"]) == 2  # each rank's dropout stream, for --resume
    DigitsNet(channels=4).load_state_dict(checkpoint["state_dict"])  # a plain network loads it


def test_bad_nproc_exits_2_with_one_line_naming_the_option(tmp_path, capsys):
    for value, needle in [("0", ">= 1"), ("-2", ">= 1"), ("two", "expected a whole number >= 1")]:
        assert main(["train", "--out", str(tmp_path), "--nproc", value]) == 2
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert line.startswith("spikestep train: error: argument --nproc: ") and needle in line, line


def test_nproc_under_torchrun_exits_2_saying_to_leave_it_out(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert main(["train", "--out", str(tmp_path), "--nproc", "2"]) == 2
    err = capsys.readouterr().err
    assert "torchrun" in err and "leave --nproc out" in err and "Traceback" not in err


def test_an_error_the_workers_meet_exits_2_printed_once(tmp_path, capfd):
    assert main(["train", "--nproc", "2", "--resume", str(tmp_path / "nothing")]) == 2
    err = capfd.readouterr().err
    assert err.count("spikestep: error: --resume ") == 1 and "there is no checkpoint.pt" in err, err
    assert "Traceback" not in err


def test_a_batch_with_fewer_samples_than_processes_is_refused_with_the_fix():
    _distributed.World(rank=1, size=2).check_batches(1437, 64)  # the last batch holds 29: fine
    # digits has 1,437 training samples: batches of 1,436 leave 1 for the last batch, too few for 2 ranks.
    with pytest.raises(
        CLIError, match=r"holds 1 sample\(s\), fewer than one per process: lower --nproc to 1"
    ):
        _distributed.World(rank=0, size=2).check_batches(1437, 1436)


if __name__ == "__main__":  # the equality test's two processes
    os.environ.setdefault("SPIKESTEP_ADAPT_THREADS", "0")
    raise SystemExit(_distributed.spawn(_take_steps, sys.argv[1], 2))


def test_learned_delays_train_on_2_processes_past_the_epoch_that_freezes_them(tmp_path):
    # At 80% of training the delays stop learning; DDP must not wait for their gradients after that.
    argv = ["--dataset", "mnist1d", "--delays", "learned", "--epochs", "5", "--hidden", "2"]
    done = _run("-m", "spikestep", "train", "--nproc", "2", *argv, "--no-progress", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "epoch   5/5" in done.stdout and "integer-delay form" in done.stdout
