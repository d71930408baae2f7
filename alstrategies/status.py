"""How far a run folder is: the rounds recorded per (strategy, seed), from the folder alone.

``alstrategies status DIR`` prints it; useful to see what a resumed run still has to do, e.g.
between the short GPU windows that advance one run. On an ablation grid folder (``grid.json``)
it reads each variant's folder in turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from alstrategies.config import fill_defaults
from alstrategies.engine.layout import GridLayout, RunLayout
from alstrategies.engine.progress import WorkRates
from alstrategies.engine.protocol import budget_schedule
from alstrategies.engine.records import read_record
from alstrategies.engine.run_log import invocation_minutes
from alstrategies.engine.units import read_plan, read_plan_parallel
from alstrategies.errors import MissingFileError


@dataclass
class RunStatus:
    """Rounds done per chain, and the shared models per seed, of one run folder."""

    root: Path
    rounds: int | None  # rounds per chain (None when dataset.json is missing)
    chains: pd.DataFrame  # strategy x seed -> rounds recorded
    shared: pd.DataFrame  # seed -> round0 / full recorded (bool)
    trainings: tuple[int, int] | None = None  # (recorded, planned) in the progress bar's units
    minutes_left: float | None = None  # at the recorded seconds per iteration and per training
    invocations: list[float] | None = None  # wall-clock minutes of each invocation in run.log
    report_incomplete: bool = False  # a report was interrupted while it was written

    @property
    def complete(self) -> bool:
        """Every planned training is recorded (``plan.json``, when the folder has one), every
        chain begun has all its rounds, and every seed its shared models. A chain that no
        invocation asked for (a strategy run with fewer seeds) is not missing. A report that was
        interrupted while it was written leaves the folder incomplete."""
        if self.rounds is None or self.chains.empty or self.report_incomplete:
            return False
        if self.trainings is not None and self.trainings[0] < self.trainings[1]:
            return False
        counts = self.chains.to_numpy()
        begun = counts[counts > 0]
        return bool((begun == self.rounds).all() and self.shared.to_numpy().all())

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
            table = (self.chains.astype(str) + "/" + expected).where(self.chains > 0, "-")
            lines += ["", table.to_string()]
        done = int(self.chains.to_numpy().sum()) if not self.chains.empty else 0
        if self.trainings is not None:
            recorded, planned = self.trainings
            left = "" if self.minutes_left is None else f", about {self.minutes_left:.1f} min left"
            lines.append(f"\ntrainings recorded: {recorded} of {planned} (all invocations' plans){left}")
        elif self.rounds is not None and not self.chains.empty:
            total = self.chains.size * self.rounds
            lines.append(f"\nchain rounds recorded: {done} of {total} for the chains seen")
        if self.invocations:
            count = len(self.invocations)
            lines.append(
                f"wall time in run.log: {sum(self.invocations):.1f} min over {count} "
                f"invocation{'s' if count != 1 else ''}"
            )
        if self.report_incomplete:
            lines.append(
                f"report: incomplete (interrupted while it was written): alstrategies report {self.root}"
            )
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
    kinds = ["round0"] + (["full"] if config["protocol"]["include_full"] else [])
    networks = _shared_networks(layout)
    columns = [(kind, network) for network in networks for kind in kinds]
    shared = pd.DataFrame(
        [[layout.shared(seed, kind, network).is_file() for kind, network in columns] for seed in seeds],
        index=pd.Index(seeds, name="seed"),
        columns=[f"{kind} ({network})" if network else kind for kind, network in columns],
    )
    trainings, minutes_left = _plan_progress(layout)
    invocations = invocation_minutes(layout.log) if layout.log.is_file() else None
    return RunStatus(
        layout.root,
        rounds,
        chains,
        shared,
        trainings,
        minutes_left,
        invocations,
        report_incomplete=layout.report_incomplete.is_file(),
    )


def _shared_networks(layout: RunLayout) -> list[str]:
    """The networks whose shared models any seed has (``[""]`` for a one-network run)."""
    found = set()
    for path in layout.shared_files():
        key = layout.parse(path)
        if key is not None:
            found.add(key.network)
    return sorted(found) or [""]


def _plan_progress(layout: RunLayout) -> tuple[tuple[int, int] | None, float | None]:
    """(recorded, planned) trainings of the folder's plan, and the minutes left: the planned
    iterations and trainings still to do at the recorded seconds per iteration and per training
    (query and evaluation), divided among the latest invocation's parallel workers."""
    plan = read_plan(layout)
    if plan is None:
        return None, None
    rates = WorkRates()
    left_cost = 0.0
    left = 0
    for entry in plan:
        record = read_record(entry.record)
        if record is None:
            left_cost += entry.cost
            left += 1
        else:
            rates.add(record)
    work = rates.seconds(left_cost, left)
    parallel = max(1, read_plan_parallel(layout))
    minutes = work / 60 / parallel if work is not None else None
    return (rates.trainings, len(plan)), minutes


def folder_status_text(folder: str | Path) -> tuple[str, bool]:
    """``(text, complete)`` of a run folder, or of an ablation grid folder: each variant's
    status in turn; a variant reused from another run (``folders`` in grid.json) counts by that
    run's 100 % models only, and the grid is complete when every variant is."""
    from alstrategies.report.ablation import variant_folders

    folder = Path(folder)
    grid = GridLayout(folder)
    if not grid.manifest.is_file():
        status = run_status(folder)
        return status.text(), status.complete
    folders = variant_folders(folder)
    lines = [f"{folder}: ablation grid of {len(folders)} variants ({', '.join(folders)})"]
    complete = True
    for variant, path in folders.items():
        if not RunLayout(path).config.is_file():
            lines.append(f"\nvariant {variant}: no run folder yet")
            complete = False
            continue
        status = run_status(path)
        if path == grid.variant(variant):
            lines.append(f"\nvariant {variant}: {status.text()}")
            complete = complete and status.complete
            continue
        full = status.shared[[c for c in status.shared.columns if c.startswith("full")]]
        marks = full.apply(lambda column: column.map({True: "done", False: "missing"}))
        lines.append(f"\nvariant {variant}: the 100 % models of {path} (reused)\n{marks.to_string()}")
        complete = complete and not full.empty and bool(full.to_numpy().all())
    return "\n".join(lines), complete
