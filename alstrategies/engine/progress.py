"""What a run tells its user while it works: the overall bar with the time left, and ``run.log``."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from alstrategies.engine.records import read_record

log = logging.getLogger("alstrategies")


def announce(message: str, to_user: bool) -> None:
    """Log ``message`` to run.log and, for an interactive run, print it to stderr."""
    log.info(message)
    if to_user:
        print(message, file=sys.stderr)


def bars_enabled(requested: bool) -> bool:
    """Bars only on a terminal: in a log file or a pipe, tqdm's carriage returns are noise."""
    return requested and sys.stderr.isatty()


@dataclass
class WorkRates:
    """What the recorded trainings took: seconds per training iteration, and seconds per
    training for the rest (query and evaluation, which do not scale with the iterations)."""

    iterations: float = 0.0
    train_seconds: float = 0.0
    other_seconds: float = 0.0
    trainings: int = 0

    def add(self, record: Mapping) -> None:
        """Count one round record."""
        self.iterations += float(record.get("iterations") or 0)
        self.train_seconds += float(record.get("train_seconds") or 0.0)
        self.other_seconds += float(record.get("query_seconds") or 0.0) + float(
            record.get("eval_seconds") or 0.0
        )
        self.trainings += 1

    def seconds(self, iterations: float, trainings: int) -> float | None:
        """The work of ``trainings`` trainings of ``iterations`` in all, at these rates (None
        before any record)."""
        if self.trainings == 0 or self.iterations <= 0:
            return None
        per_iteration = self.train_seconds / self.iterations
        return iterations * per_iteration + trainings * self.other_seconds / self.trainings


class RecordedRates:
    """The :class:`WorkRates` of those of ``records`` (round-record paths) that exist, each
    read once; call it for the current rates."""

    def __init__(self, records: list[Path]) -> None:
        self.records = records
        self.rates = WorkRates()
        self._read: set[Path] = set()

    def __call__(self) -> WorkRates:
        for path in self.records:
            if path not in self._read and path.is_file():
                record = read_record(path)
                if record is not None:
                    self.rates.add(record)
                self._read.add(path)
        return self.rates


@dataclass
class ProgressTracker:
    """Overall progress of a run: a tqdm bar in trainings, and ETA lines in run.log.

    The time left is estimated from work, not from the count of trainings: every training
    has a cost (its iterations: the round-0, chain and 100 % models differ by an order of
    magnitude) plus a query and an evaluation, whose seconds do not scale with the iterations.
    ``rates`` (when given) returns the :class:`WorkRates` of the trainings recorded so far; the
    work of this session, in those seconds, against its elapsed time gives the wall-clock rate
    (so parallel workers are accounted for), times the work still to do is the estimate.
    Without rates the cost alone weighs the trainings.
    """

    total: int
    total_cost: float = 0.0
    done: int = 0
    done_cost: float = 0.0
    enabled: bool = True
    started_at: float = field(default_factory=time.perf_counter)
    rates: Callable[[], WorkRates] | None = None
    _bar: tqdm | None = None
    _resumed_cost: float = 0.0
    _resumed: int = 0
    _started: bool = False

    def start(self, already_done: int, already_cost: float = 0.0) -> None:
        self.done, self.done_cost, self._resumed_cost = already_done, already_cost, already_cost
        self._resumed = already_done
        self.started_at = time.perf_counter()
        self._started = True
        self._bar = tqdm(
            total=self.total,
            initial=already_done,
            desc="trainings",
            disable=not bars_enabled(self.enabled),
            unit="model",
        )

    def eta_seconds(self) -> float | None:
        """Time left at this session's rate per unit of cost (None before this session's first
        training)."""
        new = self.done_cost - self._resumed_cost
        if new <= 0:
            return None
        elapsed = time.perf_counter() - self.started_at
        left_cost, left = max(self.total_cost - self.done_cost, 0.0), max(self.total - self.done, 0)
        rates = self.rates() if self.rates is not None else None
        if rates is not None:
            done_work = rates.seconds(new, self.done - self._resumed)
            left_work = rates.seconds(left_cost, left)
            if done_work and left_work is not None:
                return elapsed / done_work * left_work
        return elapsed / new * left_cost

    def set(self, done: int, label: str = "", cost: float | None = None) -> None:
        """Move to ``done`` trainings finished, ``cost`` of work (log a line when it changed);
        a tracker that was never started (a worker process's) stays silent: the driver reports."""
        if done == self.done or not self._started:
            return
        if self._bar is not None:
            self._bar.update(done - self.done)
            if label:
                self._bar.set_postfix_str(label)
        self.done = done
        if cost is not None:
            self.done_cost = cost
        eta = self.eta_seconds()
        log.info(
            "progress %d/%d trainings%s%s",
            done,
            self.total,
            f" ({label})" if label else "",
            "" if eta is None else f", about {eta / 60:.1f} min left",
        )

    def advance(self, label: str, cost: float = 1.0) -> None:
        self.set(self.done + 1, label, self.done_cost + cost)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def training_bar(total: int, label: str, enabled: bool) -> tqdm:
    """The inner bar of one training, in iterations."""
    return tqdm(
        total=total, desc=f"  train {label}", leave=False, disable=not bars_enabled(enabled), unit="it"
    )


class RunLog:
    """Appends this process's log lines to a run folder's ``run.log`` while open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handler: logging.Handler | None = None

    def open(self) -> None:
        if self._handler is not None:
            return
        handler = logging.FileHandler(self.path)
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s [{os.getpid()}] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        self._handler = handler

    def close(self) -> None:
        if self._handler is not None:
            log.removeHandler(self._handler)
            self._handler.close()
            self._handler = None
