"""Foreground-aware Random sampling (after nnActive, Lüth et al., TMLR 2025).

nnActive (github.com/MIC-DKFZ/nnActive) shows that plain Random is a weak baseline for 3D
medical segmentation, where most of a volume is background, and proposes *Foreground Aware
Random*: each queried patch is, with a fixed probability, centred on a voxel that the **true
labels** mark as foreground, otherwise placed uniformly (``nnactive/strategies/randomlabel.py``
draws the patch's area uniformly from ``"all"``, ``"seg"`` and ``"border"``, so two thirds of
the patches are centred on foreground or its border; ``randomlabel2.py`` draws from
``all, all, all, all, seg, border``, one third). The annotation unit here is a whole 2D slice,
so a "patch that contains foreground" is a slice with any foreground pixel. Two strategies:

- ``random_foreground`` (family ``"random"``; label-free, so a real baseline): a share
  ``foreground_share`` of the ``k`` slices (``floor(share * k + 0.5)``) is drawn uniformly
  from the unlabeled slices where the current model predicts any foreground (``argmax`` of the
  logits not 0 at some pixel; one inference pass), the rest uniformly from all remaining
  unlabeled slices (foreground or not). When fewer slices than that share qualify, all of them
  are taken and the rest is uniform: with no predicted foreground this is plain Random.
- ``random_foreground_oracle`` (family ``"control"``, the positive control of DESIGN section 5):
  the same rule with the pool's **true** foreground (``QueryContext.pool_labels``). With its
  default ``foreground_share = 1.0`` it is uniform over the unlabeled slices whose true label
  holds foreground (uniform over the rest only once they run out), so on a pool where a real
  share of slices is empty it must beat Random by construction. ``foreground_share = 0.6667``
  and ``0.3333`` give nnActive's two Foreground Aware Random settings (2/3 and 1/3 of the
  patches on foreground); the option stays for them.

Both draw only from the strategy's generator. Defaults: ``foreground_share = 0.5`` for
``random_foreground``, ``1.0`` for ``random_foreground_oracle``.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import ClassVar

import numpy as np
import torch

from alstrategies.errors import ConfigError
from alstrategies.ranking import eval_inference
from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy


def foreground_quota(k: int, share: float) -> int:
    """How many of ``k`` slices come from the foreground slices: ``floor(share * k + 0.5)``."""
    return min(k, math.floor(share * k + 0.5))


def true_foreground(context: QueryContext, name: str) -> np.ndarray:
    """One bool per slice of ``context.unlabeled``: any label other than 0 in its true labels.

    Raises:
        ConfigError: ``context.pool_labels`` is missing or not ``N x H x W`` (naming ``name``).
    """
    labels = context.pool_labels
    expected = (context.pool_images.shape[0], *context.pool_images.shape[2:])
    if labels is None or tuple(labels.shape) != expected:
        got = "None" if labels is None else f"shape {tuple(labels.shape)}"
        raise ConfigError(
            f"{name} reads the pool's true labels: QueryContext.pool_labels must be "
            f"{expected} class indices, got {got} (or leave this control out of the run)"
        )
    flags = []
    for start in range(0, context.unlabeled.size, context.batch_size):
        rows = torch.as_tensor(context.unlabeled[start : start + context.batch_size], device=labels.device)
        flags.append(labels[rows].flatten(1).ne(0).any(dim=1).cpu())
    return torch.cat(flags).numpy()


def draw_with_foreground_share(
    candidates: np.ndarray, foreground: np.ndarray, k: int, share: float, rng: np.random.Generator
) -> np.ndarray:
    """``k`` distinct candidates: up to the quota uniformly from ``foreground``, the rest uniformly.

    Args:
        candidates: The unlabeled pool indices.
        foreground: One bool per candidate: has foreground.
        k: How many to draw (at most ``len(candidates)``).
        share: The foreground share of ``k``.
        rng: The only source of randomness.

    Returns:
        The foreground draws first, then the uniform ones.
    """
    pool = np.flatnonzero(foreground)
    quota = min(foreground_quota(k, share), pool.size)
    first = rng.choice(pool, size=quota, replace=False) if quota else np.empty(0, dtype=np.int64)
    rest = np.setdiff1d(np.arange(candidates.size), first)
    second = rng.choice(rest, size=k - quota, replace=False) if k > quota else np.empty(0, dtype=np.int64)
    return candidates[np.concatenate([first, second]).astype(np.int64)]


class _ForegroundShare(QueryStrategy):
    """Random sampling with a share of the query drawn from slices that have foreground."""

    forward_passes: ClassVar[str] = "1"

    def __init__(self, foreground_share: float = 0.5) -> None:
        if not 0.0 <= foreground_share <= 1.0:
            raise ValueError(f"foreground_share must lie in [0, 1], got {foreground_share}")
        self.foreground_share = float(foreground_share)

    @abstractmethod
    def has_foreground(self, context: QueryContext) -> np.ndarray:
        """One bool per slice of ``context.unlabeled``: whether it has (predicted or true) foreground."""

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        """The quota from the foreground slices, the rest uniform (see the module docstring)."""
        foreground = self.has_foreground(context)
        chosen = draw_with_foreground_share(context.unlabeled, foreground, k, self.foreground_share, rng)
        return QueryResult(indices=chosen)


class RandomForegroundStrategy(_ForegroundShare):
    """Foreground-aware Random, label-free: the share comes from predicted-foreground slices.

    Args:
        foreground_share: The share of each query drawn from the unlabeled slices where the model
            predicts foreground (default 0.5).
    """

    name = "random_foreground"
    family = "random"
    source: ClassVar[str] = (
        "after Lüth et al., nnActive: A Framework for Evaluation of Active Learning in 3D Biomedical "
        "Segmentation, TMLR 2025 (Foreground Aware Random), with predicted instead of true foreground"
    )

    def has_foreground(self, context: QueryContext) -> np.ndarray:
        """``argmax(logits) != 0`` at some pixel, from one eval-mode pass over the unlabeled pool."""
        flags: list[torch.Tensor] = []
        with eval_inference(context.model):
            for _, images in context.batches():
                with context.autocast():
                    logits = context.model(images).logits
                flags.append(logits.argmax(dim=1).flatten(1).ne(0).any(dim=1).cpu())
        return torch.cat(flags).numpy()


class RandomForegroundOracleStrategy(_ForegroundShare):
    """Positive control: uniform over the unlabeled slices whose true label holds foreground.

    Reads ``QueryContext.pool_labels`` (``N x H x W`` class indices; 0 is background) and runs no
    model at all. With a ``foreground_share`` below 1 it is nnActive's Foreground Aware Random
    (2/3 or 1/3 of each query from true-foreground slices, the rest uniform).

    Args:
        foreground_share: The share of each query drawn from unlabeled slices with true
            foreground (default 1.0: all of it, while they last).
    """

    name = "random_foreground_oracle"
    family = "control"
    source: ClassVar[str] = (
        "positive control: uniform over true-foreground slices (DESIGN section 5); with "
        "foreground_share < 1, Lüth et al., nnActive: A Framework for Evaluation of Active Learning "
        "in 3D Biomedical Segmentation, TMLR 2025 (Foreground Aware Random, true labels)"
    )
    forward_passes: ClassVar[str] = "0"

    def __init__(self, foreground_share: float = 1.0) -> None:
        super().__init__(foreground_share)

    def has_foreground(self, context: QueryContext) -> np.ndarray:
        """Any label other than 0 in the slice's true labels (:func:`true_foreground`)."""
        return true_foreground(context, self.name)
