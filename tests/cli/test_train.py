import contextlib
import io
import sys

import pytest
import torch

from spikestep.cli import main

# A tiny network for the tests that only check plumbing (accuracy does not matter there).
TINY = ["--epochs", "1", "--T", "2", "--hidden", "4", "--no-progress"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """Two epochs of the default digits network (about a second each); the folder and what it printed."""
    out = tmp_path_factory.mktemp("digits")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["train", "--out", str(out), "--epochs", "2", "--no-progress"]) == 0
    return out, printed.getvalue()


def test_train_writes_checkpoint_and_three_figures(digits_run):
    digits_run, _ = digits_run
    for name in ("accuracy.png", "raster.png", "firing_rates.png"):
        assert (digits_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    checkpoint = torch.load(digits_run / "checkpoint.pt", weights_only=False)
    assert {"state_dict", "args", "history", "test_accuracy"} <= set(checkpoint)
    assert checkpoint["args"]["dataset"] == "digits" and len(checkpoint["history"]["test_acc"]) == 2


def test_two_epochs_on_digits_are_well_above_chance(digits_run):
    assert torch.load(digits_run[0] / "checkpoint.pt", weights_only=False)["test_accuracy"] > 0.5


def test_checkpoint_state_loads_into_the_network_it_names(digits_run):
    from spikestep.models import DigitsNet

    checkpoint = torch.load(digits_run[0] / "checkpoint.pt", weights_only=False)
    net = DigitsNet(channels=checkpoint["args"]["hidden"])
    net.load_state_dict(checkpoint["state_dict"])


def test_same_seed_gives_the_same_accuracy_with_poisson_input(tmp_path):
    histories = []
    for run in ("a", "b"):
        assert main(["train", "--out", str(tmp_path / run), *TINY, "--encoding", "poisson"]) == 0
        histories.append(torch.load(tmp_path / run / "checkpoint.pt", weights_only=False)["history"])
    assert histories[0]["test_acc"] == histories[1]["test_acc"]
    assert histories[0]["train_loss"] == histories[1]["train_loss"]


def test_train_prints_test_accuracy_each_epoch(digits_run):
    printed = digits_run[1]
    assert "epoch   1/2" in printed and "epoch   2/2" in printed
    assert printed.count(" test ") == 2 and "test accuracy" in printed


def _fails_cleanly(argv, capsys, *needles):
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err
    return err


def test_unknown_dataset_exits_with_the_valid_choices(capsys):
    _fails_cleanly(["train", "--dataset", "cifar"], capsys, "invalid choice", "digits", "mnist1d")


def test_negative_epochs_exit_with_a_message(capsys):
    _fails_cleanly(["train", "--epochs", "-3"], capsys, "--epochs", ">= 1")


def test_unwritable_out_exits_with_a_message(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    _fails_cleanly(["train", "--out", str(blocker / "run")], capsys, "cannot write to --out")


def test_option_of_the_other_data_set_is_rejected(capsys):
    _fails_cleanly(["train", "--dataset", "mnist1d", "--T", "4"], capsys, "--T applies to --dataset digits")


def test_missing_extra_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    err = _fails_cleanly(["train", "--out", str(tmp_path), *TINY], capsys, "pip install")
    assert "spikestep[train]" in err


def test_delays_apply_to_mnist1d_only(capsys):
    _fails_cleanly(["train", "--delays", "learned"], capsys, "--delays applies to --dataset mnist1d only")


def test_learned_delays_train_score_their_integer_form_and_draw_the_delays(tmp_path):
    printed = io.StringIO()
    args = ["train", "--dataset", "mnist1d", "--delays", "learned", "--epochs", "5", "--hidden", "4"]
    with contextlib.redirect_stdout(printed):
        assert main([*args, "--no-progress", "--out", str(tmp_path)]) == 0
    text = printed.getvalue()
    assert "integer-delay form (per-channel Delay layers, streams exactly): test accuracy" in text
    assert (tmp_path / "delays.png").read_bytes()[:4] == b"\x89PNG"
    # Rounded and frozen at 80% of training: the integer form scores exactly what the network scores.
    final = text.split("test accuracy ")[-1].split("%")[0]
    assert f"streams exactly): test accuracy {final}%" in text
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert saved["args"]["delays"] == "learned" and saved["args"]["hidden"] == 4
