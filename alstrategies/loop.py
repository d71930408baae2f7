"""The active-learning protocol: seeds x strategies x rounds, resumable, one record per round.

For every seed the initial labeled set, the round-0 model and the 100 % model are shared by all
strategies. Each (strategy, seed) chain then alternates query -> annotate -> retrain until the
final budget; every round is written atomically as soon as it completes, and a re-run skips
what is already recorded.

The work is split into :class:`WorkUnit` s -- ``round0`` and ``full`` per seed, ``chain`` per
(strategy, seed) -- that depend only on their seed's ``round0`` and talk to each other only
through the run folder, so an executor may run them in any order that respects that, in this
process, in worker processes (:func:`run_unit`) or on a Ray cluster, with identical results.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from alstrategies.atomic import atomic_stream, atomic_write_text
from alstrategies.config import ConfigError, differences, fill_defaults, fingerprint, strategy_options
from alstrategies.data import load_dataset
from alstrategies.device import configure_threads, resolve_device
from alstrategies.evaluation import evaluate
from alstrategies.models import build_criterion, build_model
from alstrategies.protocol import Budget, budget_schedule, derive_rng, derive_seed, initial_labeled_set
from alstrategies.records import RunLayout, read_record, write_record, write_results
from alstrategies.registry import STRATEGIES
from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy
from alstrategies.training.trainer import TrainConfig, Trainer
from alstrategies.types import SegmentationData, Volume

log = logging.getLogger("alstrategies")


class RunFolderMismatch(RuntimeError):
    """The run folder was started with a different config."""


@dataclass
class TrainedRound:
    model: torch.nn.Module
    record: dict


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


class Executor(Protocol):
    """Runs the work units of an experiment (see ``benchmarks/executors``)."""

    def execute(self, experiment: Experiment) -> None: ...


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


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of a model's state dict (names, dtypes and bytes), to tell whether two trainings
    produced the very same weights."""
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        tensor = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{key}:{tensor.dtype}:".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _atomic_torch_save(obj: object, path: Path) -> None:
    with atomic_stream(path) as stream:
        torch.save(obj, stream)


class TargetCache:
    """Training targets per pool image, computed once: labels, and distance maps on demand."""

    def __init__(self, labels: torch.Tensor, num_classes: int) -> None:
        self.labels = labels
        self.num_classes = num_classes
        self._distance: torch.Tensor | None = None
        self._have = torch.zeros(labels.shape[0], dtype=torch.bool)

    def targets(self, indices: np.ndarray, need_distance: bool) -> dict[str, torch.Tensor]:
        rows = torch.as_tensor(indices, device=self.labels.device)
        out = {"labels": self.labels[rows]}
        if need_distance:
            out["distance"] = self.distance(indices)
        return out

    def distance(self, indices: np.ndarray) -> torch.Tensor:
        from alstrategies.sbcal.scores import distance_maps

        if self._distance is None:
            n, h, w = self.labels.shape
            self._distance = torch.zeros(
                (n, self.num_classes - 1, h, w), dtype=torch.float32, device=self.labels.device
            )
        indices = np.asarray(indices, dtype=np.int64)
        missing = indices[~self._have[torch.as_tensor(indices)].numpy()]
        if missing.size:
            maps = distance_maps(
                self.labels[torch.as_tensor(missing, device=self.labels.device)], self.num_classes
            )
            self._distance[torch.as_tensor(missing, device=self.labels.device)] = maps.float()
            self._have[torch.as_tensor(missing)] = True
        return self._distance[torch.as_tensor(indices, device=self.labels.device)]


