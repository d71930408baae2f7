"""The query-strategy contract (DESIGN section 2).

A strategy receives the trained model and the pool and returns the pool indices to annotate.
Three bases, from the most general to the most specific:

- :class:`QueryStrategy`: implement :meth:`QueryStrategy.select` (Random, anything that does not
  rank by a score).
- :class:`RankingStrategy`: implement :meth:`RankingStrategy.score`, one score per unlabeled image
  (higher = query first); the base takes the top k and fills the :class:`QueryResult` (Mean STD,
  VAAL).
- :class:`ScoreStrategy`: implement :meth:`ScoreStrategy.compute_score` for one batch of model
  outputs; the base streams the unlabeled pool through the model batch by batch and reduces pixel
  maps to one score per image (the uncertainty baselines, SBC-AL).
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

from alstrategies.errors import EmptyPoolError, StrategyContractError
from alstrategies.types import ModelOutput

__all__ = [
    "REDUCTIONS",
    "EmptyPoolError",
    "QueryContext",
    "QueryResult",
    "QueryStrategy",
    "RankingStrategy",
    "Reduction",
    "ScoreStrategy",
    "StrategyContractError",
    "reduce_pixels",
    "top_k",
]

Reduction = str | Callable[[torch.Tensor], torch.Tensor]
REDUCTIONS = ("mean", "sum", "max")


@dataclass
class QueryContext:
    """Everything a strategy may look at when it queries.

    Attributes:
        model: The round's trained segmentation network; calling it returns a
            :class:`~alstrategies.types.ModelOutput`. Leave its weights and module modes as found.
        pool_images: The whole pool, ``N x C x H x W``, on any device.
        labeled: Indices into ``pool_images`` of the images already annotated.
        unlabeled: Indices into ``pool_images`` of the candidates (disjoint from ``labeled``);
            :meth:`QueryStrategy.query` makes both ``int64`` arrays.
        num_classes: Number of classes, background included.
        device: The model's device; :meth:`batches` moves the images there.
        batch_size: The inference batch size.
        amp: Whether inference may run in bf16 autocast on CUDA (:meth:`autocast`).
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
        """The context to run the model in: bf16 autocast on CUDA when :attr:`amp`, else a no-op.

        Returns:
            A context manager.
        """
        if self.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def batches(self, indices: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Iterate over pool images in batches of :attr:`batch_size`, in the order given.

        Args:
            indices: Pool indices to load; :attr:`unlabeled` when ``None``.

        Yields:
            ``(pool indices, float32 images on the model's device)`` per batch.
        """
        indices = self.unlabeled if indices is None else indices
        for start in range(0, len(indices), self.batch_size):
            chunk = indices[start : start + self.batch_size]
            images = self.pool_images[torch.as_tensor(chunk, device=self.pool_images.device)]
            yield chunk, images.to(self.device, non_blocking=True).float()


@dataclass
class QueryResult:
    """The answer of a query: the chosen indices, and optionally what they were chosen from.

    Attributes:
        indices: The ``k`` distinct pool indices to annotate, all from ``context.unlabeled``.
        candidates: The pool indices that were scored (normally a copy of ``context.unlabeled``).
        scores: One finite score per candidate, aligned with ``candidates`` (higher = queried
            first); saved every round.
        details: Further per-candidate arrays (e.g. SBC-AL's ``scs`` and ``bcs``), aligned with
            ``candidates``; saved beside the scores, never ranked on.
    """

    indices: np.ndarray
    candidates: np.ndarray | None = None
    scores: np.ndarray | None = None
    details: dict[str, np.ndarray] = field(default_factory=dict)


class QueryStrategy(ABC):
    """Base class of every query strategy.

    Subclasses implement :meth:`select`; callers use :meth:`query`, which validates the
    request, caps ``k`` at the pool size and checks the answer. Keyword options of ``__init__``
    are set from the config's ``[strategies.<name>]`` table.

    Attributes:
        name: The registry name (the entry-point name; used in configs and result files).
        required_heads: The model heads the strategy needs (``"sbc"``: SBCNet's coarse, refined
            and distance outputs), or ``None`` when any network does.
    """

    name: ClassVar[str] = ""
    required_heads: ClassVar[str | None] = None

    def query(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        """Choose ``min(k, pool)`` distinct unlabeled indices with this strategy.

        Args:
            context: The model and the pool; its ``labeled`` and ``unlabeled`` become ``int64``.
            k: The number of images wanted, at least 1 (capped at the unlabeled pool's size).
            rng: The strategy's generator (the harness derives it from seed, round and name).

        Returns:
            The :class:`QueryResult` of :meth:`select`, with ``int64`` indices.

        Raises:
            EmptyPoolError: The unlabeled pool is empty.
            ValueError: ``k`` is below 1.
            StrategyContractError: :meth:`select` returned the wrong number of indices, duplicates
                or indices outside the unlabeled pool.
        """
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
        """Choose exactly ``k`` indices from ``context.unlabeled``.

        Args:
            context: The model and the pool (``unlabeled`` is a non-empty ``int64`` array).
            k: The number of indices to return, already capped at the pool size.
            rng: The only source of randomness (seed torch from it, e.g. with
                :func:`alstrategies.seeding.torch_seed`, inside ``torch.random.fork_rng``).

        Returns:
            A :class:`QueryResult` with ``k`` distinct indices from ``context.unlabeled``.
        """

    def snapshot_extras(self, pool_images: torch.Tensor, result: QueryResult) -> dict[str, np.ndarray]:
        """Arrays of this query to keep in the round's snapshot for the report's figures.

        Args:
            pool_images: The whole pool (N x C x H x W), as the query saw it.
            result: What :meth:`query` returned this round.

        Returns:
            Snapshot arrays by key (see :data:`alstrategies.report.snapshots.SNAPSHOT_KEYS`);
            none by default.
        """
        return {}

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
            raise StrategyContractError(
                f"strategy {self.name!r} broke the query contract: {'; '.join(problems)}"
            )


def reduce_pixels(scores: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    """Reduce a ``B x ...`` pixel map to ``B`` image scores.

    Args:
        scores: ``B`` image scores (returned as they are) or a ``B x ...`` map.
        reduction: ``"mean"``, ``"sum"``, ``"max"`` over all non-batch dimensions, or a callable
            mapping the map to ``B`` scores.

    Returns:
        A ``B`` tensor.
    """
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
    """The ``k`` candidates with the highest scores; ties go to the earlier candidate.

    Args:
        candidates: Pool indices.
        scores: One score per candidate.
        k: How many to keep.

    Returns:
        The chosen candidates, highest score first.
    """
    order = np.argsort(-scores, kind="stable")
    return candidates[order[:k]]


class RankingStrategy(QueryStrategy):
    """A strategy that scores every unlabeled image and queries the ``k`` highest scores.

    Subclasses implement :meth:`score`; :meth:`select` takes the top k (:func:`top_k`) and
    returns the scores (and details) with ``candidates = context.unlabeled``.
    """

    @abstractmethod
    def score(
        self, context: QueryContext, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Score every unlabeled image (higher = query first).

        Args:
            context: The model and the pool.
            rng: The strategy's generator, for strategies whose scores are random (MC dropout,
                VAAL's training); a deterministic score ignores it.

        Returns:
            ``(scores, details)``: ``scores`` is one finite value per image of
            ``context.unlabeled``, in that order; ``details`` maps names to further per-image
            arrays in the same order (saved, not ranked on; may be empty).
        """

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        """The ``k`` images with the highest :meth:`score` (see :meth:`QueryStrategy.select`)."""
        scores, details = self.score(context, rng)
        scores = np.asarray(scores)
        if scores.shape != context.unlabeled.shape:
            raise StrategyContractError(
                f"strategy {self.name!r} returned scores of shape {scores.shape} for "
                f"{context.unlabeled.size} unlabeled images: one score per image of context.unlabeled"
            )
        return QueryResult(
            indices=top_k(context.unlabeled, scores, k),
            candidates=context.unlabeled.copy(),
            scores=scores,
            details=details,
        )


class ScoreStrategy(RankingStrategy):
    """A strategy that scores each unlabeled image from one forward pass (higher = query first).

    Subclasses implement :meth:`compute_score`; :meth:`score` streams the unlabeled pool through
    the model in eval mode under ``torch.inference_mode()``, batch by batch (module modes are
    restored afterwards), and reduces pixel maps with ``reduction``.

    Args:
        reduction: ``"mean"`` (default), ``"sum"``, ``"max"`` or a callable mapping a ``B x ...``
            pixel map to ``B`` image scores.
    """

    def __init__(self, reduction: Reduction = "mean") -> None:
        if not callable(reduction) and reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; use one of {REDUCTIONS} or a callable")
        self.reduction = reduction

    @abstractmethod
    def compute_score(self, output: ModelOutput) -> torch.Tensor | Mapping[str, torch.Tensor]:
        """Score one batch of model outputs.

        Args:
            output: The model's output for a batch of ``B`` unlabeled images (float32).

        Returns:
            A ``B`` tensor or a ``B x ...`` pixel map (reduced with ``reduction``), or a mapping
            with a ``"score"`` entry of either kind plus further per-image tensors (reported as
            ``QueryResult.details``, not ranked on). Each image's score must not depend on the
            other images of its batch.
        """

    def forward(self, context: QueryContext, images: torch.Tensor) -> ModelOutput:
        """One inference pass of a batch; override to change how the model is run.

        Args:
            context: The query's context (its ``model`` and ``autocast``).
            images: A batch of images on the model's device.

        Returns:
            The model's output with float32 tensors.
        """
        with context.autocast():
            output = context.model(images)
        return ModelOutput(
            logits=output.logits.float(),
            coarse_logits=output.coarse_logits.float(),
            distance=None if output.distance is None else output.distance.float(),
            features=output.features,
        )

    def score(
        self, context: QueryContext, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Scores (and details) of every unlabeled image, in ``context.unlabeled`` order.

        Args:
            context: The model and the pool.
            rng: Unused: one eval-mode pass is deterministic.

        Returns:
            ``(float64 scores, details)``, see :meth:`RankingStrategy.score`.
        """
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

    def score_pool(self, context: QueryContext) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """:meth:`score` without a generator (kept for existing callers)."""
        return self.score(context)
