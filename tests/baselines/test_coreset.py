"""CoreSet: greedy k-center on the pooled features, against a brute-force loop."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies.baselines.coreset import CoreSetStrategy, k_center_greedy
from alstrategies.baselines.embedding import min_squared_distances, pool_embeddings
from alstrategies.conformance.fixtures import tiny_context, tiny_model
from alstrategies.strategy import QueryContext
from alstrategies.types import ModelOutput


class FeatureModel(nn.Module):
    """A stub whose features are the image's pixels: ``features = images.flatten(1)``."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> ModelOutput:
        logits = torch.zeros(x.shape[0], 2, *x.shape[2:])
        return ModelOutput(logits=logits, coarse_logits=logits, features=x.flatten(1) * self.scale)


def context_for(points: np.ndarray, labeled: list[int], batch_size: int = 7) -> QueryContext:
    """A pool whose image ``i`` is the point ``points[i]`` (as a 1 x 1 x D image)."""
    images = torch.from_numpy(points.astype(np.float32))[:, None, None, :]
    labeled_array = np.asarray(labeled, dtype=np.int64)
    return QueryContext(
        model=FeatureModel(),
        pool_images=images,
        labeled=labeled_array,
        unlabeled=np.setdiff1d(np.arange(points.shape[0]), labeled_array),
        num_classes=2,
        batch_size=batch_size,
    )


def brute_force_k_center(points: np.ndarray, labeled: list[int], unlabeled: list[int], k: int) -> list[int]:
    """Sener & Savarese's Algorithm 1, literally: k times the unlabeled point farthest from all centres."""
    centres = list(labeled)
    chosen: list[int] = []
    for _ in range(k):
        best, best_distance = -1, -1.0
        for u in unlabeled:
            if u in chosen:
                continue
            distance = min(float(np.linalg.norm(points[u] - points[c])) for c in centres)
            if distance > best_distance:
                best, best_distance = u, distance
        chosen.append(best)
        centres.append(best)
    return chosen


@pytest.mark.parametrize("seed", range(4))
def test_selection_matches_the_brute_force_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(60, 5))
    labeled = sorted(rng.choice(60, size=6, replace=False).tolist())
    context = context_for(points, labeled)
    result = CoreSetStrategy().query(context, 9, np.random.default_rng(0))
    float_points = points.astype(np.float32).astype(np.float64)  # what the model sees
    expected = brute_force_k_center(float_points, labeled, context.unlabeled.tolist(), 9)
    assert result.indices.tolist() == expected  # in the order chosen
    # scores: each candidate's distance to its nearest labeled point
    for candidate, score in zip(result.candidates, result.scores, strict=True):
        nearest = min(np.linalg.norm(float_points[candidate] - float_points[j]) for j in labeled)
        assert score == pytest.approx(nearest, rel=1e-6)
    pick = dict(zip(result.candidates.tolist(), result.details["pick_distance"].tolist(), strict=True))
    assert pick[expected[0]] == pytest.approx(result.scores.max(), rel=1e-9)


def test_k_center_greedy_matches_a_loop_from_given_distances() -> None:
    """From precomputed distances to existing centres: argmax, then lower every distance."""
    rng = np.random.default_rng(5)
    points, centres = rng.normal(size=(40, 3)), rng.normal(size=(3, 3))
    min_squared = np.array([min(float(np.sum((p - c) ** 2)) for c in centres) for p in points])
    positions, gains = k_center_greedy(points, min_squared, 6, np.random.default_rng(0))
    distance = np.sqrt(min_squared)
    taken: list[int] = []
    for position, gain in zip(positions, gains, strict=True):
        expected = max((i for i in range(40) if i not in taken), key=lambda i: distance[i])
        assert position == expected and gain == pytest.approx(distance[expected])
        taken.append(expected)
        distance = np.array(
            [min(distance[i], np.linalg.norm(points[i] - points[expected])) for i in range(40)]
        )


def test_min_squared_distances_against_a_loop_for_any_chunk() -> None:
    rng = np.random.default_rng(1)
    points, centres = rng.normal(size=(30, 4)), rng.normal(size=(11, 4))
    expected = np.array([min(float(np.sum((p - c) ** 2)) for c in centres) for p in points])
    for chunk in (1, 3, 11, 256):
        np.testing.assert_allclose(min_squared_distances(points, centres, chunk), expected, rtol=1e-10)
    assert np.isinf(min_squared_distances(points, centres[:0])).all()


