"""ACDC (Bernard et al., IEEE TMI 2018) in the SSL4MIS h5 layout or the raw challenge layout.

Pool = the 2D slices of the training patients; evaluation = the 3D volumes of the test (or
validation) patients, slices zoomed to the working resolution (images bilinear, labels
nearest) for the network and predictions zoomed back to the original size for the metrics.
The patient split is SSL4MIS's (70 train / 10 val / 20 test patients of the 100 training
patients), so numbers compare with that literature.

Layouts (``layout = "auto"`` detects them):

- ``h5`` (SSL4MIS): ``train_slices.list``, ``val.list``, ``test.list`` and ``data/`` with
  ``patientXXX_frameYY_slice_Z.h5`` (keys ``image``, ``label``; H x W) for training slices and
  ``patientXXX_frameYY.h5`` (D x H x W) for validation/test volumes; the list is in no
  particular order, so each slice's position in its volume comes from its ``Z``
  (:func:`h5_slice_positions`), never from a sort of the names; no voxel spacing is stored:
  ``spacing = [z, y, x]`` (mm, one value for every volume) gives the evaluation volumes one, so
  that HD95 and surface Dice are in mm; without it they are in pixels.
- ``raw`` (challenge): ``training/patientXXX/patientXXX_frameYY.nii.gz`` with
  ``patientXXX_frameYY_gt.nii.gz`` and ``Info.cfg``; volumes are x, y, z in the file and are
  read as z, x, y slices, min-max normalised per volume; spacing from the NIfTI header.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from alstrategies.data import volumes as shared
from alstrategies.data.bars import bar
from alstrategies.data.pairs import check_spacing
from alstrategies.errors import DatasetError
from alstrategies.types import SegmentationData, Volume

CLASS_NAMES = ["RV", "MYO", "LV"]
ENVIRONMENT_VARIABLE = "ALSTRATEGIES_ACDC_ROOT"
#: SSL4MIS's patient split of the 100 ACDC training patients (patient numbers).
VAL_PATIENTS = (2, 19, 28, 30, 39, 45, 78, 82, 85, 87)
TEST_PATIENTS = (1, 7, 8, 11, 13, 22, 24, 33, 52, 59, 64, 65, 66, 68, 75, 80, 81, 83, 84, 93)
WHERE_TO_GET = (
    "download ACDC from https://www.creatis.insa-lyon.fr/Challenge/acdc/ (raw layout: "
    "training/patientXXX/*.nii.gz) or use the SSL4MIS preprocessed copy (train_slices.list, "
    "val.list, test.list, data/*.h5), then pass its folder with --data PATH or "
    f"{ENVIRONMENT_VARIABLE}"
)


def resolve_root(root: str | os.PathLike | None) -> Path:
    """``root``, else ``$ALSTRATEGIES_ACDC_ROOT``; an error saying where to get ACDC otherwise."""
    return shared.resolve_root(root, "ACDC", ENVIRONMENT_VARIABLE, WHERE_TO_GET)


def detect_layout(root: Path) -> str:
    if (root / "train_slices.list").is_file() and (root / "data").is_dir():
        return "h5"
    if (root / "training").is_dir():
        return "raw"
    if not any(root.iterdir()):
        raise DatasetError(f"ACDC folder {root} is empty: {WHERE_TO_GET}")
    raise DatasetError(
        f"{root} matches neither ACDC layout: expected train_slices.list + data/*.h5 (SSL4MIS) "
        "or training/patientXXX/patientXXX_frameYY.nii.gz (raw challenge)"
    )


def _check_arrays(image: np.ndarray, label: np.ndarray, source: Path, num_classes: int = 4) -> None:
    shared.check_arrays(image, label, source, range(num_classes))


def _read_h5(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DatasetError(f"{path} is listed in the split but missing")
    arrays = shared.read_h5(path, "image", "label")
    image, label = arrays["image"].astype(np.float32), arrays["label"].astype(np.uint8)
    _check_arrays(image, label, path)
    return image, label


def _read_nifti(path: Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    array, zooms = shared.read_nifti(path)
    # x, y, z -> z, x, y: slices along the last file axis
    return shared.to_slices(array, zooms, -1)  # type: ignore[return-value]


_zoom_slices = shared.zoom_slices
_normalise = shared.normalise_minmax


def _patient_number(name: str) -> int:
    match = re.match(r"patient(\d+)", name)
    if not match:
        raise DatasetError(f"unexpected ACDC case name {name!r} (expected patientXXX_frameYY...)")
    return int(match.group(1))


def _read_list(path: Path) -> list[str]:
    if not path.is_file():
        raise DatasetError(f"split list {path} is missing (SSL4MIS layout)")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


#: Pool slices, labels, volume names, (slice positions, volume depths) or None, evaluation volumes.
Loaded = tuple[
    list[np.ndarray], list[np.ndarray], list[str], tuple[np.ndarray, np.ndarray] | None, list[Volume]
]
Spacing = tuple[float, float, float]
_SLICE_INDEX = re.compile(r"_slice_(\d+)$")


def h5_slice_positions(names: list[str], groups: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """``(positions, depths)`` from the ``_slice_Z`` of the h5 copy's slice names.

    ``train_slices.list`` lists the slices in no particular order, and a lexical sort would put
    ``slice_10`` before ``slice_2``: the position is the number ``Z`` itself, less the smallest
    ``Z`` of the whole list (copies number from 0 or, like the SSL4MIS copy shipped with
    3DCardiac, from 1); a volume's depth is its largest position + 1. ``None`` when a name has
    no ``_slice_Z`` (the pool order is then taken as the slicing order).
    """
    matches = [_SLICE_INDEX.search(name) for name in names]
    if not names or any(match is None for match in matches):
        return None
    z = np.array([int(match.group(1)) for match in matches if match is not None], dtype=np.int64)
    positions = z - z.min()
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    depth = np.zeros(inverse.max() + 1, dtype=np.int64)
    np.maximum.at(depth, inverse, positions + 1)
    return positions, depth[inverse]


def _load_h5(root: Path, image_size: int, evaluation: str, spacing: Spacing | None = None) -> Loaded:
    images, labels, groups = [], [], []
    names = _read_list(root / "train_slices.list")
    for name in bar(names, desc="ACDC training slices", unit="slice"):
        image, label = _read_h5(root / "data" / f"{name}.h5")
        images.append(_zoom_slices(image[None], image_size, 1)[0])
        labels.append(_zoom_slices(label[None], image_size, 0)[0])
        groups.append(name.split("_slice")[0])
    volumes = []
    for name in bar(
        _read_list(root / f"{evaluation}.list"), desc=f"ACDC {evaluation} volumes", unit="volume"
    ):
        image, label = _read_h5(root / "data" / f"{name}.h5")
        volumes.append(Volume(name, _zoom_slices(image, image_size, 1), label, spacing))
    return images, labels, groups, h5_slice_positions(names, groups), volumes


def _raw_cases(root: Path) -> list[tuple[str, Path, Path]]:
    cases = []
    for image in sorted((root / "training").glob("patient*/patient*_frame[0-9][0-9].nii.gz")):
        label = image.with_name(image.name.replace(".nii.gz", "_gt.nii.gz"))
        cases.append((image.name.removesuffix(".nii.gz"), image, label))
    if not cases:
        raise DatasetError(
            f"{root / 'training'} holds no patientXXX/patientXXX_frameYY.nii.gz volumes: {WHERE_TO_GET}"
        )
    return cases


def _load_raw(root: Path, image_size: int, evaluation: str, spacing: Spacing | None = None) -> Loaded:
    held_out = set(TEST_PATIENTS if evaluation == "test" else VAL_PATIENTS)
    excluded = set(VAL_PATIENTS) | set(TEST_PATIENTS)
    images: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    groups: list[str] = []
    volumes: list[Volume] = []
    positions: list[np.ndarray] = []
    for name, image_path, label_path in bar(_raw_cases(root), desc="ACDC volumes", unit="volume"):
        number = _patient_number(name)
        if number not in held_out and number in excluded:
            continue
        image, spacing = _read_nifti(image_path)
        label, _ = _read_nifti(label_path)
        label = np.rint(label).astype(np.uint8)
        image = _normalise(image.astype(np.float32))
        _check_arrays(image, label, image_path)
        if number in held_out:
            volumes.append(Volume(name, _zoom_slices(image, image_size, 1), label, spacing))
            continue
        images.extend(_zoom_slices(image, image_size, 1))
        labels.extend(_zoom_slices(label, image_size, 0))
        groups.extend([name] * image.shape[0])
        positions.append(np.arange(image.shape[0], dtype=np.int64))
    depths = [np.full(p.size, p.size, dtype=np.int64) for p in positions]
    slices = (np.concatenate(positions), np.concatenate(depths)) if positions else None
    return images, labels, groups, slices, volumes


def load_acdc(
    root: str = "",
    image_size: int = 256,
    layout: str = "auto",
    evaluation: str = "test",
    spacing: list[float] | None = None,
) -> SegmentationData:
    """ACDC cine MRI (RV, MYO, LV), SSL4MIS split, h5 or raw NIfTI layout.

    The training slices are the pool and the ``evaluation`` ("test" or "val") volumes are
    evaluated in 3D. ``root`` defaults to ``$ALSTRATEGIES_ACDC_ROOT``. ``spacing`` (z, y, x in
    mm) is the voxel spacing of the h5 copy's volumes, which store none; the raw layout has the
    headers' and refuses it.
    """

    if evaluation not in ("test", "val"):
        raise DatasetError(f"data.evaluation must be 'test' or 'val', got {evaluation!r}")
    shared.check_image_size(image_size)
    path = resolve_root(root)
    found = detect_layout(path)
    if layout not in ("auto", found):
        raise DatasetError(f"data.layout = {layout!r} but {path} has the {found!r} layout")
    voxel = check_spacing(spacing)
    if voxel is not None and found == "raw":
        raise DatasetError(
            f"data.spacing is for ACDC's h5 copy; {path} has the raw layout, whose NIfTI headers give the "
            "spacing (drop data.spacing)"
        )
    reader = _load_h5 if found == "h5" else _load_raw
    images, labels, groups, slices, volumes = reader(path, image_size, evaluation, voxel)
    if not images:
        raise DatasetError(f"{path}: no training slices found")
    positions, depths = slices if slices is not None else (None, None)
    return SegmentationData(
        name="acdc",
        class_names=list(CLASS_NAMES),
        pool_images=np.stack(images)[:, None].astype(np.float32),
        pool_labels=np.stack(labels).astype(np.uint8),
        pool_groups=np.asarray(groups),
        test_volumes=volumes,
        info={"root": str(path), "layout": found, "evaluation": evaluation, "spacing": str(voxel)},
        pool_positions=positions,
        pool_depths=depths,
    )
