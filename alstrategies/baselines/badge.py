"""BADGE: diverse, uncertain gradient embeddings (Ash et al., ICLR 2020), for 2D segmentation.

Source: J. T. Ash, C. Zhang, A. Krishnamurthy, J. Langford, A. Agarwal, "Deep Batch Active
Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020 (arXiv:1906.03671), and the
authors' code (github.com/JordanAsh/badge, ``query_strategies/badge_sampling.py``).

Embedding. Each unlabeled image is represented by the gradient, with respect to the weights
``W`` (``C x D``) of the network's final 1x1 classification head, of the loss under its own hard
pseudo-labels ``y_hat = argmax_c p``: the pixel mean of the cross-entropy
``L = mean_pixels CE(W h + b, y_hat)``. Per pixel the gradient is the outer product
``(p - onehot(y_hat)) h^T``, so for an image, with ``P`` and ``Y`` its ``HW x C`` softmax and
one-hot pseudo-labels and ``H`` its ``HW x D`` head features,

    g = (P - Y)^T H / (H W)        (a C x D matrix, flattened class-major)

one batched matmul (``einsum("bchw,bdhw->bcd")``): the per-pixel gradients (``HW x C x D``
per image) are never materialised. With ``bias=True`` the bias gradient, the pixel mean of
``P - Y`` (``C`` values), is appended. The default leaves it out, as the reference does (its
embedding is the last linear layer's weight gradient only). Every image has the same number of
pixels, so the mean and the sum give the same selection: D^2 sampling and the largest-norm
first centre are invariant to a common scale.

Selection. k-means++ seeding (Arthur and Vassilvitskii, SODA 2007) on the embeddings: the
first centre is the embedding with the largest norm (the reference code's
``init_centers``; the paper's Algorithm 1 only says "k-MEANS++ seeding"), every next one is
drawn with probability proportional to its squared distance to the nearest centre chosen so
far (D^2 sampling, as the reference's ``Ddist = D2**2 / sum(D2**2)`` on Euclidean distances),
among the images not yet chosen. Draws come from the strategy's numpy generator, one
``rng.random()`` per centre: exact ties of the largest norm are broken by it, and when every
remaining squared distance is zero (duplicates of the centres) the next centre is uniform among
the images not yet chosen.

The saved scores are the embedding norms (the uncertainty half of BADGE, for plots); the
selection is not a top k of them.
"""

from __future__ import annotations

import numpy as np
import torch

from alstrategies.errors import StrategyContractError
from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy, eval_inference
from alstrategies.types import ModelOutput

__all__ = ["BADGEStrategy", "gradient_embeddings", "kmeans_pp_seeding"]


def gradient_embeddings(
    logits: torch.Tensor, head_features: torch.Tensor, bias: bool = False
) -> torch.Tensor:
    """Per-image gradients of the pseudo-label cross-entropy w.r.t. a 1x1 head, factorised.

    Args:
        logits: ``B x C x H x W`` class scores, ``logits == head(head_features)``.
        head_features: ``B x D x H x W`` features entering the 1x1 head.
        bias: Append the bias gradient (the pixel mean of ``p - onehot(y_hat)``).

    Returns:
        ``B x (C * D)`` (or ``B x (C * D + C)`` with ``bias``) gradients of
        ``mean_pixels CE(head(h), argmax logits)``, in the dtype of ``logits``: row ``i`` is
        ``torch.cat([head.weight.grad.flatten(), head.bias.grad])`` for image ``i`` alone.
    """
    if logits.ndim != 4 or head_features.ndim != 4:
        raise ValueError(
            f"expected B x C x H x W logits and B x D x H x W head features, got shapes "
            f"{tuple(logits.shape)} and {tuple(head_features.shape)}"
        )
    if logits.shape[0] != head_features.shape[0] or logits.shape[2:] != head_features.shape[2:]:
        raise ValueError(
            f"logits {tuple(logits.shape)} and head features {tuple(head_features.shape)} differ in "
            "batch or spatial size"
        )
    residual = logits.softmax(dim=1)  # P, a fresh tensor: P - Y is formed in place
    pseudo = logits.argmax(dim=1, keepdim=True)
    residual.scatter_add_(1, pseudo, torch.full_like(pseudo, -1, dtype=residual.dtype))
    pixels = logits.shape[2] * logits.shape[3]
    weight = torch.einsum("bchw,bdhw->bcd", residual, head_features.to(residual.dtype)) / pixels
    embedding = weight.flatten(1)
    if bias:
        embedding = torch.cat([embedding, residual.flatten(2).mean(dim=2)], dim=1)
    return embedding


