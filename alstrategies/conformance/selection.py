"""Checks of the selection: k distinct unlabeled indices, capping, determinism, shapes, empty pools."""

from __future__ import annotations

import numpy as np

from alstrategies.conformance.fixtures import POOL, VARIANTS, tiny_context, tiny_pool
from alstrategies.conformance.harness import _preview, run_query, selection_problems
from alstrategies.conformance.subject import Subject
from alstrategies.errors import EmptyPoolError


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
