"""Finding the strategy to check: a registered name, a ``module:Class`` path or a class."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from alstrategies.conformance.subject import Subject
from alstrategies.errors import StrategyLoadError
from alstrategies.registry import STRATEGIES


def load_class(path: str) -> type:
    """Import ``module:Class`` (the current directory is importable, as with ``python -m``)."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise StrategyLoadError(f"expected a registered strategy name or module:Class, got {path!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise StrategyLoadError(f"cannot import module {module_name!r} of {path!r}: {error}") from error
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise StrategyLoadError(f"module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise StrategyLoadError(f"{path!r} is {obj!r}, not a class")
    return obj


def resolve(name_or_class: str | type) -> Subject:
    """A :class:`Subject` for a registered name, a ``module:Class`` path or a class.

    Raises :class:`~alstrategies.registry.UnknownNameError` (listing the registered names) for
    an unknown name and :class:`StrategyLoadError` for a path or entry point that does not load.
    """
    if isinstance(name_or_class, type):
        return Subject(
            name_or_class, getattr(name_or_class, "name", "") or name_or_class.__name__, registered=False
        )
    if ":" in name_or_class:
        factory = load_class(name_or_class)
        return Subject(factory, getattr(factory, "name", "") or factory.__name__, registered=False)
    try:
        factory = STRATEGIES.get(name_or_class)
    except ImportError as error:
        raise StrategyLoadError(
            f"strategy {name_or_class!r} is registered but does not import: {error}"
        ) from error
    return Subject(factory, name_or_class)
