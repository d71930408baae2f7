"""Executors and resumption: the local pool, Ray and a real kill of a run all give exactly the
results.csv of an uninterrupted in-process run of the same config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from alstrategies.config import load_config
from alstrategies.engine.loop import Experiment, WorkUnit
from alstrategies.engine.records import RunLayout
from alstrategies.executors.local import LocalExecutor
from alstrategies.executors.ray_executor import RayExecutor
from tests.conftest import TINY

STRATEGIES = ["random", "max_entropy"]
#: A tiny grid: 2 seeds x 2 strategies x 3 budgets, plus round0 and full per seed.
#: No train.threads: the default (1 per training) must make every executor agree.
GRID = [*TINY, "model.heads=plain", "protocol.seeds=[0, 1]", "snapshots.slices=2"]


def _config() -> dict:
    return load_config(None, GRID)


def _reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    Experiment(_config(), out, strategies=STRATEGIES, progress=False).run()
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted in-process run of the tiny grid."""
    return _reference(tmp_path_factory)


def _same_results(a: Path, b: Path) -> None:
    text_a, text_b = RunLayout(a).results.read_text(), RunLayout(b).results.read_text()
    frame = pd.read_csv(RunLayout(b).results)
    assert not frame.duplicated(["strategy", "seed", "round"]).any()
    assert len(frame) == 2 * len(STRATEGIES) * 4  # 3 budgets + the 100 % row
    assert text_a == text_b


def test_units_and_dependencies(tmp_path):
    experiment = Experiment(_config(), tmp_path, strategies=STRATEGIES, progress=False)
    units = experiment.units()
    assert units[:2] == [WorkUnit("round0", 0), WorkUnit("full", 0)]
    assert {u for u in units if u.kind == "chain"} == {
        WorkUnit("chain", s, n) for s in (0, 1) for n in STRATEGIES
    }
    assert experiment.total_trainings() == 2 * (2 + 2 * 2)
    experiment.claim_folder()
    with pytest.raises(RuntimeError, match="round-0 model .* missing"):
        experiment.run_unit(WorkUnit("chain", 0, "random"))
    experiment.close_log()


def test_thread_counts_come_from_the_config_never_the_machine(tmp_path, monkeypatch):
    """In process, in a pool and on Ray a training uses train.threads (default 1), whatever
    the core count or the executor's CPU share: thread counts change the float results."""
    import torch

    import alstrategies.executors.local as local

    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        experiment = Experiment(_config(), tmp_path, strategies=STRATEGIES, progress=False)
        assert torch.get_num_threads() == 1 == experiment.threads
    finally:
        torch.set_num_threads(previous)
    monkeypatch.setattr(local.os, "cpu_count", lambda: 64)
    assert LocalExecutor(workers=2).worker_threads(experiment) == 1
    assert RayExecutor(cpus_per_chain=4).worker_threads(experiment) == 1


def test_units_in_any_valid_order_give_the_same_results(reference, tmp_path):
    """Chains of seed 1 before seed 0, full models last: the records do not depend on order."""
    experiment = Experiment(_config(), tmp_path, strategies=STRATEGIES, progress=False)
    experiment.claim_folder()
    units = experiment.units()
    order = [u for u in units if u.kind == "round0"][::-1]
    order += [u for u in units if u.kind == "chain"][::-1] + [u for u in units if u.kind == "full"]
    for unit in order:
        experiment.run_unit(unit)
    experiment.close_log()
    experiment.results()
    _same_results(reference, tmp_path)


def test_local_process_pool_matches_in_process_run(reference, tmp_path):
    Experiment(_config(), tmp_path, strategies=STRATEGIES, progress=False).run(LocalExecutor(workers=2))
    _same_results(reference, tmp_path)
    log = (tmp_path / "run.log").read_text()
    assert "progress 12/12 trainings" in log


def test_local_executor_rejects_bad_settings():
    with pytest.raises(ValueError, match="executor.workers"):
        LocalExecutor(workers=0)


def _cli(config_file: Path, out: Path, *extra: str) -> list[str]:
    command = [sys.executable, "-m", "alstrategies", "run", str(config_file), "--out", str(out), "--quiet"]
    command += ["--strategies", ",".join(STRATEGIES), "--seeds", "0,1", *extra]
    for assignment in GRID:
        command += ["--set", assignment]
    return command


