"""KiTS19 (Heller et al., 2019): kidney and kidney-tumour CT, the SBC-AL paper's second dataset.

Layout (the official repository, https://github.com/neheller/kits19, after
``python -m starter_code.get_imaging``): ``<root>/data/case_XXXXX/imaging.nii.gz`` and
``segmentation.nii.gz``, or the same ``case_XXXXX`` folders directly under ``<root>``. Arrays
are ``slices x 512 x 512`` with the axial axis FIRST (ACDC has its slices on the last axis);
labels 0 background, 1 kidney, 2 tumour; the header's voxel sizes are (z, y, x) in mm.

Protocol (DESIGN section 5): the labelled cases 0-209, a seeded 80/20 case split, CT clipped to
the Hounsfield window [-79, 304] and scaled to [0, 1], tumour merged into kidney, axial slices
zoomed to 256 x 256 (images bilinear, labels nearest), and only a tenth of the training slices
without kidney kept in the pool (they are most of a CT volume and carry little to annotate).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from alstrategies.data import volumes as shared
from alstrategies.data.census import Census
from alstrategies.errors import DatasetError
from alstrategies.types import SegmentationData

ENVIRONMENT_VARIABLE = "ALSTRATEGIES_KITS19_ROOT"
WHERE_TO_GET = (
    "clone https://github.com/neheller/kits19 and run `python -m starter_code.get_imaging` in it "
    "(segmentations come with the repository, imaging is downloaded), then pass its data/ folder "
    "(data/case_XXXXX/imaging.nii.gz + segmentation.nii.gz) or the repository itself with "
    f"--data PATH or {ENVIRONMENT_VARIABLE}"
)
IMAGING, SEGMENTATION = "imaging.nii.gz", "segmentation.nii.gz"
CASE_PATTERN = re.compile(r"case_(\d{5})")


def resolve_root(root: str | os.PathLike | None) -> Path:
    """``root``, else ``$ALSTRATEGIES_KITS19_ROOT``; an error saying where to get KiTS19 otherwise."""
    return shared.resolve_root(root, "KiTS19", ENVIRONMENT_VARIABLE, WHERE_TO_GET)


def _numbers(numbers: list[int]) -> str:
    """``"11-20, 25, 30-209"``: sorted case numbers as ranges (the first few)."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    text = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:4]]
    return ", ".join(text) + (", ..." if len(runs) > 4 else "")


def find_cases(root: Path, first_case: int, last_case: int, census: Census | None = None) -> dict[int, Path]:
    """Case number -> folder for the cases ``first_case..last_case`` that have a segmentation.

    Folders without ``segmentation.nii.gz`` (the unlabelled challenge test cases, 210-299) and
    case numbers of the range without a folder are skipped and counted in ``census``; a
    segmentation without its imaging is an error (an incomplete ``get_imaging`` download).
    """
    folders: dict[int, Path] = {}
    for base in (root, root / "data"):
        if base.is_dir():
            for path in base.iterdir():
                match = CASE_PATTERN.fullmatch(path.name)
                if match and path.is_dir():
                    folders.setdefault(int(match.group(1)), path)
    if not folders:
        if not any(root.iterdir()):
            raise DatasetError(f"KiTS19 folder {root} is empty: {WHERE_TO_GET}")
        raise DatasetError(
            f"{root} matches no KiTS19 layout: expected {root}/case_XXXXX/{IMAGING} and {SEGMENTATION} "
            f"or {root}/data/case_XXXXX/...: {WHERE_TO_GET}"
        )
    chosen, unlabelled = {}, []
    for number in sorted(folders):
        if not first_case <= number <= last_case:
            continue
        folder = folders[number]
        if not (folder / SEGMENTATION).is_file():
            unlabelled.append(folder.name)
            continue
        if not (folder / IMAGING).is_file():
            raise DatasetError(
                f"{folder / IMAGING} is missing (the case has a segmentation): run "
                "`python -m starter_code.get_imaging` in the kits19 repository to download the imaging"
            )
        chosen[number] = folder
    if not chosen:
        raise DatasetError(
            f"{root} holds no case_XXXXX folder with {SEGMENTATION} between cases {first_case} and "
            f"{last_case} (case folders found: {len(folders)})"
        )
    if census is not None:
        census.found = len(chosen)
        missing = [n for n in range(first_case, last_case + 1) if n not in folders]
        census.skip(f"case folder(s) without {SEGMENTATION}", unlabelled)
        census.skip(
            f"case number(s) of {first_case}-{last_case} without a folder",
            [str(n) for n in missing],
            shown=_numbers(missing),
        )
        outside = [folders[n].name for n in sorted(folders) if not first_case <= n <= last_case]
        census.skip(
            f"case folder(s) outside first_case..last_case = {first_case}..{last_case}", outside, True
        )
    return chosen


