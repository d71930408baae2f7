"""SBC-AL's joint loss: alpha CE(coarse) + beta MSE(distance, D) + gamma (CE + Dice)(refined)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from alstrategies.errors import ConfigError
from alstrategies.training.losses import soft_dice_loss
from alstrategies.types import ModelOutput


class SBCCriterion:
    """The paper's ``L = alpha L_SEG + beta L_SFP + gamma L_ASR`` (Section 2.4).

    ``L_SEG``: cross-entropy of the coarse logits; ``L_SFP``: mean squared error between the SFP
    output and the ground-truth distance maps (``targets["distance"]``, see
    :func:`alstrategies.sbcal.distance_maps`; C maps with the background or F without, as long as
    the two shapes agree); ``L_ASR``: cross-entropy + soft Dice of the refined
    logits (the sum of the two is ``segmentation_loss``). Returns ``{"total", "coarse", "sfp",
    "refined_ce", "refined_dice"}``: ``total`` is the weighted sum, the parts are unweighted.
    """

    needs_distance = True

    def __init__(self, alpha: float = 1.0, beta: float = 1.0, gamma: float = 1.0) -> None:
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.gamma = float(gamma)

    def __call__(self, output: ModelOutput, targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if output.distance is None:
            raise ValueError("SBCCriterion needs a model with an SFP distance output (model.heads = 'sbc')")
        if "distance" not in targets:
            raise ValueError("SBCCriterion needs targets['distance'] (ground-truth distance maps)")
        if output.distance.shape != targets["distance"].shape:
            raise ConfigError(
                f"SBCCriterion: the SFP outputs distance maps of shape {tuple(output.distance.shape)} but "
                f"the targets have {tuple(targets['distance'].shape)}: build the model and the targets with "
                "the same model.distance_classes"
            )
        labels = targets["labels"]
        coarse = F.cross_entropy(output.coarse_logits.float(), labels)
        sfp = F.mse_loss(output.distance.float(), targets["distance"].float())
        refined_ce = F.cross_entropy(output.logits.float(), labels)
        refined_dice = soft_dice_loss(output.logits, labels)
        total = self.alpha * coarse + self.beta * sfp + self.gamma * (refined_ce + refined_dice)
        return {
            "total": total,
            "coarse": coarse,
            "sfp": sfp,
            "refined_ce": refined_ce,
            "refined_dice": refined_dice,
        }
