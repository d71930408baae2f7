"""Name -> factory registries for strategies, datasets, models and executors.

Every entry, built-in or third-party, comes from the entry-point groups ``alstrategies.strategies``,
``alstrategies.datasets``, ``alstrategies.models`` and ``alstrategies.executors`` (see
``pyproject.toml``), imported on first use, so looking a name up needs no import of the package
that provides it. :meth:`Registry.register` adds an entry at run time (tests, notebooks).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import Any

from alstrategies.errors import UnknownNameError

__all__ = [
    "DATASETS",
    "EXECUTORS",
    "MODELS",
    "STRATEGIES",
    "Registry",
    "UnknownNameError",
    "create",
    "did_you_mean",
    "listing",
]


class Registry:
    """A mapping from names to factories, filled lazily from an entry-point group."""

    def __init__(self, kind: str, group: str, plural: str = "") -> None:
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self.group = group
        self._entries: dict[str, Any] = {}
        self._loaded_entry_points = False

    def register(self, name: str, factory: Any = None, *, replace: bool = False) -> Any:
        """Register ``factory`` under ``name``; usable as a decorator when ``factory`` is None.

        Registering a second, different object under a taken name without ``replace=True`` is a
        programming error and raises a plain :class:`ValueError` (shown with its traceback).
        """

        def add(obj: Any) -> Any:
            if name in self._entries and not replace and not _same(self._entries[name], obj):
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return add if factory is None else add(factory)

    def unregister(self, name: str) -> None:
        """Remove ``name`` if present."""
        self._entries.pop(name, None)

    def _load_entry_points(self) -> None:
        if self._loaded_entry_points:
            return
        self._loaded_entry_points = True
        for point in entry_points(group=self.group):
            if point.name not in self._entries:
                self._entries[point.name] = point

    def get(self, name: str) -> Any:
        """The factory registered as ``name`` (entry points are imported on first use)."""
        self._load_entry_points()
        if name not in self._entries:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{did_you_mean([name], self.names())}; "
                f"registered: {', '.join(self.names()) or 'none'}"
                f" (third-party {self.plural} register through the entry-point group"
                f" '{self.group}')"
            )
        entry = self._entries[name]
        if _is_entry_point(entry):
            entry = self._entries[name] = entry.load()
        return entry

    def names(self) -> list[str]:
        """The sorted names of every entry, registered or from entry points (none is imported)."""
        self._load_entry_points()
        return sorted(self._entries)

    def describe(self) -> dict[str, str]:
        """First docstring line of every entry as plain text, for ``alstrategies list``."""
        out = {}
        for name in self.names():
            try:
                doc = (self.get(name).__doc__ or "").strip().splitlines()
                out[name] = plain_text(doc[0]) if doc else ""
            except Exception as error:  # a broken plug-in must not break the listing
                out[name] = f"<failed to load: {error}>"
        return out


def did_you_mean(unknown: Iterable[str], valid: Iterable[str], prefix: str = "") -> str:
    """`` (did you mean max_entropy?)`` for the near misses among ``unknown`` of the names in
    ``valid`` (each shown with ``prefix``), else empty; registries and config keys share it."""
    guesses = [
        f"{prefix}{match[0]}"
        for name in sorted(unknown)
        if (match := difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6))
    ]
    return f" (did you mean {', '.join(guesses)}?)" if guesses else ""


def _is_entry_point(entry: Any) -> bool:
    return hasattr(entry, "load") and hasattr(entry, "group")


def _same(entry: Any, obj: Any) -> bool:
    """Whether ``entry`` is ``obj``, or an entry point (not yet imported) that names ``obj``."""
    if _is_entry_point(entry):
        return entry.value == f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', '')}"
    return entry is obj


def plain_text(line: str) -> str:
    """A docstring line without reST markup: ````x```` and ``:role:`~a.b.X``` become x and X."""
    line = re.sub(r":[a-z]+:`~?(?:[\w.]+\.)?([^`]+)`", r"\1", line)
    return re.sub(r"``([^`]+)``", r"\1", line)


STRATEGIES = Registry("strategy", "alstrategies.strategies", plural="strategies")
DATASETS = Registry("dataset", "alstrategies.datasets")
MODELS = Registry("model", "alstrategies.models")
EXECUTORS = Registry("executor", "alstrategies.executors")


def listing() -> str:
    """What ``alstrategies list`` prints: every strategy (with its family, source and forward
    passes per image), dataset and model, with the first line of its docstring."""
    lines = ["strategies (family; source; forward passes per image):"]
    for name, doc in STRATEGIES.describe().items():
        factory = STRATEGIES.get(name)
        family, source, passes = (
            str(getattr(factory, key, "") or "") for key in ("family", "source", "forward_passes")
        )
        facts = [family or "family not given", source or "source not given", passes or "?"]
        lines.append(f"  {name:<24} {doc}\n  {'':<24} {'; '.join(facts)}")
    for title, registry in (("datasets", DATASETS), ("models", MODELS)):
        lines.append(f"{title}:")
        lines.extend(f"  {name:<24} {doc}" for name, doc in registry.describe().items())
    return "\n".join(lines)


def create(registry: Registry, name: str, /, **options: Any) -> Any:
    """Instantiate the entry ``name`` of ``registry`` with keyword options."""
    factory: Callable[..., Any] = registry.get(name)
    return factory(**options)