class Experiment:
    """One run folder: a dataset, a model/training setup, strategies and seeds."""

    def __init__(
        self,
        config: dict,
        out_dir: str | Path,
        strategies: list[str] | None = None,
        seeds: list[int] | None = None,
        progress: bool = True,
        data: SegmentationData | None = None,
    ) -> None:
        self.config = config
        self.layout = RunLayout(out_dir)
        self.strategy_names = strategies or config["strategies"]["names"] or STRATEGIES.names()
        self.seeds = list(config["protocol"]["seeds"] if seeds is None else seeds)
        self.progress = progress
        self.train_config = TrainConfig.from_dict(config["train"])
        configure_threads(self.train_config.threads)
        self.device = resolve_device(self.train_config.device)
        for name in self.strategy_names:
            needs = getattr(STRATEGIES.get(name), "required_heads", None)
            if needs and needs != config["model"]["heads"]:
                raise ConfigError(
                    f"strategy {name!r} needs model.heads = {needs!r}, but the config has "
                    f"{config['model']['heads']!r}; set --set model.heads={needs} or drop {name}"
                )
        self.strategies: dict[str, QueryStrategy] = {
            name: STRATEGIES.get(name)(**strategy_options(config, name)) for name in self.strategy_names
        }
        self.data = data if data is not None else load_dataset(config["data"])
        protocol = config["protocol"]
        self.budgets: list[Budget] = budget_schedule(
            self.data.pool_size,
            protocol["initial_fraction"],
            protocol["step_fraction"],
            protocol["final_fraction"],
        )
        self.trainer = Trainer(self.train_config, self.device)
        self.criterion = build_criterion(config["model"], config["loss"])
        with warnings.catch_warnings():  # a memory-mapped cache is read-only; the pool is never written
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            self.pool_images = torch.from_numpy(self.data.pool_images).to(self.device)
        labels = torch.from_numpy(self.data.pool_labels.astype(np.int64)).to(self.device)
        self.targets = TargetCache(labels, self.data.num_classes)
        self.progress_tracker = ProgressTracker(self.total_trainings(), enabled=progress)
        snapshots = config.get("snapshots", {})
        self.keep_checkpoints = bool(snapshots.get("checkpoints", False))
        self.snapshot_seeds = set(snapshots.get("seeds", [0]))
        self.snapshot_slices = (
            choose_snapshot_slices(self.data.test_volumes, snapshots["slices"])
            if snapshots.get("slices", 0) > 0
            else None
        )
        self._log_handler: logging.Handler | None = None

    # -- run folder ------------------------------------------------------------------------
    def claim_folder(self) -> None:
        """Write ``config.json`` and ``dataset.json`` (or check this run against them) and open
        ``run.log``."""
        self.layout.root.mkdir(parents=True, exist_ok=True)
        self._claim(
            self.layout.config,
            fingerprint(self.config),
            fill_defaults,
            "with a different config",
            "use another --out folder, or restore those values to resume",
        )
        self._claim(  # what the data are, not where: a copy elsewhere resumes, other data do not
            self.layout.root / "dataset.json",
            dataset_identity(self.data),
            lambda recorded: recorded,
            "on other data",
            "point --data at the dataset this folder was started with, or use another --out folder",
        )
        self.open_log()

    def _claim(self, path: Path, current: dict, recorded_as, started: str, fix: str) -> None:
        """Write ``current`` to ``path``, or refuse the folder when ``recorded_as`` of the file
        there differs from it (the message lists the differing keys and says ``fix``)."""
        if not path.is_file():
            atomic_write_text(path, json.dumps(current, indent=1, sort_keys=True))
            return
        diff = differences(recorded_as(json.loads(path.read_text())), current)
        if diff:
            raise RunFolderMismatch(
                f"run folder {self.layout.root} was started {started}:\n  " + "\n  ".join(diff) + f"\n{fix}"
            )

    def open_log(self) -> None:
        """Append this process's log lines to the run folder's ``run.log``."""
        if self._log_handler is not None:
            return
        handler = logging.FileHandler(self.layout.log)
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s [{os.getpid()}] %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        self._log_handler = handler

    def close_log(self) -> None:
        if self._log_handler is not None:
            log.removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    # -- building blocks -------------------------------------------------------------------
    def _new_model(self, seed: int) -> torch.nn.Module:
        return build_model(
            self.config["model"], self.data.num_classes, self.data.pool_images.shape[1], seed=seed
        )

    def _train_and_evaluate(
        self, seed: int, labeled: np.ndarray, label: str, init: dict | None = None
    ) -> TrainedRound:
        model = self._new_model(seed)
        if init is not None:
            model.load_state_dict(init)
        images = self.pool_images[torch.as_tensor(labeled, device=self.device)]
        targets = self.targets.targets(labeled, self.criterion.needs_distance)
        full = label == "full"
        iterations = self.train_config.num_iterations(len(labeled), full)
        bar = tqdm(
            total=iterations, desc=f"  train {label}", leave=False, disable=not self.progress, unit="it"
        )
        stats = self.trainer.fit(
            model,
            images,
            targets,
            self.criterion,
            derive_seed(seed, label.split()[-1]),
            progress=bar,
            full=full,
        )
        bar.close()
        start = time.perf_counter()
        result = evaluate(
            model,
            self.data.test_volumes,
            self.data.num_classes,
            self.device,
            self.train_config.eval_batch_size,
            amp=False,  # measured predictions in full precision; bf16 is for training speed only
        )
        record = {
            "seed": seed,
            "n_labeled": len(labeled),
            "fraction": len(labeled) / self.data.pool_size,
            "dice": result.dice,
            "hd95": result.hd95,
            "dice_per_class": result.dice_per_class,
            "hd95_per_class": result.hd95_per_class,
            "dice_per_volume": result.dice_per_volume,
            "torch_threads": torch.get_num_threads(),
            "train_seconds": stats.seconds,
            "eval_seconds": time.perf_counter() - start,
            "iterations": stats.iterations,
            "loss_history": stats.loss_history,
            "labeled": np.sort(labeled),
        }
        log.info(
            "%s seed %d: %d labeled, dice %.4f, %.1fs", label, seed, len(labeled), result.dice, stats.seconds
        )
        return TrainedRound(model, record)

    def _advance(self, label: str) -> None:
        self.progress_tracker.advance(label)

    def _round0_labeled(self, seed: int) -> np.ndarray:
        return initial_labeled_set(self.data.pool_size, self.budgets[0].count, seed)

    def run_round0(self, seed: int) -> None:
        """Train, evaluate and checkpoint the round-0 model of ``seed`` (shared by all strategies),
        then make every strategy's first query from it (round 0 of each chain).

        After this unit no other unit needs the round-0 weights unless training warm-starts
        from them, so a run folder resumes from its records alone: checkpoints need not travel
        between machines. A lost checkpoint that is still needed is retrained, and the new
        weights must match the recorded digest whenever anything already depends on them.
        """
        path = self.layout.shared(seed, "round0")
        checkpoint = self.layout.checkpoint("seed", seed, "round0")
        record = read_record(path)
        pending = [n for n in self.strategy_names if not self.layout.strategy_round(n, seed, 0).is_file()]
        if record is not None and not self._round0_weights_needed(seed, pending):
            return
        if record is not None and checkpoint.is_file():
            trained = self._load_round0(seed)
        else:
            trained = self._train_and_evaluate(seed, self._round0_labeled(seed), "round0")
            trained.record.update(round=0, budget=self.budgets[0].fraction)
            trained.record["weights_sha256"] = weights_digest(trained.model)
            if record is not None:
                self._check_round0_reproduced(seed, record, trained.record)
            _atomic_torch_save(trained.model.state_dict(), checkpoint)
            write_record(path, trained.record)
            if record is None:
                self._advance(f"seed {seed} round 0")
        labeled = np.asarray(trained.record["labeled"], dtype=np.int64)
        for name in pending:
            self._complete_round(name, seed, self.budgets[0], trained, labeled)

    def _round0_weights_needed(self, seed: int, pending: list[str]) -> bool:
        """Whether a unit still needs the round-0 weights of ``seed``: a strategy's first query
        is missing, or (with ``train.warm_start``) the 100 % model or a chain's round 1 is."""
        if pending:
            return True
        if not self.train_config.warm_start:
            return False
        if self.config["protocol"]["include_full"] and not self.layout.shared(seed, "full").is_file():
            return True
        return len(self.budgets) > 1 and any(
            not self.layout.strategy_round(n, seed, 1).is_file() for n in self.strategy_names
        )

    def _check_round0_reproduced(self, seed: int, previous: dict, retrained: dict) -> None:
        """A retrained round-0 model (its checkpoint was lost) must equal the recorded one when
        records already depend on it; GPU training is not bit-reproducible, so it may not."""
        if "weights_sha256" in previous:
            same = previous["weights_sha256"] == retrained["weights_sha256"]
        else:  # records written before the digest existed
            same = previous["dice"] == retrained["dice"] and previous.get("loss_history") == [
                float(v) for v in retrained["loss_history"]
            ]
        if same:
            log.info("seed %d: the round-0 checkpoint was missing; retrained it identically", seed)
            return
        dependants = sorted(
            p.parent.parent.name for p in (self.layout.root / "strategies").glob(f"*/seed{seed}/round0.json")
        )
        if self.train_config.warm_start and self.layout.shared(seed, "full").is_file():
            dependants.append("the 100 % model (warm start)")
        if dependants:
            raise RuntimeError(
                f"seed {seed}: the round-0 checkpoint {self.layout.checkpoint('seed', seed, 'round0')} "
                "is missing and retraining gave different weights (training on a GPU is not "
                f"bit-reproducible), but {', '.join(dependants)} already started from the old ones. "
                "Restore that checkpoint, or delete this seed's records "
                f"(shared/seed{seed}/ and strategies/*/seed{seed}/) to redo the seed"
            )
        log.warning("seed %d: round-0 model retrained with different weights; nothing depended on it", seed)

    def _load_round0(self, seed: int) -> TrainedRound:
        """The round-0 model and record of ``seed``, always read back from the run folder, so
        that every executor queries the very same weights."""
        record = read_record(self.layout.shared(seed, "round0"))
        checkpoint = self.layout.checkpoint("seed", seed, "round0")
        if record is None or not checkpoint.is_file():
            raise RuntimeError(
                f"seed {seed}: the round-0 model ({checkpoint}) is missing; run its round0 unit first"
            )
        model = self._new_model(seed).to(self.device)
        model.load_state_dict(torch.load(checkpoint, map_location=self.device, weights_only=True))
        return TrainedRound(model, record)

    def run_full(self, seed: int) -> None:
        """Train and evaluate the 100 % model of ``seed`` (shared by all strategies)."""
        path = self.layout.shared(seed, "full")
        if read_record(path) is not None:
            return
        everything = np.arange(self.data.pool_size)
        trained = self._train_and_evaluate(seed, everything, "full", init=self._warm_start_state("", seed, 0))
        trained.record.update(round=len(self.budgets), budget=1.0)
        write_record(path, trained.record)
        self._advance(f"seed {seed} full")

    def _query(
        self,
        strategy: QueryStrategy,
        name: str,
        model: torch.nn.Module,
        seed: int,
        round_index: int,
        labeled: np.ndarray,
        k: int,
    ) -> tuple[dict, float, QueryResult]:
        unlabeled = np.setdiff1d(np.arange(self.data.pool_size), labeled)
        context = QueryContext(
            model=model,
            pool_images=self.pool_images,
            labeled=labeled,
            unlabeled=unlabeled,
            num_classes=self.data.num_classes,
            device=self.device,
            batch_size=self.config["query"]["batch_size"],
            amp=self.config["query"]["amp"],
        )
        torch.manual_seed(derive_seed(seed, round_index, name))
        start = time.perf_counter()
        result = strategy.query(context, k, derive_rng(seed, round_index, name))
        seconds = time.perf_counter() - start
        out = {"queried": np.sort(result.indices)}
        if result.scores is not None:
            out["scores"] = {
                "candidates": result.candidates,
                "score": result.scores,
                **{key: value for key, value in result.details.items()},
            }
        return out, seconds, result

    def _write_snapshot(
        self, name: str, seed: int, round_index: int, model: torch.nn.Module, query: QueryResult | None
    ) -> None:
        """Predictions on the fixed snapshot slices (and for SBC-AL its SFP output and the pool
        images of highest and lowest CS) for the report's qualitative figures."""
        from alstrategies.report.snapshots import save_snapshot

        arrays = snapshot_arrays(model, self.data.test_volumes, self.snapshot_slices, self.device)
        if name == "sbc_al" and query is not None and query.scores is not None:
            order = np.argsort(-query.scores, kind="stable")
            count = min(4, len(order))
            for which, rows in (("high", order[:count]), ("low", order[::-1][:count])):
                pool_rows = torch.as_tensor(query.candidates[rows], device=self.device)
                arrays[f"cs_{which}_images"] = self.pool_images[pool_rows, 0].float().cpu().numpy()
                arrays[f"cs_{which}_scores"] = query.scores[rows].astype(np.float64)
        save_snapshot(self.layout.snapshot(name, seed, round_index), **arrays)

    def run_chain(self, name: str, seed: int) -> None:
        """Query, annotate and retrain strategy ``name`` from its seed's round 0 to the last
        budget, skipping the rounds already recorded."""
        last = len(self.budgets) - 1
        if read_record(self.layout.strategy_round(name, seed, last)) is not None:
            return
        labeled = np.zeros(0, dtype=np.int64)
        for budget in self.budgets:
            r = budget.round
            done = read_record(self.layout.strategy_round(name, seed, r))
            if done is not None:
                labeled = np.union1d(
                    np.asarray(done["labeled"], dtype=np.int64), np.asarray(done["queried"], dtype=np.int64)
                )
                continue
            if r == 0:  # normally done by the round0 unit; here when that ran without this strategy
                trained = self._load_round0(seed)
                labeled = np.asarray(trained.record["labeled"], dtype=np.int64)
            else:
                if len(labeled) != budget.count:
                    raise RuntimeError(
                        f"{name} seed {seed} round {r}: {len(labeled)} labeled, expected {budget.count}"
                    )
                init = self._warm_start_state(name, seed, r - 1)
                trained = self._train_and_evaluate(seed, labeled, f"{name} round{r}", init=init)
                if (self.train_config.warm_start and r < last) or self.keep_checkpoints:
                    checkpoint = self.layout.checkpoint(name, "seed", seed, f"round{r}")
                    _atomic_torch_save(trained.model.state_dict(), checkpoint)
            labeled = self._complete_round(name, seed, budget, trained, labeled)
            if self.train_config.warm_start and r > 1 and not self.keep_checkpoints:
                self.layout.checkpoint(name, "seed", seed, f"round{r - 1}").unlink(missing_ok=True)
            if r > 0:
                self._advance(f"{name} seed {seed} round {r}")

    def _complete_round(
        self, name: str, seed: int, budget: Budget, trained: TrainedRound, labeled: np.ndarray
    ) -> np.ndarray:
        """Query with the round's trained model (unless it is the last round), write the
        round's record, snapshot and ``results.csv``; return the next labeled set."""
        r = budget.round
        record = {**trained.record, "strategy": name, "round": r, "budget": budget.fraction}
        record["query_seconds"] = 0.0
        record["labeled"] = np.sort(labeled)
        record["queried"] = np.zeros(0, dtype=np.int64)
        query_result = None
        if r < len(self.budgets) - 1:
            k = self.budgets[r + 1].count - budget.count
            query, seconds, query_result = self._query(
                self.strategies[name], name, trained.model, seed, r, labeled, k
            )
            record.update(query)
            record["query_seconds"] = seconds
        if seed in self.snapshot_seeds and self.snapshot_slices is not None:
            self._write_snapshot(name, seed, r, trained.model, query_result)
        write_record(self.layout.strategy_round(name, seed, r), record)
        write_results(self.layout, self.data.class_names, self.config["protocol"]["include_full"])
        return np.union1d(labeled, record["queried"])

    def _warm_start_state(self, name: str, seed: int, previous_round: int) -> dict | None:
        """With ``train.warm_start``, the weights of the chain's previous round (round 0 is
        the shared model); None (fresh seeded initialisation) otherwise."""
        if not self.train_config.warm_start:
            return None
        path = (
            self.layout.checkpoint("seed", seed, "round0")
            if previous_round == 0
            else self.layout.checkpoint(name, "seed", seed, f"round{previous_round}")
        )
        if not path.is_file():
            raise RuntimeError(
                f"warm start needs {path}, which is missing; delete the chain's records to redo it"
            )
        return torch.load(path, map_location=self.device, weights_only=True)

    def total_trainings(self) -> int:
        per_seed = (
            1
            + int(self.config["protocol"]["include_full"])
            + len(self.strategy_names) * (len(self.budgets) - 1)
        )
        return per_seed * len(self.seeds)

    def completed_trainings(self) -> int:
        """Trainings of this run's seeds and strategies already recorded in the folder."""
        done = 0
        for seed in self.seeds:
            done += self.layout.shared(seed, "round0").is_file()
            if self.config["protocol"]["include_full"]:
                done += self.layout.shared(seed, "full").is_file()
            for name in self.strategy_names:
                done += sum(
                    self.layout.strategy_round(name, seed, b.round).is_file() for b in self.budgets[1:]
                )
        return done

    # -- scheduling ------------------------------------------------------------------------
    def units(self) -> list[WorkUnit]:
        """Every unit of the run, in the order the in-process executor runs them."""
        units: list[WorkUnit] = []
        for seed in self.seeds:
            units.append(WorkUnit("round0", seed))
            if self.config["protocol"]["include_full"]:
                units.append(WorkUnit("full", seed))
            units.extend(WorkUnit("chain", seed, name) for name in self.strategy_names)
        return units

    def run_unit(self, unit: WorkUnit) -> None:
        if unit.kind == "round0":
            self.run_round0(unit.seed)
        elif unit.kind == "full":
            self.run_full(unit.seed)
        else:
            self.run_chain(unit.strategy, unit.seed)

    def worker_spec(self, threads: int = 0) -> WorkerSpec:
        return WorkerSpec(
            config=self.config,
            out_dir=str(self.layout.root.resolve()),
            strategies=tuple(self.strategy_names),
            seeds=tuple(self.seeds),
            threads=threads,
        )

    def results(self):
        """Write and return ``results.csv`` from the records in the folder."""
        return write_results(self.layout, self.data.class_names, self.config["protocol"]["include_full"])

    def run(self, executor: Executor | None = None):
        """Run (or resume) every unit, here or with ``executor``; returns the results table."""
        self.claim_folder()
        log.info(
            "run %s: dataset %s%s (%d pool images, %d test volumes), strategies %s, seeds %s, device %s "
            "(%d torch threads), %s",
            self.layout.root,
            self.data.name,
            f" from {self.config['data']['root']}" if self.config["data"].get("root") else "",
            self.data.pool_size,
            len(self.data.test_volumes),
            self.strategy_names,
            self.seeds,
            self.device,
            torch.get_num_threads(),
            f"executor {type(executor).__name__}" if executor is not None else "in this process",
        )
        self.progress_tracker.start(self.completed_trainings())
        try:
            if executor is None:
                for unit in self.units():
                    self.run_unit(unit)
            else:
                executor.execute(self)
        finally:
            self.progress_tracker.close()
            self.close_log()
        return self.results()


