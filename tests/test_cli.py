"""The command line: the ``--data``/``--set`` arguments shared by ``run`` and ``prepare``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from alstrategies.cli import _overrides, build_parser, main
from tests.conftest import TINY


def _subcommand(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


@pytest.mark.parametrize("command", ["run", "prepare"])
def test_data_and_set_become_overrides(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(
        [command, "c.toml", "--set", "train.epochs=2", "--data", "~/acdc", "--set", "a.b='x'"]
    )
    root = str(Path("~/acdc").expanduser().resolve())
    assert _overrides(args) == ["train.epochs=2", "a.b='x'", f"data.root={root!r}"]
    assert _overrides(build_parser().parse_args([command, "c.toml"])) == []
    relative = build_parser().parse_args([command, "c.toml", "--data", "data/kits"])
    assert _overrides(relative) == [f"data.root={str(tmp_path.resolve() / 'data' / 'kits')!r}"]


def test_help_texts_and_flag_order_are_kept():
    run = " ".join(_subcommand("run").format_help().split())
    assert "--data PATH" in run and "dataset folder (sets data.root; e.g. your ACDC copy)" in run
    assert "override a config key, e.g. train.epochs=2 (repeatable)" in run
    order = [a.dest for a in _subcommand("run")._actions]
    assert order.index("seeds") + 1 == order.index("data") == order.index("set") - 1
    prepare = _subcommand("prepare")
    text = " ".join(prepare.format_help().split())
    assert "--data PATH dataset folder (sets data.root) " in text
    assert "--set KEY=VALUE override a config key " in text
    assert [a.dest for a in prepare._actions] == ["help", "config", "data", "set", "rebuild", "quiet"]


def test_prepare_applies_the_overrides(capsys):
    assert main(["prepare", "benchmarks/configs/synthetic.toml", "--set", "data.nope=1"]) == 2
    assert "nope" in capsys.readouterr().err


def test_a_bad_reference_table_stops_run_before_any_training(tmp_path, capsys):
    code = main(
        [
            "run",
            "benchmarks/configs/synthetic.toml",
            "--out",
            str(tmp_path / "run"),
            "--reference",
            "nope.csv",
        ]
    )
    assert code == 2 and "reference table nope.csv does not exist" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_bad_seeds_are_a_user_error_before_any_training(tmp_path, capsys):
    from alstrategies.config import seeds_option

    assert seeds_option("0, 2,5") == [0, 2, 5] and seeds_option(None) is None
    code = main(
        ["run", "benchmarks/configs/synthetic.toml", "--out", str(tmp_path / "run"), "--seeds", "0,x"]
    )
    err = capsys.readouterr().err
    assert (
        code == 2
        and err == "alstrategies: error: --seeds expects comma-separated integers (e.g. 0,1,2), got '0,x'\n"
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("content", [b"", b"strategy,seed\n\xff\xfe,1\n"])
def test_an_unreadable_results_table_is_a_user_error(tmp_path, capsys, content):
    (tmp_path / "results.csv").write_bytes(content)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"alstrategies: error: {tmp_path / 'results.csv'} is not a readable results table")


def test_report_sets_the_paper_beside_the_run(tmp_path, capsys):
    import pandas as pd

    rows = [
        {"strategy": "random", "seed": s, "round": 0, "budget": b, "dice": 0.5 + 0.1 * s, "dice_RV": 0.5}
        for s in range(2)
        for b in (1 / 15, 1.0)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    reference = Path(__file__).resolve().parents[1] / "benchmarks" / "reference" / "sbcal_miccai2024_acdc.csv"
    assert main(["report", str(tmp_path), "--reference", str(reference), "--reference-name", "Zhou"]) == 0
    assert (
        "| random (Zhou) | 66.11 ± 0.04 | 91.37 ± 0.01 |"
        in (tmp_path / "reference_comparison.md").read_text()
    )


# -- alstrategies check ---------------------------------------------------------------------------
import numpy as np  # noqa: E402

from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy  # noqa: E402


class DuplicatePicker(QueryStrategy):
    """A broken strategy for ``alstrategies check tests.test_cli:DuplicatePicker``: k copies of one index."""

    name = "duplicate_picker"

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        return QueryResult(indices=np.repeat(context.unlabeled[:1], k))


def test_check_passes_a_registered_strategy(capsys):
    assert main(["check", "random"]) == 0
    out = capsys.readouterr().out
    assert "PASS random [plain] returns k distinct unlabeled indices" in out
    assert "PASS random [sbc] an empty pool raises EmptyPoolError" in out
    assert "SKIP random [plain] scores do not depend on the batch size: random is not" in out
    assert out.strip().splitlines()[-1] == "random: 17 passed, 0 failed, 5 skipped"


def test_check_of_an_unknown_name_lists_the_registered_ones(capsys):
    assert main(["check", "random", "no_such_strategy"]) == 2
    captured = capsys.readouterr()
    assert "unknown strategy 'no_such_strategy'; registered: " in captured.err and "random" in captured.err
    assert captured.out == ""  # nothing ran
    assert main(["check", "random", "--option", "passes=2"]) == 2
    assert "takes the option 'passes'" in capsys.readouterr().err


def test_check_of_a_broken_module_class_path_fails(capsys):
    assert main(["check", f"{__name__}:DuplicatePicker", "--heads", "plain"]) == 1
    out = capsys.readouterr().out
    assert (
        "FAIL duplicate_picker [plain] returns k distinct unlabeled indices: strategy 'duplicate_picker'"
        " broke the query contract: select() returned duplicate indices [0]" in out
    )
    assert "PASS duplicate_picker [any] is a QueryStrategy named as registered" in out
    assert out.strip().splitlines()[-1] == f"{__name__}:DuplicatePicker: 3 passed, 6 failed, 3 skipped"


# -- every value is checked before anything is written ---------------------------------------------
#: a run that takes seconds, so that a value the old code let through fails the test quickly
TINY_RUN = [
    "--strategies",
    "random",
    "--quiet",
    *[
        part
        for assignment in [*TINY, "model.heads=plain", "protocol.final_fraction=0.2", "snapshots.slices=0"]
        for part in ("--set", assignment)
    ],
]


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        ("-1", "--seeds: seeds must be non-negative integers (they seed numpy), got [-1]"),
        ("=0,-2", "--seeds: seeds must be non-negative integers (they seed numpy), got [-2]"),
        ("", "--seeds is empty (''): give comma-separated names (e.g. 0,1,2), or leave it out"),
        (" , ", "--seeds is empty (' , ')"),
    ],
)
def test_bad_seeds_are_refused_before_anything_is_written(tmp_path, capsys, seeds, message):
    out = tmp_path / "run"
    seeds_args = [f"--seeds{seeds}"] if seeds.startswith("=") else ["--seeds", seeds]
    code = main(["run", "benchmarks/configs/synthetic.toml", "--out", str(out), *seeds_args, *TINY_RUN])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists()  # no config.json, plan.json or run.log to resume from


def test_negative_config_seeds_are_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        ["run", "benchmarks/configs/synthetic.toml", "--out", str(out), "--set", "protocol.seeds=[0,-1]"]
    )
    assert code == 2 and "protocol.seeds: seeds must be non-negative integers" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--strategies", ""], "--strategies is empty (''): give comma-separated names (e.g. random,margin"),
        (["--strategies", ","], "--strategies is empty (',')"),
        (["--out", ""], "--out is empty: give it a value, or leave it out for its default"),
        (["--data", " "], "--data is empty"),
        (["--reference", ""], "--reference is empty"),
        (["--executor", ""], "--executor is empty"),
    ],
)
def test_an_empty_option_value_is_refused_not_read_as_its_default(
    tmp_path, capsys, monkeypatch, option, message
):
    monkeypatch.chdir(tmp_path)  # the default --out is runs/<config name> here
    config = str(Path(__file__).resolve().parents[1] / "benchmarks" / "configs" / "synthetic.toml")
    args = ["run", config, "--out", str(tmp_path / "run"), *TINY_RUN, *option]
    err = (main(args), capsys.readouterr().err)
    assert err[0] == 2 and err[1].startswith("alstrategies: error: ") and message in err[1], err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# -- make: an explicit TORCH replaces the venv's torch ------------------------------------------------
def _make_dry_run(folder: Path, *args: str, env: dict | None = None) -> str:
    import os
    import subprocess

    environment = {k: v for k, v in os.environ.items() if k not in ("TORCH", "MAKEFLAGS", "MFLAGS")}
    result = subprocess.run(
        ["make", "-n", "setup", *args],
        cwd=folder,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_an_explicit_torch_is_installed_once_and_a_clean_clone_gets_the_default(tmp_path):
    import shutil

    if shutil.which("make") is None:
        pytest.skip("needs make")
    root = Path(__file__).resolve().parents[1]
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(root / name, tmp_path / name)
    clean = _make_dry_run(tmp_path)  # a fresh clone: a venv, the default torch if it has none
    assert "-m venv .venv" in clean and '|| .venv/bin/python -m pip install -q "torch==' in clean
    assert "uninstall" not in clean
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").touch(mode=0o755)
    (bin_dir / "alstrategies").touch()  # set up, with a torch installed
    assert "pip" not in _make_dry_run(tmp_path)
    for explicit in (_make_dry_run(tmp_path, "TORCH=torch"), _make_dry_run(tmp_path, env={"TORCH": "torch"})):
        lines = explicit.splitlines()
        uninstall = lines.index(".venv/bin/python -m pip uninstall -q -y torch")
        assert lines[uninstall + 1] == '.venv/bin/python -m pip install -q "torch"'
        assert "echo 'torch' > .venv/torch-requirement" in lines and "import torch" not in explicit
    (tmp_path / ".venv" / "torch-requirement").write_text("torch\n")  # installed with that torch
    assert "pip" not in _make_dry_run(tmp_path, "TORCH=torch")
    assert 'pip install -q "torch>=2,<3"' in _make_dry_run(tmp_path, "TORCH=torch>=2,<3")
