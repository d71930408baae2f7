"""One invocation on a run folder: claim it, say in ``run.log`` what runs, write the plan, run
every unit (here or with an executor) and record in ``run.log`` how the invocation ended:
complete, interrupted by a signal (:mod:`alstrategies.engine.stopping`) or stopped by an error."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pandas as pd
import torch

from alstrategies.engine.progress import announce
from alstrategies.engine.stopping import signal_name
from alstrategies.engine.units import Executor, write_plan

if TYPE_CHECKING:
    from alstrategies.engine.loop import Experiment

log = logging.getLogger("alstrategies")


def run_invocation(experiment: Experiment, executor: Executor | None = None) -> pd.DataFrame:
    """Run (or resume) every unit of ``experiment``; returns the results table. A stop by a
    signal carries what was kept (``stop.kept``) for the command line's one line."""
    experiment.claim_folder()
    why = ""
    try:
        _run_units(experiment, executor)
    except KeyboardInterrupt as stop:  # Ctrl-C, SIGINT or SIGTERM
        why = f"; interrupted by {signal_name(stop)}"
        recorded = f"{experiment.completed_trainings()} of {experiment.total_trainings()} trainings"
        stop.kept = f"{recorded} recorded in {experiment.layout.root}"  # type: ignore[attr-defined]
        raise
    except BaseException as error:
        why = f"; stopped by {type(error).__name__}"
        raise
    finally:
        experiment.progress_tracker.close()
        log.info(
            "invocation ended: %d trainings of %s recorded%s",
            experiment.completed_trainings(),
            experiment.layout.root,
            why,
        )
        experiment.close_log()
    return experiment.results()


def _run_units(experiment: Experiment, executor: Executor | None) -> None:
    """Announce the invocation, write its plan and run every unit, here or with ``executor``."""
    root = experiment.settings.data.root
    log.info(
        "run %s: dataset %s%s (%d pool images, %d test volumes), strategies %s, seeds %s, device %s "
        "(%d torch threads), %s",
        experiment.layout.root,
        experiment.data.name,
        f" from {root}" if root else "",
        experiment.data.pool_size,
        len(experiment.data.test_volumes),
        experiment.strategy_names,
        experiment.seeds,
        experiment.device,
        torch.get_num_threads(),
        f"executor {type(executor).__name__}" if executor is not None else "in this process",
    )
    parallel = int(getattr(executor, "workers", 1) or 1)
    write_plan(experiment.layout, experiment.plan, experiment.strategy_names, experiment.seeds, parallel)
    done, cost = experiment.completed_work()
    if done:
        total = experiment.total_trainings()
        announce(
            f"resuming {experiment.layout.root}: {done} of {total} trainings already recorded, {total - done} to go",
            experiment.progress,
        )
    experiment.progress_tracker.start(done, cost)
    if executor is None:
        for unit in experiment.units():
            experiment.run_unit(unit)
    else:
        executor.execute(experiment)
