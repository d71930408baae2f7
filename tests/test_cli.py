"""The command line: the ``--data``/``--set`` arguments shared by ``run`` and ``prepare``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from alstrategies.cli import _overrides, build_parser, main


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
    from alstrategies.cli import _seeds

    assert _seeds("0, 2,5") == [0, 2, 5] and _seeds(None) is None
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
    assert out.strip().splitlines()[-1] == "random: 17 passed, 0 failed, 4 skipped"


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
    assert out.strip().splitlines()[-1] == f"{__name__}:DuplicatePicker: 3 passed, 6 failed, 2 skipped"
