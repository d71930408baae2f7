"""Checks of the scores: finite, aligned with the candidates, independent of the batch size."""

from __future__ import annotations

import numpy as np

from alstrategies.conformance.fixtures import tiny_context
from alstrategies.conformance.harness import _preview, run_query
from alstrategies.conformance.subject import NotApplicable, Subject
from alstrategies.strategy import RankingStrategy, ScoreStrategy, top_k


def check_scores_finite_and_aligned(subject: Subject) -> None:
    """Scores (when given) are finite, one per candidate, and candidates are the unlabeled pool."""
    context = tiny_context(subject.model())
    strategy = subject.strategy()
    result = run_query(strategy, context, k=5)
    unlabeled = context.unlabeled.tolist()
    if result.scores is None:
        assert result.candidates is None or len(result.candidates) == len(unlabeled), (
            f"QueryResult.candidates has {len(result.candidates)} entries for {len(unlabeled)} unlabeled images"
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
    if isinstance(strategy, RankingStrategy):
        expected = top_k(candidates, scores, 5)
        assert np.array_equal(result.indices, expected), (
            f"a RankingStrategy queries its 5 highest scores {expected.tolist()}, "
            f"but returned {result.indices.tolist()}"
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
