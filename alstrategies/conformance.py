"""Conformance checks: the query contract (DESIGN section 2) that every strategy must meet.

Each check is a plain function of a :class:`Subject` (a strategy class, its options and the model
heads to run it with) that raises :class:`AssertionError` with a message naming the broken rule,
or :class:`NotApplicable` when the rule does not concern the strategy. :func:`check_strategy`
runs all of :data:`CHECKS` on tiny pools and width-4 networks (seconds on a CPU) and reports one
:class:`CheckResult` per check and model heads. ``alstrategies check NAME`` is its command line;
``tests/test_conformance.py`` runs the same functions under pytest for every registered strategy.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from alstrategies.registry import STRATEGIES
from alstrategies.strategy import (
    EmptyPoolError,
    QueryContext,
    QueryResult,
    QueryStrategy,
    ScoreStrategy,
    top_k,
)

HEADS = ("plain", "sbc")
POOL = 20
LABELED = np.array([1, 4, 7, 11, 12, 18])
SHAPE = (32, 48)  # non-square, divisible by 16 (the U-Net pools four times)
NUM_CLASSES = 4
#: (num_classes, image shape) pairs of :func:`check_classes_and_non_square_images`.
VARIANTS = ((2, (32, 48)), (4, (48, 32)), (2, (64, 16)))
_NAME = re.compile(r"[A-Za-z0-9_-]+")


class NotApplicable(Exception):
    """Raised by a check whose rule does not concern this strategy (reported as skipped)."""


class StrategyLoadError(ValueError):
    """A ``module:Class`` path or a registered entry point that does not load."""


@dataclass
class Subject:
    """The strategy under test: its class, the name it goes by, keyword options and model heads."""

    factory: type[QueryStrategy]
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    heads: str = "plain"
    registered: bool = True  # False for a class given directly (not looked up in STRATEGIES)

    def strategy(self) -> QueryStrategy:
        """A fresh instance with :attr:`options`."""
        return self.factory(**self.options)

    def model(self, num_classes: int = NUM_CLASSES) -> nn.Module:
        """A seeded width-4 U-Net (``heads = "plain"``) or SBCNet (``"sbc"``), in eval mode."""
        return tiny_model(self.heads, num_classes)


@dataclass(frozen=True)
class Check:
    """One rule of the contract: a function of a :class:`Subject` and a one-line description."""

    name: str
    description: str
    function: Callable[[Subject], None]
    per_heads: bool = True  # False: the rule does not involve a model (run once per strategy)

    def __call__(self, subject: Subject) -> None:
        self.function(subject)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check for one strategy and model heads (``None``: heads-independent)."""

    strategy: str
    check: str
    description: str
    heads: str | None
    status: Literal["pass", "fail", "skip"]
    message: str = ""

    @property
    def passed(self) -> bool:
        """True unless the check failed (a skipped check does not fail)."""
        return self.status != "fail"

    def line(self) -> str:
        """One line for a terminal: ``PASS random [plain] description``, then any message."""
        text = f"{self.status.upper():<4} {self.strategy} [{self.heads or 'any'}] {self.description}"
        return f"{text}: {self.message}" if self.message else text


# -- tiny fixtures -------------------------------------------------------------------------------
def tiny_model(heads: str = "plain", num_classes: int = NUM_CLASSES) -> nn.Module:
    """A seeded width-4 network with ``heads`` (``"plain"`` or ``"sbc"``), in eval mode."""
    from alstrategies.models import build_model

    if heads not in HEADS:
        raise ValueError(f"heads must be one of {HEADS}, got {heads!r}")
    return build_model({"width": 4, "heads": heads}, num_classes, seed=0).eval()


