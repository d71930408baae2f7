"""KiTS19 loader on written fixtures in the official layout (axial axis first): axes, HU window,
tumour merge, empty-slice subsampling, the seeded case split, spacing, and every bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import nibabel
import numpy as np
import pytest
from scipy import ndimage

from alstrategies.data.kits19 import load_kits19
from alstrategies.data.notices import DatasetWarning
from alstrategies.data.volumes import DatasetError

SPACING = (2.5, 0.75, 0.625)  # z, y, x in mm, as the KiTS19 headers store them
HEIGHT, WIDTH = 40, 48
# One constant HU value per slice: 0 below the window, 1 above it, distinct values inside it.
LEVELS = [-1000.0, 2000.0, 112.5, 0.0, 304.0, 150.0, 250.0, -30.0]
FOREGROUND = (1, 2, 3, 4)  # slices with kidney or tumour; the rest have none


def _window(hu: float) -> float:
    return min(max((hu + 79.0) / 383.0, 0.0), 1.0)


def _save(path: Path, array: np.ndarray, zooms=SPACING) -> None:
    image = nibabel.Nifti1Image(array, np.diag([*zooms, 1.0]))
    image.header.set_zooms((*zooms, *[1.0] * (array.ndim - 3)))
    nibabel.save(image, str(path))


def _segmentation(depth: int, case: int) -> np.ndarray:
    label = np.zeros((depth, HEIGHT, WIDTH), np.uint8)
    label[1, 10:20, 12:30] = 1
    label[2, 8 + case % 3 : 30, 6:20] = 1
    label[2, 14:18, 10:16] = 2  # tumour inside the kidney
    label[3, 5:35, 30:44] = 1  # asymmetric: a swapped H/W would not match
    label[4, 20:26, 40:46] = 2  # tumour only
    return label


def slice_three_ramp() -> np.ndarray:
    """An in-plane ramp (0 to 125 HU, inside the window) added to slice 3: shows swapped H/W."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    return 2.0 * y + x


def _case_depth(case: int) -> int:
    return 6 + case % 3  # 2, 3 or 4 slices without foreground


def _kits_fixture(root: Path, cases=range(10), nested: bool = True) -> Path:
    base = root / "data" if nested else root
    for case in cases:
        folder = base / f"case_{case:05d}"
        folder.mkdir(parents=True)
        depth = _case_depth(case)
        image = np.broadcast_to(np.asarray(LEVELS[:depth], np.float32)[:, None, None], (depth, HEIGHT, WIDTH))
        image = image + (slice_three_ramp() * (np.arange(depth) == 3)[:, None, None])
        _save(folder / "imaging.nii.gz", image.astype(np.float32))
        _save(folder / "segmentation.nii.gz", _segmentation(depth, case))
    return root


@pytest.fixture
def kits(tmp_path):
    return _kits_fixture(tmp_path / "kits19")


def _groups(data) -> dict[str, np.ndarray]:
    """Pool slice indices per case."""
    return {name: np.flatnonzero(data.pool_groups == name) for name in np.unique(data.pool_groups)}


def test_axes_window_spacing_and_original_size_labels(kits):
    data = load_kits19(str(kits), image_size=16, empty_slice_fraction=1.0, merge_tumour=False)
    assert data.name == "kits19" and data.class_names == ["kidney", "tumour"]
    assert data.pool_images.shape[1:] == (1, 16, 16) and data.pool_images.dtype == np.float32
    groups = _groups(data)
    assert len(groups) == 8 and len(data.test_volumes) == 2  # 80/20 of ten cases
    for name, rows in groups.items():
        case = int(name.removeprefix("case_"))
        depth = _case_depth(case)
        assert rows.size == depth  # every axial slice (the first axis) is a pool slice
        # slice k is the constant window(LEVELS[k]): only the first axis can give these values
        expected = np.asarray([_window(v) for v in LEVELS[:depth]], np.float32)[:, None, None] * np.ones(
            (16, 16)
        )
        ramp = (slice_three_ramp() + 79.0) / 383.0  # 0 HU plus the ramp, inside the window
        expected[3] = ndimage.zoom(ramp, (16 / HEIGHT, 16 / WIDTH), order=1, grid_mode=False)
        np.testing.assert_allclose(data.pool_images[rows, 0], expected, atol=1e-6)
        source = _segmentation(depth, case)
        zoomed = ndimage.zoom(source, (1, 16 / HEIGHT, 16 / WIDTH), order=0, grid_mode=False)
        assert np.array_equal(data.pool_labels[rows], zoomed)
    assert data.pool_images[groups[next(iter(groups))][0]].max() == 0.0  # -1000 HU clips to 0
    np.testing.assert_allclose(_window(112.5), 0.5)
    for volume in data.test_volumes:
        case = int(volume.name.removeprefix("case_"))
        depth = _case_depth(case)
        assert volume.image.shape == (depth, 16, 16)
        assert volume.label.shape == (depth, HEIGHT, WIDTH)  # evaluation at the original size
        assert np.array_equal(volume.label, _segmentation(depth, case))
        assert volume.spacing == SPACING
        np.testing.assert_allclose(volume.image[:, 0, 0], [_window(v) for v in LEVELS[:depth]], atol=1e-6)


