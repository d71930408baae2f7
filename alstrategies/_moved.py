"""Import paths that moved: the run-engine modules lived at the top level of the package until
they moved into :mod:`alstrategies.engine`. Importing an old path still works, gives the very
same module, and warns once (a ``FutureWarning``, so that users see it) with the new path."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import warnings
from types import ModuleType

#: Old module path -> its new one.
MOVED: dict[str, str] = {
    f"alstrategies.{name}": f"alstrategies.engine.{name}"
    for name in (
        "data_fingerprint",
        "layout",
        "loop",
        "progress",
        "protocol",
        "records",
        "round_record",
        "run_folder",
        "run_log",
        "selection",
        "units",
        "worker",
    )
}


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old path of :data:`MOVED` to the module at its new path."""

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; import {new} instead", FutureWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """The module at the new path is already executed."""


def install() -> None:
    """Put the finder last on ``sys.meta_path`` (once): real modules are always found first."""
    import sys

    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
