"""``alstrategies status``: rounds recorded per (strategy, seed), read from the folder alone."""

import pytest

from alstrategies.cli import main
from alstrategies.loop import Experiment
from alstrategies.records import RunLayout
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
    assert "trainings recorded: 12 of 12 (the run's progress bar)" in out and out.rstrip().endswith(
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
