"""Slice-position stratified Random: ``stratified_random``, a label-free baseline.

The 2D analogue of strided sampling (Burmeister et al., "Less is more: A comparison of active
learning strategies for 3D medical image segmentation", 2022): instead of uniform draws, which
may cluster in the apical or basal end of some volumes, the batch covers the positions along
the slicing axis evenly. The exact rule:

1. Stratum of a slice at index ``z`` (0-based) of a volume of ``n`` slices: the third of its
   relative position ``(z + 0.5) / n``: ``floor(3 (z + 0.5) / n)``, i.e. 0 (first third), 1
   (middle third) or 2 (last third); apical, mid and basal in short-axis cardiac MR, whichever
   end the volume starts at.
2. One permutation of the three strata is drawn (``rng.permutation(3)``) and cycled: pick ``t``
   of the batch (``t = 0 .. k - 1``) comes from the next stratum of the cycle that still holds
   an unlabeled, not yet chosen slice (a stratum that runs out is skipped; the others stay
   balanced, and the last picks are uniform over what remains).
3. Within the stratum, a volume is drawn uniformly among those holding such slices there
   (``rng.integers``, volumes in sorted name order), then one of its slices uniformly
   (``rng.integers``, in pool order); it is removed from the candidates.

So while no stratum runs out, the batch's per-stratum counts differ by at most 1. Only the
strategy's generator is used; no model runs and no labels are read. It needs
``QueryContext.pool_groups``, ``pool_positions`` and ``pool_depths`` (the experiment loop and
the conformance harness pass them).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from alstrategies.errors import ConfigError
from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy

STRATA = 3


def position_strata(positions: np.ndarray, depths: np.ndarray) -> np.ndarray:
    """The third of ``(z + 0.5) / n`` of each slice: ``floor(3 (2z + 1) / 2n)``, exact in integers."""
    z, n = np.asarray(positions, dtype=np.int64), np.asarray(depths, dtype=np.int64)
    return (STRATA * (2 * z + 1)) // (2 * n)


def slice_layout(context: QueryContext, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(groups, positions, depths)`` of the whole pool from ``context``.

    Raises:
        ConfigError: One of them is missing or not one value per pool image.
    """
    arrays = (context.pool_groups, context.pool_positions, context.pool_depths)
    size = context.pool_images.shape[0]
    if any(a is None or np.asarray(a).shape != (size,) for a in arrays):
        raise ConfigError(
            f"{name} reads where each slice lies: QueryContext.pool_groups, pool_positions and "
            f"pool_depths must each hold one value per pool image ({size}); the experiment loop "
            "passes them from the dataset"
        )
    groups, positions, depths = (np.asarray(a) for a in arrays)
    return groups, positions.astype(np.int64), depths.astype(np.int64)


def stratified_draw(
    candidates: np.ndarray,
    groups: np.ndarray,
    strata: np.ndarray,
    k: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``k`` distinct ``candidates`` by the module's rule (``groups``, ``strata`` per candidate)."""
    k = min(k, candidates.size)
    cells: list[dict[str, list[int]]] = [{} for _ in range(STRATA)]
    for index, group, stratum in zip(candidates.tolist(), groups.tolist(), strata.tolist(), strict=True):
        cells[stratum].setdefault(str(group), []).append(index)
    volumes = [sorted(cell) for cell in cells]
    cycle = rng.permutation(STRATA).tolist()
    chosen: list[int] = []
    turn = 0
    while len(chosen) < k:
        stratum = cycle[turn % STRATA]
        turn += 1
        if not volumes[stratum]:
            continue
        which = int(rng.integers(len(volumes[stratum])))
        volume = volumes[stratum][which]
        slices = cells[stratum][volume]
        chosen.append(slices.pop(int(rng.integers(len(slices)))))
        if not slices:
            del volumes[stratum][which]
    return np.asarray(chosen, dtype=np.int64)


class StratifiedRandomStrategy(QueryStrategy):
    """Random with the batch spread evenly over slice-position thirds (see the module docstring)."""

    name = "stratified_random"
    family = "random"
    source: ClassVar[str] = (
        "the 2D analogue of strided sampling (Burmeister et al. 2022): uniform within thirds of "
        "each volume's slice positions, the thirds covered evenly"
    )
    forward_passes: ClassVar[str] = "0"

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        groups, positions, depths = slice_layout(context, self.name)
        unlabeled = context.unlabeled
        strata = position_strata(positions[unlabeled], depths[unlabeled])
        return QueryResult(indices=stratified_draw(unlabeled, groups[unlabeled], strata, k, rng))
