"""Ablation tables of grid runs (paper Tables 3 and 4) from synthetic results frames."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alstrategies.cli import main
from alstrategies.report import ablation_table, read_grid, write_ablation_report
from tests.report.test_report import make_results, parse_latex

CLASSES = ("RV", "MYO", "LV")


def _grid(tmp_path, layout, variants, budget, frames, **extra):
    (tmp_path / "grid.json").write_text(
        json.dumps(
            {"name": "ablation_asr", "variants": variants, "budget": budget, "layout": layout, **extra}
        )
    )
    for variant, frame in frames.items():
        (tmp_path / variant).mkdir()
        frame.to_csv(tmp_path / variant / "results.csv", index=False)


def test_variant_by_class_table_3(tmp_path):
    variants = ["none", "add", "concat", "attention"]
    frames = {v: make_results(classes=CLASSES, seed=i) for i, v in enumerate(variants)}
    _grid(tmp_path, "variant_by_class", variants, 1.0, frames, labels={"none": "No ASR", "attention": "ASR"})
    written = write_ablation_report(tmp_path)
    assert [p.name for p in written] == [
        "ablation_table.md", "ablation_table.tex", "ablation_table.csv", "ablation_pairs.csv",
    ]  # fmt: skip
    csv = pd.read_csv(tmp_path / "ablation_table.csv")
    assert list(csv.columns) == [
        "metric", "variant", "class", "column_label", "budget", "mean", "std", "n_seeds", "best",
    ]  # fmt: skip
    for variant, frame in frames.items():
        full = frame[frame.budget == 1.0].groupby("seed").first()  # the 100 % model is shared
        for name, column in [*((c, f"dice_{c}") for c in CLASSES), ("mean", "dice")]:
            row = csv[(csv.variant == variant) & (csv["class"] == name)]
            assert row["mean"].item() == pytest.approx(100 * full[column].mean())
            assert row["std"].item() == pytest.approx(100 * full[column].std(ddof=1))
            assert row["n_seeds"].item() == 3
    for _, column in csv.groupby("class"):
        assert (column["best"] == (column["mean"].round(2) == column["mean"].round(2).max())).all()
    tex = (tmp_path / "ablation_table.tex").read_text()
    assert tex.startswith("% Ablation ablation_asr: Dice (%) at 100% labeled")  # what, then the package
    assert (
        "LaTeX layout 'split'" in tex.splitlines()[1]
        and "needs \\usepackage{booktabs}" in tex.splitlines()[1]
    )
    table = parse_latex(tex)["ablation-asr"]
    assert table["spec"] == "lcccc"  # variant + 3 classes + Avg.
    assert table["header"] == ["Variant", "RV", "MYO", "LV", "Avg."]
    assert list(table["rows"]) == ["No ASR", "add", "concat", "ASR"]
    markdown = (tmp_path / "ablation_table.md").read_text()
    assert "| No ASR |" in markdown and "Avg." in markdown


def test_strategy_by_variant_table_4(tmp_path):
    variants = ["unet", "unetpp", "attention_unet"]
    frames = {
        v: make_results(strategies=("random", "margin", "sbc_al"), seed=i) for i, v in enumerate(variants)
    }
    _grid(tmp_path, "strategy_by_variant", variants, 0.2, frames)
    write_ablation_report(tmp_path)
    csv = pd.read_csv(tmp_path / "ablation_table.csv")
    assert set(csv["variant"]) == set(variants) and set(csv["strategy"]) == {"random", "margin", "sbc_al"}
    for row in csv.itertuples():
        frame = frames[row.variant]
        values = frame[(frame.strategy == row.strategy) & np.isclose(frame.budget, 0.2)]["dice"]
        assert row.mean == pytest.approx(100 * values.mean()) and row.budget == 0.2
    table = parse_latex((tmp_path / "ablation_table.tex").read_text())["ablation-asr"]
    assert table["header"] == ["Strategy", "unet", "unetpp", "attention\\_unet"]
    bold = {name: [cell[2] for cell in cells] for name, cells in table["rows"].items()}
    assert bold["sbc_al"] == [True, True, True]  # the steepest synthetic curve wins every column


def test_missing_variants_and_strategy_choice(tmp_path):
    frames = {"a": make_results(), "b": make_results(seed=1)}
    table = ablation_table({**frames, "c": None}, layout="variant_by_class", budget=0.2, strategy="beta")
    assert np.isnan(table.mean[2]).all() and np.isfinite(table.mean[:2]).all()
    beta = frames["a"][(frames["a"].strategy == "beta") & np.isclose(frames["a"].budget, 0.2)]
    assert table.mean[0, -1] == pytest.approx(100 * beta["dice"].mean())
    with pytest.raises(ValueError, match="name the one to tabulate"):
        ablation_table(frames, layout="variant_by_class", budget=0.2)
    _grid(tmp_path, "variant_by_class", ["a", "b", "c"], 1.0, frames)
    write_ablation_report(tmp_path)
    assert "Variants without results.csv: c." in (tmp_path / "ablation_table.md").read_text()


def test_grid_json_is_checked(tmp_path):
    (tmp_path / "grid.json").write_text(
        json.dumps({"name": "x", "variants": ["a"], "budget": 0.1, "layout": "rows"})
    )
    with pytest.raises(ValueError, match="layout"):
        read_grid(tmp_path)
    (tmp_path / "grid.json").write_text(json.dumps({"name": "x", "variants": []}))
    with pytest.raises(ValueError, match="lacks budget, layout"):
        read_grid(tmp_path)


def test_cli_report_detects_a_grid(tmp_path, capsys):
    _grid(tmp_path, "variant_by_class", ["a"], 1.0, {"a": make_results()})
    assert main(["report", str(tmp_path)]) == 0
    assert str(tmp_path / "ablation_table.tex") in capsys.readouterr().out
    assert not (tmp_path / "summary.md").exists()


PAPER_TABLE_3 = (
    Path(__file__).resolve().parents[2] / "benchmarks" / "reference" / "sbcal_miccai2024_acdc_asr.csv"
)


def test_the_papers_table_3_beside_the_grid(tmp_path, capsys):
    variants = ["none", "add", "concat", "attention"]
    frames = {v: make_results(classes=CLASSES, seed=i) for i, v in enumerate(variants)}
    _grid(tmp_path, "variant_by_class", variants, 1.0, frames)
    assert main(["report", str(tmp_path), "--reference", str(PAPER_TABLE_3)]) == 0
    ours = pd.read_csv(tmp_path / "ablation_table.csv")
    beside = pd.read_csv(tmp_path / "ablation_reference.csv")
    assert len(beside) == 16  # 4 variants x (3 classes + the average)
    paper = {("none", "RV"): 88.36, ("concat", "mean"): 90.09, ("attention", "LV"): 95.23}
    for (variant, name), published in paper.items():
        row = beside[(beside.variant == variant) & (beside["class"] == name)]
        mine = ours[(ours.variant == variant) & (ours["class"] == name)]["mean"].item()
        assert row["paper_mean"].item() == published and row["mean"].item() == pytest.approx(mine)
        assert row["difference"].item() == pytest.approx(mine - published)
    markdown = (tmp_path / "ablation_reference.md").read_text()
    assert "| attention (paper) | 91.28 | 87.60 | 95.23 | 91.37 |" in markdown
    bad = tmp_path / "bad.csv"
    bad.write_text("strategy,budget,mean,std\nrandom,0.1,70,1\n")
    assert main(["report", str(tmp_path), "--reference", str(bad)]) == 2
    assert "lacks the column(s) variant, class" in capsys.readouterr().err


def test_paired_differences_between_variants_match_a_hand_computed_t_test(tmp_path):
    """Each pair of variants: the per-seed Dice differences, their mean, a paired t written out
    here, Holm over the 3 pairs, a bootstrap interval around the mean; a missing variant has no pair."""
    variants = ["none", "add", "attention", "missing"]
    frames = {v: make_results(classes=CLASSES, seed=10 + i) for i, v in enumerate(variants[:3])}
    _grid(tmp_path, "variant_by_class", variants, 1.0, frames, labels={"attention": "ASR"})
    write_ablation_report(tmp_path)
    pairs = pd.read_csv(tmp_path / "ablation_pairs.csv")
    per_seed = {v: 100 * f[f.budget == 1.0].groupby("seed")["dice"].first() for v, f in frames.items()}
    expected_pairs = [("none", "add"), ("none", "attention"), ("add", "attention")]
    assert list(zip(pairs.variant_a, pairs.variant_b)) == expected_pairs
    raw = []
    for (a, b), row in zip(expected_pairs, pairs.itertuples(), strict=True):
        d = (per_seed[a] - per_seed[b]).to_numpy()
        n = len(d)
        mean = sum(d) / n
        sd = (sum((x - mean) ** 2 for x in d) / (n - 1)) ** 0.5
        t = mean / (sd / n**0.5)
        p = 2 * (1 - stats.t.cdf(abs(t), n - 1))
        raw.append(p)
        assert row.n == n == 3
        assert row.mean_diff == pytest.approx(mean) and row.statistic == pytest.approx(t)
        assert row.p_raw == pytest.approx(p)
        assert row.ci_low <= mean <= row.ci_high and min(d) <= row.ci_low and row.ci_high <= max(d)
        half = stats.t.ppf(0.975, n - 1) * sd / n**0.5
        assert (row.t_low, row.t_high) == pytest.approx((mean - half, mean + half))
    order = np.argsort(raw)
    holm, running = np.empty(3), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * raw[index]))
        holm[index] = running
    assert pairs["p_holm"].to_numpy() == pytest.approx(holm)
    markdown = (tmp_path / "ablation_table.md").read_text()
    assert "## Paired differences between variants" in markdown
    assert "| none | ASR | 3 |" in markdown and "missing" not in markdown.split("## Paired")[1]


def test_a_clearly_better_variant_is_named_in_the_pairs(tmp_path):
    """Five seeds where one variant is 5 points above the other on every seed: separated."""
    base = make_results(classes=CLASSES, seed=3, seeds=(0, 1, 2, 3, 4))
    better = base.copy()
    better["dice"] = better["dice"] + 0.05 + 0.001 * better["seed"]
    _grid(tmp_path, "variant_by_class", ["none", "attention"], 1.0, {"none": base, "attention": better})
    write_ablation_report(tmp_path)
    pairs = pd.read_csv(tmp_path / "ablation_pairs.csv")
    assert pairs["outcome"].tolist() == ["b"] and pairs["mean_diff"].item() == pytest.approx(-5.2)
    assert "attention better" in (tmp_path / "ablation_table.md").read_text()


def test_paired_differences_at_an_al_budget_use_only_the_named_strategy(tmp_path):
    """At 20 % the strategies differ: the pairs of strategy beta pair beta's per-seed Dice only."""
    frames = {v: make_results(classes=CLASSES, seed=20 + i) for i, v in enumerate(["none", "attention"])}
    _grid(tmp_path, "variant_by_class", ["none", "attention"], 0.2, frames, strategy="beta")
    write_ablation_report(tmp_path)
    pairs = pd.read_csv(tmp_path / "ablation_pairs.csv")

    def per_seed(frame, strategies):
        rows = frame[(frame.budget == 0.2) & frame.strategy.isin(strategies)]
        return 100 * rows.groupby("seed")["dice"].mean()

    beta = per_seed(frames["none"], ["beta"]) - per_seed(frames["attention"], ["beta"])
    every = per_seed(frames["none"], ["alpha", "beta", "gamma"]) - per_seed(
        frames["attention"], ["alpha", "beta", "gamma"]
    )
    assert abs(beta.mean() - every.mean()) > 0.1  # the strategy column matters here
    assert pairs["mean_diff"].item() == pytest.approx(beta.mean())
    assert pairs["mean_a"].item() == pytest.approx(per_seed(frames["none"], ["beta"]).mean())
