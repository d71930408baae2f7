"""SBC-AL's distance maps and consistency scores against slow, obviously correct references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import distance_transform_edt

from alstrategies.sbcal import boundary_consistency, consistency_score, distance_maps, structure_consistency
from alstrategies.sbcal.scores import distance_transform, hausdorff_distances, squared_edt, structure_terms


# -- slow references ------------------------------------------------------------------------
def brute_edt(mask: np.ndarray) -> np.ndarray:
    """Distance of every True pixel to the nearest False pixel, over all pixel pairs."""
    height, width = mask.shape
    out = np.zeros((height, width))
    background = [(i, j) for i in range(height) for j in range(width) if not mask[i, j]]
    for i in range(height):
        for j in range(width):
            if mask[i, j]:
                if background:
                    out[i, j] = min(math.hypot(i - y, j - x) for y, x in background)
                else:  # scipy's convention without any background pixel
                    out[i, j] = math.hypot(i + 1, j)
    return out


def reference_distance_maps(
    labels: np.ndarray, num_classes: int, include_background: bool = True
) -> np.ndarray:
    """DESIGN section 3, literally: scipy EDT per class mask inside a one-pixel frame of no class,
    divided by its maximum."""
    batch, height, width = labels.shape
    first = 0 if include_background else 1
    out = np.zeros((batch, num_classes - first, height, width))
    for b in range(batch):
        for c in range(first, num_classes):
            mask = labels[b] == c
            if mask.any():
                d = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
                out[b, c - first] = d / d.max()
    return out


def brute_hausdorff(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric Hausdorff distance between two non-empty pixel sets, over all pairs."""
    pa, pb = np.argwhere(a), np.argwhere(b)
    pairwise = np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1))
    return max(pairwise.min(axis=1).max(), pairwise.min(axis=0).max())


def reference_bcs(
    coarse: np.ndarray, refined: np.ndarray, num_classes: int, normalize: bool = True
) -> np.ndarray:
    batch, height, width = coarse.shape
    diagonal = math.sqrt(height**2 + width**2)
    out = np.zeros(batch)
    for b in range(batch):
        values = []
        for c in range(1, num_classes):
            a, r = coarse[b] == c, refined[b] == c
            if not a.any() and not r.any():
                values.append(0.0)
            elif a.any() != r.any():
                values.append(diagonal)
            else:
                values.append(brute_hausdorff(a, r))
        out[b] = np.mean(values) / (diagonal if normalize else 1.0)
    return out


def reference_scs(
    d_s: np.ndarray, d_o: np.ndarray, w_c: float, w_d: float, cosine: str = "standard"
) -> np.ndarray:
    out = []
    for s, o in zip(d_s, d_o, strict=True):
        s, o = s.ravel().astype(np.float64), o.ravel().astype(np.float64)
        dot = sum(float(x) * float(y) for x, y in zip(s, o, strict=True))
        norm_s = math.sqrt(sum(float(x) ** 2 for x in s))
        norm_o = math.sqrt(sum(float(x) ** 2 for x in o))
        zero_s, zero_o = not s.any(), not o.any()
        if zero_s and zero_o:
            q_cos, q_dice = -1.0, 0.0
        else:
            if zero_s or zero_o:
                q_cos = 0.0
            elif cosine == "standard":
                q_cos = -dot / (norm_s * norm_o)
            else:
                q_cos = -dot / (norm_s**2 * norm_o**2)
            q_dice = 1.0 - 2.0 * dot / (s.sum() + o.sum())
        out.append(w_c * q_cos + w_d * q_dice)
    return np.array(out)


