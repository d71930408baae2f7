"""Statistics that match the design (DESIGN section 5): controls tested on their own, Holm only over
the ranked strategies, exploratory arms, the oracle as a diagnostic, t intervals beside the bootstrap.

Every expected number is recomputed here by hand: the paired t statistic and its interval with
``scipy.stats.t`` only for the distribution, Holm by two plain loops, the AULC by a loop.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alstrategies.report.bootstrap import aulc_vs_baseline, bootstrap_mean_ci, difference_bands, t_mean_ci
from alstrategies.report.detectability import CONTROLS, DIAGNOSTICS, control_verdicts, detectability
from alstrategies.report.power import minimal_detectable_effect
from alstrategies.report.run_statistics import run_statistics
from alstrategies.report.summary import summary_markdown, write_summary_files
from tests.report.test_guards_report import slow_aulc

BUDGETS = (0.1, 0.2, 0.3, 0.4)


def make_run(shifts: dict[str, list[float]]) -> pd.DataFrame:
    """A results frame: per strategy, one seed per entry of ``shifts[strategy]``, that strategy's
    Dice above Random's by the shift after the shared round 0. Random has 5 seeds."""
    base = {s: 0.5 + 0.013 * s + 0.004 * s**2 for s in range(5)}  # seeds differ: pairing matters
    rows = []
    for strategy, values in {"random": [0.0] * 5, **shifts}.items():
        for seed, shift in enumerate(values):
            for r, budget in enumerate(BUDGETS):
                dice = base[seed] + budget + (shift * (1 + 0.2 * r) if r else 0.0)
                rows.append({"strategy": strategy, "seed": seed, "round": r, "budget": budget, "dice": dice})
            rows.append({"strategy": strategy, "seed": seed, "round": 4, "budget": 1.0, "dice": 0.95})
    return pd.DataFrame(rows)


def slow_differences(results: pd.DataFrame, strategy: str) -> list[float]:
    """Seed-wise AULC differences to Random, by loops."""
    out = []
    for seed in sorted(results.loc[results.strategy == strategy, "seed"].unique()):
        curves = []
        for name in (strategy, "random"):
            chain = results[(results.strategy == name) & (results.seed == seed) & (results.budget < 1)]
            chain = chain.sort_values("budget")
            curves.append(slow_aulc(chain["budget"].tolist(), chain["dice"].tolist()))
        out.append(curves[0] - curves[1])
    return out


def slow_t(d: list[float]) -> tuple[float, float, float, float]:
    """``(t, two-sided p, low, high)`` of the one-sample t-test of ``d`` against 0, by hand."""
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    t = mean / (sd / math.sqrt(n))
    p = 2 * stats.t.sf(abs(t), n - 1)
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    return t, p, mean - half, mean + half


