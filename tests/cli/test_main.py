import subprocess
import sys

from spikestep.cli import main


def test_python_dash_m_spikestep_help_lists_the_subcommands():
    result = subprocess.run(
        [sys.executable, "-m", "spikestep", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for command in ("train", "demo", "bench"):
        assert command in result.stdout


def test_no_subcommand_prints_usage_and_fails(capsys):
    assert main([]) == 2
    assert "usage: spikestep" in capsys.readouterr().out


def test_bench_forwards_its_arguments_to_the_benchmark(capsys):
    assert main(["bench", "--help"]) == 0
    assert "python -m spikestep.bench" in capsys.readouterr().out


def test_bench_usage_error_exits_without_traceback(capsys):
    assert main(["bench", "--no-such-option"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_the_command_imports_no_plotting_or_data_extras_until_a_subcommand_needs_them():
    code = (
        "import sys; from spikestep.cli import main; main(['train', '--help']); "
        "print('EXTRAS', sorted(m for m in ('matplotlib', 'sklearn', 'mnist1d') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "EXTRAS []" in result.stdout
