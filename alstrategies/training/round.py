"""One training of the protocol: a seeded model trained on a labeled set of the pool, evaluated
on the test volumes, and its :class:`~alstrategies.engine.round_record.RoundRecord`."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import replace
from functools import cached_property
from typing import cast

import numpy as np
import torch

from alstrategies.engine.progress import training_bar
from alstrategies.engine.protocol import derive_seed
from alstrategies.engine.round_record import RoundRecord
from alstrategies.evaluation import evaluate
from alstrategies.models import build_criterion, build_model
from alstrategies.settings import Heads, ModelConfig, Settings
from alstrategies.training.targets import TargetCache
from alstrategies.training.trainer import Trainer
from alstrategies.types import SegmentationData

log = logging.getLogger("alstrategies")


class RoundTrainer:
    """Builds, trains and evaluates the model of one round; the pool moves to the device only
    when the first training or query needs it (a driver whose workers do the work never does)."""

    def __init__(
        self, settings: Settings, data: SegmentationData, device: torch.device, progress: bool
    ) -> None:
        self.settings = settings
        self.data = data
        self.device = device
        self.progress = progress
        self.trainer = Trainer(settings.train, device)
        self._criteria: dict[str, object] = {}

    @cached_property
    def pool_images(self) -> torch.Tensor:
        with warnings.catch_warnings():  # a memory-mapped cache is read-only; the pool is never written
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return torch.from_numpy(self.data.pool_images).to(self.device)

    @cached_property
    def targets(self) -> TargetCache:
        labels = torch.from_numpy(self.data.pool_labels.astype(np.int64)).to(self.device)
        return TargetCache(
            labels, self.data.num_classes, include_background=self.settings.model.distance_classes == "all"
        )

    def model_config(self, network: str = "") -> ModelConfig:
        """``[model]`` with the heads of ``network`` (empty: the config's own heads)."""
        return replace(self.settings.model, heads=cast(Heads, network)) if network else self.settings.model

    def criterion(self, network: str = ""):
        """The training loss of ``network``'s heads (built once)."""
        if network not in self._criteria:
            self._criteria[network] = build_criterion(self.model_config(network), self.settings.loss)
        return self._criteria[network]

    def new_model(self, seed: int, network: str = "") -> torch.nn.Module:
        """The seeded, untrained network of ``seed`` (with ``network``'s heads when given)."""
        return build_model(
            self.model_config(network), self.data.num_classes, self.data.pool_images.shape[1], seed=seed
        )

    def train_and_evaluate(
        self, seed: int, labeled: np.ndarray, label: str, init: dict | None = None, network: str = ""
    ) -> tuple[torch.nn.Module, RoundRecord]:
        """Train a fresh (or ``init``-started) model on ``labeled`` and evaluate it on the test
        volumes; returns the model and its record (no round or strategy yet). ``label`` names
        the training (``round0``, ``full``, ``<strategy> round<r>``) and seeds its batches."""
        model = self.new_model(seed, network)
        criterion = self.criterion(network)
        if init is not None:
            model.load_state_dict(init)
        images = self.pool_images[torch.as_tensor(labeled, device=self.device)]
        targets = self.targets.targets(labeled, criterion.needs_distance)
        stage = label if label in ("round0", "full") else "round"
        bar = training_bar(self.settings.train.num_iterations(len(labeled), stage), label, self.progress)
        stats = self.trainer.fit(
            model,
            images,
            targets,
            criterion,
            derive_seed(seed, label.split()[-1]),
            progress=bar,
            stage=stage,
            warm=init is not None,
        )
        bar.close()
        start = time.perf_counter()
        result = evaluate(
            model,
            self.data.test_volumes,
            self.data.num_classes,
            self.device,
            self.settings.train.eval_batch_size,
            amp=False,  # measured predictions in full precision; bf16 is for training speed only
            **self._metric_arguments(),
        )
        record = RoundRecord(
            seed=seed,
            n_labeled=len(labeled),
            fraction=len(labeled) / self.data.pool_size,
            labeled=np.sort(labeled),
            metrics=result.record_fields(),
            iterations=stats.iterations,
            loss_history=stats.loss_history,
            torch_threads=torch.get_num_threads(),
            train_seconds=stats.seconds,
            eval_seconds=time.perf_counter() - start,
        )
        log.info(
            "%s seed %d: %d labeled, dice %.4f, %.1fs", label, seed, len(labeled), result.dice, stats.seconds
        )
        return model, record

    def _metric_arguments(self) -> dict:
        """``evaluate``'s metric arguments from ``[evaluation]``."""
        evaluation = self.settings.evaluation
        return {
            "metrics": tuple(evaluation.metrics),
            "metric_options": {"surface_dice": {"tolerance": evaluation.surface_tolerance}},
        }

    def pool_error(self, model: torch.nn.Module, candidates: np.ndarray) -> np.ndarray:
        """The round model's true error (1 - Dice) on each scored candidate, for the report's
        score-error correlation (DESIGN section 5)."""
        from alstrategies.pool_error import slice_errors

        return slice_errors(
            model,
            self.pool_images,
            self.targets.labels,
            candidates,
            self.data.num_classes,
            self.device,
            self.settings.query.batch_size,
        )
