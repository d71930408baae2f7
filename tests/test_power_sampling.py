"""Stochastic batch acquisition (power, softmax, softrank) against slow sequential samplers."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import math
import typing
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from alstrategies.config import _kwargs_of, load_config, strategy_options
from alstrategies.errors import ConfigError, StrategyContractError
from alstrategies.registry import STRATEGIES
from alstrategies.sampling import (
    DEFAULT_BETA,
    DEFAULT_SAMPLING,
    POWER_EPSILON,
    SAMPLINGS,
    Sampler,
    positive_scores,
    sample_k,
)
from alstrategies.strategy import QueryContext, RankingStrategy, ScoreStrategy, top_k

N, K, DRAWS = 6, 3, 20000


class _Fixed(RankingStrategy):
    """Scores given in advance (one per unlabeled image, in order)."""

    name = "fixed"

    def __init__(self, scores, **options) -> None:
        super().__init__(**options)
        self.scores = np.asarray(scores, dtype=np.float64)

    def score(self, context, rng):
        return self.scores.copy(), {}


class _NoOptions(RankingStrategy):
    """A third-party ranking strategy whose __init__ knows nothing about sampling."""

    name = "no_options"

    def __init__(self, scores=(3.0, 1.0, 2.0, 0.5)) -> None:
        self.scores = np.asarray(scores)

    def score(self, context, rng):
        return self.scores.copy(), {}


def _context(n: int = N) -> QueryContext:
    return QueryContext(
        model=nn.Identity(),
        pool_images=torch.zeros((n + 2, 1, 2, 2)),
        labeled=np.array([0, 1]),
        unlabeled=np.arange(2, n + 2),
        num_classes=2,
    )


# -- slow, obviously correct references ----------------------------------------------------------


def _slow_weights(scores: np.ndarray, sampling: str, beta: float) -> np.ndarray:
    """The weight of every item, written out item by item."""
    scores = [float(s) for s in scores]
    weights = []
    for s in scores:
        if sampling == "power":
            weights.append(s**beta)
        elif sampling == "softmax":
            weights.append(math.exp(beta * s))
        else:  # softrank: rank 1 = highest; ties share the average of the ranks they span
            higher = sum(other > s for other in scores)
            equal = sum(other == s for other in scores)
            weights.append((higher + 1 + (equal - 1) / 2) ** -beta)
    return np.array(weights)


def _slow_sequential_sample(weights: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """One item at a time, with probability proportional to the weights of those left."""
    left = list(range(len(weights)))
    chosen = []
    for _ in range(k):
        w = np.array([weights[i] for i in left])
        pick = rng.choice(len(left), p=w / w.sum())
        chosen.append(left.pop(pick))
    return chosen


def _exact_law(weights: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Inclusion and first-draw probabilities of the sequential sampler, by enumerating every ordered draw."""
    inclusion = np.zeros(len(weights))
    for draw in itertools.permutations(range(len(weights)), k):
        probability, left = 1.0, float(sum(weights))
        for item in draw:
            probability *= weights[item] / left
            left -= weights[item]
        inclusion[list(draw)] += probability
    return inclusion, np.asarray(weights) / sum(weights)


