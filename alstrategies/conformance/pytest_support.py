"""The conformance checks under pytest, for a plug-in's own test suite (scikit-learn's
``parametrize_with_checks`` is the model)::

    from alstrategies.conformance.pytest_support import parametrize_with_checks

    @parametrize_with_checks(["my_strategy", MyOtherStrategy], options={"my_strategy": {"beta": 2}})
    def test_the_query_contract(subject, check):
        check(subject)

One test per (strategy, model heads, check), named ``<strategy>-<heads>-<check>`` (``-any-`` for
the checks that need no model); a check that does not concern the strategy is skipped with its
reason. pytest is imported only when the decorator is built: it is no run-time dependency.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from alstrategies.conformance.checks import CHECKS
from alstrategies.conformance.fixtures import Check, NotApplicable, Subject
from alstrategies.conformance.runner import heads_for, resolve

__all__ = ["parametrize_with_checks"]


def _skipping(check: Check) -> Check:
    """``check`` with :class:`NotApplicable` turned into a pytest skip that gives its reason."""
    import pytest

    def run(subject: Subject) -> None:
        try:
            check(subject)
        except NotApplicable as reason:
            pytest.skip(f"{check.name}: {reason}")

    return replace(check, function=run)


def parametrize_with_checks(
    strategies: Iterable[str | type], options: Mapping[str, Mapping[str, Any]] | None = None
) -> Callable[[Callable[..., Any]], Any]:
    """A ``pytest.mark.parametrize`` over ``subject`` and ``check`` for every check of
    :data:`CHECKS` on every strategy of ``strategies`` (registered names, ``module:Class`` paths
    or classes) and the model heads it runs with; ``options`` maps a strategy's name to its
    keyword options."""
    import pytest

    params = []
    for item in strategies:
        base = resolve(item)
        base.options = dict((options or {}).get(base.name, {}))
        for check in CHECKS:
            heads = heads_for(base.factory) if check.per_heads else [base.heads]
            for model_heads in heads:
                subject = replace(base, heads=model_heads)
                label = model_heads if check.per_heads else "any"
                params.append(pytest.param(subject, _skipping(check), id=f"{base.name}-{label}-{check.name}"))
    return pytest.mark.parametrize(("subject", "check"), params)
