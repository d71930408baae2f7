"""Compare a run with a reference run: the rows of ``results.csv``, or the Dice tables.

``alstrategies compare`` (:func:`compare_results`; ``make benchmark`` ends with it: a fresh run
of the phantom benchmark against the committed ``results/synthetic``) compares the rows that
both ``results.csv`` have, by (strategy, seed, round), on every column, as the bytes the files
hold: a run of fewer seeds or strategies than the reference is compared on what it has. Where a
row differs it names the first cell and why it can: the two ``config.json`` fingerprints when
they differ, else the machine (thread counts, torch versions, CPUs change the last bits).
:func:`compare_dice_tables` compares the mean Dice tables of two reports instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from alstrategies.config import differences, fill_defaults
from alstrategies.engine.layout import RunLayout
from alstrategies.errors import MissingFileError, RecordError

KEYS = ["metric", "strategy", "budget"]
#: What identifies a row of ``results.csv``.
ROW_KEYS = ["strategy", "seed", "round"]
#: The configs' differing keys named at most.
SHOWN_KEYS = 5


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare_results` found: the counts of rows and its report."""

    shared: int
    differing: int
    only_run: int
    only_reference: int
    text: str

    @property
    def identical(self) -> bool:
        """Whether every row both runs have is identical (and there is one)."""
        return self.shared > 0 and self.differing == 0


