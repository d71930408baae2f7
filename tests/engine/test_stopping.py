"""Stopping a real ``alstrategies run`` with worker processes as people and schedulers do
(issue 28): SIGINT and SIGTERM to the driver alone or to its process group, a second Ctrl-C,
SIGTERM in process and on Ray. Each must end within seconds with the shell's exit status, one
line naming what was kept and the command that resumes, ``run.log``'s reason, no surviving
process and no warning; the resumed run gives the uninterrupted run's ``results.csv`` byte for
byte."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alstrategies.config import load_config
from alstrategies.engine.layout import RunLayout
from alstrategies.engine.loop import Experiment
from alstrategies.engine.stopping import RunInterrupted, exit_status, signal_name
from tests.conftest import TINY

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads the process table from /proc"),
]

STRATEGIES = "random,max_entropy"
#: One seed, two strategies, three budgets: 6 trainings, each long enough to be stopped midway.
GRID = [*TINY, "model.heads=plain", "train.iterations=60", "snapshots.slices=0"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
BOUND_SECONDS = 10.0


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> bytes:
    """``results.csv`` of an uninterrupted in-process run."""
    out = tmp_path_factory.mktemp("reference")
    Experiment(load_config(None, GRID), out, strategies=STRATEGIES.split(","), progress=False).run()
    return RunLayout(out).results.read_bytes()


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.toml"
    path.write_text("# settings come from --set\n")
    return path


def _command(config_file: Path, out: Path, *extra: str) -> list[str]:
    command = [sys.executable, "-m", "alstrategies", "run", str(config_file), "--out", str(out), "--quiet"]
    command += ["--strategies", STRATEGIES, "--seeds", "0", *extra]
    for assignment in GRID:
        command += ["--set", assignment]
    return command


def _alive_in_group(group: int) -> list[str]:
    """The processes of process group ``group`` that have not exited (zombies excluded)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state != "Z":
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            alive.append(f"{stat.parent.name} {state} {command[:200]}")
    return alive


def _records(out: Path) -> int:
    """Trainings recorded: the shared models and the strategies' rounds after round 0."""
    return len(list(out.glob("shared/seed*/*.json"))) + len(
        list(out.glob("strategies/*/seed*/round[1-9]*.json"))
    )


def _stop(command: list[str], out: Path, signum: int, to_group: bool, when: str = "mid", twice: bool = False):
    """Start ``command``, send ``signum`` (to the driver or its group) once ``when`` holds
    ("start": run.log exists; "mid": the round-0 model is recorded), and return
    ``(exit status, seconds to exit, stderr, survivors)``."""
    process = subprocess.Popen(
        command, env=ENV, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    ready = (lambda: RunLayout(out).log.is_file()) if when == "start" else (lambda: _records(out) >= 1)
    deadline = time.monotonic() + 120
    try:
        while not ready():
            assert process.poll() is None, f"the run ended before the signal: {process.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "the run did not get going in time"
            time.sleep(0.01)
        assert _records(out) < 6, "the signal should land before the run's end"
        send = (lambda: os.killpg(process.pid, signum)) if to_group else (lambda: process.send_signal(signum))
        sent = time.monotonic()
        send()
        if twice:
            time.sleep(0.05)
            send()
        try:
            _, err = process.communicate(timeout=60)  # EOF once every process holding stderr is gone
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running 60 s after the signal: {_alive_in_group(process.pid)}")
        seconds = time.monotonic() - sent
        settle = time.monotonic() + 5  # a process that is exiting may still be listed a moment
        while _alive_in_group(process.pid) and time.monotonic() < settle:
            time.sleep(0.05)
        return process.returncode, seconds, err, _alive_in_group(process.pid)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _resume(command: list[str]) -> None:
    finished = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]