def random_labels(
    rng: np.random.Generator, batch: int, height: int, width: int, num_classes: int
) -> np.ndarray:
    """Blobby label maps: a few random rectangles per class, some classes absent."""
    labels = np.zeros((batch, height, width), dtype=np.int64)
    for b in range(batch):
        for c in range(1, num_classes):
            if rng.random() < 0.2:
                continue
            for _ in range(rng.integers(1, 3)):
                y, x = rng.integers(0, height), rng.integers(0, width)
                h, w = rng.integers(1, height // 2 + 2), rng.integers(1, width // 2 + 2)
                labels[b, y : y + h, x : x + w] = c
    return labels


# -- exact EDT ----------------------------------------------------------------------------
def test_edt_matches_brute_force_and_scipy() -> None:
    rng = np.random.default_rng(0)
    for _ in range(60):
        height, width = rng.integers(1, 10, size=2)
        masks = rng.random((3, height, width)) < rng.random()
        out = distance_transform(masks)
        assert isinstance(out, np.ndarray) and out.dtype == np.float64
        for mask, got in zip(masks, out, strict=True):
            np.testing.assert_allclose(got, brute_edt(mask), rtol=1e-12, atol=1e-12)
            np.testing.assert_array_equal(got, distance_transform_edt(mask))  # bit for bit


@pytest.mark.parametrize(
    "mask",
    [
        np.ones((5, 7), bool),  # no background at all: scipy's virtual pixel at (-1, 0)
        np.zeros((4, 4), bool),
        np.eye(6, dtype=bool),
        np.pad(np.ones((1, 1), bool), 3),
        np.ones((1, 9), bool),
        np.ones((9, 1), bool),
        np.pad(np.ones((6, 6), bool), ((0, 1), (0, 0))),  # background in the last row only
        np.pad(np.ones((6, 6), bool), ((0, 0), (5, 0))),  # background in the first columns only
    ],
)
def test_edt_edge_cases(mask: np.ndarray) -> None:
    np.testing.assert_array_equal(distance_transform(mask), distance_transform_edt(mask))
    np.testing.assert_allclose(distance_transform(mask), brute_edt(mask), atol=1e-12)
    torch_out = distance_transform(torch.from_numpy(mask))
    assert isinstance(torch_out, torch.Tensor)
    np.testing.assert_allclose(torch_out.numpy(), distance_transform_edt(mask), rtol=1e-6)


def test_edt_large_distances_and_batches_of_mixed_masks() -> None:
    """A single background pixel makes every distance large (the loop runs to the far side)."""
    masks = np.ones((3, 40, 33), bool)
    masks[0, 0, 0] = False
    masks[1, 39, 32] = False
    masks[2, 17, 5] = False
    out = distance_transform(masks)
    for mask, got in zip(masks, out, strict=True):
        np.testing.assert_array_equal(got, distance_transform_edt(mask))
    squared = squared_edt(torch.from_numpy(masks))
    assert squared.dtype == torch.float32
    np.testing.assert_array_equal(squared.numpy(), np.rint(out**2))  # exact integers


# -- distance maps ------------------------------------------------------------------------
@pytest.mark.parametrize("include_background", [True, False])
def test_distance_maps_equal_scipy_numpy_and_torch(include_background: bool) -> None:
    rng = np.random.default_rng(1)
    labels = random_labels(rng, 12, 24, 20, 4)
    expected = reference_distance_maps(labels, 4, include_background)
    maps = 4 if include_background else 3
    out = distance_maps(labels, 4, include_background=include_background)
    assert isinstance(out, np.ndarray) and out.shape == (12, maps, 24, 20) and out.dtype == np.float64
    np.testing.assert_array_equal(out, expected)
    out_t = distance_maps(torch.from_numpy(labels), 4, include_background=include_background)
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float32
    np.testing.assert_allclose(out_t.numpy(), expected, rtol=1e-6, atol=1e-7)


def test_distance_maps_on_the_phantom() -> None:
    from alstrategies.data.synthetic import load_synthetic

    data = load_synthetic(image_size=48, train_patients=2, test_patients=1, slices_per_patient=8)
    labels = data.pool_labels
    np.testing.assert_array_equal(
        distance_maps(labels, 4), reference_distance_maps(labels.astype(np.int64), 4)
    )


def test_distance_maps_conventions() -> None:
    labels = np.zeros((3, 8, 8), dtype=np.int64)
    labels[0, 2:6, 2:6] = 2  # class 1 and 3 absent
    labels[1] = 1  # class 1 fills the image: its edge is its boundary (the frame)
    out = distance_maps(labels, 4, include_background=False)
    assert not out[0, 0].any() and not out[0, 2].any() and not out[2].any()
    assert out[0, 1].max() == 1.0 and out[0, 1].min() == 0.0
    i, j = np.arange(8)[:, None], np.arange(8)[None, :]
    ring = np.minimum(np.minimum(i + 1, 8 - i), np.minimum(j + 1, 8 - j))  # distance to the frame
    np.testing.assert_array_equal(out[1, 0], ring / 4.0)
    assert ((out >= 0) & (out <= 1)).all()
    with_background = distance_maps(labels, 4)
    np.testing.assert_array_equal(with_background[:, 1:], out)  # the foreground maps are the same
    np.testing.assert_array_equal(with_background[2, 0], ring / 4.0)  # an empty image: the frame
    assert not with_background[1, 0].any()  # no background pixel: all zero
    assert with_background[0, 0].max() == 1.0 and (with_background[0, 0][2:6, 2:6] == 0).all()


def test_distance_maps_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="B x H x W"):
        distance_maps(np.zeros((4, 4), dtype=np.int64), 3)
    with pytest.raises(ValueError, match="integer"):
        distance_maps(np.zeros((1, 4, 4)), 3)
    with pytest.raises(ValueError, match="outside"):
        distance_maps(np.full((1, 4, 4), 3), 3)
    with pytest.raises(TypeError):
        distance_maps([[[0]]], 2)  # type: ignore[arg-type]


