"""The output folder of ``alstrategies run``: refused before anything is written unless it is
new, empty or a run folder, and held by one invocation at a time (``run.lock``, flock)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from alstrategies.cli import main
from alstrategies.engine import folder_lock
from alstrategies.engine.folder_lock import FolderLock, hold_run_folder
from alstrategies.engine.layout import RunLayout
from alstrategies.errors import ConfigError, RunFolderMismatch
from tests.conftest import TINY

ROOT = Path(__file__).resolve().parents[2]
SYNTHETIC = str(ROOT / "benchmarks" / "configs" / "synthetic.toml")


def _run_args(out: Path | str, *extra: str) -> list[str]:
    args = ["run", SYNTHETIC, "--out", str(out), "--strategies", "random", "--quiet", *extra]
    for assignment in [*TINY, "model.heads=plain", "protocol.final_fraction=0.2", "snapshots.slices=0"]:
        args += ["--set", assignment]
    return args


def _one_line(capsys: pytest.CaptureFixture[str], code: int, *fragments: str) -> str:
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("alstrategies: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_folder_of_other_files_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path)
    _one_line(
        capsys,
        main(_run_args(".")),
        "--out . holds 2 file(s) or folder(s) but is not a run folder (it has no config.json)",
        "choose an empty or new folder, or an existing run folder to resume",
    )
    assert _listing(tmp_path) == ["notes.txt", "src"]


def test_an_out_that_is_a_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "results.txt"
    target.write_text("x")
    _one_line(capsys, main(_run_args(target)), f"--out {target} is a file, not a folder")
    assert target.read_text() == "x"
    _one_line(capsys, main(_run_args(target / "run")), f"cannot write the run folder {target / 'run'}")
    with pytest.raises(ConfigError, match="Not a directory"), hold_run_folder(target / "run"):
        pass


def test_a_read_only_file_system_is_one_line(tmp_path, capsys, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(Path, "mkdir", read_only)  # a new folder on a read-only mount
    _one_line(
        capsys, main(_run_args(tmp_path / "new")), "cannot write the run folder", "Read-only file system"
    )
    monkeypatch.undo()
    existing = tmp_path / "existing"
    existing.mkdir()
    monkeypatch.setattr(folder_lock.os, "open", read_only)  # an existing folder on one
    _one_line(capsys, main(_run_args(existing)), f"cannot write the run folder {existing}", "Read-only")
    assert _listing(tmp_path) == ["existing"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_folder_without_write_permission_is_one_line(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        _one_line(capsys, main(_run_args(locked / "run")), "cannot write the run folder", "Permission denied")
    finally:
        locked.chmod(0o755)


def test_a_second_run_into_a_held_folder_names_the_process(tmp_path, capsys):
    out = tmp_path / "run"
    with hold_run_folder(out):
        assert RunLayout(out).lock.is_file()
        _one_line(
            capsys,
            main(_run_args(out)),
            f"run folder {out} is in use by process {os.getpid()} since ",
            f"or stop it with `kill {os.getpid()}`",
        )
        with pytest.raises(RunFolderMismatch, match="in use by process"):
            FolderLock(RunLayout(out).lock).acquire()
    assert not out.exists()  # created by the holder, left empty: removed on release


def test_a_lock_held_by_another_process_refuses_and_a_killed_holder_leaves_none(tmp_path, capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from alstrategies.engine.folder_lock import hold_run_folder\n"
            f"with hold_run_folder({str(out)!r}):\n    print('held', flush=True); sys.stdin.read()",
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        _one_line(capsys, main(_run_args(out)), f"is in use by process {holder.pid} since")
        assert not RunLayout(out).config.exists()  # the refused run wrote nothing
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert RunLayout(out).lock.is_file()  # the killed holder's file stays, its lock does not
    assert main(_run_args(out)) == 0
    capsys.readouterr()
    assert RunLayout(out).results.is_file() and not RunLayout(out).lock.exists()
    assert main(_run_args(out)) == 0  # a run folder resumes
    capsys.readouterr()


def test_a_lock_file_removed_by_its_holder_meanwhile_is_not_taken(tmp_path, monkeypatch):
    path = RunLayout(tmp_path).lock
    first = FolderLock(path)
    first.acquire()
    stale = os.open(path, os.O_RDWR)  # opened before the holder let go and removed the file
    first.release()
    opened = []
    real_open = os.open

    def open_stale_first(*args, **kwargs):
        opened.append(args[0])
        return os.dup(stale) if len(opened) == 1 else real_open(*args, **kwargs)

    monkeypatch.setattr(folder_lock.os, "open", open_stale_first)
    second = FolderLock(path)
    second.acquire()  # locks the removed file first, sees it is gone, locks the one on disk
    monkeypatch.undo()
    assert len(opened) == 2 and os.fstat(stale).st_ino != os.stat(path).st_ino
    with pytest.raises(RunFolderMismatch, match=f"in use by process {os.getpid()}"):
        FolderLock(path).acquire()
    os.close(stale)
    second.release()
    assert not path.exists()
    FolderLock(path).acquire()  # free again
