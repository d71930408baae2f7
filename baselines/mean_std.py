"""Mean STD: Monte-Carlo dropout disagreement (Gal et al. 2017; DESIGN section 4).

``passes`` stochastic forward passes with only the dropout modules in train mode (BatchNorm
and everything else stay in eval mode); per pixel and class the population standard deviation
of the softmax over the passes, averaged over classes, then reduced over pixels
(``reduction``). The moments are accumulated with Welford's update per batch, so memory is
``O(batch x C x H x W)`` whatever the number of passes or the pool size.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from alstrategies.strategy import (
    REDUCTIONS,
    QueryContext,
    QueryResult,
    QueryStrategy,
    Reduction,
    reduce_pixels,
    top_k,
)
from baselines.seeding import seeded_torch, torch_seed

#: The module types switched to train mode for the stochastic passes.
DROPOUT_TYPES: tuple[type[nn.Module], ...] = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)


@contextmanager
def mc_dropout(model: nn.Module) -> Iterator[list[nn.Module]]:
    """Put ``model`` in eval mode with only its dropout modules in train mode; restore on exit.

    Yields the dropout modules. Every module's own ``training`` flag is restored afterwards, so
    a model that was in any mix of modes comes back exactly as it was.
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    dropouts = [module for module in model.modules() if isinstance(module, DROPOUT_TYPES)]
    for module in dropouts:
        module.train()
    try:
        yield dropouts
    finally:
        for module, mode in modes:
            module.training = mode


class MeanSTDStrategy(QueryStrategy):
    """Mean STD (MC dropout): the reduced mean-over-classes std of the softmax over T passes."""

    name = "mean_std"

    def __init__(self, passes: int = 10, reduction: Reduction = "mean") -> None:
        if isinstance(passes, bool) or not isinstance(passes, int) or passes < 2:
            raise ValueError(f"mean_std needs at least 2 stochastic passes, got passes={passes!r}")
        if not callable(reduction) and reduction not in REDUCTIONS:
            raise ValueError(f"unknown reduction {reduction!r}; use one of {REDUCTIONS} or a callable")
        self.passes = passes
        self.reduction = reduction

    def std_map(self, context: QueryContext, images: torch.Tensor) -> torch.Tensor:
        """``B x H x W``: mean over classes of the population std of the softmax over the passes.

        Runs ``passes`` forward passes of one batch in the current (MC-dropout) mode; Welford's
        update keeps only the running mean and the running sum of squared deviations.
        """
        mean = m2 = None
        for t in range(1, self.passes + 1):
            with context.autocast():
                logits = context.model(images).logits
            probs = torch.softmax(logits.float(), dim=1)
            if mean is None:
                mean, m2 = probs, torch.zeros_like(probs)
                continue
            delta = probs - mean
            mean.add_(delta, alpha=1.0 / t)
            m2.addcmul_(delta, probs - mean)
        return (m2.clamp_min_(0.0) / self.passes).sqrt_().mean(dim=1)

    def score_pool(self, context: QueryContext, seed: int) -> np.ndarray:
        """Image scores of every unlabeled image, in ``context.unlabeled`` order.

        Dropout masks come from torch's generator seeded with ``seed`` (restored afterwards);
        the draws are batch-major: all passes of the first batch, then of the next.
        """
        scores: list[torch.Tensor] = []
        with (
            mc_dropout(context.model) as dropouts,
            seeded_torch(seed, context.device),
            torch.inference_mode(),
        ):
            if not any(getattr(module, "p", 0.0) > 0 for module in dropouts):
                warnings.warn(
                    "mean_std: the model has no active dropout module (model.dropout = false?), so "
                    "every pass is identical and all scores are 0",
                    stacklevel=3,
                )
            for _, images in context.batches():
                scores.append(reduce_pixels(self.std_map(context, images), self.reduction).float().cpu())
        return torch.cat(scores).numpy().astype(np.float64)

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        scores = self.score_pool(context, torch_seed(rng))
        return QueryResult(
            indices=top_k(context.unlabeled, scores, k),
            candidates=context.unlabeled.copy(),
            scores=scores,
        )
