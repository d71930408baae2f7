"""Exact ties between scores are broken with the strategy's generator, never by pool order (DESIGN 2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies.baselines.uncertainty import MaxEntropyStrategy
from alstrategies.registry import STRATEGIES
from alstrategies.strategy import QueryContext, RankingStrategy, top_k
from alstrategies.types import ModelOutput


class _Fixed(RankingStrategy):
    """Returns the scores it was built with (one per unlabeled image)."""

    name = "fixed"

    def __init__(self, scores: np.ndarray, **sampling_options: object) -> None:
        super().__init__(**sampling_options)  # type: ignore[arg-type]
        self.fixed = np.asarray(scores, dtype=np.float64)

    def score(self, context: QueryContext, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        return self.fixed.copy(), {}


class _Empty(nn.Module):
    """Predicts every pixel background with the same confidence: every image scores the same."""

    def forward(self, x: torch.Tensor) -> ModelOutput:
        logits = torch.zeros(x.shape[0], 3, *x.shape[2:])
        logits[:, 0] = 4.0
        return ModelOutput(logits=logits, coarse_logits=logits)


def _context(n: int = 60, labeled: tuple[int, ...] = (0, 5, 9)) -> QueryContext:
    return QueryContext(
        model=_Empty(),
        pool_images=torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0)),
        labeled=np.array(labeled),
        unlabeled=np.setdiff1d(np.arange(n), labeled),
        num_classes=3,
        batch_size=16,
    )


def _slow_top_sets(candidates: np.ndarray, scores: np.ndarray, k: int) -> tuple[set[int], set[int]]:
    """(must be chosen, may fill the rest): the candidates above the k-th score, and those equal to it."""
    kth = sorted(scores.tolist(), reverse=True)[k - 1]
    above = {int(c) for c, s in zip(candidates, scores, strict=True) if s > kth}
    tied = {int(c) for c, s in zip(candidates, scores, strict=True) if s == kth}
    return above, tied


def test_all_tied_scores_are_resolved_by_the_seed_not_by_pool_order():
    context = _context()
    k = 10
    strategy = _Fixed(np.zeros(context.unlabeled.size))
    first = strategy.query(context, k, np.random.default_rng(1))
    second = strategy.query(context, k, np.random.default_rng(2))
    head, tail = set(context.unlabeled[:k].tolist()), set(context.unlabeled[-k:].tolist())
    assert set(first.indices.tolist()) != set(second.indices.tolist())
    for result in (first, second):
        assert set(result.indices.tolist()) not in (head, tail)
        np.testing.assert_array_equal(result.scores, np.zeros(context.unlabeled.size))  # scores untouched
        np.testing.assert_array_equal(result.candidates, context.unlabeled)
    again = strategy.query(context, k, np.random.default_rng(1))
    np.testing.assert_array_equal(again.indices, first.indices)


def test_tied_candidates_are_drawn_uniformly():
    candidates = np.arange(100, 108)
    scores = np.array(
        [3.0, 1.0, 2.0, 1.0, 1.0, 0.5, 1.0, 2.0]
    )  # 100, 102, 107 above; 101, 103, 104, 106 tied
    counts = {int(c): 0 for c in candidates}
    for seed in range(800):
        for chosen in top_k(candidates, scores, 5, np.random.default_rng(seed)):
            counts[int(chosen)] += 1
    assert counts[100] == counts[102] == counts[107] == 800 and counts[105] == 0
    for tied in (101, 103, 104, 106):  # two places for four tied candidates: each taken half the time
        assert 0.42 < counts[tied] / 800 < 0.58, counts


@pytest.mark.parametrize("seed", range(6))
def test_top_k_is_a_valid_top_set_highest_first(seed):
    rng = np.random.default_rng(100 + seed)
    candidates = rng.permutation(1000)[:40]
    scores = rng.integers(0, 6, size=40).astype(np.float64)  # many exact ties
    k = int(rng.integers(1, 40))
    chosen = top_k(candidates, scores, k, np.random.default_rng(seed))
    above, tied = _slow_top_sets(candidates, scores, k)
    assert len(set(chosen.tolist())) == k and above <= set(chosen.tolist()) <= above | tied
    by_candidate = dict(zip(candidates.tolist(), scores.tolist(), strict=True))
    chosen_scores = [by_candidate[c] for c in chosen.tolist()]
    assert chosen_scores == sorted(chosen_scores, reverse=True)


def test_untied_scores_give_exactly_the_top_k_for_every_seed():
    rng = np.random.default_rng(7)
    candidates = rng.permutation(500)[:50]
    scores = rng.normal(size=50)
    expected = [c for _, c in sorted(zip(scores.tolist(), candidates.tolist(), strict=True), reverse=True)][
        :12
    ]
    for seed in range(5):
        assert top_k(candidates, scores, 12, np.random.default_rng(seed)).tolist() == expected


def test_a_score_strategy_on_empty_predictions_does_not_take_the_first_patients():
    """The failure that motivated the rule: early models predict every slice empty, every score ties."""
    context = _context()
    chosen = [
        set(MaxEntropyStrategy().query(context, 8, np.random.default_rng(s)).indices.tolist()) for s in (0, 1)
    ]
    scores = MaxEntropyStrategy().query(context, 8, np.random.default_rng(0)).scores
    assert np.unique(scores).size == 1  # every image scores exactly the same
    assert chosen[0] != chosen[1]
    assert set(context.unlabeled[:8].tolist()) not in chosen


def test_every_registered_ranking_strategy_ranks_through_the_shared_select():
    ranking = []
    for name in STRATEGIES.names():
        factory = STRATEGIES.get(name)
        if isinstance(factory, type) and issubclass(factory, RankingStrategy):
            assert factory.select is RankingStrategy.select, (
                f"{name} overrides select(): ties may go by pool order"
            )
            ranking.append(name)
    assert {
        "max_entropy",
        "least_confidence",
        "margin",
        "mean_std",
        "vaal",
        "sbc_al",
        "oracle",
        "confident",
        "bald",
        "power_bald",
        "power_entropy",
        "power_sbc_al",
    } <= set(ranking)


@pytest.mark.parametrize("sampling", ["power", "softmax", "softrank"])
def test_tied_scores_are_drawn_uniformly_by_every_sampling_rule(sampling):
    """Tied scores get equal weights under every stochastic rule (softrank: their average rank)."""
    scores = np.array([2.0, 2.0, 2.0, 2.0, 0.5, 0.5])
    strategy = _Fixed(scores, sampling=sampling, sampling_beta=1.5)
    context = _context(n=9, labeled=(0, 4, 8))
    counts = np.zeros(scores.size)
    rng = np.random.default_rng(0)
    draws = 6000
    for _ in range(draws):
        counts[np.searchsorted(context.unlabeled, strategy.query(context, 2, rng).indices)] += 1
    share = counts / draws
    se = np.sqrt(share.mean() * (1 - share.mean()) / draws)
    assert np.ptp(share[:4]) < 8 * se and np.ptp(share[4:]) < 8 * se  # equal within the tied groups
    assert share[:4].min() > share[4:].max()  # and the higher score more often
