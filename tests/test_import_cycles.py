"""Dependencies inside the package point one way: no import cycles, and the layers keep their order.

The graph is read from the source with ``ast``: every ``import`` and ``from ... import`` anywhere in a
module (at its top, inside functions, under ``TYPE_CHECKING``), relative ones resolved, and
``importlib.import_module("spikestep...")``-style calls with a literal module name. An import of
``a.b.c`` depends on ``a.b.c`` and on the packages ``a.b`` and ``a`` (Python runs their ``__init__``
first); ``from a.b import c`` depends on ``a.b``, and on ``a.b.c`` too when ``c`` is a submodule. A
module's own enclosing packages are not counted: they are always imported before it, so naming them
runs nothing.
"""

from __future__ import annotations

import ast
import itertools
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGE_DIR = REPO / "spikestep"
TEAM_TOOL = REPO.parent / "shared" / "tools" / "import_cycles.py"

# An edge: (importer, imported, where the import is written).
Edge = tuple[str, str, str]


def module_names(package_dir: pathlib.Path) -> dict[str, pathlib.Path]:
    names = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_edges(package_dir: pathlib.Path) -> list[Edge]:
    modules = module_names(package_dir)
    edges: list[Edge] = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        own_packages = set(_ancestors(name))
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base_parts = package.split(".")
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Call) and node.args:
                first = node.args[0]
                if (
                    isinstance(first, ast.Constant)
                    and isinstance(first.value, str)
                    and first.value in modules
                ):
                    targets = [first.value]  # importlib.import_module("spikestep.x"), triton_jit.load(...)
            where = f"{path.relative_to(package_dir.parent)}:{getattr(node, 'lineno', '?')}"
            for target in targets:
                for imported in (*_ancestors(target), target):
                    if imported in modules and imported != name and imported not in own_packages:
                        edges.append((name, imported, where))
    return edges


def find_cycle(edges: list[Edge]) -> list[Edge]:
    """One cycle of the graph as its edges in order, or ``[]``."""
    graph: dict[str, dict[str, str]] = {}
    for src, dst, where in edges:
        graph.setdefault(src, {}).setdefault(dst, where)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[Edge]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                loop = [*path[path.index(nxt) :], nxt]
                return [(a, b, graph[a][b]) for a, b in itertools.pairwise(loop)]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def describe(cycle: list[Edge]) -> str:
    return "import cycle:\n" + "\n".join(f"  {a} -> {b}  ({where})" for a, b, where in cycle)


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_edges(PACKAGE_DIR))
    assert not cycle, describe(cycle)


def test_the_teams_import_cycle_tool_finds_none_either():
    if not TEAM_TOOL.exists():
        pytest.skip(f"{TEAM_TOOL} is not in this checkout")
    result = subprocess.run(
        [sys.executable, str(TEAM_TOOL), "spikestep"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def _subpackage(module: str) -> str:
    """``spikestep.ops.neuron.op`` -> ``ops``; the package itself -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


# What sits above the operators: the functional core and everything built on it.
ABOVE_OPS = {"functional", "layer", "neuron", "base", "encoding", "models", "data", "cli", "bench"}


def test_operators_import_nothing_from_the_layers_above_them():
    offenders = [
        f"{where}: {src} imports {dst}"
        for src, dst, where in import_edges(PACKAGE_DIR)
        if _subpackage(src) == "ops" and _subpackage(dst) in ABOVE_OPS
    ]
    assert offenders == []


def test_the_runtime_imports_only_itself():
    offenders = [
        f"{where}: {src} imports {dst}"
        for src, dst, where in import_edges(PACKAGE_DIR)
        if _subpackage(src) == "_runtime" and _subpackage(dst) != "_runtime"
    ]
    assert offenders == []


# The reader itself, on small packages written for the purpose.
def _write(root: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_a_cycle_through_a_lazy_import_in_a_function_is_found(tmp_path):
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from .b import f\n",
            "pkg/b.py": "def f():\n    from . import a  # lazy\n    return a\n",
        },
    )
    cycle = find_cycle(import_edges(package))
    assert [(a, b) for a, b, _ in cycle] == [("pkg.a", "pkg.b"), ("pkg.b", "pkg.a")]
    assert cycle[1][2] == "pkg/b.py:2"
    assert "pkg.b -> pkg.a  (pkg/b.py:2)" in describe(cycle)


def test_a_cycle_through_a_package_init_is_found(tmp_path):
    # x's __init__ imports x.m; y imports x.m, which runs x's __init__ too; x.m imports y.
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/x/__init__.py": "from .m import g\n",
            "pkg/x/m.py": "import pkg.y\ndef g():\n    pass\n",
            "pkg/y.py": "from pkg.x import m\n",
        },
    )
    edges = {(a, b) for a, b, _ in import_edges(package)}
    assert {("pkg.x", "pkg.x.m"), ("pkg.x.m", "pkg.y"), ("pkg.y", "pkg.x"), ("pkg.y", "pkg.x.m")} <= edges
    assert find_cycle(import_edges(package))


def test_enclosing_packages_and_siblings_read_by_name_make_no_false_cycle(tmp_path):
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "from . import sub\n",
            "pkg/sub/__init__.py": "from .a import A\nfrom .b import B\n",
            "pkg/sub/a.py": "from .. import sub  # an enclosing package: already imported\nA = 1\n",
            "pkg/sub/b.py": "from . import a\nfrom .a import A as B\nimport importlib\n"
            "importlib.import_module('pkg.sub.a')\n",
        },
    )
    edges = {(a, b) for a, b, _ in import_edges(package)}
    assert edges == {
        ("pkg", "pkg.sub"),
        ("pkg.sub", "pkg.sub.a"),
        ("pkg.sub", "pkg.sub.b"),
        ("pkg.sub.b", "pkg.sub.a"),
    }
    assert find_cycle(import_edges(package)) == []
