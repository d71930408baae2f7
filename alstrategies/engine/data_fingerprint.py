"""The content fingerprint of a dataset, kept in a run folder's ``data_fingerprint.json`` so that
a resume on edited data is refused.

Labels are hashed exactly (SHA-256 of their values, whatever their integer dtype). Images are
summarised per slice by four float64 moments -- the mean intensity, the means weighted by the
row and by the column position (so a flipped or shifted slice differs too) and the mean
absolute intensity -- and compared with a tolerance of :data:`IMAGE_TOLERANCE` times the mean
absolute intensity, because resampling libraries and CPUs may round intensities differently.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from alstrategies.atomic import atomic_write_text
from alstrategies.types import SegmentationData

#: A moment may differ by this fraction of the images' mean absolute intensity.
IMAGE_TOLERANCE = 1e-5


def slice_moments(images: np.ndarray, chunk: int = 256) -> np.ndarray:
    """``N x 4`` float64 moments of each slice of an ``N x ... x H x W`` stack: mean, mean
    weighted by the row position in [0, 1], by the column position, and mean absolute value."""
    n, h, w = len(images), images.shape[-2], images.shape[-1]
    rows, cols = np.linspace(0.0, 1.0, h), np.linspace(0.0, 1.0, w)
    out = np.zeros((n, 4), dtype=np.float64)
    for start in range(0, n, chunk):
        block = np.asarray(images[start : start + chunk], dtype=np.float64)
        block = block.reshape(len(block), -1, h, w)
        size = block[0].size
        out[start : start + len(block), 0] = block.sum(axis=(1, 2, 3)) / size
        out[start : start + len(block), 1] = np.einsum("nchw,h->n", block, rows) / size
        out[start : start + len(block), 2] = np.einsum("nchw,w->n", block, cols) / size
        out[start : start + len(block), 3] = np.abs(block).sum(axis=(1, 2, 3)) / size
    return out


def labels_sha256(arrays: Iterable[np.ndarray], chunk: int = 256) -> str:
    """SHA-256 of the shapes and int32 values of ``arrays``, read ``chunk`` slices at a time."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(f"{tuple(array.shape)};".encode())
        for start in range(0, len(array), chunk):
            digest.update(np.ascontiguousarray(array[start : start + chunk], dtype=np.int32).tobytes())
    return digest.hexdigest()


def _rounded(moments: np.ndarray) -> list[list[float]]:
    return [[float(f"{v:.10g}") for v in row] for row in moments.tolist()]


def content_fingerprint(data: SegmentationData) -> dict:
    """The pool images' and test images' slice moments and the SHA-256 of the pool's and the
    test volumes' labels."""
    test = [slice_moments(v.image) for v in data.test_volumes]
    return {
        "pool_images": _rounded(slice_moments(data.pool_images)),
        "pool_labels_sha256": labels_sha256([data.pool_labels]),
        "test_images": _rounded(np.concatenate([np.zeros((0, 4)), *test])),
        "test_labels_sha256": labels_sha256(v.label for v in data.test_volumes),
    }


def _images_differ(recorded: list, current: list) -> bool:
    a, b = np.asarray(recorded, dtype=np.float64), np.asarray(current, dtype=np.float64)
    if a.shape != b.shape:
        return True
    if a.size == 0:
        return False
    scale = max(float(np.abs(b[:, 3]).mean()), 1e-12)
    return bool(np.abs(a - b).max() > IMAGE_TOLERANCE * scale)


def changed_parts(recorded: dict, current: dict) -> list[str]:
    """Which of ``pool images``, ``pool labels`` and ``test volumes`` differ."""
    parts = []
    if _images_differ(recorded.get("pool_images", []), current["pool_images"]):
        parts.append("pool images")
    if recorded.get("pool_labels_sha256") != current["pool_labels_sha256"]:
        parts.append("pool labels")
    if recorded.get("test_labels_sha256") != current["test_labels_sha256"] or _images_differ(
        recorded.get("test_images", []), current["test_images"]
    ):
        parts.append("test volumes")
    return parts


def fingerprint_mismatch(root: Path, path: Path, current: dict) -> str:
    """One line refusing the run folder at ``root`` when the fingerprint recorded at ``path``
    differs from ``current``; empty when it matches or none is recorded (an older folder)."""
    if not path.is_file():
        return ""
    parts = changed_parts(json.loads(path.read_text()), current)
    if not parts:
        return ""
    return (
        f"run folder {root} was built on other data: the {' and '.join(parts)} changed since it was "
        "started; use a new --out folder, or restore the data it was built on to resume"
    )


def write_fingerprint(path: Path, fingerprint: dict) -> None:
    """Write ``fingerprint`` compactly (one line) and atomically."""
    atomic_write_text(path, json.dumps(fingerprint, separators=(",", ":")))
