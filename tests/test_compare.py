"""``alstrategies compare``: the rows of two runs' ``results.csv`` by (strategy, seed, round)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from alstrategies.cli import main
from alstrategies.compare import compare_results
from alstrategies.config import load_config
from alstrategies.engine.layout import RunLayout
from alstrategies.engine.loop import Experiment
from tests.conftest import TINY


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 1-seed and a 2-seed tiny run of the same config (seed 0 in both)."""
    root = tmp_path_factory.mktemp("compare")
    config = load_config(None, [*TINY, "model.heads=plain", "snapshots.slices=0"])
    for name, seeds in (("one", [0]), ("two", [0, 1])):
        Experiment(config, root / name, strategies=["random"], seeds=seeds, progress=False).run()
    return root


def test_a_one_seed_run_matches_the_seed_it_shares_with_a_two_seed_run(runs, capsys):
    comparison = compare_results(runs / "one", runs / "two")
    rows = len(pd.read_csv(RunLayout(runs / "one").results))
    assert comparison.identical and comparison.shared == rows == 4  # 3 rounds and the 100 % model
    assert comparison.only_reference == 4 and comparison.only_run == 0
    assert "the reference also has 4 row(s) this run lacks (seed(s) 1)" in comparison.text
    assert "all 4 shared row(s) identical" in comparison.text
    assert main(["compare", str(runs / "one"), str(runs / "two"), "--strict"]) == 0
    out = capsys.readouterr().out
    assert "identical" in out and "differ" not in out
    backwards = compare_results(runs / "two", runs / "one")
    assert backwards.identical and "this run has 4 row(s) the reference lacks (seed(s) 1)" in backwards.text


def test_a_differing_row_is_named_with_both_values_and_the_configs_keys(runs, tmp_path, capsys):
    changed = tmp_path / "changed"
    shutil.copytree(runs / "one", changed)
    layout = RunLayout(changed)
    table = pd.read_csv(layout.results, dtype=str, keep_default_na=False)
    before = table.loc[1, "dice"]
    table.loc[1, "dice"] = "0.123"
    table.to_csv(layout.results, index=False)
    comparison = compare_results(changed, runs / "two")
    assert not comparison.identical and comparison.differing == 1 and comparison.shared == 4
    assert (
        f"1 of 4 shared row(s) differ, 3 identical; the first: random seed 0 round 1, column dice: "
        f"0.123 here, {before} in the reference" in comparison.text
    )
    assert "the configs are the same (config.json)" in comparison.text
    assert "thread counts" in comparison.text
    assert main(["compare", str(changed), str(runs / "two"), "--strict"]) == 1
    assert main(["compare", str(changed), str(runs / "two")]) == 0  # without --strict: a report
    capsys.readouterr()
    config = json.loads(layout.config.read_text())
    config["train"]["iterations"] = 4
    layout.config.write_text(json.dumps(config))
    text = compare_results(changed, runs / "two").text
    assert "the configs differ (config.json, reference -> this run: train.iterations: 3 -> 4)" in text
    layout.config.unlink()
    assert "one config.json is missing" in compare_results(changed, runs / "two").text


def test_runs_without_a_shared_row_are_not_identical_and_a_missing_table_is_one_line(runs, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    table = pd.read_csv(RunLayout(runs / "one").results)
    table.assign(strategy="margin").to_csv(RunLayout(other).results, index=False)
    comparison = compare_results(other, runs / "one")
    assert comparison.shared == 0 and not comparison.identical
    assert "(strategy random)" in comparison.text and "no row to compare" in comparison.text
    assert main(["compare", str(other), str(runs / "one"), "--strict"]) == 1
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "nothing"), str(runs / "one")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("alstrategies: error: ") and err.count("\n") == 1 and "results.csv not found" in err
