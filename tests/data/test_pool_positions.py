"""Each pool slice's position in its volume: filled by every loader (ACDC's h5 names by their true
``_slice_Z``, not lexically), derived from the groups otherwise, and kept by the dataset cache."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from alstrategies.data import cache, load_synthetic
from alstrategies.data.acdc import h5_slice_positions, load_acdc
from alstrategies.data.volumes import case_volumes_data
from alstrategies.types import SegmentationData
from tests.data.test_acdc import _raw_fixture

#: Out of order, as in the real train_slices.list; a lexical sort would put slice_10 before slice_2.
NAMES = [
    "patient003_frame01_slice_10",
    "patient003_frame01_slice_2",
    "patient004_frame02_slice_1",
    "patient003_frame01_slice_1",
    "patient004_frame02_slice_3",
]


def _h5_folder(root: Path, names: list[str]) -> Path:
    rng = np.random.default_rng(0)
    (root / "data").mkdir(parents=True)

    def write(name: str, shape: tuple[int, ...]) -> None:
        with h5py.File(root / "data" / f"{name}.h5", "w") as handle:
            handle["image"] = rng.random(shape).astype(np.float32)
            handle["label"] = rng.integers(0, 4, shape).astype(np.uint8)

    for name in names:
        write(name, (20, 24))
    write("patient001_frame01", (3, 20, 24))
    (root / "test.list").write_text("patient001_frame01\n")
    (root / "train_slices.list").write_text("\n".join(names) + "\n")
    return root


def test_acdc_h5_positions_are_the_true_slice_numbers(tmp_path):
    data = load_acdc(str(_h5_folder(tmp_path, NAMES)), image_size=16)
    assert data.pool_groups.tolist() == [name.split("_slice")[0] for name in NAMES]  # pool order kept
    assert data.pool_positions.tolist() == [9, 1, 0, 0, 2]  # 1-based names: Z - 1
    assert data.pool_depths.tolist() == [10, 10, 3, 10, 3]


def test_h5_names_numbered_from_zero_or_without_a_slice_number():
    groups = ["a", "a", "b"]
    positions, depths = h5_slice_positions(["a_slice_0", "a_slice_11", "b_slice_4"], groups)
    assert positions.tolist() == [0, 11, 4] and depths.tolist() == [12, 12, 5]
    assert h5_slice_positions(["a_slice_0", "a_other"], ["a", "a_other"]) is None


def test_raw_acdc_positions_follow_the_volume(tmp_path):
    data = load_acdc(str(_raw_fixture(tmp_path, np.random.default_rng(0))), image_size=16)
    assert data.pool_positions.tolist() == [0, 1, 2] * 4 and (data.pool_depths == 3).all()


def _toy(empty_slice_fraction: float) -> SegmentationData:
    def read(name: str):
        index = int(name[-1])
        label = np.zeros((5, 8, 8), np.uint8)
        label[index : index + 2, 2:4, 2:4] = 1
        return np.full((5, 8, 8), index, np.float32), label, (1.0, 2.0, 3.0)

    options = {"image_size": 16, "seed": 0, "root": Path("somewhere"), "info": {}}
    return case_volumes_data(
        "toy", ["A"], read, ["c1", "c2"], ["c3"], empty_slice_fraction=empty_slice_fraction, **options
    )


def test_case_volumes_keep_the_index_in_the_full_volume_when_slices_are_subsampled():
    sparse = _toy(0.0)  # only the slices with foreground: 1-2 of c1, 2-3 of c2
    assert sparse.pool_positions.tolist() == [1, 2, 2, 3] and (sparse.pool_depths == 5).all()
    full = _toy(1.0)
    assert full.pool_positions.tolist() == [0, 1, 2, 3, 4] * 2 and (full.pool_depths == 5).all()


def test_the_cache_keeps_positions_and_depths(tmp_path):
    data = _toy(0.0)
    entry = cache.save(data, tmp_path / "entry")
    again = cache.load(entry)
    assert np.array_equal(again.pool_positions, data.pool_positions)
    assert np.array_equal(again.pool_depths, data.pool_depths)
    assert again.pool_positions.dtype == np.int64


def test_synthetic_positions_and_the_derived_default():
    data = load_synthetic(image_size=32, train_patients=2, test_patients=1, slices_per_patient=3)
    assert data.pool_positions.tolist() == [0, 1, 2, 0, 1, 2] and (data.pool_depths == 3).all()
    derived = SegmentationData("x", ["A"], data.pool_images, data.pool_labels, data.pool_groups, [])
    assert np.array_equal(derived.pool_positions, data.pool_positions)
    assert np.array_equal(derived.pool_depths, data.pool_depths)


def test_positions_outside_their_volume_are_refused():
    images, labels = np.zeros((2, 1, 4, 4), np.float32), np.zeros((2, 4, 4), np.uint8)
    groups = np.array(["a", "a"])
    with pytest.raises(ValueError, match="pool_positions < pool_depths"):
        SegmentationData("x", ["A"], images, labels, groups, [], pool_positions=[0, 2], pool_depths=[2, 2])
    with pytest.raises(ValueError, match="one value per pool slice"):
        SegmentationData("x", ["A"], images, labels, groups, [], pool_positions=[0], pool_depths=[2])
