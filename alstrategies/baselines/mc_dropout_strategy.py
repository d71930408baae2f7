"""The shared shape of the MC-dropout strategies (Mean STD, BALD): one seed from the strategy's
generator, ``passes`` stochastic passes per batch streamed through
:class:`alstrategies.mc_dropout.MCDropoutSampler`, a per-pixel map from an accumulator, reduced
to one score per image. A subclass implements only :meth:`MCDropoutStrategy.pixel_scores`."""

from __future__ import annotations

import warnings
from abc import abstractmethod

import numpy as np
import torch

from alstrategies.errors import ConfigError
from alstrategies.mc_dropout import MCDropoutSampler
from alstrategies.seeding import torch_seed
from alstrategies.strategy import (
    DEFAULT_BETA,
    DEFAULT_SAMPLING,
    REDUCTIONS,
    QueryContext,
    RankingStrategy,
    Reduction,
    SamplingRule,
    reduce_pixels,
)


class MCDropoutStrategy(RankingStrategy):
    """A ranking strategy scored from ``passes`` MC-dropout passes (options ``passes`` >= 2,
    ``reduction``, ``sampling``, ``sampling_beta``)."""

    def __init__(
        self,
        passes: int = 10,
        reduction: Reduction = "mean",
        *,
        sampling: SamplingRule = DEFAULT_SAMPLING,
        sampling_beta: float = DEFAULT_BETA,
    ) -> None:
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 2:
            raise ConfigError(f"{self.name} needs at least 2 stochastic passes, got passes={passes!r}")
        if not callable(reduction) and reduction not in REDUCTIONS:
            raise ConfigError(f"unknown reduction {reduction!r}; use one of {REDUCTIONS} or a callable")
        super().__init__(sampling=sampling, sampling_beta=sampling_beta)
        self.passes = passes
        self.reduction = reduction

    @abstractmethod
    def pixel_scores(self, sampler: MCDropoutSampler, images: torch.Tensor) -> torch.Tensor:
        """The ``B x H x W`` map of one batch from ``self.passes`` passes of ``sampler``."""

    def score_pool(self, context: QueryContext, seed: int) -> np.ndarray:
        """Image scores of every unlabeled image, in ``context.unlabeled`` order.

        Args:
            context: The model and the pool.
            seed: The seed of the dropout masks (:class:`~alstrategies.mc_dropout.MCDropoutSampler`);
                the draws are batch-major: all passes of the first batch, then of the next.

        Returns:
            float64 scores, one per unlabeled image.
        """
        scores: list[torch.Tensor] = []
        with MCDropoutSampler(context.model, seed, context.device, context.autocast) as sampler:
            if not sampler.active:
                warnings.warn(
                    f"{self.name}: the model has no active dropout module (model.dropout = false?), "
                    "so every pass is identical and all scores are 0",
                    stacklevel=4,
                )
            for _, images in context.batches():
                scores.append(reduce_pixels(self.pixel_scores(sampler, images), self.reduction).float().cpu())
        return torch.cat(scores).numpy().astype(np.float64)

    def score(
        self, context: QueryContext, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One seed from ``rng``, then :meth:`score_pool`; no details."""
        return self.score_pool(context, torch_seed(rng)), {}
