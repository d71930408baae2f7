"""Any folder of image/label volume pairs (NIfTI or h5) with a label-value map: datasets users bring.

Every option is a plain TOML value under ``[data]`` (``name = "folder"``):

- ``images``: a glob, relative to ``root``, of the image volumes (``.nii``, ``.nii.gz``, ``.h5``,
  ``.hdf5``). Files whose name starts with ``.`` (e.g. macOS ``._`` copies in the Medical
  Segmentation Decathlon archives) and files that are the label of another match are skipped.
- ``labels``: the label file of each image, relative to ``root``, with the placeholders
  ``{name}`` (the image's file name), ``{stem}`` (the file name without ``.nii.gz``/``.nii``/
  ``.h5``/``.hdf5``) and ``{dir}`` (the image's folder relative to ``root``). Empty: the label is
  in the image's own h5 file. The case name (pool group, test volume name) is the stem.
- ``image_key``, ``label_key``: the h5 dataset names.
- ``label_map``: stored label value -> class index (TOML keys are strings: ``{"200" = 2}``); a
  non-zero value that is not in the map is an error. Default: the values 0..len(class_names).
- ``class_names``: the foreground class names (class ``i`` is ``class_names[i - 1]``).
- ``slice_axis``: the array axis of the 2D slices; default the last for NIfTI (files are x, y, z,
  as in ACDC) and the first for h5 (``D x H x W``, as in SSL4MIS).
- ``test_cases`` / ``train_cases``: explicit case lists (a missing one is every other case);
  otherwise a seeded case split with ``test_fraction`` and ``split_seed``.
- ``intensity``: ``"minmax"`` per volume (default), ``"window"`` (clip to ``window = [low,
  high]`` and scale to [0, 1]; giving ``window`` alone selects it) or ``"none"`` (use the stored
  values, e.g. already normalised h5).
- ``image_size``, ``empty_slice_fraction`` (share of each training case's slices without
  foreground kept in the pool; default 1.0 keeps all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alstrategies.data import volumes as shared
from alstrategies.errors import DatasetError
from alstrategies.types import SegmentationData

ENVIRONMENT_VARIABLE = "ALSTRATEGIES_FOLDER_ROOT"
NIFTI_SUFFIXES = (".nii.gz", ".nii")
H5_SUFFIXES = (".h5", ".hdf5")
WHERE_TO_GET = (
    f"set data.root (or --data PATH, or {ENVIRONMENT_VARIABLE}) to the folder that holds your "
    "image/label volumes, and data.images / data.labels to their patterns"
)


def _split_suffix(name: str) -> tuple[str, str]:
    for suffix in (*NIFTI_SUFFIXES, *H5_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def _label_map(label_map: Mapping[Any, Any] | None, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(raw values, class indices) sorted by raw value; background 0 maps to 0 unless remapped."""
    if label_map is None:
        values = np.arange(num_classes)
        return values, values.copy()
    if not isinstance(label_map, Mapping):
        raise DatasetError(f"data.label_map must be a table of value -> class index, got {label_map!r}")
    pairs: dict[int, int] = {}
    for key, index in label_map.items():
        try:
            raw = int(key)
            if isinstance(key, float) and key != raw:
                raise ValueError
        except (TypeError, ValueError):
            raise DatasetError(f"data.label_map key {key!r} is not an integer label value") from None
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < num_classes:
            raise DatasetError(
                f"data.label_map[{key!r}] = {index!r} is not a class index in 0..{num_classes - 1} "
                f"(class_names has {num_classes - 1} foreground classes)"
            )
        if raw in pairs and pairs[raw] != index:
            raise DatasetError(f"data.label_map maps the value {raw} twice")
        pairs[raw] = index
    pairs.setdefault(0, 0)
    values = np.asarray(sorted(pairs), dtype=np.int64)
    return values, np.asarray([pairs[v] for v in values.tolist()], dtype=np.int64)


