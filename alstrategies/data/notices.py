"""Warnings of the dataset loaders (a stale cache entry, a class without voxels, an ignore label),
shown as one line ``alstrategies: warning: ...`` instead of Python's two-line file:line format.

They are :class:`DatasetWarning` (a ``UserWarning``), so ``pytest.warns`` and the ``warnings``
filters handle them as usual; only their display is shortened, and other warnings keep theirs.
"""

from __future__ import annotations

import warnings
from typing import Any


class DatasetWarning(UserWarning):
    """Something about a dataset that the user should know but that does not stop the run."""


def _install() -> None:
    """Wrap ``warnings.formatwarning`` (once) so that a :class:`DatasetWarning` prints as one line;
    recording (``catch_warnings(record=True)``, ``pytest.warns``) is untouched."""
    if getattr(warnings.formatwarning, "_alstrategies", False):
        return
    original = warnings.formatwarning

    def formatwarning(
        message: Any, category: type[Warning], filename: str, lineno: int, line: Any = None
    ) -> str:
        if isinstance(category, type) and issubclass(category, DatasetWarning):
            return f"alstrategies: warning: {message}\n"
        return original(message, category, filename, lineno, line)

    formatwarning._alstrategies = True  # type: ignore[attr-defined]
    warnings.formatwarning = formatwarning


def warn(message: str) -> None:
    """Issue ``message`` as a :class:`DatasetWarning` (one line on stderr)."""
    _install()
    warnings.warn(message, DatasetWarning, stacklevel=3)
