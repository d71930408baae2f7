"""ClaSP PE: class-wise scores, the stratified power draw, the beta schedule, against slow references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies.baselines.clasp_pe import (
    BETA_END,
    BETA_START,
    CLASS_SHARE,
    ClaSPPEStrategy,
    class_entropy_scores,
    query_progress,
    scheduled_beta,
    stratified_power_draw,
)
from alstrategies.errors import ConfigError
from alstrategies.strategy import QueryContext
from alstrategies.types import ModelOutput


class LogitsAreTheImage(nn.Module):
    """A stand-in network whose logits are its input (C channels in, C classes out)."""

    def forward(self, x: torch.Tensor) -> ModelOutput:
        return ModelOutput(logits=x.clone(), coarse_logits=x.clone())


def make_context(logits: torch.Tensor, labeled: list[int], batch_size: int = 7, **extra: int) -> QueryContext:
    n = logits.shape[0]
    return QueryContext(
        model=LogitsAreTheImage(),
        pool_images=logits,
        labeled=np.asarray(labeled, dtype=np.int64),
        unlabeled=np.setdiff1d(np.arange(n), labeled),
        num_classes=logits.shape[1],
        batch_size=batch_size,
        **extra,
    )


# -- slow references ------------------------------------------------------------------------


def reference_scores(logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Pixel by pixel, class by class: s = mean_x H(x), s_c = mean_x p_c(x) H(x)."""
    values = logits.double().numpy()
    n, classes, height, width = values.shape
    overall = np.zeros(n)
    classwise = np.zeros((n, classes))
    for i in range(n):
        for y in range(height):
            for x in range(width):
                top = max(values[i, c, y, x] for c in range(classes))
                exps = [math.exp(values[i, c, y, x] - top) for c in range(classes)]
                total = sum(exps)
                probs = [e / total for e in exps]
                entropy = -sum(p * math.log(p) for p in probs if p > 0)
                overall[i] += entropy / (height * width)
                for c in range(classes):
                    classwise[i, c] += probs[c] * entropy / (height * width)
    return overall, classwise


def reference_draw(
    overall: np.ndarray, classwise: np.ndarray, k: int, share: float, beta: float, rng: np.random.Generator
) -> list[int]:
    """The module docstring's rule with loops: class order, round-robin quotas, then per stratum
    one Gumbel per free candidate and the ``q`` largest keys ``beta log s + G`` one at a time."""
    n, classes = classwise.shape
    order = [int(c) for c in rng.permutation(classes)]
    quotas = [0] * classes
    for j in range(int(share * k + 1e-9)):
        quotas[order[j % classes]] += 1
    taken: list[int] = []

    def draw(column: list[float], count: int) -> None:
        free = [i for i in range(n) if i not in taken]
        noise = rng.gumbel(size=len(free))
        keys = {i: beta * math.log(column[i]) + g for i, g in zip(free, noise, strict=True)}
        for _ in range(min(count, len(free))):
            best = None
            for i in free:
                if i in keys and (best is None or keys[i] > keys[best]):
                    best = i
            taken.append(best)
            del keys[best]

    for c in order:
        if quotas[c] and len(taken) < n:
            draw([classwise[i, c] for i in range(n)], quotas[c])
    if k - len(taken):
        draw([overall[i] for i in range(n)], k - len(taken))
    return taken


# -- class-wise scores ----------------------------------------------------------------------


