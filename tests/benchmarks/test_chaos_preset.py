"""The CHAOS kidney preset (``benchmarks/configs/chaos_kidney_cpu.toml``) through the generic
folder loader: the real copy when ``ALSTRATEGIES_CHAOS_ROOT`` is set, and written files with the
same names and label values for the bad inputs (a missing label, a value outside the map)."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from alstrategies.cli import main
from alstrategies.config import load_config
from alstrategies.data import load_dataset

PRESET = Path(__file__).resolve().parents[2] / "benchmarks" / "configs" / "chaos_kidney_cpu.toml"
REAL_ROOT = os.environ.get("ALSTRATEGIES_CHAOS_ROOT", "")
PATIENTS = (1, 2, 3, 5, 8, 15, 21, 33, 38)  # every test patient of the preset, and a few pool ones
AFFINE = np.diag([-1.25, -1.25, 7.7, 1.0])  # the copy's header: 1.25 x 1.25 x 7.7 mm, axis codes L, A, S


def _write_copy(root: Path) -> Path:
    """Patients named and labelled as the CHAOS copy (0 bg, 1 liver, 2/3 kidneys, 4 spleen)."""
    rng = np.random.default_rng(0)
    root.mkdir()
    for n in PATIENTS:
        image = rng.random((24, 24, 6)) * 1000.0
        label = np.zeros((24, 24, 6), np.uint8)
        label[2:12, 2:12, 1:5] = 1  # liver
        label[14:18, 4:8, 2:4] = 2  # right kidney
        label[14:18, 16:20, 2:4] = 3  # left kidney
        label[4:8, 16:20, 3] = 4  # spleen
        nib.save(nib.Nifti1Image(image, AFFINE), str(root / f"image_{n}.nii.gz"))
        nib.save(nib.Nifti1Image(label, AFFINE), str(root / f"label_{n}.nii.gz"))
    return root


def _load(root: Path, *overrides: str):
    config = load_config(
        PRESET, [f'data.root="{root}"', "data.cache=false", "data.image_size=16", *overrides]
    )
    return load_dataset(config["data"])


def test_the_preset_merges_the_kidneys_and_splits_by_patient(tmp_path):
    data = _load(_write_copy(tmp_path / "chaos"))
    assert data.class_names == ["kidney"]
    tests = {"image_1", "image_8", "image_15", "image_21", "image_33", "image_38"}
    assert {v.name for v in data.test_volumes} == tests  # the preset's fixed split
    assert set(data.pool_groups) == {"image_2", "image_3", "image_5"}
    volume = data.test_volumes[0]
    assert volume.spacing == pytest.approx((7.7, 1.25, 1.25))  # axial slices first, in mm
    assert set(np.unique(volume.label)) == {0, 1}  # both kidneys are class 1; liver and spleen background
    assert int((volume.label == 1).sum()) == 2 * 4 * 4 * 2  # the two 4 x 4 kidneys on 2 slices
    assert data.pool_images.min() >= 0.0 and data.pool_images.max() <= 1.0  # min-max per volume


def test_a_missing_label_is_one_line_naming_the_file(tmp_path, capsys):
    root = _write_copy(tmp_path / "chaos")
    (root / "label_3.nii.gz").unlink()
    code = main(["prepare", str(PRESET), "--data", str(root), "--set", "data.cache=false"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "label_3.nii.gz" in err and "is missing" in err and "image_3.nii.gz" in err


def test_a_label_value_outside_the_map_is_one_line_naming_the_map(tmp_path, capsys):
    root = _write_copy(tmp_path / "chaos")
    label = np.zeros((24, 24, 6), np.uint8)
    label[3:9, 3:9, 2] = 7
    nib.save(nib.Nifti1Image(label, AFFINE), str(root / "label_5.nii.gz"))
    code = main(["prepare", str(PRESET), "--data", str(root), "--set", "data.cache=false"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "label_5.nii.gz" in err and "[7]" in err and "data.label_map" in err


@pytest.mark.skipif(not REAL_ROOT, reason="ALSTRATEGIES_CHAOS_ROOT not set (the real CHAOS T2 copy)")
def test_the_real_copy_loads_as_the_docs_say():
    data = _load(Path(REAL_ROOT), "data.image_size=64")
    assert data.pool_size == 509 and len(data.test_volumes) == 6
    assert len(set(data.pool_groups)) == 14
    kidney = (data.pool_labels > 0).reshape(data.pool_size, -1).any(axis=1)
    assert kidney.mean() == pytest.approx(0.434, abs=0.001)  # 57 % of the pool's slices hold no kidney
    for volume in data.test_volumes:
        assert volume.spacing[0] == pytest.approx(7.7, abs=1e-4)
        assert volume.label.shape[1:] == (256, 256) and set(np.unique(volume.label)) <= {0, 1}
