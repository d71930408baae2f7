"""Random sampling: the reference every strategy has to beat."""

from __future__ import annotations

import numpy as np

from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy


class RandomStrategy(QueryStrategy):
    """Uniform sampling without replacement from the unlabeled pool."""

    name = "random"
    family = "random"
    source = "uniform sampling, the reference baseline"
    forward_passes = "0"

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        chosen = rng.choice(context.unlabeled, size=k, replace=False)
        return QueryResult(indices=np.asarray(chosen, dtype=np.int64))
