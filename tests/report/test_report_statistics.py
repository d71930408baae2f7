"""Report statistics against slow, obviously correct references written out here."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alstrategies.report.statistics import (
    budget_to_reach,
    common_budgets,
    holm,
    normalised_aulc,
    paired_test,
    pairwise_tests,
    per_seed_aulc,
    query_budgets,
    win_tie_loss,
)
from tests.report.test_report import SYNTHETIC_RESULTS, make_results


# -- normalised AULC -------------------------------------------------------------------------
def _aulc_reference(budgets, values):
    points = sorted(zip(budgets, values))
    area = 0.0
    for (b0, d0), (b1, d1) in itertools.pairwise(points):
        area += (b1 - b0) * (d0 + d1) / 2
    return area / (points[-1][0] - points[0][0])


def test_aulc_matches_an_explicit_trapezoid_sum():
    rng = np.random.default_rng(0)
    for _ in range(20):
        k = int(rng.integers(2, 12))
        budgets = np.sort(rng.choice(np.linspace(0.05, 0.5, 40), size=k, replace=False))
        values = rng.random(k)
        order = rng.permutation(k)  # order of the points must not matter
        got = normalised_aulc(budgets[order], values[order])
        assert got == pytest.approx(_aulc_reference(budgets, values), rel=1e-12)


def test_aulc_normalisation():
    assert normalised_aulc([0.1, 0.2, 0.4], [0.8, 0.8, 0.8]) == pytest.approx(0.8)  # flat curve
    # a line from 0 to 1 over any range averages to 0.5; uneven steps weigh by their width
    assert normalised_aulc([0.1, 0.3], [0.0, 1.0]) == pytest.approx(0.5)
    assert normalised_aulc([0.0, 0.1, 0.4], [0.0, 1.0, 1.0]) == pytest.approx((0.05 + 0.3) / 0.4)
    assert normalised_aulc([0.2], [0.7]) == 0.7
    with pytest.raises(ValueError, match="distinct"):
        normalised_aulc([0.1, 0.1], [0.5, 0.6])
    with pytest.raises(ValueError, match="finite"):
        normalised_aulc([0.1, 0.2], [0.5, np.nan])
    with pytest.raises(ValueError):
        normalised_aulc([], [])


def test_per_seed_aulc_on_the_committed_run():
    results = pd.read_csv(SYNTHETIC_RESULTS)
    aulc = per_seed_aulc(results)
    assert len(aulc) == results["strategy"].nunique() * 5 == 21 * 5 and (aulc["n_budgets"] == 9).all()
    for row in aulc.itertuples():
        chain = results[
            (results.strategy == row.strategy) & (results.seed == row.seed) & (results.budget < 1)
        ]
        assert row.aulc == pytest.approx(_aulc_reference(chain["budget"], chain["dice"]), rel=1e-12)
    # linearity: the mean of the per-seed AULCs is the AULC of the mean curve
    for strategy, group in aulc.groupby("strategy"):
        curve = (
            results[(results.strategy == strategy) & (results.budget < 1)].groupby("budget")["dice"].mean()
        )
        assert group["aulc"].mean() == pytest.approx(_aulc_reference(curve.index, curve.values), rel=1e-12)


def test_common_budgets_truncate_to_what_every_chain_has():
    results = make_results(budgets=(0.1, 0.2, 0.3))
    short = results[~((results.strategy == "beta") & (results.seed == 1) & (results.budget == 0.3))]
    assert common_budgets(results) == [0.1, 0.2, 0.3]
    assert common_budgets(short) == [0.1, 0.2]
    aulc = per_seed_aulc(short)
    assert (aulc["n_budgets"] == 2).all() and len(aulc) == 3 * 3


# -- budget to reach -------------------------------------------------------------------------
def test_budget_to_reach_against_a_loop():
    rng = np.random.default_rng(1)
    for _ in range(50):
        budgets = rng.permutation(np.linspace(0.05, 0.35, 7))
        values = rng.random(7)
        target = rng.random()
        expected = None
        for b, v in sorted(zip(budgets, values)):
            if v >= target:
                expected = b
                break
        assert budget_to_reach(budgets, values, target) == expected
    assert budget_to_reach([0.1, 0.2], [0.5, np.nan], 0.6) is None
    assert budget_to_reach([0.1, 0.2], [0.6, 0.5], 0.6) == 0.1  # the first to reach, not the last


# -- Holm ------------------------------------------------------------------------------------
def _holm_reference(p):
    """Holm's adjusted p-values by the definition, with two plain loops."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted = [0.0] * m
    for rank, index in enumerate(order):
        adjusted[index] = max(min(1.0, (m - j) * p[order[j]]) for j in range(rank + 1))
    return adjusted


def test_holm_textbook_example():
    # m = 4; sorted .005 .01 .03 .04 -> 4(.005)=.02, 3(.01)=.03, 2(.03)=.06, max(.06, 1(.04))=.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.02]) == pytest.approx([0.02])


def test_holm_against_the_definition_and_the_step_down_procedure():
    rng = np.random.default_rng(2)
    for _ in range(100):
        m = int(rng.integers(1, 25))
        p = rng.random(m) ** 3
        p[rng.random(m) < 0.1] = p[0]  # ties
        adjusted = holm(p)
        assert adjusted == pytest.approx(_holm_reference(list(p)), abs=1e-15)
        # equivalence with the sequential procedure: reject while p_(i) <= alpha / (m - i + 1)
        alpha = 0.05
        rejected = set()
        for i, index in enumerate(sorted(range(m), key=lambda k: p[k])):
            if p[index] > alpha / (m - i):
                break
            rejected.add(index)
        assert {i for i in range(m) if adjusted[i] <= alpha} == rejected


