"""Prediction snapshots for the qualitative figures: one compressed ``.npz`` per round.

Layout: ``RUN/snapshots/<strategy>/seed<S>/round<R>.npz`` (:func:`snapshot_path`). The run loop
writes them with :func:`save_snapshot`; the report reads them with :func:`load_snapshot`.
Arrays (``n`` test slices of ``H x W``; the same slices, in the same order, for every strategy,
seed and round; ``m`` pool images)::

    images          (n, H, W)     float32  required  test images as fed to the network
    labels          (n, H, W)     uint8    required  ground truth, class indices (0 = background)
    prediction      (n, H, W)     uint8    required  the final (for SBC models: refined, ASR) prediction
    slice_names     (n,)          str      required  e.g. "patient001_frame01:5"
    coarse          (n, H, W)     uint8    optional  the backbone's coarse prediction (SBC models)
    distance        (n, D, H, W)  float16  optional  the SFP output, D = C or F distance maps (SBC models)
    cs_high_images  (m, h, w)     float32  optional  pool images with the highest consistency score
    cs_high_scores  (m,)          float64  with cs_high_images, their scores
    cs_low_images   (m', h, w)    float32  optional  pool images with the lowest consistency score
    cs_low_scores   (m',)         float64  with cs_low_images, their scores

(``cs_*`` come from a strategy's ``snapshot_extras`` hook: SBC-AL's.) Label arrays must hold
integers in ``0 .. 255``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from alstrategies.atomic import atomic_stream
from alstrategies.engine.layout import RunLayout
from alstrategies.errors import SnapshotError

__all__ = [
    "SNAPSHOT_KEYS",
    "SnapshotError",
    "find_snapshots",
    "load_snapshot",
    "save_snapshot",
    "snapshot_path",
    "validate_snapshot",
]

#: key -> (dtype stored, shape, required). Shape letters: n test slices, H x W their size,
#: D distance channels (C or F), m pool images (``cs_high_*`` and ``cs_low_*`` each have their own m).
SNAPSHOT_KEYS: dict[str, tuple[str, str, bool]] = {
    "images": ("float32", "(n, H, W)", True),
    "labels": ("uint8", "(n, H, W)", True),
    "prediction": ("uint8", "(n, H, W)", True),
    "slice_names": ("str", "(n,)", True),
    "coarse": ("uint8", "(n, H, W)", False),
    "distance": ("float16", "(n, D, H, W)", False),
    "cs_high_images": ("float32", "(m, h, w)", False),
    "cs_high_scores": ("float64", "(m,)", False),
    "cs_low_images": ("float32", "(m, h, w)", False),
    "cs_low_scores": ("float64", "(m,)", False),
}

_LABEL_KEYS = ("labels", "prediction", "coarse")


def snapshot_path(run_dir: str | Path, strategy: str, seed: int, round_index: int) -> Path:
    """``run_dir/snapshots/<strategy>/seed<seed>/round<round_index>.npz``."""
    return RunLayout(run_dir).snapshot(strategy, int(seed), int(round_index))


def _numpy(value: Any) -> np.ndarray:
    """``value`` as a numpy array; torch tensors (any device) are detached and moved to the CPU."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _labels(name: str, value: np.ndarray, source: str) -> np.ndarray:
    if value.dtype == bool:
        return value.astype(np.uint8)
    if not np.issubdtype(value.dtype, np.integer):
        raise SnapshotError(f"{source}: {name} must hold integer class labels, got dtype {value.dtype}")
    if value.size and (value.min() < 0 or value.max() > 255):
        raise SnapshotError(f"{source}: {name} holds labels outside 0..255")
    return value.astype(np.uint8)


def _real(name: str, value: np.ndarray, dtype: type, source: str) -> np.ndarray:
    if not (np.issubdtype(value.dtype, np.number) or value.dtype == bool) or np.iscomplexobj(value):
        raise SnapshotError(f"{source}: {name} must be real numbers, got dtype {value.dtype}")
    return value.astype(dtype)


