"""Config grids (ablations): expansion, validation, and a tiny ASR ablation run end to end."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from alstrategies.cli import main
from alstrategies.config import ConfigError, load_config
from alstrategies.grid import expand_grid, is_grid
from tests.conftest import TINY


def test_the_shipped_ablation_configs_expand_to_their_variants():
    asr = expand_grid(load_config("benchmarks/configs/ablation_asr.toml"))
    assert {name: c["model"]["asr"] for name, c in asr.items()} == {
        "none": "none",
        "add": "add",
        "concat": "concat",
        "attention": "attention",
    }
    assert all(c["protocol"]["include_full"] and not is_grid(c) for c in asr.values())
    backbones = expand_grid(load_config("benchmarks/configs/ablation_backbones.toml"))
    assert {name: c["model"]["backbone"] for name, c in backbones.items()} == {
        "unet": "unet",
        "unetpp": "unetpp",
        "attention_unet": "attention_unet",
    }
    assert all(len(c["strategies"]["names"]) == 7 for c in backbones.values())


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ('{ "model.asr" = "sideways" }', "grid variant 'bad'"),
        ('{ "train.epoch" = 2 }', "unknown config key"),
        ("{ }", "must be a table of config keys"),
        ('{ "grid.budget" = 0.5 }', "cannot set"),
    ],
)
def test_bad_variants_are_named(tmp_path, variant, message):
    path = tmp_path / "grid.toml"
    path.write_text(f"[grid.variants]\nbad = {variant}\n")
    with pytest.raises(ConfigError, match=message):
        expand_grid(load_config(path))


def test_tiny_asr_ablation_runs_every_variant_and_writes_the_grid_report(tmp_path):
    config = tmp_path / "ablation.toml"
    config.write_text(
        '[grid]\nbudget = 1.0\nlayout = "variant_by_class"\n'
        '[grid.variants]\nnone = { "model.asr" = "none" }\nattention = { "model.asr" = "attention" }\n'
    )
    args = ["run", str(config), "--out", str(tmp_path / "out"), "--strategies", "random", "--quiet"]
    for assignment in [*TINY, "protocol.final_fraction=0.2", "snapshots.slices=0"]:
        args += ["--set", assignment]
    assert main(args) == 0
    manifest = json.loads((tmp_path / "out" / "grid.json").read_text())
    assert manifest["variants"] == ["none", "attention"] and manifest["budget"] == 1.0
    for name, asr in (("none", "none"), ("attention", "attention")):
        recorded = json.loads((tmp_path / "out" / name / "config.json").read_text())
        assert recorded["model"]["asr"] == asr and recorded["grid"]["variants"] == {}
        assert (tmp_path / "out" / name / "results.csv").is_file()
    table = (tmp_path / "out" / "ablation_table.md").read_text()
    assert "none" in table and "attention" in table


def test_a_reused_run_folder_stands_for_a_variant_whose_100_percent_models_it_trained(tmp_path, capsys):
    """The attention variant of a tiny ASR grid, reused from a full protocol run of the same
    schedule (more strategies and budgets, the same 100 % models): not trained again, and its
    row is that run's 100 % Dice; the none variant is trained. A folder trained otherwise is
    refused with the keys that differ."""
    tiny = [*TINY, "model.heads=sbc", "train.warm_start=true", "snapshots.slices=0"]
    sets = [arg for assignment in tiny for arg in ("--set", assignment)]
    base, plain = tmp_path / "acdc_cpu", tmp_path / "base.toml"
    plain.write_text("")
    assert (
        main(["run", str(plain), "--out", str(base), "--strategies", "random,margin", "--quiet", *sets]) == 0
    )
    config = tmp_path / "ablation.toml"
    config.write_text(
        '[grid]\nbudget = 1.0\nlayout = "variant_by_class"\nreuse = { attention = "../acdc_cpu" }\n'
        '[grid.variants]\nnone = { "model.asr" = "none" }\nattention = { "model.asr" = "attention" }\n'
    )
    out = tmp_path / "ablation"
    grid_run = ["run", str(config), "--out", str(out), "--strategies", "random", "--quiet", *sets]
    assert main([*grid_run, "--set", "protocol.final_fraction=0.2"]) == 0
    assert "grid variant attention: the 100 % models of" in capsys.readouterr().out
    assert (out / "none" / "results.csv").is_file() and not (out / "attention").exists()
    assert json.loads((out / "grid.json").read_text())["folders"] == {"attention": "../acdc_cpu"}
    table = pd.read_csv(out / "ablation_table.csv")
    full = pd.read_csv(base / "results.csv").query("budget == 1.0").drop_duplicates("seed")
    row = table[(table.variant == "attention") & (table["class"] == "mean")]
    assert row["mean"].item() == pytest.approx(100 * full["dice"].mean())
    assert main([*grid_run, "--set", "train.iterations=4", "--set", "protocol.final_fraction=0.2"]) == 2
    assert "trained its 100 % models differently:\n  train.iterations: 3 -> 4" in capsys.readouterr().err
