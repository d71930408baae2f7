"""Ablation tables of a grid run (paper Tables 3 and 4).

A grid folder holds ``grid.json`` and one run folder per variant::

    GRID/grid.json          {"name": "ablation_asr", "variants": ["none", "add", ...],
                             "budget": 1.0, "layout": "variant_by_class" | "strategy_by_variant",
                             "strategy": "sbc_al",            (optional)
                             "labels": {"none": "No ASR"},    (optional display names)
                             "folders": {"attention": "../run"}}  (optional: reused run folders)
    GRID/<variant>/results.csv              (or GRID/<folders[variant]>/results.csv)

Layouts, all values Dice in percent, mean ± std over seeds at ``budget``:

* ``variant_by_class`` (Table 3): rows variants; columns each class's Dice, then ``Avg.`` = the
  ``dice`` column of results.csv (per volume the mean over classes, then the mean over volumes).
  Rows come from ``strategy`` when given; without it the results must hold a single strategy at
  that budget, or the budget must be 1.0, where every strategy shares the 100 % model (the
  per-seed values are then averaged over the strategies' identical rows).
* ``strategy_by_variant`` (Table 4): rows strategies, columns variants, cells the ``dice``.

The best mean per column is bold (ties at the displayed precision all bold). With
``variant_by_class`` the Markdown file ends with the paired differences between the variants
(:mod:`alstrategies.report.ablation_pairs`), also written to ``ablation_pairs.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from alstrategies.engine.layout import GridLayout, RunLayout
from alstrategies.engine.records import class_columns, class_names_of
from alstrategies.errors import ConfigError, MissingFileError, RecordError
from alstrategies.report.ablation_pairs import ablation_pairs, render_pairs_markdown
from alstrategies.report.io import atomic_write_text, write_csv
from alstrategies.report.latex import latex_header_comment
from alstrategies.report.tables import Table, budget_label, render_latex, render_markdown, tidy_frame

__all__ = ["LAYOUTS", "ablation_table", "read_grid", "variant_folders", "write_ablation_report"]

LAYOUTS = ("variant_by_class", "strategy_by_variant")


def read_grid(grid_dir: str | Path) -> dict:
    """``grid.json`` of ``grid_dir``, checked: ``name``, ``variants`` (non-empty, distinct),
    ``budget`` in (0, 1], ``layout`` in :data:`LAYOUTS`; optional ``strategy`` and ``labels``."""
    path = GridLayout(grid_dir).manifest
    if not path.is_file():
        raise MissingFileError(f"{path} not found: a grid folder holds {path.name}")
    try:
        grid = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(grid, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    missing = [key for key in ("name", "variants", "budget", "layout") if key not in grid]
    if missing:
        raise ConfigError(f"{path} lacks {', '.join(missing)}")
    variants = grid["variants"]
    if not isinstance(variants, list) or not variants or len(set(map(str, variants))) != len(variants):
        raise ConfigError(f"{path}: variants must be a non-empty list of distinct names")
    if grid["layout"] not in LAYOUTS:
        raise ConfigError(f"{path}: layout {grid['layout']!r} is not one of {', '.join(LAYOUTS)}")
    try:
        budget = float(grid["budget"])
    except (TypeError, ValueError):
        budget = float("nan")
    if not 0.0 < budget <= 1.0:
        raise ConfigError(f"{path}: budget must lie in (0, 1], got {grid['budget']}")
    labels = grid.get("labels") or {}
    if not isinstance(labels, dict):
        raise ConfigError(f"{path}: labels must map variant names to display names")
    folders = grid.get("folders") or {}
    if not isinstance(folders, dict):
        raise ConfigError(f"{path}: folders must map variant names to run folders (paths from the grid)")
    return {
        **grid,
        "variants": [str(v) for v in variants],
        "budget": budget,
        "labels": {str(k): str(v) for k, v in labels.items()},
        "folders": {str(k): str(v) for k, v in folders.items()},
        "strategy": grid.get("strategy"),
    }


def variant_folders(grid_dir: str | Path) -> dict[str, Path]:
    """The run folder of each variant of the grid ``grid_dir``, in ``grid.json`` order:
    ``GRID/<variant>``, or the reused folder that ``folders`` names (relative to the grid)."""
    grid = read_grid(grid_dir)
    layout = GridLayout(grid_dir)
    return {variant: layout.variant(variant, grid["folders"].get(variant)) for variant in grid["variants"]}


def _at_budget(frame: pd.DataFrame, budget: float) -> pd.DataFrame:
    return frame[np.isclose(frame["budget"].astype(float), budget, atol=1e-6)]


def _seed_stats(values: pd.Series) -> tuple[float, float, int]:
    """Mean, std (ddof 1; 0 for one seed) and count of per-seed values (NaN left out)."""
    values = values.dropna()
    if values.empty:
        return np.nan, np.nan, 0
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0, len(values)


def _class_names(frames: dict[str, pd.DataFrame | None]) -> list[str]:
    names: dict[str, None] = {}
    for frame in frames.values():
        if frame is not None:
            names.update((name, None) for name in class_names_of(frame))
    return list(names)


def ablation_table(
    frames: dict[str, pd.DataFrame | None],
    *,
    layout: str,
    budget: float,
    strategy: str | None = None,
    labels: dict[str, str] | None = None,
    title: str = "ablation",
) -> Table:
    """The ablation :class:`Table` from one results frame per variant (None: variant not run)."""
    if layout not in LAYOUTS:
        raise ConfigError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    labels = labels or {}
    variants = list(frames)
    at = {v: _at_budget(f, budget) if f is not None else None for v, f in frames.items()}
    if layout == "variant_by_class":
        classes = _class_names(frames)
        columns = [*class_columns("dice", classes), "dice"]
        mean = np.full((len(variants), len(columns)), np.nan)
        std, count = np.full_like(mean, np.nan), np.zeros_like(mean)
        for i, variant in enumerate(variants):
            rows = at[variant]
            if rows is None or rows.empty:
                continue
            if strategy is not None:
                rows = rows[rows["strategy"] == strategy]
            elif rows["strategy"].nunique() > 1 and budget < 1.0:
                raise ConfigError(
                    f"variant {variant}: results hold {rows['strategy'].nunique()} strategies at "
                    f'{budget_label(budget)}; name the one to tabulate with "strategy" in grid.json'
                )
            for j, column in enumerate(columns):
                if column in rows:
                    per_seed = rows.groupby("seed")[column].mean()
                    mean[i, j], std[i, j], count[i, j] = _seed_stats(100 * per_seed)
        return Table(
            key="dice",
            title=title,
            row_header="Variant",
            rows=tuple(labels.get(v, v) for v in variants),
            row_keys=tuple(variants),
            columns=(*classes, "Avg."),
            column_keys=(*classes, "mean"),
            mean=mean,
            std=std,
            count=count,
        )
    strategies = list(dict.fromkeys(s for f in frames.values() if f is not None for s in f["strategy"]))
    mean = np.full((len(strategies), len(variants)), np.nan)
    std, count = np.full_like(mean, np.nan), np.zeros_like(mean)
    for j, variant in enumerate(variants):
        rows = at[variant]
        if rows is None or rows.empty:
            continue
        for i, name in enumerate(strategies):
            per_seed = rows[rows["strategy"] == name].groupby("seed")["dice"].mean()
            mean[i, j], std[i, j], count[i, j] = _seed_stats(100 * per_seed)
    return Table(
        key="dice",
        title=title,
        row_header="Strategy",
        rows=tuple(strategies),
        columns=tuple(labels.get(v, v) for v in variants),
        column_keys=tuple(variants),
        mean=mean,
        std=std,
        count=count,
    )


def _read_results(path: Path) -> pd.DataFrame:
    """The ``results.csv`` of one variant; a :class:`RecordError` when it cannot be read."""
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise RecordError(f"{path} is not a readable results table ({error})") from None


def write_ablation_report(
    grid_dir: str | Path, reference: str | Path | None = None, reference_source: str = "paper"
) -> list[Path]:
    """Write ``ablation_table.md``, ``.tex`` and ``.csv`` into ``grid_dir`` (``ablation_pairs.csv``
    too for ``variant_by_class`` with two variants or more; with a ``reference`` CSV of
    published values, ``ablation_reference.{md,csv}``); return their paths.

    Variants whose ``results.csv`` is missing appear as empty cells and are listed in the
    Markdown file."""
    grid_dir = Path(grid_dir)
    grid = read_grid(grid_dir)
    files = GridLayout(grid_dir)
    frames: dict[str, pd.DataFrame | None] = {}
    for variant, folder in variant_folders(grid_dir).items():
        path = RunLayout(folder).results
        frames[variant] = _read_results(path) if path.is_file() else None
    if all(frame is None for frame in frames.values()):
        raise MissingFileError(f"no variant of {files.manifest} has a results.csv yet")
    budget, layout = grid["budget"], grid["layout"]
    where = f"{budget_label(budget)} labeled" + (f", strategy {grid['strategy']}" if grid["strategy"] else "")
    layout_text = {
        "variant_by_class": "rows variants, columns classes and their average",
        "strategy_by_variant": "rows strategies, columns variants",
    }[layout]
    description = (
        f"Ablation {grid['name']}: Dice (%) at {where}, mean ± std over seeds; {layout_text}. "
        "Best mean per column in bold."
    )
    table = ablation_table(
        frames,
        layout=layout,
        budget=budget,
        strategy=grid["strategy"],
        labels=grid["labels"],
        title=description,
    )
    absent = [v for v, f in frames.items() if f is None]
    text = [f"# {grid['name']}", "", description, "", render_markdown(table)]
    if absent:
        text += [f"Variants without results.csv: {', '.join(absent)}.", ""]
    pairs = None
    if layout == "variant_by_class":
        at_budget = {v: None if f is None else _at_budget(f, budget) for v, f in frames.items()}
        pairs = ablation_pairs(at_budget, strategy=grid["strategy"])
        if not pairs.empty:
            text += [render_pairs_markdown(pairs, grid["labels"])]
    markdown, latex, csv = files.ablation_table
    atomic_write_text(markdown, "\n".join(text))
    label = "tab:" + "".join(c if c.isalnum() else "-" for c in str(grid["name"]))
    header = f"% {description}\n{latex_header_comment()}\n\n"
    atomic_write_text(latex, header + render_latex(table, caption=description, label=label))
    rows, columns = ("variant", "class") if layout == "variant_by_class" else ("strategy", "variant")
    frame = tidy_frame(
        [table],
        row_field=rows,
        column_field=columns,
        label_field="column_label",
        constants={"budget": budget},
    )
    written = [markdown, latex, write_csv(frame, csv)]
    if pairs is not None and not pairs.empty:
        written.append(write_csv(pairs, files.ablation_pairs))
    if reference is not None:
        from alstrategies.report.ablation_reference import load_ablation_reference, write_ablation_reference

        if layout != "variant_by_class":
            raise ConfigError("a reference table needs the variant_by_class layout (variants x classes)")
        written += write_ablation_reference(
            grid_dir, frame, load_ablation_reference(reference), reference_source
        )
    return written
