"""Normalised surface Dice against a brute-force reference over all pairs of surface voxels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alstrategies.metrics import METRICS, surface_dice, volume_metrics
from tests.metrics.test_metrics import ref_surface  # the slow reference surface, shared


def ref_surface_dice(a: np.ndarray, b: np.ndarray, spacing, tolerance: float) -> float:
    """Loop over every surface voxel of each mask; count it when any surface voxel of the other
    mask lies within ``tolerance`` (physical coordinates = index x spacing)."""
    a = np.asarray(a) != 0
    b = np.asarray(b) != 0
    if not a.any() and not b.any():
        return float("nan")
    if not a.any() or not b.any():
        return 0.0
    sp = np.asarray(spacing, dtype=float)
    pa = [np.array(p) * sp for p in np.argwhere(ref_surface(a))]
    pb = [np.array(p) * sp for p in np.argwhere(ref_surface(b))]
    within = 0
    for points, others in ((pa, pb), (pb, pa)):
        for p in points:
            if any(math.sqrt(float(((p - q) ** 2).sum())) <= tolerance for q in others):
                within += 1
    return within / (len(pa) + len(pb))


def blobby(rng: np.random.Generator, shape: tuple[int, ...], p: float) -> np.ndarray:
    """Random speckle plus a random solid box (so the mask has an interior that is not surface)."""
    mask = rng.random(shape) < p
    lo = [int(rng.integers(0, s // 2)) for s in shape]
    hi = [int(rng.integers(lo_ + 2, s + 1)) for lo_, s in zip(lo, shape)]
    mask[tuple(slice(a, b) for a, b in zip(lo, hi))] = True
    return mask


SPACINGS = [(2.0, 0.75, 0.5), (1.3, 0.9, 0.6), (0.45, 1.1, 2.5)]


@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("seed", range(4))
def test_surface_dice_at_1mm_matches_bruteforce_on_random_3d_masks(spacing, seed):
    rng = np.random.default_rng(500 + seed)
    shape = (6, 9, 8)
    a = blobby(rng, shape, rng.uniform(0.02, 0.2))
    b = blobby(rng, shape, rng.uniform(0.02, 0.2))
    want = ref_surface_dice(a, b, spacing, 1.0)
    assert 0.0 < want < 1.0  # a non-trivial case
    assert surface_dice(a, b, spacing, tolerance=1.0) == pytest.approx(want, abs=1e-12)
    assert surface_dice(b, a, spacing, tolerance=1.0) == pytest.approx(want, abs=1e-12)  # symmetric


@pytest.mark.parametrize("tolerance", [0.0, 0.5, 2.0, 3.7])
def test_other_tolerances_and_2d(tolerance):
    rng = np.random.default_rng(9)
    for spacing, shape in (((0.8, 1.7), (15, 12)), ((1.0, 1.0, 1.0), (5, 6, 7))):
        a = blobby(rng, shape, 0.1)
        b = blobby(rng, shape, 0.1)
        want = ref_surface_dice(a, b, spacing, tolerance)
        assert surface_dice(a, b, spacing, tolerance=tolerance) == pytest.approx(want, abs=1e-12)


def test_hand_computed_shifted_squares():
    # Two 3x3 squares shifted by 2 along axis 1: 8 surface pixels each (the centre is interior).
    a = np.zeros((7, 9), bool)
    b = np.zeros((7, 9), bool)
    a[2:5, 1:4] = True
    b[2:5, 3:6] = True
    # Within 1 voxel of the other surface: a's columns 2 and 3 (5 of its 8 pixels; column 1 is
    # 2 away), the same for b by symmetry -> 10 / 16.
    assert surface_dice(a, b, None, tolerance=1.0) == pytest.approx(10 / 16)
    assert surface_dice(a, b, None, tolerance=2.0) == 1.0
    # spacing 0.5 along the shift axis: the shift is 1 mm, everything is within 1 mm
    assert surface_dice(a, b, (1.0, 0.5), tolerance=1.0) == 1.0
    # spacing 3 along the shift axis: only exact overlaps (column 3) count at 1 mm -> 3 + 3 of 16
    assert surface_dice(a, b, (1.0, 3.0), tolerance=1.0) == pytest.approx(6 / 16)


def test_edge_cases():
    rng = np.random.default_rng(3)
    m = blobby(rng, (5, 6, 7), 0.2)
    empty = np.zeros_like(m)
    assert math.isnan(surface_dice(empty, empty, (1.0, 2.0, 0.5)))  # both empty: NaN, like Dice
    assert surface_dice(m, empty, (1.0, 2.0, 0.5)) == 0.0  # exactly one empty: 0
    assert surface_dice(empty, m, None) == 0.0
    assert surface_dice(m, m, (1.0, 2.0, 0.5), tolerance=0.0) == 1.0  # identical: 1
    assert surface_dice(m.astype(np.uint8) * 4, m, (3.0, 3.0, 3.0)) == 1.0  # nonzero = foreground


def test_validation():
    m = np.ones((4, 4), bool)
    with pytest.raises(ValueError, match="tolerance"):
        surface_dice(m, m, None, tolerance=-1.0)
    with pytest.raises(ValueError, match="spacing"):
        surface_dice(m, m, (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="shape"):
        surface_dice(m, np.ones((4, 5), bool), None)


def test_registered_in_percent_with_a_1mm_default():
    metric = METRICS["surface_dice"]
    assert list(METRICS)[:3] == ["dice", "hd95", "surface_dice"]
    assert metric.higher_is_better and metric.scale == 100.0 and metric.unit == "%"
    assert metric.options["tolerance"] == 1.0


def test_volume_metrics_per_class_with_tolerance_option():
    rng = np.random.default_rng(21)
    target = np.zeros((5, 8, 8), np.int64)
    pred = np.zeros_like(target)
    for label in (1, 2):
        target[blobby(rng, target.shape, 0.05)] = label
        pred[blobby(rng, target.shape, 0.05)] = label
    spacing = (2.0, 0.75, 0.5)
    out = volume_metrics(pred, target, 4, spacing, metrics=("surface_dice", "dice"))
    assert list(out) == ["surface_dice", "dice"]
    for cls in (1, 2):
        want = ref_surface_dice(pred == cls, target == cls, spacing, 1.0)
        assert out["surface_dice"][cls - 1] == pytest.approx(want, abs=1e-12)
    assert math.isnan(out["surface_dice"][2])  # class 3 in neither volume
    wide = volume_metrics(
        pred, target, 3, spacing, metrics=("surface_dice",), options={"surface_dice": {"tolerance": 2.5}}
    )
    for cls in (1, 2):
        want = ref_surface_dice(pred == cls, target == cls, spacing, 2.5)
        assert wide["surface_dice"][cls - 1] == pytest.approx(want, abs=1e-12)
