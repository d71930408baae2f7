"""Data integrity of the file-pair loaders (issue 26, defects 2, 4 and 5): an image and its label
on one voxel grid, no case lost without a word (the census line, declared counts), and messages
that say what is wrong (unreadable files, 2D volumes, file_ending, dataset.json's labels, the
slice plane)."""

from __future__ import annotations

import builtins
import gzip
import json
import os
import shutil
import warnings

import nibabel
import numpy as np
import pytest

from alstrategies.cli import main
from alstrategies.data.decathlon import load_decathlon
from alstrategies.data.folder import load_folder
from alstrategies.data.nnunet import load_nnunet
from alstrategies.data.notices import DatasetWarning
from alstrategies.errors import DatasetError
from tests.volume_files import (
    case_image,
    decathlon_folder,
    nnunet_folder,
    paired_folder,
    save_nifti,
)

PAIRED = {
    "images": "image_*.nii.gz",
    "pairing": {"pattern": r"image_(\d+)", "label": r"label_\1"},
    "class_names": ["RV", "MYO", "LV"],
    "label_map": {"600": 1, "200": 2, "500": 3},
    "image_size": 16,
}


def _load_paired(root, **options):
    return load_folder(str(root), **{**PAIRED, **options})


def _resave(path, affine) -> None:
    """Write the array of ``path`` back with another affine (the voxels unchanged)."""
    stored = nibabel.load(str(path))
    nibabel.save(nibabel.Nifti1Image(np.asarray(stored.dataobj), affine), str(path))


def _layouts(tmp_path):
    """(loader, root, the label to tamper with, its image) for the folder, nnU-Net and Decathlon
    layouts."""
    paired = paired_folder(tmp_path / "paired", orientations=("PSR",))
    nnunet = nnunet_folder(tmp_path / "nnunet")
    decathlon = decathlon_folder(tmp_path / "decathlon", codes="PSR")
    return [
        (_load_paired, paired, paired / "label_2.nii.gz", paired / "image_2.nii.gz"),
        (
            load_nnunet,
            nnunet,
            nnunet / "labelsTr/heart_001.nii.gz",
            nnunet / "imagesTr/heart_001_0000.nii.gz",
        ),
        (
            load_decathlon,
            decathlon,
            decathlon / "labelsTr/la_001.nii.gz",
            decathlon / "imagesTr/la_001.nii.gz",
        ),
    ]


def _load(loader, root, **options):
    if loader is _load_paired:
        return loader(root, **options)
    return loader(str(root), image_size=16, **options)


@pytest.mark.parametrize("layout", [0, 1, 2], ids=["folder", "nnunet", "decathlon"])
def test_a_label_in_another_orientation_than_its_image_is_refused(tmp_path, layout):
    loader, root, label, image = _layouts(tmp_path)[layout]
    affine = nibabel.load(str(image)).affine.copy()
    affine[:3, 0] *= -1  # the same voxels, the first axis said to point the other way
    _resave(label, affine)
    image_codes = "".join(nibabel.aff2axcodes(nibabel.load(str(image)).affine))
    label_codes = "".join(nibabel.aff2axcodes(affine))
    with pytest.raises(DatasetError) as raised:
        _load(loader, root)
    message = str(raised.value)
    assert "\n" not in message and f"{label} (orientation {label_codes})" in message
    assert f"its image {image} (orientation {image_codes})" in message
    assert "image's affine" in message  # the fix


@pytest.mark.parametrize("layout", [0, 1, 2], ids=["folder", "nnunet", "decathlon"])
def test_a_label_40_mm_off_its_image_is_refused_and_header_rounding_is_not(tmp_path, layout):
    loader, root, label, image = _layouts(tmp_path)[layout]
    affine = nibabel.load(str(image)).affine.copy()
    rounded = affine.copy()
    rounded[:3, 3] += 1e-4  # header rounding
    rounded[:3, :3] *= 1 + 1e-6
    _resave(label, rounded)
    assert _load(loader, root).pool_size > 0
    shifted = affine.copy()
    shifted[2, 3] += 40.0
    _resave(label, shifted)
    with pytest.raises(DatasetError, match=r"does not lie on the grid of its image .*origins 40 mm apart"):
        _load(loader, root)


def test_the_compression_advice_followed_keeps_every_case(tmp_path):
    root = paired_folder(tmp_path / "p")
    plain = tmp_path / "plain.nii"
    nibabel.save(nibabel.load(str(root / "image_3.nii.gz")), str(plain))
    (root / "image_3.nii.gz").write_bytes(plain.read_bytes())  # an uncompressed NIfTI named .nii.gz
    with pytest.raises(DatasetError, match=r"image_3.nii.gz is not gzip-compressed .*gzip image_3.nii"):
        _load_paired(root)
    (root / "image_3.nii.gz").rename(root / "image_3.nii")  # mv image_3.nii.gz image_3.nii
    with open(root / "image_3.nii", "rb") as source, gzip.open(root / "image_3.nii.gz", "wb") as target:
        shutil.copyfileobj(source, target)  # gzip image_3.nii
    (root / "image_3.nii").unlink()
    data = _load_paired(root, test_cases=["image_1"])
    assert "image_3" in set(data.pool_groups.tolist()) and data.info["cases"].count("5 case(s) found")


