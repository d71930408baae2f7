"""The shared trainer against a minimal hand-written PyTorch loop (same model, data, batch)."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from alstrategies.data.synthetic import load_synthetic
from alstrategies.models import build_criterion, build_model
from alstrategies.training.trainer import TrainConfig, Trainer
from benchmarks.perf.conftest import interleaved

ITERATIONS = 30
BATCH = 8
SIZE = 48


def _data():
    data = load_synthetic(image_size=SIZE, train_patients=8)
    return torch.from_numpy(data.pool_images), torch.from_numpy(data.pool_labels.astype(np.int64))


def _minimal_loop(images: torch.Tensor, labels: torch.Tensor) -> None:
    """The plainest correct loop: SGD, random batches, CE + Dice (the same loss), no extras."""
    model = build_model({"width": 8, "heads": "plain"}, 4, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(ITERATIONS):
        rows = torch.randint(0, images.shape[0], (BATCH,), generator=generator)
        logits = model(images[rows]).logits
        probs = logits.softmax(1)
        onehot = F.one_hot(labels[rows], 4).permute(0, 3, 1, 2).float()
        dice = (
            1
            - (
                (2 * (probs * onehot).sum((0, 2, 3)) + 1e-5)
                / (probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3)) + 1e-5)
            ).mean()
        )
        loss = F.cross_entropy(logits, labels[rows]) + dice
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def _shared_trainer(images: torch.Tensor, labels: torch.Tensor, augment: bool) -> None:
    model = build_model({"width": 8, "heads": "plain"}, 4, seed=0)
    config = TrainConfig(iterations=ITERATIONS, batch_size=BATCH, augment=augment)
    Trainer(config, torch.device("cpu")).fit(
        model, images, {"labels": labels}, build_criterion({"heads": "plain"}, {}), seed=0
    )


def test_trainer_against_minimal_loop(benchmark, report_ratio):
    """Target: the trainer without augmentation within 5 % of the minimal loop's images/s."""
    images, labels = _data()
    times = interleaved(
        {
            "minimal": lambda: _minimal_loop(images, labels),
            "trainer": lambda: _shared_trainer(images, labels, augment=False),
            "augmented": lambda: _shared_trainer(images, labels, augment=True),
        }
    )
    report_ratio("trainer_time_over_minimal_loop", times["trainer"], times["minimal"])
    report_ratio("trainer_with_augmentation_over_minimal_loop", times["augmented"], times["minimal"])
    benchmark.pedantic(_shared_trainer, args=(images, labels, False), rounds=1, iterations=1)
