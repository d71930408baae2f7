"""Every committed report is what this version's ``alstrategies report`` writes from the
committed records (issue 29, item 6): each run folder under ``results/`` (any ``results.csv``)
and each ablation grid (``grid.json``), every Markdown, CSV and LaTeX file byte for byte. The
figures are not compared (their bytes follow matplotlib's version)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
#: the ``--reference`` a committed folder's report was written with (its reference_comparison.*)
REFERENCES = {
    "acdc_cpu": "benchmarks/reference/sbcal_miccai2024_acdc.csv",
    "ablation_asr_cpu": "benchmarks/reference/sbcal_miccai2024_acdc_asr.csv",
}
TEXT = (".md", ".csv", ".tex")
#: files of a run folder that the run writes, not the report
RECORDS = {"results.csv", "pool.csv", "timings.csv"}
#: report files another command writes into a run folder (``alstrategies report SHARED PAPER``)
OTHERS = {"network_query_split.md"}


def _folders(marker: str) -> list[Path]:
    return sorted(path.parent for path in RESULTS.rglob(marker) if "checkpoints" not in path.parts)


def _reference(folder: Path) -> str | None:
    name = folder.relative_to(RESULTS).parts[0]
    if not any(folder.glob("reference_comparison.*")) and not any(folder.glob("ablation_reference.md")):
        return None
    assert name in REFERENCES, f"{folder} has a reference comparison: add its --reference to REFERENCES"
    return str(ROOT / REFERENCES[name])


def _same_text_files(written: list[Path], committed: Path) -> None:
    names = {Path(path).name for path in written if Path(path).suffix in TEXT}
    for name in sorted(names):
        assert (committed / name).is_file(), (
            f"{committed.name}/{name} is not committed: regenerate the report"
        )
        fresh = next(Path(p) for p in written if Path(p).name == name)
        assert fresh.read_bytes() == (committed / name).read_bytes(), (
            f"{committed.relative_to(ROOT)}/{name} is stale: run `alstrategies report "
            f"{committed.relative_to(ROOT)}` (with its --reference) and commit it"
        )
    stale = {p.name for p in committed.iterdir() if p.suffix in (".md", ".tex")} - names - OTHERS
    assert not stale, f"{committed.name} holds report files this version no longer writes: {sorted(stale)}"


RUNS = _folders("results.csv")
GRIDS = _folders("grid.json")


def test_the_committed_folders_are_found():
    names = {path.relative_to(RESULTS).parts[0] for path in RUNS}
    assert {"synthetic", "chaos_kidney_cpu", "acdc_cpu"} <= names


@pytest.mark.parametrize("run", RUNS, ids=[str(p.relative_to(RESULTS)) for p in RUNS])
def test_a_committed_run_report_regenerates_byte_for_byte(run, tmp_path):
    from alstrategies.report import write_report

    written = write_report(pd.read_csv(run / "results.csv"), tmp_path, run_dir=run, reference=_reference(run))
    _same_text_files([p for p in written if Path(p).name not in RECORDS], run)


@pytest.mark.parametrize("grid", GRIDS, ids=[str(p.relative_to(RESULTS)) for p in GRIDS])
def test_a_committed_grid_report_regenerates_byte_for_byte(grid, tmp_path):
    from alstrategies.report import write_ablation_report

    copy = tmp_path / grid.name
    shutil.copytree(
        grid, copy, ignore=shutil.ignore_patterns("*.pt", "checkpoints", "snapshots", "*.png", "*.pdf")
    )
    for path in copy.glob("ablation_*"):
        path.unlink()  # written afresh below
    written = write_ablation_report(copy, _reference(grid))
    names = {Path(p).name for p in written}
    for name in sorted(names):
        assert (copy / name).read_bytes() == (grid / name).read_bytes(), f"{grid.name}/{name} is stale"
    committed = {p.name for p in grid.glob("ablation_*") if p.suffix in TEXT}
    assert committed <= names, f"{grid.name} holds ablation files this version no longer writes"
