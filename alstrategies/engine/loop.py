"""The active-learning rounds: seeds x strategies x rounds, resumable, one record per round.

For every seed the initial labeled set, the round-0 model and the 100 % model are shared by all
strategies. Each (strategy, seed) chain then alternates query -> annotate -> retrain until the
final budget; every round is written atomically as soon as it completes, and a re-run skips
what is already recorded. The folder, progress, units, targets and snapshots live in their own
modules (``run_folder``, ``progress``, ``units``, ``training.targets``, ``report.capture``);
this module is the round logic, read top to bottom.
"""

from __future__ import annotations

import logging
import sys
import time
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from alstrategies.config import check_strategy_heads, strategy_options
from alstrategies.data import load_dataset
from alstrategies.device import configure_threads, resolve_device
from alstrategies.engine.layout import RunLayout
from alstrategies.engine.progress import ProgressTracker, RecordedRates, RunLog
from alstrategies.engine.protocol import Budget, budget_schedule, derive_rng, derive_seed, initial_labeled_set
from alstrategies.engine.records import read_record, write_record, write_results
from alstrategies.engine.round_record import RoundRecord
from alstrategies.engine.run_folder import (
    check_round0_reproduced,
    claim_run_folder,
    load_checkpoint,
    save_checkpoint,
    weights_digest,
)
from alstrategies.engine.selection import default_strategies, network_of
from alstrategies.engine.units import (
    Executor,
    PlannedTraining,
    WorkerSpec,
    WorkUnit,
    run_units,
    training_plan,
)
from alstrategies.errors import RecordError
from alstrategies.registry import STRATEGIES
from alstrategies.report.capture import choose_snapshot_slices, snapshot_arrays
from alstrategies.settings import Settings
from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy
from alstrategies.training.round import RoundTrainer
from alstrategies.types import SegmentationData

__all__ = ["Experiment", "WorkUnit", "WorkerSpec"]

log = logging.getLogger("alstrategies")


