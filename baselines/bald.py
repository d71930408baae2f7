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

import warnings

import numpy as np
import torch

from alstrategies.errors import ConfigError
from alstrategies.mc_dropout import EntropySums, MCDropoutSampler
from alstrategies.seeding import torch_seed
from alstrategies.strategy import REDUCTIONS, QueryContext, RankingStrategy, Reduction, reduce_pixels


class BALDStrategy(RankingStrategy):
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

    def __init__(
        self,
        passes: int = 10,
        reduction: Reduction = "mean",
        *,
        sampling: str = "top_k",
        sampling_beta: float = 1.0,
    ) -> None:
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 2:
            raise ConfigError(f"{self.name} needs at least 2 stochastic passes, got passes={passes!r}")
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
            float64 scores, one per unlabeled image (>= 0).
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
                sums = sampler.accumulate(images, self.passes, EntropySums(sampler.workspace))
                scores.append(reduce_pixels(sums.mutual_information(), self.reduction).float().cpu())
        return torch.cat(scores).numpy().astype(np.float64)

    def score(
        self, context: QueryContext, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One seed from ``rng``, then :meth:`score_pool`; no details."""
        return self.score_pool(context, torch_seed(rng)), {}
