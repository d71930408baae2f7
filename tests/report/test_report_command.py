"""``alstrategies report --budgets --strategies --latex-layout`` (issue 29, item 2): the flags
reach write_report, and a bad value is one line before any file is written."""

from __future__ import annotations

import pandas as pd
import pytest

from alstrategies.cli import main
from alstrategies.report import write_report
from tests.report.test_report import CLASSES, make_results, parse_latex

STRATEGIES = ("random", "sbc_al", "margin", "bald")


def _run_folder(path):
    path.mkdir(parents=True)
    results = make_results(strategies=STRATEGIES, seeds=(0, 1, 2), budgets=(1 / 15, 0.1, 0.2, 0.3))
    results.to_csv(path / "results.csv", index=False)
    return results


def test_the_flags_write_what_write_report_writes_with_those_options(tmp_path):
    results = _run_folder(tmp_path / "run")
    flags = ["--budgets", "10%,0.2", "--strategies", "sbc_al,random", "--latex-layout", "transposed"]
    assert main(["report", str(tmp_path / "run"), *flags]) == 0
    direct = tmp_path / "direct"
    write_report(
        results,
        direct,
        list(CLASSES),
        budgets=["10%", "0.2"],
        strategies=["sbc_al", "random"],
        latex_layout="transposed",
    )
    for name in ("dice_table.md", "dice_table.tex", "dice_table.csv", "summary.md"):
        assert (tmp_path / "run" / name).read_bytes() == (direct / name).read_bytes(), name
    table = pd.read_csv(tmp_path / "run" / "dice_table.csv")
    assert sorted(set(table["budget_label"])) == ["10.00%", "20.00%"]
    assert list(dict.fromkeys(table["strategy"])) == ["sbc_al", "random"]
    latex = parse_latex((tmp_path / "run" / "dice_table.tex").read_text())
    assert latex["dice"]["header"][0] == "Budget"  # transposed: one row per budget


def test_without_the_flags_the_report_keeps_every_budget_and_strategy(tmp_path):
    _run_folder(tmp_path / "run")
    assert main(["report", str(tmp_path / "run")]) == 0
    table = pd.read_csv(tmp_path / "run" / "dice_table.csv")
    assert set(table["strategy"]) == set(STRATEGIES) and table["budget_label"].nunique() == 5


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--budgets", "25%"], "budget '25%' is not in the results"),
        (["--budgets", ","], "--budgets is empty"),
        (["--strategies", "sbc_al,typo"], "strategy typo not in the results"),
        (["--strategies", ""], "--strategies is empty"),
    ],
)
def test_a_bad_flag_is_one_line_and_no_file_is_written(tmp_path, capsys, flags, says):
    _run_folder(tmp_path / "run")
    before = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert main(["report", str(tmp_path / "run"), *flags]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("alstrategies: error: ") and says in error and "\n" not in error
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == before


def test_an_unknown_layout_is_refused_by_the_parser(tmp_path, capsys):
    _run_folder(tmp_path / "run")
    with pytest.raises(SystemExit) as stop:
        main(["report", str(tmp_path / "run"), "--latex-layout", "narrow"])
    assert stop.value.code == 2 and "choose from 'split', 'wide', 'transposed'" in capsys.readouterr().err


def test_a_grid_refuses_the_trimming_flags_before_writing(tmp_path, capsys):
    grid = tmp_path / "grid"
    grid.mkdir()
    (grid / "grid.json").write_text("{}")
    assert main(["report", str(grid), "--strategies", "random"]) == 2
    assert "is an ablation grid" in capsys.readouterr().err
    assert [p.name for p in grid.iterdir()] == ["grid.json"]
