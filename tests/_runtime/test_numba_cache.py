"""numba's on-disk cache goes to a per-user folder (or NUMBA_CACHE_DIR), never into the installed package.

numba's default writes ``__pycache__/*.nbi|*.nbc`` next to the kernel's source file: inside
site-packages, where the folder outlives an uninstall and later shadows the package's modules.
Each case compiles in a fresh interpreter with a fresh cache folder, so the kernels are compiled and
written there, not loaded from an earlier run.
"""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numba")

import spikestep

PACKAGE_DIR = pathlib.Path(os.path.dirname(spikestep.__file__))

# On the numba backend (forced: it fails rather than fall back): a LIF neuron's multi-step forward and
# backward, and a SynapseFilter walk (forward and backward).
WORKLOAD = textwrap.dedent(
    """
    import sys

    import torch

    import spikestep
    from spikestep import layer, neuron, ops
    from spikestep._runtime import numba_jit

    print(spikestep.__file__)
    print(numba_jit.cache_dir())
    with ops.use_backend("numba"):
        x = torch.rand(8, 4, 16, requires_grad=True)
        if "neuron" in sys.argv[1:]:
            lif = neuron.LIFNode(tau=2.0, step_mode="m")
            assert lif.backend_for(x) == "numba", lif.backend_for(x)
            lif(x * 2.0).sum().backward()
        syn = layer.SynapseFilter(tau=3.0, learnable=True, step_mode="m")
        assert ops.resolve_backend(x) == "numba"
        syn(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    print("ok")
    """
)


def _compiled_cache_files(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for pattern in ("*.nbi", "*.nbc") for p in folder.rglob(pattern))


def _run(tmp_path: pathlib.Path, env_changes: dict[str, str], *args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "SPIKESTEP_DISABLE_NUMBA")}
    env.update(env_changes)
    result = subprocess.run(
        [sys.executable, "-c", WORKLOAD, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-5000:]
    lines = result.stdout.splitlines()
    assert lines[-1] == "ok"
    assert pathlib.Path(lines[0]).parent == PACKAGE_DIR  # the package this test inspects ran
    return lines


def test_kernels_are_cached_in_the_user_cache_folder_not_in_the_package(tmp_path):
    xdg = tmp_path / "xdg-cache"
    lines = _run(tmp_path, {"XDG_CACHE_HOME": str(xdg)}, "neuron")
    expected = xdg / "spikestep" / "numba"
    assert pathlib.Path(lines[1]) == expected

    assert _compiled_cache_files(PACKAGE_DIR) == []
    cached = _compiled_cache_files(expected)
    # numba files each source folder's entries in a subfolder named after it: both operators compiled.
    folders = {p.relative_to(expected).parts[0].rsplit("_", 1)[0] for p in cached}
    assert folders == {"neuron", "synapse_filter"}, cached
    assert {p.suffix for p in cached} == {".nbi", ".nbc"}


def test_numba_cache_dir_is_honoured(tmp_path):
    chosen = tmp_path / "chosen"
    xdg = tmp_path / "xdg-cache"
    lines = _run(tmp_path, {"NUMBA_CACHE_DIR": str(chosen), "XDG_CACHE_HOME": str(xdg)})
    assert pathlib.Path(lines[1]) == chosen

    assert _compiled_cache_files(PACKAGE_DIR) == []
    assert _compiled_cache_files(chosen) != []
    assert not xdg.exists()
