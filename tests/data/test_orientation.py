"""One orientation for every NIfTI volume (RAS+), the slice axis ``"auto"``, and the voxel spacing
carried into the evaluation volumes so that HD95 is in mm (against a slow reference of medpy's
definition written here)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from scipy import ndimage

from alstrategies.data.folder import load_folder
from alstrategies.data.orientation import choose_slice_axis
from alstrategies.errors import DatasetError
from alstrategies.metrics import METRICS
from tests.volume_files import ZOOMS, case_image, case_label, save_nifti

OPTIONS = {"class_names": ["A", "B"], "image_size": 16, "test_cases": ["case1"]}


def _folder(root, orientations):
    for index, codes in enumerate(orientations):
        save_nifti(root / "imagesTr" / f"case{index}.nii.gz", case_image(index), codes=codes)
        save_nifti(root / "labelsTr" / f"case{index}.nii.gz", case_label(index), codes=codes)
    return root


@pytest.mark.parametrize("codes", ["PSR", "LSP", "LPS", "ASL"])
def test_volumes_in_other_orientations_give_the_same_pool_slices(tmp_path, codes):
    canonical = load_folder(str(_folder(tmp_path / "ras", ["RAS", "RAS", "RAS"])), **OPTIONS)
    other = load_folder(str(_folder(tmp_path / codes, [codes, "RAS", codes])), **OPTIONS)
    assert np.array_equal(canonical.pool_labels, other.pool_labels)
    np.testing.assert_allclose(canonical.pool_images, other.pool_images, atol=1e-6)
    assert other.test_volumes[0].spacing == canonical.test_volumes[0].spacing == (6.0, 1.25, 1.5)
    assert np.array_equal(other.test_volumes[0].label, canonical.test_volumes[0].label)
    as_stored = load_folder(str(tmp_path / codes), reorient=False, slice_axis=-1, **OPTIONS)
    assert not np.array_equal(as_stored.pool_labels, canonical.pool_labels)  # the switch turns it off


def test_auto_slice_axis_is_the_largest_voxel_size(tmp_path):
    assert choose_slice_axis("auto", (1.0, 8.0, 1.0), -1, "x") == 1
    assert choose_slice_axis(None, (1.0, 1.0, 1.0), -1, "x") == 2  # ties: the format's default axis
    assert choose_slice_axis(None, (5.0, 5.0, 1.0), -1, "x") == 0  # else the first tied axis
    assert choose_slice_axis(None, None, 0, "x") == 0 and choose_slice_axis(1, (9.0, 1.0, 1.0), 0, "x") == 1
    root = tmp_path / "psr"  # stored P, S, R: the through-plane (z) axis is the middle array axis
    _folder(root, ["PSR", "PSR"])
    stored = load_folder(str(root), reorient=False, slice_axis="auto", **OPTIONS)
    assert stored.pool_size == 6 and stored.test_volumes[0].spacing == (6.0, 1.5, 1.25)
    with pytest.raises(DatasetError, match="slice_axis must be 0, 1, 2, -1 or 'auto'"):
        load_folder(str(root), slice_axis="largest", **OPTIONS)


def test_h5_spacing_and_auto_axis(tmp_path):
    (tmp_path / "cases").mkdir()
    for index in range(3):
        label = np.moveaxis(case_label(index), -1, 0)  # D x H x W
        with h5py.File(tmp_path / "cases" / f"case{index}.h5", "w") as handle:
            handle["image"] = np.moveaxis(case_image(index), -1, 0)
            handle["label"] = label
    options = {**OPTIONS, "images": "cases/*.h5", "labels": ""}
    assert load_folder(str(tmp_path), **options).test_volumes[0].spacing is None
    data = load_folder(str(tmp_path), spacing=[6.0, 1.25, 1.5], **options)
    assert data.test_volumes[0].spacing == (6.0, 1.25, 1.5) and data.pool_size == 2 * 6
    with pytest.raises(DatasetError, match="'auto' needs a voxel spacing"):
        load_folder(str(tmp_path), slice_axis="auto", **options)
    with pytest.raises(DatasetError, match="three positive voxel sizes"):
        load_folder(str(tmp_path), spacing=[1.0, -1.0, 1.0], **options)
    for name in ("n0", "n1"):
        save_nifti(tmp_path / f"imagesTr/{name}.nii.gz", case_image(0))
        save_nifti(tmp_path / f"labelsTr/{name}.nii.gz", case_label(0))
    with pytest.raises(DatasetError, match="data.spacing is for h5 files"):
        load_folder(str(tmp_path), spacing=[1.0, 1.0, 1.0], class_names=["A", "B"], test_fraction=0.5)


def _medpy_hd95(prediction: np.ndarray, reference: np.ndarray, spacing) -> float:
    """medpy.metric.binary.hd95, slowly: surface = mask AND NOT erosion (connectivity 1), every
    surface voxel's distance (in mm) to the other surface, both directions pooled, 95th percentile."""
    structure = ndimage.generate_binary_structure(prediction.ndim, 1)
    surfaces = [
        m & ~ndimage.binary_erosion(m, structure=structure, iterations=1) for m in (prediction, reference)
    ]
    points = [np.argwhere(s) * np.asarray(spacing, float) for s in surfaces]
    pairwise = np.sqrt(((points[0][:, None, :] - points[1][None, :, :]) ** 2).sum(-1))
    return float(np.percentile(np.hstack([pairwise.min(axis=1), pairwise.min(axis=0)]), 95))


def test_hd95_of_an_anisotropic_volume_is_in_mm(tmp_path):
    root = _folder(tmp_path / "d", ["PSR", "LSP"])
    data = load_folder(str(root), **OPTIONS)
    volume = data.test_volumes[0]
    assert volume.spacing == (ZOOMS[2], ZOOMS[0], ZOOMS[1])  # slice axis z first, then x, y of RAS+
    truth = volume.label == 1
    prediction = np.roll(truth, 1, axis=0) | np.roll(truth, 2, axis=2)  # off by one slice and 2 columns
    value = METRICS["hd95"](prediction, truth, volume.spacing)
    assert value == pytest.approx(_medpy_hd95(prediction, truth, volume.spacing))
    try:  # medpy itself, where installed (the dev extra)
        from medpy.metric.binary import hd95 as medpy_hd95
    except ImportError:
        medpy_hd95 = None
    if medpy_hd95 is not None:
        assert value == pytest.approx(medpy_hd95(prediction, truth, voxelspacing=volume.spacing), rel=1e-9)
    in_voxels = METRICS["hd95"](prediction, truth, None)
    assert in_voxels == pytest.approx(_medpy_hd95(prediction, truth, (1, 1, 1)))
    assert value > in_voxels  # the slice step is 6 mm: a pixel-unit HD95 would understate it
    # the canonical array with the header's zooms, independently of the loader: the same distance
    canonical = np.moveaxis(case_label(1) == 1, -1, 0)
    assert np.array_equal(canonical, truth)
