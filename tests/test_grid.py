"""Config grids (ablations): expansion, validation, and a tiny ASR ablation run end to end."""

from __future__ import annotations

import json

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
