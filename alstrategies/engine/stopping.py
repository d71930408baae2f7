"""Stopping a run the way people and schedulers do: Ctrl-C (once or twice), SIGINT or SIGTERM
to the driver alone or to its whole process group.

The driver turns its first SIGINT or SIGTERM into :class:`RunInterrupted` (a
``KeyboardInterrupt``), so that the executors stop their workers, ``run.log`` records why the
invocation ended and the command line prints one line; a second signal ends the process at
once. Worker processes leave SIGINT to the driver (a terminal's Ctrl-C reaches them too) and
end at once on SIGTERM, removing the temporary file of a write in progress. Records are atomic,
so a stopped unit leaves nothing half-written and the next invocation redoes it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from alstrategies.atomic import remove_partial_files

#: The signals a driver stops on.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(KeyboardInterrupt):
    """The driver received ``signum``; a ``KeyboardInterrupt``, so ``except KeyboardInterrupt``
    code (and Python's own Ctrl-C handling) treats SIGTERM like a Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _signum(stop: BaseException) -> int:
    """The signal behind ``stop``: its own, else the one this process's handler received (a
    library may re-raise a plain ``KeyboardInterrupt``: Ray's ``wait`` does), else SIGINT."""
    if isinstance(stop, RunInterrupted):
        return stop.signum
    return _received[-1] if _received else int(signal.SIGINT)


def signal_name(stop: BaseException) -> str:
    """``SIGTERM`` for a stop by SIGTERM, else ``SIGINT`` (a Ctrl-C)."""
    return signal.Signals(_signum(stop)).name


def exit_status(stop: BaseException) -> int:
    """What a shell expects of a process stopped by the signal: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + _signum(stop)


def stop_worker_processes(grace_seconds: float = 5.0) -> None:
    """Stop this process's worker processes: SIGTERM, then SIGKILL after ``grace_seconds``."""
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(grace_seconds)
        if child.is_alive():
            child.kill()
            child.join(1.0)


_stopping = threading.Event()
#: The signals the driver's handler received during :func:`stop_on_signals`, in order.
_received: list[int] = []


def _end_at_once(signum: int) -> None:
    """End this process now, without the temporary files of its writes in progress and with its
    semaphores released (tqdm's lock is one), so that no "leaked semaphore" warning follows."""
    remove_partial_files()
    try:
        from multiprocessing import util

        util._run_finalizers(0)  # type: ignore[attr-defined]  # what a normal exit runs first: SemLock's cleanup among them
    except Exception:  # noqa: BLE001 - ending regardless
        pass
    os._exit(128 + signum)


def _end_now(signum: int) -> None:
    """The second signal: kill the workers and end without waiting for anything."""
    for child in multiprocessing.active_children():
        child.kill()
    name = signal.Signals(signum).name
    os.write(2, f"alstrategies: second {name}: stopped at once; run the same command to resume\n".encode())
    _end_at_once(signum)


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    if _stopping.is_set():
        _end_now(signum)
    _stopping.set()
    _received.append(signum)
    raise RunInterrupted(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While the block runs (in the main thread), the first SIGINT or SIGTERM raises
    :class:`RunInterrupted` and a second ends the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    _stopping.clear()
    _received.clear()
    install_driver_handlers()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _stopping.clear()


def install_driver_handlers() -> None:
    """(Re)install the driver's handlers (after a library that sets its own, such as Ray)."""
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            signal.signal(signum, _on_signal)


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread while the block runs: processes started in it inherit the
    mask and never see a terminal's Ctrl-C (the driver stops them); a SIGINT that arrives
    meanwhile is delivered to this process when the block ends, not lost."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _worker_terminated(signum: int, _frame: FrameType | None) -> None:
    _end_at_once(signum)


def install_worker_handlers() -> None:
    """In a worker process: ignore SIGINT (the driver stops the workers) and end at once on
    SIGTERM, without the temporary file of a write in progress."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_terminated)
