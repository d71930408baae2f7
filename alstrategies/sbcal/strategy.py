"""The SBC-AL query strategy: rank unlabeled images by their consistency score CS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch

from alstrategies.sbcal.scores import (
    COSINE_KINDS,
    CosineKind,
    boundary_consistency,
    consistency_score,
    distance_maps,
    structure_consistency,
)
from alstrategies.strategy import ScoreStrategy
from alstrategies.types import ModelOutput


class SBCALStrategy(ScoreStrategy):
    """SBC-AL (Zhou et al., MICCAI 2024): query the images whose structure and boundary agree least.

    From one forward pass of an SBCNet: ``SCS`` compares the distance maps of the refined
    prediction with the SFP's distance maps, ``BCS`` the coarse and refined predictions
    (Hausdorff distance); ``CS = w_s SCS + w_b BCS`` and the highest CS are queried. Options:
    ``w_s, w_b, w_c, w_d`` (weights, paper defaults), ``cosine`` (``"standard"`` or the paper's
    printed ``"paper"`` squared norms), ``bcs_normalize`` (Hausdorff divided by the image
    diagonal). Per-image ``scs`` and ``bcs`` are reported beside the score.
    """

    name = "sbc_al"
    #: The model must be built with ``model.heads = "sbc"`` (SBCNet: coarse, refined, distance).
    required_heads: ClassVar[str] = "sbc"

    def __init__(
        self,
        w_s: float = 0.8,
        w_b: float = 0.2,
        w_c: float = 0.6,
        w_d: float = 0.4,
        cosine: CosineKind = "standard",
        bcs_normalize: bool = True,
    ) -> None:
        super().__init__(reduction="mean")
        if cosine not in COSINE_KINDS:
            raise ValueError(f"sbc_al option cosine = {cosine!r} is not one of {COSINE_KINDS}")
        self.w_s, self.w_b, self.w_c, self.w_d = float(w_s), float(w_b), float(w_c), float(w_d)
        self.cosine: CosineKind = cosine
        self.bcs_normalize = bool(bcs_normalize)

    def compute_score(self, output: ModelOutput) -> Mapping[str, torch.Tensor]:
        """``{"score": CS, "scs": SCS, "bcs": BCS}``, one value per image of the batch."""
        if output.distance is None:
            raise ValueError(
                'sbc_al needs a network with SBC-AL\'s SFP and ASR modules: set model.heads = "sbc" '
                "in the config (the model's output has no distance maps)"
            )
        num_classes = output.logits.shape[1]
        refined = output.logits.max(dim=1).indices  # = argmax (first maximum), much faster on CPU
        coarse = output.coarse_logits.max(dim=1).indices
        scs = structure_consistency(
            distance_maps(refined, num_classes), output.distance, self.w_c, self.w_d, self.cosine
        )
        bcs = boundary_consistency(coarse, refined, num_classes, normalize=self.bcs_normalize)
        return {"score": consistency_score(scs, bcs, self.w_s, self.w_b), "scs": scs, "bcs": bcs}