def _kill_when(
    command: list[str],
    out: Path,
    records: int,
    timeout: float = 120.0,
    until: Callable[[Path], bool] | None = None,
) -> None:
    """Start ``command`` and SIGKILL its whole process group once ``records`` JSON records exist
    (or, given ``until``, once it holds for the run folder)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    process = subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if until(out) if until is not None else len(list(out.glob("**/round*.json"))) >= records:
                break
            if process.poll() is not None:
                pytest.fail(
                    f"the run ended before it could be killed: {process.stderr.read().decode()[-2000:]}"
                )
            time.sleep(0.01)
        else:
            pytest.fail("no records appeared in time")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _finish(command: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]


def _records(out: Path) -> list[Path]:
    """The training records of a run folder (shared models and strategy rounds)."""
    return sorted([*out.glob("shared/seed*/*.json"), *out.glob("strategies/*/seed*/round*.json")])


def _file_identity(path: Path) -> tuple[int, int]:
    """Inode and modification time: an atomic rewrite changes both, even with equal bytes."""
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.toml"
    path.write_text("# settings come from --set\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("records", [1, 5])
def test_killed_and_restarted_run_gives_the_same_results(reference, tmp_path, config_file, records):
    """Retraining a recorded round gives byte-identical records here, so equal results alone
    cannot show that the restart trained only what was missing: every record written before
    the kill must also be the very same file afterwards (not rewritten)."""
    out = tmp_path / "run"
    command = _cli(config_file, out)
    _kill_when(command, out, records)
    done_before = len(list(out.glob("**/round*.json")))
    assert 0 < done_before < 12, "the kill should land midway"
    recorded = {path: _file_identity(path) for path in _records(out)}
    _finish(command)
    _same_results(reference, out)
    assert {path: _file_identity(path) for path in recorded} == recorded, "a recorded training was redone"
    assert len(list((out / "snapshots").glob("**/*.npz"))) == 2 * 3  # seed 0, 2 strategies x 3 rounds


def _mid_chain(out: Path) -> bool:
    """Some chain has recorded round 1 but not round 2."""
    return any(not (p.parent / "round2.json").is_file() for p in out.glob("strategies/*/seed*/round1.json"))


@pytest.mark.slow
def test_a_run_killed_mid_chain_retrains_no_recorded_round(reference, tmp_path, config_file):
    """A restart continues the chain after its last record; a retrained round 1 would give the
    same bytes, so the records written before the kill must be the very same files."""
    out = tmp_path / "run"
    command = _cli(config_file, out)
    _kill_when(command, out, 0, until=_mid_chain)
    assert _mid_chain(out), "the kill should land between a chain's rounds 1 and 2"
    recorded = {path: _file_identity(path) for path in _records(out)}
    _finish(command)
    _same_results(reference, out)
    assert {path: _file_identity(path) for path in recorded} == recorded, "a recorded training was redone"


@pytest.mark.slow
def test_ray_executor_matches_local_and_a_killed_ray_run_resumes(reference, tmp_path, config_file):
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'alstrategies[ray]')")
    from alstrategies.executors.ray_executor import RayExecutor

    Experiment(_config(), tmp_path / "ray", strategies=STRATEGIES, progress=False).run(
        RayExecutor(num_cpus=2)
    )
    _same_results(reference, tmp_path / "ray")

    out = tmp_path / "killed"
    command = _cli(config_file, out, "--executor", "ray", "--set", "executor.cpus_per_chain=1")
    _kill_when(command, out, records=3, timeout=240)
    assert len(list(out.glob("**/round*.json"))) < 12
    _finish(command)  # resumed on Ray too
    _same_results(reference, out)


def _spawned_children(pid: int) -> list[int]:
    """The pool workers (spawned interpreters) among the children of process ``pid``."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc")
def test_pool_workers_stop_when_the_driver_is_killed(tmp_path, config_file):
    """SIGKILL to the driver alone (a scheduler killing the main PID): its workers must not
    carry on unseen; they exit within seconds, leaving only complete records."""
    out = tmp_path / "run"
    command = _cli(config_file, out, "--workers", "2", "--set", "train.iterations=20000")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while time.monotonic() < deadline and not (
            len(workers) == 2 and RunLayout(out).shared(0, "round0").exists()
        ):
            time.sleep(0.2)
            workers = _spawned_children(driver.pid) if driver.poll() is None else []
        assert len(workers) == 2, "the pool did not start"
        driver.kill()
        driver.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
            time.sleep(0.2)
        alive = [
            w
            for w in workers
            if Path(f"/proc/{w}/status").exists() and "zombie" not in Path(f"/proc/{w}/status").read_text()
        ]
        assert not alive, f"workers {alive} outlived their driver"
    finally:
        if driver.poll() is None:
            driver.kill()
