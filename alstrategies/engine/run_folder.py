"""A run folder's identity and weights: claiming it for a config and dataset, checkpoints, and
the digest that tells whether a retrained model is the very same one."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from alstrategies.atomic import atomic_stream, atomic_write_text
from alstrategies.config import differences, fill_defaults, fingerprint
from alstrategies.engine.data_fingerprint import content_fingerprint, fingerprint_mismatch, write_fingerprint
from alstrategies.engine.layout import RunLayout
from alstrategies.engine.round_record import RoundRecord
from alstrategies.errors import RecordError, RunFolderMismatch
from alstrategies.settings import Settings
from alstrategies.types import SegmentationData

log = logging.getLogger("alstrategies")


def dataset_identity(data: SegmentationData) -> dict:
    """What identifies a dataset independently of where it lies and of float rounding in its
    resampling: name, classes, pool size and slice shape, the digest of the pool's patient of
    each slice, and the digest of the test volumes' names and original shapes."""

    def digest(parts: list[str]) -> str:
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    return {
        "name": data.name,
        "class_names": list(data.class_names),
        "pool_size": data.pool_size,
        "slice_shape": [int(v) for v in data.pool_images.shape[1:]],
        "pool_groups_sha256": digest([str(g) for g in data.pool_groups]),
        "test_volumes_sha256": digest([f"{v.name}:{tuple(v.label.shape)}" for v in data.test_volumes]),
    }


#: The columns of ``pool.csv``, one row per pool slice in pool order.
POOL_COLUMNS = ["index", "volume", "slice", "slices_in_volume", "foreground"]


def pool_table(data: SegmentationData, chunk: int = 1024) -> pd.DataFrame:
    """:data:`POOL_COLUMNS` of every pool slice: its volume, 0-based slice index along the volume's
    slicing axis, the volume's slice count and 1 when its true label holds any foreground."""
    labels = data.pool_labels
    blocks = [np.asarray(labels[i : i + chunk]) for i in range(0, len(labels), chunk)]
    foreground = np.concatenate(
        [np.zeros(0, dtype=bool), *(b.reshape(len(b), -1).any(axis=1) for b in blocks)]
    )
    return pd.DataFrame(
        {
            "index": np.arange(data.pool_size),
            "volume": [str(g) for g in data.pool_groups],
            "slice": np.asarray(data.pool_positions, dtype=np.int64),
            "slices_in_volume": np.asarray(data.pool_depths, dtype=np.int64),
            "foreground": foreground.astype(np.int64),
        },
        columns=POOL_COLUMNS,
    )


def write_pool_table(layout: RunLayout, data: SegmentationData) -> None:
    """Write ``pool.csv`` (:func:`pool_table`) atomically."""
    atomic_write_text(layout.pool_table, pool_table(data).to_csv(index=False))


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of a model's state dict (names, dtypes and bytes), to tell whether two trainings
    produced the very same weights."""
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        tensor = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{key}:{tensor.dtype}:".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(state: dict, path: Path) -> None:
    """Write a state dict atomically (a killed run never leaves half a checkpoint)."""
    with atomic_stream(path) as stream:
        torch.save(state, stream)


def load_checkpoint(path: Path, device: torch.device) -> dict:
    return torch.load(path, map_location=device, weights_only=True)


def check_round0_reproduced(
    layout: RunLayout, seed: int, previous: dict, retrained: RoundRecord, warm_start: bool
) -> None:
    """A retrained round-0 model (its checkpoint was lost) must equal the recorded one when
    records already depend on it; GPU training is not bit-reproducible, so it may not."""
    if "weights_sha256" in previous:
        same = previous["weights_sha256"] == retrained.weights_sha256
    else:  # records written before the digest existed
        same = previous["dice"] == retrained.dice and previous.get("loss_history") == [
            float(v) for v in retrained.loss_history
        ]
    if same:
        log.info("seed %d: the round-0 checkpoint was missing; retrained it identically", seed)
        return
    dependants = sorted(
        key.strategy
        for key in map(layout.parse, layout.strategy_records(seed))
        if key is not None and key.round == 0
    )
    if warm_start and layout.shared(seed, "full").is_file():
        dependants.append("the 100 % model (warm start)")
    if dependants:
        raise RecordError(
            f"seed {seed}: the round-0 checkpoint {layout.round0_checkpoint(seed)} "
            "is missing and retraining gave different weights (training on a GPU is not "
            f"bit-reproducible), but {', '.join(dependants)} already started from the old ones. "
            "Restore that checkpoint, or delete this seed's records "
            f"(shared/seed{seed}/ and strategies/*/seed{seed}/) to redo the seed"
        )
    log.warning("seed %d: round-0 model retrained with different weights; nothing depended on it", seed)


def claim_run_folder(layout: RunLayout, settings: Settings, data: SegmentationData) -> bool:
    """Write ``config.json``, ``dataset.json`` and ``data_fingerprint.json``, or check this run
    against them, and ``pool.csv`` where it is missing (a folder written before one of them
    existed gets it on resuming).

    A folder started with another config, or on other data (other identity, or other content:
    :mod:`alstrategies.engine.data_fingerprint`), is refused with what differs and the fix, unless it
    holds no recorded training yet (a start that failed): then it is claimed anew, and the
    function returns True so that the caller can say so. Where the data lie is not checked: a
    copy elsewhere resumes.
    """
    layout.root.mkdir(parents=True, exist_ok=True)
    claims = [
        (
            layout.config,
            fingerprint(settings.to_config()),
            fill_defaults,
            "with a different config",
            "use another --out folder, or restore those values to resume",
        ),
        (
            layout.dataset,
            dataset_identity(data),
            lambda recorded: recorded,
            "on other data",
            "point --data at the dataset this folder was started with, or use another --out folder",
        ),
    ]
    content = content_fingerprint(data)
    mismatches = [_mismatch(layout, *claim) for claim in claims]
    mismatches.append(fingerprint_mismatch(layout.root, layout.data_fingerprint, content))
    problems = [m for m in mismatches if m]
    if problems and has_trainings(layout):
        raise RunFolderMismatch(problems[0])
    for path, current, *_ in claims:
        if problems or not path.is_file():
            atomic_write_text(path, json.dumps(current, indent=1, sort_keys=True))
    if problems or not layout.data_fingerprint.is_file():
        write_fingerprint(layout.data_fingerprint, content)
    if problems or not layout.pool_table.is_file():
        write_pool_table(layout, data)
    return bool(problems)


def has_trainings(layout: RunLayout) -> bool:
    """Whether the folder records any training (a shared model or a strategy's round)."""
    return bool(layout.strategy_records()) or any(layout.shared_files(seed) for seed in layout.shared_seeds())


def _mismatch(
    layout: RunLayout, path: Path, current: dict, recorded_as: Callable[[dict], dict], started: str, fix: str
) -> str:
    """The refusal message when ``recorded_as`` of the file at ``path`` differs from ``current``
    (the differing keys and ``fix``); empty when it matches or is absent."""
    if not path.is_file():
        return ""
    diff = differences(recorded_as(json.loads(path.read_text())), current)
    if not diff:
        return ""
    return f"run folder {layout.root} was started {started}:\n  " + "\n  ".join(diff) + f"\n{fix}"