def tiny_pool(shape: tuple[int, int] = SHAPE, n: int = POOL) -> torch.Tensor:
    """``n x 1 x H x W`` smooth random images in [0, 1] with a bright blob, all different."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand((n, 1, shape[0] // 4, shape[1] // 4), generator=generator)
    images = nn.functional.interpolate(noise, size=shape, mode="bilinear", align_corners=False)
    y, x = torch.meshgrid(torch.linspace(-1, 1, shape[0]), torch.linspace(-1, 1, shape[1]), indexing="ij")
    centres = torch.rand((n, 2), generator=generator) - 0.5
    blobs = torch.exp(-((y - centres[:, :1, None]) ** 2 + (x - centres[:, 1:, None]) ** 2) / 0.1)
    return (0.5 * images + 0.5 * blobs[:, None]).float()


def tiny_context(
    model: nn.Module,
    labeled: Iterable[int] = LABELED,
    pool: torch.Tensor | None = None,
    num_classes: int = NUM_CLASSES,
    batch_size: int = 8,
) -> QueryContext:
    """A CPU :class:`QueryContext` over ``pool`` (default :func:`tiny_pool`) with ``labeled`` known."""
    pool = tiny_pool() if pool is None else pool
    labeled = np.asarray(list(labeled), dtype=np.int64)
    return QueryContext(
        model=model,
        pool_images=pool,
        labeled=labeled,
        unlabeled=np.setdiff1d(np.arange(pool.shape[0]), labeled),
        num_classes=num_classes,
        batch_size=batch_size,
    )


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
        strategy.select = recording  # type: ignore[method-assign]  # instance attribute, this call only
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


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def _preview(values: Iterable[Any], limit: int = 8) -> str:
    values = list(values)
    return str(values[:limit])[:-1] + ", ...]" if len(values) > limit else str(values)


# -- checks --------------------------------------------------------------------------------------
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
    if isinstance(strategy, ScoreStrategy):
        expected = top_k(candidates, scores, 5)
        assert np.array_equal(result.indices, expected), (
            f"a ScoreStrategy queries its 5 highest scores {expected.tolist()}, "
            f"but returned {result.indices.tolist()}"
        )


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


def check_model_left_unchanged(subject: Subject) -> None:
    """No weight, BatchNorm statistic or module mode changes, from train or eval mode."""
    for training in (False, True):
        model = subject.model().train(training)
        modes = [module.training for module in model.modules()]
        before = _state(model)
        run_query(subject.strategy(), tiny_context(model), k=5)
        mode = "train" if training else "eval"
        flipped = sum(m != module.training for m, module in zip(modes, model.modules(), strict=True))
        assert not flipped, (
            f"the query left {flipped} module(s) of a model in {mode} mode in another mode; "
            "restore every module's mode (ScoreStrategy.score_pool does)"
        )
        after = _state(model)
        changed = [key for key, value in before.items() if not torch.equal(value, after[key])]
        assert not changed, (
            f"the query changed {_preview(changed, 3)} of a model in {mode} mode; run inference in "
            "eval mode under torch.inference_mode() and never step the model's optimiser"
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


def check_registered_name(subject: Subject) -> None:
    """The class is a :class:`QueryStrategy` whose ``name`` is the name it is registered under."""
    factory = subject.factory
    assert isinstance(factory, type) and issubclass(factory, QueryStrategy), (
        f"{factory!r} is not a subclass of alstrategies.strategy.QueryStrategy"
    )
    name = getattr(factory, "name", "")
    assert isinstance(name, str) and _NAME.fullmatch(name), (
        f"{factory.__name__}.name = {name!r}; set a class attribute name made of letters, digits, _ or -"
    )
    if subject.registered:
        assert name == subject.name, (
            f"{factory.__name__}.name = {name!r}, but it is registered as {subject.name!r}; make them equal"
        )
        return
    try:
        other = STRATEGIES.get(name) if name in STRATEGIES.names() else factory
    except Exception:  # another plug-in that fails to load is not this strategy's problem
        return
    assert other is factory, (
        f"the name {name!r} is already registered to {other.__module__}.{other.__qualname__}; pick another"
    )


CHECKS: list[Check] = [
    Check("k_distinct", "returns k distinct unlabeled indices", check_k_distinct_unlabeled),
    Check("k_capped", "k larger than the pool returns the whole pool", check_k_capped_at_pool),
    Check("single_unlabeled", "a single unlabeled image is returned", check_single_unlabeled_image),
    Check("deterministic", "the same seed gives the same selection", check_same_seed_same_selection),
    Check("shapes", "2 and 4 classes, non-square images", check_classes_and_non_square_images),
    Check("scores", "scores are finite and aligned with candidates", check_scores_finite_and_aligned),
    Check("empty_pool", "an empty pool raises EmptyPoolError", check_empty_pool_raises),
    Check("model_unchanged", "the model's weights and modes are unchanged", check_model_left_unchanged),
    Check("batch_size", "scores do not depend on the batch size", check_batch_size_independent),
    Check("registered", "is a QueryStrategy named as registered", check_registered_name, per_heads=False),
]


# -- running -------------------------------------------------------------------------------------
def load_class(path: str) -> type:
    """Import ``module:Class`` (the current directory is importable, as with ``python -m``)."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise StrategyLoadError(f"expected a registered strategy name or module:Class, got {path!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise StrategyLoadError(f"cannot import module {module_name!r} of {path!r}: {error}") from error
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise StrategyLoadError(f"module {module_name!r} has no attribute {attribute!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise StrategyLoadError(f"{path!r} is {obj!r}, not a class")
    return obj


def resolve(name_or_class: str | type) -> Subject:
    """A :class:`Subject` for a registered name, a ``module:Class`` path or a class.

    Raises :class:`~alstrategies.registry.UnknownNameError` (listing the registered names) for
    an unknown name and :class:`StrategyLoadError` for a path or entry point that does not load.
    """
    if isinstance(name_or_class, type):
        return Subject(
            name_or_class, getattr(name_or_class, "name", "") or name_or_class.__name__, registered=False
        )
    if ":" in name_or_class:
        factory = load_class(name_or_class)
        return Subject(factory, getattr(factory, "name", "") or factory.__name__, registered=False)
    try:
        factory = STRATEGIES.get(name_or_class)
    except ImportError as error:
        raise StrategyLoadError(
            f"strategy {name_or_class!r} is registered but does not import: {error}"
        ) from error
    return Subject(factory, name_or_class)


def heads_for(factory: type) -> list[str]:
    """The model heads to check ``factory`` with: its ``required_heads`` only, else both."""
    required = getattr(factory, "required_heads", None)
    return [required] if required else list(HEADS)


def _outcome(check: Check, subject: Subject, heads: str | None) -> CheckResult:
    status: Literal["pass", "fail", "skip"] = "pass"
    message = ""
    try:
        with torch.random.fork_rng(devices=[]):  # the caller's global generator is left as it was
            check(subject)
    except NotApplicable as reason:
        status, message = "skip", str(reason)
    except AssertionError as error:
        status, message = "fail", str(error)
        if not message:
            frame = traceback.extract_tb(error.__traceback__)[-1]
            message = f"assertion failed at {frame.filename}:{frame.lineno}: {frame.line}"
    except Exception as error:
        status, message = "fail", f"{type(error).__name__}: {error}"
    return CheckResult(subject.name, check.name, check.description, heads, status, message)


def check_strategy(
    name_or_class: str | type,
    options: Mapping[str, Any] | None = None,
    heads: str | None = None,
    *,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run every check of :data:`CHECKS` on a strategy; one result per (check, model heads).

    ``name_or_class`` is a registered name, a ``module:Class`` path or a class; ``options`` are
    its keyword options; ``heads`` (``"plain"`` or ``"sbc"``) overrides the heads it is checked
    with (default: its ``required_heads``, else both). ``on_result`` sees each result as it comes.
    A failing check never stops the others.
    """
    subject = resolve(name_or_class)
    subject.options = dict(options or {})
    required = getattr(subject.factory, "required_heads", None)
    if heads is not None and heads not in HEADS:
        raise ValueError(f"heads must be one of {HEADS}, got {heads!r}")
    if heads is not None and required and heads != required:
        raise ValueError(f"strategy {subject.name!r} needs heads {required!r}, not {heads!r}")
    results: list[CheckResult] = []

    def record(result: CheckResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    registration = [check for check in CHECKS if not check.per_heads]
    for check in registration:
        record(_outcome(check, subject, None))
    if not (isinstance(subject.factory, type) and issubclass(subject.factory, QueryStrategy)):
        return results  # nothing else can run on a class that is not a strategy
    for model_heads in [heads] if heads else heads_for(subject.factory):
        subject.heads = model_heads
        for check in CHECKS:
            if check.per_heads:
                record(_outcome(check, subject, model_heads))
    return results
