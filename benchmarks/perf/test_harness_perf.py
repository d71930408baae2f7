"""The harness around the trainings: a small phantom grid's wall time against the time spent
inside training, evaluation and queries (from timings.csv), and the local executor's process
pool against the in-process run of the same grid."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd

from alstrategies.config import load_config
from alstrategies.engine.loop import Experiment
from alstrategies.executors.local import LocalExecutor
from benchmarks.perf.conftest import interleaved

GRID = [
    "data.image_size=32",
    "data.train_patients=12",
    "data.test_patients=4",
    "model.width=8",
    "train.iterations=40",
    "train.batch_size=8",
    "train.threads=1",
    "protocol.seeds=[0, 1]",
    "protocol.initial_fraction=0.1",
    "protocol.step_fraction=0.1",
    "protocol.final_fraction=0.3",
]
STRATEGIES = ["random", "max_entropy", "sbc_al"]


def _run(executor=None) -> float:
    """Seconds spent inside trainings, evaluations and queries in one fresh run of the grid."""
    folder = Path(tempfile.mkdtemp(prefix="harness-perf-"))
    try:
        Experiment(load_config(None, GRID), folder, strategies=STRATEGIES, progress=False).run(executor)
        timings = pd.read_csv(folder / "timings.csv")
        # the shared round-0 and 100 % trainings appear once per strategy: count them once
        shared = timings["round"].eq(0) | timings["budget"].ge(1.0)
        trainings = pd.concat([timings[~shared], timings[shared].drop_duplicates(["seed", "budget"])])
        return float(
            trainings[["train_seconds", "eval_seconds"]].sum().sum() + timings["query_seconds"].sum()
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_harness_overhead_and_process_pool(benchmark, report_ratio):
    """Target: the harness adds at most 15 % to the time spent in trainings, evaluations and
    queries; two worker processes finish the grid faster than one process on 2 cores."""
    inside: dict[str, float] = {}

    def in_process() -> None:
        inside["in_process"] = _run()

    def pool() -> None:
        _run(LocalExecutor(workers=2))

    times = interleaved({"in_process": in_process, "pool": pool}, repeats=2)
    report_ratio("phantom_grid_wall_over_time_in_work", times["in_process"], inside["in_process"])
    report_ratio("two_worker_pool_over_in_process", times["pool"], times["in_process"])
    benchmark.pedantic(in_process, rounds=1, iterations=1)
