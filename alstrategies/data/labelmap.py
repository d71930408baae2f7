"""Stored label values -> class indices (``data.label_map``), and the warning for a declared class
that no voxel carries (a label map that merges two classes, a class absent from the files)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from alstrategies.data import volumes as shared
from alstrategies.data.notices import warn
from alstrategies.errors import DatasetError
from alstrategies.types import SegmentationData


def parse_label_map(label_map: Mapping[Any, Any] | None, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
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


def apply_map(
    raw: np.ndarray, values: np.ndarray, classes: np.ndarray, source: Path, what: str = "data.label_map"
) -> np.ndarray:
    """Class indices (uint8) of stored values; a value outside ``values`` is an error naming
    ``what`` declares them (``data.label_map``, or dataset.json's ``labels``)."""
    found = shared.unique_values(raw)
    unknown = np.setdiff1d(found, values)
    if unknown.size:
        raise DatasetError(
            f"{source}: label values {unknown.tolist()} are not in {what} (found "
            f"{found.tolist()}, declared {values.tolist()})"
        )
    mapped = np.zeros(raw.shape, np.uint8)
    for value, index in zip(values.tolist(), classes.tolist(), strict=True):
        if index and value in found:
            mapped[raw == value] = index
    return mapped


def describe_label_map(
    values: np.ndarray, classes: np.ndarray, what: str = "data.label_map"
) -> Callable[[int], str]:
    """``index -> "data.label_map maps '500' to it"``: which stored values feed a class."""

    def describe(index: int) -> str:
        feeding = [f"'{v}'" for v, c in zip(values.tolist(), classes.tolist(), strict=True) if c == index]
        if not feeding:
            pairs = zip(values.tolist(), classes.tolist(), strict=True)
            table = ", ".join(f"'{v}' = {c}" for v, c in pairs if v or c)
            return f"no {what} entry maps to it ({what}: {table})"
        return f"{what} maps {', '.join(feeding)} to it"

    return describe


def class_counts(labels: Any, num_classes: int) -> np.ndarray:
    """Voxels per class of a label array (or a list of them)."""
    counts = np.zeros(num_classes, np.int64)
    for array in labels if isinstance(labels, list) else [labels]:
        flat = np.asarray(array).reshape(-1)
        counts += np.bincount(flat, minlength=num_classes)[:num_classes]
    return counts


def warn_empty_classes(data: SegmentationData, describe: Callable[[int], str]) -> list[str]:
    """Warn once per declared class without a voxel in the pool or in the test volumes; the
    messages (empty when every class is present)."""
    pool = class_counts(data.pool_labels, data.num_classes)
    test = class_counts([v.label for v in data.test_volumes], data.num_classes)
    messages = []
    for index, name in enumerate(data.class_names, start=1):
        where = [part for part, counts in (("the pool", pool), ("the test set", test)) if counts[index] == 0]
        if where:
            messages.append(
                f"{data.name}: class {index} {name!r} has no voxel in {' or '.join(where)}; {describe(index)}"
            )
    for message in messages:
        warn(message)
    return messages
