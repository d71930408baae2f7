"""BALD: the mutual information between prediction and weights under MC dropout.

Houlsby et al. 2011 ("Bayesian Active Learning by Disagreement"), with the MC-dropout estimate
of Gal et al. (ICML 2017). Per pixel, over ``passes = T`` stochastic forward passes (only the
dropout modules in train mode; BatchNorm stays in eval mode)::

    MI = H(mean_t p_t) - mean_t H(p_t),    H(p) = -sum_c p_c log p_c  (nats)

the entropy of the mean prediction minus the mean entropy of the passes: high where the passes
are each confident but disagree. The ``B x H x W`` MI map is reduced to one image score with
``reduction`` (mean by default). The passes come from
:class:`alstrategies.mc_dropout.MCDropoutSampler`, exactly as Mean STD's (seeded masks, the
cached deterministic prefix, reused buffers), and are folded in one at a time by
:class:`alstrategies.mc_dropout.EntropySums` (running sums of ``p`` and of ``-sum_c p log p``),
so memory is ``O(batch x C x H x W)`` whatever ``T`` or the pool size.
"""

from __future__ import annotations

import torch

from alstrategies.baselines.mc_dropout_strategy import MCDropoutStrategy
from alstrategies.mc_dropout import EntropySums, MCDropoutSampler


class BALDStrategy(MCDropoutStrategy):
    """BALD (MC dropout): the reduced per-pixel mutual information over T stochastic passes.

    Args:
        passes: The number of stochastic passes ``T`` (at least 2).
        reduction: How the ``B x H x W`` mutual-information map becomes image scores (see
            :class:`~alstrategies.strategy.ScoreStrategy`).
        sampling, sampling_beta: How k images are chosen from the scores (see
            :class:`~alstrategies.strategy.RankingStrategy`).
    """

    name = "bald"
    family = "uncertainty"
    source = "Houlsby et al. 2011; Gal et al., ICML 2017"
    forward_passes = "T (10)"

    def pixel_scores(self, sampler: MCDropoutSampler, images: torch.Tensor) -> torch.Tensor:
        """Per pixel the entropy of the mean softmax minus the mean entropy (>= 0)."""
        sums = sampler.accumulate(images, self.passes, EntropySums(sampler.workspace))
        return sums.mutual_information()
