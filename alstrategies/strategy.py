"""The query-strategy contract (DESIGN section 2).

A strategy receives the trained model and the pool and returns the pool indices to annotate.
Uncertainty strategies subclass :class:`ScoreStrategy` and implement only
:meth:`ScoreStrategy.compute_score`; the base class streams the unlabeled pool through the
model batch by batch, reduces pixel maps to one score per image and takes the top k.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from alstrategies.types import ModelOutput

Reduction = str | Callable[[torch.Tensor], torch.Tensor]
REDUCTIONS = ("mean", "sum", "max")


class EmptyPoolError(ValueError):
    """Raised when a query is asked of a pool with no unlabeled image left."""


@dataclass
class QueryContext:
    """Everything a strategy may look at when it queries.

    ``pool_images`` holds the whole pool (N x C x H x W, on any device); ``labeled`` and
    ``unlabeled`` are disjoint index arrays into it. ``batch_size`` is the inference batch.
    """

    model: nn.Module
    pool_images: torch.Tensor
    labeled: np.ndarray
    unlabeled: np.ndarray
    num_classes: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    batch_size: int = 64
    amp: bool = False

    def autocast(self) -> Any:
        """bf16 autocast on CUDA when enabled, a no-op elsewhere."""
        if self.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def batches(self, indices: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Yield ``(pool indices, images on the model's device)`` over ``indices``."""
        indices = self.unlabeled if indices is None else indices
        for start in range(0, len(indices), self.batch_size):
            chunk = indices[start : start + self.batch_size]
            images = self.pool_images[torch.as_tensor(chunk, device=self.pool_images.device)]
            yield chunk, images.to(self.device, non_blocking=True).float()


@dataclass
class QueryResult:
    """Selected pool indices, plus optional per-candidate scores aligned with ``candidates``."""

    indices: np.ndarray
    candidates: np.ndarray | None = None
    scores: np.ndarray | None = None
    details: dict[str, np.ndarray] = field(default_factory=dict)


class QueryStrategy(ABC):
    """Base class of every query strategy.

    Subclasses implement :meth:`select`; callers use :meth:`query`, which validates the
    request, caps ``k`` at the pool size and checks the answer.
    """

    name: ClassVar[str] = ""

    def query(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        """Return ``min(k, pool)`` distinct unlabeled indices chosen by this strategy."""
        unlabeled = np.asarray(context.unlabeled, dtype=np.int64)
        if unlabeled.size == 0:
            raise EmptyPoolError(
                f"strategy {self.name or type(self).__name__!r} was asked to query, but the "
                "unlabeled pool is empty: lower protocol.final_fraction or the number of rounds"
            )
        if k < 1:
            raise ValueError(f"query size k must be at least 1, got {k}")
        context.unlabeled = unlabeled
        context.labeled = np.asarray(context.labeled, dtype=np.int64)
        k = min(int(k), unlabeled.size)
        result = self.select(context, k, rng)
        result.indices = np.asarray(result.indices, dtype=np.int64)
        self._check(result, unlabeled, k)
        return result

    @abstractmethod
    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        """Choose exactly ``k`` (already capped) indices from ``context.unlabeled``."""

    def _check(self, result: QueryResult, unlabeled: np.ndarray, k: int) -> None:
        chosen = result.indices
        problems = []
        if chosen.shape != (k,):
            problems.append(f"returned {chosen.size} indices instead of {k}")
        if np.unique(chosen).size != chosen.size:
            problems.append("returned duplicate indices")
        if not np.isin(chosen, unlabeled).all():
            problems.append("returned indices outside the unlabeled pool")
        if problems:
            raise RuntimeError(f"strategy {self.name!r} broke the query contract: {'; '.join(problems)}")


def reduce_pixels(scores: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    """Reduce a ``B x ...`` pixel map to ``B`` image scores."""
    if scores.ndim == 1:
        return scores
    if callable(reduction):
        return reduction(scores)
    flat = scores.flatten(1)
    if reduction == "mean":
        return flat.mean(dim=1)
    if reduction == "sum":
        return flat.sum(dim=1)
    if reduction == "max":
        return flat.amax(dim=1)
    raise ValueError(f"unknown reduction {reduction!r}; use one of {REDUCTIONS} or a callable")


def top_k(candidates: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` candidates with the highest scores; ties go to the earlier candidate."""
    order = np.argsort(-scores, kind="stable")
    return candidates[order[:k]]


class ScoreStrategy(QueryStrategy):
    """A strategy that scores each unlabeled image from one forward pass (higher = query first).

    Subclasses implement :meth:`compute_score`, returning either a ``B`` or ``B x ...`` tensor
    (reduced with ``reduction``) or a mapping with a ``"score"`` entry plus extra per-image
    details (reported, not ranked on).
    """

    def __init__(self, reduction: Reduction = "mean") -> None:
        if not callable(reduction) and reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; use one of {REDUCTIONS} or a callable")
        self.reduction = reduction

    @abstractmethod
    def compute_score(self, output: ModelOutput) -> torch.Tensor | Mapping[str, torch.Tensor]:
        """Scores of one batch of model outputs."""

    def forward(self, context: QueryContext, images: torch.Tensor) -> ModelOutput:
        """One inference pass; override to change how the model is run."""
        with context.autocast():
            output = context.model(images)
        return ModelOutput(
            logits=output.logits.float(),
            coarse_logits=output.coarse_logits.float(),
            distance=None if output.distance is None else output.distance.float(),
            features=output.features,
        )

    def score_pool(self, context: QueryContext) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Scores (and details) of every unlabeled image, in ``context.unlabeled`` order."""
        model = context.model
        modes = {module: module.training for module in model.modules()}
        model.eval()
        scores: list[torch.Tensor] = []
        details: dict[str, list[torch.Tensor]] = {}
        try:
            with torch.inference_mode():
                for _, images in context.batches():
                    result = self.compute_score(self.forward(context, images))
                    if isinstance(result, Mapping):
                        for key, value in result.items():
                            if key != "score":
                                details.setdefault(key, []).append(value.float().cpu())
                        result = result["score"]
                    scores.append(reduce_pixels(result.float(), self.reduction).cpu())
        finally:
            for module, mode in modes.items():
                module.training = mode
        return (
            torch.cat(scores).numpy().astype(np.float64),
            {key: torch.cat(values).numpy() for key, values in details.items()},
        )

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        scores, details = self.score_pool(context)
        return QueryResult(
            indices=top_k(context.unlabeled, scores, k),
            candidates=context.unlabeled.copy(),
            scores=scores,
            details=details,
        )