# -- structure consistency ------------------------------------------------------------------
@pytest.mark.parametrize("cosine", ["standard", "paper"])
def test_structure_consistency_matches_explicit_sums(cosine: str) -> None:
    rng = np.random.default_rng(2)
    d_s = rng.random((5, 3, 6, 7)) * (rng.random((5, 3, 6, 7)) < 0.5)
    d_o = rng.random((5, 3, 6, 7))
    d_s[3] = 0.0  # exactly one all-zero
    d_s[4] = d_o[4] = 0.0  # both all-zero
    expected = reference_scs(d_s, d_o, 0.6, 0.4, cosine)
    got = structure_consistency(d_s, d_o, cosine=cosine)
    assert isinstance(got, np.ndarray) and got.shape == (5,)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    got_t = structure_consistency(
        torch.from_numpy(d_s).float(), torch.from_numpy(d_o).float(), 0.6, 0.4, cosine
    )
    assert isinstance(got_t, torch.Tensor) and got_t.dtype == torch.float32
    np.testing.assert_allclose(got_t.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        structure_consistency(d_s, d_o, w_c=1.0, w_d=0.0, cosine=cosine),
        reference_scs(d_s, d_o, 1.0, 0.0, cosine),
    )


def test_structure_conventions() -> None:
    zero = np.zeros((1, 2, 4, 4))
    some = np.ones((1, 2, 4, 4)) * 0.5
    q_cos, q_dice = structure_terms(zero, zero)
    assert q_cos[0] == -1.0 and q_dice[0] == 0.0
    for a, b in [(zero, some), (some, zero)]:
        q_cos, q_dice = structure_terms(a, b)
        assert q_cos[0] == 0.0 and q_dice[0] == 1.0
    q_cos, q_dice = structure_terms(some, some)  # identical maps: perfect cosine agreement
    assert q_cos[0] == pytest.approx(-1.0) and q_dice[0] == pytest.approx(0.5)
    q_cos, _ = structure_terms(some, some, cosine="paper")  # -sum(x^2) / (|x|^2)^2 = -1 / |x|^2
    assert q_cos[0] == pytest.approx(-1.0 / (0.25 * 32))
    assert structure_consistency(zero, zero)[0] == pytest.approx(-0.6)
    assert structure_consistency(zero, some)[0] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="cosine"):
        structure_consistency(zero, zero, cosine="squared")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shapes"):
        structure_consistency(zero, np.zeros((1, 3, 4, 4)))


