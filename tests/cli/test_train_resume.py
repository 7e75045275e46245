"""spikestep train --resume: a run stopped after any epoch ends as if it had never stopped."""

import subprocess
import sys
import textwrap

import pytest
import torch

from spikestep.cli import main, train

# Tiny: Poisson input (the training's own generator draws spikes) and dropout (torch's global RNG draws
# masks), so both random streams must come back for the resumed run to match.
TINY = ["--T", "2", "--hidden", "4", "--encoding", "poisson", "--no-progress"]

# A run of 4 epochs that stops (as on Ctrl-C) right after the checkpoint of epoch 2 is written.
STOP_AFTER_EPOCH_2 = textwrap.dedent(
    """
    import sys
    from spikestep.cli import main, train

    write = train._save_checkpoint

    def write_then_stop(path, state):
        write(path, state)
        if state["epoch"] == 2:
            raise KeyboardInterrupt

    train._save_checkpoint = write_then_stop
    sys.exit(main(sys.argv[1:]))
    """
)


def _spikestep(*argv, code=None):
    command = [sys.executable, "-c", code, *argv] if code else [sys.executable, "-m", "spikestep", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def _checkpoint(folder):
    return torch.load(folder / "checkpoint.pt", weights_only=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An uninterrupted 4-epoch run, and one stopped after epoch 2 then resumed in a new process."""
    root = tmp_path_factory.mktemp("resume")
    whole, stopped = root / "whole", root / "stopped"
    first = _spikestep("train", "--out", str(stopped), "--epochs", "4", *TINY, code=STOP_AFTER_EPOCH_2)
    after_stop = _checkpoint(stopped)
    resumed = _spikestep("train", "--resume", str(stopped), "--no-progress")
    uninterrupted = _spikestep("train", "--out", str(whole), "--epochs", "4", *TINY)
    return {
        "first": first,
        "after_stop": after_stop,
        "resumed": resumed,
        "uninterrupted": uninterrupted,
        "whole": _checkpoint(whole),
        "stopped": _checkpoint(stopped),
        "folder": stopped,
    }


def test_a_stopped_run_says_how_to_resume_it(runs):
    first = runs["first"]
    assert first.returncode == 130, first.stderr
    assert "Traceback" not in first.stderr
    assert f"holds the run after epoch 2 of 4: 'spikestep train --resume {runs['folder']}'" in first.stderr
    assert runs["after_stop"]["epoch"] == 2


def test_a_resumed_run_ends_with_the_accuracy_and_parameters_of_an_uninterrupted_one(runs):
    assert runs["resumed"].returncode == 0, runs["resumed"].stderr
    assert runs["uninterrupted"].returncode == 0, runs["uninterrupted"].stderr
    whole, resumed = runs["whole"], runs["stopped"]
    assert resumed["epoch"] == whole["epoch"] == 4
    assert resumed["test_accuracy"] == whole["test_accuracy"]
    assert resumed["state_dict"].keys() == whole["state_dict"].keys()
    for name, value in whole["state_dict"].items():
        assert torch.equal(resumed["state_dict"][name], value), name
    for key in ("train_loss", "train_acc", "test_acc"):
        assert resumed["history"][key] == whole["history"][key], key
    assert whole["test_accuracy"] > 0.1  # it learned something: the comparison is not of two chance runs


def test_a_resumed_run_ends_with_the_optimiser_and_random_state_of_an_uninterrupted_one(runs):
    whole, resumed = runs["whole"], runs["stopped"]
    assert torch.equal(resumed["rng"]["torch"], whole["rng"]["torch"])
    assert torch.equal(resumed["rng"]["generator"], whole["rng"]["generator"])
    assert resumed["scheduler"]["last_epoch"] == whole["scheduler"]["last_epoch"] == 4
    for index, state in whole["optimizer"]["state"].items():
        for key, value in state.items():
            assert torch.equal(resumed["optimizer"]["state"][index][key], value), (index, key)


def test_a_resumed_run_prints_where_it_starts_and_only_the_remaining_epochs(runs):
    printed = runs["resumed"].stdout
    assert "after epoch 2 of 4" in printed
    assert "epoch   3/4" in printed and "epoch   4/4" in printed and "epoch   2/4" not in printed


def test_the_checkpoint_loads_with_weights_only(runs):
    checkpoint = runs["stopped"]  # torch.load(..., weights_only=True) in the fixture
    assert {"optimizer", "scheduler", "rng", "epoch", "firing_rates"} <= set(checkpoint)


def test_a_checkpoint_is_written_after_every_epoch(tmp_path, monkeypatch):
    epochs_seen = []
    write = train._save_checkpoint

    def spy(path, state):
        write(path, state)
        epochs_seen.append(torch.load(path, weights_only=True)["epoch"])

    monkeypatch.setattr(train, "_save_checkpoint", spy)
    assert main(["train", "--out", str(tmp_path), "--epochs", "2", *TINY]) == 0
    assert epochs_seen == [1, 2, 2]  # each epoch, then the final one with the figures' firing rates
    assert not list(tmp_path.glob("*.partial"))


def test_resuming_a_finished_run_with_more_epochs_extends_it_and_says_the_schedule_changed(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path), "--epochs", "1", *TINY]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path), "--epochs", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "planned for 1 epochs" in out and "epoch   2/2" in out and "epoch   1/2" not in out
    checkpoint = _checkpoint(tmp_path)
    assert checkpoint["epoch"] == 2 and checkpoint["args"]["epochs"] == 2
    assert len(checkpoint["history"]["test_acc"]) == 2


def _fails_cleanly(argv, capsys, *needles):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("one_epoch")
    assert main(["train", "--out", str(folder), "--epochs", "1", *TINY]) == 0
    return folder


def test_resuming_with_another_data_set_is_refused(one_epoch, capsys):
    _fails_cleanly(
        ["train", "--resume", str(one_epoch), "--dataset", "mnist1d"],
        capsys,
        "the checkpoint belongs to another run",
        "--dataset mnist1d (the run has digits)",
    )


def test_resuming_with_another_architecture_is_refused_naming_every_difference(one_epoch, capsys):
    err = _fails_cleanly(
        ["train", "--resume", str(one_epoch), "--hidden", "8", "--readout", "synapse"],
        capsys,
        "--hidden 8 (the run has 4)",
        "--readout synapse (the run has voting)",
    )
    assert len(err.strip().splitlines()) == 1


def test_a_checkpoint_whose_model_does_not_fit_its_settings_is_refused(one_epoch, tmp_path, capsys):
    checkpoint = _checkpoint(one_epoch)
    checkpoint["args"]["hidden"] = 6  # the settings say 6 channels; the weights have 4
    torch.save(checkpoint, tmp_path / "checkpoint.pt")
    _fails_cleanly(
        ["train", "--resume", str(tmp_path)], capsys, "the checkpoint's model does not fit the DigitsNet"
    )


def test_options_that_agree_with_the_checkpoint_are_accepted(one_epoch, tmp_path, capsys):
    argv = [
        "train",
        "--resume",
        str(one_epoch),
        "--out",
        str(tmp_path),
        "--hidden",
        "4",
        "--dataset",
        "digits",
    ]
    assert main(argv) == 0  # the run had all its epochs: it scores and draws again, into --out
    assert "after epoch 1 of 1" in capsys.readouterr().out
    assert (tmp_path / "checkpoint.pt").is_file()


def test_resuming_with_fewer_epochs_than_done_is_refused(one_epoch, tmp_path, capsys):
    checkpoint = _checkpoint(one_epoch)
    checkpoint["epoch"], checkpoint["args"]["epochs"] = 3, 3
    torch.save(checkpoint, tmp_path / "checkpoint.pt")
    _fails_cleanly(
        ["train", "--resume", str(tmp_path), "--epochs", "2"], capsys, "has trained 3 epochs already"
    )


def test_resuming_from_a_folder_without_a_checkpoint_is_refused(tmp_path, capsys):
    _fails_cleanly(["train", "--resume", str(tmp_path)], capsys, "there is no checkpoint.pt in it")


def test_resuming_from_a_file_that_is_not_a_checkpoint_is_refused(tmp_path, capsys):
    (tmp_path / "checkpoint.pt").write_text("not a checkpoint")
    _fails_cleanly(["train", "--resume", str(tmp_path)], capsys, "cannot read", "as a checkpoint")


def test_resuming_a_checkpoint_without_training_state_is_refused(one_epoch, tmp_path, capsys):
    checkpoint = _checkpoint(one_epoch)
    for key in ("optimizer", "scheduler", "rng", "epoch"):
        del checkpoint[key]  # as written before checkpoints held the training state
    torch.save(checkpoint, tmp_path / "checkpoint.pt")
    _fails_cleanly(["train", "--resume", str(tmp_path)], capsys, "lacks epoch, optimizer, scheduler, rng")
