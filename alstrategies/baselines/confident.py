"""The ``confident`` control (DESIGN section 5): the most confident slices first.

The score is minus the reduced pixel entropy of the final softmax (mean by default), so the
images with the LOWEST mean entropy are queried first: the opposite of ``max_entropy``. The
literature finds this worse than Random; a run whose learning curves cannot tell it from Random
has too little signal to rank the real strategies either. Outside "every strategy" unless
``strategies.controls = true``.
"""

from __future__ import annotations

import torch

from alstrategies.baselines.uncertainty import entropy_map
from alstrategies.strategy import ScoreStrategy
from alstrategies.types import ModelOutput


class ConfidentStrategy(ScoreStrategy):
    """Confident control: the lowest reduced pixel entropy first (scored as minus the entropy)."""

    name = "confident"
    family = "control"
    source = "control: the opposite of max_entropy (DESIGN section 5)"
    forward_passes = "1"

    def compute_score(self, output: ModelOutput) -> torch.Tensor:
        return -entropy_map(output.logits)