def _apply_map(raw: np.ndarray, values: np.ndarray, classes: np.ndarray, source: Path) -> np.ndarray:
    found = shared.unique_values(raw)
    unknown = np.setdiff1d(found, values)
    if unknown.size:
        raise DatasetError(
            f"{source}: label values {unknown.tolist()} are not in data.label_map (found "
            f"{found.tolist()}, declared {values.tolist()})"
        )
    mapped = np.zeros(raw.shape, np.uint8)
    for value, index in zip(values.tolist(), classes.tolist(), strict=True):
        if index and value in found:
            mapped[raw == value] = index
    return mapped


class _Reader:
    """Reads one case: image, mapped labels and spacing, slices first."""

    def __init__(
        self,
        root: Path,
        labels: str,
        image_key: str,
        label_key: str,
        slice_axis: int | None,
        intensity: str,
        window: Sequence[float] | None,
        values: np.ndarray,
        classes: np.ndarray,
    ) -> None:
        self.root, self.labels = root, labels
        self.image_key, self.label_key = image_key, label_key
        self.slice_axis, self.intensity, self.window = slice_axis, intensity, window
        self.values, self.classes = values, classes

    def label_path(self, image: Path) -> Path | None:
        if not self.labels:
            return None
        stem, _ = _split_suffix(image.name)
        folder = image.parent.relative_to(self.root).as_posix()
        try:
            relative = self.labels.format(name=image.name, stem=stem, dir=folder)
        except (KeyError, IndexError, ValueError) as error:
            raise DatasetError(
                f"data.labels = {self.labels!r} has an unknown placeholder {error}; use {{name}}, "
                "{stem} or {dir}"
            ) from None
        return self.root / relative

    def _read(self, path: Path, key: str, is_label: bool) -> tuple[np.ndarray, shared.Spacing | None, int]:
        if path.name.lower().endswith(NIFTI_SUFFIXES):
            array, spacing = shared.read_nifti(path, None if is_label else np.float32)
            return array, spacing, -1
        if path.name.lower().endswith(H5_SUFFIXES):
            array = shared.read_h5(path, key, None)[key]
            if array.ndim != 3:
                raise DatasetError(f"{path}: key {key!r} holds shape {array.shape}, expected a 3D volume")
            if not is_label:
                array = array.astype(np.float32)
            return array, None, 0
        raise DatasetError(
            f"{path}: unsupported file type (expected {', '.join(NIFTI_SUFFIXES + H5_SUFFIXES)})"
        )

    def read(self, image_path: Path) -> tuple[np.ndarray, np.ndarray, shared.Spacing | None]:
        label_path = self.label_path(image_path)
        image, spacing, default_axis = self._read(image_path, self.image_key, False)
        if label_path is None:
            if not image_path.name.lower().endswith(H5_SUFFIXES):
                raise DatasetError(
                    f"{image_path}: data.labels is empty, which only works for h5 files holding "
                    f"both {self.image_key!r} and {self.label_key!r}; set data.labels (e.g. "
                    "'labelsTr/{name}')"
                )
            label_path = image_path
        elif not label_path.is_file():
            raise DatasetError(
                f"{label_path} (the label of {image_path} by data.labels = {self.labels!r}) is missing"
            )
        raw, _, _ = self._read(label_path, self.label_key, True)
        if image.shape != raw.shape:
            raise DatasetError(
                f"{label_path}: label shape {raw.shape} differs from the image shape {image.shape} "
                f"of {image_path}"
            )
        if not np.isfinite(image).all():
            raise DatasetError(f"{image_path}: image contains NaN or infinite intensities")
        label = _apply_map(shared.integer_labels(raw, label_path), self.values, self.classes, label_path)
        axis = default_axis if self.slice_axis is None else self.slice_axis
        image, spacing = shared.to_slices(image, spacing, axis)
        label, _ = shared.to_slices(label, None, axis)
        if self.intensity == "minmax":
            image = shared.normalise_minmax(image)
        elif self.intensity == "window":
            image = shared.normalise_window(image, float(self.window[0]), float(self.window[1]))
        return np.ascontiguousarray(image, np.float32), np.ascontiguousarray(label), spacing