def kmeans_pp_seeding(embeddings: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding with the largest-norm first centre (BADGE's ``init_centers``).

    Args:
        embeddings: ``N x E`` points (computed in float64).
        k: The number of centres, ``1 <= k <= N``.
        rng: The generator; exactly one ``rng.random()`` is drawn per centre.

    Returns:
        ``k`` distinct row indices, in the order the centres were chosen.
    """
    points = np.asarray(embeddings, dtype=np.float64)
    if points.ndim != 2:
        raise ValueError(f"expected N x E embeddings, got shape {points.shape}")
    n = points.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of points {n}, got {k}")
    squared_norms = np.einsum("ij,ij->i", points, points)
    tied = np.flatnonzero(squared_norms == squared_norms.max())
    first = int(tied[int(rng.random() * tied.size)])
    chosen = [first]
    taken = np.zeros(n, dtype=bool)
    taken[first] = True
    nearest = _squared_distances(points, first)
    for _ in range(1, k):
        weights = np.where(taken, 0.0, nearest)
        cumulative = np.cumsum(weights)
        draw = rng.random()
        if cumulative[-1] > 0:
            index = int(np.searchsorted(cumulative, draw * cumulative[-1], side="right"))
            if index >= n:  # draw * total rounded up to total
                index = int(np.flatnonzero(weights > 0)[-1])
        else:  # every image left duplicates a centre: uniform among them
            free = np.flatnonzero(~taken)
            index = int(free[int(draw * free.size)])
        chosen.append(index)
        taken[index] = True
        np.minimum(nearest, _squared_distances(points, index), out=nearest)
    return np.asarray(chosen, dtype=np.int64)


def _squared_distances(points: np.ndarray, centre: int) -> np.ndarray:
    """Squared Euclidean distance of every row of ``points`` to row ``centre`` (no cancellation)."""
    difference = points - points[centre]
    return np.einsum("ij,ij->i", difference, difference)


class BADGEStrategy(QueryStrategy):
    """BADGE: k-means++ seeding on the pseudo-label gradient embeddings of the final 1x1 head.

    Needs ``ModelOutput.head_features`` (the per-pixel features entering the head whose output
    is ``logits``). One eval-mode pass under ``torch.inference_mode()`` over the unlabeled pool,
    batch by batch; only the ``pool x (C * D)`` float32 embeddings are kept.

    Args:
        bias: Append the head's bias gradient to the embedding (default ``False``, as the
            reference code).
    """

    name = "badge"
    family = "hybrid"
    source = "Ash et al., ICLR 2020"
    forward_passes = "1"

    def __init__(self, bias: bool = False) -> None:
        if not isinstance(bias, bool):
            raise TypeError(f"badge's bias option must be true or false, got {bias!r}")
        self.bias = bias

    def embed_pool(self, context: QueryContext) -> np.ndarray:
        """The gradient embeddings of ``context.unlabeled``, in that order.

        Args:
            context: The model and the pool.

        Returns:
            ``len(unlabeled) x (C * D)`` float32 (``C * D + C`` with ``bias``).
        """
        chunks: list[np.ndarray] = []
        with eval_inference(context.model):
            for _, images in context.batches():
                with context.autocast():
                    output = context.model(images)
                features = _head_features(output, self.name)
                embedding = gradient_embeddings(output.logits.float(), features.float(), self.bias)
                chunks.append(embedding.cpu().numpy())
        return np.concatenate(chunks, axis=0)

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        """k-means++ seeding on :meth:`embed_pool`; scores are the embedding norms.

        Args:
            context: The model and the pool.
            k: The number of images, already capped at the pool size.
            rng: The generator of the seeding draws.

        Returns:
            The chosen images in seeding order, every candidate's embedding norm as its score
            and ``details["seeding_order"]`` (the rank at which a candidate was chosen, -1 if not).
        """
        embeddings = self.embed_pool(context)
        order = kmeans_pp_seeding(embeddings, k, rng)
        rank = np.full(embeddings.shape[0], -1, dtype=np.int64)
        rank[order] = np.arange(order.size)
        return QueryResult(
            indices=context.unlabeled[order],
            candidates=context.unlabeled.copy(),
            scores=np.linalg.norm(embeddings.astype(np.float64), axis=1),
            details={"seeding_order": rank},
        )


def _head_features(output: ModelOutput, name: str) -> torch.Tensor:
    """``output.head_features``, or a clear error for a network that does not provide them."""
    features = getattr(output, "head_features", None)
    if features is None:
        raise StrategyContractError(
            f"strategy {name!r} needs ModelOutput.head_features (the B x D x H x W features "
            "entering the final 1x1 head), but the model returned none"
        )
    return features
