"""Datasets: the embedded phantom and loaders for real data, all returning SegmentationData.

The built-in loaders are registered by name through the entry-point group
``alstrategies.datasets`` (``pyproject.toml``), like third-party ones.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

from alstrategies.data.acdc import load_acdc
from alstrategies.data.folder import load_folder
from alstrategies.data.kits19 import load_kits19
from alstrategies.data.synthetic import load_synthetic
from alstrategies.errors import ConfigError
from alstrategies.registry import DATASETS
from alstrategies.types import SegmentationData

__all__ = ["load_acdc", "load_dataset", "load_folder", "load_kits19", "load_synthetic"]


def load_dataset(data_config: dict, rebuild: bool = False) -> SegmentationData:
    """Load the dataset named ``data.name`` with the other ``data`` keys its loader accepts.

    Datasets read from files (loaders with a ``root``) go through the on-disk cache
    (:mod:`alstrategies.data.cache`) unless ``data.cache = false``; ``rebuild`` re-decodes.
    """
    from alstrategies.data import cache

    name = data_config.get("name", "synthetic")
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
    if "root" not in accepted or not data_config.get("cache", True):
        return loader(**options)
    if not options.get("root"):
        options["root"] = _root_from_environment(name)
    cache_dir = Path(data_config.get("cache_dir") or cache.default_cache_dir())
    entry = cache.entry_path(cache_dir, name, options)
    if cache.is_complete(entry) and not rebuild:
        return cache.load(entry)
    cache.save(loader(**options), entry)
    return cache.load(entry)


def _root_from_environment(name: str) -> str:
    """``$ALSTRATEGIES_<NAME>_ROOT`` (so that the cache key holds the real folder)."""
    return os.environ.get(f"ALSTRATEGIES_{name.upper()}_ROOT", "")
