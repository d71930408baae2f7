"""Tests for alstrategies.metrics against explicit brute-force references."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from alstrategies.metrics import (
    dice_score,
    hausdorff_distance,
    nanmean_or_nan,
    surface_mask,
    volume_metrics,
)

# ---------------------------------------------------------------------------
# Slow, obviously-correct references
# ---------------------------------------------------------------------------


def ref_dice(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a) != 0
    b = np.asarray(b) != 0
    inter = 0
    size_a = 0
    size_b = 0
    for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True):
        inter += int(x and y)
        size_a += int(x)
        size_b += int(y)
    if size_a + size_b == 0:
        return float("nan")
    return 2.0 * inter / (size_a + size_b)


def ref_surface(mask: np.ndarray) -> np.ndarray:
    """Loop over voxels; a foreground voxel is surface if any of its 2*ndim
    face neighbours is background or out of bounds."""
    m = np.asarray(mask) != 0
    out = np.zeros_like(m)
    for idx in itertools.product(*(range(s) for s in m.shape)):
        if not m[idx]:
            continue
        for axis in range(m.ndim):
            for step in (-1, 1):
                nb = list(idx)
                nb[axis] += step
                if not 0 <= nb[axis] < m.shape[axis] or not m[tuple(nb)]:
                    out[idx] = True
    return out


def ref_hausdorff(a, b, percentile=100, spacing=None) -> float:
    a = np.asarray(a) != 0
    b = np.asarray(b) != 0
    if not a.any() or not b.any():
        return float("nan")
    sp = np.ones(a.ndim) if spacing is None else np.asarray(spacing, dtype=float)
    pa = np.argwhere(ref_surface(a)) * sp
    pb = np.argwhere(ref_surface(b)) * sp
    dist = np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(axis=-1))
    pooled = np.hstack((dist.min(axis=1), dist.min(axis=0)))
    return float(np.percentile(pooled, percentile))


def random_blobby_mask(rng: np.random.Generator, shape: tuple[int, ...], p: float) -> np.ndarray:
    """Random mask with some solid regions (so that it has a real interior)."""
    mask = rng.random(shape) < p
    box = tuple(slice(s // 4, s // 4 + max(1, s // 3)) for s in shape)
    if rng.random() < 0.7:
        mask[box] = True
    return mask


# ---------------------------------------------------------------------------
# Dice
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(17, 23), (6, 7, 8)])
@pytest.mark.parametrize("seed", range(5))
def test_dice_matches_reference(shape, seed):
    rng = np.random.default_rng(seed)
    a = rng.random(shape) < rng.uniform(0.05, 0.8)
    b = rng.random(shape) < rng.uniform(0.05, 0.8)
    assert dice_score(a, b) == pytest.approx(ref_dice(a, b), abs=1e-12)


def test_dice_non_bool_dtypes():
    a = np.array([[0, 2, 0], [5, 0, 0]], dtype=np.int64)
    b = np.array([[0.0, 1.0, 0.5], [0.0, 0.0, 0.0]])
    # |A|=2, |B|=2, |A∩B|=1
    assert dice_score(a, b) == pytest.approx(0.5)
    assert dice_score(a.astype(np.uint8), a.astype(np.float32)) == 1.0


def test_dice_hand_values():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[0, :3] = True  # 3 px
    b[0, 1:] = True  # 3 px, overlap 2
    assert dice_score(a, b) == pytest.approx(4 / 6)
    assert dice_score(a, np.zeros_like(a)) == 0.0


def test_dice_both_empty_is_nan():
    z = np.zeros((5, 5, 5), bool)
    assert math.isnan(dice_score(z, z))


def test_dice_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(5, 4\)"):
        dice_score(np.ones((4, 5)), np.ones((5, 4)))


# ---------------------------------------------------------------------------
# Surface extraction
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(9, 11), (5, 6, 7), (13,)])
@pytest.mark.parametrize("seed", range(4))
def test_surface_matches_loop_reference(shape, seed):
    rng = np.random.default_rng(100 + seed)
    m = random_blobby_mask(rng, shape, rng.uniform(0.2, 0.9))
    np.testing.assert_array_equal(surface_mask(m), ref_surface(m))


def test_surface_border_pixels_count_as_surface():
    m = np.ones((4, 5), bool)
    s = surface_mask(m)
    expected = np.ones((4, 5), bool)
    expected[1:-1, 1:-1] = False
    np.testing.assert_array_equal(s, expected)


# ---------------------------------------------------------------------------
# Hausdorff: brute-force comparisons
# ---------------------------------------------------------------------------

CASES = [
    ((16, 18), None),
    ((16, 18), (0.7, 2.3)),
    ((7, 8, 9), None),
    ((7, 8, 9), (2.5, 0.8, 1.3)),
]


@pytest.mark.parametrize("percentile", [100, 95])
@pytest.mark.parametrize(("shape", "spacing"), CASES)
@pytest.mark.parametrize("seed", range(4))
def test_hausdorff_matches_bruteforce(shape, spacing, percentile, seed):
    rng = np.random.default_rng(1000 + seed)
    a = random_blobby_mask(rng, shape, rng.uniform(0.02, 0.5))
    b = random_blobby_mask(rng, shape, rng.uniform(0.02, 0.5))
    got = hausdorff_distance(a, b, percentile=percentile, spacing=spacing)
    want = ref_hausdorff(a, b, percentile=percentile, spacing=spacing)
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("percentile", [100, 95, 50])
def test_hausdorff_disjoint_blobs_bruteforce(percentile):
    # Structured case with sizeable interiors (interior voxels must be ignored).
    a = np.zeros((20, 20), bool)
    b = np.zeros((20, 20), bool)
    a[2:10, 3:12] = True
    b[8:19, 10:17] = True
    b[12:15, 12:15] = False  # a hole: its rim is surface too
    for spacing in (None, (1.0, 3.0)):
        got = hausdorff_distance(a, b, percentile=percentile, spacing=spacing)
        want = ref_hausdorff(a, b, percentile=percentile, spacing=spacing)
        assert got == pytest.approx(want, rel=1e-12)


# ---------------------------------------------------------------------------
# Hausdorff: hand-computed cases
# ---------------------------------------------------------------------------


def test_two_single_pixels():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[4, 2] = True
    b[4, 5] = True
    assert hausdorff_distance(a, b) == pytest.approx(3.0)
    assert hausdorff_distance(a, b, percentile=95) == pytest.approx(3.0)
    # spacing on axis 1 scales the distance
    assert hausdorff_distance(a, b, spacing=(1.0, 0.5)) == pytest.approx(1.5)
    assert hausdorff_distance(a, b, spacing=(7.0, 2.0)) == pytest.approx(6.0)


def test_two_single_voxels_3d_diagonal():
    a = np.zeros((5, 5, 5), np.uint8)
    b = np.zeros((5, 5, 5), np.uint8)
    a[0, 0, 0] = 1
    b[1, 2, 2] = 1
    assert hausdorff_distance(a, b) == pytest.approx(3.0)
    assert hausdorff_distance(a, b, spacing=(2.0, 1.0, 1.0)) == pytest.approx(math.sqrt(12))


def test_square_vs_shifted_square():
    # 5x5 squares, the second shifted by 2 along axis 1. Every surface pixel of
    # one has a surface pixel of the other within distance 2, and the left
    # column of A is exactly 2 away from its nearest B surface pixel
    # (B's left column), so HD = 2.
    a = np.zeros((12, 12), bool)
    b = np.zeros((12, 12), bool)
    a[3:8, 2:7] = True
    b[3:8, 4:9] = True
    assert hausdorff_distance(a, b) == pytest.approx(2.0)
    assert hausdorff_distance(b, a) == pytest.approx(2.0)
    # anisotropic spacing along the shift axis
    assert hausdorff_distance(a, b, spacing=(1.0, 0.25)) == pytest.approx(0.5)


def test_identical_masks_zero():
    rng = np.random.default_rng(7)
    m = random_blobby_mask(rng, (6, 7, 8), 0.3)
    assert hausdorff_distance(m, m) == 0.0
    assert hausdorff_distance(m, m.astype(np.int16) * 3, percentile=95) == 0.0


def test_hd95_less_than_or_equal_hd():
    rng = np.random.default_rng(3)
    a = random_blobby_mask(rng, (20, 20), 0.1)
    b = random_blobby_mask(rng, (20, 20), 0.1)
    assert hausdorff_distance(a, b, 95) <= hausdorff_distance(a, b, 100)


# ---------------------------------------------------------------------------
# Hausdorff: edge cases and validation
# ---------------------------------------------------------------------------


def test_hausdorff_empty_is_nan():
    z = np.zeros((6, 6), bool)
    m = z.copy()
    m[2, 2] = True
    assert math.isnan(hausdorff_distance(z, z))
    assert math.isnan(hausdorff_distance(m, z))
    assert math.isnan(hausdorff_distance(z, m, percentile=95))


def test_hausdorff_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(3, 4, 5\).*\(3, 5, 4\)"):
        hausdorff_distance(np.ones((3, 4, 5)), np.ones((3, 5, 4)))


def test_hausdorff_bad_spacing():
    m = np.ones((4, 4), bool)
    with pytest.raises(ValueError, match="spacing"):
        hausdorff_distance(m, m, spacing=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="spacing"):
        hausdorff_distance(m, m, spacing=(1.0, 0.0))


def test_hausdorff_bad_percentile():
    m = np.ones((4, 4), bool)
    with pytest.raises(ValueError, match="percentile"):
        hausdorff_distance(m, m, percentile=101)


# ---------------------------------------------------------------------------
# Property-based tests
# ---------------------------------------------------------------------------

small_shapes = st.one_of(
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
    hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=5),
)


@st.composite
def mask_pairs(draw):
    shape = draw(small_shapes)
    a = draw(hnp.arrays(np.bool_, shape))
    b = draw(hnp.arrays(np.bool_, shape))
    return a, b


@settings(max_examples=60, deadline=None)
@given(mask_pairs())
def test_property_dice(pair):
    a, b = pair
    d = dice_score(a, b)
    if not a.any() and not b.any():
        assert math.isnan(d)
        return
    assert 0.0 <= d <= 1.0
    assert d == dice_score(b, a)
    assert d == pytest.approx(ref_dice(a, b), abs=1e-12)
    if a.any():
        assert dice_score(a, a) == 1.0


@settings(max_examples=60, deadline=None)
@given(mask_pairs(), st.sampled_from([100, 95]))
def test_property_hausdorff(pair, percentile):
    a, b = pair
    h_ab = hausdorff_distance(a, b, percentile=percentile)
    h_ba = hausdorff_distance(b, a, percentile=percentile)
    if not a.any() or not b.any():
        assert math.isnan(h_ab) and math.isnan(h_ba)
        return
    assert h_ab == pytest.approx(h_ba, abs=1e-12)  # symmetric
    assert h_ab >= 0.0
    assert hausdorff_distance(a, a, percentile=percentile) == 0.0
    assert h_ab == pytest.approx(ref_hausdorff(a, b, percentile=percentile), abs=1e-9)


# ---------------------------------------------------------------------------
# volume_metrics
# ---------------------------------------------------------------------------


def test_volume_metrics_three_classes():
    target = np.zeros((4, 6, 6), np.int64)
    pred = np.zeros((4, 6, 6), np.int64)
    target[1:3, 1:3, 1:3] = 1  # 8 voxels
    pred[1:3, 1:3, 1:4] = 1  # 12 voxels, overlap 8
    # class 2: present in target only -> dice 0, hd95 the volume's diagonal sqrt(4^2 + 6^2 + 6^2)
    target[0, 5, 5] = 2
    out = volume_metrics(pred, target, num_classes=3)
    assert set(out) == {"dice", "hd95"}
    assert out["dice"].shape == (2,)
    assert out["hd95"].shape == (2,)
    assert out["dice"][0] == pytest.approx(2 * 8 / 20)
    assert out["dice"][1] == 0.0
    assert out["hd95"][0] == pytest.approx(ref_hausdorff(pred == 1, target == 1, percentile=95))
    assert out["hd95"][1] == pytest.approx(math.sqrt(16 + 36 + 36))

    # with spacing, and a class missing from both -> dice NaN as well
    out4 = volume_metrics(pred, target, num_classes=4, spacing=(2.0, 1.0, 0.5))
    assert out4["dice"].shape == (3,)
    assert math.isnan(out4["dice"][2]) and math.isnan(out4["hd95"][2])
    assert out4["hd95"][0] == pytest.approx(
        ref_hausdorff(pred == 1, target == 1, percentile=95, spacing=(2.0, 1.0, 0.5))
    )
    assert out4["hd95"][1] == pytest.approx(math.sqrt(8**2 + 6**2 + 3**2))  # in mm


def test_volume_metrics_2d_perfect():
    lab = np.array([[0, 1, 1], [2, 2, 0], [0, 0, 2]])
    out = volume_metrics(lab, lab.copy(), num_classes=3)
    np.testing.assert_array_equal(out["dice"], [1.0, 1.0])
    np.testing.assert_array_equal(out["hd95"], [0.0, 0.0])


def test_volume_metrics_chooses_metrics_and_options():
    rng = np.random.default_rng(12)
    target = np.zeros((4, 7, 7), np.int64)
    pred = np.zeros_like(target)
    target[random_blobby_mask(rng, target.shape, 0.1)] = 1
    pred[random_blobby_mask(rng, target.shape, 0.1)] = 1
    spacing = (2.0, 1.0, 0.5)
    out = volume_metrics(pred, target, 2, spacing, metrics=("hd95", "dice", "hd95"))
    assert list(out) == ["hd95", "dice"]  # the order asked for, duplicates dropped
    assert out["dice"][0] == pytest.approx(ref_dice(pred == 1, target == 1))
    # options of a metric go to its function only: HD at another percentile
    hd = volume_metrics(pred, target, 2, spacing, metrics=["hd95"], options={"hd95": {"percentile": 100}})
    assert hd["hd95"][0] == pytest.approx(ref_hausdorff(pred == 1, target == 1, 100, spacing))
    assert hd["hd95"][0] >= out["hd95"][0]
    # options of a registered metric that is not computed are ignored; an unknown name is an error
    ignored = volume_metrics(pred, target, 2, spacing, options={"surface_dice": {"tolerance": 2.0}})
    assert set(ignored) == {"dice", "hd95"} and ignored["hd95"][0] == out["hd95"][0]
    with pytest.raises(KeyError, match="unknown metric 'hd99'"):
        volume_metrics(pred, target, 2, metrics=("hd99",))
    with pytest.raises(KeyError, match="unknown metric 'dcie'"):
        volume_metrics(pred, target, 2, options={"dcie": {}})
    with pytest.raises(ValueError, match="no metric"):
        volume_metrics(pred, target, 2, metrics=())


def test_volume_metrics_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        volume_metrics(np.zeros((3, 3), int), np.zeros((3, 4), int), num_classes=2)


# ---------------------------------------------------------------------------
# nanmean_or_nan
# ---------------------------------------------------------------------------


def test_nanmean_or_nan():
    assert nanmean_or_nan([1.0, float("nan"), 3.0]) == pytest.approx(2.0)
    assert nanmean_or_nan(np.array([4.0])) == 4.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(nanmean_or_nan([float("nan"), float("nan")]))
        assert math.isnan(nanmean_or_nan([]))
        assert math.isnan(nanmean_or_nan(np.full(3, np.nan)))


# ---------------------------------------------------------------------------
# Optional cross-check against medpy
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "spacing"), CASES)
def test_matches_medpy(shape, spacing):
    medpy_binary = pytest.importorskip("medpy.metric.binary")
    rng = np.random.default_rng(55)
    for _ in range(3):
        a = random_blobby_mask(rng, shape, 0.2)
        b = random_blobby_mask(rng, shape, 0.2)
        if not a.any() or not b.any():
            continue
        assert hausdorff_distance(a, b, 100, spacing) == pytest.approx(
            medpy_binary.hd(a, b, voxelspacing=spacing), rel=1e-9
        )
        assert hausdorff_distance(a, b, 95, spacing) == pytest.approx(
            medpy_binary.hd95(a, b, voxelspacing=spacing), rel=1e-9
        )