class Experiment:
    """One run folder: a dataset, a model/training setup, strategies and seeds."""

    def __init__(
        self,
        settings: Settings | dict,
        out_dir: str | Path,
        strategies: list[str] | None = None,
        seeds: list[int] | None = None,
        progress: bool = True,
        data: SegmentationData | None = None,
    ) -> None:
        if not isinstance(settings, Settings):  # a validated config dict (load_config)
            settings = Settings.from_config(settings)
        self.settings = settings
        self.layout = RunLayout(out_dir)
        self.strategy_names = strategies or settings.strategies.names or default_strategies(settings)
        self.seeds = list(settings.protocol.seeds if seeds is None else seeds)
        self.progress = progress
        self.train_config = settings.train
        configure_threads(self.train_config.threads)
        self.device = resolve_device(self.train_config.device)
        if settings.protocol.networks == "shared":
            check_strategy_heads(self.strategy_names, settings.model.heads)
        #: strategy -> the network it trains: "" (the config's, shared by all) or its heads
        self.networks = {name: network_of(name, settings) for name in self.strategy_names}
        self.strategies: dict[str, QueryStrategy] = {
            name: STRATEGIES.get(name)(**strategy_options(settings, name)) for name in self.strategy_names
        }
        self.data = data if data is not None else load_dataset(settings.data_table())
        protocol = settings.protocol
        self.budgets: list[Budget] = budget_schedule(
            self.data.pool_size, protocol.initial_fraction, protocol.step_fraction, protocol.final_fraction
        )
        self.rounds = RoundTrainer(settings, self.data, self.device, progress)
        self.progress_tracker = ProgressTracker(
            self.total_trainings(),
            float(sum(p.cost for p in self.plan)),
            enabled=progress,
            rates=RecordedRates([p.record for p in self.plan]),
        )
        snapshots = settings.snapshots
        self.snapshot_seeds = set(snapshots.seeds)
        self.snapshot_slices = (
            choose_snapshot_slices(self.data.test_volumes, snapshots.slices) if snapshots.slices > 0 else None
        )
        self.run_log = RunLog(self.layout.log)

    @property
    def pool_images(self) -> torch.Tensor:
        return self.rounds.pool_images

    @property
    def threads(self) -> int:
        """``train.threads`` (0 = the executor decides)."""
        return self.train_config.threads

    @property
    def last_round(self) -> int:
        return len(self.budgets) - 1

    def claim_folder(self) -> None:
        """Write ``config.json`` and ``dataset.json`` (or check this run against them) and open
        ``run.log``; a folder without any recorded training is claimed anew, and says so."""
        reclaimed = claim_run_folder(self.layout, self.settings, self.data)
        self.open_log()
        if reclaimed:
            message = (
                f"run folder {self.layout.root} held no recorded training: claimed it anew for this config"
            )
            log.warning(message)
            if self.progress:
                print(message, file=sys.stderr)

    def open_log(self) -> None:
        self.run_log.open()

    def close_log(self) -> None:
        self.run_log.close()

    # -- the shared models of a seed -------------------------------------------------------
    def run_round0(self, seed: int, network: str = "") -> None:
        """Train, evaluate and checkpoint the round-0 model of ``seed`` (and ``network``), shared
        by its strategies, then make each of their first queries from it (round 0 of a chain).

        After this unit no other unit needs the round-0 weights unless training warm-starts
        from them, so a run folder resumes from its records alone: checkpoints need not travel
        between machines. A lost checkpoint that is still needed is retrained, and the new
        weights must match the recorded digest whenever anything already depends on them.
        """
        path = self.layout.shared(seed, "round0", network)
        checkpoint = self.layout.round0_checkpoint(seed, network)
        previous = read_record(path)
        strategies = self._strategies_of(network)
        pending = [n for n in strategies if not self.layout.strategy_round(n, seed, 0).is_file()]
        if previous is not None and not self._round0_weights_needed(seed, network, pending):
            return
        if previous is not None and checkpoint.is_file():
            model, record = self._load_round0(seed, network)
        else:
            labeled = initial_labeled_set(self.data.pool_size, self.budgets[0].count, seed)
            model, record = self.rounds.train_and_evaluate(seed, labeled, "round0", network=network)
            record.round, record.budget = 0, self.budgets[0].fraction
            record.weights_sha256 = weights_digest(model)
            if previous is not None:
                check_round0_reproduced(self.layout, seed, previous, record, self.train_config.warm_start)
            save_checkpoint(model.state_dict(), checkpoint)
            write_record(path, record.to_dict())
            if previous is None:
                self.progress_tracker.advance(f"seed {seed} round 0", record.iterations or 0)
        for name in pending:
            self._complete_round(name, self.budgets[0], model, record, record.labeled)

    def _strategies_of(self, network: str) -> list[str]:
        return [name for name in self.strategy_names if self.networks[name] == network]

    def _round0_weights_needed(self, seed: int, network: str, pending: list[str]) -> bool:
        """Whether a unit still needs the round-0 weights of ``seed``: a strategy's first query
        is missing, or (with ``train.warm_start``) the 100 % model or a chain's round 1 is."""
        if pending:
            return True
        if not self.train_config.warm_start:
            return False
        if self.settings.protocol.include_full and not self.layout.shared(seed, "full", network).is_file():
            return True
        return len(self.budgets) > 1 and any(
            not self.layout.strategy_round(n, seed, 1).is_file() for n in self._strategies_of(network)
        )

    def _load_round0(self, seed: int, network: str = "") -> tuple[torch.nn.Module, RoundRecord]:
        """The round-0 model and record of ``seed``, always read back from the run folder, so
        that every executor queries the very same weights."""
        record = read_record(self.layout.shared(seed, "round0", network))
        checkpoint = self.layout.round0_checkpoint(seed, network)
        if record is None or not checkpoint.is_file():
            raise RecordError(
                f"seed {seed}: the round-0 model ({checkpoint}) is missing; run its round0 unit first"
            )
        model = self.rounds.new_model(seed, network).to(self.device)
        model.load_state_dict(load_checkpoint(checkpoint, self.device))
        return model, RoundRecord.from_dict(record)

    def run_full(self, seed: int, network: str = "") -> None:
        """Train and evaluate the 100 % model of ``seed`` (and ``network``), shared by its
        strategies."""
        path = self.layout.shared(seed, "full", network)
        if read_record(path) is not None:
            return
        everything = np.arange(self.data.pool_size)
        init = self._warm_start_state("", seed, 0, network) if self.train_config.full_warm_start else None
        _, record = self.rounds.train_and_evaluate(seed, everything, "full", init=init, network=network)
        record.round, record.budget = len(self.budgets), 1.0
        write_record(path, record.to_dict())
        self.progress_tracker.advance(
            f"seed {seed} full" + (f" ({network})" if network else ""), record.iterations or 0
        )

    # -- a strategy's chain ----------------------------------------------------------------
    def run_chain(self, name: str, seed: int) -> None:
        """Query, annotate and retrain strategy ``name`` from its seed's round 0 to the last
        budget, skipping the rounds already recorded."""
        if self.layout.strategy_round(name, seed, self.last_round).is_file():
            return
        labeled = np.zeros(0, dtype=np.int64)
        network = self.networks[name]
        for budget in self.budgets:
            r = budget.round
            done = read_record(self.layout.strategy_round(name, seed, r))
            if done is not None:
                labeled = RoundRecord.from_dict(done).next_labeled()
                continue
            if r == 0:  # normally done by the round0 unit; here when that ran without this strategy
                model, record = self._load_round0(seed, network)
                labeled = record.labeled
            else:
                if len(labeled) != budget.count:
                    raise RecordError(
                        f"{name} seed {seed} round {r}: {len(labeled)} labeled, expected {budget.count}; "
                        f"delete strategies/{name}/seed{seed}/ to redo the chain"
                    )
                init = self._warm_start_state(name, seed, r - 1, network)
                model, record = self.rounds.train_and_evaluate(
                    seed, labeled, f"{name} round{r}", init=init, network=network
                )
                if (
                    self.train_config.warm_start and r < self.last_round
                ) or self.settings.snapshots.checkpoints:
                    save_checkpoint(model.state_dict(), self.layout.round_checkpoint(name, seed, r))
            labeled = self._complete_round(name, budget, model, record, labeled)
            if self.train_config.warm_start and r > 1 and not self.settings.snapshots.checkpoints:
                self.layout.round_checkpoint(name, seed, r - 1).unlink(missing_ok=True)
            if r > 0:
                self.progress_tracker.advance(f"{name} seed {seed} round {r}", record.iterations or 0)

    def _complete_round(
        self, name: str, budget: Budget, model: torch.nn.Module, trained: RoundRecord, labeled: np.ndarray
    ) -> np.ndarray:
        """Query with the round's trained model (unless it is the last round), write the
        round's record, snapshot and ``results.csv``; return the next labeled set."""
        record = trained.for_chain(name, budget.round, budget.fraction, labeled)
        record.network = self.networks[name] or None
        result = None
        if budget.round < self.last_round:
            k = self.budgets[budget.round + 1].count - budget.count
            result, record.query_seconds = self._query(name, model, record.seed, budget.round, labeled, k)
            record.queried = np.sort(result.indices)
            if result.scores is not None and result.candidates is not None:
                record.scores = {"candidates": result.candidates, "score": result.scores, **result.details}
                record.scores["error"] = self.rounds.pool_error(model, result.candidates)
        if record.seed in self.snapshot_seeds and self.snapshot_slices is not None:
            self._write_snapshot(name, record.seed, budget.round, model, result)
        write_record(self.layout.strategy_round(name, record.seed, budget.round), record.to_dict())
        self.results()
        return record.next_labeled()

    def _query(
        self, name: str, model: torch.nn.Module, seed: int, round_index: int, labeled: np.ndarray, k: int
    ) -> tuple[QueryResult, float]:
        """Strategy ``name``'s query of ``k`` images with its seeded generator; (result, seconds)."""
        context = QueryContext(
            model=model,
            pool_images=self.pool_images,
            labeled=labeled,
            unlabeled=np.setdiff1d(np.arange(self.data.pool_size), labeled),
            num_classes=self.data.num_classes,
            device=self.device,
            batch_size=self.settings.query.batch_size,
            amp=self.settings.query.amp,
            pool_labels=self.rounds.targets.labels,
            pool_groups=self.data.pool_groups,
            pool_positions=self.data.pool_positions,
            pool_depths=self.data.pool_depths,
            round_index=round_index,
            last_round=self.last_round,
        )
        torch.manual_seed(derive_seed(seed, round_index, name))
        start = time.perf_counter()
        result = self.strategies[name].query(context, k, derive_rng(seed, round_index, name))
        return result, time.perf_counter() - start

    def _write_snapshot(
        self, name: str, seed: int, round_index: int, model: torch.nn.Module, query: QueryResult | None
    ) -> None:
        """Predictions on the fixed snapshot slices, plus what the strategy adds of its query
        (:meth:`QueryStrategy.snapshot_extras`), for the report's qualitative figures."""
        from alstrategies.report.snapshots import save_snapshot

        arrays = snapshot_arrays(model, self.data.test_volumes, self.snapshot_slices or [], self.device)
        if query is not None:
            arrays.update(self.strategies[name].snapshot_extras(self.pool_images, query))
        save_snapshot(self.layout.snapshot(name, seed, round_index), **arrays)

    def _warm_start_state(self, name: str, seed: int, previous_round: int, network: str = "") -> dict | None:
        """With ``train.warm_start``, the weights of the chain's previous round (round 0 is
        the shared model); None (fresh seeded initialisation) otherwise."""
        if not self.train_config.warm_start:
            return None
        path = (
            self.layout.round0_checkpoint(seed, network)
            if previous_round == 0
            else self.layout.round_checkpoint(name, seed, previous_round)
        )
        if not path.is_file():
            raise RecordError(
                f"warm start needs {path}, which is missing; delete the chain's records to redo it"
            )
        return load_checkpoint(path, self.device)

    # -- scheduling ------------------------------------------------------------------------
    @cached_property
    def plan(self) -> list[PlannedTraining]:
        """Every training of this run with its cost, for counting and the time estimate."""
        return training_plan(
            self.layout,
            self.seeds,
            self.networks,
            [b.count for b in self.budgets],
            self.data.pool_size,
            self.settings.protocol.include_full,
            self.train_config.num_iterations,
        )

    def total_trainings(self) -> int:
        return len(self.plan)

    def completed_trainings(self) -> int:
        """Trainings of this run's seeds and strategies already recorded in the folder."""
        return self.completed_work()[0]

    def completed_work(self) -> tuple[int, float]:
        """(trainings recorded, their cost) of this run's plan."""
        done = [p for p in self.plan if p.record.is_file()]
        return len(done), float(sum(p.cost for p in done))

    def units(self) -> list[WorkUnit]:
        """Every unit of the run, in the order the in-process executor runs them."""
        return run_units(self.seeds, self.networks, self.settings.protocol.include_full)

    def run_unit(self, unit: WorkUnit) -> None:
        if unit.kind == "round0":
            self.run_round0(unit.seed, unit.network)
        elif unit.kind == "full":
            self.run_full(unit.seed, unit.network)
        else:
            self.run_chain(unit.strategy, unit.seed)

    def worker_spec(self, threads: int = 0) -> WorkerSpec:
        return WorkerSpec(
            settings=self.settings,
            out_dir=str(self.layout.root.resolve()),
            strategies=tuple(self.strategy_names),
            seeds=tuple(self.seeds),
            threads=threads,
        )

    def results(self):
        """Write and return ``results.csv`` from the records in the folder."""
        return write_results(self.layout, self.data.class_names, self.settings.protocol.include_full)

    def run(self, executor: Executor | None = None):
        """Run (or resume) every unit, here or with ``executor``; returns the results table
        (:func:`alstrategies.engine.invocation.run_invocation`)."""
        from alstrategies.engine.invocation import run_invocation

        return run_invocation(self, executor)