def validate_snapshot(arrays: dict[str, Any], source: str = "snapshot") -> dict[str, np.ndarray]:
    """Check ``arrays`` against :data:`SNAPSHOT_KEYS` and return them cast to the stored dtypes.

    Keys outside :data:`SNAPSHOT_KEYS` are kept unchanged. Raises :class:`SnapshotError` naming
    ``source`` and the offending key."""
    arrays = {key: _numpy(value) for key, value in arrays.items() if value is not None}
    missing = [key for key, (_, _, required) in SNAPSHOT_KEYS.items() if required and key not in arrays]
    if missing:
        raise SnapshotError(f"{source}: missing required arrays {', '.join(missing)}")
    images = _real("images", arrays["images"], np.float32, source)
    if images.ndim != 3 or images.shape[0] == 0:
        raise SnapshotError(f"{source}: images must be (n, H, W) with n >= 1, got shape {images.shape}")
    n, height, width = images.shape
    out = dict(arrays)
    out["images"] = images
    for key in _LABEL_KEYS:
        if key in arrays:
            out[key] = _labels(key, arrays[key], source)
            if out[key].shape != images.shape:
                raise SnapshotError(f"{source}: {key} has shape {out[key].shape}, images {images.shape}")
    names = arrays["slice_names"]
    if names.ndim != 1 or names.shape[0] != n:
        raise SnapshotError(f"{source}: slice_names must be ({n},), got shape {names.shape}")
    out["slice_names"] = names.astype(str)
    if "distance" in arrays:
        distance = _real("distance", arrays["distance"], np.float16, source)
        if distance.ndim != 4 or distance.shape[0] != n or distance.shape[2:] != (height, width):
            raise SnapshotError(
                f"{source}: distance must be ({n}, D, {height}, {width}), got {distance.shape}"
            )
        out["distance"] = distance
    for side in ("high", "low"):
        image_key, score_key = f"cs_{side}_images", f"cs_{side}_scores"
        if (image_key in arrays) != (score_key in arrays):
            raise SnapshotError(f"{source}: {image_key} and {score_key} go together")
        if image_key not in arrays:
            continue
        pool = _real(image_key, arrays[image_key], np.float32, source)
        scores = _real(score_key, arrays[score_key], np.float64, source)
        if pool.ndim != 3 or scores.shape != (pool.shape[0],):
            raise SnapshotError(
                f"{source}: {image_key} must be (m, h, w) and {score_key} (m,), got {pool.shape} and {scores.shape}"
            )
        out[image_key], out[score_key] = pool, scores
    return out


def save_snapshot(
    path: str | Path,
    *,
    images: Any,
    labels: Any,
    prediction: Any,
    slice_names: Any,
    coarse: Any | None = None,
    distance: Any | None = None,
    cs_high_images: Any | None = None,
    cs_high_scores: Any | None = None,
    cs_low_images: Any | None = None,
    cs_low_scores: Any | None = None,
) -> Path:
    """Validate the arrays (see :data:`SNAPSHOT_KEYS`; numpy arrays, sequences or torch tensors on
    any device), cast them to the stored dtypes and write one compressed ``.npz`` atomically
    (temporary file in the same folder, fsync, ``os.replace``). Optional arrays left ``None`` are
    not stored. Creates the parent folders; returns ``path``. Use :func:`snapshot_path` for the
    path inside a run folder."""
    path = Path(path)
    arrays = validate_snapshot(
        {
            "images": images,
            "labels": labels,
            "prediction": prediction,
            "slice_names": slice_names,
            "coarse": coarse,
            "distance": distance,
            "cs_high_images": cs_high_images,
            "cs_high_scores": cs_high_scores,
            "cs_low_images": cs_low_images,
            "cs_low_scores": cs_low_scores,
        },
        source=str(path),
    )
    with atomic_stream(path) as stream:
        np.savez_compressed(stream, **arrays)  # type: ignore[arg-type]  # numpy's stubs: **kwds
    return path


def load_snapshot(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of one snapshot file, validated (:class:`SnapshotError` names the file)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise SnapshotError(f"{path}: not a readable snapshot ({error})") from None
    return validate_snapshot(arrays, source=str(path))


def find_snapshots(run_dir: str | Path) -> dict[tuple[str, int, int], Path]:
    """Every snapshot file under ``run_dir/snapshots``, keyed by ``(strategy, seed, round)``."""
    layout = RunLayout(run_dir)
    found: dict[tuple[str, int, int], Path] = {}
    for path in layout.snapshot_files():
        key = layout.parse(path)
        assert key is not None  # snapshot_files keeps only parsable paths
        found[(key.strategy, key.seed, key.round)] = path
    return found
