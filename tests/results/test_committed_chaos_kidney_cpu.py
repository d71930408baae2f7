"""The committed CHAOS kidney CPU study (issue 25, docs/results.md) meets what its preset
promises: checked on the records in ``results/chaos_kidney_cpu`` once ``alstrategies status``
calls the run complete."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest

from alstrategies.report.schedule import schedule_check
from alstrategies.status import run_status

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "results" / "chaos_kidney_cpu"
PRESET = ROOT / "benchmarks" / "configs" / "chaos_kidney_cpu.toml"

pytestmark = pytest.mark.skipif(
    not (RUN / "config.json").is_file() or not run_status(RUN).complete,
    reason="results/chaos_kidney_cpu is not complete yet (benchmarks/studies/chaos_kidney_cpu.sh resumes it)",
)


def test_every_arm_of_the_preset_has_ten_seeds_and_the_schedule_holds():
    names = tomllib.loads(PRESET.read_text())["strategies"]["names"]
    results = pd.read_csv(RUN / "results.csv")
    check = schedule_check(results, RUN)
    assert sorted(check.seeds) == sorted(names)
    assert all(n == 10 for n in check.seeds.values())
    assert [round(100 * b, 2) for b in check.budgets] == [6.67, 10, 13.33, 16.67, 20, 23.33, 26.67, 30, 33.33]
    assert check.threads == [1] and check.full_is_bound_by_construction
    assert results["hd95_unit"].eq("mm").all() and "dice_kidney" in results


def test_the_study_took_at_most_four_hours():
    from alstrategies.engine.run_log import invocation_minutes

    assert sum(invocation_minutes(RUN / "run.log")) <= 240


def test_the_summary_opens_with_the_controls_verdicts():
    head = (RUN / "summary.md").read_text().split("## Schedule")[0]
    assert "What this run can detect" in head
    assert "random_foreground_oracle" in head and "empty_first" in head
