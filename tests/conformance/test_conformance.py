"""Conformance template: the query contract (DESIGN section 2) that EVERY registered strategy meets.

The checks themselves live in :mod:`alstrategies.conformance` (installed, so a plug-in author
runs the same ones with ``alstrategies check NAME``); this file runs each of its ``CHECKS`` under
pytest, so the template and the packaged checks cannot drift apart. The cases are parametrised
over ``STRATEGIES.names()``, so a strategy registered later (through the
``alstrategies.strategies`` entry-point group, from this or any other installed package) is
checked without editing this file. Every strategy runs on an SBCNet (``model.heads = "sbc"``: it
has all of ModelOutput's fields); those that do not need SBC-AL's heads also run on the plain
U-Net. A strategy that needs non-default options to stay fast on these tiny pools declares them
in ``OPTIONS``; one that needs the SBC heads is listed in ``NEEDS_SBC`` or sets the class
attribute ``required_heads = "sbc"`` (which the experiment loop also reads).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from alstrategies import errors
from alstrategies.conformance import (
    CHECKS,
    Check,
    CheckResult,
    NotApplicable,
    StrategyLoadError,
    Subject,
    check_strategy,
    heads_for,
    load_class,
)
from alstrategies.registry import STRATEGIES
from alstrategies.strategy import QueryContext, QueryResult, QueryStrategy, RankingStrategy, ScoreStrategy
from alstrategies.types import ModelOutput

#: Keyword options per strategy for these tests (defaults when absent).
OPTIONS: dict[str, dict] = {}
#: Strategies that only work with ``model.heads = "sbc"``.
NEEDS_SBC = {"sbc_al"}


def _load(name: str) -> type[QueryStrategy]:
    try:
        return STRATEGIES.get(name)
    except ImportError as error:
        pytest.skip(f"strategy {name!r} is registered but its module does not import yet: {error}")


def _heads_for(name: str) -> list[str]:
    """The model heads to run ``name`` with: its ``required_heads`` only, else both."""
    if name in NEEDS_SBC:
        return ["sbc"]
    with contextlib.suppress(ImportError):  # an import failure is reported by _load as a skip
        return heads_for(STRATEGIES.get(name))
    return ["plain", "sbc"]


def _run(check: Check, subject: Subject) -> None:
    try:
        check(subject)
    except NotApplicable as reason:
        pytest.skip(f"{check.name}: {reason}")


MODEL_CHECKS = [check for check in CHECKS if check.per_heads]
NAME_CHECKS = [check for check in CHECKS if not check.per_heads]
CASES = [
    pytest.param(name, heads, check, id=f"{name}-{heads}-{check.name}")
    for name in STRATEGIES.names()
    for heads in _heads_for(name)
    for check in MODEL_CHECKS
]


@pytest.mark.parametrize(("name", "heads", "check"), CASES)
def test_strategy_meets_the_query_contract(name, heads, check):
    _run(check, Subject(_load(name), name, OPTIONS.get(name, {}), heads))


@pytest.mark.parametrize("check", NAME_CHECKS, ids=lambda check: check.name)
@pytest.mark.parametrize("name", STRATEGIES.names())
def test_registered_strategy_is_a_query_strategy_named_as_registered(name, check):
    _run(check, Subject(_load(name), name, OPTIONS.get(name, {})))


def test_the_checks_cover_the_contract():
    """Removing a rule from the packaged checks is a deliberate change, not a silent one."""
    assert [check.name for check in CHECKS] == [
        "k_distinct",
        "k_capped",
        "single_unlabeled",
        "deterministic",
        "shapes",
        "scores",
        "ties",
        "empty_pool",
        "model_unchanged",
        "batch_size",
        "registered",
        "base_init",
    ]
    assert all(check.description and check.function.__doc__ for check in CHECKS)


# -- check_strategy on custom strategies --------------------------------------------------------
class TinyConfidence(ScoreStrategy):
    """A correct custom strategy: 1 - max softmax probability, mean over pixels."""

    name = "conformance_tiny_confidence"

    def compute_score(self, output: ModelOutput) -> torch.Tensor:
        return 1 - output.logits.softmax(dim=1).amax(dim=1)


class _Broken(QueryStrategy):
    name = "conformance_broken"


class ReturnsLabeled(_Broken):
    """Chooses from the labeled images."""

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        return QueryResult(indices=np.concatenate([context.labeled, context.unlabeled])[:k])


class ReturnsDuplicates(_Broken):
    """Chooses the first unlabeled image k times."""

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        return QueryResult(indices=np.repeat(context.unlabeled[:1], k))


class IgnoresK(_Broken):
    """Always chooses three images."""

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        return QueryResult(indices=context.unlabeled[:3])


class UnseededRandom(_Broken):
    """Draws from a fresh, unseeded generator instead of ``rng``."""

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        return QueryResult(indices=np.random.default_rng().choice(context.unlabeled, k, replace=False))


class TrainsTheModel(_Broken):
    """Runs the pool through the model in train mode (updates BatchNorm statistics)."""

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        context.model.train()
        with torch.no_grad():
            for _, images in context.batches():
                context.model(images)
        return QueryResult(indices=context.unlabeled[:k])


class NaNScores(ScoreStrategy):
    """Scores every image NaN."""

    name = "conformance_broken"

    def compute_score(self, output: ModelOutput) -> torch.Tensor:
        return torch.full(output.logits.shape[:1], float("nan"))


class RanksBackwards(RankingStrategy):
    """Scores the images by index but queries the lowest scores (overrides the base's top k)."""

    name = "conformance_broken"

    def score(self, context: QueryContext, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        return context.unlabeled.astype(np.float64), {}

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        result = super().select(context, k, rng)
        result.indices = context.unlabeled[:k]
        return result


class TiesByPoolOrder(RankingStrategy):
    """Ranks by a score, but with a stable sort: ties go to the earlier candidate (the old rule)."""

    name = "conformance_broken"

    def score(self, context: QueryContext, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        return np.zeros(context.unlabeled.size), {}

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        scores, _ = self.score(context, rng)
        order = np.argsort(-scores, kind="stable")
        return QueryResult(indices=context.unlabeled[order[:k]], candidates=context.unlabeled, scores=scores)


class TiesToTheLast(TiesByPoolOrder):
    """Breaks ties by pool order too, but from the end."""

    def select(self, context: QueryContext, k: int, rng: np.random.Generator) -> QueryResult:
        result = super().select(context, k, rng)
        result.indices = context.unlabeled[::-1][:k]
        return result


class BadFamily(TinyConfidence):
    """A correct strategy with an unknown family."""

    name = "conformance_bad_family"
    family = "clever"


@pytest.fixture
def registered():
    """Register strategies for one test, then remove them again."""
    names = []

    def register(factory: type[QueryStrategy]) -> str:
        STRATEGIES.register(factory.name, factory, replace=True)
        names.append(factory.name)
        return factory.name

    yield register
    for name in names:
        STRATEGIES.unregister(name)


def _by_check(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {result.check: result for result in results}


def test_check_strategy_passes_a_correct_custom_strategy(registered):
    name = registered(TinyConfidence)
    results = check_strategy(name, heads="plain")
    assert [r.check for r in results] == [*(c.name for c in NAME_CHECKS), *(c.name for c in MODEL_CHECKS)]
    assert all(r.status == "pass" for r in results), [r.line() for r in results if not r.passed]
    assert {r.heads for r in results} == {None, "plain"} and {r.strategy for r in results} == {name}
    assert len(check_strategy(TinyConfidence)) == len(CHECKS) * 2 - len(NAME_CHECKS)  # both heads, class once


@pytest.mark.parametrize(
    ("factory", "failing", "message"),
    [
        (ReturnsLabeled, "k_distinct", "select() returned labeled indices [1, 4, 7"),
        (ReturnsDuplicates, "k_distinct", "select() returned duplicate indices [0]"),
        (IgnoresK, "k_distinct", "select() returned 3 indices for k=5"),
        (IgnoresK, "k_capped", "select() returned 3 indices for k=14"),
        (UnseededRandom, "deterministic", "draw randomness only from the rng argument"),
        (TrainsTheModel, "model_unchanged", "module(s) of a model in eval mode in another mode"),
        (NaNScores, "scores", "14 scores are NaN or infinite"),
        (
            RanksBackwards,
            "scores",
            "a RankingStrategy queries 5 of its highest scores (e.g. [19, 17, 16, 15, 14]",
        ),
        (TiesByPoolOrder, "ties", "the query took the first unlabeled images [0, 2, 3, 5, 6]"),
        (TiesToTheLast, "ties", "seeds 0-3 all queried [14, 15, 16, 17, 19]"),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_check_strategy_reports_a_broken_strategy(registered, factory, failing, message):
    results = _by_check(check_strategy(registered(factory), heads="plain"))
    assert results[failing].status == "fail"
    assert message in results[failing].message, results[failing].message
    assert (
        results[failing]
        .line()
        .startswith(f"FAIL conformance_broken [plain] {results[failing].description}: ")
    )
    assert results["registered"].passed and results["empty_pool"].passed  # the others still run


def test_check_strategy_reports_a_misnamed_or_foreign_class():
    class Misnamed(TinyConfidence):
        name = "random"

    results = _by_check(check_strategy(Misnamed, heads="plain"))
    assert "'random' is already registered to alstrategies.baselines.random_sampling.RandomStrategy" in (
        results["registered"].message
    )
    only = check_strategy(dict)
    assert [(r.check, r.status) for r in only] == [("registered", "fail"), ("base_init", "skip")]
    assert "not a subclass of alstrategies.strategy.QueryStrategy" in only[0].message


def test_error_classes_of_the_conformance_module():
    assert StrategyLoadError is errors.StrategyLoadError
    with pytest.raises(errors.StrategyLoadError, match="no attribute 'NoSuchClass'") as caught:
        load_class("alstrategies.baselines.random_sampling:NoSuchClass")
    assert isinstance(caught.value, ValueError)
    # NotApplicable only tells the runner to skip a check: not a user-facing error
    assert issubclass(NotApplicable, Exception) and not issubclass(NotApplicable, errors.AlstrategiesError)


def test_the_scores_check_accepts_any_top_k_set_under_ties():
    from alstrategies.conformance import top_k_problem

    candidates = np.array([10, 11, 12, 13, 14])
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.1])
    for chosen in ([11, 10], [12, 11], [11, 13]):  # 11, then any of the three tied 0.5s
        assert top_k_problem(np.array(chosen), candidates, scores, 2) == ""
    assert "left out [11]" in top_k_problem(np.array([10, 12]), candidates, scores, 2)
    assert "left out [10, 12, 13]" in top_k_problem(np.array([11, 14]), candidates, scores, 2)
    assert "not 2 of the scored candidates" in top_k_problem(np.array([11, 99]), candidates, scores, 2)


def test_the_registered_check_requires_a_known_family(registered):
    results = _by_check(check_strategy(registered(BadFamily), heads="plain"))
    assert results["registered"].status == "fail"
    assert "BadFamily.family = 'clever'" in results["registered"].message


class OwnInitNoSuper(TinyConfidence):
    """Options of its own, and an ``__init__`` that forgets ``super().__init__()``."""

    name = "conformance_own_init"

    def __init__(self, floor: float = 0.0) -> None:
        self.floor = floor


def test_an_init_that_skips_super_fails_one_check_with_the_fix(registered):
    """It used to fail 16 checks with ``AttributeError: ... no attribute 'reduction'``: now the
    base's defaults stand, every query check passes, and ``base_init`` says what to do."""
    results = check_strategy(registered(OwnInitNoSuper), heads="plain")
    failed = [r for r in results if r.status == "fail"]
    assert [r.check for r in failed] == ["base_init"], [r.line() for r in failed]
    assert "OwnInitNoSuper.__init__ does not call super().__init__(...)" in failed[0].message
    assert "super().__init__(**kwargs)" in failed[0].message and "\n" not in failed[0].message
    assert OwnInitNoSuper().reduction == "mean" and OwnInitNoSuper().sampling == "top_k"


class ByIndex(RankingStrategy):
    """Scores the images by index; no ``__init__``: it takes RankingStrategy's sampling options."""

    name = "conformance_by_index"

    def score(self, context: QueryContext, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        return context.unlabeled.astype(np.float64), {}


def test_the_scores_check_does_not_ask_a_drawing_strategy_for_the_top_k(registered):
    """With a stochastic :class:`~alstrategies.sampling.Sampler` (uniform here: beta = 0) the
    selection is a draw, not a top-k set; with the default sampler it is the top k."""
    name = registered(ByIndex)
    drawing = {"sampling": "softmax", "sampling_beta": 0.0}
    assert ByIndex(**drawing).sampler.stochastic and not ByIndex().sampler.stochastic
    for options in (drawing, {}):
        results = check_strategy(name, options=options, heads="plain")
        assert all(r.passed for r in results), [r.line() for r in results if not r.passed]