def _frequencies(draws: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    inclusion, first = np.zeros(n), np.zeros(n)
    for draw in draws:
        inclusion[draw] += 1
        first[draw[0]] += 1
    return inclusion / len(draws), first / len(draws)


def _assert_within_standard_errors(frequencies, probabilities, draws: int, sigmas: float = 4.5) -> None:
    se = np.sqrt(np.maximum(probabilities * (1 - probabilities), 1e-12) / draws)
    assert (np.abs(frequencies - probabilities) <= sigmas * se + 1e-12).all(), (frequencies, probabilities)


def _strategy_draws(strategy: RankingStrategy, draws: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    context = _context(len(strategy.scores))
    return [strategy.query(context, K, rng).indices - 2 for _ in range(draws)]


# -- the law of the draw -------------------------------------------------------------------------

CASES = [
    ("power", np.array([0.9, 0.5, 0.5, 0.2, 0.05, 1.3]), 1.0),
    ("power", np.array([0.9, 0.5, 0.5, 0.2, 0.05, 1.3]), 2.5),
    ("softmax", np.array([0.9, -0.5, 0.5, 0.2, 2.0, 1.3]), 1.5),
    ("softrank", np.array([0.9, 0.5, 0.5, 0.2, 0.05, 1.3]), 1.0),
    ("softrank", np.array([7.0, 7.0, 3.0, -1.0, 2.0, 7.0]), 2.0),
]


@pytest.mark.parametrize(("sampling", "scores", "beta"), CASES)
def test_inclusion_frequencies_match_the_slow_sequential_sampler(sampling, scores, beta):
    weights = _slow_weights(scores, sampling, beta)
    inclusion, first = _exact_law(weights, K)
    ours = _frequencies(_strategy_draws(_Fixed(scores, sampling=sampling, sampling_beta=beta), DRAWS), N)
    rng = np.random.default_rng(1)
    slow = _frequencies([np.array(_slow_sequential_sample(weights, K, rng)) for _ in range(DRAWS)], N)
    for freq in (ours, slow):  # ours and the slow sampler both follow the enumerated law
        _assert_within_standard_errors(freq[0], inclusion, DRAWS)
        _assert_within_standard_errors(freq[1], first, DRAWS)
    assert inclusion.sum() == pytest.approx(K)


def test_power_with_zero_and_negative_scores_uses_the_documented_shift():
    scores = np.array([-2.0, 0.0, 1.0, -0.5, 3.0, 0.0])  # e.g. confident's minus entropy, a VAAL score
    low, high = scores.min(), scores.max()
    shifted = [s - low + POWER_EPSILON * (high - low) for s in scores]  # lowest -> 0.001 x range
    np.testing.assert_allclose(positive_scores(scores), shifted)
    assert np.argsort(positive_scores(scores)).tolist() == np.argsort(scores, kind="stable").tolist()
    inclusion, first = _exact_law(np.array(shifted), K)
    ours = _frequencies(_strategy_draws(_Fixed(scores, sampling="power"), DRAWS, seed=3), N)
    _assert_within_standard_errors(ours[0], inclusion, DRAWS)
    _assert_within_standard_errors(ours[1], first, DRAWS)


def test_positive_scores_are_kept_and_equal_scores_become_uniform():
    scores = np.array([0.3, 2.0, 1e-9])
    np.testing.assert_array_equal(positive_scores(scores), scores)  # exact power sampling
    np.testing.assert_array_equal(positive_scores(np.zeros(4)), np.ones(4))
    np.testing.assert_array_equal(positive_scores(np.full(3, -2.0)), np.ones(3))
    # power sampling is scale-invariant: the same draws for scores x 10 and the same generator
    a = sample_k(np.arange(3), scores, 2, np.random.default_rng(4), "power")
    b = sample_k(np.arange(3), 10 * scores, 2, np.random.default_rng(4), "power")
    np.testing.assert_array_equal(a, b)


def test_beta_zero_is_uniform_and_a_large_beta_is_the_top_k():
    scores = np.array([0.9, 0.5, 0.4, 0.2, 0.05, 1.3])
    for sampling in SAMPLINGS[1:]:
        freq, _ = _frequencies(_strategy_draws(_Fixed(scores, sampling=sampling, sampling_beta=0.0), 6000), N)
        _assert_within_standard_errors(freq, np.full(N, K / N), 6000)
        big = _Fixed(scores, sampling=sampling, sampling_beta=1e4)
        for draw in _strategy_draws(big, 50):
            assert draw.tolist() == [5, 0, 1]  # the top 3, in order


# -- top_k stays the default, and everything is deterministic ------------------------------------


def test_top_k_is_the_default_and_unchanged():
    scores = np.array([0.9, 0.5, 0.5, 0.2, 0.05, 1.3])
    strategy = _Fixed(scores)
    assert (strategy.sampling, strategy.sampling_beta) == ("top_k", 1.0)
    context = _context()
    for seed in range(20):
        result = strategy.query(context, K, np.random.default_rng(seed))
        np.testing.assert_array_equal(
            result.indices, top_k(context.unlabeled, scores, K, np.random.default_rng(seed))
        )
        assert result.indices[0] == 7 and result.indices[1] == 2  # 1.3, then 0.9; the tie by the seed
    np.testing.assert_array_equal(
        sample_k(context.unlabeled, scores, 2, np.random.default_rng(1)),
        top_k(context.unlabeled, scores, 2, np.random.default_rng(1)),
    )


@pytest.mark.parametrize("sampling", SAMPLINGS[1:])
def test_sampling_is_deterministic_given_the_generator(sampling):
    scores = np.random.default_rng(0).random(40)
    strategy = _Fixed(scores, sampling=sampling, sampling_beta=3.0)
    context = _context(40)
    first = strategy.query(context, 10, np.random.default_rng(9))
    again = strategy.query(context, 10, np.random.default_rng(9))
    np.testing.assert_array_equal(first.indices, again.indices)
    np.testing.assert_array_equal(first.scores, scores)  # the saved scores are the strategy's own
    others = [strategy.query(context, 10, np.random.default_rng(s)).indices for s in range(10, 14)]
    assert any(not np.array_equal(first.indices, other) for other in others)
    assert len(set(first.indices.tolist())) == 10 and np.isin(first.indices, context.unlabeled).all()


def test_every_sampling_caps_k_and_handles_one_image():
    for sampling in SAMPLINGS:
        strategy = _Fixed([0.5, -1.0, 2.0], sampling=sampling)
        result = strategy.query(_context(3), 10, np.random.default_rng(0))
        assert sorted(result.indices.tolist()) == [2, 3, 4]
        one = _Fixed([0.0], sampling=sampling).query(_context(1), 1, np.random.default_rng(0))
        assert one.indices.tolist() == [2]


def test_non_finite_scores_are_refused_by_the_stochastic_rules():
    with pytest.raises(StrategyContractError, match="finite"):
        _Fixed([1.0, np.nan, 2.0], sampling="softmax").query(_context(3), 1, np.random.default_rng(0))


# -- options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"sampling": "gumbel"}, "unknown query sampling"),
        ({"sampling": "power", "sampling_beta": -1.0}, ">= 0"),
        ({"sampling": "power", "sampling_beta": float("nan")}, ">= 0"),
        ({"sampling": "power", "sampling_beta": True}, ">= 0"),
        ({"sampling": "power", "sampling_beta": "2"}, ">= 0"),
    ],
)
def test_bad_sampling_options_raise_config_errors(options, match):
    with pytest.raises(ConfigError, match=match):
        _Fixed([1.0], **options)
    with pytest.raises(ConfigError, match=match):
        STRATEGIES.get("max_entropy")(**options)


