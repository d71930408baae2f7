"""How far a run folder is: the rounds recorded per (strategy, seed), from the folder alone.

``alstrategies status DIR`` prints it; useful to see what a resumed run still has to do, e.g.
between the short GPU windows that advance one run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from alstrategies.config import fill_defaults
from alstrategies.errors import MissingFileError
from alstrategies.layout import RunLayout
from alstrategies.protocol import budget_schedule
from alstrategies.records import read_record
from alstrategies.units import read_plan


@dataclass
class RunStatus:
    """Rounds done per chain, and the shared models per seed, of one run folder."""

    root: Path
    rounds: int | None  # rounds per chain (None when dataset.json is missing)
    chains: pd.DataFrame  # strategy x seed -> rounds recorded
    shared: pd.DataFrame  # seed -> round0 / full recorded (bool)
    trainings: tuple[int, int] | None = None  # (recorded, planned) in the progress bar's units
    minutes_left: float | None = None  # at the recorded trainings' seconds per iteration

    @property
    def complete(self) -> bool:
        """Every chain seen has all its rounds and every seed its shared models."""
        if self.rounds is None or self.chains.empty:
            return False
        return bool((self.chains.to_numpy() == self.rounds).all() and self.shared.to_numpy().all())

    def text(self) -> str:
        """A human-readable summary: one line per seed's shared models, then the chain table."""
        expected = "?" if self.rounds is None else str(self.rounds)
        lines = [f"{self.root}: rounds per chain {expected} (round 0 included)"]
        for seed, row in self.shared.iterrows():
            marks = ", ".join(f"{name} {'done' if done else 'missing'}" for name, done in row.items())
            lines.append(f"  seed {seed}: {marks}")
        if self.chains.empty:
            lines.append("  no strategy round recorded yet")
        else:
            table = self.chains.astype(str) + "/" + expected
            lines += ["", table.to_string()]
        done = int(self.chains.to_numpy().sum()) if not self.chains.empty else 0
        if self.trainings is not None:
            recorded, planned = self.trainings
            left = "" if self.minutes_left is None else f", about {self.minutes_left:.1f} min left"
            lines.append(f"\ntrainings recorded: {recorded} of {planned} (the run's progress bar){left}")
        elif self.rounds is not None and not self.chains.empty:
            total = self.chains.size * self.rounds
            lines.append(f"\nchain rounds recorded: {done} of {total} for the chains seen")
        return "\n".join(lines)


def _pool_size(layout: RunLayout) -> int | None:
    """The pool size from ``dataset.json``, else from any round-0 record (``n_labeled /
    fraction``, for folders written before dataset.json existed); None when neither exists."""
    if layout.dataset.is_file():
        return int(json.loads(layout.dataset.read_text())["pool_size"])
    for seed in layout.shared_seeds():
        record = read_record(layout.shared(seed, "round0"))
        if record and record.get("fraction"):
            return round(record["n_labeled"] / record["fraction"])
    return None


def run_status(root: str | Path) -> RunStatus:
    """Count the records of the run folder ``root``.

    The rounds per chain follow from ``config.json`` (the budget fractions) and the pool size
    (``dataset.json``); strategies and seeds are those found in the folder."""
    layout = RunLayout(root)
    if not layout.config.is_file():
        raise MissingFileError(f"{layout.config} not found: {layout.root} is not a run folder")
    config = fill_defaults(json.loads(layout.config.read_text()))
    pool_size = _pool_size(layout)
    rounds = None
    if pool_size is not None:
        protocol = config["protocol"]
        rounds = len(
            budget_schedule(
                pool_size, protocol["initial_fraction"], protocol["step_fraction"], protocol["final_fraction"]
            )
        )
    counts: dict[tuple[str, int], int] = {}
    for path in layout.strategy_records():
        parsed = layout.parse(path)
        assert parsed is not None  # strategy_records keeps only parsable paths
        key = (parsed.strategy, parsed.seed)
        counts[key] = counts.get(key, 0) + 1
    seeds = sorted(set(layout.shared_seeds()) | {s for _, s in counts})
    strategies = sorted({name for name, _ in counts})
    chains = pd.DataFrame(
        [[counts.get((name, seed), 0) for seed in seeds] for name in strategies],
        index=pd.Index(strategies, name="strategy"),
        columns=pd.Index([f"seed {s}" for s in seeds]),
    )
    shared_columns = ["round0"] + (["full"] if config["protocol"]["include_full"] else [])
    shared = pd.DataFrame(
        [[layout.shared(seed, which).is_file() for which in shared_columns] for seed in seeds],
        index=pd.Index(seeds, name="seed"),
        columns=shared_columns,
    )
    trainings, minutes_left = _plan_progress(layout)
    return RunStatus(layout.root, rounds, chains, shared, trainings, minutes_left)


def _plan_progress(layout: RunLayout) -> tuple[tuple[int, int] | None, float | None]:
    """(recorded, planned) trainings of the latest invocation's plan, and the minutes left at
    the recorded trainings' wall-clock seconds per iteration."""
    plan = read_plan(layout)
    if plan is None:
        return None, None
    seconds = cost_done = 0.0
    recorded = 0
    for entry in plan:
        record = read_record(entry.record)
        if record is None:
            continue
        recorded += 1
        cost_done += entry.cost
        seconds += sum(
            float(record.get(k) or 0.0) for k in ("train_seconds", "eval_seconds", "query_seconds")
        )
    remaining = sum(p.cost for p in plan) - cost_done
    minutes = seconds / cost_done * remaining / 60 if cost_done > 0 and seconds > 0 else None
    return (recorded, len(plan)), minutes
