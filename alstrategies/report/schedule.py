"""Whether a run's schedule can carry its curve: the round-0 level, the 100 % model as an upper
bound (by construction and in fact), the budgets and seeds covered, the threads and wall time.

Read from ``results.csv`` (iterations per row), ``config.json`` (``train.warm_start``), the
round records (torch threads) and ``run.log`` (the wall time of every invocation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from alstrategies.engine.layout import RunLayout
from alstrategies.engine.progress import WorkRates
from alstrategies.engine.records import read_record
from alstrategies.engine.run_log import invocation_minutes
from alstrategies.report.tables import budget_label


@dataclass(frozen=True)
class ScheduleCheck:
    """The facts of :func:`schedule_check`; NaN or None where the run does not say."""

    warm_start: bool | None  # whether the 100 % model continued round 0 (None: not recorded)
    round0_mean: float
    round0_std: float
    round0_models: int  # one per seed, or per (seed, network) with protocol.networks = "paper"
    full_mean: float  # over every (seed, network) 100 % model
    best_budget_mean: float  # the (strategy, budget) mean closest to (or above) its 100 % mean
    best_budget: tuple[str, float] | None  # its strategy and budget
    full_margin: float  # min over strategies: 100 % mean minus its best budget mean, same seeds
    chain_iterations: int  # the most iterations any chain's final model has had since its start
    full_iterations: int  # the fewest any 100 % model has had since the same kind of start
    budgets: list[float]
    seeds: dict[str, int]  # strategy -> seeds with a complete chain
    threads: list[int]
    wall_minutes: list[float]
    trainings: int
    busy_minutes: float  # train + query + eval time summed over the recorded trainings

    @property
    def full_is_bound_by_construction(self) -> bool:
        return self.full_iterations >= self.chain_iterations > 0

    @property
    def full_above_every_budget(self) -> bool:
        return bool(np.isfinite(self.full_margin) and self.full_margin > 0)


def _since_start(rows: pd.DataFrame, warm: bool) -> int:
    """Iterations of the last row's model since its start: the sum along a warm-started chain,
    the last training's own otherwise."""
    iterations = rows.sort_values("round")["iterations"].fillna(0).astype(int)
    return int(iterations.sum() if warm else iterations.iloc[-1])


def schedule_check(results: pd.DataFrame, run_dir: str | Path | None = None) -> ScheduleCheck:
    """The :class:`ScheduleCheck` of ``results`` (and its run folder ``run_dir``, when given)."""
    layout = RunLayout(run_dir) if run_dir is not None else None
    warm = full_warm = None
    if layout is not None and layout.config.is_file():
        train = json.loads(layout.config.read_text()).get("train", {})
        warm = bool(train.get("warm_start", False))
        full_warm = warm and bool(train.get("full_warm_start", True))
    curve = results[results["budget"] < 1.0]
    full = results[results["budget"] >= 1.0]
    first = curve[curve["round"] == 0].drop_duplicates(["seed", "dice"])  # one per (seed, network)
    chain_iterations = full_iterations = 0
    if "iterations" in results:
        chain_iterations = max(
            (_since_start(rows, bool(warm)) for _, rows in curve.groupby(["strategy", "seed"])), default=0
        )
        totals = []
        for (strategy, seed), rows in full.groupby(["strategy", "seed"]):
            start = curve[(curve["strategy"] == strategy) & (curve["seed"] == seed) & (curve["round"] == 0)]
            before = int(start["iterations"].sum()) if full_warm else 0
            totals.append(before + int(rows["iterations"].iloc[0]))
        full_iterations = min(totals, default=0)
    margin, best, best_mean = float("nan"), None, float("nan")
    for strategy, rows in curve.groupby("strategy"):
        bound = full.loc[full["strategy"] == strategy, "dice"]
        if bound.empty:
            continue
        by_budget = rows.groupby("budget")["dice"].mean()  # the seeds of this strategy's chains
        gap = float(bound.mean() - by_budget.max())
        if not gap >= margin:  # also when margin is still NaN
            margin, best, best_mean = gap, (str(strategy), float(by_budget.idxmax())), float(by_budget.max())
    rounds = curve.groupby("strategy")["round"].max()
    complete = curve[curve["round"] == curve["strategy"].map(rounds)]
    threads: set[int] = set()
    rates, first_queries = WorkRates(), 0.0
    wall: list[float] = []
    if layout is not None:
        shared = layout.shared_files()
        for path in [*shared, *layout.strategy_records()]:
            record = read_record(path)
            if record is None:
                continue
            if path not in shared and record.get("round") == 0:
                first_queries += float(record.get("query_seconds") or 0.0)  # trained as the shared model
                continue
            rates.add(record)
            if record.get("torch_threads"):
                threads.add(int(record["torch_threads"]))
        wall = invocation_minutes(layout.log) if layout.log.is_file() else []
    return ScheduleCheck(
        warm_start=full_warm,
        round0_mean=float(first["dice"].mean()) if len(first) else float("nan"),
        round0_std=float(first["dice"].std(ddof=1)) if len(first) > 1 else float("nan"),
        round0_models=len(first),
        full_mean=float(full.drop_duplicates(["seed", "dice"])["dice"].mean()) if len(full) else float("nan"),
        best_budget_mean=best_mean,
        best_budget=best,
        full_margin=margin,
        chain_iterations=chain_iterations,
        full_iterations=full_iterations,
        budgets=sorted(float(b) for b in curve["budget"].unique()),
        seeds=complete.groupby("strategy")["seed"].nunique().astype(int).to_dict(),
        threads=sorted(threads),
        wall_minutes=wall,
        trainings=rates.trainings,
        busy_minutes=(rates.train_seconds + rates.other_seconds + first_queries) / 60,
    )


