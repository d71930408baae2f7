"""Shared pieces of the file-based loaders (ACDC, KiTS19, folder): reading NIfTI and h5 volumes
with clear errors, checking arrays, intensity normalisation, slice resampling, seeded case splits,
the subsampling of slices without foreground and the pool/evaluation split of case volumes.

Every problem with the files raises :class:`DatasetError` (a ``ValueError``) whose message names
the file and what was expected, so a bad dataset fails before any training starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from alstrategies.data import nifti
from alstrategies.data.bars import bar
from alstrategies.errors import DatasetError
from alstrategies.types import SegmentationData, Volume

Spacing = tuple[float, float, float]
#: Reads one case by name: ``(image, label, spacing)``, slices first, labels as class indices.
CaseReader = Callable[[str], tuple[np.ndarray, np.ndarray, Spacing | None]]


def resolve_root(root: str | os.PathLike | None, dataset: str, variable: str, where_to_get: str) -> Path:
    """``root``, else ``$<variable>``; an error saying where to get ``dataset`` otherwise."""
    chosen = str(root) if root else os.environ.get(variable, "")
    if not chosen:
        raise DatasetError(f"no {dataset} folder given: {where_to_get}")
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DatasetError(f"{dataset} folder {path} does not exist: {where_to_get}")
    return path


def check_image_size(image_size: int) -> None:
    if not isinstance(image_size, int) or image_size < 16 or image_size % 16:
        raise DatasetError(f"data.image_size must be a multiple of 16 (four poolings), got {image_size!r}")


def check_arrays(image: np.ndarray, label: np.ndarray, source: Path | str, allowed: Sequence[int]) -> None:
    """Same shape, finite intensities and label values within ``allowed``."""
    if image.shape != label.shape:
        raise DatasetError(f"{source}: image shape {image.shape} differs from label shape {label.shape}")
    if not np.isfinite(image).all():
        raise DatasetError(f"{source}: image contains NaN or infinite intensities")
    bad = np.setdiff1d(unique_values(label), np.asarray(list(allowed)))
    if bad.size:
        expected = "{" + ", ".join(str(int(v)) for v in sorted(allowed)) + "}"
        raise DatasetError(f"{source}: label values {bad.tolist()} outside the expected {expected}")


def unique_values(array: np.ndarray) -> np.ndarray:
    """``np.unique`` of an array, by counting for small integer types (fast on CT-sized labels)."""
    if array.dtype == bool:
        array = array.view(np.uint8)
    if array.dtype in (np.uint8, np.uint16):
        return np.flatnonzero(np.bincount(array.ravel(), minlength=1))
    return np.unique(array)


def read_nifti(path: Path, dtype: type | None = None) -> tuple[np.ndarray, Spacing]:
    """The array of a NIfTI file in file axis order and its first three voxel sizes (mm).

    ``dtype`` (e.g. ``np.float32``) reads scaled intensities in that type; ``None`` keeps the
    stored values (for labels). Trailing singleton axes beyond three are dropped; any other
    shape than 3D is an error. See :func:`alstrategies.data.nifti.read_nifti` for reorientation
    and channels.
    """
    return nifti.read_nifti(path, dtype)


def read_h5(path: Path, image_key: str = "image", label_key: str | None = "label") -> dict[str, np.ndarray]:
    """The datasets ``image_key`` (and ``label_key`` unless ``None``) of an h5 file."""
    import h5py

    if not path.is_file():
        raise DatasetError(f"{path} is missing")
    nifti.read_head(path)  # an unreadable file: one line that says so, not "corrupt"
    keys = [image_key] if label_key is None else [image_key, label_key]
    try:
        with h5py.File(path, "r") as handle:
            missing = [key for key in keys if key not in handle]
            if missing:
                raise DatasetError(
                    f"{path} lacks the key(s) {missing} (expected {keys}; found {sorted(handle.keys())})"
                )
            return {key: np.asarray(handle[key]) for key in keys}
    except OSError as error:
        raise DatasetError(f"{path} is corrupt or truncated ({error})") from None


def to_slices(array: np.ndarray, spacing: Spacing | None, axis: int) -> tuple[np.ndarray, Spacing | None]:
    """Move the slice ``axis`` of a 3D array first (the other two keep their order), and the
    spacing with it."""
    if array.ndim != 3 or not -3 <= axis <= 2:
        raise DatasetError(f"slice axis {axis} is not an axis of a 3D array of shape {array.shape}")
    axis %= 3
    moved = np.moveaxis(array, axis, 0)
    if spacing is None:
        return moved, None
    rest = [spacing[i] for i in range(3) if i != axis]
    return moved, (spacing[axis], rest[0], rest[1])


def integer_labels(raw: np.ndarray, source: Path | str) -> np.ndarray:
    """Stored label values as integers (integer types unchanged, bool as uint8, float checked and
    cast to int32); non-integer values (e.g. a linearly resampled label) are an error."""
    if np.issubdtype(raw.dtype, np.integer):
        return raw
    if raw.dtype == bool:
        return raw.astype(np.uint8)
    rounded = np.rint(raw)
    if not np.array_equal(rounded, raw):  # also catches NaN
        odd = np.unique(raw[rounded != raw])[:5]
        raise DatasetError(f"{source}: label volume holds non-integer values such as {odd.tolist()}")
    if rounded.size and (rounded.min() < -(2**31) or rounded.max() >= 2**31):
        raise DatasetError(f"{source}: label values beyond the 32-bit integer range")
    return rounded.astype(np.int32)


def zoom_slices(stack: np.ndarray, size: int, order: int) -> np.ndarray:
    """Zoom every slice of ``D x H x W`` to ``D x size x size`` (order 1 images, 0 labels), corners
    aligned (``grid_mode=False``, the convention evaluation resamples back with). Samples that
    rounding puts a hair outside the slice take the edge value (``mode="nearest"``), not 0."""
    depth, height, width = stack.shape
    if (height, width) == (size, size):
        return stack.copy()
    factors = (1.0, size / height, size / width)
    zoomed = ndimage.zoom(stack, factors, order=order, grid_mode=False, mode="nearest")
    return zoomed.astype(stack.dtype, copy=False)


def normalise_minmax(image: np.ndarray) -> np.ndarray:
    """Min-max normalisation to [0, 1] over the whole volume."""
    low, high = float(image.min()), float(image.max())
    return ((image - low) / max(high - low, 1e-8)).astype(np.float32)


def normalise_window(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """Clip to ``[low, high]`` (e.g. a CT Hounsfield window) and scale to [0, 1]."""
    if not high > low:
        raise DatasetError(f"intensity window must have low < high, got [{low}, {high}]")
    clipped = np.clip(image, low, high)
    return ((clipped - low) / (high - low)).astype(np.float32)


def split_cases(names: Sequence[str], test_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Seeded case-level split: (train, test), each sorted.

    ``round(n * test_fraction)`` cases (at least one, and at least one left for training) are drawn
    by ``numpy.random.default_rng(seed).permutation`` over the sorted names, so the split depends
    only on the set of cases, the fraction and the seed.
    """
    if not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"data.test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    ordered = sorted(names)
    if len(ordered) < 2:
        raise DatasetError(f"a train/test split needs at least two cases, found {len(ordered)}: {ordered}")
    count = min(max(int(np.floor(len(ordered) * test_fraction + 0.5)), 1), len(ordered) - 1)
    order = np.random.default_rng(seed).permutation(len(ordered))
    test = sorted(ordered[i] for i in order[:count])
    train = sorted(ordered[i] for i in order[count:])
    return train, test


