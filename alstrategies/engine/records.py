"""Atomic per-round JSON records and the ``results.csv`` built from them.

The paths of a run folder are :class:`alstrategies.engine.layout.RunLayout`'s alone.
"""

from __future__ import annotations

import json
import stat
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alstrategies.atomic import atomic_write_text
from alstrategies.engine.layout import RunLayout
from alstrategies.engine.round_record import record_keys
from alstrategies.errors import RecordError
from alstrategies.metrics import DEFAULT_METRICS, METRICS

#: The columns of ``results.csv`` before the metric means (record keys, as every column that
#: ``results.csv`` and ``timings.csv`` copy from the records: :func:`record_keys`).
ID_COLUMNS = record_keys("strategy", "seed", "round", "budget", "n_labeled", "fraction")
#: The column of the training iterations, after the metric means.
[ITERATIONS] = record_keys("iterations")
#: Columns of ``results.csv`` that are not per-class, for the default metrics. A run folder has,
#: in this order: :data:`ID_COLUMNS`, the mean of each metric (registry order), ``iterations``,
#: then ``<metric>_<class>`` per metric and class, then HD95's companions (see :func:`metric_columns`).
BASE_COLUMNS = [*ID_COLUMNS, *DEFAULT_METRICS, ITERATIONS]

#: Wall-clock columns, kept out of ``results.csv`` (they differ between runs) in ``timings.csv``.
TIMING_COLUMNS = record_keys("train_seconds", "query_seconds", "eval_seconds")
#: The columns that identify a row.
KEY_COLUMNS = ID_COLUMNS[:4]


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
        raise RecordError(
            f"record {path} is corrupt ({error}); delete it and re-run to recompute that round"
        ) from None


#: One version of a record file: (inode, mtime in ns, size). Records are written atomically (a
#: new file renamed over the old one), so a changed record always has a new key.
FileKey = tuple[int, int, int]
#: A parsed record as results.csv needs it: the metric row and, for a chain record, its
#: (strategy, seed).
ParsedRecord = tuple[dict, tuple[str, int, str] | None]


