"""The Ray executor: every unit a Ray task, chains waiting on their seed's round0 in the cluster.

``alstrategies run CONFIG --executor ray`` starts a local Ray (or joins the cluster at
``--ray-address`` / ``executor.ray_address``: ``ray start --head`` on one node, ``ray start
--address=HEAD:6379`` on the others). Each task asks for ``executor.cpus_per_chain`` CPUs and
``executor.gpus_per_chain`` GPUs (0 = ``1 / chains_per_gpu`` when the driver sees CUDA) and
writes the same atomic records as the local executor, so a run can be resumed with either.
On a multi-node cluster the run folder (``--out``) and the dataset cache must be on a
filesystem every node mounts at the same path, and every node needs this package installed.
"""

from __future__ import annotations

import logging
from typing import Any

from alstrategies.engine.stopping import install_driver_handlers
from alstrategies.engine.units import Schedulable, WorkUnit
from alstrategies.engine.worker import run_unit
from alstrategies.errors import ConfigError, MissingDependencyError
from alstrategies.executors.scheduling import UnitScheduler

INSTALL_HINT = "the Ray executor needs ray: pip install 'alstrategies[ray]' (or pip install ray)"


class RayExecutor:
    """Units as Ray tasks with a configurable CPU and GPU share."""

    def __init__(
        self,
        ray_address: str = "",
        cpus_per_chain: float = 1.0,
        gpus_per_chain: float = 0.0,
        chains_per_gpu: int = 1,
        num_cpus: int | None = None,
        **_other_executor_keys: object,
    ) -> None:
        if cpus_per_chain <= 0 or gpus_per_chain < 0 or chains_per_gpu < 1:
            raise ConfigError(
                "executor.cpus_per_chain must be > 0, executor.gpus_per_chain >= 0 and "
                "executor.chains_per_gpu >= 1"
            )
        self.address = ray_address
        self.cpus_per_chain = float(cpus_per_chain)
        self.gpus_per_chain = float(gpus_per_chain)
        self.chains_per_gpu = chains_per_gpu
        self.num_cpus = num_cpus

    def gpu_share(self, experiment: Schedulable) -> float:
        if self.gpus_per_chain > 0:
            return self.gpus_per_chain
        return 1.0 / self.chains_per_gpu if experiment.device.type == "cuda" else 0.0

    def worker_threads(self, experiment: Schedulable) -> int:
        """Torch threads per task: ``train.threads``, never ``cpus_per_chain`` (the numbers
        would then depend on the executor)."""
        return experiment.threads

    def execute(self, experiment: Schedulable) -> None:
        try:
            import ray
        except ImportError:
            raise MissingDependencyError(INSTALL_HINT) from None
        started_here = not ray.is_initialized()
        if started_here:
            options: dict[str, Any] = {
                "include_dashboard": False,
                "logging_level": logging.WARNING,
                "log_to_driver": False,
            }
            if self.address:
                ray.init(address=self.address, **options)
            else:
                ray.init(num_cpus=self.num_cpus, **options)
        spec = experiment.worker_spec(self.worker_threads(experiment))
        task = ray.remote(run_unit).options(
            num_cpus=self.cpus_per_chain, num_gpus=self.gpu_share(experiment), max_retries=0
        )

        def submit(unit: WorkUnit, dependency: object | None):
            args = (spec, unit) if dependency is None else (spec, unit, dependency)
            return task.remote(*args)

        def wait(handles: list, timeout: float) -> tuple[list, list]:
            done, not_done = ray.wait(handles, num_returns=1, timeout=timeout)
            return list(done), list(not_done)

        install_driver_handlers()  # ray.init sets its own SIGTERM handler in the driver

        def cancel(handles: list) -> None:  # the run stops: end its tasks, queued or running
            for handle in handles:
                ray.cancel(handle, force=True)

        try:
            UnitScheduler(experiment, submit, wait, ray.get, chain_on_handles=True, cancel=cancel).run()
        finally:
            if started_here:
                ray.shutdown()
