"""An nnU-Net v2 raw dataset folder (``DatasetXXX_Name``): ``dataset.json``, ``imagesTr/`` and
``labelsTr/``, used as it is (``data.name = "nnunet"``).

- ``imagesTr/CASE_0000.nii.gz`` (one file per channel: ``_0000``, ``_0001``, ...) and
  ``labelsTr/CASE.nii.gz``; the file ending is ``dataset.json``'s ``"file_ending"`` (NIfTI only).
- ``"labels"``: name -> value with ``"background": 0``; the foreground names ordered by value are
  the classes. Region-based labels (a list of values) are refused. An ``"ignore"`` label is not a
  class: its voxels count as background (the trainer has no ignore index), with a warning.
- ``"channel_names"``: one channel is segmented; with several, ``data.channel`` (an index or a
  name) chooses it, else the loader refuses the dataset.
- ``"numTraining"``, when given, must equal the cases in ``imagesTr``; a label in ``labelsTr``
  without its image is an error, and so is a file whose ending differs from ``"file_ending"``
  (the message says to correct ``file_ending``). Undeclared label values name ``"labels"``.
- Every label must lie on its image's voxel grid (:mod:`alstrategies.data.geometry`).
- Split: ``train_cases`` / ``test_cases`` (case names) or a seeded split (``test_fraction``,
  ``split_seed``), as the folder loader. ``imagesTs/`` (no labels) is not used.
- Reading as the folder loader: volumes turned to RAS+ (``reorient``), ``slice_axis`` (default
  the axis of the largest voxel size), ``intensity`` / ``window``, ``empty_slice_fraction``.
"""

from __future__ import annotations

import re
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
from alstrategies.data.notices import warn
from alstrategies.errors import DatasetError
from alstrategies.types import SegmentationData

ENVIRONMENT_VARIABLE = "ALSTRATEGIES_NNUNET_ROOT"
EXPECTED = "dataset.json, imagesTr/CASE_0000.nii.gz and labelsTr/CASE.nii.gz"
WHERE_TO_GET = (
    f"set data.root (or --data PATH, or {ENVIRONMENT_VARIABLE}) to an nnU-Net v2 raw dataset folder "
    f"(nnUNet_raw/DatasetXXX_Name with {EXPECTED})"
)
_CHANNEL_FILE = re.compile(r"(?P<case>.+)_(?P<channel>\d{4})")
_ANY_ENDING = re.compile(r"(?P<case>.+?)_(?P<channel>\d{4})(?P<ending>\..+)")
_LABEL_ENDING = re.compile(r"(?P<case>.+?)(?P<ending>\.nii\.gz|\.nii|\.mha|\.nrrd|\.nhdr|\.tiff?|\.png)")


def label_table(content: dict, path: Path) -> tuple[dict[int, str], int | None]:
    """(value -> name without the ignore label, the ignore value) of nnU-Net's ``"labels"``."""
    table = require(content, "labels", dict, path)
    by_value: dict[int, str] = {}
    ignore = None
    for name, value in table.items():
        if isinstance(value, (list, tuple)):
            raise DatasetError(
                f"{path}: label {name!r} is the region {value} (nnU-Net region-based training), which this "
                "benchmark does not support: give every class its own value"
            )
        number = integer(value, f"the value of label {name!r}", path)
        if name == "ignore":
            ignore = number
            continue
        if number in by_value:
            raise DatasetError(f"{path}: labels {by_value[number]!r} and {name!r} share the value {number}")
        by_value[number] = str(name)
    return by_value, ignore


def _ending_of(path: Path, ending: str, json_path: Path, label: bool = False) -> None:
    """An image ``CASE_XXXX<other ending>`` or a label ``CASE<other ending>``: an error that says
    to correct ``file_ending``."""
    match = (_LABEL_ENDING if label else _ANY_ENDING).fullmatch(path.name)
    if match is None or match["ending"] == ending:
        return
    actual = match["ending"]
    fix = (
        f'set "file_ending": "{actual}" in {json_path}'
        if actual in pairs.NIFTI_SUFFIXES
        else f"convert the volumes to NIfTI (.nii.gz) and set file_ending in {json_path} to match"
    )
    raise DatasetError(f"{path} ends with {actual!r} but {json_path} declares file_ending {ending!r}: {fix}")