def test_every_registered_ranking_strategy_takes_the_sampling_options():
    for name in STRATEGIES.names():
        factory = STRATEGIES.get(name)
        if not (isinstance(factory, type) and issubclass(factory, RankingStrategy)):
            continue
        options = _kwargs_of(factory)
        assert options["sampling_beta"] == 1.0, name
        if factory.fixed_sampling is None:
            assert options["sampling"] == "top_k", name
            strategy = factory(sampling="softrank", sampling_beta=2)
            assert (strategy.sampling, strategy.sampling_beta) == ("softrank", 2.0), name
        else:
            assert "sampling" not in options, name
            assert factory(sampling_beta=2).sampling == factory.fixed_sampling, name


def test_a_plug_in_init_without_the_options_keeps_its_signature_and_the_top_k():
    """No hidden wrapping: an ``__init__`` that leaves the options out is the one written, and
    its strategy ranks by the top k (the class's default :class:`Sampler`)."""
    assert _NoOptions.__init__ is vars(_NoOptions)["__init__"] and not hasattr(
        _NoOptions.__init__, "__wrapped__"
    )
    assert list(inspect.signature(_NoOptions).parameters) == ["scores"]
    assert _kwargs_of(_NoOptions) == {"scores": (3.0, 1.0, 2.0, 0.5)}
    plain = _NoOptions()
    assert plain.sampler == Sampler() == Sampler(DEFAULT_SAMPLING, DEFAULT_BETA)
    assert (plain.sampling, plain.sampling_beta) == ("top_k", 1.0) and not plain.sampler.stochastic
    context = _context(4)
    for seed in range(5):
        np.testing.assert_array_equal(
            plain.query(context, 2, np.random.default_rng(seed)).indices,
            top_k(context.unlabeled, plain.scores, 2, np.random.default_rng(seed)),
        )
    with pytest.raises(TypeError, match="sampling"):
        _NoOptions((1.0, 2.0), sampling="power")  # the options it does not declare


def test_a_plug_in_init_that_passes_the_options_draws_as_sample_k():
    class Passes(_NoOptions):
        def __init__(self, scores=(3.0, 1.0, 2.0, 0.5), *, sampling="top_k", sampling_beta=1.0) -> None:
            RankingStrategy.__init__(self, sampling=sampling, sampling_beta=sampling_beta)
            self.scores = np.asarray(scores)

    assert _kwargs_of(Passes) == {"scores": (3.0, 1.0, 2.0, 0.5), "sampling": "top_k", "sampling_beta": 1.0}
    strategy = Passes(sampling="power", sampling_beta=0.5)
    assert strategy.sampler == Sampler("power", 0.5) and strategy.sampler.stochastic
    context = _context(4)
    for seed in range(5):
        expected = sample_k(context.unlabeled, strategy.scores, 2, np.random.default_rng(seed), "power", 0.5)
        np.testing.assert_array_equal(
            strategy.query(context, 2, np.random.default_rng(seed)).indices, expected
        )


