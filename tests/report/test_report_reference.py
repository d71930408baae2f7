"""Published values beside ours: the reference CSV is checked, matched by strategy and budget
label, and written as interleaved rows without bold (ours first, then the paper's)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alstrategies.report import write_report
from alstrategies.report.reference import ReferenceTableError, load_reference, write_reference_comparison

REFERENCE = Path(__file__).resolve().parents[2] / "benchmarks" / "reference"
PAPER = REFERENCE / "sbcal_miccai2024_acdc.csv"


def _results() -> pd.DataFrame:
    rows = []
    for strategy, shift in (("random", 0.0), ("sbc_al", 0.05), ("mine", 0.1)):
        for seed in range(3):
            for budget, base in ((1 / 15, 0.2), (0.1, 0.5), (1.0, 0.7)):
                dice = base + shift + 0.01 * seed
                rows.append(
                    {
                        "strategy": strategy,
                        "seed": seed,
                        "round": 0,
                        "budget": budget,
                        "dice": dice,
                        "hd95": 3.0,
                    }
                )
    return pd.DataFrame(rows)


def test_the_paper_tables_load_with_every_strategy_and_budget():
    acdc = load_reference(PAPER)
    assert len(acdc) == 7 * 10 and set(acdc["budget"]) >= {0.0667, 0.1, 0.3333, 1.0}
    assert acdc.set_index(["strategy", "budget"]).loc[("sbc_al", 1.0), "mean"] == 91.37
    kits = load_reference(REFERENCE / "sbcal_miccai2024_kits19.csv")
    assert set(kits["strategy"]) == {"random", "max_entropy", "least_confidence", "margin", "sbc_al"}


def test_comparison_interleaves_ours_and_the_paper(tmp_path):
    results = _results()
    paths = write_reference_comparison(results, PAPER, tmp_path)
    names = [f"reference_comparison.{s}" for s in ("md", "tex", "csv")] + ["reference_aulc.csv"]
    assert [p.name for p in paths] == names
    frame = pd.read_csv(paths[2])
    row = frame[(frame.strategy == "sbc_al") & (frame.budget_label == "10.00%")].iloc[0]
    ours = results[(results.strategy == "sbc_al") & (results.budget == 0.1)]["dice"]
    assert row["mean"] == pytest.approx(100 * ours.mean())
    assert row["std"] == pytest.approx(100 * ours.std(ddof=1))
    assert row["paper_mean"] == 81.43 and row["difference"] == pytest.approx(100 * ours.mean() - 81.43)
    mine = frame[frame.strategy == "mine"]
    assert len(mine) == 3 and mine["paper_mean"].isna().all()  # not in the paper: no value
    markdown = paths[0].read_text()
    assert "| sbc_al (paper) | 66.20 ± 0.05 | 81.43 ± 0.01 | 91.37 ± 0.01 |" in markdown
    assert "**" not in markdown and "\\textbf" not in paths[1].read_text()  # no contest, no bold
    lines = [line for line in markdown.splitlines() if line.startswith("| random")]
    assert lines[0].startswith("| random |") and lines[1].startswith("| random (paper) |")


def _trapezoid_mean(xs: list[float], ys: list[float]) -> float:
    """The mean height of the piecewise linear curve through (xs, ys), written out."""
    area = 0.0
    for i in range(len(xs) - 1):
        area += (xs[i + 1] - xs[i]) * (ys[i] + ys[i + 1]) / 2
    return area / (xs[-1] - xs[0])


def test_the_whole_curve_sits_beside_the_papers_aulc_and_gain(tmp_path):
    rows = []
    for strategy, shift in (("random", 0.0), ("sbc_al", 0.04), ("mine", 0.1)):
        for seed in range(3):
            for budget, base in ((0.066667, 0.60), (0.1, 0.62 + 0.01 * seed), (0.133333, 0.70), (1.0, 0.8)):
                rows.append({"strategy": strategy, "seed": seed, "round": 0, "budget": budget,
                             "dice": base + shift * (budget > 0.07), "hd95": 3.0})  # fmt: skip
    results = pd.DataFrame(rows)
    paths = write_reference_comparison(results, PAPER, tmp_path)
    table = pd.read_csv(paths[3]).set_index("strategy")
    assert list(table.index) == ["random", "sbc_al"]  # `mine` is not in the paper
    xs = [0.066667, 0.1, 0.133333]
    ours = [100 * _trapezoid_mean(xs, [0.60, 0.62 + 0.01 * seed, 0.70]) for seed in range(3)]
    sbc = [100 * _trapezoid_mean(xs, [0.60, 0.66 + 0.01 * seed, 0.74]) for seed in range(3)]
    assert table.loc["random", "aulc"] == pytest.approx(np.mean(ours))
    assert table.loc["sbc_al", "aulc_std"] == pytest.approx(np.std(sbc, ddof=1))
    assert table.loc["sbc_al", "gain"] == pytest.approx(np.mean(sbc) - np.mean(ours))
    paper_xs = [0.0667, 0.1, 0.1333]
    paper_random = _trapezoid_mean(paper_xs, [66.11, 72.70, 80.50])  # Table 1, Random
    paper_sbc = _trapezoid_mean(paper_xs, [66.20, 81.43, 84.55])  # Table 1, SBC-AL
    assert table.loc["random", "paper_aulc"] == pytest.approx(paper_random)
    assert table.loc["sbc_al", "paper_gain"] == pytest.approx(paper_sbc - paper_random)
    assert np.isnan(table.loc["random", "gain"]) and table.loc["random", "budgets"] == "6.67% 10.00% 13.33%"
    markdown = paths[0].read_text()
    assert f"| sbc_al | {np.mean(sbc):.2f} ± {np.std(sbc, ddof=1):.2f} | {paper_sbc:.2f} |" in markdown


def test_write_report_adds_the_comparison_on_request(tmp_path):
    written = write_report(_results(), tmp_path, ["RV"], reference=PAPER)
    assert tmp_path / "reference_comparison.md" in written
    plain = write_report(_results(), tmp_path / "plain", ["RV"])
    assert not any(p.name.startswith("reference") for p in plain)


@pytest.mark.parametrize(
    "text, message",
    [
        ("strategy,budget,mean\nrandom,0.1,70\n", "lacks the column"),
        ("strategy,budget,mean,std\nrandom,ten,70,1\n", "'ten' is not a number"),
        ("strategy,budget,mean,std\nrandom,10,70,1\n", "not a labeled fraction"),
    ],
)
def test_bad_reference_tables_are_explained(tmp_path, text, message):
    path = tmp_path / "table.csv"
    path.write_text(text)
    with pytest.raises(ReferenceTableError, match=message):
        load_reference(path)


def test_a_missing_reference_names_the_file(tmp_path):
    with pytest.raises(ReferenceTableError, match="does not exist.*benchmarks/reference"):
        load_reference(tmp_path / "nope.csv")


def test_budgets_match_by_their_label():
    from alstrategies.report.reference import reference_table

    results = _results()
    reference = pd.DataFrame({"strategy": ["random"], "budget": [0.0667], "mean": [66.11], "std": [0.04]})
    table = reference_table(results, reference)
    assert table.columns[0] == "6.67%" and table.mean[1, 0] == 66.11  # 1/15 and 0.0667 are one budget
    assert np.isnan(table.mean[1, 1])


def test_the_reference_error_is_of_the_family_and_shadows_no_builtin():
    import alstrategies.report.reference as module
    from alstrategies.errors import AlstrategiesError

    assert issubclass(ReferenceTableError, AlstrategiesError) and issubclass(ReferenceTableError, ValueError)
    assert "ReferenceError" not in vars(module)  # the builtin ReferenceError is no longer shadowed
