"""``import spikestep`` never imports nir; without nir, spikestep.nir imports and its calls say how to
install it. Each case runs in a fresh interpreter (nir must not be imported already)."""

import subprocess
import sys
import textwrap


def _run(code: str, tmp_path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout.strip()


def test_importing_spikestep_and_its_submodules_imports_neither_nir_nor_h5py(tmp_path):
    code = """
        import sys
        import spikestep, spikestep.nir
        from spikestep.nir import GraphNet, Scale, conventions, export, load
        print(sorted(m for m in ("nir", "h5py", "nirtorch") if m in sys.modules))
    """
    assert _run(code, tmp_path) == "[]"


def test_without_nir_export_and_load_raise_an_import_error_naming_the_extra(tmp_path):
    code = """
        import sys
        sys.modules["nir"] = None  # as if it were not installed
        import torch
        from spikestep import neuron
        from spikestep.nir import export, load
        for call in (lambda: export(neuron.IFNode(), torch.rand(2, 3)), lambda: load("net.nir")):
            try:
                call()
            except ImportError as error:
                assert 'pip install "spikestep[nir]"' in str(error), error
            else:
                raise SystemExit("no ImportError")
        print("ok")
    """
    assert _run(code, tmp_path) == "ok"


def test_a_folder_named_nir_on_the_path_is_not_taken_for_the_package(tmp_path):
    (tmp_path / "nir").mkdir()  # a namespace package, as tests/nir is when nir is not installed
    code = """
        import sys
        from spikestep.nir._require import require_nir  # torch and spikestep first, from site-packages
        sys.path[:] = ["."]  # now only the folder: the installed nir, if any, is out of reach
        try:
            require_nir()
        except ImportError as error:
            assert "spikestep[nir]" in str(error) and "not the package" in str(error), error
            print("ok")
    """
    assert _run(code, tmp_path) == "ok"
