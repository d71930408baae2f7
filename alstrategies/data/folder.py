"""Any folder of image/label volume pairs (NIfTI or h5) with a label-value map: datasets users bring.

Every option is a plain TOML value under ``[data]`` (``name = "folder"``):

- ``images``: a glob, relative to ``root``, of the image volumes (``.nii``, ``.nii.gz``, ``.h5``,
  ``.hdf5``). Files whose name starts with ``.`` (e.g. macOS ``._`` copies in the Medical
  Segmentation Decathlon archives) and files that are the label of another match are skipped. A
  file that the glob misses only by its NIfTI ending (``image_3.nii`` for ``image_*.nii.gz``) is
  an error; other NIfTI / h5 files beside the images and labels are skipped with a warning.
- Every image's NIfTI label must lie on its voxel grid (:mod:`alstrategies.data.geometry`).
- ``labels`` or ``pairing``: where each image's label is (:mod:`alstrategies.data.pairing`): a
  template with ``{name}``, ``{stem}``, ``{dir}`` (empty: in the image's own h5 file), or a regex
  rule ``{pattern = "image_(\\d+)", label = "label_\\1"}`` for ``image_N`` / ``label_N`` pairs.
  The case name (pool group, test volume name) is the image's stem.
- ``image_key``, ``label_key``: the h5 dataset names.
- ``label_map``: stored label value -> class index (TOML keys are strings: ``{"200" = 2}``); a
  non-zero value that is not in the map is an error. Default: the values 0..len(class_names).
- ``class_names``: the foreground class names (class ``i`` is ``class_names[i - 1]``).
- ``reorient``: turn NIfTI volumes to RAS+ first (default true; :mod:`alstrategies.data.orientation`).
- ``slice_axis``: the array axis of the 2D slices (after reorientation), or ``"auto"``: the axis
  of the largest voxel size. Default: ``"auto"`` when the volume has a spacing, else 0 (h5).
- ``spacing``: the voxel sizes (mm) of h5 volumes in their array axis order (h5 stores none).
- ``channel``: the channel of 4D images (channels last) to segment.
- ``test_cases`` / ``train_cases``: explicit case lists (a missing one is every other case);
  otherwise a seeded case split with ``test_fraction`` and ``split_seed``.
- ``intensity``: ``"minmax"`` per volume (default), ``"window"`` (clip to ``window = [low,
  high]`` and scale to [0, 1]; giving ``window`` alone selects it) or ``"none"`` (use the stored
  values, e.g. already normalised h5).
- ``image_size``, ``empty_slice_fraction`` (share of each training case's slices without
  foreground kept in the pool; default 1.0 keeps all).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from alstrategies.data import pairs as shared_pairs
from alstrategies.data import volumes as shared
from alstrategies.data.census import Census
from alstrategies.data.labelmap import describe_label_map, parse_label_map
from alstrategies.data.pairing import LabelRule, split_suffix
from alstrategies.errors import ConfigError, DatasetError
from alstrategies.types import SegmentationData

ENVIRONMENT_VARIABLE = "ALSTRATEGIES_FOLDER_ROOT"
NIFTI_SUFFIXES = shared_pairs.NIFTI_SUFFIXES
H5_SUFFIXES = shared_pairs.H5_SUFFIXES
DEFAULT_LABELS = "labelsTr/{name}"
WHERE_TO_GET = (
    f"set data.root (or --data PATH, or {ENVIRONMENT_VARIABLE}) to the folder that holds your "
    "image/label volumes, and data.images / data.labels to their patterns"
)


def _visible_files(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(files, hidden files such as macOS ``._`` copies) of a glob's matches."""
    files = [p for p in paths if p.is_file()]
    return [p for p in files if not p.name.startswith(".")], [p for p in files if p.name.startswith(".")]


def _check_other_ending(root: Path, images: str, taken: set[Path]) -> None:
    """An image that ``images`` misses only by its NIfTI ending is an error, not a lost case."""
    other = shared_pairs.other_nifti_ending(images)
    missed = [p for p in _visible_files(sorted(root.glob(other)))[0] if p not in taken] if other else []
    if missed:
        widened = images[: images.lower().rindex(".nii")]
        raise DatasetError(
            f"{missed[0]} ({len(missed)} such file(s)) is not matched by data.images = {images!r} only "
            f"because of its ending: set data.images = {widened + '.nii*'!r} to use it, or give it the "
            "ending of the others"
        )


def _unmatched_neighbours(matched: set[Path]) -> list[str]:
    """NIfTI and h5 files in the folders of the images and labels that are neither."""
    suffixes = NIFTI_SUFFIXES + H5_SUFFIXES
    others = []
    for folder in sorted({p.parent for p in matched}):
        for path in sorted(folder.iterdir()):
            visible = path.is_file() and not path.name.startswith(".")
            if visible and path.name.lower().endswith(suffixes) and path not in matched:
                others.append(str(path))
    return others