def test_custom_hu_window(kits):
    data = load_kits19(str(kits), image_size=16, empty_slice_fraction=1.0, hu_min=0.0, hu_max=200.0)
    volume = data.test_volumes[0]
    expected = [min(max(v / 200.0, 0.0), 1.0) for v in LEVELS[: volume.image.shape[0]]]
    np.testing.assert_allclose(volume.image[:, 0, 0], expected, atol=1e-6)  # 112.5 -> 0.5625, 150 -> 0.75


def test_tumour_merge(kits):
    merged = load_kits19(str(kits), image_size=16, empty_slice_fraction=1.0)
    separate = load_kits19(str(kits), image_size=16, empty_slice_fraction=1.0, merge_tumour=False)
    assert merged.class_names == ["kidney"] and merged.num_classes == 2 and separate.num_classes == 3
    assert set(np.unique(merged.pool_labels)) == {0, 1}
    assert set(np.unique(separate.pool_labels)) == {0, 1, 2}
    assert np.array_equal(merged.pool_labels, np.minimum(separate.pool_labels, 1))
    for a, b in zip(merged.test_volumes, separate.test_volumes, strict=True):
        assert a.name == b.name and np.array_equal(a.label, np.minimum(b.label, 1))
        assert 2 in b.label and 2 not in a.label


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.7])
def test_empty_slice_subsampling_count_and_determinism(kits, fraction):
    data = load_kits19(str(kits), image_size=16, empty_slice_fraction=fraction)
    again = load_kits19(str(kits), image_size=16, empty_slice_fraction=fraction)
    assert np.array_equal(data.pool_images, again.pool_images)
    assert np.array_equal(data.pool_groups, again.pool_groups)
    empty_values = {round(_window(v), 6) for k, v in enumerate(LEVELS) if k not in FOREGROUND}
    for name, rows in _groups(data).items():
        depth = _case_depth(int(name.removeprefix("case_")))
        empty = depth - len(FOREGROUND)
        kept = int(np.floor(empty * fraction + 0.5))
        assert rows.size == len(FOREGROUND) + kept
        assert (data.pool_labels[rows].reshape(rows.size, -1).max(axis=1) > 0).sum() == len(FOREGROUND)
        values = [round(float(v), 6) for v in data.pool_images[rows, 0, 0, 0]]
        background = [v for v, lab in zip(values, data.pool_labels[rows], strict=True) if not lab.any()]
        assert len(set(background)) == kept and set(background) <= empty_values  # distinct empty slices
    for volume in data.test_volumes:  # evaluation keeps every slice
        assert volume.image.shape[0] == _case_depth(int(volume.name.removeprefix("case_")))


def test_seeded_case_split(kits):
    everything = {f"case_{c:05d}" for c in range(10)}
    splits = []
    for seed in range(5):
        data = load_kits19(str(kits), image_size=16, split_seed=seed, empty_slice_fraction=1.0)
        train, test = set(data.pool_groups.tolist()), {v.name for v in data.test_volumes}
        assert len(test) == 2 and len(train) == 8 and not train & test and train | test == everything
        splits.append(sorted(test))
        same = load_kits19(str(kits), image_size=16, split_seed=seed, empty_slice_fraction=1.0)
        assert sorted(v.name for v in same.test_volumes) == sorted(test)
    assert len({tuple(s) for s in splits}) > 1  # the seed changes the split
    data = load_kits19(str(kits), image_size=16, test_fraction=0.5)
    assert len(data.test_volumes) == 5 and data.info["train_cases"] == 5


