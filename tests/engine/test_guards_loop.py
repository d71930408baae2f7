"""The run loop, through Experiment.run(): resuming an unfinished chain retrains only the missing
rounds, warm starts start from the previous round's weights, and a round's recorded Dice and
HD95 are what its kept checkpoint scores on the test volumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from alstrategies.engine.loop import Experiment
from alstrategies.engine.records import RunLayout, read_record
from alstrategies.models import build_model
from alstrategies.training.trainer import Trainer
from tests.test_evaluation import slow_mean, slow_metrics


def _run(config: dict, out: Path, strategies=("random",)) -> pd.DataFrame:
    return Experiment(config, out, strategies=list(strategies), progress=False).run()


@pytest.fixture
def fit_spy(monkeypatch):
    """Every Trainer.fit call: the number of images and the model's weights at its start."""
    calls: list[tuple[int, dict[str, torch.Tensor]]] = []
    original = Trainer.fit

    def spy(self, model, images, *args, **kwargs):
        calls.append((int(images.shape[0]), {k: v.detach().clone() for k, v in model.state_dict().items()}))
        return original(self, model, images, *args, **kwargs)

    monkeypatch.setattr(Trainer, "fit", spy)
    return calls


def _stat(path: Path) -> tuple[int, int, bytes]:
    info = path.stat()
    return info.st_ino, info.st_mtime_ns, path.read_bytes()


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resuming_an_unfinished_chain_trains_only_the_missing_rounds(tiny_config, tmp_path, fit_spy):
    config = tiny_config("protocol.final_fraction=0.6")  # rounds 0-4: 6, 9, 12, 15, 18 images
    first = _run(config, tmp_path)
    assert sorted(n for n, _ in fit_spy) == [6, 9, 12, 15, 18, 30]
    layout = RunLayout(tmp_path)
    for r in (3, 4):  # as if killed after round 2 was recorded
        layout.strategy_round("random", 0, r).unlink()
    kept = [layout.strategy_round("random", 0, r) for r in (0, 1, 2)]
    kept += [layout.shared(0, "round0"), layout.shared(0, "full")]
    before = {path: _stat(path) for path in kept}
    fit_spy.clear()
    resumed = _run(config, tmp_path)
    assert [n for n, _ in fit_spy] == [15, 18]  # rounds 3 and 4 only
    for path, stat in before.items():
        assert _stat(path) == stat, f"{path} was rewritten"
    pd.testing.assert_frame_equal(first, resumed)
    round2 = read_record(layout.strategy_round("random", 0, 2))
    round3 = read_record(layout.strategy_round("random", 0, 3))
    expected = np.union1d(np.asarray(round2["labeled"]), np.asarray(round2["queried"]))
    np.testing.assert_array_equal(np.asarray(round3["labeled"]), expected)
    fit_spy.clear()
    _run(config, tmp_path)
    assert fit_spy == []  # a finished chain trains nothing


def test_warm_started_rounds_begin_from_the_previous_rounds_weights(tiny_config, tmp_path, fit_spy):
    config = tiny_config("train.warm_start=true", "snapshots.checkpoints=true")
    _run(config, tmp_path)
    starts = dict(fit_spy)
    assert sorted(starts) == [6, 9, 12, 30]
    checkpoints = tmp_path / "checkpoints"

    def load(name: str) -> dict[str, torch.Tensor]:
        return torch.load(checkpoints / name, weights_only=True)

    fresh = build_model(config["model"], 4, 1, seed=0).state_dict()
    assert _same_weights(starts[6], fresh)  # round 0: the seeded initialisation
    assert _same_weights(starts[9], load("seed_0_round0.pt"))
    assert _same_weights(starts[12], load("random_seed_0_round1.pt"))
    assert _same_weights(starts[30], load("seed_0_round0.pt"))  # the 100 % model starts from round 0
    assert not _same_weights(starts[12], fresh) and not _same_weights(starts[12], starts[9])


def test_a_cold_100_percent_model_begins_from_the_seeded_initialisation(tiny_config, tmp_path, fit_spy):
    """``train.full_warm_start = false``: the rounds stay warm, the 100 % model starts fresh."""
    config = tiny_config("train.warm_start=true", "train.full_warm_start=false", "snapshots.checkpoints=true")
    _run(config, tmp_path)
    starts = dict(fit_spy)
    fresh = build_model(config["model"], 4, 1, seed=0).state_dict()
    round0 = torch.load(tmp_path / "checkpoints" / "seed_0_round0.pt", weights_only=True)
    assert _same_weights(starts[9], round0)  # round 1 still continues round 0
    assert _same_weights(starts[30], fresh) and not _same_weights(starts[30], round0)


def test_cold_started_rounds_begin_from_the_seeded_initialisation(tiny_config, tmp_path, fit_spy):
    config = tiny_config("snapshots.checkpoints=true", "protocol.seeds=[1]")
    _run(config, tmp_path)
    assert sorted(n for n, _ in fit_spy) == [6, 9, 12, 30]
    fresh = build_model(config["model"], 4, 1, seed=1).state_dict()
    for n, start in fit_spy:
        assert _same_weights(start, fresh), n
    trained = torch.load(tmp_path / "checkpoints" / "random_seed_1_round1.pt", weights_only=True)
    assert not _same_weights(trained, fresh)


def test_recorded_dice_and_hd95_are_those_of_the_rounds_checkpoint(tiny_config, tmp_path):
    """Trained long enough to segment something, so HD95 is a real distance: the record's
    numbers equal the slow reference on the checkpoint's own predictions (spacing 10 x 8 x 8 mm)."""
    config = tiny_config(
        "train.iterations=300",
        "train.augment=false",
        "train.lr=0.05",
        "protocol.final_fraction=0.3",
        "protocol.include_full=false",
        "snapshots.checkpoints=true",
    )
    experiment = Experiment(config, tmp_path, strategies=["random"], progress=False)
    experiment.run()
    volumes = experiment.data.test_volumes
    record = read_record(RunLayout(tmp_path).strategy_round("random", 0, 1))
    model = build_model(config["model"], 4, 1)
    model.load_state_dict(torch.load(tmp_path / "checkpoints" / "random_seed_0_round1.pt", weights_only=True))
    model.eval()
    dice_rows, hd_rows = [], []
    with torch.no_grad():
        for volume in volumes:
            assert volume.spacing is not None and volume.image.shape == volume.label.shape
            prediction = model(torch.from_numpy(volume.image[:, None]).float()).logits.argmax(dim=1).numpy()
            dice, hd95 = slow_metrics(prediction, volume.label, volume.spacing)
            dice_rows.append(dice)
            hd_rows.append(hd95)
    assert np.isfinite(np.asarray(hd_rows)).sum() >= 3, "the model segments nothing: train longer"
    assert record["dice"] == pytest.approx(slow_mean(dice_rows), rel=1e-9)
    assert record["hd95"] == pytest.approx(slow_mean(hd_rows), rel=1e-9)
    np.testing.assert_allclose(np.asarray(record["dice_per_volume"], dtype=float), dice_rows, equal_nan=True)
    hd = np.asarray(hd_rows)
    per_class_hd = [np.nanmean(col) if np.isfinite(col).any() else np.nan for col in hd.T]
    np.testing.assert_allclose(
        np.asarray(record["hd95_per_class"], dtype=float), per_class_hd, equal_nan=True
    )