def _results(run_dir: Path) -> pd.DataFrame:
    """``results.csv`` of ``run_dir`` as text (the bytes compared, no float parsing), by row key."""
    path = RunLayout(run_dir).results
    if not path.is_file():
        raise MissingFileError(
            f"{path} not found: point `alstrategies compare` at two run folders (`alstrategies run` writes it)"
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise RecordError(f"{path} is not a readable results table ({error})") from None
    missing = [key for key in ROW_KEYS if key not in frame.columns]
    if missing:
        raise RecordError(f"{path} lacks the column(s) {', '.join(missing)}: is it a run's results.csv?")
    try:
        order = frame[["seed", "round"]].astype(int)
    except ValueError:
        raise RecordError(f"{path} has a seed or round that is not an integer") from None
    frame = frame.assign(_seed=order["seed"], _round=order["round"])
    if frame.duplicated(ROW_KEYS).any():
        raise RecordError(f"{path} holds a (strategy, seed, round) twice: rebuild it with `alstrategies run`")
    return frame.sort_values(["strategy", "_seed", "_round"]).set_index(ROW_KEYS)


def _only(rows: pd.DataFrame, other: pd.DataFrame) -> str:
    """What ``rows`` (of one run only) are: seeds or strategies the other lacks, or rounds."""
    seeds = sorted(set(rows["_seed"]) - set(other["_seed"]))
    strategies = sorted(
        set(rows.index.get_level_values("strategy")) - set(other.index.get_level_values("strategy"))
    )
    parts = [f"seed(s) {', '.join(map(str, seeds))}"] if seeds else []
    if strategies:
        parts.append(f"strateg{'y' if len(strategies) == 1 else 'ies'} {', '.join(strategies)}")
    rest = rows[~rows["_seed"].isin(seeds) & ~rows.index.get_level_values("strategy").isin(strategies)]
    if len(rest):
        parts.append(f"{len(rest)} round(s) of chains both have")
    return "; ".join(parts)


def _config_differences(run_dir: Path, reference_dir: Path) -> list[str] | None:
    """The keys whose values differ between the two ``config.json`` (None when one is missing
    or unreadable)."""
    recorded = []
    for folder in (reference_dir, run_dir):
        try:
            recorded.append(fill_defaults(json.loads(RunLayout(folder).config.read_text())))
        except (OSError, ValueError, AttributeError):
            return None
    reference, run = recorded
    return differences(reference, run)


def _why(run_dir: Path, reference_dir: Path) -> str:
    keys = _config_differences(run_dir, reference_dir)
    if keys:
        shown = "; ".join(keys[:SHOWN_KEYS]) + (
            f"; and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else ""
        )
        return f"the configs differ (config.json, reference -> this run: {shown}): the runs are not the same experiment"
    machine = (
        "different thread counts (train.threads), torch versions or machines change the last bits of training"
    )
    if keys is None:
        return f"one config.json is missing, so the configs were not compared; else {machine}"
    return f"the configs are the same (config.json), so the machine is why: {machine}"


def compare_results(run_dir: str | Path, reference_dir: str | Path) -> Comparison:
    """Compare the rows of ``run_dir``'s ``results.csv`` with ``reference_dir``'s by
    (strategy, seed, round) on every column both have (see the module's docstring)."""
    run_dir, reference_dir = Path(run_dir), Path(reference_dir)
    run, reference = _results(run_dir), _results(reference_dir)
    columns = [c for c in run.columns if c in reference.columns and not c.startswith("_")]
    shared = run.index.intersection(reference.index, sort=False)
    only_run, only_reference = run.drop(shared), reference.drop(shared)
    here, there = run.loc[shared, columns], reference.loc[shared, columns]
    unequal = here.ne(there)
    differing = unequal.any(axis=1)
    lines = [f"{run_dir} against {reference_dir}: {len(shared)} row(s) by (strategy, seed, round) in both"]
    if len(only_reference):
        lines.append(
            f"the reference also has {len(only_reference)} row(s) this run lacks ({_only(only_reference, run)})"
        )
    if len(only_run):
        lines.append(
            f"this run has {len(only_run)} row(s) the reference lacks ({_only(only_run, reference)})"
        )
    one_sided = sorted(set(run.columns) ^ set(reference.columns))
    if one_sided:
        lines.append(
            f"column(s) only one run has, not compared: {', '.join(c for c in one_sided if not c.startswith('_'))}"
        )
    if not len(shared):
        lines.append("no row to compare: the runs share no (strategy, seed, round)")
    elif not differing.any():
        lines.append(f"all {len(shared)} shared row(s) identical, on every column ({len(columns)})")
    else:
        key = differing[differing].index[0]
        column = unequal.loc[key][unequal.loc[key]].index[0]
        strategy, seed, round_index = key
        lines.append(
            f"{int(differing.sum())} of {len(shared)} shared row(s) differ, {len(shared) - int(differing.sum())} "
            f"identical; the first: {strategy} seed {seed} round {round_index}, column {column}: "
            f"{here.loc[key, column]} here, {there.loc[key, column]} in the reference; "
            f"{_why(run_dir, reference_dir)}"
        )
    return Comparison(len(shared), int(differing.sum()), len(only_run), len(only_reference), "\n".join(lines))


def _table(run_dir: Path) -> pd.DataFrame:
    path = RunLayout(run_dir).metric_tables("dice")[2]
    if not path.is_file():
        raise MissingFileError(f"{path} not found: run `alstrategies report {run_dir}` first")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise RecordError(f"{path} is not a readable table ({error})") from None
    missing = set(KEYS + ["mean"]) - set(frame.columns)
    if missing:
        raise RecordError(f"{path} lacks the column(s) {sorted(missing)}: is it a dice_table.csv?")
    return frame


def compare_dice_tables(run_dir: str | Path, reference_dir: str | Path) -> tuple[bool, str]:
    """(identical, one-paragraph report) of the mean Dice per (strategy, budget, class) of two
    reports; cells only one run has are listed, the largest difference is named. Means over
    other seeds differ where the rows agree: ``alstrategies compare`` uses :func:`compare_results`."""
    run, reference = _table(Path(run_dir)), _table(Path(reference_dir))
    merged = run.merge(reference, on=KEYS, how="outer", suffixes=("_run", "_reference"), indicator=True)
    only_run = merged[merged["_merge"] == "left_only"]
    only_reference = merged[merged["_merge"] == "right_only"]
    both = merged[merged["_merge"] == "both"].copy()
    both["difference"] = (both["mean_run"] - both["mean_reference"]).abs()
    lines = []
    if len(only_reference):
        strategies = sorted(set(only_reference["strategy"]))
        lines.append(
            f"the reference also has {len(only_reference)} cell(s) this run did not compute "
            f"({', '.join(strategies)}): compared on the {len(both)} cells both have"
        )
    if len(only_run):
        lines.append(
            f"{len(only_run)} cell(s) of this run are not in the reference (other strategies or budgets)"
        )
    identical = (
        not len(only_run) and len(both) > 0 and bool((both["mean_run"] == both["mean_reference"]).all())
    )
    if identical:
        lines.append(f"Dice table identical to {reference_dir} on those {len(both)} cells")
    elif len(both):
        worst = both.loc[both["difference"].idxmax()]
        lines.append(
            f"Dice differs from {reference_dir}: largest difference {worst['difference']:.2f} points "
            f"({worst['strategy']}, {worst['metric']}, budget {worst['budget']:.4f}: "
            f"{worst['mean_run']:.2f} here, {worst['mean_reference']:.2f} there); "
            f"{int((both['difference'] > 0).sum())} of {len(both)} shared cells differ. "
            "Different thread counts, torch versions or machines change the last bits of training."
        )
    return identical, "\n".join(lines)
