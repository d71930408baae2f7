"""Budget arithmetic, initial labeled sets and seed derivation (DESIGN section 5)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from alstrategies.errors import BudgetError

__all__ = [
    "Budget",
    "BudgetError",
    "budget_schedule",
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


def budget_schedule(
    pool_size: int, initial_fraction: float, step_fraction: float, final_fraction: float
) -> list[Budget]:
    """The labeled count of every round: ``round(N * f_r)``, rounding halves up.

    The number of rounds is ``R = round((final - initial) / step)`` and the levels are evenly
    spaced, ``f_r = initial + r * (final - initial) / R``, so that the rounded fractions of the
    paper (6.67 %, + 3.33 %, to 33.33 %) give exactly 6.67, 10.00, ..., 30.00, 33.33 %.
    A fraction written to 4 decimals of a simple ratio means that ratio (0.0667 is 1/15,
    0.3333 is 1/3: see :func:`_snap`).
    """
    if pool_size < 1:
        raise BudgetError("the pool is empty: the dataset has no training slices")
    for name, value in (("initial_fraction", initial_fraction), ("final_fraction", final_fraction)):
        if not 0 < value <= 1:
            raise BudgetError(f"protocol.{name} must be in (0, 1], got {value}")
    if final_fraction < initial_fraction:
        raise BudgetError(
            f"protocol.final_fraction ({final_fraction}) is below protocol.initial_fraction "
            f"({initial_fraction}); raise final_fraction or lower initial_fraction"
        )
    if step_fraction <= 0 and final_fraction > initial_fraction:
        raise BudgetError(f"protocol.step_fraction must be positive, got {step_fraction}")
    rounds = (
        0
        if final_fraction == initial_fraction
        else _round_half_up((final_fraction - initial_fraction) / step_fraction)
    )
    first, last = _snap(initial_fraction), _snap(final_fraction)
    fractions = [first] if rounds == 0 else [first + r * (last - first) / rounds for r in range(rounds + 1)]
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
