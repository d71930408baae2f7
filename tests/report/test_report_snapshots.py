"""Snapshot files (save/load/validate) and the qualitative figures drawn from hand-made ones."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from alstrategies.cli import main
from alstrategies.report import (
    SNAPSHOT_KEYS,
    SnapshotError,
    find_snapshots,
    load_snapshot,
    save_snapshot,
    snapshot_path,
    write_report,
)
from alstrategies.report.qualitative import overlay_rgba, parse_budget, resolve_budget, slice_dice
from tests.report.test_report import make_results

N, H, W = 3, 24, 24


def _arrays(rng: np.random.Generator, shift: int = 0, sbc: bool = False) -> dict:
    yy, xx = np.mgrid[:H, :W]
    labels = np.zeros((N, H, W), np.uint8)
    for i in range(N):
        labels[i][(yy - 12) ** 2 + (xx - 12) ** 2 < (6 + i) ** 2] = 2
        labels[i][(yy - 12) ** 2 + (xx - 12) ** 2 < (3 + i) ** 2] = 1
    arrays = {
        "images": (labels + rng.normal(0, 0.3, (N, H, W))).astype(np.float64),
        "labels": labels,
        "prediction": np.roll(labels, shift, axis=2).astype(np.int64),
        "slice_names": [f"patient{i:03d}_frame01:{i + 2}" for i in range(N)],
    }
    if sbc:
        arrays.update(
            coarse=np.roll(labels, shift + 1, axis=1),
            distance=rng.random((N, 2, H, W)),
            cs_high_images=rng.normal(size=(3, H, W)),
            cs_high_scores=[0.9, 0.8, 0.7],
            cs_low_images=rng.normal(size=(2, H, W)),
            cs_low_scores=np.array([0.1, 0.05]),
        )
    return arrays


def test_save_and_load_round_trip_with_stored_dtypes(tmp_path):
    rng = np.random.default_rng(0)
    arrays = _arrays(rng, shift=1, sbc=True)
    path = save_snapshot(snapshot_path(tmp_path, "sbc_al", 0, 3), **arrays)
    assert path == tmp_path / "snapshots" / "sbc_al" / "seed0" / "round3.npz"
    loaded = load_snapshot(path)
    assert set(loaded) == set(SNAPSHOT_KEYS)
    for key, (dtype, _, _) in SNAPSHOT_KEYS.items():
        assert loaded[key].dtype.kind == "U" if dtype == "str" else loaded[key].dtype == np.dtype(dtype), key
    np.testing.assert_array_equal(loaded["labels"], arrays["labels"])
    np.testing.assert_array_equal(loaded["prediction"], arrays["prediction"])
    np.testing.assert_allclose(loaded["images"], arrays["images"], rtol=1e-6)
    np.testing.assert_allclose(loaded["distance"], arrays["distance"], atol=1e-3)
    assert loaded["slice_names"].tolist() == arrays["slice_names"]
    assert loaded["cs_high_scores"].tolist() == [0.9, 0.8, 0.7]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary left
    assert find_snapshots(tmp_path) == {("sbc_al", 0, 3): path}


def test_save_accepts_torch_tensors_and_leaves_optional_arrays_out(tmp_path):
    arrays = _arrays(np.random.default_rng(1))
    tensors = {k: torch.as_tensor(v) if k != "slice_names" else v for k, v in arrays.items()}
    path = save_snapshot(tmp_path / "x.npz", **tensors)
    assert set(load_snapshot(path)) == {"images", "labels", "prediction", "slice_names"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": None}, "missing required arrays labels"),
        ({"prediction": np.zeros((N, H, W + 1), np.uint8)}, "prediction has shape"),
        ({"prediction": np.zeros((N, H, W), np.float32)}, "integer class labels"),
        ({"labels": np.full((N, H, W), 300)}, "outside 0..255"),
        ({"slice_names": ["a"]}, "slice_names must be"),
        ({"images": np.zeros((H, W))}, "images must be"),
        ({"distance": np.zeros((N, H, W))}, "distance must be"),
        ({"cs_high_images": np.zeros((2, H, W))}, "go together"),
        ({"cs_low_images": np.zeros((2, H, W)), "cs_low_scores": [1.0]}, "cs_low_scores"),
    ],
)
def test_invalid_snapshots_are_refused_and_not_written(tmp_path, change, message):
    arrays = {**_arrays(np.random.default_rng(2)), **change}
    path = tmp_path / "bad.npz"
    with pytest.raises(SnapshotError, match=message):
        save_snapshot(path, **arrays)
    assert not os.listdir(tmp_path)


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_snapshot(tmp_path / "s.npz", **_arrays(np.random.default_rng(3)))
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        save_snapshot(path, **_arrays(np.random.default_rng(4)))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["s.npz"]


def test_load_names_a_corrupt_file(tmp_path):
    bad = tmp_path / "round0.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(SnapshotError, match="round0.npz"):
        load_snapshot(bad)
    np.savez_compressed(tmp_path / "partial.npz", images=np.zeros((1, 2, 2), np.float32))
    with pytest.raises(SnapshotError, match="missing required arrays"):
        load_snapshot(tmp_path / "partial.npz")


def test_helpers():
    assert parse_budget("20%") == parse_budget("20") == parse_budget(0.2) == pytest.approx(0.2)
    with pytest.raises(ValueError):
        parse_budget("0")
    results = make_results(budgets=(0.1, 0.2, 0.3, 0.4))
    assert resolve_budget(results) == 0.3  # sorted(budgets)[len // 2]
    assert resolve_budget(results, "10.2%") == 0.1
    label = np.array([[0, 1], [2, 2]])
    rgba = overlay_rgba(label)
    assert rgba[0, 0, 3] == 0 and rgba[0, 1, 3] > 0 and not np.array_equal(rgba[0, 1], rgba[1, 0])
    assert slice_dice(label, label) == 1.0
    assert slice_dice(np.array([[1, 0]]), np.array([[1, 1]])) == pytest.approx(2 / 3)
    assert np.isnan(slice_dice(np.zeros((2, 2)), np.zeros((2, 2))))


def _write_snapshots(run, results, seed=0, sbc=True, skip=()):
    rng = np.random.default_rng(5)
    for k, strategy in enumerate(dict.fromkeys(results["strategy"])):
        if strategy in skip:
            continue
        for round_index in sorted(results.loc[results.budget < 1, "round"].unique()):
            arrays = _arrays(rng, shift=k, sbc=sbc and strategy == "sbc_al")
            save_snapshot(snapshot_path(run, strategy, seed, round_index), **arrays)


def test_write_report_draws_the_qualitative_figures(tmp_path, capsys):
    results = make_results(strategies=("random", "margin", "sbc_al"))
    _write_snapshots(tmp_path, results)
    written = write_report(results, tmp_path, ["A", "B"])
    names = [p.name for p in written]
    assert names[-2:] == ["qualitative.png", "sbcal_outputs.png"] and written.notes == []
    qualitative = imread(tmp_path / "qualitative.png")
    sbcal = imread(tmp_path / "sbcal_outputs.png")
    # 5 columns (image, truth, 3 strategies) x 3 rows; 5 columns x (3 slices + 2 CS rows)
    assert qualitative.shape[1] > qualitative.shape[0] and sbcal.shape[0] > sbcal.shape[1]
    # CLI with an explicit budget and seed
    results.to_csv(tmp_path / "results.csv", index=False)
    assert main(["report", str(tmp_path), "--budget", "30%", "--seed", "0", "--slices", "2"]) == 0
    assert "qualitative.png" in capsys.readouterr().out


def test_missing_snapshots_are_reported_not_raised(tmp_path):
    results = make_results(strategies=("random", "margin", "sbc_al"))
    _write_snapshots(tmp_path, results, skip=("sbc_al",))
    written = write_report(results, tmp_path)
    assert [p.name for p in written][-1] == "qualitative.png"
    assert any("no snapshot for sbc_al" in n for n in written.notes)
    assert any("sbcal_outputs.png skipped" in n for n in written.notes)
    written = write_report(results, tmp_path, seed=7)
    assert "qualitative.png" not in [p.name for p in written]
    assert any("no snapshot for seed 7" in n for n in written.notes)


def test_snapshots_with_different_slices_are_an_error(tmp_path):
    results = make_results(strategies=("random", "margin"))
    _write_snapshots(tmp_path, results)
    round_index = int(results.loc[np.isclose(results.budget, 0.2), "round"].iloc[0])
    other = _arrays(np.random.default_rng(9))
    other["slice_names"] = ["x", "y", "z"]
    save_snapshot(snapshot_path(tmp_path, "margin", 0, round_index), **other)
    with pytest.raises(SnapshotError, match="different test slices"):
        write_report(results, tmp_path)
