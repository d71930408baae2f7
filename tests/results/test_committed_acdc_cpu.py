"""The committed real-ACDC CPU study (issue 17, docs/results.md) meets what its preset promises:
checked on the records in ``results/`` once ``alstrategies status`` calls the run complete."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from alstrategies.report.schedule import schedule_check
from alstrategies.status import run_status

RESULTS = Path(__file__).resolve().parents[2] / "results"
RUN = RESULTS / "acdc_cpu"
FIVE_SEEDS = {
    "random", "max_entropy", "least_confidence", "margin", "mean_std", "vaal", "sbc_al",
    "oracle", "confident", "random_foreground",
}  # fmt: skip
THREE_SEEDS = {"bald", "power_bald", "power_entropy", "power_sbc_al", "coreset", "typiclust", "badge"}

pytestmark = pytest.mark.skipif(
    not (RUN / "config.json").is_file() or not run_status(RUN).complete,
    reason="results/acdc_cpu is not complete yet (benchmarks/studies/acdc_cpu.sh resumes it)",
)


def test_the_schedule_carries_the_curve():
    results = pd.read_csv(RUN / "results.csv")
    check = schedule_check(results, RUN)
    assert check.round0_mean >= 0.55
    assert check.full_above_every_budget and check.full_is_bound_by_construction
    assert [round(100 * b, 2) for b in check.budgets] == [6.67, 10, 13.33, 16.67, 20, 23.33, 26.67, 30, 33.33]
    assert check.threads == [1]
    assert {s for s, n in check.seeds.items() if n == 5} >= FIVE_SEEDS
    assert all(check.seeds.get(name, 0) >= 3 for name in THREE_SEEDS)


def test_the_summary_states_what_it_can_detect_and_the_controls_verdict():
    summary = (RUN / "summary.md").read_text()
    assert "What this run can detect" in summary and "## Schedule" in summary
    for control in ("oracle", "confident"):
        assert control in summary.split("## Schedule")[0]


def _study_logs() -> list[Path]:
    return [
        RUN / "run.log",
        RESULTS / "acdc_cpu_paper" / "run.log",
        *sorted((RESULTS / "ablation_asr_cpu").glob("*/run.log")),
    ]


@pytest.mark.skipif(
    not (RESULTS / "ablation_asr_cpu" / "ablation_reference.md").is_file(),
    reason="the study's last step (the ASR ablation) has not been written yet",
)
def test_the_whole_study_took_at_most_four_hours():
    from alstrategies.engine.run_log import invocation_minutes

    logs = _study_logs()
    assert len(logs) == 5 and all(log.is_file() for log in logs)  # 2 runs + 3 ASR variants (attention reused)
    assert sum(sum(invocation_minutes(log)) for log in logs) <= 240
    assert run_status(RESULTS / "acdc_cpu_paper").complete
    for variant in ("none", "add", "concat"):
        assert run_status(RESULTS / "ablation_asr_cpu" / variant).complete


@pytest.mark.skipif(
    not (RESULTS / "ablation_asr_cpu" / "ablation_reference.md").is_file(),
    reason="the study's last step (the ASR ablation) has not been written yet",
)
def test_status_calls_the_ablation_grid_complete(capsys):
    from alstrategies.cli import main

    assert main(["status", str(RESULTS / "ablation_asr_cpu")]) == 0
    out = capsys.readouterr().out
    assert "ablation grid of 4 variants (none, add, concat, attention)" in out
    assert out.rstrip().endswith("\ncomplete")


@pytest.mark.skipif(
    not (RESULTS / "ablation_asr_cpu" / "ablation_reference.md").is_file(),
    reason="the study's last step (the ASR ablation) has not been written yet",
)
def test_the_committed_ablation_tables_are_what_the_report_writes_from_the_records(tmp_path):
    """Table 3 at CPU scale, its paired differences and the paper beside it: regenerated from
    the committed results.csv files, byte for byte the committed ones."""
    import json
    import shutil

    from alstrategies.report import write_ablation_report

    grid = RESULTS / "ablation_asr_cpu"
    manifest = json.loads((grid / "grid.json").read_text())
    assert manifest["folders"] == {"attention": "../acdc_cpu"}
    manifest["folders"] = {"attention": str(RUN)}
    (tmp_path / "grid.json").write_text(json.dumps(manifest))
    for variant in ("none", "add", "concat"):
        (tmp_path / variant).mkdir()
        shutil.copy(grid / variant / "results.csv", tmp_path / variant / "results.csv")
    reference = Path(__file__).resolve().parents[2] / "benchmarks/reference/sbcal_miccai2024_acdc_asr.csv"
    write_ablation_report(tmp_path, reference)
    for name in ("ablation_table.md", "ablation_table.csv", "ablation_pairs.csv", "ablation_reference.csv"):
        assert (tmp_path / name).read_bytes() == (grid / name).read_bytes(), name
