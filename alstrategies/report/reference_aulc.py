"""The whole curve beside a paper's: normalised AULC and the gain over Random, ours and theirs.

Per strategy that both this run and the reference have, over the AL budgets (below 100 %) that
both have: our AULC (mean ± std over seeds, :func:`per_seed_aulc`), the AULC of the published
mean curve (:func:`normalised_aulc`, the same trapezoid), and each side's difference to Random
(ours: mean of the seed-wise differences; theirs: the difference of the published curves).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alstrategies.report.bootstrap import BASELINE
from alstrategies.report.statistics import common_budgets, normalised_aulc, per_seed_aulc
from alstrategies.report.tables import budget_label

__all__ = ["reference_aulc", "reference_aulc_markdown"]


def _shared_budgets(results: pd.DataFrame, reference: pd.DataFrame) -> tuple[list[float], list[float]]:
    """Our AL budgets that every matched strategy of the reference also has, as (ours, theirs)."""
    ours = [b for b in common_budgets(results, "dice") if b < 1.0]
    matched = set(reference["strategy"]) & set(results["strategy"])
    theirs = reference[reference["strategy"].isin(matched) & (reference["budget"] < 1.0)]
    labels_per_strategy = [set(g["budget"].map(budget_label)) for _, g in theirs.groupby("strategy")]
    keep = [b for b in ours if all(budget_label(b) in labels for labels in labels_per_strategy)]
    by_label = {budget_label(float(b)): float(b) for b in theirs["budget"]}
    return keep, [by_label[budget_label(b)] for b in keep]


def reference_aulc(results: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """One row per strategy in both: ``aulc``, ``aulc_std``, ``n_seeds``, ``paper_aulc``,
    ``gain`` and ``paper_gain`` (percentage points over Random; NaN without Random), and the
    ``budgets`` used (labels joined by spaces). Dice in percent."""
    columns = ["strategy", "aulc", "aulc_std", "n_seeds", "paper_aulc", "gain", "paper_gain", "budgets"]
    ours_budgets, their_budgets = _shared_budgets(results, reference)
    if len(ours_budgets) < 2:
        return pd.DataFrame(columns=columns)
    per_seed = per_seed_aulc(results, "dice", ours_budgets).pivot_table(
        index="seed", columns="strategy", values="aulc"
    )
    published = {}
    for name, group in reference[reference["budget"].isin(their_budgets)].groupby("strategy"):
        group = group.sort_values("budget")
        published[name] = normalised_aulc(group["budget"].to_numpy(), group["mean"].to_numpy())
    rows = []
    for name in dict.fromkeys(results["strategy"]):
        if name not in published or name not in per_seed.columns:
            continue
        mine = 100 * per_seed[name].dropna()
        gain = paper_gain = np.nan
        if BASELINE in per_seed.columns and name != BASELINE:
            paired = (100 * (per_seed[name] - per_seed[BASELINE])).dropna()
            gain = float(paired.mean())
        if BASELINE in published and name != BASELINE:
            paper_gain = published[name] - published[BASELINE]
        rows.append(
            {
                "strategy": name,
                "aulc": float(mine.mean()),
                "aulc_std": float(mine.std(ddof=1)) if len(mine) > 1 else np.nan,
                "n_seeds": len(mine),
                "paper_aulc": published[name],
                "gain": gain,
                "paper_gain": paper_gain,
                "budgets": " ".join(budget_label(b) for b in ours_budgets),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def reference_aulc_markdown(table: pd.DataFrame, source: str = "paper") -> str:
    """The section that ``reference_comparison.md`` ends with."""
    if table.empty:
        return ""

    def number(value: float, signed: bool = False) -> str:
        return "–" if pd.isna(value) else (f"{value:+.2f}" if signed else f"{value:.2f}")

    lines = [
        f"## The whole curve: normalised AULC (%) and the gain over Random (pp), ours and the {source}'s",
        "",
        f"Over the budgets {table['budgets'].iloc[0]} (both have them), the same trapezoid for both "
        f"(summary.md); ours: mean ± std over seeds, the gain the mean of the seed-wise differences; "
        f"the {source}'s: its published mean curve.",
        "",
        f"| Strategy | AULC ours | AULC {source} | gain over Random, ours | gain over Random, {source} |",
        "|---|---|---|---|---|",
    ]
    for row in table.itertuples(index=False):
        ours = f"{row.aulc:.2f} ± {number(row.aulc_std)}"
        if row.n_seeds < 2:  # one seed: no std, so no "±"
            ours = f"{row.aulc:.2f}"
        lines.append(
            f"| {row.strategy} | {ours} | {row.paper_aulc:.2f} | {number(row.gain, True)} | "
            f"{number(row.paper_gain, True)} |"
        )
    return "\n".join(lines) + "\n"
