"""The layout rules of docs/architecture.md: no import circle among the library's modules, small
modules, and dependencies that flow one way (the core never imports the built-in strategies or
executors, which register like plug-ins, nor the repository's ``benchmarks``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "alstrategies"
MAX_LINES = 420  # "about 400"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Modules of ``known`` that ``path`` imports when it is imported (function bodies and
    ``if TYPE_CHECKING:`` blocks excluded: they do not run at import time)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(tree.body)
    return {m for m in found if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph = {name: module_level_imports(path, name, known) for name, path in modules.items()}
    for name in known:  # importing a.b.c runs a/__init__ and a/b/__init__ first
        parts = name.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent in known and parent != name:
                graph[name].add(parent)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (a list of modules that ends where it starts), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if state.get(other) == 1:
                return stack[stack.index(other) :] + [other]
            if other not in state:
                cycle = visit(other)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def _without_package_parents(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` re-exporting its submodules is not a circle with them."""
    return {name: {m for m in deps if not name.startswith(m + ".")} for name, deps in graph.items()}


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_import_scan_sees_module_level_imports_only(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nimport alstrategies.x\nfrom alstrategies import y\n"
        "if TYPE_CHECKING:\n    import alstrategies.z\n"
        "def f():\n    import alstrategies.w\n"
    )
    known = {"alstrategies.x", "alstrategies.y", "alstrategies.z", "alstrategies.w", "alstrategies"}
    assert module_level_imports(source, "alstrategies.m", known) == {
        "alstrategies.x",
        "alstrategies.y",
        "alstrategies",
    }


def test_no_import_circle_among_the_library_modules():
    assert find_cycle(_without_package_parents(_graph())) is None


@pytest.mark.parametrize("name", sorted(_modules()))
def test_modules_stay_small(name):
    lines = len(_modules()[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by concept (docs/architecture.md)"


#: The packages that register through entry points: the core reaches them only by name.
PLUGGED_IN = ("alstrategies.baselines", "alstrategies.executors")


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_core_never_imports_the_built_in_plug_ins_or_benchmarks():
    """``benchmarks`` is repository tooling; the built-in strategies and executors are reached
    through the registry (entry points), exactly as a plug-in is."""
    offenders = []
    for name, path in _modules().items():
        plugged = next((p for p in PLUGGED_IN if _inside(name, p)), None)
        for node in ast.walk(ast.parse(path.read_text())):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{name} imports {m}"
                for m in modules
                if m.split(".")[0] in ("baselines", "benchmarks")
                or any(_inside(m, p) and p != plugged for p in PLUGGED_IN)
            ]
    assert not offenders


def test_the_distribution_installs_one_top_level_package():
    """``pip install`` puts ``alstrategies`` and its subpackages on the path, nothing else (no
    generic ``baselines`` or ``benchmarks`` that another distribution could shadow)."""
    import fnmatch
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = [p.parent.relative_to(ROOT) for p in ROOT.rglob("__init__.py") if ".venv" not in p.parts]
    found = {
        ".".join(p.parts) for p in packages if any(fnmatch.fnmatch(".".join(p.parts), i) for i in include)
    }
    assert {name.split(".")[0] for name in found} == {"alstrategies"}
    assert {"alstrategies.baselines", "alstrategies.executors"} <= set(found)
    groups = config["project"]["entry-points"]
    targets = [target for group in groups.values() for target in group.values()]
    assert targets and all(target.startswith("alstrategies.") for target in targets)


def test_a_worker_process_imports_no_plotting_code():
    import subprocess
    import sys

    probe = "import alstrategies.engine.worker, sys; print('matplotlib' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"


def test_the_run_engines_old_import_paths_still_work_and_warn_once() -> None:
    """The run engine moved into ``alstrategies.engine``; an old path gives the very same module
    and one ``FutureWarning`` naming the new path, however often it is imported."""
    import json
    import subprocess
    import sys

    from alstrategies._moved import MOVED

    for old, new in MOVED.items():
        assert not (ROOT / Path(*old.split("."))).with_suffix(".py").exists(), old
        assert (ROOT / Path(*new.split("."))).with_suffix(".py").is_file(), new
    code = (
        "import json, warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import alstrategies.loop as old\n"
        "    import alstrategies.loop\n"
        "    from alstrategies.records import read_record\n"
        "import alstrategies.engine.loop as new\n"
        "from alstrategies.engine.records import read_record as new_read\n"
        "print(json.dumps([old is new, read_record is new_read,"
        " [(w.category.__name__, str(w.message)) for w in caught]]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    same_module, same_function, warned = json.loads(done.stdout)
    assert same_module and same_function
    assert warned == [
        [
            "FutureWarning",
            f"alstrategies.{m} moved to alstrategies.engine.{m}; import alstrategies.engine.{m} instead",
        ]
        for m in ("loop", "records")
    ]


def test_the_tests_mirror_the_package() -> None:
    """``tests/<sub>/`` holds the tests of ``alstrategies/<sub>/``; besides them only
    ``tests/benchmarks`` (the repository's tooling) and ``tests/results`` (the committed studies);
    a top-level module's tests lie in ``tests/`` itself (tests/README.md)."""
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    folders = {p.parent.name for p in (ROOT / "tests").glob("*/__init__.py")}
    assert folders - subpackages == {"benchmarks", "results"}, folders - subpackages
