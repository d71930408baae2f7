"""Work units and the small protocol that executors schedule them through.

A run is split into units -- ``round0`` and ``full`` per seed, ``chain`` per (strategy, seed) --
that depend only on their seed's ``round0`` and talk to each other only through the run folder,
so an executor may run them in any order that respects that, in this process, in worker
processes or on a Ray cluster, with identical results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import torch

from alstrategies.layout import RunLayout


@dataclass(frozen=True)
class WorkUnit:
    """One schedulable piece of a run: a seed's ``round0`` or ``full`` model, or a ``chain``.

    A chain (strategy, seed) needs its seed's ``round0``; ``full`` needs it too (for the warm
    start); ``round0`` needs nothing.
    """

    kind: Literal["round0", "full", "chain"]
    seed: int
    strategy: str = ""

    @property
    def label(self) -> str:
        return (
            f"{self.strategy} seed {self.seed}" if self.kind == "chain" else f"seed {self.seed} {self.kind}"
        )


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs to rebuild the experiment (picklable)."""

    config: dict
    out_dir: str
    strategies: tuple[str, ...]
    seeds: tuple[int, ...]
    threads: int = 0


def run_units(seeds: list[int], strategies: list[str], include_full: bool) -> list[WorkUnit]:
    """Every unit of a run, in the order the in-process executor runs them: per seed its
    ``round0``, its ``full`` model, then one chain per strategy."""
    units: list[WorkUnit] = []
    for seed in seeds:
        units.append(WorkUnit("round0", seed))
        if include_full:
            units.append(WorkUnit("full", seed))
        units.extend(WorkUnit("chain", seed, name) for name in strategies)
    return units


def count_trainings(seeds: list[int], strategies: list[str], rounds: int, include_full: bool) -> int:
    """Trainings of a whole run: per seed the round-0 model, the 100 % model and every chain's
    rounds after round 0 (round 0 is the shared model)."""
    return (1 + int(include_full) + len(strategies) * (rounds - 1)) * len(seeds)


def recorded_trainings(
    layout: RunLayout, seeds: list[int], strategies: list[str], rounds: int, include_full: bool
) -> int:
    """How many of those trainings the run folder already records."""
    done = 0
    for seed in seeds:
        done += layout.shared(seed, "round0").is_file()
        if include_full:
            done += layout.shared(seed, "full").is_file()
        for name in strategies:
            done += sum(layout.strategy_round(name, seed, r).is_file() for r in range(1, rounds))
    return done


class ProgressSink(Protocol):
    def set(self, done: int, label: str = "") -> None: ...


class Schedulable(Protocol):
    """What an executor may use of a run: its units, how to run one here or rebuild it in a
    worker, how many trainings are recorded, and the device the driver resolved."""

    device: torch.device
    progress_tracker: ProgressSink

    @property
    def threads(self) -> int: ...

    def units(self) -> list[WorkUnit]: ...

    def run_unit(self, unit: WorkUnit) -> None: ...

    def worker_spec(self, threads: int = 0) -> WorkerSpec: ...

    def completed_trainings(self) -> int: ...


class Executor(Protocol):
    """Runs the work units of a run (see ``benchmarks/executors``)."""

    def execute(self, run: Schedulable) -> None: ...
