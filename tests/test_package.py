import ast
import pathlib
import subprocess
import sys

import spikestep

PACKAGE_DIR = pathlib.Path(spikestep.__file__).parent


def test_the_specifications_imports_work():
    from spikestep import base, functional, layer

    assert layer.SynapseFilter and layer.Delay and layer.VotingLayer and layer.PrintShapeModule
    assert base.MemoryModule and base.StepModule
    assert functional.seq_to_ann_forward and functional.delay and functional.reset_net


def test_no_assert_statements_in_the_package():
    offenders = [
        f"{path.relative_to(PACKAGE_DIR)}:{node.lineno}"
        for path in PACKAGE_DIR.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assert)
    ]
    assert offenders == []


def test_validation_holds_under_python_dash_o():
    code = (
        "from spikestep import layer\n"
        "for make in (lambda: layer.SynapseFilter(tau=0.5), lambda: layer.Delay(-1),\n"
        "             lambda: layer.VotingLayer(0), lambda: layer.Delay(2, step_mode='x')):\n"
        "    try:\n"
        "        make()\n"
        "    except ValueError:\n"
        "        continue\n"
        "    raise SystemExit('accepted a bad argument')\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
