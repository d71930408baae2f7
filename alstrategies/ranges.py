"""The allowed range of every numeric config key, checked in one place before anything runs.

Each entry is ``section.key -> (low, high, low_open, high_open)``: the value must lie in the
interval, ``None`` meaning unbounded on that side. A value outside is one line naming the key,
the value, the range and what the key means when it has a special value.
"""

from __future__ import annotations

from typing import Any

from alstrategies.errors import ConfigError

Range = tuple[float | None, float | None, bool, bool]

#: section.key -> (low, high, low_open, high_open)
RANGES: dict[str, Range] = {
    "data.image_size": (8, None, False, False),
    "model.width": (1, None, False, False),
    "model.distance_prior": (0, 1, False, True),
    "loss.alpha": (0, None, False, False),
    "loss.beta": (0, None, False, False),
    "loss.gamma": (0, None, False, False),
    "train.epochs": (1, None, False, False),
    "train.full_epochs_factor": (0, None, True, False),
    "train.iterations": (0, None, False, False),
    "train.initial_iterations": (0, None, False, False),
    "train.full_iterations": (0, None, False, False),
    "train.min_batches_per_epoch": (0, None, False, False),
    "train.batch_size": (1, None, False, False),
    "train.lr": (0, None, True, False),
    "train.sfp_lr": (0, None, True, False),
    "train.momentum": (0, 1, False, True),
    "train.weight_decay": (0, None, False, False),
    "train.lr_decay": (0, 1, True, False),
    "train.lr_step": (1, None, False, False),
    "train.cooldown": (0, 1, False, True),
    "train.warm_lr_factor": (0, None, True, False),
    "train.eval_batch_size": (1, None, False, False),
    "train.threads": (0, None, False, False),
    "protocol.initial_fraction": (0, 1, True, False),
    "protocol.step_fraction": (0, 1, True, False),
    "protocol.final_fraction": (0, 1, True, False),
    "query.batch_size": (1, None, False, False),
    "query.beta": (0, None, True, False),
    "snapshots.slices": (0, None, False, False),
    "evaluation.surface_tolerance": (0, None, True, False),
    "executor.workers": (1, None, False, False),
    "executor.chains_per_gpu": (1, None, False, False),
    "executor.cpus_per_chain": (0, None, True, False),
    "executor.gpus_per_chain": (0, None, False, False),
}

#: What a special value means, for the message.
NOTES = {
    "train.iterations": "0 = use train.epochs",
    "train.initial_iterations": "0 = as every round",
    "train.full_iterations": "0 = as every round",
    "train.cooldown": "0 = no cooldown; 0.2 = the last 20 % of each training",
    "train.warm_lr_factor": "1 = a warm round starts at the peak lr; 0.1 = at a tenth of it",
    "train.threads": "0 = torch's default, which follows the core count",
    "train.min_batches_per_epoch": "0 = one pass over the labeled set",
}


def describe(bounds: Range) -> str:
    """``bounds`` as an interval, e.g. ``(0, 1]`` or ``>= 1``."""
    low, high, low_open, high_open = bounds
    if high is None:
        return f"{'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"{'<' if high_open else '<='} {high:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def inside(value: float, bounds: Range) -> bool:
    low, high, low_open, high_open = bounds
    if low is not None and (value < low or (low_open and value == low)):
        return False
    return not (high is not None and (value > high or (high_open and value == high)))


def check_ranges(config: dict[str, dict[str, Any]]) -> None:
    """Refuse the first numeric value outside its range, and seeds that repeat or are no ints."""
    for dotted, bounds in RANGES.items():
        section, key = dotted.split(".")
        value = config.get(section, {}).get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # types are checked by config.validate
        if not inside(value, bounds):
            note = f" ({NOTES[dotted]})" if dotted in NOTES else ""
            raise ConfigError(f"{dotted} must be {describe(bounds)}{note}, got {value!r}")
    for dotted in ("protocol.seeds", "snapshots.seeds"):
        section, key = dotted.split(".")
        seeds = config.get(section, {}).get(key, [])
        if not isinstance(seeds, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in seeds
        ):
            raise ConfigError(f"{dotted} must be a list of integer seeds, e.g. [0, 1, 2], got {seeds!r}")
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            raise ConfigError(f"{dotted} lists seed(s) {repeated} more than once; give each seed once")
    if config.get("protocol", {}).get("seeds") == []:
        raise ConfigError("protocol.seeds is empty; give at least one seed, e.g. protocol.seeds=[0]")
