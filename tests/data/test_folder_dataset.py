"""The generic folder loader: NIfTI and h5 pairs, label-value maps, slice axes, splits, intensity
options, the cache, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import h5py
import nibabel
import numpy as np
import pytest
from scipy import ndimage

from alstrategies.data.acdc import DatasetError as AcdcDatasetError
from alstrategies.data.folder import load_folder
from alstrategies.data.volumes import DatasetError
from alstrategies.errors import ConfigError

# MS-CMRSeg-style stored values: 600 RV, 200 myocardium, 500 LV blood pool
LABEL_MAP = {"600": 1, "200": 2, "500": 3}
CLASSES = ["RV", "MYO", "LV"]
ZOOMS = (1.25, 1.5, 8.0)  # x, y, z in the file
SHAPE = (40, 48, 5)  # x, y, z: five slices on the last axis
NAMES = [f"subject{i:02d}" for i in range(5)]


def _save_nifti(path: Path, array: np.ndarray, zooms=ZOOMS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = nibabel.Nifti1Image(array, np.diag([*zooms, 1.0]))
    image.header.set_zooms(zooms)
    nibabel.save(image, str(path))


def _raw_label(index: int) -> np.ndarray:
    """Stored values 0/200/500/600; slice z=0 and z=4 without foreground."""
    label = np.zeros(SHAPE, np.int16)
    label[5:25, 10:30, 1:4] = 200
    label[10:20, 15:25, 1:3] = 500
    label[28:36, 6 + index : 20, 2:4] = 600
    return label


def _image(index: int) -> np.ndarray:
    x, y, z = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in SHAPE), indexing="ij")
    return (100.0 + 3.0 * x + 0.5 * y + 40.0 * z + 10.0 * index).astype(np.float32)


def _nifti_fixture(root: Path) -> Path:
    for index, name in enumerate(NAMES):
        _save_nifti(root / "imagesTr" / f"{name}.nii.gz", _image(index))
        _save_nifti(root / "labelsTr" / f"{name}.nii.gz", _raw_label(index))
    (root / "imagesTr" / "._subject00.nii.gz").write_bytes(b"macOS resource fork")  # skipped
    return root


def _mapped(raw: np.ndarray) -> np.ndarray:
    out = np.zeros(raw.shape, np.uint8)
    for value, index in LABEL_MAP.items():
        out[raw == int(value)] = index
    return out


def _minmax(image: np.ndarray) -> np.ndarray:
    return (image - image.min()) / (image.max() - image.min())


def _h5_fixture(root: Path, separate_labels: bool = False) -> Path:
    rng = np.random.default_rng(3)
    (root / "cases").mkdir(parents=True)
    for index, name in enumerate(NAMES):
        image = rng.random((4, 32, 32)).astype(np.float32)
        label = np.zeros((4, 32, 32), np.uint8)
        label[1:3, 8 : 16 + index, 10:20] = 1
        label[2, 20:28, 4:12] = 2
        with h5py.File(root / "cases" / f"{name}.h5", "w") as handle:
            handle["img"] = image
            if not separate_labels:
                handle["seg"] = label
        if separate_labels:
            with h5py.File(root / "cases" / f"{name}_gt.h5", "w") as handle:
                handle["seg"] = label
    return root


def _read_h5(path: Path, key: str) -> np.ndarray:
    with h5py.File(path, "r") as handle:
        return np.asarray(handle[key])


@pytest.fixture
def nifti(tmp_path):
    return _nifti_fixture(tmp_path / "decathlon")


def _load(root: Path, **options):
    defaults = {"class_names": CLASSES, "label_map": LABEL_MAP, "image_size": 16}
    return load_folder(str(root), **{**defaults, **options})


def test_nifti_pairs_label_map_axes_spacing_and_minmax(nifti):
    data = _load(nifti, test_cases=["subject01", "subject03"])
    assert data.name == "folder" and data.class_names == CLASSES and data.num_classes == 4
    assert sorted(set(data.pool_groups.tolist())) == ["subject00", "subject02", "subject04"]
    assert data.pool_images.shape == (15, 1, 16, 16)  # 3 cases x 5 slices on the last axis
    assert set(np.unique(data.pool_labels)) == {0, 1, 2, 3}
    rows = np.flatnonzero(data.pool_groups == "subject02")
    expected_labels = np.moveaxis(_mapped(_raw_label(2)), -1, 0)
    zoomed = ndimage.zoom(expected_labels, (1, 16 / 40, 16 / 48), order=0, grid_mode=False)
    assert np.array_equal(data.pool_labels[rows], zoomed)
    expected_image = ndimage.zoom(
        np.moveaxis(_minmax(_image(2)), -1, 0), (1, 16 / 40, 16 / 48), order=1, grid_mode=False
    )
    np.testing.assert_allclose(data.pool_images[rows, 0], expected_image, atol=1e-5)
    assert [v.name for v in data.test_volumes] == ["subject01", "subject03"]
    volume = data.test_volumes[1]
    assert volume.image.shape == (5, 16, 16) and volume.label.shape == (5, 40, 48)
    assert np.array_equal(volume.label, np.moveaxis(_mapped(_raw_label(3)), -1, 0))
    assert volume.spacing == (8.0, 1.25, 1.5)  # (slice axis, then the other two in file order)


def test_slice_axis_and_integer_label_map_keys(nifti):
    data = _load(nifti, slice_axis=0, label_map={600: 1, 200: 2, 500: 3}, test_cases=["subject00"])
    assert data.pool_size == 4 * 40  # slices along the first file axis
    volume = data.test_volumes[0]
    assert volume.label.shape == (40, 48, 5) and volume.spacing == (1.25, 1.5, 8.0)
    assert np.array_equal(volume.label, _mapped(_raw_label(0)))


def test_label_map_to_background_and_default_identity_map(tmp_path, nifti):
    merged = _load(
        nifti, label_map={"200": 0, "500": 1, "600": 0}, class_names=["LV"], test_cases=["subject00"]
    )
    assert np.array_equal(merged.test_volumes[0].label, np.moveaxis(_raw_label(0) == 500, -1, 0))
    root = _h5_fixture(tmp_path / "h5")
    data = load_folder(
        str(root), images="cases/*.h5", labels="", image_key="img", label_key="seg", class_names=["a", "b"]
    )
    assert data.class_names == ["a", "b"] and set(np.unique(data.pool_labels)) == {0, 1, 2}


def test_h5_same_file_and_separate_label_files(tmp_path):
    root = _h5_fixture(tmp_path / "same")
    options = {"image_key": "img", "label_key": "seg", "class_names": ["x", "y"], "image_size": 32}
    data = load_folder(
        str(root), images="cases/*.h5", labels="", intensity="none", test_cases=["subject04"], **options
    )
    assert data.pool_size == 4 * 4  # default slice axis 0 for h5 (D x H x W)
    rows = np.flatnonzero(data.pool_groups == "subject01")
    source = root / "cases/subject01.h5"
    # stored intensities kept (intensity = none) and no zoom at 32 x 32: exact
    assert np.array_equal(data.pool_images[rows, 0], _read_h5(source, "img"))
    assert np.array_equal(data.pool_labels[rows], _read_h5(source, "seg"))
    (volume,) = data.test_volumes
    assert volume.spacing is None and volume.label.shape == (4, 32, 32)
    separate = _h5_fixture(tmp_path / "separate", separate_labels=True)
    split = load_folder(
        str(separate),
        images="cases/*.h5",
        labels="{dir}/{stem}_gt.h5",
        intensity="none",
        test_cases=["subject04"],
        **options,
    )
    assert sorted(set(split.pool_groups.tolist())) == NAMES[:4]  # the *_gt.h5 files are not images
    assert np.array_equal(split.pool_labels, data.pool_labels)


def test_flat_folder_where_the_glob_also_matches_labels(tmp_path):
    root = tmp_path / "flat"
    for index, name in enumerate(NAMES):
        _save_nifti(root / f"{name}.nii", _image(index))
        _save_nifti(root / f"{name}_seg.nii", _raw_label(index))
    data = _load(root, images="*.nii", labels="{stem}_seg.nii")
    names = set(data.pool_groups.tolist()) | {v.name for v in data.test_volumes}
    assert names == set(NAMES)


def test_explicit_and_seeded_splits(nifti):
    train_only = _load(nifti, train_cases=["subject00", "subject01"])
    assert sorted(set(train_only.pool_groups.tolist())) == ["subject00", "subject01"]
    assert [v.name for v in train_only.test_volumes] == ["subject02", "subject03", "subject04"]
    both = _load(nifti, train_cases=["subject00"], test_cases=["subject04"])  # the rest unused
    assert set(both.pool_groups.tolist()) == {"subject00"} and [v.name for v in both.test_volumes] == [
        "subject04"
    ]
    tests = []
    for seed in range(6):
        data = _load(nifti, split_seed=seed)
        train, test = set(data.pool_groups.tolist()), {v.name for v in data.test_volumes}
        assert len(test) == 1 and len(train) == 4 and train | test == set(NAMES)  # round(5 * 0.2)
        assert {v.name for v in _load(nifti, split_seed=seed).test_volumes} == test
        tests.append(test.pop())
    assert len(set(tests)) > 1
    assert len(_load(nifti, test_fraction=0.4).test_volumes) == 2


def test_window_intensity_and_empty_slices(nifti):
    windowed = _load(nifti, window=[150, 250], test_cases=["subject00"], image_size=16)
    raw = np.moveaxis(_image(0), -1, 0)
    expected = ndimage.zoom(np.clip((raw - 150) / 100, 0, 1), (1, 16 / 40, 16 / 48), order=1, grid_mode=False)
    np.testing.assert_allclose(windowed.test_volumes[0].image, expected, atol=1e-5)
    sparse = _load(nifti, test_cases=["subject00"], empty_slice_fraction=0.5)
    for name in NAMES[1:]:
        rows = np.flatnonzero(sparse.pool_groups == name)
        assert rows.size == 3 + 1  # 3 slices with foreground, round(0.5 * 2) of the 2 empty ones
    again = _load(nifti, test_cases=["subject00"], empty_slice_fraction=0.5)
    assert np.array_equal(sparse.pool_images, again.pool_images)
    none = _load(nifti, test_cases=["subject00"], empty_slice_fraction=0.0)
    assert none.pool_size == 4 * 3 and all(label.any() for label in none.pool_labels)


def test_missing_empty_and_unmatched_folders(tmp_path, monkeypatch):
    monkeypatch.delenv("ALSTRATEGIES_FOLDER_ROOT", raising=False)
    with pytest.raises(DatasetError, match="no dataset folder given.*ALSTRATEGIES_FOLDER_ROOT"):
        load_folder("", class_names=CLASSES)
    with pytest.raises(DatasetError, match="dataset folder .*nowhere does not exist"):
        load_folder(str(tmp_path / "nowhere"), class_names=CLASSES)
    with pytest.raises(DatasetError, match="is empty"):
        load_folder(str(tmp_path), class_names=CLASSES)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"data.images = 'imagesTr/\*.nii.gz' matches no file under"):
        load_folder(str(tmp_path), class_names=CLASSES)
    with pytest.raises(DatasetError, match="notes.txt .* is not a NIfTI or h5 file"):
        load_folder(str(tmp_path), images="*.txt", class_names=CLASSES)
    root = _nifti_fixture(tmp_path / "d")
    monkeypatch.setenv("ALSTRATEGIES_FOLDER_ROOT", str(root))
    assert _load("").pool_size == 20  # the environment variable
    (root / "labelsTr/subject02.nii.gz").unlink()
    with pytest.raises(
        DatasetError, match=r"labelsTr/subject02.nii.gz \(the label of .*imagesTr/subject02.nii.gz"
    ):
        _load(root)
    with pytest.raises(ConfigError, match="unknown placeholder .case."):
        _load(root, labels="labelsTr/{case}.nii.gz")
    with pytest.raises(DatasetError, match="data.labels is empty, which only works for h5"):
        _load(root, labels="")


def test_bad_files_are_named(nifti):
    target = nifti / "labelsTr/subject02.nii.gz"
    target.write_bytes(target.read_bytes()[:50])
    with pytest.raises(DatasetError, match="labelsTr/subject02.nii.gz is corrupt or truncated"):
        _load(nifti)
    _save_nifti(target, _raw_label(2)[:, :-1])
    with pytest.raises(
        DatasetError,
        match=r"labelsTr/subject02.nii.gz: label shape \(40, 47, 5\) differs from the image shape \(40, 48, 5\)",
    ):
        _load(nifti)
    bad = _raw_label(2)
    bad[0, 0, 0], bad[1, 1, 1] = 300, 7
    _save_nifti(target, bad)
    with pytest.raises(
        DatasetError,
        match=r"labelsTr/subject02.nii.gz: label values \[7, 300\] are not in data.label_map "
        r"\(found \[0, 7, 200, 300, 500, 600\], declared \[0, 200, 500, 600\]\)",
    ):
        _load(nifti)
    _save_nifti(target, _raw_label(2).astype(np.float32) + 0.25)
    with pytest.raises(DatasetError, match="subject02.nii.gz: label volume holds non-integer values"):
        _load(nifti)
    _save_nifti(target, _raw_label(2))
    image = _image(2)
    image[3, 3, 3] = np.nan
    _save_nifti(nifti / "imagesTr/subject02.nii.gz", image)
    with pytest.raises(DatasetError, match="imagesTr/subject02.nii.gz: image contains NaN"):
        _load(nifti)


def test_bad_h5_files_are_named(tmp_path):
    root = _h5_fixture(tmp_path / "h5")
    options = {
        "images": "cases/*.h5",
        "labels": "",
        "image_key": "img",
        "label_key": "seg",
        "class_names": ["a", "b"],
    }
    with pytest.raises(
        DatasetError, match=r"subject0\d.h5 lacks the key\(s\) \['image'\].*found \['img', 'seg'\]"
    ):
        load_folder(str(root), **{**options, "image_key": "image"})
    with h5py.File(root / "cases/subject01.h5", "a") as handle:
        del handle["seg"]
        handle["seg"] = np.zeros((4, 32, 30), np.uint8)
    with pytest.raises(DatasetError, match=r"subject01.h5: label shape \(4, 32, 30\) differs"):
        load_folder(str(root), **options)
    (root / "cases/subject01.h5").write_bytes(b"\x89HDF\r\n\x1a\n broken")
    with pytest.raises(DatasetError, match="subject01.h5 is corrupt or truncated"):
        load_folder(str(root), **options)


def test_bad_options(nifti):
    for options, message in (
        ({"class_names": None}, "data.class_names is required"),
        ({"class_names": "RV"}, "non-empty list of names"),
        ({"label_map": {"two hundred": 2}}, "key 'two hundred' is not an integer"),
        ({"label_map": {"200": 4}}, r"label_map\['200'\] = 4 is not a class index in 0..3"),
        ({"test_cases": ["subject09"]}, r"test_cases names case\(s\) \['subject09'\] that .* does not hold"),
        (
            {"test_cases": ["subject00"], "train_cases": ["subject00"]},
            "in both data.train_cases and data.test_cases",
        ),
        ({"intensity": "window"}, r"needs data.window = \[low, high\]"),
        ({"window": [5, 1]}, r"needs data.window = \[low, high\]"),
        ({"intensity": "zscore"}, "'minmax', 'window' or 'none'"),
        ({"intensity": "none", "window": [0, 1]}, "drop one of them"),
        ({"slice_axis": 3}, "slice_axis must be 0, 1, 2, -1 or .auto."),
        ({"image_size": 24}, "multiple of 16"),
        ({"empty_slice_fraction": -0.1}, "empty_slice_fraction"),
    ):
        with pytest.raises(DatasetError, match=message):
            _load(nifti, **options)


def test_toml_config_cache_and_no_entry_after_failure(nifti, tmp_path):
    from alstrategies.config import load_config
    from alstrategies.data import load_dataset

    assert AcdcDatasetError is DatasetError and issubclass(DatasetError, ValueError)
    cache_dir = tmp_path / "cache"
    (tmp_path / "folder.toml").write_text(
        f"""[data]
