"""Single-pass uncertainty baselines: maximum entropy, least confidence and margin (DESIGN section 4).

Each one turns the final (refined) softmax probabilities of a batch into a pixel map whose
higher values mean "more uncertain"; :class:`~alstrategies.strategy.ScoreStrategy` streams the
unlabeled pool batch by batch on the model's device, reduces each map with the configured
``reduction`` (``"mean"`` by default, ``"sum"``, ``"max"``, or a callable mapping the
``B x H x W`` map to ``B`` scores) and queries the highest scores first.
"""

from __future__ import annotations

import torch

from alstrategies.strategy import ScoreStrategy
from alstrategies.types import ModelOutput


def entropy_map(logits: torch.Tensor) -> torch.Tensor:
    """Per-pixel Shannon entropy ``-sum_c p log p`` (nats) of ``softmax(logits)``: ``B x H x W``.

    ``torch.special.entr`` gives ``0`` for ``p = 0``, so saturated pixels are exact, not NaN.
    """
    return torch.special.entr(torch.softmax(logits.float(), dim=1)).sum(dim=1)


def least_confidence_map(logits: torch.Tensor) -> torch.Tensor:
    """Per-pixel ``1 - max_c p``: ``B x H x W``."""
    return 1.0 - torch.softmax(logits.float(), dim=1).amax(dim=1)


def margin_map(logits: torch.Tensor) -> torch.Tensor:
    """Per-pixel margin ``p(1) - p(2)`` between the two most probable classes: ``B x H x W``.

    A running (first, second) maximum over the class channels: exact with ties (two equal
    maxima give 0) and, on CPU, several times faster than ``topk`` along the channel axis.
    """
    probs = torch.softmax(logits.float(), dim=1)
    first = torch.maximum(probs[:, 0], probs[:, 1])
    second = torch.minimum(probs[:, 0], probs[:, 1])
    for c in range(2, probs.shape[1]):
        second = torch.maximum(second, torch.minimum(first, probs[:, c]))
        first = torch.maximum(first, probs[:, c])
    return first - second


class MaxEntropyStrategy(ScoreStrategy):
    """Maximum entropy: the reduced pixel entropy of the final softmax, highest first."""

    name = "max_entropy"
    family = "uncertainty"
    source = "Settles, AL literature survey 2009 (Shannon entropy)"
    forward_passes = "1"

    def compute_score(self, output: ModelOutput) -> torch.Tensor:
        return entropy_map(output.logits)


class LeastConfidenceStrategy(ScoreStrategy):
    """Least confidence: the reduced pixel ``1 - max_c p`` of the final softmax, highest first."""

    name = "least_confidence"
    family = "uncertainty"
    source = "Culotta & McCallum, AAAI 2005"
    forward_passes = "1"

    def compute_score(self, output: ModelOutput) -> torch.Tensor:
        return least_confidence_map(output.logits)


class MarginStrategy(ScoreStrategy):
    """Margin: the smallest reduced ``p(1) - p(2)`` first (scored as ``1 - margin``, highest first).

    The pixel score is ``1 - (p(1) - p(2))`` so that every reduction keeps "higher = more
    uncertain": with ``"mean"`` the image score is ``1 - mean margin`` (the same ranking as
    the smallest mean margin first), with ``"max"`` it is ``1 -`` the smallest pixel margin.
    """

    name = "margin"
    family = "uncertainty"
    source = "Scheffer et al., IDA 2001"
    forward_passes = "1"

    def compute_score(self, output: ModelOutput) -> torch.Tensor:
        return 1.0 - margin_map(output.logits)
