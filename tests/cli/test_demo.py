import pytest

from spikestep.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def test_demo_all_writes_three_pngs(tmp_path):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["delay.png", "synapse.png", "voting.png"]
    assert all(p.read_bytes()[:8] == PNG for p in tmp_path.iterdir())


@pytest.mark.parametrize("which", ["synapse", "delay", "voting"])
def test_demo_draws_only_the_picture_asked_for(tmp_path, which):
    assert main(["demo", which, "--out", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == [f"{which}.png"]


def test_demo_unknown_picture_exits_with_a_message(tmp_path, capsys):
    assert main(["demo", "lif", "--out", str(tmp_path)]) == 2
    assert "invalid choice" in capsys.readouterr().err
