"""How a :class:`~alstrategies.strategy.RankingStrategy` turns its scores into k indices.

A :class:`Sampler` holds the rule (one of :data:`SAMPLINGS`, the values of
:data:`~alstrategies.settings.SamplingRule`) and its ``beta``. The default rule, ``top_k``, keeps
the ``k`` highest scores (:func:`top_k`, exact ties broken with the generator). The three
stochastic rules of Kirsch et al. (TMLR 2023, "Stochastic Batch Acquisition") draw ``k`` images
without replacement, one after the other, each with probability proportional to its weight among
those not yet drawn:

- ``"power"``: ``w = s ** beta`` for positive scores ``s`` (:func:`positive_scores` says how
  scores that are not all positive are made so);
- ``"softmax"``: ``w = exp(beta * s)``;
- ``"softrank"``: ``w = rank ** -beta``, rank 1 for the highest score (tied scores share their
  average rank).

The draw is exact and ``O(n log n)``: Gumbel-top-k (:func:`gumbel_top_k`) adds independent
Gumbel noise to ``log w`` and keeps the ``k`` largest keys, in order, which has the law of the
sequential draw. ``beta = 0`` is uniform sampling; a large ``beta`` tends to the top k.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast, get_args

import numpy as np

from alstrategies.errors import ConfigError, StrategyContractError
from alstrategies.ranking import top_k
from alstrategies.settings import DEFAULT_BETA, DEFAULT_SAMPLING, SamplingRule

__all__ = [
    "DEFAULT_BETA",
    "DEFAULT_SAMPLING",
    "POWER_EPSILON",
    "SAMPLINGS",
    "Sampler",
    "SamplingRule",
    "check_sampling",
    "gumbel_top_k",
    "log_weights",
    "positive_scores",
    "sample_k",
]

#: Every rule, from the one declaration :data:`~alstrategies.settings.SamplingRule`.
SAMPLINGS: tuple[SamplingRule, ...] = get_args(SamplingRule)

#: For ``"power"`` with scores that are not all positive: the lowest score becomes this fraction
#: of the score range (:func:`positive_scores`).
POWER_EPSILON = 1e-3


def check_sampling(sampling: object, beta: object) -> tuple[SamplingRule, float]:
    """Validate a ``(sampling, beta)`` pair.

    Returns:
        ``(sampling, float(beta))``.

    Raises:
        ConfigError: ``sampling`` is not one of :data:`SAMPLINGS`, or ``beta`` is not a finite
            number >= 0.
    """
    if sampling not in SAMPLINGS:
        raise ConfigError(f"unknown query sampling {sampling!r}; use one of {SAMPLINGS}")
    if isinstance(beta, bool) or not isinstance(beta, int | float) or not math.isfinite(beta) or beta < 0:
        raise ConfigError(f"query beta (sampling_beta) must be a finite number >= 0, got {beta!r}")
    return cast(SamplingRule, sampling), float(beta)


@dataclass(frozen=True)
class Sampler:
    """A sampling rule and its ``beta``, validated on construction (:func:`check_sampling`).

    Args:
        rule: One of :data:`SAMPLINGS`; the top k by default.
        beta: The exponent (``"power"``, ``"softrank"``) or inverse temperature (``"softmax"``),
            a finite number >= 0 (stored as a float).

    Raises:
        ConfigError: An unknown ``rule`` or a negative or non-finite ``beta``.
    """

    rule: SamplingRule = DEFAULT_SAMPLING
    beta: float = DEFAULT_BETA

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta", check_sampling(self.rule, self.beta)[1])

    @property
    def stochastic(self) -> bool:
        """Whether the rule draws at random (every rule but the top k)."""
        return self.rule in _LOG_WEIGHTS

    def sample(
        self, candidates: np.ndarray, scores: np.ndarray, k: int, rng: np.random.Generator
    ) -> np.ndarray:
        """``k`` of ``candidates`` by this rule (:func:`sample_k`)."""
        return sample_k(candidates, scores, k, rng, self.rule, self.beta)


def positive_scores(scores: np.ndarray) -> np.ndarray:
    """Scores made positive for power sampling.

    All positive: returned unchanged (power sampling is invariant to a positive scale, so this is
    exactly Kirsch et al.'s rule). Otherwise (a zero, or negative scores: ``confident``, VAAL's
    ``-logit D(mu)``, a saturated margin...): shifted so that the lowest score becomes
    ``POWER_EPSILON x (max - min)``, which keeps the order and the differences and gives the
    lowest image a small but non-zero weight. All equal: all ones (uniform).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0 or scores.min() > 0:
        return scores
    low, high = float(scores.min()), float(scores.max())
    if high == low:
        return np.ones_like(scores)
    shifted = scores - low + POWER_EPSILON * (high - low)
    return np.maximum(shifted, np.finfo(np.float64).tiny)


