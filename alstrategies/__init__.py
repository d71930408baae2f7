"""alstrategies: benchmark active-learning query strategies for medical image segmentation.

The library holds the strategy interface and registry, SBC-AL, models, datasets, the shared
trainer, metrics, the active-learning loop and reporting. The baseline strategies
(``alstrategies.baselines``) and the executors (``alstrategies.executors``) register through
entry points, as plug-ins do: the core never imports them.

The plug-in contract is importable from the package itself (loaded on first use, so that
``import alstrategies`` stays cheap): :class:`QueryStrategy`, :class:`RankingStrategy`,
:class:`ScoreStrategy`, :class:`QueryContext`, :class:`QueryResult`, :class:`ModelOutput`,
:func:`check_strategy` (the conformance checks) and :func:`load_config`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from alstrategies import _moved

__version__ = "0.1.0"

_moved.install()  # the run-engine modules' old top-level paths (alstrategies.loop, ...) still import

#: Public name -> the module that defines it (imported lazily by :func:`__getattr__`).
_EXPORTS: dict[str, str] = {
    "QueryStrategy": "alstrategies.strategy",
    "RankingStrategy": "alstrategies.strategy",
    "ScoreStrategy": "alstrategies.strategy",
    "QueryContext": "alstrategies.strategy",
    "QueryResult": "alstrategies.strategy",
    "ModelOutput": "alstrategies.types",
    "check_strategy": "alstrategies.conformance",
    "load_config": "alstrategies.config",
}

__all__ = [
    "ModelOutput",
    "QueryContext",
    "QueryResult",
    "QueryStrategy",
    "RankingStrategy",
    "ScoreStrategy",
    "__version__",
    "check_strategy",
    "load_config",
]

if TYPE_CHECKING:
    from alstrategies.config import load_config
    from alstrategies.conformance import check_strategy
    from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy, RankingStrategy, ScoreStrategy
    from alstrategies.types import ModelOutput


def __getattr__(name: str) -> Any:
    """Import an exported name from its module on first access (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
