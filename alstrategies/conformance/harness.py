"""Running one query as the harness does, and what is wrong with the indices it returns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy


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