def average_ranks(scores: np.ndarray) -> np.ndarray:
    """Rank 1 for the highest score, 2 for the next...; tied scores share their average rank."""
    _, inverse, counts = np.unique(
        -np.asarray(scores, dtype=np.float64), return_inverse=True, return_counts=True
    )
    first = np.cumsum(counts) - counts + 1
    return (first + (counts - 1) / 2.0)[inverse.reshape(-1)]


def _power(scores: np.ndarray, beta: float) -> np.ndarray:
    return beta * np.log(positive_scores(scores))


def _softmax(scores: np.ndarray, beta: float) -> np.ndarray:
    return beta * (scores - scores.max()) if scores.size else scores


def _softrank(scores: np.ndarray, beta: float) -> np.ndarray:
    return -beta * np.log(average_ranks(scores))


#: ``log w`` of each stochastic rule; the one rule of :data:`SAMPLINGS` without weights is the top k.
_LOG_WEIGHTS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "power": _power,
    "softmax": _softmax,
    "softrank": _softrank,
}


def log_weights(scores: np.ndarray, sampling: str, beta: float) -> np.ndarray:
    """``log w`` of each score under a stochastic ``sampling`` rule (up to a constant).

    Raises:
        ConfigError: ``sampling`` is the top k (no weights) or unknown.
    """
    if sampling not in _LOG_WEIGHTS:
        raise ConfigError(f"sampling {sampling!r} has no weights; stochastic rules: {tuple(_LOG_WEIGHTS)}")
    return _LOG_WEIGHTS[sampling](np.asarray(scores, dtype=np.float64), beta)


def gumbel_top_k(candidates: np.ndarray, logits: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``k`` candidates without replacement, each step with probability ``softmax(logits)``
    over those left: the ``k`` largest of ``logits + Gumbel noise`` (one draw per candidate).

    Returns:
        The drawn candidates in draw order.
    """
    keys = np.asarray(logits, dtype=np.float64) + rng.gumbel(size=len(logits))
    order = np.argsort(-keys, kind="stable")[:k]
    return np.asarray(candidates)[order]


def sample_k(
    candidates: np.ndarray,
    scores: np.ndarray,
    k: int,
    rng: np.random.Generator,
    sampling: str = DEFAULT_SAMPLING,
    beta: float = DEFAULT_BETA,
) -> np.ndarray:
    """``k`` candidates chosen from their scores by ``sampling`` (see the module docstring).

    Args:
        candidates: Pool indices.
        scores: One finite score per candidate (higher = more wanted).
        k: How many to choose.
        rng: The strategy's generator (the only randomness).
        sampling: One of :data:`SAMPLINGS`; the top k (the default) is :func:`top_k`.
        beta: The exponent (``"power"``, ``"softrank"``) or inverse temperature (``"softmax"``).

    Returns:
        ``k`` distinct candidates: highest score first for the top k, else in draw order.

    Raises:
        ConfigError: ``sampling`` is not one of :data:`SAMPLINGS`.
        StrategyContractError: A stochastic rule got a score that is not finite.
    """
    if sampling not in SAMPLINGS:
        raise ConfigError(f"unknown query sampling {sampling!r}; use one of {SAMPLINGS}")
    if sampling not in _LOG_WEIGHTS:
        return top_k(candidates, scores, k, rng)
    scores = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(scores).all():
        raise StrategyContractError(
            f"{sampling} sampling needs finite scores, got {scores[~np.isfinite(scores)][:3]}"
        )
    return gumbel_top_k(candidates, log_weights(scores, sampling, beta), k, rng)
