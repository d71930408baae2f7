"""Atomic file writes: readers see the old file or the new one, never half of one.

Everything a run or a report writes goes through :func:`atomic_stream`: the content is written
to a temporary file in the target's folder, flushed to disk and renamed over the target; on
any error (or a kill) the target is untouched and the temporary file is removed or left as an
ignorable ``.<name>.*.tmp``. Files get the mode the umask gives (not ``mkstemp``'s 0600).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def current_umask() -> int:
    """This process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def respect_umask(path: str | Path, directory: bool = False) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would have given it (0666 or 0777 less
    the umask): ``mkstemp``/``mkdtemp`` create 0600/0700, which shared run folders and caches
    cannot use."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


#: The temporary files of the writes in progress in this process (for :func:`remove_partial_files`).
_IN_FLIGHT: set[str] = set()


@contextmanager
def atomic_stream(path: str | Path) -> Iterator[BinaryIO]:
    """A binary stream whose content replaces ``path`` when the block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    _IN_FLIGHT.add(temporary)
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        respect_umask(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    finally:
        _IN_FLIGHT.discard(temporary)


def remove_partial_files() -> None:
    """Remove the temporary files of this process's writes in progress (a process that must end
    at once, on a signal, calls it: the targets keep their old content)."""
    for temporary in list(_IN_FLIGHT):
        Path(temporary).unlink(missing_ok=True)
        _IN_FLIGHT.discard(temporary)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_stream(path) as stream:
        stream.write(text.encode())
