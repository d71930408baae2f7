"""The output folder of ``alstrategies run``: checked before anything is written, then held.

:func:`hold_run_folder` refuses an ``--out`` that is a file, or a folder that holds files but is
not a run folder (no ``config.json``; for an ablation grid, no ``grid.json``), creates the
folder and takes an exclusive ``flock`` on its lock file (``RunLayout.lock``) for as long as
the run lasts. A second invocation into the same folder is refused with the PID and host of
the one that holds it. The lock belongs to an open file, so the kernel drops it when its
process ends in any way (also ``kill -9``): a stale lock file is never an obstacle. Worker
processes do not inherit it (spawned, and the descriptor is not inheritable); the driver
holds it for them. A file system that refuses to write (read-only, no permission) is one line.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from alstrategies.engine.layout import GridLayout, RunLayout
from alstrategies.errors import ConfigError, RunFolderMismatch

__all__ = ["FolderLock", "check_out_folder", "hold_run_folder"]

log = logging.getLogger("alstrategies")

#: What :func:`hold_run_folder` tells the user to choose instead of a folder it refuses.
CHOOSE = "choose an empty or new folder, or an existing run folder to resume"


def _unwritable(root: Path, error: OSError) -> ConfigError:
    reason = error.strerror or str(error)
    return ConfigError(f"cannot write the run folder {root} ({reason}): choose a writable --out folder")


def check_out_folder(root: Path, grid: bool = False) -> None:
    """Refuse ``root`` unless it is new, empty (but for a lock file), or a run folder (with
    ``grid``: an ablation grid folder) to resume; nothing is written."""
    lock = RunLayout(root).lock
    marker = GridLayout(root).manifest if grid else RunLayout(root).config
    kind = "an ablation grid folder" if grid else "a run folder"
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--out {root} is a file, not a folder: {CHOOSE}")
    if not root.is_dir():
        return
    try:
        entries = [p for p in root.iterdir() if p.name != lock.name]
    except OSError as error:
        raise _unwritable(root, error) from None
    if entries and not marker.is_file():
        raise RunFolderMismatch(
            f"--out {root} holds {len(entries)} file(s) or folder(s) but is not {kind} "
            f"(it has no {marker.name}): {CHOOSE}"
        )


class FolderLock:
    """An exclusive, non-blocking ``flock`` on ``path`` that records who holds it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`RunFolderMismatch` naming the process that holds it."""
        for _ in range(10):  # a holder may remove the file between our open and our lock
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise _unwritable(self.path.parent, error) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise RunFolderMismatch(_busy(self.path.parent, holder)) from None
            except OSError as error:  # a file system without locks (some network mounts)
                os.close(fd)
                _warn_unlocked(self.path.parent, error)
                return
            if _same_file(fd, self.path):
                break
            os.close(fd)
        else:
            raise RunFolderMismatch(f"could not lock {self.path}: other processes keep replacing it")
        try:
            os.ftruncate(fd, 0)
            os.write(
                fd, f"{os.getpid()} {socket.gethostname()} {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode()
            )
        except OSError as error:
            os.close(fd)
            raise _unwritable(self.path.parent, error) from None
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file (while still holding it) and let go."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def _same_file(fd: int, path: Path) -> bool:
    """Whether the locked descriptor is still the file at ``path`` (not one removed meanwhile)."""
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _read_holder(fd: int) -> list[str]:
    """(PID, host, since) as the holder wrote them; empty when it has not written them yet."""
    try:
        return os.pread(fd, 512, 0).decode(errors="replace").split(maxsplit=2)
    except OSError:
        return []


def _busy(root: Path, holder: list[str]) -> str:
    if len(holder) < 2 or not holder[0].isdigit():
        return (
            f"run folder {root} is in use by another alstrategies process: wait for it to end "
            f"(`alstrategies status {root}` shows its progress) or stop it, then re-run"
        )
    pid, host = holder[0], holder[1]
    since = f" since {holder[2].strip()}" if len(holder) > 2 else ""
    where = "" if host == socket.gethostname() else f" on host {host}"
    return (
        f"run folder {root} is in use by process {pid}{where}{since}: wait for it to end "
        f"(`alstrategies status {root}` shows how far it is) or stop it with `kill {pid}`{where} "
        "(finished trainings are kept), then re-run"
    )


def _warn_unlocked(root: Path, error: OSError) -> None:
    message = (
        f"cannot lock {root} ({error.strerror or error}): a second run into this folder at the "
        "same time would not be refused"
    )
    log.warning(message)
    print(f"alstrategies: warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def hold_run_folder(root: str | Path, grid: bool = False) -> Iterator[Path]:
    """Check ``root`` (:func:`check_out_folder`), create it and hold its lock while the body
    runs; a folder created here and left empty (a run refused at its start) is removed."""
    root = Path(root)
    check_out_folder(root, grid)
    created = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"--out {root} is a file, not a folder: {CHOOSE}") from None
    except OSError as error:
        raise _unwritable(root, error) from None
    lock = FolderLock(RunLayout(root).lock)
    try:
        lock.acquire()
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                root.rmdir()
        raise
    try:
        yield root
    finally:
        lock.release()
        if created:
            with contextlib.suppress(OSError):
                root.rmdir()  # only an empty folder goes
