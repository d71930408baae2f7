"""ACDC loaders: the real SSL4MIS copy (when ALSTRATEGIES_ACDC_ROOT is set), written fixtures of
both layouts, and every kind of bad input."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import nibabel
import numpy as np
import pytest

from alstrategies.data.acdc import DatasetError, load_acdc

REAL_ROOT = os.environ.get("ALSTRATEGIES_ACDC_ROOT", "")


@pytest.mark.skipif(
    not REAL_ROOT or not Path(REAL_ROOT).is_dir(),
    reason="ALSTRATEGIES_ACDC_ROOT not set (real ACDC, SSL4MIS layout)",
)
def test_real_acdc_split_and_labels():
    data = load_acdc(REAL_ROOT, image_size=64)
    assert data.pool_size == 1312 and data.pool_images.shape[1:] == (1, 64, 64)
    assert len(data.test_volumes) == 40
    assert set(np.unique(data.pool_labels)) == {0, 1, 2, 3}
    assert set(np.unique(np.concatenate([v.label.ravel() for v in data.test_volumes]))) == {0, 1, 2, 3}
    assert len(set(data.pool_groups)) == 140  # 70 patients x ED/ES
    assert all(
        v.image.shape[1:] == (64, 64) and v.image.shape[0] == v.label.shape[0] for v in data.test_volumes
    )
    assert len(load_acdc(REAL_ROOT, image_size=32, evaluation="val").test_volumes) == 20


def _write_h5(path: Path, image: np.ndarray, label: np.ndarray) -> None:
    with h5py.File(path, "w") as handle:
        handle["image"] = image.astype(np.float32)
        handle["label"] = label.astype(np.uint8)


def _h5_fixture(root: Path, rng: np.random.Generator) -> Path:
    (root / "data").mkdir(parents=True)
    slices = ["patient003_frame01_slice_1", "patient003_frame01_slice_2", "patient004_frame02_slice_1"]
    for name in slices:
        _write_h5(root / "data" / f"{name}.h5", rng.random((20, 24)), rng.integers(0, 4, (20, 24)))
    for split, name in (("test", "patient001_frame01"), ("val", "patient002_frame01")):
        _write_h5(root / "data" / f"{name}.h5", rng.random((3, 20, 24)), rng.integers(0, 4, (3, 20, 24)))
        (root / f"{split}.list").write_text(name + "\n")
    (root / "train_slices.list").write_text("\n".join(slices) + "\n")
    return root


def _write_nifti(path: Path, array: np.ndarray, zooms=(1.5, 1.25, 10.0)) -> None:
    image = nibabel.Nifti1Image(array, np.diag([*zooms, 1.0]))
    image.header.set_zooms(zooms)
    nibabel.save(image, str(path))


def _raw_fixture(root: Path, rng: np.random.Generator) -> Path:
    for number in (1, 2, 3, 4):  # 1 test, 2 val, 3 and 4 train (SSL4MIS split)
        folder = root / "training" / f"patient{number:03d}"
        folder.mkdir(parents=True)
        (folder / "Info.cfg").write_text("ED: 1\nES: 5\n")
        for frame in ("01", "05"):
            stem = folder / f"patient{number:03d}_frame{frame}"
            _write_nifti(Path(f"{stem}.nii.gz"), (rng.random((20, 24, 3)) * 300).astype(np.float32))
            _write_nifti(Path(f"{stem}_gt.nii.gz"), rng.integers(0, 4, (20, 24, 3)).astype(np.uint8))
    return root


def test_h5_layout(tmp_path):
    data = load_acdc(str(_h5_fixture(tmp_path, np.random.default_rng(0))), image_size=16)
    assert data.pool_images.shape == (3, 1, 16, 16) and data.pool_labels.shape == (3, 16, 16)
    assert data.pool_groups.tolist() == ["patient003_frame01"] * 2 + ["patient004_frame02"]
    (volume,) = data.test_volumes
    assert volume.name == "patient001_frame01" and volume.image.shape == (3, 16, 16)
    assert volume.label.shape == (3, 20, 24)  # evaluation at the original resolution
    assert (
        load_acdc(str(tmp_path), image_size=16, evaluation="val").test_volumes[0].name == "patient002_frame01"
    )


def test_raw_layout_split_axes_and_spacing(tmp_path):
    data = load_acdc(str(_raw_fixture(tmp_path, np.random.default_rng(0))), image_size=16)
    assert data.pool_size == 2 * 2 * 3  # patients 3 and 4, two frames, three slices each
    assert set(data.pool_groups) == {
        "patient003_frame01",
        "patient003_frame05",
        "patient004_frame01",
        "patient004_frame05",
    }
    assert [v.name for v in data.test_volumes] == ["patient001_frame01", "patient001_frame05"]
    volume = data.test_volumes[0]
    assert volume.label.shape == (3, 20, 24) and volume.spacing == (10.0, 1.5, 1.25)
    assert data.pool_images.min() >= 0.0 and data.pool_images.max() <= 1.0
    source = nibabel.load(str(tmp_path / "training/patient001/patient001_frame01_gt.nii.gz")).get_fdata()
    assert np.array_equal(volume.label[1], source[:, :, 1])


def test_missing_and_empty_roots_say_where_to_get_acdc(tmp_path, monkeypatch):
    monkeypatch.delenv("ALSTRATEGIES_ACDC_ROOT", raising=False)
    with pytest.raises(DatasetError, match="ALSTRATEGIES_ACDC_ROOT"):
        load_acdc("")
    with pytest.raises(DatasetError, match="does not exist.*SSL4MIS"):
        load_acdc(str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="is empty"):
        load_acdc(str(tmp_path))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="matches neither ACDC layout"):
        load_acdc(str(tmp_path))


def test_corrupt_and_inconsistent_files_are_named(tmp_path):
    rng = np.random.default_rng(0)
    root = _h5_fixture(tmp_path / "a", rng)
    broken = root / "data" / "patient003_frame01_slice_2.h5"
    broken.write_bytes(b"not an h5 file")
    with pytest.raises(DatasetError, match="patient003_frame01_slice_2.h5 is corrupt"):
        load_acdc(str(root), image_size=16)
    _write_h5(broken, rng.random((20, 24)), rng.integers(0, 4, (20, 22)))
    with pytest.raises(DatasetError, match="image shape .* differs from label shape"):
        load_acdc(str(root), image_size=16)
    _write_h5(broken, rng.random((20, 24)), np.full((20, 24), 7))
    with pytest.raises(DatasetError, match=r"label values \[7\]"):
        load_acdc(str(root), image_size=16)
    image = rng.random((20, 24))
    image[3, 3] = np.nan
    _write_h5(broken, image, rng.integers(0, 4, (20, 24)))
    with pytest.raises(DatasetError, match="NaN"):
        load_acdc(str(root), image_size=16)
    broken.unlink()
    with pytest.raises(DatasetError, match="listed in the split but missing"):
        load_acdc(str(root), image_size=16)


def test_truncated_nifti_is_named(tmp_path):
    root = _raw_fixture(tmp_path, np.random.default_rng(0))
    target = root / "training/patient003/patient003_frame01.nii.gz"
    target.write_bytes(target.read_bytes()[:40])
    with pytest.raises(DatasetError, match="patient003_frame01.nii.gz is corrupt or truncated"):
        load_acdc(str(root), image_size=16)


def test_bad_options(tmp_path):
    root = str(_h5_fixture(tmp_path, np.random.default_rng(0)))
    with pytest.raises(DatasetError, match="multiple of 16"):
        load_acdc(root, image_size=20)
    with pytest.raises(DatasetError, match="'test' or 'val'"):
        load_acdc(root, evaluation="train")
    with pytest.raises(DatasetError, match="'raw' but .* has the 'h5' layout"):
        load_acdc(root, image_size=16, layout="raw")


def test_cache_is_built_once_and_reused(tmp_path, monkeypatch):
    from alstrategies.cli import main
    from alstrategies.data import load_dataset

    root = _h5_fixture(tmp_path / "acdc", np.random.default_rng(0))
    cache = tmp_path / "cache"
    config = {"name": "acdc", "root": str(root), "image_size": 16, "cache_dir": str(cache)}
    first = load_dataset(config)
    entries = list(cache.iterdir())
    assert len(entries) == 1 and entries[0].name.startswith("acdc-")
    second = load_dataset(config)  # the same files: the entry is reused
    assert np.array_equal(first.pool_images, second.pool_images) and second.info["cache"] == str(entries[0])
    assert np.array_equal(first.test_volumes[0].label, second.test_volumes[0].label)
    assert list(cache.iterdir()) == entries  # no temporary folder left behind
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(f'[data]\nname = "acdc"\nimage_size = 16\ncache_dir = "{cache}"\n')
    assert main(["prepare", str(tmp_path / "c.toml"), "--data", str(root)]) == 0
    assert main(["prepare", str(tmp_path / "c.toml"), "--data", str(root), "--rebuild"]) == 0
    assert list(cache.iterdir()) == entries
    (root / "data" / "patient003_frame01_slice_1.h5").unlink()  # a changed folder: the entry is stale
    with (
        pytest.warns(UserWarning, match=r"changed since the cached entry \(0 added, 1 removed, 0 modified\)"),
        pytest.raises(DatasetError, match="listed in the split but missing"),
    ):
        load_dataset(config)
    assert list(cache.iterdir()) == entries  # the failed build left nothing behind


def test_h5_spacing_option_gives_the_volumes_a_spacing(tmp_path):
    root = _h5_fixture(tmp_path / "acdc", np.random.default_rng(0))
    assert load_acdc(str(root), image_size=16).test_volumes[0].spacing is None
    data = load_acdc(str(root), image_size=16, spacing=[10, 1.5, 1.25])
    assert data.test_volumes[0].spacing == (10.0, 1.5, 1.25)
    with pytest.raises(DatasetError, match="three positive voxel sizes"):
        load_acdc(str(root), image_size=16, spacing=[1.5, 1.25])
    raw = _raw_fixture(tmp_path / "raw", np.random.default_rng(0))
    with pytest.raises(DatasetError, match="data.spacing is for ACDC's h5 copy"):
        load_acdc(str(raw), image_size=16, spacing=[10, 1.5, 1.5])


@pytest.mark.skipif(
    not REAL_ROOT or not Path(REAL_ROOT).is_dir(),
    reason="ALSTRATEGIES_ACDC_ROOT not set (real ACDC, SSL4MIS layout)",
)
def test_real_acdc_spacing_from_the_config():
    from alstrategies.config import load_config

    config = load_config(
        None, ["data.name=acdc", "data.spacing=[10.0, 1.5625, 1.5625]", "data.image_size=32"]
    )
    data = load_acdc(REAL_ROOT, image_size=32, spacing=config["data"]["spacing"])
    assert {v.spacing for v in data.test_volumes} == {(10.0, 1.5625, 1.5625)}
