"""Checks of the scores: finite, aligned, the top k (ties broken at random), batch-size free."""

from __future__ import annotations

import numpy as np

from alstrategies.conformance.fixtures import tiny_context
from alstrategies.conformance.harness import _preview, run_query
from alstrategies.conformance.subject import NotApplicable, Subject
from alstrategies.query import QueryContext
from alstrategies.strategy import RankingStrategy, ScoreStrategy


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
