"""``parametrize_with_checks``: the conformance checks as a plug-in author's pytest tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alstrategies import QueryContext, QueryResult, QueryStrategy, ScoreStrategy
from alstrategies.conformance import CHECKS
from alstrategies.conformance.pytest_support import parametrize_with_checks
from alstrategies.types import ModelOutput


class PluginConfidence(ScoreStrategy):
    """A correct plug-in: 1 - max softmax probability, mean over pixels."""

    name = "pytest_support_confidence"

    def compute_score(self, output: ModelOutput) -> torch.Tensor:
        return 1 - output.logits.softmax(dim=1).amax(dim=1)


class PluginDuplicates(QueryStrategy):
    """A broken plug-in: the first unlabeled image k times."""

    name = "pytest_support_duplicates"

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        return QueryResult(indices=np.repeat(context.unlabeled[:1], k))


@parametrize_with_checks([PluginConfidence, "random"])
def test_the_decorator_runs_every_check_on_a_correct_plug_in_and_a_built_in(subject, check):
    check(subject)


def _params(decorator):
    (names, params), _ = decorator.args, decorator.kwargs
    assert names == ("subject", "check")
    return params


def test_one_case_per_strategy_heads_and_check_with_readable_ids():
    params = _params(parametrize_with_checks([PluginConfidence]))
    per_heads = sum(check.per_heads for check in CHECKS)
    assert len(params) == 2 * per_heads + (len(CHECKS) - per_heads)  # plain and sbc heads
    ids = {p.id for p in params}
    name = PluginConfidence.name
    assert {f"{name}-plain-k_distinct", f"{name}-sbc-k_distinct", f"{name}-any-registered"} <= ids
    assert all(i.startswith(f"{PluginConfidence.name}-") for i in ids)


def test_a_broken_plug_in_fails_the_rule_it_breaks():
    failed = []
    for param in _params(parametrize_with_checks([PluginDuplicates])):
        subject, check = param.values
        try:
            check(subject)
        except AssertionError:
            failed.append(check.name)
        except pytest.skip.Exception:
            pass
    assert "k_distinct" in failed and "registered" not in failed  # its name is fine


def test_options_reach_the_strategy():
    params = _params(parametrize_with_checks(["random"], options={"random": {"unused": 1}}))
    assert all(p.values[0].options == {"unused": 1} for p in params)
