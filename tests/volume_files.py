"""Tiny volumes written in the layouts users bring (nnU-Net v2, Decathlon, image_N/label_N pairs),
in any orientation: the same data stored with permuted/flipped axes and the matching affine."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel
import numpy as np
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, ornt_transform

SHAPE = (32, 28, 6)  # x, y, z in RAS+; z is the through-plane axis
ZOOMS = (1.25, 1.5, 6.0)
#: tiny experiment settings for a dataset given by name and root only
TINY_RUN = [
    "data.image_size=16",
    "model.width=4",
    "model.heads=plain",
    "train.iterations=2",
    "train.batch_size=4",
    "protocol.seeds=[0]",
    "protocol.initial_fraction=0.2",
    "protocol.step_fraction=0.1",
    "protocol.final_fraction=0.3",
]


def save_nifti(path: Path, canonical: np.ndarray, zooms=ZOOMS, codes: str = "RAS") -> None:
    """Write ``canonical`` (an array in RAS+ with voxel sizes ``zooms``) stored in the orientation
    ``codes`` (e.g. ``"PSR"``): permuted and flipped array, matching affine and zooms."""
    path.parent.mkdir(parents=True, exist_ok=True)
    affine = np.diag([*zooms, 1.0])
    transform = ornt_transform(axcodes2ornt("RAS"), axcodes2ornt(tuple(codes)))
    stored = apply_orientation(canonical, transform)
    stored_affine = affine @ inv_ornt_aff(transform, canonical.shape)
    nibabel.save(nibabel.Nifti1Image(np.ascontiguousarray(stored), stored_affine), str(path))


def case_label(index: int, values=(1, 2)) -> np.ndarray:
    """An asymmetric label in RAS+ (a flip or a transpose would show) with two classes."""
    label = np.zeros(SHAPE, np.uint8)
    label[4:20, 6 + index % 3 : 18, 1:5] = values[0]
    label[22:30, 3:9, 2:4] = values[1]
    label[5:9, 20:26, 3] = values[0]
    return label


def case_image(index: int) -> np.ndarray:
    x, y, z = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in SHAPE), indexing="ij")
    return (50.0 + 3.0 * x + 1.0 * y * y / 10 + 20.0 * z + 7.0 * index).astype(np.float32)


def nnunet_folder(root: Path, cases: int = 5, channels=("T2",), labels=None, ending=".nii.gz") -> Path:
    """``dataset.json``, ``imagesTr/CASE_000C.nii.gz`` and ``labelsTr/CASE.nii.gz``."""
    labels = labels or {"background": 0, "RV": 1, "LV": 2}
    for index in range(cases):
        case = f"heart_{index:03d}"
        for channel in range(len(channels)):
            save_nifti(root / "imagesTr" / f"{case}_{channel:04d}{ending}", case_image(index) + 100 * channel)
        save_nifti(root / "labelsTr" / f"{case}{ending}", case_label(index))
    description = {
        "channel_names": {str(i): name for i, name in enumerate(channels)},
        "labels": labels,
        "numTraining": cases,
        "file_ending": ending,
        "name": "Dataset001_Tiny",
    }
    (root / "dataset.json").write_text(json.dumps(description, indent=2))
    return root


def decathlon_folder(root: Path, cases: int = 5, modalities=("MRI",), codes: str = "RAS") -> Path:
    """``dataset.json`` with a ``training`` list, ``imagesTr/`` (4D with several modalities) and
    ``labelsTr/``, plus the macOS ``._`` copies of the real archives."""
    training = []
    for index in range(cases):
        name = f"la_{index:03d}.nii.gz"
        image = case_image(index)
        if len(modalities) > 1:
            image = np.stack([image + 100 * m for m in range(len(modalities))], axis=-1)
        save_nifti(root / "imagesTr" / name, image, codes=codes)
        save_nifti(root / "labelsTr" / name, case_label(index), codes=codes)
        (root / "imagesTr" / f"._{name}").write_bytes(b"macOS resource fork")
        training.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
    description = {
        "name": "Tiny",
        "modality": {str(i): m for i, m in enumerate(modalities)},
        "labels": {"0": "background", "1": "RV", "2": "LV"},
        "numTraining": cases,
        "training": training,
        "test": ["./imagesTs/la_100.nii.gz"],
    }
    (root / "dataset.json").write_text(json.dumps(description, indent=2))
    return root


def paired_folder(root: Path, cases: int = 5, orientations=("PSR", "LSP")) -> Path:
    """MS-CMRSeg / CHAOS style: ``image_N.nii.gz`` beside ``label_N.nii.gz`` in one folder, label
    values 200 (MYO), 500 (LV), 600 (RV), orientations alternating between ``orientations``."""
    for index in range(cases):
        codes = orientations[index % len(orientations)]
        label = np.zeros(SHAPE, np.int16)
        canonical = case_label(index)
        label[canonical == 1] = 200
        label[canonical == 2] = 500
        label[10:14, 22:27, 1:4] = 600
        save_nifti(root / f"image_{index + 1}.nii.gz", case_image(index), codes=codes)
        save_nifti(root / f"label_{index + 1}.nii.gz", label, codes=codes)
    return root
