"""The cache's upkeep: a killed write's staging folder is removed by the next build (never a
running build's), and the entry names follow the files' modification times, the loader
options and the cache version."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from alstrategies.data import cache, load_dataset
from tests.volume_files import nnunet_folder

#: Run in a child: build the cache entry of the config in argv[1], stopping while the entry is
#: being written (after pool_images.npy and pool_labels.npy, before volumes.npz).
STOPPED_WRITE = """
import json, os, signal, sys, time
from alstrategies.data import cache, load_dataset
def stop(*args, **kwargs):
    print("writing", flush=True)
    time.sleep(600)
cache.np.savez = stop
load_dataset(json.loads(sys.argv[1]))
"""


@pytest.fixture
def dataset(tmp_path):
    root = nnunet_folder(tmp_path / "Dataset001", cases=6)
    return {"name": "nnunet", "root": str(root), "image_size": 16, "cache_dir": str(tmp_path / "cache")}


def _hidden(config) -> list[str]:
    return sorted(p.name for p in Path(config["cache_dir"]).iterdir() if p.name.startswith("."))


def _start_stopped_write(config) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    child = subprocess.Popen(
        [sys.executable, "-c", STOPPED_WRITE, json.dumps(config)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "writing"
    return child


def test_a_killed_writes_staging_folder_is_removed_by_the_next_build_not_a_running_one(dataset):
    running = _start_stopped_write(dataset)
    try:
        (staging,) = _hidden(dataset)  # the running build's, half written
        assert (Path(dataset["cache_dir"]) / staging / "pool_images.npy").is_file()
        built = load_dataset(dataset)  # a concurrent build must leave it alone
        assert _hidden(dataset) == [staging]
    finally:
        running.send_signal(signal.SIGKILL)
        running.wait()
    assert _hidden(dataset) == [staging]  # killed: nothing removed it yet
    rebuilt = load_dataset(dataset, rebuild=True)  # the next build removes it
    assert _hidden(dataset) == []
    assert rebuilt.info["cache"] == built.info["cache"]
    assert sorted(p.name for p in Path(rebuilt.info["cache"]).iterdir()) == [
        "files.json", "meta.json", "pool_images.npy", "pool_labels.npy", "volumes.npz",
    ]  # fmt: skip


def test_another_hosts_staging_folder_is_removed_only_when_old(dataset):
    from alstrategies.data import cache_staging

    load_dataset(dataset)
    folder = Path(dataset["cache_dir"])
    entry = next(p for p in folder.iterdir() if not p.name.startswith("."))
    fresh, old = cache_staging.new_staging(entry), cache_staging.new_staging(entry)
    for staging in (fresh, old):
        (staging / cache_staging.OWNER_FILE).write_text("another-host 1\n")
    unrelated = folder / ".not-a-staging-folder"
    unrelated.mkdir()
    past = time.time() - cache_staging.STALE_AFTER_SECONDS - 60
    for path in (old / cache_staging.OWNER_FILE, old, unrelated):
        os.utime(path, (past, past))
    load_dataset(dataset, rebuild=True)
    assert sorted(_hidden(dataset)) == sorted([fresh.name, unrelated.name])


def test_a_file_edited_at_the_same_size_is_noticed_by_its_modification_time(dataset):
    root = Path(dataset["root"])
    notes = root / "notes.txt"
    notes.write_text("aaaa")
    first = load_dataset(dataset)
    notes.write_text("bbbb")  # same size, new content
    later = time.time() + 5
    os.utime(notes, (later, later))
    with pytest.warns(UserWarning, match=r"\(0 added, 0 removed, 1 modified\)"):
        second = load_dataset(dataset)
    assert second.info["cache"] != first.info["cache"]


def test_entries_built_with_other_options_are_kept_without_a_warning(dataset, recwarn):
    small = load_dataset(dataset)
    large = load_dataset({**dataset, "image_size": 32})
    assert small.info["cache"] != large.info["cache"]
    entries = sorted(p for p in Path(dataset["cache_dir"]).iterdir() if not p.name.startswith("."))
    assert [str(p) for p in entries] == sorted([small.info["cache"], large.info["cache"]])
    assert not [w for w in recwarn if "changed since the cached entry" in str(w.message)]
    assert load_dataset(dataset).info["cache"] == small.info["cache"]  # still a hit


def test_a_new_cache_version_builds_a_new_entry(dataset, monkeypatch):
    old = load_dataset(dataset)
    monkeypatch.setattr(cache, "CACHE_VERSION", cache.CACHE_VERSION + 1)
    new = load_dataset(dataset)
    assert new.info["cache"] != old.info["cache"]
    assert np.array_equal(new.pool_labels, old.pool_labels)
