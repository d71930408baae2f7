"""Calibrate a training's length by one convergence criterion (issue 25, items 3 and 4).

Each network's round 0, from the round-0 models of round-0-only runs (``protocol.final_fraction``
= ``initial_fraction``, no 100 % model), one run folder per (network,
``train.initial_iterations``), several seeds:

    python -m benchmarks.calibration.convergence results/acdc_split_calibration/*_* \\
        --out results/acdc_split_calibration/round0_convergence.csv

or a cold 100 % model's (``--stage full``), from runs that differ in ``train.full_iterations``
(with ``train.full_warm_start = false``). Writes one row per (network, iterations, seed) and
prints the table of means and each network's choice; ``--choice NETWORK`` prints only that
network's iterations (for a study script).

**The criterion**, the same for every network: the smallest number of iterations ``N`` of the
grid whose mean round-0 Dice over the seeds is within ``--gain`` (default 2 Dice points) of the
mean at ``2 N``, i.e. doubling the training no longer pays. Where no ``N`` of the grid meets it,
the longest is chosen and marked as not converged.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from alstrategies.atomic import atomic_write_text

DEFAULT_GAIN = 0.02


@dataclass(frozen=True)
class Choice:
    """A network's calibrated round-0 iterations; ``converged`` is False when the grid ended
    before doubling stopped paying."""

    network: str
    iterations: int
    converged: bool


#: The training each stage calibrates and the key that sets its length.
STAGES = {"round0": "initial_iterations", "full": "full_iterations"}


def collect(folders: Sequence[Path], stage: str = "round0") -> pd.DataFrame:
    """``network, iterations, seed, dice`` of every ``stage`` record (``round0``: the round-0
    models; ``full``: the 100 % models) in the run ``folders``; the network is the record's own
    suffix (``round0_plain``) or, with one shared network, the config's ``model.heads``."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    rows = []
    for folder in folders:
        config = json.loads((folder / "config.json").read_text())
        iterations = int(config["train"][STAGES[stage]])
        heads = str(config.get("model", {}).get("heads", "sbc"))
        for path in sorted((folder / "shared").glob(f"seed*/{stage}*.json")):
            record = json.loads(path.read_text())
            network = path.stem.partition("_")[2] or heads
            seed = int(path.parent.name.removeprefix("seed"))
            rows.append({"network": network, "iterations": iterations, "seed": seed, "dice": record["dice"]})
    frame = pd.DataFrame(rows, columns=["network", "iterations", "seed", "dice"])
    return frame.sort_values(["network", "iterations", "seed"], ignore_index=True)


def choose(frame: pd.DataFrame, gain: float = DEFAULT_GAIN) -> dict[str, Choice]:
    """Each network's :class:`Choice` under the doubling criterion (module docstring), on the
    seeds every one of its grid points has."""
    choices = {}
    for network, rows in frame.groupby("network"):
        seeds = set.intersection(*(set(r["seed"]) for _, r in rows.groupby("iterations")))
        means = rows[rows["seed"].isin(seeds)].groupby("iterations")["dice"].mean()
        chosen = next(
            (n for n in means.index if 2 * n in means.index and means[2 * n] - means[n] < gain), None
        )
        choices[str(network)] = (
            Choice(str(network), int(chosen), True)
            if chosen is not None
            else Choice(str(network), int(means.index.max()), False)
        )
    return choices


def markdown(frame: pd.DataFrame, choices: dict[str, Choice], gain: float = DEFAULT_GAIN) -> str:
    """Mean ± std round-0 Dice (%) per network and iterations, then each network's choice."""
    lines = ["| network | iterations | seeds | mean ± std (%) | per seed (%) |", "|---|---|---|---|---|"]
    for (network, iterations), rows in frame.groupby(["network", "iterations"]):
        dice = 100 * rows["dice"]
        std = dice.std(ddof=1) if len(dice) > 1 else 0.0
        seeds = ", ".join(f"{s}: {d:.2f}" for s, d in zip(rows["seed"], dice, strict=True))
        lines.append(f"| {network} | {iterations} | {len(dice)} | {dice.mean():.2f} ± {std:.2f} | {seeds} |")
    lines.append("")
    for choice in choices.values():
        verdict = (
            f"doubling adds less than {100 * gain:g} points"
            if choice.converged
            else "not converged on this grid (the longest)"
        )
        lines.append(f"- {choice.network}: {choice.iterations} iterations ({verdict}).")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", type=Path, nargs="+", help="run folders, one length each")
    parser.add_argument("--stage", choices=tuple(STAGES), default="round0", help="round0 (default) or full")
    parser.add_argument(
        "--gain", type=float, default=DEFAULT_GAIN, help="Dice (fraction) a doubling must add"
    )
    parser.add_argument("--out", type=Path, help="write the per-model CSV here")
    parser.add_argument("--choice", help="print only this network's calibrated iterations")
    args = parser.parse_args(argv)
    folders = [f for f in args.folders if (f / "config.json").is_file()]
    if not folders:
        parser.error("none of the folders is a run folder (no config.json)")
    frame = collect(folders, args.stage)
    choices = choose(frame, args.gain)
    if args.choice:
        if args.choice not in choices:
            parser.error(
                f"no round-0 records of network {args.choice!r}; found {', '.join(choices) or 'none'}"
            )
        print(choices[args.choice].iterations)
        return
    if args.out:
        atomic_write_text(args.out, frame.to_csv(index=False, float_format="%.6f"))
    print(markdown(frame, choices, args.gain), end="")


if __name__ == "__main__":
    main()
