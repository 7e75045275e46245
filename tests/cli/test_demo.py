import pytest

from spikestep.cli import main
from spikestep.cli._delays_demo import fit_planted_delays

PNG = b"\x89PNG\r\n\x1a\n"


def test_demo_all_writes_four_pngs(tmp_path):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "delay.png",
        "delays.png",
        "synapse.png",
        "voting.png",
    ]
    assert all(p.read_bytes()[:8] == PNG for p in tmp_path.iterdir())


@pytest.mark.parametrize("which", ["synapse", "delay", "voting", "delays"])
def test_demo_draws_only_the_picture_asked_for(tmp_path, which):
    assert main(["demo", which, "--out", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == [f"{which}.png"]


def test_demo_unknown_picture_exits_with_a_message(tmp_path, capsys):
    assert main(["demo", "lif", "--out", str(tmp_path)]) == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("seed", [0, 1])
def test_learnable_delays_land_within_half_a_step_of_the_planted_ones(seed):
    fit = fit_planted_delays(steps=100, T=80, batch=8, seed=seed)
    assert (fit.learned - fit.planted).abs().max() < 0.5
    assert fit.history.shape == (101, len(fit.planted))
