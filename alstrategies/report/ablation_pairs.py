"""Paired differences between the variants of an ablation grid: is one variant's Dice really
above another's, given the seeds?

For every pair of variants ``(a, b)`` (grid order), the per-seed mean Dice (%) at the grid's
budget is paired on the seed (the seeds share their initial sets); the row gives the number of
pairs, the mean difference ``a - b`` with its 95 % percentile-bootstrap interval
(:func:`~alstrategies.report.bootstrap.bootstrap_mean_ci`) and its t-based interval
(:func:`~alstrategies.report.bootstrap.t_mean_ci`), the two-sided paired t-test and its
Holm-adjusted p over all pairs, and the outcome (``a``, ``b`` or ``tie`` at alpha 0.05), the
same statistics as the strategy comparison in ``summary.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alstrategies.report.bootstrap import bootstrap_mean_ci, t_mean_ci
from alstrategies.report.statistics import pairwise_tests

__all__ = ["PAIR_COLUMNS", "ablation_pairs", "render_pairs_markdown"]

PAIR_COLUMNS = [
    "variant_a", "variant_b", "n", "mean_a", "mean_b", "mean_diff", "ci_low", "ci_high",
    "t_low", "t_high", "statistic", "p_raw", "p_holm", "outcome",
]  # fmt: skip


def ablation_pairs(
    at_budget: dict[str, pd.DataFrame | None], *, strategy: str | None = None, alpha: float = 0.05
) -> pd.DataFrame:
    """One row per pair of variants that both have results (:data:`PAIR_COLUMNS`), from each
    variant's results rows at the grid's budget (None: not run). The per-seed value is the
    mean Dice (%) of the seed's rows (of ``strategy`` when given): the shared 100 % model
    appears once per strategy, and its duplicates average to itself."""
    values = []
    for variant, rows in at_budget.items():
        if rows is None:
            continue
        if strategy is not None:
            rows = rows[rows["strategy"] == strategy]
        per_seed = 100 * rows.groupby("seed")["dice"].mean()
        if not per_seed.empty:
            values.append(
                pd.DataFrame({"strategy": variant, "seed": per_seed.index, "value": per_seed.to_numpy()})
            )
    if len(values) < 2:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    long = pd.concat(values, ignore_index=True)
    names = list(dict.fromkeys(long["strategy"]))
    pairs = pairwise_tests(long, strategies=names, alpha=alpha).rename(
        columns={"strategy_a": "variant_a", "strategy_b": "variant_b"}
    )
    wide = long.pivot(index="seed", columns="strategy", values="value")
    differences = [
        (wide[a] - wide[b]).dropna().to_numpy()
        for a, b in zip(pairs["variant_a"], pairs["variant_b"], strict=True)
    ]
    boot = [bootstrap_mean_ci(d)[1:] for d in differences]
    t_based = [t_mean_ci(d) for d in differences]
    pairs["ci_low"], pairs["ci_high"] = [low for low, _ in boot], [high for _, high in boot]
    pairs["t_low"], pairs["t_high"] = [low for low, _ in t_based], [high for _, high in t_based]
    return pairs[PAIR_COLUMNS]


def render_pairs_markdown(pairs: pd.DataFrame, labels: dict[str, str] | None = None) -> str:
    """The pairs as a Markdown section (empty string when no pair could be formed)."""
    if pairs.empty:
        return ""
    labels = labels or {}
    lines = [
        "## Paired differences between variants",
        "",
        "Mean Dice (%) difference a − b over the seeds both have, its t-based and bootstrap 95 % "
        "intervals, the paired t-test and its Holm-adjusted p over all pairs (alpha 0.05; "
        "`ablation_pairs.csv`).",
        "",
        "| a | b | seeds | a − b | t 95 % CI | bootstrap 95 % CI | p | p (Holm) | outcome |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in pairs.itertuples(index=False):
        a, b = labels.get(row.variant_a, row.variant_a), labels.get(row.variant_b, row.variant_b)
        interval = "–" if np.isnan(row.ci_low) else f"[{row.ci_low:+.2f}, {row.ci_high:+.2f}]"
        t_interval = "–" if np.isnan(row.t_low) else f"[{row.t_low:+.2f}, {row.t_high:+.2f}]"
        p_raw = "–" if np.isnan(row.p_raw) else f"{row.p_raw:.3f}"
        p_holm = "–" if np.isnan(row.p_holm) else f"{row.p_holm:.3f}"
        outcome = {"a": f"{a} better", "b": f"{b} better"}.get(row.outcome, "tie")
        lines.append(
            f"| {a} | {b} | {row.n} | {row.mean_diff:+.2f} | {t_interval} | {interval} | {p_raw} "
            f"| {p_holm} | {outcome} |"
        )
    return "\n".join(lines) + "\n"
