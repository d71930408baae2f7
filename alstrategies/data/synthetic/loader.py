"""The ``synthetic`` dataset loader: splits, patient streams, the in-memory cache, argument checks.

See :mod:`alstrategies.data.synthetic` for the generative model and the ``info`` keys.
"""

from __future__ import annotations

import functools
from numbers import Integral, Real

import numpy as np

from alstrategies.data.synthetic.anatomy import CLASS_NAMES
from alstrategies.data.synthetic.hard_cases import HARD_KINDS, _hard_assignment, _make_hard
from alstrategies.data.synthetic.imaging import _render_patient
from alstrategies.data.synthetic.patient import _sample_patient
from alstrategies.errors import DatasetError
from alstrategies.types import SegmentationData, Volume

FOV_MM = 256.0
SLICE_THICKNESS_MM = 10.0

_TRAIN_STREAM = 0
_TEST_STREAM = 1
_NOISE_PURPOSE = 1
_HARD_PURPOSE = 2


def _generate_split(seed: int, stream: int, n: int, size: int, depth: int, fraction: float):
    """Images, labels, hard kinds and details of the ``n`` patients of one split."""
    kinds = _hard_assignment(seed, stream, n, fraction)
    images, labels, details = [], [], []
    for i in range(n):
        p = _sample_patient(np.random.default_rng([seed, stream, i]))
        detail = ""
        if kinds[i]:
            p, detail = _make_hard(p, kinds[i], np.random.default_rng([seed, stream, i, _HARD_PURPOSE]))
        img, lab = _render_patient(p, size, depth, np.random.default_rng([seed, stream, i, _NOISE_PURPOSE]))
        images.append(img)
        labels.append(lab)
        details.append(detail)
    return images, labels, kinds, details


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@functools.lru_cache(maxsize=8)
def _build(
    image_size: int,
    train_patients: int,
    test_patients: int,
    slices_per_patient: int,
    hard_fraction: float,
    seed: int,
) -> SegmentationData:
    """Generate the dataset (cached; every array is made read-only)."""
    size, depth = image_size, slices_per_patient
    tr_img, tr_lab, tr_kind, tr_detail = _generate_split(
        seed, _TRAIN_STREAM, train_patients, size, depth, hard_fraction
    )
    te_img, te_lab, te_kind, te_detail = _generate_split(
        seed, _TEST_STREAM, test_patients, size, depth, hard_fraction
    )
    pool_images = np.concatenate(tr_img)[:, None]
    pool_labels = np.concatenate(tr_lab)
    names = [f"synth_train_{i:03d}" for i in range(train_patients)]
    groups = np.repeat(np.array(names), depth)
    hard_kind = np.repeat(np.array(tr_kind, dtype=f"<U{len('unusual_anatomy')}"), depth)
    hard_detail = np.repeat(np.array(tr_detail, dtype="<U32"), depth)
    zpos = np.linspace(0.0, 1.0, depth) if depth > 1 else np.zeros(1)
    inplane = FOV_MM / size
    spacing = (SLICE_THICKNESS_MM, inplane, inplane)
    volumes = [
        Volume(f"synth_test_{i:03d}", _readonly(img), _readonly(lab), spacing)
        for i, (img, lab) in enumerate(zip(te_img, te_lab, strict=True))
    ]
    info = {
        "description": (
            "Procedural ACDC-like short-axis cine-MR phantom (seeded, no download) with "
            f"{hard_fraction:.0%} hard patients (low contrast, unusual anatomy, artefacts)."
        ),
        "hard_kinds": list(HARD_KINDS),
        "hard": _readonly(hard_kind != ""),
        "hard_kind": _readonly(hard_kind),
        "hard_detail": _readonly(hard_detail),
        "slice_position": _readonly(np.tile(zpos, train_patients)),
        "test_hard_kind": list(te_kind),
        "test_hard_detail": list(te_detail),
        "spacing": spacing,
        "seed": seed,
    }
    return SegmentationData(
        name="synthetic",
        class_names=list(CLASS_NAMES),
        pool_images=_readonly(pool_images.astype(np.float32, copy=False)),
        pool_labels=_readonly(pool_labels),
        pool_groups=_readonly(groups),
        test_volumes=volumes,
        info=info,
        pool_positions=_readonly(np.tile(np.arange(depth, dtype=np.int64), train_patients)),
        pool_depths=_readonly(np.full(train_patients * depth, depth, dtype=np.int64)),
    )


def _copy_data(d: SegmentationData) -> SegmentationData:
    """A fully independent, writable copy of a cached dataset."""
    info = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in d.info.items()}
    info["hard_kinds"] = list(d.info["hard_kinds"])
    info["test_hard_kind"] = list(d.info["test_hard_kind"])
    info["test_hard_detail"] = list(d.info["test_hard_detail"])
    return SegmentationData(
        name=d.name,
        class_names=list(d.class_names),
        pool_images=d.pool_images.copy(),
        pool_labels=d.pool_labels.copy(),
        pool_groups=d.pool_groups.copy(),
        test_volumes=[Volume(v.name, v.image.copy(), v.label.copy(), v.spacing) for v in d.test_volumes],
        info=info,
        pool_positions=None if d.pool_positions is None else d.pool_positions.copy(),
        pool_depths=None if d.pool_depths is None else d.pool_depths.copy(),
    )


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise DatasetError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise DatasetError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def load_synthetic(
    image_size: int = 64,
    train_patients: int = 48,
    test_patients: int = 12,
    slices_per_patient: int = 8,
    hard_fraction: float = 0.2,
    seed: int = 1234,
) -> SegmentationData:
    """The embedded procedural cardiac phantom (RV, MYO, LV): no files, no download.

    Built once per set of arguments and then fetched from an in-memory cache. Returns a :class:`SegmentationData` with ``train_patients * slices_per_patient`` pool
    slices (``N x 1 x S x S`` float32 in [0, 1], labels ``N x S x S`` uint8, 0 background,
    1 RV, 2 MYO, 3 LV), ``test_patients`` test volumes (``D x S x S``, same resolution,
    spacing ``(10, 256 / S, 256 / S)`` mm) and hard-case flags in ``info`` (see the package
    docstring).  Every call returns fresh writable arrays, so callers cannot corrupt the cache.

    Raises:
        DatasetError: (a ``ValueError``) ``image_size < 32``, a count ``< 1``, ``hard_fraction`` outside
            ``[0, 1]`` or a negative / non-integer seed.
    """
    image_size = _check_int("image_size", image_size, 32)
    train_patients = _check_int("train_patients", train_patients, 1)
    test_patients = _check_int("test_patients", test_patients, 1)
    slices_per_patient = _check_int("slices_per_patient", slices_per_patient, 1)
    seed = _check_int("seed", seed, 0)
    if isinstance(hard_fraction, bool) or not isinstance(hard_fraction, Real):
        raise DatasetError(f"hard_fraction must be a number, got {hard_fraction!r}")
    hard_fraction = float(hard_fraction)
    if not 0.0 <= hard_fraction <= 1.0:
        raise DatasetError(f"hard_fraction must be in [0, 1], got {hard_fraction}")
    data = _build(image_size, train_patients, test_patients, slices_per_patient, hard_fraction, seed)
    return _copy_data(data)
