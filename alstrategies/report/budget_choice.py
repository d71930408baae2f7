"""Which budget a figure shows: ``--budget`` parsed, matched to the run's budgets, its round."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alstrategies.errors import ConfigError
from alstrategies.report.tables import budget_label

_BUDGET_TOLERANCE = 0.005


def parse_budget(text: str | float) -> float:
    """A budget as a fraction: ``"20%"``, ``"20"`` (> 1 means percent) and ``"0.2"`` give 0.2."""
    raw = str(text).strip()
    try:
        value = float(raw.removesuffix("%"))
    except ValueError:
        raise ConfigError(f"budget {text!r} is not a number (use e.g. 0.2 or 20%)") from None
    if raw.endswith("%") or value > 1.0:
        value /= 100.0
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"budget {text!r} must lie in (0, 100%]")
    return value


def resolve_budget(results: pd.DataFrame, budget: float | str | None = None) -> float:
    """The AL budget of ``results`` (``budget < 1``) nearest to ``budget`` (within 0.5 percentage
    points); default: the middle one, ``sorted(budgets)[len // 2]``."""
    budgets = sorted(float(b) for b in results.loc[results["budget"] < 1.0, "budget"].unique())
    if not budgets:
        raise ConfigError("results hold no active-learning budget (budget < 1)")
    if budget is None:
        return budgets[len(budgets) // 2]
    wanted = parse_budget(budget)
    nearest = min(budgets, key=lambda b: abs(b - wanted))
    if abs(nearest - wanted) > _BUDGET_TOLERANCE:
        available = ", ".join(budget_label(b) for b in budgets)
        raise ConfigError(f"no AL budget near {budget_label(wanted)}; the run has {available}")
    return nearest


def round_of(results: pd.DataFrame, strategy: str, seed: int, budget: float) -> int | None:
    """The round of ``strategy`` and ``seed`` at ``budget`` in ``results`` (None when absent)."""
    rows = results[
        (results["strategy"] == strategy)
        & (results["seed"] == seed)
        & np.isclose(results["budget"].astype(float), budget, atol=1e-9)
    ]
    return int(rows["round"].iloc[0]) if len(rows) else None
