"""Surface distances are functions of voxel offsets: translation invariant and exact on the lattice.

The reference is exact rational arithmetic (fractions): a surface voxel is within the tolerance
when the squared scaled offset to some surface voxel of the other mask is <= tolerance squared.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from alstrategies.metrics import hausdorff_distance, surface_dice, surface_distances, surface_mask

SPACING = (1.5, 0.8)  # 0.8 has no exact binary representation
TOLERANCE = 1.6  # = 2 x 0.8: distances at exactly the tolerance occur


def rectangles(pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping rectangles, the pair shifted right by ``pad`` columns."""
    a = np.zeros((12, 14 + pad), dtype=bool)
    b = np.zeros_like(a)
    a[2:8, pad + 2 : pad + 9] = True
    b[4:10, pad + 4 : pad + 12] = True
    return a, b


def exact_surface_dice(a: np.ndarray, b: np.ndarray, spacing, tolerance) -> Fraction:
    sp = [Fraction(str(s)) for s in spacing]
    tol2 = Fraction(str(tolerance)) ** 2
    sa, sb = np.argwhere(surface_mask(a)), np.argwhere(surface_mask(b))

    def within(points, others) -> int:
        count = 0
        for p in points:
            best = min(sum(((int(p[k]) - int(q[k])) * sp[k]) ** 2 for k in range(len(sp))) for q in others)
            count += best <= tol2
        return count

    return Fraction(within(sa, sb) + within(sb, sa), len(sa) + len(sb))


def test_surface_dice_does_not_depend_on_where_the_masks_lie():
    values = [surface_dice(*rectangles(pad), SPACING, tolerance=TOLERANCE) for pad in range(6)]
    expected = exact_surface_dice(*rectangles(0), SPACING, TOLERANCE)
    assert values == [pytest.approx(float(expected), abs=1e-15)] * 6
    # the tolerance sits on the lattice: the exact value counts the voxels at 1.6 as within
    below = exact_surface_dice(*rectangles(0), SPACING, 1.5999)
    assert expected > below


def test_distances_are_bitwise_translation_invariant_and_exact_on_an_axis():
    base = [np.sort(d) for d in surface_distances(*rectangles(0), SPACING)]
    for pad in range(1, 6):
        shifted = [np.sort(d) for d in surface_distances(*rectangles(pad), SPACING)]
        for x, y in zip(base, shifted):
            np.testing.assert_array_equal(x, y)
    # two voxels apart along the second axis: exactly 2 x 0.8 in floating point
    a = np.zeros((3, 40), dtype=bool)
    b = np.zeros_like(a)
    a[1, 37] = True
    b[1, 35] = True
    d_ab, d_ba = surface_distances(a, b, SPACING)
    assert d_ab[0] == 2 * 0.8 == TOLERANCE and d_ba[0] == TOLERANCE


def test_equal_length_offsets_fall_on_one_side_of_the_tolerance():
    # 3-4-5 at an isotropic 1.1 mm: the offset (3, 4) is exactly 5.5 mm long, but its floating-point
    # length is 5.500000000000001; the relative slack keeps it within a tolerance of 5.5
    for shift in range(4):
        a = np.zeros((12, 16), dtype=bool)
        a[1, 1 + shift] = True
        b = np.zeros_like(a)
        b[4, 5 + shift] = True
        assert surface_dice(a, b, (1.1, 1.1), tolerance=5.5) == 1.0
        assert surface_dice(a, b, (1.1, 1.1), tolerance=5.49) == 0.0


def test_hd95_is_translation_invariant():
    values = {hausdorff_distance(*rectangles(pad), 95, SPACING) for pad in range(6)}
    assert len(values) == 1
