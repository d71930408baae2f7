"""Dependency-aware submission shared by the executors: a seed's ``round0`` first, then its
``full`` model and its chains; progress polled from the run folder."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from alstrategies.engine.units import Schedulable, WorkUnit
from alstrategies.errors import UnitFailed

__all__ = ["UnitFailed", "UnitScheduler"]


class UnitScheduler:
    """Submit units as their dependencies finish and report progress while waiting.

    ``submit(unit, dependency)`` starts a unit and returns a handle; ``dependency`` is the handle
    of the seed's round0 (None for round0 itself) for executors that can chain handles (Ray),
    and ``wait(handles, timeout)`` returns ``(finished, pending)``; ``result(handle)`` re-raises
    a worker's exception; ``cancel(handles)``, when given, stops the pending handles' units when
    the driver is interrupted (a failed unit lets the running ones finish).
    """

    def __init__(
        self,
        experiment: Schedulable,
        submit: Callable[[WorkUnit, Any], Any],
        wait: Callable[[list[Any], float], tuple[list[Any], list[Any]]],
        result: Callable[[Any], Any],
        chain_on_handles: bool = False,
        poll_seconds: float = 2.0,
        cancel: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self.experiment = experiment
        self.submit = submit
        self.wait = wait
        self.result = result
        self.chain_on_handles = chain_on_handles
        self.poll_seconds = poll_seconds
        self.cancel = cancel

    def _dependents(self, round0: WorkUnit) -> Iterable[WorkUnit]:
        return (unit for unit in self.experiment.units() if unit.needs(round0))

    def run(self) -> None:
        experiment = self.experiment
        pending: dict[object, WorkUnit] = {}
        round0 = [unit for unit in experiment.units() if unit.kind == "round0"]
        for unit in round0:
            handle = self.submit(unit, None)
            pending[handle] = unit
            if self.chain_on_handles:  # Ray: dependents wait on the handle inside the cluster
                for dependent in self._dependents(unit):
                    pending[self.submit(dependent, handle)] = dependent
        try:
            while pending:
                finished, _ = self.wait(list(pending), self.poll_seconds)
                for handle in finished:
                    unit = pending.pop(handle)
                    try:
                        self.result(handle)
                    except Exception as error:
                        raise UnitFailed(f"{unit.label} failed in a worker: {error}") from error
                    if unit.kind == "round0" and not self.chain_on_handles:
                        for dependent in self._dependents(unit):
                            pending[self.submit(dependent, None)] = dependent
                _report_progress(experiment)
        except KeyboardInterrupt:  # Ctrl-C or a signal (engine.stopping): nothing pending goes on
            if self.cancel is not None:
                self.cancel(list(pending))
            raise
        finally:
            _report_progress(experiment)


def _report_progress(experiment: Schedulable) -> None:
    """Move the driver's bar to what the run folder records (workers report through it)."""
    done, cost = experiment.completed_work()
    experiment.progress_tracker.set(done, cost=cost)
