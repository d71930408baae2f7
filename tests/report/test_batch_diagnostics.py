"""Batch redundancy diagnostics: pool.csv in the run folder, the numbers on a hand-computed tiny
example, the summary lines, and a quiet skip without pool.csv."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alstrategies.data import load_synthetic
from alstrategies.engine.layout import RunLayout
from alstrategies.engine.loop import Experiment
from alstrategies.engine.records import write_record
from alstrategies.engine.run_folder import POOL_COLUMNS, claim_run_folder
from alstrategies.report.batch_diagnostics import (
    DIAGNOSTIC_COLUMNS,
    batch_diagnostics_markdown,
    batch_diagnostics_table,
    write_batch_diagnostics,
)
from alstrategies.settings import Settings

#: volume A: 5 slices (relative positions 0.1 0.3 0.5 0.7 0.9), B: 3 (1/6, 1/2, 5/6), C: 1 (1/2)
POOL = pd.DataFrame(
    {
        "index": range(9),
        "volume": ["A"] * 5 + ["B"] * 3 + ["C"],
        "slice": [0, 1, 2, 3, 4, 0, 1, 2, 0],
        "slices_in_volume": [5] * 5 + [3] * 3 + [1],
        "foreground": [0, 1, 1, 1, 0, 1, 1, 0, 1],
    }
)


def _folder(tmp_path, pool: bool = True) -> RunLayout:
    layout = RunLayout(tmp_path)
    if pool:
        layout.root.mkdir(parents=True, exist_ok=True)
        POOL.to_csv(layout.pool_table, index=False)
    for strategy, seed, round_index, budget, queried in [
        ("random", 0, 0, 0.2, [0, 1, 2, 7, 8]),
        ("random", 1, 1, 0.3, [3]),
        ("random", 1, 2, 0.4, []),  # the last round queries nothing
        ("badge", 0, 0, 0.2, [6, 4, 5]),
    ]:
        record = {
            "strategy": strategy,
            "seed": seed,
            "round": round_index,
            "budget": budget,
            "queried": queried,
        }
        write_record(layout.strategy_round(strategy, seed, round_index), record)
    return layout


def test_the_numbers_of_a_hand_computed_example(tmp_path):
    table = batch_diagnostics_table(_folder(tmp_path).root)
    assert table.columns.tolist() == DIAGNOSTIC_COLUMNS
    rows = {(r.strategy, r.seed, r.round): r for r in table.itertuples()}
    assert set(rows) == {("random", 0, 0), ("random", 1, 1), ("badge", 0, 0)}
    # [0, 1, 2, 7, 8]: volumes A, B, C; A0-A1 and A1-A2 adjacent; A0 and B2 at an end; A0, B2 empty
    first = rows[("random", 0, 0)]
    assert (first.batch_size, first.volumes, first.adjacent_pairs) == (5, 3, 2)
    assert (first.volume_share, first.end_share, first.empty_share, first.budget) == pytest.approx(
        (0.6, 0.4, 0.4, 0.2)
    )
    # [6, 4, 5]: volumes A, B; B0-B1 adjacent (A4 is not next to them); A4 and B0 at an end; A4 empty
    badge = rows[("badge", 0, 0)]
    assert (badge.batch_size, badge.volumes, badge.adjacent_pairs) == (3, 2, 1)
    assert (badge.volume_share, badge.end_share, badge.empty_share) == pytest.approx((2 / 3, 2 / 3, 1 / 3))
    single = rows[("random", 1, 1)]  # [3]: A3, relative position 0.7: not an end slice
    assert (single.volumes, single.volume_share, single.adjacent_pairs, single.end_share) == (1, 1.0, 0, 0.0)


def test_the_summary_lines_put_random_first(tmp_path):
    lines = batch_diagnostics_markdown(_folder(tmp_path).root)
    assert lines[0] == "## Batch redundancy"
    assert any("9 slices, 3 volumes) holds 44.4% end slices and 33.3% empty" in line for line in lines)
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| Strategy")]
    assert [row.split(" | ")[0] for row in rows] == ["| random", "| badge"]
    # random: the mean of its two batches (k 5 and 1, volumes 3 and 1, ...)
    assert rows[0] == "| random | 3.0 | 2.0 | 80.0% | 1.00 | 20.0% | 20.0% |"
    assert rows[1] == "| badge | 3.0 | 2.0 | 66.7% | 1.00 | 66.7% | 33.3% |"


def test_a_folder_without_pool_csv_skips_quietly(tmp_path):
    layout = _folder(tmp_path, pool=False)
    assert batch_diagnostics_table(layout.root).empty
    assert write_batch_diagnostics(layout.root, tmp_path / "out") == []
    assert batch_diagnostics_markdown(layout.root) == [] and batch_diagnostics_markdown(None) == []
    assert not (tmp_path / "out" / "batch_diagnostics.csv").exists()


def test_claiming_a_folder_writes_pool_csv_and_resuming_restores_it(tiny_config, tmp_path):
    data = load_synthetic(image_size=32, train_patients=3, test_patients=1, slices_per_patient=4)
    layout = RunLayout(tmp_path)
    claim_run_folder(layout, Settings.from_config(tiny_config()), data)
    pool = pd.read_csv(layout.pool_table, dtype={"volume": str})
    assert pool.columns.tolist() == POOL_COLUMNS and len(pool) == 12
    assert pool["slice"].tolist() == [0, 1, 2, 3] * 3 and (pool["slices_in_volume"] == 4).all()
    assert pool["volume"].tolist() == [str(g) for g in data.pool_groups]
    expected = [int(data.pool_labels[i].any()) for i in range(12)]
    assert pool["foreground"].tolist() == expected
    text = layout.pool_table.read_text()
    layout.pool_table.unlink()  # a folder written before pool.csv existed
    claim_run_folder(layout, Settings.from_config(tiny_config()), data)
    assert layout.pool_table.read_text() == text


def test_a_run_passes_the_slice_layout_to_the_strategies_and_reports_its_batches(tiny_config, tmp_path):
    names = ["random", "stratified_random", "empty_first"]
    Experiment(tiny_config(), tmp_path, strategies=names, progress=False).run()
    written = write_batch_diagnostics(tmp_path, tmp_path)
    table = pd.read_csv(written[0])
    assert sorted(set(table["strategy"])) == sorted(names) and (table["batch_size"] == 3).all()
    assert np.allclose(table["volume_share"], table["volumes"] / table["batch_size"])


def test_the_summary_of_a_run_ends_with_its_batch_redundancy(tiny_config, tmp_path):
    from alstrategies.report import write_report

    results = Experiment(tiny_config(), tmp_path, strategies=["random", "empty_first"], progress=False).run()
    write_report(results, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "## Batch redundancy" in summary
    section = summary.split("## Batch redundancy")[1]
    assert section.index("| random |") < section.index("| empty_first |")  # Random first