def test_a_fixed_rule_is_passed_by_the_variant_and_refused_otherwise():
    class Power(_Fixed):
        fixed_sampling = "power"

        def __init__(self, scores, *, sampling_beta=1.0) -> None:
            super().__init__(scores, sampling="power", sampling_beta=sampling_beta)

    assert "sampling" not in _kwargs_of(Power) and Power([1.0], sampling_beta=3).sampler == Sampler(
        "power", 3.0
    )
    with pytest.raises(TypeError, match="sampling"):
        Power([1.0], sampling="top_k")

    class Forgets(_Fixed):  # a fixed rule, but an __init__ that passes the default rule on
        fixed_sampling = "power"

    with pytest.raises(ConfigError, match="always samples with 'power', not 'top_k'"):
        Forgets([1.0])


def test_no_ranking_strategy_has_a_rewritten_init_or_signature():
    """Every registered ranking strategy's ``__init__`` is a function of its source: no wrapper,
    no ``__signature__``, and the base rewrites nothing when a class is created."""
    assert "__init_subclass__" not in vars(RankingStrategy)
    for name in STRATEGIES.names():
        factory = STRATEGIES.get(name)
        if not (isinstance(factory, type) and issubclass(factory, RankingStrategy)):
            continue
        owner = next(cls for cls in factory.__mro__ if "__init__" in vars(cls))
        init = vars(owner)["__init__"]
        assert factory.__init__ is init, name
        assert not hasattr(init, "__wrapped__") and "__signature__" not in vars(init), name
        assert init.__code__.co_filename == inspect.getsourcefile(owner), name


def test_the_sampler_is_a_validated_frozen_value():
    assert Sampler("softmax", 2) == Sampler("softmax", 2.0) and isinstance(Sampler("softmax", 2).beta, float)
    assert [Sampler(rule).stochastic for rule in SAMPLINGS] == [False, True, True, True]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Sampler().rule = "power"  # type: ignore[misc]
    with pytest.raises(ConfigError, match=r"unknown query sampling 'gumbel'; use one of \('top_k', 'power'"):
        Sampler("gumbel")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=">= 0"):
        Sampler("power", -1.0)
    scores, rng = np.array([0.9, 0.5, 0.2, 1.3]), np.random.default_rng(3)
    np.testing.assert_array_equal(
        Sampler("softrank", 1.5).sample(np.arange(4), scores, 2, rng),
        sample_k(np.arange(4), scores, 2, np.random.default_rng(3), "softrank", 1.5),
    )


