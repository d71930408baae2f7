"""The query-strategy contract (DESIGN section 2).

A strategy receives the trained model and the pool and returns the pool indices to annotate.
Three bases, from the most general to the most specific:

- :class:`QueryStrategy`: implement :meth:`QueryStrategy.select` (Random, anything that does not
  rank by a score).
- :class:`RankingStrategy`: implement :meth:`RankingStrategy.score`, one score per unlabeled image
  (higher = query first); the base takes the top k, breaking exact ties with the strategy's
  generator (:func:`top_k`), or draws k by power, softmax or soft-rank sampling (its
  :class:`~alstrategies.sampling.Sampler`, from the options ``sampling`` and ``sampling_beta``),
  and fills the :class:`QueryResult` (Mean STD, BALD, VAAL, the oracle).
- :class:`ScoreStrategy`: implement :meth:`ScoreStrategy.compute_score` for one batch of model
  outputs; the base streams the unlabeled pool through the model batch by batch and reduces pixel
  maps to one score per image (the uncertainty baselines, SBC-AL).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import torch

from alstrategies.errors import ConfigError, EmptyPoolError, StrategyContractError
from alstrategies.query import QueryContext, QueryResult
from alstrategies.ranking import REDUCTIONS, Reduction, eval_inference, reduce_pixels, top_k
from alstrategies.sampling import (
    DEFAULT_BETA,
    DEFAULT_SAMPLING,
    SAMPLINGS,
    Sampler,
    SamplingRule,
    sample_k,
)
from alstrategies.types import ModelOutput

__all__ = [
    "DEFAULT_BETA",
    "DEFAULT_SAMPLING",
    "FAMILIES",
    "REDUCTIONS",
    "EmptyPoolError",
    "QueryContext",
    "QueryResult",
    "QueryStrategy",
    "RankingStrategy",
    "Reduction",
    "SAMPLINGS",
    "Sampler",
    "SamplingRule",
    "ScoreStrategy",
    "StrategyContractError",
    "eval_inference",
    "is_control",
    "reduce_pixels",
    "sample_k",
    "top_k",
]

#: The values of :attr:`QueryStrategy.family`; ``"control"`` strategies (the oracle, ``confident``)
#: are left out of "every strategy" unless ``strategies.controls = true``.
FAMILIES = ("uncertainty", "diversity", "hybrid", "random", "control")


class QueryStrategy(ABC):
    """Base class of every query strategy.

    Subclasses implement :meth:`select`; callers use :meth:`query`, which validates the
    request, caps ``k`` at the pool size and checks the answer. Keyword options of ``__init__``
    are set from the config's ``[strategies.<name>]`` table.

    Attributes:
        name: The registry name (the entry-point name; used in configs and result files).
        required_heads: The model heads the strategy needs (``"sbc"``: SBCNet's coarse, refined
            and distance outputs), or ``None`` when any network does.
        family: What kind of strategy it is, one of :data:`FAMILIES` (``"uncertainty"`` unless
            a subclass says otherwise); ``"control"`` marks the controls of DESIGN section 5.
        source: Where the strategy comes from, for ``alstrategies list`` (e.g.
            ``"Gal et al., ICML 2017"``); empty when not given.
        forward_passes: Segmentation-model forward passes per unlabeled image, as text for
            ``alstrategies list``: ``"1"`` (default), ``"T (10)"``, ``"0"``...
    """

    name: ClassVar[str] = ""
    required_heads: ClassVar[str | None] = None
    family: ClassVar[str] = "uncertainty"
    source: ClassVar[str] = ""
    forward_passes: ClassVar[str] = "1"

    @classmethod
    def is_control(cls) -> bool:
        """Whether this is a control (``family == "control"``), outside "every strategy"."""
        return cls.family == "control"

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


def is_control(factory: object) -> bool:
    """Whether a registered factory is a control (its ``family`` is ``"control"``).

    Args:
        factory: A strategy class or instance, or any other registered factory.

    Returns:
        ``True`` for the controls, ``False`` for everything else (a factory without ``family``).
    """
    return getattr(factory, "family", None) == "control"


class RankingStrategy(QueryStrategy):
    """A strategy that scores every unlabeled image and queries the ``k`` highest scores.

    Subclasses implement :meth:`score`; :meth:`select` takes the top k (:func:`top_k`, exact
    ties broken with the generator), or draws k with probabilities from the scores, as
    :attr:`sampler` says, and returns the scores (and details) with
    ``candidates = context.unlabeled``.

    The keyword options ``sampling`` and ``sampling_beta`` (the config's ``query.sampling`` and
    ``query.beta``) build :attr:`sampler`. A subclass without an ``__init__`` of its own takes
    them from this one; a subclass with one declares them in its signature and passes them on
    (as :class:`ScoreStrategy` does), or leaves them out and keeps the top k (then
    ``query.sampling`` does not apply to it). A named variant sets :attr:`fixed_sampling` and
    passes that rule instead of taking ``sampling`` (``alstrategies.baselines.power``).

    Args:
        sampling: One of :data:`SAMPLINGS` (:data:`DEFAULT_SAMPLING`, the top k, by default).
        sampling_beta: The exponent (power, softrank) or inverse temperature (softmax), >= 0.

    Raises:
        ConfigError: An unknown ``sampling``, a negative or non-finite ``sampling_beta``, or a
            ``sampling`` other than :attr:`fixed_sampling` when that is set.
    """

    #: A named variant's sampling rule (e.g. ``"power"`` for ``power_bald``), or ``None``.
    fixed_sampling: ClassVar[SamplingRule | None] = None
    #: How the scores become k indices: the top k unless ``__init__`` was given other options.
    sampler: Sampler = Sampler()

    def __init__(
        self, *, sampling: SamplingRule = DEFAULT_SAMPLING, sampling_beta: float = DEFAULT_BETA
    ) -> None:
        fixed = self.fixed_sampling
        if fixed is not None and sampling != fixed:
            raise ConfigError(
                f"strategy {self.name or type(self).__name__!r} always samples with {fixed!r}, not "
                f"{sampling!r}; use its base strategy to choose query.sampling"
            )
        self.sampler = Sampler(sampling, sampling_beta)

    @property
    def sampling(self) -> SamplingRule:
        """The rule of :attr:`sampler` (one of :data:`SAMPLINGS`)."""
        return self.sampler.rule

    @property
    def sampling_beta(self) -> float:
        """The ``beta`` of :attr:`sampler`."""
        return self.sampler.beta

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
        """``k`` images by :meth:`score`: the highest, ties broken with ``rng`` (:func:`top_k`), or
        drawn by :attr:`sampler` with ``rng`` (:func:`~alstrategies.sampling.sample_k`)."""
        scores, details = self.score(context, rng)
        scores = np.asarray(scores)
        if scores.shape != context.unlabeled.shape:
            raise StrategyContractError(
                f"strategy {self.name!r} returned scores of shape {scores.shape} for "
                f"{context.unlabeled.size} unlabeled images: one score per image of context.unlabeled"
            )
        return QueryResult(
            indices=self.sampler.sample(context.unlabeled, scores, k, rng),
            candidates=context.unlabeled.copy(),
            scores=scores,
            details=details,
        )


class ScoreStrategy(RankingStrategy):
    """A strategy that scores each unlabeled image from one forward pass (higher = query first).

    Subclasses implement :meth:`compute_score`; :meth:`score` streams the unlabeled pool through
    the model in eval mode under ``torch.inference_mode()``, batch by batch (module modes are
    restored afterwards), and reduces pixel maps with ``reduction``.

    Options: a subclass with an ``__init__`` of its own takes ``**kwargs`` and ends it with
    ``super().__init__(**kwargs)``, so that ``reduction``, ``sampling`` and ``sampling_beta``
    reach the base (``alstrategies check`` says so when it does not); without that call the
    defaults below stand.

    Args:
        reduction: ``"mean"`` (default), ``"sum"``, ``"max"`` or a callable mapping a ``B x ...``
            pixel map to ``B`` image scores.
        sampling, sampling_beta: See :class:`RankingStrategy`.
    """

    #: How pixel maps become image scores: ``"mean"`` unless ``__init__`` was given another.
    reduction: Reduction = "mean"

    def __init__(
        self,
        reduction: Reduction = "mean",
        *,
        sampling: SamplingRule = DEFAULT_SAMPLING,
        sampling_beta: float = DEFAULT_BETA,
    ) -> None:
        if not callable(reduction) and reduction not in REDUCTIONS:
            raise ConfigError(f"unknown reduction {reduction!r}; use one of {REDUCTIONS} or a callable")
        super().__init__(sampling=sampling, sampling_beta=sampling_beta)
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

    def score_batch(
        self, context: QueryContext, indices: np.ndarray, output: ModelOutput
    ) -> torch.Tensor | Mapping[str, torch.Tensor]:
        """Score one batch knowing which pool images it holds; :meth:`compute_score` by default.

        Override only to read per-image data of the context (the ``oracle`` reads
        ``context.pool_labels[indices]``).

        Args:
            context: The query's context.
            indices: The pool indices of the batch, in batch order.
            output: The model's output for the batch (float32).

        Returns:
            What :meth:`compute_score` returns.
        """
        return self.compute_score(output)

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
            features=None if output.features is None else output.features.float(),
            head_features=None if output.head_features is None else output.head_features.float(),
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
        scores: list[torch.Tensor] = []
        details: dict[str, list[torch.Tensor]] = {}
        with eval_inference(context.model):
            for indices, images in context.batches():
                result = self.score_batch(context, indices, self.forward(context, images))
                if isinstance(result, Mapping):
                    for key, value in result.items():
                        if key != "score":
                            details.setdefault(key, []).append(value.float().cpu())
                    result = result["score"]
                scores.append(reduce_pixels(result.float(), self.reduction).cpu())
        return (
            torch.cat(scores).numpy().astype(np.float64),
            {key: torch.cat(values).numpy() for key, values in details.items()},
        )

    def score_pool(self, context: QueryContext) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """:meth:`score` without a generator (kept for existing callers)."""
        return self.score(context)
