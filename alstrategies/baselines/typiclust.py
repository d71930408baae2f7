"""TypiClust (Hacohen, Dekel & Weinshall, ICML 2022): typical points of uncovered clusters.

The low-budget strategy: query the most *typical* slice of each large region of the embedding
space that the labeled set does not cover yet. Embeddings are ``ModelOutput.features`` (the
globally average-pooled bottleneck, ``16c`` values per slice) of labeled and unlabeled slices,
from one eval-mode pass. Steps:

1. k-means (seeded, :mod:`baselines.kmeans`) of labeled and unlabeled slices into
   ``min(|labeled| + k, max_clusters)`` clusters (the paper's ``|L| + B``, at most 500).
2. Typicality of every slice within its cluster (the paper's Eq. 5, computed per cluster):
   ``1 / mean_{x_i in KNN(x)} ||x - x_i||_2`` over its ``K = min(20, m - 1)`` nearest other
   members of its cluster of size ``m`` (labeled members included: density is a property of
   the data, not of the labels); a singleton has typicality 0.
3. ``k`` picks: each takes the eligible cluster with the fewest labeled (or already chosen)
   members, the largest first, exact ties by the generator, and from it the unlabeled,
   not-yet-chosen slice of highest typicality (exact ties by the generator). The first picks
   therefore come from the largest clusters without a labeled member, one slice each; with
   fewer such clusters than ``k`` the next picks come from the clusters with the fewest
   labeled members, largest first (the reference code's ordering). Clusters smaller than
   ``min_cluster_size`` (default 1: every cluster) are used only when no other has a candidate
   left; the reference code skips clusters of 5 slices or fewer (``min_cluster_size = 6``).

Differences to the reference code (github.com/avihu111/TypiClust, ``deep-al/pycls/al/typiclust.py``),
all documented in docs/baselines.md ("TypiClust"): Lloyd's k-means with k-means++ seeding in
numpy instead of scikit-learn (``MiniBatchKMeans`` above 50 clusters); Euclidean, not squared,
neighbour distances (faiss's ``IndexFlatL2`` returns squared ones); ``K = min(20, m - 1)``
instead of ``min(20, m // 2)``; neighbours among every member of the cluster rather than the
unlabeled ones only.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from alstrategies.baselines.embedding import CHUNK, argmax_tied, pool_embeddings, squared_distances
from alstrategies.baselines.kmeans import kmeans
from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy

#: Typicality of a point that coincides with all its neighbours (mean distance 0): finite, huge.
MAX_TYPICALITY = 1e12


def typicality(points: np.ndarray, neighbours: int = 20, chunk: int = CHUNK) -> np.ndarray:
    """``1 / mean Euclidean distance to the K = min(neighbours, m - 1) nearest other points``.

    Args:
        points: ``m x D``, the members of one cluster.
        neighbours: ``K`` at most.
        chunk: Rows per block of the distance computation (memory ``chunk x m``).

    Returns:
        ``m`` values (0 for a single point; at most :data:`MAX_TYPICALITY`).
    """
    m = points.shape[0]
    k = min(neighbours, m - 1)
    if k < 1:
        return np.zeros(m)
    out = np.empty(m)
    for start in range(0, m, chunk):
        block = squared_distances(points[start : start + chunk], points)
        rows = np.arange(block.shape[0])
        block[rows, rows + start] = np.inf  # not its own neighbour
        nearest = np.partition(block, k - 1, axis=1)[:, :k]
        mean = np.sqrt(nearest).mean(axis=1)
        out[start : start + block.shape[0]] = 1.0 / np.maximum(mean, 1.0 / MAX_TYPICALITY)
    return out


def cluster_typicality(points: np.ndarray, labels: np.ndarray, neighbours: int, chunk: int) -> np.ndarray:
    """The :func:`typicality` of every point within its own cluster."""
    out = np.zeros(points.shape[0])
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        out[members] = typicality(points[members], neighbours, chunk)
    return out


class TypiClustStrategy(QueryStrategy):
    """The most typical unlabeled slice of each of the largest clusters without a labeled member.

    Scores (saved, not ranked on): each candidate's typicality within its cluster. Details:
    ``cluster`` (its k-means cluster) and ``cluster_size``.

    Args:
        neighbours: ``K`` of the typicality (paper: 20).
        max_clusters: Upper bound on the number of clusters (reference code: 500).
        min_cluster_size: Clusters with fewer slices are used only when no other is left.
        n_init: Seeded k-means++ initialisations (the lowest inertia is kept).
        max_iter: Lloyd iterations per initialisation at most.
        chunk: Rows per block of the distance computations.
    """

    name = "typiclust"
    family = "diversity"
    source: ClassVar[str] = (
        "Hacohen, Dekel & Weinshall, Active Learning on a Budget: Opposite Strategies Suit High "
        "and Low Budgets, ICML 2022 (TypiClust)"
    )
    forward_passes: ClassVar[str] = "1"

    def __init__(
        self,
        neighbours: int = 20,
        max_clusters: int = 500,
        min_cluster_size: int = 1,
        n_init: int = 3,
        max_iter: int = 100,
        chunk: int = CHUNK,
    ) -> None:
        for key, value in {
            "neighbours": neighbours,
            "max_clusters": max_clusters,
            "n_init": n_init,
            "max_iter": max_iter,
            "chunk": chunk,
            "min_cluster_size": min_cluster_size,
        }.items():
            if value < 1:
                raise ValueError(f"{key} must be at least 1, got {value}")
        self.neighbours, self.max_clusters, self.min_cluster_size = neighbours, max_clusters, min_cluster_size
        self.n_init, self.max_iter, self.chunk = n_init, max_iter, chunk

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        """Cluster, compute typicality, pick ``k`` slices (see the module docstring)."""
        labeled, unlabeled = context.labeled, context.unlabeled
        embeddings = pool_embeddings(context, np.concatenate([labeled, unlabeled]), self.name)
        positions, details = self.select_embeddings(embeddings, labeled.size, k, rng)
        scores = details.pop("typicality")
        return QueryResult(
            indices=unlabeled[positions], candidates=unlabeled.copy(), scores=scores, details=details
        )

    def select_embeddings(
        self, embeddings: np.ndarray, n_labeled: int, k: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """TypiClust on embeddings whose first ``n_labeled`` rows are the labeled slices.

        Returns:
            ``(positions, details)``: ``k`` picks among the candidate rows (``embeddings[n_labeled:]``,
            counted from 0) and per-candidate ``typicality``, ``cluster`` and ``cluster_size``.
        """
        n_clusters = min(n_labeled + k, self.max_clusters, embeddings.shape[0])
        clusters = kmeans(embeddings, n_clusters, rng, self.n_init, self.max_iter, self.chunk).labels
        typical = cluster_typicality(embeddings, clusters, self.neighbours, self.chunk)
        sizes = np.bincount(clusters, minlength=n_clusters)
        covered = np.bincount(clusters[:n_labeled], minlength=n_clusters)
        candidate_clusters = clusters[n_labeled:]
        candidate_typicality = typical[n_labeled:]
        positions = pick_typical(
            candidate_clusters, candidate_typicality, sizes, covered, k, self.min_cluster_size, rng
        )
        details = {
            "typicality": candidate_typicality,
            "cluster": candidate_clusters,
            "cluster_size": sizes[candidate_clusters],
        }
        return positions, details


def pick_typical(
    clusters: np.ndarray,
    typical: np.ndarray,
    sizes: np.ndarray,
    covered: np.ndarray,
    k: int,
    min_cluster_size: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Positions (into the candidates) of ``k`` picks, one cluster at a time.

    Args:
        clusters: The cluster of every candidate.
        typical: The typicality of every candidate.
        sizes: Slices per cluster (labeled and unlabeled).
        covered: Labeled slices per cluster; a copy is raised by one per pick.
        k: Picks wanted (at most the number of candidates).
        min_cluster_size: Smaller clusters only when no other has a candidate left.
        rng: Breaks exact ties between clusters and between candidates.

    Returns:
        ``k`` distinct positions, in the order picked.
    """
    covered = covered.astype(np.int64, copy=True)
    tie = rng.permutation(sizes.size)  # a random order among clusters equal in (covered, size)
    left = np.bincount(clusters, minlength=sizes.size)
    available = np.ones(clusters.size, dtype=bool)
    picks = np.empty(k, dtype=np.int64)
    for step in range(k):
        open_ = left > 0
        eligible = open_ & (sizes >= min_cluster_size)
        if not eligible.any():
            eligible = open_
        options = np.flatnonzero(eligible)
        order = np.lexsort((tie[options], -sizes[options], covered[options]))
        cluster = options[order[0]]
        members = np.flatnonzero(available & (clusters == cluster))
        position = members[argmax_tied(typical[members], rng)]
        picks[step] = position
        available[position] = False
        left[cluster] -= 1
        covered[cluster] += 1
    return picks
