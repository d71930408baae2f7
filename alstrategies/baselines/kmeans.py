"""A small seeded k-means (Lloyd's algorithm with k-means++ seeding) in numpy, for TypiClust.

k-means++ (Arthur & Vassilvitskii, SODA 2007): the first centre is a uniformly drawn point,
every next one a point drawn with probability proportional to its squared distance to the
nearest centre so far (uniformly among the points not yet drawn when every distance is 0,
i.e. fewer distinct points than clusters). Lloyd's iterations then alternate assignment (the
nearest centre; the lowest centre index on an exact tie) and update (each centre the mean of its
points; a centre that lost every point stays where it was) until no assignment changes or
``max_iter`` is reached. Of ``n_init`` seeded runs the one with the lowest inertia (sum of
squared distances to the assigned centres) is kept. All randomness comes from the generator
passed in; distances are computed ``N x chunk`` centres at a time.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from alstrategies.baselines.embedding import CHUNK, min_squared_distances, squared_distances


class KMeansResult(NamedTuple):
    """Cluster index of every point, the ``n_clusters x D`` centres and the inertia."""

    labels: np.ndarray
    centres: np.ndarray
    inertia: float


def kmeans_plus_plus(points: np.ndarray, n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n_clusters`` distinct seed points drawn by k-means++ (D^2 sampling)."""
    n = points.shape[0]
    chosen = np.empty(n_clusters, dtype=np.int64)
    chosen[0] = rng.integers(n)
    nearest = min_squared_distances(points, points[chosen[:1]])
    for i in range(1, n_clusters):
        nearest[chosen[:i]] = 0.0
        total = nearest.sum()
        if total > 0:
            chosen[i] = rng.choice(n, p=nearest / total)
        else:  # every remaining point coincides with a centre: draw among the points left
            chosen[i] = rng.choice(np.setdiff1d(np.arange(n), chosen[:i]))
        np.minimum(nearest, squared_distances(points, points[chosen[i] : chosen[i] + 1])[:, 0], out=nearest)
    return chosen


def assign(points: np.ndarray, centres: np.ndarray, chunk: int = CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre of each point (lowest index on ties) and its squared distance."""
    best = np.full(points.shape[0], np.inf)
    labels = np.zeros(points.shape[0], dtype=np.int64)
    for start in range(0, centres.shape[0], chunk):
        block = squared_distances(points, centres[start : start + chunk])
        local = block.argmin(axis=1)
        value = block[np.arange(points.shape[0]), local]
        better = value < best
        best[better], labels[better] = value[better], local[better] + start
    return labels, best


def lloyd(points: np.ndarray, centres: np.ndarray, max_iter: int = 100, chunk: int = CHUNK) -> KMeansResult:
    """Lloyd's iterations from ``centres`` until the assignment is stable (or ``max_iter``)."""
    centres = centres.astype(np.float64, copy=True)
    labels, nearest = assign(points, centres, chunk)
    for _ in range(max_iter):
        order = np.argsort(labels, kind="stable")
        ordered = labels[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        present = ordered[starts]  # the clusters with at least one point; the others stay put
        counts = np.diff(np.r_[starts, ordered.size])
        centres[present] = np.add.reduceat(points[order], starts, axis=0) / counts[:, None]
        new_labels, nearest = assign(points, centres, chunk)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
    return KMeansResult(labels, centres, float(nearest.sum()))


def kmeans(
    points: np.ndarray,
    n_clusters: int,
    rng: np.random.Generator,
    n_init: int = 1,
    max_iter: int = 100,
    chunk: int = CHUNK,
) -> KMeansResult:
    """Seeded k-means: ``n_init`` k-means++ + Lloyd runs, the lowest inertia kept.

    Args:
        points: ``N x D`` (float64).
        n_clusters: Number of clusters, ``1 <= n_clusters <= N``.
        rng: The only source of randomness.
        n_init: Independent seedings.
        max_iter: Lloyd iterations per seeding at most.
        chunk: Centres per block of the distance computation.

    Returns:
        The best :class:`KMeansResult`.
    """
    points = np.asarray(points, dtype=np.float64)
    if not 1 <= n_clusters <= points.shape[0]:
        raise ValueError(f"n_clusters must lie in 1..{points.shape[0]}, got {n_clusters}")
    best: KMeansResult | None = None
    for _ in range(max(1, n_init)):
        seeds = kmeans_plus_plus(points, n_clusters, rng)
        result = lloyd(points, points[seeds], max_iter, chunk)
        if best is None or result.inertia < best.inertia:
            best = result
    assert best is not None
    return best