def test_the_rules_and_the_default_are_declared_once():
    """``query.sampling``'s values come from the ``SamplingRule`` Literal, its default from
    ``DEFAULT_SAMPLING``: settings, config validation, sampling and the strategies agree."""
    from alstrategies import config, settings, strategy

    assert SAMPLINGS == config.SAMPLINGS == strategy.SAMPLINGS == typing.get_args(settings.SamplingRule)
    assert SAMPLINGS == ("top_k", "power", "softmax", "softrank") and DEFAULT_SAMPLING == "top_k"
    assert settings.QueryConfig().sampling == DEFAULT_SAMPLING and settings.QueryConfig().beta == DEFAULT_BETA
    assert config.DEFAULTS["query"]["sampling"] == DEFAULT_SAMPLING
    for factory in (RankingStrategy, ScoreStrategy, STRATEGIES.get("bald"), STRATEGIES.get("vaal")):
        parameters = inspect.signature(factory).parameters
        assert parameters["sampling"].default is DEFAULT_SAMPLING, factory
        assert parameters["sampling_beta"].default == DEFAULT_BETA, factory
    literals = []  # the string "top_k" in the package's code, outside __all__ (the function top_k)
    for path in sorted(Path(config.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text())
        exported = {
            id(c)
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            for c in ast.walk(node.value)
        }
        literals += [
            f"{path.name}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value == "top_k" and id(node) not in exported
        ]
    assert [entry.split(":")[0] for entry in literals] == ["settings.py", "settings.py"], literals


def test_the_config_passes_query_sampling_to_the_strategies_that_declare_it():
    config = load_config(None, ["query.sampling='softmax'", "query.beta=2.5"])
    assert strategy_options(config, "bald") == {
        "reduction": "mean",
        "sampling": "softmax",
        "sampling_beta": 2.5,
    }
    assert STRATEGIES.get("bald")(**strategy_options(config, "bald")).sampler == Sampler("softmax", 2.5)
    assert strategy_options(config, "power_bald") == {"reduction": "mean", "sampling_beta": 2.5}
    assert STRATEGIES.get("power_bald")(**strategy_options(config, "power_bald")).sampler == Sampler(
        "power", 2.5
    )
    assert "sampling" not in strategy_options(config, "random")
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['sampling'\] for strategy 'power_bald'"):
        load_config(None, ["strategies.power_bald.sampling='top_k'"])
    with pytest.raises(ConfigError, match=r"query.sampling = 'gumbel' is not one of \('top_k', 'power'"):
        load_config(None, ["query.sampling='gumbel'"])


def test_a_query_sampling_that_cannot_reach_a_ranking_plug_in_is_an_error(monkeypatch):
    """A plug-in ranking strategy whose own ``__init__`` declares no sampling option would take
    the top k whatever ``query.sampling`` says: refused in one line instead."""

    class Deaf(RankingStrategy):
        name = "deaf_ranking"

        def __init__(self, reduction: str = "mean") -> None:
            super().__init__()
            self.reduction = reduction

        def score(self, context, rng):
            return context.unlabeled.astype(float), {}

    real_get = STRATEGIES.get
    monkeypatch.setattr(STRATEGIES, "get", lambda name: Deaf if name == "deaf_ranking" else real_get(name))
    config = load_config(None, ["query.sampling='softmax'"])
    with pytest.raises(ConfigError, match=r"query.sampling = 'softmax' cannot reach strategy 'deaf_ranking'"):
        strategy_options(config, "deaf_ranking")
    assert strategy_options(load_config(None, []), "deaf_ranking") == {"reduction": "mean"}


# -- the named variants --------------------------------------------------------------------------

VARIANTS = {"power_bald": "bald", "power_entropy": "max_entropy", "power_sbc_al": "sbc_al"}


@pytest.mark.parametrize(("name", "base"), VARIANTS.items())
def test_named_power_variants_are_registered_thin_subclasses(name, base):
    factory, base_factory = STRATEGIES.get(name), STRATEGIES.get(base)
    assert issubclass(factory, base_factory) and factory.name == name
    assert factory.fixed_sampling == "power" and factory().sampling == "power"
    assert factory.family == base_factory.family and factory.required_heads == base_factory.required_heads
    assert "Kirsch" in factory.source and factory.forward_passes == base_factory.forward_passes
    base_options = _kwargs_of(base_factory)
    del base_options["sampling"]
    assert _kwargs_of(factory) == base_options  # the base's options, sampling_beta, no sampling
    assert factory.select is RankingStrategy.select


def test_power_entropy_draws_from_max_entropy_scores_with_the_power_law():
    class _Images(nn.Module):
        """Logits from the image value: image i has two classes with probabilities (1 - q_i, q_i)."""

        def forward(self, x):
            from alstrategies.types import ModelOutput

            q = x[:, :1]
            logits = torch.cat([torch.log1p(-q), torch.log(q)], dim=1)
            return ModelOutput(logits=logits, coarse_logits=logits)

    q = torch.tensor([0.5, 0.3, 0.1, 0.02, 0.4, 0.2])
    context = QueryContext(
        _Images(),
        q[:, None, None, None].expand(6, 1, 2, 2).contiguous(),
        np.zeros(0, dtype=np.int64),
        np.arange(6),
        2,
    )
    strategy = STRATEGIES.get("power_entropy")(sampling_beta=2.0)
    assert isinstance(strategy, ScoreStrategy)
    entropy = [-(p * math.log(p) + (1 - p) * math.log(1 - p)) for p in q.tolist()]
    inclusion, _ = _exact_law(np.array(entropy) ** 2.0, K)
    rng = np.random.default_rng(2)
    draws = [strategy.query(context, K, rng).indices for _ in range(4000)]
    np.testing.assert_allclose(strategy.query(context, K, rng).scores, entropy, rtol=1e-5)
    _assert_within_standard_errors(_frequencies(draws, 6)[0], inclusion, 4000)
