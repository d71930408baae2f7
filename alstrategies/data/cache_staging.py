"""Staging folders of the dataset cache: where an entry is written before it is renamed into
place, and the removal of those that a killed build left behind.

A staging folder ``<cache_dir>/.<entry>.<random>/`` holds an ``owner`` file naming the host and
process that write it. The next build removes a staging folder when its writer is gone: on
this host, when that process no longer runs; otherwise (another host sharing the cache, or a
folder without ``owner``) when nothing in it changed for :data:`STALE_AFTER_SECONDS`, far longer
than any write takes. A running build's staging folder is therefore never removed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

#: A staging folder of another host (or without owner) untouched for this long is stale.
STALE_AFTER_SECONDS = 24 * 3600
OWNER_FILE = "owner"
_STAGING = re.compile(r"^\..+-[0-9a-f]{16}(?:-[0-9a-f]{12})?\.[A-Za-z0-9_]{8}$")


def new_staging(entry: Path) -> Path:
    """A fresh staging folder beside ``entry``, its ``owner`` file written."""
    staging = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}."))
    (staging / OWNER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}\n")
    return staging


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _last_change(folder: Path) -> float:
    times = [folder.stat().st_mtime]
    for path in folder.rglob("*"):
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            continue
    return max(times)


def is_stale(folder: Path, now: float | None = None) -> bool:
    """Whether the writer of the staging folder ``folder`` is gone (module docstring)."""
    try:
        host, pid = (folder / OWNER_FILE).read_text().split()
        if host == socket.gethostname():
            return not _running(int(pid))
    except (OSError, ValueError):
        pass
    return (time.time() if now is None else now) - _last_change(folder) > STALE_AFTER_SECONDS


def remove_stale_staging(cache_dir: Path) -> list[Path]:
    """Remove the stale staging folders in ``cache_dir``; returns them."""
    if not cache_dir.is_dir():
        return []
    removed = []
    for folder in sorted(cache_dir.iterdir()):
        if _STAGING.match(folder.name) and folder.is_dir() and is_stale(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
