"""The record of one trained round, built in one place and written as one JSON file.

A record holds what was trained on (``labeled``), how (iterations, loss history, threads), what
it scored (the evaluation's metric fields, flat: ``dice``, ``hd95``, ``dice_per_class``, ...),
what it queried next, and which software wrote it (``schema``, package and torch versions).
Records written before the schema existed (schema 1) read back the same.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Version of the record layout: 2 added ``schema`` and the software versions.
SCHEMA_VERSION = 2
#: The keys of the software versions in a record file (:func:`software_versions`).
VERSION_KEYS = ("alstrategies_version", "torch_version")
#: The fields of :class:`RoundRecord` that its file holds flat: the metric fields and the versions.
_FLAT_FIELDS = ("metrics", "versions")


def software_versions() -> dict[str, str]:
    """The package and torch versions of this process."""
    import torch

    from alstrategies import __version__

    return dict(zip(VERSION_KEYS, (__version__, torch.__version__), strict=True))


@dataclass
class RoundRecord:
    """One round of one chain (``strategy`` set), or a seed's shared round-0 or 100 % model."""

    seed: int
    n_labeled: int
    fraction: float
    labeled: np.ndarray
    metrics: dict[str, Any]
    iterations: int | None = None
    loss_history: list[float] = field(default_factory=list)
    torch_threads: int | None = None  # absent from the oldest records
    train_seconds: float | None = None
    eval_seconds: float | None = None
    round: int | None = None
    budget: float | None = None
    strategy: str | None = None
    queried: np.ndarray | None = None
    query_seconds: float | None = None
    scores: dict[str, Any] | None = None
    weights_sha256: str | None = None
    network: str | None = None  # with protocol.networks = "paper": the heads this chain trains
    schema: int = SCHEMA_VERSION
    versions: dict[str, str] = field(default_factory=software_versions)

    @property
    def dice(self) -> float:
        return self.metrics["dice"]

    def next_labeled(self) -> np.ndarray:
        """The labeled set of the next round: this round's plus what it queried."""
        queried = np.zeros(0, dtype=np.int64) if self.queried is None else self.queried
        return np.union1d(np.asarray(self.labeled, dtype=np.int64), np.asarray(queried, dtype=np.int64))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the record file (metric fields and versions flat, None left out)."""
        out: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name in _FLAT_FIELDS:
                out.update(value)
            elif value is not None:
                out[item.name] = value
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RoundRecord:
        """A record read back from its JSON object; unknown keys are the metric fields."""
        values = dict(values)
        versions = {key: values.pop(key) for key in VERSION_KEYS if key in values}
        known = {item.name for item in dataclasses.fields(cls)} - set(_FLAT_FIELDS)
        kwargs = {key: values.pop(key) for key in list(values) if key in known}
        kwargs.setdefault("schema", 1)
        for key in ("labeled", "queried"):
            if kwargs.get(key) is not None:
                kwargs[key] = np.asarray(kwargs[key], dtype=np.int64)
        return cls(**kwargs, metrics=values, versions=versions)

    def for_chain(self, strategy: str, round_index: int, budget: float, labeled: np.ndarray) -> RoundRecord:
        """This training as round ``round_index`` of ``strategy``'s chain, before its query."""
        return dataclasses.replace(
            self,
            strategy=strategy,
            round=round_index,
            budget=budget,
            labeled=np.sort(labeled),
            queried=np.zeros(0, dtype=np.int64),
            query_seconds=0.0,
            scores=None,
            schema=SCHEMA_VERSION,
            versions=software_versions(),
        )


#: The keys of a record file besides its metric fields, in :class:`RoundRecord`'s field order:
#: the one declaration of them. ``results.csv``, ``timings.csv``, the report and the metric
#: registry's reserved names take record keys from here (:func:`record_keys`).
RECORD_KEYS: tuple[str, ...] = (
    *(item.name for item in dataclasses.fields(RoundRecord) if item.name not in _FLAT_FIELDS),
    *VERSION_KEYS,
)


def record_keys(*names: str) -> list[str]:
    """``names`` (in that order), each checked to be one of :data:`RECORD_KEYS`: a column read
    from the records names a key that exists, so renaming a field fails at import rather than
    as an empty column."""
    unknown = [name for name in names if name not in RECORD_KEYS]
    if unknown:
        raise ValueError(f"not record keys: {', '.join(unknown)} (RoundRecord has {', '.join(RECORD_KEYS)})")
    return list(names)