def find_pairs(
    root: Path, images: str, rule: LabelRule, census: Census | None = None
) -> dict[str, tuple[Path, Path | None]]:
    """Case name -> (image, label) of the files that ``images`` matches under ``root``; what was
    skipped (hidden files, labels the glob matched, other files beside them) goes to ``census``."""
    if not images:
        raise DatasetError("data.images must be a glob of the image volumes, e.g. 'imagesTr/*.nii.gz'")
    if not any(root.iterdir()):
        raise DatasetError(f"dataset folder {root} is empty: {WHERE_TO_GET}")
    matches, hidden = _visible_files(sorted(root.glob(images)))
    if not matches:
        raise DatasetError(f"data.images = {images!r} matches no file under {root}")
    labels_of = {p: rule.label_of(p) for p in matches}
    label_files = set(labels_of.values()) - {None}
    cases: dict[str, tuple[Path, Path | None]] = {}
    for path in matches:
        if path in label_files:
            continue  # a label that the images glob also matched
        stem, suffix = split_suffix(path.name)
        if not suffix:
            raise DatasetError(
                f"{path} (matched by data.images = {images!r}) is not a NIfTI or h5 file "
                f"(expected {', '.join(NIFTI_SUFFIXES + H5_SUFFIXES)})"
            )
        if not rule.applies_to(path):
            raise DatasetError(
                f"{path} (matched by data.images = {images!r}) does not match {rule.describe()} and is "
                "no image's label: narrow data.images or widen the pattern"
            )
        if stem in cases:
            raise DatasetError(f"two images have the case name {stem!r}: {cases[stem][0]} and {path}")
        cases[stem] = (path, labels_of[path])
    if not cases:
        raise DatasetError(f"data.images = {images!r} matches only label files under {root}")
    taken = set(matches) | {p for p in label_files if p is not None}
    _check_other_ending(root, images, taken)
    if census is not None:
        census.found = len(cases)
        census.skip("hidden file(s)", [p.name for p in hidden], expected=True)
        census.skip(
            "label file(s) that data.images also matches",
            [p.name for p in matches if p in label_files],
            expected=True,
        )
        census.skip(
            "file(s) beside them that are neither an image of data.images nor a label",
            _unmatched_neighbours(taken),
        )
    return cases


def load_folder(
    root: str = "",
    images: str = "imagesTr/*.nii.gz",
    labels: str = DEFAULT_LABELS,
    pairing: dict | None = None,
    class_names: list[str] | None = None,
    label_map: dict | None = None,
    image_key: str = "image",
    label_key: str = "label",
    reorient: bool = True,
    slice_axis: int | str | None = None,
    spacing: list[float] | None = None,
    channel: int | None = None,
    test_cases: list[str] | None = None,
    train_cases: list[str] | None = None,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    intensity: str = "minmax",
    window: list[float] | None = None,
    image_size: int = 256,
    empty_slice_fraction: float = 1.0,
) -> SegmentationData:
    """Any folder of NIfTI or h5 image/label volumes with a label-value map (your own data).

    See the module docstring for the options; ``root`` defaults to ``$ALSTRATEGIES_FOLDER_ROOT``.
    The pool is the 2D slices of the training cases along the slice axis at ``image_size``; the
    test cases are evaluated as volumes with labels at their original resolution and their voxel
    spacing (the NIfTI header's, or ``spacing`` for h5).
    """
    if class_names is None:
        raise DatasetError('data.class_names is required for the folder dataset, e.g. ["RV", "MYO", "LV"]')
    if isinstance(class_names, str) or not class_names or not all(isinstance(n, str) for n in class_names):
        raise DatasetError(f"data.class_names must be a non-empty list of names, got {class_names!r}")
    if pairing is not None and labels != DEFAULT_LABELS:
        raise ConfigError(
            f"data.labels = {labels!r} and data.pairing are both set: give one of them (pairing derives "
            "the label path from the image path)"
        )
    intensity = shared_pairs.check_intensity(intensity, window)
    if not 0.0 <= empty_slice_fraction <= 1.0:
        raise DatasetError(f"data.empty_slice_fraction must be between 0 and 1, got {empty_slice_fraction}")
    shared.check_image_size(image_size)
    values, classes = parse_label_map(label_map, len(class_names) + 1)
    reader = shared_pairs.PairReader(
        values,
        classes,
        image_key=image_key,
        label_key=label_key,
        slice_axis=slice_axis,
        reorient=reorient,
        spacing=shared_pairs.check_spacing(spacing),
        channel=channel,
        intensity=intensity,
        window=window,
        describe_labels="data.labels",
    )
    rule = LabelRule.from_options(Path("."), labels, pairing)  # a malformed rule fails before the files
    path = shared.resolve_root(root, "dataset", ENVIRONMENT_VARIABLE, WHERE_TO_GET)
    rule = replace(rule, root=path)
    reader = replace(reader, describe_labels=rule.describe())
    census = Census(f"folder {path} (data.images = {images!r})")
    cases = find_pairs(path, images, rule, census)
    train, test = shared_pairs.split(
        list(cases), train_cases, test_cases, test_fraction, split_seed, f"{path} ({images})"
    )
    return shared_pairs.build(
        "folder",
        class_names,
        cases,
        reader,
        train,
        test,
        root=path,
        image_size=image_size,
        empty_slice_fraction=empty_slice_fraction,
        split_seed=split_seed,
        info={"root": str(path), "images": images},
        describe_class=describe_label_map(values, classes),
        census=census,
    )