def _models(count: int) -> str:
    return f"{count} model{'s' if count != 1 else ''}"


def _seeds(count: int) -> str:
    return f"{count} seed{'s' if count != 1 else ''}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def schedule_markdown(check: ScheduleCheck) -> list[str]:
    """The "Schedule" section of ``summary.md``."""
    start = {True: "warm-started from round 0", False: "cold-started", None: "(start not recorded)"}
    spread = "" if not np.isfinite(check.round0_std) else f" ± {100 * check.round0_std:.2f}"
    lines = [
        "## Schedule",
        "",
        f"- Round-0 model: mean Dice {100 * check.round0_mean:.2f}{spread} % over {_models(check.round0_models)}.",
    ]
    if np.isfinite(check.full_mean):
        where = ""
        if check.best_budget is not None:
            strategy, budget = check.best_budget
            where = (
                f"; closest below it: {strategy} at {budget_label(budget)}, {100 * check.best_budget_mean:.2f} %, "
                f"{100 * check.full_margin:.2f} points under the 100 % mean of the same seeds"
            )
        lines += [
            f"- 100 % model: mean Dice {100 * check.full_mean:.2f} %{where}. Above every budget's mean: "
            f"{_yes(check.full_above_every_budget)}.",
            f"- Upper bound by construction ({start[check.warm_start]}): the 100 % model has "
            f"{check.full_iterations} iterations since its start, a chain's final model at most "
            f"{check.chain_iterations}: {_yes(check.full_is_bound_by_construction)}.",
        ]
    labels = ", ".join(budget_label(b) for b in check.budgets)
    lines.append(f"- AL budgets ({len(check.budgets)}): {labels}.")
    if check.seeds:
        by_count: dict[int, list[str]] = {}
        for strategy, count in check.seeds.items():
            by_count.setdefault(count, []).append(strategy)
        parts = [
            f"{_seeds(count)}: {', '.join(names)}" for count, names in sorted(by_count.items(), reverse=True)
        ]
        lines.append(f"- Complete chains: {'; '.join(parts)}.")
    if check.threads:
        lines.append(f"- Torch threads per training: {', '.join(map(str, check.threads))}.")
    if check.trainings:
        busy = f"{check.trainings} trainings, {check.busy_minutes:.1f} min of training, query and evaluation"
        if check.wall_minutes:
            count = len(check.wall_minutes)
            busy += (
                f"; wall time {sum(check.wall_minutes):.1f} min ({sum(check.wall_minutes) / 60:.2f} h) over "
                f"{count} invocation{'s' if count != 1 else ''} (run.log)"
            )
        lines.append(f"- Work: {busy}.")
    return lines
