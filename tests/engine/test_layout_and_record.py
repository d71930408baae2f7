"""The run folder's paths (only RunLayout knows them) and the typed round record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alstrategies import __version__
from alstrategies.engine.layout import RecordKey, RunLayout
from alstrategies.engine.records import read_record
from alstrategies.engine.round_record import SCHEMA_VERSION, RoundRecord

COMMITTED = Path(__file__).resolve().parents[2] / "results" / "synthetic"


def test_every_path_the_layout_builds_parses_back(tmp_path):
    layout = RunLayout(tmp_path)
    assert layout.parse(layout.strategy_round("sbc_al", 3, 7)) == RecordKey(3, "round", "sbc_al", 7)
    assert layout.parse(layout.snapshot("random", 0, 2)) == RecordKey(0, "round", "random", 2)
    assert layout.parse(layout.shared(4, "round0")) == RecordKey(4, "round0")
    assert layout.parse(layout.shared(1, "full")) == RecordKey(1, "full")
    relative = layout.strategy_round("margin", 2, 1).relative_to(tmp_path)
    assert RunLayout(tmp_path).parse(relative) == RecordKey(2, "round", "margin", 1)
    for other in (layout.config, layout.results, tmp_path / "strategies" / "x" / "seedA" / "round1.json"):
        assert layout.parse(other) is None


def test_listings_keep_only_record_paths(tmp_path):
    layout = RunLayout(tmp_path)
    for path in (
        layout.strategy_round("a", 0, 0),
        layout.strategy_round("b", 1, 2),
        layout.shared(1, "round0"),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    stray = tmp_path / "strategies" / "a" / "seedx" / "round0.json"
    stray.parent.mkdir(parents=True)
    stray.write_text("{}")
    assert [layout.parse(p).strategy for p in layout.strategy_records()] == ["a", "b"]
    assert layout.strategy_records(seed=1) == [layout.strategy_round("b", 1, 2)]
    assert layout.shared_seeds() == [1]


def _as_json(record: dict) -> dict:
    """What the record file holds (arrays as lists, NaN as null)."""
    from alstrategies.engine.records import _jsonable

    return json.loads(json.dumps(_jsonable(record)))


def _record(**overrides) -> RoundRecord:
    values = dict(
        seed=0,
        n_labeled=3,
        fraction=0.1,
        labeled=np.array([5, 1, 9]),
        metrics={"dice": 0.5, "hd95": 2.0, "dice_per_class": [0.4, 0.6], "hd95_per_class": [1.0, 3.0]},
        iterations=10,
        loss_history=[1.0, 0.5],
        torch_threads=1,
        train_seconds=1.5,
        eval_seconds=0.1,
    )
    return RoundRecord(**{**values, **overrides})


def test_a_record_carries_its_schema_and_software_versions():
    out = _record().to_dict()
    assert out["schema"] == SCHEMA_VERSION == 2
    assert out["alstrategies_version"] == __version__ and out["torch_version"]
    assert out["dice"] == 0.5 and out["dice_per_class"] == [0.4, 0.6]  # metric fields are flat
    assert "metrics" not in out and "strategy" not in out and "scores" not in out  # None left out


def test_a_chain_round_queries_from_its_labeled_set():
    chain = _record(weights_sha256="abc").for_chain("random", 0, 0.1, np.array([9, 1, 5]))
    assert chain.strategy == "random" and chain.round == 0 and chain.weights_sha256 == "abc"
    assert chain.labeled.tolist() == [1, 5, 9] and chain.queried.size == 0
    chain.queried = np.array([7, 2])
    assert chain.next_labeled().tolist() == [1, 2, 5, 7, 9]


def test_records_round_trip_through_json(tmp_path):
    from alstrategies.engine.records import write_record

    record = _record(round=2, budget=0.2, strategy="margin", queried=np.array([4]), query_seconds=0.3)
    record.scores = {"candidates": np.array([4, 6]), "score": np.array([0.9, 0.1])}
    path = tmp_path / "r.json"
    write_record(path, record.to_dict())
    back = RoundRecord.from_dict(read_record(path))
    assert _as_json(back.to_dict()) == json.loads(path.read_text())
    assert back.metrics["hd95_per_class"] == [1.0, 3.0] and back.queried.tolist() == [4]


@pytest.mark.skipif(not COMMITTED.is_dir(), reason="the committed phantom run is not in this checkout")
def test_records_written_before_the_schema_read_back_unchanged():
    """Every committed record (schema 1) reads into a RoundRecord and writes back the same keys
    and values, the software versions aside."""
    layout = RunLayout(COMMITTED)
    paths = layout.strategy_records()[:40] + [layout.shared(s, "round0") for s in layout.shared_seeds()]
    assert paths
    for path in paths:
        stored = read_record(path)
        record = RoundRecord.from_dict(stored)
        assert record.schema == stored.get("schema", 1)
        written = _as_json(record.to_dict())
        written.pop("schema")
        stored.pop("schema", None)
        assert written == stored, path


def test_the_record_keys_are_declared_once():
    """``RECORD_KEYS`` is what a record file holds besides its metric fields; the results.csv
    columns copied from records and the metric registry's reserved names come from it."""
    from alstrategies.engine.records import ID_COLUMNS, ITERATIONS, TIMING_COLUMNS
    from alstrategies.engine.round_record import RECORD_KEYS, record_keys
    from alstrategies.metrics.base import RESERVED_NAMES

    full = _record(round=1, budget=0.2, strategy="margin", queried=np.array([4]), query_seconds=0.3)
    full.scores, full.weights_sha256, full.network = {"score": [1.0]}, "abc", "sbc"
    written = set(full.to_dict()) - set(full.metrics)
    assert written == set(RECORD_KEYS)
    assert {*ID_COLUMNS, ITERATIONS, *TIMING_COLUMNS} <= set(RECORD_KEYS)
    assert frozenset(RECORD_KEYS) == RESERVED_NAMES
    assert record_keys("seed", "round") == ["seed", "round"]
    with pytest.raises(ValueError, match="not record keys: rounds"):
        record_keys("seed", "rounds")


