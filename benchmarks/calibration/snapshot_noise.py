"""Snapshot noise of a warm-round schedule: the same round retrained with several batch orders.

For each seed, the round-0 model is trained once (cold, as a run trains it). For each candidate
schedule, Random's chain is then trained round by round as a run of the preset trains it (the
protocol's batch order, ``batch_order = 0``), and at each ``--rounds`` round the same labeled set
is also trained from the same start model (the chain's previous model) with ``--orders - 1``
other batch orders. A batch order is the seed of a training's random stream (its batches, their
augmentation and dropout masks); order 0 is the one a run uses, so order 0's Dice equals the
run's. The spread over the orders of one (schedule, seed, round) is the per-model snapshot noise
that the schedule adds to every model of a learning curve (DESIGN section 5). ``--full`` adds
each schedule's 100 % model (order 0, warm from round 0, recorded as round ``len(budgets)``).

    python -m benchmarks.calibration.snapshot_noise --data /path/to/ACDC \
        --out results/acdc_calibration --seeds 0 1 2

appends one row per trained model to ``snapshot_noise.csv`` (``schedule, seed, round,
batch_order, dice``; round 0 is the shared cold model, listed under every schedule); a re-run
skips every (schedule, seed) whose rows are complete. ``--summary`` prints the per-model SD
and the round-0 -> 10 % change per schedule (:func:`summarise`).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from alstrategies.atomic import atomic_write_text
from alstrategies.config import load_config
from alstrategies.data import load_dataset
from alstrategies.device import resolve_device
from alstrategies.engine.protocol import budget_schedule, derive_rng, initial_labeled_set
from alstrategies.registry import STRATEGIES
from alstrategies.settings import Settings
from alstrategies.strategy import QueryContext
from alstrategies.training.round import RoundTrainer
from benchmarks.calibration.acdc_schedule import read_rows

PRESET = Path(__file__).resolve().parents[1] / "configs" / "acdc_cpu.toml"
FIELDS = ["schedule", "seed", "round", "batch_order", "dice"]

#: Candidate warm-round schedules: name -> ``--set`` overrides of the preset. Round 0 and every
#: cold setting stay the preset's; only what a warm-started training's learning rate does changes.
SCHEDULES: dict[str, list[str]] = {
    # the committed acdc_cpu preset: each warm round restarts at lr 0.03 (fresh momentum), 40 steps
    # flat and a 10-step cooldown to 0
    "restart": ['train.warm_schedule="restart"', "train.warm_lr_factor=1.0"],
    # from the peak lr 0.03 linearly to 0 over the round
    "linear": ['train.warm_schedule="linear"', "train.warm_lr_factor=1.0"],
    # from 0.3 x the peak (0.009) linearly to 0
    "linear_x0.3": ['train.warm_schedule="linear"', "train.warm_lr_factor=0.3"],
    # from 0.1 x the peak (0.003) linearly to 0
    "linear_x0.1": ['train.warm_schedule="linear"', "train.warm_lr_factor=0.1"],
}


def write_rows(path: Path, rows: list[dict]) -> None:
    """All rows, sorted by (schedule order, seed, round, batch order), atomically."""
    names = list(SCHEDULES)

    def key(row: dict) -> tuple:
        schedule = row["schedule"]
        rank = names.index(schedule) if schedule in names else len(names)
        return rank, schedule, int(row["seed"]), int(row["round"]), int(row["batch_order"])

    unique = {(r["schedule"], int(r["seed"]), int(r["round"]), int(r["batch_order"])): r for r in rows}
    lines = [",".join(FIELDS)] + [
        ",".join(str(row[k]) for k in FIELDS) for row in sorted(unique.values(), key=key)
    ]
    atomic_write_text(path, "\n".join(lines) + "\n")


def expected_rows(rounds: Sequence[int], orders: int, full: bool) -> int:
    """Rows of one complete (schedule, seed): round 0, ``orders`` per measured round, the 100 % model."""
    return 1 + len(rounds) * orders + int(full)


class SnapshotNoise:
    """Round-0 models (trained once per seed) and the chains of each schedule on one dataset."""

    def __init__(self, preset: Path, overrides: Sequence[str], models: Path) -> None:
        self.preset, self.overrides = preset, list(overrides)
        config = load_config(preset, self.overrides)
        self.settings = Settings.from_config(config)
        torch.set_num_threads(self.settings.train.threads)
        self.data = load_dataset(config["data"])
        self.device = resolve_device(self.settings.train.device)
        protocol = self.settings.protocol
        self.budgets = budget_schedule(
            self.data.pool_size, protocol.initial_fraction, protocol.step_fraction, protocol.final_fraction
        )
        self.models = models
        self.random = STRATEGIES.get("random")()

    def trainer(self, overrides: Sequence[str]) -> RoundTrainer:
        """The round trainer of the preset with the schedule's ``overrides``."""
        config = load_config(self.preset, [*self.overrides, *overrides])
        return RoundTrainer(Settings.from_config(config), self.data, self.device, progress=False)

    def round0(self, seed: int) -> tuple[dict, float, np.ndarray]:
        """Seed ``seed``'s round-0 weights, Dice and labeled set (trained once, kept in ``models``)."""
        path = self.models / f"round0_seed{seed}.pt"
        labeled = initial_labeled_set(self.data.pool_size, self.budgets[0].count, seed)
        if path.is_file():
            saved = torch.load(path, map_location=self.device, weights_only=True)
            return saved["state"], float(saved["dice"]), labeled
        model, record = self.trainer([]).train_and_evaluate(seed, labeled, "round0")
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state": state, "dice": record.dice}, path)
        return state, record.dice, labeled

    def next_labeled(
        self, model: torch.nn.Module, seed: int, round_index: int, labeled: np.ndarray
    ) -> np.ndarray:
        """Random's query after ``round_index`` with the run's generator: the labeled set of the next round."""
        k = self.budgets[round_index + 1].count - self.budgets[round_index].count
        context = QueryContext(
            model=model,
            pool_images=torch.from_numpy(self.data.pool_images),
            labeled=labeled,
            unlabeled=np.setdiff1d(np.arange(self.data.pool_size), labeled),
            num_classes=self.data.num_classes,
            device=self.device,
        )
        picked = self.random.query(context, k, derive_rng(seed, round_index, "random")).indices
        return np.sort(np.concatenate([labeled, picked]))

    def chain(self, schedule: str, seed: int, rounds: Sequence[int], orders: int, full: bool):
        """Yield one row per trained model of (``schedule``, ``seed``)."""
        rounds_trainer = self.trainer(SCHEDULES[schedule])
        start, dice0, labeled = self.round0(seed)
        yield {"schedule": schedule, "seed": seed, "round": 0, "batch_order": 0, "dice": f"{dice0:.6f}"}
        model = rounds_trainer.new_model(seed)
        model.load_state_dict(start)
        if full:
            everything = np.arange(self.data.pool_size)
            _, record = rounds_trainer.train_and_evaluate(seed, everything, "full", init=start)
            yield {
                "schedule": schedule,
                "seed": seed,
                "round": len(self.budgets),
                "batch_order": 0,
                "dice": f"{record.dice:.6f}",
            }
        previous = start
        for r in range(1, max(rounds) + 1):
            labeled = self.next_labeled(model, seed, r - 1, labeled)
            for order in range(orders if r in rounds else 1):
                label = f"random round{r}" + (f"-order{order}" if order else "")
                trained, record = rounds_trainer.train_and_evaluate(seed, labeled, label, init=previous)
                if r in rounds:
                    yield {
                        "schedule": schedule,
                        "seed": seed,
                        "round": r,
                        "batch_order": order,
                        "dice": f"{record.dice:.6f}",
                    }
                if order == 0:
                    model = trained
            previous = {k: v.detach().clone() for k, v in model.state_dict().items()}


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Per schedule: the per-model SD (root mean of the variances over batch orders, ddof 1, of
    every (seed, round) with at least 2 orders), in Dice points; each measured round's mean Dice
    and its change from round 0 (means over seeds of the order-0 models and of all orders)."""
    rows = []
    for schedule, part in frame.groupby("schedule", sort=False):
        variances = part.groupby(["seed", "round"])["dice"].agg(
            lambda d: d.var(ddof=1) if len(d) > 1 else math.nan
        )
        measured = variances.dropna()
        row = {
            "schedule": schedule,
            "seeds": int(part["seed"].nunique()),
            "per_model_sd": 100 * math.sqrt(measured.mean()) if len(measured) else math.nan,
            "round0": 100 * part[part["round"] == 0]["dice"].mean(),
        }
        for r in sorted(set(measured.index.get_level_values("round"))):
            row[f"round{r}"] = 100 * part[part["round"] == r]["dice"].mean()
            row[f"round{r}_change"] = row[f"round{r}"] - row["round0"]
            row[f"round{r}_sd"] = 100 * math.sqrt(measured.xs(r, level="round").mean())
        fulls = part[part["round"] > max([0, *measured.index.get_level_values("round")])]
        if len(fulls):
            row["full"] = 100 * fulls["dice"].mean()
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--preset", type=Path, default=PRESET, help="the run's config (default acdc_cpu.toml)"
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="a config override")
    parser.add_argument("--data", default="", help="the ACDC folder (default $ALSTRATEGIES_ACDC_ROOT)")
    parser.add_argument("--out", type=Path, default=Path("results/acdc_calibration"))
    parser.add_argument(
        "--models", type=Path, default=Path("runs/snapshot_noise"), help="round-0 weights (kept)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, nargs="+", default=[1, 4], help="rounds retrained (1 = 10 %%)")
    parser.add_argument("--orders", type=int, default=3, help="batch orders per measured round")
    parser.add_argument("--schedules", nargs="+", choices=list(SCHEDULES), default=list(SCHEDULES))
    parser.add_argument("--full", action="store_true", help="also each schedule's 100 %% model")
    parser.add_argument("--summary", action="store_true", help="only print the summary of the CSV")
    args = parser.parse_args(argv)
    path = args.out / "snapshot_noise.csv"
    if args.summary:
        print(summarise(pd.read_csv(path)).round(2).to_string(index=False))
        return
    if args.orders < 2 or min(args.rounds) < 1:
        parser.error("--orders must be at least 2 and --rounds at least 1 (round 0 is the shared cold model)")
    overrides = [*args.overrides, *([f'data.root="{args.data}"'] if args.data else [])]
    noise = SnapshotNoise(args.preset, overrides, args.models)
    args.out.mkdir(parents=True, exist_ok=True)
    for schedule in args.schedules:
        for seed in args.seeds:
            rows = read_rows(path)
            have = [r for r in rows if r["schedule"] == schedule and int(r["seed"]) == seed]
            if len(have) >= expected_rows(args.rounds, args.orders, args.full):
                continue
            for row in noise.chain(schedule, seed, args.rounds, args.orders, args.full):
                print(",".join(str(row[k]) for k in FIELDS), flush=True)
                write_rows(path, [*read_rows(path), row])
    print(summarise(pd.read_csv(path)).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
