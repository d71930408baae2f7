"""The loaders' progress bars, and the switch that silences them (``--quiet``).

Bars show only on a terminal (:func:`alstrategies.engine.progress.bars_enabled`); :func:`set_quiet`
turns them off for the whole process, as the command line does for ``--quiet``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

from alstrategies.engine.progress import bars_enabled

T = TypeVar("T")

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Silence (``True``) or allow (``False``) every dataset loader's progress bar."""
    global _QUIET
    _QUIET = bool(quiet)


def is_quiet() -> bool:
    return _QUIET


def bar(iterable: Iterable[T], desc: str, unit: str) -> tqdm:
    """A tqdm bar over ``iterable``, disabled when quiet or when stderr is not a terminal."""
    return tqdm(iterable, desc=desc, unit=unit, disable=not bars_enabled(not _QUIET))
