"""Plain segmentation network: a backbone plus a 1x1 head."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from alstrategies.types import ModelOutput


class SegmentationNet(nn.Module):
    """Backbone + 1x1 head; ``logits`` equal ``coarse_logits`` and there is no distance map.

    ``features`` are the pooled bottleneck (``B x 16c``), ``head_features`` the decoder output
    that :meth:`final_head` maps to the logits.
    """

    def __init__(self, backbone: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.num_classes = num_classes
        channels: Any = backbone.decoder_channels  # a backbone states its channels (blocks.py)
        self.head = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        features = self.backbone(x)
        logits = self.head(features.decoder)
        return ModelOutput(
            logits=logits,
            coarse_logits=logits,
            features=features.pooled_bottleneck(),
            head_features=features.decoder,
        )

    def final_head(self) -> nn.Conv2d:
        """The 1x1 conv that turns ``ModelOutput.head_features`` into ``ModelOutput.logits``."""
        return self.head

    def parameter_groups(self, lr: float, sfp_lr: float) -> list[dict]:
        """One group: every parameter trains at ``lr`` (``sfp_lr`` is unused here)."""
        del sfp_lr
        return [{"params": list(self.parameters()), "lr": lr, "name": "backbone"}]
