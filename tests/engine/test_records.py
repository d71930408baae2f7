"""results.csv from the run's records: the record cache gives the same bytes and skips unchanged files."""

from __future__ import annotations

import numpy as np
import pytest

from alstrategies.engine import records
from alstrategies.engine.records import RunLayout, record_cache, write_record, write_results

CLASSES = ["A", "B"]


def _record(strategy: str | None, seed: int, round_index: int, value: float) -> dict:
    return {
        "strategy": strategy,
        "seed": seed,
        "round": round_index,
        "budget": 1.0 if strategy is None else 0.1 * (round_index + 1),
        "n_labeled": 10 * round_index,
        "fraction": 0.1 * round_index,
        "dice": value,
        "hd95": float("nan") if round_index == 1 else 2.0 * value,
        "iterations": 5,
        "dice_per_class": np.array([value, value / 2]),
        "hd95_per_class": [1.0, None],
        "train_seconds": 3.0 * value,
        "query_seconds": 0.5,
        "eval_seconds": 0.1,
        "labeled": np.arange(5),
    }


def _fill(layout: RunLayout) -> None:
    for k, strategy in enumerate(("random", "margin")):
        for seed in (0, 1):
            for r in range(3):
                write_record(
                    layout.strategy_round(strategy, seed, r), _record(strategy, seed, r, 0.1 * (k + r + seed))
                )
    write_record(layout.shared(0, "full"), _record(None, 0, 9, 0.9))


def _files(layout: RunLayout) -> str:
    return layout.results.read_text() + "\n" + layout.timings.read_text()


def _fresh(layout: RunLayout, include_full: bool = True, class_names: list[str] = CLASSES) -> str:
    """The files written by a new layout of the same folder (an empty cache)."""
    fresh = RunLayout(layout.root)
    write_results(fresh, class_names, include_full)
    return _files(fresh)


def test_cached_results_match_a_fresh_read_as_records_change(tmp_path):
    layout = RunLayout(tmp_path)
    _fill(layout)
    write_results(layout, CLASSES)
    assert _files(layout) == _fresh(layout)
    steps = [
        lambda: write_record(layout.strategy_round("random", 0, 1), _record("random", 0, 1, 0.77)),  # changed
        lambda: layout.strategy_round("margin", 1, 2).unlink(),  # deleted
        lambda: write_record(layout.strategy_round("random", 1, 3), _record("random", 1, 3, 0.4)),  # added
        lambda: layout.shared(0, "full").unlink(),  # shared full row deleted
        lambda: write_record(layout.shared(1, "full"), _record(None, 1, 9, 0.8)),  # another full row
    ]
    for step in steps:
        before = _files(layout)
        step()
        write_results(layout, CLASSES)
        cached = _files(layout)
        assert cached != before
        assert cached == _fresh(layout)
    write_results(layout, CLASSES, include_full=False)
    assert _files(layout) == _fresh(layout, include_full=False)
    write_results(layout, CLASSES[:1])  # other class names: rows are rebuilt
    assert (
        _files(layout) == _fresh(layout, class_names=CLASSES[:1])
        and "dice_B" not in layout.results.read_text()
    )


def test_deleted_record_leaves_the_table_and_the_cache(tmp_path):
    layout = RunLayout(tmp_path)
    _fill(layout)
    frame = write_results(layout, CLASSES)
    assert len(record_cache(layout)) == 12 + 1
    layout.strategy_round("random", 0, 2).unlink()
    shorter = write_results(layout, CLASSES)
    assert len(shorter) == len(frame) - 1 and len(record_cache(layout)) == 12
    assert not ((shorter.strategy == "random") & (shorter.seed == 0) & (shorter["round"] == 2)).any()
    for path in layout.strategy_records():
        path.unlink()
    assert write_results(layout, CLASSES).empty and len(record_cache(layout)) == 0


