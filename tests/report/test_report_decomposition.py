"""SBC-AL's gain split into the network's and the query's part, on frames with known parts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alstrategies.errors import RecordError
from alstrategies.report.decomposition import network_query_split, split_summary, write_network_query_split
from tests.report.test_guards_report import slow_aulc

BUDGETS = (0.1, 0.2, 0.3, 0.4)
SEEDS = (0, 1, 2)
QUERY = {0: 0.02, 1: 0.03, 2: 0.01}  # the query's gain per seed (AULC points as fractions)
NETWORK = {0: 0.05, 1: 0.04, 2: 0.06}  # SBCNet over the plain U-Net, per seed


def _curve(seed: int, gain: float) -> list[float]:
    """A rising curve plus a constant ``gain``: its normalised AULC rises by exactly ``gain``."""
    return [0.4 + 0.01 * seed + budget + gain for budget in BUDGETS]


def _frame(curves: dict[str, dict[int, list[float]]]) -> pd.DataFrame:
    rows = []
    for strategy, by_seed in curves.items():
        for seed, values in by_seed.items():
            for r, (budget, dice) in enumerate(zip(BUDGETS, values, strict=True)):
                rows.append({"strategy": strategy, "seed": seed, "round": r, "budget": budget, "dice": dice})
            rows.append({"strategy": strategy, "seed": seed, "round": 4, "budget": 1.0, "dice": 0.99})
    return pd.DataFrame(rows)


def runs(sbc_paper_extra: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    shared = _frame(
        {
            "random": {s: _curve(s, NETWORK[s]) for s in SEEDS},
            "sbc_al": {s: _curve(s, NETWORK[s] + QUERY[s]) for s in SEEDS},
            "margin": {s: _curve(s, 0.5) for s in SEEDS},  # other strategies do not matter
        }
    )
    paper = _frame(
        {
            "random": {s: _curve(s, 0.0) for s in SEEDS},
            "sbc_al": {s: _curve(s, NETWORK[s] + QUERY[s] + sbc_paper_extra) for s in SEEDS},
        }
    )
    return shared, paper


def test_known_parts_are_recovered_per_seed():
    split = network_query_split(*runs()).set_index("seed")
    assert list(split.index) == list(SEEDS)
    for s in SEEDS:
        assert split.loc[s, "query"] == pytest.approx(QUERY[s], abs=1e-12)
        assert split.loc[s, "network"] == pytest.approx(NETWORK[s], abs=1e-12)
        assert split.loc[s, "total"] == pytest.approx(QUERY[s] + NETWORK[s], abs=1e-12)
        assert split.loc[s, "residual"] == pytest.approx(0.0, abs=1e-12)
    summary = split_summary(split.reset_index()).set_index("component")
    assert summary.loc["query", "mean"] == pytest.approx(np.mean(list(QUERY.values())))
    assert summary.loc["network", "std"] == pytest.approx(np.std(list(NETWORK.values()), ddof=1))
    assert (summary["n_seeds"] == 3).all()


def test_residual_is_the_difference_of_sbc_al_chains_and_curves_need_not_be_flat():
    shared, paper = runs(sbc_paper_extra=0.01)
    rng = np.random.default_rng(0)
    paper.loc[paper["round"].between(1, 3), "dice"] += rng.normal(0, 0.01, paper["round"].between(1, 3).sum())
    split = network_query_split(shared, paper).set_index("seed")

    def aulc(frame, strategy, seed):
        chain = frame[(frame.strategy == strategy) & (frame.seed == seed) & (frame.budget < 1)].sort_values(
            "budget"
        )
        return slow_aulc(chain["budget"].tolist(), chain["dice"].tolist())

    for s in SEEDS:
        assert split.loc[s, "total"] == pytest.approx(aulc(paper, "sbc_al", s) - aulc(paper, "random", s))
        assert split.loc[s, "query"] == pytest.approx(aulc(shared, "sbc_al", s) - aulc(shared, "random", s))
        assert split.loc[s, "network"] == pytest.approx(aulc(shared, "random", s) - aulc(paper, "random", s))
        assert split.loc[s, "residual"] == pytest.approx(aulc(paper, "sbc_al", s) - aulc(shared, "sbc_al", s))


def test_seeds_are_paired_and_missing_strategies_are_errors():
    shared, paper = runs()
    split = network_query_split(shared[shared.seed != 1], paper)
    assert split["seed"].tolist() == [0, 2]
    with pytest.raises(RecordError, match="sbc_al"):
        network_query_split(shared[shared.strategy != "sbc_al"], paper)
    with pytest.raises(RecordError, match="no seed in common"):
        network_query_split(shared[shared.seed == 0], paper[paper.seed == 1])


def test_writer_writes_markdown_and_csv(tmp_path):
    shared, paper = runs()
    (tmp_path / "shared").mkdir()
    (tmp_path / "paper").mkdir()
    shared.to_csv(tmp_path / "shared" / "results.csv", index=False)
    paper.to_csv(tmp_path / "paper" / "results.csv", index=False)
    md, csv = write_network_query_split(tmp_path / "shared", tmp_path / "paper", tmp_path / "out")
    table = pd.read_csv(csv)
    assert table["seed"].astype(str).tolist() == ["0", "1", "2", "mean", "std", "t_low", "t_high", "p"]
    mean = table[table.seed == "mean"].iloc[0]
    assert mean["query"] == pytest.approx(0.02) and mean["network"] == pytest.approx(0.05)
    text = md.read_text()
    line = next(line for line in text.splitlines() if line.startswith("| query |"))
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)  # query: 2, 3, 1 points
    assert f"| 2.00 ± 1.00 | [{2 - half:.2f}, {2 + half:.2f}] |" in line
    assert line.endswith("| 2.00 | 3.00 | 1.00 |")
    with pytest.raises(RecordError, match="results.csv"):
        write_network_query_split(tmp_path / "missing", tmp_path / "paper", tmp_path / "out")


def test_intervals_and_p_values_match_a_one_sample_t_test():
    split = network_query_split(*runs())
    summary = split_summary(split).set_index("component")
    for component in ("query", "network"):  # total is the same on every seed here
        values = split[component].to_numpy()
        half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
        assert summary.loc[component, "t_low"] == pytest.approx(values.mean() - half)
        assert summary.loc[component, "t_high"] == pytest.approx(values.mean() + half)
        assert summary.loc[component, "p"] == pytest.approx(stats.ttest_1samp(values, 0.0).pvalue)


def test_a_paper_run_with_random_only_takes_sbc_al_from_the_shared_run(tmp_path):
    """Each network under its own schedule: the paper run trains only Random's U-Net; total is
    SBCNet's SBC-AL against the U-Net's Random, there is no residual, and the round-0 Dice of
    both networks stand beside the parts."""
    shared, paper = runs(sbc_paper_extra=0.5)  # the paper run's sbc_al must not be read
    paper = paper[paper.strategy == "random"].copy()
    paper.loc[paper["round"] == 0, "dice"] -= 0.1  # the U-Net's round 0 lower still
    split = network_query_split(shared, paper).set_index("seed")
    assert "residual" not in split
    for s in SEEDS:
        assert split.loc[s, "total"] == pytest.approx(
            split.loc[s, "query"] + split.loc[s, "network"], abs=1e-12
        )
    assert not np.allclose(split["network"], list(NETWORK.values()))  # the lower round 0 counts
    for name, frame in (("shared", shared), ("paper", paper)):
        (tmp_path / name).mkdir()
        frame.to_csv(tmp_path / name / "results.csv", index=False)
    md, csv = write_network_query_split(tmp_path / "shared", tmp_path / "paper", tmp_path / "out")
    assert "residual" not in pd.read_csv(csv).columns
    text = md.read_text()
    assert "no residual" in text and "| residual |" not in text
    unet = next(line for line in text.splitlines() if line.startswith("| unet |"))
    sbcnet = next(line for line in text.splitlines() if line.startswith("| sbcnet |"))
    first = {s: 0.4 + 0.01 * s + BUDGETS[0] for s in SEEDS}  # _curve's round-0 value without gain
    assert sbcnet.endswith(" | ".join(f"{100 * (first[s] + NETWORK[s]):.2f}" for s in SEEDS) + " |")
    assert unet.endswith(" | ".join(f"{100 * (first[s] - 0.1):.2f}" for s in SEEDS) + " |")
    with pytest.raises(RecordError, match="random"):
        network_query_split(shared, paper[paper.strategy != "random"].assign(strategy="margin"))
