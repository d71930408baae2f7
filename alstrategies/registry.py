"""Name -> factory registries for strategies, datasets and models.

Built-in entries register themselves with :meth:`Registry.register`; third-party packages (and
``baselines`` and ``benchmarks``, which ``alstrategies`` never imports) register through the
entry-point groups ``alstrategies.strategies``, ``alstrategies.datasets``,
``alstrategies.models`` and ``alstrategies.executors``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any


class UnknownNameError(KeyError):
    """Raised for a name that no registry entry or entry point provides."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class Registry:
    """A mapping from names to factories, filled lazily from an entry-point group."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._entries: dict[str, Any] = {}
        self._loaded_entry_points = False

    def register(self, name: str, factory: Any = None, *, replace: bool = False) -> Any:
        """Register ``factory`` under ``name``; usable as a decorator when ``factory`` is None."""

        def add(obj: Any) -> Any:
            if name in self._entries and self._entries[name] is not obj and not replace:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return add if factory is None else add(factory)

    def unregister(self, name: str) -> None:
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
                f"unknown {self.kind} {name!r}; registered: {', '.join(self.names()) or 'none'}"
                f" (third-party {self.kind}s register through the entry-point group"
                f" '{self.group}')"
            )
        entry = self._entries[name]
        if hasattr(entry, "load") and hasattr(entry, "group"):
            entry = self._entries[name] = entry.load()
        return entry

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._entries)

    def describe(self) -> dict[str, str]:
        """First docstring line of every entry, for ``alstrategies list``."""
        out = {}
        for name in self.names():
            try:
                doc = (self.get(name).__doc__ or "").strip().splitlines()
                out[name] = doc[0] if doc else ""
            except Exception as error:  # a broken plug-in must not break the listing
                out[name] = f"<failed to load: {error}>"
        return out


STRATEGIES = Registry("strategy", "alstrategies.strategies")
DATASETS = Registry("dataset", "alstrategies.datasets")
MODELS = Registry("model", "alstrategies.models")
EXECUTORS = Registry("executor", "alstrategies.executors")


def create(registry: Registry, name: str, /, **options: Any) -> Any:
    """Instantiate the entry ``name`` of ``registry`` with keyword options."""
    factory: Callable[..., Any] = registry.get(name)
    return factory(**options)
