"""SBC-AL (Zhou et al., MICCAI 2024): network, joint loss, consistency scores and strategy."""

from alstrategies.sbcal.scores import (
    boundary_consistency,
    consistency_score,
    distance_maps,
    structure_consistency,
)

__all__ = ["distance_maps", "structure_consistency", "boundary_consistency", "consistency_score"]