def dataset_identity(data: SegmentationData) -> dict:
    """What identifies a dataset independently of where it lies and of float rounding in its
    resampling: name, classes, pool size and slice shape, the digest of the pool's patient of
    each slice, and the digest of the test volumes' names and original shapes."""

    def digest(parts: list[str]) -> str:
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    return {
        "name": data.name,
        "class_names": list(data.class_names),
        "pool_size": data.pool_size,
        "slice_shape": [int(v) for v in data.pool_images.shape[1:]],
        "pool_groups_sha256": digest([str(g) for g in data.pool_groups]),
        "test_volumes_sha256": digest([f"{v.name}:{tuple(v.label.shape)}" for v in data.test_volumes]),
    }


def choose_snapshot_slices(volumes: list[Volume], count: int) -> list[tuple[int, int]]:
    """``count`` (volume, slice) pairs for qualitative figures: volumes spread evenly over the
    test set, in each the slice with the most foreground (deterministic)."""
    if not volumes or count <= 0:
        return []
    picks = np.unique(np.linspace(0, len(volumes) - 1, min(count, len(volumes))).round().astype(int))
    chosen = []
    for v in picks:
        foreground = (volumes[v].label > 0).reshape(volumes[v].label.shape[0], -1).sum(axis=1)
        chosen.append((int(v), int(np.argmax(foreground))))
    return chosen


