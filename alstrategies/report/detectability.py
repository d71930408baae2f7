"""What a run can detect: the roles of the strategies, the controls' verdict and the minimal
detectable AULC difference to Random.

* **Roles** (:func:`strategy_roles`) of the strategies compared with Random: ``control``
  (:data:`CONTROLS`), ``diagnostic`` (:data:`DIAGNOSTICS`: reported, never given a verdict),
  ``ranked`` (every other strategy that has the largest number of seeds paired with Random among
  them) and ``exploratory`` (the others: fewer paired seeds).
* A **control** is tested against Random on its own: the two-sided paired t-test on the seed-wise
  normalised AULC at ``alpha``, no multiple-comparison correction. It is *separated* when its
  p < alpha, and *as expected* when the sign of its mean difference is also the expected one.
  The run *can see an effect* only when the positive control is separated as expected.
* The **family** is the ranked strategies' comparisons with Random, ``m`` of them: Holm over
  them, a ranked strategy is separated when its Holm-adjusted p < alpha. Exploratory arms keep
  their raw p and are neither in Holm's family nor in ``m``.
* The **corrected alpha** is Bonferroni's ``alpha / m``, Holm's strictest step (the threshold of
  the smallest p-value), so the MDE is what a ranked comparison is sure to need. The **paired
  spread** is the sample std (ddof 1) of the seed-wise AULC differences to Random pooled over the
  ranked strategies, ``sqrt(sum (n_i - 1) s_i^2 / sum (n_i - 1))``, and ``n`` their paired seeds.
* **MDE**: :func:`alstrategies.report.power.minimal_detectable_effect` at 80 % power; **seeds
  for 1 point**: :func:`alstrategies.report.power.seeds_needed` for a 0.01 AULC difference. Each
  group of exploratory arms with the same number of seeds gets its MDE at the uncorrected alpha
  its raw p-values are read at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from alstrategies.report.power import TARGET_POWER, minimal_detectable_effect, pooled_sd, seeds_needed
from alstrategies.report.statistics import BASELINE, holm

__all__ = [
    "CONTROLS",
    "DIAGNOSTICS",
    "ROLES",
    "ControlVerdict",
    "Detectability",
    "SeedGroup",
    "assign_roles",
    "control_verdicts",
    "detectability",
    "detection_markdown",
    "strategy_roles",
    "row_alphas",
]

#: The controls and the sign of their expected AULC difference to Random (DESIGN section 5): the
#: positive control first.
CONTROLS = {"random_foreground_oracle": 1, "confident": -1, "empty_first": -1}
#: Strategies reported beside Random for what they show, never given a verdict.
DIAGNOSTICS = {"oracle": "hardest by loss: highest cross-entropy against the true labels first"}
#: The roles of :func:`strategy_roles`, in the order ``summary.md`` reports them.
ROLES = ("control", "ranked", "exploratory", "diagnostic")
#: The difference "a 1-point difference" means, in AULC units (fractions).
ONE_POINT = 0.01


def strategy_roles(seeds: Mapping[str, int]) -> dict[str, str]:
    """The role of each strategy from its number of seeds paired with Random (see the module)."""
    candidates = [n for name, n in seeds.items() if name not in CONTROLS and name not in DIAGNOSTICS]
    most = max(candidates, default=0)
    roles = {}
    for name, n in seeds.items():
        if name in CONTROLS:
            roles[name] = "control"
        elif name in DIAGNOSTICS:
            roles[name] = "diagnostic"
        else:
            roles[name] = "ranked" if n == most else "exploratory"
    return roles


def assign_roles(vs_baseline: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """``vs_baseline`` (``strategy``, ``n_seeds``, ``p_raw``, ...) with ``role`` (second column),
    ``p_holm`` (Holm over the ranked rows; NaN elsewhere) and ``separated`` (ranked: Holm p <
    alpha; control: raw p < alpha; exploratory and diagnostic: NA, the test gives no verdict)."""
    frame = vs_baseline.copy()
    roles = strategy_roles(dict(zip(frame["strategy"], frame["n_seeds"].astype(int), strict=True)))
    frame.insert(1, "role", frame["strategy"].map(roles).astype(object))
    ranked = (frame["role"] == "ranked").to_numpy()
    p_raw = frame["p_raw"].to_numpy(dtype=float)
    frame["p_holm"] = holm(np.where(ranked, p_raw, np.nan))
    separated = pd.array([pd.NA] * len(frame), dtype="boolean")
    with np.errstate(invalid="ignore"):
        separated[ranked] = frame["p_holm"].to_numpy(dtype=float)[ranked] < alpha
        control = (frame["role"] == "control").to_numpy()
        separated[control] = p_raw[control] < alpha
    frame["separated"] = separated
    return frame


def row_alphas(vs_baseline: pd.DataFrame, alpha: float = 0.05) -> np.ndarray:
    """The level each row's test is read at: ``alpha / m`` for the ``m`` ranked rows (Holm's
    strictest step), ``alpha`` for every other row."""
    ranked = (vs_baseline["role"] == "ranked").to_numpy()
    return np.where(ranked, alpha / max(int(ranked.sum()), 1), alpha)


@dataclass(frozen=True)
class SeedGroup:
    """Strategies compared with Random on ``n_seeds`` paired seeds, their pooled spread and MDE."""

    n_seeds: int
    strategies: tuple[str, ...]
    sd: float
    mde: float


@dataclass(frozen=True)
class Detectability:
    """The MDE of one run's ranked family (AULC in fractions; ``m`` ranked comparisons to Random
    on ``n_seeds`` paired seeds); ``exploratory``: groups of exploratory arms, most seeds first."""

    n_seeds: int
    sd: float
    m: int
    alpha: float
    corrected_alpha: float
    mde: float
    seeds_for_one_point: int | None
    power: float = TARGET_POWER
    ranked: tuple[str, ...] = ()
    exploratory: tuple[SeedGroup, ...] = ()


@dataclass(frozen=True)
class ControlVerdict:
    """One control against Random, tested on its own at ``alpha``."""

    name: str
    expected_sign: int
    mean_diff: float
    ci_low: float
    ci_high: float
    t_low: float
    t_high: float
    p_raw: float
    n_seeds: int
    seeds_needed: int | None
    alpha: float = 0.05

    @property
    def separated(self) -> bool:
        return bool(np.isfinite(self.p_raw) and self.p_raw < self.alpha)

    @property
    def as_expected(self) -> bool:
        return self.separated and np.sign(self.mean_diff) == self.expected_sign


def _group(rows: pd.DataFrame, n: int, alpha: float, power: float) -> SeedGroup:
    sd = pooled_sd(rows["sd"].tolist(), [n] * len(rows))
    valid = n >= 2 and np.isfinite(sd) and sd > 0
    mde = minimal_detectable_effect(sd, n, alpha, power) if valid else float("nan")
    return SeedGroup(n, tuple(rows["strategy"]), sd, mde)


def detectability(
    vs_baseline: pd.DataFrame, alpha: float = 0.05, power: float = TARGET_POWER
) -> Detectability | None:
    """From :func:`alstrategies.report.bootstrap.aulc_vs_baseline`; None without comparisons."""
    if vs_baseline.empty:
        return None
    ranked = vs_baseline[vs_baseline["role"] == "ranked"]
    m = len(ranked)
    corrected = alpha / max(m, 1)
    n = int(ranked["n_seeds"].min()) if m else 0
    sd = pooled_sd(ranked["sd"].tolist(), ranked["n_seeds"].astype(int).tolist())
    ok = n >= 2 and np.isfinite(sd) and sd > 0
    mde = minimal_detectable_effect(sd, n, corrected, power) if ok else float("nan")
    seeds = seeds_needed(ONE_POINT, sd, corrected, power) if ok else None
    rows = vs_baseline[vs_baseline["role"] == "exploratory"]
    counts = rows["n_seeds"].astype(int)
    groups = tuple(
        _group(rows[counts == c], int(c), alpha, power) for c in sorted(counts.unique(), reverse=True)
    )
    return Detectability(n, sd, m, alpha, corrected, mde, seeds, power, tuple(ranked["strategy"]), groups)


def control_verdicts(vs_baseline: pd.DataFrame, alpha: float = 0.05) -> list[ControlVerdict]:
    """A verdict per control present in ``vs_baseline`` (in :data:`CONTROLS` order), each tested
    on its own at ``alpha``; ``seeds_needed`` is for its observed difference at its own spread."""
    verdicts = []
    for name, sign in CONTROLS.items():
        rows = vs_baseline[vs_baseline["strategy"] == name]
        if rows.empty:
            continue
        row = rows.iloc[0]
        sd, diff = float(row["sd"]), float(row["mean_diff"])
        needed = seeds_needed(abs(diff), sd, alpha) if np.isfinite(sd) else None
        verdicts.append(
            ControlVerdict(
                name=name,
                expected_sign=sign,
                mean_diff=diff,
                ci_low=float(row["ci_low"]),
                ci_high=float(row["ci_high"]),
                t_low=float(row["t_low"]),
                t_high=float(row["t_high"]),
                p_raw=float(row["p_raw"]),
                n_seeds=int(row["n_seeds"]),
                seeds_needed=needed,
                alpha=alpha,
            )
        )
    return verdicts


def _pp(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{100 * value:.2f}"


def _seeds(n: int | None) -> str:
    return "more than 100000 (or never: no difference observed)" if n is None else str(n)


def _numbers(v: ControlVerdict) -> str:
    p = "–" if not np.isfinite(v.p_raw) else f"{v.p_raw:.3g}"
    return (
        f"AULC difference {_pp(v.mean_diff)} pp, t 95 % CI [{_pp(v.t_low)}, {_pp(v.t_high)}], bootstrap "
        f"95 % CI [{_pp(v.ci_low)}, {_pp(v.ci_high)}], paired t p = {p}, {v.n_seeds} seeds"
    )


def _needs(v: ControlVerdict) -> str:
    return (
        f"detecting its observed difference with {100 * TARGET_POWER:.0f} % power at its spread would "
        f"need {_seeds(v.seeds_needed)} seeds"
    )


def _headline(verdicts: list[ControlVerdict]) -> str:
    positive = next((v for v in verdicts if v.expected_sign > 0), None)
    if positive is None:
        name = next(n for n, s in CONTROLS.items() if s > 0)
        return (
            f"**No positive control in this run: its sensitivity is not shown.** Without `{name}`, "
            "nothing shows whether ties below mean equal strategies or a protocol too weak to separate them."
        )
    p = f"paired t p = {positive.p_raw:.3g}" if np.isfinite(positive.p_raw) else "not tested"
    if positive.as_expected:
        return f"**This run can see an effect:** the positive control `{positive.name}` beats Random ({p})."
    if positive.separated:
        return (
            f"**This run cannot rank strategies:** the positive control `{positive.name}` is separated from "
            f"Random in the unexpected direction ({p}); check the control and the run."
        )
    return (
        f"**This run cannot rank strategies:** the positive control `{positive.name}` is not separated from "
        f"Random ({p}); {_needs(positive)}."
    )


def _control_line(v: ControlVerdict) -> str:
    kind, expected = ("positive", "beat") if v.expected_sign > 0 else ("negative", "lose to")
    head = f"- **{v.name}** ({kind} control, should {expected} Random)"
    if v.as_expected:
        return f"{head} is separated from Random as expected ({_numbers(v)})."
    if v.separated:
        return (
            f"{head} is separated from Random in the unexpected direction ({_numbers(v)}): check the control."
        )
    return f"{head} is not separated from Random ({_numbers(v)}); {_needs(v)}."


def _diagnostic_lines(vs_baseline: pd.DataFrame | None) -> list[str]:
    if vs_baseline is None or vs_baseline.empty:
        return []
    rows = vs_baseline[vs_baseline["role"] == "diagnostic"]
    return [
        f"- Diagnostic, no verdict: **{row.strategy}** ({DIAGNOSTICS.get(row.strategy, 'diagnostic')}): AULC "
        f"difference {_pp(row.mean_diff)} pp, t 95 % CI [{_pp(row.t_low)}, {_pp(row.t_high)}], "
        f"{row.n_seeds} seeds."
        for row in rows.itertuples(index=False)
    ]


def _controls_lines(
    verdicts: list[ControlVerdict], vs_baseline: pd.DataFrame | None, alpha: float
) -> list[str]:
    lines = [
        _headline(verdicts),
        "",
        f"**Controls**, reported first, each tested against Random on its own: a two-sided paired t-test on "
        f"the seed-wise normalised AULC at alpha = {alpha:g}, no multiple-comparison correction; separated "
        "when p < alpha (the intervals are shown, the test decides).",
        "",
        *[_control_line(v) for v in verdicts],
    ]
    if not any(v.expected_sign < 0 for v in verdicts):
        names = ", ".join(f"`{n}`" for n, s in CONTROLS.items() if s < 0)
        lines.append(f"- No negative control ({names}) in this run.")
    return [*lines, *_diagnostic_lines(vs_baseline)]


def _family_lines(detect: Detectability, n_pairs: int) -> list[str]:
    if detect.m == 0:
        return [
            "No strategy to rank: every strategy compared with Random is a control, a diagnostic or exploratory."
        ]
    names = ", ".join(detect.ranked)
    lines = [
        f"**Ranked family:** the {detect.m} {'strategy' if detect.m == 1 else 'strategies'} with "
        f"{detect.n_seeds} seeds paired with Random ({names}); Holm's correction runs over "
        f"{'this comparison' if detect.m == 1 else f'these {detect.m} comparisons'} only."
    ]
    if detect.exploratory:
        parts = [f"{', '.join(g.strategies)} ({g.n_seeds} seeds)" for g in detect.exploratory]
        lines[0] += (
            f" Exploratory (fewer paired seeds, kept out of the Holm family and of m): {'; '.join(parts)}; "
            "their raw p-values are shown in their own table below."
        )
    lines.append("")
    if not (detect.n_seeds >= 2 and np.isfinite(detect.mde)):
        return [
            *lines,
            f"Paired seeds: {detect.n_seeds}; with fewer than 2 paired seeds (or no spread) a paired test "
            "cannot detect anything, so no minimal detectable effect is given.",
        ]
    df = detect.n_seeds - 1
    lines += [
        f"**Minimal detectable effect: {_pp(detect.mde)} AULC points.** With {detect.n_seeds} seeds and "
        f"a paired spread of {_pp(detect.sd)} points (sample std of the seed-wise AULC differences to "
        f"Random, pooled over the {detect.m} ranked strategies), a two-sided paired t-test at alpha = "
        f"{detect.alpha:g} / {detect.m} = {detect.corrected_alpha:.4g} (Bonferroni over the {detect.m} ranked "
        f"comparisons to Random, i.e. Holm's strictest step; critical |t| = "
        f"{stats.t.ppf(1 - detect.corrected_alpha / 2, df):.2f} with {df} df) detects an AULC difference "
        f"to Random of {_pp(detect.mde)} points with {100 * detect.power:.0f} % power (noncentral t). "
        "Smaller true differences will mostly show as ties.",
    ]
    if detect.exploratory:
        parts = [
            f"{len(g.strategies)} with {g.n_seeds} seeds (paired spread {_pp(g.sd)} points): **{_pp(g.mde)} points**"
            for g in detect.exploratory
        ]
        lines += ["", f"Exploratory arms, at the uncorrected alpha = {detect.alpha:g}: {'; '.join(parts)}."]
    lines += [
        "",
        f"**A 1-point AULC difference would need {_seeds(detect.seeds_for_one_point)} seeds** at this "
        "spread and corrected alpha.",
    ]
    if n_pairs > 1:
        critical = stats.t.ppf(1 - detect.alpha / (2 * n_pairs), df)
        lines += [
            "",
            f"The pairwise comparison below (Random and the ranked strategies) is stricter still: Holm over "
            f"{n_pairs} pairs puts the smallest p-value's threshold at {detect.alpha:g} / {n_pairs}, a "
            f"critical |t| of {critical:.2f} with {df} df.",
        ]
    return lines


def detection_markdown(
    detect: Detectability | None,
    verdicts: list[ControlVerdict],
    n_pairs: int,
    has_baseline: bool,
    vs_baseline: pd.DataFrame | None = None,
) -> list[str]:
    """The lines of the "What this run can detect" section of ``summary.md``: the controls' verdict
    first, then the ranked family and its MDE; ``n_pairs`` is the number of strategy pairs of the
    pairwise comparison."""
    lines = ["## What this run can detect", ""]
    if not has_baseline:
        return [
            *lines,
            f"No `{BASELINE}` strategy in this run: the detectable effect and the controls' "
            "verdict are computed against Random and are left out.",
        ]
    if detect is None:
        return [*lines, "Random is the only strategy: nothing to compare."]
    return [
        *lines,
        *_controls_lines(verdicts, vs_baseline, detect.alpha),
        "",
        *_family_lines(detect, n_pairs),
    ]
