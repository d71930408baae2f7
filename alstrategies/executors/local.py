"""The local executor: units in this process, or in a pool of worker processes on one machine.

With ``workers = 1`` on the CPU (the default) every unit runs in this process, in the order of
:meth:`Schedulable.units`. With several CPU workers, or on CUDA with ``chains_per_gpu`` chains
packed on each visible GPU, units run in spawned worker processes (each pinned to one GPU,
with ``train.threads`` threads, whatever the core count) and report through the
run folder. Small chains do not fill a large GPU; packing several is how the throughput of one
card is used (``executor.chains_per_gpu``).
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
import threading
import time

import torch

from alstrategies.engine.stopping import install_worker_handlers, sigint_blocked, stop_worker_processes
from alstrategies.engine.units import Schedulable, WorkUnit
from alstrategies.engine.worker import run_unit
from alstrategies.errors import ConfigError
from alstrategies.executors.scheduling import UnitScheduler

_slot_counter = None


def _exit_with_parent(parent: int, poll_seconds: float = 1.0) -> None:
    """Stop this worker as soon as the driver that started it is gone (killed, say), instead of
    finishing its unit unseen; its records are atomic, so nothing half-written stays."""
    while True:
        time.sleep(poll_seconds)
        if os.getppid() != parent:
            os._exit(1)


def _init_worker(counter, gpus: int, parent: int) -> None:
    """Worker initialiser: leave SIGINT to the driver and end at once on SIGTERM
    (:mod:`alstrategies.engine.stopping`), exit with the driver, and pin this worker to one GPU
    (round robin) before CUDA starts."""
    install_worker_handlers()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    if gpus > 0:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index % gpus)


class LocalExecutor:
    """In-process, or a pool of ``workers`` processes (CPU) / ``chains_per_gpu`` per GPU (CUDA)."""

    def __init__(self, workers: int = 1, chains_per_gpu: int = 1, **_other_executor_keys: object) -> None:
        if workers < 1 or chains_per_gpu < 1:
            raise ConfigError(
                f"executor.workers ({workers}) and executor.chains_per_gpu ({chains_per_gpu}) must be >= 1"
            )
        self.workers = workers
        self.chains_per_gpu = chains_per_gpu

    def slots(self, experiment: Schedulable) -> tuple[int, int]:
        """(number of worker processes, number of GPUs they share)."""
        if experiment.device.type == "cuda":
            gpus = torch.cuda.device_count()
            return gpus * self.chains_per_gpu, gpus
        return self.workers, 0

    def worker_threads(self, experiment: Schedulable) -> int:
        """Torch threads per worker: ``train.threads``, never a share of the core count (the
        numbers would then depend on the machine)."""
        return experiment.threads

    def execute(self, experiment: Schedulable) -> None:
        slots, gpus = self.slots(experiment)
        if slots <= 1:
            for unit in experiment.units():
                experiment.run_unit(unit)
            return
        spec = experiment.worker_spec(self.worker_threads(experiment))
        context = multiprocessing.get_context("spawn")
        counter = context.Value("i", 0)
        with futures.ProcessPoolExecutor(
            max_workers=slots,
            mp_context=context,
            initializer=_init_worker,
            initargs=(counter, gpus, os.getpid()),
        ) as pool:

            def submit(unit: WorkUnit, _dependency: object | None) -> futures.Future:
                with sigint_blocked():  # the workers it may start never see a terminal's Ctrl-C
                    return pool.submit(run_unit, spec, unit)

            def wait(handles: list, timeout: float) -> tuple[list, list]:
                done, not_done = futures.wait(handles, timeout=timeout, return_when=futures.FIRST_COMPLETED)
                return list(done), list(not_done)

            def cancel(_handles: list) -> None:  # the run stops: no queued unit starts, none goes on
                stop_worker_processes()  # first: the pool then marks every pending unit failed
                pool.shutdown(wait=True, cancel_futures=True)

            try:
                UnitScheduler(experiment, submit, wait, lambda handle: handle.result(), cancel=cancel).run()
            except BaseException:  # a unit failed: none starts, the running ones finish and record
                pool.shutdown(wait=False, cancel_futures=True)
                raise
