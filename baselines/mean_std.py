"""Mean STD: Monte-Carlo dropout disagreement (Gal et al. 2017; DESIGN section 4).

``passes`` stochastic forward passes with only the dropout modules in train mode (BatchNorm
and everything else stay in eval mode); per pixel and class the population standard deviation
of the softmax over the passes, averaged over classes, then reduced over pixels
(``reduction``). The passes come from :class:`alstrategies.mc_dropout.MCDropoutSampler` (seeded
masks, the cached deterministic prefix, reused buffers) and their moments are accumulated with
Welford's update per batch (:class:`alstrategies.mc_dropout.WelfordMoments`), so memory is
``O(batch x C x H x W)`` whatever the number of passes or the pool size.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from alstrategies.errors import ConfigError
from alstrategies.mc_dropout import MCDropoutSampler, WelfordMoments
from alstrategies.seeding import torch_seed
from alstrategies.strategy import REDUCTIONS, QueryContext, RankingStrategy, Reduction, reduce_pixels


class MeanSTDStrategy(RankingStrategy):
    """Mean STD (MC dropout): the reduced mean-over-classes std of the softmax over T passes.

    Args:
        passes: The number of stochastic passes ``T`` (at least 2).
        reduction: How the ``B x H x W`` std map becomes image scores (see
            :class:`~alstrategies.strategy.ScoreStrategy`).
        sampling, sampling_beta: How k images are chosen from the scores (see
            :class:`~alstrategies.strategy.RankingStrategy`).
    """

    name = "mean_std"
    family = "uncertainty"
    source = "Gal et al., ICML 2017"
    forward_passes = "T (10)"

    def __init__(
        self,
        passes: int = 10,
        reduction: Reduction = "mean",
        *,
        sampling: str = "top_k",
        sampling_beta: float = 1.0,
    ) -> None:
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 2:
            raise ConfigError(f"mean_std needs at least 2 stochastic passes, got passes={passes!r}")
        if not callable(reduction) and reduction not in REDUCTIONS:
            raise ConfigError(f"unknown reduction {reduction!r}; use one of {REDUCTIONS} or a callable")
        super().__init__(sampling=sampling, sampling_beta=sampling_beta)
        self.passes = passes
        self.reduction = reduction

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
                    "mean_std: the model has no active dropout module (model.dropout = false?), so "
                    "every pass is identical and all scores are 0",
                    stacklevel=4,
                )
            for _, images in context.batches():
                moments = sampler.accumulate(images, self.passes, WelfordMoments(sampler.workspace))
                std = moments.std().mean(dim=1)  # B x H x W: mean over classes
                scores.append(reduce_pixels(std, self.reduction).float().cpu())
        return torch.cat(scores).numpy().astype(np.float64)

    def score(
        self, context: QueryContext, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One seed from ``rng``, then :meth:`score_pool`; no details."""
        return self.score_pool(context, torch_seed(rng)), {}
