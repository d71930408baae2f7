"""The Medical Segmentation Decathlon layout (``TaskXX_Name``): ``dataset.json`` with a
``"training"`` list of image/label files, used as it is (``data.name = "decathlon"``).

- ``"training"``: ``[{"image": "./imagesTr/la_003.nii.gz", "label": "./labelsTr/la_003.nii.gz"},
  ...]``, paths relative to the folder; the case name is the image's file name without
  ``.nii.gz``. The ``"test"`` list (no labels) and the macOS ``._*`` copies are not used.
- ``"numTraining"``, when given, must equal the entries of ``"training"``; files of ``imagesTr/``
  and ``labelsTr/`` that the list does not name are skipped with a warning. Every label must lie
  on its image's voxel grid (:mod:`alstrategies.data.geometry`).
- ``"labels"``: value -> name (``{"0": "background", "1": "left atrium"}``); the foreground names
  ordered by value are the classes.
- ``"modality"``: one entry per channel; images with several are 4D (channels last) and
  ``data.channel`` (an index or a modality name) chooses the one to segment.
- Split and reading options as the nnU-Net and folder loaders (seeded split unless
  ``train_cases`` / ``test_cases``; ``reorient``, ``slice_axis``, ``intensity``, ``window``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alstrategies.data import pairs
from alstrategies.data import volumes as shared
from alstrategies.data.census import Census
from alstrategies.data.dataset_json import (
    channel_table,
    check_count,
    choose_channel,
    classes_of,
    integer,
    read_dataset_json,
    require,
)
from alstrategies.data.pairing import split_suffix
from alstrategies.errors import DatasetError
from alstrategies.types import SegmentationData

ENVIRONMENT_VARIABLE = "ALSTRATEGIES_DECATHLON_ROOT"
EXPECTED = 'dataset.json (with a "training" list), imagesTr/ and labelsTr/'
WHERE_TO_GET = (
    "download a task (e.g. Task02_Heart.tar) from http://medicaldecathlon.com, unpack it and set "
    f"data.root (or --data PATH, or {ENVIRONMENT_VARIABLE}) to the TaskXX_Name folder"
)


def _file(root: Path, entry: dict, key: str, json_path: Path) -> Path:
    relative = entry.get(key)
    if not isinstance(relative, str) or not relative:
        raise DatasetError(f"{json_path}: a 'training' entry lacks its {key!r} path: {entry!r}")
    path = root / relative.removeprefix("./")
    if not path.is_file():
        raise DatasetError(f"{path} (the {key} {relative!r} listed in {json_path}) is missing")
    return path


def find_cases(
    root: Path, content: dict, json_path: Path, census: Census | None = None
) -> dict[str, tuple[Path, Path]]:
    """Case -> (image, label) of the ``"training"`` list; ``census`` counts the files of
    ``imagesTr`` / ``labelsTr`` that the list does not name (hidden ones apart)."""
    training = require(content, "training", list, json_path)
    if not training:
        raise DatasetError(f"{json_path}: the 'training' list is empty")
    cases: dict[str, tuple[Path, Path]] = {}
    for entry in training:
        if not isinstance(entry, dict):
            raise DatasetError(
                f"{json_path}: 'training' entries must be {{image, label}} objects, got {entry!r}"
            )
        image, label = _file(root, entry, "image", json_path), _file(root, entry, "label", json_path)
        case, _ = split_suffix(image.name)
        if case in cases:
            raise DatasetError(f"{json_path}: two training images have the case name {case!r}")
        cases[case] = (image, label)
    check_count(content, len(cases), json_path, "its 'training' list")
    if census is not None:
        census.found = len(cases)
        listed = {path for pair in cases.values() for path in pair}
        hidden: list[str] = []
        unlisted: list[str] = []
        for folder in (root / "imagesTr", root / "labelsTr"):
            for path in sorted(folder.iterdir()) if folder.is_dir() else []:
                if path.is_file() and path not in listed:
                    (hidden if path.name.startswith(".") else unlisted).append(f"{folder.name}/{path.name}")
        census.skip("hidden file(s)", hidden, expected=True)
        census.skip("file(s) in imagesTr / labelsTr that the 'training' list does not name", unlisted)
    return cases


def load_decathlon(
    root: str = "",
    channel: int | str | None = None,
    reorient: bool = True,
    slice_axis: int | str | None = None,
    test_cases: list[str] | None = None,
    train_cases: list[str] | None = None,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    intensity: str = "minmax",
    window: list[float] | None = None,
    image_size: int = 256,
    empty_slice_fraction: float = 1.0,
) -> SegmentationData:
    """A Medical Segmentation Decathlon task folder; classes from dataset.json.

    See the module docstring for the layout and options; ``root`` defaults to
    ``$ALSTRATEGIES_DECATHLON_ROOT``.
    """
    intensity = pairs.check_intensity(intensity, window)
    shared.check_image_size(image_size)
    path = shared.resolve_root(root, "Decathlon", ENVIRONMENT_VARIABLE, WHERE_TO_GET)
    content = read_dataset_json(path, "Medical Segmentation Decathlon", EXPECTED)
    json_path = path / "dataset.json"
    if "training" not in content and "channel_names" in content:
        raise DatasetError(
            f"{json_path} has 'channel_names' and no 'training' list: it is an nnU-Net v2 dataset.json; "
            "use data.name = 'nnunet'"
        )
    channels = channel_table(content, "modality", json_path)
    chosen = choose_channel(channels, channel, json_path, "modality")
    table = require(content, "labels", dict, json_path)
    by_value = {integer(value, f"label key {value!r}", json_path): str(name) for value, name in table.items()}
    class_names, mapping = classes_of(by_value, json_path, "labels")
    census = Census(f"decathlon {path}")
    cases = find_cases(path, content, json_path, census)
    values = np.asarray(sorted(mapping), np.int64)
    reader = pairs.PairReader(
        values,
        np.asarray([mapping[v] for v in values.tolist()], np.int64),
        slice_axis=slice_axis,
        reorient=reorient,
        channel=chosen if len(channels) > 1 else None,
        intensity=intensity,
        window=window,
        describe_labels="dataset.json",
        declared_by=f"the 'labels' of {json_path}",
    )
    train, test = pairs.split(list(cases), train_cases, test_cases, test_fraction, split_seed, str(path))

    def describe(index: int) -> str:
        value = next(v for v, c in mapping.items() if c == index)
        return f"dataset.json labels declares {value} = {class_names[index - 1]!r}"

    return pairs.build(
        "decathlon",
        class_names,
        cases,
        reader,
        train,
        test,
        root=path,
        image_size=image_size,
        empty_slice_fraction=empty_slice_fraction,
        split_seed=split_seed,
        info={"root": str(path), "channel": channels[chosen], "dataset": str(content.get("name", path.name))},
        describe_class=describe,
        census=census,
    )
