"""The committed real-ACDC CPU study (issue 25, docs/results.md) meets what its preset
promises: checked on the records in ``results/acdc_cpu`` once ``alstrategies status`` calls the
run complete."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest

from alstrategies.report.schedule import schedule_check
from alstrategies.status import run_status

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "results" / "acdc_cpu"
PRESET = ROOT / "benchmarks" / "configs" / "acdc_cpu.toml"
#: the paper's other baselines, run on five seeds by benchmarks/studies/acdc_cpu.sh (exploratory)
EXPLORATORY = {"max_entropy", "margin", "mean_std", "vaal"}

pytestmark = pytest.mark.skipif(
    not (RUN / "config.json").is_file() or not run_status(RUN).complete,
    reason="results/acdc_cpu is not complete yet (benchmarks/studies/acdc_cpu.sh resumes it)",
)


def test_the_arms_have_their_seeds_and_the_schedule_holds():
    ranked = set(tomllib.loads(PRESET.read_text())["strategies"]["names"])
    results = pd.read_csv(RUN / "results.csv")
    check = schedule_check(results, RUN)
    assert set(check.seeds) == ranked | EXPLORATORY
    assert all(check.seeds[name] == 8 for name in ranked) and len(ranked) == 8
    assert all(check.seeds[name] == 5 for name in EXPLORATORY)
    assert [round(100 * b, 2) for b in check.budgets] == [6.67, 10, 13.33, 16.67, 20, 23.33, 26.67, 30, 33.33]
    assert check.threads == [1] and check.round0_mean >= 0.55
    assert check.full_above_every_budget and check.full_is_bound_by_construction


def test_the_controls_and_the_ranked_family_before_the_exploratory_arms():
    head = (RUN / "summary.md").read_text().split("## Schedule")[0]
    assert "What this run can detect" in head and "No positive control in this run" in head
    assert "**confident** (negative control" in head
    assert "Ranked family:** the 6 strategies with 8 seeds" in head
    assert "Exploratory" in head and all(name in head for name in EXPLORATORY)


def test_the_controls_and_the_ranked_study_took_at_most_four_hours():
    """Steps 1 and 2 (the controls and the ranked family, 528 trainings) are the invocations up
    to the one that began step 3; the whole study's time is stated in docs/results.md."""
    from alstrategies.engine.run_log import invocation_minutes

    minutes = invocation_minutes(RUN / "run.log")
    step3 = _first_invocation_of_step3(RUN / "run.log")
    assert sum(minutes[:step3]) <= 240


def _first_invocation_of_step3(log: Path) -> int:
    starts = [line for line in log.read_text().splitlines() if ": dataset " in line and "] run " in line]
    return next(i for i, line in enumerate(starts) if "'max_entropy'" in line)
