"""The ``empty_first`` control (DESIGN section 5): a negative control valid by construction.

It queries the unlabeled slices whose **true** label holds no foreground first, uniformly at
random among them (``rng.choice`` without replacement), and only once they run out the rest
uniformly: ``min(k, E)`` draws from the ``E`` empty slices, then ``k - min(k, E)`` from the
others. A slice without foreground teaches a segmentation network little that the labeled
set's background pixels do not already show, so wherever a real share of the pool is empty it
must lose to Random; a run where it does not has too little signal to rank strategies. It
reads ``QueryContext.pool_labels`` (like ``random_foreground_oracle``, with the same
``ConfigError`` without them), runs no model and uses only the strategy's generator.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from alstrategies.baselines.random_foreground import draw_with_foreground_share, true_foreground
from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy


class EmptyFirstStrategy(QueryStrategy):
    """Negative control: true-empty slices first (uniformly), then the rest uniformly."""

    name = "empty_first"
    family = "control"
    source: ClassVar[str] = (
        "negative control: slices whose true label is empty first, then uniform (DESIGN section 5)"
    )
    forward_passes: ClassVar[str] = "0"

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        empty = ~true_foreground(context, self.name)
        return QueryResult(indices=draw_with_foreground_share(context.unlabeled, empty, k, 1.0, rng))