def test_an_image_renamed_to_nii_is_an_error_not_a_lost_case(tmp_path):
    root = paired_folder(tmp_path / "p")
    nibabel.save(nibabel.load(str(root / "image_3.nii.gz")), str(root / "image_3.nii"))
    (root / "image_3.nii.gz").unlink()
    with pytest.raises(
        DatasetError,
        match=r"image_3.nii \(1 such file\(s\)\) is not matched by data.images = 'image_\*.nii.gz' only "
        r"because of its ending: set data.images = 'image_\*.nii\*'",
    ):
        _load_paired(root)
    with pytest.raises(
        DatasetError, match=r"label_3.nii \(the label of .*image_3.nii .*label_3.nii.gz exists"
    ):
        _load_paired(root, images="image_*.nii*")
    pairing = {"pattern": r"image_(\d+)\.nii(\.gz)?$", "label": r"label_\1.nii.gz"}
    data = _load_paired(root, images="image_*.nii*", pairing=pairing, test_cases=["image_1"])
    assert "image_3" in set(data.pool_groups.tolist())


def test_a_label_renamed_to_nii_is_named_in_the_missing_label_error(tmp_path):
    root = paired_folder(tmp_path / "p")
    nibabel.save(nibabel.load(str(root / "label_3.nii.gz")), str(root / "label_3.nii"))
    (root / "label_3.nii.gz").unlink()
    with pytest.raises(
        DatasetError,
        match=r"label_3.nii.gz \(the label of .*image_3.nii.gz.* is missing; .*label_3.nii exists",
    ):
        _load_paired(root)


def test_the_folder_census_states_found_used_and_skipped(tmp_path):
    root = paired_folder(tmp_path / "p")
    data = _load_paired(root, test_cases=["image_1"])
    assert (
        data.info["cases"]
        == f"folder {root} (data.images = 'image_*.nii.gz'): 5 case(s) found, 5 used (4 training, 1 test)"
    )
    save_nifti(root / "extra_scan.nii.gz", case_image(0))  # matches neither the images nor a label
    with pytest.warns(
        DatasetWarning,
        match=r"5 case\(s\) found, 3 used \(2 training, 1 test\), 2 not used \(not in data.train_cases or data.test_cases\); skipped: 1 file\(s\) beside them that are neither .*extra_scan.nii.gz",
    ):
        _load_paired(root, test_cases=["image_1"], train_cases=["image_2", "image_3"])


def test_prepare_prints_the_census_also_from_the_cache(tmp_path, capsys):
    root = nnunet_folder(tmp_path / "d")
    config = tmp_path / "c.toml"
    config.write_text(f'[data]\nname = "nnunet"\nimage_size = 16\ncache_dir = "{tmp_path / "cache"}"\n')
    for _ in range(2):  # a build, then a cache hit
        assert main(["prepare", str(config), "--data", str(root)]) == 0
        out = capsys.readouterr().out
        assert f"nnunet {root}: 5 case(s) found, 5 used (4 training, 1 test)" in out


def declare_num_training(root, count: int) -> None:
    """Set ``numTraining`` in the folder's dataset.json."""
    content = json.loads((root / "dataset.json").read_text())
    content["numTraining"] = count
    (root / "dataset.json").write_text(json.dumps(content))


def test_nnunet_num_training_and_a_label_without_its_image_are_errors(tmp_path):
    root = nnunet_folder(tmp_path / "d")
    assert (
        load_nnunet(str(root), image_size=16)
        .info["cases"]
        .endswith("5 case(s) found, 5 used (4 training, 1 test)")
    )
    declare_num_training(root, 6)
    with pytest.raises(
        DatasetError, match=r"dataset.json declares numTraining = 6 but imagesTr holds 5 case\(s\)"
    ):
        load_nnunet(str(root), image_size=16)
    declare_num_training(root, 4)
    (root / "imagesTr/heart_004_0000.nii.gz").unlink()
    with pytest.raises(
        DatasetError,
        match=r"labelsTr/heart_004.nii.gz has no image: .*imagesTr/heart_004_0000.nii.gz is missing",
    ):
        load_nnunet(str(root), image_size=16)


def test_decathlon_num_training_is_checked(tmp_path):
    root = decathlon_folder(tmp_path / "d")
    data = load_decathlon(str(root), image_size=16)
    assert "5 case(s) found, 5 used" in data.info["cases"] and "5 hidden file(s)" in data.info["cases"]
    declare_num_training(root, 7)
    with pytest.raises(
        DatasetError, match=r"declares numTraining = 7 but its 'training' list holds 5 case\(s\)"
    ):
        load_decathlon(str(root), image_size=16)


