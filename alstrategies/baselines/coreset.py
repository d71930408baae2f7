"""CoreSet (Sener & Savarese, ICLR 2018): greedy k-center on the model's image embeddings.

The pool's embeddings are ``ModelOutput.features``, the globally average-pooled bottleneck of
the round's network (``16c`` values per slice), from one eval-mode pass over labeled and
unlabeled slices. Greedy k-center (the paper's Algorithm 1, the 2-approximation of the
minimax facility location problem it solves) starts from each unlabeled slice's Euclidean
distance to its nearest labeled slice, then ``k`` times takes the unlabeled slice farthest from
every centre so far and lowers the other distances with the new centre:

    u = argmax_{i unlabeled} min_{j in labeled + chosen} ||x_i - x_j||_2.

Choices for 2D segmentation (docs/baselines.md, "CoreSet"): one embedding per slice (not per
pixel or patch); the paper's optional robust (outlier-budget MIP) refinement is left out, as in
most segmentation benchmarks; exact ties (duplicate slices, an empty labeled set) are broken
with the strategy's generator (DESIGN section 2); with no labeled slice the first centre is
drawn uniformly with it. The distance matrix is never built: distances are computed
``pool x chunk`` at a time (:mod:`baselines.embedding`), so memory is ``O(pool x chunk)``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from alstrategies.baselines.embedding import CHUNK, argmax_tied, min_squared_distances, pool_embeddings
from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy


def k_center_greedy(
    points: np.ndarray, min_squared: np.ndarray, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-center over ``points`` given each point's squared distance to the existing centres.

    Args:
        points: ``N x D`` candidate embeddings (float64).
        min_squared: ``N`` squared distances of each candidate to its nearest existing centre
            (``inf`` where there is none); not modified.
        k: How many centres to add (at most ``N``).
        rng: Breaks exact ties between the farthest candidates.

    Returns:
        ``(positions, distances)``: the ``k`` chosen rows in the order chosen, and each one's
        Euclidean distance to the nearest centre at the moment it was chosen.
    """
    distance = min_squared.astype(np.float64, copy=True)
    norms = np.einsum("ij,ij->i", points, points)
    chosen = np.empty(k, dtype=np.int64)
    gains = np.empty(k)
    for step in range(k):
        position = argmax_tied(distance, rng)
        chosen[step], gains[step] = position, distance[position]
        to_new = norms + norms[position] - 2.0 * (points @ points[position])
        np.minimum(distance, np.maximum(to_new, 0.0), out=distance)
        distance[chosen[: step + 1]] = -np.inf  # never again (rounding may leave ~1e-13 > 0)
    return chosen, np.sqrt(gains)


class CoreSetStrategy(QueryStrategy):
    """Greedy k-center on the pooled bottleneck features of labeled and unlabeled slices.

    Scores (saved every round, not ranked on): each candidate's Euclidean distance to the nearest
    labeled slice before the query (to the first, randomly drawn centre when none is labeled).
    Details: ``pick_distance``, the distance at which each chosen slice was picked (0 for the
    others).

    Args:
        chunk: Centres per block of the distance computation (memory ``pool x chunk``).
    """

    name = "coreset"
    family = "diversity"
    source: ClassVar[str] = (
        "Sener & Savarese, Active Learning for Convolutional Neural Networks: A Core-Set Approach, "
        "ICLR 2018 (greedy k-center, Algorithm 1)"
    )
    forward_passes: ClassVar[str] = "1"

    def __init__(self, chunk: int = CHUNK) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, got {chunk}")
        self.chunk = int(chunk)

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        """One inference pass for the embeddings, then greedy k-center (see the module docstring)."""
        labeled, unlabeled = context.labeled, context.unlabeled
        embeddings = pool_embeddings(context, np.concatenate([labeled, unlabeled]), self.name)
        positions, scores, pick = coreset_selection(
            embeddings[: labeled.size], embeddings[labeled.size :], k, rng, self.chunk
        )
        return QueryResult(
            indices=unlabeled[positions],
            candidates=unlabeled.copy(),
            scores=scores,
            details={"pick_distance": pick},
        )


def coreset_selection(
    centres: np.ndarray, points: np.ndarray, k: int, rng: np.random.Generator, chunk: int = CHUNK
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CoreSet on embeddings: ``k`` greedy k-center picks among ``points`` given the labeled ``centres``.

    Args:
        centres: ``L x D`` embeddings of the labeled slices (``L`` may be 0).
        points: ``U x D`` embeddings of the candidates.
        k: Picks wanted (at most ``U``).
        rng: Draws the first centre when ``L = 0`` and breaks exact ties.
        chunk: Centres per block of the distance computation.

    Returns:
        ``(positions, scores, pick_distance)``: the picks (rows of ``points``) in the order chosen;
        each candidate's distance to the nearest labeled slice (to the first centre when ``L = 0``);
        each candidate's distance when it was picked (0 for the others).
    """
    if centres.shape[0]:
        min_squared = min_squared_distances(points, centres, chunk)
    else:  # no centre yet: the first is drawn uniformly, then the greedy rule takes over
        first = int(rng.integers(points.shape[0]))
        min_squared = min_squared_distances(points, points[first : first + 1], chunk)
        min_squared[first] = np.inf
    positions, gains = k_center_greedy(points, min_squared, k, rng)
    scores = np.sqrt(np.where(np.isfinite(min_squared), min_squared, 0.0))
    pick = np.zeros(points.shape[0])
    pick[positions] = np.where(np.isfinite(gains), gains, 0.0)
    return positions, scores, pick