def _find_images(root: Path, images: str, reader: _Reader) -> dict[str, Path]:
    if not images:
        raise DatasetError("data.images must be a glob of the image volumes, e.g. 'imagesTr/*.nii.gz'")
    if not any(root.iterdir()):
        raise DatasetError(f"dataset folder {root} is empty: {WHERE_TO_GET}")
    matches = [p for p in sorted(root.glob(images)) if p.is_file() and not p.name.startswith(".")]
    if not matches:
        raise DatasetError(f"data.images = {images!r} matches no file under {root}")
    label_files = {reader.label_path(p) for p in matches} - {None}
    cases: dict[str, Path] = {}
    for path in matches:
        if path in label_files:
            continue  # a label that the images glob also matched
        stem, suffix = _split_suffix(path.name)
        if not suffix:
            raise DatasetError(
                f"{path} (matched by data.images = {images!r}) is not a NIfTI or h5 file "
                f"(expected {', '.join(NIFTI_SUFFIXES + H5_SUFFIXES)})"
            )
        if stem in cases:
            raise DatasetError(f"two images have the case name {stem!r}: {cases[stem]} and {path}")
        cases[stem] = path
    if not cases:
        raise DatasetError(f"data.images = {images!r} matches only label files under {root}")
    return cases


def load_folder(
    root: str = "",
    images: str = "imagesTr/*.nii.gz",
    labels: str = "labelsTr/{name}",
    class_names: list[str] | None = None,
    label_map: dict | None = None,
    image_key: str = "image",
    label_key: str = "label",
    slice_axis: int | None = None,
    test_cases: list[str] | None = None,
    train_cases: list[str] | None = None,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    intensity: str = "minmax",
    window: list[float] | None = None,
    image_size: int = 256,
    empty_slice_fraction: float = 1.0,
) -> SegmentationData:
    """Any folder of NIfTI or h5 image/label volumes with a label-value map (your own data).

    See the module docstring for the options; ``root`` defaults to ``$ALSTRATEGIES_FOLDER_ROOT``.
    The pool is the 2D slices of the training cases along ``slice_axis`` at ``image_size``; the
    test cases are evaluated as volumes with labels at their original resolution and, for NIfTI,
    the header's voxel spacing.
    """
    if class_names is None:
        raise DatasetError('data.class_names is required for the folder dataset, e.g. ["RV", "MYO", "LV"]')
    if isinstance(class_names, str) or not class_names or not all(isinstance(n, str) for n in class_names):
        raise DatasetError(f"data.class_names must be a non-empty list of names, got {class_names!r}")
    if window is not None and intensity == "minmax":
        intensity = "window"  # the default intensity with a window: the window
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
    if slice_axis is not None and (isinstance(slice_axis, bool) or slice_axis not in (-3, -2, -1, 0, 1, 2)):
        raise DatasetError(f"data.slice_axis must be 0, 1, 2 or -1, got {slice_axis!r}")
    if not 0.0 <= empty_slice_fraction <= 1.0:
        raise DatasetError(f"data.empty_slice_fraction must be between 0 and 1, got {empty_slice_fraction}")
    shared.check_image_size(image_size)
    values, classes = _label_map(label_map, len(class_names) + 1)
    path = shared.resolve_root(root, "dataset", ENVIRONMENT_VARIABLE, WHERE_TO_GET)
    reader = _Reader(path, labels, image_key, label_key, slice_axis, intensity, window, values, classes)
    cases = _find_images(path, images, reader)
    if test_cases is not None or train_cases is not None:
        train, test = shared.choose_cases(cases, train_cases, test_cases, f"{path} ({images})")
    else:
        train, test = shared.split_cases(list(cases), test_fraction, split_seed)

    return shared.case_volumes_data(
        "folder",
        class_names,
        lambda name: reader.read(cases[name]),
        train,
        test,
        image_size=image_size,
        empty_slice_fraction=empty_slice_fraction,
        seed=split_seed,
        root=path,
        info={"root": str(path), "images": images, "train_cases": len(train), "test_cases": len(test)},
    )
