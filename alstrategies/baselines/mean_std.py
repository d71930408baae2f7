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

import torch

from alstrategies.baselines.mc_dropout_strategy import MCDropoutStrategy
from alstrategies.mc_dropout import MCDropoutSampler, WelfordMoments


class MeanSTDStrategy(MCDropoutStrategy):
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

    def pixel_scores(self, sampler: MCDropoutSampler, images: torch.Tensor) -> torch.Tensor:
        """Per pixel and class the population std over the passes, mean over classes."""
        moments = sampler.accumulate(images, self.passes, WelfordMoments(sampler.workspace))
        return moments.std().mean(dim=1)  # B x H x W: mean over classes