def test_validation_cases_and_case_range(kits):
    test = load_kits19(str(kits), image_size=16, val_fraction=0.25)
    val = load_kits19(str(kits), image_size=16, val_fraction=0.25, evaluation="val")
    assert np.array_equal(test.pool_groups, val.pool_groups) and len(set(test.pool_groups)) == 6
    names = [{v.name for v in d.test_volumes} for d in (test, val)]
    assert len(names[0]) == 2 and len(names[1]) == 2 and not names[0] & names[1]
    assert not (names[0] | names[1]) & set(test.pool_groups.tolist())
    ranged = load_kits19(str(kits), image_size=16, first_case=3, last_case=7)
    used = set(ranged.pool_groups.tolist()) | {v.name for v in ranged.test_volumes}
    assert used == {f"case_{c:05d}" for c in range(3, 8)} and len(ranged.test_volumes) == 1


def test_flat_layout_environment_variable_and_unlabelled_cases(tmp_path, monkeypatch):
    root = _kits_fixture(tmp_path / "flat", nested=False)
    unlabelled = root / "case_00210"
    unlabelled.mkdir()
    _save(unlabelled / "imaging.nii.gz", np.zeros((3, HEIGHT, WIDTH), np.float32))
    monkeypatch.setenv("ALSTRATEGIES_KITS19_ROOT", str(root))
    data = load_kits19(image_size=16)  # 210 is outside the default range 0-209
    assert len(set(data.pool_groups.tolist())) + len(data.test_volumes) == 10
    with pytest.warns(DatasetWarning, match=r"1 case folder\(s\) without segmentation.nii.gz \(case_00210\)"):
        wide = load_kits19(image_size=16, last_case=299)
    assert len(set(wide.pool_groups.tolist())) + len(wide.test_volumes) == 10


def test_a_partial_copy_says_how_many_cases_it_found_used_and_skipped(tmp_path):
    root = _kits_fixture(tmp_path / "k", cases=range(11))
    with pytest.warns(DatasetWarning) as caught:
        data = load_kits19(str(root), image_size=16)
    (message,) = [str(w.message) for w in caught if "case(s) found" in str(w.message)]
    assert (
        message
        == data.info["cases"]
        == (
            f"KiTS19 {root} (cases 0-209): 11 case(s) found, 11 used (9 training, 2 test); "
            "skipped: 199 case number(s) of 0-209 without a folder (11-209)"
        )
    )
    (census,) = [w for w in caught if "case(s) found" in str(w.message)]
    shown = warnings.formatwarning(census.message, census.category, "kits19.py", 1)
    assert shown.startswith("alstrategies: warning: KiTS19") and shown.count("\n") == 1  # no source line
    complete = load_kits19(str(root), image_size=16, last_case=10, val_fraction=0.2)
    assert complete.info["cases"].endswith(
        "11 case(s) found, 9 used (7 training, 2 test), 2 not used (the val cases)"
    )


def test_missing_empty_and_unknown_layouts(tmp_path, monkeypatch):
    monkeypatch.delenv("ALSTRATEGIES_KITS19_ROOT", raising=False)
    with pytest.raises(DatasetError, match="no KiTS19 folder given.*neheller/kits19.*get_imaging"):
        load_kits19("")
    with pytest.raises(DatasetError, match="does not exist.*ALSTRATEGIES_KITS19_ROOT"):
        load_kits19(str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="is empty"):
        load_kits19(str(tmp_path))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "case_1").mkdir()  # not case_XXXXX
    with pytest.raises(DatasetError, match="matches no KiTS19 layout.*case_XXXXX/imaging.nii.gz"):
        load_kits19(str(tmp_path))
    root = _kits_fixture(tmp_path / "k", cases=range(3))
    with pytest.raises(DatasetError, match="no case_XXXXX folder with segmentation.nii.gz between cases 50"):
        load_kits19(str(root), first_case=50, last_case=60)
    (root / "data/case_00001/imaging.nii.gz").unlink()
    with pytest.raises(DatasetError, match="case_00001/imaging.nii.gz is missing.*get_imaging"):
        load_kits19(str(root))


def _break(
    root: Path, case: int, file: str, array: np.ndarray | None = None, raw: bytes | None = None
) -> Path:
    path = root / "data" / f"case_{case:05d}" / file
    if raw is not None:
        path.write_bytes(raw)
    else:
        _save(path, array)
    return path


