"""``dataset.json`` of the nnU-Net v2 and Medical Segmentation Decathlon layouts: reading it with
clear errors, class names from its label table, the choice of one channel, and the check of its
declared case count (``numTraining``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alstrategies.errors import DatasetError


def read_dataset_json(root: Path, layout: str, expected: str) -> dict[str, Any]:
    """The parsed ``<root>/dataset.json``; missing, unreadable or not a table is an error."""
    path = root / "dataset.json"
    if not path.is_file():
        if not any(root.iterdir()):
            raise DatasetError(f"{layout} folder {root} is empty: expected {expected}")
        raise DatasetError(f"{path} is missing: a dataset folder in the {layout} layout holds {expected}")
    try:
        content = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(content, dict):
        raise DatasetError(f"{path} must hold a JSON object, got {type(content).__name__}")
    return content


def require(content: Mapping[str, Any], key: str, kind: type, path: Path) -> Any:
    """``content[key]``, checked to be a ``kind``."""
    if key not in content:
        raise DatasetError(f"{path} lacks the key {key!r} (found {sorted(content)})")
    value = content[key]
    if not isinstance(value, kind):
        raise DatasetError(f"{path}: {key!r} must be a JSON {kind.__name__}, got {value!r}")
    return value


def integer(value: Any, what: str, path: Path) -> int:
    """An integer written as a JSON number or a string of digits."""
    if isinstance(value, bool):
        raise DatasetError(f"{path}: {what} must be an integer, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: {what} must be an integer, got {value!r}") from None
    if isinstance(value, float) and value != number:
        raise DatasetError(f"{path}: {what} must be an integer, got {value!r}")
    return number


def classes_of(labels: Mapping[int, str], path: Path, key: str) -> tuple[list[str], dict[int, int]]:
    """(foreground class names ordered by value, value -> class index) of a value -> name table
    that has background 0."""
    if 0 not in labels:
        raise DatasetError(f"{path}: {key!r} must declare the background as value 0, got {dict(labels)}")
    foreground = sorted(value for value in labels if value != 0)
    if not foreground:
        raise DatasetError(f"{path}: {key!r} declares no foreground class, only the background")
    if min(foreground) < 0:
        raise DatasetError(f"{path}: {key!r} holds the negative label value {min(foreground)}")
    names = [labels[value] for value in foreground]
    mapping = {0: 0, **{value: index for index, value in enumerate(foreground, start=1)}}
    return names, mapping


def choose_channel(channels: Mapping[int, str], requested: Any, path: Path, key: str) -> int:
    """The channel to read: the only one, or ``data.channel`` (an index or a name of ``key``)."""
    listed = ", ".join(f"{index} ({name})" for index, name in sorted(channels.items()))
    if requested is None:
        if len(channels) == 1:
            return next(iter(channels))
        raise DatasetError(
            f"{path} declares {len(channels)} channels in {key!r} ({listed}); this benchmark segments one "
            "2D channel: choose it with data.channel = <index or name>"
        )
    if isinstance(requested, str) and not requested.lstrip("-").isdigit():
        by_name = [index for index, name in channels.items() if name == requested]
        if not by_name:
            raise DatasetError(f"data.channel = {requested!r} is not a channel of {path} ({listed})")
        return by_name[0]
    index = integer(requested, "data.channel", path)
    if index not in channels:
        raise DatasetError(f"data.channel = {requested!r} is not a channel of {path} ({listed})")
    return index


def channel_table(content: Mapping[str, Any], key: str, path: Path) -> dict[int, str]:
    """``{"0": "T2", ...}`` as ``{0: "T2", ...}``; a missing table is one unnamed channel."""
    if key not in content:
        return {0: "channel 0"}
    table = require(content, key, dict, path)
    if not table:
        raise DatasetError(f"{path}: {key!r} lists no channel")
    return {integer(k, f"{key} key {k!r}", path): str(v) for k, v in table.items()}


def check_count(content: dict, found: int, json_path: Path, what: str) -> None:
    """``numTraining`` (when given) must equal the ``found`` cases."""
    if "numTraining" not in content:
        return
    declared = integer(content["numTraining"], "numTraining", json_path)
    if declared != found:
        raise DatasetError(
            f"{json_path} declares numTraining = {declared} but {what} holds {found} case(s): correct "
            "numTraining or add the missing cases"
        )
