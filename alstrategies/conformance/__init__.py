"""Conformance checks: the query contract (DESIGN section 2) that every strategy must meet.

Each check is a plain function of a :class:`Subject` (a strategy class, its options and the model
heads to run it with) that raises :class:`AssertionError` with a message naming the broken rule,
or :class:`NotApplicable` when the rule does not concern the strategy. :func:`check_strategy`
runs all of :data:`CHECKS` on tiny pools and width-4 networks (seconds on a CPU) and reports one
:class:`CheckResult` per check and model heads. ``alstrategies check NAME`` is its command line;
``tests/conformance/test_conformance.py`` runs the same functions under pytest for every registered strategy.

The modules of the package, one concept each (everything is re-exported here):

- :mod:`~alstrategies.conformance.fixtures`: the tiny model, pool, labels and context
  (:func:`tiny_model`, :func:`tiny_pool`, :func:`tiny_labels`, :func:`tiny_context`,
  :data:`HEADS`, :data:`POOL`, ...) and the vocabulary of a check: :class:`Subject`,
  :class:`Check`, :class:`CheckResult` and :class:`NotApplicable`;
- :mod:`~alstrategies.conformance.checks`: the harness (:func:`run_query`,
  :func:`selection_problems`), every check, by concern (the indices; the scores, the top k and
  its ties; the model left unchanged; the class), and :data:`CHECKS`, all of them in order;
- :mod:`~alstrategies.conformance.runner`: :func:`load_class` and :func:`resolve` (the strategy
  to check), :func:`heads_for` and :func:`check_strategy` (running the checks) and the
  ``alstrategies check`` command line;
- :mod:`~alstrategies.conformance.pytest_support`: ``parametrize_with_checks``, the same checks
  as a plug-in's own pytest tests (imported on its own: it is not re-exported here).
"""

from __future__ import annotations

from alstrategies.conformance.checks import _NAME as _NAME
from alstrategies.conformance.checks import (
    CHECKS,
    check_base_initialised,
    check_batch_size_independent,
    check_classes_and_non_square_images,
    check_empty_pool_raises,
    check_k_capped_at_pool,
    check_k_distinct_unlabeled,
    check_model_left_unchanged,
    check_registered_name,
    check_same_seed_same_selection,
    check_scores_finite_and_aligned,
    check_single_unlabeled_image,
    check_ties_broken_with_the_generator,
    run_query,
    selection_problems,
    top_k_problem,
)
from alstrategies.conformance.checks import _preview as _preview
from alstrategies.conformance.checks import _state as _state
from alstrategies.conformance.fixtures import (
    HEADS,
    LABELED,
    NUM_CLASSES,
    POOL,
    SHAPE,
    VARIANTS,
    Check,
    CheckResult,
    NotApplicable,
    Subject,
    tiny_context,
    tiny_labels,
    tiny_model,
    tiny_pool,
)
from alstrategies.conformance.runner import _outcome as _outcome
from alstrategies.conformance.runner import check_strategy, heads_for, load_class, resolve
from alstrategies.errors import EmptyPoolError, StrategyLoadError

__all__ = [
    "CHECKS",
    "HEADS",
    "LABELED",
    "NUM_CLASSES",
    "POOL",
    "SHAPE",
    "VARIANTS",
    "Check",
    "CheckResult",
    "EmptyPoolError",
    "NotApplicable",
    "StrategyLoadError",
    "Subject",
    "check_base_initialised",
    "check_batch_size_independent",
    "check_classes_and_non_square_images",
    "check_empty_pool_raises",
    "check_k_capped_at_pool",
    "check_k_distinct_unlabeled",
    "check_model_left_unchanged",
    "check_registered_name",
    "check_same_seed_same_selection",
    "check_scores_finite_and_aligned",
    "check_single_unlabeled_image",
    "check_strategy",
    "check_ties_broken_with_the_generator",
    "heads_for",
    "load_class",
    "resolve",
    "run_query",
    "selection_problems",
    "tiny_context",
    "tiny_labels",
    "tiny_model",
    "tiny_pool",
    "top_k_problem",
]
