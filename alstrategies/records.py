"""Atomic per-round JSON records and the ``results.csv`` built from them.

Layout of a run folder::

    config.json                          the resolved config that defines the results
    dataset.json                         what the data are (not where): checked on resume
    shared/seed<S>/round0.json           the round-0 model, shared by every strategy
    shared/seed<S>/full.json             the 100 % model of seed S
    strategies/<name>/seed<S>/round<R>.json
    checkpoints/                         model weights needed to resume (never committed)
    snapshots/                           predictions on a few test slices (qualitative figures)
    results.csv                          one row per (strategy, seed, round): metrics only, so
                                         the same config gives a byte-identical file
    timings.csv                          the same rows with train/query/eval seconds
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alstrategies.atomic import atomic_write_text

#: Columns of ``results.csv`` that are not per-class.
BASE_COLUMNS = [
    "strategy",
    "seed",
    "round",
    "budget",
    "n_labeled",
    "fraction",
    "dice",
    "hd95",
    "iterations",
]

#: Wall-clock columns, kept out of ``results.csv`` (they differ between runs) in ``timings.csv``.
TIMING_COLUMNS = ["train_seconds", "query_seconds", "eval_seconds"]
#: The columns that identify a row.
KEY_COLUMNS = ["strategy", "seed", "round", "budget"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def write_record(path: Path, record: dict) -> None:
    atomic_write_text(path, json.dumps(_jsonable(record), indent=1, sort_keys=True))


def read_record(path: Path) -> dict | None:
    """The record at ``path``, or None when absent. A corrupt record is an error naming it."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise RuntimeError(
            f"record {path} is corrupt ({error}); delete it and re-run to recompute that round"
        ) from None


#: One version of a record file: (inode, mtime in ns, size). Records are written atomically (a
#: new file renamed over the old one), so a changed record always has a new key.
FileKey = tuple[int, int, int]
#: A parsed record as results.csv needs it: the metric row and, for a chain record, its
#: (strategy, seed).
ParsedRecord = tuple[dict, tuple[str, int] | None]


def _file_key(path: Path) -> FileKey | None:
    """The :data:`FileKey` of ``path``; None when it is not a regular file."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size) if stat.S_ISREG(info.st_mode) else None


class RecordCache:
    """results.csv rows of record files, parsed again only when a file changes.

    ``write_results`` runs after every round; without the cache it would re-read every record of
    the run each time. An entry is ``path -> (file key, (class names, chain), parsed record)``;
    a lookup stats the file and re-reads it when its key (or the class names) differ.
    :meth:`prune` drops the entries not looked up since its last call (deleted records).
    """

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[FileKey, tuple[tuple[str, ...], bool], ParsedRecord]] = {}
        self._seen: set[Path] = set()

    def chain_row(self, path: Path, class_names: list[str]) -> tuple[dict, tuple[str, int]]:
        """The metric row and (strategy, seed) of a strategy-round record."""
        parsed = self._parsed(path, class_names, chain=True)
        if parsed is None or parsed[1] is None:
            raise FileNotFoundError(f"record {path} disappeared while results.csv was being written")
        return parsed[0], parsed[1]

    def row(self, path: Path, class_names: list[str]) -> dict | None:
        """The metric row of the record at ``path``; None when there is none."""
        parsed = self._parsed(path, class_names, chain=False)
        return None if parsed is None else parsed[0]

    def prune(self) -> None:
        """Forget the paths not looked up since the last call."""
        for path in self._entries.keys() - self._seen:
            del self._entries[path]
        self._seen.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _parsed(self, path: Path, class_names: list[str], chain: bool) -> ParsedRecord | None:
        self._seen.add(path)
        key, variant = _file_key(path), (tuple(class_names), chain)
        cached = self._entries.pop(path, None)
        if key is None:
            return None
        if cached is not None and cached[:2] == (key, variant):
            self._entries[path] = cached
            return cached[2]
        record = read_record(path)
        if record is None:  # deleted since the stat
            return None
        chain_key = (record["strategy"], int(record["seed"])) if chain else None
        parsed = (metric_row(record, class_names), chain_key)
        self._entries[path] = (key, variant, parsed)
        return parsed


class RunLayout:
    """Paths inside one run folder, and the :class:`RecordCache` of its records."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.records = RecordCache()

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def results(self) -> Path:
        return self.root / "results.csv"

    @property
    def timings(self) -> Path:
        return self.root / "timings.csv"

    @property
    def log(self) -> Path:
        return self.root / "run.log"

    def snapshot(self, name: str, seed: int, round_index: int) -> Path:
        return self.root / "snapshots" / name / f"seed{seed}" / f"round{round_index}.npz"

    def shared(self, seed: int, which: str) -> Path:
        return self.root / "shared" / f"seed{seed}" / f"{which}.json"

    def strategy_round(self, name: str, seed: int, round_index: int) -> Path:
        return self.root / "strategies" / name / f"seed{seed}" / f"round{round_index}.json"

    def checkpoint(self, *parts: str | int) -> Path:
        return self.root / "checkpoints" / ("_".join(str(p) for p in parts) + ".pt")

    def strategy_records(self) -> list[Path]:
        return sorted((self.root / "strategies").glob("*/seed*/round*.json"))


def metric_row(record: dict, class_names: list[str]) -> dict:
    """A results.csv row from a record."""
    row = {key: record.get(key) for key in BASE_COLUMNS + TIMING_COLUMNS}
    for name, dice, hd in zip(class_names, record["dice_per_class"], record["hd95_per_class"]):
        row[f"dice_{name}"] = dice
        row[f"hd95_{name}"] = hd
    return row


def collect_results(layout: RunLayout, class_names: list[str], include_full: bool = True) -> pd.DataFrame:
    """Every finished round of every chain, plus the shared 100 % row for each (strategy, seed).

    Records are parsed through ``layout.records``, so an unchanged record is read only once per
    layout (``write_results`` runs after every round)."""
    rows = []
    chains: set[tuple[str, int]] = set()
    for path in layout.strategy_records():
        row, chain = layout.records.chain_row(path, class_names)
        rows.append(dict(row))
        chains.add(chain)
    if include_full:
        for strategy, seed in sorted(chains):
            full = layout.records.row(layout.shared(seed, "full"), class_names)
            if full is not None:
                rows.append({**full, "strategy": strategy, "query_seconds": 0.0})
    layout.records.prune()
    columns = BASE_COLUMNS + [f"{m}_{n}" for m in ("dice", "hd95") for n in class_names] + TIMING_COLUMNS
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return frame
    metrics = [c for c in columns if c.startswith(("dice", "hd95")) or c in TIMING_COLUMNS]
    frame[metrics] = frame[metrics].astype(float)  # undefined metrics (None) become NaN
    return frame.sort_values(["strategy", "seed", "round"], kind="stable").reset_index(drop=True)


def write_results(layout: RunLayout, class_names: list[str], include_full: bool = True) -> pd.DataFrame:
    """Write ``results.csv`` (metrics) and ``timings.csv`` (seconds); return the metrics frame."""
    frame = collect_results(layout, class_names, include_full)
    atomic_write_text(layout.timings, frame[KEY_COLUMNS + TIMING_COLUMNS].to_csv(index=False))
    metrics = frame.drop(columns=TIMING_COLUMNS)
    atomic_write_text(layout.results, metrics.to_csv(index=False))
    return metrics
