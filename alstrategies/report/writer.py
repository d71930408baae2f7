"""``write_report``: every report file of one run folder (see ``docs/reports.md``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from alstrategies.report.curves import plot_learning_curves
from alstrategies.report.io import atomic_write_text, write_csv
from alstrategies.report.qualitative import write_qualitative_figures
from alstrategies.report.reference import write_reference_comparison
from alstrategies.report.summary import write_summary
from alstrategies.report.tables import Table, budget_table, render_latex, render_markdown, tidy_frame

__all__ = ["ReportFiles", "metric_tables", "write_report"]

log = logging.getLogger("alstrategies.report")


class ReportFiles(list[Path]):
    """The paths written (a plain list of them) plus ``notes``: what was skipped and why."""

    def __init__(self, paths: list[Path] | None = None, notes: list[str] | None = None) -> None:
        super().__init__(paths or [])
        self.notes: list[str] = list(notes or [])


def _class_names(results: pd.DataFrame) -> list[str]:
    return [c.removeprefix("dice_") for c in results.columns if c.startswith("dice_")]


def metric_tables(results: pd.DataFrame, family: str, class_names: list[str]) -> list[Table]:
    """The budget tables of a metric family: ``"dice"`` (percent, higher is better) or ``"hd95"``
    (its own unit, lower is better): the class mean first, then one table per class present."""
    if family not in ("dice", "hd95"):
        raise ValueError(f"unknown metric family {family!r}")
    dice = family == "dice"
    scale, unit = (100.0, " (%)") if dice else (1.0, "")
    name = "Dice" if dice else "HD95"
    tables = []
    for metric, title in [(family, f"Mean {name}{unit}")] + [
        (f"{family}_{c}", f"{name} {c}{unit}") for c in class_names
    ]:
        if metric in results and results[metric].notna().any():
            tables.append(budget_table(results, metric, scale=scale, higher_is_better=dice, title=title))
    return tables


def _seed_text(results: pd.DataFrame) -> str:
    seeds = results.groupby("strategy", sort=False)["seed"].nunique()
    return ", ".join(f"{k}={v}" for k, v in seeds.items())


def _write_family(results: pd.DataFrame, out_dir: Path, family: str, class_names: list[str]) -> list[Path]:
    tables = metric_tables(results, family, class_names)
    if not tables:
        return []
    if family == "dice":
        heading = "Mean Dice (%) on the test volumes, mean ± std over seeds"
        what = (
            "Dice is 3D per volume, averaged over classes, then volumes. Best mean per column in bold. "
            "HD95 is in hd95_table.md."
        )
    else:
        heading = "HD95 on the test volumes, mean ± std over seeds (lower is better)"
        what = (
            "HD95 in pixels, or mm where the dataset has a spacing (medpy's surface definition), "
            "averaged over the seeds where it is defined (n_seeds in hd95_table.csv). "
            "Lowest mean per column in bold."
        )
    intro = (
        f"Seeds per strategy: {_seed_text(results)}. Columns are the labeled fractions of the pool; "
        f"100% is the fully supervised upper bound. {what}"
    )
    markdown = [f"# {heading}", "", intro, "", render_markdown(tables[0])]
    for table in tables[1:]:
        markdown += [f"## {table.title}", "", render_markdown(table)]
    latex = [
        f"% {heading}. {intro}",
        "% Written by `alstrategies report`; needs \\usepackage{booktabs}.",
        "",
    ]
    for table in tables:
        caption = f"{table.title}, mean ± std over seeds. Best per column in bold."
        latex.append(render_latex(table, caption=caption, label=f"tab:{table.key.replace('_', '-')}"))
    stem = f"{family}_table"
    paths = [out_dir / f"{stem}.md", out_dir / f"{stem}.tex"]
    atomic_write_text(paths[0], "\n".join(markdown))
    atomic_write_text(paths[1], "\n".join(latex))
    paths.append(write_csv(tidy_frame(tables), out_dir / f"{stem}.csv"))
    return paths


def write_report(
    results: pd.DataFrame,
    out_dir: str | Path,
    class_names: list[str] | None = None,
    *,
    test: str = "ttest",
    alpha: float = 0.05,
    pairing: str = "seed",
    budget: float | str | None = None,
    seed: int = 0,
    max_slices: int = 4,
    reference: str | Path | None = None,
    reference_source: str = "paper",
) -> ReportFiles:
    """Write every report file of a run into ``out_dir`` and return their paths.

    Files: ``dice_table.{md,tex,csv}``, ``hd95_table.{md,tex,csv}`` (when HD95 is present),
    ``learning_curves.{png,pdf}``, ``summary.md`` and, from ``out_dir/snapshots``,
    ``qualitative.png`` and ``sbcal_outputs.png``. ``class_names`` default to the ``dice_<class>``
    columns. ``test``, ``alpha`` and ``pairing`` configure the pairwise tests of ``summary.md``;
    ``budget`` (default: the middle AL budget), ``seed`` and ``max_slices`` the qualitative
    figures. With ``reference`` (a CSV of published values, see :mod:`alstrategies.report.reference`)
    also ``reference_comparison.{md,tex,csv}``, its rows labelled ``reference_source``. Skipped
    figures are listed in the returned list's ``notes`` and logged."""
    if results.empty:
        raise ValueError("results is empty: nothing to report")
    out_dir = Path(out_dir)
    names = _class_names(results) if class_names is None else list(class_names)
    written = ReportFiles()
    written += _write_family(results, out_dir, "dice", names)
    if "hd95" in results and results["hd95"].notna().any():
        written += _write_family(results, out_dir, "hd95", names)
    curves = plot_learning_curves(results, out_dir / "learning_curves.png", extra_suffixes=(".pdf",))
    written += [curves, curves.with_suffix(".pdf")]
    written.append(write_summary(results, out_dir / "summary.md", test=test, alpha=alpha, pairing=pairing))
    if reference is not None:
        written += write_reference_comparison(results, reference, out_dir, source=reference_source)
    figures, notes = write_qualitative_figures(
        results, out_dir, names, budget=budget, seed=seed, max_slices=max_slices
    )
    written += figures
    written.notes += notes
    for note in notes:
        log.info(note)
    return written
