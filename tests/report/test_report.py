"""write_report: every file, LaTeX structure, bolding and values against the CSV, the CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alstrategies.cli import main
from alstrategies.errors import RecordError
from alstrategies.report import render_latex, render_markdown, write_report
from alstrategies.report.latex import MAX_COLUMNS
from alstrategies.report.tables import Table, budget_label, budget_table

SYNTHETIC_RESULTS = Path(__file__).resolve().parents[2] / "results" / "synthetic" / "results.csv"
CLASSES = ("A", "B")
RUN_FILES = {
    "penalty_matrix.csv",
    "penalty_matrix.png",
    "dice_table.md",
    "dice_table.tex",
    "dice_table.csv",
    "hd95_table.md",
    "hd95_table.tex",
    "hd95_table.csv",
    "learning_curves.png",
    "learning_curves.pdf",
    "summary.md",
}


def make_results(
    strategies=("alpha", "beta", "gamma"),
    seeds=(0, 1, 2),
    budgets=(0.1, 0.2, 0.3),
    classes=CLASSES,
    seed=0,
    hd95_unit: str | None = "mm",
) -> pd.DataFrame:
    """A results.csv-shaped frame: per-class Dice rising with the budget, ``dice`` their mean,
    a shared round 0 and a shared 100 % row per seed (as the run loop writes them); HD95 with its
    miss counts per class (fewer as Dice rises) and ``hd95_unit`` (no such columns for None, as
    in a run folder older than them)."""
    rng = np.random.default_rng(seed)
    rows = []
    shared = {s: rng.uniform(0.3, 0.5, len(classes)) for s in seeds}
    full = {s: rng.uniform(0.85, 0.95, len(classes)) for s in seeds}
    full_hd = {s: rng.uniform(2, 4, len(classes)) for s in seeds}
    for k, strategy in enumerate(strategies):
        for s in seeds:
            for r, budget in enumerate([*budgets, 1.0]):
                if budget >= 1.0:
                    dice, hd = full[s], full_hd[s]
                elif r == 0:
                    dice, hd = shared[s], 20 - 10 * shared[s]
                else:
                    dice = np.clip(
                        shared[s] + budget * (1 + 0.3 * k) + rng.normal(0, 0.03, len(classes)), 0, 1
                    )
                    hd = 20 - 15 * dice
                row = {
                    "strategy": strategy,
                    "seed": s,
                    "round": len(budgets) if budget >= 1.0 else r,
                    "budget": budget,
                    "n_labeled": int(300 * budget),
                    "fraction": budget,
                    "dice": float(np.mean(dice)),
                    "hd95": float(np.mean(hd)),
                    "train_seconds": 1.0,
                    "query_seconds": 0.1,
                    "eval_seconds": 0.1,
                    "iterations": 10,
                }
                row.update({f"dice_{c}": float(d) for c, d in zip(classes, dice)})
                row.update({f"hd95_{c}": float(h) for c, h in zip(classes, hd)})
                if hd95_unit is not None:
                    row.update(
                        {
                            f"hd95_misses_{c}": int(rng.integers(0, 4 * (1 - d) + 1))
                            for c, d in zip(classes, dice)
                        }
                    )
                    row["hd95_unit"] = hd95_unit
                rows.append(row)
    return pd.DataFrame(rows)


# -- LaTeX parsing ---------------------------------------------------------------------------
CELL = re.compile(r"^(\\textbf\{)?(-?\d+\.\d{2})(?: \$\\pm\$ (\d+\.\d{2}))?(\})?$")  # one seed: mean only


def parse_latex(text: str) -> dict[str, dict]:
    """label -> {"spec", "header", "rows": {name: [(mean, std, bold) | None, ...]}, "parts"}: the
    parts of a split table (labels ``<label>-part<k>``) joined into one, ``parts`` their specs."""
    tables: dict[str, dict] = {}
    for block in re.findall(r"\\begin\{table\}.*?\\end\{table\}", text, re.S):
        label = re.search(r"\\label\{tab:([^}]*)\}", block).group(1)
        spec, body = re.search(r"\\begin\{tabular\}\{([^}]*)\}(.*?)\\end\{tabular\}", block, re.S).groups()
        top, mid, bottom = body.index(r"\toprule"), body.index(r"\midrule"), body.index(r"\bottomrule")
        assert top < mid < bottom, "booktabs rules out of order"

        def cells(line: str) -> list[str]:
            assert line.endswith(r"\\"), line
            return [c.strip() for c in line[:-2].split("&")]

        header_lines = [ln.strip() for ln in body[top + len(r"\toprule") : mid].splitlines() if ln.strip()]
        assert len(header_lines) == 1
        header = cells(header_lines[0])
        rows = {}
        for line in body[mid + len(r"\midrule") : bottom].splitlines():
            if not line.strip():
                continue
            parts = cells(line.strip())
            assert len(parts) == len(spec), f"row has {len(parts)} cells, spec {spec}"
            parsed = []
            for cell in parts[1:]:
                if cell == "--":
                    parsed.append(None)
                    continue
                match = CELL.match(cell)
                assert match, f"cell {cell!r} is not 'mean $\\pm$ std'"
                bold = match.group(1) is not None
                assert bold == (match.group(4) is not None)
                std = float(match.group(3)) if match.group(3) is not None else 0.0
                parsed.append((float(match.group(2)), std, bold))
            rows[parts[0].replace(r"\_", "_")] = parsed
        assert len(header) == len(spec)
        base, _, k = label.rpartition("-part")
        if base and k.isdigit():  # a later part of a split table: its columns continue the first's
            first = tables[base]
            assert int(k) == len(first["parts"]) + 1 and header[0] == first["header"][0]
            assert list(rows) == list(first["rows"])
            first["spec"] += spec[1:]
            first["header"] += header[1:]
            first["parts"].append(spec)
            for name, parsed in rows.items():
                first["rows"][name] += parsed
            continue
        tables[label] = {"spec": spec, "header": header, "rows": rows, "parts": [spec]}
    return tables


def _check_family(run: Path, results: pd.DataFrame, family: str, classes: list[str], unit: str = "") -> None:
    """The .tex and .md of a family against its CSV, and the CSV against the results. HD95: the
    ``unit`` of every value table and the miss-count tables (``volumes``, never bold) after each
    class when ``results`` has them."""
    csv = pd.read_csv(run / f"{family}_table.csv", keep_default_na=False, na_values=[""])
    with_unit = ["unit"] if family == "hd95" else []
    assert list(csv.columns) == [
        "metric", "strategy", "budget", "budget_label", *with_unit, "mean", "std", "n_seeds", "best",
    ]  # fmt: skip
    metrics = [family]
    for c in classes:
        metrics.append(f"{family}_{c}")
        if f"hd95_misses_{c}" in results and family == "hd95":
            metrics.append(f"hd95_misses_{c}")
    assert list(dict.fromkeys(csv["metric"])) == metrics
    if with_unit:
        units = csv.groupby("metric", sort=False)["unit"].first()
        assert units.to_dict() == {m: "volumes" if "_misses_" in m else unit for m in metrics}
    budgets = sorted(results["budget"].unique())
    higher = family != "hd95"  # Dice and surface Dice: percent, higher is better
    scale = 100.0 if higher else 1.0
    # CSV values against a direct computation from the results
    for metric in metrics:
        for (strategy, budget), values in results.groupby(["strategy", "budget"])[metric]:
            row = csv[(csv.metric == metric) & (csv.strategy == strategy) & np.isclose(csv.budget, budget)]
            values = values.dropna()  # an undefined HD95 is left out
            assert len(row) == (1 if len(values) else 0)
            if not len(values):
                continue
            assert row["mean"].item() == pytest.approx(scale * values.mean())
            assert row["std"].item() == pytest.approx(scale * values.std(ddof=1) if len(values) > 1 else 0.0)
            assert row["n_seeds"].item() == len(values)
    # the best flag: the max (Dice) / min (HD95) of the rounded means per column, ties included
    for (metric, _), column in csv.groupby(["metric", "budget"]):
        rounded = column["mean"].round(2)
        target = rounded.max() if higher else rounded.min()
        counts = "_misses_" in metric  # miss counts are diagnostics: no bold
        best = ~counts & (rounded == target)
        if best.sum() == len(column) > 1:  # every row ties (the shared round-0 and 100 % models)
            best[:] = False
        assert (column["best"] == best).all()
    # LaTeX: structure, then every cell against the CSV
    tables = parse_latex((run / f"{family}_table.tex").read_text())
    assert list(tables) == [m.replace("_", "-") for m in metrics]
    for metric in metrics:
        table = tables[metric.replace("_", "-")]
        assert table["spec"] == "l" + "c" * len(budgets)  # column count = budgets + 1
        assert all(len(spec) <= 1 + MAX_COLUMNS for spec in table["parts"])  # the default: split
        assert table["header"] == ["Strategy", *[budget_label(b).replace("%", r"\%") for b in budgets]]
        assert budget_label(budgets[-1]) == "100%"  # the upper bound is the last column
        assert list(table["rows"]) == list(dict.fromkeys(results["strategy"]))
        for strategy, cells in table["rows"].items():
            for budget, cell in zip(budgets, cells):
                row = csv[
                    (csv.metric == metric) & (csv.strategy == strategy) & np.isclose(csv.budget, budget)
                ]
                if cell is None:
                    assert row.empty
                    continue
                mean, std, bold = cell
                assert mean == float(f"{row['mean'].item():.2f}")
                assert std == float(f"{row['std'].item():.2f}")
                assert bold == bool(row["best"].item())
    # Markdown: the same cells with ** for bold
    markdown = (run / f"{family}_table.md").read_text()
    first = csv[csv.metric == family]
    for row in first.itertuples():
        text = f"{row.mean:.2f} ± {row.std:.2f}"
        assert (f"**{text}**" in markdown) or not row.best


def test_write_report_on_a_small_frame(tmp_path):
    results = make_results()
    written = write_report(results, tmp_path, list(CLASSES))
    assert {p.name for p in written} == RUN_FILES
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)
    assert written.notes and "no snapshots folder" in written.notes[0]
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    _check_family(tmp_path, results, "dice", list(CLASSES))
    _check_family(tmp_path, results, "hd95", list(CLASSES), unit="mm")
    assert (tmp_path / "learning_curves.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "learning_curves.png").read_bytes().startswith(b"\x89PNG")
    summary = (tmp_path / "summary.md").read_text()
    for strategy in ("alpha", "beta", "gamma"):
        assert f"| {strategy} |" in summary
    assert "Holm" in summary and "trapezoid" in summary


def test_write_report_bolds_the_best_and_the_lowest_hd95(tmp_path):
    results = make_results()
    write_report(results, tmp_path)  # class names inferred from the dice_<class> columns
    dice = pd.read_csv(tmp_path / "dice_table.csv")
    at = dice[(dice.metric == "dice") & np.isclose(dice.budget, 0.3)]
    assert at.loc[at["best"], "strategy"].tolist() == ["gamma"]  # the steepest synthetic curve
    assert at.loc[at["best"], "mean"].item() == at["mean"].max()
    hd95 = pd.read_csv(tmp_path / "hd95_table.csv")
    at = hd95[(hd95.metric == "hd95") & np.isclose(hd95.budget, 0.3)]
    assert at.loc[at["best"], "strategy"].tolist() == ["gamma"]
    assert at.loc[at["best"], "mean"].item() == at["mean"].min()
    # round 0 and 100 % are shared: every strategy ties, so none is bold
    assert not dice[np.isclose(dice.budget, 0.1)]["best"].any()
    assert not dice[np.isclose(dice.budget, 1.0)]["best"].any()


def test_write_report_on_the_committed_synthetic_run(tmp_path):
    shutil.copy(SYNTHETIC_RESULTS, tmp_path / "results.csv")
    results = pd.read_csv(tmp_path / "results.csv")
    written = write_report(results, tmp_path, ["RV", "MYO", "LV"])
    with_random = {"difference_to_random.csv", "difference_to_random.png", "difference_to_random.pdf"}
    assert {p.name for p in written} == RUN_FILES | with_random | {"aulc_vs_random.csv"}
    _check_family(tmp_path, results, "dice", ["RV", "MYO", "LV"])
    _check_family(tmp_path, results, "hd95", ["RV", "MYO", "LV"], unit="mm")
    hd95 = (tmp_path / "hd95_table.md").read_text()  # the phantom's volumes have a spacing: mm
    assert hd95.startswith("# HD95 (mm) on the test volumes")
    assert "## HD95 RV (mm)" in hd95 and "HD95 misses RV" in hd95
    # the tables match the committed Markdown report's first table cell for cell
    committed = (SYNTHETIC_RESULTS.parent / "dice_table.md").read_text().split("\n## ")[0]
    ours = (tmp_path / "dice_table.md").read_text().split("\n## ")[0]
    table_lines = lambda text: [ln for ln in text.splitlines() if ln.startswith("| ")]  # noqa: E731
    unbolded = lambda lines: [ln.replace("**", "") for ln in lines]  # noqa: E731  (tied columns: no bold now)
    assert unbolded(table_lines(ours)) == unbolded(table_lines(committed))
    summary = (tmp_path / "summary.md").read_text()
    # the pairwise comparison covers Random and the ranked strategies: not the controls, not the oracle
    from alstrategies.report.detectability import CONTROLS, DIAGNOSTICS

    outside = (set(CONTROLS) | set(DIAGNOSTICS)) & set(results["strategy"])
    assert outside == {"oracle", "confident", "random_foreground_oracle", "empty_first"}
    family = results["strategy"].nunique() - len(outside)
    assert "6.67% to 33.33% (9 budgets)" in summary and f"m = {family * (family - 1) // 2}" in summary
    assert "| least_confidence | " in summary and "not reached" in summary


def with_surface_dice(results: pd.DataFrame, classes=CLASSES, seed: int = 4) -> pd.DataFrame:
    """``results`` plus surface Dice columns (a noisy copy of Dice, one class undefined once)."""
    rng = np.random.default_rng(seed)
    out = results.copy()
    for c in classes:
        out[f"surface_dice_{c}"] = np.clip(out[f"dice_{c}"] + rng.normal(0, 0.05, len(out)), 0, 1)
    out.loc[3, f"surface_dice_{classes[0]}"] = np.nan
    out["surface_dice"] = out[[f"surface_dice_{c}" for c in classes]].mean(axis=1)
    return out


def test_surface_dice_gets_its_own_table_and_leaves_the_others_alone(tmp_path):
    results = make_results()
    plain = write_report(results, tmp_path / "plain", list(CLASSES))
    written = write_report(with_surface_dice(results), tmp_path / "nsd", list(CLASSES))
    extra = {"surface_dice_table.md", "surface_dice_table.tex", "surface_dice_table.csv"}
    assert {p.name for p in written} == RUN_FILES | extra
    _check_family(tmp_path / "nsd", with_surface_dice(results), "surface_dice", list(CLASSES))
    markdown = (tmp_path / "nsd" / "surface_dice_table.md").read_text()
    assert markdown.startswith("# Mean normalised surface Dice (%) on the test volumes")
    assert "## Surface Dice A (%)" in markdown and "tolerance" in markdown
    for path in plain:  # every other file is the same with or without the surface Dice columns
        if path.suffix in (".md", ".tex", ".csv"):
            assert path.read_bytes() == (tmp_path / "nsd" / path.name).read_bytes(), path.name


def test_hd95_and_classes_are_optional(tmp_path):
    results = make_results(classes=("A",)).drop(columns=["hd95", "hd95_A"])
    written = write_report(results, tmp_path, [])
    assert {p.name for p in written} == RUN_FILES - {"hd95_table.md", "hd95_table.tex", "hd95_table.csv"}
    assert set(pd.read_csv(tmp_path / "dice_table.csv")["metric"]) == {"dice"}
    with pytest.raises(ValueError, match="empty"):
        write_report(results.iloc[:0], tmp_path)


def test_single_seed_and_missing_cells():
    results = make_results(seeds=(0,))
    results = results[~((results.strategy == "beta") & (results.budget == 0.2))]
    table = budget_table(results)
    assert (table.std[np.isfinite(table.mean)] == 0).all()
    markdown = render_markdown(table)
    assert "±" not in markdown  # one seed: the sample std is undefined, so no "± 0.00"
    beta = table.rows.index("beta")
    assert np.isnan(table.mean[beta, 1]) and table.count[beta, 1] == 0
    latex = render_latex(table, label="tab:x")
    cells = parse_latex(latex)["x"]["rows"]["beta"]
    assert cells[1] is None and cells[0] is not None


def test_table_best_uses_the_displayed_precision():
    table = Table(
        key="t",
        title="t",
        row_header="Strategy",
        rows=("a", "b", "c"),
        columns=("x",),
        mean=np.array([[90.004], [89.996], [89.0]]),
        std=np.zeros((3, 1)),
        count=np.ones((3, 1)),
    )
    assert table.best()[:, 0].tolist() == [True, True, False]  # both display as 90.00


def test_latex_compiles_when_a_latex_engine_exists(tmp_path):
    engine = next((e for e in ("pdflatex", "tectonic") if shutil.which(e)), None)
    if engine is None:
        pytest.skip("neither pdflatex nor tectonic is on PATH; LaTeX structure is checked by parsing")
    write_report(make_results(), tmp_path)
    document = tmp_path / "document.tex"
    document.write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        "\\input{dice_table.tex}\n\\input{hd95_table.tex}\n\\end{document}\n"
    )
    command = (
        [engine, "-interaction=nonstopmode", document.name]
        if engine == "pdflatex"
        else [engine, document.name]
    )
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert (tmp_path / "document.pdf").is_file()


# -- CLI -------------------------------------------------------------------------------------
def test_cli_report_writes_every_file(tmp_path, capsys):
    make_results().to_csv(tmp_path / "results.csv", index=False)
    assert (
        main(["report", str(tmp_path), "--test", "wilcoxon", "--alpha", "0.1", "--pairing", "seed_budget"])
        == 0
    )
    out = capsys.readouterr().out
    for name in RUN_FILES:
        assert str(tmp_path / name) in out
        assert (tmp_path / name).is_file()
    assert "note: qualitative.png, sbcal_outputs.png skipped" in out
    summary = (tmp_path / "summary.md").read_text()
    assert "Wilcoxon signed-rank" in summary and "alpha = 0.1" in summary and "(seed, budget)" in summary


def test_cli_report_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "results.csv not found" in capsys.readouterr().err
    make_results().to_csv(tmp_path / "results.csv", index=False)
    (tmp_path / "snapshots").mkdir()
    assert main(["report", str(tmp_path), "--budget", "70%"]) == 2
    assert "no AL budget near 70.00%" in capsys.readouterr().err
    assert main(["report", str(tmp_path), "--budget", "abc"]) == 2
    assert "not a number" in capsys.readouterr().err


@pytest.mark.parametrize(
    "shape",
    [
        {"budgets": (0.0667,), "strategies": ("random",), "seeds": (0,)},  # a grid variant's 100 % run
        {"seeds": (0,)},  # one seed: nothing to pair
        {"budgets": (0.1,)},  # one AL budget: no rounds after round 0 for seed_budget pairing
    ],
)
@pytest.mark.parametrize("pairing", ["seed", "seed_budget"])
def test_degenerate_runs_still_report(tmp_path, shape, pairing):
    written = write_report(make_results(**shape), tmp_path, pairing=pairing, test="wilcoxon")
    assert {p.name for p in written} == RUN_FILES
    summary = (tmp_path / "summary.md").read_text()
    assert "## Pairwise comparison" in summary


@pytest.mark.parametrize("unit", ["mm", "voxels"])
def test_hd95_titles_and_csv_state_the_recorded_unit(tmp_path, unit):
    results = make_results(hd95_unit=unit)
    write_report(results, tmp_path, list(CLASSES))
    markdown = (tmp_path / "hd95_table.md").read_text()
    assert markdown.startswith(f"# HD95 ({unit}) on the test volumes")
    assert f"## HD95 A ({unit})" in markdown and f"## HD95 B ({unit})" in markdown
    latex = (tmp_path / "hd95_table.tex").read_text()
    assert f"\\caption{{Mean HD95 ({unit}), mean $\\pm$ std" in latex
    _check_family(tmp_path, results, "hd95", list(CLASSES), unit=unit)
    assert "unit" not in pd.read_csv(tmp_path / "dice_table.csv").columns  # Dice's unit is fixed: %
    assert ("slice spacing taken as 1" in markdown) == (unit == "voxels")


def test_hd95_units_that_disagree_stop_the_report(tmp_path):
    results = make_results()
    results.loc[results.index[-1], "hd95_unit"] = "voxels"
    with pytest.raises(RecordError, match="mix the hd95 units mm, voxels"):
        write_report(results, tmp_path / "mixed", list(CLASSES))
    assert not (tmp_path / "mixed").exists()  # nothing written
    older = make_results()
    older.loc[older.index[:5], "hd95_unit"] = np.nan  # rows from before the unit was recorded
    write_report(older, tmp_path / "older", list(CLASSES))
    assert (tmp_path / "older" / "hd95_table.md").read_text().startswith("# HD95 (mm)")