def test_unchanged_records_are_not_parsed_again(tmp_path, monkeypatch):
    layout = RunLayout(tmp_path)
    _fill(layout)
    read: list[str] = []
    original = records.read_record

    def counting(path):
        read.append(path.relative_to(tmp_path).as_posix())
        return original(path)

    monkeypatch.setattr(records, "read_record", counting)
    write_results(layout, CLASSES)
    assert len(read) == 12 + 1
    read.clear()
    write_results(layout, CLASSES)
    assert read == []
    write_record(layout.strategy_round("margin", 0, 1), _record("margin", 0, 1, 0.5))
    write_record(layout.strategy_round("margin", 0, 3), _record("margin", 0, 3, 0.6))
    write_results(layout, CLASSES)
    assert sorted(read) == ["strategies/margin/seed0/round1.json", "strategies/margin/seed0/round3.json"]


def test_corrupt_record_is_named_and_not_cached(tmp_path):
    layout = RunLayout(tmp_path)
    _fill(layout)
    write_results(layout, CLASSES)
    path = layout.strategy_round("random", 1, 0)
    path.write_text("{not json")
    with pytest.raises(RuntimeError, match="round0.json is corrupt"):
        write_results(layout, CLASSES)
    write_record(path, _record("random", 1, 0, 0.3))
    write_results(layout, CLASSES)
    assert _files(layout) == _fresh(layout)


def test_results_columns_follow_the_registry_and_todays_order(tmp_path):
    layout = RunLayout(tmp_path)
    _fill(layout)
    header = write_results(layout, CLASSES).columns.tolist()
    today = (
        "strategy,seed,round,budget,n_labeled,fraction,dice,hd95,iterations,dice_A,dice_B,hd95_A,hd95_B,"
        "hd95_misses_A,hd95_misses_B,hd95_unit"
    )
    assert layout.results.read_text().splitlines()[0] == today  # the default columns
    assert header == today.split(",")
    # surface Dice in one record: its mean after hd95, its classes after hd95's; NaN elsewhere
    path = layout.strategy_round("margin", 1, 2)
    record = {**_record("margin", 1, 2, 0.3), "surface_dice": 0.625, "surface_dice_per_class": [0.5, None]}
    write_record(path, record)
    frame = write_results(layout, CLASSES)
    assert frame.columns.tolist() == [
        *today.split(",")[:8],
        "surface_dice",
        "iterations",
        *today.split(",")[9:13],
        "surface_dice_A",
        "surface_dice_B",
        *today.split(",")[13:],
    ]
    assert _files(layout) == _fresh(layout)
    row = frame[(frame.strategy == "margin") & (frame.seed == 1) & (frame["round"] == 2)]
    assert row[["surface_dice", "surface_dice_A"]].values.tolist() == [[0.625, 0.5]]
    assert np.isnan(row["surface_dice_B"].item())
    assert frame["surface_dice"].notna().sum() == 1
    # when the record no longer has it, the columns go away again
    write_record(path, _record("margin", 1, 2, 0.3))
    assert write_results(layout, CLASSES).columns.tolist() == today.split(",")


def test_miss_counts_and_the_unit_reach_results_csv_and_old_records_leave_them_empty(tmp_path):
    layout = RunLayout(tmp_path)
    _fill(layout)  # records written before misses and units were recorded
    new = {**_record("margin", 0, 1, 0.4), "hd95_misses_per_class": [2, 0], "hd95_unit": "voxels"}
    write_record(layout.strategy_round("margin", 0, 1), new)
    frame = write_results(layout, CLASSES)
    row = frame[(frame.strategy == "margin") & (frame.seed == 0) & (frame["round"] == 1)].iloc[0]
    assert [row["hd95_misses_A"], row["hd95_misses_B"], row["hd95_unit"]] == [2, 0, "voxels"]
    others = frame.drop(index=row.name)
    assert others[["hd95_misses_A", "hd95_misses_B", "hd95_unit"]].isna().all().all()
    lines = layout.results.read_text().splitlines()
    header = lines[0].split(",")
    at = [header.index(c) for c in ("hd95_misses_A", "hd95_misses_B", "hd95_unit")]
    cells = [[line.split(",")[i] for i in at] for line in lines[1:]]
    assert cells.count(["2", "0", "voxels"]) == 1  # whole numbers, not 2.0
    assert cells.count(["", "", ""]) == len(cells) - 1  # old records: empty cells
    assert _files(layout) == _fresh(layout)
