"""Ranking helpers of the strategy contract: pixel reductions, the tie-breaking top k, inference.

Re-exported by :mod:`alstrategies.strategy`, where strategies import them from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

__all__ = ["REDUCTIONS", "Reduction", "eval_inference", "reduce_pixels", "top_k"]

Reduction = str | Callable[[torch.Tensor], torch.Tensor]
REDUCTIONS = ("mean", "sum", "max")


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


def top_k(candidates: np.ndarray, scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The ``k`` candidates with the highest scores; exact ties are broken at random with ``rng``.

    The candidates are put in a random order drawn from ``rng`` (one permutation, drawn whether
    or not there are ties), then sorted stably by decreasing score: the scores decide, and among
    equal scores the random order does, never the pool order (DESIGN section 2).

    Args:
        candidates: Pool indices.
        scores: One score per candidate.
        k: How many to keep.
        rng: The strategy's generator.

    Returns:
        The chosen candidates, highest score first.
    """
    scores = np.asarray(scores, dtype=np.float64)
    shuffled = rng.permutation(scores.size)
    order = shuffled[np.argsort(-scores[shuffled], kind="stable")]
    return np.asarray(candidates)[order[:k]]


@contextmanager
def eval_inference(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` in eval mode under ``torch.inference_mode()``; every module's mode is restored.

    Args:
        model: The network.

    Yields:
        The same model, in eval mode.
    """
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        with torch.inference_mode():
            yield model
    finally:
        for module, mode in modes.items():
            module.training = mode
