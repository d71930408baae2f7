"""What a query sees and what it answers: :class:`QueryContext` and :class:`QueryResult`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn


@dataclass
class QueryContext:
    """Everything a strategy may look at when it queries.

    Attributes:
        model: The round's trained segmentation network; calling it returns a
            :class:`~alstrategies.types.ModelOutput`. Leave its weights and module modes as found.
        pool_images: The whole pool, ``N x C x H x W``, on any device.
        labeled: Indices into ``pool_images`` of the images already annotated.
        unlabeled: Indices into ``pool_images`` of the candidates (disjoint from ``labeled``);
            :meth:`QueryStrategy.query` makes both ``int64`` arrays.
        num_classes: Number of classes, background included.
        device: The model's device; :meth:`batches` moves the images there.
        batch_size: The inference batch size.
        amp: Whether inference may run in bf16 autocast on CUDA (:meth:`autocast`).
        pool_labels: The pool's true labels, ``N x H x W`` integers on any device, or ``None``.
            Only controls may read them (the ``oracle``); a real strategy never does.
        pool_groups: The volume (patient) name of each pool slice, ``N``, or ``None``.
        pool_positions: Each pool slice's 0-based index along its volume's slicing axis, ``N``
            integers, or ``None``.
        pool_depths: The number of slices of each pool slice's volume, ``N`` integers, or
            ``None``. The experiment loop fills all three (from
            :class:`~alstrategies.types.SegmentationData`); a strategy that needs them says so
            with a :class:`~alstrategies.errors.ConfigError` when they are ``None``.
        round_index: The 0-based round whose trained model is querying (its query labels the
            images of round ``round_index + 1``), or ``None`` when the caller does not say.
        last_round: The index of the run's last round (the budgets are rounds ``0 ..
            last_round``; the last one does not query), or ``None``. The experiment loop fills
            both; a strategy with a round schedule (``clasp_pe``) falls back on the labeled
            fraction when they are ``None``.
    """

    model: nn.Module
    pool_images: torch.Tensor
    labeled: np.ndarray
    unlabeled: np.ndarray
    num_classes: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    batch_size: int = 64
    amp: bool = False
    pool_labels: torch.Tensor | None = None
    pool_groups: np.ndarray | None = None
    pool_positions: np.ndarray | None = None
    pool_depths: np.ndarray | None = None
    round_index: int | None = None
    last_round: int | None = None

    def autocast(self) -> Any:
        """The context to run the model in: bf16 autocast on CUDA when :attr:`amp`, else a no-op.

        Returns:
            A context manager.
        """
        if self.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    def batches(self, indices: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Iterate over pool images in batches of :attr:`batch_size`, in the order given.

        Args:
            indices: Pool indices to load; :attr:`unlabeled` when ``None``.

        Yields:
            ``(pool indices, float32 images on the model's device)`` per batch.
        """
        indices = self.unlabeled if indices is None else indices
        for start in range(0, len(indices), self.batch_size):
            chunk = indices[start : start + self.batch_size]
            images = self.pool_images[torch.as_tensor(chunk, device=self.pool_images.device)]
            yield chunk, images.to(self.device, non_blocking=True).float()


@dataclass
class QueryResult:
    """The answer of a query: the chosen indices, and optionally what they were chosen from.

    Attributes:
        indices: The ``k`` distinct pool indices to annotate, all from ``context.unlabeled``.
        candidates: The pool indices that were scored (normally a copy of ``context.unlabeled``).
        scores: One finite score per candidate, aligned with ``candidates`` (higher = queried
            first); saved every round.
        details: Further per-candidate arrays (e.g. SBC-AL's ``scs`` and ``bcs``), aligned with
            ``candidates``; saved beside the scores, never ranked on.
    """

    indices: np.ndarray
    candidates: np.ndarray | None = None
    scores: np.ndarray | None = None
    details: dict[str, np.ndarray] = field(default_factory=dict)
