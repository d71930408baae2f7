"""Image/label file pairs -> SegmentationData: the reading options shared by the folder, nnU-Net
and Decathlon loaders (orientation, slice axis, spacing, channel, intensity, label map) and the
case split (explicit lists or a seeded split). An image and its NIfTI label must lie on one voxel
grid (:mod:`alstrategies.data.geometry`); volumes sliced in different planes are warned about."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alstrategies.data import nifti
from alstrategies.data import volumes as shared
from alstrategies.data.census import Census, preview
from alstrategies.data.geometry import check_same_grid
from alstrategies.data.labelmap import apply_map, warn_empty_classes
from alstrategies.data.notices import warn
from alstrategies.data.orientation import check_slice_axis, choose_slice_axis
from alstrategies.errors import DatasetError
from alstrategies.types import SegmentationData

NIFTI_SUFFIXES = (".nii.gz", ".nii")
H5_SUFFIXES = (".h5", ".hdf5")
#: case name -> (image file, label file; ``None``: the label is in the image's h5 file)
Pairs = Mapping[str, tuple[Path, Path | None]]
PLANES = {"R": "sagittal", "L": "sagittal", "A": "coronal", "P": "coronal", "S": "axial", "I": "axial"}


def check_intensity(intensity: str, window: Sequence[float] | None) -> str:
    """The intensity mode (a window with the default ``"minmax"`` selects ``"window"``)."""
    if window is not None and intensity == "minmax":
        intensity = "window"
    if intensity not in ("minmax", "window", "none"):
        raise DatasetError(f"data.intensity must be 'minmax', 'window' or 'none', got {intensity!r}")
    if intensity == "window" and (
        window is None
        or isinstance(window, str)
        or len(window) != 2
        or not float(window[1]) > float(window[0])
    ):
        raise DatasetError(f"data.intensity = 'window' needs data.window = [low, high], got {window!r}")
    if intensity == "none" and window is not None:
        raise DatasetError("data.window is set but data.intensity = 'none'; drop one of them")
    return intensity


def check_spacing(spacing: Any) -> shared.Spacing | None:
    """``data.spacing``: three positive voxel sizes in mm, or ``None``."""
    if spacing is None:
        return None
    if (
        isinstance(spacing, (str, bytes))
        or not isinstance(spacing, Sequence)
        or len(spacing) != 3
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in spacing)
    ):
        raise DatasetError(
            f"data.spacing must be three positive voxel sizes in mm, e.g. [10, 1.5, 1.5], got {spacing!r}"
        )
    return tuple(float(v) for v in spacing)  # type: ignore[return-value]


@dataclass(frozen=True)
class PairReader:
    """Reads one case: image, mapped labels and spacing, slices first."""

    values: np.ndarray
    classes: np.ndarray
    image_key: str = "image"
    label_key: str = "label"
    slice_axis: int | str | None = None
    reorient: bool = True
    spacing: shared.Spacing | None = None
    channel: int | None = None
    intensity: str = "minmax"
    window: Sequence[float] | None = None
    describe_labels: str = "data.labels"
    declared_by: str = "data.label_map"
    #: image path -> the plane its slices were taken in (filled by :meth:`read`)
    planes: dict[str, str] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_slice_axis(self.slice_axis)
        if not isinstance(self.reorient, bool):
            raise DatasetError(f"data.reorient must be true or false, got {self.reorient!r}")

    def _read(
        self, path: Path, key: str, is_label: bool
    ) -> tuple[np.ndarray, shared.Spacing | None, int, nifti.NiftiVolume | None]:
        """(array, spacing, default slice axis, the NIfTI volume as read or ``None`` for h5)."""
        name = path.name.lower()
        if name.endswith(NIFTI_SUFFIXES):
            if self.spacing is not None:
                raise DatasetError(
                    f"{path}: data.spacing is for h5 files; a NIfTI file carries its spacing in the header "
                    "(drop data.spacing)"
                )
            volume = nifti.read_volume(
                path,
                None if is_label else np.float32,
                reorient=self.reorient,
                channel=None if is_label else self.channel,
                channel_hint=not is_label,
            )
            return volume.array, volume.zooms, -1, volume
        if name.endswith(H5_SUFFIXES):
            array = shared.read_h5(path, key, None)[key]
            if array.ndim != 3:
                raise DatasetError(f"{path}: key {key!r} holds shape {array.shape}, expected a 3D volume")
            return (array if is_label else array.astype(np.float32)), self.spacing, 0, None
        raise DatasetError(
            f"{path}: unsupported file type (expected {', '.join(NIFTI_SUFFIXES + H5_SUFFIXES)})"
        )

    def read(
        self, image_path: Path, label_path: Path | None
    ) -> tuple[np.ndarray, np.ndarray, shared.Spacing | None]:
        image, spacing, default_axis, image_volume = self._read(image_path, self.image_key, False)
        if label_path is None:
            if not image_path.name.lower().endswith(H5_SUFFIXES):
                raise DatasetError(
                    f"{image_path}: data.labels is empty, which only works for h5 files holding both "
                    f"{self.image_key!r} and {self.label_key!r}; set data.labels (e.g. 'labelsTr/{{name}}')"
                )
            label_path = image_path
        elif not label_path.is_file():
            raise DatasetError(
                f"{label_path} (the label of {image_path} by {self.describe_labels}) is missing"
                + _other_ending(label_path)
            )
        raw, _, _, label_volume = self._read(label_path, self.label_key, True)
        if image_volume is not None and label_volume is not None:
            check_same_grid(image_path, image_volume.affine, label_path, label_volume.affine)
        if image.shape != raw.shape:
            raise DatasetError(
                f"{label_path}: label shape {raw.shape} differs from the image shape {image.shape} of {image_path}"
            )
        if not np.isfinite(image).all():
            raise DatasetError(f"{image_path}: image contains NaN or infinite intensities")
        label = apply_map(
            shared.integer_labels(raw, label_path), self.values, self.classes, label_path, self.declared_by
        )
        axis = choose_slice_axis(self.slice_axis, spacing, default_axis, image_path)
        codes = image_volume.codes if image_volume is not None else ""
        self.planes[str(image_path)] = PLANES.get(codes[axis % 3] if codes else "", f"axis {axis % 3}")
        image, spacing = shared.to_slices(image, spacing, axis)
        label, _ = shared.to_slices(label, None, axis)
        if self.intensity == "minmax":
            image = shared.normalise_minmax(image)
        elif self.intensity == "window":
            assert self.window is not None
            image = shared.normalise_window(image, float(self.window[0]), float(self.window[1]))
        return np.ascontiguousarray(image, np.float32), np.ascontiguousarray(label), spacing


def other_nifti_ending(name: str) -> str:
    """``name`` (a file name or a glob) with the other NIfTI ending (``.nii.gz`` <-> ``.nii``), or ``""``."""
    if name.lower().endswith(".nii.gz"):
        return name[:-3]
    return name + ".gz" if name.lower().endswith(".nii") else ""


def _other_ending(path: Path) -> str:
    """``"; label_3.nii exists ..."`` when the file is there under the other NIfTI ending."""
    other = other_nifti_ending(path.name)
    if other and (path.parent / other).is_file():
        return f"; {path.parent / other} exists under the other ending: make the pattern and the file agree"
    return ""


def warn_mixed_planes(planes: Mapping[str, str], slice_axis: Any) -> str:
    """Warn when the volumes were not all sliced in one plane; the message (``""`` if they were)."""
    by_plane: dict[str, list[str]] = {}
    for image, plane in planes.items():
        by_plane.setdefault(plane, []).append(Path(image).name)
    if len(by_plane) < 2:
        return ""
    ordered = sorted(by_plane.items(), key=lambda item: -len(item[1]))
    parts = [f"{len(names)} {plane} ({preview(names)})" for plane, names in ordered]
    message = (
        f"data.slice_axis = {slice_axis!r} sliced the volumes in different planes: {'; '.join(parts)}; "
        "set data.slice_axis to one integer axis (after reorientation) to slice every volume alike"
    )
    warn(message)
    return message


def split(
    cases: Sequence[str],
    train_cases: Sequence[str] | None,
    test_cases: Sequence[str] | None,
    test_fraction: float,
    split_seed: int,
    where: str,
) -> tuple[list[str], list[str]]:
    """Explicit case lists when either is given, else the seeded split of the sorted cases."""
    if test_cases is not None or train_cases is not None:
        return shared.choose_cases(cases, train_cases, test_cases, where)
    return shared.split_cases(list(cases), test_fraction, split_seed)


def build(
    name: str,
    class_names: Sequence[str],
    pairs: Pairs,
    reader: PairReader,
    train: Sequence[str],
    test: Sequence[str],
    *,
    root: Path,
    image_size: int,
    empty_slice_fraction: float,
    split_seed: int,
    info: dict[str, Any],
    describe_class: Callable[[int], str],
    census: Census | None = None,
) -> SegmentationData:
    """The pool of the ``train`` cases and the ``test`` volumes; warns of a class without voxels,
    of volumes sliced in different planes, and states the ``census`` (its line is ``info["cases"]``)."""
    if not 0.0 <= empty_slice_fraction <= 1.0:
        raise DatasetError(f"data.empty_slice_fraction must be between 0 and 1, got {empty_slice_fraction}")
    census = census or Census(f"{name} {root}", len(pairs))
    line = census.report(train, test, unused="not in data.train_cases or data.test_cases")
    data = shared.case_volumes_data(
        name,
        class_names,
        lambda case: reader.read(*pairs[case]),
        train,
        test,
        image_size=image_size,
        empty_slice_fraction=empty_slice_fraction,
        seed=split_seed,
        root=root,
        info={**info, "train_cases": len(train), "test_cases": len(test), "cases": line},
    )
    warn_mixed_planes(reader.planes, reader.slice_axis if reader.slice_axis is not None else "auto")
    warn_empty_classes(data, describe_class)
    return data