def _file_key(path: Path) -> FileKey | None:
    """The :data:`FileKey` of ``path``; None when it is not a regular file."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size) if stat.S_ISREG(info.st_mode) else None


#: What a parsed row depends on besides the file: (class names, registered metric names, chain).
_Variant = tuple[tuple[str, ...], tuple[str, ...], bool]


class RecordCache:
    """results.csv rows of record files, parsed again only when a file changes.

    ``write_results`` runs after every round; without the cache it would re-read every record of
    the run each time. An entry is ``path -> (file key, (class names, metric names, chain), parsed
    record)``; a lookup stats the file and re-reads it when its key (or the class names, or the
    registered metrics) differ.
    :meth:`prune` drops the entries not looked up since its last call (deleted records).
    """

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[FileKey, _Variant, ParsedRecord]] = {}
        self._seen: set[Path] = set()

    def chain_row(self, path: Path, class_names: list[str]) -> tuple[dict, tuple[str, int, str]]:
        """The metric row and (strategy, seed) of a strategy-round record."""
        parsed = self._parsed(path, class_names, chain=True)
        if parsed is None or parsed[1] is None:
            raise RecordError(f"record {path} disappeared while results.csv was being written")
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
        key, variant = _file_key(path), (tuple(class_names), tuple(METRICS), chain)
        cached = self._entries.pop(path, None)
        if key is None:
            return None
        if cached is not None and cached[:2] == (key, variant):
            self._entries[path] = cached
            return cached[2]
        record = read_record(path)
        if record is None:  # deleted since the stat
            return None
        chain_key = (record["strategy"], int(record["seed"]), record.get("network") or "") if chain else None
        parsed = (metric_row(record, class_names), chain_key)
        self._entries[path] = (key, variant, parsed)
        return parsed


_CACHES: weakref.WeakKeyDictionary[RunLayout, RecordCache] = weakref.WeakKeyDictionary()


def record_cache(layout: RunLayout) -> RecordCache:
    """The :class:`RecordCache` of ``layout`` (one per layout object, dropped with it)."""
    cache = _CACHES.get(layout)
    if cache is None:
        cache = _CACHES[layout] = RecordCache()
    return cache


#: HD95's unit column of ``results.csv`` (``"mm"`` or ``"voxels"``; empty for old records).
HD95_UNIT_COLUMN = "hd95_unit"


def class_columns(metric: str, class_names: list[str]) -> list[str]:
    """``<metric>_<class>``: the per-class columns of ``metric`` in ``results.csv``."""
    return [f"{metric}_{name}" for name in class_names]


def class_names_of(results: pd.DataFrame, metric: str = "dice") -> list[str]:
    """The class names of a results table, in column order: read back from its per-class
    columns of ``metric`` (:func:`class_columns`; Dice is always computed, so its columns name
    every class). No metric's name extends another's (``register_metric``), so the prefix is
    unambiguous."""
    prefix = f"{metric}_"
    return [c.removeprefix(prefix) for c in results.columns if c.startswith(prefix)]


def miss_columns(class_names: list[str]) -> list[str]:
    """``hd95_misses_<class>``: per class, the test volumes where the prediction missed or
    invented the structure (its HD95 is the volume's diagonal there)."""
    return class_columns("hd95_misses", class_names)


def metric_row(record: dict, class_names: list[str]) -> dict:
    """A results.csv row from a record: its identifying columns, ``iterations``, the seconds, and
    per registered metric in the record (the default ones always) ``<metric>`` (its mean) and
    ``<metric>_<class>`` (from ``<metric>_per_class``); HD95's ``hd95_misses_<class>`` (from
    ``hd95_misses_per_class``) and ``hd95_unit`` when the record has them."""
    row = {key: record.get(key) for key in [*ID_COLUMNS, ITERATIONS, *TIMING_COLUMNS]}
    for metric in METRICS:
        if metric not in DEFAULT_METRICS and metric not in record:
            continue
        row[metric] = record.get(metric)
        for column, value in zip(class_columns(metric, class_names), record.get(f"{metric}_per_class") or []):
            row[column] = value
    for column, value in zip(miss_columns(class_names), record.get("hd95_misses_per_class") or []):
        row[column] = value
    row[HD95_UNIT_COLUMN] = record.get(HD95_UNIT_COLUMN)
    return row


def metric_columns(metrics: list[str], class_names: list[str]) -> list[str]:
    """The ``results.csv`` columns (with the timing ones) of a run computing ``metrics``: with
    HD95, ``hd95_misses_<class>`` and ``hd95_unit`` after the per-class columns."""
    per_class = [column for m in metrics for column in class_columns(m, class_names)]
    companions = [*miss_columns(class_names), HD95_UNIT_COLUMN] if "hd95" in metrics else []
    return [*ID_COLUMNS, *metrics, ITERATIONS, *per_class, *companions, *TIMING_COLUMNS]


def collect_results(layout: RunLayout, class_names: list[str], include_full: bool = True) -> pd.DataFrame:
    """Every finished round of every chain, plus the shared 100 % row for each (strategy, seed).

    Columns (:func:`metric_columns`): the default metrics (Dice, HD95) always, and every other
    registered metric present in at least one record, in registry order. Miss counts are integers
    and ``hd95_unit`` text; both are empty for records written before they existed.

    Records are parsed through ``record_cache(layout)``, so an unchanged record is read only once per
    layout (``write_results`` runs after every round)."""
    rows = []
    chains: set[tuple[str, int, str]] = set()
    for path in layout.strategy_records():
        row, chain = record_cache(layout).chain_row(path, class_names)
        rows.append(dict(row))
        chains.add(chain)
    if include_full:
        for strategy, seed, network in sorted(chains):  # the 100 % model of the chain's network
            full = record_cache(layout).row(layout.shared(seed, "full", network), class_names)
            if full is not None:
                rows.append({**full, "strategy": strategy, "query_seconds": 0.0})
    record_cache(layout).prune()
    present = [m for m in METRICS if m in DEFAULT_METRICS or any(m in row for row in rows)]
    columns = metric_columns(present, class_names)
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return frame
    numeric = [c for c in columns if c not in ID_COLUMNS and c not in (ITERATIONS, HD95_UNIT_COLUMN)]
    frame[numeric] = frame[numeric].astype(float)  # undefined metrics (None) become NaN
    counts = [c for c in miss_columns(class_names) if c in frame]
    frame[counts] = frame[counts].astype("Int64")  # whole numbers; empty for old records
    return frame.sort_values(["strategy", "seed", "round"], kind="stable").reset_index(drop=True)


def write_results(layout: RunLayout, class_names: list[str], include_full: bool = True) -> pd.DataFrame:
    """Write ``results.csv`` (metrics) and ``timings.csv`` (seconds); return the metrics frame."""
    frame = collect_results(layout, class_names, include_full)
    atomic_write_text(layout.timings, frame[KEY_COLUMNS + TIMING_COLUMNS].to_csv(index=False))
    metrics = frame.drop(columns=TIMING_COLUMNS)
    atomic_write_text(layout.results, metrics.to_csv(index=False))
    return metrics
