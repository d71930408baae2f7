"""protocol.networks: one network for every strategy, or the paper's plain U-Net baselines beside
SBC-AL's SBCNet, each (seed, network) with its own round-0 and 100 % model."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from alstrategies.engine.layout import RunLayout
from alstrategies.engine.loop import Experiment
from alstrategies.engine.records import read_record
from alstrategies.engine.units import WorkUnit

STRATEGIES = ["random", "sbc_al"]


@pytest.fixture
def paper_run(tiny_config, tmp_path):
    config = tiny_config("protocol.networks=paper", "snapshots.slices=0")
    experiment = Experiment(config, tmp_path, strategies=STRATEGIES, progress=False)
    experiment.run()
    return experiment


def test_the_paper_setting_trains_two_round0_models_per_seed(paper_run, tmp_path):
    layout = RunLayout(tmp_path)
    assert paper_run.networks == {"random": "plain", "sbc_al": "sbc"}
    for network in ("plain", "sbc"):
        assert layout.shared(0, "round0", network).is_file() and layout.shared(0, "full", network).is_file()
        assert layout.parse(layout.shared(0, "round0", network)).network == network
    assert not layout.shared(0, "round0").exists()
    rounds = len(paper_run.budgets)
    assert paper_run.total_trainings() == 2 * 2 + 2 * (rounds - 1)
    assert paper_run.completed_trainings() == paper_run.total_trainings()
    assert WorkUnit("chain", 0, "random", "plain").needs(WorkUnit("round0", 0, network="plain"))
    assert not WorkUnit("chain", 0, "random", "plain").needs(WorkUnit("round0", 0, network="sbc"))


def test_each_strategy_starts_from_its_own_networks_round0(paper_run, tmp_path):
    layout = RunLayout(tmp_path)
    for name, network in paper_run.networks.items():
        chain0 = read_record(layout.strategy_round(name, 0, 0))
        assert chain0["weights_sha256"] == read_record(layout.shared(0, "round0", network))["weights_sha256"]
        assert chain0["network"] == network
    plain = read_record(layout.shared(0, "round0", "plain"))
    sbc = read_record(layout.shared(0, "round0", "sbc"))
    assert plain["weights_sha256"] != sbc["weights_sha256"]
    assert plain["labeled"] == sbc["labeled"]  # the same initial set: only the network differs


def test_the_100_percent_row_is_that_of_the_strategys_network(paper_run, tmp_path):
    layout = RunLayout(tmp_path)
    frame = pd.read_csv(layout.results)
    full = frame[frame["budget"] == 1.0].set_index("strategy")["dice"]
    assert full["random"] == pytest.approx(read_record(layout.shared(0, "full", "plain"))["dice"])
    assert full["sbc_al"] == pytest.approx(read_record(layout.shared(0, "full", "sbc"))["dice"])


def test_the_shared_setting_keeps_the_folder_layout(tiny_config, tmp_path):
    config = tiny_config("model.heads=sbc", "snapshots.slices=0")
    experiment = Experiment(config, tmp_path, strategies=STRATEGIES, progress=False)
    assert set(experiment.networks.values()) == {""}
    experiment.run()
    assert RunLayout(tmp_path).shared(0, "round0").is_file()
    assert "network" not in read_record(RunLayout(tmp_path).strategy_round("random", 0, 1))


def test_report_of_a_shared_and_a_paper_run_splits_the_gain(paper_run, tiny_config, tmp_path_factory, capsys):
    from alstrategies import cli

    shared_dir = tmp_path_factory.mktemp("shared")
    shared = tiny_config("model.heads=sbc", "snapshots.slices=0")
    Experiment(shared, shared_dir, strategies=STRATEGIES, progress=False).run()
    paper_dir = paper_run.layout.root
    assert json.loads((paper_dir / "config.json").read_text())["protocol"]["networks"] == "paper"
    assert cli.main(["report", str(shared_dir), str(paper_dir)]) == 0
    assert (paper_dir / "network_query_split.md").is_file()
    assert "network_query_split.md" in capsys.readouterr().out
