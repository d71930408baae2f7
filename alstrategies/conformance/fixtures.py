"""The tiny fixtures the checks run on (seeded width-4 networks, a labeled 20-image pool, a CPU
context) and the vocabulary of a check: what it is about (:class:`Subject`), what it is
(:class:`Check`) and what it gives (:class:`CheckResult`, or :class:`NotApplicable`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from alstrategies.strategy import QueryContext, QueryStrategy
from alstrategies.types import slice_positions

HEADS = ("plain", "sbc")
POOL = 20
#: Slices per volume of the tiny pool (volume ``v`` holds pool images ``5v .. 5v + 4``, in order).
VOLUME_SLICES = 5
LABELED = np.array([1, 4, 7, 11, 12, 18])
SHAPE = (32, 48)  # non-square, divisible by 16 (the U-Net pools four times)
NUM_CLASSES = 4
#: (num_classes, image shape) pairs of :func:`check_classes_and_non_square_images`.
VARIANTS = ((2, (32, 48)), (4, (48, 32)), (2, (64, 16)))


def tiny_model(heads: str = "plain", num_classes: int = NUM_CLASSES) -> nn.Module:
    """A seeded width-4 network with ``heads`` (``"plain"`` or ``"sbc"``), in eval mode."""
    from alstrategies.models import build_model

    if heads not in HEADS:
        raise ValueError(f"heads must be one of {HEADS}, got {heads!r}")
    return build_model({"width": 4, "heads": heads}, num_classes, seed=0).eval()


def tiny_pool(shape: tuple[int, int] = SHAPE, n: int = POOL) -> torch.Tensor:
    """``n x 1 x H x W`` smooth random images in [0, 1] with a bright blob, all different."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand((n, 1, shape[0] // 4, shape[1] // 4), generator=generator)
    images = nn.functional.interpolate(noise, size=shape, mode="bilinear", align_corners=False)
    y, x = torch.meshgrid(torch.linspace(-1, 1, shape[0]), torch.linspace(-1, 1, shape[1]), indexing="ij")
    centres = torch.rand((n, 2), generator=generator) - 0.5
    blobs = torch.exp(-((y - centres[:, :1, None]) ** 2 + (x - centres[:, 1:, None]) ** 2) / 0.1)
    return (0.5 * images + 0.5 * blobs[:, None]).float()


def tiny_labels(pool: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """``N x H x W`` int64 "true labels" of a :func:`tiny_pool`: intensity cut into ``num_classes`` bands."""
    return (pool[:, 0] * num_classes).long().clamp(0, num_classes - 1)


def tiny_context(
    model: nn.Module,
    labeled: Iterable[int] = LABELED,
    pool: torch.Tensor | None = None,
    num_classes: int = NUM_CLASSES,
    batch_size: int = 8,
) -> QueryContext:
    """A CPU :class:`QueryContext` over ``pool`` (default :func:`tiny_pool`) with ``labeled`` known.

    Its ``pool_labels`` are :func:`tiny_labels` of the pool, so that controls that read the
    labels (the ``oracle``) are checked too, and its pool holds volumes of
    :data:`VOLUME_SLICES` consecutive images (``pool_groups``, ``pool_positions``,
    ``pool_depths``), for strategies that read where a slice lies.
    """
    pool = tiny_pool() if pool is None else pool
    labeled = np.asarray(list(labeled), dtype=np.int64)
    groups = np.array([f"volume{i // VOLUME_SLICES}" for i in range(pool.shape[0])])
    positions, depths = slice_positions(groups)
    return QueryContext(
        model=model,
        pool_images=pool,
        labeled=labeled,
        unlabeled=np.setdiff1d(np.arange(pool.shape[0]), labeled),
        num_classes=num_classes,
        batch_size=batch_size,
        pool_labels=tiny_labels(pool, num_classes),
        pool_groups=groups,
        pool_positions=positions,
        pool_depths=depths,
    )


class NotApplicable(Exception):
    """Raised by a check whose rule does not concern this strategy (reported as skipped; internal)."""


@dataclass
class Subject:
    """The strategy under test: its class, the name it goes by, keyword options and model heads."""

    factory: type[QueryStrategy]
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    heads: str = "plain"
    registered: bool = True  # False for a class given directly (not looked up in STRATEGIES)

    def strategy(self) -> QueryStrategy:
        """A fresh instance with :attr:`options`."""
        return self.factory(**self.options)

    def model(self, num_classes: int = NUM_CLASSES) -> nn.Module:
        """A seeded width-4 U-Net (``heads = "plain"``) or SBCNet (``"sbc"``), in eval mode."""
        return tiny_model(self.heads, num_classes)


@dataclass(frozen=True)
class Check:
    """One rule of the contract: a function of a :class:`Subject` and a one-line description."""

    name: str
    description: str
    function: Callable[[Subject], None]
    per_heads: bool = True  # False: the rule does not involve a model (run once per strategy)

    def __call__(self, subject: Subject) -> None:
        self.function(subject)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check for one strategy and model heads (``None``: heads-independent)."""

    strategy: str
    check: str
    description: str
    heads: str | None
    status: Literal["pass", "fail", "skip"]
    message: str = ""

    @property
    def passed(self) -> bool:
        """True unless the check failed (a skipped check does not fail)."""
        return self.status != "fail"

    def line(self) -> str:
        """One line for a terminal: ``PASS random [plain] description``, then any message."""
        text = f"{self.status.upper():<4} {self.strategy} [{self.heads or 'any'}] {self.description}"
        return f"{text}: {self.message}" if self.message else text
