"""LaTeX tables that fit a page (issue 29, item 1): the layouts of render_latex, the default
split of the budget tables, the packages they need, and pdflatex's verdict where it exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from alstrategies.errors import ConfigError
from alstrategies.report import DEFAULT_LATEX_LAYOUT, LATEX_LAYOUTS, write_report
from alstrategies.report.latex import MAX_COLUMNS, column_parts, render_latex
from alstrategies.report.tables import budget_table
from alstrategies.report.writer import metric_tables
from tests.report.test_report import CLASSES, SYNTHETIC_RESULTS, make_results, parse_latex

PAPER = Path(__file__).resolve().parents[2] / "benchmarks" / "reference" / "sbcal_miccai2024_acdc.csv"
TABULAR = re.compile(r"\\begin\{tabular\}\{([^}]*)\}")
#: Every command a table may use without a package beyond LaTeX itself and booktabs.
BASE_AND_BOOKTABS = {
    "\\", "begin", "end", "centering", "footnotesize", "caption", "label", "textbf", "pm", "toprule",
    "midrule", "bottomrule", "%", "_", "&", "$", "#", "{", "}", "textbackslash",
    "textasciitilde", "textasciicircum",
}  # fmt: skip


def _synthetic(tmp_path: Path, **options) -> Path:
    shutil.copy(SYNTHETIC_RESULTS, tmp_path / "results.csv")
    write_report(
        pd.read_csv(tmp_path / "results.csv"), tmp_path, ["RV", "MYO", "LV"], reference=PAPER, **options
    )
    return tmp_path


def _columns(tex: str) -> list[int]:
    """The number of value columns (after the row names) of every tabular of ``tex``."""
    return [len(spec) - 1 for spec in TABULAR.findall(tex)]


def _compile(folder: Path, inputs: list[str]) -> str:
    """The log of pdflatex on an article with a 6.5 in text width that inputs ``inputs``."""
    document = folder / "page.tex"
    body = "\n".join(f"\\input{{{name}}}" for name in inputs)
    document.write_text(
        "\\documentclass{article}\n\\setlength{\\textwidth}{6.5in}\n\\setlength{\\oddsidemargin}{0pt}\n"
        f"\\usepackage{{booktabs}}\n\\begin{{document}}\n{body}\n\\end{{document}}\n"
    )
    run = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    return (folder / "page.log").read_text(errors="replace")


def test_the_layouts_and_the_default_are_exported_and_the_default_splits():
    from alstrategies.report import tables

    assert LATEX_LAYOUTS == ("split", "wide", "transposed") == tables.LATEX_LAYOUTS
    assert DEFAULT_LATEX_LAYOUT == "split" == tables.DEFAULT_LATEX_LAYOUT
    assert MAX_COLUMNS == 4  # the widest cells at a 6.5 in text width (see alstrategies/report/latex.py)


def test_the_committed_tables_fit_a_page_in_the_default_layout(tmp_path):
    run = _synthetic(tmp_path)
    texts = {
        name: (run / name).read_text()
        for name in ("dice_table.tex", "hd95_table.tex", "reference_comparison.tex")
    }
    for name, tex in texts.items():
        columns = _columns(tex)
        assert columns and max(columns) <= MAX_COLUMNS, (name, columns)
    # the 10 budget columns of the synthetic run: three parts of 4, 3 and 3
    assert _columns(texts["dice_table.tex"])[:3] == [4, 3, 3]
    if shutil.which("pdflatex") is None:
        return  # no LaTeX here: the column counts above are the check
    log = _compile(run, list(texts))
    assert "Overfull \\hbox" not in log
    write_report(pd.read_csv(run / "results.csv"), run / "wide", latex_layout="wide")
    assert "Overfull \\hbox" in _compile(run / "wide", ["dice_table.tex"])  # the check can fail


@pytest.mark.parametrize("n", range(0, 14))
def test_column_parts_are_as_few_and_as_even_as_possible(n):
    parts = column_parts(n, 4)
    assert [j for part in parts for j in part] == list(range(n))  # every column once, in order
    sizes = [len(part) for part in parts]
    assert len(parts) == max(1, -(-n // 4)) and max(sizes) <= 4
    assert sizes == sorted(sizes, reverse=True) and max(sizes) - min(sizes) <= 1


def test_split_parts_hold_the_cells_of_the_wide_table_and_keep_one_label_to_cite():
    results = pd.read_csv(SYNTHETIC_RESULTS)
    for table in metric_tables(results, "hd95", ["RV", "MYO", "LV"]):
        wide = parse_latex(render_latex(table, label="tab:t", layout="wide"))["t"]
        split_tex = render_latex(table, label="tab:t", layout="split")
        split = parse_latex(split_tex)["t"]  # the parts joined again
        assert len(wide["parts"]) == 1 and len(split["parts"]) == len(column_parts(len(table.columns)))
        assert split["header"] == wide["header"] and split["rows"] == wide["rows"]
        captions = re.findall(r"\\caption\{([^}]*)\}", split_tex)
        n = len(split["parts"])
        assert [re.search(r"\. Part (\d+) of (\d+): ", c).groups() for c in captions] == [
            (str(k), str(n)) for k in range(1, n + 1)
        ]
        assert re.findall(r"\\label\{([^}]*)\}", split_tex) == ["tab:t"] + [
            f"tab:t-part{k}" for k in range(2, n + 1)
        ]


def test_a_narrow_table_is_the_same_in_every_layout_but_transposed():
    table = budget_table(make_results(budgets=(0.1, 0.2, 0.3)))  # 4 columns: 3 budgets and 100 %
    assert len(table.columns) == MAX_COLUMNS
    assert render_latex(table, label="tab:x") == render_latex(table, label="tab:x", layout="wide")
    assert render_latex(table) == render_latex(table, layout="split")


def test_transposed_puts_budgets_in_rows_and_bolds_the_best_strategy_per_budget():
    table = budget_table(make_results(strategies=("alpha", "beta", "gamma"), budgets=(0.1, 0.2, 0.3, 0.4)))
    wide = parse_latex(render_latex(table, label="tab:w", layout="wide"))["w"]
    swapped = parse_latex(render_latex(table, label="tab:s", layout="transposed"))["s"]
    assert swapped["header"] == ["Budget", "alpha", "beta", "gamma"]
    assert list(swapped["rows"]) == wide["header"][1:]  # the budget labels, escaped
    for j, budget in enumerate(swapped["rows"]):
        for i, strategy in enumerate(wide["rows"]):
            assert swapped["rows"][budget][i] == wide["rows"][strategy][j]  # bold included
    at_40 = swapped["rows"]["40.00\\%"]
    assert [cell[2] for cell in at_40] == [False, False, True]  # gamma rises fastest


def test_every_tex_file_says_its_layout_and_needs_only_booktabs(tmp_path):
    run = _synthetic(tmp_path)
    for name in ("dice_table.tex", "hd95_table.tex", "reference_comparison.tex"):
        tex = (run / name).read_text()
        comments = [line for line in tex.splitlines() if line.startswith("%")]
        assert any("layout 'split'" in line and "\\usepackage{booktabs}" in line for line in comments), name
        body = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))
        commands = set(re.findall(r"\\([A-Za-z]+|.)", body))
        assert commands <= BASE_AND_BOOKTABS, (name, commands - BASE_AND_BOOKTABS)


@pytest.mark.parametrize("layout", ["wide", "transposed"])
def test_write_report_takes_the_other_layouts(tmp_path, layout):
    results = make_results(budgets=(0.1, 0.2, 0.3, 0.4, 0.5))  # 6 budget columns
    write_report(results, tmp_path, list(CLASSES), latex_layout=layout)
    tex = (tmp_path / "dice_table.tex").read_text()
    assert f"layout {layout!r}" in tex.splitlines()[1]
    tables = parse_latex(tex)
    if layout == "wide":
        assert _columns(tex)[0] == 6 and tables["dice"]["header"][0] == "Strategy"
    else:
        assert _columns(tex)[0] == 3 and tables["dice"]["header"] == ["Budget", "alpha", "beta", "gamma"]
        assert "Best per budget (row) in bold." in tex


def test_an_unknown_layout_stops_the_report_before_any_file(tmp_path):
    with pytest.raises(
        ConfigError, match="unknown LaTeX layout 'narrow'; choose one of split, wide, transposed"
    ):
        write_report(make_results(), tmp_path / "out", latex_layout="narrow")
    assert not (tmp_path / "out").exists()
