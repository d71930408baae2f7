"""The pairwise penalty matrix against per-budget t-tests and Holm written out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from scipy import stats

from alstrategies.report.penalty import budget_tests, penalty_matrix
from alstrategies.report.summary import summary_markdown, write_summary_files
from alstrategies.report.verdict_figures import penalty_figure

BUDGETS = (0.1, 0.2, 0.3, 0.4, 0.5)
SEEDS = (0, 1, 2, 3, 4)
NAMES = ("best", "mid", "other")
#: "best" is far ahead at 20 % and 30 % (low noise), level with the others at 40 % and 50 %.
LEAD = {0.2: 0.10, 0.3: 0.08, 0.4: 0.0, 0.5: 0.0}


def hand_results() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    base = {s: 0.4 + 0.02 * s for s in SEEDS}
    rows = []
    for strategy in NAMES:
        for seed in SEEDS:
            for r, budget in enumerate(BUDGETS):
                dice = base[seed] + budget
                if r == 0 and strategy == "best":
                    dice += 0.2  # round 0 must not count, even if (wrongly) not shared
                if r:
                    dice += (LEAD[budget] if strategy == "best" else 0.0) + rng.normal(0, 0.004)
                rows.append({"strategy": strategy, "seed": seed, "round": r, "budget": budget, "dice": dice})
            full = 0.99 if strategy == "mid" else 0.9  # nor the 100 % row
            rows.append({"strategy": strategy, "seed": seed, "round": 5, "budget": 1.0, "dice": full})
    return pd.DataFrame(rows)


def _holm_by_hand(p: list[float]) -> list[float]:
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        out[index] = running
    return out


def _slow_matrix(results: pd.DataFrame, alpha: float = 0.05) -> dict[tuple[str, str], float]:
    budgets = [b for b in BUDGETS[1:]]  # after round 0, before 100 %
    wins = {(a, b): 0 for a in NAMES for b in NAMES}
    for budget in budgets:
        pairs, p = [], []
        for i, a in enumerate(NAMES):
            for b in NAMES[i + 1 :]:
                x = [
                    results[
                        (results.strategy == a) & (results.seed == s) & (results.budget == budget)
                    ].dice.item()
                    for s in SEEDS
                ]
                y = [
                    results[
                        (results.strategy == b) & (results.seed == s) & (results.budget == budget)
                    ].dice.item()
                    for s in SEEDS
                ]
                pairs.append((a, b, np.mean(x) - np.mean(y)))
                p.append(stats.ttest_rel(x, y).pvalue)
        for (a, b, diff), adjusted in zip(pairs, _holm_by_hand(p), strict=True):
            if adjusted < alpha:
                wins[(a, b) if diff > 0 else (b, a)] += 1
    return {key: count / len(budgets) for key, count in wins.items()}


def test_penalty_matrix_against_a_hand_built_frame():
    results = hand_results()
    matrix = penalty_matrix(results)
    assert list(matrix.index) == list(NAMES) and list(matrix.columns) == list(NAMES)
    expected = _slow_matrix(results)
    for (a, b), share in expected.items():
        assert matrix.loc[a, b] == pytest.approx(share), (a, b)
    # best wins at 2 of the 4 query budgets against each of the others; nothing else is significant
    assert matrix.loc["best", "mid"] == 0.5 and matrix.loc["best", "other"] == 0.5
    assert matrix.drop(index="best").to_numpy().sum() == 0
    assert np.diag(matrix.to_numpy()).sum() == 0


def test_budget_tests_holm_within_each_budget():
    results = hand_results()
    tests = budget_tests(results)
    assert sorted(tests["budget"].unique()) == list(BUDGETS[1:])
    for _, at in tests.groupby("budget"):
        assert len(at) == 3
        assert at["p_holm"].tolist() == pytest.approx(_holm_by_hand(at["p_raw"].tolist()))
    assert set(tests.loc[tests["winner"] != "", "budget"]) == {0.2, 0.3}


def test_penalty_matrix_with_an_untestable_pair_and_lower_is_better():
    results = hand_results()
    lonely = results[~((results.strategy == "other") & (results.seed > 0))]  # one seed: no test
    tests = budget_tests(lonely)
    untested = tests[(tests.strategy_b == "other")]
    assert untested["p_raw"].isna().all() and (untested["winner"] == "").all()
    flipped = penalty_matrix(results, higher_is_better=False)
    assert flipped.loc["mid", "best"] == 0.5 and flipped.loc["best", "mid"] == 0


def test_penalty_figure_shows_the_matrix(tmp_path):
    results = hand_results()
    matrix = penalty_matrix(results)
    figure = penalty_figure(matrix)
    FigureCanvasAgg(figure).draw()
    axis = figure.axes[0]
    np.testing.assert_allclose(np.asarray(axis.get_images()[0].get_array()), matrix.to_numpy())
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in axis.texts}
    for r, c in np.ndindex(matrix.shape):
        assert texts[(r, c)] == ("–" if r == c else f"{matrix.iloc[r, c]:.2f}")
    assert [t.get_text() for t in axis.get_xticklabels()] == list(NAMES)
    assert [t.get_text() for t in axis.get_yticklabels()] == list(NAMES)
    assert len(figure.axes) == 2  # the colourbar
    written = write_summary_files(results, tmp_path / "summary.md")
    assert {"penalty_matrix.csv", "penalty_matrix.png"} <= {p.name for p in written}
    csv = pd.read_csv(tmp_path / "penalty_matrix.csv").set_index("strategy")
    np.testing.assert_allclose(csv.to_numpy(), matrix.to_numpy())
    text = summary_markdown(results)
    row = next(line for line in text.splitlines() if line.startswith("| best | – | 0.50"))
    assert row.endswith("| 0.50 |")  # mean share of wins over the two others
    assert "4 AL budgets after round 0" in text
