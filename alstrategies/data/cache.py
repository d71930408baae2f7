"""On-disk cache of decoded, resampled datasets: decode volumes once, start later runs in seconds.

A cache entry is a folder ``<cache_dir>/<name>-<key>-<files>/`` holding ``pool_images.npy`` and
``pool_labels.npy`` (memory-mappable), ``volumes.npz`` (test volumes), ``meta.json`` (names,
classes, each pool slice's volume, slice position and volume depth, spacings) and
``files.json``. The key hashes the dataset name, every loader option (the root as an absolute
path) and :data:`CACHE_VERSION`, so a change of resolution or split makes a new entry; ``files``
hashes the sorted list of the files under the root (relative path, size, modification time), so
an added, removed or edited case makes a new entry too, and the stale one is named and replaced
(:func:`describe_change`). An entry is written into a hidden staging folder and renamed into
place, so an interrupted build leaves nothing half-written behind; the staging folder of a
killed build is removed by the next one (:mod:`alstrategies.data.cache_staging`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from alstrategies.atomic import respect_umask
from alstrategies.data.cache_staging import OWNER_FILE, new_staging, remove_stale_staging
from alstrategies.errors import DatasetError
from alstrategies.types import SegmentationData, Volume

log = logging.getLogger("alstrategies")

#: 2: file listing in the key, NIfTI reorientation, slice axis 'auto'; 3: zoom edges; 4: slice
#: positions and volume depths in meta.json (ACDC's h5 order is not the slicing order).
CACHE_VERSION = 4
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


#: One file of a dataset: (path relative to the root, size in bytes, modification time in ns).
FileRecord = tuple[str, int, int]


def file_listing(root: Path, skip: Path | None = None) -> list[FileRecord]:
    """The files under ``root`` (hidden files and folders, and ``skip`` -- the cache itself when it
    lies inside the root -- left out), sorted; an empty list when ``root`` is not a folder."""
    root = Path(root).expanduser()
    if not root.is_dir():
        return []
    skipped = skip.resolve() if skip is not None else None
    records: list[FileRecord] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() != skipped)
        for file in files:
            if file.startswith("."):
                continue
            try:
                stat = (here / file).stat()
            except OSError:  # a broken link or a file removed while listing
                continue
            records.append(((here / file).relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return sorted(records)


def listing_key(listing: list[FileRecord]) -> str:
    return hashlib.sha1(json.dumps(listing).encode()).hexdigest()[:12]


def entry_path(
    cache_dir: Path, name: str, options: dict[str, Any], listing: list[FileRecord] | None = None
) -> Path:
    """``<cache_dir>/<name>-<options key>[-<files key>]``."""
    base = f"{name}-{cache_key(name, options)}"
    return cache_dir / (base if listing is None else f"{base}-{listing_key(listing)}")


def stale_entries(entry: Path) -> list[Path]:
    """Complete entries of the same dataset and options as ``entry`` built from other files."""
    base = entry.name.rsplit("-", 1)[0]
    if not entry.parent.is_dir():
        return []
    return sorted(p for p in entry.parent.glob(f"{base}-*") if p != entry and p.is_dir() and is_complete(p))


def read_listing(entry: Path) -> list[FileRecord] | None:
    """The file listing an entry was built from (``None`` for an entry without one)."""
    try:
        return [tuple(record) for record in json.loads((entry / "files.json").read_text())]  # type: ignore[misc]
    except (OSError, ValueError, TypeError):
        return None


def describe_change(old: list[FileRecord] | None, new: list[FileRecord]) -> str:
    """``dataset files changed since the cached entry (N added, M removed, K modified): rebuilding``."""
    if old is None:
        return "dataset files changed since the cached entry (its file list is unknown): rebuilding"
    before = {path: (size, mtime) for path, size, mtime in old}
    after = {path: (size, mtime) for path, size, mtime in new}
    added, removed = len(after.keys() - before.keys()), len(before.keys() - after.keys())
    modified = sum(1 for path in after.keys() & before.keys() if after[path] != before[path])
    return (
        f"dataset files changed since the cached entry ({added} added, {removed} removed, "
        f"{modified} modified): rebuilding"
    )


def save(data: SegmentationData, path: Path, listing: list[FileRecord] | None = None) -> Path:
    """Write ``data`` (and the file ``listing`` it was built from) atomically as the entry
    ``path``, after removing the staging folders that killed builds left behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for folder in remove_stale_staging(path.parent):
        log.info("removed %s, left behind by an interrupted cache write", folder)
    staging = new_staging(path)
    try:
        np.save(staging / "pool_images.npy", data.pool_images)
        np.save(staging / "pool_labels.npy", data.pool_labels)
        arrays: dict[str, Any] = {}
        for index, volume in enumerate(data.test_volumes):
            arrays[f"image_{index}"] = volume.image
            arrays[f"label_{index}"] = volume.label
        np.savez(staging / "volumes.npz", **arrays)
        meta = {
            "name": data.name,
            "class_names": data.class_names,
            "pool_groups": [str(g) for g in data.pool_groups],
            "pool_positions": np.asarray(data.pool_positions).tolist(),
            "pool_depths": np.asarray(data.pool_depths).tolist(),
            "volumes": [{"name": v.name, "spacing": v.spacing} for v in data.test_volumes],
            "info": {k: v for k, v in data.info.items() if isinstance(v, (str, int, float, bool))},
        }
        (staging / "meta.json").write_text(json.dumps(meta))
        if listing is not None:
            (staging / "files.json").write_text(json.dumps(listing))
        (staging / OWNER_FILE).unlink()
        respect_umask(staging, directory=True)  # mkdtemp's 0700 would lock out the cache's other users
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
        pool_positions=np.asarray(meta["pool_positions"], dtype=np.int64),
        pool_depths=np.asarray(meta["pool_depths"], dtype=np.int64),
    )


def is_complete(path: Path) -> bool:
    names = ("pool_images.npy", "pool_labels.npy", "volumes.npz", "meta.json")
    return all((path / name).is_file() for name in names)
