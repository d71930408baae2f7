"""Calibrate a CPU schedule: test Dice of the round-0 (6.67 %) and the 100 % model against the
number of training iterations, cold-started and warm-started from the round-0 model.

One long training per curve, evaluated (3D, at the original size, every metric of the run) at
checkpoints. The step learning-rate decay depends only on the step, and the batch order of a
longer training starts with that of a shorter one, so the value at checkpoint N is the value of
a training of exactly N iterations (``tests/benchmarks/test_calibration.py`` checks this). Every curve
starts from the preset's seeded network and the protocol's seed-0 initial set, as a run does.

    python -m benchmarks.calibration.acdc_schedule --data /path/to/ACDC --size 48 \
        --out results/acdc_calibration

writes ``calibration_<size>_<schedule>.csv`` (appended curve by curve: a re-run skips finished
curves); with ``--schedule poly`` every point is a training of its own (the decay depends on the
length).
``--plot`` draws ``calibration.png`` from every CSV in ``--out``.
"""

from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from alstrategies.atomic import atomic_write_text
from alstrategies.config import load_config
from alstrategies.data import load_dataset
from alstrategies.device import resolve_device
from alstrategies.engine.protocol import budget_schedule, derive_seed, initial_labeled_set
from alstrategies.evaluation import evaluate
from alstrategies.settings import Settings
from alstrategies.training.round import RoundTrainer

PRESET = Path(__file__).resolve().parents[1] / "configs" / "acdc_cpu.toml"
FIELDS = ["size", "curve", "iterations", "dice", "hd95", "train_seconds", "labeled"]
CURVES = ("round0 cold", "full cold", "full warm")
#: Round-0 iterations of the committed warm curves (``--warm-from``), per (size, decay).
WARM_FROM = {("48", "step"): 1000, ("64", "step"): 1000, ("64", "poly"): 500}
#: ``--warm-from``'s default, for the curves :data:`WARM_FROM` does not list.
DEFAULT_WARM_FROM = 1000


@dataclass
class CheckpointHook:
    """A tqdm-like ``progress`` for :meth:`Trainer.fit`: evaluates the model at the checkpoints
    (model in eval mode, no random numbers drawn) and keeps a copy of the weights at ``keep``."""

    model: torch.nn.Module
    checkpoints: Sequence[int]
    evaluate: Callable[[torch.nn.Module], tuple[float, float]]
    keep: int = 0
    step: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        self.rows: list[tuple[int, float, float, float]] = []
        self.kept: dict | None = None
        self._start = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.step += n
        if self.step in self.checkpoints:
            self.seconds += time.perf_counter() - self._start
            dice, hd95 = self.evaluate(self.model)
            self.rows.append((self.step, dice, hd95, self.seconds))
            print(f"  {self.step:5d} iterations: Dice {100 * dice:.2f} %, HD95 {hd95:.2f}", flush=True)
            self._start = time.perf_counter()
        if self.step == self.keep:
            self.kept = copy.deepcopy(self.model.state_dict())


