"""Only ``alstrategies/engine/layout.py`` spells the paths of a run folder, and only ``records.py`` the
``<metric>_<class>`` columns (docs/architecture.md, rows ``layout`` and ``records``).

The scan reads the package's source with :mod:`ast`: a file or folder name of a run folder (or of
the report and grid files laid out there) in any other module is a path built behind the
layout's back.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "alstrategies"
LAYOUT = PACKAGE / "engine" / "layout.py"

#: The names every run folder has had: the scan checks at least these, whatever layout.py holds.
RUN_FOLDER_FILES = {
    "config.json",
    "dataset.json",
    "data_fingerprint.json",
    "plan.json",
    "pool.csv",
    "results.csv",
    "timings.csv",
    "run.log",
    "summary.md",
    "grid.json",
    "network_query_split.md",
    "network_query_split.csv",
    "learning_curves.png",
    "batch_diagnostics.csv",
}
#: The run folder's subfolders: these words are also config sections and values
#: (``[strategies]``, ``protocol.networks = "shared"``), so only a path join or a comparison with
#: a path's ``.name`` counts.
RUN_FOLDER_DIRS = {"shared", "strategies", "snapshots", "checkpoints"}
#: The suffixes of a run folder's files: an f-string ending in one builds a file name.
SUFFIX = re.compile(r"\.(json|csv|md|tex|png|pdf|log|npz|pt)$")
FILE_NAME = re.compile(r"^[\w-]+\.(json|csv|md|tex|png|pdf|log|npz|pt)$")
#: A metric's budget tables, ``<metric>_table.{md,tex,csv}`` (``RunLayout.metric_tables``).
METRIC_TABLE = re.compile(r"^\w+_table\.(md|tex|csv)$")
#: (module, name) pairs that are not run-folder paths: the Decathlon and nnU-Net datasets'
#: own ``dataset.json``, and the dataset cache's files (``data/cache.py``).
NOT_RUN_FOLDER = {
    ("alstrategies/data/dataset_json.py", "dataset.json"),
    ("alstrategies/data/decathlon.py", "dataset.json"),
    ("alstrategies/data/nnunet.py", "dataset.json"),
}
NOT_RUN_FOLDER_MODULES = {"alstrategies/data/cache.py"}


def declared_names() -> set[str]:
    """The file names spelled in layout.py (its string constants that are file names)."""
    tree = ast.parse(LAYOUT.read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and FILE_NAME.match(node.value)
    }


def _constant(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def offences(source: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, what) for each run-folder path that ``source`` builds itself."""
    found = []
    for node in ast.walk(ast.parse(source)):
        value = _constant(node)
        if value is not None and (value in names or METRIC_TABLE.match(value)):
            found.append((node.lineno, value))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            for side in (node.left, node.right):
                if _constant(side) in RUN_FOLDER_DIRS:
                    found.append((side.lineno, f"/ {_constant(side)!r}"))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "joinpath":
            found += [
                (a.lineno, f"joinpath({_constant(a)!r})")
                for a in node.args
                if _constant(a) in RUN_FOLDER_DIRS
            ]
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Attribute) and s.attr == "name" for s in sides):
                found += [
                    (s.lineno, f".name == {_constant(s)!r}") for s in sides if _constant(s) in RUN_FOLDER_DIRS
                ]
        if isinstance(node, ast.JoinedStr) and node.values:
            last = _constant(node.values[-1])
            if len(node.values) > 1 and last is not None and SUFFIX.search(last) and " " not in last:
                found.append((node.lineno, f"f-string file name {ast.unparse(node)}"))
    return found


def _package_offences(names: set[str]) -> list[str]:
    report = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        if path == LAYOUT or module in NOT_RUN_FOLDER_MODULES:
            continue
        for line, what in offences(path.read_text(), names):
            if (module, what) not in NOT_RUN_FOLDER:
                report.append(f"{module}:{line}: {what}")
    return report


def test_layout_declares_every_name_the_scan_checks():
    assert declared_names() >= RUN_FOLDER_FILES


def test_no_module_but_layout_spells_a_run_folder_path():
    offenders = _package_offences(declared_names() | RUN_FOLDER_FILES)
    assert not offenders, "build these paths through alstrategies.engine.layout:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    "source",
    [
        'path = folder / "results.csv"',
        'open("config.json")',
        'table = run_dir / "hd95_table.csv"',
        'folder = run_dir / "shared" / f"seed{seed}"',
        'run_dir.joinpath("snapshots")',
        'skip = path.parent.parent.name != "strategies"',
        'paths = [out_dir / f"{stem}.md"]',
    ],
)
def test_the_scan_finds_a_planted_path(source):
    assert offences(source, RUN_FOLDER_FILES)


@pytest.mark.parametrize(
    "source",
    [
        'config["strategies"]["names"] = names',
        'networks = "shared"',
        'message = f"{path} not found: run it first"',
        'label = f"seed {seed}.json files"',
    ],
)
def test_the_scan_leaves_config_words_and_messages_alone(source):
    assert not offences(source, RUN_FOLDER_FILES)


def test_only_records_spells_the_per_class_columns():
    """``<metric>_<class>`` columns are built and read back by :mod:`alstrategies.engine.records`
    (``class_columns``, ``class_names_of``); nowhere else parses the ``dice_`` prefix."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "engine" / "records.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if _constant(node) == "dice_":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "use alstrategies.engine.records.class_names_of / class_columns:\n" + "\n".join(
        offenders
    )
