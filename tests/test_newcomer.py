"""A newcomer's first hour: bad numbers refused before anything is written, a failed start
that does not block the fix, honest progress, files that respect the umask, small polish."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest

from alstrategies import cli
from alstrategies.config import load_config
from alstrategies.errors import ConfigError
from alstrategies.ranges import RANGES, describe, inside

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.epochs=0", "train.epochs must be >= 1, got 0"),
        ("train.epochs=-1", "train.epochs must be >= 1, got -1"),
        ("train.batch_size=0", "train.batch_size must be >= 1, got 0"),
        ("train.lr=-1", "train.lr must be > 0, got -1.0"),
        ("train.iterations=-5", r"train.iterations must be >= 0 \(0 = use train.epochs\), got -5"),
        ("protocol.final_fraction=1.5", r"protocol.final_fraction must be in \(0, 1\], got 1.5"),
        ("protocol.initial_fraction=0", r"protocol.initial_fraction must be in \(0, 1\], got 0.0"),
        ("protocol.seeds=[0,0]", r"protocol.seeds lists seed\(s\) \[0\] more than once"),
        ("protocol.seeds=[]", "protocol.seeds is empty"),
        ("train.momentum=1", r"train.momentum must be in \[0, 1\), got 1.0"),
    ],
)
def test_bad_numbers_are_refused_with_the_key_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_every_range_accepts_its_bounds_as_written():
    """The interval arithmetic against its own description, at and around every bound."""
    for bounds in RANGES.values():
        low, high, low_open, high_open = bounds
        if low is not None:
            assert inside(low, bounds) != low_open, describe(bounds)
            assert not inside(low - 1e-9, bounds)
        if high is not None:
            assert inside(high, bounds) != high_open, describe(bounds)
            assert not inside(high + 1e-9, bounds)
    for dotted in RANGES:  # every ranged key exists in the schema
        section, key = dotted.split(".")
        assert key in load_config(None)[section], dotted


def test_a_typo_gets_a_suggestion():
    with pytest.raises(
        ConfigError, match=r"unknown config section\(s\) \['trian'\] \(did you mean train\?\)"
    ):
        load_config(None, ["trian.epochs=2"])
    with pytest.raises(ConfigError, match=r"train.epoch \(did you mean train.epochs\?\)"):
        load_config(None, ["train.epoch=2"])


def test_a_type_error_does_not_quote_a_default_that_the_preset_overrides():
    with pytest.raises(ConfigError) as raised:
        load_config(ROOT / "benchmarks" / "configs" / "synthetic.toml", ["train.epochs='twelve'"])
    assert "default" not in str(raised.value) and "train.epochs must be of type int" in str(raised.value)


def test_seeds_on_the_command_line_are_checked(capsys):
    assert (
        cli.main(["run", "benchmarks/configs/smoke.toml", "--seeds", "abc", "--out", "/nonexistent/x"]) == 2
    )
    assert "--seeds expects comma-separated integers" in capsys.readouterr().err
    assert (
        cli.main(["run", "benchmarks/configs/smoke.toml", "--seeds", "0,0", "--out", "/nonexistent/x"]) == 2
    )
    assert "--seeds lists seed(s) [0] more than once" in capsys.readouterr().err
    assert not Path("/nonexistent/x").exists()


def test_a_failed_start_leaves_nothing_and_a_folder_without_training_is_claimed_anew(tiny_config, tmp_path):
    from alstrategies.engine.loop import Experiment

    out = tmp_path / "run"
    with pytest.raises(ConfigError):
        load_config(None, ["train.epochs=0"])  # refused before any folder exists
    assert not out.exists()
    first = Experiment(tiny_config("train.iterations=2"), out, strategies=["random"], progress=False)
    first.claim_folder()  # a start that stopped before its first training
    first.close_log()
    assert (out / "config.json").is_file() and not any((out / "shared").glob("*/*.json"))
    second = Experiment(tiny_config("train.iterations=3"), out, strategies=["random"], progress=False)
    second.run()  # another config: accepted, since nothing was trained
    assert json.loads((out / "config.json").read_text())["train"]["iterations"] == 3
    assert "claimed it anew" in (out / "run.log").read_text()
    third = Experiment(tiny_config("train.iterations=4"), out, strategies=["random"], progress=False)
    with pytest.raises(Exception, match="started with a different config"):
        third.run()  # now trainings exist: refused as before


def test_output_files_respect_the_umask(tmp_path):
    from alstrategies.atomic import atomic_write_text

    previous = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
        os.umask(0o002)
        atomic_write_text(tmp_path / "b.txt", "x")
        assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o664
    finally:
        os.umask(previous)


def test_cache_entries_respect_the_umask(tmp_path):
    from alstrategies.data import cache
    from alstrategies.data.synthetic import load_synthetic

    previous = os.umask(0o022)
    try:
        entry = cache.save(
            load_synthetic(image_size=32, train_patients=2, test_patients=1), tmp_path / "entry"
        )
    finally:
        os.umask(previous)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o755
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in entry.iterdir())


def test_the_time_left_is_weighted_by_each_trainings_iterations(monkeypatch):
    """A run of cheap chain rounds after an expensive round-0 and 100 % model: counting
    trainings overestimates badly; weighting by iterations is within 30 % after 10 % of it."""
    from alstrategies.engine import progress

    clock = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock[0])
    costs = [1000.0, 2500.0] + [100.0] * 60  # round 0, the 100 % model, 60 short chain rounds
    tracker = progress.ProgressTracker(len(costs), sum(costs), enabled=False)
    tracker.start(0, 0.0)
    spent = 0.0
    for cost in costs:
        clock[0] += cost * 0.01  # time proportional to the work
        spent += cost
        tracker.advance("x", cost)
        if spent >= 0.1 * sum(costs):
            break
    truth = (sum(costs) - spent) * 0.01
    assert abs(tracker.eta_seconds() - truth) <= 0.3 * truth
    naive = clock[0] / tracker.done * (len(costs) - tracker.done)  # the old estimate
    assert abs(naive - truth) > 0.3 * truth


def test_the_time_left_counts_each_trainings_query_and_evaluation(monkeypatch):
    """The acdc_cpu shape: round 0 of 500 iterations, then chain rounds of 50 iterations plus a
    query and an evaluation of 9 s each. Weighting by iterations alone says a fraction of the
    truth after the round-0 models; the records' seconds per training put it within 15 %, also
    with two workers sharing the wall clock."""
    from alstrategies.engine import progress

    per_iteration, other = 0.25, 9.0
    plan = [500] * 2 + [50] * 60
    for workers in (1, 2):
        clock = [0.0]
        monkeypatch.setattr(progress.time, "perf_counter", lambda clock=clock: clock[0])
        rates = progress.WorkRates()
        tracker = progress.ProgressTracker(
            len(plan), float(sum(plan)), enabled=False, rates=lambda rates=rates: rates
        )
        plain = progress.ProgressTracker(len(plan), float(sum(plan)), enabled=False)
        tracker.start(0, 0.0)
        plain.start(0, 0.0)
        for iterations in plan[:6]:
            clock[0] += (iterations * per_iteration + other) / workers
            rates.add(
                {
                    "iterations": iterations,
                    "train_seconds": iterations * per_iteration,
                    "eval_seconds": 4.0,
                    "query_seconds": 5.0,
                }
            )
            tracker.advance("x", iterations)
            plain.advance("x", iterations)
        truth = sum(n * per_iteration + other for n in plan[6:]) / workers
        assert abs(tracker.eta_seconds() - truth) <= 0.15 * truth
        assert plain.eta_seconds() < 0.8 * truth  # iterations alone: far too little


def test_recorded_rates_read_each_new_record_once(tmp_path):
    import json

    from alstrategies.engine.progress import RecordedRates

    paths = [tmp_path / f"round{i}.json" for i in range(3)]
    rates = RecordedRates(paths)
    assert rates().seconds(10, 1) is None  # nothing recorded yet
    paths[0].write_text(json.dumps({"iterations": 100, "train_seconds": 20.0, "eval_seconds": 3.0}))
    assert rates().seconds(10, 1) == pytest.approx(10 * 0.2 + 3.0)
    paths[1].write_text(json.dumps({"iterations": 300, "train_seconds": 20.0, "query_seconds": 5.0}))
    assert rates().seconds(10, 1) == pytest.approx(10 * 40 / 400 + 8.0 / 2)
    assert rates().trainings == 2  # asked again: nothing counted twice


def test_bars_only_on_a_terminal(monkeypatch):
    from alstrategies.engine import progress

    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False, raising=False)
    assert not progress.bars_enabled(True)
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: True, raising=False)
    assert progress.bars_enabled(True) and not progress.bars_enabled(False)


def test_a_resume_says_what_it_found_and_status_counts_in_the_bars_units(tiny_config, tmp_path, capsys):
    from alstrategies.engine.loop import Experiment
    from alstrategies.status import run_status

    Experiment(tiny_config(), tmp_path, strategies=["random"], progress=True).run()
    total = Experiment(tiny_config(), tmp_path, strategies=["random"], progress=False).total_trainings()
    (tmp_path / "strategies" / "random" / "seed0" / "round2.json").unlink()
    capsys.readouterr()
    Experiment(tiny_config(), tmp_path, strategies=["random"], progress=True).run()
    assert f"{total - 1} of {total} trainings already recorded, 1 to go" in capsys.readouterr().err
    status = run_status(tmp_path)
    assert status.trainings == (total, total)
    assert f"trainings recorded: {total} of {total}" in status.text()


def test_ctrl_c_says_how_to_resume(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_command_status", interrupted)
    assert cli.main(["status", "anything"]) == 130
    err = capsys.readouterr().err
    assert err.endswith("; to resume: alstrategies status anything\n") and "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_list_shows_plain_text():
    from alstrategies.registry import plain_text

    assert plain_text("the ``synthetic`` phantom with :class:`~alstrategies.models.unet.UNet`") == (
        "the synthetic phantom with UNet"
    )
    assert plain_text("uses :func:`evaluate` and ``x``") == "uses evaluate and x"


def test_registry_messages_spell_strategies():
    from alstrategies.errors import UnknownNameError
    from alstrategies.registry import STRATEGIES

    with pytest.raises(UnknownNameError, match="third-party strategies register"):
        STRATEGIES.get("no_such_strategy")


def test_the_package_metadata_is_current():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"  # an SPDX string, not the deprecated table
    yaml = pytest.importorskip("yaml")
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"].startswith("1.2")
    assert citation["version"] == project["project"]["version"]
    paper = citation["references"][0]
    assert "SBC-AL" in paper["title"] and paper["year"] == 2024
    assert paper["authors"][0]["family-names"] == "Zhou"


def test_the_smoke_preset_is_small_and_learns_by_construction():
    config = load_config(ROOT / "benchmarks" / "configs" / "smoke.toml")
    assert config["protocol"]["seeds"] == [0] and len(config["strategies"]["names"]) == 3
    assert config["train"]["iterations"] >= 100  # one epoch (5 iterations) per round learned nothing


def test_compare_reports_identical_and_different_tables(tmp_path):
    from alstrategies.compare import compare_dice_tables

    table = (
        "metric,strategy,budget,budget_label,mean,std,n_seeds,best\n"
        "dice,random,0.1,10.00%,50.0,1.0,5,True\ndice,sbc_al,0.1,10.00%,48.0,1.0,5,False\n"
    )
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    (tmp_path / "a" / "dice_table.csv").write_text(table)
    (tmp_path / "b" / "dice_table.csv").write_text(table)
    (tmp_path / "c" / "dice_table.csv").write_text(table.replace("48.0", "47.5"))
    same, text = compare_dice_tables(tmp_path / "a", tmp_path / "b")
    assert same and "identical" in text
    (tmp_path / "d").mkdir()  # a run of fewer strategies than the reference: compared on what it has
    (tmp_path / "d" / "dice_table.csv").write_text(table.rsplit("dice,sbc_al", 1)[0])
    same, text = compare_dice_tables(tmp_path / "d", tmp_path / "a")
    assert same and "also has 1 cell(s) this run did not compute (sbc_al)" in text
    same, text = compare_dice_tables(tmp_path / "a", tmp_path / "c")
    assert not same and "largest difference 0.50 points (sbc_al" in text and "1 of 2 shared cells" in text


def test_list_shows_each_strategys_family_source_and_passes(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    facts = {
        lines[i].split()[0]: lines[i + 1].strip()
        for i in range(1, len(lines) - 1)
        if lines[i].startswith("  ") and not lines[i].startswith("   ")
    }
    assert facts["bald"].startswith("uncertainty; ") and facts["bald"].endswith("T (10)")
    assert facts["oracle"].startswith("control; ")
    assert facts["coreset"].startswith("diversity; Sener & Savarese")
    assert facts["random"].startswith("random; ")


def test_the_adding_a_strategy_package_snippet_is_complete():
    """The walk-through's pyproject is installable as written: a build system, a project, the
    entry point naming the module and class the walk-through defines, and the package folder."""
    import re

    text = (ROOT / "docs" / "adding_a_strategy.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    pyproject = next(tomllib.loads(b) for b in blocks if "[build-system]" in b)
    assert pyproject["build-system"]["build-backend"] == "setuptools.build_meta"
    assert pyproject["project"]["name"] and pyproject["project"]["version"]
    target = pyproject["project"]["entry-points"]["alstrategies.strategies"]["my_confidence"]
    module, cls = target.split(":")
    assert f"class {cls}(" in text and module.replace(".", "/") + ".py" in text
    assert "mypackage/__init__.py" in text and "pip install -e" in text