def calibrate(
    config: dict,
    checkpoints: dict[str, Sequence[int]],
    warm_from: int,
    seed: int = 0,
    done: set = frozenset(),
):
    """Yield ``(curve, rows, labeled)`` for the three curves; ``done`` curves are skipped (the
    round-0 one is retrained when the warm curve needs its weights)."""
    settings = Settings.from_config(config)
    torch.set_num_threads(settings.train.threads)
    data = load_dataset(config["data"])
    device = resolve_device(settings.train.device)
    rounds = RoundTrainer(settings, data, device, progress=False)
    budgets = budget_schedule(
        data.pool_size,
        settings.protocol.initial_fraction,
        settings.protocol.step_fraction,
        settings.protocol.final_fraction,
    )
    initial = initial_labeled_set(data.pool_size, budgets[0].count, seed)
    everything = np.arange(data.pool_size)

    def score(model: torch.nn.Module) -> tuple[float, float]:
        result = evaluate(
            model, data.test_volumes, data.num_classes, device, settings.train.eval_batch_size, amp=False
        )
        return result.dice, result.hd95

    separate = settings.train.lr_schedule == "poly"  # the decay depends on the length: one training each
    round0_weights = None
    for curve in CURVES:
        if curve in done and not (curve == "round0 cold" and "full warm" not in done):
            continue
        kind, start = curve.split()
        labeled = initial if kind == "round0" else everything
        points = (
            checkpoints[curve] if curve not in done else [warm_from]
        )  # done: only the warm start's weights
        print(f"{config['data']['image_size']}^2 {curve}: {len(labeled)} images", flush=True)
        rows = []
        for length in points if separate else [max(points)]:
            trainer = copy.copy(rounds.trainer)
            trainer.config = dataclasses.replace(
                settings.train, iterations=length, initial_iterations=0, full_iterations=0
            )
            model = rounds.new_model(seed)
            if start == "warm":
                model.load_state_dict(round0_weights)
            criterion = rounds.criterion()
            wanted = [length] if separate else points
            keep = warm_from if kind == "round0" and warm_from in wanted else 0
            hook = CheckpointHook(model, wanted, score, keep=keep)
            trainer.fit(
                model,
                rounds.pool_images[torch.as_tensor(labeled)],
                rounds.targets.targets(labeled, criterion.needs_distance),
                criterion,
                derive_seed(seed, kind),
                progress=hook,
                stage=kind,
            )
            rows += hook.rows
            if hook.kept is not None:
                round0_weights = hook.kept
        if curve not in done:
            yield curve, rows, len(labeled)


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict]) -> None:
    lines = [",".join(FIELDS)] + [",".join(str(row[key]) for key in FIELDS) for row in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


#: The schedule chosen for acdc_cpu.toml, marked on its panel: round 0 and the 100 % model's total.
CHOSEN = {("64", "step"): {"round 0: 500": 500, "100 %: 500 + 400": 900}}


#: The paper's Table 1 levels drawn on ACDC's panels: (label, Dice %, colour).
ACDC_LEVELS = (("paper 6.67 % (66.11)", 66.11, "#0072B2"), ("paper 100 % (91.37)", 91.37, "#D55E00"))


def plot(
    out: Path,
    marks: dict[tuple[str, str], dict[str, float]] | None = None,
    levels: Sequence[tuple[str, float, str]] = ACDC_LEVELS,
    title: str = "ACDC on the CPU: test Dice against training iterations (width-8 SBCNet; seed 0 unless stated)",
) -> Path:
    """``calibration.png``: Dice against iterations, one panel per (size, decay), reference
    ``levels`` dotted (the paper's, for ACDC), ``marks`` (default :data:`CHOSEN`) as grey
    verticals. The warm curve is drawn against the iterations since the cold start (round 0's
    included)."""
    marks = CHOSEN if marks is None else marks
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = sorted(
        out.glob("calibration_*_*.csv"),
        key=lambda p: (p.stem.split("_")[2] != "step", int(p.stem.split("_")[1])),
    )
    chains = out / "cooldown_random.csv"
    panels = len(files) + chains.is_file()
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2), squeeze=False)
    colours = {"round0 cold": "#0072B2", "full cold": "#D55E00", "full warm": "#009E73"}
    names = {
        "round0 cold": "6.67 % (round 0), cold",
        "full cold": "100 %, cold",
        "full warm": "100 %, warm from round 0 (x: since cold)",
    }
    for axis, path in zip(axes[0], files):
        rows = read_rows(path)
        _, size, schedule = path.stem.split("_")
        for curve in CURVES:
            offset = WARM_FROM.get((size, schedule), DEFAULT_WARM_FROM) if curve == "full warm" else 0
            points = [
                (offset + int(r["iterations"]), 100 * float(r["dice"])) for r in rows if r["curve"] == curve
            ]
            if points:
                x, y = zip(*points)
                axis.plot(x, y, "o-", color=colours[curve], label=names[curve], markersize=4)
        step = out / f"calibration_{size}_step.csv"
        if schedule != "step" and step.is_file():
            base = [
                (int(r["iterations"]), 100 * float(r["dice"]))
                for r in read_rows(step)
                if r["curve"] == "round0 cold"
            ]
            axis.plot(*zip(*base), "--", color="0.55", linewidth=1, label="6.67 %, cold, step decay")
        for label, level, colour in levels:
            axis.axhline(level, color=colour, linestyle=":", linewidth=1, label=label)
        for label, x in marks.get((size, schedule), {}).items():
            axis.axvline(x, color="0.6", linewidth=0.8)
            axis.annotate(label, (x, 22), rotation=90, fontsize=7, color="0.4", ha="right")
        decay = {"step": "lr x 0.9 every 500 its", "poly": "poly lr decay per training"}[schedule]
        axis.set_title(f"{size} x {size}, {decay}", fontsize=10)
        axis.set_xlabel("training iterations since the cold start (batch 16)")
        axis.set_xscale("log")
        axis.set_ylim(0, 95)
        axis.grid(alpha=0.3)
    if chains.is_file():
        _plot_cooldown(axes[0][-1], chains)
    axes[0][0].set_ylabel("test Dice (%), 3D at the original size")
    for axis in (axes[0][0], axes[0][-1]):
        axis.legend(loc="lower right", fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    target = out / "calibration.png"
    fig.savefig(target, dpi=130)
    plt.close(fig)
    return target


def write_chains(folders: Sequence[Path], out: Path, strategy: str = "random") -> Path:
    """``cooldown_random.csv``: every round of ``strategy``'s chains that went past round 0, and
    their 100 % models, in the run ``folders`` (e.g. the preset with ``--set train.cooldown=0`` and as it is), with the
    cooldown each folder's config.json records."""
    import json

    lines = ["cooldown,seed,round,budget,dice"]
    for folder in folders:
        cooldown = float(json.loads((folder / "config.json").read_text())["train"].get("cooldown", 0.0))
        for chain in sorted((folder / "strategies" / strategy).glob("seed*")):
            seed = int(chain.name.removeprefix("seed"))
            records = sorted(chain.glob("round*.json"), key=lambda p: int(p.stem.removeprefix("round")))
            full = folder / "shared" / f"seed{seed}" / "full.json"
            if len(records) < 2 or not full.is_file():
                continue  # only chains begun past round 0, with their 100 % model
            for path in [*records, full]:
                record = json.loads(path.read_text())
                lines.append(
                    f"{cooldown},{seed},{record['round']},{record['budget']:.6f},{record['dice']:.6f}"
                )
    target = out / f"cooldown_{strategy}.csv"
    atomic_write_text(target, "\n".join(lines) + "\n")
    return target


def _plot_cooldown(axis, path: Path) -> None:
    """Random's warm-started chains of the preset with and without the lr cooldown, per seed,
    and each seed's 100 % model as a marker at 100 %."""
    import pandas as pd

    frame = pd.read_csv(path)
    styles = {0.0: ("#CC79A7", "no cooldown"), 0.2: ("#009E73", "cooldown 0.2")}
    for (cooldown, seed), rows in frame.groupby(["cooldown", "seed"]):
        colour, name = styles.get(float(cooldown), ("0.5", f"cooldown {cooldown}"))
        curve = rows[rows["budget"] < 1.0].sort_values("budget")
        full = rows[rows["budget"] >= 1.0]["dice"]
        label = f"{name}" if seed == frame[frame["cooldown"] == cooldown]["seed"].min() else None
        axis.plot(100 * curve["budget"], 100 * curve["dice"], "o-", color=colour, markersize=3, label=label)
        axis.plot([36.5], 100 * full, "s", color=colour, markersize=5)
    axis.set_title("64 x 64, random's chains (seeds 0, 1, 3): the lr cooldown", fontsize=10)
    axis.set_xlabel("labeled share of the pool (%); squares: 100 % models")
    axis.set_ylabel("test Dice (%)")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right", fontsize=7)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--preset", type=Path, default=PRESET, help="the run's config (default acdc_cpu.toml)"
    )
    parser.add_argument(
        "--data", default="", help="the data folder (default: the preset's, e.g. $ALSTRATEGIES_ACDC_ROOT)"
    )
    parser.add_argument("--size", type=int, default=48, help="working image size (default 48)")
    parser.add_argument("--out", type=Path, default=Path("results/acdc_calibration"))
    parser.add_argument("--round0", type=int, nargs="+", default=[100, 200, 300, 500, 750, 1000, 1500, 2000])
    parser.add_argument("--full", type=int, nargs="+", default=[250, 500, 1000, 1500, 2000])
    parser.add_argument("--warm", type=int, nargs="+", default=[100, 200, 400, 800, 1200])
    parser.add_argument(
        "--warm-from", type=int, default=DEFAULT_WARM_FROM, help="round-0 iterations of the warm start"
    )
    parser.add_argument(
        "--schedule",
        choices=("step", "poly"),
        default="step",
        help="train.lr_schedule; poly decays over each training's length, so every point is its own training",
    )
    parser.add_argument(
        "--curves",
        nargs="+",
        choices=CURVES,
        default=list(CURVES),
        help="the curves to compute (default all)",
    )
    parser.add_argument(
        "--chains", type=Path, nargs="+", help="only write cooldown_random.csv from these run folders"
    )
    parser.add_argument("--plot", action="store_true", help="only draw calibration.png from the CSVs")
    args = parser.parse_args(argv)
    if args.plot:
        name = load_config(args.preset, [])["data"]["name"] if args.preset != PRESET else "acdc"
        if name == "acdc":
            print(plot(args.out))
        else:
            title = f"{args.preset.stem}: test Dice against iterations (seed 0)"
            print(plot(args.out, marks={}, levels=(), title=title))
        return
    if args.chains:
        print(write_chains(args.chains, args.out))
        return
    if args.warm_from not in args.round0:
        parser.error(f"--warm-from {args.warm_from} must be one of the --round0 checkpoints")
    overrides = [f"data.image_size={args.size}"] + ([f'data.root="{args.data}"'] if args.data else [])
    args.out.mkdir(parents=True, exist_ok=True)
    overrides.append(f'train.lr_schedule="{args.schedule}"')
    config = load_config(args.preset, overrides)
    path = args.out / f"calibration_{args.size}_{args.schedule}.csv"
    done = {row["curve"] for row in read_rows(path)} | (set(CURVES) - set(args.curves))
    checkpoints = {"round0 cold": args.round0, "full cold": args.full, "full warm": args.warm}
    for curve, points, labeled in calibrate(config, checkpoints, args.warm_from, done=done):
        rows = read_rows(path)  # read again: another process may compute other curves of this size
        for iterations, dice, hd95, seconds in points:
            rows.append(
                {
                    "size": args.size,
                    "curve": curve,
                    "iterations": iterations,
                    "dice": f"{dice:.6f}",
                    "hd95": f"{hd95:.4f}",
                    "train_seconds": f"{seconds:.1f}",
                    "labeled": labeled,
                }
            )
        write_rows(path, rows)
    print(path)


if __name__ == "__main__":
    main()
