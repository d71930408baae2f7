"""The dataset cache knows its files: an added, removed or edited case builds a new entry (and
says why) without --rebuild; an interrupted `prepare` prints one line and leaves no entry."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from alstrategies.data import cache, load_dataset
from tests.volume_files import case_label, nnunet_folder, save_nifti


@pytest.fixture
def dataset(tmp_path):
    root = nnunet_folder(tmp_path / "Dataset001", cases=6)
    return {"name": "nnunet", "root": str(root), "image_size": 16, "cache_dir": str(tmp_path / "cache")}


def _entries(config) -> list:
    return sorted(p.name for p in (Path(config["cache_dir"])).iterdir())


def _remove_case(root, case: str) -> None:
    """Delete a training case and lower dataset.json's ``numTraining`` to match (a mismatch is an error)."""
    (root / "imagesTr" / f"{case}_0000.nii.gz").unlink()
    (root / "labelsTr" / f"{case}.nii.gz").unlink()
    manifest = json.loads((root / "dataset.json").read_text())
    manifest["numTraining"] -= 1
    (root / "dataset.json").write_text(json.dumps(manifest))


def test_deleting_a_case_changes_the_pool_without_rebuild(dataset):
    root = Path(dataset["root"])
    first = load_dataset(dataset)
    (entry,) = _entries(dataset)
    assert load_dataset(dataset).info["cache"] == first.info["cache"]  # unchanged files: a hit
    cases = set(first.pool_groups.tolist()) | {v.name for v in first.test_volumes}
    assert len(cases) == 6
    victim = sorted(set(first.pool_groups.tolist()))[0]
    _remove_case(root, victim)
    with pytest.warns(
        UserWarning,
        match=r"nnunet: dataset files changed since the cached entry \(0 added, 2 removed, 1 modified\): rebuilding",  # 1: dataset.json
    ):
        second = load_dataset(dataset)
    remaining = set(second.pool_groups.tolist()) | {v.name for v in second.test_volumes}
    assert remaining == cases - {victim} and second.pool_size < first.pool_size
    (new_entry,) = _entries(dataset)  # the stale entry is replaced, not kept beside it
    assert new_entry != entry and new_entry.rsplit("-", 1)[0] == entry.rsplit("-", 1)[0]


def test_an_edited_or_added_file_is_noticed(dataset):
    root = Path(dataset["root"])
    load_dataset(dataset)
    label = case_label(0)
    label[0, 0, 0] = 2
    path = root / "labelsTr/heart_000.nii.gz"
    save_nifti(path, label)
    later = time.time() + 5
    os.utime(path, (later, later))
    with pytest.warns(UserWarning, match=r"\(0 added, 0 removed, 1 modified\)"):
        load_dataset(dataset)
    (root / "notes.txt").write_text("a file beside the dataset")
    with pytest.warns(UserWarning, match=r"\(1 added, 0 removed, 0 modified\)"):
        load_dataset(dataset)
    (root / ".DS_Store").write_text("hidden files are not the dataset's")
    assert len(_entries(dataset)) == 1
    load_dataset(dataset)
    assert len(_entries(dataset)) == 1


def test_rebuild_still_rebuilds_and_a_cache_inside_the_root_is_not_a_dataset_file(dataset):
    root = Path(dataset["root"])
    inside = {**dataset, "cache_dir": str(root / "cache")}
    first = load_dataset(inside)
    again = load_dataset(inside)  # the entry written into the root does not change the listing
    assert again.info["cache"] == first.info["cache"]
    stamp = (Path(first.info["cache"]) / "meta.json").stat().st_mtime_ns
    rebuilt = load_dataset(inside, rebuild=True)
    assert rebuilt.info["cache"] == first.info["cache"]
    assert (Path(first.info["cache"]) / "meta.json").stat().st_mtime_ns >= stamp
    assert np.array_equal(rebuilt.pool_labels, first.pool_labels)


def test_describe_change_counts():
    old = [("a", 1, 1), ("b", 2, 2), ("c", 3, 3)]
    new = [("a", 1, 1), ("b", 5, 2), ("d", 1, 1)]
    assert cache.describe_change(old, new) == (
        "dataset files changed since the cached entry (1 added, 1 removed, 1 modified): rebuilding"
    )


def test_ctrl_c_during_prepare_prints_one_line_and_leaves_no_entry(dataset, tmp_path, monkeypatch, capsys):
    from alstrategies.cli import main

    (tmp_path / "d.toml").write_text(
        f'[data]\nname = "nnunet"\nimage_size = 16\ncache_dir = "{dataset["cache_dir"]}"\n'
    )

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache.np, "savez", interrupted)  # Ctrl-C while the entry is being written
    assert main(["prepare", str(tmp_path / "d.toml"), "--data", dataset["root"]]) == 130
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "interrupted" in err and "Traceback" not in err
    folder = Path(dataset["cache_dir"])
    assert not folder.exists() or list(folder.iterdir()) == []  # not even the staging folder
    monkeypatch.undo()
    assert main(["prepare", str(tmp_path / "d.toml"), "--data", dataset["root"]]) == 0
    assert len(list(folder.iterdir())) == 1


def test_dataset_warnings_are_shown_as_one_line():
    import warnings

    from alstrategies.data.notices import DatasetWarning, warn

    with pytest.warns(DatasetWarning) as caught:
        warn("folder: class 3 'LV' has no voxel in the pool")
    (record,) = caught
    shown = warnings.formatwarning(record.message, record.category, record.filename, record.lineno)
    assert shown == "alstrategies: warning: folder: class 3 'LV' has no voxel in the pool\n"
    other = warnings.formatwarning("another library's warning", UserWarning, "lib.py", 3)
    assert "lib.py:3: UserWarning: another library's warning" in other  # other warnings keep their format
    assert issubclass(DatasetWarning, UserWarning)