def keep_slices(label: np.ndarray, empty_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of the slices of ``D x H x W`` kept for the pool: every slice with foreground and
    ``round(empty_fraction * E)`` of the ``E`` slices without, drawn by ``rng`` (sorted)."""
    if not 0.0 <= empty_fraction <= 1.0:
        raise DatasetError(f"data.empty_slice_fraction must be between 0 and 1, got {empty_fraction}")
    has_foreground = label.reshape(label.shape[0], -1).any(axis=1)
    empty = np.flatnonzero(~has_foreground)
    count = int(np.floor(empty.size * empty_fraction + 0.5))
    chosen = rng.choice(empty, size=count, replace=False) if count < empty.size else empty
    return np.sort(np.concatenate([np.flatnonzero(has_foreground), chosen]).astype(np.int64))


def case_volumes_data(
    name: str,
    class_names: Sequence[str],
    read: CaseReader,
    train: Sequence[str],
    held_out: Sequence[str],
    *,
    image_size: int,
    empty_slice_fraction: float,
    seed: int,
    root: Path,
    info: dict[str, Any],
    progress: str = "",
    held_out_kind: str = "test",
) -> SegmentationData:
    """The :class:`SegmentationData` of case volumes read by ``read``.

    The pool is the slices of the ``train`` cases kept by :func:`keep_slices` (one generator
    seeded by ``seed`` over the cases in order), zoomed to ``image_size`` and grouped by case,
    with each slice's index in its case volume and the volume's depth (before subsampling);
    the ``held_out`` cases become evaluation volumes with every slice zoomed and the labels at
    their original resolution. ``progress`` prefixes the progress bars ("<progress> training
    cases", "<progress> <held_out_kind> cases"). An empty pool is an error naming ``root``.
    """
    prefix = f"{progress} " if progress else ""
    pool_images, pool_labels, groups, positions, depths = [], [], [], [], []
    rng = np.random.default_rng(seed)
    for case in bar(train, desc=f"{prefix}training cases", unit="case"):
        image, label, _ = read(case)
        keep = keep_slices(label, empty_slice_fraction, rng)
        pool_images.append(zoom_slices(image[keep], image_size, 1))
        pool_labels.append(zoom_slices(label[keep], image_size, 0))
        groups.extend([case] * keep.size)
        positions.append(keep)
        depths.append(np.full(keep.size, label.shape[0], dtype=np.int64))
        del image, label  # CT volumes are large: free one before reading the next
    volumes = []
    for case in bar(held_out, desc=f"{prefix}{held_out_kind} cases", unit="case"):
        image, label, spacing = read(case)
        volumes.append(Volume(case, zoom_slices(image, image_size, 1), label, spacing))
    if not groups:
        raise DatasetError(f"{root}: the training cases {list(train)} leave no slice in the pool")
    return SegmentationData(
        name=name,
        class_names=list(class_names),
        pool_images=np.concatenate(pool_images)[:, None].astype(np.float32, copy=False),
        pool_labels=np.concatenate(pool_labels).astype(np.uint8, copy=False),
        pool_groups=np.asarray(groups),
        test_volumes=volumes,
        info=info,
        pool_positions=np.concatenate(positions).astype(np.int64),
        pool_depths=np.concatenate(depths),
    )


def choose_cases(
    cases: Iterable[str], train_cases: Sequence[str] | None, test_cases: Sequence[str] | None, where: str
) -> tuple[list[str], list[str]]:
    """Explicit train/test case lists: unknown or overlapping names are errors; a missing list is
    every other case."""
    available = sorted(cases)
    known = set(available)
    for key, listed in (("train_cases", train_cases), ("test_cases", test_cases)):
        if listed is None:
            continue
        if isinstance(listed, str) or not all(isinstance(name, str) for name in listed):
            raise DatasetError(f"data.{key} must be a list of case names, got {listed!r}")
        unknown = sorted(set(listed) - known)
        if unknown:
            raise DatasetError(
                f"data.{key} names case(s) {unknown} that {where} does not hold; cases found: "
                f"{_preview(available)}"
            )
    test = sorted(set(test_cases)) if test_cases is not None else None
    train = sorted(set(train_cases)) if train_cases is not None else None
    if test is None:
        test = sorted(known - set(train or []))
    if train is None:
        train = sorted(known - set(test))
    overlap = sorted(set(train) & set(test))
    if overlap:
        raise DatasetError(f"case(s) {overlap} are in both data.train_cases and data.test_cases")
    if not train or not test:
        raise DatasetError(f"the split leaves {len(train)} training and {len(test)} test cases; need both")
    return train, test


def _preview(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return f"[{shown}{', ...' if len(names) > limit else ''}] ({len(names)} in all)"
