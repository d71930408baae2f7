"""Image embeddings and chunked Euclidean distances for the diversity baselines (CoreSet, TypiClust).

The embedding of an image is :attr:`ModelOutput.features <alstrategies.types.ModelOutput.features>`:
the network's bottleneck averaged over its pixels (``B x 16c``), from one eval-mode pass.
Distances are computed block by block, ``rows x chunk`` at a time, so that no ``pool x pool``
matrix is ever held.
"""

from __future__ import annotations

import numpy as np
import torch

from alstrategies.errors import StrategyContractError
from alstrategies.ranking import eval_inference
from alstrategies.strategy import QueryContext

#: Columns of one block of a distance matrix (memory per block: rows x CHUNK float64).
CHUNK = 256


def pool_embeddings(context: QueryContext, indices: np.ndarray, strategy: str) -> np.ndarray:
    """The ``len(indices) x D`` float64 embeddings of pool images, one eval-mode inference pass.

    Args:
        context: The model and the pool (module modes are restored afterwards).
        indices: Pool indices, in the order wanted.
        strategy: The caller's name, for the error message.

    Returns:
        One row per index.

    Raises:
        StrategyContractError: The model's output has no ``features``.
    """
    rows: list[torch.Tensor] = []
    with eval_inference(context.model):
        for _, images in context.batches(np.asarray(indices, dtype=np.int64)):
            with context.autocast():
                output = context.model(images)
            if output.features is None:
                raise StrategyContractError(
                    f"{strategy} needs image embeddings, but the model returned ModelOutput.features "
                    "= None: use a built-in network (they fill it with the pooled bottleneck)"
                )
            rows.append(output.features.float().reshape(images.shape[0], -1).cpu())
    return torch.cat(rows).numpy().astype(np.float64)


def squared_distances(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``len(rows) x len(columns)`` squared Euclidean distances, ``|a|^2 + |b|^2 - 2 a.b``, clipped at 0."""
    gram = rows @ columns.T
    out = np.einsum("ij,ij->i", rows, rows)[:, None] + np.einsum("ij,ij->i", columns, columns)[None, :]
    out -= 2.0 * gram
    return np.maximum(out, 0.0, out=out)


def min_squared_distances(points: np.ndarray, centres: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
    """For each point, the squared distance to its nearest centre (``inf`` without centres).

    Args:
        points: ``N x D``.
        centres: ``M x D``; processed ``chunk`` at a time (memory ``N x chunk``).
        chunk: Centres per block.

    Returns:
        ``N`` float64 values.
    """
    best = np.full(points.shape[0], np.inf)
    for start in range(0, centres.shape[0], chunk):
        np.minimum(best, squared_distances(points, centres[start : start + chunk]).min(axis=1), out=best)
    return best


def argmax_tied(values: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the largest value; exact ties are broken uniformly with ``rng`` (DESIGN section 2)."""
    best = np.flatnonzero(values == values.max())
    return int(best[0]) if best.size == 1 else int(rng.choice(best))
