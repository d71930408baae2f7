"""What a run tells its user while it works: the overall bar with the time left, and ``run.log``."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

log = logging.getLogger("alstrategies")


@dataclass
class ProgressTracker:
    """Overall progress of a run: a tqdm bar with the time left, and ETA lines in run.log."""

    total: int
    done: int = 0
    enabled: bool = True
    started_at: float = field(default_factory=time.perf_counter)
    _bar: tqdm | None = None
    _resumed: int = 0

    def start(self, already_done: int) -> None:
        self.done = self._resumed = already_done
        self.started_at = time.perf_counter()
        self._bar = tqdm(
            total=self.total, initial=already_done, desc="trainings", disable=not self.enabled, unit="model"
        )

    def eta_seconds(self) -> float | None:
        """Time left at this session's rate (None before the first training of this session)."""
        new = self.done - self._resumed
        if new <= 0:
            return None
        return (time.perf_counter() - self.started_at) / new * (self.total - self.done)

    def set(self, done: int, label: str = "") -> None:
        """Move to ``done`` trainings finished (log a line when it changed); a tracker that was
        never started (a worker process's) stays silent: the driver reports progress."""
        if done == self.done or self._bar is None:
            return
        self._bar.update(done - self.done)
        if label:
            self._bar.set_postfix_str(label)
        self.done = done
        eta = self.eta_seconds()
        log.info(
            "progress %d/%d trainings%s%s",
            done,
            self.total,
            f" ({label})" if label else "",
            "" if eta is None else f", about {eta / 60:.1f} min left",
        )

    def advance(self, label: str) -> None:
        self.set(self.done + 1, label)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def training_bar(total: int, label: str, enabled: bool) -> tqdm:
    """The inner bar of one training, in iterations."""
    return tqdm(total=total, desc=f"  train {label}", leave=False, disable=not enabled, unit="it")


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