def find_cases(
    root: Path, ending: str, channel: int, channels: int, census: Census | None = None
) -> dict[str, tuple[Path, Path]]:
    """Case -> (image of the chosen channel, label) under ``imagesTr`` and ``labelsTr``; a label
    without its image is an error, hidden files are counted in ``census``."""
    images, labels = root / "imagesTr", root / "labelsTr"
    json_path = root / "dataset.json"
    for folder in (images, labels):
        if not folder.is_dir():
            raise DatasetError(f"{folder} is missing: an nnU-Net v2 raw dataset folder holds {EXPECTED}")
    found: dict[str, set[int]] = {}
    hidden: list[str] = []
    other: list[str] = []
    for path in sorted(images.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            hidden += [path.name] if path.is_file() else []
            continue
        match = _CHANNEL_FILE.fullmatch(path.name[: -len(ending)]) if path.name.endswith(ending) else None
        if match is None:
            _ending_of(path, ending, json_path)
            raise DatasetError(
                f"{path} is not named CASE_XXXX{ending} (the case and its 4-digit channel, as nnU-Net expects)"
            )
        found.setdefault(match["case"], set()).add(int(match["channel"]))
    if not found:
        raise DatasetError(f"{images} holds no CASE_0000{ending} image")
    for path in sorted(labels.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            hidden += [f"labelsTr/{path.name}"] if path.is_file() else []
            continue
        if not path.name.endswith(ending):
            _ending_of(path, ending, json_path, label=True)
            other.append(f"labelsTr/{path.name}")
            continue
        case = path.name[: -len(ending)]
        if case not in found:
            raise DatasetError(
                f"{path} has no image: {images / f'{case}_{channel:04d}{ending}'} is missing (add the image "
                "or remove the label)"
            )
    cases = {}
    for case, present in found.items():
        if channel not in present:
            raise DatasetError(
                f"{images / f'{case}_{channel:04d}{ending}'} is missing (channel {channel} of case {case!r})"
            )
        extra = sorted(present - set(range(channels)))
        if extra:
            raise DatasetError(
                f"{images}: case {case!r} has channel file(s) {extra} beyond the {channels} of dataset.json's "
                "channel_names"
            )
        label = labels / f"{case}{ending}"
        if not label.is_file():
            raise DatasetError(f"{label} (the label of case {case!r}) is missing")
        cases[case] = (images / f"{case}_{channel:04d}{ending}", label)
    if census is not None:
        census.found = len(cases)
        census.skip("hidden file(s)", hidden, expected=True)
        census.skip(f"file(s) in labelsTr that are not CASE{ending} labels", other)
    return cases


def load_nnunet(
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
    """An nnU-Net v2 raw dataset (see the module docstring); classes from ``dataset.json``.

    ``root`` defaults to ``$ALSTRATEGIES_NNUNET_ROOT``.
    """
    intensity = pairs.check_intensity(intensity, window)
    shared.check_image_size(image_size)
    path = shared.resolve_root(root, "nnU-Net", ENVIRONMENT_VARIABLE, WHERE_TO_GET)
    content = read_dataset_json(path, "nnU-Net v2", EXPECTED)
    json_path = path / "dataset.json"
    if "channel_names" not in content and "training" in content:
        raise DatasetError(
            f"{json_path} has a 'training' list and no 'channel_names': it is a Medical Segmentation "
            "Decathlon (nnU-Net v1) dataset.json; use data.name = 'decathlon'"
        )
    ending = str(content.get("file_ending", ".nii.gz"))
    if ending not in pairs.NIFTI_SUFFIXES:
        raise DatasetError(
            f"{json_path}: file_ending {ending!r} is not supported: convert the volumes to NIfTI "
            "(.nii.gz) and set file_ending to '.nii.gz'"
        )
    channels = channel_table(content, "channel_names", json_path)
    chosen = choose_channel(channels, channel, json_path, "channel_names")
    by_value, ignore = label_table(content, json_path)
    class_names, mapping = classes_of(by_value, json_path, "labels")
    if ignore is not None:
        mapping[ignore] = 0
        warn(
            f"{json_path} declares the ignore label {ignore}: it is not a class, and its voxels count as "
            "background (the trainer has no ignore index)"
        )
    census = Census(f"nnunet {path}")
    cases = find_cases(path, ending, chosen, len(channels), census)
    check_count(content, len(cases), json_path, "imagesTr")
    values = np.asarray(sorted(mapping), np.int64)
    reader = pairs.PairReader(
        values,
        np.asarray([mapping[v] for v in values.tolist()], np.int64),
        slice_axis=slice_axis,
        reorient=reorient,
        intensity=intensity,
        window=window,
        describe_labels="the nnU-Net layout",
        declared_by=f"the 'labels' of {json_path}",
    )
    train, test = pairs.split(list(cases), train_cases, test_cases, test_fraction, split_seed, str(path))

    def describe(index: int) -> str:
        value = next(v for v, c in mapping.items() if c == index and v != ignore)
        return f"dataset.json labels declares {class_names[index - 1]!r} = {value}"

    return pairs.build(
        "nnunet",
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
