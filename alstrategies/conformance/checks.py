"""Every rule of the query contract: the harness that runs one query as the library does, the
checks by concern and :data:`CHECKS`, all of them in the order they run and are reported.

- the harness: :func:`run_query` and :func:`selection_problems`;
- the selection: k distinct unlabeled indices, capping, determinism, shapes, empty pools;
- the scores: finite, aligned, the top k (ties broken at random), batch-size free;
- the side effects: a query leaves the model's weights, BatchNorm statistics and modes alone;
- the class: a :class:`~alstrategies.strategy.QueryStrategy` named as it is registered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from alstrategies.conformance.fixtures import (
    POOL,
    VARIANTS,
    Check,
    NotApplicable,
    Subject,
    tiny_context,
    tiny_pool,
)
from alstrategies.errors import EmptyPoolError
from alstrategies.query import QueryContext
from alstrategies.registry import STRATEGIES
from alstrategies.strategy import (
    FAMILIES,
    QueryResult,
    QueryStrategy,
    RankingStrategy,
    ScoreStrategy,
)

# The harness: one query run as the library runs it, and what is wrong with its indices.


def selection_problems(indices: Any, context: QueryContext, k: int) -> list[str]:
    """What is wrong with ``indices`` returned by ``select(context, k, rng)`` (empty: nothing)."""
    chosen = np.asarray(indices)
    problems = []
    if chosen.ndim != 1:
        problems.append(f"select() returned indices of shape {chosen.shape}; return a 1-D array of k={k}")
    elif chosen.size != k:
        problems.append(f"select() returned {chosen.size} indices for k={k}")
    if chosen.size and chosen.dtype.kind not in "iu":
        problems.append(f"select() returned indices of dtype {chosen.dtype}; return integer pool indices")
        return problems
    chosen = chosen.reshape(-1).astype(np.int64)
    values, counts = np.unique(chosen, return_counts=True)
    if (counts > 1).any():
        problems.append(f"select() returned duplicate indices {values[counts > 1].tolist()}")
    labeled = chosen[np.isin(chosen, context.labeled)]
    if labeled.size:
        problems.append(
            f"select() returned labeled indices {sorted(set(labeled.tolist()))}; "
            "choose only from context.unlabeled"
        )
    outside = chosen[~np.isin(chosen, context.unlabeled) & ~np.isin(chosen, context.labeled)]
    if outside.size:
        problems.append(f"select() returned indices {sorted(set(outside.tolist()))} not in context.unlabeled")
    return problems


def run_query(strategy: QueryStrategy, context: QueryContext, k: int, seed: int = 0) -> QueryResult:
    """``strategy.query`` as the harness calls it: torch's global generator seeded, a seeded rng.

    A contract violation of ``select()`` is re-raised as an :class:`AssertionError` that lists
    the offending indices (see :func:`selection_problems`).
    """
    returned: list[tuple[Any, np.ndarray, int]] = []
    select = strategy.select

    def recording(ctx: QueryContext, capped: int, rng: np.random.Generator) -> QueryResult:
        result = select(ctx, capped, rng)
        returned.append((result, np.array(getattr(result, "indices", None), copy=True), capped))
        return result

    try:
        strategy.select = recording  # type: ignore[method-assign,assignment]  # instance attribute, this call only
        patched = True
    except AttributeError:  # __slots__: run without the detailed messages
        patched = False
    torch.manual_seed(seed)
    try:
        return strategy.query(context, k, np.random.default_rng(seed))
    except Exception as error:
        problems = []
        if returned and not isinstance(returned[-1][0], QueryResult):
            problems = [
                f"select() returned a {type(returned[-1][0]).__name__}, not a QueryResult(indices=...)"
            ]
        elif returned:
            problems = selection_problems(returned[-1][1], context, returned[-1][2])
        if problems:
            name = strategy.name or type(strategy).__name__
            raise AssertionError(
                f"strategy {name!r} broke the query contract: {'; '.join(problems)}"
            ) from error
        raise
    finally:
        if patched:
            del strategy.select


def _preview(values: Iterable[Any], limit: int = 8) -> str:
    values = list(values)
    return str(values[:limit])[:-1] + ", ...]" if len(values) > limit else str(values)


# The selection: k distinct unlabeled indices, capping, determinism, shapes, empty pools.


def check_k_distinct_unlabeled(subject: Subject) -> None:
    """``query(k=5)`` returns 5 distinct integer indices from ``context.unlabeled``."""
    context = tiny_context(subject.model())
    result = run_query(subject.strategy(), context, k=5)
    chosen = np.asarray(result.indices)
    problems = selection_problems(chosen, context, 5)
    assert not problems, "; ".join(problems).replace("select()", "query()")


def check_k_capped_at_pool(subject: Subject) -> None:
    """``k`` larger than the pool gives the whole unlabeled pool."""
    context = tiny_context(subject.model())
    chosen = sorted(run_query(subject.strategy(), context, k=10 * POOL).indices.tolist())
    expected = context.unlabeled.tolist()
    assert chosen == expected, (
        f"query(k={10 * POOL}) on {len(expected)} unlabeled images returned {_preview(chosen)}; "
        f"k is capped at the pool size, so it must return every unlabeled index {_preview(expected)}"
    )


def check_single_unlabeled_image(subject: Subject) -> None:
    """A pool with one unlabeled image (index 13) returns ``[13]`` for ``k=3``."""
    labeled = np.setdiff1d(np.arange(POOL), [13])
    chosen = run_query(subject.strategy(), tiny_context(subject.model(), labeled=labeled), k=3).indices
    assert chosen.tolist() == [13], (
        f"with only image 13 unlabeled, query(k=3) returned {chosen.tolist()} instead of [13]"
    )


def check_same_seed_same_selection(subject: Subject) -> None:
    """Two fresh instances queried with the same seed choose the same indices and scores."""
    model = subject.model()
    first = run_query(subject.strategy(), tiny_context(model), k=6, seed=3)
    second = run_query(subject.strategy(), tiny_context(model), k=6, seed=3)
    hint = "draw randomness only from the rng argument (or torch's global generator, which the harness seeds)"
    assert np.array_equal(first.indices, second.indices), (
        f"the same seed chose {first.indices.tolist()}, then {second.indices.tolist()}: {hint}"
    )
    if first.scores is not None:
        assert second.scores is not None and np.array_equal(first.scores, second.scores, equal_nan=True), (
            f"the same seed gave different scores: {hint}"
        )


def check_classes_and_non_square_images(subject: Subject) -> None:
    """2 and 4 classes and non-square images (32x48, 48x32, 64x16) give 4 unlabeled indices."""
    for num_classes, shape in VARIANTS:
        context = tiny_context(subject.model(num_classes), pool=tiny_pool(shape), num_classes=num_classes)
        where = f"{num_classes} classes, {shape[0]}x{shape[1]} images"
        try:
            result = run_query(subject.strategy(), context, k=4)
        except AssertionError as error:
            raise AssertionError(f"{where}: {error}") from error
        except Exception as error:
            raise AssertionError(f"{where}: {type(error).__name__}: {error}") from error
        problems = selection_problems(result.indices, context, 4)
        assert not problems, f"{where}: {'; '.join(problems)}"


def check_empty_pool_raises(subject: Subject) -> None:
    """A query of a pool with no unlabeled image raises :class:`EmptyPoolError`."""
    context = tiny_context(subject.model(), labeled=np.arange(POOL))
    try:
        result = run_query(subject.strategy(), context, k=1)
    except EmptyPoolError:
        return
    except Exception as error:
        raise AssertionError(
            f"a query of an empty pool raised {type(error).__name__} ({error}) instead of EmptyPoolError"
        ) from error
    raise AssertionError(
        f"a query of an empty pool returned {np.asarray(result.indices).tolist()} instead of raising "
        "EmptyPoolError (QueryStrategy.query raises it; do not bypass it)"
    )


# The scores: finite, aligned, the top k (ties broken at random), batch-size free.


def top_k_problem(indices: np.ndarray, candidates: np.ndarray, scores: np.ndarray, k: int) -> str:
    """Why ``indices`` is not a set of ``k`` highest-scoring candidates ("" when it is one).

    Under exact ties any of the tied candidates may fill the last places: the rule is that no
    candidate left out scores higher than one that was chosen.
    """
    chosen = np.isin(candidates, indices)
    if chosen.sum() != k or np.asarray(indices).size != k:
        return f"returned {np.asarray(indices).tolist()}, not {k} of the scored candidates"
    if not chosen.all() and scores[~chosen].max() > scores[chosen].min():
        lowest = scores[chosen].min()
        skipped = candidates[~chosen][scores[~chosen] > lowest]
        best = candidates[np.argsort(-scores, kind="stable")[:k]]
        return (
            f"a RankingStrategy queries {k} of its highest scores (e.g. {best.tolist()}; exact ties "
            f"in any order), but returned {np.asarray(indices).tolist()} and left out "
            f"{_preview(skipped.tolist())}, which score higher than {lowest:.6g}"
        )
    return ""


def check_scores_finite_and_aligned(subject: Subject) -> None:
    """Scores (when given) are finite, one per candidate, and candidates are the unlabeled pool."""
    context = tiny_context(subject.model())
    strategy = subject.strategy()
    result = run_query(strategy, context, k=5)
    unlabeled = context.unlabeled.tolist()
    if result.scores is None:
        assert result.candidates is None or len(result.candidates) == len(unlabeled), (
            f"QueryResult.candidates has {len(result.candidates)} entries for {len(unlabeled)} "
            "unlabeled images"
        )
        return
    assert result.candidates is not None, "QueryResult.scores is set but QueryResult.candidates is None"
    candidates, scores = np.asarray(result.candidates), np.asarray(result.scores)
    assert sorted(candidates.tolist()) == unlabeled, (
        f"QueryResult.candidates {_preview(sorted(candidates.tolist()))} are not the unlabeled pool "
        f"{_preview(unlabeled)}"
    )
    assert scores.shape == candidates.shape, (
        f"QueryResult.scores has shape {scores.shape}, candidates {candidates.shape}: one score per candidate"
    )
    assert np.isfinite(scores).all(), f"{int((~np.isfinite(scores)).sum())} scores are NaN or infinite"
    for key, values in result.details.items():
        assert len(values) == len(candidates), (
            f"details[{key!r}] has {len(values)} entries for {len(candidates)} candidates"
        )
    if isinstance(strategy, RankingStrategy) and not strategy.sampler.stochastic:
        problem = top_k_problem(result.indices, candidates, scores, 5)
        assert not problem, problem


def check_ties_broken_with_the_generator(subject: Subject) -> None:
    """With all scores equal, the seed decides which images are queried, never the pool order."""
    if not issubclass(subject.factory, RankingStrategy):
        raise NotApplicable(f"{subject.name} does not rank by a score")
    context = tiny_context(subject.model())
    first = context.unlabeled[:5].tolist()
    chosen = []
    for seed in range(4):
        strategy = subject.strategy()

        def tied(ctx: QueryContext, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
            return np.zeros(ctx.unlabeled.size), {}

        try:  # every score tied: only the tie rule can tell the images apart
            strategy.score = tied  # type: ignore[attr-defined]  # a RankingStrategy (checked above)
        except AttributeError as error:  # __slots__
            raise NotApplicable(f"cannot replace {subject.name}'s score() to tie every image") from error
        chosen.append(sorted(run_query(strategy, context, k=5, seed=seed).indices.tolist()))
    assert any(selection != first for selection in chosen), (
        f"with every score tied, the query took the first unlabeled images {first} for seeds 0-3: "
        "ties must not go by pool order (RankingStrategy.select breaks them with the rng)"
    )
    assert any(selection != chosen[0] for selection in chosen[1:]), (
        f"with every score tied, seeds 0-3 all queried {chosen[0]}: break exact ties with the rng "
        "(RankingStrategy.select does, through alstrategies.strategy.top_k)"
    )


def check_batch_size_independent(subject: Subject) -> None:
    """A one-pass :class:`ScoreStrategy` gives the same scores with batches of 1 and 64."""
    if not issubclass(subject.factory, ScoreStrategy):
        raise NotApplicable(f"{subject.name} is not a one-pass ScoreStrategy")
    model = subject.model()
    small = run_query(subject.strategy(), tiny_context(model, batch_size=1), k=5).scores
    large = run_query(subject.strategy(), tiny_context(model, batch_size=64), k=5).scores
    assert small is not None and large is not None, "a ScoreStrategy returned no scores"
    assert np.allclose(small, large, rtol=1e-4, atol=1e-5, equal_nan=True), (
        "scores with batch size 1 differ from batch size 64 (largest difference "
        f"{np.max(np.abs(np.asarray(small) - np.asarray(large))):.3g}); score each image on its own"
    )


# The side effects: a query leaves the weights, BatchNorm statistics and module modes alone.


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def check_model_left_unchanged(subject: Subject) -> None:
    """No weight, BatchNorm statistic or module mode changes, from train or eval mode."""
    for training in (False, True):
        model = subject.model().train(training)
        modes = [module.training for module in model.modules()]
        before = _state(model)
        run_query(subject.strategy(), tiny_context(model), k=5)
        mode = "train" if training else "eval"
        flipped = sum(m != module.training for m, module in zip(modes, model.modules(), strict=True))
        assert not flipped, (
            f"the query left {flipped} module(s) of a model in {mode} mode in another mode; "
            "restore every module's mode (ScoreStrategy.score does)"
        )
        after = _state(model)
        changed = [key for key, value in before.items() if not torch.equal(value, after[key])]
        assert not changed, (
            f"the query changed {_preview(changed, 3)} of a model in {mode} mode; run inference in "
            "eval mode under torch.inference_mode() and never step the model's optimiser"
        )


# The class itself: a QueryStrategy named as it is registered.


_NAME = re.compile(r"[A-Za-z0-9_-]+")


def check_registered_name(subject: Subject) -> None:
    """The class is a :class:`QueryStrategy` named as it is registered, of a known ``family``."""
    factory = subject.factory
    assert isinstance(factory, type) and issubclass(factory, QueryStrategy), (
        f"{factory!r} is not a subclass of alstrategies.strategy.QueryStrategy"
    )
    name = getattr(factory, "name", "")
    assert isinstance(name, str) and _NAME.fullmatch(name), (
        f"{factory.__name__}.name = {name!r}; set a class attribute name made of letters, digits, _ or -"
    )
    family = getattr(factory, "family", None)
    assert family in FAMILIES, (
        f"{factory.__name__}.family = {family!r}; set a class attribute family, one of {FAMILIES}"
    )
    if subject.registered:
        assert name == subject.name, (
            f"{factory.__name__}.name = {name!r}, but it is registered as {subject.name!r}; make them equal"
        )
        return
    try:
        other = STRATEGIES.get(name) if name in STRATEGIES.names() else factory
    except Exception:  # another plug-in that fails to load is not this strategy's problem
        return
    assert other is factory, (
        f"the name {name!r} is already registered to {other.__module__}.{other.__qualname__}; pick another"
    )


def check_base_initialised(subject: Subject) -> None:
    """A ranking strategy with an ``__init__`` of its own calls ``super().__init__(...)``, so
    that the base's options (``reduction``, ``sampling``, ``sampling_beta``) reach it."""
    strategy = subject.strategy()
    if not isinstance(strategy, RankingStrategy):
        raise NotApplicable(f"{subject.name} is not a RankingStrategy: the base takes no options")
    skipped = [
        base.__name__
        for base, attribute in ((RankingStrategy, "sampler"), (ScoreStrategy, "reduction"))
        if isinstance(strategy, base) and attribute not in vars(strategy)
    ]
    assert not skipped, (
        f"{type(strategy).__name__}.__init__ does not call super().__init__(...): {skipped[-1]}'s options "
        "(query.reduction, query.sampling, query.beta) never reach it; take **kwargs and end __init__ with "
        "super().__init__(**kwargs) (docs/adding_a_strategy.md)"
    )


# The catalogue: every rule of the query contract, in the order they run and are reported.


CHECKS: list[Check] = [
    Check("k_distinct", "returns k distinct unlabeled indices", check_k_distinct_unlabeled),
    Check("k_capped", "k larger than the pool returns the whole pool", check_k_capped_at_pool),
    Check("single_unlabeled", "a single unlabeled image is returned", check_single_unlabeled_image),
    Check("deterministic", "the same seed gives the same selection", check_same_seed_same_selection),
    Check("shapes", "2 and 4 classes, non-square images", check_classes_and_non_square_images),
    Check("scores", "scores are finite and aligned; the top k is queried", check_scores_finite_and_aligned),
    Check("ties", "exact ties are broken with the generator", check_ties_broken_with_the_generator),
    Check("empty_pool", "an empty pool raises EmptyPoolError", check_empty_pool_raises),
    Check("model_unchanged", "the model's weights and modes are unchanged", check_model_left_unchanged),
    Check("batch_size", "scores do not depend on the batch size", check_batch_size_independent),
    Check("registered", "is a QueryStrategy named as registered", check_registered_name, per_heads=False),
    Check("base_init", "__init__ calls super().__init__", check_base_initialised, per_heads=False),
]
