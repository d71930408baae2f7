"""The SBC-AL query strategy: rank unlabeled images by their consistency score CS."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from alstrategies.errors import ConfigError
from alstrategies.sbcal.scores import (
    COSINE_KINDS,
    CosineKind,
    boundary_consistency,
    consistency_score,
    distance_maps,
    structure_consistency,
)
from alstrategies.strategy import DEFAULT_BETA, DEFAULT_SAMPLING, QueryResult, SamplingRule, ScoreStrategy
from alstrategies.types import ModelOutput


class SBCALStrategy(ScoreStrategy):
    """SBC-AL (Zhou et al., MICCAI 2024): query the images whose structure and boundary agree least.

    From one forward pass of an SBCNet: ``SCS`` compares the distance maps of the refined
    prediction with the SFP's distance maps, ``BCS`` the coarse and refined predictions
    (Hausdorff distance); ``CS = w_s SCS + w_b BCS`` and the highest CS are queried. The SFP's
    channel count says which distance maps it predicts (C with the background, F without; see
    ``model.distance_classes``), and ``d_s`` is built to match. Options:
    ``w_s, w_b, w_c, w_d`` (weights, paper defaults), ``cosine`` (``"standard"`` or the paper's
    printed ``"paper"`` squared norms), ``bcs_normalize`` (Hausdorff divided by the image
    diagonal), ``sampling`` and ``sampling_beta`` (see
    :class:`~alstrategies.strategy.RankingStrategy`). Per-image ``scs`` and ``bcs`` are reported
    beside the score.
    """

    name = "sbc_al"
    #: The model must be built with ``model.heads = "sbc"`` (SBCNet: coarse, refined, distance).
    required_heads = "sbc"
    source = "Zhou et al., MICCAI 2024"
    forward_passes = "1"

    def __init__(
        self,
        w_s: float = 0.8,
        w_b: float = 0.2,
        w_c: float = 0.6,
        w_d: float = 0.4,
        cosine: CosineKind = "standard",
        bcs_normalize: bool = True,
        *,
        sampling: SamplingRule = DEFAULT_SAMPLING,
        sampling_beta: float = DEFAULT_BETA,
    ) -> None:
        super().__init__(reduction="mean", sampling=sampling, sampling_beta=sampling_beta)
        if cosine not in COSINE_KINDS:
            raise ConfigError(f"sbc_al option cosine = {cosine!r} is not one of {COSINE_KINDS}")
        self.w_s, self.w_b, self.w_c, self.w_d = float(w_s), float(w_b), float(w_c), float(w_d)
        self.cosine: CosineKind = cosine
        self.bcs_normalize = bool(bcs_normalize)

    def compute_score(self, output: ModelOutput) -> Mapping[str, torch.Tensor]:
        """``{"score": CS, "scs": SCS, "bcs": BCS}``, one value per image of the batch."""
        if output.distance is None:
            raise ConfigError(
                'sbc_al needs a network with SBC-AL\'s SFP and ASR modules: set model.heads = "sbc" '
                "in the config (the model's output has no distance maps)"
            )
        num_classes = output.logits.shape[1]
        include_background = self.includes_background(output.distance.shape[1], num_classes)
        refined = output.logits.max(dim=1).indices  # = argmax (first maximum), much faster on CPU
        coarse = output.coarse_logits.max(dim=1).indices
        d_s = distance_maps(refined, num_classes, include_background=include_background)
        scs = structure_consistency(d_s, output.distance, self.w_c, self.w_d, self.cosine)
        bcs = boundary_consistency(coarse, refined, num_classes, normalize=self.bcs_normalize)
        return {"score": consistency_score(scs, bcs, self.w_s, self.w_b), "scs": scs, "bcs": bcs}

    @staticmethod
    def includes_background(maps: int, num_classes: int) -> bool:
        """Whether an SFP with ``maps`` output channels predicts the background map too: C maps
        (``model.distance_classes = "all"``) -> True, C - 1 (``"foreground"``) -> False."""
        if maps == num_classes:
            return True
        if maps == num_classes - 1:
            return False
        raise ConfigError(
            f"sbc_al: the SFP outputs {maps} distance maps for {num_classes} classes; expected "
            f'{num_classes} (model.distance_classes = "all") or {num_classes - 1} ("foreground"): '
            "build the network with the model.distance_classes of its training"
        )

    def snapshot_extras(self, pool_images: torch.Tensor, result: QueryResult) -> dict[str, np.ndarray]:
        """The pool images of highest and lowest CS (four each) with their scores, for the
        report's ``sbcal_outputs.png``."""
        if result.scores is None or result.candidates is None:
            return {}
        order = np.argsort(-result.scores, kind="stable")
        count = min(4, len(order))
        arrays: dict[str, np.ndarray] = {}
        for which, rows in (("high", order[:count]), ("low", order[::-1][:count])):
            pool_rows = torch.as_tensor(result.candidates[rows], device=pool_images.device)
            arrays[f"cs_{which}_images"] = pool_images[pool_rows, 0].float().cpu().numpy()
            arrays[f"cs_{which}_scores"] = result.scores[rows].astype(np.float64)
        return arrays
