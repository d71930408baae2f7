"""Which budgets and strategies a report shows (``write_report(..., budgets=, strategies=)``).

* ``budgets``: each given as a fraction (``0.1``, ``1.0``), a percentage (``"10%"``, ``10``) or a
  label (``"6.67%"``), matched to the budget of ``results`` nearest to it within
  :data:`BUDGET_TOLERANCE` (0.05 percentage points: ``0.0667`` and ``"6.67%"`` are the run's
  1/15). The budget tables keep those columns, ascending, whatever the order given.
* ``strategies``: registered names as in ``results.csv``; the tables and figures show them in
  the order given.

A budget or a strategy that ``results`` does not have is a one-line :class:`ConfigError` that
lists those it has, raised before any file is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alstrategies.errors import ConfigError
from alstrategies.report.budget_choice import parse_budget
from alstrategies.report.tables import budget_label

__all__ = ["BUDGET_TOLERANCE", "keep_rows", "select_budgets", "select_strategies"]

#: How far a requested budget may lie from a run's budget and still name it (a fraction).
BUDGET_TOLERANCE = 5e-4


def _names(values: Sequence[Any] | str | float) -> list[Any]:
    """A single value (a name, a number) as a list of one; any other sequence as a list."""
    return [values] if isinstance(values, str | int | float) else list(values)


def select_budgets(
    results: pd.DataFrame, budgets: Sequence[float | str] | float | str | None
) -> list[float] | None:
    """The budgets of ``results`` that ``budgets`` name, ascending (None: every budget)."""
    if budgets is None:
        return None
    requested = _names(budgets)
    available = sorted(float(b) for b in results["budget"].unique())
    listing = ", ".join(f"{b:g} ({budget_label(b)})" for b in available)
    if not requested:
        raise ConfigError(f"budgets is empty: name at least one of the budgets of the results: {listing}")
    chosen = set()
    for value in requested:
        wanted = parse_budget(value)
        nearest = min(available, key=lambda b: abs(b - wanted))
        if abs(nearest - wanted) > BUDGET_TOLERANCE:
            raise ConfigError(f"budget {value!r} is not in the results; the budgets are {listing}")
        chosen.add(nearest)
    return sorted(chosen)


def select_strategies(results: pd.DataFrame, strategies: Sequence[str] | str | None) -> list[str]:
    """The strategies to show: ``strategies`` in the order given (duplicates dropped), checked
    against ``results``; every strategy of ``results`` in order of appearance when None."""
    existing = [str(name) for name in dict.fromkeys(results["strategy"])]
    if strategies is None:
        return existing
    names = [str(name) for name in dict.fromkeys(_names(strategies))]
    if not names:
        raise ConfigError(f"strategies is empty: name at least one of {', '.join(existing)}")
    unknown = [name for name in names if name not in existing]
    if unknown:
        raise ConfigError(
            f"strategy {', '.join(unknown)} not in the results; the strategies are {', '.join(existing)}"
        )
    return names


def keep_rows(
    results: pd.DataFrame, strategies: Sequence[str] | None = None, budgets: Sequence[float] | None = None
) -> pd.DataFrame:
    """The rows of ``results`` of ``strategies`` (ordered as given: their first appearance
    follows that order) and of ``budgets`` (budgets of ``results`` itself, see
    :func:`select_budgets`); ``results`` itself when neither trims anything."""
    kept = results
    if strategies is not None and list(strategies) != list(dict.fromkeys(results["strategy"])):
        rank = {name: i for i, name in enumerate(strategies)}
        kept = kept[kept["strategy"].isin(list(rank))]
        order = np.argsort(kept["strategy"].map(rank).to_numpy(), kind="stable")
        kept = kept.iloc[order]
    if budgets is not None:
        values = kept["budget"].astype(float).to_numpy()
        mask = np.isclose(values[:, None], np.asarray(budgets, dtype=float)[None, :], rtol=0, atol=1e-12)
        kept = kept[mask.any(axis=1)]
    return kept
