"""Power of the paired t-test: what a run's seeds and paired spread can detect.

For ``n`` paired differences with true mean ``delta`` and standard deviation ``sd``, the paired
t statistic ``t = mean / (s / sqrt(n))`` follows the noncentral t distribution with ``n - 1``
degrees of freedom and noncentrality ``delta sqrt(n) / sd``. The two-sided test at level
``alpha`` rejects when ``|t| > t_crit = t_{1 - alpha/2, n-1}``, so its power is::

    power = 1 - F_nct(t_crit; n - 1, nc) + F_nct(-t_crit; n - 1, nc)

* **Minimal detectable effect** (MDE): the ``delta`` whose power is the target (80 %) for the
  given ``n``, ``sd`` and ``alpha`` (solved with ``scipy.optimize.brentq``).
* **Seeds needed**: the smallest ``n >= 2`` whose power for a given ``delta`` reaches the target.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

__all__ = ["minimal_detectable_effect", "paired_power", "pooled_sd", "seeds_needed"]

#: The power the MDE and the seed counts are computed for.
TARGET_POWER = 0.8


def _check(alpha: float, power: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must lie in (0, 1), got {power}")


def paired_power(effect: float, sd: float, n: int, alpha: float) -> float:
    """Power of the two-sided paired t-test with ``n`` pairs for a true mean difference
    ``effect`` and a standard deviation ``sd`` of the differences (noncentral t)."""
    _check(alpha, 0.5)
    if n < 2:
        raise ValueError(f"a paired t-test needs at least 2 pairs, got {n}")
    if not sd > 0:
        raise ValueError(f"sd must be positive, got {sd}")
    df = n - 1
    critical = stats.t.ppf(1 - alpha / 2, df)
    noncentrality = abs(effect) * math.sqrt(n) / sd
    upper = float(stats.nct.sf(critical, df, noncentrality))
    if not np.isfinite(upper):  # scipy's far tails can be NaN: there the mass is ~0 or ~1
        upper = 1.0 if noncentrality > critical else 0.0
    lower = float(stats.nct.cdf(-critical, df, noncentrality))  # below Phi(-nc): negligible when NaN
    return min(1.0, upper + (lower if np.isfinite(lower) else 0.0))


def minimal_detectable_effect(sd: float, n: int, alpha: float, power: float = TARGET_POWER) -> float:
    """The mean paired difference that a two-sided paired t-test with ``n`` pairs at ``alpha``
    detects with probability ``power``, for differences of standard deviation ``sd``."""
    _check(alpha, power)
    if n < 2 or not sd > 0:
        return float("nan")
    if paired_power(0.0, sd, n, alpha) >= power:
        return 0.0
    high = sd
    while paired_power(high, sd, n, alpha) < power:
        high *= 2
    return float(optimize.brentq(lambda d: paired_power(d, sd, n, alpha) - power, 0.0, high, xtol=1e-12 * sd))


def seeds_needed(
    effect: float, sd: float, alpha: float, power: float = TARGET_POWER, max_n: int = 100_000
) -> int | None:
    """The smallest number of pairs (seeds), at least 2, at which a two-sided paired t-test at
    ``alpha`` detects ``effect`` with probability ``power``; None when ``effect`` is 0 or more
    than ``max_n`` would be needed. ``sd == 0`` with a non-zero effect needs 2."""
    _check(alpha, power)
    if not np.isfinite(effect) or not np.isfinite(sd) or effect == 0:
        return None
    if sd == 0:
        return 2
    if paired_power(effect, sd, 2, alpha) >= power:
        return 2
    low, high = 2, 4
    while paired_power(effect, sd, high, alpha) < power:  # power grows with n
        low, high = high, 2 * high
        if low > max_n:
            return None
    while high - low > 1:  # invariant: power(low) < target <= power(high)
        middle = (low + high) // 2
        if paired_power(effect, sd, middle, alpha) >= power:
            high = middle
        else:
            low = middle
    return high if high <= max_n else None


def pooled_sd(sds: list[float], ns: list[int]) -> float:
    """Pooled standard deviation ``sqrt(sum (n_i - 1) s_i^2 / sum (n_i - 1))`` over the groups
    with ``n_i >= 2`` and a finite ``s_i``; NaN when there is none."""
    pairs = [(s, n) for s, n in zip(sds, ns, strict=True) if n >= 2 and np.isfinite(s)]
    if not pairs:
        return float("nan")
    return float(math.sqrt(sum((n - 1) * s**2 for s, n in pairs) / sum(n - 1 for _, n in pairs)))