def test_holm_ignores_nan_and_checks_range():
    adjusted = holm([0.01, np.nan, 0.04])
    assert np.isnan(adjusted[1])
    assert adjusted[[0, 2]] == pytest.approx([0.02, 0.04])  # m = 2, not 3
    assert holm([]).size == 0
    with pytest.raises(ValueError):
        holm([0.5, 1.5])


# -- paired tests ----------------------------------------------------------------------------
def test_paired_test_is_scipy_with_defined_edge_cases():
    rng = np.random.default_rng(3)
    a, b = rng.random(6), rng.random(6)
    assert paired_test(a, b, "ttest") == pytest.approx(tuple(stats.ttest_rel(a, b))[:2])
    assert paired_test(a, b, "wilcoxon") == pytest.approx(tuple(stats.wilcoxon(a, b))[:2])
    assert paired_test(a, a) == (0.0, 1.0)
    assert paired_test(a, a, "wilcoxon") == (0.0, 1.0)
    assert all(np.isnan(paired_test([0.5], [0.4])))
    with pytest.raises(ValueError, match="unknown test"):
        paired_test(a, b, "anova")


def test_wilcoxon_with_five_pairs_cannot_go_below_0_0625():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    _, p = paired_test(a + 1.0 + np.arange(5) / 10, a, "wilcoxon")
    assert p == pytest.approx(2 / 2**5)


def _values(effects, seeds=5, noise=0.01, seed=4):
    rng = np.random.default_rng(seed)
    base = rng.random(seeds)
    rows = []
    for name, effect in effects.items():
        for s in range(seeds):
            rows.append({"strategy": name, "seed": s, "value": base[s] + effect + noise * rng.normal()})
    return pd.DataFrame(rows)


def test_pairwise_tests_pair_by_unit_and_holm_over_all_pairs():
    values = _values({"good": 0.2, "mid": 0.0, "same": 0.0})
    pairs = pairwise_tests(values)
    assert list(zip(pairs.strategy_a, pairs.strategy_b)) == [
        ("good", "mid"),
        ("good", "same"),
        ("mid", "same"),
    ]
    for row in pairs.itertuples():
        a = values[values.strategy == row.strategy_a].sort_values("seed")["value"].to_numpy()
        b = values[values.strategy == row.strategy_b].sort_values("seed")["value"].to_numpy()
        assert row.p_raw == pytest.approx(stats.ttest_rel(a, b).pvalue)
        assert row.mean_diff == pytest.approx((a - b).mean())
        assert row.n == 5
    assert pairs["p_holm"].to_numpy() == pytest.approx(holm(pairs["p_raw"].to_numpy()))
    assert pairs["outcome"].tolist() == ["a", "a", "tie"]
    # lower is better flips the winner
    assert pairwise_tests(values, higher_is_better=False)["outcome"].tolist() == ["b", "b", "tie"]
    # pairing is by seed, not by row order
    shuffled = values.sample(frac=1.0, random_state=0)
    assert pairwise_tests(shuffled)["p_raw"].to_numpy() == pytest.approx(pairs["p_raw"].to_numpy())


def test_pairwise_tests_drop_unpaired_units_and_mark_untestable_pairs():
    values = _values({"a": 0.0, "b": 0.1})
    values = values[~((values.strategy == "b") & (values.seed == 0))]
    pairs = pairwise_tests(values, strategies=["a", "b", "c"])
    assert pairs.loc[0, "n"] == 4
    untested = pairs[pairs.strategy_b == "c"]
    assert untested["p_raw"].isna().all() and (untested["outcome"] == "tie").all()
    matrix = win_tie_loss(pairs, ["a", "b", "c"])
    assert matrix.loc["a", "c"] == "–" and matrix.loc["a", "a"] == "·"


def test_win_tie_loss_is_antisymmetric():
    values = _values({"x": 0.3, "y": 0.0, "z": -0.3, "w": 0.0})
    pairs = pairwise_tests(values)
    matrix = win_tie_loss(pairs)
    flip = {"W": "L", "L": "W", "T": "T", "·": "·"}
    for r, c in itertools.product(matrix.index, matrix.columns):
        assert matrix.loc[c, r] == flip[matrix.loc[r, c]]
    assert matrix.loc["x", "z"] == "W" and matrix.loc["z", "x"] == "L"
    assert matrix.loc["y", "w"] == "T"


def test_pairwise_tests_with_nothing_to_pair_has_numeric_columns():
    pairs = pairwise_tests(_values({"only": 0.0}))
    assert pairs.empty and pairs["p_raw"].dtype == float and pairs["p_holm"].dtype == float


def test_query_budgets_leave_out_round0_and_the_full_model():
    results = make_results(budgets=(0.1, 0.2, 0.3))
    assert query_budgets(results) == [0.2, 0.3]  # round 0 at 10 %, the 100 % row is no AL budget
    assert query_budgets(results.drop(columns="round")) == [0.2, 0.3]  # without a round column
    short = results[~((results.strategy == "beta") & (results.budget == 0.3))]
    assert query_budgets(short) == [0.2]