def test_chunk_size_does_not_change_the_selection() -> None:
    rng = np.random.default_rng(2)
    points = rng.normal(size=(80, 6))
    context = context_for(points, list(range(0, 80, 9)))
    selections = [
        CoreSetStrategy(chunk=c).query(context, 12, np.random.default_rng(3)).indices for c in (1, 4, 256)
    ]
    assert all(np.array_equal(selections[0], s) for s in selections[1:])


def test_the_distance_matrix_is_never_pool_by_pool() -> None:
    """2000 points against 2000 centres, chunk 16: the numpy peak stays far below 2000 x 2000 floats."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(2000, 8))
    tracemalloc.start()
    min_squared_distances(points, points, chunk=16)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2000 * 2000 * 8 / 20  # a full matrix would be 32 MB; a block is 2000 x 16


def test_exact_ties_are_broken_with_the_generator() -> None:
    """All points identical: every distance ties, so the seed (not the pool order) decides."""
    points = np.ones((30, 4))
    context = context_for(points, [0, 1])
    first = context.unlabeled[:5].tolist()
    selections = [
        sorted(CoreSetStrategy().query(context, 5, np.random.default_rng(s)).indices.tolist())
        for s in range(6)
    ]
    assert any(s != first for s in selections)
    assert len({tuple(s) for s in selections}) > 1
    again = CoreSetStrategy().query(context, 5, np.random.default_rng(3)).indices.tolist()
    assert sorted(again) == selections[3]


def test_duplicates_far_away_are_picked_once_each_before_near_points() -> None:
    """Two far groups of identical points: each group gives one centre, chosen at random within it."""
    near = np.zeros((10, 2))
    group_a = np.tile([100.0, 0.0], (5, 1))
    group_b = np.tile([0.0, 100.0], (5, 1))
    points = np.concatenate([near, group_a, group_b])
    context = context_for(points, [0])
    picks = set()
    for seed in range(8):
        chosen = CoreSetStrategy().query(context, 2, np.random.default_rng(seed)).indices.tolist()
        assert sorted(i // 5 for i in chosen) == [2, 3]  # one from each far group
        picks.update(chosen)
    assert len(picks) > 2  # which duplicate is picked depends on the seed


def test_no_labeled_slice_starts_from_a_random_centre() -> None:
    rng = np.random.default_rng(4)
    points = rng.normal(size=(25, 3))
    context = context_for(points, [])
    firsts = set()
    for seed in range(6):
        result = CoreSetStrategy().query(context, 4, np.random.default_rng(seed))
        chosen = result.indices.tolist()
        float_points = points.astype(np.float32).astype(np.float64)
        assert chosen[1:] == brute_force_k_center(float_points, chosen[:1], context.unlabeled.tolist(), 3)
        assert np.isfinite(result.scores).all()
        firsts.add(chosen[0])
    assert len(firsts) > 1


def test_same_seed_same_selection_and_k_capped() -> None:
    rng = np.random.default_rng(6)
    context = context_for(rng.normal(size=(20, 3)), [2, 3])
    a = CoreSetStrategy().query(context, 5, np.random.default_rng(9)).indices
    b = CoreSetStrategy().query(context, 5, np.random.default_rng(9)).indices
    assert np.array_equal(a, b)
    everything = CoreSetStrategy().query(context, 100, np.random.default_rng(0)).indices
    assert sorted(everything.tolist()) == context.unlabeled.tolist()


@pytest.mark.parametrize("heads", ["plain", "sbc"])
def test_real_networks_give_their_pooled_bottleneck(heads: str) -> None:
    model = tiny_model(heads)
    context = tiny_context(model)
    embeddings = pool_embeddings(context, context.unlabeled, "coreset")
    assert embeddings.shape == (context.unlabeled.size, 64) and embeddings.dtype == np.float64
    with torch.no_grad():
        direct = model(context.pool_images[torch.as_tensor(context.unlabeled)]).features
    np.testing.assert_allclose(embeddings, direct.double().numpy(), rtol=1e-5, atol=1e-6)
    result = CoreSetStrategy().query(context, 4, np.random.default_rng(0))
    assert len(set(result.indices.tolist())) == 4


def test_metadata() -> None:
    assert CoreSetStrategy.family == "diversity" and CoreSetStrategy.name == "coreset"
    assert "Sener" in CoreSetStrategy.source and CoreSetStrategy.forward_passes == "1"
    with pytest.raises(ValueError, match="chunk"):
        CoreSetStrategy(chunk=0)
