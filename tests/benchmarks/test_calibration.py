"""The schedule calibration (``benchmarks/calibration/acdc_schedule.py``): the value at a
checkpoint of one long training is the value of a training of exactly that length."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alstrategies.data.synthetic import load_synthetic
from alstrategies.models import build_criterion, build_model
from alstrategies.training.targets import TargetCache
from alstrategies.training.trainer import TrainConfig, Trainer
from benchmarks.calibration.acdc_schedule import CheckpointHook, plot, write_rows

CPU = torch.device("cpu")


def _train(images, labels, iterations, hook_points=()):
    model = build_model({"width": 4, "heads": "sbc"}, 4, seed=3)
    criterion = build_criterion({"heads": "sbc"}, {})
    seen = []

    def record(current):
        seen.append({k: v.clone() for k, v in current.state_dict().items()})
        return 0.0, 0.0

    hook = CheckpointHook(model, hook_points, record, keep=hook_points[0] if hook_points else 0)
    config = TrainConfig(iterations=iterations, batch_size=4, lr_step=2, lr_decay=0.5)
    targets = TargetCache(labels, 4).targets(np.arange(len(labels)), criterion.needs_distance)
    Trainer(config, CPU).fit(model, images, targets, criterion, seed=5, progress=hook, stage="round0")
    return model.state_dict(), seen, hook


def test_a_checkpoint_equals_a_training_of_that_length():
    data = load_synthetic(image_size=32, train_patients=3, test_patients=1, slices_per_patient=3)
    images = torch.from_numpy(data.pool_images)
    labels = torch.from_numpy(data.pool_labels.astype(np.int64))
    _, seen, hook = _train(images, labels, 7, hook_points=(3, 5))
    assert [row[0] for row in hook.rows] == [3, 5]
    for length, checkpoint in zip((3, 5), seen):
        alone, _, _ = _train(images, labels, length)
        for name, value in alone.items():
            assert torch.equal(value, checkpoint[name]), (length, name)
    assert all(torch.equal(v, seen[0][k]) for k, v in hook.kept.items())  # the warm-start copy


def test_the_figure_is_drawn_from_the_curves(tmp_path):
    rows = [
        {"size": 48, "curve": curve, "iterations": n, "dice": d, "hd95": 1, "train_seconds": 1, "labeled": 9}
        for curve in ("round0 cold", "full cold", "full warm")
        for n, d in ((100, 0.2), (200, 0.5))
    ]
    write_rows(tmp_path / "calibration_48_step.csv", rows)
    write_rows(tmp_path / "calibration_48_poly.csv", rows)
    path = plot(tmp_path, {("48", "step"): {"chosen": 150}})
    assert path.is_file() and path.stat().st_size > 10_000


def test_the_chains_csv_holds_every_round_and_the_100_percent_model(tiny_config, tmp_path):
    import json

    from alstrategies.engine.loop import Experiment
    from benchmarks.calibration.acdc_schedule import write_chains

    folders = []
    for cooldown in (0.0, 0.5):
        folder = tmp_path / f"run{cooldown}"
        config = tiny_config("train.warm_start=true", f"train.cooldown={cooldown}", "snapshots.slices=0")
        Experiment(config, folder, strategies=["random"], progress=False).run()
        folders.append(folder)
    path = write_chains(folders, tmp_path)
    rows = path.read_text().splitlines()
    assert rows[0] == "cooldown,seed,round,budget,dice" and len(rows) == 1 + 2 * (3 + 1)
    for row in rows[1:]:
        cooldown, seed, round_index, budget, dice = row.split(",")
        folder = folders[float(cooldown) == 0.5]
        name = (
            "shared/seed0/full.json"
            if float(budget) == 1.0
            else f"strategies/random/seed0/round{round_index}.json"
        )
        assert float(dice) == pytest.approx(json.loads((folder / name).read_text())["dice"], abs=1e-6)