def test_class_columns_read_back_into_the_class_names():
    import pandas as pd

    from alstrategies.engine.records import class_columns, class_names_of, miss_columns

    names = ["LV", "RV_cavity", "myo"]
    columns = ["strategy", "dice", "hd95", *class_columns("dice", names), *class_columns("hd95", names)]
    frame = pd.DataFrame(columns=[*columns, *miss_columns(names), "hd95_unit"])
    assert class_columns("dice", names) == ["dice_LV", "dice_RV_cavity", "dice_myo"]
    assert class_names_of(frame) == names  # no other column extends Dice's prefix


@pytest.mark.skipif(not COMMITTED.is_dir(), reason="the committed phantom run is not in this checkout")
def test_the_results_columns_name_the_classes_of_dataset_json():
    import pandas as pd

    from alstrategies.engine.records import class_names_of

    layout = RunLayout(COMMITTED)
    recorded = json.loads(layout.dataset.read_text())["class_names"]
    assert class_names_of(pd.read_csv(layout.results)) == recorded


def test_shared_files_and_the_grid_layout(tmp_path):
    from alstrategies.engine.layout import GridLayout

    layout = RunLayout(tmp_path)
    for path in (layout.shared(0, "round0"), layout.shared(0, "full", "sbc"), layout.shared(2, "round0")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    (layout.shared_seed_dir(0) / "notes.txt").write_text("")
    assert layout.shared_files() == [
        layout.shared(0, "full", "sbc"),
        layout.shared(0, "round0"),
        layout.shared(2, "round0"),
    ]
    assert layout.shared_files(2) == [layout.shared(2, "round0")] and layout.shared_files(5) == []
    assert layout.shared_dir == layout.shared_seed_dir(0).parent == tmp_path / "shared"
    grid = GridLayout(tmp_path)
    assert grid.manifest == tmp_path / "grid.json"
    assert grid.variant("none") == tmp_path / "none"
    assert grid.variant("add", "../run") == tmp_path / "../run"
    assert [p.suffix for p in grid.ablation_table] == [".md", ".tex", ".csv"]
    assert [p.name for p in layout.metric_tables("hd95")] == [
        "hd95_table.md",
        "hd95_table.tex",
        "hd95_table.csv",
    ]
