"""``write_report``: every report file of one run folder (see ``docs/reports.md``)."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from alstrategies.engine.layout import RunLayout
from alstrategies.engine.records import KEY_COLUMNS, class_columns, class_names_of
from alstrategies.errors import ConfigError, RecordError
from alstrategies.metrics import METRICS, Metric, get_metric
from alstrategies.report.curves import plot_learning_curves
from alstrategies.report.io import atomic_write_text, write_csv
from alstrategies.report.latex import DEFAULT_LATEX_LAYOUT, check_latex_layout, latex_header_comment
from alstrategies.report.qualitative import write_qualitative_figures
from alstrategies.report.reference import write_reference_comparison
from alstrategies.report.selection import keep_rows, select_budgets, select_strategies
from alstrategies.report.summary import write_summary_files
from alstrategies.report.tables import (
    EmptyResultsError,
    Table,
    budget_label,
    budget_table,
    render_latex,
    render_markdown,
    seed_text,
    tidy_frame,
)

__all__ = ["ReportFiles", "metric_tables", "recorded_unit", "reported_metrics", "write_report"]

log = logging.getLogger("alstrategies.report")

#: The columns every report needs (``results.csv`` of a run always has them).
REQUIRED_COLUMNS = (*KEY_COLUMNS, "dice")


class ReportFiles(list[Path]):
    """The paths written (a plain list of them) plus ``notes``: what was skipped and why."""

    def __init__(self, paths: list[Path] | None = None, notes: list[str] | None = None) -> None:
        super().__init__(paths or [])
        self.notes: list[str] = list(notes or [])


def recorded_unit(results: pd.DataFrame, family: str) -> str | None:
    """The unit that the rows of ``results`` record for a metric whose unit depends on the
    dataset (column ``<family>_unit``: HD95's ``"mm"`` or ``"voxels"``); None when no row has
    one (a run folder older than the column). Rows that disagree are a :class:`RecordError`."""
    column = f"{family}_unit"
    if column not in results:
        return None
    units = sorted({str(u) for u in results[column].dropna()})
    if len(units) > 1:
        raise RecordError(
            f"results mix the {family} units {', '.join(units)}: their values cannot be compared"
        )
    return units[0] if units else None


def _has_values(results: pd.DataFrame, column: str) -> bool:
    return column in results and bool(results[column].notna().any())


def metric_tables(results: pd.DataFrame, family: str, class_names: list[str]) -> list[Table]:
    """The budget tables of a registered metric (``"dice"``, ``"hd95"``, ...), in its display
    scale with its best direction: the class mean first, then one table per class present, each
    class followed by its miss counts where ``results`` has ``<family>_misses_<class>`` (HD95:
    test volumes where the prediction missed or invented the class; mean ± std over seeds, no
    bold). A dataset-dependent unit (HD95) comes from :func:`recorded_unit`."""
    if family not in METRICS:
        raise ConfigError(f"unknown metric family {family!r}; registered: {', '.join(METRICS)}")
    metric = get_metric(family)
    recorded = None if metric.unit_in_title else recorded_unit(results, family)
    unit = metric.unit_suffix(recorded)
    table_unit = "" if metric.unit_in_title else unit.strip(" ()")
    tables = []
    per_class = zip(class_columns(family, class_names), class_names)
    for column, name, title in [(family, None, f"Mean {metric.label}{unit}")] + [
        (column, name, f"{metric.label} {name}{unit}") for column, name in per_class
    ]:
        if _has_values(results, column):
            table = budget_table(
                results,
                column,
                scale=metric.scale,
                higher_is_better=metric.higher_is_better,
                title=title,
                decimals=metric.decimals,
            )
            tables.append(dataclasses.replace(table, unit=table_unit))
        if name is None:
            continue
        [misses] = class_columns(f"{family}_misses", [name])
        if _has_values(results, misses):
            counts = budget_table(
                results,
                misses,
                scale=1.0,
                higher_is_better=False,
                title=f"{metric.label} misses {name} (test volumes)",
                decimals=2,
            )
            tables.append(dataclasses.replace(counts, mark_best=False, unit="volumes"))
    return tables


def reported_metrics(results: pd.DataFrame) -> list[Metric]:
    """The registered metrics with a value in ``results`` (its mean column), in registry order."""
    return [m for m in METRICS.values() if m.name in results and results[m.name].notna().any()]


def _seed_text(results: pd.DataFrame) -> str:
    """``5 seeds (0, 1, 2, 3, 4)``, or per strategy when they differ."""
    seeds = results.groupby("strategy", sort=False)["seed"].unique()
    texts = {name: seed_text(values) for name, values in seeds.items()}
    if len(set(texts.values())) == 1:
        return next(iter(texts.values()))
    return "; ".join(f"{name}: {text}" for name, text in texts.items())


def _write_family(
    results: pd.DataFrame,
    out_dir: Path,
    family: str,
    class_names: list[str],
    latex_layout: str = DEFAULT_LATEX_LAYOUT,
    shown: str = "",
) -> list[Path]:
    """``<family>_table.{md,tex,csv}`` of ``results`` (already trimmed to what is shown;
    ``shown`` says so in the intro)."""
    tables = metric_tables(results, family, class_names)
    if not tables:
        return []
    metric = get_metric(family)
    recorded = None if metric.unit_in_title else recorded_unit(results, family)
    heading = metric.heading_for(recorded)
    intro = (
        f"Seeds: {_seed_text(results)}. Columns are the labeled fractions of the pool; "
        f"100% is the fully supervised upper bound."
    )
    if metric.note:
        intro += f" {metric.note}"
    if family == "hd95":
        intro += f" {_hd95_text(recorded, any(t.key.startswith('hd95_misses_') for t in tables))}"
    intro += shown
    markdown = [f"# {heading}", "", intro, "", render_markdown(tables[0])]
    for table in tables[1:]:
        markdown += [f"## {table.title}", "", render_markdown(table)]
    latex = [f"% {heading}. {intro}", latex_header_comment(latex_layout), ""]
    per = "budget (row)" if latex_layout == "transposed" else "column"
    for table in tables:
        best = f"Best per {per} in bold." if table.mark_best else "No bold."
        caption = f"{table.title}, mean ± std over seeds. {best}"
        label = f"tab:{table.key.replace('_', '-')}"
        latex.append(render_latex(table, caption=caption, label=label, layout=latex_layout))
    paths = list(RunLayout(out_dir).metric_tables(family))
    atomic_write_text(paths[0], "\n".join(markdown))
    atomic_write_text(paths[1], "\n".join(latex))
    write_csv(tidy_frame(tables), paths[2])
    return paths


def _shown_text(results: pd.DataFrame, strategies: list[str] | None, budgets: list[float] | None) -> str:
    """What the intro of a trimmed table says of the budgets and strategies it shows."""
    text = ""
    if budgets is not None:
        total = results["budget"].nunique()
        text += f" Budgets shown: {', '.join(budget_label(b) for b in budgets)} (of {total})."
    if strategies is not None:
        total = results["strategy"].nunique()
        text += f" Strategies shown: {', '.join(strategies)} (of {total}); bold marks the best of those."
    return text


def _hd95_text(unit: str | None, has_misses: bool) -> str:
    """What the HD95 file says of its unit and its miss counts."""
    if unit == "mm":
        text = "Distances in mm (the test volumes' voxel spacing)."
    elif unit == "voxels":
        text = (
            "Distances in voxels: the test volumes have no voxel spacing (e.g. the ACDC h5 copy), so "
            "in-plane pixels of the original resolution, the slice spacing taken as 1."
        )
    else:
        text = (
            "The unit was not recorded (results.csv older than its hd95_unit column): mm where the "
            "dataset has a voxel spacing, voxels otherwise (the ACDC h5 copy has none)."
        )
    if has_misses:
        return text + (
            " 'HD95 misses <class>': per cell the number of test volumes where the prediction missed or "
            "invented the class, mean ± std over seeds."
        )
    return text + " Miss counts were not recorded for these results."


def _dataset_name(out_dir: Path) -> str | None:
    """The dataset's name from the run folder's ``dataset.json`` (None outside a run folder)."""
    identity = RunLayout(out_dir).dataset
    try:
        return str(json.loads(identity.read_text())["name"]) if identity.is_file() else None
    except (ValueError, KeyError):
        return None


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
    run_dir: str | Path | None = None,
    budgets: Sequence[float | str] | None = None,
    strategies: Sequence[str] | None = None,
    latex_layout: str = DEFAULT_LATEX_LAYOUT,
) -> ReportFiles:
    """Write every report file of a run into ``out_dir`` and return their paths.

    Files: ``<metric>_table.{md,tex,csv}`` for every registered metric with values in ``results``
    (``dice_table``, ``hd95_table``, ``surface_dice_table`` when computed, ...),
    ``learning_curves.{png,pdf}``, ``summary.md``, ``batch_diagnostics.csv`` (when the run folder
    has ``pool.csv``) and, from ``out_dir/snapshots``, ``qualitative.png`` and ``sbcal_outputs.png``. ``class_names`` default to the ``dice_<class>``
    columns. ``test``, ``alpha`` and ``pairing`` configure the pairwise tests of ``summary.md``;
    ``budget`` (default: the middle AL budget), ``seed`` and ``max_slices`` the qualitative
    figures; ``run_dir`` (default ``out_dir``) holds the round records that the score-error
    correlation and the batch diagnostics read. With ``reference`` (a CSV of published values, see :mod:`alstrategies.report.reference`)
    also ``reference_comparison.{md,tex,csv}``, its rows labelled ``reference_source``.

    ``budgets`` (fractions or percentages, see :mod:`alstrategies.report.selection`) keeps only
    those budget columns in the budget tables and the reference comparison; ``strategies`` keeps
    only those strategies, in that order, in every table and figure (and the CSV behind each
    figure), while ``summary.md``, ``aulc_vs_random.csv`` and ``batch_diagnostics.csv`` and every
    statistic stay over all strategies and budgets (Random stays the reference of the
    differences when it is not shown). ``latex_layout`` is one of
    :data:`~alstrategies.report.latex.LATEX_LAYOUTS` for the ``.tex`` files. A budget, strategy
    or layout that does not exist stops the report before any file is written. Skipped figures
    are listed in the returned list's ``notes`` and logged."""
    if results.empty:
        raise EmptyResultsError("results is empty: nothing to report")
    if max_slices < 1:  # checked before any file is written (write_qualitative_figures checks it too)
        raise ConfigError(f"max_slices must be at least 1, got {max_slices}")
    missing = [column for column in REQUIRED_COLUMNS if column not in results]
    if missing:
        raise RecordError(
            f"results lack the column(s) {', '.join(missing)} of a results.csv: nothing to report"
        )
    for metric in reported_metrics(results):  # units that disagree stop the report before any file
        if not metric.unit_in_title:
            recorded_unit(results, metric.name)
    check_latex_layout(latex_layout)
    shown = select_strategies(results, strategies)
    columns = select_budgets(results, budgets)
    every = list(dict.fromkeys(results["strategy"]))
    selected = None if shown == every else shown  # every strategy in its own order trims nothing
    if columns is not None and len(columns) == results["budget"].nunique():
        columns = None
    out_dir = Path(out_dir)
    names = class_names_of(results) if class_names is None else list(class_names)
    files = RunLayout(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files.report_incomplete.write_text("the report is being written; `alstrategies report` rewrites it\n")
    written = ReportFiles()
    tabled = keep_rows(results, selected, columns)
    trimmed = _shown_text(results, selected, columns)
    for metric in reported_metrics(tabled):
        written += _write_family(tabled, out_dir, metric.name, names, latex_layout, trimmed)
    curves = plot_learning_curves(
        results,
        files.learning_curves,
        extra_suffixes=(".pdf",),
        title=_dataset_name(out_dir),
        strategies=shown,
    )
    written += [curves, curves.with_suffix(".pdf")]
    written += write_summary_files(
        results, files.summary, test=test, alpha=alpha, pairing=pairing, run_dir=run_dir, strategies=selected
    )
    if reference is not None:
        written += write_reference_comparison(
            results,
            reference,
            out_dir,
            source=reference_source,
            strategies=selected,
            budgets=columns,
            latex_layout=latex_layout,
        )
    figures, notes = write_qualitative_figures(
        results, out_dir, names, budget=budget, seed=seed, max_slices=max_slices, strategies=selected
    )
    written += figures
    written.notes += notes
    for note in notes:
        log.info(note)
    files.report_incomplete.unlink(missing_ok=True)
    return written
