"""TypiClust: k-means, typicality and the per-cluster picks, each against a slow loop."""

from __future__ import annotations

import numpy as np
import pytest

from alstrategies.baselines.kmeans import assign, kmeans, kmeans_plus_plus
from alstrategies.baselines.typiclust import TypiClustStrategy, cluster_typicality, pick_typical, typicality
from alstrategies.conformance.fixtures import tiny_context, tiny_model
from tests.baselines.test_coreset import context_for


def brute_typicality(points: np.ndarray, neighbours: int) -> np.ndarray:
    """For each point: 1 / mean Euclidean distance to its K = min(neighbours, m - 1) nearest others."""
    out = []
    for i, p in enumerate(points):
        others = sorted(float(np.linalg.norm(p - q)) for j, q in enumerate(points) if j != i)
        k = min(neighbours, len(others))
        out.append(0.0 if k == 0 else 1.0 / (sum(others[:k]) / k))
    return np.array(out)


def blobs(sizes: list[int], seed: int = 0, spread: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """Well-separated Gaussian blobs in 4-D with the given sizes: ``(points, blob of each point)``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), 4)) * spread
    blob = np.repeat(np.arange(len(sizes)), sizes)
    return centres[blob] + rng.normal(size=(blob.size, 4)), blob


@pytest.mark.parametrize(("m", "neighbours"), [(30, 20), (12, 20), (5, 3), (2, 20), (1, 20)])
def test_typicality_matches_the_loop(m: int, neighbours: int) -> None:
    points = np.random.default_rng(m).normal(size=(m, 3))
    for chunk in (1, 4, 256):
        np.testing.assert_allclose(
            typicality(points, neighbours, chunk), brute_typicality(points, neighbours), rtol=1e-9
        )


def test_typicality_is_finite_for_duplicates_and_per_cluster() -> None:
    assert np.isfinite(typicality(np.ones((4, 2)), 20)).all()
    points, blob = blobs([8, 5])
    within = cluster_typicality(points, blob, 20, 3)
    for b in (0, 1):
        np.testing.assert_allclose(within[blob == b], brute_typicality(points[blob == b], 20), rtol=1e-9)


def test_kmeans_is_a_fixed_point_of_lloyd() -> None:
    """Every point is assigned to its nearest centre, and every centre is the mean of its points."""
    points = np.random.default_rng(0).normal(size=(90, 3))
    result = kmeans(points, 7, np.random.default_rng(1), n_init=2)
    for i, p in enumerate(points):
        distances = [float(np.sum((p - c) ** 2)) for c in result.centres]
        assert distances[result.labels[i]] == pytest.approx(min(distances))
    for c in range(7):
        members = points[result.labels == c]
        assert len(members) > 0
        np.testing.assert_allclose(result.centres[c], members.mean(axis=0), atol=1e-12)
    inertia = sum(float(np.sum((p - result.centres[result.labels[i]]) ** 2)) for i, p in enumerate(points))
    assert result.inertia == pytest.approx(inertia)


def test_kmeans_recovers_separated_blobs_and_is_seeded() -> None:
    points, blob = blobs([20, 15, 10, 5])
    a = kmeans(points, 4, np.random.default_rng(3), n_init=3)
    # the same partition as the blobs (cluster ids may be permuted)
    assert len({(int(x), int(y)) for x, y in zip(a.labels, blob, strict=True)}) == 4
    b = kmeans(points, 4, np.random.default_rng(3), n_init=3)
    assert np.array_equal(a.labels, b.labels)


def test_kmeans_plus_plus_never_seeds_on_a_zero_distance_point_while_others_remain() -> None:
    points = np.concatenate([np.zeros((9, 2)), [[10.0, 0.0]]])
    for seed in range(5):
        seeds = kmeans_plus_plus(points, 2, np.random.default_rng(seed))
        assert len(set(seeds.tolist())) == 2 and 9 in seeds.tolist()
    assert sorted(kmeans_plus_plus(np.zeros((3, 2)), 3, np.random.default_rng(0)).tolist()) == [0, 1, 2]


def test_assign_against_a_loop() -> None:
    rng = np.random.default_rng(2)
    points, centres = rng.normal(size=(25, 3)), rng.normal(size=(9, 3))
    labels, nearest = assign(points, centres, chunk=2)
    for i, p in enumerate(points):
        distances = [float(np.sum((p - c) ** 2)) for c in centres]
        assert labels[i] == int(np.argmin(distances)) and nearest[i] == pytest.approx(min(distances))


def brute_picks(
    clusters: np.ndarray, typical: np.ndarray, sizes: np.ndarray, covered: np.ndarray, k: int
) -> list[int]:
    """Slow reference without ties: k times the cluster (fewest labeled, then largest) with candidates
    left, and its most typical remaining candidate."""
    covered = covered.copy()
    taken: list[int] = []
    for _ in range(k):
        open_clusters = [
            c
            for c in range(sizes.size)
            if any(clusters[i] == c and i not in taken for i in range(clusters.size))
        ]
        cluster = min(open_clusters, key=lambda c: (covered[c], -sizes[c]))
        members = [i for i in range(clusters.size) if clusters[i] == cluster and i not in taken]
        taken.append(max(members, key=lambda i: typical[i]))
        covered[cluster] += 1
    return taken


@pytest.mark.parametrize("k", [1, 3, 6, 12])
def test_picks_match_the_reference_loop_including_the_fill(k: int) -> None:
    rng = np.random.default_rng(k)
    sizes = np.array([9, 7, 6, 4, 3, 2])  # labeled and unlabeled slices per cluster
    covered = np.array([1, 0, 2, 0, 0, 1])
    clusters = np.repeat(np.arange(6), sizes - covered)  # the candidates' clusters
    typical = rng.random(clusters.size)
    picks = pick_typical(clusters, typical, sizes, covered, k, 1, np.random.default_rng(0))
    assert picks.tolist() == brute_picks(clusters, typical, sizes, covered, k)
    if k == 3:  # the three largest clusters without a labeled member: sizes 7, 4, 3
        assert sorted(clusters[picks].tolist()) == [1, 3, 4]


def test_min_cluster_size_skips_small_clusters_until_nothing_else_is_left() -> None:
    sizes = np.array([10, 3, 2])
    covered = np.array([1, 0, 0])
    clusters = np.repeat(np.arange(3), sizes - covered)
    typical = np.arange(clusters.size, dtype=float)
    picks = pick_typical(clusters, typical, sizes, covered, 11, 6, np.random.default_rng(0))
    assert clusters[picks[:9]].tolist() == [0] * 9  # the only cluster of at least 6 first
    assert sorted(clusters[picks[9:]].tolist()) == [1, 2]


def test_ties_between_clusters_and_points_are_broken_with_the_generator() -> None:
    sizes, covered = np.full(6, 4), np.zeros(6, dtype=np.int64)
    clusters = np.repeat(np.arange(6), 4)
    typical = np.ones(clusters.size)
    selections = {
        tuple(sorted(pick_typical(clusters, typical, sizes, covered, 3, 1, np.random.default_rng(s))))
        for s in range(8)
    }
    assert len(selections) > 1
    for selection in selections:
        assert len({int(clusters[i]) for i in selection}) == 3  # still one per cluster


def test_query_takes_the_most_typical_slice_of_the_largest_uncovered_blobs() -> None:
    """5 blobs, |L| = 2 in blobs 1 and 4, k = 3: one pick from each of blobs 0, 2, 3 (sizes 30, 20, 15)."""
    points, blob = blobs([30, 25, 20, 15, 10], seed=1)
    labeled = [int(np.flatnonzero(blob == 1)[0]), int(np.flatnonzero(blob == 4)[0])]
    context = context_for(points, labeled)
    float_points = points.astype(np.float32).astype(np.float64)
    for seed in range(3):
        result = TypiClustStrategy().query(context, 3, np.random.default_rng(seed))
        assert sorted(blob[result.indices].tolist()) == [0, 2, 3]
        for pick in result.indices:
            members = np.flatnonzero(blob == blob[pick])
            within = brute_typicality(float_points[members], 20)
            candidates = [i for i, m in enumerate(members) if m not in labeled]
            assert members[max(candidates, key=lambda i: within[i])] == pick
        assert set(result.details["cluster_size"].tolist()) == {30, 25, 20, 15, 10}


def test_same_seed_same_selection_and_more_clusters_than_points() -> None:
    context = context_for(np.random.default_rng(7).normal(size=(12, 3)), [0, 1, 2, 3, 4, 5, 6, 7])
    a = TypiClustStrategy().query(context, 4, np.random.default_rng(1)).indices
    assert np.array_equal(a, TypiClustStrategy().query(context, 4, np.random.default_rng(1)).indices)
    assert sorted(a.tolist()) == [8, 9, 10, 11]  # 12 clusters of one slice each


@pytest.mark.parametrize("heads", ["plain", "sbc"])
def test_real_networks(heads: str) -> None:
    context = tiny_context(tiny_model(heads))
    result = TypiClustStrategy().query(context, 5, np.random.default_rng(0))
    assert len(set(result.indices.tolist())) == 5 and np.isfinite(result.scores).all()


def test_metadata_and_options() -> None:
    assert TypiClustStrategy.family == "diversity" and TypiClustStrategy.name == "typiclust"
    assert "Hacohen" in TypiClustStrategy.source and TypiClustStrategy.forward_passes == "1"
    with pytest.raises(ValueError, match="neighbours"):
        TypiClustStrategy(neighbours=0)
