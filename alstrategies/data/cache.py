"""On-disk cache of decoded, resampled datasets: decode volumes once, start later runs in seconds.

A cache entry is a folder ``<cache_dir>/<name>-<key>/`` holding ``pool_images.npy`` and
``pool_labels.npy`` (memory-mappable), ``volumes.npz`` (test volumes) and ``meta.json``. The
key hashes the dataset name, every loader option (the root as an absolute path) and
:data:`CACHE_VERSION`, so a change of resolution or split makes a new entry. An entry is
written into a temporary folder and renamed into place, so an interrupted build leaves nothing
half-written behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from alstrategies.errors import DatasetError
from alstrategies.types import SegmentationData, Volume

CACHE_VERSION = 1
CACHE_ENVIRONMENT_VARIABLE = "ALSTRATEGIES_CACHE"


def default_cache_dir() -> Path:
    """``$ALSTRATEGIES_CACHE``, else ``~/.cache/alstrategies``."""
    return Path(os.environ.get(CACHE_ENVIRONMENT_VARIABLE, "~/.cache/alstrategies")).expanduser()


def cache_key(name: str, options: dict[str, Any]) -> str:
    normalised = dict(options)
    if normalised.get("root"):
        normalised["root"] = str(Path(normalised["root"]).expanduser().resolve())
    text = json.dumps({"name": name, "options": normalised, "version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def entry_path(cache_dir: Path, name: str, options: dict[str, Any]) -> Path:
    return cache_dir / f"{name}-{cache_key(name, options)}"


def save(data: SegmentationData, path: Path) -> Path:
    """Write ``data`` atomically as the cache entry ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        np.save(staging / "pool_images.npy", data.pool_images)
        np.save(staging / "pool_labels.npy", data.pool_labels)
        arrays = {}
        for index, volume in enumerate(data.test_volumes):
            arrays[f"image_{index}"] = volume.image
            arrays[f"label_{index}"] = volume.label
        np.savez(staging / "volumes.npz", **arrays)
        meta = {
            "name": data.name,
            "class_names": data.class_names,
            "pool_groups": [str(g) for g in data.pool_groups],
            "volumes": [{"name": v.name, "spacing": v.spacing} for v in data.test_volumes],
            "info": {k: v for k, v in data.info.items() if isinstance(v, (str, int, float, bool))},
        }
        (staging / "meta.json").write_text(json.dumps(meta))
        if path.exists():
            shutil.rmtree(path)
        os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def load(path: Path) -> SegmentationData:
    """Read a cache entry (pool arrays memory-mapped); a damaged entry raises :class:`DatasetError`."""
    try:
        return _read(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DatasetError(
            f"dataset cache entry {path} is corrupt ({type(error).__name__}: {error}); rebuild it with "
            "`alstrategies prepare CONFIG --rebuild` or delete that folder"
        ) from error


def _read(path: Path) -> SegmentationData:
    meta = json.loads((path / "meta.json").read_text())
    with np.load(path / "volumes.npz") as arrays:
        volumes = [
            Volume(
                entry["name"],
                arrays[f"image_{i}"],
                arrays[f"label_{i}"],
                None if entry["spacing"] is None else tuple(entry["spacing"]),
            )
            for i, entry in enumerate(meta["volumes"])
        ]
    return SegmentationData(
        name=meta["name"],
        class_names=meta["class_names"],
        pool_images=np.load(path / "pool_images.npy", mmap_mode="r"),
        pool_labels=np.load(path / "pool_labels.npy", mmap_mode="r"),
        pool_groups=np.asarray(meta["pool_groups"]),
        test_volumes=volumes,
        info={**meta["info"], "cache": str(path)},
    )


def is_complete(path: Path) -> bool:
    names = ("pool_images.npy", "pool_labels.npy", "volumes.npz", "meta.json")
    return all((path / name).is_file() for name in names)
