"""``alstrategies status``: rounds recorded per (strategy, seed), read from the folder alone."""

import json

import pytest

from alstrategies.cli import main
from alstrategies.engine.loop import Experiment
from alstrategies.engine.records import RunLayout
from alstrategies.engine.run_log import invocation_minutes
from alstrategies.engine.units import write_plan
from alstrategies.status import run_status


def test_status_counts_rounds_of_a_partial_and_a_finished_run(tiny_config, tmp_path, capsys):
    experiment = Experiment(
        tiny_config(), tmp_path, strategies=["random", "margin"], seeds=[0, 1], progress=False
    )
    experiment.claim_folder()
    for unit in experiment.units():
        if unit.kind == "round0" or (unit.kind == "chain" and unit.seed == 0 and unit.strategy == "random"):
            experiment.run_unit(unit)
    experiment.close_log()
    status = run_status(tmp_path)
    assert status.rounds == 3  # budgets 0.2, 0.3, 0.4 of 30 images
    assert status.chains.loc["random"].tolist() == [3, 1]  # seed 1: only the round0 unit's query
    assert status.chains.loc["margin"].tolist() == [1, 1]
    assert status.shared.to_dict("list") == {"round0": [True, True], "full": [False, False]}
    assert not status.complete

    Experiment(tiny_config(), tmp_path, strategies=["random", "margin"], seeds=[0, 1], progress=False).run()
    assert main(["status", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "trainings recorded: 12 of 12 (all invocations' plans)" in out and out.rstrip().endswith(
        "complete"
    )
    assert run_status(tmp_path).complete


def test_status_of_a_folder_written_before_dataset_json(tiny_config, tmp_path):
    Experiment(tiny_config(), tmp_path, strategies=["random"], progress=False).run()
    (tmp_path / "dataset.json").unlink()  # older folders: the pool size comes from a round-0 record
    assert run_status(tmp_path).rounds == 3 and run_status(tmp_path).complete


def test_status_of_something_that_is_not_a_run_folder(tmp_path, capsys):
    assert main(["status", str(tmp_path)]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError):
        run_status(RunLayout(tmp_path).root)


def test_status_of_a_paper_networks_run_counts_each_networks_shared_models(tiny_config, tmp_path):
    config = tiny_config("protocol.networks=paper", "snapshots.slices=0")
    Experiment(config, tmp_path, strategies=["random", "sbc_al"], progress=False).run()
    status = run_status(tmp_path)
    assert list(status.shared.columns) == ["round0 (plain)", "full (plain)", "round0 (sbc)", "full (sbc)"]
    assert status.complete


def test_wall_time_sums_the_invocations_of_run_log(tmp_path):
    log = tmp_path / "run.log"
    log.write_text(
        "2026-12-01 10:00:00,001 INFO [7] run out: dataset acdc (9 pool images), strategies ['random']\n"
        "2026-12-01 10:05:00,002 INFO [8] round0 seed 0: 9 labeled, dice 0.5, 1.0s\n"
        "2026-12-01 10:30:00,000 INFO [8] progress 1/3 trainings\n"  # then killed: no end line
        "resuming out: 1 of 3 trainings already recorded\n"  # not a log line: ignored
        "2026-12-02 09:00:00,000 INFO [9] run out: dataset acdc (9 pool images), strategies ['random']\n"
        "2026-12-02 09:12:30,000 INFO [9] invocation ended: 3 trainings of out recorded\n"
    )
    assert invocation_minutes(log) == [30.0, 12.5]


def test_status_states_the_wall_time_and_divides_the_time_left_among_workers(tiny_config, tmp_path):
    experiment = Experiment(tiny_config(), tmp_path, strategies=["random"], progress=False)
    experiment.claim_folder()
    units = experiment.units()
    experiment.run_unit(units[0])
    experiment.close_log()
    write_plan(experiment.layout, experiment.plan, ["random"], [0], parallel=1)
    serial = run_status(tmp_path).minutes_left
    write_plan(experiment.layout, experiment.plan, ["random"], [0], parallel=4)
    assert run_status(tmp_path).minutes_left == pytest.approx(serial / 4)
    Experiment(tiny_config(), tmp_path, strategies=["random"], progress=False).run()
    status = run_status(tmp_path)
    assert len(status.invocations) == 2 and "over 2 invocations" in status.text()  # unit by hand, then run()
    assert "invocation ended" in (tmp_path / "run.log").read_text()


def test_a_folder_whose_strategies_ran_with_different_seeds_is_complete(tiny_config, tmp_path):
    Experiment(tiny_config(), tmp_path, strategies=["random"], seeds=[0, 1], progress=False).run()
    Experiment(tiny_config(), tmp_path, strategies=["margin"], seeds=[0], progress=False).run()
    status = run_status(tmp_path)
    assert status.chains.loc["margin"].tolist() == [3, 0] and status.complete  # margin seed 1: never asked
    assert status.trainings == (10, 10)  # both invocations' plans: 2 x 2 shared, 2 x 2 random, 2 margin
    assert status.text().split("seed 1")[-1].split("\n")[2].split()[-1] == "-"  # margin, seed 1
    (tmp_path / "strategies" / "random" / "seed1" / "round2.json").unlink()
    broken = run_status(tmp_path)
    assert not broken.complete and broken.trainings == (9, 10)  # the first invocation's plan still counts


def test_status_of_an_ablation_grid_reads_each_variant_and_a_reused_folders_100_percent_models(
    tiny_config, tmp_path, capsys
):
    """A grid folder: one status per variant, a missing variant makes it incomplete, and a
    reused folder (``folders`` in grid.json) counts by its 100 % models only."""
    grid = tmp_path / "grid"
    grid.mkdir()
    (grid / "grid.json").write_text(
        json.dumps(
            {
                "name": "asr",
                "variants": ["none", "attention"],
                "budget": 1.0,
                "layout": "variant_by_class",
                "folders": {"attention": "../protocol"},
            }
        )
    )
    Experiment(tiny_config(), grid / "none", strategies=["random"], progress=False).run()
    assert main(["status", str(grid)]) == 0
    out = capsys.readouterr().out
    assert "ablation grid of 2 variants (none, attention)" in out
    assert "variant attention: no run folder yet" in out and out.rstrip().endswith(
        "not complete: re-run the same command to resume"
    )

    protocol = Experiment(
        tiny_config(), tmp_path / "protocol", strategies=["random", "margin"], progress=False
    )
    protocol.claim_folder()
    for unit in protocol.units():
        if unit.kind == "round0" or unit.kind == "full":
            protocol.run_unit(unit)
    protocol.close_log()
    assert not run_status(tmp_path / "protocol").complete  # its chains are not all run...
    assert main(["status", str(grid)]) == 0
    out = capsys.readouterr().out
    assert "the 100 % models of" in out and "done" in out
    assert out.rstrip().endswith("\ncomplete")  # ...but the grid needs only its 100 % models


def test_a_report_interrupted_while_it_is_written_leaves_the_folder_incomplete(
    tiny_overrides, tmp_path, capsys, monkeypatch
):
    """Ctrl-C while the report is written: one line saying every training is kept and the
    report is not; ``status`` says so (not "complete") until the report is rewritten."""
    import alstrategies.report.writer as writer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    out = tmp_path / "run"
    command = ["run", "benchmarks/configs/synthetic.toml", "--out", str(out), "--quiet", "--seeds", "0"]
    command += ["--strategies", "random", *[f"--set={o}" for o in tiny_overrides], "--set=snapshots.slices=0"]
    with monkeypatch.context() as patch:
        patch.setattr(writer, "write_summary_files", interrupted)
        assert main(command) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"every training is recorded in {out}, the report is incomplete" in err[0]
    assert not RunLayout(out).summary.exists() and not run_status(out).complete
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert f"report: incomplete (interrupted while it was written): alstrategies report {out}" in text
    assert text.rstrip().endswith("not complete: re-run the same command to resume")
    assert main(["report", str(out)]) == 0
    assert RunLayout(out).summary.is_file() and run_status(out).complete
    assert not RunLayout(out).report_incomplete.exists()
