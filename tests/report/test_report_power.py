"""Power, MDE and seeds needed against Monte-Carlo simulations; the controls' verdict in summary.md."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alstrategies.report.bootstrap import aulc_vs_baseline
from alstrategies.report.detectability import control_verdicts, detectability
from alstrategies.report.power import minimal_detectable_effect, paired_power, pooled_sd, seeds_needed
from alstrategies.report.summary import summary_markdown


def _rejection_rate(
    effect: float, sd: float, n: int, alpha: float, sims: int = 40_000, seed: int = 0
) -> float:
    """Share of simulated paired experiments (normal differences) that the two-sided t-test rejects."""
    rng = np.random.default_rng(seed)
    differences = rng.normal(effect, sd, size=(sims, n))
    p = stats.ttest_1samp(differences, 0.0, axis=1).pvalue
    return float(np.mean(p < alpha))


@pytest.mark.parametrize(("sd", "n", "alpha"), [(0.02, 5, 0.05 / 6), (0.01, 10, 0.05), (0.03, 3, 0.05 / 2)])
def test_mde_is_detected_with_80_percent_power_in_a_simulation(sd, n, alpha):
    mde = minimal_detectable_effect(sd, n, alpha)
    assert mde > 0
    assert paired_power(mde, sd, n, alpha) == pytest.approx(0.8, abs=1e-9)
    # 40 000 simulations: standard error of the rate sqrt(.8 x .2 / 40000) = 0.002
    assert _rejection_rate(mde, sd, n, alpha) == pytest.approx(0.80, abs=0.01)
    # and a smaller effect is detected less often
    assert _rejection_rate(0.7 * mde, sd, n, alpha, seed=1) < 0.7


def test_power_at_zero_is_the_size_and_symmetric_in_the_sign():
    assert paired_power(0.0, 0.02, 5, 0.05) == pytest.approx(0.05, abs=1e-12)
    assert paired_power(-0.03, 0.02, 5, 0.01) == pytest.approx(paired_power(0.03, 0.02, 5, 0.01))
    assert paired_power(1.0, 0.001, 5, 0.01) == pytest.approx(1.0)  # far tail: no NaN
    with pytest.raises(ValueError):
        paired_power(0.01, 0.02, 1, 0.05)


def test_seeds_needed_is_the_first_n_with_enough_power():
    for effect, sd, alpha in [(0.01, 0.02, 0.05 / 6), (0.005, 0.03, 0.05), (0.02, 0.01, 0.01)]:
        needed = seeds_needed(effect, sd, alpha)
        n = 2  # the slow way: walk up until the power reaches 0.8
        while paired_power(effect, sd, n, alpha) < 0.8:
            n += 1
        assert needed == n
    assert seeds_needed(0.0, 0.02, 0.05) is None
    assert seeds_needed(1e-6, 1.0, 0.05, max_n=1000) is None
    # the MDE at the needed n is at most the effect, one seed fewer is not enough
    n = seeds_needed(0.01, 0.02, 0.05)
    assert minimal_detectable_effect(0.02, n, 0.05) <= 0.01 < minimal_detectable_effect(0.02, n - 1, 0.05)


def test_pooled_sd_by_hand():
    assert pooled_sd([0.01, 0.03], [5, 5]) == pytest.approx(math.sqrt((4 * 0.01**2 + 4 * 0.03**2) / 8))
    assert pooled_sd([0.01, 0.03], [3, 5]) == pytest.approx(math.sqrt((2 * 0.01**2 + 4 * 0.03**2) / 6))
    assert np.isnan(pooled_sd([np.nan], [1]))


# -- a hand-built run with controls -------------------------------------------------------------
BUDGETS = (0.1, 0.2, 0.3, 0.4)
SEEDS = (0, 1, 2, 3, 4)
#: Offset of each strategy from Random after round 0, and the seed-wise noise of that offset.
OFFSETS = {"random": 0.0, "a": 0.004, "b": -0.002, "confident": -0.08, "random_foreground_oracle": 0.005}
NOISE = {"random": 0.0, "a": 0.01, "b": 0.012, "confident": 0.004, "random_foreground_oracle": 0.015}


def control_results(offsets=OFFSETS, noise=NOISE) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    base = {s: 0.5 + 0.01 * s for s in SEEDS}
    rows = []
    for strategy, offset in offsets.items():
        for seed in SEEDS:
            shift = offset + noise[strategy] * rng.normal()
            for r, budget in enumerate(BUDGETS):
                dice = base[seed] + budget if r == 0 else base[seed] + budget + shift
                rows.append({"strategy": strategy, "seed": seed, "round": r, "budget": budget, "dice": dice})
            rows.append({"strategy": strategy, "seed": seed, "round": 4, "budget": 1.0, "dice": 0.95})
    return pd.DataFrame(rows)


def test_detectability_uses_the_pooled_spread_and_bonferroni_over_the_ranked_family():
    results = control_results()
    vs = aulc_vs_baseline(results)
    detect = detectability(vs)
    assert detect.ranked == ("a", "b")  # the controls are out of the family
    assert detect.m == 2 and detect.corrected_alpha == pytest.approx(0.05 / 2)
    sds = vs.set_index("strategy").loc[["a", "b"], "sd"].tolist()
    assert detect.sd == pytest.approx(math.sqrt(sum(s**2 for s in sds) / 2))  # equal n: mean variance
    assert detect.n_seeds == 5
    assert detect.mde == pytest.approx(minimal_detectable_effect(detect.sd, 5, 0.05 / 2))
    assert detect.seeds_for_one_point == seeds_needed(0.01, detect.sd, 0.05 / 2)


def test_arms_with_fewer_seeds_are_exploratory_with_their_own_detectable_effect():
    results = control_results()
    results = results[~((results.strategy == "b") & results.seed.isin([3, 4]))]
    vs = aulc_vs_baseline(results).set_index("strategy")
    assert vs.loc["b", "role"] == "exploratory" and np.isnan(vs.loc["b", "p_holm"])
    detect = detectability(vs.reset_index())
    assert (detect.n_seeds, detect.m, detect.ranked) == (5, 1, ("a",))  # the headline: the ranked family
    (three,) = detect.exploratory
    assert (three.n_seeds, three.strategies) == (3, ("b",))
    assert three.mde == pytest.approx(minimal_detectable_effect(vs.loc["b", "sd"], 3, 0.05))  # uncorrected
    section = summary_markdown(results).split("## Schedule")[0]
    assert "1 with 3 seeds" in section and f"**{100 * three.mde:.2f} points**" in section
    assert "Exploratory (fewer paired seeds, kept out of the Holm family and of m): b (3 seeds)" in section
    assert detectability(aulc_vs_baseline(control_results())).exploratory == ()  # equal seeds: none


def test_controls_verdict_in_plain_words():
    results = control_results()
    vs = aulc_vs_baseline(results)
    verdicts = {v.name: v for v in control_verdicts(vs)}
    assert verdicts["confident"].separated and verdicts["confident"].as_expected
    positive = verdicts["random_foreground_oracle"]
    assert not positive.separated
    sd = vs.set_index("strategy").loc["random_foreground_oracle", "sd"]
    assert positive.seeds_needed == seeds_needed(abs(positive.mean_diff), sd, 0.05)  # tested on its own
    text = summary_markdown(results)
    section = text[text.index("## What this run can detect") : text.index("## Schedule")]
    detect = detectability(vs)
    assert f"Minimal detectable effect: {100 * detect.mde:.2f} AULC points" in section
    assert f"would need {detect.seeds_for_one_point} seeds" in section
    assert "0.05 / 2" in section and "Bonferroni" in section
    # the headline first: the positive control is not separated, so the run cannot rank
    first = section.split("\n")[2]
    assert first.startswith(
        "**This run cannot rank strategies:** the positive control `random_foreground_oracle`"
    )
    assert f"need {positive.seeds_needed} seeds" in first
    assert "can see an effect" not in section
    confident_line = next(line for line in section.splitlines() if line.startswith("- **confident**"))
    assert "negative control" in confident_line and "is separated from Random as expected" in confident_line
    assert "cannot rank" not in confident_line
    # the controls come before the family and its MDE, and the section before the AULC table
    assert section.index("- **confident**") < section.index("Minimal detectable effect")
    assert text.index("## What this run can detect") < text.index("## Area under")


def test_summary_says_when_there_is_no_random_or_no_control():
    results = control_results()
    no_random = summary_markdown(results[results.strategy != "random"])
    assert "No `random` strategy in this run" in no_random
    no_control = summary_markdown(results[results.strategy.isin(["random", "a"])])
    assert "No positive control in this run: its sensitivity is not shown." in no_control
    assert "No negative control (`confident`, `empty_first`) in this run." in no_control
    assert "can see an effect" not in no_control
