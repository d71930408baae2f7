"""Datasets: the embedded phantom and loaders for real data, all returning SegmentationData."""

from __future__ import annotations

import inspect

from alstrategies.data.synthetic import load_synthetic
from alstrategies.registry import DATASETS
from alstrategies.types import SegmentationData

DATASETS.register("synthetic", load_synthetic)


def load_dataset(data_config: dict) -> SegmentationData:
    """Load the dataset named ``data.name`` with the other ``data`` keys its loader accepts."""
    from alstrategies.config import ConfigError

    name = data_config.get("name", "synthetic")
    loader = DATASETS.get(name)
    accepted = inspect.signature(loader).parameters
    options = {}
    for key, value in data_config.items():
        if key == "name":
            continue
        if key in accepted:
            options[key] = value
        elif key == "root" and value:
            raise ConfigError(f"dataset {name!r} takes no data.root (it needs no files); remove the key")
    return loader(**options)
