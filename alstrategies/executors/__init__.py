"""Executors of the experiment grid: ``local`` (this process or a pool of worker processes,
several chains packed per GPU) and ``ray`` (a Ray cluster). Both run the same
:class:`alstrategies.engine.loop.WorkUnit` s through :func:`alstrategies.engine.loop.run_unit`, which writes
the same atomic records, so a run may be resumed with either. They register through the
entry-point group ``alstrategies.executors`` (``alstrategies run --executor NAME``).
"""

from alstrategies.executors.local import LocalExecutor
from alstrategies.executors.scheduling import UnitScheduler

__all__ = ["LocalExecutor", "UnitScheduler"]