def slow_holm(p: list[float]) -> list[float]:
    """Holm by its definition: sort, multiply by (m - i), running maximum, cap at 1."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


#: Ranked arms (5 seeds), controls and the oracle.
FIVE = {
    "a": [0.004, 0.012, -0.003, 0.009, 0.001],
    "b": [-0.006, 0.002, -0.011, -0.001, -0.004],
    "c": [0.001, -0.002, 0.003, 0.0, 0.002],
}
#: A positive control that beats Random on its own (p about 0.02) but not after Holm over 16.
POSITIVE = {"random_foreground_oracle": [0.01, 0.03, 0.005, 0.02, 0.035]}
NEGATIVE = {
    "confident": [-0.03, -0.025, -0.04, -0.02, -0.035],
    "empty_first": [-0.05, -0.06, -0.045, -0.07, -0.05],
}
ORACLE = {"oracle": [0.02, 0.025, 0.03, 0.018, 0.027]}


def three_seed_arms(k: int = 12) -> dict[str, list[float]]:
    """``k`` arms with 3 seeds, each with a small and fairly steady difference (low p values)."""
    rng = np.random.default_rng(3)
    return {f"arm{i}": list(0.006 + 0.002 * rng.normal(size=3)) for i in range(k)}


def test_columns_are_the_hand_written_paired_t_its_interval_and_holm_over_the_ranked_only():
    results = make_run({**FIVE, **POSITIVE, **NEGATIVE, **ORACLE, **three_seed_arms(4)})
    vs = aulc_vs_baseline(results).set_index("strategy")
    for strategy in vs.index:
        d = slow_differences(results, strategy)
        _, p, low, high = slow_t(d)
        row = vs.loc[strategy]
        assert row["mean_diff"] == pytest.approx(sum(d) / len(d), abs=1e-12)
        assert row["p_raw"] == pytest.approx(p, rel=1e-9)
        assert (row["t_low"], row["t_high"]) == pytest.approx((low, high), abs=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(bootstrap_mean_ci(d)[1:])
    assert vs["role"].to_dict() == {
        **dict.fromkeys(FIVE, "ranked"),
        "random_foreground_oracle": "control",
        "confident": "control",
        "empty_first": "control",
        "oracle": "diagnostic",
        **dict.fromkeys(three_seed_arms(4), "exploratory"),
    }
    ranked = list(FIVE)
    expected = slow_holm([vs.loc[s, "p_raw"] for s in ranked])
    assert vs.loc[ranked, "p_holm"].tolist() == pytest.approx(expected)
    assert vs.loc[~vs.index.isin(ranked), "p_holm"].isna().all()
    assert detectability(vs.reset_index()).m == len(FIVE)


def test_t_interval_matches_scipy_and_edge_cases():
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 9):
        x = rng.normal(0.01, 0.02, n)
        interval = stats.ttest_1samp(x, 0.0).confidence_interval(0.95)
        assert t_mean_ci(x) == pytest.approx((interval.low, interval.high), abs=1e-14)
        assert t_mean_ci(x, 0.9) == pytest.approx(tuple(stats.ttest_1samp(x, 0.0).confidence_interval(0.9)))
    assert all(np.isnan(t_mean_ci([0.3])))
    assert t_mean_ci([0.02, 0.02, 0.02]) == pytest.approx((0.02, 0.02))
    # with 5 seeds the t interval is wider than the percentile bootstrap
    x = rng.normal(0.01, 0.02, 5)
    low, high = t_mean_ci(x)
    _, b_low, b_high = bootstrap_mean_ci(x)
    assert low < b_low and high > b_high


def test_positive_control_separates_on_its_own_although_holm_over_everything_would_not():
    """Fails on the old code, which put the controls into a Holm family of every strategy."""
    results = make_run({**POSITIVE, **three_seed_arms(12), **FIVE})
    d = slow_differences(results, "random_foreground_oracle")
    _, p, _, _ = slow_t(d)
    assert p < 0.05  # on its own: separated
    everyone = aulc_vs_baseline(results)
    holm_all = slow_holm(everyone["p_raw"].tolist())
    assert holm_all[everyone["strategy"].tolist().index("random_foreground_oracle")] > 0.05  # the old verdict
    (verdict,) = control_verdicts(everyone)
    assert verdict.name == "random_foreground_oracle" and verdict.p_raw == pytest.approx(p)
    assert verdict.separated and verdict.as_expected
    section = summary_markdown(results).split("## Schedule")[0]
    assert (
        "**This run can see an effect:** the positive control `random_foreground_oracle` beats Random"
        in section
    )
    line = next(x for x in section.splitlines() if x.startswith("- **random_foreground_oracle**"))
    assert "is separated from Random as expected" in line and f"p = {p:.3g}" in line


def test_three_seed_arms_in_a_five_seed_run_are_exploratory_and_do_not_change_holm():
    alone = aulc_vs_baseline(make_run(FIVE)).set_index("strategy")
    arms = three_seed_arms(12)
    mixed = aulc_vs_baseline(make_run({**FIVE, **arms})).set_index("strategy")
    assert mixed.loc[list(FIVE), "p_holm"].tolist() == pytest.approx(alone.loc[list(FIVE), "p_holm"].tolist())
    assert (mixed.loc[list(arms), "role"] == "exploratory").all()
    assert mixed.loc[list(arms), "p_holm"].isna().all() and mixed.loc[list(arms), "separated"].isna().all()
    assert (mixed.loc[list(arms), "n_seeds"] == 3).all()
    detect = detectability(mixed.reset_index())
    assert detect.m == len(FIVE) and detect.n_seeds == 5 and detect.exploratory[0].strategies == tuple(arms)
    assert detect.corrected_alpha == pytest.approx(0.05 / len(FIVE))


def test_the_csv_names_every_role_and_holm_only_for_ranked_rows(tmp_path):
    arms = three_seed_arms(2)
    results = make_run({**FIVE, **POSITIVE, **NEGATIVE, **ORACLE, **arms})
    write_summary_files(results, tmp_path / "summary.md")
    csv = pd.read_csv(tmp_path / "aulc_vs_random.csv").set_index("strategy")
    assert list(csv.columns) == [
        "role", "mean_diff_pp", "ci_low_pp", "ci_high_pp", "t_low_pp", "t_high_pp", "n_seeds", "sd_pp",
        "p_raw", "p_holm", "separated", "mde_pp",
    ]  # fmt: skip
    assert set(csv["role"]) == {"ranked", "exploratory", "control", "diagnostic"}
    assert (
        csv.loc[csv.role != "ranked", "p_holm"].isna().all()
        and csv.loc[csv.role == "ranked", "p_holm"].notna().all()
    )
    assert csv.loc[list(arms) + ["oracle"], "separated"].isna().all()
    for strategy in csv.index:
        _, _, low, high = slow_t(slow_differences(results, strategy))
        assert (csv.loc[strategy, "t_low_pp"], csv.loc[strategy, "t_high_pp"]) == pytest.approx(
            (100 * low, 100 * high)
        )
    # the MDE of a ranked row is at Holm's strictest step, that of any other row at alpha
    for strategy, level in (("a", 0.05 / len(FIVE)), ("confident", 0.05), (next(iter(arms)), 0.05)):
        sd, n = csv.loc[strategy, "sd_pp"] / 100, int(csv.loc[strategy, "n_seeds"])
        assert csv.loc[strategy, "mde_pp"] == pytest.approx(100 * minimal_detectable_effect(sd, n, level))
    text = (tmp_path / "summary.md").read_text()
    assert "### Exploratory arms" in text and "exploratory: 3 seeds, kept out of the Holm family" in text
    assert "### Ranked strategies" in text and "### Controls" in text and "### Diagnostics" in text


def test_the_oracle_is_a_diagnostic_without_a_verdict():
    assert "oracle" not in CONTROLS and "oracle" in DIAGNOSTICS
    assert CONTROLS == {"random_foreground_oracle": 1, "confident": -1, "empty_first": -1}
    results = make_run({**FIVE, **ORACLE})  # the oracle clearly beats Random: still no verdict
    vs = aulc_vs_baseline(results).set_index("strategy")
    assert vs.loc["oracle", "role"] == "diagnostic" and pd.isna(vs.loc["oracle", "separated"])
    assert vs.loc["oracle", "p_raw"] < 0.05 and np.isnan(vs.loc["oracle", "p_holm"])
    assert control_verdicts(vs.reset_index()) == []
    text = summary_markdown(results)
    section = text.split("## Schedule")[0]
    assert "No positive control in this run: its sensitivity is not shown." in section
    assert "can see an effect" not in section
    oracle_lines = [x for x in text.splitlines() if "oracle" in x and "random_foreground_oracle" not in x]
    assert oracle_lines and not any("positive control" in x for x in oracle_lines)
    assert any(x.startswith("- Diagnostic, no verdict: **oracle**") for x in section.splitlines())
    assert "| oracle |" in text and "diagnostic: no verdict" in text
    assert "| oracle |" not in text.split("## Pairwise comparison")[1].split("## Difference to Random")[0]


def test_positive_control_present_but_not_separated_cannot_rank_and_negatives_are_reported():
    weak = {"random_foreground_oracle": [0.01, -0.012, 0.02, -0.005, 0.003]}
    results = make_run({**FIVE, **weak, **NEGATIVE})
    section = summary_markdown(results).split("## Schedule")[0].split("## What this run can detect")[1]
    lines = section.splitlines()
    assert lines[2].startswith("**This run cannot rank strategies:** the positive control")
    assert "can see an effect" not in section
    for name in NEGATIVE:
        line = next(x for x in lines if x.startswith(f"- **{name}**"))
        assert (
            "negative control, should lose to Random" in line and "separated from Random as expected" in line
        )
    # reported first: the controls before the ranked family
    assert section.index("- **empty_first**") < section.index("**Ranked family:**")


def test_pairwise_comparison_and_penalty_matrix_cover_random_and_the_ranked_only():
    results = make_run({**FIVE, **POSITIVE, **ORACLE, **three_seed_arms(3)})
    statistics = run_statistics(results)
    assert statistics.family == ["random", *FIVE]
    assert list(statistics.penalty.index) == ["random", *FIVE]
    text = summary_markdown(results, statistics=statistics)
    pairwise = text.split("## Pairwise comparison")[1].split("## Pairwise penalty")[0]
    assert "m = 6" in pairwise and "| random | a | b | c | W | T | L |" in pairwise.replace("| | ", "| ")


def test_per_budget_differences_carry_t_intervals_and_p_and_a_table():
    results = make_run({**FIVE, **NEGATIVE})
    bands = difference_bands(results)
    assert {"t_low", "t_high", "p_raw"} <= set(bands.columns)
    for row in bands.itertuples():
        d = []
        for seed in range(5):
            at = results[(results.seed == seed) & (results.budget == row.budget)].set_index("strategy")[
                "dice"
            ]
            d.append(at[row.strategy] - at["random"])
        if row.budget == BUDGETS[0]:  # round 0: the shared model
            assert row.mean_diff == 0 and row.p_raw == 1.0
            continue
        _, p, low, high = slow_t(d)
        assert row.p_raw == pytest.approx(p, rel=1e-9)
        assert (row.t_low, row.t_high) == pytest.approx((low, high), abs=1e-12)
    text = summary_markdown(results)
    per_budget = text.split("### Per budget")[1].split("\n## ")[0]
    assert "| Strategy | role | 20.00% | 30.00% | 40.00% |" in per_budget
    confident = next(x for x in per_budget.splitlines() if x.startswith("| confident |"))
    at = bands[(bands.strategy == "confident") & (bands.budget == 0.2)].iloc[0]
    assert f"{100 * at.mean_diff:+.2f}*" in confident  # clearly below Random: the t interval excludes 0
    c_line = next(x for x in per_budget.splitlines() if x.startswith("| c |"))
    assert "*" not in c_line  # c's small differences change sign: no marker
