"""What a run can detect: the minimal detectable AULC difference to Random and the controls' verdict.

* The **family** is the comparisons of every other strategy with Random on the normalised AULC,
  ``m`` of them. The **corrected alpha** is Bonferroni's ``alpha / m``, the strictest step of
  Holm's procedure (the threshold of the smallest p-value), so the MDE is what a comparison is
  sure to need.
* The **paired spread** is the sample std (ddof 1) of the seed-wise AULC differences to Random,
  pooled over the strategies: ``sqrt(sum (n_i - 1) s_i^2 / sum (n_i - 1))``; ``n`` the fewest
  paired seeds of a strategy. When strategies have different numbers of seeds, each group of
  strategies with the same number also gets its own MDE (its pooled spread, its ``n``, the same
  corrected alpha): the headline is the weakest group's.
* **MDE**: :func:`alstrategies.report.power.minimal_detectable_effect` at 80 % power; **seeds
  for 1 point**: :func:`alstrategies.report.power.seeds_needed` for a 0.01 AULC difference.
* A **control** (``oracle``: should beat Random; ``confident``: should lose) is *separated*
  from Random when its Holm-adjusted p-value (over the family) is below alpha and the bootstrap
  95 % interval of its difference excludes 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from alstrategies.report.bootstrap import BASELINE
from alstrategies.report.power import TARGET_POWER, minimal_detectable_effect, pooled_sd, seeds_needed

__all__ = [
    "CONTROLS",
    "ControlVerdict",
    "Detectability",
    "SeedGroup",
    "control_verdicts",
    "detectability",
    "detection_markdown",
]

#: The controls and the sign of their expected difference to Random.
CONTROLS = {"oracle": 1, "confident": -1}
#: The difference "a 1-point difference" means, in AULC units (fractions).
ONE_POINT = 0.01


@dataclass(frozen=True)
class SeedGroup:
    """The strategies compared with Random on ``n_seeds`` paired seeds, and their MDE."""

    n_seeds: int
    strategies: tuple[str, ...]
    sd: float
    mde: float


@dataclass(frozen=True)
class Detectability:
    """The MDE of one run (AULC in fractions; ``m`` comparisons to Random); ``groups`` per number
    of seeds, most seeds first, when the strategies' numbers differ (else empty)."""

    n_seeds: int
    sd: float
    m: int
    alpha: float
    corrected_alpha: float
    mde: float
    seeds_for_one_point: int | None
    power: float = TARGET_POWER
    groups: tuple[SeedGroup, ...] = ()


@dataclass(frozen=True)
class ControlVerdict:
    """One control against Random."""

    name: str
    expected_sign: int
    mean_diff: float
    ci_low: float
    ci_high: float
    p_holm: float
    separated: bool
    n_seeds: int
    seeds_needed: int | None

    @property
    def as_expected(self) -> bool:
        return self.separated and np.sign(self.mean_diff) == self.expected_sign


def detectability(
    vs_baseline: pd.DataFrame, alpha: float = 0.05, power: float = TARGET_POWER
) -> Detectability | None:
    """From :func:`alstrategies.report.bootstrap.aulc_vs_baseline`; None without comparisons."""
    if vs_baseline.empty:
        return None
    m = len(vs_baseline)
    corrected = alpha / m
    sd = pooled_sd(vs_baseline["sd"].tolist(), vs_baseline["n_seeds"].astype(int).tolist())
    n = int(vs_baseline["n_seeds"].min())
    ok = n >= 2 and np.isfinite(sd) and sd > 0
    mde = minimal_detectable_effect(sd, n, corrected, power) if ok else float("nan")
    seeds = seeds_needed(ONE_POINT, sd, corrected, power) if ok else None
    groups = []
    counts = vs_baseline["n_seeds"].astype(int)
    if counts.nunique() > 1:
        for count in sorted(counts.unique(), reverse=True):
            rows = vs_baseline[counts == count]
            group_sd = pooled_sd(rows["sd"].tolist(), [int(count)] * len(rows))
            valid = count >= 2 and np.isfinite(group_sd) and group_sd > 0
            group_mde = (
                minimal_detectable_effect(group_sd, int(count), corrected, power) if valid else float("nan")
            )
            groups.append(SeedGroup(int(count), tuple(rows["strategy"]), group_sd, group_mde))
    return Detectability(n, sd, m, alpha, corrected, mde, seeds, power, tuple(groups))


def control_verdicts(vs_baseline: pd.DataFrame, alpha: float = 0.05) -> list[ControlVerdict]:
    """A verdict per control present in ``vs_baseline`` (in :data:`CONTROLS` order)."""
    verdicts = []
    m = max(len(vs_baseline), 1)
    for name, sign in CONTROLS.items():
        rows = vs_baseline[vs_baseline["strategy"] == name]
        if rows.empty:
            continue
        row = rows.iloc[0]
        sd, diff = float(row["sd"]), float(row["mean_diff"])
        needed = seeds_needed(abs(diff), sd, alpha / m) if np.isfinite(sd) else None
        verdicts.append(
            ControlVerdict(
                name=name,
                expected_sign=sign,
                mean_diff=diff,
                ci_low=float(row["ci_low"]),
                ci_high=float(row["ci_high"]),
                p_holm=float(row["p_holm"]),
                separated=bool(row["separated"]),
                n_seeds=int(row["n_seeds"]),
                seeds_needed=needed,
            )
        )
    return verdicts


