"""The active-learning protocol: seeds x strategies x rounds, resumable, one record per round.

For every seed the initial labeled set, the round-0 model and the 100 % model are shared by all
strategies. Each (strategy, seed) chain then alternates query -> annotate -> retrain until the
final budget; every round is written atomically as soon as it completes, and a re-run skips
what is already recorded.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from alstrategies.config import ConfigError, differences, fill_defaults, fingerprint, strategy_options
from alstrategies.data import load_dataset
from alstrategies.device import configure_threads, resolve_device
from alstrategies.evaluation import evaluate
from alstrategies.models import build_criterion, build_model
from alstrategies.protocol import Budget, budget_schedule, derive_rng, derive_seed, initial_labeled_set
from alstrategies.records import RunLayout, atomic_write_text, read_record, write_record, write_results
from alstrategies.registry import STRATEGIES
from alstrategies.strategy import QueryContext, QueryStrategy
from alstrategies.training.trainer import TrainConfig, Trainer
from alstrategies.types import SegmentationData

log = logging.getLogger("alstrategies")


class RunFolderMismatch(RuntimeError):
    """The run folder was started with a different config."""


@dataclass
class TrainedRound:
    model: torch.nn.Module
    record: dict


def _atomic_torch_save(obj: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, temporary)
    os.replace(temporary, path)


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
        self.pool_images = torch.from_numpy(self.data.pool_images).to(self.device)
        labels = torch.from_numpy(self.data.pool_labels.astype(np.int64)).to(self.device)
        self.targets = TargetCache(labels, self.data.num_classes)
        self._bar: tqdm | None = None

    # -- run folder ------------------------------------------------------------------------
    def _claim_folder(self) -> None:
        self.layout.root.mkdir(parents=True, exist_ok=True)
        current = fingerprint(self.config)
        if self.layout.config.is_file():
            previous = fill_defaults(json.loads(self.layout.config.read_text()))
            diff = differences(previous, current)
            if diff:
                raise RunFolderMismatch(
                    f"run folder {self.layout.root} was started with a different config:\n  "
                    + "\n  ".join(diff)
                    + "\nuse another --out folder, or restore those values to resume"
                )
        else:
            atomic_write_text(self.layout.config, json.dumps(current, indent=1, sort_keys=True))
        handler = logging.FileHandler(self.layout.root / "run.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        self._log_handler = handler

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
            self.train_config.amp,
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
        if self._bar is not None:
            self._bar.set_postfix_str(label)
            self._bar.update(1)

    def _round0(self, seed: int, labeled: np.ndarray) -> TrainedRound:
        path = self.layout.shared(seed, "round0")
        checkpoint = self.layout.checkpoint("seed", seed, "round0")
        record = read_record(path)
        if record is not None and checkpoint.is_file():
            model = self._new_model(seed).to(self.device)
            model.load_state_dict(torch.load(checkpoint, map_location=self.device, weights_only=True))
            return TrainedRound(model, record)
        trained = self._train_and_evaluate(seed, labeled, "round0")
        trained.record.update(round=0, budget=self.budgets[0].fraction)
        _atomic_torch_save(trained.model.state_dict(), checkpoint)
        write_record(path, trained.record)
        return trained

    def _full(self, seed: int) -> None:
        path = self.layout.shared(seed, "full")
        if read_record(path) is not None:
            return
        everything = np.arange(self.data.pool_size)
        trained = self._train_and_evaluate(seed, everything, "full", init=self._warm_start_state("", seed, 0))
        trained.record.update(round=len(self.budgets), budget=1.0)
        write_record(path, trained.record)

    def _query(
        self,
        strategy: QueryStrategy,
        name: str,
        model: torch.nn.Module,
        seed: int,
        round_index: int,
        labeled: np.ndarray,
        k: int,
    ) -> tuple[dict, float]:
        unlabeled = np.setdiff1d(np.arange(self.data.pool_size), labeled)
        context = QueryContext(
            model=model,
            pool_images=self.pool_images,
            labeled=labeled,
            unlabeled=unlabeled,
            num_classes=self.data.num_classes,
            device=self.device,
            batch_size=self.config["query"]["batch_size"],
            amp=self.train_config.amp,
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
        return out, seconds

    def _chain(self, name: str, seed: int, round0: TrainedRound) -> None:
        strategy = self.strategies[name]
        labeled = round0.record["labeled"]
        labeled = np.asarray(labeled, dtype=np.int64)
        last = len(self.budgets) - 1
        for budget in self.budgets:
            r = budget.round
            path = self.layout.strategy_round(name, seed, r)
            done = read_record(path)
            if done is not None:
                labeled = np.union1d(
                    np.asarray(done["labeled"], dtype=np.int64), np.asarray(done["queried"], dtype=np.int64)
                )
                if r > 0:
                    self._advance(f"{name} seed {seed} round {r} (done)")
                continue
            if len(labeled) != budget.count:
                raise RuntimeError(
                    f"{name} seed {seed} round {r}: {len(labeled)} labeled, expected {budget.count}"
                )
            if r == 0:
                trained = round0
            else:
                init = self._warm_start_state(name, seed, r - 1)
                trained = self._train_and_evaluate(seed, labeled, f"{name} round{r}", init=init)
                if self.train_config.warm_start and r < last:
                    checkpoint = self.layout.checkpoint(name, "seed", seed, f"round{r}")
                    _atomic_torch_save(trained.model.state_dict(), checkpoint)
            record = {
                **trained.record,
                "strategy": name,
                "round": r,
                "budget": budget.fraction,
                "query_seconds": 0.0,
            }
            record["labeled"] = np.sort(labeled)
            record["queried"] = np.zeros(0, dtype=np.int64)
            if r < last:
                k = self.budgets[r + 1].count - budget.count
                query, seconds = self._query(strategy, name, trained.model, seed, r, labeled, k)
                record.update(query)
                record["query_seconds"] = seconds
            write_record(path, record)
            write_results(self.layout, self.data.class_names, self.config["protocol"]["include_full"])
            labeled = np.union1d(labeled, record["queried"])
            if self.train_config.warm_start and r > 1:
                self.layout.checkpoint(name, "seed", seed, f"round{r - 1}").unlink(missing_ok=True)
            if r > 0:
                self._advance(f"{name} seed {seed} round {r}")

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

    def run(self):
        """Run (or resume) every chain; returns the results table."""
        self._claim_folder()
        log.info(
            "run %s: dataset %s (%d pool images, %d test volumes), strategies %s, seeds %s, device %s",
            self.layout.root,
            self.data.name,
            self.data.pool_size,
            len(self.data.test_volumes),
            self.strategy_names,
            self.seeds,
            self.device,
        )
        self._bar = tqdm(
            total=self.total_trainings(), desc="trainings", disable=not self.progress, unit="model"
        )
        try:
            for seed in self.seeds:
                labeled = initial_labeled_set(self.data.pool_size, self.budgets[0].count, seed)
                round0 = self._round0(seed, labeled)
                self._advance(f"seed {seed} round 0")
                if self.config["protocol"]["include_full"]:
                    self._full(seed)
                    self._advance(f"seed {seed} full")
                for name in self.strategy_names:
                    self._chain(name, seed, round0)
        finally:
            self._bar.close()
            log.removeHandler(self._log_handler)
            self._log_handler.close()
        return write_results(self.layout, self.data.class_names, self.config["protocol"]["include_full"])
