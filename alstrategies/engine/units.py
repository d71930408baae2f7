"""Work units and the small protocol that executors schedule them through.

A run is split into units -- ``round0`` and ``full`` per seed, ``chain`` per (strategy, seed) --
that depend only on their seed's ``round0`` and talk to each other only through the run folder,
so an executor may run them in any order that respects that, in this process, in worker
processes or on a Ray cluster, with identical results.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import torch

from alstrategies.atomic import atomic_write_text
from alstrategies.engine.layout import RunLayout
from alstrategies.settings import Settings


@dataclass(frozen=True)
class WorkUnit:
    """One schedulable piece of a run: a seed's ``round0`` or ``full`` model, or a ``chain``.

    A chain (strategy, seed) needs the ``round0`` of its seed and network; ``full`` needs it
    too (for the warm start); ``round0`` needs nothing. ``network`` is empty when the run trains
    one network (``protocol.networks = "shared"``), else the network's heads.
    """

    kind: Literal["round0", "full", "chain"]
    seed: int
    strategy: str = ""
    network: str = ""

    @property
    def label(self) -> str:
        if self.kind == "chain":
            return f"{self.strategy} seed {self.seed}"
        return f"seed {self.seed} {self.kind}" + (f" ({self.network})" if self.network else "")

    def needs(self, other: WorkUnit) -> bool:
        """Whether this unit must wait for ``other`` (its seed's and network's round0)."""
        return (
            other.kind == "round0"
            and self.kind != "round0"
            and (other.seed, other.network) == (self.seed, self.network)
        )


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs to rebuild the experiment (picklable)."""

    settings: Settings
    out_dir: str
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    threads: int = 0


def run_units(seeds: list[int], networks: dict[str, str], include_full: bool) -> list[WorkUnit]:
    """Every unit of a run, in the order the in-process executor runs them: per seed and
    network its ``round0`` and ``full`` models, then the chains of the strategies that train
    that network (``networks``: strategy -> network, in run order)."""
    units: list[WorkUnit] = []
    for seed in seeds:
        for network in dict.fromkeys(networks.values()):
            units.append(WorkUnit("round0", seed, network=network))
            if include_full:
                units.append(WorkUnit("full", seed, network=network))
            units.extend(
                WorkUnit("chain", seed, name, network) for name, net in networks.items() if net == network
            )
    return units


@dataclass(frozen=True)
class PlannedTraining:
    """One training of a run: the record that marks it done, and its cost (its iterations)."""

    record: Path
    cost: float


def training_plan(
    layout: RunLayout,
    seeds: list[int],
    networks: dict[str, str],
    budget_counts: list[int],
    pool_size: int,
    include_full: bool,
    iterations: Callable[[int, str], int],
) -> list[PlannedTraining]:
    """Every training of a run: per seed and network the round-0 and 100 % models, and every
    chain's rounds after round 0 (round 0 is the shared model); ``iterations(n, stage)`` is the
    trainer's schedule for ``n`` labeled images at ``stage`` (``round0``, ``round``, ``full``)."""
    plan = []
    for seed in seeds:
        for network in dict.fromkeys(networks.values()):
            plan.append(
                PlannedTraining(
                    layout.shared(seed, "round0", network), iterations(budget_counts[0], "round0")
                )
            )
            if include_full:
                plan.append(
                    PlannedTraining(layout.shared(seed, "full", network), iterations(pool_size, "full"))
                )
        for name in networks:
            for r, count in enumerate(budget_counts[1:], start=1):
                plan.append(PlannedTraining(layout.strategy_round(name, seed, r), iterations(count, "round")))
    return plan


def write_plan(
    layout: RunLayout, plan: list[PlannedTraining], strategies: list[str], seeds: list[int], parallel: int = 1
) -> None:
    """``plan.json``: every training that any invocation on the folder planned (this one's
    added to those recorded before), so that ``status`` counts in the bar's units and knows
    what the folder still lacks when invocations select different strategies or seeds
    (selection keys, absent from ``config.json``); ``parallel`` is how many trainings this
    invocation's executor runs at once (for the time left)."""
    before = json.loads(layout.plan.read_text()) if layout.plan.is_file() else {}
    entries = [[p.record.relative_to(layout.root).as_posix(), p.cost] for p in plan]
    mine = {path for path, _ in entries}
    entries = [entry for entry in before.get("trainings", []) if entry[0] not in mine] + entries
    text = json.dumps(
        {
            "strategies": list(dict.fromkeys([*before.get("strategies", []), *strategies])),
            "seeds": sorted(set(before.get("seeds", [])) | set(seeds)),
            "parallel": parallel,
            "trainings": entries,
        },
        indent=0,
    )
    atomic_write_text(layout.plan, text)


def read_plan(layout: RunLayout) -> list[PlannedTraining] | None:
    """Every planned training (see :func:`write_plan`), or None when the folder has none (older
    runs)."""
    if not layout.plan.is_file():
        return None
    entries = json.loads(layout.plan.read_text())["trainings"]
    return [PlannedTraining(layout.root / path, float(cost)) for path, cost in entries]


def read_plan_parallel(layout: RunLayout) -> int:
    """The parallel trainings of the latest invocation's plan (1 for plans that do not say)."""
    if not layout.plan.is_file():
        return 1
    return int(json.loads(layout.plan.read_text()).get("parallel", 1))


class ProgressSink(Protocol):
    def set(self, done: int, label: str = "", cost: float | None = None) -> None: ...


class Schedulable(Protocol):
    """What an executor may use of a run: its units, how to run one here or rebuild it in a
    worker, how many trainings are recorded, and the device the driver resolved."""

    device: torch.device

    @property
    def progress_tracker(self) -> ProgressSink: ...

    @property
    def threads(self) -> int: ...

    def units(self) -> list[WorkUnit]: ...

    def run_unit(self, unit: WorkUnit) -> None: ...

    def worker_spec(self, threads: int = 0) -> WorkerSpec: ...

    def completed_trainings(self) -> int: ...

    def completed_work(self) -> tuple[int, float]: ...


class Executor(Protocol):
    """Runs the work units of a run (see ``alstrategies/executors``)."""

    def execute(self, run: Schedulable) -> None: ...
