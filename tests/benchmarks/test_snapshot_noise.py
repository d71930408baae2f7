"""The snapshot-noise calibration (``benchmarks/calibration/snapshot_noise.py``): batch order 0
is the run's own training, other orders differ, and the summary's SD is the pooled one."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from alstrategies.engine.loop import Experiment
from benchmarks.calibration import snapshot_noise
from benchmarks.calibration.snapshot_noise import read_rows, summarise

TOML = """
[data]
name = "synthetic"
image_size = 32
train_patients = 6
test_patients = 2
slices_per_patient = 5
[model]
width = 4
heads = "plain"
[train]
iterations = 15
initial_iterations = 150
lr = 0.1
full_iterations = 15
batch_size = 4
warm_start = true
cooldown = 0.2
[protocol]
seeds = [0]
initial_fraction = 0.2
step_fraction = 0.1
final_fraction = 0.4
"""


@pytest.fixture
def preset(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TOML)
    return path


def test_order_zero_is_the_runs_training_and_other_orders_differ(tmp_path, preset):
    out = tmp_path / "calibration"
    arguments = ["--preset", str(preset), "--out", str(out), "--models", str(tmp_path / "models")]
    arguments += ["--seeds", "0", "--rounds", "1", "2", "--orders", "3"]
    arguments += ["--schedules", "restart", "linear_x0.1", "--full"]
    snapshot_noise.main(arguments)
    rows = pd.read_csv(out / "snapshot_noise.csv")
    assert list(rows.columns) == ["schedule", "seed", "round", "batch_order", "dice"]
    assert len(rows) == 2 * snapshot_noise.expected_rows([1, 2], 3, full=True)
    # a real run of the same preset: random's rounds are order 0 of the "restart" schedule
    run = Experiment(
        snapshot_noise.load_config(preset, []), tmp_path / "run", strategies=["random"], progress=False
    )
    results = run.run()
    restart = rows[(rows["schedule"] == "restart") & (rows["batch_order"] == 0)].set_index("round")["dice"]
    recorded = results[results["strategy"] == "random"].set_index("round")["dice"]
    assert sorted(recorded.index) == [0, 1, 2, 3]  # three budgets and the 100 % model
    for r in (0, 1, 2, 3):
        assert restart[r] == pytest.approx(recorded[r], abs=1e-6)
    assert restart.min() > 0.05  # the models learned something: the comparison is not one of zeros
    for schedule in ("restart", "linear_x0.1"):
        part = rows[(rows["schedule"] == schedule) & (rows["round"] == 1)]
        assert part["dice"].nunique() > 1  # the batch orders are different trainings
    # a re-run has nothing left to do and keeps the file as it is
    before = (out / "snapshot_noise.csv").read_text()
    snapshot_noise.main(arguments)
    assert (out / "snapshot_noise.csv").read_text() == before
    assert len(read_rows(out / "snapshot_noise.csv")) == len(rows)


def test_summary_pools_the_variances_over_seeds_and_rounds():
    rows = []
    values = {(0, 1): [0.60, 0.62, 0.64], (1, 1): [0.50, 0.50, 0.53], (0, 4): [0.70, 0.71, 0.72]}
    for (seed, r), dice in values.items():
        rows += [
            {"schedule": "s", "seed": seed, "round": r, "batch_order": b, "dice": d}
            for b, d in enumerate(dice)
        ]
    rows += [
        {"schedule": "s", "seed": s, "round": 0, "batch_order": 0, "dice": d}
        for s, d in ((0, 0.58), (1, 0.52))
    ]
    summary = summarise(pd.DataFrame(rows)).iloc[0]

    def var(xs):
        mean = sum(xs) / len(xs)
        return sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)

    expected = math.sqrt(sum(var(v) for v in values.values()) / 3)
    assert summary["per_model_sd"] == pytest.approx(100 * expected)
    assert summary["round0"] == pytest.approx(55.0)
    round1 = (0.60 + 0.62 + 0.64 + 0.50 + 0.50 + 0.53) / 6
    assert summary["round1"] == pytest.approx(100 * round1)
    assert summary["round1_change"] == pytest.approx(100 * round1 - 55.0)
    assert summary["round1_sd"] == pytest.approx(100 * math.sqrt((var(values[0, 1]) + var(values[1, 1])) / 2))
