"""The one family of user-facing errors (a leaf module: it imports nothing of the package).

Every error that a user can cause -- a bad config value, a missing or corrupt file, an impossible
budget, a run folder started with other settings -- subclasses :class:`AlstrategiesError` and
keeps the built-in base it always had (``ValueError``, ``KeyError``, ``RuntimeError``, ...), so
existing ``except ValueError`` code still works. The CLI prints these as one line; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations


class AlstrategiesError(Exception):
    """Base class of every error whose message tells the user what to fix."""


class ConfigError(AlstrategiesError, ValueError):
    """A configuration problem, with a message that names the key and the fix."""


class BudgetError(AlstrategiesError, ValueError):
    """A budget schedule that cannot be run on this pool."""


class DatasetError(AlstrategiesError, ValueError):
    """A dataset file or folder that is missing, corrupt or not what its loader expects."""


class UnknownNameError(AlstrategiesError, KeyError):
    """A name that no registry entry or entry point provides."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class MissingFileError(AlstrategiesError, FileNotFoundError):
    """A file or folder the user pointed at (a run folder, a grid, a results table) that is not there."""


class MissingDependencyError(AlstrategiesError, RuntimeError):
    """An optional dependency that the chosen setting needs is not installed (e.g. Ray)."""


class EmptyPoolError(AlstrategiesError, ValueError):
    """A query asked of a pool with no unlabeled image left."""


class StrategyContractError(AlstrategiesError, RuntimeError):
    """A strategy answered a query with indices that break the contract (DESIGN section 2)."""


class StrategyLoadError(AlstrategiesError, ValueError):
    """A strategy named by ``module:Class`` or registry name that cannot be loaded."""


class RunFolderMismatch(AlstrategiesError, RuntimeError):
    """The run folder was started with a different config or on other data."""


class RecordError(AlstrategiesError, RuntimeError):
    """A record or checkpoint in a run folder that is missing, corrupt or inconsistent."""


class EmptyResultsError(RecordError, ValueError):
    """A results table without a row (e.g. a header-only ``results.csv``): nothing to report."""


class SnapshotError(AlstrategiesError, ValueError):
    """A snapshot file that cannot be read for the qualitative figures."""


class ReferenceTableError(AlstrategiesError, ValueError):
    """A published reference table (``--reference``) that cannot be read or matched."""


class UnitFailed(AlstrategiesError, RuntimeError):
    """A work unit that failed in an executor's worker (its message carries the worker's error).

    The worker's error is chained as ``__cause__``; the CLI prints a ``UnitFailed`` as one line
    only when that cause is itself an :class:`AlstrategiesError` (a bug keeps its traceback).
    """
