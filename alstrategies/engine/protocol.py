"""Budget arithmetic, initial labeled sets and seed derivation (DESIGN section 5)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from alstrategies.errors import BudgetError, ConfigError

__all__ = [
    "Budget",
    "BudgetError",
    "budget_fractions",
    "budget_schedule",
    "check_seeds",
    "derive_rng",
    "derive_seed",
    "initial_labeled_set",
    "name_key",
]


@dataclass(frozen=True)
class Budget:
    """One budget level: its nominal fraction and the exact number of labeled images."""

    round: int
    fraction: float
    count: int


def _snap(fraction: float) -> float:
    """The ratio ``p/q`` (``q <= 100``) within 5e-5 of ``fraction``, else ``fraction`` itself."""
    ratio = Fraction(fraction).limit_denominator(100)
    return float(ratio) if abs(float(ratio) - fraction) < 5e-5 else float(fraction)


def _round_half_up(value: float) -> int:
    return int(np.floor(value + 0.5 + 1e-9))


#: How far ``protocol.step_fraction`` may lie from the step the rounds take (relative): enough
#: for a step written to 4 decimals (0.0333 for 1/30), far less than a round's worth.
STEP_TOLERANCE = 0.01


def _percentages(fractions: list[float]) -> str:
    return ", ".join(f"{100 * f:.2f} %" for f in fractions)


def budget_fractions(initial_fraction: float, step_fraction: float, final_fraction: float) -> list[float]:
    """The nominal fraction of every round (see :func:`budget_schedule`); they do not depend on
    the pool, so a config is checked before any data are loaded.

    A step that the span from ``initial_fraction`` to ``final_fraction`` does not hold a whole
    number of times (within :data:`STEP_TOLERANCE`) is refused with the budgets it would give
    and the steps that fit: the rounds would otherwise run at other budgets than asked.
    """
    for name, value in (("initial_fraction", initial_fraction), ("final_fraction", final_fraction)):
        if not 0 < value <= 1:
            raise BudgetError(f"protocol.{name} must be in (0, 1], got {value}")
    if final_fraction < initial_fraction:
        raise BudgetError(
            f"protocol.final_fraction ({final_fraction}) is below protocol.initial_fraction "
            f"({initial_fraction}); raise final_fraction or lower initial_fraction"
        )
    first, last = _snap(initial_fraction), _snap(final_fraction)
    if final_fraction == initial_fraction:
        return [first]
    if step_fraction <= 0:
        raise BudgetError(f"protocol.step_fraction must be positive, got {step_fraction}")
    span = last - first
    rounds = max(1, _round_half_up((final_fraction - initial_fraction) / step_fraction))
    fractions = [first + r * span / rounds for r in range(rounds + 1)]
    step = span / rounds
    if abs(step - step_fraction) > STEP_TOLERANCE * step:
        fits = sorted(
            {max(1, int(np.floor(span / step_fraction))), max(1, int(np.ceil(span / step_fraction)))}
        )
        options = " or ".join(f"{span / n:.4g} ({n} round{'s' if n > 1 else ''})" for n in fits)
        raise BudgetError(
            f"protocol.step_fraction = {step_fraction} does not fit a whole number of times between "
            f"initial_fraction {initial_fraction} and final_fraction {final_fraction}: the rounds would "
            f"run at {_percentages(fractions)} (a step of {step:.4g}); set protocol.step_fraction to "
            f"{options}, or move final_fraction"
        )
    return fractions


def budget_schedule(
    pool_size: int, initial_fraction: float, step_fraction: float, final_fraction: float
) -> list[Budget]:
    """The labeled count of every round: ``round(N * f_r)``, rounding halves up.

    The number of rounds is ``R = round((final - initial) / step)`` and the levels are evenly
    spaced, ``f_r = initial + r * (final - initial) / R``, so that the rounded fractions of the
    paper (6.67 %, + 3.33 %, to 33.33 %) give exactly 6.67, 10.00, ..., 30.00, 33.33 %.
    A fraction written to 4 decimals of a simple ratio means that ratio (0.0667 is 1/15,
    0.3333 is 1/3: see :func:`_snap`). A step that the span does not hold a whole number of
    times is refused (:func:`budget_fractions`).
    """
    if pool_size < 1:
        raise BudgetError("the pool is empty: the dataset has no training slices")
    fractions = budget_fractions(initial_fraction, step_fraction, final_fraction)
    counts = [_round_half_up(pool_size * f) for f in fractions]
    if counts[0] < 1:
        raise BudgetError(
            f"protocol.initial_fraction {initial_fraction} of a pool of {pool_size} images labels "
            f"no image; raise it to at least {1 / pool_size:.4f} or use a larger pool"
        )
    if any(b <= a for a, b in zip(counts, counts[1:])):
        raise BudgetError(
            f"protocol.step_fraction {step_fraction} adds no image per round on a pool of "
            f"{pool_size} images (labeled counts {counts}); raise step_fraction to at least "
            f"{1 / pool_size:.4f} or use a larger pool"
        )
    return [Budget(r, round(f, 6), c) for r, (f, c) in enumerate(zip(fractions, counts))]


def check_seeds(seeds: list[int], source: str) -> None:
    """Refuse seeds that repeat or are negative (numpy's generators take non-negative seeds);
    ``source`` names where they came from, e.g. ``protocol.seeds``."""
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ConfigError(f"{source} lists seed(s) {repeated} more than once; give each seed once")
    negative = [s for s in seeds if s < 0]
    if negative:
        raise ConfigError(f"{source}: seeds must be non-negative integers (they seed numpy), got {negative}")


def name_key(name: str) -> int:
    """A stable integer for a string (Python's ``hash`` is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


def derive_rng(seed: int, round_index: int, name: str) -> np.random.Generator:
    """The generator a strategy gets for (seed, round): independent of everything else."""
    return np.random.default_rng([seed, round_index, name_key(name)])


def derive_seed(seed: int, *parts: int | str) -> int:
    """A 63-bit integer seed derived from ``seed`` and labels (for torch generators)."""
    keys = [seed] + [p if isinstance(p, int) else name_key(p) for p in parts]
    return int(np.random.default_rng(keys).integers(0, 2**63 - 1))


def initial_labeled_set(pool_size: int, count: int, seed: int) -> np.ndarray:
    """Seed ``seed``'s initial labeled indices (sorted); identical for every strategy."""
    if not 0 < count <= pool_size:
        raise BudgetError(f"cannot draw {count} initial images from a pool of {pool_size}")
    rng = np.random.default_rng([seed, name_key("initial-labeled-set")])
    return np.sort(rng.choice(pool_size, size=count, replace=False)).astype(np.int64)