@pytest.mark.parametrize(
    ("signum", "to_group", "when"),
    [
        (signal.SIGINT, False, "mid"),  # an IDE's stop button, timeout -s INT: the driver alone
        (signal.SIGINT, True, "mid"),  # a terminal's Ctrl-C: the whole foreground group
        (signal.SIGTERM, False, "mid"),  # a scheduler's time limit or preemption
        (signal.SIGTERM, True, "start"),  # kill -TERM -PGID while the dataset and round 0 are built
    ],
    ids=["sigint-driver", "ctrl-c-group", "sigterm-driver", "sigterm-group-at-start"],
)
def test_a_signal_stops_the_run_and_it_resumes_to_the_same_results(
    reference, tmp_path, config_file, signum, to_group, when
):
    out = tmp_path / "run"
    command = _command(config_file, out, "--workers", "2")
    status, seconds, err, survivors = _stop(command, out, signum, to_group, when)
    name = signal.Signals(signum).name
    assert status == 128 + signum, err
    assert seconds < BOUND_SECONDS
    assert survivors == []
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # no traceback, no leaked-semaphore warning
    assert lines[0].startswith(f"alstrategies: interrupted by {name}; ")
    assert f"trainings recorded in {out}" in lines[0] or when == "start"
    assert lines[0].endswith("to resume: " + shlex.join(["alstrategies", *command[3:]]))
    assert not list(out.glob("**/.*.tmp")), "a temporary file of a write stayed"
    log = RunLayout(out).log.read_text().splitlines()
    ended = [line for line in log if "invocation ended" in line]
    assert ended and ended[-1].endswith(f"recorded; interrupted by {name}")
    recorded = _records(out)
    _resume(command)
    assert _records(out) > recorded
    assert RunLayout(out).results.read_bytes() == reference


def test_a_second_ctrl_c_ends_at_once(reference, tmp_path, config_file):
    out = tmp_path / "run"
    command = _command(config_file, out, "--workers", "2")
    status, seconds, err, survivors = _stop(command, out, signal.SIGINT, True, twice=True)
    # 130 from the second handler, or -SIGINT when the second Ctrl-C lands while the
    # interpreter exits (its own handlers are gone by then): a shell shows 130 for both
    assert status in (130, -signal.SIGINT), err
    assert seconds < BOUND_SECONDS and survivors == []
    assert "Traceback" not in err and "leaked" not in err
    assert err.strip().splitlines()[-1].endswith("run the same command to resume") or "to resume:" in err
    _resume(command)
    assert RunLayout(out).results.read_bytes() == reference


def test_sigterm_in_process(tmp_path, config_file):
    """Without workers the driver itself trains: SIGTERM still ends it with one line and 143."""
    out = tmp_path / "run"
    status, seconds, err, survivors = _stop(_command(config_file, out), out, signal.SIGTERM, False)
    assert status == 143 and seconds < BOUND_SECONDS and survivors == []
    assert (
        err.strip().startswith("alstrategies: interrupted by SIGTERM; ")
        and len(err.strip().splitlines()) == 1
    )


def _ray_processes() -> set[str]:
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "ray::" in text or "raylet" in text or "gcs_server" in text:
            found.add(cmdline.parent.name)
    return found


def test_sigterm_to_a_ray_driver_cancels_its_tasks(tmp_path, config_file):
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'alstrategies[ray]')")
    before = _ray_processes()
    out = tmp_path / "run"
    command = _command(config_file, out, "--executor", "ray", "--set", "executor.cpus_per_chain=1")
    status, seconds, err, _ = _stop(command, out, signal.SIGTERM, False)
    assert status == 143, err
    assert "alstrategies: interrupted by SIGTERM; " in err and "Traceback" not in err
    deadline = time.monotonic() + 30
    while _ray_processes() - before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _ray_processes() - before, "a Ray process outlived the driver"


def test_the_exit_status_and_name_of_a_stop() -> None:
    assert exit_status(KeyboardInterrupt()) == 130 and signal_name(KeyboardInterrupt()) == "SIGINT"
    assert exit_status(RunInterrupted(signal.SIGTERM)) == 143
    assert signal_name(RunInterrupted(signal.SIGTERM)) == "SIGTERM"
    assert isinstance(RunInterrupted(signal.SIGTERM), KeyboardInterrupt)


def test_a_plain_keyboard_interrupt_after_sigterm_still_reports_sigterm() -> None:
    """Ray's ``wait`` re-raises a plain ``KeyboardInterrupt`` for the driver's ``RunInterrupted``:
    the stop is still reported as the signal the handler received."""
    from alstrategies.engine import stopping

    with stopping.stop_on_signals():
        with pytest.raises(RunInterrupted):
            stopping._on_signal(signal.SIGTERM, None)
        assert exit_status(KeyboardInterrupt()) == 143 and signal_name(KeyboardInterrupt()) == "SIGTERM"
    with stopping.stop_on_signals():
        assert exit_status(KeyboardInterrupt()) == 130
