"""Datasets: the embedded phantom and loaders for real data, all returning SegmentationData.

The built-in loaders are registered by name through the entry-point group
``alstrategies.datasets`` (``pyproject.toml``), like third-party ones.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import fields
from pathlib import Path

from alstrategies.data.acdc import load_acdc
from alstrategies.data.decathlon import load_decathlon
from alstrategies.data.folder import load_folder
from alstrategies.data.kits19 import load_kits19
from alstrategies.data.nnunet import load_nnunet
from alstrategies.data.synthetic import load_synthetic
from alstrategies.errors import ConfigError
from alstrategies.registry import DATASETS
from alstrategies.settings import DataConfig
from alstrategies.types import SegmentationData

__all__ = [
    "load_acdc",
    "load_dataset",
    "load_decathlon",
    "load_folder",
    "load_kits19",
    "load_nnunet",
    "load_synthetic",
]

#: The typed keys of ``[data]`` (:class:`~alstrategies.settings.DataConfig`); the others go to the loader.
DATA_KEYS = frozenset(f.name for f in fields(DataConfig))


def load_dataset(data_config: dict, rebuild: bool = False) -> SegmentationData:
    """Load the dataset named ``data.name`` with the other ``data`` keys its loader accepts.

    Datasets read from files (loaders with a ``root``) go through the on-disk cache
    (:mod:`alstrategies.data.cache`) unless ``data.cache = false``; ``rebuild`` re-decodes. An
    entry built from other files than the root holds now is rebuilt with a warning that says
    how many files were added, removed and modified, and then removed.
    """
    import shutil

    from alstrategies.data import cache
    from alstrategies.data.notices import warn

    typed = DataConfig(**{k: v for k, v in data_config.items() if k in DATA_KEYS})  # the rest defaulted
    name = typed.name
    loader = DATASETS.get(name)
    accepted = inspect.signature(loader).parameters
    options = {}
    for key, value in data_config.items():
        if key in ("name", "cache", "cache_dir"):
            continue
        if key in accepted:
            options[key] = value
        elif key == "root" and value:
            raise ConfigError(f"dataset {name!r} takes no data.root (it needs no files); remove the key")
    if "root" not in accepted or not typed.cache:
        return loader(**options)
    if not options.get("root"):
        options["root"] = _root_from_environment(name)
    cache_dir = Path(typed.cache_dir or cache.default_cache_dir())
    listing = cache.file_listing(Path(options["root"]), skip=cache_dir)
    entry = cache.entry_path(cache_dir, name, options, listing)
    if cache.is_complete(entry) and not rebuild:
        return cache.load(entry)
    stale = cache.stale_entries(entry)
    if stale and not rebuild:
        warn(f"{name}: {cache.describe_change(cache.read_listing(stale[-1]), listing)}")
    cache.save(loader(**options), entry, listing)
    for old in stale:  # built from files that are no longer there: never hit again
        shutil.rmtree(old, ignore_errors=True)
    return cache.load(entry)


def _root_from_environment(name: str) -> str:
    """``$ALSTRATEGIES_<NAME>_ROOT`` (so that the cache key holds the real folder)."""
    return os.environ.get(f"ALSTRATEGIES_{name.upper()}_ROOT", "")
