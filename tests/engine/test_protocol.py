import numpy as np
import pytest

from alstrategies.engine.protocol import BudgetError, budget_schedule, derive_rng, initial_labeled_set


@pytest.mark.parametrize("pool", [1312, 384, 30, 1000, 97])
def test_paper_schedule_counts_are_exact(pool):
    budgets = budget_schedule(pool, 0.0667, 0.0333, 0.3333)
    assert len(budgets) == 9
    expected = [1 / 15 + r / 30 for r in range(9)]  # 0.0667 means 1/15: 6.67 %, 10 %, ..., 33.33 %
    for budget, fraction in zip(budgets, expected):
        assert budget.fraction == pytest.approx(fraction, abs=1e-3)
        assert budget.count == int(np.floor(pool * fraction + 0.5 + 1e-9))
    counts = [b.count for b in budgets]
    assert all(b > a for a, b in zip(counts, counts[1:]))
    assert counts[-1] == int(np.floor(pool / 3 + 0.5))


def test_budget_labels_match_the_paper():
    labels = [f"{100 * b.fraction:.2f}" for b in budget_schedule(1312, 0.0667, 0.0333, 0.3333)]
    assert labels == ["6.67", "10.00", "13.33", "16.67", "20.00", "23.33", "26.67", "30.00", "33.33"]


def test_impossible_budgets_are_clear_errors():
    with pytest.raises(BudgetError, match="labels no image"):
        budget_schedule(10, 0.01, 0.01, 0.05)
    with pytest.raises(BudgetError, match="adds no image per round"):
        budget_schedule(20, 0.1, 0.01, 0.2)
    with pytest.raises(BudgetError, match="below"):
        budget_schedule(100, 0.5, 0.1, 0.2)
    with pytest.raises(BudgetError, match=r"\(0, 1\]"):
        budget_schedule(100, 0.1, 0.1, 1.5)
    with pytest.raises(BudgetError, match="empty"):
        budget_schedule(0, 0.1, 0.1, 0.2)


def test_initial_sets_are_seeded_and_shared():
    a = initial_labeled_set(100, 7, seed=3)
    assert np.array_equal(a, initial_labeled_set(100, 7, seed=3))
    assert not np.array_equal(a, initial_labeled_set(100, 7, seed=4))
    assert len(np.unique(a)) == 7 and a.min() >= 0 and a.max() < 100


def test_strategy_generators_depend_on_seed_round_and_name():
    draw = lambda *key: derive_rng(*key).integers(0, 2**31, 4).tolist()  # noqa: E731
    assert draw(0, 1, "random") == draw(0, 1, "random")
    assert draw(0, 1, "random") != draw(0, 2, "random")
    assert draw(0, 1, "random") != draw(1, 1, "random")
    assert draw(0, 1, "random") != draw(0, 1, "margin")