def _lock(path, monkeypatch) -> None:
    """Make ``path`` unreadable (as root, which reads any file, refuse it as the kernel would)."""
    os.chmod(path, 0)
    if os.geteuid() == 0:
        original = builtins.open

        def refusing(file, *args, **kwargs):
            if os.fspath(file) == str(path):
                raise PermissionError(13, "Permission denied", str(path))
            return original(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", refusing)


def test_an_unreadable_h5_file_is_not_called_corrupt(tmp_path, monkeypatch):
    import h5py

    from alstrategies.data.volumes import read_h5

    path = tmp_path / "case.h5"
    with h5py.File(path, "w") as handle:
        handle["image"] = np.zeros((2, 4, 4), np.float32)
        handle["label"] = np.zeros((2, 4, 4), np.uint8)
    _lock(path, monkeypatch)
    with pytest.raises(DatasetError, match=r"case.h5 cannot be read \(Permission denied\)"):
        read_h5(path)


def test_an_unreadable_file_is_one_line(tmp_path, monkeypatch, capsys):
    root = paired_folder(tmp_path / "p")
    locked = root / "label_2.nii.gz"
    _lock(locked, monkeypatch)
    with pytest.raises(DatasetError, match=rf"{locked} cannot be read \(Permission denied\)"):
        _load_paired(root)
    config = tmp_path / "c.toml"
    config.write_text(
        '[data]\nname = "folder"\nimages = "image_*.nii.gz"\nclass_names = ["RV", "MYO", "LV"]\n'
        "pairing = { pattern = 'image_(\\d+)', label = 'label_\\1' }\n"
        'label_map = { "600" = 1, "200" = 2, "500" = 3 }\nimage_size = 16\ncache = false\n'
    )
    assert main(["prepare", str(config), "--data", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be read" in err and "Traceback" not in err


def test_a_2d_nifti_is_not_called_corrupt_under_reorientation(tmp_path):
    root = paired_folder(tmp_path / "p")
    flipped = np.diag([-1.25, 1.5, 6.0, 1.0])  # stored LAS: reorientation has to turn it
    nibabel.save(nibabel.Nifti1Image(np.zeros((32, 28), np.float32), flipped), str(root / "image_2.nii.gz"))
    with pytest.raises(
        DatasetError, match=r"image_2.nii.gz: expected a 3D volume, got an array of shape \(32, 28\)"
    ):
        _load_paired(root)


def test_a_volume_sliced_in_another_plane_is_warned(tmp_path):
    root = paired_folder(tmp_path / "p", orientations=("RAS",))
    label = np.asarray(nibabel.load(str(root / "label_4.nii.gz")).dataobj)
    zooms = (6.5, 1.5, 6.0)  # x is the largest voxel size here: 'auto' slices this one sagittally
    save_nifti(root / "image_4.nii.gz", case_image(3), zooms=zooms)
    save_nifti(root / "label_4.nii.gz", label, zooms=zooms)
    with pytest.warns(
        DatasetWarning,
        match=r"data.slice_axis = 'auto' sliced the volumes in different planes: 4 axial \(.*\); 1 sagittal "
        r"\(image_4.nii.gz\); set data.slice_axis",
    ):
        _load_paired(root, test_cases=["image_1"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatasetWarning)
        _load_paired(root, test_cases=["image_1"], slice_axis=2)  # one axis: one plane, no warning


def test_nnunet_file_ending_mismatch_says_to_correct_file_ending(tmp_path):
    root = nnunet_folder(tmp_path / "d", ending=".nii")
    content = json.loads((root / "dataset.json").read_text())
    content["file_ending"] = ".nii.gz"
    (root / "dataset.json").write_text(json.dumps(content))
    with pytest.raises(
        DatasetError,
        match=r"heart_000_0000.nii ends with '.nii' but .*dataset.json declares file_ending '.nii.gz': "
        r'set "file_ending": ".nii" in',
    ):
        load_nnunet(str(root), image_size=16)


@pytest.mark.parametrize("layout", [1, 2], ids=["nnunet", "decathlon"])
def test_an_undeclared_label_value_names_dataset_json_labels(tmp_path, layout):
    loader, root, label, _ = _layouts(tmp_path)[layout]
    stored = nibabel.load(str(label))
    array = np.asarray(stored.dataobj).copy()
    array[0, 0, 0] = 3
    nibabel.save(nibabel.Nifti1Image(array, stored.affine), str(label))
    with pytest.raises(DatasetError) as raised:
        _load(loader, root)
    message = str(raised.value)
    assert f"{label}: label values [3] are not in the 'labels' of {root / 'dataset.json'}" in message
    assert "data.label_map" not in message