name = "folder"
root = "{nifti}"
images = "imagesTr/*.nii.gz"
labels = "labelsTr/{{name}}"
label_map = {{ "200" = 2, "500" = 3, "600" = 1 }}
class_names = ["RV", "MYO", "LV"]
test_cases = ["subject04"]
window = [100, 300]
image_size = 16
cache_dir = "{cache_dir}"
"""
    )
    config = load_config(tmp_path / "folder.toml")
    image = _image(1)
    image[0, 0, 0] = np.inf
    _save_nifti(nifti / "imagesTr/subject01.nii.gz", image)
    with pytest.raises(DatasetError, match="subject01.nii.gz: image contains NaN or infinite"):
        load_dataset(config["data"])
    assert not cache_dir.exists() or not any(cache_dir.iterdir())  # a failed build leaves nothing
    _save_nifti(nifti / "imagesTr/subject01.nii.gz", _image(1))
    first = load_dataset(config["data"])
    (entry,) = list(cache_dir.iterdir())
    assert entry.name.startswith("folder-") and first.info["cache"] == str(entry)
    assert first.class_names == CLASSES and first.pool_size == 20
    assert np.array_equal(first.test_volumes[0].label, np.moveaxis(_mapped(_raw_label(4)), -1, 0))


def test_raw_acdc_through_the_folder_loader_matches_load_acdc(tmp_path):
    from alstrategies.data.acdc import load_acdc
    from tests.data.test_acdc import _raw_fixture

    root = _raw_fixture(tmp_path, np.random.default_rng(0))
    folder = load_folder(
        str(root),
        images="training/*/patient*_frame[0-9][0-9].nii.gz",
        labels="{dir}/{stem}_gt.nii.gz",
        class_names=["RV", "MYO", "LV"],
        train_cases=[f"patient00{p}_frame0{f}" for p in (3, 4) for f in (1, 5)],
        test_cases=["patient001_frame01", "patient001_frame05"],
        image_size=16,
    )
    acdc = load_acdc(str(root), image_size=16)
    assert np.array_equal(folder.pool_images, acdc.pool_images)
    assert np.array_equal(folder.pool_labels, acdc.pool_labels)
    assert folder.pool_groups.tolist() == acdc.pool_groups.tolist()
    for mine, theirs in zip(folder.test_volumes, acdc.test_volumes, strict=True):
        assert mine.name == theirs.name and mine.spacing == theirs.spacing
        assert np.array_equal(mine.label, theirs.label) and np.array_equal(mine.image, theirs.image)


def test_case_volumes_data_pool_groups_and_empty_pool():
    from alstrategies.data.volumes import case_volumes_data

    def read(name: str):
        index = int(name[-1])
        label = np.zeros((5, 8, 8), np.uint8)
        label[index : index + 2, 2:4, 2:4] = 1
        return np.full((5, 8, 8), index, np.float32), label, (1.0, 2.0, 3.0)

    options = {"image_size": 16, "seed": 0, "root": Path("somewhere"), "info": {"k": 1}}
    data = case_volumes_data("toy", ["A"], read, ["c1", "c2"], ["c3"], empty_slice_fraction=0.0, **options)
    assert data.pool_groups.tolist() == ["c1"] * 2 + ["c2"] * 2 and data.pool_images.shape == (4, 1, 16, 16)
    assert data.pool_images.dtype == np.float32 and data.pool_labels.dtype == np.uint8
    assert data.pool_images[2:, 0].max() == 2 and data.info == {"k": 1} and data.class_names == ["A"]
    (volume,) = data.test_volumes
    assert volume.name == "c3" and volume.image.shape == (5, 16, 16) and volume.label.shape == (5, 8, 8)
    assert volume.spacing == (1.0, 2.0, 3.0)
    full = case_volumes_data("toy", ["A"], read, ["c1", "c2"], ["c3"], empty_slice_fraction=1.0, **options)
    assert len(full.pool_groups) == 10

    def empty(name: str):
        return np.zeros((3, 8, 8), np.float32), np.zeros((3, 8, 8), np.uint8), None

    with pytest.raises(DatasetError, match=r"somewhere: the training cases \['c1'\] leave no slice"):
        case_volumes_data("toy", ["A"], empty, ["c1"], ["c3"], empty_slice_fraction=0.0, **options)


def test_a_declared_class_without_voxels_is_warned_about(nifti):
    merging = {"600": 1, "200": 2, "500": 2}  # LV merged into MYO by mistake
    with pytest.warns(UserWarning) as caught:
        data = _load(nifti, label_map=merging, test_cases=["subject00"])
    messages = [str(w.message) for w in caught]
    (message,) = [m for m in messages if "'LV'" in m]
    assert "class 3 'LV' has no voxel in the pool or the test set" in message
    assert "no data.label_map entry maps to it" in message and "'500' = 2" in message
    assert 3 not in np.unique(data.pool_labels)
    test_only = {"600": 1, "200": 2, "500": 3}
    _save_nifti(nifti / "labelsTr/subject00.nii.gz", np.where(_raw_label(0) == 600, 0, _raw_label(0)))
    with pytest.warns(
        UserWarning, match=r"class 1 'RV' has no voxel in the test set; data.label_map maps '600' to it"
    ):
        _load(nifti, label_map=test_only, test_cases=["subject00"])


def test_an_uncompressed_nifti_named_nii_gz_is_told_to_be_compressed(nifti, tmp_path):
    plain = tmp_path / "plain.nii"
    _save_nifti(plain, _raw_label(1))
    (nifti / "labelsTr/subject01.nii.gz").write_bytes(plain.read_bytes())
    with pytest.raises(
        DatasetError,
        match=r"subject01.nii.gz is not gzip-compressed \(it is an uncompressed NIfTI\): compress it under "
        r"its name \(mv subject01.nii.gz subject01.nii && gzip subject01.nii\), or rename it to "
        r"subject01.nii and make the file pattern",
    ):
        _load(nifti)


def test_quiet_switch_silences_the_loader_bars(monkeypatch):
    import sys

    from alstrategies.data import bars

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bars.set_quiet(False)  # an in-process `alstrategies run --quiet` of another test may have set it
    try:
        assert not bars.bar([1, 2], desc="cases", unit="case").disable
        bars.set_quiet(True)
        assert bars.is_quiet() and bars.bar([1, 2], desc="cases", unit="case").disable
    finally:
        bars.set_quiet(False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert bars.bar([1], desc="cases", unit="case").disable  # no terminal: no bar
