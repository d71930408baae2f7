"""Tests of the embedded procedural cardiac phantom ``alstrategies.data.synthetic``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alstrategies.data import synthetic
from alstrategies.data.synthetic import HARD_KINDS, load_synthetic
from alstrategies.types import SegmentationData, Volume

SMALL = dict(image_size=32, train_patients=6, test_patients=3, slices_per_patient=6)


@pytest.fixture(scope="module")
def default() -> SegmentationData:
    return load_synthetic()


def _patients(data: SegmentationData) -> list[str]:
    return list(dict.fromkeys(data.pool_groups.tolist()))


def _per_patient_kind(data: SegmentationData, key: str = "hard_kind") -> dict[str, str]:
    out = {}
    for name in _patients(data):
        values = set(data.info[key][data.pool_groups == name].tolist())
        assert len(values) == 1, f"{key} not constant within {name}"
        out[name] = values.pop()
    return out


def test_shapes_dtypes_and_metadata(default: SegmentationData) -> None:
    d = default
    assert d.name == "synthetic"
    assert d.class_names == ["RV", "MYO", "LV"]
    assert d.num_classes == 4
    assert d.pool_images.shape == (48 * 8, 1, 64, 64)
    assert d.pool_images.dtype == np.float32
    assert d.pool_labels.shape == (48 * 8, 64, 64)
    assert d.pool_labels.dtype == np.uint8
    assert d.pool_groups.shape == (48 * 8,)
    assert d.image_size == (64, 64)
    assert len(d.test_volumes) == 12
    for v in d.test_volumes:
        assert isinstance(v, Volume)
        assert v.image.shape == (8, 64, 64) and v.image.dtype == np.float32
        assert v.label.shape == (8, 64, 64) and v.label.dtype == np.uint8
        assert v.spacing == (10.0, 4.0, 4.0)
    assert isinstance(d.info["description"], str) and "\n" not in d.info["description"]
    assert d.info["hard_kinds"] == list(HARD_KINDS)
    assert d.info["hard"].dtype == bool and d.info["hard"].shape == (48 * 8,)
    assert d.info["hard_kind"].shape == (48 * 8,)
    assert len(d.info["test_hard_kind"]) == 12


def test_deterministic_and_seed_dependent() -> None:
    synthetic._build.cache_clear()
    a = load_synthetic(**SMALL, seed=7)
    synthetic._build.cache_clear()
    b = load_synthetic(**SMALL, seed=7)
    np.testing.assert_array_equal(a.pool_images, b.pool_images)
    np.testing.assert_array_equal(a.pool_labels, b.pool_labels)
    np.testing.assert_array_equal(a.info["hard_kind"], b.info["hard_kind"])
    for va, vb in zip(a.test_volumes, b.test_volumes, strict=True):
        np.testing.assert_array_equal(va.image, vb.image)
        np.testing.assert_array_equal(va.label, vb.label)
    c = load_synthetic(**SMALL, seed=8)
    assert not np.array_equal(a.pool_images, c.pool_images)
    assert not np.array_equal(a.pool_labels, c.pool_labels)
    assert not np.array_equal(a.test_volumes[0].image, c.test_volumes[0].image)


def test_patient_independent_of_patient_count() -> None:
    base = dict(image_size=32, slices_per_patient=5, hard_fraction=0.0, seed=3)
    few = load_synthetic(train_patients=3, test_patients=2, **base)
    many = load_synthetic(train_patients=7, test_patients=4, **base)
    np.testing.assert_array_equal(few.pool_images, many.pool_images[: 3 * 5])
    np.testing.assert_array_equal(few.pool_labels, many.pool_labels[: 3 * 5])
    for vf, vm in zip(few.test_volumes, many.test_volumes, strict=False):
        assert vf.name == vm.name
        np.testing.assert_array_equal(vf.image, vm.image)


def test_label_set_and_class_presence(default: SegmentationData) -> None:
    labels = np.concatenate([default.pool_labels] + [v.label for v in default.test_volumes])
    assert set(np.unique(labels).tolist()) == {0, 1, 2, 3}
    present = np.stack([(labels == c).any(axis=(1, 2)) for c in (1, 2, 3)], axis=1)
    assert present.all(axis=1).mean() >= 0.7  # every class in most slices
    assert present[:, 1:].mean() >= 0.95  # LV and MYO in (nearly) every slice
    assert (labels == 0).mean() > 0.8  # the heart is a small part of the field of view


def test_rv_shrinks_and_vanishes_toward_apex(default: SegmentationData) -> None:
    d = default
    depth = 8
    rv = (d.pool_labels == 1).reshape(-1, depth, 64, 64).sum(axis=(2, 3))
    lv = (d.pool_labels == 3).reshape(-1, depth, 64, 64).sum(axis=(2, 3))
    assert (rv[:, 0] > 0).all(), "RV present in every basal slice"
    assert (rv[:, -1] == 0).all(), "RV absent in every apical slice"
    assert (rv[:, -2] == 0).any()
    assert (rv[:, 0] > rv[:, depth // 2]).mean() > 0.9
    assert (lv[:, 0] > lv[:, -1]).all(), "LV shrinks toward the apex"
    for v in d.test_volumes:
        assert not (v.label[-1] == 1).any()


def test_intensity_range_and_per_volume_normalisation(default: SegmentationData) -> None:
    d = default
    images = [d.pool_images[d.pool_groups == n] for n in _patients(d)]
    images += [v.image for v in d.test_volumes]
    for img in images:
        assert np.isfinite(img).all()
        assert img.min() == pytest.approx(0.0, abs=1e-6)
        assert img.max() == pytest.approx(1.0, abs=1e-6)
        assert img.min() >= 0.0 and img.max() <= 1.0


def test_groups(default: SegmentationData) -> None:
    names = _patients(default)
    assert len(names) == 48
    values, counts = np.unique(default.pool_groups, return_counts=True)
    assert len(values) == 48 and (counts == 8).all()
    for i, name in enumerate(names):  # slices of a patient are contiguous, base to apex
        assert (default.pool_groups[i * 8 : (i + 1) * 8] == name).all()
    np.testing.assert_allclose(default.info["slice_position"][:8], np.linspace(0, 1, 8))


def test_test_patients_distinct_from_train(default: SegmentationData) -> None:
    d = default
    train_names = set(_patients(d))
    test_names = {v.name for v in d.test_volumes}
    assert len(test_names) == 12 and not train_names & test_names
    train_vols = d.pool_images[:, 0].reshape(48, 8, 64, 64)
    for v in d.test_volumes:
        diffs = np.abs(train_vols - v.image[None]).mean(axis=(1, 2, 3))
        assert diffs.min() > 0.01


@pytest.mark.parametrize(
    "n, fraction, expected",
    [(48, 0.2, 10), (12, 0.2, 3), (10, 0.0, 0), (10, 1.0, 10), (10, 0.01, 1), (1, 0.5, 1)],
)
def test_hard_count(n: int, fraction: float, expected: int) -> None:
    kinds = synthetic._hard_assignment(5, 0, n, fraction)
    assert sum(k != "" for k in kinds) == expected == min(n, math.ceil(fraction * n))


def test_hard_fraction_and_flags(default: SegmentationData) -> None:
    d = default
    kinds = _per_patient_kind(d)
    details = _per_patient_kind(d, "hard_detail")
    n_hard = sum(k != "" for k in kinds.values())
    assert n_hard == math.ceil(0.2 * 48)
    assert abs(n_hard / 48 - 0.2) <= 1 / 48
    assert set(kinds.values()) == {""} | set(HARD_KINDS)  # every kind represented
    np.testing.assert_array_equal(d.info["hard"], d.info["hard_kind"] != "")
    for name, kind in kinds.items():
        assert (kind == "") == (details[name] == "")
    test_kinds = d.info["test_hard_kind"]
    assert sum(k != "" for k in test_kinds) == math.ceil(0.2 * 12)
    assert set(test_kinds) <= {""} | set(HARD_KINDS)
    assert len(d.info["test_hard_detail"]) == 12


def test_hard_fraction_extremes() -> None:
    none = load_synthetic(**SMALL, hard_fraction=0.0)
    assert not none.info["hard"].any() and set(none.info["test_hard_kind"]) == {""}
    tiny = load_synthetic(**SMALL, hard_fraction=0.01)
    assert tiny.info["hard"].sum() == SMALL["slices_per_patient"]  # exactly one patient
    assert sum(k != "" for k in tiny.info["test_hard_kind"]) == 1
    full = load_synthetic(**SMALL, hard_fraction=1.0)
    assert full.info["hard"].all() and "" not in full.info["test_hard_kind"]


def _contrast(img: np.ndarray, lab: np.ndarray) -> float:
    return float(img[lab == 3].mean() - img[lab == 2].mean())


def test_low_contrast_cases_have_lower_contrast(default: SegmentationData) -> None:
    d = default
    kinds = _per_patient_kind(d)
    contrast = {
        n: _contrast(d.pool_images[d.pool_groups == n, 0], d.pool_labels[d.pool_groups == n]) for n in kinds
    }
    low = [contrast[n] for n, k in kinds.items() if k == "low_contrast"]
    normal = [contrast[n] for n, k in kinds.items() if k == ""]
    assert low and normal
    assert max(low) < min(normal)
    assert np.mean(low) < 0.6 * np.mean(normal)
    test_low = [
        _contrast(v.image, v.label)
        for v, k in zip(d.test_volumes, d.info["test_hard_kind"], strict=True)
        if k == "low_contrast"
    ]
    assert test_low and max(test_low) < min(normal)


def test_unusual_anatomy_is_outside_normal_range(default: SegmentationData) -> None:
    d = default
    details = _per_patient_kind(d, "hard_detail")

    def ratios(name: str) -> tuple[float, float]:
        lab = d.pool_labels[d.pool_groups == name]
        lv, myo, rv = ((lab == c).sum() for c in (3, 2, 1))
        return myo / lv, rv / lv

    normal = np.array([ratios(n) for n, k in details.items() if k == ""])
    unusual = {n: k for n, k in details.items() if k in ("dilated_lv", "hypertrophic", "large_rv")}
    assert unusual
    for name, detail in unusual.items():
        myo_lv, rv_lv = ratios(name)
        if detail == "dilated_lv":
            assert myo_lv < normal[:, 0].min()
        elif detail == "hypertrophic":
            assert myo_lv > normal[:, 0].max()
        else:
            assert rv_lv > normal[:, 1].max()


def test_hard_case_keeps_base_anatomy_for_appearance_kinds() -> None:
    """A low-contrast / artefact patient has the anatomy of its normal version, new pixels."""
    hard = load_synthetic(**SMALL, hard_fraction=1.0)
    normal = load_synthetic(**SMALL, hard_fraction=0.0)
    kinds = _per_patient_kind(hard)
    checked = 0
    for name, kind in kinds.items():
        m = hard.pool_groups == name
        assert not np.array_equal(hard.pool_images[m], normal.pool_images[m])
        if kind in ("low_contrast", "artefact"):
            np.testing.assert_array_equal(hard.pool_labels[m], normal.pool_labels[m])
            checked += 1
    assert checked >= 2


def test_cache_cannot_be_mutated() -> None:
    a = load_synthetic(**SMALL, seed=11)
    reference = load_synthetic(**SMALL, seed=11)
    a.pool_images[:] = -5.0
    a.pool_labels[:] = 9
    a.pool_groups[:] = "x"
    a.info["hard"][:] = True
    a.info["hard_kind"][:] = "bogus"
    a.info["test_hard_kind"].append("bogus")
    a.info["hard_kinds"].clear()
    a.test_volumes[0].image[:] = 7.0
    a.test_volumes[0].label[:] = 9
    a.test_volumes.clear()
    a.class_names.append("bogus")
    b = load_synthetic(**SMALL, seed=11)
    np.testing.assert_array_equal(b.pool_images, reference.pool_images)
    np.testing.assert_array_equal(b.pool_labels, reference.pool_labels)
    np.testing.assert_array_equal(b.pool_groups, reference.pool_groups)
    np.testing.assert_array_equal(b.info["hard"], reference.info["hard"])
    np.testing.assert_array_equal(b.info["hard_kind"], reference.info["hard_kind"])
    assert b.info["test_hard_kind"] == reference.info["test_hard_kind"]
    assert b.info["hard_kinds"] == list(HARD_KINDS)
    assert len(b.test_volumes) == SMALL["test_patients"]
    np.testing.assert_array_equal(b.test_volumes[0].image, reference.test_volumes[0].image)
    assert b.class_names == ["RV", "MYO", "LV"]
    assert b.pool_images.flags.writeable  # callers get their own writable copy


def test_image_size_128() -> None:
    d = load_synthetic(image_size=128, train_patients=2, test_patients=1, slices_per_patient=4)
    assert d.pool_images.shape == (8, 1, 128, 128)
    assert d.test_volumes[0].image.shape == (4, 128, 128)
    assert d.test_volumes[0].spacing == (10.0, 2.0, 2.0)
    assert set(np.unique(d.pool_labels).tolist()) == {0, 1, 2, 3}
    low = load_synthetic(image_size=64, train_patients=2, test_patients=1, slices_per_patient=4)
    # same anatomy at both resolutions: LV area in physical units agrees within 10 %
    area128 = (d.pool_labels == 3).sum() * 2.0**2
    area64 = (low.pool_labels == 3).sum() * 4.0**2
    assert area128 == pytest.approx(area64, rel=0.1)


def test_single_slice_volumes() -> None:
    d = load_synthetic(image_size=32, train_patients=2, test_patients=1, slices_per_patient=1)
    assert d.pool_images.shape == (2, 1, 32, 32)
    assert (d.pool_labels == 1).any()  # a single slice is basal


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(image_size=31), "image_size"),
        (dict(image_size=64.0), "image_size"),
        (dict(train_patients=0), "train_patients"),
        (dict(test_patients=0), "test_patients"),
        (dict(slices_per_patient=0), "slices_per_patient"),
        (dict(hard_fraction=-0.1), "hard_fraction"),
        (dict(hard_fraction=1.5), "hard_fraction"),
        (dict(hard_fraction=float("nan")), "hard_fraction"),
        (dict(hard_fraction="0.2"), "hard_fraction"),
        (dict(seed=-1), "seed"),
        (dict(train_patients=True), "train_patients"),
    ],
)
def test_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_synthetic(**kwargs)


def test_alstrategies_list_says_what_each_dataset_is() -> None:
    """The listing's line says what the data are, not how the loader caches them."""
    import re

    from alstrategies.registry import DATASETS

    lines = DATASETS.describe()
    assert "phantom" in lines["synthetic"]
    for name, line in lines.items():
        assert not re.search(r"\b(build|fetch|cache|returns?)\b", line.lower()), (name, line)
