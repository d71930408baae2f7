"""The entry point of a worker process (local pool or Ray task): rebuild the run, run one unit."""

from __future__ import annotations

import torch

from alstrategies.engine.loop import Experiment
from alstrategies.engine.units import WorkerSpec, WorkUnit


def run_unit(spec: WorkerSpec, unit: WorkUnit, *dependencies: object) -> str:
    """Run one unit in a worker process (local pool or Ray task); ``dependencies`` only order it.

    The experiment is rebuilt from ``spec`` (datasets come from the on-disk cache); results go
    to the run folder through the same atomic records as in-process runs. Returns the label.
    """
    if spec.threads > 0:
        torch.set_num_threads(spec.threads)
    experiment = Experiment(
        spec.settings, spec.out_dir, strategies=list(spec.strategies), seeds=list(spec.seeds), progress=False
    )
    experiment.open_log()
    try:
        experiment.run_unit(unit)
    finally:
        experiment.close_log()
    return unit.label