def test_class_scores_match_a_pixel_loop() -> None:
    logits = 3 * torch.randn(4, 4, 5, 6, generator=torch.Generator().manual_seed(0))
    logits[0, 2] = -200.0  # p = 0 exactly for one class of one slice
    overall, classwise = class_entropy_scores(logits)
    want_overall, want_classwise = reference_scores(logits)
    np.testing.assert_allclose(overall.numpy(), want_overall, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(classwise.numpy(), want_classwise, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(classwise.sum(dim=1).numpy(), overall.numpy(), rtol=1e-5)


def test_strategy_scores_are_the_reference_whatever_the_batch_size() -> None:
    logits = 2 * torch.randn(11, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    want_overall, want_classwise = reference_scores(logits)
    unlabeled = np.setdiff1d(np.arange(11), [2, 5])
    for batch_size in (1, 4, 64):
        overall, classwise = ClaSPPEStrategy().scores(make_context(logits, [2, 5], batch_size))
        np.testing.assert_allclose(overall, want_overall[unlabeled], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(classwise, want_classwise[unlabeled], rtol=1e-5, atol=1e-7)
    result = ClaSPPEStrategy().query(make_context(logits, [2, 5]), 4, np.random.default_rng(0))
    np.testing.assert_array_equal(result.candidates, unlabeled)
    np.testing.assert_allclose(result.scores, want_overall[unlabeled], rtol=1e-5, atol=1e-7)
    for c in (1, 2):
        np.testing.assert_allclose(result.details[f"class{c}_pe"], want_classwise[unlabeled, c], rtol=1e-5)


# -- the stratified power draw --------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, 1.0, 7.5, 100.0])
@pytest.mark.parametrize(("k", "classes"), [(1, 3), (5, 3), (9, 2), (12, 1), (20, 4), (25, 3)])
def test_the_draw_is_the_slow_reference(beta: float, k: int, classes: int) -> None:
    for seed in range(5):
        scores = np.random.default_rng(100 + seed).uniform(0.01, 1.0, size=(25, classes + 1))
        overall, classwise = scores[:, 0], scores[:, 1:]
        positions, stratum = stratified_power_draw(
            overall, classwise, k, CLASS_SHARE, beta, np.random.default_rng(seed)
        )
        want = reference_draw(overall, classwise, k, CLASS_SHARE, beta, np.random.default_rng(seed))
        assert positions.tolist() == want
        assert sorted(np.flatnonzero(stratum >= 0).tolist()) == sorted(want)
        stratified = math.floor(CLASS_SHARE * k + 1e-9)
        counts = [int((stratum == c).sum()) for c in range(1, classes + 1)]
        assert sum(counts) == stratified and max(counts) - min(counts) <= 1
        assert int((stratum == 0).sum()) == k - stratified


def test_quotas_follow_nnactive_for_round_numbers() -> None:
    # nnActive: n_cls = int(query_size * 0.66), n_cls // classes each, the remainder to shuffled classes
    for k, classes in ((30, 3), (60, 3), (90, 3), (20, 1), (40, 15), (7, 2)):
        scores = np.ones((120, classes))
        _, stratum = stratified_power_draw(scores[:, 0], scores, k, 0.66, 1.0, np.random.default_rng(0))
        n_cls = int(k * 0.66)
        counts = sorted(int((stratum == c).sum()) for c in range(1, classes + 1))
        assert sum(counts) == n_cls and counts[0] == n_cls // classes
        assert int((stratum == 0).sum()) == k - n_cls


# -- the schedule ---------------------------------------------------------------------------


def test_the_schedule_is_exponential_from_1_to_100() -> None:
    assert (BETA_START, BETA_END, CLASS_SHARE) == (1.0, 100.0, 0.66)
    # nnActive's exponential_schedule(query_steps=5, 1, 100), queried at loops 0..3
    assert [round(scheduled_beta(r / 4), 6) for r in range(5)] == [1.0, 3.162278, 10.0, 31.622777, 100.0]
    logits = torch.zeros(30, 3, 4, 4)
    for last_round in (1, 4, 8):
        for r in range(last_round):
            context = make_context(logits, [0], round_index=r, last_round=last_round)
            assert query_progress(context) == pytest.approx(r / last_round)
            assert ClaSPPEStrategy().beta(context) == pytest.approx(100.0 ** (r / last_round))
            custom = ClaSPPEStrategy(beta_start=2.0, beta_end=50.0).beta(context)
            assert custom == pytest.approx(2.0 * 25.0 ** (r / last_round))
    assert query_progress(make_context(logits, [0], round_index=0, last_round=0)) == 0.0
    assert query_progress(make_context(logits, [0], round_index=9, last_round=4)) == 1.0


def test_without_the_round_the_progress_comes_from_the_labeled_fraction() -> None:
    logits = torch.zeros(300, 3, 2, 2)
    rounds = 8  # the default protocol: 6.67 % to 33.33 % of the pool in 8 steps of 3.33 %
    for r in range(rounds):
        count = round(300 * (1 / 15 + r * (1 / 3 - 1 / 15) / rounds))
        context = make_context(logits, list(range(count)))
        assert query_progress(context) == pytest.approx(r / rounds, abs=0.01)
    assert query_progress(make_context(logits, [0])) == 0.0  # below the first budget: clipped


def test_late_rounds_tend_to_the_stratified_top_k() -> None:
    scores = np.random.default_rng(3).uniform(0.1, 1.0, size=(40, 3))
    for seed in range(4):
        _, stratum = stratified_power_draw(
            scores[:, 0], scores[:, 1:], 4, 0.66, 1e6, np.random.default_rng(seed)
        )  # floor(0.66 * 4) = 2: one slice per class, then two by the overall score
        order = np.random.default_rng(seed).permutation(2)  # the draw's first call
        free = set(range(40))
        for c in (order + 1).tolist():  # each class takes the best free slice of its score
            (picked,) = np.flatnonzero(stratum == c)
            assert picked == max(free, key=lambda i, c=c: scores[i, c])
            free.remove(picked)
        best = sorted(free, key=lambda i: -scores[i, 0])[:2]
        assert sorted(np.flatnonzero(stratum == 0).tolist()) == sorted(best)


# -- the strategy on an imbalanced pool -----------------------------------------------------


def imbalanced_pool() -> tuple[torch.Tensor, dict[int, list[int]]]:
    """60 slices, 4 classes: class 1 (uncertain, large) in 40 slices, class 2 in 14, class 3 (rare,
    small, fairly confident) in 3; three are pure background."""
    logits = torch.full((60, 4, 8, 8), -10.0)
    logits[:, 0] = 0.0
    logits[0:40, 1, :, :4] = 0.3
    logits[40:54, 2, 2:6, 2:6] = 0.5
    logits[54:57, 3, 3:5, 3:5] = 2.0
    return logits, {1: list(range(40)), 2: list(range(40, 54)), 3: list(range(54, 57))}


def test_the_stratified_part_covers_every_foreground_class() -> None:
    logits, slices = imbalanced_pool()
    context = make_context(logits, [0, 40], round_index=3, last_round=4)
    overall, _ = ClaSPPEStrategy().scores(context)
    top = context.unlabeled[np.argsort(-overall)[:6]]
    assert not np.isin(top, slices[3]).any()  # plain entropy top-k never sees the rare class
    rare_hits = 0
    for seed in range(40):
        for round_index in (0, 3):
            context = make_context(logits, [0, 40], round_index=round_index, last_round=4)
            result = ClaSPPEStrategy().query(context, 6, np.random.default_rng(seed))
            stratum = result.details["stratum"]
            chosen = result.candidates[stratum >= 0]
            assert sorted(chosen.tolist()) == sorted(result.indices.tolist())
            for c in (1, 2, 3):  # floor(0.66 * 6) = 3: one slice per foreground class
                (picked,) = result.candidates[stratum == c]
                if round_index == 3 or c != 3:
                    assert picked in slices[c], (seed, round_index, c, picked)
                else:
                    rare_hits += picked in slices[c]
            assert int((stratum == 0).sum()) == 3
    assert rare_hits >= 36  # beta = 1: drawn with probability ~ s_3, almost always a class-3 slice


def test_exactly_k_distinct_unlabeled_indices() -> None:
    logits, _ = imbalanced_pool()
    labeled = [0, 1, 40, 54]
    for share in (0.0, 0.5, 0.66, 1.0):
        for k in (1, 2, 3, 5, 17, 56, 80):
            context = make_context(logits, labeled, round_index=1, last_round=3)
            indices = ClaSPPEStrategy(class_share=share).query(context, k, np.random.default_rng(k)).indices
            assert indices.size == min(k, 56) and np.unique(indices).size == indices.size
            assert not np.isin(indices, labeled).any()
    two = make_context(torch.randn(9, 2, 4, 4, generator=torch.Generator().manual_seed(2)), [3])
    assert ClaSPPEStrategy().query(two, 4, np.random.default_rng(0)).indices.size == 4


def test_a_class_predicted_nowhere_still_fills_its_quota() -> None:
    logits, _ = imbalanced_pool()
    logits[:, 3] = -1e4  # p_3 = 0 exactly: s_3 = 0 on every slice, the class-3 draw is uniform
    context = make_context(logits, [0], round_index=2, last_round=4)
    result = ClaSPPEStrategy().query(context, 6, np.random.default_rng(0))
    assert np.isfinite(result.scores).all() and (result.details["class3_pe"] == 0).all()
    assert result.indices.size == 6 and int((result.details["stratum"] == 3).sum()) == 1


def test_deterministic_given_the_generator() -> None:
    logits, _ = imbalanced_pool()
    context = make_context(logits, [0, 40], round_index=0, last_round=4)
    runs = [ClaSPPEStrategy().query(context, 8, np.random.default_rng(s)).indices.tolist() for s in (5, 5, 6)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_options_are_checked() -> None:
    for options in ({"class_share": 1.5}, {"beta_start": 0.0}, {"beta_end": math.inf}, {"beta_end": -1.0}):
        with pytest.raises(ConfigError):
            ClaSPPEStrategy(**options)
    strategy = ClaSPPEStrategy(class_share=0.5, beta_start=2.0, beta_end=20.0)
    assert (strategy.class_share, strategy.beta_start, strategy.beta_end) == (0.5, 2.0, 20.0)
    assert ClaSPPEStrategy.family == "uncertainty" and ClaSPPEStrategy.forward_passes == "1"
    assert "Lüth" in ClaSPPEStrategy.source and "nnActive" in ClaSPPEStrategy.source


def test_the_context_round_defaults_to_none() -> None:
    context = make_context(torch.zeros(4, 2, 2, 2), [0])
    assert context.round_index is None and context.last_round is None


def test_the_experiment_loop_tells_the_strategy_its_round(tiny_config, tmp_path, monkeypatch) -> None:
    from alstrategies.engine.loop import Experiment
    from alstrategies.engine.records import RunLayout, read_record

    seen: list[tuple[int | None, int | None, float]] = []
    beta = ClaSPPEStrategy.beta

    def spy(self: ClaSPPEStrategy, context: QueryContext) -> float:
        value = beta(self, context)
        seen.append((context.round_index, context.last_round, value))
        return value

    monkeypatch.setattr(ClaSPPEStrategy, "beta", spy)
    Experiment(tiny_config(), tmp_path, strategies=["clasp_pe"], seeds=[0], progress=False).run()
    assert seen == [(0, 2, 1.0), (1, 2, pytest.approx(10.0))]  # budgets 6, 9, 12 of 30: R = 2
    record = read_record(RunLayout(tmp_path).strategy_round("clasp_pe", 0, 0))
    assert len(record["queried"]) == 3 and "stratum" in record["scores"]