def test_bad_files_are_named(kits):
    depth = _case_depth(4)
    good = _segmentation(depth, 4)
    path = kits / "data/case_00004/imaging.nii.gz"
    path.write_bytes(path.read_bytes()[:60])  # truncated
    with pytest.raises(DatasetError, match="case_00004/imaging.nii.gz is corrupt or truncated"):
        load_kits19(str(kits), image_size=16)
    _break(kits, 4, "imaging.nii.gz", raw=b"not a nifti file at all")
    with pytest.raises(DatasetError, match="case_00004/imaging.nii.gz is corrupt or truncated"):
        load_kits19(str(kits), image_size=16)
    _break(kits, 4, "imaging.nii.gz", np.zeros((depth, HEIGHT, WIDTH - 1), np.float32))
    with pytest.raises(
        DatasetError, match=rf"case_00004/segmentation.nii.gz: image shape \({depth}, 40, 47\) differs"
    ):
        load_kits19(str(kits), image_size=16)
    image = np.zeros((depth, HEIGHT, WIDTH), np.float32)
    _break(kits, 4, "imaging.nii.gz", image)
    bad = good.copy()
    bad[0, 0, 0] = 3
    _break(kits, 4, "segmentation.nii.gz", bad)
    with pytest.raises(
        DatasetError,
        match=r"case_00004/segmentation.nii.gz: label values \[3\] outside the expected \{0, 1, 2\}",
    ):
        load_kits19(str(kits), image_size=16)
    _break(kits, 4, "segmentation.nii.gz", good.astype(np.float32) * 0.5)
    with pytest.raises(
        DatasetError, match=r"segmentation.nii.gz: label volume holds non-integer values such as \[0.5\]"
    ):
        load_kits19(str(kits), image_size=16)
    _break(kits, 4, "segmentation.nii.gz", good)
    image[2, 3, 3] = np.nan
    _break(kits, 4, "imaging.nii.gz", image)
    with pytest.raises(DatasetError, match="case_00004.*NaN"):
        load_kits19(str(kits), image_size=16)
    _break(kits, 4, "imaging.nii.gz", np.zeros((depth, HEIGHT, WIDTH, 2), np.float32))
    with pytest.raises(
        DatasetError,
        match=rf"imaging.nii.gz: expected a 3D volume, got an array of shape \({depth}, 40, 48, 2\)",
    ):
        load_kits19(str(kits), image_size=16)


def test_bad_options(kits):
    root = str(kits)
    for options, message in (
        ({"image_size": 20}, "multiple of 16"),
        ({"evaluation": "train"}, "'test' or 'val'"),
        ({"evaluation": "val"}, "needs data.val_fraction > 0"),
        ({"hu_min": 300.0, "hu_max": 100.0}, "hu_min must be below"),
        ({"empty_slice_fraction": 1.5}, "empty_slice_fraction"),
        ({"test_fraction": 1.0}, "test_fraction"),
    ):
        with pytest.raises(DatasetError, match=message):
            load_kits19(root, **options)


def test_cache_entry_only_for_a_successful_build(kits, tmp_path):
    from alstrategies.config import load_config
    from alstrategies.data import load_dataset

    cache_dir = tmp_path / "cache"
    config = {"name": "kits19", "root": str(kits), "image_size": 16, "cache_dir": str(cache_dir)}
    (kits / "data/case_00003/segmentation.nii.gz").write_bytes(b"\x1f\x8b truncated")
    with pytest.raises(DatasetError, match="case_00003/segmentation.nii.gz is corrupt"):
        load_dataset(config)
    assert not cache_dir.exists() or not any(cache_dir.iterdir())  # nothing half-written
    _save(kits / "data/case_00003/segmentation.nii.gz", _segmentation(_case_depth(3), 3))
    first = load_dataset(config)
    (entry,) = list(cache_dir.iterdir())
    assert entry.name.startswith("kits19-") and first.info["cache"] == str(entry)
    assert first.test_volumes[0].spacing == SPACING and first.class_names == ["kidney"]
    # the TOML keys of the loader pass the config validation
    checked = load_config(None, ["data.name=kits19", "data.hu_min=-79", "data.merge_tumour=false"])
    assert checked["data"]["hu_min"] == -79.0


def test_nan_in_the_imaging_names_the_imaging(kits):
    depth = _case_depth(2)
    image = np.zeros((depth, HEIGHT, WIDTH), np.float32)
    image[1, 2, 3] = np.nan
    _save(kits / "data/case_00002/imaging.nii.gz", image)
    with pytest.raises(DatasetError, match=r"case_00002/imaging.nii.gz: image contains NaN or infinite"):
        load_kits19(str(kits), image_size=16)