def _pp(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{100 * value:.2f}"


def _seeds(n: int | None) -> str:
    return "more than 100000 (or never: no difference observed)" if n is None else str(n)


def _control_line(verdict: ControlVerdict) -> str:
    expected = "beat" if verdict.expected_sign > 0 else "lose to"
    numbers = (
        f"AULC difference {_pp(verdict.mean_diff)} pp, bootstrap 95 % CI [{_pp(verdict.ci_low)}, "
        f"{_pp(verdict.ci_high)}], Holm p = {verdict.p_holm:.3g}, {verdict.n_seeds} seeds"
    )
    if verdict.as_expected:
        return (
            f"- **{verdict.name}** (should {expected} Random) is separated from Random ({numbers}): the "
            "protocol can tell a strategy known to differ from Random."
        )
    if verdict.separated:
        return (
            f"- **{verdict.name}** (should {expected} Random) is separated from Random in the unexpected "
            f"direction ({numbers}): check the control and the run before ranking anything."
        )
    return (
        f"- **{verdict.name}** (should {expected} Random) is not separated from Random ({numbers}): "
        f"**this run cannot rank strategies**. Detecting its observed difference with "
        f"{100 * TARGET_POWER:.0f} % power at this spread would need {_seeds(verdict.seeds_needed)} seeds."
    )


def _most_seeds_critical(detect: Detectability, n_pairs: int) -> str:
    """With mixed seed counts, the pairwise threshold for pairs of the most seeds."""
    if not detect.groups:
        return ""
    df = detect.groups[0].n_seeds - 1
    critical = stats.t.ppf(1 - detect.alpha / (2 * n_pairs), df)
    return f" for pairs of {detect.n_seeds} seeds, {critical:.2f} with {df} df for pairs of {df + 1}"


def detection_markdown(
    detect: Detectability | None, verdicts: list[ControlVerdict], n_pairs: int, has_baseline: bool
) -> list[str]:
    """The lines of the "What this run can detect" section of ``summary.md``; ``n_pairs`` is the
    number of strategy pairs of the pairwise comparison."""
    lines = ["## What this run can detect", ""]
    if not has_baseline:
        return [
            *lines,
            f"No `{BASELINE}` strategy in this run: the detectable effect and the controls' "
            "verdict are computed against Random and are left out.",
        ]
    if detect is None:
        return [*lines, "Random is the only strategy: nothing to compare."]
    if not (detect.n_seeds >= 2 and np.isfinite(detect.mde)):
        lines.append(
            f"Paired seeds: {detect.n_seeds}; with fewer than 2 paired seeds (or no spread) a paired test "
            "cannot detect anything, so no minimal detectable effect is given."
        )
    else:
        df = detect.n_seeds - 1
        lines.append(
            f"**Minimal detectable effect: {_pp(detect.mde)} AULC points.** With {detect.n_seeds} seeds and "
            f"a paired spread of {_pp(detect.sd)} points (sample std of the seed-wise AULC differences to "
            f"Random, pooled over the {detect.m} strategies compared with it), a two-sided paired t-test "
            f"at alpha = {detect.alpha:g} / {detect.m} = {detect.corrected_alpha:.4g} (Bonferroni over the "
            f"{detect.m} comparisons to Random, i.e. Holm's strictest step; critical |t| = "
            f"{stats.t.ppf(1 - detect.corrected_alpha / 2, df):.2f} with {df} df) detects an AULC "
            f"difference to Random of {_pp(detect.mde)} points with {100 * detect.power:.0f} % power "
            "(noncentral t). Smaller true differences will mostly show as ties."
        )
        if detect.groups:
            parts = [
                f"{len(g.strategies)} with {g.n_seeds} seeds (paired spread {_pp(g.sd)} points): "
                f"**{_pp(g.mde)} points**"
                for g in detect.groups
            ]
            lines += [
                "",
                f"The strategies have different numbers of seeds, and the figure above is that of the fewest. "
                f"Per group, at the same corrected alpha: {'; '.join(parts)}.",
            ]
        lines += [
            "",
            f"**A 1-point AULC difference would need {_seeds(detect.seeds_for_one_point)} seeds** at this "
            "spread and corrected alpha.",
        ]
        if n_pairs > 1:
            critical = stats.t.ppf(1 - detect.alpha / (2 * n_pairs), df)
            lines += [
                "",
                f"The pairwise comparison below is stricter still: Holm over {n_pairs} pairs puts the "
                f"smallest p-value's threshold at {detect.alpha:g} / {n_pairs}, a critical |t| of "
                f"{critical:.2f} with {df} df{_most_seeds_critical(detect, n_pairs)}.",
            ]
    lines += ["", "**Controls.**", ""]
    if not verdicts:
        lines.append(
            "No control (`oracle`, `confident`) in this run, so nothing shows whether ties mean equal "
            "strategies or a protocol too weak to separate them. Add the controls to the run's "
            "strategies to find out."
        )
    else:
        lines += [_control_line(v) for v in verdicts]
    return lines
