"""The command line refuses bad numbers: one line that names the option, exit code 2, nothing run."""

import subprocess
import sys

import pytest

from spikestep import bench
from spikestep.cli import main

TRAIN_BAD = [
    ("--epochs", "0", ">= 1"),
    ("--epochs", "-3", ">= 1"),
    ("--epochs", "2.5", "expected a whole number >= 1"),
    ("--batch-size", "0", ">= 1"),
    ("--lr", "inf", "finite number > 0"),
    ("--lr", "nan", "finite number > 0"),
    ("--lr", "1e400", "finite number > 0"),
    ("--lr", "0", "finite number > 0"),
    ("--lr", "-0.1", "finite number > 0"),
    ("--T", "0", ">= 1"),
    ("--hidden", "0", ">= 1"),
    ("--taps", "0", ">= 1"),
    ("--voting-size", "0", ">= 1"),
    ("--dropout", "1", "in [0, 1)"),
    ("--dropout", "-0.1", "in [0, 1)"),
    ("--dropout", "nan", "in [0, 1)"),
    ("--tau", "inf", "finite number > 1"),
    ("--tau", "1", "finite number > 1"),
    ("--tau", "nan", "finite number > 1"),
    ("--readout-tau", "inf", "finite number > 1"),
    ("--readout-tau", "0.5", "finite number > 1"),
    ("--seed", "-1", "in [0, 2**63 - 1]"),
    ("--seed", str(2**63), "in [0, 2**63 - 1]"),
]


def _last_line(err):
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize(("option", "value", "needle"), TRAIN_BAD)
def test_train_refuses_a_bad_number_in_one_line_naming_the_option(option, value, needle, tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path), option, value]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = _last_line(err)
    assert line.startswith(f"spikestep train: error: argument {option}: ") and needle in line, line
    assert not (tmp_path / "checkpoint.pt").exists()


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [("--epochs", "1", 1), ("--lr", "1e-3", 1e-3), ("--tau", "1.5", 1.5), ("--readout-tau", "3", 3.0),
     ("--dropout", "0", 0.0), ("--seed", "0", 0), ("--seed", str(2**63 - 1), 2**63 - 1), ("--T", "1", 1),
     ("--voting-size", "1", 1)],
)  # fmt: skip
def test_train_accepts_the_edges_of_each_range(option, value, expected):
    from spikestep.cli import _parser

    args = _parser().parse_args(["train", option, value])
    assert getattr(args, option[2:].replace("-", "_")) == expected


@pytest.mark.parametrize("option", ["--tau", "--readout-tau", "--lr"])
def test_train_with_an_infinite_number_exits_2_from_the_shell(option):
    result = subprocess.run(
        [sys.executable, "-m", "spikestep", "train", option, "inf"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and f"argument {option}: must be a finite number" in result.stderr


BENCH_BAD = [
    ("--T", ["0"]),
    ("--T", ["16", "0"]),
    ("--N", ["-5"]),
    ("--N", ["0"]),
    ("--threads", ["0"]),
    ("--repeats", ["0"]),
    ("--loop-repeats", ["0"]),
    ("--T", ["x"]),
]


@pytest.mark.parametrize(("option", "values"), BENCH_BAD)
def test_bench_refuses_a_bad_number_in_one_line_naming_the_option(option, values, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main([option, *values])
    assert exit_info.value.code == 2
    line = _last_line(capsys.readouterr().err)
    assert line.startswith(f"python -m spikestep.bench: error: argument {option}: ") and ">= 1" in line, line


def test_spikestep_bench_refuses_a_bad_number_with_exit_code_2(capsys):
    assert main(["bench", "--N", "-5"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "argument --N: must be a whole number >= 1, got -5" in err


def test_python_dash_m_bench_with_zero_steps_exits_2_without_running():
    result = subprocess.run(
        [sys.executable, "-m", "spikestep.bench", "--T", "0"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert (
        "Traceback" not in result.stderr
        and "argument --T: must be a whole number >= 1, got 0" in result.stderr
    )
    assert result.stdout == ""