# -- boundary consistency -------------------------------------------------------------------
def test_hausdorff_matches_all_pairwise_distances() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        height, width = rng.integers(2, 14, size=2)
        a = rng.random((4, height, width)) < rng.random() * 0.3
        b = rng.random((4, height, width)) < rng.random() * 0.3
        a[:, 0, 0] = b[:, -1, -1] = True  # non-empty
        got = hausdorff_distances(a, b)
        for k in range(4):
            assert got[k] == pytest.approx(brute_hausdorff(a[k], b[k]), rel=1e-6)
    a = np.zeros((2, 30, 40), bool)
    b = np.zeros((2, 30, 40), bool)
    a[0, 0, 0] = b[0, 29, 39] = True  # opposite corners: the largest distance there is
    a[1, 3:9, 3:9] = b[1, 3:9, 3:9] = True
    b[1, 20, 30] = True  # one far outlier
    got = hausdorff_distances(torch.from_numpy(a), torch.from_numpy(b))
    assert isinstance(got, torch.Tensor)
    assert got[0].item() == pytest.approx(math.hypot(29, 39), rel=1e-6)
    assert got[1].item() == pytest.approx(brute_hausdorff(a[1], b[1]), rel=1e-6)


@pytest.mark.parametrize("normalize", [True, False])
def test_boundary_consistency_matches_reference(normalize: bool) -> None:
    rng = np.random.default_rng(4)
    coarse = random_labels(rng, 10, 20, 18, 4)
    refined = coarse.copy()
    refined[rng.random(refined.shape) < 0.05] = 0
    refined[rng.random(refined.shape) < 0.01] = 2
    refined[7] = random_labels(rng, 1, 20, 18, 4)[0]
    refined[8] = 0  # every class that coarse has is missing in refined
    got = boundary_consistency(coarse, refined, 4, normalize=normalize)
    assert isinstance(got, np.ndarray) and got.shape == (10,) and got.dtype == np.float64
    np.testing.assert_allclose(got, reference_bcs(coarse, refined, 4, normalize), rtol=1e-6)
    got_t = boundary_consistency(torch.from_numpy(coarse), torch.from_numpy(refined), 4, normalize=normalize)
    assert isinstance(got_t, torch.Tensor)
    np.testing.assert_allclose(got_t.numpy(), reference_bcs(coarse, refined, 4, normalize), rtol=1e-6)


def test_boundary_consistency_conventions() -> None:
    height, width = 6, 8
    diagonal = math.hypot(height, width)
    coarse = np.zeros((4, height, width), dtype=np.int64)
    refined = np.zeros_like(coarse)
    coarse[1, 2:4, 2:4] = 1  # class 1 only in coarse: 1 (normalised); class 2 absent in both: 0
    coarse[2, 1, 1] = refined[2, 1, 1] = 1  # identical: 0
    coarse[3, 0, 0] = 1
    refined[3, 3, 4] = 1  # 5 pixels apart
    got = boundary_consistency(coarse, refined, 3)
    np.testing.assert_allclose(got, [0.0, 0.5, 0.0, 5.0 / diagonal / 2])
    got = boundary_consistency(coarse, refined, 3, normalize=False)
    np.testing.assert_allclose(got, [0.0, diagonal / 2, 0.0, 2.5])


# -- combination and kinds ------------------------------------------------------------------
def test_consistency_score_and_kinds() -> None:
    scs, bcs = np.array([0.1, -0.5]), np.array([0.3, 0.0])
    np.testing.assert_allclose(consistency_score(scs, bcs), 0.8 * scs + 0.2 * bcs)
    np.testing.assert_allclose(consistency_score(scs, bcs, w_s=0.5, w_b=0.5), 0.5 * scs + 0.5 * bcs)
    out = consistency_score(torch.tensor(scs), torch.tensor(bcs))
    assert isinstance(out, torch.Tensor)
    with pytest.raises(ValueError):
        consistency_score(scs, np.zeros(3))
    labels = np.zeros((2, 4, 4), dtype=np.uint8)
    labels[:, 1:3, 1:3] = 1
    assert isinstance(distance_maps(labels, 2), np.ndarray)
    assert isinstance(distance_maps(torch.from_numpy(labels), 2), torch.Tensor)
    assert isinstance(boundary_consistency(labels, labels, 2), np.ndarray)
    assert isinstance(
        boundary_consistency(torch.from_numpy(labels), torch.from_numpy(labels), 2), torch.Tensor
    )
