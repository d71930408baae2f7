"""The ``oracle`` diagnostic (DESIGN section 5): "hardest by loss", read from the true labels.

It queries the unlabeled slices on which the current model is most wrong: the highest
cross-entropy of the final softmax against the true labels, ``-log p_true`` per pixel, reduced
over pixels (mean by default). That is what a perfect per-slice error predictor would pick, so it
bounds what a score can gain from *finding errors*; it is **not** a positive control: the
hardest slices are not the most useful batch. On ACDC its batches are redundant clusters of end
slices (apex and base, where the model fails) and it loses to Random; the positive control is
``random_foreground_oracle``. It reads labels no real run has, so it is family ``"control"``
(outside "every strategy" unless ``strategies.controls = true``), kept under its name so that
committed runs still read.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from alstrategies.errors import ConfigError, DatasetError
from alstrategies.strategy import QueryContext, ScoreStrategy
from alstrategies.types import ModelOutput


def cross_entropy_map(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-pixel ``-log softmax(logits)[true class]``: ``B x C x H x W``, ``B x H x W`` -> ``B x H x W``."""
    return F.cross_entropy(logits.float(), labels.long(), reduction="none")


class OracleStrategy(ScoreStrategy):
    """Diagnostic "hardest by loss": the highest reduced cross-entropy against the true labels first.

    Needs ``QueryContext.pool_labels`` (``N x H x W`` class indices, any device); the experiment
    loop passes them. Options: ``reduction`` (see :class:`~alstrategies.strategy.ScoreStrategy`).
    """

    name = "oracle"
    family = "control"
    source = (
        "diagnostic control, hardest by loss (cross-entropy against the true labels); not a positive "
        "control (DESIGN section 5)"
    )
    forward_passes = "1"

    def score(
        self, context: QueryContext, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Check the pool labels, then score as :meth:`ScoreStrategy.score` does (one eval pass).

        Raises:
            ConfigError: ``context.pool_labels`` is missing, or not ``N x H x W`` integers.
        """
        labels = context.pool_labels
        if labels is None:
            raise ConfigError(
                "the oracle control reads the pool's true labels, but QueryContext.pool_labels is "
                "None: pass pool_labels=... (N x H x W class indices) or leave oracle out of the run"
            )
        images = context.pool_images
        expected = (images.shape[0], *images.shape[2:])
        if tuple(labels.shape) != expected or labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise ConfigError(
                f"the oracle needs pool_labels of shape {expected} with integer class indices, "
                f"got {tuple(labels.shape)} of dtype {labels.dtype}"
            )
        return super().score(context, rng)

    def score_batch(
        self, context: QueryContext, indices: np.ndarray, output: ModelOutput
    ) -> torch.Tensor | Mapping[str, torch.Tensor]:
        """The cross-entropy map of the batch against ``context.pool_labels[indices]``."""
        assert context.pool_labels is not None  # checked in score()
        rows = torch.as_tensor(indices, device=context.pool_labels.device)
        labels = context.pool_labels[rows].to(output.logits.device).long()
        num_classes = output.logits.shape[1]
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise DatasetError(
                f"the oracle found pool labels outside 0..{num_classes - 1} (got "
                f"{int(labels.min())}..{int(labels.max())}) for a {num_classes}-class model"
            )
        return cross_entropy_map(output.logits, labels)

    def compute_score(self, output: ModelOutput) -> torch.Tensor:
        """Not used: the oracle's score needs the labels (:meth:`score_batch`)."""
        raise ConfigError("the oracle scores a batch against its labels: use score() or score_batch()")
