"""How a :class:`~alstrategies.strategy.RankingStrategy` turns its scores into k indices.

``sampling = "top_k"`` (the default) keeps the ``k`` highest scores (:func:`top_k`, exact ties
broken with the generator). The three stochastic rules of Kirsch et al. (TMLR 2023,
"Stochastic Batch Acquisition") draw ``k`` images without replacement, one after the other, each
with probability proportional to its weight among those not yet drawn:

- ``"power"``: ``w = s ** beta`` for positive scores ``s`` (:func:`positive_scores` says how
  scores that are not all positive are made so);
- ``"softmax"``: ``w = exp(beta * s)``;
- ``"softrank"``: ``w = rank ** -beta``, rank 1 for the highest score (tied scores share their
  average rank).

The draw is exact and ``O(n log n)``: Gumbel-top-k (:func:`gumbel_top_k`) adds independent
Gumbel noise to ``log w`` and keeps the ``k`` largest keys, in order, which has the law of the
sequential draw. ``beta = 0`` is uniform sampling; a large ``beta`` tends to the top k.

:func:`with_sampling_options` gives every ``RankingStrategy`` subclass the two keyword options
``sampling`` and ``sampling_beta`` (the config's ``query.sampling`` and ``query.beta``), also
when its own ``__init__`` does not declare them.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from alstrategies.errors import ConfigError, StrategyContractError
from alstrategies.ranking import top_k

__all__ = [
    "POWER_EPSILON",
    "SAMPLINGS",
    "check_sampling",
    "gumbel_top_k",
    "log_weights",
    "positive_scores",
    "sample_k",
    "set_sampling",
    "with_sampling_options",
]

SAMPLINGS = ("top_k", "power", "softmax", "softrank")

#: For ``"power"`` with scores that are not all positive: the lowest score becomes this fraction
#: of the score range (:func:`positive_scores`).
POWER_EPSILON = 1e-3


def check_sampling(sampling: object, beta: object) -> tuple[str, float]:
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
    return str(sampling), float(beta)


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


def log_weights(scores: np.ndarray, sampling: str, beta: float) -> np.ndarray:
    """``log w`` of each score under a stochastic ``sampling`` rule (up to a constant).

    Raises:
        ConfigError: ``sampling`` is ``"top_k"`` (no weights) or unknown.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if sampling == "power":
        return beta * np.log(positive_scores(scores))
    if sampling == "softmax":
        return beta * (scores - scores.max()) if scores.size else scores
    if sampling == "softrank":
        return -beta * np.log(average_ranks(scores))
    raise ConfigError(f"sampling {sampling!r} has no weights; stochastic rules: {SAMPLINGS[1:]}")


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
    sampling: str = "top_k",
    beta: float = 1.0,
) -> np.ndarray:
    """``k`` candidates chosen from their scores by ``sampling`` (see the module docstring).

    Args:
        candidates: Pool indices.
        scores: One finite score per candidate (higher = more wanted).
        k: How many to choose.
        rng: The strategy's generator (the only randomness).
        sampling: One of :data:`SAMPLINGS`; ``"top_k"`` is :func:`top_k`.
        beta: The exponent (``"power"``, ``"softrank"``) or inverse temperature (``"softmax"``).

    Returns:
        ``k`` distinct candidates: highest score first for ``"top_k"``, else in draw order.

    Raises:
        StrategyContractError: A stochastic rule got a score that is not finite.
    """
    if sampling == "top_k":
        return top_k(candidates, scores, k, rng)
    scores = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(scores).all():
        raise StrategyContractError(
            f"{sampling} sampling needs finite scores, got {scores[~np.isfinite(scores)][:3]}"
        )
    return gumbel_top_k(candidates, log_weights(scores, sampling, beta), k, rng)


def set_sampling(strategy: object, sampling: object = "top_k", beta: object = 1.0) -> None:
    """Validate and set ``strategy.sampling`` and ``strategy.sampling_beta``.

    Raises:
        ConfigError: See :func:`check_sampling`.
    """
    strategy.sampling, strategy.sampling_beta = check_sampling(sampling, beta)  # type: ignore[attr-defined]


def with_sampling_options(init: Callable[..., None], fixed: str | None = None) -> Callable[..., None]:
    """``init`` (a strategy's ``__init__``) taking the keyword options ``sampling`` and ``sampling_beta``.

    An ``__init__`` that declares both is returned as it is (it must pass them on to
    ``RankingStrategy.__init__``). Otherwise the wrapper takes the missing ones as keyword-only
    options, calls ``init`` with the rest and then sets them (:func:`set_sampling`); its
    ``__signature__`` shows them, so config validation sees them. With ``fixed`` (a named
    variant such as ``power_bald``) the rule is always ``fixed`` and ``sampling`` is no option.
    """
    signature = inspect.signature(init)
    params = list(signature.parameters.values())
    takes_sampling = "sampling" in signature.parameters
    takes_beta = "sampling_beta" in signature.parameters
    if fixed is None and takes_sampling and takes_beta:
        return init
    if fixed is not None:
        check_sampling(fixed, 1.0)
        params = [p for p in params if p.name != "sampling"]
    extra = []
    if fixed is None and not takes_sampling:
        extra.append(inspect.Parameter("sampling", inspect.Parameter.KEYWORD_ONLY, default="top_k"))
    if not takes_beta:
        extra.append(inspect.Parameter("sampling_beta", inspect.Parameter.KEYWORD_ONLY, default=1.0))
    var_keyword = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
    params = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD] + extra + var_keyword

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        if fixed is not None and "sampling" in kwargs:
            raise ConfigError(
                f"strategy {getattr(self, 'name', '') or type(self).__name__!r} always samples with "
                f"{fixed!r}; use its base strategy to choose query.sampling"
            )
        sampling = fixed if fixed is not None else kwargs.get("sampling", "top_k")
        if fixed is None and not takes_sampling:
            kwargs.pop("sampling", None)
        beta = kwargs.get("sampling_beta", 1.0) if takes_beta else kwargs.pop("sampling_beta", 1.0)
        if fixed is not None and takes_sampling:
            kwargs["sampling"] = fixed
        init(self, *args, **kwargs)
        if takes_sampling and fixed is None:
            sampling = getattr(self, "sampling", sampling)
        if takes_beta:
            beta = getattr(self, "sampling_beta", beta)
        set_sampling(self, sampling, beta)

    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return wrapper