def read_case(folder: Path, hu_min: float, hu_max: float) -> tuple[np.ndarray, np.ndarray, shared.Spacing]:
    """``D x H x W`` windowed image in [0, 1], raw labels (0, 1, 2) and spacing (z, y, x) in mm."""
    image, spacing = shared.read_nifti(folder / IMAGING, np.float32)
    raw, _ = shared.read_nifti(folder / SEGMENTATION)
    if not np.isfinite(image).all():  # named here: check_arrays would name the segmentation
        raise DatasetError(f"{folder / IMAGING}: image contains NaN or infinite intensities")
    label = shared.integer_labels(raw, folder / SEGMENTATION)
    shared.check_arrays(image, label, folder / SEGMENTATION, (0, 1, 2))
    return shared.normalise_window(image, hu_min, hu_max), label.astype(np.uint8), spacing


def load_kits19(
    root: str = "",
    image_size: int = 256,
    first_case: int = 0,
    last_case: int = 209,
    test_fraction: float = 0.2,
    val_fraction: float = 0.0,
    split_seed: int = 0,
    merge_tumour: bool = True,
    empty_slice_fraction: float = 0.1,
    hu_min: float = -79.0,
    hu_max: float = 304.0,
    evaluation: str = "test",
) -> SegmentationData:
    """KiTS19 kidney CT (kidney; tumour merged or separate), seeded 80/20 case split.

    ``root`` defaults to ``$ALSTRATEGIES_KITS19_ROOT``. The labelled cases ``first_case`` to
    ``last_case`` (inclusive) that are present are split by :func:`~alstrategies.data.volumes.
    split_cases` with ``test_fraction`` and ``split_seed``; ``val_fraction`` (of the remaining
    cases, same seed) optionally holds out validation cases, used instead of the test cases when
    ``evaluation = "val"``. Intensities are clipped to ``[hu_min, hu_max]`` HU and scaled to
    [0, 1]. ``merge_tumour`` maps tumour (2) to kidney (1); otherwise the classes are kidney and
    tumour. The pool is the axial slices of the training cases at ``image_size``; of the slices
    without kidney or tumour, ``round(empty_slice_fraction * count)`` per case are kept, drawn
    with a generator seeded by ``split_seed``. Evaluation volumes keep every slice and their
    labels at the original resolution.
    """
    if evaluation not in ("test", "val"):
        raise DatasetError(f"data.evaluation must be 'test' or 'val', got {evaluation!r}")
    if evaluation == "val" and not val_fraction > 0:
        raise DatasetError("data.evaluation = 'val' needs data.val_fraction > 0 (KiTS19 has no val split)")
    if not 0.0 <= val_fraction < 1.0:
        raise DatasetError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
    if not 0.0 <= empty_slice_fraction <= 1.0:
        raise DatasetError(f"data.empty_slice_fraction must be between 0 and 1, got {empty_slice_fraction}")
    if not hu_max > hu_min:
        raise DatasetError(f"data.hu_min must be below data.hu_max, got {hu_min} and {hu_max}")
    shared.check_image_size(image_size)
    path = resolve_root(root)
    census = Census(f"KiTS19 {path} (cases {first_case}-{last_case})")
    cases = find_cases(path, first_case, last_case, census)
    names = {f"case_{number:05d}": folder for number, folder in cases.items()}
    train, test = shared.split_cases(list(names), test_fraction, split_seed)
    val: list[str] = []
    if val_fraction > 0:
        train, val = shared.split_cases(train, val_fraction, split_seed)
    held_out = test if evaluation == "test" else val
    unused = "the test cases, with data.evaluation = 'val'" if evaluation == "val" else "the val cases"
    line = census.report(train, held_out, evaluation, unused, unused_expected=True)

    def read(name: str) -> tuple[np.ndarray, np.ndarray, shared.Spacing]:
        """A case with tumour merged into kidney if asked (no slice gains or loses foreground)."""
        image, label, spacing = read_case(names[name], hu_min, hu_max)
        return image, np.minimum(label, 1) if merge_tumour else label, spacing

    return shared.case_volumes_data(
        "kits19",
        ["kidney"] if merge_tumour else ["kidney", "tumour"],
        read,
        train,
        held_out,
        image_size=image_size,
        empty_slice_fraction=empty_slice_fraction,
        seed=split_seed,
        root=path,
        info={
            "root": str(path),
            "evaluation": evaluation,
            "train_cases": len(train),
            "val_cases": len(val),
            "test_cases": len(test),
            "cases": line,
        },
        progress="KiTS19",
        held_out_kind=evaluation,
    )