def snapshot_arrays(
    model: torch.nn.Module, volumes: list[Volume], slices: list[tuple[int, int]], device: torch.device
) -> dict[str, np.ndarray]:
    """Images, labels (nearest-zoomed to the working size), predictions, and the coarse
    prediction and SFP distance maps when the network has them, on the chosen slices."""
    images = np.stack([volumes[v].image[z] for v, z in slices]).astype(np.float32)
    size = images.shape[-2:]
    labels = torch.cat(  # labels are at each volume's original size: zoom them one by one
        [
            F.interpolate(torch.from_numpy(volumes[v].label[z][None, None].astype(np.float32)), size=size)[0]
            for v, z in slices
        ]
    ).to(torch.uint8)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            output = model(torch.from_numpy(images)[:, None].to(device))
    finally:
        model.train(was_training)
    arrays = {
        "images": images,
        "labels": labels.numpy(),
        "prediction": output.logits.argmax(dim=1).to(torch.uint8).cpu().numpy(),
        "slice_names": np.array([f"{volumes[v].name}:{z}" for v, z in slices]),
    }
    if output.coarse_logits is not output.logits:
        arrays["coarse"] = output.coarse_logits.argmax(dim=1).to(torch.uint8).cpu().numpy()
    if output.distance is not None:
        arrays["distance"] = output.distance.float().cpu().numpy().astype(np.float16)
    return arrays


def run_unit(spec: WorkerSpec, unit: WorkUnit, *dependencies: object) -> str:
    """Run one unit in a worker process (local pool or Ray task); ``dependencies`` only order it.

    The experiment is rebuilt from ``spec`` (datasets come from the on-disk cache); results go
    to the run folder through the same atomic records as in-process runs. Returns the label.
    """
    if spec.threads > 0:
        torch.set_num_threads(spec.threads)
    experiment = Experiment(
        spec.config, spec.out_dir, strategies=list(spec.strategies), seeds=list(spec.seeds), progress=False
    )
    experiment.open_log()
    try:
        experiment.run_unit(unit)
    finally:
        experiment.close_log()
    return unit.label
